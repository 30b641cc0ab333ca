"""The Hugging Face hub without the wait: the cache first, then one short look at whether the hub answers.

``huggingface_hub`` and ``transformers`` retry an unreachable hub several times with backoff (about 33 s and ten
lines of retry noise on a machine without network) before they give up. Weights and depth models here ask
`hub_reachable` first: one TCP connection to the hub's endpoint (``HF_ENDPOINT``) with a short timeout, once per
process. ``HF_HUB_OFFLINE=1`` skips even that.
"""

from __future__ import annotations

import functools
import socket
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 3.0


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether the hub's endpoint accepts a TCP connection within ``timeout`` seconds (False when offline mode
    is set, the name does not resolve, or the connection is refused or times out)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_file(repo_id: str, filename: str, revision: str | None = None) -> str | None:
    """The path of ``filename`` of ``repo_id`` in the local hub cache, or None if it is not there."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    return found if isinstance(found, str) else None
