"""Static int8 inference (`relightcli.inference.quantize`): accuracy on the shipped weights, the fp32 fallback,
auto's rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import relightcli
from relightcli import RelightError, model_info
from relightcli.assets import default_weights, samples
from relightcli.cli import app
from relightcli.inference.engine import Relighter, optimize_for_inference, resolve_precision
from relightcli.inference.quantize import MIN_PSNR_DB, QuietInt8, calibration_inputs, int8_available, quantize_int8
from relightcli.inference.tensors import make_input
from relightcli.io import read_depth, read_image

pytestmark = pytest.mark.skipif(not int8_available(), reason="this PyTorch build has no oneDNN int8 engine")
runner = CliRunner()


def _sample_input(k: int) -> torch.Tensor:
    s = samples()[k]
    return make_input(
        read_image(s.src).rgb, read_depth(s.src_depth), read_image(s.guide).rgb, read_depth(s.guide_depth)
    )


def test_int8_keeps_the_shipped_weights_within_40_db_of_fp32() -> None:
    model = optimize_for_inference(relightcli.load_model(default_weights()), fold_bn=True)
    calibration = calibration_inputs()
    assert len(calibration) == 6 and calibration[0].shape == (1, 8, 128, 128)
    q, held_back = quantize_int8(model, calibration)
    assert isinstance(q, QuietInt8) and held_back >= MIN_PSNR_DB
    assert any(".quantized." in type(m).__module__ for m in q.modules())  # int8 convolutions are really there
    x = _sample_input(2)  # a full-size 256x256 sample, not the calibration's 128x128 copies
    with torch.inference_mode():
        ref, out = model(x).clamp(0, 1), q(x).clamp(0, 1)
    psnr = 10 * np.log10(1.0 / float(((ref - out) ** 2).mean()))
    assert psnr >= MIN_PSNR_DB, psnr


def test_relighter_int8_and_its_fallback_to_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = relightcli.load_model(default_weights())
    x = _sample_input(1)
    relighter = Relighter(weights, device="cpu", precision="int8")
    assert relighter.precision == "int8" and relighter.int8_psnr >= MIN_PSNR_DB
    fp32 = Relighter(weights, device="cpu", precision="fp32").run(x)
    assert (relighter.run(x) - fp32).abs().mean() < 0.01
    said: list[str] = []
    monkeypatch.setattr(
        "relightcli.inference.quantize.MIN_PSNR_DB", 1000.0
    )  # no model is that close: int8 must be refused
    fallback = Relighter(weights, device="cpu", precision="int8", on_message=said.append)
    assert fallback.precision == "fp32" and len(said) == 1 and "int8 not used" in said[0]
    assert (fallback.run(x) - fp32).abs().max() < 1e-5


def test_auto_picks_int8_for_folders_of_int8_safe_models_on_cpus_without_native_bf16(avx2_cpu) -> None:
    cpu = torch.device("cpu")
    s3net, formresnet = model_info("s3net_lite_ratio"), model_info("formresnet")
    assert s3net.int8_safe and not formresnet.int8_safe
    assert resolve_precision("auto", cpu, s3net, many=True) == "int8"  # calibration pays off over a folder
    assert resolve_precision("auto", cpu, s3net) == "fp32"  # one image: the ~2 s calibration would not
    assert resolve_precision("auto", cpu, formresnet, many=True) == "fp32"  # not measured int8-safe
    default = model_info(relightcli.load_model(default_weights()).relight_info.name)
    assert resolve_precision("auto", cpu, default, many=True) == "int8"  # the shipped model keeps int8 folders
    with pytest.raises(RelightError, match="int8 is for CPUs"):
        resolve_precision("int8", torch.device("cuda"), s3net)


def test_apply_and_bench_take_int8(tmp_path) -> None:
    s = samples()[0]
    out = tmp_path / "relit.png"
    result = runner.invoke(
        app, ["apply", str(s.src), str(s.src_depth), str(s.guide), str(s.guide_depth), "-o", str(out), "-p", "int8"]
    )
    assert result.exit_code == 0, result.output
    assert ", int8," in result.stdout and out.is_file()
    bad = runner.invoke(app, ["bench", "--gpu", "0", "--precision", "int8"])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
