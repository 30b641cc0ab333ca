"""Convolution + pointwise fusion for CPU inference (oneDNN post-ops, as PyTorch Inductor's CPU backend does).

On a CPU a convolution followed by ReLU, LeakyReLU, tanh or sigmoid, or by a residual add (and then ReLU), costs
one more pass over memory per pointwise op. oneDNN applies those ops to each output tile while it is still in
cache (``torch.ops.mkldnn._convolution_pointwise``). `fuse_conv_pointwise` traces a module with ``torch.fx``
and replaces each such chain with a `FusedConv`; a fused convolution that meets an input it cannot take (not on
the CPU, an unsupported dtype, a residual of another shape) runs the plain ops instead. Exact in fp32 up to
rounding (the tests compare with the plain model); in bf16 the add happens before the output is rounded.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

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
    """Whether this PyTorch build has oneDNN's fused convolution."""
    mkldnn = torch.ops.mkldnn
    return torch.backends.mkldnn.is_available() and hasattr(mkldnn, "_convolution_pointwise")


class FusedConv(nn.Module):
    """``act(conv(x) [+ residual])`` in one oneDNN call on CPUs; the plain ops elsewhere.

    Args:
        conv: A zero-padded ``nn.Conv2d`` (its parameters are shared, not copied).
        act: ``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"`` or ``None``.
        slope: LeakyReLU's negative slope.
        residual: Whether ``forward`` takes a tensor added to the convolution's output before ``act``
            (only ``None`` or ``"relu"`` may follow an add: oneDNN's binary fusion).
    """

    def __init__(self, conv: nn.Conv2d, act: str | None, slope: float = 0.01, residual: bool = False) -> None:
        super().__init__()
        if residual and act not in (None, "relu"):
            raise ValueError(f"oneDNN fuses only ReLU after a residual add, not {act!r}")
        self.conv, self.act, self.slope, self.residual = conv, act, slope, residual

    def extra_repr(self) -> str:
        return f"act={self.act}, residual={self.residual}"

    def _eager(self, x: torch.Tensor, residual: torch.Tensor | None) -> torch.Tensor:
        y = self.conv(x)
        if residual is not None:
            y = y + residual
        if self.act == "leaky_relu":
            return F.leaky_relu(y, self.slope)
        return _EAGER[self.act](y) if self.act else y

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        c = self.conv
        w, b = c.weight, c.bias
        if (
            x.device.type != "cpu"
            or x.dtype not in (torch.float32, torch.bfloat16)
            or w.dtype != x.dtype
            or x.dim() != 4
            or torch.is_grad_enabled()
            or torch.is_autocast_enabled("cpu")  # autocast decides the dtype per op: leave it the plain ops
        ):
            return self._eager(x, residual)
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
        type(mod) is nn.Conv2d
        and mod.padding_mode == "zeros"
        and not isinstance(mod.padding, str)
        and len(node.users) == 1
        and len(node.args) == 1
        and not node.kwargs
    )
    return mod if ok else None


def fuse_graph(gm: fx.GraphModule) -> int:
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
            name, FusedConv(conv, act[0] if act else None, act[1] if act else 0.01, residual=residual is not None)
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


def fuse_conv_pointwise(model: nn.Module) -> int:
    """Fuse convolution + pointwise chains in each top-level child of ``model`` (in place); the count fused.

    A child that ``torch.fx`` cannot trace (data-dependent control flow) is searched one level further down;
    one that still cannot be traced is left as it is.
    """
    if not available():
        return 0
    return _fuse_children(model, depth=2)


def _fuse_children(parent: nn.Module, depth: int) -> int:
    fused = 0
    for name, child in list(parent.named_children()):
        if not any(isinstance(m, nn.Conv2d) for m in child.modules()):
            continue
        gm = child if isinstance(child, fx.GraphModule) else None
        if gm is None:
            with contextlib.suppress(Exception):  # untraceable control flow
                gm = fx.symbolic_trace(child)
        if gm is not None:
            n = fuse_graph(gm)
            if n and gm is not child:
                setattr(parent, name, gm)
            fused += n
        elif depth > 1:
            fused += _fuse_children(child, depth - 1)
    return fused
