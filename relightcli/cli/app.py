"""The Typer app every ``relight`` command registers on, its consoles and its error handling.

User errors (`RelightError`) print one line on stderr and exit 1; Ctrl-C exits 130. Tables and messages go to
the consoles here; tables are built by `relightcli.cli.tables` so that they fold instead of cutting cells.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import RelightError

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


class _NoticeHandler(logging.Handler):
    """Prints the package's notices (`relightcli.errors.notice_once`: a fallback taken) as one yellow line."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]{escape(record.getMessage())}[/]")


def _version(value: bool) -> None:
    if value:
        from ..hardware import machine_summary

        typer.echo(machine_summary())
        raise typer.Exit()


@app.callback()
def _setup(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version, the torch version and the machine in one line (no torch import) and exit.",
        ),
    ] = False,
) -> None:
    log = logging.getLogger("relightcli")
    if not any(isinstance(h, _NoticeHandler) for h in log.handlers):
        log.addHandler(_NoticeHandler())
        log.propagate = False


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
