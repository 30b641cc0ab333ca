"""A relighting baseline with no learning, from `relightcli.models.shading`: is the physics alone any good?

For each pair of a pair-layout folder (``input/``, ``guide/``, ``target/`` with depths, as `relight synth` writes
its validation pairs): the source times the guide/source ratio of mean colour (normalised to keep brightness),
times the ratio of the source's Lambertian shading under the guide's and under its own least-squares light
estimate, ``(a + shade_guide) / (a + shade_src)``, for a few ambient levels ``a``. Prints mean PSNR against the
identity and the colour gain alone.

Usage: python benchmarks/physical_baseline.py PAIRS_FOLDER [PAIRS_FOLDER ...]
(e.g. ``heldout/pt/val heldout/np/val`` of `benchmarks/generalisation.py`).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from relightcli.data import PairDataset, scan_pairs
from relightcli.metrics import psnr
from relightcli.models.shading import SHADING_MAPS, shading_inputs

AMBIENTS = (0.3, 1.0, 2.0)


def relight(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The baseline's candidates for a model input ``(1, 8, H, W)``."""
    src, guide = x[:, :3], x[:, 3:6]
    gain = (guide.mean(dim=(2, 3)) / guide.mean()) / (src.mean(dim=(2, 3)) / src.mean()).clamp(min=1e-6)
    coloured = src * gain[:, :, None, None]
    shade_guide, shade_src = shading_inputs(x)[:, -SHADING_MAPS:].split(1, dim=1)
    out = {"identity": src, "colour gain": coloured.clamp(0, 1)}
    for a in AMBIENTS:
        out[f"shading ratio, a={a}"] = (coloured * (a + shade_guide) / (a + shade_src)).clamp(0, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="pair-layout folders with targets")
    args = parser.parse_args()
    for folder in args.folders:
        pairs = PairDataset(scan_pairs(folder))
        scores: dict[str, list[float]] = {}
        for item in pairs:
            x, target = item["input"][None], item["target"][None]
            for name, out in relight(x).items():
                scores.setdefault(name, []).append(float(psnr(out, target)))
        cells = ", ".join(f"{name} {np.mean(v):.2f}" for name, v in scores.items())
        print(f"{folder} ({len(pairs)} pairs), PSNR dB: {cells}")


if __name__ == "__main__":
    main()
