"""How a relighter holds up when another renderer's tone and exposure are put on the same pairs.

Renderers differ in more than their scenes: exposure, the tone curve from radiance to display values (sRGB's
"Standard", Blender's Filmic and AgX, ACES) and how saturated highlights come out. A global per-pixel change of
the image values applied alike to a pair's source, guide and target keeps the pair true: it is what the same
scenes rendered with that camera response would be (up to clipping and 8-bit rounding). This script applies
each such look to every pair of a pair-layout folder and scores the model and the identity (the source as it
is) against the changed target, so a model that has learned one renderer's response shows it here.

Usage: python benchmarks/look_robustness.py FOLDER... [--weights W] [--looks standard,dark1,dark2,bright1,...]

The looks are `relightcli.evaluation.responses.RESPONSES` (described there).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from relightcli import load_model
from relightcli.assets import default_weights
from relightcli.data import PairDataset, scan_pairs
from relightcli.errors import RelightError
from relightcli.evaluation.responses import RESPONSES, parse_responses, respond
from relightcli.inference.engine import Relighter
from relightcli.metrics import psnr, ssim


def score(out: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    o = torch.from_numpy(out.transpose(2, 0, 1).copy())[None]
    t = torch.from_numpy(target.transpose(2, 0, 1).copy())[None]
    return float(psnr(o, t)), float(ssim(o, t))


def finite_mean(scores: list[tuple[float, float]]) -> np.ndarray:
    """Mean PSNR and SSIM as `relight eval` takes them: a pair whose output is exact (infinite PSNR, as the
    identity is on a pair whose light does not change) is left out of the PSNR mean."""
    values = np.array(scores)
    return np.array([values[np.isfinite(values[:, 0]), 0].mean(), values[:, 1].mean()])


def main() -> None:
    try:
        run()
    except RelightError as exc:  # a missing folder or unreadable weights: one line, exit 1
        raise SystemExit(f"error: {exc}") from None


@torch.no_grad()
def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--looks", default=",".join(RESPONSES))
    args = ap.parse_args()
    weights = args.weights or str(default_weights())
    relighter = Relighter(load_model(weights), device="cpu")
    try:
        looks = parse_responses(args.looks)
    except ValueError as exc:  # an unknown look: argparse's one-line usage error, exit 2
        ap.error(str(exc))
    sets = [(f, PairDataset(scan_pairs(f / "val" if (f / "val").is_dir() else f))) for f in args.folders]
    print(f"weights: {weights} ({relighter.info.name}, {relighter.precision}, flip {relighter.flip_ensemble})\n")
    print("| set | look | pairs | model PSNR / SSIM | identity | model - identity (dB) |")
    print("|---|---|---|---|---|---|")
    for folder, pairs in sets:
        name = folder.name
        for look in looks:
            model_scores, identity_scores = [], []
            for item in pairs:
                x = item["input"]
                src = respond(look, x[:3].permute(1, 2, 0).numpy())
                guide = respond(look, x[3:6].permute(1, 2, 0).numpy())
                target = respond(look, item["target"].permute(1, 2, 0).numpy())
                out = relighter.relight(src, x[6].numpy(), guide, x[7].numpy())
                model_scores.append(score(out, target))
                identity_scores.append(score(src, target))
            m, i = finite_mean(model_scores), finite_mean(identity_scores)
            print(
                f"| {name} | {look} | {len(pairs)} | {m[0]:.2f} / {m[1]:.4f} | {i[0]:.2f} / {i[1]:.4f} "
                f"| {m[0] - i[0]:+.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
