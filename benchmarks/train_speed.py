"""Training throughput (images/s) of `relight train` on this machine, fp32 and bf16 autocast.

Usage: python benchmarks/train_speed.py DATA [--models s3net,s3net_res2net50d] [--size 256] [--batch-size 3]
       [--steps 6]
DATA is a VIDIT-format folder (e.g. from `relight synth data/ --scenes 4 --size 256`). Reports steady-state
images/s after two warm-up steps, from the training loop itself (forward, loss, backward, AdamW step).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

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
    args = ap.parse_args()
    print(f"cpu cores: {os.cpu_count()}, size {args.size}, batch {args.batch_size}, loss {args.loss}")
    for model in args.models.split(","):
        for amp in (False, True):
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
            print(f"{model:20s} {'bf16' if amp else 'fp32'}: {ips:.2f} images/s ({1 / ips:.2f} s/image)")


if __name__ == "__main__":
    main()
