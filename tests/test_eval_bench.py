"""`relight eval` (metrics, baselines, report) and `relight bench`, and the exactness of inference optimisations."""

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from relightcli import RelightError, list_models, model_info
from relightcli.cli import app
from relightcli.cli.evaluate import LightChange
from relightcli.data.vidit import LIGHT_CHANGES, Setting, light_change, read_pair_settings
from relightcli.evaluation import colour_transfer
from relightcli.hardware import cpu_capabilities
from relightcli.inference import fusion
from relightcli.inference.engine import CompiledModel, Relighter, optimize_for_inference
from relightcli.inference.fusion import FusedConv
from relightcli.inference.quantize import int8_available
from relightcli.metrics import LPIPS, load_lpips, mps, psnr
from relightcli.synth import synthesize

from .conftest import tiny_model, write_png

runner = CliRunner()


def test_mps_is_the_challenges_formula() -> None:
    assert mps(0.6784, 0.1566) == pytest.approx(0.7609, abs=1e-4)  # S3Net's published row
    assert mps(0.7087, 0.1737) == pytest.approx(0.7675, abs=1e-4)  # DeepBlueAI's


def _lpips_file(path: Path, naming: str) -> Path:
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.rand(v.shape, generator=gen) * 0.1 for k, v in LPIPS().state_dict().items()}
    if naming == "package":  # as lpips.LPIPS(net="alex").state_dict() holds them
        state.update({f"lins.{k[3]}.{k.split('.', 1)[1]}": v for k, v in state.items() if k.startswith("lin")})
        state["scaling_layer.shift"] = torch.zeros(1, 3, 1, 1)
    elif naming == "torchvision":
        slices = {1: (0, 2), 2: (2, 5), 3: (5, 8), 4: (8, 10), 5: (10, 12)}
        state = {
            (f"features.{k.split('.')[2]}.{k.split('.')[3]}" if k.startswith("net.") else k): v
            for k, v in state.items()
        }
        assert all(
            any(a <= int(k.split(".")[1]) < b for a, b in slices.values()) for k in state if k.startswith("features.")
        )
    torch.save(state, path)
    return path


@pytest.mark.parametrize("naming", ["ours", "package", "torchvision"])
def test_lpips_loads_the_usual_namings(tmp_path: Path, naming: str) -> None:
    model = load_lpips(_lpips_file(tmp_path / "lpips.pth", naming))
    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    assert torch.equal(model(x, x), torch.zeros(2))
    assert (model(x, y) > 0).all()


def test_lpips_unavailable_is_said_not_faked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELIGHT_LPIPS_WEIGHTS", raising=False)
    with pytest.raises(RelightError, match="^LPIPS unavailable: no weights given"):
        load_lpips()
    torch.save({"net.slice1.0.weight": torch.zeros(64, 3, 11, 11)}, tmp_path / "part.pth")
    with pytest.raises(RelightError, match="^LPIPS unavailable: .*lacks"):
        load_lpips(tmp_path / "part.pth")


def test_colour_transfer_matches_the_guides_lab_statistics() -> None:
    rng = np.random.default_rng(0)
    src = rng.random((32, 40, 3)).astype(np.float32) * 0.5 + 0.25
    guide = (rng.random((32, 40, 3)) * [0.3, 0.2, 0.1] + [0.5, 0.3, 0.1]).astype(np.float32)
    out = colour_transfer(src, guide)
    lab_out = cv2.cvtColor(out, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    lab_guide = cv2.cvtColor(guide, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    np.testing.assert_allclose(lab_out.mean(0), lab_guide.mean(0), atol=1.0)
    np.testing.assert_allclose(lab_out.std(0), lab_guide.std(0), rtol=0.1, atol=0.5)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evalset")
    synthesize(root, scenes=0, size=32, seed=9, pairs=3, supersample=1)
    return root


def test_eval_writes_csv_json_and_a_report_whose_links_resolve(pairs: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    lp = _lpips_file(tmp_path / "lpips.pth", "package")
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "eval",
            "--data",
            str(pairs),
            "--weights",
            str(tiny_ckpt),
            "--out",
            str(out),
            "--lpips-weights",
            str(lp),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"] == 3 and set(summary["methods"]) == {"model", "identity", "colour transfer"}
    assert summary["metrics"] == ["psnr", "ssim", "lpips", "mps"]
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    # The shipped light estimator's readings follow the metrics (tests/test_light.py checks their format).
    assert rows[0] == "pair,change,method,psnr,ssim,lpips,mps,source_light,guide_light" and len(rows) == 1 + 3 * 3
    # identity's PSNR is the source against the target, computed here independently
    from relightcli.io import read_image

    src = read_image(pairs / "val" / "input" / "Pair000.png").rgb
    tgt = read_image(pairs / "val" / "target" / "Pair000.png").rgb
    expected = float(psnr(torch.from_numpy(src).permute(2, 0, 1)[None], torch.from_numpy(tgt).permute(2, 0, 1)[None]))
    identity = next(r for r in rows if r.startswith("Pair000,") and ",identity," in r)
    assert float(identity.split(",")[3]) == pytest.approx(expected, abs=1e-4)
    page = (out / "index.html").read_text()
    links = re.findall(r"src='([^']+)'", page)
    assert len(links) == 3 * 5 and all((out / link).is_file() for link in links)
    assert "Evaluation of s3net_res2net50d" in page


def test_eval_relights_at_the_working_size_as_apply_does(pairs: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    """``relight eval --max-side N`` scores what ``relight apply --max-side N`` writes: the pair relit at N and
    carried up to full resolution, not a full-resolution pass."""
    from relightcli import load_model
    from relightcli.data import PairDataset, scan_pairs

    out = tmp_path / "report"
    args = ["eval", "--data", str(pairs), "--weights", str(tiny_ckpt), "--out", str(out), "--device", "cpu"]
    result = runner.invoke(app, [*args, "--max-side", "16", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["max_side"] == 16
    default = runner.invoke(app, [*args[:-4], "--out", str(tmp_path / "default"), "--device", "cpu"])
    assert default.exit_code == 0, default.output
    assert json.loads((tmp_path / "default" / "summary.json").read_text())["max_side"] == 1024  # none recorded
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    scored = float(next(r for r in rows if r.startswith("Pair000,") and ",model," in r).split(",")[3])

    item = PairDataset(scan_pairs(pairs / "val"))[0]
    assert item["name"] == "Pair000"
    x = item["input"]
    src, guide = (x[c : c + 3].permute(1, 2, 0).numpy() for c in (0, 3))
    target = item["target"][None]
    outputs = {}
    for side in (16, 0):
        relighter = Relighter(load_model(tiny_ckpt), device="cpu", precision="fp32", max_side=side)
        relit = relighter.relight(src, x[6].numpy(), guide, x[7].numpy())
        outputs[side] = float(psnr(torch.from_numpy(relit).permute(2, 0, 1)[None], target))
    assert scored == pytest.approx(outputs[16], abs=1e-3)
    assert abs(outputs[16] - outputs[0]) > 1e-3  # the working size is a different pass


def test_eval_breaks_the_pairs_down_by_what_changed_in_the_light(
    tmp_path: Path, tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELIGHT_LPIPS_WEIGHTS", raising=False)
    root = tmp_path / "set"
    synthesize(root, scenes=0, size=32, seed=3, pairs=12, supersample=1)
    settings = read_pair_settings(root / "val")
    assert sorted(settings) == [f"Pair{i:03d}" for i in range(12)]
    expected = {pair: light_change(*ss) for pair, ss in settings.items()}
    ckpt = ["--weights", str(tiny_ckpt)]
    result = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "by what changed" in result.stdout
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    rows = [line.split(",") for line in (tmp_path / "r" / "metrics.csv").read_text().strip().splitlines()[1:]]
    assert {r[0]: r[1] for r in rows} == expected
    by_change = summary["by_change"]
    assert set(by_change) == set(expected.values()) and sum(g["pairs"] for g in by_change.values()) == 12
    for change, group in by_change.items():
        psnrs = [float(r[3]) for r in rows if r[1] == change and r[2] == "identity"]
        assert group["pairs"] == len(psnrs)
        assert group["methods"]["identity"]["psnr"] == pytest.approx(sum(psnrs) / len(psnrs), abs=1e-5)
    # --only keeps the pairs of one kind
    kind = next(iter(by_change))
    result = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "o"), "--only", kind])
    assert result.exit_code == 0, result.output
    only = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert only["pairs"] == by_change[kind]["pairs"] and list(only["by_change"]) == [kind]
    assert tuple(c.value for c in LightChange) == LIGHT_CHANGES
    model_psnr = {r[0]: float(r[3]) for r in rows if r[2] == "model"}
    identity_psnr = {r[0]: float(r[3]) for r in rows if r[2] == "identity"}
    assert summary["model_wins"] == sum(model_psnr[p] > identity_psnr[p] for p in model_psnr)
    # --flip-ensemble changes the model's figures and nothing else
    result = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "f"), "--flip-ensemble"])
    assert result.exit_code == 0, result.output
    flip_rows = [line.split(",") for line in (tmp_path / "f" / "metrics.csv").read_text().strip().splitlines()[1:]]
    assert {r[0]: float(r[3]) for r in flip_rows if r[2] == "identity"} == identity_psnr
    assert {r[0]: float(r[3]) for r in flip_rows if r[2] == "model"} != model_psnr
    # VIDIT's own pair folders carry no record of the settings: no breakdown, and the report says why
    (root / "val" / "pairs.csv").unlink()
    result = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "s")])
    assert result.exit_code == 0 and "not recorded" in result.stdout
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["by_change"] == {}
    result = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "u"), "--only", "both"])
    assert result.exit_code == 1 and "not recorded" in result.stderr and "drop --only" in result.stderr
    (root / "val" / "pairs.csv").write_text("pair,source_setting,guide_setting\nPair000,4500_E,9000_Q\n")
    bad = runner.invoke(app, ["eval", "--data", str(root), *ckpt, "--out", str(tmp_path / "t")])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "pairs.csv:2:" in bad.stderr


def test_light_change_names_what_differs() -> None:
    s = Setting.parse
    assert light_change(s("4500_E"), s("2500_E")) == "temperature"
    assert light_change(s("4500_E"), s("4500_NW")) == "direction"
    assert light_change(s("4500_E"), s("6500_W")) == "both"
    assert light_change(s("4500_E"), s("4500_E")) == "none"


def test_eval_without_lpips_reports_psnr_and_ssim_only(
    pairs: Path, tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELIGHT_LPIPS_WEIGHTS", raising=False)
    result = runner.invoke(
        app,
        [
            "eval",
            "--data",
            str(pairs / "val"),
            "--weights",
            str(tiny_ckpt),
            "--out",
            str(tmp_path / "r"),
            "--limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "LPIPS unavailable" in result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["metrics"] == ["psnr", "ssim"] and summary["pairs"] == 2
    bad = runner.invoke(app, ["eval", "--data", str(tmp_path / "nothing"), "--weights", str(tiny_ckpt)])
    assert bad.exit_code == 1 and bad.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nothing'}: dataset folder not found"
    ]


def test_bench_json_has_every_field_positive(quick_peak: None, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = (
        '{"encoder_args": {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128], "stem_width": 16, "base_width": 8}}'
    )
    result = runner.invoke(
        app,
        [
            "bench",
            "--cpu",
            "--model",
            "s3net_res2net50d",
            "--model-args",
            args,
            "--size",
            "64",
            "--repeats",
            "2",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    # --precision all: what this CPU computes natively: bf16 where native, else int8 (an int8-safe model)
    if cpu_capabilities().native_bf16:
        expected = {"precision": ["fp32", "bf16"], "weights": ["fp32", "bf16 cast"], "peak_precision": ["fp32", "bf16"]}
    elif int8_available():
        expected = {"precision": ["fp32", "int8"], "weights": ["fp32", "int8"], "peak_precision": ["fp32", "fp32"]}
    else:
        expected = {"precision": ["fp32"], "weights": ["fp32"], "peak_precision": ["fp32"]}
    for key, values in expected.items():  # weights as relight apply runs them
        assert [r[key] for r in rows] == values, key
    for r in rows:
        for key in (
            "gflop",
            "median_s",
            "min_s",
            "max_s",
            "images_per_s",
            "peak_memory_mb",
            "achieved_gflops",
            "device_peak_gflops",
            "percent_of_peak",
            "params_m",
            "first_call_s",
        ):
            assert r[key] > 0, key
        assert r["fused"] == (r["precision"] != "int8") and not r["compiled"]
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert {r["allocator"] for r in rows} == {"retain" if glibc else "default"}  # freed memory kept, as in apply
    bad = runner.invoke(app, ["bench", "--cpu", "--precision", "fp16", "--size", "64"])
    assert bad.exit_code == 1 and "fp16 on CUDA" in bad.stderr
    bad = runner.invoke(app, ["bench", "--cpu", "--weights-cast", "sometimes", "--size", "64"])
    assert bad.exit_code == 1 and "expected auto, cast or autocast" in bad.stderr


def _with_random_bn_statistics(model: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
    return model


@pytest.mark.parametrize("name", list_models())
def test_fp32_inference_optimisations_are_exact(name: str) -> None:
    model = _with_random_bn_statistics(tiny_model(name)).eval()
    m = max(model_info(name).size_multiple, 8)
    x = torch.rand(1, 8, 4 * m, 4 * m)
    with torch.inference_mode():
        ref = model(x)
        ref = ref[0] if isinstance(ref, list) else ref
        for fold, cl, fuse in ((True, False, False), (False, True, False), (False, False, True), (True, True, True)):
            fast = optimize_for_inference(model, fold_bn=fold, channels_last=cl, fuse_pointwise=fuse)
            out = fast(x.contiguous(memory_format=torch.channels_last) if cl else x)
            out = out[0] if isinstance(out, list) else out
            assert (out - ref).abs().max() < 1e-5, (fold, cl, fuse)
            if fold:
                assert not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in fast.modules())
            assert any(isinstance(mod, FusedConv) for mod in fast.modules()) == (fuse and fusion.available())
    assert fast.relight_info == model.relight_info
    with torch.inference_mode():  # the original is untouched: same outputs as before optimising
        again = model(x)
    assert torch.equal(again[0] if isinstance(again, list) else again, ref)
    assert any(isinstance(mod, torch.nn.BatchNorm2d) for mod in model.modules()) == (
        name.startswith(("s3net", "formresnet"))
    )


@pytest.mark.skipif(not fusion.available(), reason="this PyTorch has no oneDNN fused convolution")
def test_fused_convolutions_match_the_plain_ops_and_fall_back_where_onednn_cannot_fuse() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1)
    x = torch.randn(1, 16, 24, 24).contiguous(memory_format=torch.channels_last)
    residual = torch.randn(1, 16, 24, 24)
    cases = [
        (FusedConv(conv, "relu"), lambda: torch.relu(conv(x)), ()),
        (FusedConv(conv, "leaky_relu", 0.2), lambda: F.leaky_relu(conv(x), 0.2), ()),
        (FusedConv(conv, "tanh"), lambda: torch.tanh(conv(x)), ()),
        (FusedConv(conv, "sigmoid"), lambda: torch.sigmoid(conv(x)), ()),
        (FusedConv(conv, None, residual=True), lambda: conv(x) + residual, (residual,)),
        (FusedConv(conv, "relu", residual=True), lambda: torch.relu(conv(x) + residual), (residual,)),
    ]
    with torch.inference_mode():
        for fused, plain, extra in cases:
            assert (fused(x, *extra) - plain()).abs().max() < 1e-5, fused
        broadcast = torch.randn(1, 16, 1, 1)  # oneDNN's binary post-op wants equal shapes: the plain ops run
        relu_add = FusedConv(conv, "relu", residual=True)
        assert torch.equal(relu_add(x, broadcast), torch.relu(conv(x) + broadcast))
    with pytest.raises(ValueError, match="only ReLU after a residual add"):
        FusedConv(conv, "tanh", residual=True)


@pytest.mark.skipif(not fusion.available(), reason="this PyTorch has no oneDNN fused convolution")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_prepacked_convolutions_give_the_plain_convolutions_bits(dtype: torch.dtype) -> None:
    import copy

    torch.manual_seed(0)
    convs = [
        torch.nn.Conv2d(16, 24, 3, padding=1),
        torch.nn.Conv2d(16, 8, 1, bias=False),
        torch.nn.Conv2d(16, 16, 3, stride=2, padding=2, dilation=2, groups=4),
    ]
    convs = [c.to(dtype).to(memory_format=torch.channels_last) for c in convs]
    with torch.inference_mode():
        for conv in convs:
            packed = fusion.PrepackedConv2d.sharing(conv)
            assert packed.weight is conv.weight and packed.bias is conv.bias  # shared, not copied
            for hw in (20, 20, 33):  # a cached pack, then a new shape that repacks
                x = torch.randn(2, 16, hw, hw + 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
                torch.testing.assert_close(packed(x), conv(x))  # oneDNN may sum in another order: rounding
            if cpu_capabilities().prepack_ok("fp32" if dtype == torch.float32 else "bf16"):
                assert packed._pack.packed is not None and packed._pack.packed.is_mkldnn
            else:  # bf16 on an AVX2-only CPU: the plain convolution, nothing prepacked
                assert packed._pack.packed is None
            twin = copy.deepcopy(packed)  # copies start without the oneDNN-layout cache
            assert twin._pack.packed is None
            torch.testing.assert_close(twin(x), conv(x))
    with torch.no_grad():
        conv.weight.mul_(-2)  # an in-place update (as load_state_dict does) must not meet a stale pack
    with torch.inference_mode():
        torch.testing.assert_close(packed(x), conv(x))
    x = torch.randn(1, 16, 12, 12, requires_grad=True)  # training: the plain convolution, gradients flow
    packed.float()(x).sum().backward()
    assert x.grad is not None
    with pytest.raises(ValueError, match="zero-padded"):  # oneDNN pads with zeros only
        fusion.PrepackedConv2d.sharing(torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"))


def test_optimised_cpu_models_leave_no_convolution_unpacked() -> None:
    model = _with_random_bn_statistics(tiny_model("s3net")).eval()
    fast = optimize_for_inference(model, channels_last=True, fuse_pointwise=True)
    convs = [m for m in fast.modules() if type(m) is torch.nn.Conv2d]
    held = {id(m.conv) for m in fast.modules() if isinstance(m, FusedConv)}
    if fusion.available():
        assert all(id(c) in held for c in convs)  # every plain Conv2d left runs inside a FusedConv
        assert any(isinstance(m, fusion.PrepackedConv2d) for m in fast.modules())
    unpacked = optimize_for_inference(model, channels_last=True, fuse_pointwise=True, prepack=False)
    assert not any(isinstance(m, fusion.PrepackedConv2d) for m in unpacked.modules())
    x = torch.rand(1, 8, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert (fast(x) - unpacked(x)).abs().max() < 1e-5  # where the weights sit, not what they compute
    if fusion.available():
        assert all(m._pack.packed is None for m in unpacked.modules() if isinstance(m, FusedConv))


def test_fusion_rewrites_conv_activation_and_residual_chains_in_a_traced_graph() -> None:
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = (torch.nn.Conv2d(8, 8, 3, padding=1) for _ in range(3))
            self.act = torch.nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.act(self.a(x))  # conv -> ReLU module
            z = self.b(y)
            z += x  # conv -> in-place add -> ReLU
            z = F.relu(z)
            t = self.c(z)  # two users: left alone
            return torch.tanh(t) + t

    block = Block().eval()
    gm = torch.fx.symbolic_trace(block)
    x = torch.randn(2, 8, 16, 16)
    with torch.inference_mode():
        ref = block(x)
        n = fusion.fuse_graph(gm)
        out = gm(x)
    assert n == 2 and (out - ref).abs().max() < 1e-5
    kinds = sorted((m.act, m.residual) for m in gm.modules() if isinstance(m, FusedConv))
    assert kinds == [("relu", False), ("relu", True)]


def test_fusion_keeps_two_calls_of_one_convolution_apart() -> None:
    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.tanh(self.conv(x))  # the same weights twice, fused differently
            return F.relu(self.conv(y) + x)

    shared = Shared().eval()
    gm = torch.fx.symbolic_trace(shared)
    x = torch.randn(1, 4, 8, 8)
    with torch.inference_mode():
        ref = shared(x)
        assert fusion.fuse_graph(gm) == 2
        assert (gm(x) - ref).abs().max() < 1e-5


def test_compiled_model_matches_eager_in_fp32_and_bench_reports_it(quick_peak: None, tmp_path: Path) -> None:
    """`relight apply --compile` / `relight bench --compile`: Inductor with freezing, same outputs as eager."""
    model = _with_random_bn_statistics(tiny_model("s3net_lite_ratio"))
    x = torch.rand(1, 8, 64, 64)
    with torch.inference_mode():
        ref = model(x)
    relighter = Relighter(model, device="cpu", precision="fp32", compile=True)
    assert isinstance(relighter.model, CompiledModel)
    assert not any(isinstance(m, FusedConv) for m in relighter.model.modules())  # Inductor fuses instead
    from torch._dynamo.utils import counters

    counters.clear()
    out = relighter.run(x)
    assert (out - ref.clamp(0, 1)).abs().max() < 1e-4
    assert counters["stats"]["unique_graphs"] == 1 and not counters["graph_break"]  # the whole model, one graph
    assert counters["inductor"]["mkldnn_conv_weight_pack_matcher_count"] > 0  # freezing on: weights prepacked
    assert torch.equal(relighter.run(x), out)  # the compiled graph is reused, deterministically

    out_json = tmp_path / "bench.json"
    args = json.dumps({"width": 8, "depth": 3})  # a tiny FormResNet: compiles in a few seconds
    result = runner.invoke(
        app,
        ["bench", "--cpu", "--model", "formresnet", "--model-args", args, "--size", "64",
         "--precision", "fp32", "--compile", "--repeats", "2", "--json", str(out_json)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out_json.read_text())
    assert row["compiled"] and not row["fused"] and row["weights"] == "fp32"
    assert row["first_call_s"] > row["median_s"] > 0  # the first call compiled


def test_compile_without_a_cxx_compiler_is_one_clear_error() -> None:
    import torch._inductor.config as inductor_config

    relighter = Relighter(tiny_model("formresnet"), device="cpu", precision="fp32", compile=True)
    with (
        inductor_config.patch({"cpp.cxx": (None, "/nonexistent/g++"), "force_disable_caches": True}),
        pytest.raises(RelightError, match=r"torch.compile failed .*run without --compile"),
    ):
        relighter.run(torch.rand(1, 8, 32, 32))


def test_look_statistics_per_image_medians_and_the_folder_script(tmp_path: Path) -> None:
    from relightcli.evaluation.look import VIDIT_LOOK, look_table, measure, measure_folder, within

    dark, lit = np.zeros((8, 8, 3), np.float32), np.full((8, 8, 3), 0.3, np.float32)
    lit[..., 0] = 0.6  # saturated: (0.6 - 0.3) / 0.6
    look = measure([dark, dark, lit])
    y_lit = 0.299 * 0.6 + 0.587 * 0.3 + 0.114 * 0.3
    assert look.images == 3 and look.dark_share == pytest.approx(2 / 3)
    assert look.mean_y == pytest.approx(y_lit / 3, rel=1e-6)
    assert look.median_y == pytest.approx(y_lit / 3, rel=1e-6)  # per image: 0, 0, y_lit
    assert look.pooled_median_y == 0.0  # two thirds of all pixels are black
    assert look.saturation == pytest.approx(0.5 / 3, rel=1e-6) and look.p99_y == pytest.approx(y_lit, rel=1e-6)
    assert all(within(VIDIT_LOOK).values()) and not within(look)["dark_share"]
    table = look_table([("VIDIT", VIDIT_LOOK), ("ours", look)])
    assert "| 51% | 67% |" in table and "| - | 0.00 |" in table  # VIDIT's pooled median is not known
    for k, img in enumerate((dark, lit)):
        write_png(tmp_path / f"Image{k}.png", (img * 255).round().astype(np.uint8))
    write_png(tmp_path / "Image0_depth.png", np.zeros((8, 8), np.uint16))  # depth maps are left out
    assert measure_folder(tmp_path).images == 2
    repo = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's package, however the venv was installed
    out = subprocess.run(
        [sys.executable, str(repo / "benchmarks" / "look_stats.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0 and "not VIDIT look" in out.stdout, out.stderr
