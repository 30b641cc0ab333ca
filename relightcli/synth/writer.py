"""``relight synth``: write rendered scenes as a VIDIT-format dataset (flat train/, pair-layout val/).

Images are 8-bit RGBA PNG with opaque alpha and depth is VIDIT's dict ``.npy`` (``normalized_depth`` in
[0, 1], ``ref_center_dis`` = camera distance to the scene centre), like the real dataset. Every scene's random
generator is derived from ``(seed, split, index)``, so the same seed gives the same bytes and adding scenes
does not change the earlier ones. Validation scenes are separate scenes, never seen in training.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..atomic import atomic_write_bytes
from ..data.vidit import DIRECTIONS, PAIR_SETTINGS_FILE, SETTINGS, TEMPERATURES, Setting, depth_name, image_name
from ..errors import RelightError
from ..io import encode_depth_npy, write_image
from .render import RenderedScene, render_scene
from .scene import random_scene

Progress = Callable[[int, int], None]
_TRAIN, _VAL = 0, 1


def render_nth_scene(seed: int, split: int, index: int, size: int, supersample: int = 2) -> RenderedScene:
    """Scene ``index`` of ``split`` (0 train, 1 val) for ``seed``, rendered by the numpy renderer under the 40
    settings."""
    return Renderer("numpy", supersample).render(seed, split, index, size)


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


@dataclass(frozen=True)
class Renderer:
    """Which renderer draws and shades a scene: ``numpy`` (`render.py`, fast, Lambertian, one bounce) or
    ``cycles`` (Blender's path tracer, `relightcli.synth.cycles`)."""

    name: str = "numpy"
    supersample: int = 2
    cycles: Any = None  # CyclesSettings
    python: str | None = None  # the interpreter with bpy

    def render(self, seed: int, split: int, index: int, size: int, attempt: int = 0) -> RenderedScene:
        """Scene ``index`` of ``split`` for ``seed``; ``attempt`` > 0 draws another scene (a retry)."""
        key = [seed, split, index] + ([attempt] if attempt else [])
        if self.name == "numpy":
            return render_scene(random_scene(np.random.default_rng(key)), size, supersample=self.supersample)
        from .cycles import render_scene_cycles

        return render_scene_cycles(np.random.default_rng(key), size, self.cycles, self.python)[0]


def parse_shard(spec: str | None) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) -> ``(K, N)``; ``None`` -> ``(1, 1)``."""
    if not spec:
        return 1, 1
    try:
        k, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise RelightError(f"--shard {spec!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise RelightError(f"--shard {spec}: K must be between 1 and N")
    return k, n


def _scene_done(train: Path, scene_id: str) -> bool:
    return (train / depth_name(scene_id)).is_file() and all(
        (train / image_name(scene_id, s)).is_file() for s in SETTINGS
    )


def _write_scene(out: Path, train: Path, scene_id: str, rendered: RenderedScene) -> None:
    """All 41 files of a scene go to a private folder first, then into place with the depth file last, so a
    killed run leaves no scene that looks complete but is not (the resume check looks for the depth file)."""
    partial = out / ".partial" / scene_id
    partial.mkdir(parents=True, exist_ok=True)
    names = [image_name(scene_id, s) for s in rendered.images] + [depth_name(scene_id)]
    for setting, img in rendered.images.items():
        atomic_write_bytes(partial / image_name(scene_id, setting), encode_rgba_png(img))
    atomic_write_bytes(partial / depth_name(scene_id), encode_depth_npy(rendered.depth, rendered.center_distance))
    train.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(partial / name, train / name)
    partial.rmdir()


def _val_cache(out: Path, k: int) -> Path:
    return out / ".val-scenes" / f"val{k:04d}.npz"


def _save_val(path: Path, rendered: RenderedScene) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part.npz")
    images = np.stack([rendered.images[s] for s in SETTINGS])
    np.savez(part, images=images, depth=rendered.depth, centre=np.float64(rendered.center_distance))
    os.replace(part, path)


def _load_val(path: Path) -> RenderedScene:
    with np.load(path) as data:
        images = {s: data["images"][i] for i, s in enumerate(SETTINGS)}
        return RenderedScene(images, data["depth"], float(data["centre"]))


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
    renderer: Renderer | None = None,
    shard: tuple[int, int] = (1, 1),
    on_message: Callable[[str], None] | None = None,
) -> SynthSummary:
    """Render ``scenes`` training scenes into ``out/train`` and, with ``pairs``, a pair-layout ``out/val``.

    Resumable: a training scene whose files are all there is skipped, so a killed run continues where it
    stopped; path-traced validation scenes are kept in ``out/.val-scenes`` for the same reason. With ``shard``
    ``(K, N)`` this process renders every N-th scene from the K-th (1-based), so N processes (or machines sharing
    the folder) write each scene exactly once; the validation pairs are written by whichever process finds all
    validation scenes present.

    Args:
        out: Dataset root.
        scenes: Number of training scenes (40 images each).
        size: Image side in pixels.
        seed: Everything is a function of this seed (path-traced pixels up to sampling noise).
        pairs: Number of validation pairs (input, guide, target) in ``out/val``; 0 for none.
        val_scenes: Validation scenes to draw the pairs from (default ``max(2, ceil(pairs / 4))``).
        supersample: Anti-aliasing factor of the numpy renderer.
        preview: Also write a contact sheet of the first training scene here.
        progress: Called with ``(done, total)`` after each scene (rendered or skipped).
        renderer: `Renderer` (default: the numpy renderer with ``supersample``).
        shard: ``(K, N)``: this process's share of the scenes.
        on_message: Told about retried scenes.
    """
    renderer = renderer or Renderer("numpy", supersample)
    if scenes < 0 or size < 16 or renderer.supersample < 1 or pairs < 0 or scenes + pairs == 0:
        raise RelightError("synth needs --scenes >= 1 (or 0 with --pairs), --size >= 16, --supersample >= 1")
    k_shard, n_shard = shard
    out = Path(out)
    train = out / "train"
    n_val = 0 if pairs == 0 else (val_scenes or max(2, math.ceil(pairs / 4)))
    if pairs and n_val < 2:
        raise RelightError("validation pairs need at least 2 validation scenes (guides come from another scene)")
    mine = [k for k in range(scenes) if k % n_shard == k_shard - 1]
    mine_val = [k for k in range(n_val) if k % n_shard == k_shard - 1]
    total, done, retried = len(mine) + len(mine_val), 0, 0
    width = max(3, len(str(max(scenes - 1, 0))))

    def render(split: int, k: int) -> RenderedScene:
        nonlocal retried
        try:
            return renderer.render(seed, split, k, size)
        except RelightError as exc:
            if renderer.name == "numpy":
                raise
            retried += 1
            if on_message:
                on_message(f"scene {k} ({'train' if split == _TRAIN else 'val'}): {exc}; retrying with another scene")
            return renderer.render(seed, split, k, size, attempt=1)

    for k in mine:
        scene_id = f"{k:0{width}d}"
        if not _scene_done(train, scene_id):
            rendered = render(_TRAIN, k)
            _write_scene(out, train, scene_id, rendered)
            if k == 0 and preview is not None:
                write_image(preview, contact_sheet(rendered).astype(np.float32) / 255.0)
        done += 1
        if progress:
            progress(done, total)
    val_dir = None
    if pairs:
        cached = renderer.name != "numpy"
        rendered_val: dict[int, RenderedScene] = {}
        for k in mine_val:
            if cached and _val_cache(out, k).is_file():
                rendered_val[k] = _load_val(_val_cache(out, k))
            else:
                rendered_val[k] = render(_VAL, k)
                if cached:
                    _save_val(_val_cache(out, k), rendered_val[k])
            done += 1
            if progress:
                progress(done, total)
        for k in range(n_val):
            if k not in rendered_val and cached and _val_cache(out, k).is_file():
                rendered_val[k] = _load_val(_val_cache(out, k))
        if len(rendered_val) == n_val:
            val_dir = out / "val"
            _write_pairs(val_dir, [rendered_val[k] for k in range(n_val)], pairs, seed)
    n_train = sum(_scene_done(train, f"{k:0{width}d}") for k in range(scenes)) if scenes else 0
    return SynthSummary(train if scenes else None, val_dir, n_train, n_train * len(SETTINGS), pairs if val_dir else 0)


def _write_pairs(val_dir: Path, rendered_val: list[RenderedScene], pairs: int, seed: int) -> None:
    rng = np.random.default_rng([seed, 2])
    pw = max(3, len(str(pairs - 1)))
    record = ["pair,source_setting,guide_setting,source_scene,guide_scene"]
    for p in range(pairs):
        a, b = rng.choice(len(rendered_val), size=2, replace=False)
        s, t = rng.choice(len(SETTINGS), size=2, replace=False)
        src, guide = rendered_val[a], rendered_val[b]
        name = f"Pair{p:0{pw}d}"
        atomic_write_bytes(val_dir / "input" / f"{name}.png", encode_rgba_png(src.images[SETTINGS[s]]))
        atomic_write_bytes(val_dir / "input" / f"{name}.npy", encode_depth_npy(src.depth, src.center_distance))
        atomic_write_bytes(val_dir / "guide" / f"{name}.png", encode_rgba_png(guide.images[SETTINGS[t]]))
        atomic_write_bytes(val_dir / "guide" / f"{name}.npy", encode_depth_npy(guide.depth, guide.center_distance))
        atomic_write_bytes(val_dir / "target" / f"{name}.png", encode_rgba_png(src.images[SETTINGS[t]]))
        record.append(f"{name},{SETTINGS[s]},{SETTINGS[t]},val{a:04d},val{b:04d}")
    atomic_write_bytes(val_dir / PAIR_SETTINGS_FILE, ("\n".join(record) + "\n").encode())
