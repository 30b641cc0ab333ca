"""``relight synth``: write rendered scenes as a VIDIT-format dataset (flat train/, pair-layout val/).

Images are 8-bit RGBA PNG with opaque alpha and depth is VIDIT's dict ``.npy`` (``normalized_depth`` in
[0, 1], ``ref_center_dis`` = camera distance to the scene centre), like the real dataset. Every scene's random
generator is derived from ``(seed, split, index)``, so the same seed gives the same bytes and adding scenes
does not change the earlier ones. Validation scenes are separate scenes, never seen in training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write_bytes
from ..data.vidit import DIRECTIONS, SETTINGS, TEMPERATURES, Setting, depth_name, image_name
from ..errors import RelightError
from ..io import encode_depth_npy, write_image
from .render import RenderedScene, render_scene
from .scene import random_scene

Progress = Callable[[int, int], None]
_TRAIN, _VAL = 0, 1


def render_nth_scene(seed: int, split: int, index: int, size: int, supersample: int = 2) -> RenderedScene:
    """Scene ``index`` of ``split`` (0 train, 1 val) for ``seed``, rendered under the 40 settings."""
    return render_scene(random_scene(np.random.default_rng([seed, split, index])), size, supersample=supersample)


def encode_rgba_png(rgb8: np.ndarray) -> bytes:
    """8-bit RGB -> RGBA PNG bytes with opaque alpha (VIDIT's format)."""
    bgra = np.concatenate([rgb8[:, :, ::-1], np.full((*rgb8.shape[:2], 1), 255, np.uint8)], axis=2)
    ok, buf = cv2.imencode(".png", bgra)
    if not ok:
        raise RelightError("OpenCV could not encode a PNG")
    return buf.tobytes()


@dataclass
class SynthSummary:
    train_dir: Path | None
    val_dir: Path | None
    scenes: int
    images: int
    pairs: int


def contact_sheet(rendered: RenderedScene, thumb: int = 128) -> np.ndarray:
    """One scene under all 40 settings: rows are temperatures, columns directions; labelled; 8-bit RGB."""
    pad, left, top = 4, 64, 24
    h = top + len(TEMPERATURES) * (thumb + pad)
    w = left + len(DIRECTIONS) * (thumb + pad)
    sheet = np.full((h, w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, direction in enumerate(DIRECTIONS):
        cv2.putText(sheet, direction, (left + j * (thumb + pad) + thumb // 2 - 10, 17), font, 0.55, (0, 0, 0), 1)
    for i, temperature in enumerate(TEMPERATURES):
        y = top + i * (thumb + pad)
        cv2.putText(sheet, f"{temperature}K", (4, y + thumb // 2 + 5), font, 0.5, (0, 0, 0), 1)
        for j, direction in enumerate(DIRECTIONS):
            img = cv2.resize(
                rendered.images[Setting(temperature, direction)], (thumb, thumb), interpolation=cv2.INTER_AREA
            )
            x = left + j * (thumb + pad)
            sheet[y : y + thumb, x : x + thumb] = img
    return sheet


def synthesize(
    out: str | Path,
    *,
    scenes: int,
    size: int = 256,
    seed: int = 0,
    pairs: int = 0,
    val_scenes: int | None = None,
    supersample: int = 2,
    preview: str | Path | None = None,
    progress: Progress | None = None,
) -> SynthSummary:
    """Render ``scenes`` training scenes into ``out/train`` and, with ``pairs``, a pair-layout ``out/val``.

    Args:
        out: Dataset root.
        scenes: Number of training scenes (40 images each).
        size: Image side in pixels.
        seed: Everything is a function of this seed.
        pairs: Number of validation pairs (input, guide, target) in ``out/val``; 0 for none.
        val_scenes: Validation scenes to draw the pairs from (default ``max(2, ceil(pairs / 4))``).
        supersample: Anti-aliasing factor.
        preview: Also write a contact sheet of the first training scene here.
        progress: Called with ``(done, total)`` after each rendered scene.
    """
    if scenes < 0 or size < 8 or supersample < 1 or pairs < 0 or scenes + pairs == 0:
        raise RelightError("synth needs --scenes >= 1 (or 0 with --pairs), --size >= 8, --supersample >= 1")
    out = Path(out)
    train = out / "train"
    n_val = 0 if pairs == 0 else (val_scenes or max(2, math.ceil(pairs / 4)))
    if pairs and n_val < 2:
        raise RelightError("validation pairs need at least 2 validation scenes (guides come from another scene)")
    total, done = scenes + n_val, 0
    width = max(3, len(str(max(scenes - 1, 0))))
    for k in range(scenes):
        rendered = render_nth_scene(seed, _TRAIN, k, size, supersample)
        scene_id = f"{k:0{width}d}"
        for setting, img in rendered.images.items():
            atomic_write_bytes(train / image_name(scene_id, setting), encode_rgba_png(img))
        atomic_write_bytes(train / depth_name(scene_id), encode_depth_npy(rendered.depth, rendered.center_distance))
        if k == 0 and preview is not None:
            write_image(preview, contact_sheet(rendered).astype(np.float32) / 255.0)
        done += 1
        if progress:
            progress(done, total)
    val_dir = None
    if pairs:
        val_dir = out / "val"
        rendered_val = []
        for k in range(n_val):
            rendered_val.append(render_nth_scene(seed, _VAL, k, size, supersample))
            done += 1
            if progress:
                progress(done, total)
        rng = np.random.default_rng([seed, 2])
        pw = max(3, len(str(pairs - 1)))
        for p in range(pairs):
            a, b = rng.choice(n_val, size=2, replace=False)
            s, t = rng.choice(len(SETTINGS), size=2, replace=False)
            src, guide = rendered_val[a], rendered_val[b]
            name = f"Pair{p:0{pw}d}"
            atomic_write_bytes(val_dir / "input" / f"{name}.png", encode_rgba_png(src.images[SETTINGS[s]]))
            atomic_write_bytes(val_dir / "input" / f"{name}.npy", encode_depth_npy(src.depth, src.center_distance))
            atomic_write_bytes(val_dir / "guide" / f"{name}.png", encode_rgba_png(guide.images[SETTINGS[t]]))
            atomic_write_bytes(val_dir / "guide" / f"{name}.npy", encode_depth_npy(guide.depth, guide.center_distance))
            atomic_write_bytes(val_dir / "target" / f"{name}.png", encode_rgba_png(src.images[SETTINGS[t]]))
    return SynthSummary(train if scenes else None, val_dir, scenes, scenes * len(SETTINGS), pairs)
