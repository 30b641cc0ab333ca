"""Which resolution to relight a large photo at: full resolution, a working size carried up by the guided
filter, or tiles, on rendered pairs at 2048 px and more (quality against the true target, time, peak memory);
and the engine's memory model against measured peaks.

Usage:
  python benchmarks/resolution.py FOLDER... [--weights W] [--configs full,side512,side1024,side2048,tile1024]
  python benchmarks/resolution.py --memory-sizes 512,1024,2048,3072 [--weights W]

FOLDER is a pair folder with targets, e.g. made by
``relight synth np2048 --scenes 0 --pairs 4 --val-scenes 2 --size 2048 --seed 1 --supersample 1`` (its val/).
Every configuration runs through `Relighter` on the CPU's default path with the weights' own flip-ensemble
setting and no memory check (so that "full" really is every pixel); peak memory is the pass's own, measured as
the engine's memory check measures it (`relightcli.inference.memory.measure_peak`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import relightcli as rc
from relightcli.assets import default_weights
from relightcli.data import PairDataset, scan_pairs
from relightcli.inference.engine import Relighter
from relightcli.inference.memory import measure_peak
from relightcli.metrics import psnr, ssim


def _config(name: str) -> dict:
    if name == "full":
        return {"max_side": 0}
    if name.startswith("side"):
        return {"max_side": int(name[4:])}
    if name.startswith("tile"):
        return {"max_side": 0, "tile": int(name[4:]), "tile_overlap": 64}
    raise SystemExit(f"unknown configuration {name!r}")


def _quality(out: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    x = torch.from_numpy(out).permute(2, 0, 1)[None]
    y = torch.from_numpy(target).permute(2, 0, 1)[None]
    return float(psnr(x, y)), float(ssim(x, y))


def _timed_pass(relighter: Relighter, *arrays: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Seconds, peak bytes and the output of one `Relighter.relight`."""
    result: list[np.ndarray] = []
    start = time.perf_counter()
    peak = measure_peak(lambda: result.append(relighter.relight(*arrays)), relighter.device)
    return time.perf_counter() - start, peak or 0.0, result[0]


def compare(folders: list[Path], weights: str, configs: list[str]) -> None:
    model = rc.load_model(weights)
    print(f"weights: {weights} ({model.relight_info.name})")
    print("| set | pairs | size | configuration | PSNR dB | SSIM | s per image | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for folder in folders:
        pairs = scan_pairs(folder)
        rows = {c: [] for c in configs}
        size = ""
        for item in PairDataset(pairs):
            x = item["input"].numpy().transpose(1, 2, 0)
            src, guide, sd, gd = x[..., :3], x[..., 3:6], x[..., 6], x[..., 7]
            target = item["target"].numpy().transpose(1, 2, 0)
            size = f"{src.shape[1]}x{src.shape[0]}"
            for c in configs:
                relighter = Relighter(model, device="cpu", memory_check=False, **_config(c))
                relighter.relight(src[:64, :64], sd[:64, :64], guide, gd)  # warm-up: prepacking, allocator
                seconds, peak, out = _timed_pass(relighter, src, sd, guide, gd)
                rows[c].append((*_quality(out, target), seconds, peak / 2**20))
        for c in configs:
            p, s, t, m = np.mean(rows[c], axis=0)
            print(f"| {folder.parent.name} | {len(rows[c])} | {size} | {c} | {p:.2f} | {s:.4f} | {t:.2f} | {m:.0f} |")


def memory_model_error(weights: str, sizes: list[int]) -> None:
    model = rc.load_model(weights)
    relighter = Relighter(model, device="cpu", memory_check=False, max_side=0)
    fitted = relighter.memory_model()
    if fitted is None:
        raise SystemExit("this platform cannot measure a pass's peak memory")
    mb, name = fitted.base / 2**20, model.relight_info.name
    print(f"memory model: {mb:.0f} MB + {fitted.per_pixel:.0f} bytes per pixel ({name}, one pass)")
    print("| size | estimated MB | measured MB | error |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(1)
    for side in sizes:  # a first pass at each size, as an image's pass is
        rgb, depth = rng.random((side, side, 3), dtype=np.float32), rng.random((side, side), dtype=np.float32)
        measured = measure_peak(lambda c=rgb, d=depth: relighter.relight(c, d, c, d), relighter.device) or 0.0
        est = fitted.peak(side, side)
        error = 100 * (est - measured) / measured
        print(f"| {side}x{side} | {est / 2**20:.0f} | {measured / 2**20:.0f} | {error:+.1f}% |")


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--configs", default="full,side512,side1024,side2048,tile1024")
    ap.add_argument("--memory-sizes", default="")
    args = ap.parse_args()
    weights = args.weights or str(default_weights())
    if args.memory_sizes:
        memory_model_error(weights, [int(s) for s in args.memory_sizes.split(",")])
    if args.folders:
        compare(args.folders, weights, args.configs.split(","))


if __name__ == "__main__":
    main()
