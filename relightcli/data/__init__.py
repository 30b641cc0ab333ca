"""VIDIT-format data: layouts and indexes, any-to-any sampling, torch datasets (imported on first use: torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .pooled import PooledIndex, pool_folders
from .sampling import AnyToAnyPair, any_to_any_pairs, split_scenes
from .vidit import DIRECTIONS, SETTINGS, TEMPERATURES, FlatIndex, PairIndex, Setting, scan_flat, scan_pairs

if TYPE_CHECKING:
    from .datasets import AnyToAnyDataset, ImageLoader, PairDataset

_TORCH_DATASETS = ("AnyToAnyDataset", "ImageLoader", "PairDataset")


def __getattr__(name: str) -> Any:
    if name in _TORCH_DATASETS:
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DIRECTIONS",
    "SETTINGS",
    "TEMPERATURES",
    "AnyToAnyDataset",
    "AnyToAnyPair",
    "FlatIndex",
    "ImageLoader",
    "PairDataset",
    "PairIndex",
    "PooledIndex",
    "Setting",
    "any_to_any_pairs",
    "pool_folders",
    "scan_flat",
    "scan_pairs",
    "split_scenes",
]
