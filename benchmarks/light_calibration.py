"""How well calibrated the light reader's direction probabilities are, and the logit scale that calibrates them
(temperature scaling, Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).

Usage: python benchmarks/light_calibration.py FOLDER... [--weights W] [--scales 1 1.5 2 3] [--pairs 20000]
    [--crop-views F]  (--weights A B ...: the mean logits of several estimators)

Each FOLDER holds images named with their setting (``Image049_4500_E.png``, as ``relight synth`` writes them), from
the light estimator's *validation* scenes, never a set it is judged on. Every image is read as the engine reads it
(at the estimator's working size, with the flip ensemble). For each folder, and for all of them pooled, it prints
direction top-1, the mean top probability, and the negative log-likelihood of the true direction at scale 1 and at
the scale that minimises it. Then, per scale, what a light-aware relighter does with the readings: ``--pairs``
random pairs of images from different scenes, the probability that both lights come from one direction as
`lightcode.same_direction` computes it (the weight of the colour-only path, at ``gate_sharpness`` = the scale), its
Brier score against whether they do, and a reliability table (mean probability against the frequency, in five
bins). A calibrated gate has the frequency equal to the probability in every bin. ``relight export W OUT
--model-arg gate_sharpness=V`` records a scale in a light-aware relighter. ``--crop-views F`` reads each image
as the mean of the logits of the whole image and of its four corner crops of side F (0 < F < 1), a test-time
ensemble, to see whether reading several views would make a better same-direction weight.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from relightcli.data.vidit import DIRECTIONS
from relightcli.io import read_image
from relightcli.light.estimator import CORNERS, LightEstimator, corner_crop
from relightcli.light.evaluation import labelled_images
from relightcli.models.lightcode import same_direction

N = len(DIRECTIONS)
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0 + 1e-6)


def views(batch: torch.Tensor, crop: float | None) -> list[torch.Tensor]:
    """The whole images, and with ``crop`` their four corner crops of that fraction of each side."""
    if crop is None:
        return [batch]
    return [batch] + [corner_crop(batch, corner, crop) for corner in CORNERS]


def read(
    estimators: list[LightEstimator], folder: Path, crop: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Direction logits ``(n, 8)`` (the mean over the estimators and `views`), true directions ``(n,)`` and scene
    names of every labelled image."""
    items = labelled_images(folder)
    logits = []
    for start in range(0, len(items), 64):
        images = [read_image(p).rgb.transpose(2, 0, 1) for p, _, _ in items[start : start + 64]]
        batch = torch.from_numpy(np.ascontiguousarray(np.stack(images)))
        read = [e.logits(v)[:, :N] for e in estimators for v in views(batch, crop)]
        logits.append(torch.stack(read).mean(dim=0))
    scenes = np.array([p.name.split("_")[0] for p, _, _ in items])
    return torch.cat(logits), torch.tensor([d for _, d, _ in items]), scenes


def nll(logits: torch.Tensor, truth: torch.Tensor, scale: float) -> float:
    return float(F.cross_entropy(logits * scale, truth))


def best_scale(logits: torch.Tensor, truth: torch.Tensor) -> float:
    grid = np.exp(np.linspace(np.log(0.25), np.log(10.0), 300))
    return float(grid[int(np.argmin([nll(logits, truth, s) for s in grid]))])


def gate_table(logits: torch.Tensor, truth: torch.Tensor, scenes: np.ndarray, scale: float, pairs: int) -> str:
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(truth), pairs), rng.integers(0, len(truth), pairs)
    keep = scenes[i] != scenes[j]
    i, j = i[keep], j[keep]
    probs = torch.softmax(logits, dim=1)  # same_direction sharpens them by the scale, as the model does
    gate = same_direction(probs[i], probs[j], scale).numpy()
    same = (truth[i] == truth[j]).numpy().astype(float)
    cells = []
    for lo, hi in itertools.pairwise(BINS):
        m = (gate >= lo) & (gate < hi)
        cells.append(f"{gate[m].mean():.2f} -> {same[m].mean():.2f} ({m.sum()})" if m.any() else "-")
    return f"| {scale:g} | {np.mean((gate - same) ** 2):.4f} | " + " | ".join(cells) + " |"


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument(
        "--weights", nargs="+", default=[None], help="light_net checkpoints (default: the shipped estimator)."
    )
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--crop-views", type=float, default=None, help="Also read four corner crops of this side.")
    args = ap.parse_args()
    if args.crop_views is not None and not 0 < args.crop_views < 1:
        ap.error(f"--crop-views {args.crop_views}: expected a fraction between 0 and 1")
    estimators = [LightEstimator(w, device="cpu") for w in args.weights]
    print(f"estimator: {' + '.join(str(e.weights) for e in estimators)}\n")
    sets = {
        folder.name if folder.name != "train" else folder.parent.name: read(estimators, folder, args.crop_views)
        for folder in args.folders
    }
    if len(sets) > 1:
        sets["pooled"] = (
            torch.cat([s[0] for s in sets.values()]),
            torch.cat([s[1] for s in sets.values()]),
            np.concatenate([np.char.add(f"{name}/", s[2]) for name, s in sets.items()]),
        )
    print("| set | images | direction top-1 | mean top probability | NLL at 1 | NLL-optimal scale | NLL there |")
    print("|---|---|---|---|---|---|---|")
    for name, (logits, truth, _) in sets.items():
        top = torch.softmax(logits, dim=1).max(dim=1).values.mean()
        best = best_scale(logits, truth)
        accuracy = float((logits.argmax(dim=1) == truth).float().mean())
        print(
            f"| {name} | {len(truth)} | {100 * accuracy:.1f}% | {top:.3f} | {nll(logits, truth, 1.0):.3f} | {best:.2f} "
            f"| {nll(logits, truth, best):.3f} |"
        )
    bins = " | ".join(f"[{lo:.1f}, {min(hi, 1.0):.1f}]" for lo, hi in itertools.pairwise(BINS))
    for name, (logits, truth, scenes) in sets.items():
        print(f"\n{name}: same-direction probability -> frequency (pairs), per bin\n")
        print(f"| scale | Brier | {bins} |")
        print("|---|---|" + "---|" * (len(BINS) - 1))
        for scale in args.scales:
            print(gate_table(logits, truth, scenes, scale, args.pairs))


if __name__ == "__main__":
    main()
