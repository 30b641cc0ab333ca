"""The shipped default weights, the offline demo and the light presets."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

import relightcli
from relightcli.assets import default_weights, preset, preset_names, samples
from relightcli.cli import app
from relightcli.data import SETTINGS
from relightcli.io import read_image

runner = CliRunner()


def test_shipped_weights_load_offline_and_name_a_registered_model() -> None:
    path = default_weights()
    assert path.stat().st_size <= 25 * 2**20
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118
    assert meta["model"] in relightcli.list_models() and meta["storage_dtype"] == "fp16"
    assert "F16" in dtypes
    model = relightcli.load_model(path)
    assert model.relight_info.name == meta["model"]


def test_demo_runs_offline_and_relights(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env_cmd = [sys.executable, "-m", "relightcli", "demo", "-o", str(out)]
    proc = subprocess.run(
        env_cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    relit, src = read_image(out / "sample0_relit.png"), read_image(samples()[0].src)
    assert relit.size == src.size
    assert np.abs(relit.rgb - src.rgb).mean() > 0.01
    comparison = read_image(out / "sample0_comparison.png")
    assert comparison.size[1] > 3 * src.size[1]
    assert "comparison (source | guide | relit | target)" in proc.stdout


def test_every_preset_resolves_and_unknown_ones_list_the_valid() -> None:
    names = preset_names()
    assert len(names) == len(SETTINGS) == 40
    for name in names:
        guide, depth = preset(name)
        assert read_image(guide).size == (128, 128) and depth.is_file()
    with pytest.raises(
        relightcli.RelightError, match=r"unknown lighting setting '7000K/N'; valid: 2500K/N, .*6500K/NW"
    ):
        preset("7000K/N")


def test_apply_with_a_light_preset(tmp_path: Path) -> None:
    s = samples()[1]
    out = tmp_path / "preset.png"
    result = runner.invoke(app, ["apply", str(s.src), str(s.src_depth), "--light", "3500K/NW", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_image(out).size == read_image(s.src).size
    both = runner.invoke(
        app,
        [
            "apply",
            str(s.src),
            str(s.src_depth),
            str(s.guide),
            str(s.guide_depth),
            "--light",
            "3500K/NW",
            "-o",
            str(tmp_path / "x.png"),
        ],
    )
    assert both.exit_code == 1 and "not both" in both.stderr
    neither = runner.invoke(app, ["apply", str(s.src), str(s.src_depth), "-o", str(tmp_path / "x.png")])
    assert neither.exit_code == 1 and "looks like a depth map, not a guide photo: add --light" in neither.stderr
    assert not (tmp_path / "x.png").exists()


def test_default_model_beats_the_identity_on_held_out_pairs(tmp_path: Path) -> None:
    """Two pairs of scenes never seen in training (seed 1; the default weights were trained on seed 0)."""
    from relightcli.evaluation import evaluate
    from relightcli.inference.engine import Relighter
    from relightcli.synth import synthesize

    synthesize(tmp_path / "heldout", scenes=0, size=128, seed=1, pairs=2)
    result = evaluate(Relighter(relightcli.load_model(default_weights()), device="cpu"), tmp_path / "heldout", tmp_path)
    methods = result.summary["methods"]
    assert result.summary["pairs"] == 2
    assert methods["model"]["psnr"] > methods["identity"]["psnr"] + 1.0
    assert methods["model"]["ssim"] > methods["identity"]["ssim"]


def test_the_shipped_weights_run_at_their_working_size_with_the_calibrated_gate() -> None:
    """The model card's figures are of these settings: images above 512 px relit at 512 (twice the training
    size), and the same-direction weight read by two gate readers (light-default and light-temperature) at gate
    sharpness 6, fitted on relighting (weights/README.md)."""
    import torch

    from relightcli.inference.engine import Relighter

    relighter = Relighter(relightcli.load_model(default_weights()), device="cpu", precision="fp32")
    assert relighter.default_max_side == 512 and relighter.flip_ensemble
    assert [reader.input_size for reader in relighter._gate_readers] == [128, 256]
    assert relighter.plan(1024, 1024)[0] == (512, 512) and relighter.plan(512, 384)[0] == (512, 384)
    reading = torch.zeros(1, 13)
    reading[0, 2], reading[0, 6], reading[0, 8] = 0.7, 0.3, 1.0  # 70% E, 30% W; 4500 K
    same = float(relighter.same_direction({"source_light": reading, "target_light": reading.clone()})[0])
    # independent readings give 0.49 + 0.09 = 0.58; sharpened by 6 each is (0.994, 0.006): 0.99
    east = 0.7**6 / (0.7**6 + 0.3**6)
    assert same == pytest.approx(east**2 + (1 - east) ** 2, abs=1e-4)
