"""Training configuration: the S3Net recipe as defaults (AdamW betas (0.5, 0.999), lr 1e-4 / 10 after 20 epochs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..losses import DEFAULT_VGG19_WEIGHTS, S3NET_LOSS

RUN_DEFINING = (
    "model",
    "model_args",
    "batch_size",
    "lr",
    "lr_milestones",
    "lr_gamma",
    "betas",
    "weight_decay",
    "size",
    "val_split",
    "loss",
    "seed",
    "same_scene_guides",
    "hflip",
    "freeze_bn",
    "amp",
    "grad_clip",
    "init",
    "aux_light",
    "exact_light",
    "fresh_lr_scale",
    "light_code_noise",
    "batch_scales",
    "look_augment",
    "ema",
    "data_weights",
)
"""Fields a resumed run takes from its saved state (changing them mid-run would make a different run)."""


@dataclass
class TrainConfig:
    """Everything ``relight train`` needs; see the README for the meaning of each option."""

    data: Path | tuple[Path, ...]
    """A flat folder or a root with train/ (+ val/); several flat folders (or roots) are pooled."""
    model: str = "s3net"
    model_args: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    epochs: int = 100
    batch_size: int = 3
    lr: float = 1e-4
    lr_milestones: tuple[int, ...] = (20,)
    lr_gamma: float = 0.1
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.01
    size: int | None = None
    val_split: float = 0.1
    val_max: int | None = None
    loss: str = S3NET_LOSS
    vgg_weights: str = DEFAULT_VGG19_WEIGHTS
    amp: bool = False
    resume: bool = False
    seed: int = 0
    workers: int = 0
    same_scene_guides: bool = False
    hflip: bool = False
    pretrained_backbone: bool = False
    init: str | None = None
    freeze_bn: bool = False
    grad_clip: float | None = None
    aux_light: float = 0.0
    exact_light: float = 0.5
    fresh_lr_scale: float = 1.0
    light_code_noise: float = 0.0
    batch_scales: tuple[float, ...] = ()
    look_augment: float = 0.0
    ema: float = 0.0
    save_every: int = 0
    max_steps: int | None = None
    samples: int = 4
    device: str = "auto"
    cache_dir: Path | None = None
    data_weights: tuple[int, ...] = ()
    """With several ``data`` folders: how many times each folder's scenes count per epoch (default 1 each)."""

    @property
    def folders(self) -> tuple[Path, ...]:
        """``data`` as a tuple of folders (one for a single folder)."""
        return tuple(Path(p) for p in self.data) if isinstance(self.data, (tuple, list)) else (Path(self.data),)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) if self.out is not None else Path("runs") / self.model

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able values (paths as strings, tuples as lists)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, tuple):
                v = [str(p) if isinstance(p, Path) else p for p in v]
            out[k] = str(v) if isinstance(v, Path) else v
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if f.name == "data" and isinstance(v, list):
                v = tuple(Path(p) for p in v)
            elif f.name in ("data", "out", "cache_dir") and v is not None:
                v = Path(v)
            elif f.name in ("lr_milestones", "betas", "batch_scales", "data_weights") and v is not None:
                v = tuple(v)
            kwargs[f.name] = v
        return cls(**kwargs)
