"""``relight synth``: a synthetic VIDIT-format dataset."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, err_console, user_errors


class RendererName(str, Enum):
    numpy = "numpy"
    cycles = "cycles"


@app.command(
    epilog="Examples: relight synth data/ --scenes 20 --pairs 20 · relight synth pt/ --renderer cycles --scenes 300 "
    "--shard 1/2 (and --shard 2/2 in another process) · rerun the same command to resume after a kill."
)
@user_errors
def synth(
    out: Annotated[Path, typer.Argument(help="Dataset root: train/ (flat layout) and, with --pairs, val/.")],
    scenes: Annotated[int, typer.Option("--scenes", "-n", help="Training scenes (40 images each).")] = 20,
    size: Annotated[int, typer.Option("--size", "-s", help="Image side in pixels (>= 16).")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same scenes (numpy renderer: same bytes).")] = 0,
    pairs: Annotated[int, typer.Option("--pairs", help="Validation pairs in val/ (pair layout, with targets).")] = 0,
    val_scenes: Annotated[
        int | None, typer.Option("--val-scenes", help="Held-out scenes for the pairs (default: pairs / 4, >= 2).")
    ] = None,
    renderer: Annotated[
        RendererName,
        typer.Option("--renderer", help="numpy (fast, Lambertian) or cycles (Blender's path tracer, needs bpy)."),
    ] = RendererName.numpy,
    supersample: Annotated[int, typer.Option("--supersample", help="Anti-aliasing factor (numpy renderer).")] = 2,
    samples: Annotated[int, typer.Option("--samples", help="Cycles samples per pixel (adaptive, denoised).")] = 16,
    look: Annotated[
        str,
        typer.Option(
            "--look",
            help="Scene family for --renderer cycles: default (primitives under a sun and a sky) or vidit (dense, "
            "dark scenes under one lamp, as VIDIT's).",
        ),
    ] = "default",
    blender_python: Annotated[
        str | None,
        typer.Option(
            "--blender-python", help="Python with bpy for --renderer cycles (default: this one, if it has bpy)."
        ),
    ] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="K/N: render every N-th scene from the K-th (N processes, one each).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="Write a contact sheet of the first scene's 40 settings here.")
    ] = None,
) -> None:
    """Render a synthetic VIDIT-format dataset (random scenes under the 40 VIDIT lighting settings); resumable."""
    from ..synth.writer import Renderer, parse_shard

    if size < 16 or scenes < 0 or pairs < 0 or samples < 1:
        raise RelightError("synth needs --size >= 16, --scenes >= 0, --pairs >= 0, --samples >= 1")
    part = parse_shard(shard)
    engine = Renderer(renderer.value, supersample)
    if look not in ("default", "vidit"):
        raise RelightError(f"--look {look}: one of default, vidit")
    if look != "default" and renderer is not RendererName.cycles:
        raise RelightError(f"--look {look} needs --renderer cycles")
    if renderer is RendererName.cycles:
        from ..synth.cycles import CyclesSettings
        from ..synth.cycles import blender_python as find_python

        settings = CyclesSettings(samples=samples, seed=seed, look=look)
        engine = Renderer("cycles", supersample, settings, find_python(blender_python))
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..synth import synthesize

    start = time.perf_counter()
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"rendering scenes ({renderer.value})", total=None, rate="")

        def progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.2f} scenes/s")

        summary = synthesize(
            out,
            scenes=scenes,
            size=size,
            seed=seed,
            pairs=pairs,
            val_scenes=val_scenes,
            preview=preview,
            progress=progress,
            renderer=engine,
            shard=part,
            on_message=lambda m: err_console.print(f"[yellow]{escape(m)}[/]"),
        )
    parts = []
    if summary.train_dir is not None:
        parts.append(f"{summary.images} images of {summary.scenes} scenes to {escape(str(summary.train_dir))}")
    if summary.val_dir is not None:
        parts.append(f"{summary.pairs} pairs to {escape(str(summary.val_dir))}")
    msg = "wrote " + " and ".join(parts) if parts else "wrote no complete scene yet"
    if preview is not None and preview.exists():
        msg += f"; contact sheet {escape(str(preview))}"
    shard_note = f", shard {part[0]}/{part[1]}" if part != (1, 1) else ""
    console.print(f"{msg} ({time.perf_counter() - start:.1f} s, {renderer.value}{shard_note})")
