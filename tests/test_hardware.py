"""The CPU capability probe and every fast path's answer to it, on both CPU kinds (native bf16, AVX2 only).

Each hardware-specific test asserts what the CPU in front of it should do; the other kind's branch runs through
the `avx2_cpu` / `converting_bf16_cpu` fixtures (a monkeypatched probe), and end to end through
``ONEDNN_MAX_CPU_ISA=AVX2`` in a fresh process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from relightcli import RelightError, model_info
from relightcli.cli import app
from relightcli.hardware import _apply_cap, cpu_capabilities, probe_cpu
from relightcli.inference import fusion
from relightcli.inference.engine import Relighter, resolve_precision, weights_dtype

from .conftest import tiny_model

runner = CliRunner()


def _cpuinfo_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="no /proc/cpuinfo (not Linux)")
def test_the_probe_reads_this_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    caps, flags = probe_cpu(), _cpuinfo_flags()
    assert caps.flags == frozenset(flags) and caps.model
    torch_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert caps.onednn_bf16 == torch_bf16
    assert caps.native_bf16 == (torch_bf16 and bool({"avx512_bf16", "amx_bf16"} & flags))
    assert caps.prepack_ok("fp32") == torch.backends.mkldnn.is_available()
    assert caps.prepack_ok("bf16") == torch_bf16
    assert caps.model in caps.summary()


def test_onednn_isa_cap_makes_the_probe_see_the_lesser_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    zen5 = frozenset({"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "avx512_vnni"})
    assert _apply_cap(zen5, None) == zen5
    assert _apply_cap(zen5, "AVX2") == {"avx2", "fma"}
    assert _apply_cap(zen5, "AVX512_CORE") == zen5 - {"avx512_bf16"}
    assert _apply_cap(zen5, "AVX512_CORE_BF16") == zen5
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    caps = probe_cpu()
    assert caps.isa_cap == "AVX2" and not caps.avx512 and not caps.native_bf16 and not caps.onednn_bf16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "ALL")  # oneDNN's "no cap"
    assert probe_cpu().isa_cap is None


def test_auto_precision_follows_the_cpu(avx2_cpu) -> None:
    info, cpu = model_info("s3net"), torch.device("cpu")
    assert resolve_precision("auto", cpu, info) == "fp32"
    with pytest.raises(RelightError, match=r"no bf16 that oneDNN can run.*use --precision fp32"):
        resolve_precision("bf16", cpu, info)


def test_this_cpu_picks_bf16_exactly_where_it_is_native() -> None:
    expected = "bf16" if cpu_capabilities().native_bf16 else "fp32"
    assert resolve_precision("auto", torch.device("cpu"), model_info("s3net")) == expected


def test_avx2_cpu_runs_the_fp32_fast_path_and_refuses_bf16_in_one_line(avx2_cpu, scene, tiny_ckpt, tmp_path) -> None:
    model, x = tiny_model(), torch.rand(1, 8, 64, 64)
    relighter = Relighter(model, device="cpu")
    assert relighter.precision == "fp32" and weights_dtype(relighter.model) == torch.float32
    assert any(isinstance(m, fusion.FusedConv) for m in relighter.model.modules())  # fp32 fusion works on AVX2
    plain = Relighter(model, device="cpu", precision="fp32", optimize=False).run(x)
    assert (relighter.run(x) - plain).abs().max() < 1e-5
    args = ["apply", *(str(scene[k]) for k in ("src", "src_depth", "guide", "guide_depth"))]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "o.png"), "-w", str(tiny_ckpt), "--precision", "bf16"])
    assert result.exit_code == 1 and not (tmp_path / "o.png").exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "use --precision fp32" in result.stderr


def test_converted_bf16_runs_with_a_note_where_onednn_can(converting_bf16_cpu) -> None:
    """An AVX512 CPU without AVX512-BF16: bf16 runs by conversion and says it is slower than fp32."""
    said: list[str] = []
    info, cpu = model_info("s3net"), torch.device("cpu")
    assert resolve_precision("auto", cpu, info) == "fp32"
    if not converting_bf16_cpu.onednn_bf16:  # this machine is AVX2-only: there bf16 is refused instead
        with pytest.raises(RelightError, match="use --precision fp32"):
            Relighter(tiny_model(), device="cpu", precision="bf16", on_message=said.append)
        return
    relighter = Relighter(tiny_model(), device="cpu", precision="bf16", on_message=said.append)
    assert len(said) == 1 and "slower than fp32" in said[0]
    out = relighter.run(torch.rand(1, 8, 32, 32))
    assert out.dtype == torch.float32 and out.isfinite().all()


def test_bench_measures_only_what_the_cpu_runs_natively(avx2_cpu, quick_peak, tmp_path) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--cpu", "--model", "formresnet", "--model-args", '{"width": 8, "depth": 3}', "--size", "32"]
    result = runner.invoke(app, [*args, "--repeats", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["precision"] for r in rows] == ["fp32"] and rows[0]["peak_precision"] == "fp32"
    assert "bf16 skipped" in result.stdout
    refused = runner.invoke(app, [*args, "--precision", "bf16"])
    assert refused.exit_code == 1 and len(refused.stderr.strip().splitlines()) == 1


def test_bench_sets_converted_bf16_against_the_fp32_peak(converting_bf16_cpu, tmp_path) -> None:
    from relightcli.inference.bench import bench_model, native_precisions, peak_precision

    cpu = torch.device("cpu")
    assert native_precisions(cpu)[0] == ["fp32", "int8"] and peak_precision(cpu, "bf16") == "fp32"
    if converting_bf16_cpu.onednn_bf16:
        row = bench_model("formresnet", cpu, "bf16", size=32, repeats=1, peak=1.0, model_args={"width": 8})
        assert row.peak_precision == "fp32" and row.weights == "bf16 cast"


def test_amp_training_refused_on_a_cpu_without_bf16(avx2_cpu, tmp_path) -> None:
    from relightcli.training import TrainConfig, train

    cfg = TrainConfig(data=tmp_path, model="formresnet", amp=True, device="cpu", out=tmp_path / "run")
    with pytest.raises(RelightError, match="--amp .*drop --amp"):
        train(cfg)


def test_a_failing_prepack_or_fused_call_falls_back_once_and_says_so(monkeypatch, caplog) -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    x = torch.randn(1, 8, 16, 16)

    def refuse(*args, **kwargs):
        raise RuntimeError("mkldnn_reorder_conv2d_weight: bf16 path needs the cpu support avx512bw\nmore")

    monkeypatch.setattr(fusion, "_REORDER", refuse)
    packed = fusion.PrepackedConv2d.sharing(conv)
    with caplog.at_level(logging.WARNING, logger="relightcli"), torch.inference_mode():
        torch.testing.assert_close(packed(x), conv(x))
        torch.testing.assert_close(packed(x), conv(x))
        fused = fusion.FusedConv(conv, "relu")
        monkeypatch.setattr(fusion.FusedConv, "_onednn", lambda self, x, r: refuse())
        torch.testing.assert_close(fused(x), torch.relu(conv(x)))
        torch.testing.assert_close(fused(x), torch.relu(conv(x)))
    notes = [r.getMessage() for r in caplog.records if r.name == "relightcli"]
    assert sum("not prepacked" in n for n in notes) <= 1 and sum("plain ops" in n for n in notes) <= 1
    assert any("avx512bw" in n for n in notes) and all("\n" not in n for n in notes)
    assert fused._onednn_failed


def test_an_avx2_capped_onednn_gives_one_line_errors_end_to_end(scene, tiny_ckpt, tmp_path) -> None:
    """A fresh process with oneDNN capped at AVX2 (the AVX2 CPU's kernels): bf16 refused, auto relights in fp32."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "HF_HUB_OFFLINE": "1"}
    inputs = [str(scene[k]) for k in ("src", "src_depth", "guide", "guide_depth")]
    code = "from relightcli.cli import main; main()"
    base = [sys.executable, "-c", code, "apply", *inputs, "-w", str(tiny_ckpt), "-o"]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    bad = subprocess.Popen([*base, str(tmp_path / "a.png"), "-p", "bf16"], **pipes)  # both at once: start-up dominates
    ok = subprocess.Popen([*base, str(tmp_path / "b.png")], **pipes)
    _, bad_err = bad.communicate(timeout=300)
    ok_out, ok_err = ok.communicate(timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad_err and not (tmp_path / "a.png").exists()
    assert "no bf16 that oneDNN can run" in bad_err
    assert ok.returncode == 0, ok_err
    assert "fp32" in ok_out and (tmp_path / "b.png").is_file()
