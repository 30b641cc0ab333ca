"""``relight bench``: inference latency, throughput and memory, set against the device's own measured peak.

For each model and setting: warm-up runs, then the median and spread of repeated runs (CUDA timed with
events after synchronisation), images/s, peak memory (``torch.cuda.max_memory_allocated`` on GPUs, the
process's peak resident set on CPUs, reset before each setting), GFLOP per image (counted with
``torch.utils.flop_counter``), achieved GFLOP/s and the percentage of the device's peak, measured in the same
run as a large matrix product in the same precision, right before each setting and summarised by the same
statistic (the median) as the model's latency, so that drift on a shared machine moves both alike. Weights are
handled as ``relight apply`` does (`relightcli.inference.engine.casts_weights`: cast once to bf16 on CPUs, autocast
otherwise) and, on CPUs, with convolution + pointwise chains fused (`relightcli.inference.fusion`), unless
``cast_weights`` or ``fuse`` says otherwise, and with freed memory kept for reuse as ``relight apply`` keeps it
(`relightcli.inference.cpualloc`; ``retain_memory=False`` in a fresh process measures glibc's defaults). Models run with
random weights: speed does not depend on the values.

What the CPU computes natively decides what is measured (`relightcli.hardware`): ``--precision all`` means the
precisions this device runs natively (`native_precisions`: bf16 on CPUs only with AVX512-BF16/AMX), and a bf16
row asked for on a CPU that only converts bf16 is set against the fp32 matmul peak (``peak_precision``), since an
emulated bf16 matmul is no limit of the machine (and on an AVX2 CPU takes minutes).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch

from ..errors import RelightError
from ..hardware import cpu_capabilities
from ..models import IN_CHANNELS, create_model
from ..models.summary import count_flops
from .cpualloc import release_freed_memory, retain_freed_memory, retaining_freed_memory
from .engine import _DTYPES, CompiledModel, casts_weights, cpu_bf16_note, optimize_for_inference
from .fusion import FusedConv
from .memory import peak_rss_mb, reset_peak_rss
from .tensors import pad_to_multiple


@dataclass
class BenchRow:
    model: str
    device: str
    precision: str
    weights: str
    channels_last: bool
    fold_bn: bool
    fused: bool
    compiled: bool
    allocator: str
    size: int
    first_call_s: float
    params_m: float
    gflop: float
    median_s: float
    min_s: float
    max_s: float
    images_per_s: float
    peak_memory_mb: float
    memory_kind: str
    achieved_gflops: float
    device_peak_gflops: float
    percent_of_peak: float
    peak_precision: str

    def to_json(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> float:
    """Seconds for one call of ``fn``: CUDA events after synchronisation on GPUs, perf_counter on CPUs."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        _sync(device)
        start.record()
        fn()
        end.record()
        _sync(device)
        return start.elapsed_time(end) / 1000.0
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def device_peak_gflops(device: torch.device, precision: str, n: int | None = None, repeats: int = 5) -> float:
    """GFLOP/s of an ``n x n`` matrix product in ``precision`` on ``device`` (the practical peak): the median
    of ``repeats`` timed products after one warm-up, the statistic `bench_model` reports for models."""
    n = n or (8192 if device.type == "cuda" else 4096)
    dtype = _DTYPES.get(precision, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    median = statistics.median(_timed(lambda: torch.matmul(a, b), device) for _ in range(repeats))
    return 2 * n**3 / median / 1e9


def native_precisions(device: torch.device) -> tuple[list[str], list[str]]:
    """The precisions ``device`` computes natively (what ``relight bench --precision all`` measures) and a note
    for each one left out: fp32 everywhere; bf16 on CUDA GPUs that have it and on CPUs with AVX512-BF16/AMX;
    fp16 on CUDA."""
    if device.type == "cuda":
        bf16 = ["bf16"] if torch.cuda.is_bf16_supported() else []
        notes = [] if bf16 else ["bf16 skipped: this GPU has no native bf16"]
        return ["fp32", *bf16, "fp16"], notes
    from .quantize import int8_available

    caps = cpu_capabilities()
    if caps.native_bf16:
        return ["fp32", "bf16"], []
    how = "--precision bf16 measures it anyway" if caps.bf16_ok() else "oneDNN cannot run bf16 here"
    return ["fp32", *(["int8"] if int8_available() else [])], [f"bf16 skipped: {caps.summary()}; {how}"]


def peak_precision(device: torch.device, precision: str) -> str:
    """The precision whose matmul is ``device``'s peak for a row in ``precision``: itself where native, else fp32
    (int8 rows too: no int8 matmul peak is measured, so their "% of peak" is of the fp32 one)."""
    if precision == "int8" or (device.type == "cpu" and precision == "bf16" and not cpu_capabilities().native_bf16):
        return "fp32"
    return precision


def check_precision(device: torch.device, precision: str) -> None:
    """`RelightError` (one line) when ``device`` cannot run ``precision`` at all."""
    if precision not in ("fp32", "bf16", "fp16", "int8") or (precision == "fp16" and device.type != "cuda"):
        raise RelightError(f"--precision {precision!r}: expected fp32, bf16, all, fp16 on CUDA or int8 on CPUs")
    if precision == "int8" and device.type != "cpu":
        raise RelightError("--precision int8 is for CPUs; on CUDA use fp16")
    if precision == "bf16" and device.type == "cpu" and not cpu_capabilities().bf16_ok():
        raise RelightError(cpu_bf16_note() or "--precision bf16: not available on this CPU")


def bench_model(
    name: str,
    device: torch.device,
    precision: str,
    *,
    size: int = 1024,
    channels_last: bool = True,
    fold_bn: bool = True,
    compile_model: bool = False,
    cast_weights: bool | None = None,
    fuse: bool | None = None,
    warmup: int = 1,
    repeats: int = 5,
    peak: float | None = None,
    model_args: dict | None = None,
    retain_memory: bool = True,
) -> BenchRow:
    """Benchmark one registry model at ``size x size`` in one setting.

    ``cast_weights`` None follows the engine (`casts_weights`); True casts the weights to ``precision``
    (bf16/fp16) and feeds a cast input; False autocasts. ``fuse`` None follows the engine (convolution +
    pointwise fusion on CPUs, `relightcli.inference.fusion`; with ``compile_model``, Inductor fuses instead:
    `relightcli.inference.engine.CompiledModel`). ``peak`` None measures the device peak now. The first warm-up call is
    timed apart (``first_call_s``: with ``compile_model`` it includes the compilation). On CPUs,
    ``retain_memory`` keeps freed memory for reuse (`relightcli.inference.cpualloc`, process-wide and one-way);
    the heap's free pages are handed back before each setting so that its peak RSS is its own.
    """
    check_precision(device, precision)
    model_args = model_args or {}
    model = create_model(name, **model_args).eval()
    params = sum(p.numel() for p in model.parameters())
    multiple = model.relight_info.size_multiple
    dtype = _DTYPES.get(precision)
    cast = dtype is not None and (casts_weights(device, precision) if cast_weights is None else cast_weights)
    weights = f"{precision} cast" if cast else "autocast" if dtype is not None else "fp32"
    caps = cpu_capabilities()
    fuse = device.type == "cpu" and not compile_model if fuse is None else fuse
    if precision == "int8":  # calibrated on the bundled inputs; random weights, so no accuracy check
        from .quantize import quantize_int8

        model = quantize_int8(optimize_for_inference(model, fold_bn=fold_bn), check=False)[0]
        cast, weights, compile_model = False, "int8", False  # Inductor is not asked to compile FX int8 graphs
    else:
        model = optimize_for_inference(
            model,
            fold_bn=fold_bn,
            channels_last=channels_last,
            dtype=dtype if cast else None,
            fuse_pointwise=fuse and caps.onednn,
            prepack=caps.prepack_ok(precision if cast else "fp32"),
        ).to(device)
    fused = any(isinstance(m, FusedConv) for m in model.modules())
    if compile_model:
        model = CompiledModel(model, dynamic=False)
    if device.type == "cpu":
        if retain_memory:
            retain_freed_memory()
        release_freed_memory()
    allocator = "cuda caching" if device.type == "cuda" else "retain" if retaining_freed_memory() else "default"
    x = pad_to_multiple(torch.rand(1, IN_CHANNELS, size, size), multiple).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if cast:
        x = x.to(dtype)

    def run() -> None:
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None and not cast),
        ):
            model(x)

    first = _timed(run, device)
    for _ in range(warmup - 1):
        run()
    peak_prec = peak_precision(device, precision)
    peak = peak if peak is not None else device_peak_gflops(device, peak_prec)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        reset_peak_rss()
    times = [_timed(run, device) for _ in range(repeats)]
    if device.type == "cuda":
        memory, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max allocated"
    else:
        memory, kind = peak_rss_mb(), "peak RSS (process)"
    gflop = count_flops(name, size, **model_args) / 1e9
    median = statistics.median(times)
    achieved = gflop / median
    return BenchRow(
        name,
        str(device),
        precision,
        weights,
        channels_last,
        fold_bn,
        fused,
        compile_model,
        allocator,
        size,
        first,
        params / 1e6,
        gflop,
        median,
        min(times),
        max(times),
        1 / median,
        memory,
        kind,
        achieved,
        peak,
        100 * achieved / peak,
        peak_prec,
    )
