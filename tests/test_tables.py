"""Every table the CLI prints is complete at 80 columns, in a terminal or a pipe: no cell cut with an ellipsis,
none squeezed to a single character column."""

from __future__ import annotations

import io
from dataclasses import fields

from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from relightcli.cli import app
from relightcli.cli.bench import bench_tables
from relightcli.cli.evaluate import summary_tables
from relightcli.inference.bench import BenchRow

WIDTH = 80


def _render(t: Table) -> str:
    out = io.StringIO()
    Console(file=out, width=WIDTH, soft_wrap=True, highlight=False).print(t)
    return out.getvalue()


def _assert_whole(text: str, cells: list[str]) -> None:
    """Every line fits, nothing is cut, and every cell (headers included) stands whole on one line."""
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= WIDTH for line in lines), max(lines, key=len)
    assert "…" not in text
    for cell in cells:
        assert any(cell in line for line in lines), f"{cell!r} is folded or cut:\n{text}"


def _bench_row(model: str, precision: str, weights: str, peak_precision: str) -> BenchRow:
    numbers = {f.name: 1234.5678 for f in fields(BenchRow) if f.type in ("float", float)}
    return BenchRow(
        **{**numbers, "peak_memory_mb": 23456.0, "percent_of_peak": 213.0},
        model=model,
        device="cpu",
        precision=precision,
        weights=weights,
        channels_last=True,
        fold_bn=True,
        fused=True,
        compiled=False,
        allocator="retain",
        size=1024,
        memory_kind="peak RSS (process)",
        peak_precision=peak_precision,
    )


def test_bench_tables_fit_80_columns() -> None:
    rows = [
        _bench_row("s3net_lite_lightcolour", "fp32", "fp32", "fp32"),
        _bench_row("s3net_lite_lightcolour", "bf16", "bf16 cast", "fp32"),  # bf16 without a bf16 peak: "1235 fp32"
        _bench_row("s3net_lite_lightcolour", "int8", "int8", "fp32"),
        _bench_row("mprnet_deblur", "fp16", "autocast", "fp16"),
    ]
    tables = bench_tables(rows, 1024, "cuda:0")
    assert len(tables) == 2  # one per model
    text = "\n".join(_render(t) for t in tables)
    header = ["precision", "median s", "spread", "img/s", "MB", "GFLOP/s", "peak", "%peak"]
    _assert_whole(text, [*header, "bf16 cast", "fp16 autocast", "1234.568", "23456", "1235 fp32", "213%"])
    assert "s3net_lite_lightcolour: 1,235 GFLOP at 1024x1024 on cuda:0" in text


def test_eval_tables_fit_80_columns() -> None:
    metrics = ["psnr", "ssim", "lpips", "mps"]
    means = {"psnr": 21.1634, "ssim": 0.84312, "lpips": 0.12345, "mps": 0.86012}
    methods = {m: means for m in ("model", "identity", "colour_transfer")}
    summary = {
        "model": "s3net_lite_lightcolour",
        "flip_ensemble": True,
        "pairs": 48,
        "metrics": metrics,
        "methods": methods,
        "by_change": {c: {"pairs": 16, "methods": methods} for c in ("direction", "temperature", "both")},
    }
    overall, by_change = summary_tables(summary)
    _assert_whole(_render(overall), ["method", "PSNR", "SSIM", "LPIPS", "MPS", "colour_transfer", "21.16", "0.8431"])
    _assert_whole(_render(by_change), ["change", "pairs", "temperature", "colour_transfer", "0.1235", "0.8601"])


def test_models_table_fits_80_columns_when_piped() -> None:
    runner = CliRunner()
    for args in (["models", "s3net_lite_light*"], ["models", "s3net_lite_light*", "--long"]):
        result = runner.invoke(app, args, env={"COLUMNS": str(WIDTH)})
        assert result.exit_code == 0, result.output
        table_part = result.stdout.split("\n\n")[0] if "--long" in args else result.stdout
        _assert_whole(table_part, ["name", "params (M)", "GFLOP@1024²", "multiple", "s3net_lite_lightcolour", "6.27"])
    assert "s3net_lite_lightcolour (fp16 yes, bf16 yes, int8 yes" in result.stdout  # --long: below the table
