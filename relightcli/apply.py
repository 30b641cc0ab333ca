"""What ``relight apply`` does, as a Python function: read the four inputs, relight, write atomically."""

from __future__ import annotations

import os
from pathlib import Path

from .engine import Relighter
from .errors import RelightError
from .io import read_image_with_depth, write_image

PathLike = str | os.PathLike[str]


def default_output(src: PathLike) -> Path:
    """``<source stem>_relit.png`` in the current folder."""
    return Path(f"{Path(src).stem}_relit.png")


def relight_files(
    relighter: Relighter,
    src: PathLike,
    src_depth: PathLike,
    guide: PathLike,
    guide_depth: PathLike,
    output: PathLike | None = None,
    *,
    raw_depth: bool = False,
) -> Path:
    """Relight ``src`` under ``guide``'s lighting and write the result; returns the output path.

    The output has the source's size; it is 16-bit PNG when the source was 16-bit, else 8-bit. It is written to
    a temporary file and renamed, so a failure leaves nothing behind.
    """
    out = Path(output) if output is not None else default_output(src)
    inputs = [Path(p) for p in (src, src_depth, guide, guide_depth)]
    if out.exists() and any(out.resolve() == p.resolve() for p in inputs if p.exists()):
        raise RelightError(f"{out}: output path is one of the inputs; choose another -o")
    source, source_depth = read_image_with_depth(src, src_depth, raw_depth=raw_depth)
    guide_img, guide_d = read_image_with_depth(guide, guide_depth, raw_depth=raw_depth)
    result = relighter.relight(source.rgb, source_depth, guide_img.rgb, guide_d)
    return write_image(out, result, bit_depth=source.bit_depth)
