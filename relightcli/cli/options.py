"""Options several commands share, and loading what they run (the relighter, the depth estimator)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import err_console


class Precision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"
    int8 = "int8"


ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Registry name; only needed for checkpoints without relightcli metadata."),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option("--weights", "-w", help="Checkpoint: .safetensors path or hf://owner/repo/file (default: shipped)."),
]
DeviceOpt = Annotated[str, typer.Option("--device", "-d", help="auto (CUDA if present), cpu, cuda or cuda:N.")]
PrecisionOpt = Annotated[
    Precision,
    typer.Option(
        "--precision",
        "-p",
        help="auto = fp16 on CUDA, bf16 on CPUs with native bf16, else fp32 (int8 for S3Net folders); "
        "int8: calibrated int8 on CPUs (about 2 s once, then the fastest path without native bf16).",
    ),
]


TileOpt = Annotated[int | None, typer.Option("--tile", help="Run in overlapping tiles of this side (pixels).")]
OverlapOpt = Annotated[int, typer.Option("--tile-overlap", help="Pixels shared by neighbouring tiles.")]
MaxSideOpt = Annotated[
    int | None,
    typer.Option(
        "--max-side",
        help="Relight at this working size (longer side) and carry it to full resolution; 0: every pixel. "
        "Default: the checkpoint's working size (512 for the shipped weights; 1024 if it records none) for larger "
        "images (measured better and faster than full resolution), full resolution below.",
        show_default=False,
    ),
]
FullResOpt = Annotated[
    bool, typer.Option("--full-res", help="Relight every pixel (same as --max-side 0); in tiles if memory is short.")
]
FlipOpt = Annotated[
    bool | None,
    typer.Option(
        "--flip-ensemble/--no-flip-ensemble",
        help="Average with the relit mirror image, mirrored back (self-ensemble; twice the time). "
        "Default: as the checkpoint records (the shipped weights: on).",
        show_default=False,
    ),
]
CompileOpt = Annotated[
    bool,
    typer.Option(
        "--compile", help="torch.compile the model (Inductor): tens of seconds once per image size (see docs/speed.md)."
    ),
]


def load_relighter(
    weights: str | None,
    model: str | None,
    device: str,
    precision: Precision,
    *,
    tile: int | None = None,
    tile_overlap: int = 32,
    max_side: int | None = None,
    compile_model: bool = False,
    many: bool = False,
    flip_ensemble: bool | None = None,
) -> Any:
    """The `Relighter` the command runs: the given or shipped weights, with the command's options checked."""
    from ..checkpoint import load_model, valid_max_side
    from ..inference.engine import Relighter

    if tile is not None and tile <= 2 * tile_overlap:
        raise RelightError(f"--tile {tile} must be larger than twice --tile-overlap {tile_overlap}")
    if max_side is not None and not valid_max_side(max_side):
        raise RelightError(f"--max-side {max_side}: must be 0 (full resolution) or at least 16")

    if weights is None:
        from ..assets import default_weights

        weights = str(default_weights())
    with err_console.status(f"Loading {escape(weights)} ..."):
        net = load_model(weights, model=model)
        return Relighter(
            net,
            device=device,
            precision=precision.value,
            tile=tile,
            tile_overlap=tile_overlap,
            max_side=max_side,
            compile=compile_model,
            on_message=lambda m: err_console.print(f"[yellow]{escape(m)}[/]"),
            many=many,
            flip_ensemble=flip_ensemble,
        )


DepthModelOpt = Annotated[
    str | None,
    typer.Option(
        "--depth-model",
        help="Depth estimator for photos without a depth map: hub id or save_pretrained folder "
        "(default: depth-anything/Depth-Anything-V2-Small-hf).",
    ),
]


def depth_estimator(depth_model: str | None, device: str, precision: Precision) -> Any:
    """The `DepthEstimator` for photos without a depth map (``--depth-model``, or Depth Anything V2 Small)."""
    from ..depth import DEFAULT_DEPTH_MODEL, DepthEstimator

    spec = depth_model or DEFAULT_DEPTH_MODEL
    with err_console.status(f"Loading depth estimator {escape(spec)} ..."):
        return DepthEstimator(spec, device=device, precision=precision.value)
