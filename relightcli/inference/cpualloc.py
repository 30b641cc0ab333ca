"""CPU memory allocation for inference: keep freed blocks for reuse instead of handing them back to the OS.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves blocks above its mmap threshold
(at most 32 MiB by default) with a fresh ``mmap`` and returns them with ``munmap`` when freed, so every large
activation of a full-resolution forward pass is a new mapping whose pages fault in, zeroed by the kernel, on
first touch: S3Net's bf16 pass at 1024x1024 takes about 150,000 page faults, MPRNet's 1.7 million. Raising
glibc's mmap and trim thresholds (``mallopt``) keeps freed blocks in the heap for the next pass, as PyTorch's
CUDA caching allocator does on GPUs and as Intel's PyTorch CPU tuning guide gets by preloading
jemalloc/tcmalloc. Measured on this project's 2-core CPU at 1024x1024 (`benchmarks/cpu_allocator.py`, fresh
processes alternating): the engine's default CPU path ran 1.20x (S3Net), 1.72x (FormResNet) and 2.17x
(MPRNet) faster, plain fp32 eager 1.66x to 3.06x.

The cost: the process keeps its peak heap resident between passes, and glibc 2.36's aligned allocations
fragment that heap, so peak resident memory grows: by 6% for S3Net, 27-36% for MPRNet and FormResNet, and
about 2x for the 24-TFLOP MPRNet deblurring network at 1024x1024 (``relight bench --no-retain-memory``
compares). `release_freed_memory` hands the free pages back. The setting is process-wide and applies to
allocations made after it; ``RELIGHT_RETAIN_MEMORY=0`` in the environment turns it off, and elsewhere than
glibc (macOS, Windows, musl) the functions do nothing and report so.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
_LARGEST = 2**31 - 1  # mallopt takes an int

_retaining = False


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both must exist)
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory() -> bool:
    """Make glibc keep freed blocks of any size for reuse (no ``munmap``, no heap trimming); idempotent.

    Returns whether freed memory is now retained: False where the C library is not glibc, or where the
    environment says ``RELIGHT_RETAIN_MEMORY=0`` (for machines where memory is shorter than time).
    """
    global _retaining
    if _retaining:
        return True
    if os.environ.get("RELIGHT_RETAIN_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    _retaining = bool(libc.mallopt(_M_MMAP_THRESHOLD, _LARGEST)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _LARGEST))
    return _retaining


def retaining_freed_memory() -> bool:
    """Whether `retain_freed_memory` is in effect in this process."""
    return _retaining


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the OS now (glibc ``malloc_trim(0)``); the retention stays on.

    Returns whether glibc released anything.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
