"""The ``relight`` CLI end to end on a tiny model and tiny images, including every user-error path."""

import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from relightcli.cli import app
from relightcli.hardware import cpu_capabilities
from relightcli.io import read_image

from .conftest import write_png

runner = CliRunner()


def _apply(scene: dict[str, Path], out: Path, *extra: str, weights: Path | str | None = None):
    args = ["apply", *(str(scene[k]) for k in ("src", "src_depth", "guide", "guide_depth")), "-o", str(out)]
    if weights is not None:
        args += ["--weights", str(weights)]
    return runner.invoke(app, [*args, *extra])


def test_apply_end_to_end(scene, tiny_ckpt, tmp_path) -> None:
    out = tmp_path / "out" / "relit.png"  # the folder does not exist yet
    result = _apply(scene, out, "--device", "cpu", weights=tiny_ckpt)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    img = read_image(out)
    assert img.size == (70, 90) and img.bit_depth == 8
    src = read_image(scene["src"]).rgb
    assert np.abs(img.rgb - src).mean() > 0.01  # the model did something


def test_apply_keeps_16_bit_and_accepts_bf16(scene, tiny_ckpt, tmp_path) -> None:
    rng = np.random.default_rng(1)
    write_png(scene["src"], rng.integers(0, 65536, (70, 90, 3), dtype=np.uint16))
    out = tmp_path / "relit16.png"
    result = _apply(scene, out, "--precision", "bf16", weights=tiny_ckpt)
    if not cpu_capabilities().bf16_ok():  # an AVX2-only CPU refuses bf16 in one line (tests/test_hardware.py)
        assert result.exit_code == 1 and "use --precision fp32" in result.stderr and not out.exists()
        result = _apply(scene, out, weights=tiny_ckpt)
    assert result.exit_code == 0, result.output
    assert read_image(out).bit_depth == 16


def test_default_output_name(scene, tiny_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["apply", *(str(scene[k]) for k in ("src", "src_depth", "guide", "guide_depth")), "-w", str(tiny_ckpt)]
    assert runner.invoke(app, args).exit_code == 0
    assert (tmp_path / "src_relit.png").is_file()


def _corrupt(scene, key, data: bytes) -> None:
    scene[key].write_bytes(data)


def _nan_depth(scene) -> None:
    d = np.random.default_rng(0).random((70, 90))
    d[0, 0] = np.nan
    scene["src_depth"] = scene["src_depth"].with_suffix(".npy")
    np.save(scene["src_depth"], d)


def _wrong_depth_size(scene) -> None:
    scene["src_depth"] = scene["src_depth"].with_suffix(".npy")
    np.save(scene["src_depth"], np.zeros((70, 91)))


def _unsafe_pickle(scene) -> None:
    class Evil:
        def __reduce__(self):
            return (Path.touch, (scene["guide"].parent / "pwned",))

    scene["guide_depth"].write_bytes(pickle.dumps({"normalized_depth": Evil()}))


ERROR_CASES = {
    "missing source": (lambda s: s["src"].unlink(), [], "src.png: image file not found"),
    "corrupt guide": (lambda s: _corrupt(s, "guide", b"\x89PNG\r\n\x1a\n garbage"), [], "guide.png: not a readable"),
    "text as png": (lambda s: s["src"].write_text("hello"), [], "src.png: not a readable image"),
    "nan depth": (_nan_depth, [], "src_depth.npy: depth has 1 NaN"),
    "depth size": (_wrong_depth_size, [], "depth is 91x70 but its image src.png is 90x70"),
    "unsafe pickle": (_unsafe_pickle, [], "unsafe or invalid pickle"),
    "unknown model": (lambda s: None, ["--model", "nope"], "holds model 's3net_res2net50d', not 'nope'"),
    "fp16 on cpu": (lambda s: None, ["--device", "cpu", "--precision", "fp16"], "fp16 is for CUDA"),
    "bad device": (lambda s: None, ["--device", "gpu7"], "expected auto, cpu, cuda or cuda:N"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_user_errors_are_one_line_with_no_output(case, scene, tiny_ckpt, tmp_path) -> None:
    breaker, extra, message = ERROR_CASES[case]
    breaker(scene)
    out_dir = tmp_path / "results"
    result = _apply(scene, out_dir / "relit.png", *extra, weights=tiny_ckpt)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert not (scene["guide"].parent / "pwned").exists()


def test_missing_default_weights_and_unreadable_checkpoint(scene, tmp_path, monkeypatch) -> None:
    import relightcli.assets

    monkeypatch.setattr(relightcli.assets, "WEIGHTS_DIR", tmp_path / "no-weights")
    result = _apply(scene, tmp_path / "o.png")
    assert result.exit_code == 1 and "no default weights at" in result.stderr
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not really")
    result = _apply(scene, tmp_path / "o.png", weights=bad)
    assert result.exit_code == 1 and "bad.safetensors: not a readable safetensors checkpoint" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_output_equal_to_an_input_is_refused(scene, tiny_ckpt) -> None:
    before = scene["src"].read_bytes()
    result = _apply(scene, scene["src"], weights=tiny_ckpt)
    assert result.exit_code == 1 and "output path is one of the inputs" in result.stderr
    assert scene["src"].read_bytes() == before


def test_existing_output_survives_a_failed_run(scene, tiny_ckpt, tmp_path) -> None:
    out = tmp_path / "keep.png"
    out.write_bytes(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    before = out.read_bytes()
    scene["guide"].write_text("broken")
    assert _apply(scene, out, weights=tiny_ckpt).exit_code == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".keep.png")) == []


def test_models_command_lists_the_registry() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "s3net " in result.stdout and "49.35" in result.stdout and "s3net_res2net50d" in result.stdout
    result = runner.invoke(app, ["models", "zzz*"])
    assert result.exit_code == 1 and "no model matches" in result.stderr


def test_python_dash_m_entry_point_exit_codes(scene, tiny_ckpt, tmp_path) -> None:
    out = tmp_path / "sub.png"
    cmd = [
        sys.executable,
        "-m",
        "relightcli",
        "apply",
        *(str(scene[k]) for k in ("src", "src_depth", "guide", "guide_depth")),
    ]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ok = subprocess.Popen([*cmd, "-o", str(out), "-w", str(tiny_ckpt)], **pipes)  # both at once: start-up dominates
    bad = subprocess.Popen([*cmd, "-o", str(tmp_path / "x.png"), "-w", str(tmp_path / "nope.safetensors")], **pipes)
    _, ok_err = ok.communicate(timeout=300)
    _, bad_err = bad.communicate(timeout=300)
    assert ok.returncode == 0, ok_err
    assert out.is_file()
    assert bad.returncode == 1
    assert bad_err.strip().splitlines() == [f"error: {tmp_path / 'nope.safetensors'}: weights file not found"]
