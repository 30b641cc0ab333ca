"""``relight apply``: one photo, or a folder of them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..data.vidit import Setting
from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .light import LightWeightsOpt, load_light_estimator
from .options import (
    CompileOpt,
    DepthModelOpt,
    DeviceOpt,
    FlipOpt,
    FullResOpt,
    MaxSideOpt,
    ModelOpt,
    OverlapOpt,
    Precision,
    PrecisionOpt,
    TileOpt,
    WeightsOpt,
    depth_estimator,
    load_relighter,
)
from .progress import relighting_progress


@app.command(
    epilog="Forms: [bold]relight apply SRC SRC_DEPTH GUIDE GUIDE_DEPTH[/] (depths given) · "
    "[bold]relight apply SRC GUIDE[/] (both depths estimated) · "
    "[bold]relight apply SRC --light 3500K/NW[/] (source depth estimated) · "
    "[bold]relight apply SRC SRC_DEPTH --light 3500K/NW[/]. "
    "Examples: relight apply photo.jpg guide.jpg -o relit.png; relight apply photo.jpg --light 6500K/E "
    "--save-depth depths/; relight apply --src-dir photos/ --light 2500K/W -o relit/."
)
@user_errors
def apply(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="SRC [SRC_DEPTH] [GUIDE [GUIDE_DEPTH]]: photos PNG/JPEG (8/16-bit, gray/RGB/RGBA, EXIF-rotated), "
            "depth PNG, .npy or VIDIT dict .npy; a missing depth is estimated (forms below).",
            metavar="SRC [SRC_DEPTH] [GUIDE [GUIDE_DEPTH]]",
            show_default=False,
        ),
    ] = None,
    light: Annotated[
        str | None, typer.Option("--light", "-l", help="A VIDIT setting instead of a guide, e.g. 3500K/NW.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output image (default: <src>_relit.png here).")
    ] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
    raw_depth: Annotated[
        bool, typer.Option("--raw-depth", help="Use depth files' values as they are instead of normalising per image.")
    ] = False,
    depth_model: DepthModelOpt = None,
    save_depth: Annotated[
        Path | None, typer.Option("--save-depth", help="Keep estimated depth maps here as <name>_depth.png.")
    ] = None,
    tile: TileOpt = None,
    tile_overlap: OverlapOpt = 32,
    max_side: MaxSideOpt = None,
    full_res: FullResOpt = False,
    compile_model: CompileOpt = False,
    flip_ensemble: FlipOpt = None,
    jpeg_quality: Annotated[int, typer.Option("--jpeg-quality", help="Quality of a .jpg output (1-100).")] = 95,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="Relight a VIDIT pair folder (input/, guide/) into -o OUTDIR.")
    ] = None,
    src_dir: Annotated[
        Path | None, typer.Option("--src-dir", help="Relight every image of a folder into -o OUTDIR.")
    ] = None,
    guide_opt: Annotated[Path | None, typer.Option("--guide", help="The guide for --src-dir.")] = None,
    guide_depth_opt: Annotated[
        Path | None, typer.Option("--guide-depth", help="Its depth (estimated when not given).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo outputs that already exist.")] = False,
    show_light: Annotated[
        bool,
        typer.Option(
            "--show-light",
            help="Print the lights of the source and the guide: for a light-aware model, those it was told or read "
            "and how much it kept the shadows (same direction); for others (or with --light-weights), the light "
            "estimator's reading (relight light).",
        ),
    ] = False,
    light_weights: LightWeightsOpt = None,
    source_light: Annotated[
        str | None,
        typer.Option(
            "--source-light",
            help="The source's own light, when known (e.g. 4500K/E): a light-aware model "
            "(s3net_lite_lightaware) is told it instead of reading it; other models ignore it.",
        ),
    ] = None,
) -> None:
    """Relight SRC as it would look under GUIDE's lighting (or a --light preset such as 3500K/NW).

    Depth maps that are not given are estimated from the photos (--depth-model). Folders: --pairs DIR, or
    --src-dir DIR with --guide [--guide-depth] or --light; then -o is a folder.
    """
    from ..inference.apply import parse_apply_paths

    paths = paths or []
    if not 1 <= jpeg_quality <= 100:
        raise RelightError(f"--jpeg-quality {jpeg_quality}: expected 1-100")
    if full_res:
        if max_side not in (None, 0):
            raise RelightError(f"--full-res and --max-side {max_side} exclude each other")
        max_side = 0
    load = dict(
        weights=weights,
        model=model,
        device=device,
        precision=precision,
        tile=tile,
        tile_overlap=tile_overlap,
        max_side=max_side,
        compile_model=compile_model,
        flip_ensemble=flip_ensemble,
    )
    depth_opts = dict(depth_model=depth_model, save_depth=save_depth)
    told = dict(source_setting=Setting.parse(source_light) if source_light is not None else None)
    if pairs is not None or src_dir is not None:
        if paths:
            raise RelightError("--pairs/--src-dir take no SRC arguments")
        if show_light:
            raise RelightError("--show-light is for one photo; for folders, relight eval records the lights per pair")
        _apply_batch(
            pairs, src_dir, guide_opt, guide_depth_opt, light, output, overwrite, raw_depth, load, depth_opts, told
        )
        return
    if guide_opt is not None or guide_depth_opt is not None:
        raise RelightError("--guide/--guide-depth go with --src-dir; for one photo give GUIDE [GUIDE_DEPTH] as paths")
    inputs = parse_apply_paths(paths, light)  # wrong forms and missing files fail here, before torch loads
    from ..inference.apply import relight_files

    estimator = depth_estimator(depth_model, device, precision) if inputs.estimates else None
    relighter = load_relighter(**load)
    start = time.perf_counter()
    with relighting_progress(f"relighting {inputs.src.name} on {relighter.device} ({relighter.precision})") as progress:
        relighter.on_progress = progress
        out = relight_files(
            relighter,
            inputs.src,
            inputs.src_depth,
            inputs.guide,
            inputs.guide_depth,
            output,
            raw_depth=raw_depth,
            estimator=estimator,
            save_depth=save_depth,
            jpeg_quality=jpeg_quality,
            target_setting=inputs.setting,
            **told,
        )
    if show_light and relighter.last_lights is not None and light_weights is None:  # what the model used
        _show_told_lights(relighter, exact_source=source_light is not None, exact_guide=light is not None)
    elif show_light:
        _show_light(inputs.src, inputs.guide, light, light_weights, device)
    estimated = " (depth estimated)" if estimator is not None else ""
    flip = ", flip ensemble" if relighter.flip_ensemble else ""
    console.print(
        f"wrote {escape(str(out))} ({relighter.info.name}, {relighter.device}, {relighter.precision}{flip}, "
        f"{time.perf_counter() - start:.2f} s){estimated}"
    )


def _show_light(src: Path, guide: Path, preset: str | None, weights: str | None, device: str) -> None:
    """One line each: the light the estimator reads in the source and in the guide (a preset is exact)."""
    from ..data.vidit import Setting
    from ..io import read_image

    estimator = load_light_estimator(weights, device)
    console.print(f"source light: {escape(estimator(read_image(src).rgb).describe())}", highlight=False)
    if preset is not None:
        console.print(f"guide light: {escape(Setting.parse(preset).describe())} (the preset, exact)", highlight=False)
    else:
        console.print(f"guide light: {escape(estimator(read_image(guide).rgb).describe())}", highlight=False)


def _show_told_lights(relighter: Any, exact_source: bool, exact_guide: bool) -> None:
    """For a light-aware model: the lights it was told or read itself, and how much of its colour-only path
    (shadows kept where they are) it mixed in."""
    import torch

    from ..light.estimator import estimates_from_codes

    lights = relighter.last_lights
    src, guide = estimates_from_codes(torch.cat([lights["source_light"], lights["target_light"]]))
    for name, e, exact in (("source", src, exact_source), ("guide", guide, exact_guide)):
        how = f"{e.setting.describe()} (given, exact)" if exact else f"{e.describe()}, read by the model"
        console.print(f"{name} light: {escape(how)}", highlight=False)
    same = float(relighter.same_direction(lights)[0])
    gate = ""
    if {"source_direction", "target_direction"} & lights.keys():  # a gate reader read the directions for it
        from ..data.vidit import DIRECTIONS

        read = []
        for side in ("source", "target"):
            p = lights.get(f"{side}_direction")
            read.append("as given" if p is None else f"{DIRECTIONS[int(p[0].argmax())]} {float(p[0].max()):.0%}")
        gate = f"; directions read by its gate reader: source {read[0]}, guide {read[1]}"
    console.print(
        f"same direction: {same:.0%} (the weight of the colour-only path, which keeps shadows where they are{gate})",
        highlight=False,
    )


def _apply_batch(
    pairs: Path | None,
    src_dir: Path | None,
    guide: Path | None,
    guide_depth: Path | None,
    light: str | None,
    output: Path | None,
    overwrite: bool,
    raw_depth: bool,
    load: dict[str, Any],
    depth_opts: dict[str, Any],
    told: dict[str, Any],
) -> None:
    """``relight apply --pairs DIR`` / ``--src-dir DIR``: the model loaded once, failures reported at the end."""

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..inference.batch import folder_jobs, pair_jobs, rank_device, run_jobs, shard

    if pairs is not None and src_dir is not None:
        raise RelightError("give either --pairs or --src-dir, not both")
    if output is None:
        raise RelightError("folders need an output folder: -o OUTDIR")
    if pairs is not None:
        jobs = pair_jobs(pairs, output)
    else:
        if light is not None:
            from ..assets import preset

            if guide is not None or guide_depth is not None:
                raise RelightError("give either --guide [--guide-depth] or --light, not both")
            guide, guide_depth = preset(light)
        elif guide is None:
            raise RelightError("--src-dir needs --guide [--guide-depth] (or --light PRESET)")
        for p in (guide, guide_depth):
            if p is not None and not p.is_file():
                raise RelightError(f"{p}: file not found")
        jobs = folder_jobs(src_dir, guide, guide_depth, output, Setting.parse(light) if light is not None else None)
    jobs = shard(jobs)
    device = rank_device(load["device"])
    estimator = None
    if any(j.src_depth is None or j.guide_depth is None for j in jobs):
        try:
            estimator = depth_estimator(depth_opts["depth_model"], device, load["precision"])
        except RelightError as exc:
            if any(j.guide_depth is None for j in jobs):
                raise  # no guide depth: no job could run
            err_console.print(f"[yellow]photos without a depth map will fail: {escape(str(exc))}[/]")
    relighter = load_relighter(**{**load, "device": device}, many=len(jobs) > 1)
    with Progress(
        TextColumn("relighting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("relight", total=len(jobs), rate="")
        summary = run_jobs(
            relighter,
            jobs,
            overwrite=overwrite,
            raw_depth=raw_depth,
            estimator=estimator,
            save_depth=depth_opts["save_depth"],
            progress=lambda done, total, ips: bar.update(task, completed=done, rate=f"{ips:.2f} img/s"),
            **told,
        )
    rate = summary.done / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"relit {summary.done}, skipped {summary.skipped} existing, failed {len(summary.failed)} "
        f"of {len(jobs)} into {escape(str(output))} ({rate:.2f} img/s)"
        + (f"; depth estimated for {summary.estimated}" if summary.estimated else "")
    )
    for name, message in summary.failed:
        err_console.print(f"[bold red]failed:[/] {escape(name)}: {escape(message)}")
    if summary.failed:
        raise typer.Exit(1)
