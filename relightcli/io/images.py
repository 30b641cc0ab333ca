"""Image reading and writing: every photo the tool reads or writes goes through here.

PNG/JPEG (and whatever else OpenCV decodes), grayscale, RGB or RGBA, 8- or 16-bit, returned as float32 RGB in
[0, 1]; the alpha channel is dropped (VIDIT's alpha is opaque; colour values under transparent pixels are used as
they are). OpenCV decodes the pixels (16-bit colour included); Pillow reads the header: the size, checked against
a pixel limit before decoding, and the EXIF orientation, applied so that photos come upright as viewers show them.
Paths are read and written as bytes (``np.fromfile`` + ``cv2.imdecode``), so non-ASCII paths work.
"""

from __future__ import annotations

import io as _stdio
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..atomic import atomic_write_bytes
from ..errors import RelightError

_EXIF_ORIENTATION = 0x0112
MAX_PIXELS = int(os.environ.get("RELIGHT_MAX_PIXELS", 16384 * 16384))
"""Images whose header claims more pixels than this are refused before decoding (env ``RELIGHT_MAX_PIXELS``)."""

IMAGE_WRITE_EXTS = (".png", ".jpg", ".jpeg")
JPEG_QUALITY = 95
"""Default quality of JPEG output (OpenCV's own default is 95 too; said here so the CLI and API agree)."""


@dataclass(frozen=True)
class RGBImage:
    """A decoded image: ``rgb`` is float32 ``(H, W, 3)`` in [0, 1]; ``bit_depth`` is 8 or 16 as stored."""

    rgb: np.ndarray
    bit_depth: int

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.rgb.shape[0], self.rgb.shape[1]


def _read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise RelightError(f"{p}: {what} file not found")
    if p.is_dir():
        raise RelightError(f"{p}: is a folder, expected a {what} file")
    try:
        data = np.fromfile(str(p), dtype=np.uint8).tobytes()
    except OSError as exc:
        raise RelightError(f"{p}: cannot read {what} file ({exc.strerror or exc})") from exc
    if not data:
        raise RelightError(f"{p}: {what} file is empty (0 bytes)")
    return data


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels ``(H, W[, C])`` upright as viewers show them, for an EXIF orientation 1-8: the transposes
    of Pillow's ``ImageOps.exif_transpose``, applied to OpenCV's array, which keeps 16-bit colour (Pillow reads
    16-bit RGB PNGs as 8-bit)."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return arr.swapaxes(0, 1)[:, ::-1]  # 90 degrees clockwise
    if orientation == 7:
        return arr[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return arr.swapaxes(0, 1)[::-1]  # 90 degrees counter-clockwise
    return arr


def _header(data: bytes) -> tuple[tuple[int, int] | None, int]:
    """``((width, height), EXIF orientation 1-8)`` read by Pillow from the header alone, without decoding the
    pixels; ``(None, 1)`` for what Pillow cannot open (OpenCV still gets to try)."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the pixel limit is ours (MAX_PIXELS) to apply
    try:
        with Image.open(_stdio.BytesIO(data)) as im:
            size = im.size
            try:
                # a PNG's EXIF chunk may follow its pixels, and Pillow then decodes them all to find it: look first
                no_exif = im.format == "PNG" and "exif" not in im.info and b"eXIf" not in data
                orientation = 1 if no_exif else int(im.getexif().get(_EXIF_ORIENTATION, 1))
            except Exception:  # a malformed EXIF block: the photo is still readable, taken as upright
                orientation = 1
    except (OSError, ValueError, SyntaxError):
        return None, 1
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return size, orientation if 1 <= orientation <= 8 else 1


def _decode(data: bytes, path: str | os.PathLike[str], what: str, max_pixels: int) -> np.ndarray:
    size, orientation = _header(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise RelightError(
            f"{path}: {what} claims {size[0]}x{size[1]} pixels, over the limit of {max_pixels} "
            "(raise RELIGHT_MAX_PIXELS if it is genuine)"
        )
    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    if arr is None or arr.size == 0:
        raise RelightError(f"{path}: not a readable {what} (corrupt, truncated, or not an image format)")
    return np.ascontiguousarray(apply_orientation(arr, orientation))


def _to_unit_float(arr: np.ndarray, path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return np.divide(arr, np.float32(255.0), dtype=np.float32), 8
    if arr.dtype == np.uint16:
        return np.divide(arr, np.float32(65535.0), dtype=np.float32), 16
    raise RelightError(f"{path}: unsupported sample type {arr.dtype}; use 8- or 16-bit PNG or JPEG")


_TO_RGB = {1: cv2.COLOR_GRAY2RGB, 2: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}
"""OpenCV's conversion to RGB by channel count (gray + alpha keeps its gray plane first)."""


def read_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> RGBImage:
    """Read an image as float32 RGB in [0, 1]; gray is replicated to RGB and alpha is dropped. A JPEG or PNG with
    an EXIF orientation tag is turned upright, as viewers show it; colour profiles are ignored (sRGB assumed)."""
    arr = _decode(_read_bytes(path, "image"), path, "image", max_pixels)
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if channels not in _TO_RGB:
        raise RelightError(f"{path}: image has {channels} channels; expected gray, RGB or RGBA")
    if arr.dtype not in (np.uint8, np.uint16):
        _to_unit_float(arr, path)  # the one-line error for another sample type
    if channels == 2:  # gray + alpha
        arr = arr[:, :, 0]
    arr = cv2.cvtColor(np.ascontiguousarray(arr), _TO_RGB[channels])  # on the integers, then one float conversion
    rgb, bits = _to_unit_float(arr, path)
    return RGBImage(np.ascontiguousarray(rgb, dtype=np.float32), bits)


def write_image(
    path: str | os.PathLike[str], rgb: np.ndarray, *, bit_depth: int = 8, jpeg_quality: int = JPEG_QUALITY
) -> Path:
    """Write float RGB in [0, 1] ``(H, W, 3)`` atomically as 8-bit (or 16-bit PNG) PNG/JPEG; returns the path.

    JPEGs are written at ``jpeg_quality`` (1-100), upright (the orientation was applied on reading) and without
    EXIF, so no viewer rotates them twice."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_WRITE_EXTS:
        raise RelightError(f"{p}: cannot write '{ext or 'no extension'}' images; use .png or .jpg")
    if bit_depth == 16 and ext != ".png":
        bit_depth = 8
    scale, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    out = (np.clip(np.nan_to_num(rgb, nan=0.0), 0.0, 1.0) * scale + 0.5).astype(dtype)
    if not 1 <= jpeg_quality <= 100:
        raise RelightError(f"JPEG quality {jpeg_quality}: expected 1-100")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(out[:, :, ::-1]), params)
    if not ok:
        raise RelightError(f"{p}: OpenCV could not encode the image")
    atomic_write_bytes(p, buf.tobytes())
    return p
