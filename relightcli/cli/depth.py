"""``relight depth``: depth maps for photos that have none."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .options import (
    DepthModelOpt,
    DeviceOpt,
    Precision,
    PrecisionOpt,
    depth_estimator,
)


class DepthFormat(str, Enum):
    png = "png"
    vidit = "vidit"


@app.command(
    epilog="Examples: relight depth photo.jpg (writes photo_depth.png here) · relight depth photos/*.jpg -o photos/ "
    "--preview (beside the photos, as relight apply --src-dir looks for them) · relight depth a.jpg --format vidit."
)
@user_errors
def depth(
    photos: Annotated[list[Path], typer.Argument(help="Photos (PNG/JPEG; EXIF orientation applied).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Output folder (or, for one photo, a .png/.npy file); default: the current folder."
        ),
    ] = None,
    fmt: Annotated[
        DepthFormat,
        typer.Option("--format", help="png: 16-bit PNG <name>_depth.png; vidit: VIDIT dict <name>.npy."),
    ] = DepthFormat.png,
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write a colour-mapped <name>_depth_preview.png.")
    ] = False,
    depth_model: DepthModelOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
) -> None:
    """Estimate a depth map per photo in the convention relight apply takes (larger = farther, in [0, 1])."""
    from ..depth import depth_outputs

    jobs = depth_outputs(photos, output, fmt.value)  # missing photos and bad -o fail here, before torch loads
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..io import read_image, write_depth, write_depth_preview

    estimator = depth_estimator(depth_model, device, precision)
    start, failed = time.perf_counter(), []
    with Progress(
        TextColumn("estimating depth"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal or len(jobs) < 2,
    ) as bar:
        task = bar.add_task("depth", total=len(jobs))
        for photo, out in jobs:
            try:
                d = estimator(read_image(photo).rgb)
                write_depth(out, d)
                if preview:
                    write_depth_preview(out.with_name(f"{out.stem.removesuffix('_depth')}_depth_preview.png"), d)
                console.print(f"wrote {escape(str(out))} ({d.shape[1]}x{d.shape[0]})")
            except RelightError as exc:
                failed.append(str(exc))
                err_console.print(f"[bold red]failed:[/] {escape(str(exc))}")
            bar.advance(task)
    done = len(jobs) - len(failed)
    console.print(
        f"{done} depth map{'s' if done != 1 else ''} in {time.perf_counter() - start:.2f} s "
        f"({estimator.model_id}, {estimator.device}, {estimator.precision})"
    )
    if failed:
        raise typer.Exit(1)
