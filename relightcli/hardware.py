"""What this machine's CPU can do for inference: the one place every fast path asks.

Three facts decide the CPU paths (`relightcli.inference`: `engine`, `fusion`, `bench`):

- **native bf16 arithmetic**: AVX512-BF16 (``vdpbf16ps``) or AMX-BF16. There S3Net runs about 3x faster in bf16
  than in fp32, and ``--precision auto`` picks bf16.
- **oneDNN bf16 kernels**: PyTorch lets oneDNN run (and prepack) bf16 convolutions only on AVX512BW+VL+DQ or
  AVX-NE-CONVERT CPUs (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``); elsewhere it refuses with
  ``mkldnn_reorder_conv2d_weight: bf16 path needs the cpu support ...``. An AVX512 CPU without AVX512-BF16 runs
  bf16 there by conversion (no faster than fp32); an AVX2-only CPU (e.g. AMD Zen 3) emulates bf16 in plain C++,
  many times slower than fp32, so bf16 is refused there.
- **oneDNN fp32 convolutions with fused post-ops and prepacked weights**: any x86-64 CPU with AVX2 (and every
  CPU oneDNN supports at all).

``ONEDNN_MAX_CPU_ISA`` (oneDNN's own switch, read when oneDNN starts) caps the ISA oneDNN's kernels use; PyTorch's
own checks still read the CPU flags, so this probe applies the cap too: ``ONEDNN_MAX_CPU_ISA=AVX2`` makes an
AVX512-BF16 machine take the AVX2 machine's paths end to end. Tests exercise each branch by monkeypatching
`cpu_capabilities` (or `set_cpu_capabilities`).
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass, replace
from pathlib import Path

# oneDNN's ISA names in increasing order (dnnl_cpu_isa_t); a cap admits every ISA up to its own position.
_ONEDNN_ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    "AVX512_CORE_BF16",
    "AVX10_1_512",
    "AVX512_CORE_FP16",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX512_CORE_AMX_FP16",
    "AVX10_2_512",
    "AVX10_2_512_AMX_2",
)


@dataclass(frozen=True)
class CpuCapabilities:
    """What the CPU (as oneDNN may use it) offers; `cpu_capabilities` reads it once per process.

    Attributes:
        model: The CPU's model name (``/proc/cpuinfo``), for reports.
        flags: The ISA flags this probe looked at (``avx2``, ``avx512f``, ``avx512_bf16``, ``amx_bf16``, ...),
            after the ``ONEDNN_MAX_CPU_ISA`` cap.
        onednn: Whether PyTorch has oneDNN (mkldnn) for CPU convolutions.
        onednn_bf16: Whether oneDNN may run and prepack bf16 convolutions here (PyTorch's check, capped).
        isa_cap: The ``ONEDNN_MAX_CPU_ISA`` in force, or ``None``.
    """

    model: str
    flags: frozenset[str]
    onednn: bool
    onednn_bf16: bool
    isa_cap: str | None = None

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags

    @property
    def avx512(self) -> bool:
        """AVX512 F+BW+VL+DQ: the core AVX512 set oneDNN's AVX512 kernels need."""
        return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= self.flags

    @property
    def amx(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def native_bf16(self) -> bool:
        """bf16 dot products in hardware (AVX512-BF16 or AMX-BF16) with oneDNN kernels for them."""
        return self.onednn_bf16 and ("avx512_bf16" in self.flags or self.amx)

    def bf16_ok(self) -> bool:
        """Whether bf16 inference runs through oneDNN here at all (natively or by conversion)."""
        return self.onednn_bf16

    def prepack_ok(self, dtype_name: str) -> bool:
        """Whether oneDNN prepacks (and fuses) convolution weights in ``fp32``/``bf16`` on this CPU."""
        if not self.onednn:
            return False
        return dtype_name == "fp32" or (dtype_name == "bf16" and self.onednn_bf16)

    def summary(self) -> str:
        """One line for reports: the model and the flags that decide the paths."""
        keys = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx_ne_convert")
        have = [k for k in keys if k in self.flags] or ["no AVX2"]
        cap = f", ONEDNN_MAX_CPU_ISA={self.isa_cap}" if self.isa_cap else ""
        bf16 = "native bf16" if self.native_bf16 else "bf16 by conversion" if self.onednn_bf16 else "no bf16"
        return f"{self.model} ({' '.join(have)}; {bf16}{cap})"


def _read_cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            model = value.strip()
        elif key == "flags":
            flags = frozenset(value.split())
            break
    return model, flags


def _isa_cap() -> str | None:
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    if not cap:
        return None
    cap = cap.strip().upper()
    return cap if cap in _ONEDNN_ISAS else None  # "ALL"/"DEFAULT"/unknown: no cap


def _apply_cap(flags: frozenset[str], cap: str | None) -> frozenset[str]:
    """The flags oneDNN may use under ``ONEDNN_MAX_CPU_ISA=cap``."""
    if cap is None:
        return flags
    level = _ONEDNN_ISAS.index(cap)
    drop: set[str] = set()
    if level < _ONEDNN_ISAS.index("AVX512_CORE"):
        drop |= {f for f in flags if f.startswith("avx512") or f.startswith("amx")}
    if level < _ONEDNN_ISAS.index("AVX512_CORE_BF16"):
        drop |= {"avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}
    if level < _ONEDNN_ISAS.index("AVX512_CORE_AMX"):
        drop |= {f for f in flags if f.startswith("amx")}
    if level < _ONEDNN_ISAS.index("AVX2_VNNI_2"):
        drop |= {"avx_ne_convert", "avx_vnni_int8"}
    if level < _ONEDNN_ISAS.index("AVX2"):
        drop |= {"avx2", "fma"}
    return flags - drop


def probe_cpu() -> CpuCapabilities:
    """Read the CPU's capabilities now (uncached; `cpu_capabilities` caches it)."""
    import torch

    model, flags = _read_cpuinfo()
    cap = _isa_cap()
    flags = _apply_cap(flags, cap)
    onednn = bool(torch.backends.mkldnn.is_available())
    try:
        bf16 = onednn and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        bf16 = False
    if cap is not None and flags:  # PyTorch reads the real flags: apply oneDNN's cap to its answer
        bf16 = bf16 and ({"avx512bw", "avx512vl", "avx512dq"} <= flags or "avx_ne_convert" in flags)
    return CpuCapabilities(model=model, flags=flags, onednn=onednn, onednn_bf16=bf16, isa_cap=cap)


_override: CpuCapabilities | None = None


@functools.lru_cache(maxsize=1)
def _probed() -> CpuCapabilities:
    return probe_cpu()


def cpu_capabilities() -> CpuCapabilities:
    """This CPU's capabilities (probed once per process; `set_cpu_capabilities` overrides them)."""
    return _override if _override is not None else _probed()


def set_cpu_capabilities(caps: CpuCapabilities | None) -> None:
    """Make every fast path see ``caps`` (tests, and ``None`` to return to the probe)."""
    global _override
    _override = caps


def without_native_bf16(caps: CpuCapabilities, *, onednn_bf16: bool = False) -> CpuCapabilities:
    """``caps`` as an AVX2-only CPU would have them (``onednn_bf16=True``: an AVX512 CPU without AVX512-BF16)."""
    keep = caps.flags - {"avx512_bf16", "amx_bf16", "amx_tile", "amx_int8", "avx_ne_convert"}
    if not onednn_bf16:
        keep = frozenset(f for f in keep if not f.startswith("avx512")) | {"avx2", "fma"}
    return replace(caps, flags=keep, onednn_bf16=onednn_bf16 and caps.onednn)


def _nvidia_driver() -> str | None:
    """The loaded NVIDIA kernel driver's version (``/proc/driver/nvidia/version``), or None: a GPU check that
    needs no torch import."""
    try:
        first = Path("/proc/driver/nvidia/version").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    words = [w for w in first.split() if w[:1].isdigit() and "." in w]
    return words[0] if words else "unknown version"


def machine_summary() -> str:
    """One line for ``relight --version``: this package's and torch's versions, the CPU (model, cores, the ISA
    the fast paths key on, after ``ONEDNN_MAX_CPU_ISA``) and whether an NVIDIA driver is loaded. Reads package
    metadata and ``/proc`` only, so it costs no torch import (``relight --version`` took 0.36 s on a 2-core EPYC)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        torch = f"torch {version('torch')}"
    except PackageNotFoundError:
        torch = "torch not installed"
    model, flags = _read_cpuinfo()
    flags = _apply_cap(flags, _isa_cap())
    if "amx_bf16" in flags or "avx512_bf16" in flags:
        isa = "AMX-BF16" if "amx_bf16" in flags else "AVX512-BF16"
        isa += ": native bf16"
    elif "avx512f" in flags:
        isa = "AVX512, no native bf16"
    else:
        isa = "AVX2, no native bf16" if "avx2" in flags else "no AVX2"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    driver = _nvidia_driver()
    gpu = f"NVIDIA driver {driver}" if driver else "no NVIDIA driver"
    return f"relight {__version__}, {torch}; CPU {model}, {cores} cores ({isa}); {gpu}"
