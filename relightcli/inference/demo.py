"""What ``relight demo`` does: relight a bundled sample and write it with a labelled comparison strip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..assets import Sample, samples
from ..errors import RelightError
from ..io import read_image, write_image
from .apply import relight_files
from .engine import Relighter


@dataclass
class DemoResult:
    sample: Sample
    relit: Path
    comparison: Path


def comparison_strip(images: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Images side by side (same height) under a label row; float RGB in [0, 1]."""
    h = images[0][1].shape[0]
    label_h, pad = 26, 6
    tiles = []
    for label, img in images:
        w = img.shape[1] * h // img.shape[0]
        img8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
        tile = np.full((h + label_h, w, 3), 255, np.uint8)
        tile[label_h:] = cv2.resize(img8, (w, h), interpolation=cv2.INTER_AREA) if img.shape[0] != h else img8
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        tiles += [tile, np.full((h + label_h, pad, 3), 255, np.uint8)]
    return np.concatenate(tiles[:-1], axis=1).astype(np.float32) / 255.0


def run_demo(relighter: Relighter, out: str | Path, index: int = 0) -> DemoResult:
    """Relight bundled sample ``index`` into ``out/``; returns the written paths."""
    available = samples()
    if not 0 <= index < len(available):
        raise RelightError(f"--sample {index}: choose 0 to {len(available) - 1}")
    sample = available[index]
    out = Path(out)
    relit = relight_files(
        relighter, sample.src, sample.src_depth, sample.guide, sample.guide_depth, out / f"{sample.name}_relit.png"
    )
    strip = comparison_strip(
        [
            ("source", read_image(sample.src).rgb),
            ("guide", read_image(sample.guide).rgb),
            ("relit", read_image(relit).rgb),
            ("target", read_image(sample.target).rgb),
        ]
    )
    comparison = write_image(out / f"{sample.name}_comparison.png", strip)
    return DemoResult(sample, relit, comparison)
