"""Rendering speed of `relight synth`, both renderers: seconds per scene (40 settings) and per image.

Usage: python benchmarks/synth_speed.py [--renderer numpy cycles] [--sizes 128 256] [--scenes 3] [--samples 16]
                                        [--samples-curve 4 8 16 32 64]

Renders ``--scenes`` training scenes per renderer and size into a temporary folder. The path tracer needs a
Python with bpy (``$RELIGHT_BLENDER_PYTHON`` or this one); its per-scene time is split into Blender's scene build,
the 9 renders and the depth ray casts (the worker's own timings). ``--samples-curve`` renders one 256x256 scene
at each sample count and reports time against noise, measured as the RMS difference of the 6500 K south-lit
image from a 256-sample reference, in 8-bit levels (what the sample count was chosen by).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from relightcli.data.vidit import SETTINGS, Setting
from relightcli.hardware import cpu_capabilities
from relightcli.synth import synthesize
from relightcli.synth.cycles import CyclesSettings, blender_python, compose, render_passes
from relightcli.synth.cycles.scene import random_scene
from relightcli.synth.writer import Renderer


def _speed(renderer: Renderer, size: int, scenes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = synthesize(tmp, scenes=scenes, size=size, renderer=renderer)
        seconds = time.perf_counter() - start
    per_scene = seconds / scenes
    print(
        f"{renderer.name:6s} {size}x{size}: {scenes} scenes in {seconds:.1f} s: {per_scene:.2f} s per scene, "
        f"{1000 * per_scene / len(SETTINGS):.0f} ms per image ({summary.images} images)"
    )


def _breakdown(python: str, size: int, samples: int, scenes: int) -> None:
    parts: dict[str, list[float]] = {}
    for k in range(scenes):
        desc = random_scene(np.random.default_rng([0, 0, k]))
        for key, value in render_passes(desc, size, CyclesSettings(samples=samples), python)["seconds"].items():
            parts.setdefault(key, []).append(value)
    print(
        f"        cycles {size}x{size} worker: "
        + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in parts.items())
    )


def _curve(python: str, counts: list[int]) -> None:
    desc = random_scene(np.random.default_rng([0, 0, 1]))
    setting = Setting(6500, "S")
    ref = render_passes(desc, 256, CyclesSettings(samples=256, adaptive_threshold=0.01), python)
    strength = (desc["sun"]["strength"], desc["world"]["strength"])
    target = compose(ref["ambient"], ref["sun"], *strength)[setting].astype(np.float64)
    print("samples  seconds (9 renders)  RMS vs 256 spp (8-bit levels)")
    for n in counts:
        start = time.perf_counter()
        passes = render_passes(desc, 256, CyclesSettings(samples=n), python)
        seconds = time.perf_counter() - start
        img = compose(passes["ambient"], passes["sun"], *strength)[setting].astype(np.float64)
        print(f"{n:7d}  {seconds:19.1f}  {np.sqrt(np.mean((img - target) ** 2)):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renderer", nargs="*", default=["numpy", "cycles"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--samples-curve", type=int, nargs="*", default=[])
    args = ap.parse_args()
    print(f"CPU: {cpu_capabilities().summary()}, {os.cpu_count()} cores")
    python = blender_python() if "cycles" in args.renderer or args.samples_curve else None
    for name in args.renderer:
        for size in args.sizes:
            renderer = Renderer(name, 2, CyclesSettings(samples=args.samples), python)
            _speed(renderer, size, args.scenes)
            if name == "cycles":
                _breakdown(python, size, args.samples, 1)
    if args.samples_curve:
        _curve(python, args.samples_curve)


if __name__ == "__main__":
    main()
