"""Camera responses: global per-pixel changes of an image's display values that another renderer or camera
would have given the same scene, for measuring how far a model is tied to its renderer's tone.

Applied alike to a pair's source, guide and target, a response keeps the pair true (up to clipping and 8-bit
rounding), so ``benchmarks/look_robustness.py`` scores a relighter under each; applied to a labelled image it
keeps the light's direction, so ``benchmarks/light_robustness.py`` scores a light estimator under each. Its
colour temperature label stays true under those that are the same curve on R, G and B; ``desaturated`` is not,
so it measures how far a reading depends on the renderer's saturation.

All take and give sRGB values in [0, 1] (``(H, W, 3)`` float32). On linear light (sRGB decoded, changed, encoded)
unless said:

- ``standard``: unchanged (Blender's "Standard" view transform, as our renders are);
- ``dark1``, ``dark2``, ``bright1``: 1 or 2 stops of exposure down, 1 up (clipped);
- ``aces``: Narkowicz's fit of the ACES filmic curve (Unreal Engine's default tone mapper), exposure set so that
  mid-grey (0.18) maps to itself;
- ``lowcontrast``: display values pulled 15% towards mid-grey: lifted blacks and softer highlights, as AgX and
  Filmic give;
- ``desaturated``: saturation 0.7 in linear light (Rec. 709 luminance kept);
- ``gamma22``: a pure 2.2 power on display values instead of sRGB's piecewise curve;
- ``hable``: John Hable's filmic curve (Uncharted 2; A-F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30, white 11.2),
  exposure set so that mid-grey maps to itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..light.augment import linear_to_srgb, srgb_to_linear

LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _srgb(x: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(x, 0.0, 1.0)).astype(np.float32)


def _aces(x: np.ndarray) -> np.ndarray:
    a, b, c, d, e = 2.51, 0.03, 2.43, 0.59, 0.14
    return np.clip((x * (a * x + b)) / (x * (c * x + d) + e), 0.0, 1.0)


def _hable_raw(x: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
    return ((x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f)) - e / f


def _hable(x: np.ndarray) -> np.ndarray:
    return np.clip(_hable_raw(x) / _hable_raw(np.float32(11.2)), 0.0, 1.0)


def _mid_grey_gain(curve: Callable[[np.ndarray], np.ndarray]) -> float:
    """The exposure that makes ``curve`` map mid-grey (0.18) to itself, as a renderer's exposure would be set."""
    lo, hi = 0.1, 100.0
    for _ in range(60):
        k = (lo + hi) / 2
        lo, hi = (k, hi) if curve(np.float32(0.18 * k)) < 0.18 else (lo, k)
    return (lo + hi) / 2


_ACES_GAIN = _mid_grey_gain(_aces)
_HABLE_GAIN = _mid_grey_gain(_hable)


def _desaturate(x: np.ndarray) -> np.ndarray:
    y = (x @ LUMA_709)[..., None]
    return y + 0.7 * (x - y)


RESPONSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "standard": lambda x: x,
    "dark1": lambda x: _srgb(srgb_to_linear(x) * 0.5),
    "dark2": lambda x: _srgb(srgb_to_linear(x) * 0.25),
    "bright1": lambda x: _srgb(srgb_to_linear(x) * 2.0),
    "aces": lambda x: _srgb(_aces(srgb_to_linear(x) * _ACES_GAIN)),
    "lowcontrast": lambda x: 0.5 + 0.85 * (x - 0.5),
    "desaturated": lambda x: _srgb(_desaturate(srgb_to_linear(x))),
    "gamma22": lambda x: np.clip(srgb_to_linear(x), 0, 1) ** (1 / 2.2),
    "hable": lambda x: _srgb(_hable(srgb_to_linear(x) * _HABLE_GAIN)),
}


def quantise(x: np.ndarray) -> np.ndarray:
    """As an 8-bit PNG of the response would hold it."""
    return (np.round(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)


def respond(name: str, rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (sRGB in [0, 1]) seen through response ``name``, 8-bit quantised."""
    return quantise(RESPONSES[name](rgb))


def parse_responses(names: str) -> list[str]:
    """A comma-separated list of response names; `ValueError` naming those that are unknown."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in RESPONSES]
    if unknown:
        raise ValueError(f"unknown looks {unknown}; choose from {', '.join(RESPONSES)}")
    return chosen
