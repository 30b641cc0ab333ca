"""``relight demo``: the bundled sample relit offline with the shipped weights."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .app import app, console, err_console, user_errors
from .options import (
    DeviceOpt,
    ModelOpt,
    Precision,
    PrecisionOpt,
    WeightsOpt,
    load_relighter,
)


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")] = Path("relight-demo"),
    sample: Annotated[int, typer.Option("--sample", help="Which bundled sample (0, 1, 2).")] = 0,
    weights: WeightsOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
) -> None:
    """Relight a bundled sample offline with the shipped weights; writes the result and a comparison."""
    from ..inference.demo import run_demo

    relighter = load_relighter(weights, model, device, precision)
    start = time.perf_counter()
    with err_console.status("Relighting the bundled sample ..."):
        result = run_demo(relighter, out, sample)
    console.print(
        f"{result.sample.name}: {result.sample.description} ({relighter.info.name}, {relighter.device}, "
        f"{relighter.precision}, {time.perf_counter() - start:.2f} s)"
    )
    console.print(f"relit image: {escape(str(result.relit))}")
    console.print(f"comparison (source | guide | relit | target): {escape(str(result.comparison))}")
