"""How a light estimator holds up when another renderer's tone and exposure are put on its images.

Every setting-named image of each folder (VIDIT naming, as `relight eval --light` reads) is seen through each
camera response of `relightcli.evaluation.responses` and read from the image alone. Prints direction and
temperature top-1 accuracy, and within one step, per folder and response; the last rows per folder average the
responses other than ``standard``. A response that changes the direction a scene shows does not exist here: all
of them are global per-pixel curves, so the direction label stays true. The temperature label stays true under
every response but ``desaturated`` (see the module).

Usage: python benchmarks/light_robustness.py FOLDER... [--light-weights W] [--temperature-weights T]
[--directions both|first] [--temperature-crops] [--looks ...] [--limit N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from relightcli.data.vidit import DIRECTIONS, TEMPERATURES
from relightcli.errors import RelightError
from relightcli.evaluation.responses import RESPONSES, parse_responses, respond
from relightcli.io import read_image
from relightcli.light.estimator import LightEstimator
from relightcli.light.evaluation import labelled_images, step_distance


def read_all(estimator: LightEstimator, images: list[np.ndarray], look: str, batch: int = 32) -> np.ndarray:
    """``(N, 2)`` predicted direction and temperature indices of ``images`` seen through ``look``."""
    estimates = []
    for start in range(0, len(images), batch):
        estimates += estimator.many([respond(look, im) for im in images[start : start + batch]])
    return np.array([(DIRECTIONS.index(e.direction), TEMPERATURES.index(e.temperature_k)) for e in estimates])


def main() -> None:
    try:
        run()
    except RelightError as exc:  # a missing folder or unreadable weights: one line, exit 1
        raise SystemExit(f"error: {exc}") from None


@torch.no_grad()
def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--light-weights", default=None, help="estimator weights (default: the shipped estimator)")
    ap.add_argument("--temperature-weights", default=None, help="a second estimator, for the temperature")
    ap.add_argument("--directions", choices=("both", "first"), default="both", help="which of two read the direction")
    ap.add_argument(
        "--temperature-crops",
        action="store_true",
        help="read the temperature from the photo and its corner crops together (LightEstimator.temperature_crops)",
    )
    ap.add_argument("--looks", default=",".join(RESPONSES))
    ap.add_argument("--limit", type=int, default=None, help="read at most this many images per folder")
    args = ap.parse_args()
    try:
        looks = parse_responses(args.looks)
    except ValueError as exc:  # an unknown look: argparse's one-line usage error, exit 2
        ap.error(str(exc))
    estimator = LightEstimator(
        args.light_weights,
        device="cpu",
        temperature_weights=args.temperature_weights,
        directions=args.directions,
        temperature_crops=args.temperature_crops,
    )
    sets = [(folder, labelled_images(folder)[: args.limit]) for folder in args.folders]  # all found, or one error
    crops = "with its corner crops" if estimator.temperature_crops else "whole photo alone"
    print(f"light weights: {estimator.description} (flip ensemble {estimator.flip}; temperature: {crops})\n")
    print("| set | look | images | direction top-1 | within one | temperature top-1 | within one |")
    print("|---|---|---|---|---|---|---|")
    for folder, items in sets:
        images = [read_image(path).rgb for path, _, _ in items]
        true = np.array([(d, t) for _, d, t in items])
        others = []
        for look in looks:
            pred = read_all(estimator, images, look)
            row = [
                100 * np.mean(pred[:, 0] == true[:, 0]),
                100 * np.mean(step_distance(pred[:, 0], true[:, 0], len(DIRECTIONS), circular=True) <= 1),
                100 * np.mean(pred[:, 1] == true[:, 1]),
                100 * np.mean(step_distance(pred[:, 1], true[:, 1], len(TEMPERATURES), circular=False) <= 1),
            ]
            if look != "standard":
                others.append(row)
            cells = " | ".join(f"{v:.1f}%" for v in row)
            print(f"| {folder.name} | {look} | {len(items)} | {cells} |", flush=True)
        if len(others) > 1:
            cells = " | ".join(f"{v:.1f}%" for v in np.mean(others, axis=0))
            print(f"| {folder.name} | mean of the {len(others)} other looks | {len(items)} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
