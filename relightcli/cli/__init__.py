"""The ``relight`` command: a thin Typer layer over the Python API (parsing, progress, messages).

One module per command (or group of commands on one concept); `app` holds the Typer app, the consoles and the
error handling, `options` the options several commands share, `tables` the tables they print.
"""

from __future__ import annotations

from . import apply, bench, checkpoints, demo, depth, evaluate, light, models, synth, train, ui  # noqa: F401 (registration)
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
