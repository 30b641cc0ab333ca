"""Training throughput (images/s) of `relight train` on this machine, fp32 and bf16 autocast.

Usage: python benchmarks/train_speed.py DATA [--models s3net,s3net_res2net50d] [--size 256] [--batch-size 3]
       [--steps 6] [--threads 1,2] [--precisions fp32,bf16]
DATA is a VIDIT-format folder (e.g. from `relight synth data/ --scenes 4 --size 256`). Reports steady-state
images/s after two warm-up steps, from the training loop itself (forward, loss, backward, AdamW step).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from relightcli.training import NullReporter, TrainConfig, train


class _Clock(NullReporter):
    def __init__(self) -> None:
        self.times: list[float] = []

    def step(self, done: int, terms: dict[str, float], images_per_s: float) -> None:
        self.times.append(time.perf_counter())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--models", default="s3net,s3net_res2net50d")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--loss", default="charbonnier=1,wssim=1.1")
    ap.add_argument("--threads", default=str(torch.get_num_threads()), help="intra-op thread counts to compare")
    ap.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16 (autocast)")
    args = ap.parse_args()
    if not set(args.precisions.split(",")) <= {"fp32", "bf16"}:
        ap.error(f"--precisions takes fp32 and bf16, got {args.precisions}")
    print(f"cpu cores: {os.cpu_count()}, size {args.size}, batch {args.batch_size}, loss {args.loss}")
    runs = [
        (model, amp, int(threads))
        for model in args.models.split(",")
        for amp in (p == "bf16" for p in args.precisions.split(","))
        for threads in args.threads.split(",")
    ]
    for model, amp, threads in runs:
        torch.set_num_threads(threads)
        clock = _Clock()
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(
                data=args.data,
                model=model,
                out=Path(tmp),
                batch_size=args.batch_size,
                size=args.size,
                loss=args.loss,
                amp=amp,
                max_steps=args.steps + 2,
                epochs=1,
                device="cpu",
                cache_dir=Path(tmp) / "cache",
            )
            train(cfg, clock)
        t = clock.times
        ips = args.steps * args.batch_size / (t[-1] - t[1])
        precision = "bf16" if amp else "fp32"
        print(f"{model:20s} {precision}, {threads} threads: {ips:.2f} images/s ({1 / ips:.2f} s/image)")


if __name__ == "__main__":
    main()
