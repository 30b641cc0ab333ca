"""Colour of a blackbody light in linear sRGB (Planck's law through the CIE 1931 2-degree observer).

The colour-matching functions use the multi-lobe Gaussian fit of Wyman, Sloan and Shirley, "Simple Analytic
Approximations to the CIE XYZ Color Matching Functions", JCGT 2013. No white balance is applied, so 6500 K is
close to neutral (sRGB's white is D65) and 2500 K is orange, as in VIDIT.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_C2 = 1.438776877e-2  # second radiation constant hc/k, m*K
_XYZ_TO_LINEAR_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def _lobe(lam: np.ndarray, mu: float, s_low: float, s_high: float) -> np.ndarray:
    s = np.where(lam < mu, s_low, s_high)
    return np.exp(-0.5 * ((lam - mu) / s) ** 2)


def cie1931_cmf(lam_nm: np.ndarray) -> np.ndarray:
    """``(N, 3)`` x-bar, y-bar, z-bar at wavelengths in nanometres (Wyman et al. 2013 multi-lobe fit)."""
    x = 1.056 * _lobe(lam_nm, 599.8, 37.9, 31.0) + 0.362 * _lobe(lam_nm, 442.0, 16.0, 26.7)
    x -= 0.065 * _lobe(lam_nm, 501.1, 20.4, 26.2)
    y = 0.821 * _lobe(lam_nm, 568.8, 46.9, 40.5) + 0.286 * _lobe(lam_nm, 530.9, 16.3, 31.1)
    z = 1.217 * _lobe(lam_nm, 437.0, 11.8, 36.0) + 0.681 * _lobe(lam_nm, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], axis=1)


@lru_cache(maxsize=64)
def _blackbody_rgb(kelvin: float) -> tuple[float, float, float]:
    lam_nm = np.arange(380.0, 781.0, 1.0)
    lam = lam_nm * 1e-9
    radiance = lam**-5 / np.expm1(_C2 / (lam * kelvin))
    xyz = radiance @ cie1931_cmf(lam_nm)
    xyz = xyz / xyz[1]  # luminance 1: every temperature equally bright
    rgb = np.clip(_XYZ_TO_LINEAR_SRGB @ xyz, 0.0, None)
    return tuple(float(v) for v in rgb)


def blackbody_rgb(kelvin: float) -> np.ndarray:
    """Linear-sRGB colour of a blackbody at ``kelvin``, scaled to luminance 1 (negative parts clipped)."""
    if not 1000.0 <= kelvin <= 40000.0:
        raise ValueError(f"colour temperature {kelvin} K outside 1000-40000 K")
    return np.array(_blackbody_rgb(float(kelvin)))
