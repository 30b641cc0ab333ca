"""Safetensors checkpoints: exact round trips, metadata-driven rebuilds, and every way a file can be wrong."""

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import relightcli
from relightcli import RelightError
from relightcli.checkpoint import parse_hf_uri, resolve_weights

from .conftest import TINY_ARGS, tiny_model

X = torch.rand(2, 8, 64, 96, generator=torch.Generator().manual_seed(3))


def _out(model: torch.nn.Module) -> torch.Tensor:
    with torch.inference_mode():
        return model(X)


def test_save_load_reproduces_outputs_exactly(tmp_path: Path) -> None:
    model = tiny_model(seed=5)
    path = relightcli.save_checkpoint(model, tmp_path / "m.safetensors", metadata={"note": "hello"})
    loaded = relightcli.load_model(path)
    assert not loaded.training
    assert torch.equal(_out(model), _out(loaded))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["model"] == "s3net_res2net50d" and meta["format"] == "relightcli" and meta["format_version"] == "1"
    assert json.loads(meta["model_args"]) == TINY_ARGS["s3net_res2net50d"] and meta["note"] == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind
    import os

    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file the user writes, not mkstemp's 0600


def test_metadata_rebuilds_the_right_architecture(tmp_path: Path) -> None:
    model = relightcli.create_model("s3net", **TINY_ARGS["s3net"])
    loaded = relightcli.load_model(relightcli.save_checkpoint(model, tmp_path / "a.safetensors"))
    assert loaded.relight_info.name == "s3net"
    assert loaded.encoder.feature_info.channels() == model.encoder.feature_info.channels()


def test_half_precision_storage_loads_as_float32(tmp_path: Path) -> None:
    model = tiny_model()
    path = relightcli.save_checkpoint(model, tmp_path / "h.safetensors", dtype=torch.float16)
    loaded = relightcli.load_model(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert path.stat().st_size < 0.6 * relightcli.save_checkpoint(model, tmp_path / "f.safetensors").stat().st_size
    torch.testing.assert_close(_out(loaded), _out(model), atol=5e-3, rtol=0)


def test_foreign_checkpoint_needs_model_name_and_must_fit(tmp_path: Path) -> None:
    model = tiny_model()
    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(bare))
    with pytest.raises(RelightError, match="no relightcli metadata; say which architecture with --model"):
        relightcli.load_model(bare)
    loaded = relightcli.load_model(bare, model="s3net_res2net50d", model_args=TINY_ARGS["s3net_res2net50d"])
    assert torch.equal(_out(loaded), _out(model))
    with pytest.raises(RelightError, match=r"do not fit model 's3net': \d+ missing .*; \d+ wrong shape"):
        relightcli.load_model(bare, model="s3net", model_args={"encoder": "res2net50d"})


def test_checkpoint_of_another_architecture_is_refused(tmp_path: Path, tiny_ckpt: Path) -> None:
    with pytest.raises(RelightError, match="holds model 's3net_res2net50d', not 's3net'"):
        relightcli.load_model(tiny_ckpt, model="s3net")
    state = dict(tiny_model().state_dict())
    state.pop("tail.1.bias")
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "odd.safetensors"))
    with pytest.raises(RelightError, match=r"1 missing \(tail.1.bias\); 1 unexpected \(extra.weight\)"):
        relightcli.load_model(
            tmp_path / "odd.safetensors", model="s3net_res2net50d", model_args=TINY_ARGS["s3net_res2net50d"]
        )


def test_unreadable_checkpoints(tmp_path: Path, tiny_ckpt: Path) -> None:
    data = tiny_ckpt.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "pickle.safetensors").write_bytes(pickle.dumps(tiny_model().state_dict()))
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name in ("trunc", "pickle", "empty"):
        with pytest.raises(RelightError, match=f"{name}.safetensors: not a readable safetensors checkpoint"):
            relightcli.load_model(tmp_path / f"{name}.safetensors")
    with pytest.raises(RelightError, match="weights file not found"):
        relightcli.load_model(tmp_path / "missing.safetensors")


def test_unknown_model_or_format_in_metadata(tmp_path: Path) -> None:
    state = {"w": torch.zeros(1)}
    save_file(
        state,
        str(tmp_path / "u.safetensors"),
        metadata={"format": "relightcli", "format_version": "1", "model": "future_net", "model_args": "{}"},
    )
    with pytest.raises(RelightError, match="unknown model 'future_net'"):
        relightcli.load_model(tmp_path / "u.safetensors")
    save_file(
        state,
        str(tmp_path / "v.safetensors"),
        metadata={"format": "relightcli", "format_version": "9", "model": "s3net", "model_args": "{}"},
    )
    with pytest.raises(RelightError, match="format version 9 is not supported"):
        relightcli.load_model(tmp_path / "v.safetensors")


def test_hf_uris() -> None:
    assert parse_hf_uri("hf://owner/repo/w.safetensors") == ("owner/repo", "w.safetensors", None)
    assert parse_hf_uri("hf://owner/repo@v1/sub/w.safetensors") == ("owner/repo", "sub/w.safetensors", "v1")
    with pytest.raises(RelightError, match="expected hf://owner/repo/file.safetensors"):
        parse_hf_uri("hf://owner/w.safetensors")


def test_hf_offline_and_not_cached_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(RelightError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set"):
        resolve_weights("hf://someone/relight/w.safetensors")


def test_hf_cached_file_is_used_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_ckpt: Path) -> None:
    """A file already in the hub cache (laid out as huggingface_hub stores it) loads with no network."""
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hub"
    repo = cache / "models--someone--relight"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "w.safetensors").write_bytes(tiny_ckpt.read_bytes())
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    model = relightcli.load_model("hf://someone/relight/w.safetensors")
    assert model.relight_info.name == "s3net_res2net50d"


def test_equal_weights_and_metadata_give_byte_identical_files(tmp_path: Path) -> None:
    """Checkpoints are reproducible to the byte (safetensors alone writes its metadata in hash-map order)."""
    model = tiny_model("s3net_lite_ratio")
    meta = {f"key{i}": str(i) for i in range(12)}
    paths = [relightcli.save_checkpoint(model, tmp_path / f"{i}.safetensors", metadata=meta) for i in range(4)]
    blobs = {p.read_bytes() for p in paths}
    assert len(blobs) == 1
    loaded = relightcli.load_model(paths[0])
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )
    with safe_open(str(paths[0]), "pt") as f:
        assert f.metadata()["key11"] == "11"


def test_average_is_the_mean_of_one_models_checkpoints(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from relightcli.cli import app

    models = [tiny_model(seed=s) for s in (1, 2, 3)]
    for i, m in enumerate(models):  # BatchNorm statistics that differ between the checkpoints, as after training
        g = torch.Generator().manual_seed(i)
        for buf in m.buffers():
            _ = buf.uniform_(0.5, 1.5, generator=g) if buf.is_floating_point() else buf.fill_(10 + i)
    paths = [relightcli.save_checkpoint(m, tmp_path / f"m{i}.safetensors") for i, m in enumerate(models)]
    out = tmp_path / "avg.safetensors"
    result = CliRunner().invoke(app, ["average", *map(str, paths), "-o", str(out)])
    assert result.exit_code == 0, result.output
    averaged = relightcli.load_model(out).state_dict()
    states = [m.state_dict() for m in models]
    for k, v in averaged.items():
        if v.is_floating_point():
            assert torch.allclose(v, sum(s[k] for s in states) / 3, atol=1e-6), k
        else:
            assert torch.equal(v, states[-1][k]), k
    assert not torch.allclose(_out(relightcli.load_model(out)), _out(models[0]))
    # another architecture, or a single file: one line, nothing written
    other = relightcli.save_checkpoint(tiny_model("mprnet"), tmp_path / "other.safetensors")
    messages = []
    for args in ([str(paths[0]), str(other)], [str(paths[0])]):
        bad = CliRunner().invoke(app, ["average", *args, "-o", str(tmp_path / "bad.safetensors")])
        assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.output
        assert not (tmp_path / "bad.safetensors").exists()
        messages.append(bad.stderr)
    assert "average checkpoints of one model" in messages[0] and "at least two" in messages[1]


def test_a_checkpoint_records_whether_it_runs_with_the_flip_ensemble(tmp_path: Path, tiny_ckpt: Path) -> None:
    from typer.testing import CliRunner

    from relightcli.checkpoint import INFERENCE_KEY, read_checkpoint
    from relightcli.cli import app
    from relightcli.inference.engine import Relighter

    def export(src: Path, name: str, *flag: str) -> Path:
        result = CliRunner().invoke(app, ["export", str(src), str(tmp_path / name), "--dtype", "fp32", *flag])
        assert result.exit_code == 0, result.output
        return tmp_path / name

    assert Relighter(relightcli.load_model(tiny_ckpt), device="cpu").flip_ensemble is False
    on = export(tiny_ckpt, "on.safetensors", "--flip-ensemble")
    assert relightcli.load_model(on).relight_inference == {"flip_ensemble": True}
    assert Relighter(relightcli.load_model(on), device="cpu").flip_ensemble is True
    assert Relighter(relightcli.load_model(on), device="cpu", flip_ensemble=False).flip_ensemble is False
    kept = export(on, "kept.safetensors")  # no flag: what the source records is kept
    assert Relighter(relightcli.load_model(kept), device="cpu").flip_ensemble is True
    off = export(on, "off.safetensors", "--no-flip-ensemble")
    assert Relighter(relightcli.load_model(off), device="cpu").flip_ensemble is False
    tensors, meta = read_checkpoint(on)
    bad_values = ('{"max_side": 8}', '{"max_side": true}', '{"max_side": "256"}', '{"max_side": -1}')
    for bad in ("{not json", '{"flip_ensemble": "yes"}', '{"tta": true}', *bad_values):
        save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={**meta, INFERENCE_KEY: bad})
        with pytest.raises(RelightError, match="inference metadata"):
            relightcli.load_model(tmp_path / "bad.safetensors")


def test_a_checkpoint_records_the_working_size_larger_images_are_relit_at(tmp_path: Path, tiny_ckpt: Path) -> None:
    """``relight export --max-side N``: apply and eval relight larger images at N by default (the model's own
    training scale), and an explicit ``--max-side``/``--full-res`` still wins."""
    from typer.testing import CliRunner

    from relightcli.cli import app
    from relightcli.inference.engine import AUTO_MAX_SIDE, Relighter

    def export(src: Path, name: str, *flag: str):
        return CliRunner().invoke(app, ["export", str(src), str(tmp_path / name), "--dtype", "fp32", *flag])

    plain = Relighter(relightcli.load_model(tiny_ckpt), device="cpu", memory_check=False)
    assert plain.default_max_side == AUTO_MAX_SIDE and plain.plan(1024, 1024) == ((1024, 1024), None)
    result = export(tiny_ckpt, "256.safetensors", "--max-side", "256", "--flip-ensemble")
    assert result.exit_code == 0 and "relit at 256 px by default" in result.output, result.output
    model = relightcli.load_model(tmp_path / "256.safetensors")
    assert model.relight_inference == {"flip_ensemble": True, "max_side": 256}
    said: list[str] = []
    r = Relighter(model, device="cpu", memory_check=False, on_message=said.append)
    assert r.plan(768, 1024) == ((192, 256), None) and "1024x768 is relit at 256x192" in said[0]
    assert r.plan(256, 100) == ((256, 100), None)  # not above it: every pixel
    assert Relighter(model, device="cpu", memory_check=False, max_side=0).plan(1024, 768) == ((1024, 768), None)
    assert Relighter(model, device="cpu", memory_check=False, max_side=512).plan(1024, 768) == ((512, 384), None)
    kept = export(tmp_path / "256.safetensors", "kept.safetensors", "--no-flip-ensemble")
    assert kept.exit_code == 0, kept.output
    assert relightcli.load_model(tmp_path / "kept.safetensors").relight_inference == {
        "flip_ensemble": False,
        "max_side": 256,
    }
    full = export(tmp_path / "256.safetensors", "full.safetensors", "--max-side", "0")
    assert full.exit_code == 0, full.output
    assert Relighter(relightcli.load_model(tmp_path / "full.safetensors"), device="cpu").default_max_side == 0
    bad = export(tiny_ckpt, "bad.safetensors", "--max-side", "8")
    assert bad.exit_code == 1 and "--max-side 8" in bad.output and not (tmp_path / "bad.safetensors").exists()
