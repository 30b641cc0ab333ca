"""The ``relight`` command: a thin Typer layer over the Python API (parsing, progress, messages).

User errors (`RelightError`) print one line on stderr and exit 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import RelightError

app = typer.Typer(
    name="relight",
    help="Depth-guided any-to-any image relighting (S3Net and friends).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn `RelightError` into a one-line message and exit code 1, Ctrl-C into exit code 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RelightError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class Precision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Registry name; only needed for checkpoints without relightcli metadata."),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option("--weights", "-w", help="Checkpoint: a .safetensors path or hf://owner/repo/file.safetensors."),
]
DeviceOpt = Annotated[str, typer.Option("--device", "-d", help="auto (CUDA if present), cpu, cuda or cuda:N.")]
PrecisionOpt = Annotated[
    Precision, typer.Option("--precision", "-p", help="auto = fp16 autocast on CUDA, fp32 on CPU.")
]


def _load(weights: str | None, model: str | None, device: str, precision: Precision) -> Any:
    from .checkpoint import load_model
    from .engine import Relighter

    if weights is None:
        raise RelightError(
            "no weights given: pass --weights FILE.safetensors or --weights hf://owner/repo/file.safetensors"
        )
    with err_console.status(f"Loading {escape(weights)} ..."):
        net = load_model(weights, model=model)
        return Relighter(net, device=device, precision=precision.value)


@app.command()
@user_errors
def apply(
    src: Annotated[Path, typer.Argument(help="Source photo (PNG/JPEG, 8/16-bit, gray/RGB/RGBA).")],
    src_depth: Annotated[Path, typer.Argument(help="Source depth: PNG, .npy array or VIDIT dict .npy.")],
    guide: Annotated[Path, typer.Argument(help="Guide photo whose lighting to copy (any size).")],
    guide_depth: Annotated[Path, typer.Argument(help="Guide depth map.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output image (default: <src>_relit.png here).")
    ] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
    raw_depth: Annotated[
        bool, typer.Option("--raw-depth", help="Use depth values as they are (in [0, 1]) instead of per image.")
    ] = False,
) -> None:
    """Relight SRC as it would look under GUIDE's lighting."""
    from .apply import relight_files

    relighter = _load(weights, model, device, precision)
    start = time.perf_counter()
    with err_console.status(f"Relighting {escape(str(src))} on {relighter.device} ({relighter.precision}) ..."):
        out = relight_files(relighter, src, src_depth, guide, guide_depth, output, raw_depth=raw_depth)
    console.print(
        f"wrote {escape(str(out))} ({relighter.info.name}, {relighter.device}, {relighter.precision}, "
        f"{time.perf_counter() - start:.2f} s)"
    )


@app.command()
@user_errors
def synth(
    out: Annotated[Path, typer.Argument(help="Dataset root: train/ (flat layout) and, with --pairs, val/.")],
    scenes: Annotated[int, typer.Option("--scenes", "-n", help="Training scenes (40 images each).")] = 20,
    size: Annotated[int, typer.Option("--size", "-s", help="Image side in pixels.")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    pairs: Annotated[int, typer.Option("--pairs", help="Validation pairs in val/ (pair layout, with targets).")] = 0,
    val_scenes: Annotated[
        int | None, typer.Option("--val-scenes", help="Held-out scenes for the pairs (default: pairs / 4, >= 2).")
    ] = None,
    supersample: Annotated[int, typer.Option("--supersample", help="Anti-aliasing factor.")] = 2,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="Write a contact sheet of the first scene's 40 settings here.")
    ] = None,
) -> None:
    """Render a synthetic VIDIT-format dataset (random scenes under the 40 VIDIT lighting settings)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    from .synth import synthesize

    start = time.perf_counter()
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("rendering scenes", total=None)
        summary = synthesize(
            out,
            scenes=scenes,
            size=size,
            seed=seed,
            pairs=pairs,
            val_scenes=val_scenes,
            supersample=supersample,
            preview=preview,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    msg = f"wrote {summary.images} images of {summary.scenes} scenes to {escape(str(summary.train_dir))}"
    if summary.val_dir is not None:
        msg += f" and {summary.pairs} pairs to {escape(str(summary.val_dir))}"
    if preview is not None:
        msg += f"; contact sheet {escape(str(preview))}"
    console.print(f"{msg} ({time.perf_counter() - start:.1f} s)")


@app.command("models")
@user_errors
def models_cmd(
    pattern: Annotated[str, typer.Argument(help="Shell-style filter, e.g. 's3net*'.")] = "*",
) -> None:
    """List the registered models."""
    from .models import list_models, model_info
    from .models.summary import count_parameters

    table = Table(title="relightcli models", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("params (M)", justify="right")
    table.add_column("multiple", justify="right")
    table.add_column("fp16/bf16", justify="center")
    table.add_column("outputs")
    table.add_column("description", ratio=1)
    names = list_models(pattern)
    if not names:
        raise RelightError(f"no model matches {pattern!r}")
    for name in names:
        info = model_info(name)
        table.add_row(
            name,
            f"{count_parameters(name) / 1e6:.2f}",
            str(info.size_multiple),
            f"{'yes' if info.fp16_safe else 'no'}/{'yes' if info.bf16_safe else 'no'}",
            "list" if info.multi_output else "image",
            info.description,
        )
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
