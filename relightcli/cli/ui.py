"""``relight ui``: the browser page, served locally until Ctrl-C."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, user_errors
from .options import (
    DepthModelOpt,
    DeviceOpt,
    FlipOpt,
    MaxSideOpt,
    ModelOpt,
    Precision,
    PrecisionOpt,
    WeightsOpt,
    load_relighter,
)


@app.command()
@user_errors
def ui(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (localhost only by default; 0.0.0.0 serves the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 7860,
    weights: WeightsOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
    depth_model: DepthModelOpt = None,
    max_side: MaxSideOpt = None,
    flip_ensemble: FlipOpt = None,
    max_megapixels: Annotated[
        float, typer.Option("--max-megapixels", help="Largest upload the page relights (refused from its header).")
    ] = 50.0,
) -> None:
    """Relight photos in the browser: a light compass and temperature (or a guide photo), a before/after slider,
    the full-resolution PNG, all 40 settings as a contact sheet, and the scripted endpoint /relight."""
    if not 0 < port < 65536:
        raise RelightError(f"--port {port}: must be between 1 and 65535")
    if max_megapixels <= 0:
        raise RelightError(f"--max-megapixels {max_megapixels}: must be positive")
    if importlib.util.find_spec("gradio") is None:
        from ..ui.server import GRADIO_MISSING

        raise RelightError(GRADIO_MISSING)
    from ..ui.server import check_port, serve
    from ..ui.service import RelightService

    check_port(host, port)

    relighter = load_relighter(weights, model, device, precision, max_side=max_side, flip_ensemble=flip_ensemble)
    service = RelightService(
        relighter,
        depth_model=depth_model,
        device=device,
        precision=precision.value,
        max_pixels=int(max_megapixels * 1e6),
    )

    def announce(url: str) -> None:
        console.print(
            f"relight ui: {escape(url)} ({relighter.info.name}, {relighter.device}, {relighter.precision}); "
            "Ctrl-C stops it",
            highlight=False,
        )

    serve(service, host, port, on_ready=announce)
    console.print("relight ui: stopped")
