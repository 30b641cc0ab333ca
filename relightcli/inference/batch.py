"""Relighting many images with one loaded model: a VIDIT pair folder, or a folder of sources to one guide.

Depth naming rule for ``--src-dir``: the depth of ``NAME.png`` (or .jpg/.jpeg) is the first of
``NAME_depth.png``, ``NAME_depth.npy``, ``NAME.npy`` that exists; a photo without one (and a guide given without
depth) has its depth estimated (`relightcli.depth`), the guide's once for the whole folder. Outputs already
present are skipped unless ``overwrite``; a file that fails is reported and skipped, never stopping the rest.
Under torchrun the jobs are sharded across ranks (``jobs[rank::world_size]``), so each output is written exactly
once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.vidit import Setting, scan_pairs
from ..errors import RelightError
from .apply import relight_files

if TYPE_CHECKING:
    from ..depth import DepthEstimator
    from .engine import Relighter

IMAGE_EXTS = (".png", ".jpg", ".jpeg")
DEPTH_PATTERNS = ("{stem}_depth.png", "{stem}_depth.npy", "{stem}.npy")


@dataclass(frozen=True)
class Job:
    name: str
    src: Path
    src_depth: Path | None
    guide: Path
    guide_depth: Path | None
    out: Path
    target_setting: Setting | None = None
    """The ``--light`` setting the guide is the preset of (told exactly to a model told the lights)."""


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    estimated: int = 0


def pair_jobs(pairs_dir: str | Path, out_dir: str | Path) -> list[Job]:
    """One job per ``input/PairNNN.png`` of a VIDIT pair folder; outputs ``OUT/PairNNN.png``."""
    index = scan_pairs(pairs_dir)
    return [Job(p, *index.input(p), *index.guide(p), Path(out_dir) / f"{p}.png") for p in index.pairs]


def find_depth(image: Path) -> Path | None:
    for pattern in DEPTH_PATTERNS:
        candidate = image.with_name(pattern.format(stem=image.stem))
        if candidate.is_file():
            return candidate
    return None


def folder_jobs(
    src_dir: str | Path,
    guide: Path,
    guide_depth: Path | None,
    out_dir: str | Path,
    target_setting: Setting | None = None,
) -> list[Job]:
    """One job per image in ``src_dir`` (depth maps themselves excluded); outputs ``OUT/NAME.png``."""
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise RelightError(f"{src_dir}: source folder not found")
    images = [
        p
        for p in sorted(src_dir.iterdir())
        if p.suffix.lower() in IMAGE_EXTS
        and p.is_file()
        and not p.stem.endswith("_depth")
        and not p.name.startswith(".")
    ]
    if not images:
        raise RelightError(f"{src_dir}: no .png/.jpg images")
    return [
        Job(p.stem, p, find_depth(p), guide, guide_depth, Path(out_dir) / f"{p.stem}.png", target_setting)
        for p in images
    ]


def shard(jobs: list[Job]) -> list[Job]:
    """This process's share under torchrun (``RANK``/``WORLD_SIZE``); all jobs otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return jobs[rank::world] if world > 1 else jobs


def rank_device(device: str) -> str:
    """The device for this process: under torchrun (``WORLD_SIZE`` > 1) ``auto`` means this rank's own GPU
    (``cuda:LOCAL_RANK``) when there are GPUs; otherwise ``device`` as given."""
    if device == "auto" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def run_jobs(
    relighter: Relighter,
    jobs: list[Job],
    *,
    overwrite: bool = False,
    raw_depth: bool = False,
    estimator: DepthEstimator | None = None,
    save_depth: str | Path | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    source_setting: Setting | None = None,
) -> BatchSummary:
    """Relight every job; ``progress(done, total, images_per_s)`` after each. A job without a source depth has it
    estimated by ``estimator`` (kept in ``save_depth``); without one, it fails naming the files looked for."""
    summary = BatchSummary()
    start = time.perf_counter()
    inputs = {p.resolve() for j in jobs for p in (j.src, j.src_depth, j.guide, j.guide_depth) if p is not None}
    for i, job in enumerate(jobs, start=1):
        try:
            if job.out.resolve() in inputs:
                raise RelightError(f"{job.out}: output would overwrite an input; choose another output folder")
            if job.out.exists() and not overwrite:
                summary.skipped += 1
            else:
                if job.src_depth is None and estimator is None:
                    looked = ", ".join(p.format(stem=job.src.stem) for p in DEPTH_PATTERNS)
                    raise RelightError(f"{job.src}: no depth map found (looked for {looked})")
                relight_files(
                    relighter,
                    job.src,
                    job.src_depth,
                    job.guide,
                    job.guide_depth,
                    job.out,
                    raw_depth=raw_depth,
                    estimator=estimator,
                    save_depth=save_depth,
                    source_setting=source_setting,
                    target_setting=job.target_setting,
                )
                summary.done += 1
                summary.estimated += job.src_depth is None
        except RelightError as exc:
            summary.failed.append((job.name, str(exc)))
        elapsed = time.perf_counter() - start
        if progress:
            progress(i, len(jobs), summary.done / elapsed if elapsed > 0 else 0.0)
    summary.seconds = time.perf_counter() - start
    return summary
