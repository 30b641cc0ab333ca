"""Inference engine: device/precision choice, padding, the 8-channel input, guide resizing."""

import numpy as np
import pytest
import torch

from relightcli import RelightError, model_info
from relightcli.hardware import cpu_capabilities
from relightcli.inference.engine import (
    Relighter,
    cpu_has_native_bf16,
    make_input,
    pad_to_multiple,
    resolve_device,
    resolve_precision,
    weights_dtype,
)

from .conftest import tiny_model


def test_device_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(RelightError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RelightError, match="no CUDA GPU is available here"):
            resolve_device("cuda:0")


def test_precision_resolution() -> None:
    info = model_info("s3net")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu, info) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert resolve_precision("auto", cuda, info) == "fp16"
    if cpu_capabilities().bf16_ok():  # native, or converted by oneDNN (AVX512 without AVX512-BF16)
        assert resolve_precision("bf16", cpu, info) == "bf16"
    else:  # AVX2 only: refused in one line (tests/test_hardware.py checks the message)
        with pytest.raises(RelightError, match="use --precision fp32"):
            resolve_precision("bf16", cpu, info)
    with pytest.raises(RelightError, match="fp16 is for CUDA"):
        resolve_precision("fp16", cpu, info)
    assert resolve_precision("int8", cpu, info) == "int8"
    with pytest.raises(RelightError, match="expected one of"):
        resolve_precision("int4", cpu, info)


def test_padding_reflects_and_falls_back_to_replicate_for_tiny_inputs() -> None:
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(1, 2, 3, 5)
    y = pad_to_multiple(x, 4)
    assert y.shape == (1, 2, 4, 8)
    assert torch.equal(y[..., :3, :5], x)
    assert torch.equal(y[..., 3, :5], x[..., 1, :])  # reflection: row 3 mirrors row 1
    one = pad_to_multiple(torch.ones(1, 8, 1, 1), 32)
    assert one.shape == (1, 8, 32, 32) and torch.equal(one, torch.ones_like(one))


def test_make_input_order_and_guide_resize() -> None:
    src = np.full((6, 10, 3), 0.1, np.float32)
    guide = np.full((3, 4, 3), 0.7, np.float32)
    x = make_input(src, np.full((6, 10), 0.2, np.float32), guide, np.full((3, 4), 0.9, np.float32))
    assert x.shape == (1, 8, 6, 10) and x.dtype == torch.float32
    expected = [0.1] * 3 + [0.7] * 3 + [0.2, 0.9]
    for c, v in enumerate(expected):
        assert torch.allclose(x[0, c], torch.tensor(v))


def test_relighter_returns_source_size_in_unit_range() -> None:
    relighter = Relighter(tiny_model(), device="cpu")
    rng = np.random.default_rng(0)
    out = relighter.relight(
        rng.random((45, 77, 3)), rng.random((45, 77)), rng.random((30, 20, 3)), rng.random((30, 20))
    )
    assert out.shape == (45, 77, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_padding_and_cropping_does_not_disturb_an_aligned_input() -> None:
    model = tiny_model()
    x = torch.rand(1, 8, 64, 64)
    with torch.inference_mode():
        direct = model(x).clamp(0, 1)
    assert torch.equal(Relighter(model, device="cpu", precision="fp32", optimize=False).run(x), direct)
    optimized = Relighter(model, device="cpu", precision="fp32").run(x)  # BN folded, channels_last
    assert (optimized - direct).abs().max() < 1e-5


def test_flip_ensemble_averages_the_mirrored_pass_and_is_mirror_equivariant() -> None:
    model = tiny_model()
    x = torch.rand(1, 8, 64, 64)
    plain = Relighter(model, device="cpu", precision="fp32", optimize=False)
    ensemble = Relighter(model, device="cpu", precision="fp32", optimize=False, flip_ensemble=True)
    mirrored = plain.run(x.flip(-1)).flip(-1)
    assert (plain.run(x) - mirrored).abs().max() > 1e-3  # a random network is not mirror-symmetric
    assert torch.allclose(ensemble.run(x), (plain.run(x) + mirrored) / 2, atol=1e-6)
    assert torch.allclose(ensemble.run(x.flip(-1)), ensemble.run(x).flip(-1), atol=1e-6)


def test_bf16_on_cpu_is_close_to_fp32() -> None:
    model = tiny_model()
    x = torch.rand(1, 8, 64, 64)
    if not cpu_capabilities().bf16_ok():  # an AVX2-only CPU: bf16 is refused, not emulated for minutes
        with pytest.raises(RelightError, match="use --precision fp32"):
            Relighter(model, device="cpu", precision="bf16")
        return
    fp32 = Relighter(model, device="cpu", precision="fp32").run(x)
    cast = Relighter(model, device="cpu", precision="bf16")  # the fast path: weights cast to bf16 once
    assert weights_dtype(cast.model) == torch.bfloat16 and weights_dtype(model) == torch.float32
    bf16 = cast.run(x)
    autocast = Relighter(model, device="cpu", precision="bf16", optimize=False).run(x)
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    assert (fp32 - bf16).abs().max() < 0.05  # random weights; bf16 has an 8-bit mantissa
    assert (fp32 - autocast).abs().max() < 0.05
    assert not torch.equal(bf16, fp32)  # it did run in bf16
