"""Auxiliary supervision of what the network must read from the guide: ``relight train --aux-light W``.

Every training image's lighting is known (VIDIT file names carry it), so a small classifier on the encoder's
deepest features (3x3 convolution, ReLU, global average pooling, linear) is asked for the guide's and the
source's light direction (8 classes) and colour temperature (5 classes), with cross-entropy added to the
relighting loss at weight ``W``. The classifier exists only during training: the saved weights are the
relighting model alone, loaded and run as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.vidit import DIRECTIONS, TEMPERATURES, Setting
from ..errors import RelightError

_HEADS = (("guide_direction", len(DIRECTIONS)), ("guide_temperature", len(TEMPERATURES)))
_HEADS += (("source_direction", len(DIRECTIONS)), ("source_temperature", len(TEMPERATURES)))


def setting_labels(settings: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Class indices ``(direction, temperature)`` of settings written as in file names (``4500_E``)."""
    parsed = [Setting.parse(s) for s in settings]
    return (
        torch.tensor([DIRECTIONS.index(s.direction) for s in parsed]),
        torch.tensor([TEMPERATURES.index(s.temperature) for s in parsed]),
    )


class LightReader(nn.Module):
    """A relighting model plus a small light classifier on its encoder's deepest features (S3Net family).

    ``forward(x)`` returns the model's output and the classifier's logits (``(B, 26)``: guide direction, guide
    temperature, source direction, source temperature).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        encoder = getattr(model, "encoder", None)
        channels = getattr(getattr(encoder, "feature_info", None), "channels", None)
        if encoder is None or channels is None:
            raise RelightError(
                f"--aux-light reads the encoder's features: it needs an S3Net-family model, not {type(model).__name__}"
            )
        self.model = model
        c = channels()[-1]
        # a 3x3 convolution first, so that where light and shadow lie (not only how much of each) can be read
        self.classifier = nn.Sequential(
            nn.Conv2d(c, c // 4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(c // 4, sum(n for _, n in _HEADS)),
        )
        self._features: torch.Tensor | None = None
        encoder.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: Any, output: Sequence[torch.Tensor]) -> None:
        self._features = output[-1]

    def forward(self, x: torch.Tensor, **lights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(x, **lights)
        assert self._features is not None
        logits = self.classifier(self._features.float())
        self._features = None
        return out, logits

    @staticmethod
    def loss(logits: torch.Tensor, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of the four classifications, and the guide direction's accuracy."""
        guide_dir, guide_temp = setting_labels(batch["target_setting"])
        src_dir, src_temp = setting_labels(batch["source_setting"])
        labels = [t.to(logits.device) for t in (guide_dir, guide_temp, src_dir, src_temp)]
        parts = torch.split(logits.float(), [n for _, n in _HEADS], dim=1)
        ce = sum(F.cross_entropy(p, y) for p, y in zip(parts, labels, strict=True)) / len(parts)
        acc = float((parts[0].argmax(1) == labels[0]).float().mean())
        return ce, {"light_ce": float(ce.detach()), "guide_dir_acc": acc}
