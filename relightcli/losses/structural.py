"""SSIM and wavelet SSIM losses (Y-net, Yang & Fu 2019, as used by S3Net)."""

from __future__ import annotations

import torch
from torch import nn

from ..ops import haar_dwt, ssim

W_SSIM_WEIGHTS: dict[str, float] = {
    "image": 1.0,
    "l1_lh": 0.21,
    "l1_hl": 0.21,
    "l1_hh": 0.09,
    "l2_lh": 0.1029,
    "l2_hl": 0.1029,
    "l2_hh": 0.0441,
    "l2_ll": 0.2401,
}
"""r = 0.7 over two levels: r(1-r) per LH/HL band, (1-r)^2 for HH, r^2 carried down the LL branch."""


class SSIMLoss(nn.Module):
    """``1 - SSIM`` (Gaussian 11/1.5), averaged over the batch."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1.0 - ssim(x, y).mean()


class WaveletSSIMLoss(nn.Module):
    """Weighted ``1 - SSIM`` over the image and its Haar sub-bands (two levels, the LL band decomposed again).

    Args:
        weights: Per-term weights; defaults to `W_SSIM_WEIGHTS` (they sum to 2).
    """

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        super().__init__()
        self.weights = dict(W_SSIM_WEIGHTS if weights is None else weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        terms = {"image": (x, y)}
        bx, by = haar_dwt(x), haar_dwt(y)
        for name, a, b in zip(("ll", "lh", "hl", "hh"), bx, by, strict=True):
            terms[f"l1_{name}"] = (a, b)
        bx2, by2 = haar_dwt(bx[0]), haar_dwt(by[0])
        for name, a, b in zip(("ll", "lh", "hl", "hh"), bx2, by2, strict=True):
            terms[f"l2_{name}"] = (a, b)
        total = x.new_zeros((), dtype=torch.float32)
        for name, w in self.weights.items():
            a, b = terms[name]
            total = total + w * (1.0 - ssim(a, b).mean())
        return total
