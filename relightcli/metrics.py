"""Image-quality metrics of the NTIRE 2021 relighting challenge, on ``(B, 3, H, W)`` tensors in [0, 1].

PSNR with data range 1; SSIM in the restoration convention (`relightcli.ops.ssim`: Gaussian 11/1.5, valid
region, averaged over channels); LPIPS (AlexNet, v0.1) when its weights are available; MPS, the challenge's
ranking score. Each returns one value per image, shape ``(B,)``.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from .errors import RelightError
from .ops import ssim as _ssim


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (inf for identical images)."""
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004; Gaussian 11/1.5, valid region)."""
    return _ssim(x, y, data_range=data_range)


# --- LPIPS and MPS -----------------------------------------------------------------------------------------

LPIPS_ENV = "RELIGHT_LPIPS_WEIGHTS"
"""Environment variable naming a default LPIPS weights file."""

_ALEX = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # relu1 .. relu5 of torchvision's AlexNet features
_ALEX_CHANNELS = (64, 192, 384, 256, 256)


class LPIPS(nn.Module):
    """LPIPS v0.1 with the AlexNet backbone (Zhang et al., CVPR 2018), the NTIRE 2021 challenge's perceptual metric.

    Module names follow the ``lpips`` package (``net.slice1.0.weight`` ..., ``lin0.model.1.weight`` ...), so a
    file saved from ``lpips.LPIPS(net="alex").state_dict()`` loads as it is; torchvision's AlexNet names
    (``features.N.*``) are accepted for the backbone. Inputs are RGB in [0, 1]; returns one distance per image.
    """

    def __init__(self) -> None:
        super().__init__()
        import torchvision  # here, not at the top: seconds to import, and only LPIPS needs it

        features = torchvision.models.alexnet(weights=None).features
        self.net = nn.Module()
        for k, (a, b) in enumerate(_ALEX, start=1):
            block = nn.Sequential()
            for i in range(a, b):
                block.add_module(str(i), features[i])
            setattr(self.net, f"slice{k}", block)
        for k, c in enumerate(_ALEX_CHANNELS):
            lin = nn.Module()
            lin.model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))
            setattr(self, f"lin{k}", lin)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = ((x.float() * 2 - 1) - self.shift) / self.scale
        y = ((y.float() * 2 - 1) - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        for k in range(len(_ALEX)):
            block = getattr(self.net, f"slice{k + 1}")
            x, y = block(x), block(y)
            fx = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            fy = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{k}").model((fx - fy) ** 2).mean((1, 2, 3))
        return total


def load_lpips(weights: str | os.PathLike[str] | None = None) -> LPIPS:
    """An `LPIPS` with its published weights from ``weights`` (or ``$RELIGHT_LPIPS_WEIGHTS``).

    Raises `RelightError` starting "LPIPS unavailable:" when there are none: the metric is never faked.
    """
    from .checkpoint import read_checkpoint, resolve_weights

    source = weights or os.environ.get(LPIPS_ENV)
    if not source:
        raise RelightError(
            f"LPIPS unavailable: no weights given (pass --lpips-weights FILE or set {LPIPS_ENV}; a file saved "
            "from lpips.LPIPS(net='alex').state_dict() works)"
        )
    try:
        path = resolve_weights(source)
        if path.suffix == ".safetensors":
            state = read_checkpoint(path)[0]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except RelightError as exc:
        raise RelightError(f"LPIPS unavailable: {exc}") from exc
    except Exception as exc:
        raise RelightError(f"LPIPS unavailable: {source}: not a readable weights file ({exc})") from exc
    model = LPIPS()
    renamed = {}
    for k, v in state.items():
        if k.startswith("features."):  # torchvision AlexNet
            idx = int(k.split(".")[1])
            slot = next((s for s, (a, b) in enumerate(_ALEX, 1) if a <= idx < b), None)
            if slot is not None:
                renamed[f"net.slice{slot}.{k.removeprefix('features.')}"] = v
        elif k.startswith("lins."):  # the lpips package stores its linear layers twice
            renamed[f"lin{k.split('.')[1]}.{k.split('.', 2)[2]}"] = v
        elif k.startswith(("net.", "lin")):
            renamed[k] = v
    own = model.state_dict()
    missing = [k for k in own if k not in renamed]
    if missing:
        raise RelightError(f"LPIPS unavailable: {source} lacks {len(missing)} LPIPS tensors (e.g. {missing[0]})")
    for k, v in own.items():
        if tuple(renamed[k].shape) != tuple(v.shape):
            raise RelightError(f"LPIPS unavailable: {source}: {k} has shape {tuple(renamed[k].shape)}")
        v.copy_(renamed[k])
    return model


def mps(ssim_value: torch.Tensor | float, lpips_value: torch.Tensor | float) -> torch.Tensor | float:
    """NTIRE 2021's Mean Perceptual Score: ``0.5 * (SSIM + (1 - LPIPS))``."""
    return 0.5 * (ssim_value + (1 - lpips_value))
