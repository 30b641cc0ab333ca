"""Model registry in the style of timm: ``@register_model`` factories, ``create_model``, ``list_models``.

Each registered factory declares what the inference engine must know about its model (a `ModelInfo`):
the input size multiple, whether half precision is safe, the output range and whether it returns several
outputs. Every model takes one ``(B, 8, H, W)`` tensor (source RGB, guide RGB, source depth, guide depth,
in [0, 1]) and returns ``(B, 3, H, W)`` or a list whose first element is the final image.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..errors import RelightError

IN_CHANNELS = 8
"""Source RGB (3) + guide RGB (3) + source depth (1) + guide depth (1)."""


@dataclass(frozen=True)
class ModelInfo:
    """What inference needs to know about a registered model.

    Attributes:
        name: Registry name (the factory function's name).
        size_multiple: Height and width must be multiples of this; the engine pads and crops back.
        fp16_safe: Whether fp16 autocast keeps outputs finite and accurate.
        bf16_safe: Whether bf16 autocast is accurate enough for inference.
        output_range: Range of the raw forward output; the engine clamps to [0, 1] when saving.
        multi_output: Whether forward returns a list (final image first).
        int8_safe: Whether static int8 quantization (`relightcli.inference.quantize`) was measured to stay
            >= 40 dB PSNR from fp32 and to run faster, so ``--precision auto`` may pick it on CPUs without native bf16.
        int8_fp32: Top-level children that int8 quantization leaves in fp32 (e.g. a small head feeding exp).
        paper: The publication the architecture follows.
        description: One line for ``relight models``.
        task: ``"relight"`` (the 8-channel contract above) or ``"light"`` (an RGB image in, light logits out:
            `relightcli.light`).
        told_light: Whether forward also takes ``source_light``/``target_light`` codes
            (`relightcli.models.lightcode`), each optional: what is not given the model reads from the photos.
        unrecorded: ``(option, value)`` pairs: the value an option had in checkpoints written before the
            option was recorded (or existed); `relightcli.checkpoint.stored_model_args` fills them in.
    """

    name: str
    size_multiple: int
    fp16_safe: bool = True
    bf16_safe: bool = True
    output_range: tuple[float, float] = (0.0, 1.0)
    multi_output: bool = False
    paper: str = ""
    description: str = ""
    int8_safe: bool = False
    int8_fp32: tuple[str, ...] = ()
    task: str = "relight"
    told_light: bool = False
    unrecorded: tuple[tuple[str, Any], ...] = ()


TASKS = ("relight", "light")

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}
_INFOS: dict[str, ModelInfo] = {}


def register_model(
    *,
    size_multiple: int,
    fp16_safe: bool = True,
    bf16_safe: bool = True,
    output_range: tuple[float, float] = (0.0, 1.0),
    multi_output: bool = False,
    paper: str = "",
    int8_safe: bool = False,
    int8_fp32: tuple[str, ...] = (),
    task: str = "relight",
    told_light: bool = False,
    unrecorded: dict[str, Any] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory under its function name; the docstring's first line becomes its description."""

    if task not in TASKS:
        raise ValueError(f"task {task!r}: one of {TASKS}")

    def decorate(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__
        if name in _FACTORIES:
            raise ValueError(f"model {name!r} is already registered")
        doc = inspect.getdoc(fn) or ""
        _FACTORIES[name] = fn
        _INFOS[name] = ModelInfo(
            name=name,
            size_multiple=size_multiple,
            fp16_safe=fp16_safe,
            bf16_safe=bf16_safe,
            output_range=output_range,
            multi_output=multi_output,
            paper=paper,
            description=doc.splitlines()[0] if doc else "",
            int8_safe=int8_safe,
            int8_fp32=int8_fp32,
            task=task,
            told_light=told_light,
            unrecorded=tuple((unrecorded or {}).items()),
        )
        return fn

    return decorate


def list_models(pattern: str = "*", task: str | None = "relight") -> list[str]:
    """Names of registered models matching a shell-style ``pattern``, sorted: relighting models by default,
    ``task="light"`` the light estimators, ``task=None`` all."""
    return sorted(n for n in _FACTORIES if fnmatch.fnmatch(n, pattern) and task in (None, _INFOS[n].task))


def model_info(name: str) -> ModelInfo:
    """The `ModelInfo` of a registered model; `RelightError` naming the choices if unknown."""
    if name not in _INFOS:
        raise RelightError(f"unknown model {name!r}; registered models: {', '.join(list_models(task=None))}")
    return _INFOS[name]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model by name, with keyword overrides of its factory's defaults.

    The returned module carries ``relight_info`` (its `ModelInfo`) and ``relight_args`` (the overrides,
    JSON-serialisable, plus any option the factory settled from its starting weights, listed in the module's
    ``relight_settled_args``) so that a checkpoint can rebuild it without being told.

    Example:
        >>> model = create_model("s3net_res2net50d")
        >>> model(torch.rand(1, 8, 64, 64)).shape
        torch.Size([1, 3, 64, 64])
    """
    info = model_info(name)
    factory = _FACTORIES[name]
    params = inspect.signature(factory).parameters
    unknown = [k for k in overrides if k not in params]
    if unknown:
        allowed = ", ".join(p for p in params if p != "kwargs")
        raise RelightError(f"model {name!r} has no option {', '.join(unknown)}; its options: {allowed}")
    model = factory(**overrides)
    model.relight_info = info
    model.relight_args = {k: v for k, v in overrides.items() if k not in _BUILD_ONLY_ARGS}
    # an option a factory settled itself (a default that depends on the starting weights) is recorded as settled
    model.relight_args.update(getattr(model, "relight_settled_args", {}))
    return model


_BUILD_ONLY_ARGS = frozenset({"pretrained_backbone", "light_weights", "gate_weights"})
"""Options that affect how a model is initialised, not its architecture; never stored in checkpoints."""


def factory_defaults(name: str) -> dict[str, Any]:
    """The keyword defaults of a registered factory (JSON-ready: tuples as lists), e.g. to record every option
    of a model in its checkpoint rather than only the overridden ones."""
    model_info(name)
    params = inspect.signature(_FACTORIES[name]).parameters.values()
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in params
        if p.default is not inspect.Parameter.empty and p.name not in _BUILD_ONLY_ARGS
    }
