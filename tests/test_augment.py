"""Multi-scale training (relightcli.training.augment, `relight train --batch-scales`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from relightcli.cli import app
from relightcli.errors import RelightError
from relightcli.synth import synthesize
from relightcli.training import TrainConfig, augment, train

from .conftest import TINY_ARGS


def test_a_batch_is_area_averaged_to_the_size_multiple() -> None:
    x = torch.rand(2, 8, 64, 96)
    half = augment.rescale_batch(x, 0.5, 32)
    assert half.shape == (2, 8, 32, 32)  # 32x48, centre-cropped to the multiple, not stretched
    box = x.reshape(2, 8, 32, 2, 48, 2).mean(dim=(3, 5))  # the box filter the renderers anti-alias with
    torch.testing.assert_close(half, box[..., 8:40])
    assert augment.rescale_batch(x, 0.75, 32).shape[-2:] == (32, 64)  # 48x72
    assert augment.rescale_batch(x, 0.1, 32).shape[-2:] == (32, 32)  # never below one multiple
    assert augment.rescale_batch(x, 1.0, 32) is x


def test_the_factor_depends_on_the_seed_and_step_only() -> None:
    scales = (0.5, 1.0)
    drawn = [augment.draw_scale(scales, 3, step) for step in range(200)]
    assert drawn == [augment.draw_scale(scales, 3, step) for step in range(200)]  # a resumed run agrees
    assert 60 < drawn.count(0.5) < 140
    assert drawn != [augment.draw_scale(scales, 4, step) for step in range(200)]
    assert augment.draw_scale((), 0, 5) == 1.0


def test_factors_outside_zero_to_one_are_refused() -> None:
    augment.check_scales((0.25, 1.0))
    for bad in ((0.0,), (1.5,), (-1.0, 0.5)):
        with pytest.raises(RelightError, match="factors must be in"):
            augment.check_scales(bad)


def test_training_sees_every_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    synthesize(data, scenes=2, size=64, seed=5, pairs=2, supersample=1)
    sizes: list[int] = []
    original = augment.rescale_batch

    def spy(batch: torch.Tensor, factor: float, multiple: int) -> torch.Tensor:
        out = original(batch, factor, multiple)
        sizes.append(out.shape[-1])
        return out

    monkeypatch.setattr("relightcli.training.trainer.rescale_batch", spy)
    model = "s3net_lite_ratio"
    cfg = TrainConfig(data=data, model=model, model_args=TINY_ARGS[model], out=tmp_path / "run", epochs=1,
                      batch_size=2, max_steps=2, loss="l1", batch_scales=(0.5, 1.0), device="cpu")  # fmt: skip
    train(cfg)
    assert sizes == [64, 64, 32, 32]  # seed 0 draws 1 then 0.5; input and target alike


def test_cli_parses_the_list_and_refuses_a_bad_one(tmp_path: Path) -> None:
    runner = CliRunner()
    for value, message in (("2", "factors must be in (0, 1]"), ("half", "--batch-scales")):
        result = runner.invoke(
            app, ["train", "--data", str(tmp_path), "--batch-scales", value, "--out", str(tmp_path / "r")]
        )
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.stderr
        assert not (tmp_path / "r").exists()  # refused before anything is written
