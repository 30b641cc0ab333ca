"""Loss specifications (``charbonnier=1,wssim=1.1,perceptual=0.1``) and their weighted, multi-output sum."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RelightError
from .gradient import EdgeLoss, SobelLoss
from .perceptual import DEFAULT_VGG19_WEIGHTS, PerceptualLoss
from .pixel import CharbonnierLoss, L1Loss, MSELoss
from .structural import SSIMLoss, WaveletSSIMLoss

S3NET_LOSS = "charbonnier=1,wssim=1.1,perceptual=0.1"
"""S3Net's recipe: 1.0 Charbonnier + 1.1 W-SSIM + 0.1 perceptual."""

LOSS_TERMS: dict[str, Callable[..., nn.Module]] = {
    "charbonnier": CharbonnierLoss,
    "l1": L1Loss,
    "mse": MSELoss,
    "ssim": SSIMLoss,
    "wssim": WaveletSSIMLoss,
    "perceptual": PerceptualLoss,
    "edge": EdgeLoss,
    "sobel": SobelLoss,
}


def parse_loss_spec(spec: str) -> dict[str, float]:
    """``"charbonnier=1,wssim=1.1"`` -> ``{"charbonnier": 1.0, "wssim": 1.1}``; `RelightError` if malformed."""
    terms: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if name not in LOSS_TERMS:
            raise RelightError(f"--loss: unknown term {name!r}; known terms: {', '.join(LOSS_TERMS)}")
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise RelightError(f"--loss: weight of {name!r} must be a number, got {value!r}") from None
        if not weight > 0 or weight != weight or weight == float("inf"):
            raise RelightError(f"--loss: weight of {name!r} must be a positive number, got {value!r}")
        if name in terms:
            raise RelightError(f"--loss: term {name!r} given twice")
        terms[name] = weight
    if not terms:
        raise RelightError("--loss: no terms given (e.g. --loss charbonnier=1,wssim=1.1)")
    return terms


class RelightLoss(nn.Module):
    """Weighted sum of loss terms, summed over a model's outputs (stages or scales), each against the target
    resized to its size (area interpolation). Returns the total and the unweighted value of each term.

    Args:
        spec: A loss specification string or a ``{term: weight}`` dict.
        vgg_weights: Where the perceptual term's VGG19 weights come from.
    """

    def __init__(self, spec: str | dict[str, float], vgg_weights: str | os.PathLike[str] = DEFAULT_VGG19_WEIGHTS):
        super().__init__()
        self.weights = parse_loss_spec(spec) if isinstance(spec, str) else dict(spec)
        self.terms = nn.ModuleDict(
            {
                name: (LOSS_TERMS[name](vgg_weights) if name == "perceptual" else LOSS_TERMS[name]())
                for name in self.weights
            }
        )

    def forward(
        self, outputs: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        outputs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
        total = target.new_zeros((), dtype=torch.float32)
        logged = dict.fromkeys(self.weights, 0.0)
        for out in outputs:
            out = out.float()
            tgt = (
                target
                if out.shape[-2:] == target.shape[-2:]
                else F.interpolate(target, size=out.shape[-2:], mode="area")
            )
            for name, term in self.terms.items():
                value = term(out, tgt.float())
                total = total + self.weights[name] * value
                logged[name] += float(value.detach())
        return total, logged
