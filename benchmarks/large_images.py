"""Issue 7's large-image figures: tiled vs whole-image PSNR, and a 4096x4096 photo in --max-side mode.

Usage: python benchmarks/large_images.py [--weights W] [--big-weights W2] [--tile 512] [--overlap 64]
1. Renders a synthetic 1024x1024 pair and relights it whole and in tiles with W (default: the shipped weights);
   prints the PSNR between the two.
2. Makes a 4096x4096 photo-like source (a 1024 render upscaled, with fine noise) and runs
   `relight apply --max-side 1024` on it in a subprocess with W2 (default: W); prints wall time and the child's
   peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import relightcli as rc
from relightcli.assets import default_weights
from relightcli.data import SETTINGS
from relightcli.inference.engine import Relighter
from relightcli.synth.writer import render_nth_scene


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--big-weights", default=None)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    args = ap.parse_args()
    weights = args.weights or str(default_weights())
    a, b = render_nth_scene(77, 1, 0, 1024), render_nth_scene(77, 1, 1, 1024)
    src, guide = a.images[SETTINGS[5]].astype(np.float32) / 255, b.images[SETTINGS[30]].astype(np.float32) / 255
    model = rc.load_model(weights)
    whole = Relighter(model, device="cpu", max_side=0).relight(src, a.depth, guide, b.depth)  # every pixel
    tiled = Relighter(model, device="cpu", tile=args.tile, tile_overlap=args.overlap).relight(
        src, a.depth, guide, b.depth
    )
    o = args.overlap
    for label, x, y in (("whole image", whole, tiled), ("away from the borders", whole[o:-o, o:-o], tiled[o:-o, o:-o])):
        print(f"tiled ({args.tile}, overlap {o}) vs whole, {label}: {10 * np.log10(1 / np.mean((x - y) ** 2)):.2f} dB")
    print(f"  weights: {weights} ({model.relight_info.name})")

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        rng = np.random.default_rng(0)
        big = cv2.resize(a.images[SETTINGS[2]], (4096, 4096), interpolation=cv2.INTER_CUBIC)
        big = np.clip(big.astype(np.int16) + rng.integers(-3, 4, big.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(t / "src.png"), big[:, :, ::-1])
        cv2.imwrite(str(t / "src_d.png"), (cv2.resize(a.depth, (4096, 4096)) * 65535).astype(np.uint16))
        cv2.imwrite(str(t / "guide.png"), (guide * 255).astype(np.uint8)[:, :, ::-1])
        cv2.imwrite(str(t / "guide_d.png"), (b.depth * 65535).astype(np.uint16))
        cmd = [
            sys.executable,
            "-m",
            "relightcli",
            "apply",
            str(t / "src.png"),
            str(t / "src_d.png"),
            str(t / "guide.png"),
            str(t / "guide_d.png"),
            "-o",
            str(t / "out.png"),
            "--max-side",
            "1024",
            "-w",
            args.big_weights or weights,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(
            f"4096x4096 --max-side 1024 with {args.big_weights or weights}: {wall:.1f} s wall (process start "
            f"included), peak RSS {peak:.2f} GB"
        )


if __name__ == "__main__":
    main()
