"""The visual evaluation report: ``index.html`` with thumbnails and an error heat map per pair."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..atomic import atomic_write_bytes

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}
.pair{margin:1.5em 0}.pair img{width:160px;height:auto;margin-right:4px;image-rendering:auto}
.cap{display:inline-block;width:160px;margin-right:4px;font-size:12px;color:#555}"""


TOLD_BY_SETTINGS = "the model's own (told the settings)"
"""``summary.json``'s ``light_reader`` when the per-pair lights are the settings a light-aware model was told."""


def save_thumb(path: Path, rgb: np.ndarray, size: int) -> None:
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    img = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    if scale < 1:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))
    if ok:
        atomic_write_bytes(path, buf.tobytes())


def error_map(output: np.ndarray, target: np.ndarray, full_scale: float = 0.25) -> np.ndarray:
    """Mean absolute error per pixel as an inferno heat map (``full_scale`` error is the brightest colour)."""
    err = np.abs(output - target).mean(axis=2) / full_scale
    img = cv2.applyColorMap((np.clip(err, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return img[:, :, ::-1].astype(np.float32) / 255.0


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def write_report(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """``out/index.html``: the mean table, then each pair's images (relative links into ``thumbs/``) and numbers."""
    metrics = summary["metrics"]
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>relightcli evaluation</title><style>{_CSS}</style>",
        f"<h1>Evaluation of {html.escape(summary['model'])}</h1>",
        f"<p>{summary['pairs']} pairs from <code>{html.escape(summary['data'])}</code>; weights "
        f"<code>{html.escape(summary['weights'])}</code>. {html.escape(summary['lpips'])}</p>",
        "<table><tr><th>method</th>" + "".join(f"<th>{m}</th>" for m in metrics) + "</tr>",
    ]
    for method, means in summary["methods"].items():
        parts.append(
            f"<tr><td>{html.escape(method)}</td>" + "".join(f"<td>{_fmt(means.get(m))}</td>" for m in metrics) + "</tr>"
        )
    parts.append("</table>")
    if summary.get("by_change"):
        parts.append(
            "<h2>By what changed</h2><table><tr><th>change</th><th>pairs</th><th>method</th>"
            + "".join(f"<th>{m}</th>" for m in metrics)
            + "</tr>"
        )
        for change, group in summary["by_change"].items():
            for method, means in group["methods"].items():
                parts.append(
                    f"<tr><td>{html.escape(change)}</td><td>{group['pairs']}</td><td>{html.escape(method)}</td>"
                    + "".join(f"<td>{_fmt(means.get(m))}</td>" for m in metrics)
                    + "</tr>"
                )
        parts.append("</table>")
    parts.append("<h2>Pairs</h2>")
    for row in rows:
        name = html.escape(row["name"])
        imgs = "".join(
            f"<img src='thumbs/{name}_{k}.png' alt='{k}'>" for k in ("input", "guide", "output", "target", "error")
        )
        caps = "".join(
            f"<span class='cap'>{c}</span>" for c in ("input", "guide", "output", "target", "|output - target|")
        )
        nums = "; ".join(
            f"{html.escape(method)}: " + ", ".join(f"{m} {_fmt(v)}" for m, v in values.items())
            for method, values in row["methods"].items()
        )
        change = f" ({html.escape(row['change'])} changed)" if row.get("change") else ""
        if row.get("source_light"):
            how = "told" if summary.get("light_reader") == TOLD_BY_SETTINGS else "read"
            src_light, guide_light = html.escape(row["source_light"]), html.escape(row["guide_light"])
            change += f"; light {how}: source {src_light}, guide {guide_light}"
        if row.get("same_direction"):
            change += f"; same direction {html.escape(row['same_direction'])}"
        parts.append(f"<div class='pair'><b>{name}</b>{change}<br>{imgs}<br>{caps}<br><small>{nums}</small></div>")
    path = out / "index.html"
    atomic_write_bytes(path, "\n".join(parts).encode())
    return path
