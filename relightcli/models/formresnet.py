"""FormResNet-style relighting: Formatted Residual Learning (Jiao et al., CVPRW 2017).

A formatting stage first removes the easy part of the residual: a conv and residual conv-BN-ReLU blocks
produce features and a *formatted* image (source RGB + a cheap correction). A DnCNN-like residual network
(conv-BN-ReLU layers) then predicts the remaining, structured residual from the formatted image and the
features; the output is ``formatted + residual``. Returns ``[final, formatted]`` so that FormResNet's
cross-level loss (pixel L2 + perceptual + Sobel gradient, e.g. ``--loss mse=1,perceptual=0.1,sobel=0.5``)
supervises both levels. The original's depth and width are not confirmed; these are configurable.
"""

from __future__ import annotations

import torch
from torch import nn

from ._registry import IN_CHANNELS, register_model

_PAPER = "Jiao et al., FormResNet: Formatted Residual Learning for Image Restoration, CVPRW 2017"


def _cbr(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class FormatBlock(nn.Module):
    """Residual conv-BN-ReLU block of the formatting layer: ``x + cbr(cbr(x))``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_cbr(c, c), _cbr(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FormResNet(nn.Module):
    """Formatting stage + residual network on the 8-channel relighting input.

    Args:
        width: Feature channels.
        format_blocks: Residual blocks in the formatting stage.
        depth: conv-BN-ReLU layers in the residual network.
    """

    size_multiple = 1

    def __init__(self, in_chans: int = IN_CHANNELS, width: int = 48, format_blocks: int = 2, depth: int = 10) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_chans, width, 3, padding=1), nn.ReLU(inplace=True))
        self.format = nn.Sequential(*(FormatBlock(width) for _ in range(format_blocks)))
        self.format_out = nn.Conv2d(width, 3, 3, padding=1)
        self.residual = nn.Sequential(
            _cbr(width + 3, width), *(_cbr(width, width) for _ in range(depth - 1)), nn.Conv2d(width, 3, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.format(self.head(x))
        formatted = x[:, :3] + self.format_out(features)
        final = formatted + self.residual(torch.cat((features, formatted), 1))
        return [final, formatted]


@register_model(size_multiple=1, output_range=(float("-inf"), float("inf")), multi_output=True, paper=_PAPER)
def formresnet(in_chans: int = IN_CHANNELS, width: int = 48, format_blocks: int = 2, depth: int = 10) -> FormResNet:
    """FormResNet-style relighting: formatting stage + residual network on the source RGB."""
    return FormResNet(in_chans, width, format_blocks, depth)
