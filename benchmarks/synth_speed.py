"""Rendering speed of `relight synth` (issue target: 20 scenes x 40 settings at 256x256 in under 2 minutes).

Usage: python benchmarks/synth_speed.py [--scenes 20] [--size 256] [--pairs 20]
Prints seconds, images/s and the per-scene time, rendering into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from relightcli.synth import synthesize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=20)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--pairs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = synthesize(tmp, scenes=args.scenes, size=args.size, pairs=args.pairs)
        seconds = time.perf_counter() - start
    n_val = max(2, -(-args.pairs // 4)) if args.pairs else 0
    print(f"cpu cores: {os.cpu_count()}")
    print(
        f"{summary.images} training images ({args.scenes} scenes) + {args.pairs} pairs ({n_val} val scenes) "
        f"at {args.size}x{args.size}: {seconds:.1f} s, {summary.images / seconds:.1f} training images/s, "
        f"{seconds / (args.scenes + n_val):.2f} s per scene"
    )


if __name__ == "__main__":
    main()
