"""Issue 6's CPU targets: S3Net at 1024x1024, fast path against plain fp32 eager and against the bf16 matmul peak.

Usage: python benchmarks/cpu_fast_path.py [--model s3net] [--size 1024] [--rounds 3] [--weights W] [--no-compile]
                                          [--default-allocator]

Speed (random weights; speed does not depend on them): in each round, in this order, the bf16 matmul peak
(`relightcli.bench.device_peak_gflops`, median of 5) and one timed run of each setting after a warm-up:
- fp32 eager: the model as built, NCHW, float32;
- bf16 autocast: BatchNorm folded, channels_last, under bf16 autocast;
- bf16 cast: BatchNorm folded, channels_last, weights and input cast to bf16 once;
- bf16 cast + fused, unpacked: the same with convolution + activation/residual chains fused into single oneDNN
  calls (`relightcli.fusion`), weights in PyTorch's layout (oneDNN reorders them at every call);
- bf16 cast + fused: the same with every convolution's weight prepacked into oneDNN's layout once: what
  `relight apply` runs on a CPU with native bf16;
- bf16 cast + compiled: BatchNorm folded, channels_last, bf16 cast, then ``torch.compile`` with Inductor's
  freezing (`relightcli.engine.CompiledModel`, which fuses on its own): `relight bench/apply --compile`. Its
  warm-up includes the compilation, timed and printed apart (``--no-compile`` leaves this setting out).
All settings run with freed memory kept for reuse, as `relight apply` runs (`relightcli.cpualloc`); with
``--default-allocator`` all run on glibc's defaults instead (`benchmarks/cpu_allocator.py` compares the two in
one run).
Rounds interleave the settings so that drift on a shared machine hits all alike; the medians over rounds are
compared as ratios. Accuracy: the engine's default CPU path (and the compiled one) against fp32 eager on trained
weights (W, default: the shipped weights) on a rendered 1024x1024 synthetic pair, as PSNR.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import relightcli as rc
from relightcli.bench import device_peak_gflops
from relightcli.cpualloc import retain_freed_memory
from relightcli.data import SETTINGS
from relightcli.engine import CompiledModel, Relighter, optimize_for_inference
from relightcli.models import IN_CHANNELS
from relightcli.models.summary import count_flops
from relightcli.synth.writer import render_nth_scene
from relightcli.weights import default_weights


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
    args = ap.parse_args()
    retained = not args.default_allocator and retain_freed_memory()

    torch.manual_seed(0)
    cpu = torch.device("cpu")
    model = rc.create_model(args.model)
    gflop = count_flops(args.model, args.size) / 1e9
    x = torch.rand(1, IN_CHANNELS, args.size, args.size)
    settings = _settings(model, x, compiled=not args.no_compile)
    times: dict[str, list[float]] = {k: [] for k in settings}
    peaks: list[float] = []
    with torch.inference_mode():
        for name, fn in settings.items():
            t = time.perf_counter()
            fn()  # warm-up
            print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", flush=True)
        for r in range(args.rounds):
            peaks.append(device_peak_gflops(cpu, "bf16"))
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
    print(f"bf16 matmul peak (median of {args.rounds} rounds): {peak:.0f} GFLOP/s")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"  {name:27s} {med:.3f} s (spread {max(ts) - min(ts):.3f})  {base / med:4.2f}x fp32 eager  "
            f"{gflop / med:5.0f} GFLOP/s  {100 * gflop / med / peak:3.0f}% of bf16 peak"
        )

    weights = args.weights or str(default_weights())
    trained = rc.load_model(weights)
    a, b = render_nth_scene(77, 1, 0, 1024), render_nth_scene(77, 1, 1, 1024)
    src, guide = a.images[SETTINGS[5]].astype(np.float32) / 255, b.images[SETTINGS[30]].astype(np.float32) / 255
    plain = Relighter(trained, device="cpu", precision="fp32", optimize=False, retain_memory=retained)
    ref = plain.relight(src, a.depth, guide, b.depth)
    paths = {"default CPU path": False} | ({} if args.no_compile else {"compiled path": True})
    for label, compiled in paths.items():
        relighter = Relighter(trained, device="cpu", compile=compiled, retain_memory=retained)
        fast = relighter.relight(src, a.depth, guide, b.depth)
        psnr = 10 * np.log10(1 / np.mean((ref - fast) ** 2))
        print(f"{label} vs fp32 eager on {weights} ({trained.relight_info.name}), 1024x1024: {psnr:.1f} dB")


if __name__ == "__main__":
    main()
