"""``relight bench``: speed and memory against the device's measured peak."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .tables import table

if TYPE_CHECKING:
    from ..inference.bench import BenchRow


@app.command()
@user_errors
def bench(
    gpu: Annotated[int | None, typer.Option("--gpu", help="CUDA device index to benchmark.")] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="Benchmark the CPU (default when no GPU).")] = False,
    model: Annotated[str, typer.Option("--model", "-m", help="Registry name, a pattern, or 'all'.")] = "s3net",
    model_args: Annotated[str, typer.Option("--model-args", help="JSON constructor options.")] = "{}",
    size: Annotated[int, typer.Option("--size", help="Square input side.")] = 1024,
    precision: Annotated[
        str, typer.Option("--precision", help="fp32, bf16, fp16 (CUDA), int8 (CPU) or all (what runs natively).")
    ] = "all",
    channels_last: Annotated[bool, typer.Option("--channels-last/--no-channels-last")] = True,
    fold_bn: Annotated[bool, typer.Option("--fold-bn/--no-fold-bn", help="Fold BatchNorm into convs.")] = True,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile (Inductor, freezing; it fuses instead of --fuse).")
    ] = False,
    cast: Annotated[
        str, typer.Option("--weights-cast", help="auto (as relight apply: cast on CPU), cast, or autocast.")
    ] = "auto",
    fuse: Annotated[
        bool,
        typer.Option("--fuse/--no-fuse", help="Fuse conv + activation/residual into one oneDNN call (CPU only)."),
    ] = True,
    retain_memory: Annotated[
        bool,
        typer.Option("--retain-memory/--no-retain-memory", help="CPU: keep freed memory for reuse, as apply does."),
    ] = True,
    warmup: Annotated[int, typer.Option("--warmup")] = 1,
    repeats: Annotated[int, typer.Option("--repeats")] = 5,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the rows as JSON here.")] = None,
) -> None:
    """Measure inference latency, memory and GFLOP/s against the device's own measured peak."""
    import json

    import torch

    from ..atomic import atomic_write_bytes
    from ..hardware import cpu_capabilities
    from ..inference.bench import bench_model, check_precision, native_precisions, peak_precision
    from ..inference.engine import resolve_device
    from ..models import list_models, model_info

    if gpu is not None and cpu:
        raise RelightError("--gpu and --cpu exclude each other")
    device = resolve_device("cpu" if cpu else f"cuda:{gpu}" if gpu is not None else "auto")
    names = list_models() if model == "all" else list_models(model)
    if not names:
        raise RelightError(f"--model {model!r}: no registered model matches; see relight models")
    notes: list[str] = []
    if precision == "all":
        precisions, notes = native_precisions(device)
    else:
        precisions = [precision]
        check_precision(device, precision)
        if precision == "bf16" and peak_precision(device, precision) != precision:
            notes.append(f"bf16 is not native on {cpu_capabilities().summary()}: its %peak is of the fp32 peak")
    try:
        args = json.loads(model_args)
    except json.JSONDecodeError as exc:
        raise RelightError(f"--model-args: {exc}") from None
    if cast not in ("auto", "cast", "autocast"):
        raise RelightError(f"--weights-cast {cast!r}: expected auto, cast or autocast")
    torch.manual_seed(0)
    rows = []
    with err_console.status("measuring ...") as status:
        for name in names:
            for p in precisions:
                if p == "int8" and precision == "all" and not model_info(name).int8_safe:
                    notes.append(f"int8 skipped for {name}: not measured int8-safe (--precision int8 measures it)")
                    continue
                status.update(f"{name} {p} at {size}x{size} on {device} ...")
                rows.append(
                    bench_model(
                        name,
                        device,
                        p,
                        size=size,
                        channels_last=channels_last,
                        fold_bn=fold_bn,
                        compile_model=compile_model,
                        cast_weights=None if cast == "auto" else cast == "cast",
                        fuse=fuse and device.type == "cpu" and not compile_model,
                        warmup=warmup,
                        repeats=repeats,
                        model_args=args,
                        retain_memory=retain_memory,
                    )
                )
    for t in bench_tables(rows, size, str(device)):
        console.print(t)
    for note in notes:
        console.print(f"note: {escape(note)}")
    if device.type == "cpu":
        console.print(f"CPU: {escape(cpu_capabilities().summary())}")
    console.print(
        "peak: the device's GFLOP/s on a large matmul in the same precision, measured just before each row "
        f"(median of 5, like the latency); MB: {rows[0].memory_kind}; spread = max - min of {repeats} runs (s); "
        f"channels_last={channels_last}, fold_bn={fold_bn}, fused={any(r.fused for r in rows)}, "
        f"compile={compile_model} (first call {max(r.first_call_s for r in rows):.1f} s at most), "
        f"allocator={rows[0].allocator}; random weights"
    )
    if json_out is not None:
        atomic_write_bytes(json_out, json.dumps([r.to_json() for r in rows], indent=2).encode())
        console.print(f"wrote {escape(str(json_out))}")


def bench_tables(rows: list[BenchRow], size: int, device: str) -> list[Table]:
    """One table per model, its GFLOP per image in the title: each fits 80 columns."""
    columns = ("precision", "median s", "spread", "img/s", "MB", "GFLOP/s", "peak", "%peak")
    tables = []
    for name in dict.fromkeys(r.model for r in rows):
        gflop = next(r.gflop for r in rows if r.model == name)
        t = table(f"{name}: {gflop:,.0f} GFLOP at {size}x{size} on {device}", *columns, right=columns[1:], keep=columns)
        for r in (r for r in rows if r.model == name):
            t.add_row(
                r.precision if r.weights in (r.precision, "fp32") else f"{r.precision} {r.weights.split()[-1]}",
                f"{r.median_s:.3f}",
                f"{r.max_s - r.min_s:.3f}",
                f"{r.images_per_s:.2f}",
                f"{r.peak_memory_mb:.0f}",
                f"{r.achieved_gflops:.0f}",
                f"{r.device_peak_gflops:.0f}" + (f" {r.peak_precision}" if r.peak_precision != r.precision else ""),
                f"{r.percent_of_peak:.0f}%",
            )
        tables.append(t)
    return tables
