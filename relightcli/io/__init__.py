"""Every file the tool reads or writes goes through here: images (`images`) and depth maps (`depthmaps`)."""

from .depthmaps import (
    FAR_RATIO,
    disparity_to_depth,
    encode_depth_npy,
    metric_to_depth,
    normalize_depth,
    read_depth,
    read_depth_of,
    read_image_with_depth,
    safe_unpickle,
    write_depth,
    write_depth_preview,
)
from .images import IMAGE_WRITE_EXTS, JPEG_QUALITY, MAX_PIXELS, RGBImage, apply_orientation, read_image, write_image

__all__ = [
    "FAR_RATIO",
    "IMAGE_WRITE_EXTS",
    "JPEG_QUALITY",
    "MAX_PIXELS",
    "RGBImage",
    "apply_orientation",
    "disparity_to_depth",
    "encode_depth_npy",
    "metric_to_depth",
    "normalize_depth",
    "read_depth",
    "read_depth_of",
    "read_image",
    "read_image_with_depth",
    "safe_unpickle",
    "write_depth",
    "write_depth_preview",
    "write_image",
]
