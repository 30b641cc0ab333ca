"""Rendering speed of `relight synth`, both renderers: seconds per scene (40 settings) and per image.

Usage: python benchmarks/synth_speed.py [--renderer numpy cycles] [--sizes 128 256] [--scenes 3] [--samples 16]
                                        [--look default|vidit] [--samples-curve 4 8 16 32 64] [--denoise-study 4 8 16]

Renders ``--scenes`` training scenes per renderer and size into a temporary folder. The path tracer needs a
Python with bpy (``$RELIGHT_BLENDER_PYTHON`` or this one); its per-scene time is split into Blender's scene build,
the 9 renders and the depth ray casts (the worker's own timings). ``--samples-curve`` renders one 256x256 scene
at each sample count and reports time against noise, measured as the RMS difference of the 6500 K south-lit
image from a 256-sample reference, in 8-bit levels (what the sample count was chosen by). ``--look`` picks the
path tracer's scene family (`relightcli.synth.cycles.LOOKS`).

``--denoise-study`` renders the 6500 K images of all 8 directions of two scenes of ``--look``'s family at each
sample count with and without OpenImageDenoise and measures, against a 256-sample denoised reference at a tight
adaptive threshold: the time of the 9 renders, the RMS error in 8-bit levels, and what denoising does to texture,
as the fine-detail energy ratio (the RMS of each image minus its 5x5 Gaussian blur, over the reference's: below 1
means texture smoothed away, above 1 noise added) and the SSIM of that fine-detail band against the reference's
(1 when the fine texture is where the reference has it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import cv2
import numpy as np

from relightcli.data.vidit import DIRECTIONS, SETTINGS, Setting
from relightcli.hardware import cpu_capabilities
from relightcli.synth import synthesize
from relightcli.synth.cycles import LOOKS, CyclesSettings, blender_python, compose_scene, render_passes
from relightcli.synth.cycles.scene import random_scene
from relightcli.synth.cycles.vidit_look import random_vidit_scene
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


def _describe(look: str, key: list[int]) -> dict:
    rng = np.random.default_rng(key)
    return random_vidit_scene(rng) if look == "vidit" else random_scene(rng)


def _breakdown(python: str, size: int, samples: int, scenes: int, look: str) -> None:
    parts: dict[str, list[float]] = {}
    for k in range(scenes):
        desc = _describe(look, [0, 0, k])
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
    target = compose_scene(desc, ref)[setting].astype(np.float64)
    print("samples  seconds (9 renders)  RMS vs 256 spp (8-bit levels)")
    for n in counts:
        start = time.perf_counter()
        passes = render_passes(desc, 256, CyclesSettings(samples=n), python)
        seconds = time.perf_counter() - start
        img = compose_scene(desc, passes)[setting].astype(np.float64)
        print(f"{n:7d}  {seconds:19.1f}  {np.sqrt(np.mean((img - target) ** 2)):.2f}")


def _images(desc: dict, passes: dict) -> np.ndarray:
    """The 6500 K image of each of the 8 directions, 8-bit sRGB as written, as float64 (8, S, S, 3)."""
    images = compose_scene(desc, passes)
    return np.stack([images[Setting(6500, d)] for d in DIRECTIONS]).astype(np.float64)


def _fine(images: np.ndarray) -> np.ndarray:
    """The fine-detail band: each image's luminance minus its 5x5 Gaussian blur (sigma 1)."""
    y = images @ np.array([0.299, 0.587, 0.114])
    return np.stack([img - cv2.GaussianBlur(img, (5, 5), 1.0) for img in y])


def _band_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004, 7x7 box windows) of two zero-mean detail bands, on the 8-bit scale."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for x, y in zip(a, b, strict=True):
        mx, my = cv2.blur(x, (7, 7)), cv2.blur(y, (7, 7))
        vx, vy = cv2.blur(x * x, (7, 7)) - mx * mx, cv2.blur(y * y, (7, 7)) - my * my
        cov = cv2.blur(x * y, (7, 7)) - mx * my
        scores.append(float(np.mean(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))))
    return float(np.mean(scores))


def _denoise_study(python: str, counts: list[int], look: str, scenes: int = 2) -> None:
    descs = [_describe(look, [0, 0, k]) for k in range(scenes)]
    refs = [
        _images(d, render_passes(d, 256, CyclesSettings(samples=256, adaptive_threshold=0.01), python)) for d in descs
    ]
    print(f"{look} look, {scenes} scenes at 256x256, 6500 K x 8 directions against 256 spp denoised:")
    print(
        "| samples | denoiser | seconds (9 renders, per scene) | RMS (8-bit levels) "
        "| fine-detail energy | fine-detail SSIM |"
    )
    print("|---|---|---|---|---|---|")
    for n in counts:
        for denoise in (True, False):
            seconds, rms, energy, ssim = [], [], [], []
            for desc, ref in zip(descs, refs, strict=True):
                start = time.perf_counter()
                passes = render_passes(desc, 256, CyclesSettings(samples=n, denoise=denoise), python)
                seconds.append(time.perf_counter() - start)
                img = _images(desc, passes)
                rms.append(np.sqrt(np.mean((img - ref) ** 2)))
                f_img, f_ref = _fine(img), _fine(ref)
                energy.append(np.sqrt(np.mean(f_img**2)) / max(np.sqrt(np.mean(f_ref**2)), 1e-9))
                ssim.append(_band_ssim(f_img, f_ref))
            print(
                f"| {n} | {'OIDN' if denoise else 'off'} | {statistics.mean(seconds):.1f} | "
                f"{statistics.mean(rms):.2f} | {statistics.mean(energy):.2f} | {statistics.mean(ssim):.3f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renderer", nargs="*", default=["numpy", "cycles"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--samples-curve", type=int, nargs="*", default=[])
    ap.add_argument("--look", choices=LOOKS, default="default", help="The path tracer's scene family.")
    ap.add_argument("--denoise-study", type=int, nargs="*", default=[], help="Sample counts to compare, OIDN on/off.")
    args = ap.parse_args()
    print(f"CPU: {cpu_capabilities().summary()}, {os.cpu_count()} cores")
    python = blender_python() if "cycles" in args.renderer or args.samples_curve or args.denoise_study else None
    for name in args.renderer:
        for size in args.sizes:
            renderer = Renderer(name, 2, CyclesSettings(samples=args.samples, look=args.look), python)
            _speed(renderer, size, args.scenes)
            if name == "cycles":
                _breakdown(python, size, args.samples, 1, args.look)
    if args.samples_curve:
        _curve(python, args.samples_curve)
    if args.denoise_study:
        _denoise_study(python, args.denoise_study, args.look)


if __name__ == "__main__":
    main()
