"""Perceptual loss: L1 between VGG19 features of output and target (Johnson et al. 2016; S3Net's variant).

Layers relu1_1, relu2_1, relu3_1 (``features[0:2]``, ``[2:7]``, ``[7:12]``) weighted 1/32, 1/16, 1/8, inputs
normalised with ImageNet mean/std. The network is timm's VGG19 definition, truncated after relu3_1 (built on
the meta device, so the 500 MB classifier is never allocated), with ImageNet weights read from a safetensors
file: by default ``hf://timm/vgg19.tv_in1k/model.safetensors`` through the hub cache, or a local path.
"""

from __future__ import annotations

import os

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from ..checkpoint import resolve_weights
from ..errors import RelightError

DEFAULT_VGG19_WEIGHTS = "hf://timm/vgg19.tv_in1k/model.safetensors"
_SLICES = ((0, 2), (2, 7), (7, 12))
_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def vgg19_features(weights: str | os.PathLike[str] = DEFAULT_VGG19_WEIGHTS) -> nn.Sequential:
    """timm VGG19 ``features[:12]`` with ImageNet weights; `RelightError` explaining how to get them otherwise."""
    import timm  # here, not at the top: seconds to import, and only this loss term needs it

    with torch.device("meta"):
        features = timm.create_model("vgg19", pretrained=False).features[:12]
    features = features.to_empty(device="cpu")
    needed = {f"features.{k}": v for k, v in features.state_dict().items()}
    try:
        path = resolve_weights(weights)
    except RelightError as exc:
        raise RelightError(
            f"perceptual loss needs VGG19 ImageNet weights: {exc}. Pass --vgg-weights FILE.safetensors or drop the "
            "term from --loss (e.g. --loss charbonnier=1,wssim=1.1)"
        ) from exc
    state = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            missing = [k for k in needed if k not in keys]
            if missing:
                raise RelightError(f"{weights}: not VGG19 weights (no {missing[0]})")
            for k in needed:
                state[k] = f.get_tensor(k)
    except RelightError:
        raise
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RelightError(f"{weights}: not a readable safetensors file of VGG19 weights ({exc})") from exc
    for k, v in needed.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise RelightError(f"{weights}: {k} has shape {tuple(state[k].shape)}, VGG19 needs {tuple(v.shape)}")
    features.load_state_dict({k.removeprefix("features."): v.float() for k, v in state.items()})
    return features.eval().requires_grad_(False)


class PerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 relu1_1/relu2_1/relu3_1 features; the VGG is frozen and not saved."""

    def __init__(self, weights: str | os.PathLike[str] = DEFAULT_VGG19_WEIGHTS) -> None:
        super().__init__()
        features = vgg19_features(weights)
        self.blocks = nn.ModuleList(features[a:b] for a, b in _SLICES)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # the VGG stays in eval mode

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        y = (y - self.mean) / self.std
        total = x.new_zeros(())
        for block, w in zip(self.blocks, _LAYER_WEIGHTS, strict=True):
            x, y = block(x), block(y)
            total = total + w * (x - y.detach()).abs().mean()
        return total
