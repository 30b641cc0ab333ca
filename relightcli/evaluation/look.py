"""How a set of images looks, in five numbers: is it VIDIT's dark, one-light world or a bright, sky-lit one?

Each image is resized to 256x256 (area averaging) and measured on its luminance ``Y = 0.299 R + 0.587 G +
0.114 B`` (sRGB values in [0, 1], Rec. 601 weights, as OpenCV's grey conversion) and its HSV saturation
``(max - min) / max``:

- ``mean_y``: the mean of Y over all pixels of all images;
- ``median_y``: the median pixel Y of each image, averaged over the images. (Issue 28's VIDIT figures cannot be
  medians over all pixels pooled: with 51% of the pixels below 0.05 the pooled median is below 0.05, not 0.10.
  Averaged per-image medians fit them: a set of dark and lit frames has a pooled median near the dark level and
  a mean per-image median near 0.1. The pooled median is reported beside it, ``pooled_median_y``, not judged.)
- ``dark_share``: the share of pixels with Y < 0.05 (near black);
- ``p99_y``: the 99th percentile of pixel Y;
- ``saturation``: the mean HSV saturation (0 where a pixel is black).

`VIDIT_LOOK` holds these for 11 real VIDIT images (NTIRE 2021 track 2 challenge repositories, 1024x1024,
several scenes and settings), as measured for issue 28 by the same definitions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import RelightError

SIDE = 256
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Look:
    """The five statistics of a set of images (see the module's docstring)."""

    mean_y: float
    median_y: float
    dark_share: float
    p99_y: float
    saturation: float
    images: int = 0
    pooled_median_y: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "images"}


VIDIT_LOOK = Look(mean_y=0.19, median_y=0.10, dark_share=0.51, p99_y=0.68, saturation=0.32, images=11)
"""Real VIDIT (issue 28's table): a night-like world, half the frame near black."""

LABELS = {
    "mean_y": "mean Y",
    "median_y": "median pixel Y (per image, averaged)",
    "dark_share": "pixels with Y < 0.05",
    "p99_y": "99th percentile Y",
    "saturation": "mean HSV saturation",
    "pooled_median_y": "median of all pixels pooled (not judged)",
}


def image_files(folder: Path, limit: int | None = None) -> list[Path]:
    """The photos under ``folder`` (recursively; depth maps, ``*_depth.png`` and 16-bit one-channel PNGs, left out),
    sorted, at most ``limit`` spread evenly over the sorted list."""
    if not folder.is_dir():
        raise RelightError(f"{folder}: folder not found")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.stem.endswith("_depth")
    )
    if limit is not None and len(files) > limit:
        picks = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in picks]
    return files


def _read_rgb(path: Path) -> np.ndarray | None:
    """Float RGB in [0, 1] at `SIDE` x `SIDE`, or None for a depth map or an unreadable file."""
    data = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.ndim != 3 or data.shape[2] < 3:
        return None  # depth maps are one channel
    scale = 65535.0 if data.dtype == np.uint16 else 255.0
    rgb = cv2.cvtColor(data[:, :, :3], cv2.COLOR_BGR2RGB).astype(np.float32) / scale
    return cv2.resize(rgb, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def measure(images: Iterable[np.ndarray]) -> Look:
    """The `Look` of float RGB images in [0, 1] (any sizes; measured as given)."""
    ys, sats, medians = [], [], []
    for rgb in images:
        y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        hi, lo = rgb.max(axis=2), rgb.min(axis=2)
        sats.append(np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-12), 0.0).ravel())
        ys.append(y.ravel())
        medians.append(float(np.median(y)))
    if not ys:
        raise RelightError("no images to measure")
    y, s = np.concatenate(ys), np.concatenate(sats)
    return Look(
        mean_y=float(y.mean()),
        median_y=float(np.mean(medians)),
        dark_share=float((y < 0.05).mean()),
        p99_y=float(np.percentile(y, 99)),
        saturation=float(s.mean()),
        images=len(ys),
        pooled_median_y=float(np.median(y)),
    )


def measure_folder(folder: Path, limit: int | None = None) -> Look:
    """The `Look` of the photos in ``folder`` (see `image_files`), each at 256x256."""
    images = [img for img in map(_read_rgb, image_files(folder, limit)) if img is not None]
    if not images:
        raise RelightError(f"{folder}: no colour .png/.jpg images")
    return measure(images)


TOLERANCE = {"mean_y": 0.05, "median_y": 0.05, "dark_share": 0.12, "p99_y": 0.10, "saturation": 0.08}
"""How close to `VIDIT_LOOK` a scene family must be to count as VIDIT's look (absolute differences)."""


def within(look: Look, reference: Look = VIDIT_LOOK, tolerance: dict[str, float] = TOLERANCE) -> dict[str, bool]:
    """Per statistic, whether ``look`` is within ``tolerance`` (absolute) of ``reference``."""
    ours, ref = look.as_dict(), reference.as_dict()
    return {k: abs(ours[k] - ref[k]) <= tol for k, tol in tolerance.items()}


def look_table(looks: Sequence[tuple[str, Look]]) -> str:
    """A markdown table: one row per statistic, one column per named `Look`."""
    head = "| statistic | " + " | ".join(f"{name} ({look.images} images)" for name, look in looks) + " |"
    rule = "|---|" + "---|" * len(looks)
    rows = []
    for key, label in LABELS.items():
        cells = []
        for _, look in looks:
            value = look.as_dict()[key]
            if math.isnan(value):
                cells.append("-")
            else:
                cells.append(f"{value:.0%}" if key == "dark_share" else f"{value:.2f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])
