"""Several flat VIDIT folders trained on as one (scenes from several renderers or looks), each with a weight.

Scene ``012`` of the ``k``-th folder is scene ``k-012`` of the pool, so scenes of different folders never
collide. A folder's weight is how many times each of its scenes' images counts as an input per epoch
(`relightcli.data.sampling.any_to_any_pairs`' ``repeats``), so a folder with few scenes can weigh as much as one
with many; guides are always drawn from another scene, never from a repeat of the input's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import RelightError
from .vidit import FlatIndex, Setting


@dataclass
class PooledIndex:
    """Flat folders as one index: the same ``scenes``, ``image`` and ``depth`` as a `FlatIndex`."""

    parts: list[FlatIndex]
    weights: list[int]
    scenes: list[str]

    def _part(self, scene: str) -> tuple[FlatIndex, str]:
        k, sep, own = scene.partition("-")
        if not sep or not k.isdigit() or int(k) >= len(self.parts):
            raise KeyError(f"{scene!r} is not a scene of this pool (expected <folder>-<scene>)")
        return self.parts[int(k)], own

    def image(self, scene: str, setting: Setting) -> Path:
        part, own = self._part(scene)
        return part.image(own, setting)

    def depth(self, scene: str) -> Path:
        part, own = self._part(scene)
        return part.depth(own)

    def weight(self, scene: str) -> int:
        """How many times ``scene``'s images count per epoch (its folder's weight)."""
        return self.weights[int(scene.partition("-")[0])]

    def folder_scenes(self, k: int) -> list[str]:
        """The pool's names of the ``k``-th folder's scenes."""
        return [s for s in self.scenes if s.partition("-")[0] == str(k)]


def pool_folders(parts: Sequence[FlatIndex], weights: Sequence[int] | None = None) -> PooledIndex:
    """Pool flat folders (`relightcli.data.vidit.scan_flat` indexes); ``weights``: positive integers, one per
    folder (default 1 each)."""
    weights = list(weights) if weights else [1] * len(parts)
    if len(weights) != len(parts):
        raise RelightError(f"--data-weights gives {len(weights)} weights for {len(parts)} --data folders")
    if any(int(w) != w or w < 1 for w in weights):
        raise RelightError(f"--data-weights are whole numbers >= 1 (repeats per epoch), got {weights}")
    scenes = [f"{k}-{scene}" for k, part in enumerate(parts) for scene in part.scenes]
    return PooledIndex(list(parts), [int(w) for w in weights], scenes)
