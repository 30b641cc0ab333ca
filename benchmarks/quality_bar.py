"""Issue 8's quality bar for the default weights (a benchmark run, not part of the fast test suite).

On held-out synthetic pairs (scenes never seen in training, seed 1), the model must beat both `relight eval`
baselines (identity and colour transfer) by at least 3 dB PSNR and 0.05 SSIM.

Usage: python benchmarks/quality_bar.py [--data heldout-data] [--weights W] [--pairs 48] [--size 128]
Renders the held-out set with `relight synth` first if DATA does not exist. Exits 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relightcli import load_model
from relightcli.assets import default_weights
from relightcli.evaluation import evaluate
from relightcli.inference.engine import Relighter
from relightcli.synth import synthesize


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("heldout-data"))
    ap.add_argument("--weights", default=None)
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("quality-report"))
    args = ap.parse_args()
    if not args.data.exists():
        synthesize(args.data, scenes=0, size=args.size, seed=args.seed, pairs=args.pairs)
    weights = args.weights or str(default_weights())
    result = evaluate(Relighter(load_model(weights), device="cpu"), args.data, args.out)
    m = result.summary["methods"]
    best_psnr = max(m["identity"]["psnr"], m["colour transfer"]["psnr"])
    best_ssim = max(m["identity"]["ssim"], m["colour transfer"]["ssim"])
    print(f"{result.summary['pairs']} pairs from {result.summary['data']}, weights {weights}")
    print("| method | PSNR (dB) | SSIM |\n|---|---|---|")
    for method, v in m.items():
        print(f"| {method} | {v['psnr']:.2f} | {v['ssim']:.4f} |")
    ok = m["model"]["psnr"] >= best_psnr + 3 and m["model"]["ssim"] >= best_ssim + 0.05
    print(
        f"bar: PSNR >= {best_psnr + 3:.2f} and SSIM >= {best_ssim + 0.05:.4f}: {'PASS' if ok else 'FAIL'} "
        f"(model {m['model']['psnr']:.2f} dB, {m['model']['ssim']:.4f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
