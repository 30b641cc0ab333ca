"""Differentiable image operations shared by the losses and the metrics, on ``(B, C, H, W)`` tensors.

SSIM follows Wang et al. 2004 in the restoration convention (BasicSR, MATLAB): Gaussian window 11x11 with
sigma 1.5, C1 = (0.01 R)^2, C2 = (0.03 R)^2, statistics over the valid region only, averaged over channels.
The Haar DWT is the orthonormal db1 transform with stride 2 per channel (Y-net's W-SSIM), Sobel the 3x3
operator (FormResNet's gradient loss), and the Laplacian detail MPRNet's edge-loss pyramid level. The sRGB
transfer functions are IEC 61966-2-1's piecewise curves, clamped inside so that their gradients stay finite.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F


@lru_cache(maxsize=16)
def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def gaussian_filter(x: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Separable Gaussian blur per channel over the valid region (output shrinks by ``size - 1``)."""
    c = x.shape[1]
    g = _gaussian_1d(size, sigma).to(x.device, x.dtype)
    x = F.conv2d(x, g.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)


def ssim(
    x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Per-image SSIM ``(B,)``, mean over channels and the valid region (half precision computed in float32).

    Images smaller than the window use a window of their own (odd) size.
    """
    dtype = torch.promote_types(x.dtype, torch.float32)  # half inputs are computed in float32, double stays
    x, y = x.to(dtype), y.to(dtype)
    window = min(window, x.shape[-2] - (1 - x.shape[-2] % 2), x.shape[-1] - (1 - x.shape[-1] % 2))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = gaussian_filter(x, window, sigma), gaussian_filter(y, window, sigma)
    sxx = gaussian_filter(x * x, window, sigma) - mu_x**2
    syy = gaussian_filter(y * y, window, sigma) - mu_y**2
    sxy = gaussian_filter(x * y, window, sigma) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One level of the orthonormal Haar DWT per channel: ``(LL, LH, HL, HH)`` at half size.

    Odd sides are padded by replicating the last row/column.
    """
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="replicate")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return (a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2


def haar_idwt(ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
    """Inverse of `haar_dwt` (for even-sized inputs it reconstructs exactly)."""
    a, b = (ll + lh + hl + hh) / 2, (ll + lh - hl - hh) / 2
    c, d = (ll - lh + hl - hh) / 2, (ll - lh - hl + hh) / 2
    out = ll.new_empty(*ll.shape[:-2], 2 * ll.shape[-2], 2 * ll.shape[-1])
    out[..., 0::2, 0::2], out[..., 0::2, 1::2], out[..., 1::2, 0::2], out[..., 1::2, 1::2] = a, b, c, d
    return out


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical 3x3 Sobel responses per channel (replicate padding, same size)."""
    c = x.shape[1]
    kx = _SOBEL_X.to(x.device, x.dtype)
    k = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C, 1, 3, 3): gx, gy per channel
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c)
    return g[:, 0::2], g[:, 1::2]


_LAPLACIAN_1D = torch.tensor([0.05, 0.25, 0.4, 0.25, 0.05], dtype=torch.float64)


def _gauss5(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = torch.outer(_LAPLACIAN_1D, _LAPLACIAN_1D).to(x.device, x.dtype)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k.expand(c, 1, 5, 5), groups=c)


def laplacian_detail(x: torch.Tensor) -> torch.Tensor:
    """MPRNet's edge-loss detail layer: ``x - gauss(zero_insert_upsample(gauss(x)[::2, ::2]) * 4)``.

    As in the official code, the zero-inserted image is replicate-padded, so even a flat image has non-zero
    detail in its outer two rows/columns (identical for output and target, so the loss is unaffected).
    """
    filtered = _gauss5(x)
    up = torch.zeros_like(x)
    up[..., ::2, ::2] = filtered[..., ::2, ::2] * 4
    return x - _gauss5(up)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] to sRGB-encoded values (IEC 61966-2-1)."""
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
