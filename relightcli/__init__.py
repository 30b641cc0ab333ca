"""relightcli: depth-guided any-to-any image relighting (S3Net and friends) from the command line and Python.

The Python API mirrors the CLI: `create_model` / `list_models` (registry), `load_model` / `save_checkpoint` /
`average_checkpoints` (checkpoints), `Relighter` (inference engine), `relight_files` (what ``relight apply``
does), `estimate_depth` (monocular depth for photos without a depth map) and `estimate_light` (the light's
direction and colour temperature read from a photo). Names are imported on first use
(PEP 562 module ``__getattr__``), so ``import relightcli`` and ``relight --help`` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import RelightError

__version__ = "0.1.0"

_EXPORTS = {
    "ModelInfo": "models",
    "create_model": "models",
    "list_models": "models",
    "model_info": "models",
    "register_model": "models",
    "load_model": "checkpoint",
    "average_checkpoints": "checkpoint",
    "save_checkpoint": "checkpoint",
    "Relighter": "inference.engine",
    "relight_files": "inference.apply",
    "estimate_depth": "depth",
    "estimate_light": "light.estimator",
    "LightEstimate": "light.estimator",
    "DepthEstimator": "depth",
}

__all__ = [
    "DepthEstimator",
    "LightEstimate",
    "ModelInfo",
    "RelightError",
    "Relighter",
    "__version__",
    "average_checkpoints",
    "create_model",
    "estimate_depth",
    "estimate_light",
    "list_models",
    "load_model",
    "model_info",
    "register_model",
    "relight_files",
    "save_checkpoint",
]

if TYPE_CHECKING:
    from .checkpoint import average_checkpoints, load_model, save_checkpoint
    from .depth import DepthEstimator, estimate_depth
    from .inference.apply import relight_files
    from .inference.engine import Relighter
    from .light.estimator import LightEstimate, estimate_light
    from .models import ModelInfo, create_model, list_models, model_info, register_model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'relightcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
