"""Fit a light-aware relighter's ``gate_sharpness`` on scenes it never saw, scoring every value from two relightings
of each pair.

Usage: python benchmarks/gate_sharpness.py FOLDER[:FIRST-LAST] ... [--weights W] [--pairs 600] [--seed 7]
    [--values 1 1.5 2 2.5 3 4 6] [--tolerance 0.05] [--json OUT]

Each FOLDER is a flat VIDIT-layout folder (``relight synth``'s ``train/``), FIRST-LAST the scene numbers to draw
from (e.g. scenes rendered after the model was trained: ``pt256/train:200-299``). Per folder, ``--pairs`` pairs
are drawn (seed ``--seed`` plus the folder's place in the list): a source scene and another guide scene, and two
different settings of the 40. Each pair is relit twice, with the same-direction weight forced to 1 (the colour-only
path alone) and to 0 (the re-shading path alone), and the gate reader's directions are read once. The model's
output at a gate sharpness ``k`` is the mix ``w_k * colour_only + (1 - w_k) * reshaded``, with ``w_k`` the
probability that the direction is unchanged at ``k`` (`lightcode.same_direction`), so every value costs nothing
more. The mix is of the two outputs after each pass is clamped to [0, 1], so it can differ from the model's own
output where a pass leaves that range; the script prints how near the mix at the checkpoint's own value comes to
the model's own output over the first pairs (PSNR). ``hard`` is the weight 1 when both argmax directions agree, else 0.

Prints, per folder and pooled, PSNR / SSIM over all pairs, same-direction pairs (only the temperature changes)
and changed-direction pairs, the mean weight in each, and the identity; then the pick: the value with the highest
pooled SSIM among those whose PSNR on every folder is within ``--tolerance`` dB of the checkpoint's own value's.
Why SSIM: the calibrated probability minimises the expected squared error of a linear mix, but a blend of the two
paths (a haze, a ghost of the old shadow) costs more in SSIM than in PSNR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from relightcli import load_model
from relightcli.assets import default_weights
from relightcli.data.vidit import SETTINGS, light_change, scan_flat
from relightcli.errors import RelightError
from relightcli.inference.engine import Relighter
from relightcli.inference.tensors import make_input
from relightcli.io.depthmaps import read_depth
from relightcli.io.images import read_image
from relightcli.metrics import psnr, ssim
from relightcli.models.lightcode import N_DIRECTIONS, same_direction

GROUPS = ("all", "same direction", "changed direction")


def _one_hot(i: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor([i]), N_DIRECTIONS).float()


# the weight forced to 1 (both lights from N) and to 0 (from N and from S), the codes still read
COLOUR_ONLY = {"source_direction": _one_hot(0), "target_direction": _one_hot(0)}
RESHADED = {"source_direction": _one_hot(0), "target_direction": _one_hot(4)}


def _scores(out: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    return float(psnr(out[None], target[None])[0]), float(ssim(out[None], target[None])[0])


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def score_folder(
    relighter: Relighter, spec: str, pairs: int, seed: int, values: list[float], check: int = 5
) -> tuple[list[dict], float]:
    """Per pair: its change and, per value (and ``hard``, ``identity``), ``(psnr, ssim, weight)``; and the largest
    PSNR of the mix at the checkpoint's own value against its real output over the first ``check`` pairs."""
    folder, _, span = spec.partition(":")
    index = scan_flat(folder)
    scenes = index.scenes
    if span:
        first, last = (int(v) for v in span.split("-"))
        scenes = [s for s in scenes if first <= int(s) <= last]
    if len(scenes) < 2:
        raise RelightError(f"{spec}: fewer than two scenes to draw pairs from")
    own = relighter.model.gate_sharpness
    rng = np.random.default_rng(seed)
    rows, worst = [], float("inf")
    for p in range(pairs):
        a, b = rng.choice(len(scenes), size=2, replace=False)
        s, t = rng.choice(len(SETTINGS), size=2, replace=False)
        src_scene, guide_scene = scenes[a], scenes[b]

        def image(scene: str, setting: int) -> np.ndarray:
            return read_image(index.image(scene, SETTINGS[setting])).rgb

        src, guide, target = image(src_scene, s), image(guide_scene, t), image(src_scene, t)
        sd, gd = read_depth(index.depth(src_scene)), read_depth(index.depth(guide_scene))
        read = relighter.read_lights(make_input(src, sd, guide, gd))
        d_src, d_guide = read["source_direction"], read["target_direction"]
        colour_only = _chw(relighter.relight(src, sd, guide, gd, lights=COLOUR_ONLY))
        reshaded = _chw(relighter.relight(src, sd, guide, gd, lights=RESHADED))
        y = _chw(target)
        scores: dict[str, tuple[float, float, float]] = {}
        for k in [*values, "hard"]:
            if k == "hard":
                w = float(d_src.argmax() == d_guide.argmax())
            else:
                w = float(same_direction(d_src, d_guide, k)[0])
            scores[str(k)] = (*_scores((w * colour_only + (1 - w) * reshaded).clamp(0, 1), y), w)
        scores["identity"] = (*_scores(_chw(src), y), 1.0)
        if p < check:
            w = float(same_direction(d_src, d_guide, own)[0])
            real = _chw(relighter.relight(src, sd, guide, gd))
            worst = min(worst, _scores(w * colour_only + (1 - w) * reshaded, real)[0])
        change = light_change(SETTINGS[s], SETTINGS[t])
        rows.append({"change": change, "same": SETTINGS[s].direction == SETTINGS[t].direction, "scores": scores})
        print(f"\r{spec}: {p + 1}/{pairs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows, worst


def _mean(rows: list[dict], key: str, i: int) -> float:
    return float(np.mean([r["scores"][key][i] for r in rows])) if rows else float("nan")


def table(name: str, rows: list[dict], keys: list[str]) -> list[str]:
    groups = {
        "all": rows,
        "same direction": [r for r in rows if r["same"]],
        "changed direction": [r for r in rows if not r["same"]],
    }
    n = {g: len(v) for g, v in groups.items()}
    out = [
        f"{name}: {len(rows)} pairs",
        "",
        "| gate sharpness | " + " | ".join(f"{g} ({n[g]})" for g in GROUPS) + " | mean weight, same / changed |",
        "|---|---|---|---|---|",
    ]
    for key in keys:
        cells = [f"{_mean(v, key, 0):.2f} / {_mean(v, key, 1):.4f}" for v in groups.values()]
        w = [_mean(groups[g], key, 2) for g in GROUPS[1:]]
        out.append(f"| {key} | " + " | ".join(cells) + f" | {w[0]:.2f} / {w[1]:.2f} |")
    return [*out, ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="FOLDER[:FIRST-LAST]: flat VIDIT-layout folders and scene ranges")
    ap.add_argument("--weights", default=str(default_weights()))
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--values", type=float, nargs="+", default=[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0])
    ap.add_argument("--tolerance", type=float, default=0.05, help="dB of PSNR a pick may lose on any folder")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    try:
        model = load_model(args.weights)
        if getattr(model, "gate_reader", None) is None:
            raise RelightError(f"{args.weights}: not a light-aware relighter with a gate reader")
        relighter = Relighter(model, device="cpu")
        own = float(model.gate_sharpness)
        values = sorted({*args.values, own})
        keys = [str(v) for v in values] + ["hard", "identity"]
        results, lines, worst = {}, [], float("inf")
        for i, spec in enumerate(args.folders):
            rows, w = score_folder(relighter, spec, args.pairs, args.seed + i, values)
            results[spec], worst = rows, min(worst, w)
            lines += table(spec, rows, keys)
    except RelightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pooled = [r for rows in results.values() for r in rows]
    lines += table("pooled", pooled, keys)
    ok = [
        v
        for v in values
        if all(_mean(rows, str(v), 0) >= _mean(rows, str(own), 0) - args.tolerance for rows in results.values())
    ]
    pick = max(ok, key=lambda v: _mean(pooled, str(v), 1))
    print(
        f"weights: {args.weights} (gate sharpness {own:g}); {relighter.precision}, flip ensemble "
        f"{relighter.flip_ensemble}\n"
    )
    print("\n".join(lines))
    print(f"the mix against the model's own output at {own:g} (first pairs): {worst:.1f} dB PSNR at the lowest")
    print(
        f"pick: gate sharpness {pick:g} (highest pooled SSIM, {_mean(pooled, str(pick), 1):.6f}, among values within "
        f"{args.tolerance:g} dB of {own:g}'s PSNR on every folder; {own:g} gives {_mean(pooled, str(own), 1):.6f})"
    )
    if args.json:
        args.json.write_text(json.dumps({"weights": args.weights, "own": own, "pick": pick, "pairs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
