"""Large images: overlapping tiles with a smooth blend, and a working resolution with edge-aware upsampling.

Tiling (as in Real-ESRGAN/chaiNNer): the full image stays on the host and one tile at a time goes to the
device; tiles overlap by ``overlap`` pixels and are blended with linear ramps across the overlap, so there are
no seams; on a CUDA out-of-memory error the tile is halved and the image restarted. Each tile sees only its
part of the (resized) guide, so global lighting cues are local to the tile: keep tiles large.

Working resolution (``max_side``): the model runs on a copy downscaled so its longer side is ``max_side``;
the relighting is carried to full resolution as a per-pixel ratio ``(output + e) / (source + e)`` upsampled by
a guided filter driven by the full-resolution source (He et al., "Guided Image Filtering", ECCV 2010), so
edges follow the full-resolution image, and multiplied onto the full-resolution source.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from ..errors import RelightError


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    w = torch.ones(length)
    n = min(overlap, length // 2)
    if n > 0:
        ramp = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        if ramp_start:
            w[:n] = ramp
        if ramp_end:
            w[-n:] = ramp.flip(0)
    return w


def run_tiled(
    run: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int = 32,
    *,
    min_tile: int = 64,
    on_retry: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Apply ``run`` (``(1, C, h, w) -> (1, 3, h, w)``, host tensors) over overlapping tiles of ``x``.

    Args:
        run: The model on one tile (e.g. `Relighter.run`).
        x: ``(1, C, H, W)`` on the host.
        tile: Tile side; ``overlap`` pixels are shared by neighbours and blended.
        on_retry: Called with the new tile size after a CUDA out-of-memory error halves it.
    """
    if overlap < 0 or tile <= 2 * overlap:
        raise RelightError(f"--tile {tile} must be larger than twice --tile-overlap {overlap}")
    _, _, h, w = x.shape
    while True:
        try:
            return _tiled_once(run, x, min(tile, h), min(tile, w), overlap)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if tile // 2 < max(min_tile, 2 * overlap + 1):
                raise RelightError(f"out of GPU memory even with {tile}px tiles; use --device cpu") from None
            tile //= 2
            if on_retry:
                on_retry(tile)


def tiles_needed(h: int, w: int, tile: int, overlap: int) -> int:
    """How many tiles `run_tiled` runs over an ``h`` x ``w`` input."""
    th, tw = min(tile, h), min(tile, w)
    return len(_starts(h, th, th - overlap)) * len(_starts(w, tw, tw - overlap))


def _tiled_once(
    run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, th: int, tw: int, overlap: int
) -> torch.Tensor:
    _, _, h, w = x.shape
    out = torch.zeros(1, 3, h, w)
    weight = torch.zeros(1, 1, h, w)
    ys, xs = _starts(h, th, th - overlap), _starts(w, tw, tw - overlap)
    for y0 in ys:
        wy = _ramp(th, overlap, y0 > 0, y0 + th < h)
        for x0 in xs:
            wx = _ramp(tw, overlap, x0 > 0, x0 + tw < w)
            blend = (wy[:, None] * wx[None, :])[None, None]
            pred = run(x[..., y0 : y0 + th, x0 : x0 + tw])
            out[..., y0 : y0 + th, x0 : x0 + tw] += pred * blend
            weight[..., y0 : y0 + th, x0 : x0 + tw] += blend
    return out / weight


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a gray ``guide`` ``(H, W)`` and ``src`` ``(H, W, C)`` (box filters)."""
    k = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, k, borderType=cv2.BORDER_REFLECT)

    g = guide.astype(np.float32)
    mean_g = box(g)
    var_g = box(g * g) - mean_g * mean_g
    out = np.empty_like(src, dtype=np.float32)
    for c in range(src.shape[2]):
        p = src[:, :, c].astype(np.float32)
        mean_p = box(p)
        a = (box(g * p) - mean_g * mean_p) / (var_g + eps)
        b = mean_p - a * mean_g
        out[:, :, c] = box(a) * g + box(b)
    return out


def working_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def upsample_relighting(
    src_full: np.ndarray,
    src_small: np.ndarray,
    out_small: np.ndarray,
    *,
    eps: float = 1 / 64,
    radius: int | None = None,
    gf_eps: float = 1e-4,
) -> np.ndarray:
    """Carry a low-resolution relighting to the full-resolution source via a guided-filtered ratio."""
    h, w = src_full.shape[:2]
    ratio = (out_small + eps) / (src_small + eps)
    ratio_up = cv2.resize(ratio.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    gray = cv2.cvtColor(np.ascontiguousarray(src_full, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    radius = radius or max(2, round(2 * h / out_small.shape[0]))
    ratio_up = guided_filter(gray, ratio_up, radius, gf_eps)
    return np.clip((src_full + eps) * ratio_up - eps, 0.0, 1.0).astype(np.float32)
