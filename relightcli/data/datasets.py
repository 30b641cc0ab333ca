"""Torch datasets over VIDIT-format folders, returning the 8-channel model input and the target.

Items are dicts: ``input`` ``(8, H, W)`` float32 (source RGB, guide RGB, source depth, guide depth, in [0, 1]),
``target`` ``(3, H, W)`` when known, and string metadata for reporting. Depth is normalised per image like
``relight apply`` does, unless ``raw_depth``. With ``size`` every image is resized to ``size x size`` once and
kept in a cache folder (``.npy`` files keyed by source path, modification time and size), never per step.
No flips or crops are applied by default: they would falsify the light direction. ``hflip`` mirrors input,
guide and target together and mirrors the direction labels (E <-> W) with them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..atomic import atomic_path
from ..io import read_depth, read_image
from .pooled import PooledIndex
from .sampling import AnyToAnyPair, any_to_any_pairs
from .vidit import MIRRORED_DIRECTION, FlatIndex, PairIndex, Setting


def default_cache_dir() -> Path:
    """``$RELIGHT_CACHE`` or ``~/.cache/relightcli``, plus ``/resized``."""
    base = os.environ.get("RELIGHT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "relightcli")
    return Path(base) / "resized"


class ImageLoader:
    """Reads RGB images and depth maps as float32 arrays, optionally resized once and cached on disk."""

    def __init__(self, size: int | None = None, cache_dir: str | Path | None = None, raw_depth: bool = False):
        self.size = size
        self.raw_depth = raw_depth
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def _cached(self, path: Path, kind: str, load: Any) -> np.ndarray:
        if self.size is None:
            return load(path)
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}|{kind}|{self.size}".encode()).hexdigest()
        cached = self.cache_dir / str(self.size) / f"{key}.npy"
        if cached.is_file():
            return np.load(cached, allow_pickle=False)
        arr = load(path)
        interp = cv2.INTER_AREA if arr.shape[0] > self.size else cv2.INTER_LINEAR
        arr = cv2.resize(arr, (self.size, self.size), interpolation=interp).astype(np.float32)
        with atomic_path(cached) as tmp, open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        return arr

    def rgb(self, path: Path) -> np.ndarray:
        return self._cached(path, "rgb", lambda p: read_image(p).rgb)

    def depth(self, path: Path) -> np.ndarray:
        return self._cached(path, f"depth{int(self.raw_depth)}", lambda p: read_depth(p, raw=self.raw_depth))


def _stack(src: np.ndarray, guide: np.ndarray, src_depth: np.ndarray, guide_depth: np.ndarray) -> torch.Tensor:
    """The ``(8, H, W)`` float32 model input, each channel copied once into place (any strides, mirrored too)."""
    out = np.empty((8, *src.shape[:2]), dtype=np.float32)
    out[0:3] = src.transpose(2, 0, 1)
    out[3:6] = guide.transpose(2, 0, 1)
    out[6], out[7] = src_depth, guide_depth
    return torch.from_numpy(out)


def _chw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))


class AnyToAnyDataset(Dataset):
    """Any-to-any training pairs drawn from a flat VIDIT folder; call `set_epoch` to draw a new epoch.

    Args:
        index: The flat folder (`scan_flat`), or several pooled (`relightcli.data.pooled.pool_folders`).
        scenes: The scenes to use (e.g. the training split); default all.
        seed: Pair sampling seed; the pairs depend only on ``(seed, epoch)``.
        same_scene_guides: Draw guides from the input's own scene instead of another one.
        size: Working resolution (square), resized once and cached.
        hflip: Mirror each item left-right with probability 1/2 (direction labels mirrored too).
        repeats: Per scene, how many times its images are inputs per epoch (a `PooledIndex`'s folder weights).
    """

    def __init__(
        self,
        index: FlatIndex | PooledIndex,
        scenes: Sequence[str] | None = None,
        *,
        seed: int = 0,
        same_scene_guides: bool = False,
        size: int | None = None,
        cache_dir: str | Path | None = None,
        raw_depth: bool = False,
        hflip: bool = False,
        repeats: Sequence[int] | None = None,
    ) -> None:
        self.index = index
        self.scenes = list(scenes) if scenes is not None else list(index.scenes)
        self.repeats = list(repeats) if repeats is not None else None
        self.seed = seed
        self.same_scene_guides = same_scene_guides
        self.loader = ImageLoader(size, cache_dir, raw_depth)
        self.hflip = hflip
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw the pairs of ``epoch`` (deterministic in the seed)."""
        self.epoch = epoch
        self.pairs: list[AnyToAnyPair] = any_to_any_pairs(
            self.scenes, seed=self.seed, epoch=epoch, same_scene_guides=self.same_scene_guides, repeats=self.repeats
        )

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        p = self.pairs[i]
        load = self.loader
        src = load.rgb(self.index.image(p.scene, p.source))
        guide = load.rgb(self.index.image(p.guide_scene, p.target))
        target = load.rgb(self.index.image(p.scene, p.target))
        src_d, guide_d = load.depth(self.index.depth(p.scene)), load.depth(self.index.depth(p.guide_scene))
        source, tgt = p.source, p.target
        if self.hflip and np.random.default_rng([self.seed, self.epoch, i]).random() < 0.5:
            src, guide, target, src_d, guide_d = (a[:, ::-1] for a in (src, guide, target, src_d, guide_d))
            source = Setting(source.temperature, MIRRORED_DIRECTION[source.direction])
            tgt = Setting(tgt.temperature, MIRRORED_DIRECTION[tgt.direction])
        return {
            "input": _stack(src, guide, src_d, guide_d),
            "target": _chw(target),
            "name": f"Image{p.scene}_{p.source}_to_{p.target}",
            "scene": p.scene,
            "guide_scene": p.guide_scene,
            "source_setting": str(source),
            "target_setting": str(tgt),
        }


class PairDataset(Dataset):
    """A pair-layout folder (validation/test): ``input`` and, when the folder has ``target/``, ``target``."""

    def __init__(
        self,
        index: PairIndex,
        *,
        size: int | None = None,
        cache_dir: str | Path | None = None,
        raw_depth: bool = False,
    ) -> None:
        self.index = index
        self.loader = ImageLoader(size, cache_dir, raw_depth)

    def __len__(self) -> int:
        return len(self.index.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair = self.index.pairs[i]
        (src_p, src_dp), (guide_p, guide_dp) = self.index.input(pair), self.index.guide(pair)
        load = self.loader
        src, guide = load.rgb(src_p), load.rgb(guide_p)
        src_d, guide_d = load.depth(src_dp), load.depth(guide_dp)
        if guide.shape[:2] != src.shape[:2]:
            guide = cv2.resize(guide, src.shape[1::-1], interpolation=cv2.INTER_AREA)
            guide_d = cv2.resize(guide_d, src.shape[1::-1], interpolation=cv2.INTER_AREA)
        item: dict[str, Any] = {"input": _stack(src, guide, src_d, guide_d), "name": pair, "pair": pair}
        if pair in self.index.settings:
            source, tgt = self.index.settings[pair]
            item["source_setting"], item["target_setting"] = str(source), str(tgt)
        if self.index.has_target:
            item["target"] = _chw(load.rgb(self.index.target(pair)))
        return item
