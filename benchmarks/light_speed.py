"""How long the light estimator takes to read one photo, and how its accuracy holds as photos get darker.

Speed: ``LightEstimator`` (shipped weights unless ``--weights``) on a ``--size`` x ``--size`` float RGB array,
the antialiased resize to the model's working size and the flip ensemble included; median of ``--repeats``
after two warm-up reads. Reports the CPU it ran on and the torch thread count.

Darkness (``--folder``): the top-1 accuracy of direction and temperature on every setting-named image of a
folder, read as it is and after an exposure change of each of ``--stops`` in linear light (what a darker
camera exposure gives; real VIDIT is about one stop darker than our renders on average, half its pixels
near black).

``--temperature-crops``: the temperature read from the photo and its corner crops (`LightEstimator.temperature_crops`).

Usage: python benchmarks/light_speed.py [--size 1024] [--repeats 20] [--temperature-crops]
    [--folder pt-heldout --stops 0,-1,-2,-3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from relightcli.data.vidit import DIRECTIONS, TEMPERATURES
from relightcli.hardware import machine_summary
from relightcli.io import read_image
from relightcli.light.augment import exposure
from relightcli.light.estimator import LightEstimator
from relightcli.light.evaluation import labelled_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--folder", default=None)
    parser.add_argument("--stops", default="0,-1,-2,-3")
    parser.add_argument("--temperature-crops", action="store_true")
    args = parser.parse_args()

    est = LightEstimator(args.weights, device="cpu", temperature_crops=args.temperature_crops)
    print(machine_summary())
    crops = "the photo and its corner crops" if est.temperature_crops else "the whole photo"
    print(f"torch threads: {torch.get_num_threads()}; weights: {est.description}; temperature from {crops}")
    rgb = np.random.default_rng(0).random((args.size, args.size, 3)).astype(np.float32)
    for flip in (True, False):
        est.flip = flip
        for _ in range(2):
            est(rgb)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            est(rgb)
            times.append(time.perf_counter() - start)
        print(
            f"{args.size}x{args.size}, flip ensemble {'on ' if flip else 'off'}: "
            f"median {statistics.median(times) * 1000:.1f} ms, min {min(times) * 1000:.1f} ms"
        )
    est.flip = True
    if args.folder:
        items = labelled_images(args.folder)
        images = [read_image(p).rgb for p, _, _ in items]
        true_d = np.array([d for _, d, _ in items])
        true_t = np.array([t for _, _, t in items])
        for stops in (float(s) for s in args.stops.split(",")):
            read = []
            for start in range(0, len(images), 32):
                read += est.many([exposure(img, stops) for img in images[start : start + 32]])
            d = np.array([DIRECTIONS.index(e.direction) for e in read])
            t = np.array([TEMPERATURES.index(e.temperature_k) for e in read])
            print(
                f"{args.folder}, exposure {stops:+.0f} stops: direction {np.mean(d == true_d):.1%}, "
                f"temperature {np.mean(t == true_t):.1%} ({len(items)} images)"
            )


if __name__ == "__main__":
    main()
