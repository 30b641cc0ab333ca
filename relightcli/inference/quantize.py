"""Static int8 inference for CPUs without native bf16 (post-training quantization, PyTorch FX graph mode, oneDNN).

On an AVX2-only CPU fp32 convolutions already run at the fp32 matmul limit, so being faster needs cheaper
multiplies: int8 convolutions (oneDNN runs them on AVX2 with ``vpmaddubsw``). Each top-level child of the model
that holds convolutions (except those its `ModelInfo.int8_fp32` names) is traced with ``torch.fx``, given
observers (per-channel symmetric int8 weights, per-tensor uint8 activations from histograms: PyTorch's default
oneDNN configuration), calibrated on relighting inputs built from the bundled samples and light presets, and
converted. Values cross child boundaries in fp32. Measured with oneDNN capped at AVX2: S3Net 512x512 2.42x the
released code's fp32 eager, the shipped weights 1.67x the fp32 default path at 1024x1024 and 50.2 dB PSNR from
fp32 (`benchmarks/cpu_fast_path.py --as-avx2 --int8`).

Every quantized model is checked against the fp32 model on a held-back calibration input: below
`MIN_PSNR_DB` the caller falls back to fp32 (`Int8Unsuitable`), so a checkpoint that does not survive int8 is
never served in int8.
"""

from __future__ import annotations

import contextlib
import copy
import warnings

import numpy as np
import torch
from torch import nn

from ..errors import RelightError

MIN_PSNR_DB = 40.0
"""An int8 model must stay at least this close to fp32 (PSNR on a held-back input) to be used."""
CALIBRATION_SIZE = 128


class Int8Unsuitable(RelightError):
    """The model lost too much accuracy in int8 (or could not be quantized); the caller uses fp32."""


def calibration_inputs(size: int = CALIBRATION_SIZE) -> list[torch.Tensor]:
    """Relighting inputs ``(1, 8, size, size)`` from the bundled samples (each source with its own guide and
    with a light preset of another setting): real images, so the activations' ranges are those of use."""
    import cv2

    from ..assets import preset, samples
    from ..data.vidit import SETTINGS
    from ..io import read_depth, read_image
    from .tensors import make_input

    def load(image, depth) -> tuple[np.ndarray, np.ndarray]:
        rgb, d = read_image(image).rgb, read_depth(depth)
        return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA), cv2.resize(d, (size, size))

    inputs = []
    for k, s in enumerate(samples()):
        src, src_d = load(s.src, s.src_depth)
        inputs.append(make_input(src, src_d, *load(s.guide, s.guide_depth)))
        inputs.append(make_input(src, src_d, *load(*preset(SETTINGS[(7 + 13 * k) % len(SETTINGS)]))))
    return inputs


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return 100.0 if mse == 0 else 10 * float(np.log10(1.0 / mse))


def _first(y: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    return y[0] if isinstance(y, (list, tuple)) else y


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():  # FX graph mode quantization is "deprecated in favour of torchao": still here
        warnings.simplefilter("ignore")
        yield


class QuietInt8(nn.Module):
    """An int8 model that keeps PyTorch's per-call notes about quantized concatenations to itself."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.relight_info = model.relight_info
        self.relight_args = getattr(model, "relight_args", {})

    def forward(self, x: torch.Tensor, **lights: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        with _quiet():
            return self.model(x, **lights)


def quantize_int8(
    model: nn.Module, calibration: list[torch.Tensor] | None = None, *, check: bool = True
) -> tuple[nn.Module, float]:
    """An int8 copy of ``model`` (eval, BatchNorm already folded is best), wrapped in `QuietInt8`, and its PSNR
    from fp32 on a held-back calibration input; `Int8Unsuitable` if nothing could be quantized or (with ``check``)
    the PSNR is below `MIN_PSNR_DB`."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if not int8_available():
        raise Int8Unsuitable("this PyTorch has no oneDNN int8 engine")
    torch.backends.quantized.engine = "onednn"  # process-wide: the int8 kernels oneDNN runs on AVX2 and newer
    from .tensors import pad_to_multiple

    info = model.relight_info
    calibration = [pad_to_multiple(x, info.size_multiple) for x in (calibration or calibration_inputs())]
    held_back, fit = calibration[0], calibration[1:] or calibration
    q = copy.deepcopy(model).eval()
    names = [
        n
        for n, child in q.named_children()
        if n not in info.int8_fp32 and any(isinstance(m, nn.Conv2d) for m in child.modules())
    ]
    seen: dict[str, tuple] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, out: object) -> None:  # returns None: the output stays as it is
            seen.setdefault(name, args)

        return hook

    hooks = [getattr(q, n).register_forward_hook(record(n)) for n in names]
    with torch.inference_mode():
        q(fit[0])
    for h in hooks:
        h.remove()
    with warnings.catch_warnings():
        # On CPUs without VNNI PyTorch warns that this configuration (8-bit activations, no reduce_range) "may have
        # accuracy issues". Measured on one (AVX2 AMD EPYC, the shipped weights, six relighting inputs at 256x256):
        # 47.1-49.9 dB PSNR from fp32 as is, 42.8-45.0 dB with reduce_range; and every model is checked below.
        warnings.filterwarnings("ignore", message="Default qconfig of oneDNN backend")
        mapping = get_default_qconfig_mapping("onednn")
    prepared = []
    with _quiet():
        for n in names:
            if n not in seen:
                continue  # not called in forward
            try:
                setattr(q, n, prepare_fx(getattr(q, n), mapping, example_inputs=seen[n]))
                prepared.append(n)
            except Exception:  # untraceable control flow: this child stays fp32
                continue
        if not prepared:
            raise Int8Unsuitable("no part of the model could be traced for int8")
        with torch.inference_mode():
            for x in fit:
                q(x)
        for n in prepared:
            setattr(q, n, convert_fx(getattr(q, n)))
    q.relight_info, q.relight_args = info, getattr(model, "relight_args", {})
    q = QuietInt8(q)
    if not check:
        return q, float("nan")
    with torch.inference_mode():
        psnr = _psnr(_first(q(held_back)), _first(model(held_back)))
    if psnr < MIN_PSNR_DB:
        raise Int8Unsuitable(f"int8 output is {psnr:.1f} dB from fp32 (below {MIN_PSNR_DB:.0f} dB)")
    return q, psnr


def int8_available() -> bool:
    """Whether this PyTorch can run oneDNN int8 convolutions."""
    return "onednn" in torch.backends.quantized.supported_engines
