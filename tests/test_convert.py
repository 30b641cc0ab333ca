"""Converters for the official releases, on state dicts built from the exact official names and shapes."""

import ast
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import relightcli
from relightcli import RelightError
from relightcli.cli import app
from relightcli.convert import convert_checkpoint, read_foreign_state_dict

from .conftest import SHARED_SPEC


def _official(tsv: str) -> dict[str, torch.Tensor]:
    path = SHARED_SPEC / tsv
    if not path.exists():
        pytest.skip("../shared/spec is not beside this checkout")
    gen = torch.Generator().manual_seed(0)
    state = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            shape = tuple(ast.literal_eval(shape))
            if key.endswith("num_batches_tracked"):
                state[key] = torch.tensor(7)
            elif key.endswith("running_var"):
                state[key] = torch.rand(shape, generator=gen) + 0.5
            else:
                state[key] = torch.randn(shape, generator=gen) * 0.02
    return state


@pytest.fixture(scope="module")
def s3net_release(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rel") / "weight.pkl"
    torch.save({"state_dict": _official("s3net_official_keys.tsv")}, path)
    return path


def test_s3net_release_converts_strictly_and_applies(s3net_release: Path, tmp_path: Path) -> None:
    out = convert_checkpoint(s3net_release, tmp_path / "s3net.safetensors", "s3net-official")
    model = relightcli.load_model(out)  # no --model needed
    assert model.relight_info.name == "s3net"
    official = torch.load(s3net_release, weights_only=True)["state_dict"]
    ours = model.state_dict()
    assert all(torch.equal(ours[k], official[k].to(ours[k].dtype)) for k in ours)
    assert set(official) - set(ours) == {"enhancer.batch1.weight", "enhancer.batch1.bias"}


def test_module_prefixed_release_converts(tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in _official("s3net_official_keys.tsv").items()}
    torch.save({"state_dict": state}, tmp_path / "dp.pth")
    model = relightcli.load_model(convert_checkpoint(tmp_path / "dp.pth", tmp_path / "o.safetensors", "s3net-official"))
    assert torch.equal(model.state_dict()["tail.1.bias"], state["module.tail.1.bias"])


def test_truncated_release_lists_the_missing_names(tmp_path: Path) -> None:
    state = _official("s3net_official_keys.tsv")
    for k in ("mid_conv.conv1.weight", "tail.1.bias"):
        state.pop(k)
    torch.save({"state_dict": state}, tmp_path / "cut.pth")
    with pytest.raises(RelightError, match=r"2 missing \(mid_conv.conv1.weight, tail.1.bias\)"):
        convert_checkpoint(tmp_path / "cut.pth", tmp_path / "o.safetensors", "s3net-official")
    assert not (tmp_path / "o.safetensors").exists()


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_with_a_non_tensor_object_is_refused_unexecuted(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Gadget(marker)}, path)  # as a release would be
    with pytest.raises(
        RelightError,
        match=r"refusing to load: the pickle holds more than tensors "
        r"\(Unsupported global: GLOBAL \w+ was not an allowed global",
    ):
        read_foreign_state_dict(path)
    raw = tmp_path / "raw.pkl"  # a bare protocol-4 pickle is not even parsed
    raw.write_bytes(pickle.dumps({"extra": _Gadget(marker)}, protocol=4))
    with pytest.raises(RelightError, match="not a readable PyTorch checkpoint"):
        read_foreign_state_dict(raw)
    assert not marker.exists()
    result = CliRunner().invoke(
        app, ["convert", str(path), str(tmp_path / "o.safetensors"), "--from", "s3net-official"]
    )
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "o.safetensors").exists()


def test_mprnet_release_loads_strictly_and_keeps_its_function(tmp_path: Path) -> None:
    official = _official("mprnet_deblur_official_keys.tsv")
    three = relightcli.create_model("mprnet_deblur", in_chans=3)
    from relightcli.checkpoint import load_state_dict_strict

    load_state_dict_strict(three, official, "official")  # exactly the release's names and shapes
    torch.save({"state_dict": official}, tmp_path / "model_deblurring.pth")
    out = convert_checkpoint(tmp_path / "model_deblurring.pth", tmp_path / "m.safetensors", "mprnet-official")
    eight = relightcli.load_model(out)
    x = torch.rand(1, 8, 24, 32)
    with torch.inference_mode():
        a, b = three.eval()(x[:, :3])[0], eight(x)[0]
    assert torch.allclose(a, b, atol=1e-5)  # the guide and depth channels enter with zero weights


def test_convert_cli_and_bad_inputs(s3net_release: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "c.safetensors"
    result = runner.invoke(app, ["convert", str(s3net_release), str(out), "--from", "s3net-official"])
    assert result.exit_code == 0, result.output
    assert relightcli.load_model(out).relight_info.name == "s3net"
    bad = runner.invoke(app, ["convert", str(s3net_release), str(out), "--from", "mprnet-official"])
    assert bad.exit_code == 1 and "weights do not fit model 'mprnet_deblur'" in bad.stderr
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    bad = runner.invoke(app, ["convert", str(tmp_path / "junk.pth"), str(out), "--from", "s3net-official"])
    assert bad.exit_code == 1 and "not a readable PyTorch checkpoint" in bad.stderr
    bad = runner.invoke(app, ["convert", str(tmp_path / "none.pth"), str(out), "--from", "s3net-official"])
    assert bad.exit_code == 1 and "checkpoint file not found" in bad.stderr
