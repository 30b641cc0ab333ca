"""Large images (tiles, working resolution), folders of images, and random inputs through I/O and engine."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from relightcli import RelightError
from relightcli.cli import app
from relightcli.inference.batch import find_depth, shard
from relightcli.inference.engine import Relighter
from relightcli.inference.largeimage import guided_filter, run_tiled, upsample_relighting
from relightcli.io import read_depth, read_image
from relightcli.synth import synthesize

from .conftest import tiny_model, write_png

runner = CliRunner()


def test_tile_blending_is_normalised_exactly() -> None:
    x = torch.rand(1, 8, 150, 97)
    out = run_tiled(lambda t: t[:, :3].clone(), x, tile=64, overlap=16)
    assert torch.allclose(out, x[:, :3], atol=1e-6)  # an identity "model" comes back unchanged, no seams


def test_tiled_matches_whole_for_a_local_model() -> None:
    model = tiny_model("formresnet")  # receptive field of a few pixels: tiles see all a pixel depends on
    relighter = Relighter(model, device="cpu", precision="fp32")
    x = torch.rand(1, 8, 96, 130)
    whole = relighter.run(x)
    tiled = run_tiled(relighter.run, x, tile=64, overlap=24)
    psnr = 10 * torch.log10(1 / ((whole - tiled) ** 2).mean())
    assert psnr > 45, float(psnr)


def test_out_of_memory_halves_the_tile_and_says_so() -> None:
    calls, told = [], []

    def run(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape[-1])
        if t.shape[-1] > 64:
            raise torch.cuda.OutOfMemoryError("simulated")
        return t[:, :3].clone()

    x = torch.rand(1, 8, 200, 200)
    out = run_tiled(run, x, tile=256, overlap=8, on_retry=told.append)
    assert told == [128, 64] and max(calls[-4:]) == 64
    assert torch.allclose(out, x[:, :3], atol=1e-6)
    with pytest.raises(RelightError, match="must be larger than twice --tile-overlap"):
        run_tiled(run, x, tile=32, overlap=16)


def test_working_resolution_carries_the_relighting_to_full_size() -> None:
    rng = np.random.default_rng(0)
    full = rng.random((120, 90, 3)).astype(np.float32) * 0.8 + 0.1
    small = cv2.resize(full, (45, 60), interpolation=cv2.INTER_AREA)
    assert np.allclose(upsample_relighting(full, small, small), full, atol=1e-4)  # no change stays no change
    e = 1 / 64
    darker = upsample_relighting(full, small, (small + e) * 0.5 - e)  # a ratio of exactly 0.5 everywhere
    np.testing.assert_allclose(darker, np.clip((full + e) * 0.5 - e, 0, 1), atol=1e-4)


def test_guided_filter_keeps_the_guides_edges() -> None:
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    src = guide[:, :, None].copy()
    out = guided_filter(guide, src, radius=4, eps=1e-4)
    assert out[:, :18].max() < 0.05 and out[:, 22:].min() > 0.95  # a box blur would smear the step


def test_max_side_through_the_cli(tmp_path: Path, tiny_ckpt: Path) -> None:
    rng = np.random.default_rng(1)
    src = write_png(tmp_path / "big.png", rng.integers(0, 256, (300, 260, 3), dtype=np.uint8))
    depth = write_png(tmp_path / "big_depth.png", rng.integers(0, 65536, (300, 260), dtype=np.uint16))
    out = tmp_path / "o.png"
    result = runner.invoke(
        app,
        ["apply", str(src), str(depth), str(src), str(depth), "-o", str(out), "-w", str(tiny_ckpt), "--max-side", "96"],
    )
    assert result.exit_code == 0, result.output
    assert read_image(out).size == (300, 260)
    tiled = runner.invoke(
        app,
        [
            "apply",
            str(src),
            str(depth),
            str(src),
            str(depth),
            "-o",
            str(tmp_path / "t.png"),
            "-w",
            str(tiny_ckpt),
            "--tile",
            "128",
            "--tile-overlap",
            "32",
        ],
    )
    assert tiled.exit_code == 0 and read_image(tmp_path / "t.png").size == (300, 260)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    synthesize(root, scenes=0, size=32, seed=4, pairs=5, supersample=1)
    return root / "val"


def test_pair_folder_skips_existing_and_overwrites_on_request(pairs: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["apply", "--pairs", str(pairs), "-o", str(out), "-w", str(tiny_ckpt)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "relit 5, skipped 0 existing, failed 0 of 5" in first.stdout
    assert sorted(p.name for p in out.iterdir()) == [f"Pair00{i}.png" for i in range(5)]
    stamp = (out / "Pair000.png").stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert "relit 0, skipped 5 existing" in again.stdout and (out / "Pair000.png").stat().st_mtime_ns == stamp
    forced = runner.invoke(app, [*args, "--overwrite"])
    assert "relit 5, skipped 0" in forced.stdout


def test_source_folder_reports_bad_files_and_goes_on(tiny_ckpt: Path, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        write_png(src / f"{name}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    write_png(src / "a_depth.png", rng.integers(0, 256, (40, 48), dtype=np.uint8))
    np.save(src / "b.npy", rng.random((40, 48)))
    (src / "c.png").write_text("not an image")
    np.save(src / "c.npy", rng.random((40, 48)))
    write_png(src / "d.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))  # no depth at all
    assert find_depth(src / "a.png") == src / "a_depth.png" and find_depth(src / "b.png") == src / "b.npy"
    out = tmp_path / "relit"
    result = runner.invoke(
        app, ["apply", "--src-dir", str(src), "--light", "4500K/S", "-o", str(out), "-w", str(tiny_ckpt)]
    )
    assert result.exit_code == 1
    assert "relit 2, skipped 0 existing, failed 2 of 4" in result.stdout
    assert "failed: c: " in result.stderr and "not a readable image" in result.stderr
    assert "failed: d: " in result.stderr and "no depth map found" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert "Traceback" not in result.output


def test_folder_mode_argument_errors(pairs: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    cases = [
        (["apply", "--pairs", str(pairs)], "folders need an output folder"),
        (["apply", "--src-dir", str(tmp_path), "-o", str(tmp_path / "o")], "--src-dir needs --guide [--guide-depth]"),
        (["apply", "--pairs", str(pairs), "--src-dir", str(tmp_path), "-o", str(tmp_path / "o")], "not both"),
        (["apply", "--pairs", str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "input: missing"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "-w", str(tiny_ckpt)])
        assert result.exit_code == 1 and message in result.stderr, (args, result.output)


def test_torchrun_sharding_covers_every_job_once(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = list(range(11))
    seen = []
    for rank in range(3):
        monkeypatch.setenv("WORLD_SIZE", "3")
        monkeypatch.setenv("RANK", str(rank))
        seen += shard(jobs)
    assert sorted(seen) == jobs
    monkeypatch.delenv("WORLD_SIZE")
    assert shard(jobs) == jobs


_relighter = None


def _engine() -> Relighter:
    global _relighter
    if _relighter is None:
        _relighter = Relighter(tiny_model("formresnet"), device="cpu")
    return _relighter


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 48),
    w=st.integers(1, 48),
    channels=st.sampled_from([1, 3, 4]),  # OpenCV cannot encode 2-channel PNGs
    dtype=st.sampled_from(["uint8", "uint16"]),
    depth_kind=st.sampled_from(["float", "int", "constant", "nan", "inf", "huge"]),
    seed=st.integers(0, 2**16),
)
def test_random_inputs_give_a_clean_error_or_a_valid_image(
    tmp_path_factory, h, w, channels, dtype, depth_kind, seed
) -> None:
    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("prop")
    top = np.iinfo(dtype).max
    shape = (h, w) if channels == 1 else (h, w, channels)
    img_path = write_png(folder / "img.png", rng.integers(0, top + 1, shape, dtype=dtype))
    depth = {
        "float": rng.normal(size=(h, w)) * 100,
        "int": rng.integers(-5, 5, (h, w)),
        "constant": np.full((h, w), 3.0),
        "nan": np.full((h, w), np.nan),
        "inf": np.full((h, w), np.inf),
        "huge": rng.random((h, w)) * 1e300,
    }[depth_kind]
    np.save(folder / "depth.npy", depth)
    try:
        img = read_image(img_path)
        d = read_depth(folder / "depth.npy")
        out = _engine().relight(img.rgb, d, img.rgb, d)
    except RelightError:
        assert depth_kind in ("nan", "inf")  # the only inputs here that must be refused
        return
    assert depth_kind not in ("nan", "inf")
    assert out.shape == (h, w, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert os.listdir(folder) == ["img.png", "depth.npy"] or set(os.listdir(folder)) == {"img.png", "depth.npy"}


def test_gray_16bit_guide_rgba_source_and_a_1x1_image(tiny_ckpt: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (33, 41, 4), dtype=np.uint8)
    rgba[:10, :, 3] = 0  # a transparent band: alpha is ignored, the colour values there are relit as they are
    src = write_png(tmp_path / "src.png", rgba)
    src_d = write_png(tmp_path / "src_d.png", rng.integers(0, 256, (33, 41), dtype=np.uint8))
    guide = write_png(tmp_path / "g.png", rng.integers(0, 65536, (20, 30), dtype=np.uint16))  # gray, 16-bit
    guide_d = write_png(tmp_path / "g_d.png", rng.integers(0, 65536, (20, 30), dtype=np.uint16))
    result = runner.invoke(
        app,
        ["apply", str(src), str(src_d), str(guide), str(guide_d), "-o", str(tmp_path / "o.png"), "-w", str(tiny_ckpt)],
    )
    assert result.exit_code == 0, result.output
    out = cv2.imdecode(np.fromfile(tmp_path / "o.png", np.uint8), cv2.IMREAD_UNCHANGED)
    assert out.shape == (33, 41, 3) and out.dtype == np.uint8  # 8-bit RGB: the alpha channel is not kept
    one = write_png(tmp_path / "one.png", np.array([[[10, 20, 30]]], dtype=np.uint8))
    one_d = write_png(tmp_path / "one_d.png", np.array([[7]], dtype=np.uint8))
    result = runner.invoke(
        app, ["apply", str(one), str(one_d), str(one), str(one_d), "-o", str(tmp_path / "1.png"), "-w", str(tiny_ckpt)]
    )
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "1.png").size == (1, 1)


def test_torchrun_relights_a_pair_folder_across_ranks(pairs: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "ranks"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "relightcli",
            "apply",
            "--pairs",
            str(pairs),
            "-o",
            str(out),
            "-w",
            str(tiny_ckpt),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [f"Pair00{i}.png" for i in range(5)]
    counts = sorted(int(line.split("relit ")[1].split(",")[0]) for line in proc.stdout.splitlines() if "relit " in line)
    assert counts == [2, 3]  # 5 pairs split between the two ranks, each written once


def test_each_torchrun_rank_takes_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from relightcli.inference.batch import rank_device

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert rank_device("auto") == "cuda:1" and rank_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert rank_device("auto") == "auto"  # no GPU: the engine's own choice
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert rank_device("auto") == "auto"  # not under torchrun
