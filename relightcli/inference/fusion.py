"""Convolution + pointwise fusion for CPU inference (oneDNN post-ops, as PyTorch Inductor's CPU backend does).

On a CPU a convolution followed by ReLU, LeakyReLU, tanh or sigmoid, or by a residual add (and then ReLU), costs
one more pass over memory per pointwise op. oneDNN applies those ops to each output tile while it is still in
cache (``torch.ops.mkldnn._convolution_pointwise``). `fuse_conv_pointwise` traces a module with ``torch.fx``
and replaces each such chain with a `FusedConv`; each remaining convolution becomes a `PrepackedConv2d`. Both
hand oneDNN their weight reordered once into oneDNN's blocked layout for the input shape they meet
(``torch.ops.mkldnn._reorder_convolution_weight``, the prepacking Inductor's freezing does) instead of having it
reordered at every call: S3Net's fused bf16 pass at 1024x1024 ran 1.02-1.06x faster (`benchmarks/cpu_fast_path.py`,
two runs), with bit-identical outputs there. A fused convolution that meets an input it cannot take (not on the
CPU, an unsupported dtype, a residual of another shape) runs the plain ops instead. Exact in fp32 up to rounding
(the tests compare with the plain model); in bf16 the add happens before the output is rounded.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..errors import first_line, notice_once
from ..hardware import cpu_capabilities

_ACTIVATION_MODULES: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
}
_ACTIVATION_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    torch.relu_: "relu",
    F.leaky_relu: "leaky_relu",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
}
_ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "tanh_": "tanh", "sigmoid": "sigmoid"}
_ADDS = (operator.add, operator.iadd, torch.add)
_EAGER: dict[str, Callable[..., torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def available() -> bool:
    """Whether this PyTorch build has oneDNN's fused convolution and this CPU runs it (`relightcli.hardware`)."""
    mkldnn = torch.ops.mkldnn
    return cpu_capabilities().onednn and hasattr(mkldnn, "_convolution_pointwise")


def _zero_padded(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` pads with zeros by a number of pixels: the padding oneDNN's convolution applies itself."""
    return conv.padding_mode == "zeros" and not isinstance(conv.padding, str)


def _onednn_can_run(x: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether oneDNN's convolution takes ``x`` with weight ``w`` as they are: CPU inference in fp32, or in bf16
    where the CPU runs oneDNN's bf16 kernels (`relightcli.hardware.CpuCapabilities.onednn_bf16`)."""
    return (
        x.device.type == "cpu"
        and (x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and cpu_capabilities().onednn_bf16))
        and w.dtype == x.dtype
        and x.dim() == 4
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")  # autocast decides the dtype per op: leave it the plain ops
    )


_REORDER = getattr(torch.ops.mkldnn, "_reorder_convolution_weight", None)  # looked up once, not per call


class _PackedWeight:
    """A convolution's weight reordered into oneDNN's blocked layout for one input shape
    (``torch.ops.mkldnn._reorder_convolution_weight``, what Inductor's freezing prepacks): made at the first
    call with that shape and kept for the latest shape; a new shape, dtype or weight (also an in-place update,
    e.g. ``load_state_dict``) reorders again. Copies and pickles start empty."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.key: tuple | None = None
        self.packed: torch.Tensor | None = None

    def __getstate__(self) -> dict:
        return {"enabled": self.enabled, "key": None, "packed": None}

    def get(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        w = conv.weight
        reorder = _REORDER
        if reorder is None or not self.enabled:  # (an older PyTorch): oneDNN reorders at each call
            return w
        try:
            version = w._version
        except RuntimeError:  # a weight made under inference_mode has no version counter
            version = None
        key = (tuple(x.shape), x.dtype, w.data_ptr(), version)
        if self.key != key:
            geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
            try:
                self.packed, self.key = reorder(w, *geometry, list(x.shape)), key
            except RuntimeError as exc:  # a CPU or dtype this oneDNN build cannot prepack: reorder at each call
                self.enabled, self.key, self.packed = False, None, None
                notice_once(f"note: convolution weights not prepacked on this CPU ({first_line(exc, 160)}); slower")
                return w
        return self.packed


def _fallback(module: nn.Module, exc: RuntimeError) -> None:
    """Turn ``module``'s oneDNN call off after it failed on this CPU, and say so once."""
    module._onednn_failed = True
    notice_once(f"note: fused oneDNN convolutions failed on this CPU ({first_line(exc, 160)}); using the plain ops")


class PrepackedConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that on CPU inference (fp32 or bf16, no autocast) hands oneDNN its prepacked weight
    (`_PackedWeight`); elsewhere it is the plain convolution. The same as ``nn.Conv2d`` up to rounding (oneDNN
    may pick another kernel for the packed layout)."""

    @classmethod
    def sharing(cls, conv: nn.Conv2d) -> PrepackedConv2d:
        """A `PrepackedConv2d` with ``conv``'s hyperparameters and its very parameters (not copies); ``conv``
        must be zero-padded with numeric padding (what oneDNN's convolution takes)."""
        if not _zero_padded(conv):
            raise ValueError(f"prepacking needs a zero-padded convolution with numeric padding, not {conv}")
        new = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            device="meta",
        )
        new.weight, new.bias = conv.weight, conv.bias
        return new.train(conv.training)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pack = _PackedWeight()

    _onednn_failed = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._onednn_failed or not _onednn_can_run(x, self.weight):
            return super().forward(x)
        args = (list(self.padding), list(self.stride), list(self.dilation), self.groups)
        try:
            return torch.ops.mkldnn._convolution_pointwise(x, self._pack.get(self, x), self.bias, *args, "none", [], "")
        except RuntimeError as exc:
            _fallback(self, exc)
            return super().forward(x)


class FusedConv(nn.Module):
    """``act(conv(x) [+ residual])`` in one oneDNN call on CPUs, on prepacked weights; the plain ops elsewhere.

    Args:
        conv: A zero-padded ``nn.Conv2d`` (its parameters are shared, not copied).
        act: ``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"`` or ``None``.
        slope: LeakyReLU's negative slope.
        residual: Whether ``forward`` takes a tensor added to the convolution's output before ``act``
            (only ``None`` or ``"relu"`` may follow an add: oneDNN's binary fusion).
        prepack: Whether to hand oneDNN the weight prepacked (`_PackedWeight`); False to measure without.
    """

    def __init__(
        self, conv: nn.Conv2d, act: str | None, slope: float = 0.01, residual: bool = False, prepack: bool = True
    ) -> None:
        super().__init__()
        if residual and act not in (None, "relu"):
            raise ValueError(f"oneDNN fuses only ReLU after a residual add, not {act!r}")
        self.conv, self.act, self.slope, self.residual = conv, act, slope, residual
        self._pack = _PackedWeight(prepack)

    def extra_repr(self) -> str:
        return f"act={self.act}, residual={self.residual}"

    def _eager(self, x: torch.Tensor, residual: torch.Tensor | None) -> torch.Tensor:
        y = self.conv(x)
        if residual is not None:
            y = y + residual
        if self.act == "leaky_relu":
            return F.leaky_relu(y, self.slope)
        return _EAGER[self.act](y) if self.act else y

    _onednn_failed = False

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if self._onednn_failed or not _onednn_can_run(x, self.conv.weight):
            return self._eager(x, residual)
        try:
            return self._onednn(x, residual)
        except RuntimeError as exc:
            _fallback(self, exc)
            return self._eager(x, residual)

    def _onednn(self, x: torch.Tensor, residual: torch.Tensor | None) -> torch.Tensor:
        c = self.conv
        w, b = self._pack.get(c, x), c.bias
        args = (list(c.padding), list(c.stride), list(c.dilation), c.groups)
        if residual is None:
            attr = self.act or "none"
            scalars = [self.slope] if self.act == "leaky_relu" else []
            return torch.ops.mkldnn._convolution_pointwise(x, w, b, *args, attr, scalars, "")
        out_hw = [
            (s + 2 * p - d * (k - 1) - 1) // st + 1
            for s, p, d, k, st in zip(x.shape[-2:], c.padding, c.dilation, c.kernel_size, c.stride, strict=True)
        ]
        if list(residual.shape) != [x.shape[0], c.out_channels, *out_hw] or residual.dtype != x.dtype:
            return self._eager(x, residual)  # a broadcast add: oneDNN's binary post-op wants equal shapes
        return torch.ops.mkldnn._convolution_pointwise.binary(x, residual, w, b, *args, "add", None, self.act, [], "")


def _activation(gm: fx.GraphModule, node: fx.Node) -> tuple[str, float] | None:
    """``(name, slope)`` when ``node`` applies a fusable activation to its first argument only."""
    if node.op == "call_module":
        mod = gm.get_submodule(str(node.target))
        name = _ACTIVATION_MODULES.get(type(mod))
        return (name, float(getattr(mod, "negative_slope", 0.01))) if name else None
    if node.op == "call_function" and node.target in _ACTIVATION_FUNCTIONS:
        name = _ACTIVATION_FUNCTIONS[node.target]
        extra = list(node.args[1:]) + [v for k, v in node.kwargs.items() if k != "inplace"]
        if name == "leaky_relu":
            slope = extra[0] if extra else node.kwargs.get("negative_slope", 0.01)
            return (name, float(slope)) if isinstance(slope, (int, float)) and len(extra) <= 1 else None
        return (name, 0.01) if not extra else None
    if node.op == "call_method" and node.target in _ACTIVATION_METHODS and len(node.args) == 1 and not node.kwargs:
        return _ACTIVATION_METHODS[str(node.target)], 0.01
    return None


def _fusable_conv(gm: fx.GraphModule, node: fx.Node) -> nn.Conv2d | None:
    if node.op != "call_module":
        return None
    mod = gm.get_submodule(str(node.target))
    ok = (
        type(mod) in (nn.Conv2d, PrepackedConv2d)
        and _zero_padded(mod)
        and len(node.users) == 1
        and len(node.args) == 1
        and not node.kwargs
    )
    return mod if ok else None


def fuse_graph(gm: fx.GraphModule, prepack: bool = True) -> int:
    """Rewrite conv -> activation and conv -> add [-> ReLU] chains of ``gm`` into `FusedConv`; the count."""
    fused = 0
    for node in list(gm.graph.nodes):
        conv = _fusable_conv(gm, node)
        if conv is None:
            continue
        user = next(iter(node.users))
        act, end, residual = _activation(gm, user), user, None
        is_add = user.op == "call_function" and user.target in _ADDS and len(user.args) == 2 and not user.kwargs
        if act is None and is_add and sum(a is node for a in user.args) == 1:
            residual = user.args[1] if user.args[0] is node else user.args[0]
            if not isinstance(residual, fx.Node):
                continue  # conv + a constant: leave it
            after = next(iter(user.users)) if len(user.users) == 1 else None
            relu = _activation(gm, after) if after is not None else None
            if relu is not None and relu[0] == "relu":
                act, end = relu, after
        if act is None and residual is None:
            continue
        name = f"{node.target}_fused{fused}".replace(".", "_")  # unique even when a conv is called twice
        gm.add_submodule(
            name,
            FusedConv(
                conv, act[0] if act else None, act[1] if act else 0.01, residual=residual is not None, prepack=prepack
            ),
        )
        with gm.graph.inserting_after(end):
            args = (node.args[0],) if residual is None else (node.args[0], residual)
            new = gm.graph.call_module(name, args)
        end.replace_all_uses_with(new)
        for dead in (end, user, node):
            if dead in gm.graph.nodes and not dead.users:
                gm.graph.erase_node(dead)
        fused += 1
    if fused:
        gm.graph.lint()
        gm.recompile()
    return fused


def fuse_conv_pointwise(model: nn.Module, prepack: bool = True) -> int:
    """Fuse convolution + pointwise chains in each top-level child of ``model`` and, with ``prepack``, hand
    oneDNN prepacked weights in those and in every other convolution (`prepack_convs`); in place. Returns the
    number of chains fused.

    A child that ``torch.fx`` cannot trace (data-dependent control flow) is searched one level further down;
    one that still cannot be traced is left as it is.
    """
    if not available():
        return 0
    fused = _fuse_children(model, depth=2, prepack=prepack)
    if prepack:
        prepack_convs(model)
    return fused


def prepack_convs(model: nn.Module) -> int:
    """Swap each plain zero-padded ``nn.Conv2d`` in ``model`` for a `PrepackedConv2d` sharing its parameters (in
    place); the count swapped. Convolutions inside `FusedConv` prepack on their own."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and _zero_padded(child):
                setattr(parent, name, PrepackedConv2d.sharing(child))  # others stay plain nn.Conv2d
                swapped += 1
    return swapped


def _fuse_children(parent: nn.Module, depth: int, prepack: bool) -> int:
    fused = 0
    for name, child in list(parent.named_children()):
        if not any(isinstance(m, nn.Conv2d) for m in child.modules()):
            continue
        gm = child if isinstance(child, fx.GraphModule) else None
        if gm is None:
            with contextlib.suppress(Exception):  # untraceable control flow
                gm = fx.symbolic_trace(child)
        if gm is not None:
            n = fuse_graph(gm, prepack)
            if n and gm is not child:
                setattr(parent, name, gm)
            fused += n
        elif depth > 1:
            fused += _fuse_children(child, depth - 1, prepack)
    return fused
