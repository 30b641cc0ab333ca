"""The project's own exception type: every user error (bad input, unusable checkpoint) is a `RelightError`."""

from __future__ import annotations


class RelightError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero.

    Messages name the file or option at fault and say what to do, e.g.
    ``"photo.png: not a readable image (truncated or not PNG/JPEG data)"``.
    """
