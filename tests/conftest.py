"""Shared fixtures: tiny model configurations, tiny checkpoints and small synthetic images (all made here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests never touch the network
torch.set_num_threads(min(2, torch.get_num_threads()))

import relightcli  # noqa: E402
from relightcli.hardware import (  # noqa: E402
    CpuCapabilities,
    cpu_capabilities,
    set_cpu_capabilities,
    without_native_bf16,
)

SHARED_SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec"

TINY_ENCODER = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 128], "stem_width": 16, "base_width": 8}
"""A Res2Net with one block per stage and narrow widths: stage channels 64/128/256, about 1.4 M parameters."""

TINY_ARGS: dict[str, dict[str, Any]] = {
    "s3net": {"encoder": "res2net50d", "encoder_args": TINY_ENCODER},
    "s3net_res2net50d": {"encoder_args": TINY_ENCODER},
    "s3net_lite": {"encoder_args": TINY_ENCODER},
    "s3net_lite_ratio": {"encoder_args": TINY_ENCODER},
    "s3net_lite_shading": {"encoder_args": TINY_ENCODER},
    "s3net_lite_lightcode": {"encoder_args": TINY_ENCODER},
    "s3net_lite_lightcolour": {"encoder_args": TINY_ENCODER},
    "s3net_lite_lightaware": {"encoder_args": TINY_ENCODER},
    "mprnet": {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1},
    "mprnet_deblur": {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1},
    "srn": {"width": 8},
    "srn_nolstm": {"width": 8},
    "formresnet": {"width": 8, "depth": 3},
}
"""Per registry model, overrides that make it small enough for fast CPU tests (unlisted models: defaults)."""


def tiny_model(name: str = "s3net_res2net50d", seed: int = 0) -> torch.nn.Module:
    """A randomly initialised tiny configuration of a registry model, in eval mode."""
    torch.manual_seed(seed)
    return relightcli.create_model(name, **TINY_ARGS.get(name, {})).eval()


def write_png(path: Path, arr: np.ndarray) -> Path:
    """Write an array with OpenCV (BGR order as given), through bytes so non-ASCII paths work."""
    ok, buf = cv2.imencode(path.suffix, arr)
    assert ok
    buf.tofile(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    relightcli.save_checkpoint(tiny_model(), path)
    return path


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    """A source (70x90 RGB, 16-bit PNG depth) and a guide of another size (50x40 RGBA, VIDIT dict .npy depth)."""
    rng = np.random.default_rng(0)
    files = {
        "src": write_png(tmp_path / "src.png", rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)),
        "src_depth": write_png(tmp_path / "src_depth.png", rng.integers(0, 65536, (70, 90), dtype=np.uint16)),
        "guide": write_png(tmp_path / "guide.png", rng.integers(0, 256, (50, 40, 4), dtype=np.uint8)),
        "guide_depth": tmp_path / "guide_depth.npy",
    }
    depth = {"normalized_depth": rng.random((50, 40)).astype(np.float32), "ref_center_dis": np.float32(3.0)}
    np.save(files["guide_depth"], depth, allow_pickle=True)
    return files


@pytest.fixture
def avx2_cpu() -> Iterator[CpuCapabilities]:
    """Every fast path sees an AVX2-only CPU (no AVX512, no native bf16, no oneDNN bf16), as AMD Zen 3 has."""
    caps = without_native_bf16(cpu_capabilities())
    set_cpu_capabilities(caps)
    yield caps
    set_cpu_capabilities(None)


@pytest.fixture
def converting_bf16_cpu() -> Iterator[CpuCapabilities]:
    """Every fast path sees an AVX512 CPU without AVX512-BF16: oneDNN runs bf16 by conversion, not natively.
    Only a lesser CPU than the real one is simulated, so the code under test never asks for what is not there."""
    real = cpu_capabilities()
    caps = without_native_bf16(real, onednn_bf16=real.onednn_bf16)
    set_cpu_capabilities(caps)
    yield caps
    set_cpu_capabilities(None)


@pytest.fixture
def quick_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """`relight bench` measures the device's peak on 512x512 matrix products instead of 4096x4096 ones: the same
    code, seconds less per row on a CPU (six products per row; an AVX2 core is slowest at them)."""
    import functools

    from relightcli.inference import bench

    monkeypatch.setattr(bench, "device_peak_gflops", functools.partial(bench.device_peak_gflops, n=512))


def interruptible() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT: Ctrl-C's default action, as in a terminal. A
    process started in the background by a non-interactive shell (a CI runner's) inherits SIGINT ignored, and
    Python then never raises KeyboardInterrupt in it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
