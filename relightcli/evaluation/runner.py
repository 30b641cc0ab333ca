"""``relight eval``: the model and the baselines on the same pairs, with the challenge's metrics and a report."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from ..atomic import atomic_write_bytes
from ..data import AnyToAnyDataset, PairDataset, Setting, scan_flat, scan_pairs
from ..data.vidit import LIGHT_CHANGES, light_change
from ..errors import RelightError
from ..inference.engine import Relighter
from ..light.estimator import estimates_from_codes
from ..metrics import LPIPS, mps, psnr, ssim
from .baselines import BASELINES
from .html import TOLD_BY_SETTINGS, error_map, save_thumb, write_report

if TYPE_CHECKING:
    from ..light.estimator import LightEstimator


def eval_dataset(
    data: Path, *, seed: int = 0, limit: int | None = None, only: str | None = None
) -> tuple[Dataset, str]:
    """Pairs with targets: ``DIR`` or ``DIR/val`` in the pair layout, else a flat ``DIR`` (or ``DIR/train``)
    through the any-to-any sampler with a fixed seed. ``only`` keeps the pairs whose light changes that way
    (one of `LIGHT_CHANGES`), before ``limit``."""
    data = Path(data)
    for root in (data, data / "val"):
        if (root / "input").is_dir():
            index = scan_pairs(root)
            if not index.has_target:
                raise RelightError(f"{root}: no target/ folder, so there is nothing to compare with")
            ds: Dataset = PairDataset(index)
            desc = str(root)
            break
    else:
        flat = data / "train" if (data / "train").is_dir() else data
        ds = AnyToAnyDataset(scan_flat(flat), seed=seed)
        desc = f"{flat} (any-to-any pairs, seed {seed})"
    if only is not None:
        ds, desc = _only(ds, only), f"{desc}, pairs whose {'light' if only == 'both' else only} changes"
    if limit is not None:
        ds = Subset(ds, range(min(limit, len(ds))))
    return ds, desc


def _only(ds: Dataset, change: str) -> Dataset:
    if change not in LIGHT_CHANGES:
        raise RelightError(f"unknown light change {change!r}; choose one of {', '.join(LIGHT_CHANGES)}")
    if isinstance(ds, AnyToAnyDataset):
        settings = [(p.source, p.target) for p in ds.pairs]
    else:
        assert isinstance(ds, PairDataset)
        known = ds.index.settings
        if not known:
            raise RelightError(
                f"{ds.index.root}: the pairs' lighting is not recorded (no pairs.csv), so they cannot be chosen by "
                "what changed; drop --only"
            )
        settings = [known.get(p) for p in ds.index.pairs]
    keep = [i for i, ss in enumerate(settings) if ss is not None and light_change(*ss) == change]
    if not keep:
        raise RelightError(f"no pair whose light changes by {change}; drop --only or choose another")
    return Subset(ds, keep)


LIGHT_COLUMNS = ("source_light", "guide_light", "same_direction")
"""Per-pair columns of metrics.csv beside the metrics: the lights (setting, then the direction and temperature
confidences) that ``light_reader`` reads, or without one those a light-aware model was told or read itself; and for a
light-aware model the weight of its colour-only path (`Relighter.same_direction`)."""


@dataclass
class EvalResult:
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    report: Path


def evaluate(
    relighter: Relighter,
    data: str | Path,
    out: str | Path,
    *,
    lpips: LPIPS | None = None,
    lpips_note: str = "",
    seed: int = 0,
    limit: int | None = None,
    only: str | None = None,
    thumb: int = 160,
    progress: Callable[[int, int], None] | None = None,
    light_reader: LightEstimator | None = None,
    tell_lights: bool = False,
) -> EvalResult:
    """Evaluate ``relighter`` and the baselines on every pair; write metrics.csv, summary.json, index.html.
    With ``light_reader`` the light it reads in each pair's source and guide is recorded beside the metrics
    (``source_light``, ``guide_light``: setting, then the direction and temperature confidences); without one, a
    light-aware model's own lights are, with ``same_direction`` (`LIGHT_COLUMNS`). With
    ``tell_lights`` a model told the lights (`Relighter.told_light`) is told each pair's recorded settings
    exactly, as ``relight apply --light --source-light`` does, instead of reading them from the photos."""
    if tell_lights and not relighter.told_light:
        raise RelightError(f"--tell-lights: {relighter.info.name} is not told the lights (s3net_lite_lightaware is)")
    ds, desc = eval_dataset(Path(data), seed=seed, limit=limit, only=only)
    out = Path(out)
    metrics = ["psnr", "ssim"] + (["lpips", "mps"] if lpips is not None else [])
    rows: list[dict[str, Any]] = []
    for i in range(len(ds)):
        item = ds[i]
        x, target = item["input"], item["target"]
        src = x[:3].permute(1, 2, 0).numpy()
        guide = x[3:6].permute(1, 2, 0).numpy()
        settings: dict[str, Setting] = {}
        if tell_lights and "source_setting" in item:
            settings = {
                "source_setting": Setting.parse(item["source_setting"]),
                "target_setting": Setting.parse(item["target_setting"]),
            }
        elif tell_lights:
            raise RelightError(f"{data}: --tell-lights needs the pairs' settings (pairs.csv or a flat VIDIT folder)")
        # as relight apply runs it: at the relighter's working size (or in its tiles), lights told or read once
        relit = relighter.relight(src, x[6].numpy(), guide, x[7].numpy(), **settings)
        told = relighter.last_lights  # a light-aware model: the codes it was told or read
        outputs = {"model": torch.from_numpy(np.ascontiguousarray(relit.transpose(2, 0, 1)))}
        for method, fn in BASELINES.items():
            outputs[method] = torch.from_numpy(np.ascontiguousarray(fn(src, guide).transpose(2, 0, 1)))
        values: dict[str, dict[str, float]] = {}
        y = target[None]
        for method, o in outputs.items():
            o = o[None].float()
            v = {"psnr": float(psnr(o, y)[0]), "ssim": float(ssim(o, y)[0])}
            if lpips is not None:
                with torch.inference_mode():
                    v["lpips"] = float(lpips(o, y)[0])
                v["mps"] = float(mps(v["ssim"], v["lpips"]))
            values[method] = v
        name = str(item["name"])
        out_rgb = outputs["model"].permute(1, 2, 0).numpy()
        tgt_rgb = target.permute(1, 2, 0).numpy()
        for key, img in (
            ("input", src),
            ("guide", guide),
            ("output", out_rgb),
            ("target", tgt_rgb),
            ("error", error_map(out_rgb, tgt_rgb)),
        ):
            save_thumb(out / "thumbs" / f"{name}_{key}.png", img, thumb)
        change = None
        if "source_setting" in item and "target_setting" in item:
            change = light_change(Setting.parse(item["source_setting"]), Setting.parse(item["target_setting"]))
        lights = {"same_direction": f"{float(relighter.same_direction(told)[0]):.2f}"} if told is not None else {}
        if light_reader is not None:  # a light estimator named for the columns
            read = light_reader.many([src, guide])
        elif told is not None:  # else what a light-aware model was told or read itself
            read = estimates_from_codes(torch.cat([told["source_light"], told["target_light"]]))
        else:
            read = []
        if read:
            for key, e in zip(("source_light", "guide_light"), read, strict=True):
                lights[key] = f"{e.setting.preset} ({e.direction_confidence:.2f}/{e.temperature_confidence:.2f})"
        rows.append({"name": name, "change": change, "methods": values, **lights})
        if progress:
            progress(i + 1, len(ds))
    if not rows:
        raise RelightError(f"{data}: no pairs to evaluate")
    methods = _means(rows, metrics)
    by_change = {
        change: {"pairs": len(group), "methods": _means(group, metrics)}
        for change in LIGHT_CHANGES
        if (group := [r for r in rows if r["change"] == change])
    }
    summary = {
        "model": relighter.info.name,
        "weights": getattr(relighter.model, "relight_weights", "(in memory)"),
        "data": desc,
        "pairs": len(rows),
        "device": str(relighter.device),
        "precision": relighter.precision,
        "flip_ensemble": relighter.flip_ensemble,
        "max_side": relighter.default_max_side if relighter.max_side is None else relighter.max_side,
        "metrics": metrics,
        "lpips": lpips_note or ("LPIPS: AlexNet v0.1." if lpips is not None else "LPIPS unavailable."),
        "methods": methods,
        "light_reader": (
            getattr(light_reader, "weights", None)
            if light_reader is not None or not relighter.told_light
            else TOLD_BY_SETTINGS
            if tell_lights
            else "the model's own"
        ),
        "told_lights": tell_lights,
        "model_wins": sum(r["methods"]["model"]["psnr"] > r["methods"]["identity"]["psnr"] for r in rows),
        "by_change": by_change,
        "by_change_note": (
            "pairs grouped by what differs between source and guide lighting"
            if by_change
            else "the pairs' lighting settings are not recorded (no pairs.csv), so there is no breakdown"
        ),
    }
    buf = io.StringIO()
    writer = csv.writer(buf)
    light_columns = [c for c in LIGHT_COLUMNS if any(c in r for r in rows)]
    writer.writerow(["pair", "change", "method", *metrics, *light_columns])
    for r in rows:
        for method, v in r["methods"].items():
            cells = [r["name"], r["change"] or "", method, *(f"{v[m]:.6f}" for m in metrics)]
            writer.writerow(cells + [r[c] for c in light_columns])
    atomic_write_bytes(out / "metrics.csv", buf.getvalue().encode())
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    report = write_report(out, summary, rows)
    return EvalResult(summary, rows, report)


def _means(rows: list[dict[str, Any]], metrics: list[str]) -> dict[str, dict[str, float]]:
    """Per method, the mean of each metric over ``rows``."""
    return {
        method: {m: _mean([r["methods"][method][m] for r in rows]) for m in metrics} for method in ["model", *BASELINES]
    }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")
