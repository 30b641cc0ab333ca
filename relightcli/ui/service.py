"""What the page does, without the page: read uploads, find depth, pick the light, relight, write the PNG.

One `RelightService` holds the loaded `Relighter` (and, once a photo without depth arrives, the depth
estimator) for the life of the server, so no request pays for loading. Requests run one at a time (a lock,
besides Gradio's queue): a CPU has no second pass to give, and the relighter's per-request options (flip
ensemble, working size) are set on the one shared instance. Every failure a user can cause is a
`RelightError` with a one-line message, which the page shows as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..assets import preset
from ..checkpoint import valid_max_side
from ..data.vidit import Setting
from ..errors import RelightError
from ..io import RGBImage, read_depth, read_image, write_image
from ..io.depthmaps import read_depth_of
from ..io.images import MAX_PIXELS

if TYPE_CHECKING:
    from ..depth import DepthEstimator
    from ..inference.engine import Relighter
    from ..light.estimator import LightEstimator

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None]

PAGE_MAX_PIXELS = min(MAX_PIXELS, 50_000_000)
"""Largest upload the page relights (header checked before decoding): a 50 MP photo takes ~10 GB to carry to
full resolution, more than a shared server should give one request. ``relight ui --max-megapixels`` moves it."""
PREVIEW_SIDE = 2048
"""Longer side of the images sent to the browser; the download is always the full-resolution PNG."""


@dataclass(frozen=True)
class Relit:
    """One answered request: the full-resolution PNG, browser-sized previews, and what was done."""

    path: Path
    source_preview: np.ndarray
    relit_preview: np.ndarray
    seconds: float
    light: str
    size: tuple[int, int]
    lights_read: str = ""

    @property
    def summary(self) -> str:
        h, w = self.size
        read = f"\n\nlight read: {self.lights_read}" if self.lights_read else ""
        return f"{w}x{h} relit in {self.seconds:.1f} s; light: {self.light}{read}"


def preview(rgb: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """``rgb`` with its longer side at most ``side`` (area-averaged), uint8 for display."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    img8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    if scale < 1.0:
        img8 = cv2.resize(img8, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return img8


def _stem(path: PathLike) -> str:
    """A safe file stem from an upload's name (Gradio keeps the user's file name)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("._") or "photo"
    return stem[:80]


class RelightService:
    """The page's back end: ``relight`` (one photo under a guide or a preset) and ``all_lights`` (the 40-setting
    contact sheet), both on file paths as uploads arrive; outputs go under ``workdir`` (a temporary folder,
    removed by `close`)."""

    def __init__(
        self,
        relighter: Relighter,
        *,
        depth_model: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        max_pixels: int = PAGE_MAX_PIXELS,
        workdir: PathLike | None = None,
    ) -> None:
        self.relighter = relighter
        self.depth_model = depth_model
        self.device, self.precision = device, precision
        self.max_pixels = max_pixels
        self.default_flip = bool(relighter.flip_ensemble)
        self.default_max_side = relighter.max_side
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="relight-ui-")) if workdir is None else Path(workdir)
        self._estimator: DepthEstimator | None = None
        self._light_reader: LightEstimator | bool | None = None  # None: not loaded yet; False: none shipped
        self._lock = threading.Lock()

    # -- inputs ---------------------------------------------------------------------------------------------------
    def read_photo(self, path: PathLike | None, what: str = "photo") -> RGBImage:
        """The decoded upload; `RelightError` for none, a non-image, a corrupt file or one over the pixel limit."""
        if path is None:
            raise RelightError(f"no {what}: upload one (or pick a bundled sample)")
        try:
            return read_image(path, max_pixels=self.max_pixels)
        except RelightError as exc:
            raise RelightError(f"{what} {Path(path).name}: {_without_path(str(exc), path)}") from None

    def depth(self, image: RGBImage, path: PathLike, depth_path: PathLike | None, what: str = "photo") -> np.ndarray:
        """The depth of ``image``: read from ``depth_path`` (it must match the image's size) or estimated."""
        if depth_path is not None:
            try:
                return read_depth_of(image, path, depth_path)
            except RelightError as exc:
                raise RelightError(
                    f"{what}'s depth {Path(depth_path).name}: {_without_path(str(exc), depth_path)}"
                ) from None
        return self.estimator().for_file(path, image.rgb)

    def estimator(self) -> DepthEstimator:
        """The depth estimator, loaded on first use (`RelightError`, as ``relight depth`` words it, when the model
        is neither cached nor downloadable)."""
        if self._estimator is None:
            from ..depth import DEFAULT_DEPTH_MODEL, DepthEstimator

            self._estimator = DepthEstimator(
                self.depth_model or DEFAULT_DEPTH_MODEL, device=self.device, precision=self.precision
            )
        return self._estimator

    def read_lights(self, source: np.ndarray, guide: np.ndarray | None) -> str:
        """What the light estimator reads in the source (and in a guide photo), in words; ``""`` when this
        installation has no light estimator."""
        if self._light_reader is None:
            try:
                from ..light.estimator import LightEstimator

                self._light_reader = LightEstimator(device=self.device)
            except RelightError:
                self._light_reader = False
        if not self._light_reader:
            return ""
        read = self._light_reader.many([source] if guide is None else [source, guide])
        text = f"source {read[0].describe()}"
        return text + (f"; guide {read[1].describe()}" if guide is not None else "")

    def light(
        self, guide: PathLike | None, guide_depth: PathLike | None, light: str | None
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """``(guide RGB, guide depth, the light in words)`` from a guide photo or a preset such as ``3500K/NW``."""
        if guide is not None and light:
            raise RelightError("give a guide photo or a light setting, not both")
        if guide is None and not light:
            raise RelightError("no light: upload a guide photo or choose a light setting (such as 3500K/NW)")
        if light:
            setting = Setting.parse(light)
            guide_path, depth_path = preset(setting)
            return read_image(guide_path).rgb, read_depth(depth_path), setting.describe()
        image = self.read_photo(guide, "guide")
        return image.rgb, self.depth(image, guide, guide_depth, "guide"), f"as in the guide photo {Path(guide).name}"

    # -- requests -------------------------------------------------------------------------------------------------
    def relight(
        self,
        photo: PathLike | None,
        photo_depth: PathLike | None = None,
        guide: PathLike | None = None,
        guide_depth: PathLike | None = None,
        light: str | None = None,
        *,
        flip_ensemble: bool | None = None,
        max_side: int | None = None,
        on_progress: Progress | None = None,
    ) -> Relit:
        """Relight ``photo`` under ``guide``'s lighting or the preset ``light``; a depth of ``None`` is
        estimated. ``flip_ensemble``/``max_side`` of ``None`` keep the server's defaults (``max_side`` 0: every
        pixel). The full-resolution PNG (16-bit for a 16-bit source) is written atomically."""
        if max_side is not None and not valid_max_side(max_side):
            raise RelightError(f"max side {max_side}: must be 0 (every pixel) or at least 16")
        source = self.read_photo(photo)
        assert photo is not None
        with self._lock:
            start = time.perf_counter()
            source_depth = self.depth(source, photo, photo_depth)
            guide_rgb, guide_d, words = self.light(guide, guide_depth, light)
            r = self.relighter
            r.flip_ensemble = self.default_flip if flip_ensemble is None else flip_ensemble
            r.max_side = self.default_max_side if max_side is None else max_side
            r.on_progress = on_progress
            try:
                told = Setting.parse(light) if light else None  # a model told the lights gets the setting exactly
                out = r.relight(source.rgb, source_depth, guide_rgb, guide_d, target_setting=told)
            finally:
                r.on_progress = None
            seconds = time.perf_counter() - start
            read = self.read_lights(source.rgb, None if light else guide_rgb)
        folder = Path(tempfile.mkdtemp(dir=self.workdir))
        path = write_image(folder / f"{_stem(photo)}_relit.png", out, bit_depth=source.bit_depth)
        return Relit(path, preview(source.rgb), preview(out), seconds, words, source.size, read)

    def all_lights(
        self,
        photo: PathLike | None,
        photo_depth: PathLike | None = None,
        *,
        cell: int = 256,
        flip_ensemble: bool | None = None,
        on_progress: Progress | None = None,
    ) -> tuple[Path, float]:
        """The photo under VIDIT's 40 settings as one labelled PNG contact sheet (`inference.sheet.all_lights`);
        returns its path and the seconds it took."""
        from ..inference.sheet import all_lights

        source = self.read_photo(photo)
        assert photo is not None
        with self._lock:
            start = time.perf_counter()
            depth = self.depth(source, photo, photo_depth)
            self.relighter.flip_ensemble = self.default_flip if flip_ensemble is None else flip_ensemble
            self.relighter.max_side = 0
            try:
                sheet = all_lights(self.relighter, source.rgb, depth, cell=cell, on_progress=on_progress)
            finally:
                self.relighter.max_side = self.default_max_side
            seconds = time.perf_counter() - start
        folder = Path(tempfile.mkdtemp(dir=self.workdir))
        return write_image(folder / f"{_stem(photo)}_all_lights.png", sheet), seconds

    def close(self) -> None:
        """Remove the outputs written so far (when the folder is the service's own)."""
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _without_path(message: str, path: PathLike) -> str:
    """A reader's message without the temporary upload path it starts with (the page names the file itself)."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
