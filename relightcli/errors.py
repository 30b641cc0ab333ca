"""The project's own exception type: every user error (bad input, unusable checkpoint) is a `RelightError`."""

from __future__ import annotations


class RelightError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero.

    Messages name the file or option at fault and say what to do, e.g.
    ``"photo.png: not a readable image (truncated or not PNG/JPEG data)"``.
    """


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name if empty), at most ``limit`` characters: what a
    one-line error quotes of a library's multi-line message."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


_said: set[str] = set()


def notice_once(message: str) -> None:
    """Tell the user ``message`` once per process (a fallback taken, a slow path chosen): a ``WARNING`` on the
    ``relightcli`` logger, which the CLI prints as one yellow line."""
    if message in _said:
        return
    _said.add(message)
    import logging

    logging.getLogger("relightcli").warning(message)
