"""What a run leaves for people to read: ``metrics.csv``, ``curves.png`` and ``samples.png``, all atomic."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..atomic import atomic_path, atomic_write_bytes


def write_metrics_csv(path: Path, history: Sequence[dict[str, Any]]) -> None:
    """One row per epoch, columns in first-seen order."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(path, buf.getvalue().encode())


def plot_curves(path: Path, history: Sequence[dict[str, Any]], loss_terms: Sequence[str]) -> None:
    """Training loss terms (left) and validation PSNR / SSIM (right) over epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for term in ("loss", *loss_terms):
        ax_loss.plot(epochs, [row[f"train_{term}"] for row in history], marker="o", label=term)
    ax_loss.set(xlabel="epoch", ylabel="training loss (epoch mean)", yscale="log", title="training")
    ax_loss.legend()
    for ax in (ax_loss, ax_psnr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_psnr.plot(epochs, [row["val_psnr"] for row in history], marker="o", color="tab:blue", label="PSNR")
    ax_psnr.set(xlabel="epoch", ylabel="PSNR (dB)", title="validation")
    ax_ssim = ax_psnr.twinx()
    ax_ssim.plot(epochs, [row["val_ssim"] for row in history], marker="s", color="tab:orange", label="SSIM")
    ax_ssim.set_ylabel("SSIM")
    ax_psnr.legend(handles=ax_psnr.lines + ax_ssim.lines, loc="lower right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _tile(t: torch.Tensor, size: int) -> np.ndarray:
    img = (t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def samples_sheet(path: Path, rows: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], size: int = 160) -> None:
    """``input | guide | output | target`` for each ``(model_input, output, target)``, labelled."""
    header, pad = 22, 4
    labels = ("input", "guide", "output", "target")
    sheet = np.full((header + len(rows) * (size + pad), len(labels) * (size + pad), 3), 255, np.uint8)
    for j, label in enumerate(labels):
        cv2.putText(sheet, label, (j * (size + pad) + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    for i, (x, out, target) in enumerate(rows):
        y0 = header + i * (size + pad)
        for j, t in enumerate((x[:3], x[3:6], out, target)):
            sheet[y0 : y0 + size, j * (size + pad) : j * (size + pad) + size] = _tile(t, size)
    ok, buf = cv2.imencode(".png", sheet[:, :, ::-1])
    if ok:
        atomic_write_bytes(path, buf.tobytes())
