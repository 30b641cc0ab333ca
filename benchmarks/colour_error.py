"""Where a relighting model loses: in the image-wide colour, or in the structure (shadows, shading)?

For each pair of held-out folders (`benchmarks/generalisation.py`'s sets), the mean PSNR of the model and of the
identity as they are and after the best per-channel gain against the target (least squares, an oracle: what is
left is structure), plus the shades-of-grey colour gain (p = 4: Finlayson & Trezzi, CIC 2004) as a baseline with no
learning: the source times the ratio of the guide's and the source's p-norm chromaticities, brightness kept.

On temperature-only pairs the light's colour is the whole change: the oracle gain takes the identity to about
43 dB on path-traced pairs, so a model that falls short there is misreading the guide's colour or altering the
shading.

Usage: python benchmarks/colour_error.py --weights W [--only temperature] FOLDER [FOLDER ...]
(e.g. ``heldout/pt/val heldout/np/val``; ``--only`` keeps the pairs whose light changes that way).
"""

from __future__ import annotations

import argparse

import torch

from relightcli import load_model
from relightcli.data.vidit import LIGHT_CHANGES
from relightcli.evaluation import eval_dataset
from relightcli.inference.engine import Relighter
from relightcli.metrics import psnr


def best_gain(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``image`` times the per-channel gain that fits ``target`` best in least squares, clipped to [0, 1]."""
    gain = (image * target).sum(dim=(2, 3)) / (image * image).sum(dim=(2, 3)).clamp(min=1e-8)
    return (image * gain[:, :, None, None]).clamp(0, 1)


def shades_of_grey(src: torch.Tensor, guide: torch.Tensor, p: float = 4.0) -> torch.Tensor:
    """The source recoloured by the guide/source ratio of p-norm chromaticities (mean of the gain kept at 1)."""

    def chroma(x: torch.Tensor) -> torch.Tensor:
        norm = x.clamp(min=1e-4).pow(p).mean(dim=(2, 3)).pow(1 / p)
        return norm / norm.mean(dim=1, keepdim=True)

    return (src * (chroma(guide) / chroma(src))[:, :, None, None]).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--weights", required=True, help="relighting checkpoint (.safetensors)")
    parser.add_argument("--only", choices=LIGHT_CHANGES, help="keep the pairs whose light changes this way")
    parser.add_argument(
        "--flip-ensemble",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="as relight eval --flip-ensemble/--no-flip-ensemble (default: as the checkpoint records)",
    )
    args = parser.parse_args()
    relighter = Relighter(load_model(args.weights), device="cpu", flip_ensemble=args.flip_ensemble)
    print("| pairs | n | model | model, best gain | identity | identity, best gain | shades of grey |")
    print("|---|---|---|---|---|---|---|")
    for folder in args.folders:
        ds, _ = eval_dataset(folder, only=args.only)
        sums = [0.0] * 5
        for i in range(len(ds)):
            item = ds[i]
            x, y = item["input"][None], item["target"][None]
            src = x[:, :3]
            out = relighter.run(x).clamp(0, 1)
            for k, image in enumerate((out, best_gain(out, y), src, best_gain(src, y), shades_of_grey(src, x[:, 3:6]))):
                sums[k] += float(psnr(image, y)[0])
        row = " | ".join(f"{s / len(ds):.2f}" for s in sums)
        print(f"| {folder}{' (' + args.only + ')' if args.only else ''} | {len(ds)} | {row} |", flush=True)


if __name__ == "__main__":
    main()
