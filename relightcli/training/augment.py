"""Batch-level augmentation: training at several scales, so that a model is not tied to its training size.

A relighting network trained at one resolution learns how large shadows and objects are in pixels, and is off
at another (issue 18, `benchmarks/scale_dependence.py`: the default trained at 128x128 loses 1.36 dB on its
numpy held-out pairs upsampled x2; a fine-tune of it at 256x256 loses 0.91 dB on them at their own 128x128).
Resizing whole batches by a factor drawn per step (multi-scale training, as in YOLO v2 or HRNet) shows the
network every scale in the list. Downscaling is by area averaging, the box filter the renderers use to
anti-alias, so a downscaled batch is what rendering at the smaller size would give.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from ..errors import RelightError


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
