"""Training: configuration, the resumable and distributed training loop, run reports."""

from .config import TrainConfig
from .trainer import NullReporter, Reporter, TrainResult, build_datasets, collate_batch, train, validate

__all__ = [
    "NullReporter",
    "Reporter",
    "TrainConfig",
    "TrainResult",
    "build_datasets",
    "collate_batch",
    "train",
    "validate",
]
