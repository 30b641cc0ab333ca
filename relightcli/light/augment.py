"""Augmentations for the light estimator that keep its labels true, and make it robust to what cameras do.

- **Crop and scale**: a random crop of 50-100% of the area, any aspect in [3/4, 4/3], resized to the working
  size. The light's direction and colour are properties of the whole scene, so every part of it shows them.
- **Mirror**: a left-right flip swaps the direction label E <-> W (NE <-> NW, SE <-> SW); N and S stay.
- **Exposure** (60% of views): the image is scaled in linear light (sRGB decoded, multiplied by 2^U(-3.5, 0.7), encoded,
  clipped). A scale leaves every pixel's chromaticity alone, so the temperature label stays true. The range
  reaches far below our renders because real VIDIT is much darker (mean luminance 0.19 against 0.36).
- **Sensor noise**: Gaussian noise, independent per channel, zero-mean so it shifts no colour on average.
- **JPEG**: re-encoding at quality 40-95 (blocks and chroma subsampling, as in photos from the web).
- **Blur**: a slight Gaussian blur (focus, motion, resampling).
- **Camera response** (a share ``look`` of views, off by default): after the exposure, a contrast about mid-grey
  and a gamma on the display values (`relightcli.training.augment.contrast_gamma`), in the ranges the relighter's
  ``--look-augment`` draws from. Renderers and cameras put different curves between radiance and display
  values (Standard sRGB, Filmic, AgX, ACES); one curve, the same on R, G and B, leaves grey grey, so the light's
  colour temperature label stays true. With ``filmic_share``, that share of the responses is a filmic S-curve in
  linear light instead (`filmic`). ``benchmarks/light_robustness.py`` measures what such looks do.

No hue, saturation or white-balance jitter: any of them would change the colour temperature the image shows and
so falsify its label.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data.vidit import DIRECTIONS, MIRRORED_DIRECTION
from ..training.augment import TONE_CONTRAST, TONE_GAMMA, contrast_gamma

MIRROR_DIRECTION_INDEX = np.array([DIRECTIONS.index(MIRRORED_DIRECTION[d]) for d in DIRECTIONS])


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, min_area: float = 0.5) -> np.ndarray:
    """A random crop (``min_area``-100% of the area, aspect in [3/4, 4/3]) resized to ``size`` x ``size``."""
    h, w = img.shape[:2]
    area = rng.uniform(min_area, 1.0) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch, cw = min(h, round(np.sqrt(area / aspect))), min(w, round(np.sqrt(area * aspect)))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = img[top : top + ch, left : left + cw]
    interp = cv2.INTER_AREA if min(ch, cw) > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def exposure(img: np.ndarray, stops: float) -> np.ndarray:
    """``img`` (sRGB in [0, 1]) exposed by ``stops`` in linear light, clipped as a sensor clips."""
    return np.clip(linear_to_srgb(np.clip(srgb_to_linear(img) * 2.0**stops, 0.0, 1.0)), 0.0, 1.0)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    _ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32) / 255.0


FILMIC_POWER = (1.0, 2.0)  # the sigmoid's steepness: contrast in the darks
FILMIC_SHOULDER = (0.3, 1.0)  # where highlights start to roll off, in linear light


def filmic(levels: np.ndarray, power: float, shoulder: float) -> np.ndarray:
    """Display values ``levels`` in [0, 1] seen through a filmic S-curve instead of sRGB's: in linear light, a
    Naka-Rushton sigmoid ``x^n / (x^n + s^n)`` (Reinhard et al. 2002 at n = 1), scaled so that mid-grey (0.18)
    maps to itself, as a renderer's exposure would set it; clipped at white."""
    mid = np.float32(0.18)
    gain = (mid**power + shoulder**power) / mid ** (power - 1)
    x = srgb_to_linear(levels) ** power
    return linear_to_srgb(np.clip(gain * x / (x + shoulder**power), 0.0, 1.0))


def augment(
    img: np.ndarray,
    direction: int,
    size: int,
    rng: np.random.Generator,
    look: float = 0.0,
    filmic_share: float = 0.0,
) -> tuple[np.ndarray, int]:
    """One augmented view of ``img`` (uint8 RGB ``(H, W, 3)``) at ``size`` x ``size`` as float32 in [0, 1], and
    its direction label (mirrored with the image). The temperature label never changes. ``look`` is the chance
    of another camera response; at 0 no draw is made for it, so earlier recipes draw as they did."""
    if img.dtype != np.uint8:
        raise TypeError(f"augment takes uint8 images, got {img.dtype}")
    out = random_crop(img, size, rng)
    if rng.random() < 0.5:
        out, direction = out[:, ::-1], int(MIRROR_DIRECTION_INDEX[direction])
    stops = rng.uniform(-3.5, 0.7) if rng.random() < 0.6 else 0.0
    table = exposure(np.arange(256, dtype=np.float32) / 255.0, stops)  # one value per 8-bit level
    if look > 0 and rng.random() < look:
        if filmic_share > 0 and rng.random() < filmic_share:
            table = filmic(table, rng.uniform(*FILMIC_POWER), rng.uniform(*FILMIC_SHOULDER))
        else:
            table = contrast_gamma(table, rng.uniform(*TONE_CONTRAST), rng.uniform(*TONE_GAMMA))
    out = table.astype(np.float32)[out]
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(np.ascontiguousarray(out), (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.3:
        out = out + rng.normal(0.0, rng.uniform(0.0, 0.02), out.shape).astype(np.float32)
    if rng.random() < 0.3:
        out = jpeg(out, rng.integers(40, 96))
    return np.clip(out, 0.0, 1.0).astype(np.float32), direction
