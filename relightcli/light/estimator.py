"""Reading the light of a photo: `LightEstimator` (a loaded `light_net`) and `estimate_light`.

The estimate is VIDIT's vocabulary: one of 8 compass directions (the camera looks north, east is the image's
right, as `relight synth` renders) and one of 5 colour temperatures, each with its softmax probability as the
confidence. The azimuth is the circular mean of the direction probabilities (so two neighbouring directions
at 50% each give the bearing between them), and ``temperature_mean_k`` the probability-weighted mean in mired
(reciprocal kelvin, the scale on which equal steps look equally different).

A photo is classified together with its mirror image, mirrored back (E <-> W): the same flip self-ensemble
the relighter uses, which also makes the estimate exactly left-right consistent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.vidit import DIRECTIONS, MIRRORED_DIRECTION, TEMPERATURES, Setting
from ..errors import RelightError
from ..models.lightcode import product_of_experts
from ..models.lightnet import N_DIRECTIONS

_MIRROR_INDEX = [DIRECTIONS.index(MIRRORED_DIRECTION[d]) for d in DIRECTIONS]

DIRECTION_READERS = ("both", "first")
"""What reads the direction when an estimator has a second network: both (a product of experts) or the first."""


@dataclass(frozen=True)
class LightEstimate:
    """The light read from one photo."""

    direction: str
    temperature_k: int
    direction_confidence: float
    temperature_confidence: float
    azimuth_deg: float
    temperature_mean_k: float
    direction_probabilities: dict[str, float]
    temperature_probabilities: dict[int, float]

    @property
    def setting(self) -> Setting:
        return Setting(self.temperature_k, self.direction)

    def describe(self) -> str:
        """E.g. ``3500 K (warm white), light from the left (direction 87%, temperature 64%)``."""
        return (
            f"{self.setting.describe()} (direction {self.direction_confidence:.0%}, "
            f"temperature {self.temperature_confidence:.0%})"
        )

    def to_json(self, path: str | None = None) -> dict[str, object]:
        """The JSON object of ``relight light --json``: ``path`` first when given."""
        out: dict[str, object] = {"path": path} if path is not None else {}
        d = asdict(self)
        d["direction_probabilities"] = {k: round(v, 4) for k, v in self.direction_probabilities.items()}
        d["temperature_probabilities"] = {str(k): round(v, 4) for k, v in self.temperature_probabilities.items()}
        for key in ("direction_confidence", "temperature_confidence"):
            d[key] = round(d[key], 4)
        d["azimuth_deg"] = round(self.azimuth_deg, 1)
        d["temperature_mean_k"] = round(self.temperature_mean_k)
        out.update(d)
        return out


def estimates_from_logits(logits: torch.Tensor) -> list[LightEstimate]:
    """`LightEstimate` per row of ``(B, 13)`` logits."""
    p_dir = torch.softmax(logits[:, :N_DIRECTIONS].float(), dim=1).cpu().numpy()
    p_tmp = torch.softmax(logits[:, N_DIRECTIONS:].float(), dim=1).cpu().numpy()
    angles = np.deg2rad(45.0 * np.arange(N_DIRECTIONS))
    mireds = 1e6 / np.asarray(TEMPERATURES, dtype=np.float64)
    out = []
    for pd, pt in zip(p_dir, p_tmp, strict=True):
        azimuth = math.degrees(math.atan2(float(pd @ np.sin(angles)), float(pd @ np.cos(angles)))) % 360.0
        i, j = int(pd.argmax()), int(pt.argmax())
        out.append(
            LightEstimate(
                direction=DIRECTIONS[i],
                temperature_k=TEMPERATURES[j],
                direction_confidence=float(pd[i]),
                temperature_confidence=float(pt[j]),
                azimuth_deg=azimuth,
                temperature_mean_k=float(1e6 / (pt @ mireds)),
                direction_probabilities={d: float(p) for d, p in zip(DIRECTIONS, pd, strict=True)},
                temperature_probabilities={t: float(p) for t, p in zip(TEMPERATURES, pt, strict=True)},
            )
        )
    return out


def estimates_from_codes(codes: torch.Tensor) -> list[LightEstimate]:
    """`LightEstimate` per row of ``(B, 13)`` light codes (`relightcli.models.lightcode`: probabilities, as a
    light-aware relighter reads or is told them)."""
    return estimates_from_logits(codes.float().clamp_min(1e-12).log())


def mirror_logits(logits: torch.Tensor) -> torch.Tensor:
    """Logits of a mirrored image read as the unmirrored one's: the direction classes swapped E <-> W."""
    return torch.cat([logits[:, :N_DIRECTIONS][:, _MIRROR_INDEX], logits[:, N_DIRECTIONS:]], dim=1)


CROP_SIDE = 0.8
"""The side of the corner crops the temperature is also read from, as a fraction of the photo's (64% of its area,
within the 50-100% the estimator was trained on, `augment.random_crop`)."""
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (top, left) as 0 (that edge) or 1 (the opposite one)


def corner_crop(x: torch.Tensor, corner: tuple[int, int], side: float = CROP_SIDE) -> torch.Tensor:
    """The ``side``-of-each-side crop of ``(N, C, H, W)`` images at ``corner`` (`CORNERS`)."""
    h, w = x.shape[-2:]
    ch, cw = round(h * side), round(w * side)
    top, left = corner[0] * (h - ch), corner[1] * (w - cw)
    return x[..., top : top + ch, left : left + cw]


def _resize(x: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)


class LightEstimator:
    """A light estimator checkpoint (a `light_net`), loaded once, run on the CPU or CUDA; optionally a second one
    (``temperature_weights``) whose colour temperature is taken in place of the first's, and which reads the
    direction with the first (``directions="both"``: the mean of the two networks' log-probabilities, a product
    of experts) or leaves it to the first (``directions="first"``).

    The shipped estimator (``weights=None``) is two: `light-default` at 128x128 and `light-temperature` at
    256x256, which sees the colour of lit and shadowed surfaces at twice the resolution; the direction is read
    by both (weights/light.md). With ``temperature_crops`` the temperature is read from the photo and its four
    corner crops of `CROP_SIDE` of each side together (`product_of_experts` of the five readings; each crop shows
    the lit and shadowed colours at a larger scale), the direction from the whole photo alone: 0.2-1.9 points more
    temperatures read right on held-out renders, at three to four times the time (weights/light.md, "The
    temperature read with corner crops"); off by default.

    Example:
        >>> est = LightEstimator()  # the shipped weights
        >>> est(rgb)  # float (H, W, 3) in [0, 1] -> LightEstimate
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        flip: bool = True,
        temperature_weights: str | os.PathLike[str] | None = None,
        directions: str = "both",
        temperature_crops: bool = False,
    ):
        from ..inference.engine import resolve_device

        if directions not in DIRECTION_READERS:
            raise RelightError(f"directions={directions!r}: expected one of {', '.join(DIRECTION_READERS)}")

        if weights is None:
            from ..assets import default_light_weights, default_temperature_weights

            weights = default_light_weights()
            temperature_weights = temperature_weights or default_temperature_weights()
        self.weights = str(weights)
        self.temperature_weights = None if temperature_weights is None else str(temperature_weights)
        self.device = resolve_device(device)
        self.model = _load_estimator(weights, self.device)
        self.temperature_model = (
            None if temperature_weights is None else _load_estimator(temperature_weights, self.device)
        )
        self.flip = flip
        self.directions = directions if temperature_weights is not None else "first"
        self.temperature_crops = temperature_crops

    @property
    def description(self) -> str:
        """The weights, as reports name them: ``W``, ``W (temperature: T)`` (the direction read by both) or
        ``W (temperature: T; direction: W alone)``."""
        if self.temperature_weights is None:
            return self.weights
        alone = "; direction: the first alone" if self.directions == "first" else ""
        return f"{self.weights} (temperature: {self.temperature_weights}{alone})"

    @property
    def _temperature_net(self) -> torch.nn.Module:
        return self.model if self.temperature_model is None else self.temperature_model

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """The sides the networks read at (the direction's first)."""
        nets = (self.model,) if self.temperature_model is None else (self.model, self.temperature_model)
        return tuple(dict.fromkeys(net.input_size for net in nets))

    def _read(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        size = (net.input_size,) * 2
        if x.shape[-2:] != size:  # resize here once, so the mirrored pass does not resize again
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        if not self.flip:
            return net(x).float().cpu()
        both = net(torch.cat([x, x.flip(-1)])).float().cpu()
        n = x.shape[0]
        return (both[:n] + mirror_logits(both[n:])) / 2

    @torch.inference_mode()
    def logits(
        self, batch: torch.Tensor, temperature_batch: torch.Tensor | None = None, temperature_views: int = 1
    ) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, 13)`` logits (with the flip ensemble: the mean of both readings);
        with a temperature reader, its temperature logits in place of the estimator's, read from
        ``temperature_batch`` (the same photos at another size) when given, else from ``batch``, and the
        direction's the mean of both networks' log-probabilities unless ``directions`` is ``"first"``.
        ``temperature_views`` > 1: ``temperature_batch`` holds that many views of each photo, view by view (``(V *
        B, 3, h, w)``, the whole photos first), whose temperature readings are combined (`product_of_experts`);
        the temperature network's direction is its reading of the first view."""
        x = batch.to(self.device, torch.float32)
        n = x.shape[0]
        out = self._read(self.model, x)
        if self.temperature_model is None and temperature_batch is None:
            return out
        t = x if temperature_batch is None else temperature_batch.to(self.device, torch.float32)
        second = self._read(self._temperature_net, t)
        views = second.view(temperature_views, n, -1)
        direction = out[:, :N_DIRECTIONS]
        if self.temperature_model is not None and self.directions == "both":
            direction = product_of_experts([direction, views[0, :, :N_DIRECTIONS]])
        temperature = product_of_experts(list(views[:, :, N_DIRECTIONS:]))
        return torch.cat([direction, temperature], dim=1)

    def many(self, rgbs: Sequence[np.ndarray]) -> list[LightEstimate]:
        """The light of several photos (float ``(H, W, 3)`` RGB in [0, 1], any sizes), in one batch: each photo
        resized once to each network's side (and, with ``temperature_crops``, its corner crops to the temperature
        network's)."""
        temperature_net = self._temperature_net
        corners = CORNERS if self.temperature_crops else ()
        sizes = self.input_sizes
        batches: list[list[torch.Tensor]] = [[] for _ in sizes]
        views: list[list[torch.Tensor]] = [[] for _ in corners]
        for rgb in rgbs:
            if rgb.ndim != 3 or rgb.shape[2] != 3:
                raise RelightError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
            if not np.isfinite(rgb).all():
                raise RelightError("the image has NaN or infinite values")
            x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]
            for side, batch in zip(sizes, batches, strict=True):
                batch.append(_resize(x, side))
            for corner, view in zip(corners, views, strict=True):
                view.append(_resize(corner_crop(x, corner), temperature_net.input_size))
        first = torch.cat(batches[0])
        whole = torch.cat(batches[-1]) if len(sizes) > 1 or corners else None
        if not corners:
            return estimates_from_logits(self.logits(first, whole))
        temperature = torch.cat([whole, *(torch.cat(view) for view in views)])
        return estimates_from_logits(self.logits(first, temperature, temperature_views=1 + len(corners)))

    def __call__(self, rgb: np.ndarray) -> LightEstimate:
        """The light of one photo (float ``(H, W, 3)`` RGB in [0, 1])."""
        return self.many([rgb])[0]

    def for_file(self, path: str | os.PathLike[str]) -> LightEstimate:
        from ..io import read_image

        return self(read_image(Path(path)).rgb)


def _load_estimator(weights: str | os.PathLike[str], device: torch.device) -> torch.nn.Module:
    from ..checkpoint import load_model

    net = load_model(weights)
    if net.relight_info.task != "light":
        raise RelightError(f"{weights}: holds {net.relight_info.name}, a relighting model, not a light estimator")
    return net.eval().to(device)


_DEFAULT: dict[tuple[str, str], LightEstimator] = {}


def estimate_light(
    image: np.ndarray | str | os.PathLike[str],
    depth: np.ndarray | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
) -> LightEstimate:
    """The light of a photo (an ``(H, W, 3)`` float RGB array in [0, 1], or a path) by the shipped estimator (or
    ``weights``), loaded once per process. ``depth`` is accepted for the API's symmetry with relighting; the
    shipped estimator reads the image alone."""
    key = (str(weights), device)
    if key not in _DEFAULT:
        _DEFAULT[key] = LightEstimator(weights, device=device)
    est = _DEFAULT[key]
    if isinstance(image, np.ndarray):
        return est(image)
    return est.for_file(image)
