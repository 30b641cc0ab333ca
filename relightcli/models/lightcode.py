"""Light codes: how a light-aware relighter is told an image's light, in VIDIT's vocabulary.

A code is one image's light as probabilities over VIDIT's classes, ``(B, 13)``: the 8 directions (``DIRECTIONS``
order, N ... NW) then the 5 colour temperatures (``TEMPERATURES`` order, 2500 ... 6500 K). A known setting
(``relight apply --light``, a training label) is a one-hot code; a light read from a photo by the light
estimator (`relightcli.light`) is its softmax probabilities, so the relighter sees how sure the reading is.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data.vidit import DIRECTIONS, MIRRORED_DIRECTION, TEMPERATURES, Setting

N_DIRECTIONS, N_TEMPERATURES = len(DIRECTIONS), len(TEMPERATURES)
CODE = N_DIRECTIONS + N_TEMPERATURES
"""A code's length: direction probabilities, then temperature probabilities."""
MIRROR_INDEX = [DIRECTIONS.index(MIRRORED_DIRECTION[d]) for d in DIRECTIONS] + list(range(N_DIRECTIONS, CODE))
"""Column order that reads a mirrored image's code (or logits) as the unmirrored image's: E <-> W."""


def setting_code(setting: Setting, smoothing: float = 0.0) -> torch.Tensor:
    """The ``(13,)`` code of a known setting; ``smoothing`` spreads that much probability over the other classes
    (label smoothing, Szegedy et al. 2016)."""
    code = torch.zeros(CODE)
    code[:N_DIRECTIONS] = smoothing / (N_DIRECTIONS - 1)
    code[N_DIRECTIONS:] = smoothing / (N_TEMPERATURES - 1)
    code[DIRECTIONS.index(setting.direction)] = 1.0 - smoothing
    code[N_DIRECTIONS + TEMPERATURES.index(setting.temperature)] = 1.0 - smoothing
    return code


def settings_code(settings: Sequence[Setting | str], smoothing: float = 0.0) -> torch.Tensor:
    """``(B, 13)`` codes of settings (`Setting` or file-name spelling, ``4500_E``)."""
    parsed = [s if isinstance(s, Setting) else Setting.parse(s) for s in settings]
    return torch.stack([setting_code(s, smoothing) for s in parsed])


def code_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """``(B, 13)`` light logits (the estimator's output) -> codes: a softmax over each group."""
    logits = logits.float()
    return torch.cat(
        [torch.softmax(logits[:, :N_DIRECTIONS], dim=1), torch.softmax(logits[:, N_DIRECTIONS:], dim=1)], dim=1
    )


def mirror_code(code: torch.Tensor) -> torch.Tensor:
    """The code (or logits, or direction probabilities alone, ``(B, 8)``) of the left-right mirrored image:
    directions swapped E <-> W, NE <-> NW, SE <-> SW."""
    return code[:, MIRROR_INDEX[: code.shape[1]]]


def product_of_experts(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(B, K)`` logits of several readers of one class (logits or log-probabilities, each normalised here) ->
    the mean of their log-probabilities: a product of experts (Hinton, 2002) whose softmax is the normalised
    geometric mean of the readers' probabilities. How two light estimators read one direction together."""
    return torch.stack([x.float().log_softmax(dim=1) for x in logits]).mean(dim=0)


def sharpen(probabilities: torch.Tensor, power: float) -> torch.Tensor:
    """``(B, K)`` probabilities raised to ``power`` and renormalised: ``softmax(power x logits)`` (temperature
    scaling, Guo et al., ICML 2017); one-hot rows stay as they are."""
    if power == 1.0:
        return probabilities
    sharp = probabilities.clamp_min(0).pow(power)
    return sharp / sharp.sum(dim=1, keepdim=True).clamp_min(torch.finfo(sharp.dtype).tiny)


def same_direction(source: torch.Tensor, target: torch.Tensor, sharpness: float = 1.0) -> torch.Tensor:
    """``(B,)`` probability that the two codes' lights come from the same direction (independent readings), from
    their direction probabilities (a code's first 8 columns, or direction probabilities alone) sharpened by
    ``sharpness`` (`sharpen`)."""
    return (sharpen(source[:, :N_DIRECTIONS], sharpness) * sharpen(target[:, :N_DIRECTIONS], sharpness)).sum(dim=1)
