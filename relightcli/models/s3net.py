"""S3Net: A Single Stream Structure for Depth Guided Image Relighting (Yang et al., CVPRW 2021).

Faithful to the released model (NTIRE 2021 track 2, class ``Dehaze3``): a timm Res2Net encoder (stages 1-3,
8 input channels), ``DehazeBlock`` attention blocks, a parameter-free PixelShuffle decoder with two skip
concatenations, the EPDN-style enhancing module and a 7x7 tanh tail. Module names match the official
checkpoint so that its state dict loads strictly (the unused ``enhancer.batch1`` InstanceNorm of the release,
200 parameters, is dropped: the converter discards it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RelightError
from . import colour, lightcode, shading
from ._registry import IN_CHANNELS, register_model
from .lightnet import LightNet

HEADS = ("image", "ratio")
_PAPER = "Yang et al., S3Net: A Single Stream Structure for Depth Guided Image Relighting, CVPRW 2021"


def _conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=True)


class CALayer(nn.Module):
    """Channel attention (squeeze-and-excitation): pool, 1x1 d->d/8, ReLU, 1x1 d/8->d, sigmoid, multiply."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.ca = nn.Sequential(
            _conv(channels, channels // 8, 1), nn.ReLU(inplace=True), _conv(channels // 8, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.ca(self.avg_pool(x))


class PALayer(nn.Module):
    """Pixel (spatial) attention: 1x1 d->d/8, ReLU, 1x1 d/8->1, sigmoid, multiply."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pa = nn.Sequential(
            _conv(channels, channels // 8, 1), nn.ReLU(inplace=True), _conv(channels // 8, 1, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.pa(x)


class AttentionBlock(nn.Module):
    """The official ``DehazeBlock`` (from FFA-Net/KTDN): ``r = relu(conv1(x)) + x; r = PA(CA(conv2(r))); r + x``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = _conv(channels, channels, 3)
        self.calayer = CALayer(channels)
        self.palayer = PALayer(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.act1(self.conv1(x)) + x
        r = self.palayer(self.calayer(self.conv2(r)))
        return r + x


class Enhancer(nn.Module):
    """Enhancing module of EPDN (Qu et al., CVPR 2019) as used by S3Net: multi-scale average-pool pyramid.

    Two 3x3 convs (LeakyReLU 0.2) give ``f``; ``f`` is average-pooled with kernel = stride = 32, 16, 8, 4,
    each through its own 1x1 conv to one channel, LeakyReLU, nearest-upsampled back; the four maps and ``f``
    are concatenated and fused by a 3x3 conv and tanh.
    """

    POOLS = (32, 16, 8, 4)

    def __init__(self, channels: int = 28, width: int = 20) -> None:
        super().__init__()
        self.refine1 = _conv(channels, width, 3)
        self.refine2 = _conv(width, width, 3)
        self.conv1010 = _conv(width, 1, 1)
        self.conv1020 = _conv(width, 1, 1)
        self.conv1030 = _conv(width, 1, 1)
        self.conv1040 = _conv(width, 1, 1)
        self.refine3 = _conv(width + len(self.POOLS), channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = F.leaky_relu(self.refine1(x), 0.2)
        f = F.leaky_relu(self.refine2(f), 0.2)
        size = f.shape[-2:]
        branches = [
            F.interpolate(F.leaky_relu(conv(F.avg_pool2d(f, k)), 0.2), size=size, mode="nearest")
            for conv, k in zip((self.conv1010, self.conv1020, self.conv1030, self.conv1040), self.POOLS, strict=True)
        ]
        return torch.tanh(self.refine3(torch.cat([*branches, f], dim=1)))


class S3Net(nn.Module):
    """S3Net encoder-decoder; input ``(B, 8, H, W)`` with H, W multiples of 32, output ``(B, 3, H, W)`` in [-1, 1].

    Args:
        encoder: Name of a timm Res2Net (``res2net101d`` is the released model's Res2Net-101 v1b 26w_4s).
        pretrained_backbone: ImageNet weights for the encoder: ``True`` fetches them through timm (needs the
            hub), a string is a local weights file, ``False`` starts from random initialisation.
        encoder_args: Extra keyword arguments for ``timm.create_model`` (e.g. ``layers`` for a shallower
            encoder); the decoder's widths follow the encoder's stage channels.
        head: ``"image"`` is the released tail (7x7 conv, tanh: the image itself). ``"ratio"`` predicts, in
            the intrinsic-image convention I = albedo x shading, a per-pixel colour gain and offset applied to
            the source, ``out = src * exp(2 tanh(g)) + 0.5 tanh(b)`` (the target/source shading ratio is smooth
            where the image is textured, so 1/4-resolution features no longer blur the texture). ``g`` and ``b``
            are the 7x7 tail's output plus an image-wide term from the pooled deepest features (the colour
            temperature change is global); both start at zero, i.e. at the identity.
        physical: Feed the encoder `shading.CHANNELS` physically guided channels computed from the input
            (normals from both depths, the source's Lambertian shading under the guide's and under its own
            least-squares light estimate) after the usual 8, and the two shading maps to the tail as well (a
            direct path to the gain: where the guide's light shades the source more than its own, brighten);
            the model's input stays ``(B, 8, H, W)``.
        light_code: Condition the deepest features on `shading.light_code` (both light estimates and their
            cosine): a small MLP gives a per-channel scale and shift (FiLM: Perez et al., AAAI 2018) applied
            before the decoder and the global head. Its last layer starts at zero, i.e. at the unconditioned model.
        colour_code: Add to the ratio head's image-wide gain and offset a small MLP of `colour.colour_code` (the
            shades-of-grey statistics of source and guide): a direct path from the guide's light colour to the
            source's colour change. Its last layer starts at zero.
        told_light: Tell the network the source's and the target's light as `lightcode` codes (VIDIT's classes,
            as probabilities). ``forward(x, source_light=None, target_light=None)`` takes them, exact (a known
            setting, ``relight apply --light``) or read from the photos by ``light_reader``, a frozen copy of
            the light estimator (`relightcli.light`) that the checkpoint carries. Three paths use them: a FiLM of
            the deepest features on both codes; a 5x5 table of per-channel log gains from source to target
            temperature, added to the ratio head's gain; and a *same-direction path*: where the direction does
            not change, the light's colour is all that changes, so the output is the source times an image-wide
            colour gain (no per-pixel term, so shadows cannot move). The two outputs are mixed by the
            probability that the direction is unchanged (1 for a known same-direction setting). The FiLM and the
            table start at zero.
        reading_sharpness: Multiplies the light reader's logits before the softmax (the inverse of a softmax
            temperature, as in temperature scaling, Guo et al., ICML 2017): above 1, read codes come nearer the
            one-hot codes of known settings. Fitted on validation pairs (`benchmarks/reading_sharpness.py`).
        gate_sharpness: The same, for the mix of the same-direction path alone: the probability that the
            direction is unchanged is computed from both codes' direction probabilities raised to this power and
            renormalised (a softmax of the logits times it), while the FiLM and the table see the codes as read.
            Above 1, two readings that agree on a direction commit to the colour-only path, and two that disagree
            to the per-pixel one. Known settings (one-hot codes) are unaffected.
        reader_size: The light reader's working size (its ``input_size``: the photos are read resized to it).
        gate_reader_size: With a positive size, a second frozen light estimator, ``gate_reader`` (read at that
            size), gives the direction probabilities of the lights the model reads for the same-direction
            weight alone, while the FiLM and the table keep ``light_reader``'s codes, the ones the network was
            trained on: that weight is a decision (keep the shadows or move them), best taken by the most
            accurate reader, and a reader swapped under the FiLM shifts what it was trained to see. A light
            given as a code (``--light``) gives its own direction. 0 (the default): ``light_reader`` gives both.
        second_gate_reader_size: With a positive size (and a gate reader), a third frozen estimator,
            ``second_gate_reader``, reads the directions beside ``gate_reader``: the weight is then computed from
            the mean of the two readers' log-probabilities (a product of experts, as `relight light` reads the
            direction with both shipped estimators). 0 (the default): ``gate_reader`` alone.
    """

    size_multiple = 32

    def __init__(
        self,
        encoder: str = "res2net101d",
        pretrained_backbone: bool | str = False,
        encoder_args: dict[str, Any] | None = None,
        head: str = "image",
        physical: bool = False,
        light_code: bool = False,
        colour_code: bool = False,
        told_light: bool = False,
        reading_sharpness: float = 1.0,
        gate_sharpness: float = 1.0,
        reader_size: int = 128,
        gate_reader_size: int = 0,
        second_gate_reader_size: int = 0,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise RelightError(f"unknown S3Net head {head!r}; choose one of {', '.join(HEADS)}")
        if colour_code and head != "ratio":
            raise RelightError("colour_code needs the ratio head (it adds to its image-wide gain and offset)")
        if told_light and head != "ratio":
            raise RelightError("told_light needs the ratio head (its same-direction path is a gain on the source)")
        self.head = head
        self.reading_sharpness = float(reading_sharpness)
        self.gate_sharpness = float(gate_sharpness)
        self.physical = physical
        in_chans = IN_CHANNELS + (shading.CHANNELS if physical else 0)
        self.encoder = _create_encoder(encoder, pretrained_backbone, encoder_args or {}, in_chans)
        c1, c2, c3 = self.encoder.feature_info.channels()
        d1 = c3 // 4
        d2 = (d1 + c2) // 4
        d3 = (d2 + c1) // 16
        if c3 % 4 or (d1 + c2) % 4 or (d2 + c1) % 16:
            raise RelightError(f"encoder {encoder!r} stage widths {c1, c2, c3} do not fit S3Net's PixelShuffle decoder")
        self.light_film: nn.Sequential | None = None
        if light_code:
            self.light_film = nn.Sequential(nn.Linear(shading.CODE, 64), nn.ReLU(inplace=True), nn.Linear(64, 2 * c3))
            nn.init.zeros_(self.light_film[2].weight)
            nn.init.zeros_(self.light_film[2].bias)
        self.light_reader: LightNet | None = None
        if told_light:
            self.light_reader = LightNet(input_size=reader_size).requires_grad_(False).eval()
            code = 2 * lightcode.CODE
            self.code_film = nn.Sequential(nn.Linear(code, 64), nn.ReLU(inplace=True), nn.Linear(64, 2 * c3))
            nn.init.zeros_(self.code_film[2].weight)
            nn.init.zeros_(self.code_film[2].bias)
            n_t = lightcode.N_TEMPERATURES
            self.temperature_gain = nn.Parameter(torch.zeros(n_t, n_t, 3))
        self.gate_reader: LightNet | None = None
        if told_light and gate_reader_size:
            self.gate_reader = LightNet(input_size=gate_reader_size).requires_grad_(False).eval()
        self.second_gate_reader: LightNet | None = None
        if self.gate_reader is not None and second_gate_reader_size:
            self.second_gate_reader = LightNet(input_size=second_gate_reader_size).requires_grad_(False).eval()
        self.mid_conv = AttentionBlock(c3)
        self.attention1 = AttentionBlock(d1)
        self.attention2 = AttentionBlock(d2)
        self.enhancer = Enhancer(d3)
        tail_in = d3 + (shading.SHADING_MAPS if physical else 0)
        if head == "image":
            self.tail = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(tail_in, 3, 7), nn.Tanh())
        else:
            self.tail = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(tail_in, 6, 7))
            # image-wide part of the gain and offset (the colour temperature change), from pooled deepest features
            self.global_head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), _conv(c3, c3 // 8, 1), nn.ReLU(inplace=True), _conv(c3 // 8, 6, 1)
            )
            for conv in (self.tail[1], self.global_head[3]):
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
        self.colour_mlp: nn.Sequential | None = None
        if colour_code:
            self.colour_mlp = nn.Sequential(nn.Linear(colour.CODE, 64), nn.ReLU(inplace=True), nn.Linear(64, 6))
            nn.init.zeros_(self.colour_mlp[2].weight)
            nn.init.zeros_(self.colour_mlp[2].bias)

    def train(self, mode: bool = True) -> S3Net:
        """As `nn.Module.train`, but the light readers stay frozen in eval mode (their BatchNorm statistics too)."""
        super().train(mode)
        for reader in (self.light_reader, self.gate_reader, self.second_gate_reader):
            if reader is not None:
                reader.eval()
        return self

    def read_lights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The source's and the guide's light codes ``(B, 13)`` (fp32) read by ``light_reader`` from a model input,
        each averaged with the reading of its mirror image (so a mirrored input gets exactly mirrored codes)."""
        assert self.light_reader is not None
        n = x.shape[0]
        codes = read_codes(self.light_reader, torch.cat([x[:, :3], x[:, 3:6]]), self.reading_sharpness)
        return codes[:n], codes[n:]

    def read_directions(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The source's and the guide's direction probabilities ``(B, 8)`` (fp32) read by ``gate_reader`` (and
        ``second_gate_reader``: `read_gate_directions`), as `read_lights` reads codes, for the same-direction
        weight."""
        assert self.gate_reader is not None
        n = x.shape[0]
        readers = [r for r in (self.gate_reader, self.second_gate_reader) if r is not None]
        directions = read_gate_directions(readers, torch.cat([x[:, :3], x[:, 3:6]]))
        return directions[:n], directions[n:]

    def forward(
        self,
        x: torch.Tensor,
        source_light: torch.Tensor | None = None,
        target_light: torch.Tensor | None = None,
        source_direction: torch.Tensor | None = None,
        target_direction: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``source_light``/``target_light``: codes ``(B, 13)`` (a model told the lights reads those not given);
        ``source_direction``/``target_direction``: direction probabilities ``(B, 8)`` for the same-direction
        weight alone (``gate_reader`` reads those of lights not given; a given code gives its own direction)."""
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"S3Net needs sides that are multiples of 32, got {h}x{w} (relightcli.inference.engine pads)"
            )
        src, inputs = x[:, :3], x[:, :IN_CHANNELS]  # the 8 input channels, before any physical ones
        codes: tuple[torch.Tensor, torch.Tensor] | None = None
        gate: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.light_reader is not None:
            # the directions the gate reader reads: those of lights neither given as codes nor as directions
            read = (
                source_light is None and source_direction is None,
                target_light is None and target_direction is None,
            )
            if source_light is None or target_light is None:
                read_src, read_guide = self.read_lights(inputs)
                source_light = read_src if source_light is None else source_light
                target_light = read_guide if target_light is None else target_light
            if self.gate_reader is not None and any(read):
                dir_src, dir_guide = self.read_directions(inputs)
                source_direction = dir_src if read[0] else source_direction
                target_direction = dir_guide if read[1] else target_direction
            codes = (source_light.float().to(x.device), target_light.float().to(x.device))
            gate = tuple(  # type: ignore[assignment]
                (code if d is None else d).float().to(x.device)
                for code, d in zip(codes, (source_direction, target_direction), strict=True)
            )
        if self.physical:
            physical = shading.shading_inputs(x).to(x.dtype)
            x = torch.cat([x, physical], dim=1)
        layer1, layer2, layer3 = self.encoder(x)
        if self.light_film is not None:
            film = self.light_film(shading.light_code(inputs).to(x.dtype))[:, :, None, None]
            scale, shift = film.chunk(2, dim=1)
            layer3 = layer3 * (1.0 + scale) + shift
        if codes is not None:
            film = self.code_film(torch.cat(codes, dim=1).to(layer3.dtype))[:, :, None, None]
            scale, shift = film.chunk(2, dim=1)
            layer3 = layer3 * (1.0 + scale) + shift
        x = F.pixel_shuffle(self.mid_conv(layer3), 2)
        x = self.attention1(x)
        x = F.pixel_shuffle(torch.cat((x, layer2), dim=1), 2)
        x = self.attention2(x)
        x = F.pixel_shuffle(F.pixel_shuffle(torch.cat((x, layer1), dim=1), 2), 2)  # two shuffles of 2, not one of 4
        x = self.enhancer(x)
        if self.physical:
            x = torch.cat([x, physical[:, -shading.SHADING_MAPS :]], dim=1)
        out = self.tail(x)
        if self.head == "ratio":
            wide = self.global_head(layer3)
            if self.colour_mlp is not None:
                wide = wide + self.colour_mlp(colour.colour_code(inputs).to(wide.dtype))[:, :, None, None]
            out = out + wide
            gain, offset = out[:, :3], out[:, 3:]
            if codes is None:
                return src * torch.exp(2.0 * torch.tanh(gain)) + 0.5 * torch.tanh(offset)
            assert gate is not None
            return self._told_output(src, gain, offset, wide[:, :3], *codes, *gate)
        return out

    def _told_output(
        self,
        src: torch.Tensor,
        gain: torch.Tensor,
        offset: torch.Tensor,
        wide_gain: torch.Tensor,
        source_light: torch.Tensor,
        target_light: torch.Tensor,
        source_direction: torch.Tensor,
        target_direction: torch.Tensor,
    ) -> torch.Tensor:
        """The ratio head told the lights: the per-pixel relighting and the same-direction colour-only path,
        mixed by the probability that the direction is unchanged (from the directions, which may be another
        reader's than the codes')."""
        n_d = lightcode.N_DIRECTIONS
        gains = self.temperature_gain.float()
        table = torch.einsum("bi,bj,ijc->bc", source_light[:, n_d:], target_light[:, n_d:], gains)
        table = torch.tanh(table)[:, :, None, None].to(gain.dtype)
        relit = src * torch.exp(2.0 * torch.tanh(gain) + table) + 0.5 * torch.tanh(offset)
        recoloured = src * torch.exp(2.0 * torch.tanh(wide_gain) + table)
        same = lightcode.same_direction(source_direction, target_direction, self.gate_sharpness)
        same = same[:, None, None, None].to(relit.dtype)
        return same * recoloured + (1.0 - same) * relit


def read_codes(reader: LightNet, images: torch.Tensor, sharpness: float = 1.0) -> torch.Tensor:
    """Light codes ``(N, 13)`` (fp32) of RGB images ``(N, 3, H, W)`` in [0, 1] read by a light estimator network:
    its logits averaged with those of the mirror image read back (`lightcode.mirror_code`), times ``sharpness``
    (`S3Net.reading_sharpness`), then a softmax per group. What `S3Net.read_lights` and the inference engine read."""
    with shading.full_precision(images):
        size = (reader.input_size,) * 2
        small = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        dtype = next(reader.parameters()).dtype
        logits = reader(torch.cat([small, small.flip(-1)]).to(dtype)).float()
        n = images.shape[0]
        logits = (logits[:n] + lightcode.mirror_code(logits[n:])) / 2
        return lightcode.code_from_logits(logits * sharpness)


def read_gate_directions(readers: Sequence[LightNet], images: torch.Tensor) -> torch.Tensor:
    """Direction probabilities ``(N, 8)`` (fp32) of RGB images ``(N, 3, H, W)`` read by one or more light
    estimators (`read_codes`, each with the flip ensemble); with several, their product of experts
    (`lightcode.product_of_experts`), as `relight light` reads a direction with two networks."""
    probs = [read_codes(reader, images)[:, : lightcode.N_DIRECTIONS] for reader in readers]
    if len(probs) == 1:
        return probs[0]
    return lightcode.product_of_experts([p.clamp_min(1e-12).log() for p in probs]).softmax(dim=1)


def _create_encoder(name: str, pretrained: bool | str, extra: dict[str, Any], in_chans: int = IN_CHANNELS) -> nn.Module:
    """A timm Res2Net as a feature extractor for layer1-3 (strides 4, 8, 16) with ``in_chans`` input channels."""
    if not name.startswith("res2ne"):
        raise RelightError(f"S3Net's encoder must be a timm Res2Net (res2net*, res2next*), got {name!r}")
    import timm  # here, not at the top: timm (and torchvision with it) costs seconds to import

    kwargs: dict[str, Any] = dict(features_only=True, out_indices=(1, 2, 3), in_chans=in_chans, **extra)
    if isinstance(pretrained, str):
        kwargs["pretrained_cfg_overlay"] = dict(file=pretrained)
    try:
        return timm.create_model(name, pretrained=bool(pretrained), **kwargs)
    except RuntimeError as exc:  # unknown timm model name
        if "Unknown model" in str(exc):
            raise RelightError(f"timm has no encoder named {name!r}") from exc
        raise
    except (OSError, ValueError) as exc:  # hub unreachable, offline mode, or unreadable local file
        raise RelightError(
            f"cannot load ImageNet weights for encoder {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "connect to the Hugging Face hub, pass a local weights file, or train without --pretrained-backbone"
        ) from exc


@register_model(size_multiple=32, output_range=(-1.0, 1.0), paper=_PAPER, int8_safe=True)
def s3net(
    encoder: str = "res2net101d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """S3Net as released for NTIRE 2021 (Res2Net-101 v1b encoder, 49.35 M parameters)."""
    return S3Net(encoder=encoder, pretrained_backbone=pretrained_backbone, encoder_args=encoder_args)


@register_model(size_multiple=32, output_range=(-1.0, 1.0), paper=_PAPER, int8_safe=True)
def s3net_res2net50d(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """Lighter S3Net with a Res2Net-50 v1b encoder (same decoder)."""
    return S3Net(encoder=encoder, pretrained_backbone=pretrained_backbone, encoder_args=encoder_args)


LITE_ENCODER: dict[str, Any] = {"layers": [2, 2, 2, 2], "channels": [32, 64, 128, 256], "stem_width": 16}
"""Res2Net-50 v1b at half width with two blocks per stage: stage outputs 128/256/512 channels.

Checkpoints of ``s3net_lite`` (the shipped default weights among them) rely on these values: never change them;
register a new name for another configuration."""


def _lite(encoder: str, pretrained_backbone: bool | str, encoder_args: dict[str, Any] | None, **kw: Any) -> S3Net:
    """An S3Net on `LITE_ENCODER` (``encoder_args`` override its values), with the given head options."""
    return S3Net(encoder, pretrained_backbone, {**LITE_ENCODER, **(encoder_args or {})}, **kw)


@register_model(size_multiple=32, output_range=(-1.0, 1.0), paper=_PAPER, int8_safe=True)
def s3net_lite(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """CPU-sized S3Net: half-width, shallower Res2Net-50 v1b encoder; the decoder follows its widths."""
    return _lite(encoder, pretrained_backbone, encoder_args)


RATIO_RANGE = (-0.5, 0.5 + math.exp(2.0))
"""Bounds of the ``ratio`` head's raw output: source in [0, 1] times a gain in [e^-2, e^2] plus an offset in
[-0.5, 0.5]."""


@register_model(size_multiple=32, output_range=RATIO_RANGE, paper=_PAPER, int8_safe=True, int8_fp32=("global_head",))
def s3net_lite_ratio(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """s3net_lite with the ratio head: relights by a per-pixel colour gain and offset on the source image."""
    return _lite(encoder, pretrained_backbone, encoder_args, head="ratio")


@register_model(size_multiple=32, output_range=RATIO_RANGE, paper=_PAPER, int8_fp32=("global_head",))
def s3net_lite_shading(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """s3net_lite_ratio plus physically guided inputs: normals and Lambertian shading from the depths."""
    return _lite(encoder, pretrained_backbone, encoder_args, head="ratio", physical=True)


@register_model(size_multiple=32, output_range=RATIO_RANGE, paper=_PAPER, int8_fp32=("global_head",))
def s3net_lite_lightcode(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """s3net_lite_ratio with its deepest features conditioned on least-squares light estimates of both images."""
    return _lite(encoder, pretrained_backbone, encoder_args, head="ratio", light_code=True)


@register_model(size_multiple=32, output_range=RATIO_RANGE, paper=_PAPER, int8_safe=True, int8_fp32=("global_head",))
def s3net_lite_lightcolour(
    encoder: str = "res2net50d", pretrained_backbone: bool | str = False, encoder_args: dict[str, Any] | None = None
) -> S3Net:
    """s3net_lite_lightcode whose image-wide colour change also reads the shades-of-grey statistics of both."""
    return _lite(encoder, pretrained_backbone, encoder_args, head="ratio", light_code=True, colour_code=True)


TOLD_RANGE = (-0.5, 0.5 + math.exp(3.0))
"""Bounds of a model told the lights: the ratio head's, with the temperature table's gain in [e^-1, e] on top."""


LEGACY_READER_SIZE = 128
"""The light reader's working size in checkpoints that do not record ``reader_size`` (all made before it)."""


@register_model(
    size_multiple=32,
    output_range=TOLD_RANGE,
    paper=_PAPER,
    int8_safe=True,
    int8_fp32=("global_head", "light_reader", "gate_reader", "second_gate_reader", "code_film"),
    told_light=True,
    unrecorded={"reader_size": LEGACY_READER_SIZE},
)
def s3net_lite_lightaware(
    encoder: str = "res2net50d",
    pretrained_backbone: bool | str = False,
    encoder_args: dict[str, Any] | None = None,
    light_weights: str | None = "default",
    reading_sharpness: float = 1.0,
    gate_sharpness: float = 1.0,
    reader_size: int | None = None,
    gate_reader_size: int = 0,
    gate_weights: str | None = "default",
    second_gate_reader_size: int = 0,
    second_gate_weights: str | None = None,
) -> S3Net:
    """s3net_lite_lightcolour told the source's and target's light (read, or exact with --light): FiLM codes and
    a colour-only path where the direction stays.

    ``light_weights``: the light reader's starting weights, ``"default"`` for the shipped light estimator (a
    checkpoint of this model carries its own), ``None`` for none (random, as in tests). ``reading_sharpness``,
    ``gate_sharpness``, ``reader_size``, ``gate_reader_size``: see `S3Net`. ``reader_size`` left out is the working
    size of the estimator in ``light_weights`` (recorded with the model, so its checkpoints say it), or
    `LEGACY_READER_SIZE` without one: checkpoints that do not record it were all made with readers of that size.
    ``gate_weights``: the gate reader's weights when ``gate_reader_size`` is positive (``"default"``: the shipped
    light estimator; ``None``: random, as for a checkpoint that carries its own); `relight export --gate-weights`
    gives a relighter one. ``second_gate_reader_size`` and ``second_gate_weights``: a second gate reader, the same
    way (``relight export --gate-weights A --gate-weights B``; ``None``: random)."""
    for name, value in (("reading_sharpness", reading_sharpness), ("gate_sharpness", gate_sharpness)):
        if not (math.isfinite(value) and value > 0):
            raise RelightError(f"{name} must be a positive number, got {value}")
    if light_weights == "default":
        from ..assets import default_light_weights

        light_weights = str(default_light_weights())
    settled = {}
    if reader_size is None:
        reader_size = LEGACY_READER_SIZE if light_weights is None else _estimator_size(light_weights)
        settled = {"reader_size": reader_size} if light_weights is not None else {}
    if not (isinstance(reader_size, int) and not isinstance(reader_size, bool) and reader_size >= 16):
        raise RelightError(f"reader_size must be a whole number of pixels, at least 16, got {reader_size}")
    for name, size in (("gate_reader_size", gate_reader_size), ("second_gate_reader_size", second_gate_reader_size)):
        whole = isinstance(size, int) and not isinstance(size, bool)
        if not whole or (size != 0 and size < 16):
            raise RelightError(f"{name} must be 0 (none) or a whole number, at least 16, got {size}")
    if second_gate_reader_size and not gate_reader_size:
        raise RelightError("second_gate_reader_size needs a gate reader (gate_reader_size) beside it")
    model = _lite(
        encoder,
        pretrained_backbone,
        encoder_args,
        head="ratio",
        light_code=True,
        colour_code=True,
        told_light=True,
        reading_sharpness=reading_sharpness,
        gate_sharpness=gate_sharpness,
        reader_size=reader_size,
        gate_reader_size=gate_reader_size,
        second_gate_reader_size=second_gate_reader_size,
    )
    assert model.light_reader is not None
    model.relight_settled_args = settled
    if next(model.parameters()).device.type != "meta":
        _load_reader(model.light_reader, light_weights, "light_weights")
        if model.gate_reader is not None:
            _load_reader(model.gate_reader, gate_weights, "gate_weights")
        if model.second_gate_reader is not None:
            _load_reader(model.second_gate_reader, second_gate_weights, "second_gate_weights")
    return model


def _load_reader(reader: LightNet, weights: str | None, option: str) -> None:
    """Load a light estimator's weights into a frozen reader (``"default"``: the shipped estimator; ``None``:
    leave it as built)."""
    if weights is None:
        return
    if weights == "default":
        from ..assets import default_light_weights

        weights = str(default_light_weights())
    from safetensors.torch import load_file  # not relightcli.checkpoint: it imports this module

    try:
        reader.load_state_dict(load_file(weights))
    except Exception as exc:  # a missing, truncated or foreign file, or one of another working size
        raise RelightError(f"{option} {weights}: not a light estimator's weights ({exc})") from None


def _estimator_size(path: str) -> int:
    """The working size (``input_size``) a light estimator checkpoint records; 128, light_net's default, if none."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        size = json.loads(meta.get("model_args", "{}")).get("input_size", 128)
    except Exception as exc:  # a missing, truncated or foreign file
        raise RelightError(f"light_weights {path}: not a light estimator's weights ({exc})") from None
    return int(size)


WIDENS = {
    "s3net_lite_shading": "s3net_lite_ratio",
    "s3net_lite_lightcode": "s3net_lite_ratio",
    "s3net_lite_lightcolour": "s3net_lite_lightcode",
    "s3net_lite_lightaware": "s3net_lite_lightcolour",
}
"""Models whose weights can start from another's (`widen_input`): the same network with more inputs."""


def widen_input(state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weights fitted to a wider model whose freshly built weights are ``fresh``.

    Every convolution with more inputs in ``fresh`` is zero-padded; weights the checkpoint lacks (added modules,
    built to start at the identity) keep their fresh values. The widened model computes exactly what the
    checkpoint did and training learns how much to use what was added.
    """
    widened = {**{k: v for k, v in fresh.items() if k not in state}, **state}
    for name, w in state.items():
        want = fresh[name].shape if name in fresh else None
        if (
            want is not None
            and w.ndim == 4
            and w.shape[0] == want[0]
            and w.shape[2:] == want[2:]
            and want[1] > w.shape[1]
        ):
            widened[name] = torch.cat([w, w.new_zeros((w.shape[0], want[1] - w.shape[1], *w.shape[2:]))], dim=1)
    return widened
