"""Cheap facts about registered models, computed on the ``meta`` device (no memory, no initialisation cost)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ._registry import IN_CHANNELS, create_model


def count_parameters(name: str, **overrides: Any) -> int:
    """Number of parameters of a registry model."""
    with torch.device("meta"):
        model = create_model(name, **overrides)
    return sum(p.numel() for p in model.parameters())


def count_flops(name: str, size: int = 1024, **overrides: Any) -> int:
    """FLOPs (2 x multiply-accumulates) of one forward pass on a ``size x size`` input, counted by
    ``torch.utils.flop_counter`` (convolutions and matrix products; element-wise work is not counted)."""
    with torch.device("meta"):
        model = create_model(name, **overrides)
        multiple = model.relight_info.size_multiple
        side = -(-size // multiple) * multiple
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            channels = 3 if model.relight_info.task == "light" else IN_CHANNELS  # an RGB photo; else the 8 channels
            model(torch.empty(1, overrides.get("in_chans", channels), side, side))
    return counter.get_total_flops()
