"""Depth maps: reading, writing, and the convention the relighting models take.

**The convention** is VIDIT's ``normalized_depth``: larger = farther, normalised per image to [0, 1] by min-max
(`normalize_depth`; every depth map read from a file goes through it unless ``raw``). Files: 8/16-bit PNG, plain
``.npy`` arrays and VIDIT's pickled-dict ``.npy`` (``normalized_depth``), read through a restricted unpickler that
only rebuilds numpy arrays and builtin containers.

**Inverse and metric depth** (`disparity_to_depth`, `metric_to_depth`): relative estimators (Depth Anything,
MiDaS/DPT) return *inverse* depth (disparity ``d``: larger = nearer) up to an unknown scale and shift. The rule:

1. **Shift**: taken as zero, i.e. ``depth = 1 / d``: these estimators are trained so that the sky and the far
   background get the lowest disparity (near 0). The scale is irrelevant after min-max normalisation.
2. **Far background and sky**: disparities below ``max(d) / FAR_RATIO`` (``FAR_RATIO`` = 20: everything farther
   than 20 times the nearest point, zero and negative disparities included) are the far plane: depth 1.0. Without
   it one sky pixel at ``d ~ 0`` would squeeze the whole scene into depth ~0.
3. **Min-max** to [0, 1], as for every depth file.

The conversion is monotonic (non-increasing in ``d``), exact for a scene whose depth range is within the far
ratio (the inverse of a `relight synth` scene's depth comes back as its ``normalized_depth``: tested), and the far
plane ends where a real scene's sky begins. Metric depth (ZoeDepth, a path tracer's z) gets the same far plane
(20 x the nearest) and min-max.
"""

from __future__ import annotations

import io as _stdio
import os
import pickle
import struct
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import RelightError
from .images import MAX_PIXELS, RGBImage, _decode, _read_bytes, _to_unit_float, read_image

FAR_RATIO = 20.0
"""The far plane: depth beyond ``FAR_RATIO`` times the nearest point's (sky, far background) is set to it."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays, dtypes and builtin containers only; any other global is refused unexecuted."""

    ALLOWED = frozenset(
        {
            (mod, name)
            for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name in ("_reconstruct", "scalar")
        }
        | {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
        | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("collections", "OrderedDict")}
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def safe_unpickle(stream: _stdio.BufferedIOBase | _stdio.BytesIO) -> object:
    """Unpickle numpy arrays and builtin containers from ``stream``; raises `pickle.UnpicklingError` otherwise."""
    return _RestrictedUnpickler(stream).load()


_NPY_MAGIC = b"\x93NUMPY"


def _load_npy(data: bytes, path: str | os.PathLike[str]) -> object:
    """A ``.npy`` payload: a plain array, or a pickled object (VIDIT's dict) read through the restricted unpickler."""
    f = _stdio.BytesIO(data)
    try:
        if data[:6] == _NPY_MAGIC:
            major, _ = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            _shape, _fortran, dtype = header(f)
            if not dtype.hasobject:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            obj = safe_unpickle(f)  # object arrays are stored as a pickle after the header
            return obj
        return safe_unpickle(f)
    except pickle.UnpicklingError as exc:
        raise RelightError(f"{path}: unsafe or invalid pickle in depth file ({exc}); refusing to load it") from exc
    except (ValueError, EOFError, OSError, struct.error, IndexError, KeyError, TypeError) as exc:
        raise RelightError(f"{path}: not a readable .npy depth file ({type(exc).__name__}: {exc})") from exc


def _depth_array(obj: object, path: str | os.PathLike[str]) -> np.ndarray:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    if isinstance(obj, dict):
        if "normalized_depth" not in obj:
            raise RelightError(f"{path}: depth dict has no 'normalized_depth' entry (keys: {', '.join(map(str, obj))})")
        obj = obj["normalized_depth"]
    if not isinstance(obj, np.ndarray) or obj.dtype.hasobject or obj.dtype.kind not in "fiub":
        raise RelightError(
            f"{path}: depth must be a numeric array, got {type(obj).__name__}"
            + (f" of {obj.dtype}" if isinstance(obj, np.ndarray) else "")
        )
    return obj


def read_depth(path: str | os.PathLike[str], *, raw: bool = False, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a depth map as float32 ``(H, W)``, normalised per image to [0, 1] unless ``raw``.

    Accepts 8/16-bit PNG (or any OpenCV image; colour images must have equal channels), plain ``.npy`` arrays
    and VIDIT's pickled-dict ``.npy``. NaN or infinite values are an error. A constant map becomes all zeros.
    With ``raw`` the values are used as they are (VIDIT's ``normalized_depth`` exceeds 1 in places, VIDIT issue
    #11), only negative ones are refused.
    """
    data = _read_bytes(path, "depth")
    if Path(path).suffix.lower() == ".npy":
        arr = _depth_array(_load_npy(data, path), path)
    else:
        arr = _decode(data, path, "depth image", max_pixels)
        if arr.dtype in (np.uint8, np.uint16):
            arr = _to_unit_float(arr, path)[0]
    arr = np.asarray(arr, dtype=np.float32) if arr.dtype != np.float64 else arr
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        colour = arr[:, :, :3] if arr.shape[2] >= 3 else arr
        if not np.all(colour == colour[:, :, :1]):
            raise RelightError(f"{path}: depth is a colour image; give a single-channel depth map")
        arr = colour[:, :, 0]
    if arr.ndim != 2 or arr.size == 0:
        raise RelightError(f"{path}: depth must be a 2-D map, got shape {arr.shape}")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise RelightError(f"{path}: depth has {bad} NaN or infinite values; fill the holes first")
    arr = arr.astype(np.float64)
    if raw:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0:
            raise RelightError(f"{path}: negative depth values (span [{lo:g}, {hi:g}]); drop --raw-depth")
        return arr.astype(np.float32)
    return normalize_depth(arr)


def encode_depth_npy(depth: np.ndarray, center_distance: float = 0.0) -> bytes:
    """VIDIT's depth file: a dict (``normalized_depth``, ``ref_center_dis``) pickled by ``np.save``."""
    f = _stdio.BytesIO()
    np.save(
        f,
        {"normalized_depth": depth.astype(np.float32), "ref_center_dis": np.float64(center_distance)},
        allow_pickle=True,
    )
    return f.getvalue()


def write_depth(path: str | os.PathLike[str], depth: np.ndarray) -> Path:
    """Write a depth map in [0, 1] atomically: 16-bit single-channel PNG (``.png``) or VIDIT's dict ``.npy``."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        atomic_write_bytes(p, encode_depth_npy(depth))
        return p
    if p.suffix.lower() != ".png":
        raise RelightError(f"{p}: depth maps are written as .png (16-bit) or .npy (VIDIT dict)")
    ok, buf = cv2.imencode(".png", (np.clip(depth, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16))
    if not ok:
        raise RelightError(f"{p}: OpenCV could not encode the depth map")
    atomic_write_bytes(p, buf.tobytes())
    return p


def write_depth_preview(path: str | os.PathLike[str], depth: np.ndarray) -> Path:
    """A colour-mapped view of a depth map (turbo: near red, far blue), written atomically as 8-bit PNG."""
    gray = (np.clip(1.0 - depth, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    ok, buf = cv2.imencode(".png", cv2.applyColorMap(gray, cv2.COLORMAP_TURBO))
    if not ok:
        raise RelightError(f"{path}: OpenCV could not encode the preview")
    atomic_write_bytes(path, buf.tobytes())
    return Path(path)


def normalize_depth(depth: np.ndarray) -> np.ndarray:
    """Min-max normalise a depth map to [0, 1] (a constant map becomes zeros)."""
    lo, hi = float(depth.min()), float(depth.max())
    if hi <= lo:
        return np.zeros(depth.shape, dtype=np.float32)
    return ((depth - lo) / (hi - lo)).astype(np.float32)


def disparity_to_depth(disparity: np.ndarray, far_ratio: float = FAR_RATIO) -> np.ndarray:
    """Relative inverse depth (larger = nearer, unknown scale, shift taken as 0) -> VIDIT ``normalized_depth``
    (larger = farther, float32 in [0, 1]); see the module docstring for the rule."""
    d = np.asarray(disparity, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise RelightError("the depth estimator returned NaN or infinite values; try --precision fp32")
    near = float(d.max())
    if near <= 0.0:  # nothing in front of the far plane: a flat, featureless estimate
        return np.zeros(d.shape, dtype=np.float32)
    return normalize_depth(1.0 / np.maximum(d, near / far_ratio))


def metric_to_depth(depth: np.ndarray, far_ratio: float = FAR_RATIO) -> np.ndarray:
    """Metric depth (larger = farther, > 0) -> VIDIT ``normalized_depth``, with the same far plane as
    `disparity_to_depth`."""
    z = np.asarray(depth, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return disparity_to_depth(np.where(z > 0, 1.0 / np.maximum(z, 1e-12), 0.0), far_ratio)


def read_image_with_depth(
    image_path: str | os.PathLike[str], depth_path: str | os.PathLike[str], *, raw_depth: bool = False
) -> tuple[RGBImage, np.ndarray]:
    """Read an image and its depth map, which must have the same height and width."""
    image = read_image(image_path)
    return image, read_depth_of(image, image_path, depth_path, raw=raw_depth)


def read_depth_of(
    image: RGBImage, image_path: str | os.PathLike[str], depth_path: str | os.PathLike[str], *, raw: bool = False
) -> np.ndarray:
    """Read ``image``'s depth map (`read_depth`); `RelightError` unless it has the upright image's size."""
    depth = read_depth(depth_path, raw=raw)
    if depth.shape != image.size:
        raise RelightError(
            f"{depth_path}: depth is {depth.shape[1]}x{depth.shape[0]} but its image {Path(image_path).name} is "
            f"{image.size[1]}x{image.size[0]} (as shown upright); they must match"
        )
    return depth
