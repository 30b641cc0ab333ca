"""Fit a light-aware relighter's reading or gate sharpness on validation pairs (temperature scaling of its light
reader).

Usage: python benchmarks/reading_sharpness.py DATA [--weights W] [--values 1 1.5 2 3 4] [--gate] [--json OUT]

DATA is a pair-layout folder with ``pairs.csv`` from the *training* data's validation scenes (e.g. ``relight
synth cal --renderer cycles --scenes 0 --pairs 400 --val-scenes 10 --size 256 --seed 0``: the validation scenes of
the training set's seed), never a held-out set. For each value the model reads both lights from the photos with
its light reader's logits multiplied by the value (`S3Net.reading_sharpness`: the inverse of a softmax
temperature, Guo et al., ICML 2017), relights every pair (``relight eval``'s engine, flip ensemble as the
checkpoint records) and the table shows PSNR / SSIM over all pairs and by what changed, beside the identity.
The values with the highest PSNR and the highest SSIM over all pairs are named (they need not agree);
``relight export W OUT --model-arg reading_sharpness=V`` records a value, and `relight apply` then reads lights
with it. With ``--gate`` the values are ``gate_sharpness``: the codes stay as read and only the mix of the
same-direction path sharpens (`S3Net.gate_sharpness`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from relightcli import load_model
from relightcli.evaluation import evaluate
from relightcli.inference.engine import Relighter


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--weights", default="weights/relight-default.safetensors")
    ap.add_argument("--values", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0, 4.0])
    ap.add_argument("--gate", action="store_true", help="sweep gate_sharpness instead of reading_sharpness")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows, results = [], {}
    for value in args.values:
        model = load_model(args.weights)
        if getattr(model, "light_reader", None) is None:
            print(f"error: {args.weights} is not a light-aware model", file=sys.stderr)
            return 2
        setattr(model, "gate_sharpness" if args.gate else "reading_sharpness", value)
        relighter = Relighter(model, device="cpu")
        with tempfile.TemporaryDirectory(prefix="sharpness-") as report:
            summary = evaluate(relighter, args.data, Path(report)).summary
        results[value] = summary
        groups = [("all", summary["pairs"], summary["methods"])]
        groups += [(c, g["pairs"], g["methods"]) for c, g in summary["by_change"].items()]
        for change, n, methods in groups:
            model_m, ident = methods["model"], methods["identity"]
            rows.append(
                f"| {value:g} | {change} | {n} | {model_m['psnr']:.2f} / {model_m['ssim']:.4f} | "
                f"{ident['psnr']:.2f} / {ident['ssim']:.4f} |"
            )
    best = {m: max(results, key=lambda v: results[v]["methods"]["model"][m]) for m in ("psnr", "ssim")}
    print(f"weights: {args.weights}; data: {args.data}\n")
    print(f"| {'gate' if args.gate else 'reading'} sharpness | change | pairs | model PSNR / SSIM | identity |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nhighest over all pairs: PSNR at sharpness {best['psnr']:g}, SSIM at {best['ssim']:g}")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
