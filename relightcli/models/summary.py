"""Cheap facts about registered models (parameter counts) without allocating their weights."""

from __future__ import annotations

from typing import Any

import torch

from ._registry import create_model


def count_parameters(name: str, **overrides: Any) -> int:
    """Number of parameters of a registry model, built on the ``meta`` device (no memory, no init cost)."""
    with torch.device("meta"):
        model = create_model(name, **overrides)
    return sum(p.numel() for p in model.parameters())
