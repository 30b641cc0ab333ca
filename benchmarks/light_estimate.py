"""How well the least-squares light fit (`relightcli.models.shading.estimate_light`) tells VIDIT's 8 directions.

For every scene of a flat training folder, the light is estimated from each direction's image (at one
temperature) and its depth. The mean estimate per direction over the first ``--fit`` scenes of the first folder
gives 8 centroids; every later scene of that folder, and every scene of the other folders (other renderers), is
classified by its nearest centroid (cosine). Prints the exact and within-one-step (of 45 degrees) accuracy
per folder; chance is 1/8 and 3/8.

Usage: python benchmarks/light_estimate.py FOLDER [FOLDER ...] [--fit 100] [--test 60] [--temperature 4500]
[--slope-scale 20]
(e.g. ``pt256/train np256/train``: centroids from path-traced scenes, tested on path-traced and numpy scenes).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from relightcli.data import scan_flat
from relightcli.data.vidit import DIRECTIONS, Setting
from relightcli.io import read_depth, read_image
from relightcli.models import shading
from relightcli.models.shading import estimate_light


def estimates(folder: str, scenes: list[str], temperature: int) -> np.ndarray:
    """Light estimates ``(len(scenes), 8, 3)`` for every scene under the 8 directions."""
    index = scan_flat(folder)
    out = np.zeros((len(scenes), len(DIRECTIONS), 3), dtype=np.float32)
    for i, scene in enumerate(scenes):
        depth = torch.from_numpy(read_depth(index.depth(scene)))[None, None]
        for j, direction in enumerate(DIRECTIONS):
            rgb = read_image(index.image(scene, Setting(temperature, direction))).rgb
            out[i, j] = estimate_light(torch.from_numpy(rgb).permute(2, 0, 1)[None], depth)[0].numpy()
    return out


def accuracy(est: np.ndarray, centroids: np.ndarray) -> tuple[float, float]:
    """Exact and within-one-step accuracy of nearest-centroid classification."""
    truth = np.broadcast_to(np.arange(len(DIRECTIONS)), est.shape[:2])
    pred = np.einsum("sdc,kc->sdk", est, centroids).argmax(-1)
    steps = np.minimum((pred - truth) % 8, (truth - pred) % 8)
    return float((steps == 0).mean()), float((steps <= 1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="flat VIDIT-layout training folders; the first gives the centroids")
    parser.add_argument("--fit", type=int, default=100, help="scenes of the first folder that give the centroids")
    parser.add_argument("--test", type=int, default=60, help="scenes tested per folder (the last ones)")
    parser.add_argument("--temperature", type=int, default=4500)
    parser.add_argument("--slope-scale", type=float, default=shading.SLOPE_SCALE, help="see shading.SLOPE_SCALE")
    args = parser.parse_args()
    shading.SLOPE_SCALE = args.slope_scale
    first = sorted(scan_flat(args.folders[0]).scenes)
    fit = estimates(args.folders[0], first[: args.fit], args.temperature).mean(axis=0)
    centroids = fit / np.linalg.norm(fit, axis=1, keepdims=True)
    print(f"centroids from {args.fit} scenes of {args.folders[0]}; chance: 0.125 exact, 0.375 within one step")
    for n, folder in enumerate(args.folders):
        scenes = sorted(scan_flat(folder).scenes)
        tested = scenes[max(args.fit if n == 0 else 0, len(scenes) - args.test) :]
        exact, near = accuracy(estimates(folder, tested, args.temperature), centroids)
        print(f"{folder}: {len(tested)} scenes, exact {exact:.3f}, within one step {near:.3f}")


if __name__ == "__main__":
    main()
