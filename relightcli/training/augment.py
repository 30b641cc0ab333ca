"""Batch-level augmentation: training at several scales, so that a model is not tied to its training size; and
under several camera responses, so that it is not tied to its renderer's tone.

A relighting network trained at one resolution learns how large shadows and objects are in pixels, and is off
at another (issue 18, `benchmarks/scale_dependence.py`: the default trained at 128x128 loses 1.36 dB on its
numpy held-out pairs upsampled x2; a fine-tune of it at 256x256 loses 0.91 dB on them at their own 128x128).
Resizing whole batches by a factor drawn per step (multi-scale training, as in YOLO v2 or HRNet) shows the
network every scale in the list. Downscaling is by area averaging, the box filter the renderers use to
anti-alias, so a downscaled batch is what rendering at the smaller size would give.

Renderers differ in exposure and in the curve from radiance to display values (sRGB's "Standard", Filmic, AgX,
ACES). `tone_batch` gives some of a batch's pairs another such response: an exposure in linear light (clipped,
as an over-exposed render is), then a contrast about mid-grey and a gamma on the display values. The one curve is
applied to a pair's source, guide and target alike, so the pair stays true: it is the same scenes seen through
that response. The curve is the same on R, G and B and leaves grey grey, so the light's colour temperature is
not changed; depth is untouched. ``benchmarks/look_robustness.py`` measures what such looks do to a model.
"""

from __future__ import annotations

import random
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import RelightError
from ..ops import linear_to_srgb, srgb_to_linear

T = TypeVar("T", torch.Tensor, np.ndarray)


def check_scales(scales: tuple[float, ...]) -> None:
    """`RelightError` unless every factor is in (0, 1] (upscaling would only blur the training images)."""
    bad = [s for s in scales if not 0 < s <= 1]
    if bad:
        raise RelightError(f"--batch-scales: factors must be in (0, 1], got {', '.join(map(str, bad))}")


def draw_scale(scales: tuple[float, ...], seed: int, step: int) -> float:
    """The factor for ``step``: a function of the seed and the step only, so a resumed run draws the same ones
    and every process of a distributed run agrees."""
    return scales[random.Random(seed * 1_000_003 + step).randrange(len(scales))] if scales else 1.0


def rescale_batch(batch: torch.Tensor, factor: float, multiple: int) -> torch.Tensor:
    """``batch`` (B, C, H, W) resized by ``factor`` with area averaging, then centre-cropped to sides that are
    multiples of ``multiple`` (cropped, not stretched: a stretch would change the light's apparent direction).
    A side that would fall below one multiple is resized to exactly one."""
    if factor == 1.0:
        return batch
    h, w = batch.shape[-2:]
    size = [max(multiple, round(side * factor)) for side in (h, w)]
    out = F.interpolate(batch, size=size, mode="area")
    crop = [side // multiple * multiple for side in size]
    top, left = (size[0] - crop[0]) // 2, (size[1] - crop[1]) // 2
    return out[..., top : top + crop[0], left : left + crop[1]]


TONE_EXPOSURE_STOPS = 1.0  # exposure drawn from [-1, 1] stops
TONE_CONTRAST = (0.8, 1.1)  # display values scaled about 0.5
TONE_GAMMA = (0.85, 1.15)  # display values raised to this power
_TONE_SALT = 7_919  # keeps the tone draws apart from the scale draws of the same step


def contrast_gamma(display: T, contrast: T | float, gamma: T | float) -> T:
    """Display values in [0, 1] with ``contrast`` about mid-grey, then ``gamma``: the part of a camera response
    after its exposure. Works alike on torch tensors (the relighter's batches) and numpy arrays (the light
    estimator's 8-bit level tables, `relightcli.light.augment`)."""
    return (0.5 + contrast * (display - 0.5)).clip(0, 1) ** gamma


def tone_curve(x: torch.Tensor, stops: torch.Tensor, contrast: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """sRGB values ``x`` (B, C, H, W) in [0, 1] seen through another camera response, per sample: ``stops`` of
    exposure in linear light, then ``contrast`` about mid-grey and ``gamma`` on the display values (each (B,))."""
    shape = (-1, 1, 1, 1)
    display = linear_to_srgb((srgb_to_linear(x) * torch.exp2(stops).view(shape)).clamp(0, 1))
    return contrast_gamma(display, contrast.view(shape), gamma.view(shape))


def tone_batch(
    x: torch.Tensor, y: torch.Tensor, probability: float, seed: int, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input batch ``x`` (B, 8, H, W: source RGB, guide RGB, two depths) and target ``y`` (B, 3, H, W) with each
    pair, with ``probability``, given one random camera response (`tone_curve`) on source, guide and target.
    Drawn from the seed and the step only, so a resumed run draws alike."""
    if probability <= 0:
        return x, y
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step + _TONE_SALT)
    b = x.shape[0]
    chosen = torch.rand(b, generator=gen) < probability
    stops = (torch.rand(b, generator=gen) * 2 - 1) * TONE_EXPOSURE_STOPS
    contrast = TONE_CONTRAST[0] + torch.rand(b, generator=gen) * (TONE_CONTRAST[1] - TONE_CONTRAST[0])
    gamma = TONE_GAMMA[0] + torch.rand(b, generator=gen) * (TONE_GAMMA[1] - TONE_GAMMA[0])
    if not chosen.any():
        return x, y
    params = [t[chosen].to(x.device, x.dtype) for t in (stops, contrast, gamma)]
    k = chosen.to(x.device)
    x, y = x.clone(), y.clone()  # the pairs not chosen stay exactly as they were
    x[k, :6] = tone_curve(x[k, :6], *params)  # source and guide: the curve is the same on every channel
    y[k] = tone_curve(y[k], *params)
    return x, y
