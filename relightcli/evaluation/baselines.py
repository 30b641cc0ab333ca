"""Reference methods computed on the same pairs as the model, so every number has something next to it.

- ``identity``: the source image unchanged (what relighting must improve on).
- ``colour transfer``: Reinhard et al., "Color Transfer between Images" (2001): per-channel mean and standard
  deviation of the source matched to the guide's in CIE Lab. It transfers the guide's colour cast but cannot
  move shadows.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def identity(src: np.ndarray, guide: np.ndarray) -> np.ndarray:
    return src.copy()


def colour_transfer(src: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float RGB in [0, 1] with the guide's Lab mean and standard deviation per channel."""
    s = cv2.cvtColor(np.ascontiguousarray(src, dtype=np.float32), cv2.COLOR_RGB2Lab)
    g = cv2.cvtColor(np.ascontiguousarray(guide, dtype=np.float32), cv2.COLOR_RGB2Lab)
    s_mean, s_std = s.reshape(-1, 3).mean(0), s.reshape(-1, 3).std(0)
    g_mean, g_std = g.reshape(-1, 3).mean(0), g.reshape(-1, 3).std(0)
    out = (s - s_mean) / np.maximum(s_std, 1e-6) * g_std + g_mean
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB), 0.0, 1.0)


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "identity": identity,
    "colour transfer": colour_transfer,
}
