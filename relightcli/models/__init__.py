"""The model registry and every architecture in it (importing this package registers them all)."""

from . import formresnet, lightnet, mprnet, s3net, srn  # noqa: F401  (importing a family registers its models)
from ._registry import IN_CHANNELS, ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["IN_CHANNELS", "ModelInfo", "create_model", "list_models", "model_info", "register_model"]
