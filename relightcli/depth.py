"""Monocular depth for photos that come without a depth map, in the convention the relighting models are trained with.

The estimator is any ``transformers`` depth-estimation checkpoint (``AutoModelForDepthEstimation`` with its
``AutoImageProcessor``), by default Depth Anything V2 Small (Yang et al., NeurIPS 2024;
``depth-anything/Depth-Anything-V2-Small-hf``, Apache-2.0, 24.8 M parameters), from the Hugging Face hub cache or a
folder written by ``save_pretrained``. It runs once per photo at its own working resolution (518 px on the short
side for Depth Anything) under the engine's device and precision rules (fp16 autocast on CUDA, bf16 autocast on
CPUs with native bf16, else fp32), and its output is resized to the photo.

**The convention** of the output is VIDIT's ``normalized_depth`` (larger = farther, in [0, 1]). Relative
estimators' inverse depth goes through `relightcli.io.disparity_to_depth`, metric estimators' (ZoeDepth) depth
through `relightcli.io.metric_to_depth`: both set everything beyond 20 times the nearest point to the far plane
and min-max normalise, as `relightcli.io.depthmaps` explains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RelightError, first_line
from .hub import cached_file, hub_reachable
from .io import disparity_to_depth, metric_to_depth

DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"


def _is_metric(config: Any) -> bool:
    return getattr(config, "depth_estimation_type", "relative") == "metric" or config.model_type == "zoedepth"


def load_depth_model(spec: str = DEFAULT_DEPTH_MODEL) -> tuple[Any, Any]:
    """``(model, image_processor)`` for a hub id or a ``save_pretrained`` folder; `RelightError` in one line when
    it is offline and not cached, not a depth-estimation model, or unreadable."""
    local = Path(spec).expanduser()
    looks_local = local.exists() or spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1)
    if looks_local:
        if not local.exists():
            raise RelightError(f"--depth-model {spec}: folder not found")
        if not local.is_dir() or not (local / "config.json").is_file():
            raise RelightError(
                f"--depth-model {spec}: not a transformers model folder (no config.json; save_pretrained writes one)"
            )
        spec = str(local)
    offline = RelightError(
        f"depth model {spec} is not in the Hugging Face cache and the hub cannot be reached (HF_HUB_OFFLINE or no "
        f"network); it needs one download (~100 MB): `hf download {spec}` on a connected machine, "
        "or --depth-model FOLDER"
    )
    hub: dict[str, Any] = {}  # from the cache when it is there; online only when the hub answers at once
    if not looks_local:
        if cached_file(spec, "config.json") is not None:
            hub = {"local_files_only": True}
        elif not hub_reachable():
            raise offline
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForDepthEstimation
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "Some weights were not initialized" and friends are not the user's news
    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(spec, **hub)
    except OSError as exc:
        if looks_local:
            raise RelightError(f"--depth-model {spec}: unreadable model folder ({first_line(exc)})") from None
        raise offline from None
    except ValueError as exc:  # unknown model_type, corrupt config.json
        raise RelightError(f"--depth-model {spec}: unreadable model config ({first_line(exc)})") from None
    try:
        model = AutoModelForDepthEstimation.from_pretrained(spec, config=config, **hub)
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc):
            raise RelightError(
                f"--depth-model {spec}: a {config.model_type} model, not a depth-estimation model "
                "(expected e.g. Depth Anything, DPT, ZoeDepth)"
            ) from None
        raise RelightError(f"--depth-model {spec}: unreadable model ({first_line(exc)})") from None
    except (OSError, RuntimeError, KeyError, SafetensorError) as exc:  # missing or corrupt weights
        raise RelightError(f"--depth-model {spec}: unreadable model weights ({first_line(exc)})") from None
    try:
        processor = AutoImageProcessor.from_pretrained(spec, **hub)
    except (OSError, ValueError, KeyError) as exc:
        raise RelightError(
            f"--depth-model {spec}: no usable image processor (preprocessor_config.json: {first_line(exc)})"
        ) from None
    return model.eval(), processor


@dataclass
class DepthEstimator:
    """A monocular depth estimator that returns VIDIT-convention depth maps at each photo's size.

    Example:
        >>> estimate = DepthEstimator()  # Depth Anything V2 Small from the hub cache
        >>> depth = estimate(rgb)  # (H, W) float32 in [0, 1], larger = farther
    """

    model_id: str = DEFAULT_DEPTH_MODEL
    device: str | Any = "auto"
    precision: str = "auto"
    model: Any = field(init=False, repr=False)
    processor: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import torch

        from .inference.engine import resolve_device, resolve_precision
        from .models import ModelInfo

        self.model, self.processor = load_depth_model(self.model_id)
        self.device = resolve_device(str(self.device)) if not isinstance(self.device, torch.device) else self.device
        info = ModelInfo(name=self.model_id, size_multiple=14)
        self.precision = resolve_precision(self.precision, self.device, info)
        self.model.to(self.device)
        self.metric = _is_metric(self.model.config)
        self._memo: dict[tuple, np.ndarray] = {}

    def raw(self, rgb: np.ndarray) -> np.ndarray:
        """The estimator's own output (disparity, or metric depth) for float ``(H, W, 3)`` RGB in [0, 1], at the
        estimator's working resolution."""
        import torch

        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise RelightError(f"depth estimation needs an (H, W, 3) RGB image, got shape {rgb.shape}")
        if min(rgb.shape[:2]) < 2:
            raise RelightError(f"image is {rgb.shape[1]}x{rgb.shape[0]}: too small to estimate depth (at least 2x2)")
        pixels = np.clip(np.rint(np.asarray(rgb, np.float32) * 255.0), 0, 255).astype(np.uint8)
        inputs = self.processor(images=pixels, return_tensors="pt")
        x = inputs["pixel_values"].to(self.device)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None),
        ):
            out = self.model(pixel_values=x).predicted_depth
        return out[0].float().cpu().numpy()

    def for_file(self, path: str | os.PathLike[str], rgb: np.ndarray) -> np.ndarray:
        """`__call__` for the photo read from ``path``, computed once per file (a guide shared by a folder of
        sources is estimated once): remembered by path, size and modification time, the latest 8 files."""
        p = Path(path).resolve()
        stat = p.stat()
        key = (str(p), stat.st_size, stat.st_mtime_ns, rgb.shape)
        if key not in self._memo:
            if len(self._memo) >= 8:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = self(rgb)
        return self._memo[key]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """VIDIT ``normalized_depth`` (float32 ``(H, W)`` in [0, 1], larger = farther) for ``rgb``'s size."""
        import cv2

        raw = self.raw(rgb)
        h, w = rgb.shape[:2]
        if raw.shape != (h, w):
            shrink = h * w < raw.size
            raw = cv2.resize(raw, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        return metric_to_depth(raw) if self.metric else disparity_to_depth(raw)


def estimate_depth(rgb: np.ndarray, model: str = DEFAULT_DEPTH_MODEL, device: str = "auto") -> np.ndarray:
    """One-off: VIDIT-convention depth for ``rgb`` (loads the estimator each call; keep a `DepthEstimator` for
    several photos)."""
    return DepthEstimator(model, device=device)(rgb)


def depth_outputs(photos: list[Path], output: Path | None, fmt: str = "png") -> list[tuple[Path, Path]]:
    """``(photo, depth file)`` for ``relight depth``: ``<stem>_depth.png`` (``fmt="png"``) or ``<stem>.npy``
    (``"vidit"``) in ``output`` (a folder; for a single photo also a ``.png``/``.npy`` file), by default the current
    folder. Checks that the photos exist and that no two outputs collide."""
    for p in photos:
        if not p.is_file():
            raise RelightError(f"{p}: {'is a folder, expected a photo' if p.is_dir() else 'file not found'}")
    suffix = ".npy" if fmt == "vidit" else ".png"
    if output is not None and output.suffix.lower() in (".png", ".npy") and not output.is_dir():
        if len(photos) != 1:
            raise RelightError(f"-o {output}: a file name takes one photo; give a folder for {len(photos)}")
        return [(photos[0], output)]
    folder = output if output is not None else Path(".")
    if folder.exists() and not folder.is_dir():
        raise RelightError(f"-o {folder}: not a folder")
    jobs = [(p, folder / (f"{p.stem}_depth.png" if fmt == "png" else f"{p.stem}{suffix}")) for p in photos]
    seen: dict[Path, Path] = {}
    for photo, out in jobs:
        if out in seen:
            raise RelightError(f"{photo} and {seen[out]} would both write {out}; give them different names")
        seen[out] = photo
        if out.resolve() == photo.resolve():
            raise RelightError(f"{out}: the depth map would overwrite its photo; choose another -o")
    return jobs
