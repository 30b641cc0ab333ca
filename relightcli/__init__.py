"""relightcli: depth-guided any-to-any image relighting (S3Net and friends) from the command line and Python.

The Python API mirrors the CLI: `create_model` / `list_models` (registry), `load_model` / `save_checkpoint`
(checkpoints), `Relighter` (inference engine) and `relight_files` (what ``relight apply`` does).
"""

__version__ = "0.1.0"

from .checkpoint import load_model, save_checkpoint
from .errors import RelightError
from .models import ModelInfo, create_model, list_models, model_info, register_model

__all__ = [
    "ModelInfo",
    "RelightError",
    "__version__",
    "create_model",
    "list_models",
    "load_model",
    "model_info",
    "register_model",
    "save_checkpoint",
]
