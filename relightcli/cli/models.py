"""``relight models``: the registry as a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, user_errors
from .tables import table


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


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

    names = list_models(pattern)
    if not names:
        raise RelightError(f"no model matches {pattern!r}")
    columns = ("name", "params (M)", "GFLOP@1024²", "multiple")
    t = table("relightcli models", *columns, right=columns[1:], keep=columns)
    for name in names:
        info = model_info(name)
        t.add_row(
            name, f"{count_parameters(name) / 1e6:.2f}", f"{count_flops(name) / 1e9:,.0f}", str(info.size_multiple)
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
        console.print(
            f"\n[bold]{name}[/] ({runs}; returns {'a list, final image first' if info.multi_output else 'an image'})"
        )
        console.print(f"  {escape(info.description)}" + (f" {escape(info.paper)}." if info.paper else ""))
