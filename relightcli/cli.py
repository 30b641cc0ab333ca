"""The ``relight`` command: a thin Typer layer over the Python API (parsing, progress, messages).

User errors (`RelightError`) print one line on stderr and exit 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import RelightError

app = typer.Typer(
    name="relight",
    help="Depth-guided any-to-any image relighting (S3Net and friends).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


class _NoticeHandler(logging.Handler):
    """Prints the package's notices (`relightcli.errors.notice_once`: a fallback taken) as one yellow line."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]{escape(record.getMessage())}[/]")


@app.callback()
def _setup() -> None:
    log = logging.getLogger("relightcli")
    if not any(isinstance(h, _NoticeHandler) for h in log.handlers):
        log.addHandler(_NoticeHandler())
        log.propagate = False


def user_errors(fn: F) -> F:
    """Turn `RelightError` into a one-line message and exit code 1, Ctrl-C into exit code 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RelightError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


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
    int | None, typer.Option("--max-side", help="Relight at this working size, carry it to full resolution.")
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
        "--compile", help="torch.compile the model (Inductor): tens of seconds once per image size (see README: Speed)."
    ),
]


def _load(
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
    from .checkpoint import load_model
    from .engine import Relighter

    if tile is not None and tile <= 2 * tile_overlap:
        raise RelightError(f"--tile {tile} must be larger than twice --tile-overlap {tile_overlap}")
    if max_side is not None and max_side < 16:
        raise RelightError(f"--max-side {max_side}: must be at least 16")

    if weights is None:
        from .weights import default_weights

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


def _depth_estimator(depth_model: str | None, device: str, precision: Precision) -> Any:
    from .depth import DEFAULT_DEPTH_MODEL, DepthEstimator

    spec = depth_model or DEFAULT_DEPTH_MODEL
    with err_console.status(f"Loading depth estimator {escape(spec)} ..."):
        return DepthEstimator(spec, device=device, precision=precision.value)


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
    compile_model: CompileOpt = False,
    flip_ensemble: FlipOpt = None,
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
) -> None:
    """Relight SRC as it would look under GUIDE's lighting (or a --light preset such as 3500K/NW).

    Depth maps that are not given are estimated from the photos (--depth-model). Folders: --pairs DIR, or
    --src-dir DIR with --guide [--guide-depth] or --light; then -o is a folder.
    """
    from .apply import parse_apply_paths

    paths = paths or []
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
    if pairs is not None or src_dir is not None:
        if paths:
            raise RelightError("--pairs/--src-dir take no SRC arguments")
        _apply_batch(pairs, src_dir, guide_opt, guide_depth_opt, light, output, overwrite, raw_depth, load, depth_opts)
        return
    if guide_opt is not None or guide_depth_opt is not None:
        raise RelightError("--guide/--guide-depth go with --src-dir; for one photo give GUIDE [GUIDE_DEPTH] as paths")
    inputs = parse_apply_paths(paths, light)  # wrong forms and missing files fail here, before torch loads
    from .apply import relight_files

    estimator = _depth_estimator(depth_model, device, precision) if inputs.estimates else None
    relighter = _load(**load)
    start = time.perf_counter()
    with err_console.status(f"Relighting {escape(str(inputs.src))} on {relighter.device} ({relighter.precision}) ..."):
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
        )
    estimated = " (depth estimated)" if estimator is not None else ""
    flip = ", flip ensemble" if relighter.flip_ensemble else ""
    console.print(
        f"wrote {escape(str(out))} ({relighter.info.name}, {relighter.device}, {relighter.precision}{flip}, "
        f"{time.perf_counter() - start:.2f} s){estimated}"
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
) -> None:
    """``relight apply --pairs DIR`` / ``--src-dir DIR``: the model loaded once, failures reported at the end."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batch import folder_jobs, pair_jobs, run_jobs, shard

    if pairs is not None and src_dir is not None:
        raise RelightError("give either --pairs or --src-dir, not both")
    if output is None:
        raise RelightError("folders need an output folder: -o OUTDIR")
    if pairs is not None:
        jobs = pair_jobs(pairs, output)
    else:
        if light is not None:
            from .bundled import preset

            if guide is not None or guide_depth is not None:
                raise RelightError("give either --guide [--guide-depth] or --light, not both")
            guide, guide_depth = preset(light)
        elif guide is None:
            raise RelightError("--src-dir needs --guide [--guide-depth] (or --light PRESET)")
        for p in (guide, guide_depth):
            if p is not None and not p.is_file():
                raise RelightError(f"{p}: file not found")
        jobs = folder_jobs(src_dir, guide, guide_depth, output)
    jobs = shard(jobs)
    device = load["device"]
    if device == "auto" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    estimator = None
    if any(j.src_depth is None or j.guide_depth is None for j in jobs):
        try:
            estimator = _depth_estimator(depth_opts["depth_model"], device, load["precision"])
        except RelightError as exc:
            if any(j.guide_depth is None for j in jobs):
                raise  # no guide depth: no job could run
            err_console.print(f"[yellow]photos without a depth map will fail: {escape(str(exc))}[/]")
    relighter = _load(**{**load, "device": device}, many=len(jobs) > 1)
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


class DepthFormat(str, Enum):
    png = "png"
    vidit = "vidit"


@app.command(
    epilog="Examples: relight depth photo.jpg (writes photo_depth.png here) · relight depth photos/*.jpg -o photos/ "
    "--preview (beside the photos, as relight apply --src-dir looks for them) · relight depth a.jpg --format vidit."
)
@user_errors
def depth(
    photos: Annotated[list[Path], typer.Argument(help="Photos (PNG/JPEG; EXIF orientation applied).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Output folder (or, for one photo, a .png/.npy file); default: the current folder."
        ),
    ] = None,
    fmt: Annotated[
        DepthFormat,
        typer.Option("--format", help="png: 16-bit PNG <name>_depth.png; vidit: VIDIT dict <name>.npy."),
    ] = DepthFormat.png,
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write a colour-mapped <name>_depth_preview.png.")
    ] = False,
    depth_model: DepthModelOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
) -> None:
    """Estimate a depth map per photo in the convention relight apply takes (larger = farther, in [0, 1])."""
    from .depth import depth_outputs

    jobs = depth_outputs(photos, output, fmt.value)  # missing photos and bad -o fail here, before torch loads
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .io import read_image, write_depth, write_depth_preview

    estimator = _depth_estimator(depth_model, device, precision)
    start, failed = time.perf_counter(), []
    with Progress(
        TextColumn("estimating depth"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal or len(jobs) < 2,
    ) as bar:
        task = bar.add_task("depth", total=len(jobs))
        for photo, out in jobs:
            try:
                d = estimator(read_image(photo).rgb)
                write_depth(out, d)
                if preview:
                    write_depth_preview(out.with_name(f"{out.stem.removesuffix('_depth')}_depth_preview.png"), d)
                console.print(f"wrote {escape(str(out))} ({d.shape[1]}x{d.shape[0]})")
            except RelightError as exc:
                failed.append(str(exc))
                err_console.print(f"[bold red]failed:[/] {escape(str(exc))}")
            bar.advance(task)
    done = len(jobs) - len(failed)
    console.print(
        f"{done} depth map{'s' if done != 1 else ''} in {time.perf_counter() - start:.2f} s "
        f"({estimator.model_id}, {estimator.device}, {estimator.precision})"
    )
    if failed:
        raise typer.Exit(1)


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")] = Path("relight-demo"),
    sample: Annotated[int, typer.Option("--sample", help="Which bundled sample (0, 1, 2).")] = 0,
    weights: WeightsOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = Precision.auto,
) -> None:
    """Relight a bundled sample offline with the shipped weights; writes the result and a comparison."""
    from .demo import run_demo

    relighter = _load(weights, model, device, precision)
    start = time.perf_counter()
    with err_console.status("Relighting the bundled sample ..."):
        result = run_demo(relighter, out, sample)
    console.print(
        f"{result.sample.name}: {result.sample.description} ({relighter.info.name}, {relighter.device}, "
        f"{relighter.precision}, {time.perf_counter() - start:.2f} s)"
    )
    console.print(f"relit image: {escape(str(result.relit))}")
    console.print(f"comparison (source | guide | relit | target): {escape(str(result.comparison))}")


class RendererName(str, Enum):
    numpy = "numpy"
    cycles = "cycles"


@app.command(
    epilog="Examples: relight synth data/ --scenes 20 --pairs 20 · relight synth pt/ --renderer cycles --scenes 300 "
    "--shard 1/2 (and --shard 2/2 in another process) · rerun the same command to resume after a kill."
)
@user_errors
def synth(
    out: Annotated[Path, typer.Argument(help="Dataset root: train/ (flat layout) and, with --pairs, val/.")],
    scenes: Annotated[int, typer.Option("--scenes", "-n", help="Training scenes (40 images each).")] = 20,
    size: Annotated[int, typer.Option("--size", "-s", help="Image side in pixels (>= 16).")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same scenes (numpy renderer: same bytes).")] = 0,
    pairs: Annotated[int, typer.Option("--pairs", help="Validation pairs in val/ (pair layout, with targets).")] = 0,
    val_scenes: Annotated[
        int | None, typer.Option("--val-scenes", help="Held-out scenes for the pairs (default: pairs / 4, >= 2).")
    ] = None,
    renderer: Annotated[
        RendererName,
        typer.Option("--renderer", help="numpy (fast, Lambertian) or cycles (Blender's path tracer, needs bpy)."),
    ] = RendererName.numpy,
    supersample: Annotated[int, typer.Option("--supersample", help="Anti-aliasing factor (numpy renderer).")] = 2,
    samples: Annotated[int, typer.Option("--samples", help="Cycles samples per pixel (adaptive, denoised).")] = 16,
    blender_python: Annotated[
        str | None,
        typer.Option(
            "--blender-python", help="Python with bpy for --renderer cycles (default: this one, if it has bpy)."
        ),
    ] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="K/N: render every N-th scene from the K-th (N processes, one each).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="Write a contact sheet of the first scene's 40 settings here.")
    ] = None,
) -> None:
    """Render a synthetic VIDIT-format dataset (random scenes under the 40 VIDIT lighting settings); resumable."""
    from .synth.writer import Renderer, parse_shard

    if size < 16 or scenes < 0 or pairs < 0 or samples < 1:
        raise RelightError("synth needs --size >= 16, --scenes >= 0, --pairs >= 0, --samples >= 1")
    part = parse_shard(shard)
    engine = Renderer(renderer.value, supersample)
    if renderer is RendererName.cycles:
        from .synth.cycles import CyclesSettings
        from .synth.cycles import blender_python as find_python

        engine = Renderer(
            "cycles", supersample, CyclesSettings(samples=samples, seed=seed), find_python(blender_python)
        )
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .synth import synthesize

    start = time.perf_counter()
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"rendering scenes ({renderer.value})", total=None, rate="")

        def progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.2f} scenes/s")

        summary = synthesize(
            out,
            scenes=scenes,
            size=size,
            seed=seed,
            pairs=pairs,
            val_scenes=val_scenes,
            preview=preview,
            progress=progress,
            renderer=engine,
            shard=part,
            on_message=lambda m: err_console.print(f"[yellow]{escape(m)}[/]"),
        )
    parts = []
    if summary.train_dir is not None:
        parts.append(f"{summary.images} images of {summary.scenes} scenes to {escape(str(summary.train_dir))}")
    if summary.val_dir is not None:
        parts.append(f"{summary.pairs} pairs to {escape(str(summary.val_dir))}")
    msg = "wrote " + " and ".join(parts) if parts else "wrote no complete scene yet"
    if preview is not None and preview.exists():
        msg += f"; contact sheet {escape(str(preview))}"
    shard_note = f", shard {part[0]}/{part[1]}" if part != (1, 1) else ""
    console.print(f"{msg} ({time.perf_counter() - start:.1f} s, {renderer.value}{shard_note})")


class _RichTrainReporter:
    """Draws `relightcli.training.train` progress: a bar per epoch with loss terms, images/s and ETA."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self.task = None
        self.live = False

    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        if not self.live:
            self.progress.start()
            self.live = True
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"epoch {epoch + 1}/{epochs}", total=steps, completed=done, info="")

    def step(self, done: int, terms: dict[str, float], images_per_s: float) -> None:
        info = "  ".join(f"{k} {v:.4f}" for k, v in terms.items()) + f"  {images_per_s:.1f} img/s"
        self.progress.update(self.task, completed=done, info=escape(info))

    def epoch_end(self, row: dict[str, Any]) -> None:
        self.close()
        terms = "  ".join(f"{k[6:]} {v:.4f}" for k, v in row.items() if k.startswith("train_"))
        console.print(
            f"epoch {row['epoch']}  step {row['step']}  {terms}  val PSNR {row['val_psnr']:.2f} dB  "
            f"SSIM {row['val_ssim']:.4f}  {row['images_per_s']:.1f} img/s  lr {row['lr']:.2e}"
        )

    def message(self, text: str) -> None:
        err_console.print(escape(text))

    def close(self) -> None:
        if self.live:
            self.progress.stop()
            self.live = False


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Flat VIDIT training folder, or a root with train/ (+ val/).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Registry model to train.")] = "s3net",
    model_args: Annotated[
        str, typer.Option("--model-args", help='JSON constructor options, e.g. \'{"encoder": "res2net50d"}\'.')
    ] = "{}",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default runs/MODEL).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Total epochs (S3Net: 100).")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Per process.")] = 3,
    lr: Annotated[float, typer.Option("--lr", help="Initial learning rate.")] = 1e-4,
    lr_milestones: Annotated[
        str, typer.Option("--lr-milestones", help="Epochs after which lr is multiplied by --lr-gamma.")
    ] = "20",
    lr_gamma: Annotated[float, typer.Option("--lr-gamma")] = 0.1,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW weight decay.")] = 0.01,
    size: Annotated[
        int | None, typer.Option("--size", help="Working resolution (square), resized once and cached.")
    ] = None,
    val_split: Annotated[float, typer.Option("--val-split", help="Fraction of scenes held out (no val/).")] = 0.1,
    val_max: Annotated[int | None, typer.Option("--val-max", help="Validate on at most this many pairs.")] = None,
    loss: Annotated[
        str, typer.Option("--loss", help="Weighted terms: charbonnier, l1, mse, ssim, wssim, perceptual, edge, sobel.")
    ] = "charbonnier=1,wssim=1.1,perceptual=0.1",
    vgg_weights: Annotated[
        str, typer.Option("--vgg-weights", help="VGG19 weights for the perceptual term (file or hf://).")
    ] = "hf://timm/vgg19.tv_in1k/model.safetensors",
    amp: Annotated[bool, typer.Option("--amp", help="fp16 + GradScaler on CUDA, bf16 autocast on CPU.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last state.")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="DataLoader worker processes.")] = 0,
    same_scene_guides: Annotated[
        bool, typer.Option("--same-scene-guides", help="Guides from the input's scene.")
    ] = False,
    hflip: Annotated[bool, typer.Option("--hflip", help="Mirror pairs (direction labels mirrored too).")] = False,
    pretrained_backbone: Annotated[
        bool, typer.Option("--pretrained-backbone", help="ImageNet weights for the encoder (needs the hub).")
    ] = False,
    init: Annotated[
        str | None,
        typer.Option(
            "--init", help="Start from these weights (fine-tuning; file or hf://); the optimizer starts afresh."
        ),
    ] = None,
    freeze_bn: Annotated[bool, typer.Option("--freeze-bn", help="Keep BatchNorm statistics fixed.")] = False,
    grad_clip: Annotated[float | None, typer.Option("--grad-clip", help="Clip the gradient norm.")] = None,
    aux_light: Annotated[
        float,
        typer.Option(
            "--aux-light",
            help="Weight of an auxiliary loss: classify the guide's and the source's light direction and temperature "
            "from the encoder's features (S3Net family; training only, not in the saved weights).",
        ),
    ] = 0.0,
    batch_scales: Annotated[
        str,
        typer.Option(
            "--batch-scales",
            help="Multi-scale training: resize each batch by a factor drawn from this list, e.g. 0.5,1 "
            "(area averaging; factors in (0, 1]).",
        ),
    ] = "",
    ema: Annotated[
        float,
        typer.Option(
            "--ema",
            help="Keep an exponential moving average of the weights with this decay (e.g. 0.999) and validate "
            "and save it instead of the raw weights; 0 turns it off.",
        ),
    ] = 0.0,
    save_every: Annotated[int, typer.Option("--save-every", help="Also commit the state every N steps.")] = 0,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after this many steps in total.")] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Train a registry model on VIDIT-format data (any-to-any pairs); resumable, torchrun-ready."""
    import json

    from .training import TrainConfig
    from .training import train as run_training

    try:
        args = json.loads(model_args)
        milestones = tuple(int(m) for m in lr_milestones.split(",") if m.strip())
        scales = tuple(float(s) for s in batch_scales.split(",") if s.strip())
    except (json.JSONDecodeError, ValueError) as exc:
        raise RelightError(f"--model-args / --lr-milestones / --batch-scales: {exc}") from None
    if not isinstance(args, dict):
        raise RelightError("--model-args must be a JSON object")
    cfg = TrainConfig(
        data=data,
        model=model,
        model_args=args,
        out=out,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_milestones=milestones,
        lr_gamma=lr_gamma,
        weight_decay=weight_decay,
        size=size,
        val_split=val_split,
        val_max=val_max,
        loss=loss,
        vgg_weights=vgg_weights,
        amp=amp,
        resume=resume,
        seed=seed,
        workers=workers,
        same_scene_guides=same_scene_guides,
        hflip=hflip,
        pretrained_backbone=pretrained_backbone,
        init=init,
        freeze_bn=freeze_bn,
        grad_clip=grad_clip,
        aux_light=aux_light,
        batch_scales=scales,
        ema=ema,
        save_every=save_every,
        max_steps=max_steps,
        device=device,
    )
    reporter = _RichTrainReporter()
    try:
        result = run_training(cfg, reporter)
    finally:
        reporter.close()
    state = escape(str(result.run_dir / "train_state.pt"))
    if result.interrupted:
        err_console.print(
            f"[yellow]interrupted[/] at step {result.steps}: state saved to {state}, the weights at this step to "
            f"{escape(str(result.run_dir))}/last.safetensors; continue with --resume"
        )
        raise typer.Exit(128 + result.stop_signal)  # 130 for Ctrl-C, 143 for SIGTERM
    best = f", best val PSNR {result.best_psnr:.2f} dB" if result.best_psnr > float("-inf") else ""
    console.print(f"done: {result.steps} steps{best}; weights in {escape(str(result.run_dir))}/last.safetensors")


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
    from .convert import convert_checkpoint

    with err_console.status(f"Converting {escape(str(src))} ..."):
        path = convert_checkpoint(src, out, source_format.value)
    console.print(f"wrote {escape(str(path))} (relight apply --weights {escape(str(path))})")


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
) -> None:
    """Evaluate a model and the baselines (identity, colour transfer) with the challenge's metrics."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .evaluation import eval_dataset, evaluate
    from .metrics import load_lpips

    only_change = only.value if only is not None else None
    # bad data folders fail here, before anything else is printed
    eval_dataset(data, seed=seed, limit=limit, only=only_change)
    relighter = _load(weights, model, device, precision, flip_ensemble=flip_ensemble)
    try:
        lpips, note = load_lpips(lpips_weights), "LPIPS: AlexNet v0.1."
    except RelightError as exc:
        lpips, note = None, str(exc)
        err_console.print(f"[yellow]{escape(note)}[/] (MPS needs LPIPS; reporting PSNR and SSIM)")
    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("evaluating", total=None)
        result = evaluate(
            relighter,
            data,
            out,
            lpips=lpips,
            lpips_note=note,
            seed=seed,
            limit=limit,
            only=only_change,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    summary = result.summary
    flip = ", flip ensemble" if summary["flip_ensemble"] else ""
    table = Table(title=f"{summary['model']}{flip} on {summary['pairs']} pairs", box=box.SIMPLE_HEAD)
    table.add_column("method")
    for m in summary["metrics"]:
        table.add_column(m.upper() if m != "ssim" else "SSIM", justify="right")
    for method, means in summary["methods"].items():
        table.add_row(method, *_metric_cells(means, summary["metrics"]))
    console.print(table)
    console.print(f"model above identity (PSNR) on {summary['model_wins']} of {summary['pairs']} pairs")
    if summary["by_change"]:
        table = Table(title="by what changed between source and guide light", box=box.SIMPLE_HEAD)
        table.add_column("change")
        table.add_column("pairs", justify="right")
        table.add_column("method")
        for m in summary["metrics"]:
            table.add_column(m.upper() if m != "ssim" else "SSIM", justify="right")
        for change, group in summary["by_change"].items():
            for k, (method, means) in enumerate(group["methods"].items()):
                first = k == 0
                table.add_row(
                    change if first else "",
                    str(group["pairs"]) if first else "",
                    method,
                    *_metric_cells(means, summary["metrics"]),
                    end_section=k == len(group["methods"]) - 1,
                )
        console.print(table)
    else:
        console.print(f"[dim]{escape(summary['by_change_note'])}[/]")
    console.print(f"report: {escape(str(result.report))} (metrics.csv, summary.json beside it)")


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

    from .atomic import atomic_write_bytes
    from .bench import bench_model, check_precision, native_precisions, peak_precision
    from .engine import resolve_device
    from .hardware import cpu_capabilities
    from .models import list_models, model_info

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
    table = Table(title=f"relight bench: {size}x{size} on {device}", box=box.SIMPLE_HEAD)
    table.add_column("model", no_wrap=True)
    for col in ("prec", "weights", "median s", "spread", "img/s", "MB", "GFLOP", "GFLOP/s", "peak", "%peak"):
        table.add_column(col, justify="left" if col == "prec" else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.model,
            r.precision,
            r.weights,
            f"{r.median_s:.3f}",
            f"{r.max_s - r.min_s:.3f}",
            f"{r.images_per_s:.2f}",
            f"{r.peak_memory_mb:.0f}",
            f"{r.gflop:.0f}",
            f"{r.achieved_gflops:.0f}",
            f"{r.device_peak_gflops:.0f}" + (f" ({r.peak_precision})" if r.peak_precision != r.precision else ""),
            f"{r.percent_of_peak:.0f}%",
        )
    console.print(table)
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
) -> None:
    """Re-save a checkpoint with another storage precision (e.g. fp16 to halve it), keeping its metadata."""
    import json

    import torch

    from .checkpoint import INFERENCE_KEY, load_model, read_checkpoint, resolve_weights, save_checkpoint

    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if dtype not in dtypes:
        raise RelightError(f"--dtype {dtype!r}: expected fp16, bf16 or fp32")
    model = load_model(src)
    meta = {**read_checkpoint(resolve_weights(src))[1], "storage_dtype": dtype}
    if flip_ensemble is not None:
        meta[INFERENCE_KEY] = json.dumps({**model.relight_inference, "flip_ensemble": flip_ensemble})
    path = save_checkpoint(model, out, dtype=dtypes[dtype], metadata=meta)
    flip = ", flip ensemble by default" if flip_ensemble else ""
    console.print(f"wrote {escape(str(path))} ({path.stat().st_size / 2**20:.1f} MiB, {dtype}{flip})")


@app.command()
@user_errors
def average(
    checkpoints: Annotated[list[str], typer.Argument(help="Checkpoints of one model (files or hf://), two or more.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .safetensors file.")],
) -> None:
    """Average checkpoints of one run into one (SWA's uniform mean: steadier than any single checkpoint)."""
    import json

    from .checkpoint import average_checkpoints, save_checkpoint

    model = average_checkpoints(checkpoints)
    names = json.dumps([Path(c).name for c in checkpoints])
    path = save_checkpoint(model, output, metadata={"averaged_from": names})
    console.print(f"wrote {escape(str(path))}: the mean of {len(checkpoints)} {model.relight_info.name} checkpoints")


@app.command("models")
@user_errors
def models_cmd(
    pattern: Annotated[str, typer.Argument(help="Shell-style filter, e.g. 's3net*'.")] = "*",
) -> None:
    """List the registered models."""
    from .models import list_models, model_info
    from .models.summary import count_flops, count_parameters

    table = Table(title="relightcli models", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("params (M)", justify="right")
    table.add_column("GFLOP@1024²", justify="right")
    table.add_column("multiple", justify="right")
    table.add_column("fp16/bf16", justify="center")
    table.add_column("outputs")
    table.add_column("description", ratio=1)
    names = list_models(pattern)
    if not names:
        raise RelightError(f"no model matches {pattern!r}")
    for name in names:
        info = model_info(name)
        table.add_row(
            name,
            f"{count_parameters(name) / 1e6:.2f}",
            f"{count_flops(name) / 1e9:,.0f}",
            str(info.size_multiple),
            f"{'yes' if info.fp16_safe else 'no'}/{'yes' if info.bf16_safe else 'no'}",
            "list" if info.multi_output else "image",
            info.description,
        )
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
