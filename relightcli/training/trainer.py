"""The training loop behind ``relight train``: any registry model on any-to-any VIDIT pairs.

Every epoch: train on the epoch's pairs, step the learning-rate schedule, validate (PSNR/SSIM) on held-out
scenes or a pair-layout ``val/``, save ``last.safetensors`` (and ``best.safetensors`` when validation PSNR
improves), then commit ``train_state.pt`` (the single resume point) and rewrite ``metrics.csv``,
``curves.png`` and ``samples.png``. Under torchrun the model runs in DistributedDataParallel with a
DistributedSampler; rank 0 alone writes files and reports. Ctrl-C and SIGTERM (a scheduler's preemption notice)
commit the state before stopping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, SequentialSampler, Subset

from ..atomic import atomic_write_bytes
from ..checkpoint import (
    MODEL_ARGS_KEY,
    MODEL_KEY,
    load_state_dict_strict,
    read_checkpoint,
    require_same_args,
    resolve_weights,
    save_checkpoint,
    stored_model_args,
)
from ..data import AnyToAnyDataset, PairDataset, pool_folders, scan_flat, scan_pairs, split_scenes
from ..errors import RelightError
from ..hardware import cpu_capabilities
from ..inference.engine import cpu_bf16_note, cpu_has_native_bf16, forward_padded, resolve_device
from ..losses import RelightLoss
from ..metrics import psnr, ssim
from ..models import ModelInfo, create_model, lightcode
from ..models._registry import factory_defaults
from ..models.lightcode import settings_code
from ..models.s3net import WIDENS, widen_input
from . import distributed
from .augment import check_scales, draw_scale, rescale_batch, tone_batch
from .config import RUN_DEFINING, TrainConfig
from .light_reader import LightReader
from .report import plot_curves, samples_sheet, write_metrics_csv
from .state import STATE_FILE, load_state, rng_state, save_state, set_rng_state


class Reporter(Protocol):
    """Progress callbacks (the CLI draws them with rich); only rank 0 gets a real one."""

    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None: ...
    def step(self, done: int, terms: dict[str, float], images_per_s: float) -> None: ...
    def epoch_end(self, row: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...


class NullReporter:
    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        pass

    def step(self, done: int, terms: dict[str, float], images_per_s: float) -> None:
        pass

    def epoch_end(self, row: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    steps: int
    best_psnr: float
    interrupted: bool = False
    stop_signal: int = signal.SIGINT
    """The signal that interrupted the run (SIGINT for Ctrl-C, SIGTERM)."""
    history: list[dict[str, Any]] = field(default_factory=list)


class _SkipBatches:
    """A batch sampler that drops its first ``skip`` batches (resuming in the middle of an epoch)."""

    def __init__(self, batches: BatchSampler, skip: int) -> None:
        self.batches, self.skip = batches, skip

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batches), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.batches) - self.skip, 0)


def collate_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch of dataset items: tensors stacked, metadata as lists."""
    return {
        k: torch.stack([it[k] for it in items]) if isinstance(items[0][k], torch.Tensor) else [it[k] for it in items]
        for k in items[0]
    }


def build_datasets(cfg: TrainConfig) -> tuple[AnyToAnyDataset, Dataset | None, str]:
    """Training pairs and validation items for ``cfg.data`` (a flat folder, or a root with train/ and val/; or
    several, pooled)."""
    common = dict(size=cfg.size, cache_dir=cfg.cache_dir)
    if len(cfg.folders) > 1 or cfg.data_weights:
        return _pooled_datasets(cfg, common)
    root = cfg.folders[0]
    if (root / "train").is_dir():
        index = scan_flat(root / "train")
        if (root / "val").is_dir():
            pairs = scan_pairs(root / "val")
            if not pairs.has_target:
                raise RelightError(f"{root / 'val'}: has no target/ folder, so it cannot validate")
            train = AnyToAnyDataset(
                index, seed=cfg.seed, same_scene_guides=cfg.same_scene_guides, hflip=cfg.hflip, **common
            )
            val: Dataset | None = PairDataset(pairs, **common)
            desc = f"{len(index.scenes)} training scenes, {len(pairs.pairs)} validation pairs from {root / 'val'}"
            return train, _limit(val, cfg.val_max), desc
    else:
        index = scan_flat(root)
    train_scenes, val_scenes = split_scenes(index.scenes, cfg.val_split, seed=cfg.seed)
    train = AnyToAnyDataset(
        index, train_scenes, seed=cfg.seed, same_scene_guides=cfg.same_scene_guides, hflip=cfg.hflip, **common
    )
    # a single held-out scene cannot guide itself from another scene: validate with same-scene guides then
    val = (
        AnyToAnyDataset(index, val_scenes, seed=cfg.seed + 1, same_scene_guides=len(val_scenes) < 2, **common)
        if val_scenes
        else None
    )
    desc = f"{len(train_scenes)} training scenes, {len(val_scenes)} held-out validation scenes"
    return train, _limit(val, cfg.val_max), desc


def _pooled_datasets(cfg: TrainConfig, common: dict[str, Any]) -> tuple[AnyToAnyDataset, Dataset | None, str]:
    """Several folders as one: scenes split into training and validation within each folder (a root's val/ pair
    folder is not used), training inputs weighted by ``cfg.data_weights``, validation scenes unweighted."""
    flats = [root / "train" if (root / "train").is_dir() else root for root in cfg.folders]
    index = pool_folders([scan_flat(f) for f in flats], cfg.data_weights)
    train_scenes, val_scenes = [], []
    for k in range(len(flats)):
        tr, va = split_scenes(index.folder_scenes(k), cfg.val_split, seed=cfg.seed)
        train_scenes += tr
        val_scenes += va
    repeats = [index.weight(s) for s in train_scenes]
    train = AnyToAnyDataset(
        index,
        train_scenes,
        seed=cfg.seed,
        same_scene_guides=cfg.same_scene_guides,
        hflip=cfg.hflip,
        repeats=repeats,
        **common,
    )
    val = (
        AnyToAnyDataset(index, val_scenes, seed=cfg.seed + 1, same_scene_guides=len(val_scenes) < 2, **common)
        if val_scenes
        else None
    )
    counts = ", ".join(
        f"{f} x{w}: {len(index.folder_scenes(k))}" for k, (f, w) in enumerate(zip(flats, index.weights, strict=True))
    )
    desc = f"{len(train_scenes)} training scenes, {len(val_scenes)} held-out validation scenes (scenes: {counts})"
    return train, _limit(val, cfg.val_max), desc


EXACT_LIGHT_SMOOTHING = 0.05
"""Label smoothing of the exact light codes a model told the lights is trained on (it must not trust them blindly:
at use, a guide's light is read, and readings err)."""


def told_lights(
    info: ModelInfo, batch: dict[str, Any], cfg: TrainConfig, step: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """The light codes a model told the lights (`ModelInfo.told_light`) gets for this step: with probability
    ``cfg.exact_light`` (drawn from the seed and the step, so a resumed run draws the same) the training labels'
    codes, as ``relight apply --light`` tells them; otherwise none, and the model reads the lights from the photos
    as it does for a guide photo. Nothing for other models, or for data without settings."""
    if not info.told_light or "source_setting" not in batch:
        return {}
    if random.Random(cfg.seed * 1_000_033 + step).random() >= cfg.exact_light:
        return {}
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_037 + step)
    codes = {}
    for key, settings in (("source_light", batch["source_setting"]), ("target_light", batch["target_setting"])):
        code = settings_code(settings, EXACT_LIGHT_SMOOTHING)
        if cfg.light_code_noise:
            code = soften_codes(code, cfg.light_code_noise, gen)
        codes[key] = code.to(device)
    return codes


def soften_codes(code: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Codes made as unsure as readings of unseen photos are: each image's direction and temperature parts mixed
    with a random distribution (softmax of Gaussian logits, sd 1.5) at a weight drawn uniformly from [0, ``amount``].
    A model trained on them meets same-direction pairs whose same-direction probability is anywhere in [0, 1], as
    readings give, not only the near-certain values of exact codes (`relight train --light-code-noise`)."""
    out = []
    for part in (code[:, : lightcode.N_DIRECTIONS], code[:, lightcode.N_DIRECTIONS :]):
        weight = amount * torch.rand(part.shape[0], 1, generator=gen)
        noise = torch.softmax(1.5 * torch.randn(part.shape, generator=gen), dim=1)
        out.append((1.0 - weight) * part + weight * noise)
    return torch.cat(out, dim=1)


def _limit(ds: Dataset | None, n: int | None) -> Dataset | None:
    return ds if ds is None or n is None else Subset(ds, range(min(n, len(ds))))


def _set_train_mode(model: nn.Module, freeze_bn: bool) -> None:
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.eval()


@torch.inference_mode()
def validate(
    model: nn.Module, ds: Dataset, device: torch.device, multiple: int, n_samples: int
) -> tuple[float, float, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """Mean PSNR and SSIM over ``ds`` (fp32, full images, padded to the model's multiple), plus sample rows."""
    model.eval()
    p_sum = s_sum = 0.0
    samples = []
    for i in range(len(ds)):
        item = ds[i]
        x, y = item["input"][None], item["target"][None]
        out = forward_padded(model, x.to(device), multiple).cpu()
        p_sum += float(psnr(out, y).clamp(max=100.0)[0])
        s_sum += float(ssim(out, y)[0])
        if i < n_samples:
            samples.append((x[0], out[0], y[0]))
    n = max(len(ds), 1)
    return p_sum / n, s_sum / n, samples


def _fresh_parameters(model: nn.Module, cfg: TrainConfig) -> set[str]:
    """Names of ``model``'s trainable parameters that the ``--init`` checkpoint lacks (modules a wider model adds,
    built to start at the identity): they get ``cfg.fresh_lr_scale`` times the learning rate."""
    if cfg.init is None or cfg.fresh_lr_scale == 1.0:
        return set()
    state, _ = read_checkpoint(resolve_weights(cfg.init))
    return {n for n, p in model.named_parameters() if p.requires_grad and n not in state}


def _init_from(model: nn.Module, cfg: TrainConfig, requested: dict[str, Any]) -> None:
    """Fine-tuning: copy a checkpoint's weights (file or hf://) into the freshly built ``model``."""
    state, meta = read_checkpoint(resolve_weights(cfg.init))
    stored = meta.get(MODEL_KEY)
    if stored is not None and stored != cfg.model:
        if WIDENS.get(cfg.model) != stored:
            raise RelightError(
                f"--init {cfg.init}: holds model {stored!r}, not the --model {cfg.model!r} being trained"
            )
        # the same network with more input channels: start exactly where the checkpoint was
        state = widen_input(state, model.state_dict())
    require_same_args(meta, cfg.model, requested, f"--init {cfg.init}", free=WEIGHT_FREE_ARGS)
    load_state_dict_strict(model, state, f"--init {cfg.init}")


WEIGHT_FREE_ARGS = ("reading_sharpness", "gate_sharpness")
"""Model options that only scale readings at inference: ``--model-args`` may set them apart from ``--init``'s."""


def _args_with_init(cfg: TrainConfig) -> dict[str, Any]:
    """``--model-args`` completed with the options the ``--init`` checkpoint records and they leave out (those the
    model being trained takes): fine-tuning a checkpoint continues the model it holds, as it was built."""
    _, meta = read_checkpoint(resolve_weights(cfg.init), tensors=False)
    if MODEL_ARGS_KEY not in meta:
        return dict(cfg.model_args)
    accepted = factory_defaults(cfg.model)
    stored = stored_model_args(meta, f"--init {cfg.init}")
    return {**{k: v for k, v in stored.items() if k in accepted}, **cfg.model_args}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the training state is committed before the run stops."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` while training (main thread only: signal handlers live there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train(cfg: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue training) a registry model; see the module docstring."""
    device = resolve_device(cfg.device)
    reporter = reporter or NullReporter()
    if cfg.amp and device.type == "cpu" and not cpu_has_native_bf16():
        note = cpu_bf16_note() or ""
        if not cpu_capabilities().bf16_ok():
            raise RelightError(f"--amp (bf16 autocast on the CPU): {note.split(': ', 1)[-1]}; drop --amp")
        reporter.message(f"note: --amp: {note}")
    dist_info = distributed.setup(device.type)
    try:
        with _sigterm_interrupts():
            return _train(cfg, device, dist_info, reporter)
    finally:
        distributed.teardown(dist_info)


def _train(cfg: TrainConfig, device: torch.device, dist_info: distributed.DistInfo, reporter: Reporter) -> TrainResult:
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    if not dist_info.is_main:
        reporter = NullReporter()
    run = cfg.run_dir
    state: dict[str, Any] | None = None
    if cfg.resume:
        state = load_state(run / STATE_FILE)
        saved = TrainConfig.from_json(state["config"])
        cfg = dataclasses.replace(cfg, **{k: getattr(saved, k) for k in RUN_DEFINING})
    elif (run / STATE_FILE).exists():
        raise RelightError(f"{run}: already holds a training run; continue it with --resume or choose another --out")
    for name, value in (("--epochs", cfg.epochs), ("--batch-size", cfg.batch_size)):
        if value < 1:
            raise RelightError(f"{name} must be at least 1, got {value}")
    if cfg.fresh_lr_scale <= 0:
        raise RelightError(f"--fresh-lr-scale is a factor of the learning rate, > 0; got {cfg.fresh_lr_scale}")
    if not 0.0 <= cfg.light_code_noise <= 1.0:
        raise RelightError(f"--light-code-noise is a mixing weight, in [0, 1]; got {cfg.light_code_noise}")
    if not 0.0 <= cfg.exact_light <= 1.0:
        raise RelightError(f"--exact-light is a share of the steps, in [0, 1]; got {cfg.exact_light}")
    if not 0.0 <= cfg.look_augment <= 1.0:
        raise RelightError(f"--look-augment is a share of the pairs, in [0, 1]; got {cfg.look_augment}")
    if cfg.aux_light < 0:
        raise RelightError(f"--aux-light is a loss weight, >= 0; got {cfg.aux_light}")
    check_scales(cfg.batch_scales)
    if not 0.0 <= cfg.ema < 1.0:
        raise RelightError(f"--ema is a decay in [0, 1) (0: off), e.g. 0.999; got {cfg.ema}")
    if cfg.init is not None and cfg.pretrained_backbone:
        raise RelightError("--init and --pretrained-backbone both choose the starting weights; pass one of them")
    criterion = RelightLoss(cfg.loss, cfg.vgg_weights).to(device)  # fails fast on unknown terms or missing VGG
    train_ds, val_ds, desc = build_datasets(cfg)
    per_step = cfg.batch_size * dist_info.world_size
    if len(train_ds) < per_step:
        raise RelightError(
            f"{', '.join(map(str, cfg.folders))}: {len(train_ds)} training pairs, fewer than one batch of {per_step}"
        )

    _seed_everything(cfg.seed)
    init = {"pretrained_backbone": True} if cfg.pretrained_backbone and state is None else {}
    requested = _args_with_init(cfg) if state is None and cfg.init is not None else dict(cfg.model_args)
    model = create_model(cfg.model, **init, **requested)
    info = model.relight_info
    if state is not None:
        load_state_dict_strict(model, state["model"], str(run / STATE_FILE))
    elif cfg.init is not None:
        _init_from(model, cfg, requested)
        reporter.message(f"starting from the weights in {cfg.init} (fresh optimizer and schedule)")
    # every option as built (one the model settled itself too), so that --resume rebuilds exactly this model
    cfg = dataclasses.replace(cfg, model_args=dict(model.relight_args))
    model.to(device)
    if dist_info.enabled and device.type == "cuda" and not cfg.freeze_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif dist_info.enabled and not cfg.freeze_bn and any(isinstance(m, _BatchNorm) for m in model.modules()):
        reporter.message(
            "note: BatchNorm statistics are per process on CPU (SyncBatchNorm needs CUDA); "
            "--freeze-bn makes N processes match one process exactly"
        )
    # the averaged weights (BasicSR's ``ema_decay``): validated and saved in place of the raw ones, by the main
    # process only (the others never save)
    averaged = cfg.ema and dist_info.is_main
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) if averaged else None
    if ema is not None and state is not None:
        ema.load_state_dict(state["ema"])
    shipped = ema.module if ema is not None else model
    reader = LightReader(model).to(device) if cfg.aux_light else None
    if reader is not None and state is not None:
        reader.classifier.load_state_dict(state["aux"])
    trained: nn.Module = reader if reader is not None else model
    net: nn.Module = (
        DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)
        if dist_info.enabled
        else trained
    )
    fresh = _fresh_parameters(model, cfg)
    groups: list[dict[str, Any]] = [
        {"params": [p for n, p in trained.named_parameters() if n.removeprefix("model.") not in fresh]}
    ]
    if fresh:
        fresh_params = [p for n, p in trained.named_parameters() if n.removeprefix("model.") in fresh]
        groups.append({"params": fresh_params, "lr": cfg.lr * cfg.fresh_lr_scale})
        reporter.message(f"{len(fresh_params)} parameter tensors not in --init train at {cfg.fresh_lr_scale:g}x the lr")
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.lr_milestones), gamma=cfg.lr_gamma)
    use_scaler = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    start_epoch, skip, step = 0, 0, 0
    best = float("-inf")
    history: list[dict[str, Any]] = []
    partial = {"sums": {}, "batches": 0, "images": 0, "seconds": 0.0}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start_epoch, skip, step = state["epoch"], state["batch_in_epoch"], state["step"]
        best, history, partial = state["best_psnr"], state["history"], state["partial"]
        reporter.message(f"resuming {cfg.model} in {run}: epoch {start_epoch + 1}, batch {skip}, step {step}")
    reporter.message(
        f"{cfg.model}: {desc}; {len(train_ds) // per_step} steps of {per_step} per epoch on {device}"
        + (f" x {dist_info.world_size} processes" if dist_info.enabled else "")
    )
    if dist_info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run / "config.json", json.dumps(cfg.to_json(), indent=2).encode())

    def commit(epoch: int, batch_in_epoch: int) -> None:
        if dist_info.is_main:
            save_state(
                run / STATE_FILE,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "rng": rng_state(),
                    "epoch": epoch,
                    "batch_in_epoch": batch_in_epoch,
                    "step": step,
                    "best_psnr": best,
                    "history": history,
                    "partial": partial,
                    "config": cfg.to_json(),
                    **({"aux": reader.classifier.state_dict()} if reader is not None else {}),
                    **({"ema": ema.state_dict()} if ema is not None else {}),
                },
            )

    def save_stopped() -> None:
        """The weights as they are inside an epoch (unvalidated), for use before the run goes on."""
        if dist_info.is_main:
            meta = {"epoch": f"{epoch} + {done} steps", "step": str(step), "loss": cfg.loss}
            save_checkpoint(shipped, run / "last.safetensors", metadata=meta)

    epoch, done = start_epoch, skip
    stop = False
    try:
        for epoch in range(start_epoch, cfg.epochs):
            train_ds.set_epoch(epoch)
            sampler = (
                DistributedSampler(train_ds, dist_info.world_size, dist_info.rank, shuffle=False, drop_last=True)
                if dist_info.enabled
                else SequentialSampler(train_ds)
            )
            batches = BatchSampler(sampler, cfg.batch_size, drop_last=True)
            first = skip if epoch == start_epoch else 0
            if first == 0:
                partial = {"sums": {}, "batches": 0, "images": 0, "seconds": 0.0}
            loader = DataLoader(
                train_ds,
                batch_sampler=_SkipBatches(batches, first),
                num_workers=cfg.workers,
                collate_fn=collate_batch,
                pin_memory=device.type == "cuda",  # page-locked batches copy to the GPU while it computes
            )
            reporter.epoch_start(epoch, cfg.epochs, len(batches), first)
            done = first
            tick = time.perf_counter()
            for batch in loader:
                x = batch["input"].to(device, non_blocking=True)
                y = batch["target"].to(device, non_blocking=True)
                if cfg.batch_scales:
                    factor = draw_scale(cfg.batch_scales, cfg.seed, step)
                    x, y = (rescale_batch(t, factor, info.size_multiple) for t in (x, y))
                x, y = tone_batch(x, y, cfg.look_augment, cfg.seed, step)
                _set_train_mode(net, cfg.freeze_bn)
                told = told_lights(info, batch, cfg, step, device)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=cfg.amp):
                    out = net(x, **told)
                if reader is not None:
                    out, logits = out
                loss, terms = criterion(out, y)
                if reader is not None:
                    ce, light_terms = LightReader.loss(logits, batch)
                    loss = loss + cfg.aux_light * ce
                    terms = {**terms, **light_terms}
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(trained.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                if ema is not None:
                    ema.update_parameters(model)
                step += 1
                done += 1
                now = time.perf_counter()
                partial["seconds"] += now - tick
                tick = now
                partial["batches"] += 1
                partial["images"] += per_step
                logged = distributed.mean_across(dist_info, {"loss": float(loss.detach()), **terms})
                for k, v in logged.items():
                    partial["sums"][k] = partial["sums"].get(k, 0.0) + v
                means = {k: v / partial["batches"] for k, v in partial["sums"].items()}
                reporter.step(done, means, partial["images"] / max(partial["seconds"], 1e-9))
                if cfg.save_every and step % cfg.save_every == 0 and done < len(batches):
                    commit(epoch, done)
                if cfg.max_steps is not None and step >= cfg.max_steps:
                    stop = True
                    break
            if done < len(batches):  # stopped inside the epoch (max_steps): resume exactly here
                commit(epoch, done)
                save_stopped()
                break
            scheduler.step()
            row: dict[str, Any] = {"epoch": epoch + 1, "step": step, "lr": optimizer.param_groups[0]["lr"]}
            row.update({f"train_{k}": v / max(partial["batches"], 1) for k, v in partial["sums"].items()})
            row["images_per_s"] = partial["images"] / max(partial["seconds"], 1e-9)
            distributed.barrier(dist_info)
            if dist_info.is_main:
                _end_of_epoch(cfg, run, shipped, val_ds, device, info.size_multiple, row, best)
                best = max(best, row["val_psnr"]) if val_ds is not None else best
                history.append(row)
                commit(epoch + 1, 0)
                _write_reports(cfg, run, history, criterion)
                reporter.epoch_end(row)
            distributed.barrier(dist_info)
            if stop:
                break
        else:
            epoch = cfg.epochs
    except KeyboardInterrupt as exc:
        commit(epoch, done)
        if done:
            save_stopped()
        by = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        return TrainResult(run, len(history), step, best, interrupted=True, stop_signal=by, history=history)
    return TrainResult(run, len(history), step, best, history=history)


def _end_of_epoch(
    cfg: TrainConfig,
    run: Path,
    model: nn.Module,
    val_ds: Dataset | None,
    device: torch.device,
    multiple: int,
    row: dict[str, Any],
    best: float,
) -> None:
    """Validate, save ``last`` (and ``best``) weights, write ``samples.png``; fills the row's val_* fields."""
    meta = {"epoch": str(row["epoch"]), "step": str(row["step"]), "loss": cfg.loss}
    if val_ds is not None and len(val_ds):
        row["val_psnr"], row["val_ssim"], samples = validate(model, val_ds, device, multiple, cfg.samples)
        meta.update(val_psnr=f"{row['val_psnr']:.4f}", val_ssim=f"{row['val_ssim']:.4f}")
        if samples:
            samples_sheet(run / "samples.png", samples)
    else:
        row["val_psnr"] = row["val_ssim"] = float("nan")
    save_checkpoint(model, run / "last.safetensors", metadata=meta)
    if val_ds is not None and row["val_psnr"] > best:
        save_checkpoint(model, run / "best.safetensors", metadata=meta)


def _write_reports(cfg: TrainConfig, run: Path, history: list[dict[str, Any]], criterion: RelightLoss) -> None:
    write_metrics_csv(run / "metrics.csv", history)
    if all(row["val_psnr"] == row["val_psnr"] for row in history):  # NaN-free: there is a validation set
        plot_curves(run / "curves.png", history, list(criterion.weights))
