"""Depth estimation + relighting of one photo (default 1024x1024), as ``relight apply photo.jpg --light 3500K/NW``
runs it, on this machine.

The estimator has Depth Anything V2 Small's architecture and image processor (``depth-anything/Depth-Anything-V2-
Small-hf``'s config: DINOv2 ViT-S/14 backbone, DPT head, 518 px working size) with random weights, written with
``save_pretrained`` and loaded through `relightcli.depth.DepthEstimator`: the real weights cannot be downloaded
here, and time does not depend on them. Relighting uses the shipped default weights. Medians of ``--rounds``.

    python benchmarks/depth_speed.py [--size 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def save_depth_anything_v2_small(folder: Path) -> int:
    """Depth Anything V2 Small's architecture with random weights; returns its parameter count."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        intermediate_size=1536,
        patch_size=14,
        image_size=518,
        out_indices=[3, 6, 9, 12],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=384,
        neck_hidden_sizes=[48, 96, 192, 384],
        fusion_hidden_size=64,
        head_hidden_size=32,
        patch_size=14,
    )
    model = DepthAnythingForDepthEstimation(config)
    model.save_pretrained(folder)
    DPTImageProcessor(
        size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3
    ).save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from relightcli import load_model
    from relightcli.assets import default_weights, preset
    from relightcli.depth import DepthEstimator
    from relightcli.hardware import cpu_capabilities
    from relightcli.inference.engine import Relighter
    from relightcli.io import read_depth, read_image

    folder = Path(tempfile.mkdtemp(prefix="da-v2-small-"))
    params = save_depth_anything_v2_small(folder)
    estimator = DepthEstimator(str(folder), device="cpu")
    relighter = Relighter(load_model(default_weights()), device="cpu")
    rng = np.random.default_rng(0)
    photo = rng.random((args.size, args.size, 3)).astype(np.float32)
    guide_path, guide_depth_path = preset("3500K/NW")
    guide, guide_depth = read_image(guide_path).rgb, read_depth(guide_depth_path)
    estimator(photo)  # warm-up: oneDNN primitives, allocator
    relighter.relight(photo, np.zeros(photo.shape[:2], np.float32), guide, guide_depth)
    depth_s, relight_s = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        depth = estimator(photo)
        depth_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        relighter.relight(photo, depth, guide, guide_depth)
        relight_s.append(time.perf_counter() - t)
    d, r = statistics.median(depth_s), statistics.median(relight_s)
    print(f"CPU: {cpu_capabilities().summary()}, {torch.get_num_threads()} threads")
    print(f"estimator: Depth Anything V2 Small architecture, {params / 1e6:.1f} M parameters, {estimator.precision}")
    print(f"relighter: shipped default ({relighter.info.name}), {relighter.precision}")
    print(f"{args.size}x{args.size}, median of {args.rounds}: depth {d:.2f} s + relight {r:.2f} s = {d + r:.2f} s")


if __name__ == "__main__":
    main()
