"""VIDIT-format data: layouts and indexes, any-to-any sampling, torch datasets."""

from .datasets import AnyToAnyDataset, ImageLoader, PairDataset
from .sampling import AnyToAnyPair, any_to_any_pairs, split_scenes
from .vidit import DIRECTIONS, SETTINGS, TEMPERATURES, FlatIndex, PairIndex, Setting, scan_flat, scan_pairs

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
    "Setting",
    "any_to_any_pairs",
    "scan_flat",
    "scan_pairs",
    "split_scenes",
]
