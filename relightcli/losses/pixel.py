"""Pixel losses: Charbonnier (LapSRN; S3Net and MPRNet), L1 and MSE (SRN-DeblurNet, FormResNet's pixel term)."""

from __future__ import annotations

import torch
from torch import nn


class CharbonnierLoss(nn.Module):
    """``mean(sqrt((x - y)^2 + eps^2))``; eps 1e-3 gives both S3Net's (1e-6 inside the sqrt) and MPRNet's."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((x - y) ** 2 + self.eps**2).mean()


class L1Loss(nn.L1Loss):
    """Mean absolute error."""


class MSELoss(nn.MSELoss):
    """Mean squared error (SRN's per-scale loss; FormResNet's pixel L2)."""
