"""Edge and gradient losses: MPRNet's Laplacian edge loss and FormResNet's Sobel gradient loss."""

from __future__ import annotations

import torch
from torch import nn

from ..ops import laplacian_detail, sobel
from .pixel import CharbonnierLoss


class EdgeLoss(nn.Module):
    """Charbonnier (eps 1e-3) between Laplacian-pyramid detail layers (Zamir et al., MPRNet, CVPR 2021)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.charbonnier = CharbonnierLoss(eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.charbonnier(laplacian_detail(x), laplacian_detail(y))


class SobelLoss(nn.Module):
    """L1 between horizontal and between vertical Sobel responses, averaged (Jiao et al., FormResNet 2017)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gx, gy = sobel(x)
        tx, ty = sobel(y)
        return 0.5 * ((gx - tx).abs().mean() + (gy - ty).abs().mean())
