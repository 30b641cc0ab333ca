"""Rebuild the bundled samples and light presets (`relightcli.assets`) with the numpy renderer.

``python -m relightcli.synth.assets`` renders them deterministically from seed 2024 into the package's asset
folders. Only this build step needs the renderer; reading the assets does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import PRESETS_DIR, SAMPLE_PAIRS, SAMPLES_DIR
from ..data.vidit import SETTINGS, Setting
from ..io import write_depth, write_image
from .writer import render_nth_scene

SEED = 2024


def _save(path: Path, rgb8: np.ndarray) -> None:
    write_image(path, rgb8.astype(np.float32) / 255.0)


def build(samples_dir: Path = SAMPLES_DIR, presets_dir: Path = PRESETS_DIR, seed: int = SEED) -> None:
    """Render the sample pairs and the preset bank (deterministic in ``seed``)."""
    for i, (a, b, source, target) in enumerate(SAMPLE_PAIRS):
        src, guide = render_nth_scene(seed, 1, a, 256), render_nth_scene(seed, 1, b, 256)
        s, t = Setting.parse(source), Setting.parse(target)
        _save(samples_dir / f"sample{i}_src.png", src.images[s])
        write_depth(samples_dir / f"sample{i}_src_depth.png", src.depth)
        _save(samples_dir / f"sample{i}_guide.png", guide.images[t])
        write_depth(samples_dir / f"sample{i}_guide_depth.png", guide.depth)
        _save(samples_dir / f"sample{i}_target.png", src.images[t])
    bank = render_nth_scene(seed, 2, 0, 128)
    for setting in SETTINGS:
        _save(presets_dir / f"{setting}.png", bank.images[setting])
    write_depth(presets_dir / "depth.png", bank.depth)


if __name__ == "__main__":
    build()
    print(f"wrote {SAMPLES_DIR} and {PRESETS_DIR}")
