"""What ships inside the package: the default weights, the sample pairs of ``relight demo`` and the light presets.

Found through `importlib.resources`, so they are there in an editable checkout, a wheel or a pipx install alike.
The top-level ``weights/`` folder of the repository (with the model card) links to the checkpoint here.

Samples and presets are rendered by the synthetic renderer from seed 2024, which the default model's training
data never used; ``python -m relightcli.synth.assets`` rebuilds them (that needs the renderer, these readers do
not). Samples are 256x256 with their target (the source scene under the guide's setting); presets are one scene
under each of the 40 VIDIT settings at 128x128 (a guide's lighting is read from the whole image, so a small guide
suffices; it is resized to the source's size). Depth maps are 16-bit PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ..data.vidit import SETTINGS, Setting
from ..errors import RelightError

ASSETS_DIR = Path(str(files(__name__)))
SAMPLES_DIR = ASSETS_DIR / "samples"
PRESETS_DIR = ASSETS_DIR / "presets"
WEIGHTS_DIR = ASSETS_DIR / "weights"
DEFAULT_WEIGHTS_FILE = "relight-default.safetensors"
DEFAULT_LIGHT_WEIGHTS_FILE = "light-default.safetensors"
DEFAULT_TEMPERATURE_WEIGHTS_FILE = "light-temperature.safetensors"
SAMPLE_PAIRS = ((0, 1, "2500_W", "6500_E"), (2, 3, "6500_NE", "3500_SW"), (4, 5, "4500_S", "2500_NW"))
"""(source scene, guide scene, source setting, target setting) of each bundled sample."""
_REBUILD = "rebuild with python -m relightcli.synth.assets"


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
    for i, (_, _, source, target) in enumerate(SAMPLE_PAIRS):
        name = f"sample{i}"
        paths = {k: SAMPLES_DIR / f"{name}_{k}.png" for k in ("src", "src_depth", "guide", "guide_depth", "target")}
        if all(p.is_file() for p in paths.values()):
            found.append(Sample(name, **paths, description=f"scene under {source} relit to {target}"))
    if not found:
        raise RelightError(f"{SAMPLES_DIR}: no bundled samples ({_REBUILD})")
    return found


def preset(spec: str | Setting) -> tuple[Path, Path]:
    """Guide image and depth of a light preset such as ``3500K/NW``; `RelightError` listing the valid ones."""
    setting = spec if isinstance(spec, Setting) else Setting.parse(spec)
    guide, depth = PRESETS_DIR / f"{setting}.png", PRESETS_DIR / "depth.png"
    if not guide.is_file() or not depth.is_file():
        raise RelightError(f"{guide}: light preset bank is incomplete ({_REBUILD})")
    return guide, depth


def preset_names() -> list[str]:
    return [s.preset for s in SETTINGS]


def default_weights() -> Path:
    """Path of the shipped default checkpoint (what ``relight apply``, ``eval`` and ``demo`` use without
    ``--weights``); loading it never touches the network. `RelightError` if this installation has none."""
    path = WEIGHTS_DIR / DEFAULT_WEIGHTS_FILE
    if not path.is_file():
        raise RelightError(
            f"no default weights at {path}; pass --weights FILE.safetensors (or hf://owner/repo/file.safetensors)"
        )
    return path


def default_light_weights() -> Path:
    """Path of the shipped light estimator (``relight light``, ``--show-light``); `RelightError` if this
    installation has none."""
    path = WEIGHTS_DIR / DEFAULT_LIGHT_WEIGHTS_FILE
    if not path.is_file():
        raise RelightError(
            f"no light estimator weights at {path}; pass --light-weights FILE.safetensors "
            "(relight train --model light_net makes one)"
        )
    return path


def default_temperature_weights() -> Path | None:
    """Path of the shipped temperature reader, a light estimator reading at 256x256 whose colour temperature
    `relight light` takes in place of the shipped estimator's (weights/light.md); ``None`` if this installation
    has none."""
    path = WEIGHTS_DIR / DEFAULT_TEMPERATURE_WEIGHTS_FILE
    return path if path.is_file() else None
