"""``relight eval``: the challenge's metrics next to the baselines."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .light import (
    DirectionReaders,
    DirectionsOpt,
    LightWeightsOpt,
    TemperatureCropsOpt,
    TemperatureWeightsOpt,
    load_light_estimator,
)
from .options import (
    DeviceOpt,
    FlipOpt,
    MaxSideOpt,
    ModelOpt,
    Precision,
    PrecisionOpt,
    WeightsOpt,
    load_relighter,
)
from .progress import counting_progress
from .tables import table as make_table


class LightChange(str, Enum):
    """What differs between source and guide light (`relightcli.data.vidit.LIGHT_CHANGES`)."""

    direction = "direction"
    temperature = "temperature"
    both = "both"


def _metric_cells(means: dict[str, float], metrics: list[str]) -> list[str]:
    return [f"{means[m]:.2f}" if m == "psnr" else f"{means[m]:.4f}" for m in metrics]


@app.command("eval")
@user_errors
def eval_cmd(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Pair-layout folder with target/ (or DIR/val), or a flat VIDIT folder (any-to-any pairs with --seed).",
        ),
    ],
    weights: WeightsOpt = None,
    model: ModelOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("report"),
    lpips_weights: Annotated[
        str | None,
        typer.Option("--lpips-weights", help="LPIPS (AlexNet v0.1) weights; default $RELIGHT_LPIPS_WEIGHTS."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Evaluate at most this many pairs.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Pair sampling seed for flat folders.")] = 0,
    only: Annotated[
        LightChange | None,
        typer.Option("--only", help="Only the pairs whose light changes this way (needs the pairs' settings)."),
    ] = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
    flip_ensemble: FlipOpt = None,
    max_side: MaxSideOpt = None,
    light: Annotated[
        bool,
        typer.Option(
            "--light",
            help="Score the light estimator instead: direction and temperature read from each setting-named image "
            "(accuracy, within one step, confusion matrices).",
        ),
    ] = False,
    light_weights: LightWeightsOpt = None,
    temperature_weights: TemperatureWeightsOpt = None,
    directions: DirectionsOpt = DirectionReaders.both,
    temperature_crops: TemperatureCropsOpt = False,
    tell_lights: Annotated[
        bool,
        typer.Option(
            "--tell-lights",
            help="Tell a light-aware model (s3net_lite_lightaware) each pair's recorded settings, as apply --light "
            "--source-light does, instead of letting it read them from the photos.",
        ),
    ] = False,
) -> None:
    """Evaluate a model and the baselines (identity, colour transfer) with the challenge's metrics, or (--light)
    the light estimator."""
    # the estimator these options name, loaded only where it is used
    load_estimator = partial(
        load_light_estimator, light_weights, device, temperature_weights, directions.value, temperature_crops
    )
    if light:
        _eval_light(data, out, limit, load_estimator)
        return

    from ..evaluation import eval_dataset, evaluate
    from ..metrics import load_lpips

    only_change = only.value if only is not None else None
    # bad data folders fail here, before anything else is printed
    eval_dataset(data, seed=seed, limit=limit, only=only_change)
    relighter = load_relighter(weights, model, device, precision, flip_ensemble=flip_ensemble, max_side=max_side)
    if tell_lights and not relighter.told_light:
        raise RelightError(f"--tell-lights: {relighter.info.name} is not told the lights (s3net_lite_lightaware is)")
    # a light-aware model's own lights are recorded unless --light-weights names an estimator for the columns
    light_reader = (
        _light_reader(light_weights, load_estimator)
        if light_weights or temperature_weights or not relighter.told_light
        else None
    )
    try:
        lpips, note = load_lpips(lpips_weights), "LPIPS: AlexNet v0.1."
    except RelightError as exc:
        lpips, note = None, str(exc)
        err_console.print(f"[yellow]{escape(note)}[/] (MPS needs LPIPS; reporting PSNR and SSIM)")
    with counting_progress("evaluating") as progress:
        result = evaluate(
            relighter,
            data,
            out,
            lpips=lpips,
            lpips_note=note,
            seed=seed,
            limit=limit,
            only=only_change,
            progress=progress,
            light_reader=light_reader,
            tell_lights=tell_lights,
        )
    summary = result.summary
    tables = summary_tables(summary)
    console.print(tables[0])
    console.print(f"model above identity (PSNR) on {summary['model_wins']} of {summary['pairs']} pairs")
    if len(tables) > 1:
        console.print(tables[1])
    else:
        console.print(f"[dim]{escape(summary['by_change_note'])}[/]")
    console.print(f"report: {escape(str(result.report))} (metrics.csv, summary.json beside it)")


def summary_tables(summary: dict[str, Any]) -> list[Table]:
    """The means of every method, and (when the pairs' settings are known) the same by what changed."""
    flip = ", flip ensemble" if summary["flip_ensemble"] else ""
    metrics = [m.upper() if m != "ssim" else "SSIM" for m in summary["metrics"]]
    overall = make_table(f"{summary['model']}{flip} on {summary['pairs']} pairs", "method", *metrics, right=metrics)
    for method, means in summary["methods"].items():
        overall.add_row(method, *_metric_cells(means, summary["metrics"]))
    if not summary["by_change"]:
        return [overall]
    columns = ("change", "pairs", "method", *metrics)
    by_change = make_table("by what changed between source and guide light", *columns, right=columns[1:])
    for change, group in summary["by_change"].items():
        for k, (method, means) in enumerate(group["methods"].items()):
            first = k == 0
            by_change.add_row(
                change if first else "",
                str(group["pairs"]) if first else "",
                method,
                *_metric_cells(means, summary["metrics"]),
                end_section=k == len(group["methods"]) - 1,
            )
    return [overall, by_change]


def _light_reader(weights: str | None, load: Callable[[], Any]) -> Any:
    """The light estimator whose readings eval records per pair (``load()``): ``--light-weights``, else the
    shipped one when this installation has it (else none, and no light columns)."""
    if weights is None:
        from ..assets import DEFAULT_LIGHT_WEIGHTS_FILE, WEIGHTS_DIR

        if not (WEIGHTS_DIR / DEFAULT_LIGHT_WEIGHTS_FILE).is_file():
            return None
    return load()


def _eval_light(data: Path, out: Path, limit: int | None, load: Callable[[], Any]) -> None:
    from ..light.evaluation import evaluate_light, labelled_images

    labelled_images(data)  # a folder without setting names fails here, before the model loads
    estimator = load()
    with counting_progress("reading light") as progress:
        result = evaluate_light(estimator, data, out, limit=limit, progress=progress)
    for t in light_tables(result):
        console.print(t)
    console.print(f"report: {escape(str(result.report))} (predictions.csv, summary.json beside it)")


def light_tables(result: Any) -> list[Table]:
    """Accuracy of direction and temperature, and their confusion matrices (rows: true, columns: read)."""
    columns = ("label", "top-1", "within one step")
    overall = make_table(f"light read from {result.images} images", *columns, right=columns[1:])
    for name, scores in (("direction", result.direction), ("temperature", result.temperature)):
        overall.add_row(name, f"{scores.top1:.1%}", f"{scores.within_one:.1%}")
    tables = [overall]
    for name, scores in (("direction", result.direction), ("temperature", result.temperature)):
        labels = [label.replace("K", "") for label in scores.labels]
        m = make_table(f"{name}: true (rows) x read (columns)", "true", *labels, right=labels, keep=labels)
        for label, row in zip(labels, scores.matrix, strict=True):
            m.add_row(label, *(str(v) for v in row))
        tables.append(m)
    return tables
