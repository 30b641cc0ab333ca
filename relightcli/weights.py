"""The shipped default weights (``weights/`` beside the package): what `relight apply`, `eval` and `demo` use
when no ``--weights`` is given. Loading them never touches the network."""

from __future__ import annotations

from pathlib import Path

from .errors import RelightError

DEFAULT_WEIGHTS_FILE = "relight-default.safetensors"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def default_weights() -> Path:
    """Path of the shipped default checkpoint; `RelightError` if this installation has none."""
    path = WEIGHTS_DIR / DEFAULT_WEIGHTS_FILE
    if not path.is_file():
        raise RelightError(
            f"no default weights at {path}; pass --weights FILE.safetensors (or hf://owner/repo/file.safetensors)"
        )
    return path
