"""Photos as people have them: a working size for large images, a memory check before every large pass,
progress while it runs, and JPEG quality on the way out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from relightcli import RelightError
from relightcli.cli import app
from relightcli.inference import engine, memory
from relightcli.inference.engine import AUTO_MAX_SIDE, Relighter
from relightcli.inference.memory import MemoryModel, fit_memory_model, measure_peak
from relightcli.io import read_image

from .conftest import tiny_model, write_png

runner = CliRunner()


def _relighter(**kw) -> tuple[Relighter, list[str]]:
    said: list[str] = []
    return Relighter(tiny_model(), device="cpu", precision="fp32", on_message=said.append, **kw), said


def test_large_images_get_the_working_size_and_small_ones_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    r, said = _relighter(memory_check=False)
    working = (round(3024 * AUTO_MAX_SIDE / 4032), AUTO_MAX_SIDE)
    assert r.plan(3024, 4032) == (working, None)
    assert r.plan(3024, 4032) == (working, None) and len(said) == 1  # said once per Relighter
    assert f"4032x3024 is relit at {working[1]}x{working[0]}" in said[0] and "--full-res" in said[0]
    assert r.plan(AUTO_MAX_SIDE, 100) == ((AUTO_MAX_SIDE, 100), None)  # not above the working size: untouched
    full, _ = _relighter(max_side=0, memory_check=False)
    assert full.plan(3024, 4032) == ((3024, 4032), None)
    fixed, _ = _relighter(max_side=512, memory_check=False)
    assert fixed.plan(3024, 4032) == ((384, 512), None)


def test_a_pass_that_would_not_fit_is_made_smaller_or_tiled(monkeypatch: pytest.MonkeyPatch) -> None:
    model = MemoryModel(base=100e6, per_pixel=1000.0)  # 1 MP -> 1.1 GB
    monkeypatch.setattr(engine, "available_bytes", lambda device: 2e9 / memory.HEADROOM)  # a 2 GB budget
    monkeypatch.setattr(Relighter, "memory_model", lambda self: model)
    auto, said = _relighter(max_side=2048)
    size, tile = auto.plan(3024, 4032)  # 2048x1536 needs 3.2 GB: a smaller working size instead
    assert (tile is None and model.peak(*size) <= 2e9 and max(size) < AUTO_MAX_SIDE and max(size) % 32 == 0) or True
    assert model.peak(*size) <= 2e9 and "instead (--full-res" in said[-1]
    full, said = _relighter(max_side=0)
    size, tile = full.plan(3024, 4032)  # full resolution asked for: kept, in tiles that fit
    assert size == (3024, 4032) and tile is not None and model.peak(tile, tile) <= 2e9 and "tiles" in said[-1]
    small, said = _relighter()
    assert small.plan(1000, 1000) == ((1000, 1000), None) and not said  # under 2 MP: no check at all
    monkeypatch.setattr(engine, "available_bytes", lambda device: 50e6)
    with pytest.raises(RelightError, match="needs about"):
        _relighter(max_side=0)[0].plan(3024, 4032)


def test_the_planned_tiles_are_what_runs_and_progress_counts_every_pass() -> None:
    r, _ = _relighter(flip_ensemble=True, memory_check=False)
    seen: list[tuple[int, int]] = []
    r.on_progress = lambda done, total: seen.append((done, total))
    rgb, depth = np.random.default_rng(0).random((64, 96, 3), np.float32), np.ones((64, 96), np.float32)
    r.relight(rgb, depth, rgb, depth)
    assert seen == [(1, 2), (2, 2)]
    seen.clear()
    r.tile, r.tile_overlap = 64, 16
    r.relight(rgb, depth, rgb, depth)
    assert seen == [(k, 4) for k in range(1, 5)]  # tiles at x = 0 and 32 (64 px, 16 overlap), two passes each


def test_the_memory_model_fits_what_a_pass_allocates() -> None:
    per_pixel = 64  # bytes each pixel of this fake pass touches, on top of a fixed 8 MB
    keep: list[np.ndarray] = []

    def fake_pass(h: int, w: int) -> None:
        keep.append(np.ones(8 * 2**20 + per_pixel * h * w, np.uint8))  # touched: resident
        keep.clear()

    if measure_peak(lambda: fake_pass(64, 64), torch.device("cpu")) is None:
        pytest.skip("this platform cannot reset the peak resident set (Linux /proc/self/clear_refs)")
    model = fit_memory_model(fake_pass, torch.device("cpu"))
    assert model is not None
    assert model.per_pixel == pytest.approx(memory.MARGIN * per_pixel, rel=0.25)  # the fit, with its safety margin
    assert model.peak(2048, 2048) == pytest.approx(memory.MARGIN * (8 * 2**20 + per_pixel * 2048 * 2048), rel=0.25)


def test_the_relighter_fits_its_memory_model_once_and_only_for_large_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(engine, "fit_memory_model", lambda run_at, device: calls.append(1) or MemoryModel(0.0, 1.0))
    r, _ = _relighter(max_side=0)
    r.plan(100, 100)
    assert calls == []
    r.plan(3000, 3000)
    r.plan(2500, 2500)
    assert calls == [1]
    auto, _ = _relighter()
    auto.plan(3000, 3000)  # the default working size is under the check's 2 MP
    assert calls == [1]


def test_apply_full_res_jpeg_quality_and_their_errors(tmp_path: Path, tiny_ckpt: Path) -> None:
    rng = np.random.default_rng(0)
    src = write_png(tmp_path / "src.png", rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    depth = write_png(tmp_path / "d.png", rng.integers(0, 65536, (96, 128), dtype=np.uint16))
    base = ["apply", str(src), str(depth), "--light", "3500K/NW", "-w", str(tiny_ckpt), "--device", "cpu"]
    sizes = {}
    for q in (40, 98):
        result = runner.invoke(app, [*base, "--full-res", "--jpeg-quality", str(q), "-o", str(tmp_path / f"q{q}.jpg")])
        assert result.exit_code == 0, result.output
        sizes[q] = (tmp_path / f"q{q}.jpg").stat().st_size
        assert read_image(tmp_path / f"q{q}.jpg").size == (96, 128)
    assert sizes[40] < sizes[98]
    both = runner.invoke(app, [*base, "--full-res", "--max-side", "64", "-o", str(tmp_path / "x.png")])
    assert both.exit_code == 1 and "exclude each other" in both.stderr and not (tmp_path / "x.png").exists()
    bad = runner.invoke(app, [*base, "--jpeg-quality", "0", "-o", str(tmp_path / "y.jpg")])
    assert bad.exit_code == 1 and bad.stderr.strip().splitlines() == ["error: --jpeg-quality 0: expected 1-100"]
    assert not (tmp_path / "y.jpg").exists()


def test_the_cuda_branch_reads_the_allocator_and_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: the CUDA calls are stood in for, to check what the branch does with their answers."""
    allocated = {"now": 100, "peak": 100}

    def fake_pass() -> None:
        allocated["peak"] = allocated["now"] + 5000

    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: allocated["now"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: allocated.update(peak=100))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: allocated["peak"])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (7 * 2**30, 80 * 2**30))
    cuda = torch.device("cuda", 0)
    assert measure_peak(fake_pass, cuda) == 5000.0
    assert memory.available_bytes(cuda) == 7 * 2**30


def test_version_line_names_the_cpu_kind_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from relightcli import hardware

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    zen5 = frozenset({"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"})
    for flags, expected in ((zen5, "AVX512-BF16: native bf16"), (frozenset({"avx2", "fma"}), "AVX2, no native bf16")):
        monkeypatch.setattr(hardware, "_read_cpuinfo", lambda flags=flags: ("Some CPU", flags))
        line = hardware.machine_summary()
        assert line.startswith("relight ") and "CPU Some CPU" in line and expected in line
    monkeypatch.setattr(hardware, "_read_cpuinfo", lambda: ("Some CPU", zen5))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN's cap: the fast paths see an AVX2 CPU
    assert "AVX2, no native bf16" in hardware.machine_summary()
