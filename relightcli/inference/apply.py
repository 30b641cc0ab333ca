"""What ``relight apply`` does, as a Python function: read the inputs, estimate missing depth, relight, write.

The accepted forms of ``relight apply`` (`parse_apply_paths`), each taking ``--depth-model`` where depth is
estimated (`relightcli.depth`):

- ``SRC SRC_DEPTH GUIDE GUIDE_DEPTH``: the design card's form, every depth given;
- ``SRC GUIDE``: both depths estimated;
- ``SRC --light PRESET``: the source's depth estimated, the preset's guide and depth shipped;
- ``SRC SRC_DEPTH --light PRESET``: nothing estimated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.vidit import Setting
from ..errors import RelightError
from ..io import JPEG_QUALITY, RGBImage, read_depth_of, read_image, write_depth, write_image

if TYPE_CHECKING:
    import numpy as np

    from ..depth import DepthEstimator
    from .engine import Relighter

PathLike = str | os.PathLike[str]

APPLY_FORMS = (
    "SRC SRC_DEPTH GUIDE GUIDE_DEPTH | SRC GUIDE (depths estimated) | SRC --light PRESET (depth estimated) | "
    "SRC SRC_DEPTH --light PRESET"
)


@dataclass(frozen=True)
class ApplyInputs:
    """The files of one ``relight apply``: a depth of ``None`` is estimated from its photo. ``setting``: the
    ``--light`` setting the guide is the preset of (a model told the lights is told it exactly)."""

    src: Path
    src_depth: Path | None
    guide: Path
    guide_depth: Path | None
    setting: Setting | None = None

    @property
    def estimates(self) -> bool:
        return self.src_depth is None or self.guide_depth is None


def _looks_like_depth(path: Path) -> bool:
    """A ``.npy`` file or a single-channel 16-bit PNG: a depth map, not a photo (read from the header only)."""
    if path.suffix.lower() == ".npy":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return False
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and head[24] == 16 and head[25] == 0


def _check(path: Path | None, what: str) -> None:
    if path is None:
        return
    if not path.exists():
        raise RelightError(f"{path}: {what} file not found")
    if path.is_dir():
        raise RelightError(f"{path}: is a folder, expected a {what} file (folders: --src-dir DIR or --pairs DIR)")


def parse_apply_paths(paths: list[Path], light: str | None) -> ApplyInputs:
    """Map ``relight apply``'s positional paths (and ``--light``) to one of the accepted forms (`APPLY_FORMS`);
    `RelightError` naming them for anything else. Files must exist: checked here, before anything heavy loads."""
    n = len(paths)
    if light is not None:
        from ..assets import preset

        if n not in (1, 2):
            raise RelightError(
                f"--light replaces GUIDE GUIDE_DEPTH (give either, not both): SRC [SRC_DEPTH]; forms: {APPLY_FORMS}"
            )
        guide, guide_depth = preset(light)
        inputs = ApplyInputs(paths[0], paths[1] if n == 2 else None, guide, guide_depth, Setting.parse(light))
    elif n == 4:
        inputs = ApplyInputs(*paths)
    elif n == 2:
        _check(paths[1], "image")
        if _looks_like_depth(paths[1]):
            raise RelightError(
                f"{paths[1]} looks like a depth map, not a guide photo: add --light PRESET or GUIDE GUIDE_DEPTH; "
                f"forms: {APPLY_FORMS}"
            )
        inputs = ApplyInputs(paths[0], None, paths[1], None)
    else:
        what = "no paths" if n == 0 else f"{n} path{'s' if n > 1 else ''}"
        raise RelightError(f"{what} given; expected one of: {APPLY_FORMS}")
    for path, what in ((inputs.src, "image"), (inputs.src_depth, "depth"), (inputs.guide, "image")):
        _check(path, what)
    _check(inputs.guide_depth, "depth")
    return inputs


def default_output(src: PathLike) -> Path:
    """``<source stem>_relit.png`` in the current folder."""
    return Path(f"{Path(src).stem}_relit.png")


def depth_for(
    image: RGBImage,
    image_path: PathLike,
    depth_path: PathLike | None,
    *,
    estimator: DepthEstimator | None = None,
    raw_depth: bool = False,
    save_depth: PathLike | None = None,
) -> np.ndarray:
    """``image``'s depth in [0, 1]: read from ``depth_path`` (it must have the image's size) or, when that is
    ``None``, estimated by ``estimator`` and, with ``save_depth``, kept as ``SAVE_DEPTH/<stem>_depth.png``."""
    if depth_path is not None:
        return read_depth_of(image, image_path, depth_path, raw=raw_depth)
    if estimator is None:
        raise RelightError(f"{image_path}: no depth map given and no depth estimator to make one")
    depth = estimator.for_file(image_path, image.rgb)
    if save_depth is not None:
        write_depth(Path(save_depth) / f"{Path(image_path).stem}_depth.png", depth)
    return depth


def relight_files(
    relighter: Relighter,
    src: PathLike,
    src_depth: PathLike | None,
    guide: PathLike,
    guide_depth: PathLike | None,
    output: PathLike | None = None,
    *,
    raw_depth: bool = False,
    estimator: DepthEstimator | None = None,
    save_depth: PathLike | None = None,
    jpeg_quality: int = JPEG_QUALITY,
    source_setting: Setting | None = None,
    target_setting: Setting | None = None,
) -> Path:
    """Relight ``src`` under ``guide``'s lighting and write the result; returns the output path.

    ``source_setting``/``target_setting``: the lights, where known exactly, for a model told the lights
    (`Relighter.relight`); other models ignore them.

    A depth given as ``None`` is estimated from its photo by ``estimator`` (`relightcli.depth.DepthEstimator`).
    The output has the source's size, upright (EXIF orientation applied, no orientation tag written); it is
    16-bit PNG when the source was 16-bit, else 8-bit (a ``.jpg`` at ``jpeg_quality``). It is written to a
    temporary file and renamed, so a failure leaves nothing behind.
    """
    out = Path(output) if output is not None else default_output(src)
    inputs = [Path(p) for p in (src, src_depth, guide, guide_depth) if p is not None]
    if out.exists() and any(out.resolve() == p.resolve() for p in inputs if p.exists()):
        raise RelightError(f"{out}: output path is one of the inputs; choose another -o")
    source, guide_img = read_image(src), read_image(guide)
    options = dict(estimator=estimator, raw_depth=raw_depth, save_depth=save_depth)
    source_depth = depth_for(source, src, src_depth, **options)
    guide_d = depth_for(guide_img, guide, guide_depth, **options)
    result = relighter.relight(
        source.rgb, source_depth, guide_img.rgb, guide_d, source_setting=source_setting, target_setting=target_setting
    )
    return write_image(out, result, bit_depth=source.bit_depth, jpeg_quality=jpeg_quality)
