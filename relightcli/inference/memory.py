"""Peak memory of a relighting pass, estimated before it runs, and the memory the machine can give it.

A convolutional pass needs a fixed amount (weights, workspaces) plus activations proportional to the pixels.
`fit_memory_model` measures the whole pass's peak at two small sizes, in the precision and on the device it will
run (CUDA: ``torch.cuda.max_memory_allocated``; CPU: the process's peak resident set, Linux ``VmHWM``, after
handing freed pages back), as ``relight bench`` measures it at one size, and fits ``peak = base + per_pixel *
pixels`` through them, times a safety `MARGIN`. `available_bytes` is what the pass may use: free GPU memory, or
the CPU's available memory (``MemAvailable``, capped by a cgroup limit when the process runs in one). The engine
compares the two before a large pass, so that a pass that would be killed is never started.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .cpualloc import release_freed_memory

PROBE_SIDES = (256, 512)
"""Square sizes of the two measured passes (multiples of every registered model's size multiple)."""
HEADROOM = 0.8
"""Fraction of the available memory a pass may plan to use: the rest is for the images and the OS."""
MARGIN = 1.5
"""The fitted line times this: passes at 256 and 512 under-predict larger ones (the shipped model on an AVX2 EPYC:
by 7% at 768x768, 18% at 1024, 27% at 1536 and 29% at 2048). With the margin the estimate was +29% to -16% of
the measured peak from 768 to 3072 (`benchmarks/resolution.py --memory-sizes`); `HEADROOM` covers the rest."""


@dataclass(frozen=True)
class MemoryModel:
    """``peak(h, w) = base + per_pixel * h * w`` bytes, fitted to measured passes."""

    base: float
    per_pixel: float

    def peak(self, h: int, w: int) -> float:
        return self.base + self.per_pixel * h * w

    def largest_side(self, budget: float) -> int:
        """The side of the largest square pass that fits in ``budget`` bytes (0 if none does)."""
        pixels = (budget - self.base) / max(self.per_pixel, 1e-9)
        return int(pixels**0.5) if pixels > 0 else 0


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set to the current one (Linux ``clear_refs``); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """This process's peak resident set in MiB (Linux ``VmHWM``, else ``ru_maxrss``)."""
    kb = _status_kb("VmHWM")
    return kb / 1024 if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_peak(run: Callable[[], object], device: torch.device) -> float | None:
    """Bytes ``run()`` needs above what is in use before it (None where this platform cannot tell)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - before)
    release_freed_memory()  # so that freed pages kept for reuse do not hide what the pass needs
    if not reset_peak_rss():
        return None
    before = _status_kb("VmRSS")
    run()
    peak = _status_kb("VmHWM")
    return None if before is None or peak is None else float(peak - before) * 1024


def fit_memory_model(run_at: Callable[[int, int], object], device: torch.device) -> MemoryModel | None:
    """Fit `MemoryModel` to two passes of ``run_at(h, w)`` at `PROBE_SIDES` (None if they cannot be measured)."""
    (s0, s1), peaks = PROBE_SIDES, []
    for side in PROBE_SIDES:  # first passes at their size, as the image's pass will be (prepacking included)
        peak = measure_peak(lambda side=side: run_at(side, side), device)
        if peak is None:
            return None
        peaks.append(peak)
    per_pixel = max((peaks[1] - peaks[0]) / (s1 * s1 - s0 * s0), 0.0)
    base = max(peaks[0] - per_pixel * s0 * s0, 0.0)
    return MemoryModel(base=MARGIN * base, per_pixel=MARGIN * per_pixel)


def _cgroup_room() -> float | None:
    """Bytes left under this process's cgroup v2 memory limit, or None without one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
    except OSError:
        return None
    return None if limit == "max" else float(int(limit) - int(used))


def available_bytes(device: torch.device) -> float:
    """Memory a pass on ``device`` may take now: free GPU memory, or the CPU's available memory."""
    if device.type == "cuda":
        return float(torch.cuda.mem_get_info(device)[0])
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = float(line.split()[1]) * 1024
    except OSError:
        pass
    if free is None and hasattr(os, "sysconf"):
        try:
            free = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            free = None
    room = _cgroup_room()
    candidates = [v for v in (free, room) if v is not None]
    return min(candidates) if candidates else float("inf")
