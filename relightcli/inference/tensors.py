"""The model's input as a tensor: the 8-channel stack of source, guide and both depths, padded to the model's
size multiple (reflection, as the official S3Net/MPRNet demos do)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``(B, C, H, W)`` at the bottom/right to multiples of ``multiple`` (reflection; replicate if too small)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``arr`` (an image or a depth map) at ``size`` = ``(height, width)``: area averaging to shrink, bilinear to
    grow; unchanged if it already has that size."""
    h, w = size
    if arr.shape[:2] == (h, w):
        return arr
    shrink = h * w < arr.shape[0] * arr.shape[1]
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def make_input(src: np.ndarray, src_depth: np.ndarray, guide: np.ndarray, guide_depth: np.ndarray) -> torch.Tensor:
    """Stack the model input ``(1, 8, H, W)``: source RGB, guide RGB, source depth, guide depth.

    Arrays are float ``(H, W, 3)`` RGB in [0, 1] and ``(H, W)`` depth (in [0, 1] once normalised; raw depth as it
    is); the guide and its depth are resized to the source's size.
    """
    size = src.shape[:2]
    guide = np.clip(resize(guide, size), 0.0, 1.0)
    guide_depth = resize(guide_depth, size)  # in [0, 1] unless --raw-depth keeps a file's own values
    stacked = np.concatenate([src, guide, src_depth[:, :, None], guide_depth[:, :, None]], axis=2)
    return torch.from_numpy(np.ascontiguousarray(stacked.transpose(2, 0, 1), dtype=np.float32))[None]
