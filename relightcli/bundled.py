"""Assets shipped inside the package: sample pairs for ``relight demo`` and the light-preset guide bank.

Both are rendered by the synthetic renderer (`relightcli.synth`) from seed 2024, which the default model's
training data (seed 0) never used; rebuild them with ``python -m relightcli.bundled``. Samples are 256x256 with
their target (the source scene under the guide's setting); presets are one scene under each of the 40 VIDIT
settings at 128x128 (a guide's lighting is read from the whole image, so a small guide suffices; it is resized
to the source's size). Depth maps are 16-bit PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data.vidit import SETTINGS, Setting
from .errors import RelightError
from .io import write_depth, write_image

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
PRESETS_DIR = Path(__file__).resolve().parent / "presets"
SEED = 2024
_SAMPLE_PAIRS = ((0, 1, "2500_W", "6500_E"), (2, 3, "6500_NE", "3500_SW"), (4, 5, "4500_S", "2500_NW"))
"""(source scene, guide scene, source setting, target setting) of each bundled sample."""


@dataclass(frozen=True)
class Sample:
    name: str
    src: Path
    src_depth: Path
    guide: Path
    guide_depth: Path
    target: Path
    description: str


def samples() -> list[Sample]:
    """The bundled sample pairs, in order."""
    found = []
    for i, (_, _, source, target) in enumerate(_SAMPLE_PAIRS):
        name = f"sample{i}"
        paths = {k: SAMPLES_DIR / f"{name}_{k}.png" for k in ("src", "src_depth", "guide", "guide_depth", "target")}
        if all(p.is_file() for p in paths.values()):
            found.append(Sample(name, **paths, description=f"scene under {source} relit to {target}"))
    if not found:
        raise RelightError(f"{SAMPLES_DIR}: no bundled samples (rebuild with python -m relightcli.bundled)")
    return found


def preset(spec: str | Setting) -> tuple[Path, Path]:
    """Guide image and depth of a light preset such as ``3500K/NW``; `RelightError` listing the valid ones."""
    setting = spec if isinstance(spec, Setting) else Setting.parse(spec)
    guide, depth = PRESETS_DIR / f"{setting}.png", PRESETS_DIR / "depth.png"
    if not guide.is_file() or not depth.is_file():
        raise RelightError(f"{guide}: light preset bank is incomplete (rebuild with python -m relightcli.bundled)")
    return guide, depth


def preset_names() -> list[str]:
    return [f"{s.temperature}K/{s.direction}" for s in SETTINGS]


def build(samples_dir: Path = SAMPLES_DIR, presets_dir: Path = PRESETS_DIR, seed: int = SEED) -> None:
    """Render the sample pairs and the preset bank (deterministic in ``seed``)."""
    from .synth.writer import render_nth_scene

    def save(path: Path, rgb8: np.ndarray) -> None:
        write_image(path, rgb8.astype(np.float32) / 255.0)

    for i, (a, b, source, target) in enumerate(_SAMPLE_PAIRS):
        src, guide = render_nth_scene(seed, 1, a, 256), render_nth_scene(seed, 1, b, 256)
        s, t = Setting.parse(source), Setting.parse(target)
        save(samples_dir / f"sample{i}_src.png", src.images[s])
        write_depth(samples_dir / f"sample{i}_src_depth.png", src.depth)
        save(samples_dir / f"sample{i}_guide.png", guide.images[t])
        write_depth(samples_dir / f"sample{i}_guide_depth.png", guide.depth)
        save(samples_dir / f"sample{i}_target.png", src.images[t])
    bank = render_nth_scene(seed, 2, 0, 128)
    for setting in SETTINGS:
        save(presets_dir / f"{setting}.png", bank.images[setting])
    write_depth(presets_dir / "depth.png", bank.depth)


if __name__ == "__main__":
    build()
    print(f"wrote {SAMPLES_DIR} and {PRESETS_DIR}")
