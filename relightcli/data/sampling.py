"""Any-to-any training pairs (NTIRE 2021 track 2) and scene-level train/validation splits.

An epoch visits every input image (scene A, setting s) once, in a seeded random order. Each gets a target
setting t != s, a guide image of another scene B under t (or of A itself with ``same_scene_guides``), and the
target A under t. The same seed and epoch always give the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import RelightError
from .vidit import SETTINGS, Setting


@dataclass(frozen=True)
class AnyToAnyPair:
    """Input = scene under ``source``; guide = ``guide_scene`` under ``target``; target = scene under ``target``."""

    scene: str
    source: Setting
    guide_scene: str
    target: Setting


def any_to_any_pairs(
    scenes: Sequence[str], *, seed: int = 0, epoch: int = 0, same_scene_guides: bool = False
) -> list[AnyToAnyPair]:
    """One epoch of pairs: ``len(scenes) * 40`` items, deterministic in ``(seed, epoch)``."""
    scenes = list(scenes)
    if not scenes:
        raise RelightError("no scenes to draw any-to-any pairs from")
    if len(scenes) < 2 and not same_scene_guides:
        raise RelightError("any-to-any pairs need at least 2 scenes (guides come from another scene)")
    rng = np.random.default_rng([seed, epoch])
    n_set = len(SETTINGS)
    pairs = []
    for flat in rng.permutation(len(scenes) * n_set):
        a, s = divmod(int(flat), n_set)
        t = int(rng.integers(n_set - 1))
        t += t >= s  # uniform over the 39 other settings
        if same_scene_guides:
            b = a
        else:
            b = int(rng.integers(len(scenes) - 1))
            b += b >= a  # uniform over the other scenes
        pairs.append(AnyToAnyPair(scenes[a], SETTINGS[s], scenes[b], SETTINGS[t]))
    return pairs


def split_scenes(scenes: Sequence[str], val_fraction: float, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split scene ids (never images) into disjoint ``(train, val)`` lists, deterministically in ``seed``.

    With ``val_fraction > 0`` validation gets at least one scene and training keeps at least one.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise RelightError(f"validation fraction must be in [0, 1), got {val_fraction}")
    scenes = sorted(scenes)
    n_val = round(len(scenes) * val_fraction)
    if val_fraction > 0:
        n_val = min(max(n_val, 1), len(scenes) - 1)
    if n_val <= 0:
        return scenes, []
    order = np.random.default_rng(seed).permutation(len(scenes))
    val = sorted(scenes[i] for i in order[:n_val])
    return [s for s in scenes if s not in set(val)], val
