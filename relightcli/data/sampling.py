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
    scenes: Sequence[str],
    *,
    seed: int = 0,
    epoch: int = 0,
    same_scene_guides: bool = False,
    repeats: Sequence[int] | None = None,
) -> list[AnyToAnyPair]:
    """One epoch of pairs: ``len(scenes) * 40`` items, deterministic in ``(seed, epoch)``.

    ``repeats`` (one positive integer per scene): scene ``i``'s images are inputs ``repeats[i]`` times in the
    epoch (``sum(repeats) * 40`` items), and guides are drawn in the same proportions from the other scenes."""
    scenes = list(scenes)
    if not scenes:
        raise RelightError("no scenes to draw any-to-any pairs from")
    if len(scenes) < 2 and not same_scene_guides:
        raise RelightError("any-to-any pairs need at least 2 scenes (guides come from another scene)")
    if repeats is not None and any(r != 1 for r in repeats):
        return _weighted_pairs(scenes, list(repeats), seed, epoch, same_scene_guides)
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


def _weighted_pairs(
    scenes: list[str], repeats: list[int], seed: int, epoch: int, same_scene_guides: bool
) -> list[AnyToAnyPair]:
    if len(repeats) != len(scenes) or any(int(r) != r or r < 1 for r in repeats):
        raise RelightError(f"repeats must be one whole number >= 1 per scene, got {len(repeats)} for {len(scenes)}")
    rng = np.random.default_rng([seed, epoch, 1])
    n_set = len(SETTINGS)
    owner = np.repeat(np.arange(len(scenes)), np.asarray(repeats, dtype=np.int64))  # one slot per repeat
    cumulative = np.concatenate([[0], np.cumsum(repeats)])
    pairs = []
    for flat in rng.permutation(len(owner) * n_set):
        slot, s = divmod(int(flat), n_set)
        a = int(owner[slot])
        t = int(rng.integers(n_set - 1))
        t += t >= s
        if same_scene_guides:
            b = a
        else:  # a slot of another scene: uniform over the slots outside a's own run
            k = int(rng.integers(len(owner) - repeats[a]))
            k += repeats[a] if k >= cumulative[a] else 0
            b = int(owner[k])
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
