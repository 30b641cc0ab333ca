"""Multi-scale training and camera-response augmentation (relightcli.training.augment, `relight train
--batch-scales`, `--look-augment`)."""

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


def test_one_camera_response_per_pair_on_source_guide_and_target_alike() -> None:
    """A pair seen through another response stays true: the same curve on the source, the guide and the target
    (a value met in any of them maps to the same value), depth untouched, grey kept grey, order kept."""
    values = torch.linspace(0, 1, 64 * 64).reshape(1, 1, 64, 64)
    grey = values.expand(4, 3, 64, 64)
    x = torch.cat([grey, grey.flip(-1), torch.rand(4, 2, 64, 64)], dim=1)
    y = grey.flip(-2).clone()
    tx, ty = augment.tone_batch(x, y, 1.0, seed=0, step=0)
    assert torch.equal(tx[:, 6:], x[:, 6:])
    for b in range(4):
        curve = tx[b, 0].flatten()  # the source is the identity ramp: this is the pair's curve
        assert torch.all(curve[1:] >= curve[:-1]) and curve.min() >= 0 and curve.max() <= 1
        torch.testing.assert_close(tx[b, 3], curve.reshape(64, 64).flip(-1))  # the guide went through it too
        torch.testing.assert_close(ty[b, 0], curve.reshape(64, 64).flip(-2))  # and the target
        torch.testing.assert_close(tx[b, 0], tx[b, 1])  # R, G and B alike: grey stays grey
        torch.testing.assert_close(tx[b, 1], tx[b, 2])
    assert not torch.allclose(tx[0, 0], tx[1, 0])  # each pair its own response


def test_camera_responses_are_drawn_from_the_seed_and_step_and_spare_the_rest() -> None:
    x, y = torch.rand(16, 8, 32, 32), torch.rand(16, 3, 32, 32)
    a, b = augment.tone_batch(x, y, 0.5, seed=3, step=9), augment.tone_batch(x, y, 0.5, seed=3, step=9)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # a resumed run agrees
    changed = [not torch.equal(a[0][i], x[i]) for i in range(16)]
    assert 2 <= sum(changed) <= 14
    for i in range(16):
        assert changed[i] == (not torch.equal(a[1][i], y[i]))  # input and target chosen together
    assert augment.tone_batch(x, y, 0.0, seed=3, step=9) == (x, y)
    c = augment.tone_batch(x, y, 0.5, seed=3, step=10)
    assert not torch.equal(a[0], c[0])


def test_an_exposure_is_a_factor_in_linear_light() -> None:
    x = torch.tensor([0.0, 0.2, 0.5, 0.8]).view(1, 1, 1, 4)
    one = torch.ones(1)
    brighter = augment.tone_curve(x, one, one, one)  # +1 stop, contrast and gamma 1

    def linear(v: torch.Tensor) -> torch.Tensor:
        return torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)

    torch.testing.assert_close(linear(brighter), (2 * linear(x)).clamp(max=1), atol=1e-5, rtol=1e-4)


def test_training_refuses_a_look_share_outside_zero_to_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--data", str(tmp_path), "--look-augment", "1.5", "--out", str(tmp_path / "r")]
    )
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "--look-augment" in lines[0], result.stderr


def test_training_shows_pairs_through_other_responses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    synthesize(data, scenes=2, size=64, seed=5, pairs=2, supersample=1)
    seen: list[tuple[float, bool]] = []
    original = augment.tone_batch

    def spy(x: torch.Tensor, y: torch.Tensor, probability: float, seed: int, step: int):
        out = original(x, y, probability, seed, step)
        seen.append((probability, not torch.equal(out[0], x)))
        return out

    monkeypatch.setattr("relightcli.training.trainer.tone_batch", spy)
    model = "s3net_lite_ratio"
    cfg = TrainConfig(data=data, model=model, model_args=TINY_ARGS[model], out=tmp_path / "run", epochs=1,
                      batch_size=2, max_steps=2, loss="l1", look_augment=1.0, device="cpu")  # fmt: skip
    train(cfg)
    assert seen == [(1.0, True), (1.0, True)]
    assert TrainConfig.from_json(cfg.to_json()).look_augment == 1.0  # kept in the run's state for --resume
