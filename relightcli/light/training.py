"""Training the light estimator from scratch on VIDIT-format folders: ``relight train --model light_net``.

Every image of a flat folder is one example, labelled by the setting in its name (``Image012_3500_NW.png``:
direction NW, 3500 K); several folders (several renderers) are pooled. Scenes, not images, are split into
training and validation, so no scene is seen on both sides. Images are decoded once and held in memory at
``cache_size`` (uint8); every step draws label-keeping augmentations (`relightcli.light.augment`). Loss:
cross-entropy on direction and on temperature, with label smoothing. AdamW, linear warm-up then cosine decay.

A run folder holds ``last.safetensors`` and ``best.safetensors`` (best mean validation accuracy of direction
and temperature), ``metrics.csv`` (one row per epoch) and ``train_state.pt`` (weights, optimizer and counters,
written atomically every epoch and read back with ``weights_only=True``), so ``--resume`` continues a stopped
run at its last epoch.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_path
from ..data.sampling import split_scenes
from ..data.vidit import DIRECTIONS, SETTINGS, TEMPERATURES, FlatIndex, scan_flat
from ..errors import RelightError
from ..models.lightnet import N_DIRECTIONS
from ..training.state import STATE_FILE, load_state, save_state
from .augment import augment


@dataclass
class LightTrainConfig:
    data: Sequence[Path]
    out: Path = Path("runs/light_net")
    model: str = "light_net"
    model_args: dict = field(default_factory=dict)
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.05
    cache_size: int | None = None
    """Side at which images are cached (uint8) before the crop-and-scale augmentation; default: 224, or the
    model's input size when that is larger, so that crops are not upsampled more than they must be."""
    val_split: float = 0.1
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    max_steps: int | None = None
    threads: int | None = None
    epoch_size: int | None = None
    """Images per epoch, drawn equally from every --data folder (with replacement from a smaller one), so each
    renderer weighs the same however many scenes it has; default: all training images once, as they are."""
    init: str | None = None
    """Start from these estimator weights (a file or hf://) instead of random ones: fine-tuning on new data."""
    look_augment: float = 0.0
    """Share of training views seen through another camera response (`relightcli.light.augment.augment`)."""
    look_filmic: float = 0.0
    """Share of those responses that are a filmic S-curve (`relightcli.light.augment.filmic`) instead of a
    contrast and gamma."""


@dataclass
class LabelledImages:
    """Images (uint8 ``(N, S, S, 3)``) with their direction and temperature class indices and scene names."""

    images: np.ndarray
    direction: np.ndarray
    temperature: np.ndarray
    scenes: list[str]
    folder: np.ndarray

    def __len__(self) -> int:
        return len(self.direction)


def _flat_folder(path: Path) -> Path:
    path = Path(path)
    return path / "train" if (path / "train").is_dir() and not any(path.glob("Image*.png")) else path


def load_labelled(index: FlatIndex, scenes: Sequence[str], side: int, folder: int = 0) -> LabelledImages:
    """Every setting's image of ``scenes`` at ``side`` x ``side`` (area-resized once), with its labels."""
    from ..io import read_image

    n = len(scenes) * len(SETTINGS)
    images = np.empty((n, side, side, 3), np.uint8)
    direction, temperature = np.empty(n, np.int64), np.empty(n, np.int64)
    names = []
    k = 0
    for scene in scenes:
        for s in SETTINGS:
            rgb = read_image(index.image(scene, s)).rgb
            interp = cv2.INTER_AREA if rgb.shape[0] > side else cv2.INTER_LINEAR
            images[k] = (np.clip(cv2.resize(rgb, (side, side), interpolation=interp), 0, 1) * 255 + 0.5).astype(
                np.uint8
            )
            direction[k], temperature[k] = DIRECTIONS.index(s.direction), TEMPERATURES.index(s.temperature)
            names.append(f"{folder}:{scene}")
            k += 1
    return LabelledImages(images, direction, temperature, names, np.full(n, folder, np.int64))


def _concat(parts: list[LabelledImages]) -> LabelledImages:
    return LabelledImages(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.direction for p in parts]),
        np.concatenate([p.temperature for p in parts]),
        [s for p in parts for s in p.scenes],
        np.concatenate([p.folder for p in parts]),
    )


def cache_side(cfg: LightTrainConfig, input_size: int) -> int:
    """The side images are cached at: ``cfg.cache_size``, else 224 or the model's input size if larger."""
    return cfg.cache_size if cfg.cache_size is not None else max(224, input_size)


def load_folders(cfg: LightTrainConfig, input_size: int) -> tuple[LabelledImages, LabelledImages]:
    """Training and validation images of every ``cfg.data`` folder, split by scene within each folder, cached
    for a model of working size ``input_size`` (`cache_side`)."""
    train, val = [], []
    side = cache_side(cfg, input_size)
    for i, folder in enumerate(cfg.data):
        index = scan_flat(_flat_folder(folder))
        tr, va = split_scenes(index.scenes, cfg.val_split, seed=cfg.seed)
        train.append(load_labelled(index, tr, side, i))
        if va:
            val.append(load_labelled(index, va, side, i))
    if not val:
        raise RelightError("no validation scenes: raise --val-split or add scenes")
    return _concat(train), _concat(val)


def make_batch(
    data: LabelledImages,
    idx: np.ndarray,
    size: int,
    rng: np.random.Generator | None,
    look: float = 0.0,
    filmic_share: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images (B, 3, size, size), direction labels, temperature labels)``; augmented when ``rng`` is given,
    with a share ``look`` of the views through another camera response."""
    imgs, dirs = [], []
    for i in idx:
        d = int(data.direction[i])
        if rng is not None:
            img, d = augment(data.images[i], d, size, rng, look, filmic_share)
        else:
            img = cv2.resize(data.images[i].astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
        imgs.append(img)
        dirs.append(d)
    x = torch.from_numpy(np.stack(imgs).transpose(0, 3, 1, 2).copy())
    return x, torch.tensor(dirs), torch.from_numpy(data.temperature[idx])


@torch.inference_mode()
def predict(model: torch.nn.Module, data: LabelledImages, size: int, device: torch.device, batch: int = 128):
    """Predicted ``(direction, temperature)`` class indices for every image, un-augmented."""
    model.eval()
    dirs, temps = [], []
    for start in range(0, len(data), batch):
        x, _, _ = make_batch(data, np.arange(start, min(start + batch, len(data))), size, None)
        logits = model(x.to(device)).float().cpu()
        dirs.append(logits[:, :N_DIRECTIONS].argmax(1))
        temps.append(logits[:, N_DIRECTIONS:].argmax(1))
    return torch.cat(dirs).numpy(), torch.cat(temps).numpy()


def epoch_order(data: LabelledImages, epoch_size: int | None, rng: np.random.Generator) -> np.ndarray:
    """The images of one epoch in order: all once (``epoch_size`` None), or ``epoch_size`` drawn equally from
    every folder (without replacement while a folder lasts)."""
    if epoch_size is None:
        return rng.permutation(len(data))
    folders = np.unique(data.folder)
    share = -(-epoch_size // len(folders))
    picks = []
    for f in folders:
        members = np.flatnonzero(data.folder == f)
        reps = -(-share // len(members))
        picks.append(np.concatenate([rng.permutation(members) for _ in range(reps)])[:share])
    return rng.permutation(np.concatenate(picks))[:epoch_size]


def _lr_at(cfg: LightTrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    warm = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


@dataclass
class LightTrainResult:
    run_dir: Path
    steps: int
    best_accuracy: float
    history: list[dict[str, float]]


def train_light(
    cfg: LightTrainConfig, on_message: Callable[[str], None] = print, on_step: Callable[[int, int], None] | None = None
) -> LightTrainResult:
    """Train (or, with ``cfg.resume``, continue) a light estimator; returns where its weights are."""
    from ..checkpoint import save_checkpoint
    from ..inference.engine import resolve_device
    from ..models import create_model, model_info
    from ..models._registry import factory_defaults

    if model_info(cfg.model).task != "light":
        raise RelightError(f"{cfg.model} is not a light estimator (registry task 'light')")
    if not 0.0 <= cfg.look_augment <= 1.0:
        raise RelightError(f"--look-augment is a share of the views, in [0, 1]; got {cfg.look_augment}")
    if not 0.0 <= cfg.look_filmic <= 1.0:
        raise RelightError(f"--look-filmic is a share of the responses, in [0, 1]; got {cfg.look_filmic}")
    if cfg.look_filmic > 0 and cfg.look_augment == 0:
        raise RelightError("--look-filmic shapes the --look-augment responses: give --look-augment too")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    state_path = out / STATE_FILE
    if state_path.exists() and not cfg.resume:
        raise RelightError(f"{out}: holds a run already; --resume to continue it, or another --out")
    torch.manual_seed(cfg.seed)
    args = {**factory_defaults(cfg.model), **cfg.model_args}  # every option recorded: later defaults may change
    model = create_model(cfg.model, **args)
    if cfg.init is not None and not cfg.resume:
        _init_from(model, cfg.init, cfg.model, args)
    model = model.to(device)
    size = model.input_size
    start_time = time.perf_counter()
    train, val = load_folders(cfg, size)
    on_message(
        f"{len(train)} training images ({len(set(train.scenes))} scenes), {len(val)} validation images "
        f"({len(set(val.scenes))} scenes), loaded in {time.perf_counter() - start_time:.0f} s"
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = (cfg.epoch_size or len(train)) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    epoch, step, best, history = 0, 0, -1.0, []
    if cfg.resume:
        state = load_state(state_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, best = int(state["epoch"]), int(state["step"]), float(state["best"])
        history = [dict(row) for row in state["history"]]
        on_message(f"resumed at epoch {epoch}, step {step}")
    out.mkdir(parents=True, exist_ok=True)
    recipe = {k: v for k, v in asdict(cfg).items() if k not in ("out", "resume", "device", "threads")}
    recipe["data"] = [Path(p).name for p in cfg.data]
    if cfg.init is not None:
        recipe["init"] = Path(cfg.init).name
    recipe["model_args"] = args
    recipe["cache_size"] = cache_side(cfg, size)
    meta = {"recipe": json.dumps(recipe, sort_keys=True, default=str)}
    while epoch < cfg.epochs and (cfg.max_steps is None or step < cfg.max_steps):
        model.train()
        order = epoch_order(train, cfg.epoch_size, np.random.default_rng(cfg.seed * 1000 + epoch))
        aug_rng = np.random.default_rng(cfg.seed * 7919 + epoch)
        tick, seen, loss_sum = time.perf_counter(), 0, 0.0
        for b in range(steps_per_epoch):
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break
            batch = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            x, d, t = make_batch(train, batch, size, aug_rng, cfg.look_augment, cfg.look_filmic)
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(cfg, step, total, steps_per_epoch)
            logits = model(x.to(device))
            loss = F.cross_entropy(logits[:, :N_DIRECTIONS], d.to(device), label_smoothing=cfg.label_smoothing)
            loss = loss + F.cross_entropy(logits[:, N_DIRECTIONS:], t.to(device), label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step, seen, loss_sum = step + 1, seen + len(d), loss_sum + float(loss.detach())
            if on_step:
                on_step(b + 1, steps_per_epoch)
        pd, pt = predict(model, val, size, device)
        row = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": loss_sum / max(1, b + 1),
            "val_direction": float((pd == val.direction).mean()),
            "val_temperature": float((pt == val.temperature).mean()),
        }
        for f in range(len(cfg.data)) if len(cfg.data) > 1 else ():
            of = val.folder == f
            row[f"val_direction_{f}"] = float((pd[of] == val.direction[of]).mean())
            row[f"val_temperature_{f}"] = float((pt[of] == val.temperature[of]).mean())
        row["images_per_s"] = seen / (time.perf_counter() - tick)
        history.append(row)
        epoch += 1
        score = (row["val_direction"] + row["val_temperature"]) / 2
        save_checkpoint(model, out / "last.safetensors", metadata={**meta, "epoch": str(epoch)})
        if score > best:
            best = score
            save_checkpoint(model, out / "best.safetensors", metadata={**meta, "epoch": str(epoch)})
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step}
        save_state(state_path, {**state, "best": best, "history": history})
        _write_history(out / "metrics.csv", history)
        on_message(
            f"epoch {epoch}/{cfg.epochs}  loss {row['train_loss']:.4f}  val direction {row['val_direction']:.1%}  "
            f"temperature {row['val_temperature']:.1%}  {row['images_per_s']:.0f} img/s"
        )
    return LightTrainResult(out, step, best, history)


def _init_from(model: torch.nn.Module, init: str, name: str, args: dict) -> None:
    """Copy an estimator checkpoint's weights into ``model``; one of another model or options is refused, except
    the working size and dropout, which change no weight (fine-tuning at another ``input_size``)."""
    from ..checkpoint import MODEL_KEY, load_state_dict_strict, read_checkpoint, require_same_args, resolve_weights

    state, meta = read_checkpoint(resolve_weights(init))
    stored = meta.get(MODEL_KEY)
    if stored is not None and stored != name:
        raise RelightError(f"--init {init}: holds model {stored!r}, not the light estimator {name!r} being trained")
    require_same_args(meta, name, args, f"--init {init}", free=("input_size", "dropout"))
    load_state_dict_strict(model, state, f"--init {init}")


def _write_history(path: Path, history: list[dict[str, float]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
