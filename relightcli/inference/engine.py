"""Inference engine: device and precision choice, the 8-channel input, padding to the model's size multiple.

CUDA runs under fp16 autocast by default (bf16 where a model declares fp16 unsafe). CPUs with native bf16
(AVX512-BF16, AMX) run in bf16 by default, with the weights cast once (`casts_weights`), others fp32; what the CPU
can do is asked of `relightcli.hardware`, and bf16 is refused where oneDNN cannot run it (AVX2-only CPUs). The
model runs with BatchNorm folded into its convolutions and in channels_last memory format, and on CPUs with
convolution + activation/residual chains fused into single oneDNN calls (all exact in fp32); on CPUs freed
memory is kept for the next pass (`relightcli.inference.cpualloc`). Images of any size are reflect-padded to the model's
multiple and cropped back, as the official S3Net/MPRNet demos do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

from ..data.vidit import Setting
from ..errors import RelightError, first_line
from ..hardware import cpu_capabilities
from ..models import ModelInfo
from ..models.lightcode import mirror_code, same_direction, settings_code
from ..models.s3net import read_codes, read_gate_directions
from .cpualloc import retain_freed_memory
from .fusion import fuse_conv_pointwise
from .largeimage import run_tiled, tiles_needed, upsample_relighting, working_size
from .memory import HEADROOM, MemoryModel, available_bytes, fit_memory_model
from .tensors import make_input, pad_to_multiple, resize

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
AUTO_MAX_SIDE = 1024
"""By default an image whose longer side exceeds this is relit at this working size (docs/speed.md, Large photos)."""
CHECK_ABOVE_PIXELS = 2**21
"""Passes larger than this (2 MP) have their peak memory estimated against what the device can give."""
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
Lights = dict[str, torch.Tensor]
"""``source_light``/``target_light`` codes ``(B, 13)`` for a model told the lights (`ModelInfo.told_light`), and
for one with a gate reader the ``source_direction``/``target_direction`` probabilities ``(B, 8)`` it read for the
same-direction weight (`relightcli.models.s3net.S3Net`)."""


def _light_reader(model: nn.Module, name: str = "light_reader") -> nn.Module | None:
    """A copy (fp32, eval mode) of the light reader (or, by ``name``, the gate reader) a model told the lights
    carries, kept apart from the model the engine optimises or quantizes; ``None`` where it has none."""
    reader = getattr(model, name, None)
    return copy.deepcopy(reader).float().eval() if isinstance(reader, nn.Module) else None


def _sharpness(model: nn.Module) -> tuple[float, float]:
    """The model's ``reading_sharpness`` and ``gate_sharpness`` (`relightcli.models.s3net.S3Net`), 1 when absent."""
    return float(getattr(model, "reading_sharpness", 1.0)), float(getattr(model, "gate_sharpness", 1.0))


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; `RelightError` if unavailable."""
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise RelightError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RelightError(f"--device {spec}: no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RelightError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type != "cpu":
        raise RelightError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX; `relightcli.hardware`): S3Net runs about 3x
    faster there in bf16 than in fp32 eager."""
    return cpu_capabilities().native_bf16


def cpu_bf16_note() -> str | None:
    """Why bf16 is slow or refused on this CPU (`relightcli.hardware`), or ``None`` where it is native."""
    caps = cpu_capabilities()
    if caps.native_bf16:
        return None
    if caps.bf16_ok():
        return (
            f"bf16 on this CPU ({caps.model}) is converted, not native (no AVX512-BF16/AMX): expect it slower "
            "than fp32, which --precision auto picks here"
        )
    return (
        f"--precision bf16: this CPU ({caps.model}) has no bf16 that oneDNN can run (it needs AVX512-BF16 or AMX, "
        "at least AVX512BW); emulated, bf16 is many times slower than fp32: use --precision fp32 or auto"
    )


def resolve_precision(spec: str, device: torch.device, info: ModelInfo, many: bool = False) -> str:
    """The inference precision to use: ``fp32``, ``bf16``, ``fp16`` or ``int8``.

    ``auto``: fp16 on CUDA; on CPUs bf16 where it is native; elsewhere int8 for models measured int8-safe when
    ``many`` images will be relit (folders: the one-off calibration, about 2 s, pays off after a few images),
    else fp32 (`relightcli.inference.quantize`).
    """
    if spec not in PRECISIONS:
        raise RelightError(f"--precision {spec!r}: expected one of {', '.join(PRECISIONS)}")
    if spec == "int8" and device.type != "cpu":
        raise RelightError("--precision int8 is for CPUs; on CUDA use fp16 or auto")
    if spec == "auto":
        if device.type != "cuda":
            if info.bf16_safe and cpu_has_native_bf16():
                return "bf16"
            from .quantize import int8_available

            return "int8" if many and info.int8_safe and int8_available() else "fp32"
        if info.fp16_safe:
            return "fp16"
        return "bf16" if info.bf16_safe and torch.cuda.is_bf16_supported() else "fp32"
    if spec == "fp16" and device.type != "cuda":
        raise RelightError("--precision fp16 is for CUDA GPUs; on CPU use bf16 or fp32")
    if spec == "bf16" and device.type == "cpu" and not cpu_capabilities().bf16_ok():
        raise RelightError(cpu_bf16_note() or "--precision bf16: not available on this CPU")
    return spec


def weights_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of ``model``'s first floating-point parameter (float32 for a parameter-free model)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def forward_padded(
    model: nn.Module, x: torch.Tensor, multiple: int, precision: str = "fp32", lights: Lights | None = None
) -> torch.Tensor:
    """Pad to ``multiple``, run in ``precision``, take the final output, crop back, clamp to [0, 1].

    ``lights`` (``source_light``/``target_light`` codes, `relightcli.models.lightcode`) go to a model that is
    told the lights (`ModelInfo` of ``s3net_lite_lightaware``); other models take none.

    A model whose weights are float32 runs under ``precision`` autocast; a model already cast to bf16/fp16
    (`optimize_for_inference` with ``dtype``, the CPU bf16 fast path) gets its input in that dtype and no
    autocast. Call it under ``torch.inference_mode()`` (or ``no_grad``); the result is float32 on ``x``'s device.
    """
    h, w = x.shape[-2:]
    x = pad_to_multiple(x.float(), multiple)
    cast = weights_dtype(model)
    told = {k: v.to(x.device) for k, v in (lights or {}).items()}
    if cast != torch.float32:
        y = model(x.to(cast), **told)
    else:
        dtype = _DTYPES.get(precision)
        with torch.autocast(device_type=x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            y = model(x, **told)
    if isinstance(y, (list, tuple)):
        y = y[0]
    return y[..., :h, :w].float().clamp(0.0, 1.0)


def casts_weights(device: torch.device, precision: str) -> bool:
    """Whether inference in ``precision`` on ``device`` casts the weights once instead of autocasting.

    On CPUs, bf16 weights with a bf16 input skip autocast's per-call weight casts and dtype conversions (the
    faster CPU path, `benchmarks/cpu_fast_path.py` compares them); on CUDA, fp16/bf16 stay under autocast,
    which keeps its fp32 list (reductions, norms) in fp32.
    """
    return device.type == "cpu" and precision == "bf16"


def optimize_for_inference(
    model: nn.Module,
    *,
    fold_bn: bool = True,
    channels_last: bool = False,
    dtype: torch.dtype | None = None,
    fuse_pointwise: bool = False,
    prepack: bool = True,
) -> nn.Module:
    """A copy of ``model`` for inference: BatchNorm folded into the preceding convolutions, optionally
    channels_last, optionally cast to ``dtype``, optionally with convolution + activation/residual chains fused
    into single oneDNN calls for CPUs (`relightcli.inference.fusion`; with ``prepack``, the default, every convolution
    then hands oneDNN its weight prepacked for the input shape it meets). Folding, channels_last and fusion are
    exact in fp32 up to rounding (checked against the plain model in the tests); the cast is the bf16 fast path on
    CPUs.

    Folding traces each top-level child with ``torch.fx`` and fuses conv-BN pairs; a child that cannot be
    traced is searched one level down, and so on.
    """
    from torch.fx.experimental.optimization import fuse

    info, args = model.relight_info, getattr(model, "relight_args", {})
    model = copy.deepcopy(model).eval()
    if fold_bn:
        _fold_batchnorm(model, fuse)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if dtype is not None:
        model = model.to(dtype)
    if fuse_pointwise:
        fuse_conv_pointwise(model, prepack=prepack)
    model.relight_info, model.relight_args = info, args
    return model


def _fold_batchnorm(module: nn.Module, fuse: Callable[[nn.Module], nn.Module]) -> None:
    """Fold conv-BN pairs in each child of ``module`` that holds BatchNorm; a child that ``torch.fx`` cannot
    trace (control flow on shapes, e.g. a light reader that resizes its input) is searched one level down."""
    for name, child in list(module.named_children()):
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in child.modules()):
            try:
                setattr(module, name, fuse(child))
            except Exception:  # untraceable control flow: try its children
                _fold_batchnorm(child, fuse)


class CompiledModel(nn.Module):
    """A model under ``torch.compile`` (TorchInductor) with *freezing*: at compilation the weights are taken as
    constants, so Inductor folds them, fuses each convolution with its pointwise successors (the oneDNN post-ops
    `relightcli.inference.fusion` uses in eager mode), prepacks the weights, and generates fused C++/Triton kernels for
    the rest: concatenations written in place, pixel shuffles, pads and elementwise chains. For inference only
    (run it under ``torch.inference_mode()``). The first call with a new input shape compiles (tens of seconds
    on a CPU), so it pays off over many images of one size: `relight bench --compile`, `relight apply --compile`.
    """

    def __init__(self, model: nn.Module, *, dynamic: bool | None = None) -> None:
        super().__init__()
        # Inductor's C++ toolchain probe warns "No CUDA runtime is found" on every CPU-only machine: not news.
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        self.compiled = torch.compile(model, dynamic=dynamic)
        self.relight_info = getattr(model, "relight_info", None)
        self.relight_args = getattr(model, "relight_args", {})

    def forward(self, x: torch.Tensor, **lights: torch.Tensor) -> torch.Tensor:
        import torch._dynamo.exc
        import torch._inductor.config as inductor_config

        try:
            with inductor_config.patch(freezing=True):  # read when a (re)compilation happens inside this call
                return self.compiled(x, **lights)
        except torch._dynamo.exc.BackendCompilerFailed as exc:  # e.g. no C++ compiler on the machine
            raise RelightError(f"torch.compile failed ({first_line(exc)}); run without --compile") from None


@dataclass
class Relighter:
    """Runs a registry model on 8-channel inputs of any size, on the chosen device and precision.

    ``flip_ensemble`` averages the result with that of the mirrored input, mirrored back (the geometric
    self-ensemble of EDSR, Lim et al., CVPRW 2017, restricted to the left-right flip: a vertical flip or a
    rotation would move the light where no training pair put it). Two passes: twice the time, the same memory.
    ``None`` (default) follows the checkpoint (`load_model` reads what `relight export --flip-ensemble`
    recorded), else off.

    Large photos: ``max_side=None`` (default) relights an image whose longer side exceeds the checkpoint's
    working size (``relight export --max-side``; `AUTO_MAX_SIDE` when it records none) at that size and carries
    the result to full resolution (`largeimage.upsample_relighting`), which measured better than a
    full-resolution pass at a fraction of its time and memory (docs/speed.md); ``0`` relights every pixel; ``N``
    works at ``N``. Before a pass of more than `CHECK_ABOVE_PIXELS` pixels its peak
    memory is estimated (`memory.fit_memory_model`, once per Relighter) and compared with what the device can
    give: a working size that would not fit is lowered, and a full-resolution pass that would not fit runs in
    tiles that do, each said in one line (``memory_check=False`` skips this). ``on_progress(done, total)``
    hears of every pass (two with the flip ensemble, one per tile).

    On a CPU, ``retain_memory`` (default) makes the process keep freed memory for reuse
    (`relightcli.inference.cpualloc.retain_freed_memory`, process-wide): 1024x1024 passes run 1.2x (S3Net) to 2.2x
    (MPRNet) faster, for 6-36% more resident memory.

    Example:
        >>> relighter = Relighter(load_model("relit.safetensors"), device="auto")
        >>> out = relighter.relight(src_rgb, src_depth, guide_rgb, guide_depth)  # (H, W, 3) float32 in [0, 1]
    """

    model: nn.Module
    device: str | torch.device = "auto"
    precision: str = "auto"
    optimize: bool = True
    tile: int | None = None
    tile_overlap: int = 32
    max_side: int | None = None
    compile: bool = False
    retain_memory: bool = True
    on_message: Callable[[str], None] | None = None
    many: bool = False
    flip_ensemble: bool | None = None
    on_progress: Callable[[int, int], None] | None = None
    memory_check: bool = True

    def __post_init__(self) -> None:
        self.info: ModelInfo = self.model.relight_info
        if self.info.task != "relight":
            raise RelightError(f"{self.info.name} is a light estimator, not a relighting model (relight light runs it)")
        self._memory: MemoryModel | bool | None = False  # False: not fitted yet
        self._said_working_size = False
        self._steps = (0, 0)  # passes done, passes in this image (for on_progress)
        recorded = getattr(self.model, "relight_inference", {})
        if self.flip_ensemble is None:
            self.flip_ensemble = recorded.get("flip_ensemble", False)
        # the working size for larger images when none is given: the checkpoint's, else AUTO_MAX_SIDE
        self.default_max_side: int = recorded.get("max_side", AUTO_MAX_SIDE)
        self.last_lights: Lights | None = None
        self._reader, self._sharpness = _light_reader(self.model), _sharpness(self.model)
        gate_readers = (_light_reader(self.model, name) for name in ("gate_reader", "second_gate_reader"))
        self._gate_readers = [reader for reader in gate_readers if reader is not None]
        self.device = resolve_device(str(self.device)) if not isinstance(self.device, torch.device) else self.device
        self.precision = resolve_precision(self.precision, self.device, self.info, many=self.many)
        model = self.model.eval()
        cpu = self.device.type == "cpu"
        if self.precision == "int8":
            from .quantize import Int8Unsuitable, quantize_int8

            try:
                model, self.int8_psnr = quantize_int8(optimize_for_inference(model, fold_bn=True))
                if self.compile:
                    self._say("--compile is not used with int8 (its FX int8 graph runs eagerly)")
                self.model, self.optimize, self.compile = model, True, False
                if self.retain_memory:
                    retain_freed_memory()
                return
            except Int8Unsuitable as exc:
                self._say(f"int8 not used: {exc}; running fp32")
                self.precision = "fp32"
        if cpu and self.precision == "bf16" and not cpu_has_native_bf16():
            self._say(cpu_bf16_note())
        if self.optimize:
            cast = _DTYPES[self.precision] if casts_weights(self.device, self.precision) else None
            caps = cpu_capabilities()
            model = optimize_for_inference(
                model,
                fold_bn=True,
                channels_last=True,
                dtype=cast,
                fuse_pointwise=cpu and not self.compile and caps.onednn,
                prepack=caps.prepack_ok("bf16" if cast is not None else "fp32"),
            )
        model = model.to(self.device)
        if self._reader is not None:
            self._reader = self._reader.to(self.device)
        self._gate_readers = [reader.to(self.device) for reader in self._gate_readers]
        if self.device.type == "cpu" and self.retain_memory:
            retain_freed_memory()  # process-wide: large activations reuse freed blocks instead of fresh pages
        self.model = CompiledModel(model) if self.compile else model

    @property
    def told_light(self) -> bool:
        """Whether the model takes the source's and the target's light (``source_light``/``target_light``)."""
        return self.info.told_light

    @torch.inference_mode()
    def read_lights(self, x: torch.Tensor) -> Lights:
        """The source's and the target's light codes ``(B, 13)`` that a model told the lights reads itself in the
        ``(B, 8, H, W)`` input ``x``: its light reader, in fp32, on the whole image (a tile does not show the light);
        with a gate reader, also the directions it reads for the same-direction weight (`Lights`)."""
        if self._reader is None:
            raise RelightError(f"{self.info.name} does not read the lights (s3net_lite_lightaware does)")
        n = x.shape[0]
        images = torch.cat([x[:, :3], x[:, 3:6]]).to(self.device)
        codes = read_codes(self._reader, images, self._sharpness[0]).cpu()
        lights = {"source_light": codes[:n], "target_light": codes[n:]}
        if self._gate_readers:
            directions = read_gate_directions(self._gate_readers, images).cpu()
            lights.update(source_direction=directions[:n], target_direction=directions[n:])
        return lights

    def complete_lights(self, x: torch.Tensor, lights: Lights | None = None) -> Lights | None:
        """For a model told the lights, ``lights`` with the codes not given read from ``x`` (`read_lights`);
        ``None`` for other models."""
        if not self.told_light:
            return None
        given = dict(lights or {})
        lights = dict(given)
        if not {"source_light", "target_light"} <= given.keys():
            read = self.read_lights(x)
            for side in ("source", "target"):  # a light given as a code gives its own direction too
                if f"{side}_light" not in given:
                    for key in (f"{side}_light", f"{side}_direction"):
                        if key in read:
                            lights.setdefault(key, read[key])
        return lights

    def same_direction(self, lights: Lights) -> torch.Tensor:
        """``(B,)`` the weight a model told the lights gives its colour-only path for these codes: the probability
        that the direction is unchanged (`lightcode.same_direction`, at the model's ``gate_sharpness``), from the
        gate reader's directions where it read them."""
        source = lights.get("source_direction", lights["source_light"])
        target = lights.get("target_direction", lights["target_light"])
        return same_direction(source, target, self._sharpness[1])

    @torch.inference_mode()
    def run(self, x: torch.Tensor, lights: Lights | None = None) -> torch.Tensor:
        """``(B, 8, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` float32 in [0, 1] on the CPU (whole image). ``lights``:
        codes for a model told the lights (the mirrored pass gets them mirrored); ignored by other models."""
        lights = lights if self.told_light else None
        if not self.flip_ensemble:
            return self._run_once(x, lights)
        mirrored = {k: mirror_code(v) for k, v in lights.items()} if lights else None
        return (self._run_once(x, lights) + self._run_once(x.flip(-1), mirrored).flip(-1)) / 2

    def _run_once(self, x: torch.Tensor, lights: Lights | None = None) -> torch.Tensor:
        y = self._forward(x, lights)
        done, total = self._steps
        self._steps = (done + 1, total)
        if self.on_progress and total:
            self.on_progress(done + 1, total)
        return y

    def _forward(self, x: torch.Tensor, lights: Lights | None = None) -> torch.Tensor:
        x = x.to(self.device)
        if self.optimize:
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            y = forward_padded(self.model, x, self.info.size_multiple, self.precision, lights)
            return y.cpu().contiguous()
        except torch.cuda.OutOfMemoryError:
            if self.tile:
                raise  # run_tiled halves the tile and retries
            torch.cuda.empty_cache()
            raise RelightError(
                f"out of GPU memory at {x.shape[-1]}x{x.shape[-2]}; use --tile 512 or --max-side 1024"
            ) from None

    def relight(
        self,
        src: np.ndarray,
        src_depth: np.ndarray,
        guide: np.ndarray,
        guide_depth: np.ndarray,
        *,
        source_setting: Setting | None = None,
        target_setting: Setting | None = None,
        lights: Lights | None = None,
    ) -> np.ndarray:
        """Relight one image; arrays as in `make_input`; returns float32 ``(H, W, 3)`` in [0, 1].

        ``source_setting``/``target_setting``: the lights, when known exactly (``relight apply --light``), for
        a model told the lights (`told_light`); what is not given it reads from the photos. ``lights``: codes or
        direction probabilities given as `run` takes them (``(1, 13)`` or ``(1, 8)``; a setting given wins).
        Other models ignore them.

        A source larger than the working size (``max_side``, by default `default_max_side`) is relit at that size
        and the result carried to full resolution (`largeimage.upsample_relighting`); with ``tile``, or when the
        memory check asks for it, larger inputs run in overlapping tiles (`plan` decides).
        """
        h, w = src.shape[:2]
        size, tile = self.plan(h, w)
        lights = dict(lights or {})
        for side, setting in (("source", source_setting), ("target", target_setting)):
            if setting is not None:  # a setting gives its own direction to the same-direction weight too
                lights[f"{side}_light"] = settings_code([setting])
                lights.pop(f"{side}_direction", None)
        if size != (h, w):
            small_src, small_depth = resize(src, size), resize(src_depth, size)
            out_small = self._relight_at_size(small_src, small_depth, guide, guide_depth, tile, lights)
            return upsample_relighting(src, small_src, out_small)
        return self._relight_at_size(src, src_depth, guide, guide_depth, tile, lights)

    def plan(self, h: int, w: int) -> tuple[tuple[int, int], int | None]:
        """``((height, width), tile)`` of the pass an ``h`` x ``w`` image gets: the working size (the image's own
        for full resolution) and the tile side (None: whole), after the memory check."""
        longer, tile = max(h, w), self.tile
        side = self.default_max_side if self.max_side is None else self.max_side
        size = working_size(h, w, side) if side and longer > side else (h, w)
        if self.max_side is None and size != (h, w) and not self._said_working_size:
            self._said_working_size = True
            self._say(
                f"{w}x{h} is relit at {size[1]}x{size[0]} and carried to full resolution "
                "(--full-res relights every pixel)"
            )
        if tile or not self.memory_check or size[0] * size[1] <= CHECK_ABOVE_PIXELS:
            return size, tile
        model = self.memory_model()
        if model is None:
            return size, tile
        budget = HEADROOM * available_bytes(self.device)
        if model.peak(*size) <= budget:
            return size, tile
        fits = model.largest_side(budget) // 32 * 32
        gib = f"{model.peak(*size) / 2**30:.1f} GB"
        room = f"{budget / 2**30:.1f} GB"
        if fits < 128:
            raise RelightError(
                f"a {size[1]}x{size[0]} pass needs about {gib} and {room} is free on {self.device}; "
                + ("use --device cpu" if self.device.type == "cuda" else "close other programs and retry")
            )
        if size == (h, w):  # a full-resolution pass keeps its resolution, in tiles
            self._say(f"a {size[1]}x{size[0]} pass needs about {gib}, {room} is free: running it in {fits}px tiles")
            return size, fits
        smaller = working_size(h, w, fits)
        self._say(
            f"a {size[1]}x{size[0]} pass needs about {gib}, {room} is free: relit at {smaller[1]}x{smaller[0]} "
            "instead (--full-res runs every pixel, in tiles)"
        )
        return smaller, tile

    def memory_model(self) -> MemoryModel | None:
        """This model's `memory.MemoryModel` on its device and precision, fitted once (None where the peak cannot
        be measured, or with ``compile``, whose new sizes would recompile)."""
        if self._memory is False:
            self._memory = None
            if not self.compile:
                steps, self._steps = self._steps, (0, 0)  # probes are not the image's passes
                rng = np.random.default_rng(0)

                def relight_at(h: int, w: int) -> None:  # the whole pass: input stack, ensemble, output
                    rgb, depth = rng.random((h, w, 3), dtype=np.float32), rng.random((h, w), dtype=np.float32)
                    self._relight_at_size(rgb, depth, rgb, depth)

                self._memory = fit_memory_model(relight_at, self.device)
                self._steps = steps
        return self._memory

    def _relight_at_size(
        self,
        src: np.ndarray,
        src_depth: np.ndarray,
        guide: np.ndarray,
        guide_depth: np.ndarray,
        tile: int | None = None,
        lights: Lights | None = None,
    ) -> np.ndarray:
        x = make_input(src, src_depth, guide, guide_depth)
        lights = self.complete_lights(x, lights)  # read once on the whole image, then told to every tile
        self.last_lights = lights
        passes = 2 if self.flip_ensemble else 1
        h, w = x.shape[-2:]
        if tile and max(h, w) > tile:
            self._steps = (0, passes * tiles_needed(h, w, tile, self.tile_overlap))
            y = run_tiled(partial(self.run, lights=lights), x, tile, self.tile_overlap, on_retry=self._say_retry)
        else:
            self._steps = (0, passes)
            y = self.run(x, lights)
        self._steps = (0, 0)
        return y[0].permute(1, 2, 0).numpy()

    def _say(self, message: str | None) -> None:
        if message and self.on_message:
            self.on_message(message)

    def _say_retry(self, tile: int) -> None:
        self._say(f"out of GPU memory: retrying with {tile}px tiles")
