"""Training losses, each a small differentiable ``nn.Module``, and the loss-spec parser."""

from .combined import LOSS_TERMS, S3NET_LOSS, RelightLoss, parse_loss_spec
from .gradient import EdgeLoss, SobelLoss
from .perceptual import DEFAULT_VGG19_WEIGHTS, PerceptualLoss, vgg19_features
from .pixel import CharbonnierLoss, L1Loss, MSELoss
from .structural import W_SSIM_WEIGHTS, SSIMLoss, WaveletSSIMLoss

__all__ = [
    "DEFAULT_VGG19_WEIGHTS",
    "LOSS_TERMS",
    "S3NET_LOSS",
    "W_SSIM_WEIGHTS",
    "CharbonnierLoss",
    "EdgeLoss",
    "L1Loss",
    "MSELoss",
    "PerceptualLoss",
    "RelightLoss",
    "SSIMLoss",
    "SobelLoss",
    "WaveletSSIMLoss",
    "parse_loss_spec",
    "vgg19_features",
]
