"""``relight models``: the registry as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, user_errors
from .tables import table

if TYPE_CHECKING:
    from ..models import ModelInfo


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _returns(info: ModelInfo) -> str:
    if info.task == "light":
        return "light logits: 8 directions, then 5 temperatures"
    return "a list, final image first" if info.multi_output else "an image"


@app.command("models")
@user_errors
def models_cmd(
    pattern: Annotated[str, typer.Argument(help="Shell-style filter, e.g. 's3net*'.")] = "*",
    long: Annotated[
        bool, typer.Option("--long", "-l", help="Also the precisions each runs in, its outputs and its description.")
    ] = False,
) -> None:
    """List the registered models: parameters, GFLOP per 1024x1024 image, the size multiple inputs are padded to."""
    from ..models import list_models, model_info
    from ..models.summary import count_flops, count_parameters

    names = list_models(pattern, task=None)
    if not names:
        raise RelightError(f"no model matches {pattern!r}")
    columns = ("name", "task", "params (M)", "GFLOP@1024²", "multiple")
    t = table("relightcli models", *columns, right=columns[1:], keep=columns)
    for name in names:
        info = model_info(name)
        flops = count_flops(name) / 1e9
        t.add_row(
            name,
            info.task,
            f"{count_parameters(name) / 1e6:.2f}",
            f"{flops:,.0f}" if flops >= 10 else f"{flops:.2f}",
            str(info.size_multiple),
        )
    console.print(t)
    if not long:
        console.print("[dim]relight models --long: precisions, outputs and descriptions[/]")
        return
    for name in names:
        info = model_info(name)
        runs = ", ".join(
            f"{p} {_yes(ok)}"
            for p, ok in (("fp16", info.fp16_safe), ("bf16", info.bf16_safe), ("int8", info.int8_safe))
        )
        console.print(f"\n[bold]{name}[/] ({runs}; returns {_returns(info)})")
        console.print(f"  {escape(info.description)}" + (f" {escape(info.paper)}." if info.paper else ""))
