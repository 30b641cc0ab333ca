"""Progress for one long image: a spinner with the elapsed time from the start, and a bar once the engine says
how many passes it runs (two with the flip ensemble, one per tile). Shown on a terminal only; the command's final
line keeps the total time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .app import err_console


@contextlib.contextmanager
def relighting_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A context whose value is the ``on_progress(done, total)`` callback to hand the `Relighter`."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(escape(description), total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def counting_progress(description: str, *, min_total: int = 0) -> Iterator[Callable[[int, int], None]]:
    """A bar counting items (pairs, images, steps) with the time remaining; its value is the ``(done, total)``
    callback. Shown on a terminal only, and only once ``total`` reaches ``min_total``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(escape(description), total=None, visible=False)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= min_total)

        yield update
