"""Tables the CLI prints: complete at any width, in a terminal or a pipe.

rich fits a table to the console's width (the terminal's, else 80 columns or ``COLUMNS``). Its default for a
cell that does not fit is to cut it with an ellipsis, which loses the value; every column here folds instead,
and the columns holding names and numbers keep their minimum width, so a cell is never squeezed to one
character.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table


def table(title: str | None, *columns: str, right: Sequence[str] = (), keep: Sequence[str] = ()) -> Table:
    """A table whose cells fold rather than being cut. ``right`` columns are right-aligned (numbers); ``keep``
    columns are not wrapped at all (short names, numbers), so the others fold first."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for name in columns:
        t.add_column(
            name,
            justify="right" if name in right else "left",
            overflow="fold",
            no_wrap=name in keep,
            min_width=len(name) if name in keep else None,
        )
    return t
