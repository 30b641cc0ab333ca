"""Image-quality metrics of the NTIRE 2021 relighting challenge, on ``(B, 3, H, W)`` tensors in [0, 1].

PSNR with data range 1; SSIM in the restoration convention (`relightcli.ops.ssim`: Gaussian 11/1.5, valid
region, averaged over channels). Each returns one value per image, shape ``(B,)``.
"""

from __future__ import annotations

import torch

from .ops import ssim as _ssim


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (inf for identical images)."""
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004; Gaussian 11/1.5, valid region)."""
    return _ssim(x, y, data_range=data_range)
