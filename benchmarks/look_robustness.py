"""How a relighter holds up when another renderer's tone and exposure are put on the same pairs.

Renderers differ in more than their scenes: exposure, the tone curve from radiance to display values (sRGB's
"Standard", Blender's Filmic and AgX, ACES) and how saturated highlights come out. A global per-pixel change of
the image values applied alike to a pair's source, guide and target keeps the pair true: it is what the same
scenes rendered with that camera response would be (up to clipping and 8-bit rounding). This script applies
each such look to every pair of a pair-layout folder and scores the model and the identity (the source as it
is) against the changed target, so a model that has learned one renderer's response shows it here.

Usage: python benchmarks/look_robustness.py FOLDER... [--weights W] [--looks standard,dark1,dark2,bright1,...]

Looks (on linear light, from sRGB and back, unless said): ``standard`` (unchanged), ``darkN``/``brightN`` (N
stops), ``aces`` (Narkowicz's fit of the ACES filmic curve, exposure matched at mid-grey), ``lowcontrast``
(display values pulled 15% towards mid-grey: lifted blacks and softer highlights, as AgX and Filmic give),
``desaturated`` (saturation 0.7 in linear light), ``gamma22`` (a pure 2.2 power instead of sRGB's curve).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from relightcli import load_model
from relightcli.assets import default_weights
from relightcli.data import PairDataset, scan_pairs
from relightcli.inference.engine import Relighter
from relightcli.light.augment import linear_to_srgb, srgb_to_linear
from relightcli.metrics import psnr, ssim

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _srgb(x: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(x, 0.0, 1.0)).astype(np.float32)


def _aces(x: np.ndarray) -> np.ndarray:
    a, b, c, d, e = 2.51, 0.03, 2.43, 0.59, 0.14
    return np.clip((x * (a * x + b)) / (x * (c * x + d) + e), 0.0, 1.0)


def _aces_matched(x: np.ndarray) -> np.ndarray:
    # scale so that mid-grey (0.18) maps to itself, as a renderer's exposure would be set
    lo, hi = 0.1, 10.0
    for _ in range(60):
        k = (lo + hi) / 2
        lo, hi = (k, hi) if _aces(np.float32(0.18 * k)) < 0.18 else (lo, k)
    return _aces(x * k)


def _desaturate(x: np.ndarray) -> np.ndarray:
    y = (x @ LUMA)[..., None]
    return y + 0.7 * (x - y)


LOOKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "standard": lambda x: x,
    "dark1": lambda x: _srgb(srgb_to_linear(x) * 0.5),
    "dark2": lambda x: _srgb(srgb_to_linear(x) * 0.25),
    "bright1": lambda x: _srgb(srgb_to_linear(x) * 2.0),
    "aces": lambda x: _srgb(_aces_matched(srgb_to_linear(x))),
    "lowcontrast": lambda x: 0.5 + 0.85 * (x - 0.5),
    "desaturated": lambda x: _srgb(_desaturate(srgb_to_linear(x))),
    "gamma22": lambda x: np.clip(srgb_to_linear(x), 0, 1) ** (1 / 2.2),
}


def quantise(x: np.ndarray) -> np.ndarray:
    """As an 8-bit PNG of the look would hold it."""
    return (np.round(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)


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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--looks", default=",".join(LOOKS))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    weights = args.weights or str(default_weights())
    relighter = Relighter(load_model(weights), device="cpu")
    looks = [name.strip() for name in args.looks.split(",")]
    unknown = [n for n in looks if n not in LOOKS]
    if unknown:
        raise SystemExit(f"unknown looks {unknown}; choose from {', '.join(LOOKS)}")
    print(f"weights: {weights} ({relighter.info.name}, {relighter.precision}, flip {relighter.flip_ensemble})\n")
    print("| set | look | pairs | model PSNR / SSIM | identity | model - identity (dB) |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        pairs = PairDataset(scan_pairs(folder / "val" if (folder / "val").is_dir() else folder))
        name = folder.name
        for look in looks:
            f = LOOKS[look]
            model_scores, identity_scores = [], []
            for item in pairs:
                x = item["input"]
                src = quantise(f(x[:3].permute(1, 2, 0).numpy()))
                guide = quantise(f(x[3:6].permute(1, 2, 0).numpy()))
                target = quantise(f(item["target"].permute(1, 2, 0).numpy()))
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
