"""SRN-style relighting: Scale-recurrent Network for Deep Image Deblurring (Tao et al., CVPR 2018).

Three scales (factor 0.5), coarse to fine, one set of weights shared by all scales. Each scale sees the
8-channel input resized to that scale plus the previous scale's prediction upsampled (at the coarsest scale,
the source RGB itself). The per-scale network is an encoder-decoder of 5x5 convolutions and ResBlocks
(widths 32/64/128), a ConvLSTM at the bottleneck whose state is bilinearly upsampled between scales, 4x4
stride-2 transposed convolutions and additive skips. Returns the prediction of every scale, finest first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import IN_CHANNELS, register_model

_PAPER = "Tao et al., Scale-recurrent Network for Deep Image Deblurring, CVPR 2018"


def _conv(c_in: int, c_out: int, k: int = 5, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)


class ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` with 5x5 kernels (SRN's ResnetBlock)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = _conv(c, c)
        self.conv2 = _conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _stage(c: int, n: int = 3) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(c) for _ in range(n)))


class ConvLSTMCell(nn.Module):
    """ConvLSTM: one 3x3 conv over ``concat(x, h)`` gives the i, j, f, o gates; forget bias +1."""

    def __init__(self, c: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(c + hidden, 4 * hidden, 3, padding=1)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[-2:])
            state = (zeros, zeros)
        c, h = state
        i, j, f, o = self.gates(torch.cat((x, h), 1)).chunk(4, dim=1)
        c = c * torch.sigmoid(f + 1.0) + torch.sigmoid(i) * torch.tanh(j)
        h = torch.tanh(c) * torch.sigmoid(o)
        return h, (c, h)


class SRN(nn.Module):
    """Scale-recurrent network; input ``(B, 8, H, W)`` with H, W multiples of 16; outputs finest first.

    Args:
        width: Channels at full scale (SRN: 32; doubled at each of the two downsamplings).
        scales: Number of scales.
        lstm: Use the ConvLSTM at the bottleneck (SRN's default); without it the scales share only images.
    """

    size_multiple = 16

    def __init__(self, in_chans: int = IN_CHANNELS, width: int = 32, scales: int = 3, lstm: bool = True) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.scales = scales
        self.size_multiple = 4 * 2 ** (scales - 1)
        self.inp = _conv(in_chans + 3, c1)
        self.enc1 = _stage(c1)
        self.down2 = _conv(c1, c2, stride=2)
        self.enc2 = _stage(c2)
        self.down3 = _conv(c2, c3, stride=2)
        self.enc3 = _stage(c3)
        self.lstm = ConvLSTMCell(c3, c3) if lstm else None
        self.dec3 = _stage(c3)
        self.up2 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec2 = _stage(c2)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.dec1 = _stage(c1)
        self.out = _conv(c1, 3)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"SRN needs sides that are multiples of {self.size_multiple}, got {h}x{w}")
        outputs: list[torch.Tensor] = []
        pred: torch.Tensor | None = None
        state = None
        for level in reversed(range(self.scales)):
            size = (h >> level, w >> level)
            xs = x if level == 0 else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            prev = xs[:, :3] if pred is None else F.interpolate(pred, size=size, mode="bilinear", align_corners=False)
            e1 = self.enc1(F.relu(self.inp(torch.cat((xs, prev), 1))))
            e2 = self.enc2(F.relu(self.down2(e1)))
            e3 = self.enc3(F.relu(self.down3(e2)))
            if self.lstm is not None:
                if state is not None:
                    state = tuple(
                        F.interpolate(s, size=e3.shape[-2:], mode="bilinear", align_corners=False) for s in state
                    )
                e3, state = self.lstm(e3, state)
            d2 = self.dec2(F.relu(self.up2(self.dec3(e3))) + e2)
            d1 = self.dec1(F.relu(self.up1(d2)) + e1)
            pred = self.out(d1)
            outputs.append(pred)
        return outputs[::-1]


@register_model(size_multiple=16, output_range=(float("-inf"), float("inf")), multi_output=True, paper=_PAPER)
def srn(in_chans: int = IN_CHANNELS, width: int = 32, scales: int = 3, lstm: bool = True) -> SRN:
    """SRN-style scale-recurrent relighting (3 scales, ConvLSTM), outputs finest scale first."""
    return SRN(in_chans, width, scales, lstm)


@register_model(size_multiple=16, output_range=(float("-inf"), float("inf")), multi_output=True, paper=_PAPER)
def srn_nolstm(in_chans: int = IN_CHANNELS, width: int = 32, scales: int = 3, lstm: bool = False) -> SRN:
    """SRN-style relighting without the ConvLSTM (the scales share only their images)."""
    return SRN(in_chans, width, scales, lstm)
