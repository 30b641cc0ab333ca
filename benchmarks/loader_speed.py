"""Speed of `relight train`'s data loader alone: training items per second at VIDIT's 1024x1024, by worker count.

Usage: python benchmarks/loader_speed.py [DATA] [--workers 0 1 2] [--batches 12] [--batch-size 3] [--size N]

DATA is a VIDIT-format folder (flat ``train/`` or a root with ``train/``), e.g. VIDIT's own track-2 training
folder; without it, 3 scenes at 1024x1024 are rendered by the numpy renderer into a temporary folder. The loader
is the one `relight train` builds (`relightcli.training.build_datasets`, the same collate, shuffled any-to-any
pairs, ``--hflip`` on), iterated as the training loop does with nothing else running, after one warm-up batch.
Each item is 3 images (source, guide, target) and 2 depth maps, decoded from PNG and ``.npy`` at full
resolution, or, with ``--size N``, read from the resized cache (filled in a first pass that is not timed).
A GPU step of the model must take longer than ``batch size / items per second`` for the loader to keep up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from relightcli.hardware import cpu_capabilities
from relightcli.synth import synthesize
from relightcli.training import TrainConfig, build_datasets, collate_batch


def _items_per_second(data: Path, workers: int, batches: int, batch_size: int, size: int | None, cache: str) -> float:
    cfg = TrainConfig(data=str(data), size=size, cache_dir=cache, hflip=True)
    train, _, _ = build_datasets(cfg)
    sampler = BatchSampler(RandomSampler(train, num_samples=(batches + 1) * batch_size), batch_size, drop_last=True)
    loader = DataLoader(train, batch_sampler=sampler, num_workers=workers, collate_fn=collate_batch)
    it = iter(loader)
    next(it)  # warm-up: worker start, first decode
    start = time.perf_counter()
    n = sum(len(batch["name"]) for batch in it)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=3)
    ap.add_argument("--size", type=int, default=None, help="Read from the resized cache at this side.")
    args = ap.parse_args()
    print(f"CPU: {cpu_capabilities().summary()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="relight-loader-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            start = time.perf_counter()
            synthesize(data, scenes=3, size=1024, supersample=1)
            print(f"rendered 3 numpy scenes at 1024x1024 in {time.perf_counter() - start:.0f} s")
        cache = str(Path(tmp) / "cache")
        if args.size:
            _items_per_second(data, 0, args.batches, args.batch_size, args.size, cache)  # fill the cache
        where = f"resized cache at {args.size}x{args.size}" if args.size else "PNG and .npy at full resolution"
        print(f"{data}: batch {args.batch_size}, {args.batches} batches, {where}")
        print("| workers | items/s | images/s (3 per item) | ms per batch |")
        print("|---|---|---|---|")
        for workers in args.workers:
            rate = _items_per_second(data, workers, args.batches, args.batch_size, args.size, cache)
            print(f"| {workers} | {rate:.1f} | {3 * rate:.1f} | {1000 * args.batch_size / rate:.0f} |")


if __name__ == "__main__":
    main()
