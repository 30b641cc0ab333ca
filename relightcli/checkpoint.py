"""Safetensors checkpoints that carry their own architecture, and where weights come from.

A checkpoint's metadata names the registry model and its constructor arguments, so `load_model` rebuilds the
right architecture without being told. Weights are a local path or ``hf://owner/repo/path.safetensors``
(optionally ``hf://owner/repo@revision/path``), fetched with huggingface_hub into its cache and honouring
``HF_HUB_OFFLINE``. Nothing here unpickles: foreign pickles go through `relightcli.convert`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from . import __version__
from .atomic import atomic_write_bytes
from .errors import RelightError
from .hub import cached_file, hub_reachable
from .models import create_model, list_models, model_info

FORMAT = "relightcli"
FORMAT_VERSION = "1"
_KEY_FORMAT = "format"
_KEY_VERSION = "format_version"
MODEL_KEY = "model"  # metadata entry naming the registry model
MODEL_ARGS_KEY = "model_args"  # metadata entry: the constructor options, JSON
INFERENCE_KEY = "inference"  # metadata entry: how the weights are meant to run (JSON), e.g. {"flip_ensemble": true}


def valid_max_side(value: object) -> bool:
    """Whether ``value`` is a working size (`Relighter.max_side`): 0 (every pixel) or at least 16 pixels."""
    return isinstance(value, int) and not isinstance(value, bool) and (value == 0 or value >= 16)


INFERENCE_OPTIONS = {
    "flip_ensemble": lambda value: isinstance(value, bool),
    "max_side": valid_max_side,
}
"""The inference defaults a checkpoint may record (`relight export --flip-ensemble`, ``--max-side``), each with
its check: whether to average with the mirrored pass (true/false), and the working size for larger images
(pixels, 0: every pixel). `Relighter` follows them unless told otherwise."""


def save_checkpoint(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Save a registry model's weights and architecture as safetensors, atomically.

    Args:
        model: A module made by `create_model` (it carries ``relight_info`` and ``relight_args``).
        path: Target ``.safetensors`` file.
        dtype: Store floating tensors in this dtype (e.g. ``torch.float16`` to halve the file).
        metadata: Extra string entries (training recipe, metrics) stored alongside.
    """
    info = getattr(model, "relight_info", None)
    if info is None:
        raise RelightError("save_checkpoint needs a model made by relightcli.create_model")
    model = getattr(model, "module", model)  # DistributedDataParallel
    own = model.state_dict()
    canonical = _canonical_names(own)
    tensors = {}
    for k, v in own.items():
        if k not in canonical:
            continue  # an alias of a shared parameter (e.g. MPRNet's single PReLU): stored once
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    meta = dict(metadata or {})
    meta.update(
        {
            _KEY_FORMAT: FORMAT,
            _KEY_VERSION: FORMAT_VERSION,
            MODEL_KEY: info.name,
            MODEL_ARGS_KEY: json.dumps(model.relight_args, sort_keys=True),
            "relightcli_version": __version__,
        }
    )
    atomic_write_bytes(path, _canonical_header(save(tensors, metadata=meta)))
    return Path(path)


def _canonical_header(blob: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted, so equal weights and metadata give
    byte-identical files (safetensors writes the metadata in hash-map order, which changes from run to run).
    The header keeps its length (padded with spaces, as the format allows), so the data offsets stay valid."""
    n = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    if len(header) > n:  # cannot happen for a re-serialisation of the same content; keep the original then
        return blob
    return blob[:8] + header + b" " * (n - len(header)) + blob[8 + n :]


def parse_hf_uri(uri: str) -> tuple[str, str, str | None]:
    """Split ``hf://owner/repo[@revision]/path/in/repo`` into ``(repo_id, filename, revision)``."""
    parts = uri[len("hf://") :].split("/")
    if len(parts) < 3 or not all(parts):
        raise RelightError(f"{uri}: expected hf://owner/repo/file.safetensors")
    repo, _, revision = parts[1].partition("@")
    return f"{parts[0]}/{repo}", "/".join(parts[2:]), revision or None


def resolve_weights(spec: str | os.PathLike[str]) -> Path:
    """A local file for ``spec``: a path as it is, or an ``hf://`` file downloaded to (or found in) the cache."""
    spec = str(spec)
    if not spec.startswith("hf://"):
        p = Path(spec)
        if not p.is_file():
            raise RelightError(f"{p}: weights file not found" if not p.exists() else f"{p}: not a file")
        return p
    repo_id, filename, revision = parse_hf_uri(spec)
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its retry warnings would bury our one-line error
    try:
        # the cache first; online only when the hub answers at once (no retries with backoff on a dead network)
        local_only = cached_file(repo_id, filename, revision) is not None or not hub_reachable()
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, revision=revision, local_files_only=local_only))
    except LocalEntryNotFoundError as exc:
        if constants.HF_HUB_OFFLINE:
            raise RelightError(
                f"{spec}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                "download it once online (unset HF_HUB_OFFLINE) or pass a local file"
            ) from exc
        raise RelightError(
            f"{spec}: cannot reach the Hugging Face hub and the file is not cached; "
            "check the network or pass a local file"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise RelightError(f"{spec}: no such repository on the hub (or it is private: run `hf auth login`)") from exc
    except RevisionNotFoundError as exc:
        raise RelightError(f"{spec}: no such revision {revision!r} in {repo_id}") from exc
    except EntryNotFoundError as exc:
        raise RelightError(f"{spec}: {repo_id} has no file {filename!r}") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise RelightError(f"{spec}: download failed ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc


def read_checkpoint(
    path: str | os.PathLike[str], *, tensors: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors (none with ``tensors=False``: the metadata alone, without reading the weights) and metadata
    of a safetensors file; `RelightError` if it is not one (truncated, a pickle...)."""
    p = Path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}  # noqa: SIM118 (no __iter__)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RelightError(
            f"{p}: not a readable safetensors checkpoint ({str(exc).splitlines()[0]}); "
            "official .pth/.pkl files must first go through `relight convert`"
        ) from exc
    return state, meta


def _alias_groups(own: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """For every state-dict name, the names of the same shared tensor (itself first if unshared)."""
    by_storage: dict[tuple[int, int], list[str]] = {}
    for k, v in own.items():
        key = (v.data_ptr(), v.numel()) if v.numel() and v.device.type != "meta" else (id(v), 0)
        by_storage.setdefault(key, []).append(k)
    return {k: names for names in by_storage.values() for k in names}


def _canonical_names(own: dict[str, torch.Tensor]) -> set[str]:
    return {names[0] for names in _alias_groups(own).values()}


def load_state_dict_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` requiring exactly the same names and shapes, with a readable error.

    A parameter shared under several names (MPRNet's PReLU) needs to be present under one of them.
    """
    own = model.state_dict()
    aliases = _alias_groups(own)
    missing = [k for k in own if not any(a in state for a in aliases[k])]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        name = model.relight_info.name if hasattr(model, "relight_info") else type(model).__name__
        problems = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if keys:
                shown = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")
                problems.append(f"{len(keys)} {label} ({shown})")
        raise RelightError(f"{source}: weights do not fit model {name!r}: {'; '.join(problems)}")
    with torch.no_grad():
        for k, v in own.items():
            src = state[k] if k in state else state[next(a for a in aliases[k] if a in state)]
            v.copy_(src.to(v.dtype))


def stored_model_args(meta: dict[str, str], source: str) -> dict[str, Any]:
    """The constructor options a relightcli checkpoint's metadata records (``{}`` when it records none), with
    the values its model's options had before they were recorded (`ModelInfo.unrecorded`) where it lacks them."""
    try:
        args = json.loads(meta.get(MODEL_ARGS_KEY, "{}"))
    except json.JSONDecodeError as exc:
        raise RelightError(f"{source}: corrupt model_args metadata ({exc})") from exc
    name = meta.get(MODEL_KEY)
    if isinstance(args, dict) and name in list_models(task=None):
        args = {**dict(model_info(name).unrecorded), **args}
    return args


def require_same_args(
    meta: dict[str, str], name: str, wanted: dict[str, Any], source: str, free: Sequence[str] = ()
) -> None:
    """Refuse a checkpoint (``--init``) whose recorded constructor options differ from ``wanted``; both are
    completed with the registry model ``name``'s defaults first, so an option left out equals its default.
    Options named in ``free`` (ones that change no weight, such as a working size) may differ."""
    if MODEL_ARGS_KEY not in meta:
        return
    from .models._registry import factory_defaults

    stored = stored_model_args(meta, source)
    defaults = factory_defaults(name)

    def settled(args: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in json.loads(json.dumps({**defaults, **args})).items() if k not in free}

    if settled(stored) != settled(wanted):
        raise RelightError(
            f"{source}: built with --model-args {json.dumps(stored, sort_keys=True)}, not the "
            f"{json.dumps(wanted, sort_keys=True)} being trained; pass the same"
        )


def stored_inference(meta: dict[str, str], source: str) -> dict[str, bool | int]:
    """The inference defaults a checkpoint's metadata records (``{}`` when it records none)."""
    try:
        options = json.loads(meta.get(INFERENCE_KEY, "{}"))
    except json.JSONDecodeError as exc:
        raise RelightError(f"{source}: corrupt inference metadata ({exc}); re-export the checkpoint") from exc
    if not isinstance(options, dict) or not all(
        k in INFERENCE_OPTIONS and INFERENCE_OPTIONS[k](v) for k, v in options.items()
    ):
        raise RelightError(
            f"{source}: inference metadata {meta[INFERENCE_KEY]!r} is not understood (known: flip_ensemble true or "
            "false, max_side 0 or at least 16); upgrade relightcli or re-export the checkpoint"
        )
    return options


def load_model(
    weights: str | os.PathLike[str],
    *,
    model: str | None = None,
    model_args: dict[str, Any] | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Rebuild a model from a checkpoint, in eval mode with float32 weights on ``device``.

    Args:
        weights: A local ``.safetensors`` path or an ``hf://owner/repo/file.safetensors`` URI.
        model: Registry name; required only for checkpoints without relightcli metadata, and otherwise must
            agree with the checkpoint's.
        model_args: Constructor arguments for such foreign checkpoints.
        device: Where to put the model.
    """
    path = resolve_weights(weights)
    state, meta = read_checkpoint(path)
    stored = meta.get(MODEL_KEY)
    if meta.get(_KEY_FORMAT) == FORMAT:
        if meta.get(_KEY_VERSION) != FORMAT_VERSION:
            raise RelightError(
                f"{weights}: checkpoint format version {meta.get(_KEY_VERSION)} is not supported by "
                f"relightcli {__version__} (expects {FORMAT_VERSION}); upgrade relightcli"
            )
        if model is not None and model != stored:
            raise RelightError(f"{weights}: checkpoint holds model {stored!r}, not {model!r}; drop --model")
        model_info(stored)  # unknown registry name -> RelightError
        args = stored_model_args(meta, str(weights))
        name = stored
    elif model is None:
        raise RelightError(f"{weights}: checkpoint has no relightcli metadata; say which architecture with --model")
    else:
        name, args = model, dict(model_args or {})
    net = build_for_weights(name, args)
    load_state_dict_strict(net, state, str(weights))
    net.relight_weights = str(weights)
    net.relight_inference = stored_inference(meta, str(weights))
    return net.eval().to(device)


def build_for_weights(name: str, args: dict[str, Any]) -> nn.Module:
    """The registry model ``name`` built with ``args`` to receive a checkpoint's weights: a light-aware
    relighter is built without loading the shipped light estimator (its checkpoint carries its own reader, and
    the reader's options are then only those the checkpoint records)."""
    build = {"light_weights": None, "gate_weights": None} if model_info(name).told_light else {}
    return create_model(name, **args, **build)


def rebuild(model: nn.Module, weights: dict[str, torch.Tensor] | None = None, **changes: Any) -> nn.Module:
    """The same model with its constructor options changed (options that leave its weights' shapes alone, such
    as ``gate_sharpness`` or ``reader_size``), carrying its weights and inference defaults. ``weights``: those of
    modules the change adds (a gate reader's, ``gate_reader.*``), or replaces."""
    rebuilt = build_for_weights(model.relight_info.name, {**model.relight_args, **changes})
    rebuilt.load_state_dict({**model.state_dict(), **(weights or {})})
    rebuilt.relight_inference = dict(getattr(model, "relight_inference", {}))
    if hasattr(model, "relight_weights"):
        rebuilt.relight_weights = model.relight_weights
    return rebuilt.to(next(model.parameters()).device).train(model.training)


def average_checkpoints(weights: Sequence[str | os.PathLike[str]]) -> nn.Module:
    """The uniform average of several checkpoints of one model, as a model in eval mode.

    The mean of stochastic weight averaging (Izmailov et al., UAI 2018), taken over checkpoints of one run:
    floating tensors (BatchNorm's running statistics too) are averaged in float64 and stored in their own
    dtype; integer buffers (BatchNorm's batch counts) come from the last checkpoint. Every checkpoint must hold
    the same registry model with the same constructor options.
    """
    if len(weights) < 2:
        raise RelightError("averaging needs at least two checkpoints")
    models = [load_model(w) for w in weights]
    first = models[0]
    for w, m in zip(weights[1:], models[1:], strict=True):
        if (m.relight_info.name, m.relight_args) != (first.relight_info.name, first.relight_args):
            raise RelightError(
                f"{w}: holds {m.relight_info.name} {json.dumps(m.relight_args, sort_keys=True)}, not "
                f"{first.relight_info.name} {json.dumps(first.relight_args, sort_keys=True)} as {weights[0]} does; "
                "average checkpoints of one model"
            )
    states = [m.state_dict() for m in models]
    mean = {}
    for k, v in states[0].items():
        if v.is_floating_point():
            mean[k] = (sum(s[k].double() for s in states) / len(states)).to(v.dtype)
        else:
            mean[k] = states[-1][k]
    first.load_state_dict(mean)
    del first.relight_weights  # no single file holds these weights
    return first
