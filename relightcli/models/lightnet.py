"""The light estimator's network: a small residual CNN from an RGB photo to VIDIT's light classes.

Reading the light is a global judgement on local evidence (which side of things is lit, where shadows fall,
the colour cast of lit surfaces against shadowed ones), so the network sees the whole photo at a fixed
working size (``input_size``, the photo resized with antialiasing inside `forward`, so any size goes in) and
pools its last features over the image, average and max (the max keeps a single strong cue, such as one cast
shadow, from being averaged away). Four stride-2 residual stages (He et al., CVPR 2016, basic blocks) with
BatchNorm; two linear heads. Trained from scratch (`relightcli.light.training`); run through
`relightcli.light.LightEstimator`.

Output: ``(B, 13)`` logits, the 8 directions (``DIRECTIONS`` order: N, NE, ..., NW) then the 5 temperatures
(``TEMPERATURES`` order: 2500 ... 6500 K).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.vidit import DIRECTIONS, TEMPERATURES
from ..ops import linear_to_srgb, srgb_to_linear
from ._registry import register_model

N_DIRECTIONS, N_TEMPERATURES = len(DIRECTIONS), len(TEMPERATURES)


def _conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class _Block(nn.Module):
    """A basic residual block that halves the resolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, stride=2)
        self.conv2 = _conv_bn(cout, cout)
        self.skip = _conv_bn(cin, cout, stride=2, k=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.skip(x))


def normalize_exposure(x: torch.Tensor, quantile: float = 0.98) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` to linear light re-exposed so that each image's ``quantile`` luminance is 1 (clipped
    above): the same photo taken brighter or darker gives the same input, and a dark, one-light scene has its
    lit surfaces at full range. A scale in linear light leaves chromaticity, so the colour temperature, alone."""
    lin = srgb_to_linear(x)
    lum = (0.2126 * lin[:, 0] + 0.7152 * lin[:, 1] + 0.0722 * lin[:, 2]).flatten(1)
    scale = torch.quantile(lum, quantile, dim=1).clamp_min(1e-4)[:, None, None, None]
    return (lin / scale).clamp(0.0, 1.0)


def input_features(x: torch.Tensor) -> torch.Tensor:
    """The 7 channels the network sees: the exposure-normalised image (sRGB-encoded, in [-1, 1]), its log
    chromaticity ``log(R/G)``, ``log(B/G)`` (the light's colour, made explicit: a ReLU network finds ratios
    hard to build) and the pixel coordinates (CoordConv, Liu et al., NeurIPS 2018: where in the frame the light
    falls, as from a lamp to one side)."""
    lin = normalize_exposure(x)
    srgb = linear_to_srgb(lin)
    eps = 0.02  # dark pixels' chromaticity is noise: damp it
    chroma = torch.log((lin[:, 0::2] + eps) / (lin[:, 1:2] + eps)).clamp(-3, 3) / 3
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)[:, None].expand(h, w)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)[None, :].expand(h, w)
    coords = torch.stack([xs, ys])[None].expand(b, 2, h, w)
    return torch.cat([srgb * 2 - 1, chroma, coords], dim=1)


class LightNet(nn.Module):
    """RGB in [0, 1] of any size -> ``(B, 13)`` light logits (directions, then temperatures)."""

    def __init__(self, widths: Sequence[int] = (24, 32, 64, 128, 192), input_size: int = 128, dropout: float = 0.2):
        super().__init__()
        self.input_size = input_size
        self.stem = nn.Sequential(_conv_bn(7, widths[0], stride=2), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*(_Block(a, b) for a, b in itertools.pairwise(widths)))
        self.dropout = nn.Dropout(dropout)
        self.direction = nn.Linear(2 * widths[-1], N_DIRECTIONS)
        self.temperature = nn.Linear(2 * widths[-1], N_TEMPERATURES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
        f = self.stages(self.stem(input_features(x.float()).to(x.dtype)))  # the quantile needs fp32
        pooled = self.dropout(torch.cat([f.mean((2, 3)), f.amax((2, 3))], dim=1))
        return torch.cat([self.direction(pooled), self.temperature(pooled)], dim=1)


@register_model(size_multiple=1, task="light", bf16_safe=True)
def light_net(widths: Sequence[int] = (24, 32, 64, 128, 192), input_size: int = 128, dropout: float = 0.2) -> LightNet:
    """Light estimator: VIDIT's 8 directions and 5 colour temperatures from an RGB photo (1.6 M parameters)."""
    return LightNet(widths=tuple(widths), input_size=input_size, dropout=dropout)
