"""All lights at a glance: one photo relit under VIDIT's 40 settings, laid out as a labelled contact sheet.

Rows are the five colour temperatures (2500 K at the top), columns the eight directions in compass order
(N, NE, ..., NW), each cell the photo relit under that setting's shipped preset guide. The photo is relit at
a thumbnail working size (``cell``, the longer side), so the whole sheet costs 40 small passes, not 40
full-resolution ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..assets import preset
from ..data.vidit import DIRECTIONS, SETTINGS, TEMPERATURES
from ..io import read_depth, read_image
from .engine import Relighter
from .tensors import resize

TOP, LEFT = 22, 56
"""Height of the column labels (directions) and width of the row labels (temperatures), in pixels."""


def thumbnail_size(h: int, w: int, cell: int) -> tuple[int, int]:
    """``(height, width)`` with the longer side ``cell`` (never upscaled), aspect kept."""
    scale = min(1.0, cell / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _label(canvas: np.ndarray, text: str, x: int, y: int) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)


def all_lights(
    relighter: Relighter,
    rgb: np.ndarray,
    depth: np.ndarray,
    *,
    cell: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The contact sheet of ``rgb`` (float ``(H, W, 3)`` in [0, 1], with its ``(H, W)`` depth) under the 40
    settings; float RGB in [0, 1]. ``on_progress(done, 40)`` hears of every cell."""
    th, tw = thumbnail_size(*rgb.shape[:2], cell)
    small, small_depth = resize(rgb, (th, tw)), resize(depth, (th, tw))
    pad = 4
    sheet = np.full((TOP + len(TEMPERATURES) * (th + pad), LEFT + len(DIRECTIONS) * (tw + pad), 3), 255, np.uint8)
    for j, direction in enumerate(DIRECTIONS):
        _label(sheet, direction, LEFT + j * (tw + pad) + tw // 2 - 8, TOP - 6)
    for i, temperature in enumerate(TEMPERATURES):
        _label(sheet, f"{temperature}K", 2, TOP + i * (th + pad) + th // 2 + 5)
    guide_depths: dict[Path, np.ndarray] = {}  # the preset bank shares one depth map: read it once
    for n, setting in enumerate(SETTINGS):
        guide_path, depth_path = preset(setting)
        if depth_path not in guide_depths:
            guide_depths[depth_path] = read_depth(depth_path)
        guide = read_image(guide_path).rgb
        out = relighter.relight(small, small_depth, guide, guide_depths[depth_path], target_setting=setting)
        i, j = TEMPERATURES.index(setting.temperature), DIRECTIONS.index(setting.direction)
        y, x = TOP + i * (th + pad), LEFT + j * (tw + pad)
        sheet[y : y + th, x : x + tw] = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
        if on_progress:
            on_progress(n + 1, len(SETTINGS))
    return sheet.astype(np.float32) / 255.0
