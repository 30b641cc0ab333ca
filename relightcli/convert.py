"""Converters from the officially released checkpoints to relightcli safetensors checkpoints.

Released pickles are read only through ``torch.load(weights_only=True)``: a pickle that holds anything but
tensors and plain containers is refused unexecuted. The usual wrappers are unwrapped (``state_dict``,
``model``, ``params``/``params_ema``; ``module.`` prefixes from DataParallel), names are mapped onto the
registry model, and the load is strict: a missing or unexpected tensor is an error that lists them.

- ``s3net-official``: the S3Net release's ``weight.pkl`` (``{"state_dict": ...}``, class ``Dehaze3``) onto
  ``s3net``; its unused ``enhancer.batch1`` InstanceNorm (200 parameters) is dropped.
- ``mprnet-official``: the MPRNet deblurring release (``model_deblurring.pth``, ``{"state_dict": ...}``) onto
  ``mprnet_deblur``. Its first convolutions see 3 channels; they are widened to the 8 relighting channels with
  zero weights for the guide and depths, so the converted model computes exactly the released deblurring
  network on the source RGB: a starting point for relighting fine-tuning, not a relighting model by itself.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from .checkpoint import load_state_dict_strict, save_checkpoint
from .errors import RelightError
from .models import IN_CHANNELS, create_model

_WRAPPERS = ("state_dict", "model", "params_ema", "params", "net")


def read_foreign_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A released checkpoint's tensors, unwrapped, through ``torch.load(weights_only=True)`` only."""
    p = Path(path)
    if not p.is_file():
        raise RelightError(f"{p}: checkpoint file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": not the user's concern
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(str(exc))
        if "Unsupported global" not in reason:
            raise RelightError(f"{p}: not a readable PyTorch checkpoint ({reason})") from exc
        raise RelightError(f"{p}: refusing to load: the pickle holds more than tensors ({reason})") from exc
    except Exception as exc:  # truncated or not a torch file at all
        raise RelightError(f"{p}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    while isinstance(obj, dict) and not _is_state_dict(obj):
        inner = next((obj[k] for k in _WRAPPERS if k in obj and isinstance(obj[k], dict)), None)
        if inner is None:
            raise RelightError(f"{p}: no state dict inside (top-level keys: {', '.join(map(str, list(obj)[:8]))})")
        obj = inner
    if not isinstance(obj, dict) or not obj:
        raise RelightError(f"{p}: expected a state dict of tensors, found {type(obj).__name__}")
    state = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise RelightError(f"{p}: entry {k!r} is a {type(v).__name__}, not a tensor")
        state[k.removeprefix("module.")] = v
    return state


def _unpickler_reason(message: str) -> str:
    """The specific line of torch's weights-only error (e.g. 'Unsupported global: GLOBAL os.system ...')."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("WeightsUnpickler error"):
            rest = line.partition(":")[2].strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            return rest.split(" Please use")[0] or "unknown pickle error"
    return lines[0] if lines else "unknown pickle error"


def _is_state_dict(d: dict) -> bool:
    return bool(d) and all(isinstance(v, torch.Tensor) for v in d.values())


def _s3net(state: dict[str, torch.Tensor]) -> tuple[str, dict, dict[str, torch.Tensor]]:
    state = {k: v for k, v in state.items() if not k.startswith("enhancer.batch1.")}
    return "s3net", {}, state


def _mprnet(state: dict[str, torch.Tensor]) -> tuple[str, dict, dict[str, torch.Tensor]]:
    state = dict(state)
    for i in (1, 2, 3):
        key = f"shallow_feat{i}.0.weight"
        w = state.get(key)
        if w is not None and w.ndim == 4 and w.shape[1] == 3:
            state[key] = torch.cat([w, w.new_zeros(w.shape[0], IN_CHANNELS - 3, *w.shape[2:])], dim=1)
    return "mprnet_deblur", {}, state


CONVERTERS: dict[str, Callable[[dict[str, torch.Tensor]], tuple[str, dict, dict[str, torch.Tensor]]]] = {
    "s3net-official": _s3net,
    "mprnet-official": _mprnet,
}


def convert_checkpoint(src: str | os.PathLike[str], out: str | os.PathLike[str], source_format: str) -> Path:
    """Convert a released checkpoint to a relightcli safetensors file that `load_model` rebuilds alone."""
    if source_format not in CONVERTERS:
        raise RelightError(f"--from {source_format!r}: expected one of {', '.join(CONVERTERS)}")
    if Path(out).suffix != ".safetensors":
        raise RelightError(f"{out}: the converted checkpoint must be a .safetensors file")
    name, args, state = CONVERTERS[source_format](read_foreign_state_dict(src))
    model = create_model(name, **args)
    load_state_dict_strict(model, state, str(src))
    return save_checkpoint(model, out, metadata={"converted_from": source_format, "source_file": Path(src).name})
