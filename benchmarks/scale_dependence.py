"""Is a model tied to its training size? PSNR on held-out pairs as they are and upsampled x2 (then area-reduced).

A model that learnt relighting rather than its training resolution scores about the same both ways; one trained
at 128x128 drops at x2, one trained at 256x256 drops at x1 on 128x128 pairs (see `relightcli.training.augment`).

Usage: python benchmarks/scale_dependence.py PAIRS_FOLDER WEIGHTS [WEIGHTS ...]
(e.g. ``heldout/np/val weights/relight-default.safetensors runs/x/last.safetensors``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch.nn.functional as F

from relightcli import load_model
from relightcli.data import PairDataset, scan_pairs
from relightcli.inference.engine import Relighter
from relightcli.metrics import psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="pair-layout folder with targets")
    parser.add_argument("weights", nargs="+")
    args = parser.parse_args()
    pairs = PairDataset(scan_pairs(args.folder))
    for weights in args.weights:
        relighter = Relighter(load_model(weights), device="cpu")  # the CPU's default precision
        native, doubled = [], []
        for item in pairs:
            x, target = item["input"][None], item["target"][None]
            native.append(float(psnr(relighter.run(x), target)))
            up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            doubled.append(float(psnr(F.interpolate(relighter.run(up), scale_factor=0.5, mode="area"), target)))
        print(f"{weights}: {len(native)} pairs, PSNR as they are {np.mean(native):.2f} dB, x2 {np.mean(doubled):.2f}")


if __name__ == "__main__":
    main()
