"""Scoring a light estimator on images whose settings are known: ``relight eval --light``.

Any folder of VIDIT-named images (``Image<scene>_<temperature>_<direction>.png``, flat layout, or a root with
``train/``) is read image by image. Reported for direction and temperature: top-1 accuracy, accuracy within one
step (45 degrees on the compass, which wraps, or one temperature step of 1000 K), and the confusion matrix
(rows: true class, columns: predicted), with ``predictions.csv`` (one row per image), ``summary.json`` and an
HTML report beside them.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..data.vidit import DIRECTIONS, TEMPERATURES
from ..errors import RelightError
from ..io import read_image
from .estimator import LightEstimate, LightEstimator

_NAME = re.compile(r"(?:.*_)?(\d{4})_(N|NE|E|SE|S|SW|W|NW)\.png", re.IGNORECASE)


def labelled_images(folder: str | Path) -> list[tuple[Path, int, int]]:
    """``(path, direction index, temperature index)`` of every image under ``folder`` whose name ends in
    ``_<temperature>_<direction>.png`` (VIDIT's naming), sorted; `RelightError` when there is none."""
    root = Path(folder)
    if not root.is_dir():
        raise RelightError(f"{root}: folder not found")
    if (root / "train").is_dir() and not any(root.glob("*.png")):
        root = root / "train"
    found = []
    for p in sorted(root.rglob("*.png")):
        m = _NAME.fullmatch(p.name)
        if m and int(m[1]) in TEMPERATURES:
            found.append((p, DIRECTIONS.index(m[2].upper()), TEMPERATURES.index(int(m[1]))))
    if not found:
        raise RelightError(
            f"{root}: no images named with their setting (..._<temperature>_<direction>.png, e.g. Image049_4500_E.png)"
        )
    return found


def step_distance(a: np.ndarray, b: np.ndarray, n: int, circular: bool) -> np.ndarray:
    d = np.abs(np.asarray(a) - np.asarray(b))
    return np.minimum(d, n - d) if circular else d


def confusion(true: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(true), np.asarray(pred)), 1)
    return m


@dataclass
class LightScores:
    """Accuracy and confusion of one label (direction or temperature)."""

    labels: list[str]
    top1: float
    within_one: float
    matrix: np.ndarray

    @classmethod
    def of(cls, true: np.ndarray, pred: np.ndarray, labels: list[str], circular: bool) -> LightScores:
        dist = step_distance(true, pred, len(labels), circular)
        return cls(labels, float((dist == 0).mean()), float((dist <= 1).mean()), confusion(true, pred, len(labels)))

    def to_json(self) -> dict[str, object]:
        return {"top1": self.top1, "within_one": self.within_one, "labels": self.labels, "matrix": self.matrix.tolist()}


@dataclass
class LightEvaluation:
    images: int
    direction: LightScores
    temperature: LightScores
    report: Path


def evaluate_light(
    estimator: LightEstimator,
    folder: str | Path,
    out: str | Path,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 16,
) -> LightEvaluation:
    """Read the light of every setting-named image under ``folder``; write the report to ``out``."""
    items = labelled_images(folder)[:limit]
    out = Path(out)
    estimates: list[LightEstimate] = []
    for start in range(0, len(items), batch):
        estimates += estimator.many([read_image(path).rgb for path, _, _ in items[start : start + batch]])
        if progress:
            progress(len(estimates), len(items))
    true_d = np.array([d for _, d, _ in items])
    true_t = np.array([t for _, _, t in items])
    pred_d = np.array([DIRECTIONS.index(e.direction) for e in estimates])
    pred_t = np.array([TEMPERATURES.index(e.temperature_k) for e in estimates])
    direction = LightScores.of(true_d, pred_d, list(DIRECTIONS), circular=True)
    temperature = LightScores.of(true_t, pred_t, [f"{t}K" for t in TEMPERATURES], circular=False)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "predictions.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "path",
                "direction",
                "direction_pred",
                "direction_confidence",
                "azimuth_deg",
                "temperature_k",
                "temperature_pred_k",
                "temperature_confidence",
            ]
        )
        for (path, d, t), e in zip(items, estimates, strict=True):
            w.writerow(
                [
                    path,
                    DIRECTIONS[d],
                    e.direction,
                    f"{e.direction_confidence:.4f}",
                    f"{e.azimuth_deg:.1f}",
                    TEMPERATURES[t],
                    e.temperature_k,
                    f"{e.temperature_confidence:.4f}",
                ]
            )
    summary = {
        "folder": str(folder),
        "weights": estimator.weights,
        "temperature_weights": estimator.temperature_weights,
        "directions": estimator.directions,
        "temperature_crops": estimator.temperature_crops,
        "images": len(items),
        "flip_ensemble": estimator.flip,
        "direction": direction.to_json(),
        "temperature": temperature.to_json(),
    }
    with atomic_path(out / "summary.json") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2))
    report = out / "report.html"
    with atomic_path(report) as tmp:
        Path(tmp).write_text(light_report_html(summary))
    return LightEvaluation(len(items), direction, temperature, report)


def matrix_html(title: str, scores: dict[str, object]) -> str:
    """A confusion matrix as an HTML table, each cell shaded by its share of its row."""
    labels, m = scores["labels"], np.asarray(scores["matrix"])
    head = "".join(f"<th>{html.escape(str(x))}</th>" for x in labels)
    rows = []
    for label, row in zip(labels, m, strict=True):
        total = max(1, int(row.sum()))
        cells = "".join(f'<td style="background: rgba(40, 90, 200, {v / total:.2f})">{v}</td>' for v in row)
        rows.append(f"<tr><th>{html.escape(str(label))}</th>{cells}</tr>")
    return (
        f"<h3>{html.escape(title)}: top-1 {scores['top1']:.1%}, within one step {scores['within_one']:.1%}</h3>"
        f"<table><tr><th>true \\ read</th>{head}</tr>{''.join(rows)}</table>"
    )


def light_report_html(summary: dict[str, object]) -> str:
    style = "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    return (
        f"<!doctype html><meta charset='utf-8'><title>light estimation</title><style>{style}</style>"
        f"<h2>Light read from {summary['images']} images of {html.escape(str(summary['folder']))}</h2>"
        f"<p>weights: {html.escape(str(summary['weights']))}"
        + (f" (temperature: {html.escape(str(t))})" if (t := summary.get("temperature_weights")) else "")
        + (f"; direction read by {summary['directions']}" if summary.get("temperature_weights") else "")
        + f"; flip ensemble: {summary['flip_ensemble']}"
        + ("; temperature read with the corner crops" if summary.get("temperature_crops") else "")
        + "</p>"
        + matrix_html("Direction", summary["direction"])
        + matrix_html("Colour temperature", summary["temperature"])
    )
