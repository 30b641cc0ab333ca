"""The model registry and every architecture in it (importing this package registers them all)."""

from . import s3net  # noqa: F401  (registers s3net*)
from ._registry import IN_CHANNELS, ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["IN_CHANNELS", "ModelInfo", "create_model", "list_models", "model_info", "register_model"]
