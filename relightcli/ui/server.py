"""Run the page until Ctrl-C: one queue, one request at a time on a CPU, bound to localhost unless told."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from ..errors import RelightError
from .service import RelightService

GRADIO_MISSING = 'relight ui needs Gradio: pip install "relightcli[ui]" (or pip install -e ".[ui]" in a checkout)'


def check_port(host: str, port: int) -> None:
    """`RelightError` now, before any model loads, when ``host:port`` cannot be bound (in use, not an address
    of this machine, or a privileged port)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or exc
        raise RelightError(f"cannot serve on {host}:{port} ({reason}); choose another --port or --host") from None


def serve(
    service: RelightService,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    on_ready: Callable[[str], None] | None = None,
    concurrency: int = 1,
) -> None:
    """Serve the page for ``service`` at ``http://host:port/`` until KeyboardInterrupt (Ctrl-C), then close
    the server and remove the outputs. ``on_ready(url)`` is called once it answers."""
    try:
        from .page import build_page, launch_options
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("gradio", "gradio_client"):
            raise RelightError(GRADIO_MISSING) from None
        raise
    page = build_page(service)
    page.queue(default_concurrency_limit=concurrency)
    try:
        page.launch(**launch_options(host, port))
    except OSError:
        raise RelightError(f"cannot serve on {host}:{port} (the port is taken); choose another --port") from None
    try:
        if on_ready:
            on_ready(page.local_url or f"http://{host}:{port}/")
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        page.close()
        service.close()
