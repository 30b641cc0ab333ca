"""Freed memory kept for reuse (`relightcli.inference.cpualloc`) against glibc's defaults, on the engine's CPU paths.

Usage: python benchmarks/cpu_allocator.py [--model s3net] [--size 1024] [--rounds 3] [--passes 3]

The setting is process-wide and one-way, so each measurement is a fresh interpreter: per round, per path
(the default CPU path of `relightcli.inference.engine.Relighter`, and plain fp32 eager), one child with glibc's defaults
and one with freed memory retained, alternating so that drift on a shared machine hits both alike. A child
builds the model (random weights: speed does not depend on them), runs one warm-up pass and ``--passes`` timed
passes of ``Relighter.run`` on a random input, and reports the median time, the minor page faults per timed
pass and its peak RSS. The summary gives medians over rounds and the speed-up as a ratio of those medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PATHS = {
    "default CPU path": {},
    "fp32 eager": {"precision": "fp32", "optimize": False},
}


def child(model_name: str, size: int, passes: int, path: str, retain: bool) -> None:
    import resource
    import time

    import torch

    import relightcli as rc
    from relightcli.inference.engine import Relighter
    from relightcli.inference.memory import peak_rss_mb
    from relightcli.models import IN_CHANNELS

    torch.manual_seed(0)
    relighter = Relighter(rc.create_model(model_name), device="cpu", retain_memory=retain, **PATHS[path])
    x = torch.rand(1, IN_CHANNELS, size, size)
    relighter.run(x)
    times, faults = [], []
    for _ in range(passes):
        before, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        relighter.run(x)
        times.append(time.perf_counter() - t)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    row = {"median_s": statistics.median(times), "faults": statistics.median(faults), "rss_mb": peak_rss_mb()}
    print(json.dumps(row))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s3net")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("PATH", "ALLOCATOR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.model, args.size, args.passes, args.child[0], args.child[1] == "retain")
        return

    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for path in PATHS:
            for allocator in ("default", "retain"):
                cmd = [sys.executable, __file__, "--model", args.model, "--size", str(args.size)]
                cmd += ["--passes", str(args.passes), "--child", path, allocator]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                row = json.loads(out.strip().splitlines()[-1])
                results.setdefault((path, allocator), []).append(row)
                print(f"round {r + 1}: {path}, {allocator}: {row['median_s']:.3f} s", flush=True)
    print(f"\n{args.model} at {args.size}x{args.size}, medians over {args.rounds} rounds of {args.passes} passes")
    for path in PATHS:
        med = {}
        for allocator in ("default", "retain"):
            rows = results[(path, allocator)]
            med[allocator] = statistics.median(r["median_s"] for r in rows)
            print(
                f"  {path:17s} {allocator:8s} {med[allocator]:.3f} s  "
                f"{statistics.median(r['faults'] for r in rows):8.0f} page faults/pass  "
                f"peak RSS {statistics.median(r['rss_mb'] for r in rows):5.0f} MB"
            )
        print(f"  {path:17s} retained is {med['default'] / med['retain']:.2f}x faster")


if __name__ == "__main__":
    main()
