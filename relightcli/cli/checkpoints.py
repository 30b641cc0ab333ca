"""``relight convert``, ``export`` and ``average``: making and re-saving checkpoints."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, err_console, user_errors


class SourceFormat(str, Enum):
    s3net_official = "s3net-official"
    mprnet_official = "mprnet-official"


@app.command()
@user_errors
def convert(
    src: Annotated[Path, typer.Argument(help="Released checkpoint (.pth/.pkl), read with weights_only=True.")],
    out: Annotated[Path, typer.Argument(help="Output .safetensors checkpoint.")],
    source_format: Annotated[SourceFormat, typer.Option("--from", help="Which release SRC is.")],
) -> None:
    """Convert an officially released checkpoint into a relightcli safetensors checkpoint."""
    from ..convert import convert_checkpoint

    with err_console.status(f"Converting {escape(str(src))} ..."):
        path = convert_checkpoint(src, out, source_format.value)
    console.print(f"wrote {escape(str(path))} (relight apply --weights {escape(str(path))})")


@app.command()
@user_errors
def export(
    src: Annotated[str, typer.Argument(help="A relightcli checkpoint (file or hf://).")],
    out: Annotated[Path, typer.Argument(help="Output .safetensors file.")],
    dtype: Annotated[str, typer.Option("--dtype", help="Storage precision: fp16, bf16 or fp32.")] = "fp16",
    flip_ensemble: Annotated[
        bool | None,
        typer.Option(
            "--flip-ensemble/--no-flip-ensemble",
            help="Record that apply/eval run these weights with (or without) the flip ensemble by default "
            "(default: keep what the source records).",
            show_default=False,
        ),
    ] = None,
    max_side: Annotated[
        int | None,
        typer.Option(
            "--max-side",
            help="Record the working size apply/eval relight larger images at by default (pixels, longer side; "
            "0: every pixel), e.g. the size the model was trained at (default: keep what the source records).",
            show_default=False,
        ),
    ] = None,
    model_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--model-arg",
            help="KEY=VALUE (JSON value): change a constructor option that leaves the weights as they are, e.g. "
            "reading_sharpness=2 for a light-aware model; repeatable.",
        ),
    ] = None,
    light_weights: Annotated[
        str | None,
        typer.Option(
            "--light-weights",
            help="A light estimator checkpoint (file or hf://) to carry in place of the light reader a "
            "light-aware relighter holds, e.g. one retrained with `relight train --model light_net`.",
        ),
    ] = None,
    gate_weights: Annotated[
        list[str] | None,
        typer.Option(
            "--gate-weights",
            help="A light estimator checkpoint (file or hf://) for a light-aware relighter to carry as its gate "
            "reader: it reads the directions that decide how much of the colour-only path (shadows kept) is used, "
            "while the codes the network was trained on stay its light reader's. Given twice, two gate readers "
            "whose directions are read together (the mean of their log-probabilities).",
        ),
    ] = None,
) -> None:
    """Re-save a checkpoint with another storage precision (e.g. fp16 to halve it), keeping its metadata; or
    with other inference defaults (--flip-ensemble, --max-side), constructor option (--model-arg), light reader
    (--light-weights) or gate reader (--gate-weights)."""
    import json

    import torch

    from ..checkpoint import (
        INFERENCE_KEY,
        load_model,
        read_checkpoint,
        rebuild,
        resolve_weights,
        save_checkpoint,
        valid_max_side,
    )

    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if dtype not in dtypes:
        raise RelightError(f"--dtype {dtype!r}: expected fp16, bf16 or fp32")
    model = load_model(src)
    if model_arg:
        changes = {}
        for item in model_arg:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise RelightError(f"--model-arg {item!r}: expected KEY=VALUE")
            try:
                changes[key] = json.loads(value)
            except json.JSONDecodeError:
                changes[key] = value
        model = rebuild(model, **changes)  # checks the options
    meta = {**read_checkpoint(resolve_weights(src))[1], "storage_dtype": dtype}
    gates = list(gate_weights or [])
    if len(gates) > 2:
        raise RelightError(f"--gate-weights given {len(gates)} times: a relighter carries one or two gate readers")
    if gates and getattr(model, "second_gate_reader", None) is not None:
        model.second_gate_reader = None  # the gate readers given replace both
        model = rebuild(model, second_gate_reader_size=0)
        meta.pop("second_gate_reader", None)
    gates += [None] * (2 - len(gates))
    for option, weights, module, size in (
        ("--light-weights", light_weights, "light_reader", "reader_size"),
        ("--gate-weights", gates[0], "gate_reader", "gate_reader_size"),
        ("--gate-weights", gates[1], "second_gate_reader", "second_gate_reader_size"),
    ):
        if weights is not None:  # carried at the estimator's working size, as the estimator reads
            estimator = _carried_estimator(model, src, weights, option)
            state = {f"{module}.{k}": v for k, v in estimator.state_dict().items()}
            model = rebuild(model, state, **{size: estimator.input_size})
            meta[module] = Path(str(weights)).name
    if max_side is not None and not valid_max_side(max_side):
        raise RelightError(f"--max-side {max_side}: must be 0 (full resolution) or at least 16")
    inference = dict(model.relight_inference)
    if flip_ensemble is not None:
        inference["flip_ensemble"] = flip_ensemble
    if max_side is not None:
        inference["max_side"] = max_side
    if inference != model.relight_inference:
        meta[INFERENCE_KEY] = json.dumps(inference)
    path = save_checkpoint(model, out, dtype=dtypes[dtype], metadata=meta)
    flip = ", flip ensemble by default" if inference.get("flip_ensemble") else ""
    side = f", relit at {inference['max_side']} px by default" if inference.get("max_side") else ""
    console.print(f"wrote {escape(str(path))} ({path.stat().st_size / 2**20:.1f} MiB, {dtype}{flip}{side})")


def _carried_estimator(model: Any, src: str, weights: str, option: str) -> Any:
    """The light estimator in ``weights`` for the light-aware relighter ``model`` to carry; one-line errors name
    ``option``."""
    from ..checkpoint import load_model

    reader = getattr(model, "light_reader", None)
    if reader is None:
        raise RelightError(f"{option}: {src} holds {model.relight_info.name}, which reads no light")
    estimator = load_model(weights)
    if estimator.relight_info.task != "light" or type(estimator) is not type(reader):
        raise RelightError(f"{option} {weights}: not a {type(reader).__name__} light estimator")
    return estimator


@app.command()
@user_errors
def average(
    checkpoints: Annotated[list[str], typer.Argument(help="Checkpoints of one model (files or hf://), two or more.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .safetensors file.")],
) -> None:
    """Average checkpoints of one run into one (SWA's uniform mean: steadier than any single checkpoint)."""
    import json

    from ..checkpoint import average_checkpoints, save_checkpoint

    model = average_checkpoints(checkpoints)
    names = json.dumps([Path(c).name for c in checkpoints])
    path = save_checkpoint(model, output, metadata={"averaged_from": names})
    console.print(f"wrote {escape(str(path))}: the mean of {len(checkpoints)} {model.relight_info.name} checkpoints")
