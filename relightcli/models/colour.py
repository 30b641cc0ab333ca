"""Image-wide colour statistics: what an image says about its light's colour, as numbers a network can read.

The shades-of-grey family of illuminant estimates (Finlayson & Trezzi, CIC 2004): the Minkowski p-norm of each
channel over the image, ``(mean x^p)^(1/p)``, is proportional to the light's colour when the scene's reflectances
average to grey; p = 1 is grey-world (Buchsbaum 1980), large p tends to max-RGB (Land's white patch). In the log
domain a colour-temperature change of the light is an additive shift of these numbers, and a same-direction,
temperature-only relighting is almost exactly a per-channel gain: on issue 18's held-out path-traced pairs the
best per-channel gain takes the identity from 28.39 dB to 42.90 dB. Linear softmax regression on these
statistics tells the light's temperature (5 classes) for 90 % of held-out path-traced guides; the numpy
renderer's coloured albedos make it harder (40-50 %), so a network should learn how far to trust them.
"""

from __future__ import annotations

import torch

from .shading import full_precision

NORMS = (1.0, 4.0, 16.0)
"""Minkowski norms: grey-world, shades of grey (p = 4 is Finlayson & Trezzi's best single value), near max-RGB."""
PER_IMAGE = 4 * len(NORMS)
"""Per image and norm: the log chromaticity (3, summing to zero) and the log level (1)."""
CODE = 2 * PER_IMAGE
"""`colour_code`'s length: the source's statistics, then the guide's."""
_EPS = 1e-4


def colour_statistics(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> ``(B, PER_IMAGE)`` fp32: for each of `NORMS`, log chromaticity and log level.

    Means over the pixels, so the numbers do not depend on the resolution. Each norm is taken of the channel
    divided by its maximum, ``log ||x||_p = log max x + log ||x / max x||_p``: the same number, but ``x^16`` of a
    black or near-black channel (a dark photo, a night scene's blue) no longer underflows fp32 to a log of zero.
    """
    with full_precision(rgb):
        x = rgb.float().clamp(0.0, 1.0) + _EPS
        peak = x.amax(dim=(2, 3), keepdim=True)
        x, log_peak = x / peak, peak.log()[:, :, 0, 0]
        out = []
        for p in NORMS:
            log_norm = log_peak + x.pow(p).mean(dim=(2, 3)).log() / p  # (B, 3); the mean is >= 1 / pixels
            level = log_norm.mean(dim=1, keepdim=True)
            out += [log_norm - level, level]
        return torch.cat(out, dim=1)


def colour_code(x: torch.Tensor) -> torch.Tensor:
    """The `CODE` colour statistics of a model input ``(B, 8, H, W)`` (source RGB first, guide RGB next), fp32."""
    return torch.cat([colour_statistics(x[:, :3]), colour_statistics(x[:, 3:6])], dim=1)
