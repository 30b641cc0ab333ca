"""MPRNet-style relighting: Multi-Stage Progressive Image Restoration (Zamir et al., CVPR 2021).

Three stages as in the official code: stage 1 runs an encoder-decoder on four quarter patches, stage 2 on two
halves (cross-stage feature fusion from stage 1), stage 3 (ORSNet) at full resolution; supervised attention
modules (SAM) pass features and images between stages and one PReLU is shared by every block. Module names
equal the official ones, so the deblurring release loads strictly with ``in_chans=3`` and its widths. For
relighting the network sees all 8 channels and the residual images (SAM and the final output) are added to
the source RGB. Unlike the original, any size works: inputs are reflect-padded to a multiple of 8 and every
output is cropped back. Returns ``[final, stage2, stage1]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import IN_CHANNELS, register_model

_PAPER = "Zamir et al., Multi-Stage Progressive Image Restoration, CVPR 2021"


def _conv(c_in: int, c_out: int, k: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)


class CALayer(nn.Module):
    """Channel attention: global pool, 1x1 c -> c/r, ReLU, 1x1 back, sigmoid, multiply."""

    def __init__(self, c: int, reduction: int, bias: bool) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(c, c // reduction, 1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(c // reduction, c, 1, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))


class CAB(nn.Module):
    """Channel attention block: ``x + CA(conv(act(conv(x))))``."""

    def __init__(self, c: int, k: int, reduction: int, bias: bool, act: nn.Module) -> None:
        super().__init__()
        self.CA = CALayer(c, reduction, bias)
        self.body = nn.Sequential(_conv(c, c, k, bias), act, _conv(c, c, k, bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.CA(self.body(x)) + x


def _cabs(n: int, c: int, k: int, reduction: int, bias: bool, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(*(CAB(c, k, reduction, bias, act) for _ in range(n)))


class SAM(nn.Module):
    """Supervised attention module: ``img = conv2(x) + x_img; x1 * sigmoid(conv3(img)) + x``, returns (feat, img)."""

    def __init__(self, c: int, k: int, bias: bool) -> None:
        super().__init__()
        self.conv1 = _conv(c, c, k, bias)
        self.conv2 = _conv(c, 3, k, bias)
        self.conv3 = _conv(3, c, k, bias)

    def forward(self, x: torch.Tensor, x_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.conv2(x) + x_img
        return self.conv1(x) * torch.sigmoid(self.conv3(img)) + x, img


class DownSample(nn.Module):
    """Bilinear x0.5 then 1x1 conv ``c -> c + s``."""

    def __init__(self, c: int, s: int) -> None:
        super().__init__()
        self.down = nn.Sequential(
            nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=False), nn.Conv2d(c, c + s, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x)


class UpSample(nn.Module):
    """Bilinear x2 then 1x1 conv ``c + s -> c``."""

    def __init__(self, c: int, s: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(c + s, c, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class SkipUpSample(UpSample):
    """`UpSample` plus a skip connection."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.up(x) + y


class Encoder(nn.Module):
    """Three levels of two CABs at widths n, n+s, n+2s; with ``csff`` it adds 1x1-projected previous-stage features."""

    def __init__(self, n: int, k: int, r: int, act: nn.Module, bias: bool, s: int, csff: bool) -> None:
        super().__init__()
        self.encoder_level1 = _cabs(2, n, k, r, bias, act)
        self.encoder_level2 = _cabs(2, n + s, k, r, bias, act)
        self.encoder_level3 = _cabs(2, n + 2 * s, k, r, bias, act)
        self.down12 = DownSample(n, s)
        self.down23 = DownSample(n + s, s)
        if csff:
            for i, c in enumerate((n, n + s, n + 2 * s), start=1):
                setattr(self, f"csff_enc{i}", nn.Conv2d(c, c, 1, bias=bias))
                setattr(self, f"csff_dec{i}", nn.Conv2d(c, c, 1, bias=bias))

    def forward(
        self, x: torch.Tensor, enc: list[torch.Tensor] | None = None, dec: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor]:
        enc1 = self.encoder_level1(x)
        if enc is not None and dec is not None:
            enc1 = enc1 + self.csff_enc1(enc[0]) + self.csff_dec1(dec[0])
        enc2 = self.encoder_level2(self.down12(enc1))
        if enc is not None and dec is not None:
            enc2 = enc2 + self.csff_enc2(enc[1]) + self.csff_dec2(dec[1])
        enc3 = self.encoder_level3(self.down23(enc2))
        if enc is not None and dec is not None:
            enc3 = enc3 + self.csff_enc3(enc[2]) + self.csff_dec3(dec[2])
        return [enc1, enc2, enc3]


class Decoder(nn.Module):
    def __init__(self, n: int, k: int, r: int, act: nn.Module, bias: bool, s: int) -> None:
        super().__init__()
        self.decoder_level1 = _cabs(2, n, k, r, bias, act)
        self.decoder_level2 = _cabs(2, n + s, k, r, bias, act)
        self.decoder_level3 = _cabs(2, n + 2 * s, k, r, bias, act)
        self.skip_attn1 = CAB(n, k, r, bias, act)
        self.skip_attn2 = CAB(n + s, k, r, bias, act)
        self.up21 = SkipUpSample(n, s)
        self.up32 = SkipUpSample(n + s, s)

    def forward(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: ``num_cab`` CABs and a conv, plus the input."""

    def __init__(self, c: int, k: int, r: int, act: nn.Module, bias: bool, num_cab: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(CAB(c, k, r, bias, act) for _ in range(num_cab)), _conv(c, c, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    """Stage 3: three ORBs at full resolution, each followed by 1x1-projected, upsampled stage-2 features."""

    def __init__(self, n: int, o: int, k: int, r: int, act: nn.Module, bias: bool, s: int, num_cab: int) -> None:
        super().__init__()
        self.orb1 = ORB(n + o, k, r, act, bias, num_cab)
        self.orb2 = ORB(n + o, k, r, act, bias, num_cab)
        self.orb3 = ORB(n + o, k, r, act, bias, num_cab)
        self.up_enc1 = UpSample(n, s)
        self.up_dec1 = UpSample(n, s)
        self.up_enc2 = nn.Sequential(UpSample(n + s, s), UpSample(n, s))
        self.up_dec2 = nn.Sequential(UpSample(n + s, s), UpSample(n, s))
        for i in (1, 2, 3):
            setattr(self, f"conv_enc{i}", nn.Conv2d(n, n + o, 1, bias=bias))
            setattr(self, f"conv_dec{i}", nn.Conv2d(n, n + o, 1, bias=bias))

    def forward(self, x: torch.Tensor, enc: list[torch.Tensor], dec: list[torch.Tensor]) -> torch.Tensor:
        x = self.orb1(x) + self.conv_enc1(enc[0]) + self.conv_dec1(dec[0])
        x = self.orb2(x) + self.conv_enc2(self.up_enc1(enc[1])) + self.conv_dec2(self.up_dec1(dec[1]))
        return self.orb3(x) + self.conv_enc3(self.up_enc2(enc[2])) + self.conv_dec3(self.up_dec2(dec[2]))


def _cat(a: list[torch.Tensor], b: list[torch.Tensor], dim: int) -> list[torch.Tensor]:
    return [torch.cat((x, y), dim) for x, y in zip(a, b, strict=True)]


class MPRNet(nn.Module):
    """MPRNet with the official constructor arguments plus ``in_chans`` (8 for relighting, 3 for the release)."""

    size_multiple = 8

    def __init__(
        self,
        in_chans: int = IN_CHANNELS,
        n_feat: int = 96,
        scale_unetfeats: int = 48,
        scale_orsnetfeats: int = 32,
        num_cab: int = 8,
        kernel_size: int = 3,
        reduction: int = 4,
        bias: bool = False,
    ) -> None:
        super().__init__()
        n, s, o, k, r = n_feat, scale_unetfeats, scale_orsnetfeats, kernel_size, reduction
        act = nn.PReLU()
        self.shallow_feat1 = nn.Sequential(_conv(in_chans, n, k, bias), CAB(n, k, r, bias, act))
        self.shallow_feat2 = nn.Sequential(_conv(in_chans, n, k, bias), CAB(n, k, r, bias, act))
        self.shallow_feat3 = nn.Sequential(_conv(in_chans, n, k, bias), CAB(n, k, r, bias, act))
        self.stage1_encoder = Encoder(n, k, r, act, bias, s, csff=False)
        self.stage1_decoder = Decoder(n, k, r, act, bias, s)
        self.stage2_encoder = Encoder(n, k, r, act, bias, s, csff=True)
        self.stage2_decoder = Decoder(n, k, r, act, bias, s)
        self.stage3_orsnet = ORSNet(n, o, k, r, act, bias, s, num_cab)
        self.sam12 = SAM(n, 1, bias)
        self.sam23 = SAM(n, 1, bias)
        self.concat12 = _conv(2 * n, n, k, bias)
        self.concat23 = _conv(2 * n, n + o, k, bias)
        self.tail = _conv(n + o, 3, k, bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.size_multiple, (-w) % self.size_multiple
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
        img = x[:, :3]  # the residuals are relative to the source RGB
        hh, hw = x.shape[-2] // 2, x.shape[-1] // 2
        top, bot = x[..., :hh, :], x[..., hh:, :]
        quarters = (top[..., :hw], top[..., hw:], bot[..., :hw], bot[..., hw:])
        # stage 1: four quarter patches
        feats = [self.stage1_encoder(self.shallow_feat1(q)) for q in quarters]
        feat1_top, feat1_bot = _cat(feats[0], feats[1], 3), _cat(feats[2], feats[3], 3)
        res1_top, res1_bot = self.stage1_decoder(feat1_top), self.stage1_decoder(feat1_bot)
        sam_top, img1_top = self.sam12(res1_top[0], img[..., :hh, :])
        sam_bot, img1_bot = self.sam12(res1_bot[0], img[..., hh:, :])
        stage1 = torch.cat((img1_top, img1_bot), 2)
        # stage 2: two halves, cross-stage feature fusion
        x2_top = self.concat12(torch.cat((self.shallow_feat2(top), sam_top), 1))
        x2_bot = self.concat12(torch.cat((self.shallow_feat2(bot), sam_bot), 1))
        feat2 = _cat(
            self.stage2_encoder(x2_top, feat1_top, res1_top), self.stage2_encoder(x2_bot, feat1_bot, res1_bot), 2
        )
        res2 = self.stage2_decoder(feat2)
        sam3, stage2 = self.sam23(res2[0], img)
        # stage 3: full resolution
        x3 = self.concat23(torch.cat((self.shallow_feat3(x), sam3), 1))
        final = self.tail(self.stage3_orsnet(x3, feat2, res2)) + img
        return [out[..., :h, :w] for out in (final, stage2, stage1)]


_MPR = dict(size_multiple=1, output_range=(float("-inf"), float("inf")), multi_output=True, paper=_PAPER)


@register_model(**_MPR)
def mprnet(
    in_chans: int = IN_CHANNELS,
    n_feat: int = 16,
    scale_unetfeats: int = 8,
    scale_orsnetfeats: int = 8,
    num_cab: int = 4,
    reduction: int = 4,
) -> MPRNet:
    """MPRNet-style relighting sized for CPUs (n_feat 16, num_cab 4); outputs [final, stage2, stage1]."""
    return MPRNet(in_chans, n_feat, scale_unetfeats, scale_orsnetfeats, num_cab, reduction=reduction)


@register_model(**_MPR)
def mprnet_deblur(
    in_chans: int = IN_CHANNELS,
    n_feat: int = 96,
    scale_unetfeats: int = 48,
    scale_orsnetfeats: int = 32,
    num_cab: int = 8,
    reduction: int = 4,
) -> MPRNet:
    """MPRNet with the official deblurring widths (20.13 M); in_chans=3 loads the release strictly."""
    return MPRNet(in_chans, n_feat, scale_unetfeats, scale_orsnetfeats, num_cab, reduction=reduction)
