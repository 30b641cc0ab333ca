"""CPU targets (issues 6 and 15): S3Net, the fast path against plain fp32 eager (the released code's computation)
and against the matmul peak in the fast path's precision.

Usage: python benchmarks/cpu_fast_path.py [--model s3net] [--size 1024] [--rounds 3] [--weights W] [--no-compile]
                                          [--default-allocator] [--as-avx2]

On a CPU with native bf16 the settings below are measured against the bf16 peak. On a CPU without it (or with
``--as-avx2``, which re-runs the script with oneDNN and MKL capped at AVX2, the kernels of an AVX2-only CPU such as
AMD Zen 3) the fp32 paths are: fp32 eager; folded + channels_last; fused, unpacked; fused and prepacked (what
`relight apply` runs there for one image); compiled; and int8 calibrated on the bundled inputs
(`relightcli.inference.quantize`, what `relight apply` runs there for folders, or with --precision int8);
against the fp32 matmul peak, and the int8 path's accuracy on the trained weights.

Speed (random weights; speed does not depend on them): in each round, in this order, the bf16 matmul peak
(`relightcli.inference.bench.device_peak_gflops`, median of 5) and one timed run of each setting after a warm-up:
- fp32 eager: the model as built, NCHW, float32;
- bf16 autocast: BatchNorm folded, channels_last, under bf16 autocast;
- bf16 cast: BatchNorm folded, channels_last, weights and input cast to bf16 once;
- bf16 cast + fused, unpacked: the same with convolution + activation/residual chains fused into single oneDNN
  calls (`relightcli.inference.fusion`), weights in PyTorch's layout (oneDNN reorders them at every call);
- bf16 cast + fused: the same with every convolution's weight prepacked into oneDNN's layout once: what
  `relight apply` runs on a CPU with native bf16;
- bf16 cast + compiled: BatchNorm folded, channels_last, bf16 cast, then ``torch.compile`` with Inductor's
  freezing (`relightcli.inference.engine.CompiledModel`, which fuses on its own): `relight bench/apply --compile`. Its
  warm-up includes the compilation, timed and printed apart (``--no-compile`` leaves this setting out).
All settings run with freed memory kept for reuse, as `relight apply` runs (`relightcli.inference.cpualloc`); with
``--default-allocator`` all run on glibc's defaults instead (`benchmarks/cpu_allocator.py` compares the two in
one run).
Rounds interleave the settings so that drift on a shared machine hits all alike; the medians over rounds are
compared as ratios. Accuracy: the engine's default CPU path (and the compiled one) against fp32 eager on trained
weights (W, default: the shipped weights) on a rendered 1024x1024 synthetic pair, as PSNR.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

import relightcli as rc
from relightcli.assets import default_weights
from relightcli.data import SETTINGS
from relightcli.hardware import cpu_capabilities
from relightcli.inference.bench import device_peak_gflops
from relightcli.inference.cpualloc import retain_freed_memory
from relightcli.inference.engine import CompiledModel, Relighter, optimize_for_inference
from relightcli.inference.quantize import int8_available, quantize_int8
from relightcli.models import IN_CHANNELS
from relightcli.models.summary import count_flops
from relightcli.synth.writer import render_nth_scene


def _fp32_settings(model: torch.nn.Module, x: torch.Tensor, compiled: bool) -> dict[str, Callable[[], None]]:
    """The fp32 paths, for CPUs without native bf16 (AVX2, or AVX512 without AVX512-BF16): plain fp32 eager is
    the released code's computation (same architecture, BatchNorm unfolded), the fused + prepacked one is what
    `relight apply` runs there."""
    plain = model.eval()
    folded = optimize_for_inference(model, fold_bn=True, channels_last=True)
    base = {"fold_bn": True, "channels_last": True, "fuse_pointwise": True}
    unpacked = optimize_for_inference(model, **base, prepack=False)
    fused = optimize_for_inference(model, **base)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    settings = {
        "fp32 eager": lambda: plain(x),
        "fp32 folded + channels_last": lambda: folded(x_cl),
        "fp32 fused, unpacked": lambda: unpacked(x_cl),
        "fp32 fused (default path)": lambda: fused(x_cl),
    }
    if compiled:
        inductor = CompiledModel(optimize_for_inference(model, channels_last=True), dynamic=False)
        settings["fp32 compiled"] = lambda: inductor(x_cl)
    if int8_available():  # calibrated on the bundled inputs (random weights: speed only)
        q = quantize_int8(optimize_for_inference(model, fold_bn=True), check=False)[0]
        settings["int8 (calibrated)"] = lambda: q(x_cl)
    return settings


def _settings(model: torch.nn.Module, x: torch.Tensor, compiled: bool) -> dict[str, Callable[[], None]]:
    plain = model.eval()
    autocast = optimize_for_inference(model, fold_bn=True, channels_last=True)
    cast = optimize_for_inference(model, fold_bn=True, channels_last=True, dtype=torch.bfloat16)
    bf16 = {"fold_bn": True, "channels_last": True, "dtype": torch.bfloat16, "fuse_pointwise": True}
    unpacked = optimize_for_inference(model, **bf16, prepack=False)
    fused = optimize_for_inference(model, **bf16)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    x_bf16 = x_cl.to(torch.bfloat16)

    def fp32() -> None:
        plain(x)

    def bf16_autocast() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast(x_cl)

    def bf16_cast() -> None:
        cast(x_bf16)

    def bf16_unpacked() -> None:
        unpacked(x_bf16)

    def bf16_fused() -> None:
        fused(x_bf16)

    settings = {
        "fp32 eager": fp32,
        "bf16 autocast": bf16_autocast,
        "bf16 cast": bf16_cast,
        "bf16 cast + fused, unpacked": bf16_unpacked,
        "bf16 cast + fused": bf16_fused,
    }
    if compiled:
        inductor = CompiledModel(optimize_for_inference(model, channels_last=True, dtype=torch.bfloat16), dynamic=False)
        settings["bf16 cast + compiled"] = lambda: inductor(x_bf16)
    return settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s3net")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--no-compile", action="store_true", help="leave out the torch.compile setting")
    ap.add_argument("--default-allocator", action="store_true", help="glibc's defaults: freed memory not kept")
    ap.add_argument(
        "--as-avx2",
        action="store_true",
        help="re-run with oneDNN and MKL capped at AVX2 (ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS): the kernels "
        "an AVX2-only CPU such as AMD Zen 3 runs, on this CPU",
    )
    args = ap.parse_args()
    if args.as_avx2 and os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2":
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    retained = not args.default_allocator and retain_freed_memory()
    caps = cpu_capabilities()
    native = caps.native_bf16
    precision = "bf16" if native else "fp32"
    print(f"CPU: {caps.summary()}; the fast path here runs in {precision}", flush=True)

    torch.manual_seed(0)
    cpu = torch.device("cpu")
    model = rc.create_model(args.model)
    gflop = count_flops(args.model, args.size) / 1e9
    x = torch.rand(1, IN_CHANNELS, args.size, args.size)
    settings = (_settings if native else _fp32_settings)(model, x, compiled=not args.no_compile)
    times: dict[str, list[float]] = {k: [] for k in settings}
    peaks: list[float] = []
    with torch.inference_mode():
        for name, fn in settings.items():
            t = time.perf_counter()
            fn()  # warm-up
            print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", flush=True)
        for r in range(args.rounds):
            peaks.append(device_peak_gflops(cpu, precision))
            for name, fn in settings.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
            print(
                f"round {r + 1}: peak {peaks[-1]:.0f} GFLOP/s, "
                + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items())
            )
    peak = statistics.median(peaks)
    base = statistics.median(times["fp32 eager"])
    print(
        f"\n{args.model} at {args.size}x{args.size}, {gflop:.0f} GFLOP, {torch.get_num_threads()} threads, "
        f"freed memory {'kept for reuse' if retained else 'returned to the OS (glibc defaults)'}"
    )
    print(f"{precision} matmul peak (median of {args.rounds} rounds): {peak:.0f} GFLOP/s")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"  {name:27s} {med:.3f} s (spread {max(ts) - min(ts):.3f})  {base / med:4.2f}x fp32 eager  "
            f"{gflop / med:5.0f} GFLOP/s  {100 * gflop / med / peak:3.0f}% of {precision} peak"
        )

    weights = args.weights or str(default_weights())
    trained = rc.load_model(weights)
    a, b = render_nth_scene(77, 1, 0, 1024), render_nth_scene(77, 1, 1, 1024)
    src, guide = a.images[SETTINGS[5]].astype(np.float32) / 255, b.images[SETTINGS[30]].astype(np.float32) / 255
    plain = Relighter(trained, device="cpu", precision="fp32", optimize=False, retain_memory=retained, max_side=0)
    ref = plain.relight(src, a.depth, guide, b.depth)
    paths = {"default CPU path": (False, "auto")} | ({} if args.no_compile else {"compiled path": (True, "auto")})
    if not native and int8_available():
        paths["int8 path"] = (False, "int8")
    for label, (compiled, precision_spec) in paths.items():
        relighter = Relighter(
            trained, device="cpu", compile=compiled, retain_memory=retained, precision=precision_spec, max_side=0
        )
        fast = relighter.relight(src, a.depth, guide, b.depth)
        psnr = 10 * np.log10(1 / np.mean((ref - fast) ** 2))
        print(f"{label} vs fp32 eager on {weights} ({trained.relight_info.name}), 1024x1024: {psnr:.1f} dB")


if __name__ == "__main__":
    main()
