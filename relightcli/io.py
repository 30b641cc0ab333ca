"""Image and depth I/O: every file the tool reads or writes goes through here.

Images: PNG/JPEG (and whatever else OpenCV decodes), grayscale, RGB or RGBA, 8- or 16-bit, returned as
float32 RGB in [0, 1]; the alpha channel is dropped (VIDIT's alpha is opaque; colour values under transparent
pixels are used as they are). Depth: 8/16-bit PNG, plain ``.npy`` arrays, and VIDIT's pickled-dict ``.npy``
(``normalized_depth``) through a restricted unpickler that only rebuilds numpy arrays and builtin containers.
Paths are read and written as bytes (``np.fromfile`` + ``cv2.imdecode``), so non-ASCII paths work.
"""

from __future__ import annotations

import io as _stdio
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .errors import RelightError

MAX_PIXELS = int(os.environ.get("RELIGHT_MAX_PIXELS", 16384 * 16384))
"""Images whose header claims more pixels than this are refused before decoding (env ``RELIGHT_MAX_PIXELS``)."""

IMAGE_WRITE_EXTS = (".png", ".jpg", ".jpeg")


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


def _header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG or JPEG header without decoding the pixels; None if not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
    return None


def _exif_tiff(data: bytes) -> bytes | None:
    """The EXIF (TIFF) block of a JPEG's APP1 segment or a PNG's ``eXIf`` chunk, if any."""
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            if marker == 0xDA:  # start of scan: no more metadata segments
                return None
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            segment = data[i + 4 : i + 2 + length]
            if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
                return segment[6:]
            i += 2 + length
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i + 8 <= len(data):
            (length,) = struct.unpack(">I", data[i : i + 4])
            kind = data[i + 4 : i + 8]
            if kind == b"eXIf":
                return data[i + 8 : i + 8 + length]
            if kind == b"IEND":
                return None
            i += 12 + length
    return None


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (0x0112, 1-8) of JPEG or PNG bytes; 1 (upright) when absent or unreadable."""
    tiff = _exif_tiff(data)
    if not tiff or len(tiff) < 8:
        return 1
    endian = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if endian is None:
        return 1
    (ifd,) = struct.unpack(endian + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(endian + "H", tiff[ifd : ifd + 2])
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            break
        tag, kind = struct.unpack(endian + "HH", tiff[entry : entry + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            (value,) = struct.unpack(endian + "H", tiff[entry + 8 : entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels ``(H, W[, C])`` upright as viewers show them, for an EXIF orientation 1-8 (the transforms
    of Pillow's ``ImageOps.exif_transpose``)."""
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


def _decode(data: bytes, path: str | os.PathLike[str], what: str, max_pixels: int) -> np.ndarray:
    size = _header_size(data)
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
    return np.ascontiguousarray(apply_orientation(arr, exif_orientation(data)))


def _to_unit_float(arr: np.ndarray, path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    raise RelightError(f"{path}: unsupported sample type {arr.dtype}; use 8- or 16-bit PNG or JPEG")


def read_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> RGBImage:
    """Read an image as float32 RGB in [0, 1]; gray is replicated to RGB and alpha is dropped. A JPEG or PNG with
    an EXIF orientation tag is turned upright, as viewers show it; colour profiles are ignored (sRGB assumed)."""
    arr = _decode(_read_bytes(path, "image"), path, "image", max_pixels)
    rgb, bits = _to_unit_float(arr, path)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    elif rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    elif rgb.shape[2] == 2:  # gray + alpha
        rgb = np.repeat(rgb[:, :, :1], 3, axis=2)
    elif rgb.shape[2] in (3, 4):
        rgb = rgb[:, :, 2::-1]  # BGR(A) -> RGB
    else:
        raise RelightError(f"{path}: image has {rgb.shape[2]} channels; expected gray, RGB or RGBA")
    return RGBImage(np.ascontiguousarray(rgb, dtype=np.float32), bits)


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, *, bit_depth: int = 8) -> Path:
    """Write float RGB in [0, 1] ``(H, W, 3)`` atomically as 8-bit (or 16-bit PNG) PNG/JPEG; returns the path."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_WRITE_EXTS:
        raise RelightError(f"{p}: cannot write '{ext or 'no extension'}' images; use .png or .jpg")
    if bit_depth == 16 and ext != ".png":
        bit_depth = 8
    scale, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    out = (np.clip(np.nan_to_num(rgb, nan=0.0), 0.0, 1.0) * scale + 0.5).astype(dtype)
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(out[:, :, ::-1]))
    if not ok:
        raise RelightError(f"{p}: OpenCV could not encode the image")
    atomic_write_bytes(p, buf.tobytes())
    return p


# --- depth ------------------------------------------------------------------------------------------------


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
