"""``relight train``: training on VIDIT-format data, with a progress display."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .options import (
    DeviceOpt,
)
from .progress import counting_progress

T = TypeVar("T")


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
    data: Annotated[
        list[Path],
        typer.Option(
            "--data",
            help="Flat VIDIT training folder, or a root with train/ (+ val/); repeat to pool several (each split "
            "into training and validation scenes by --val-split; see --data-weights).",
        ),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Registry model to train.")] = "s3net",
    model_args: Annotated[
        str, typer.Option("--model-args", help='JSON constructor options, e.g. \'{"encoder": "res2net50d"}\'.')
    ] = "{}",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default runs/MODEL).")] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Total epochs (default 100, as S3Net; light estimators 12).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", "-b", help="Per process (default 3; light estimators 64).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Initial learning rate (default 1e-4; light estimators 1e-3).")
    ] = None,
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
    fresh_lr_scale: Annotated[
        float,
        typer.Option(
            "--fresh-lr-scale",
            help="With --init into a wider model: the weights the checkpoint lacks (added modules, starting at the "
            "identity) train at this multiple of --lr.",
        ),
    ] = 1.0,
    light_code_noise: Annotated[
        float,
        typer.Option(
            "--light-code-noise",
            help="With --exact-light: mix each told code with a random distribution at a weight drawn from [0, this], "
            "so the model learns what to do with unsure readings (0: exact codes).",
        ),
    ] = 0.0,
    exact_light: Annotated[
        float,
        typer.Option(
            "--exact-light",
            help="For a model told the lights (s3net_lite_lightaware): the share of steps on which it is told the "
            "training labels' lights exactly (as with apply --light); on the others it reads them from the photos.",
        ),
    ] = 0.5,
    batch_scales: Annotated[
        str,
        typer.Option(
            "--batch-scales",
            help="Multi-scale training: resize each batch by a factor drawn from this list, e.g. 0.5,1 "
            "(area averaging; factors in (0, 1]).",
        ),
    ] = "",
    look_augment: Annotated[
        float,
        typer.Option(
            "--look-augment",
            help="Share of pairs shown through another camera response (exposure +-1 stop, contrast, gamma; the "
            "same curve on source, guide and target, so the pair stays true), so the model is not tied to its "
            "renderer's tone; 0 turns it off. For a light estimator: the share of images given a contrast and "
            "gamma (on top of its own exposure augmentation).",
        ),
    ] = 0.0,
    look_filmic: Annotated[
        float,
        typer.Option(
            "--look-filmic",
            help="Light estimator only: share of the --look-augment responses that are a filmic S-curve in linear "
            "light (a Naka-Rushton sigmoid, mid-grey kept) instead of a contrast and gamma.",
        ),
    ] = 0.0,
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
    epoch_size: Annotated[
        int | None,
        typer.Option(
            "--epoch-size",
            help="Light estimators: images per epoch, drawn equally from every --data folder (default: all, once).",
        ),
    ] = None,
    data_weights: Annotated[
        str,
        typer.Option(
            "--data-weights",
            help="Relighters with several --data: how many times each folder's scenes count per epoch, e.g. 2,1,1 "
            "(whole numbers; default 1 each).",
        ),
    ] = "",
    device: DeviceOpt = "auto",
) -> None:
    """Train a registry model on VIDIT-format data (any-to-any pairs); resumable, torchrun-ready. A light
    estimator (--model light_net) learns each image's setting from its name instead."""
    import json

    from ..models import model_info
    from ..training import TrainConfig
    from ..training import train as run_training

    try:
        args = json.loads(model_args)
        milestones = tuple(int(m) for m in lr_milestones.split(",") if m.strip())
        scales = tuple(float(s) for s in batch_scales.split(",") if s.strip())
        weights = tuple(int(w) for w in data_weights.split(",") if w.strip())
    except (json.JSONDecodeError, ValueError) as exc:
        raise RelightError(f"--model-args / --lr-milestones / --batch-scales / --data-weights: {exc}") from None
    if not isinstance(args, dict):
        raise RelightError("--model-args must be a JSON object")
    if model_info(model).task == "light":
        if weights:
            raise RelightError("--data-weights is for relighters; a light estimator weighs its folders alike")
        light = (_given(epochs, 12), _given(batch_size, 64), _given(lr, 1e-3))
        _train_light(
            data,
            model,
            args,
            out,
            *light,
            weight_decay,
            val_split,
            seed,
            resume,
            max_steps,
            epoch_size,
            init,
            look_augment,
            look_filmic,
            device,
        )
        return
    if look_filmic:
        raise RelightError("--look-filmic is for a light estimator (--model light_net), not for relighters")
    epochs, batch_size, lr = _given(epochs, 100), _given(batch_size, 3), _given(lr, 1e-4)
    cfg = TrainConfig(
        data=data[0] if len(data) == 1 else tuple(data),
        data_weights=weights,
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
        exact_light=exact_light,
        light_code_noise=light_code_noise,
        fresh_lr_scale=fresh_lr_scale,
        batch_scales=scales,
        look_augment=look_augment,
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


def _given(value: T | None, default: T) -> T:
    """The option as given (0 included), else the task's default."""
    return default if value is None else value


def _train_light(
    data: list[Path],
    model: str,
    args: dict[str, Any],
    out: Path | None,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    val_split: float,
    seed: int,
    resume: bool,
    max_steps: int | None,
    epoch_size: int | None,
    init: str | None,
    look_augment: float,
    look_filmic: float,
    device: str,
) -> None:
    """``relight train --model light_net``: the light estimator's classification training (`relightcli.light`)."""
    from ..light.training import LightTrainConfig, train_light

    cfg = LightTrainConfig(
        data=data,
        out=out or Path("runs") / model,
        model=model,
        model_args=args,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        val_split=val_split,
        seed=seed,
        resume=resume,
        max_steps=max_steps,
        epoch_size=epoch_size,
        init=init,
        look_augment=look_augment,
        look_filmic=look_filmic,
        device=device,
    )
    with counting_progress("training") as progress:
        result = train_light(cfg, on_message=lambda m: err_console.print(escape(m)), on_step=progress)
    console.print(
        f"done: {result.steps} steps, best validation accuracy (direction and temperature, mean) "
        f"{result.best_accuracy:.1%}; weights in {escape(str(result.run_dir))}/best.safetensors"
    )
