"""The light estimator: labels and augmentations, the estimate's arithmetic, training and resuming, scoring,
and the commands that run it (``relight light``, ``relight eval --light``, ``relight apply --show-light``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import relightcli
from relightcli.checkpoint import load_model, save_checkpoint
from relightcli.cli import app
from relightcli.data.vidit import DIRECTIONS, MIRRORED_DIRECTION, TEMPERATURES
from relightcli.errors import RelightError
from relightcli.evaluation.responses import RESPONSES, parse_responses, respond
from relightcli.inference.engine import Relighter
from relightcli.light.augment import augment, exposure, filmic, srgb_to_linear
from relightcli.light.estimator import CORNERS, LightEstimator, corner_crop, estimates_from_logits, mirror_logits
from relightcli.light.evaluation import LightScores, evaluate_light, labelled_images, step_distance
from relightcli.light.training import LightTrainConfig, train_light
from relightcli.synth import synthesize
from relightcli.training.augment import contrast_gamma

runner = CliRunner()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five tiny numpy-renderer scenes, 40 settings each."""
    root = tmp_path_factory.mktemp("light-data")
    synthesize(root, scenes=5, size=48, seed=3)
    return root


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("light-weights") / "light.safetensors"
    save_checkpoint(relightcli.create_model("light_net", input_size=32), path)
    return path


def test_light_net_is_in_the_registry_apart_from_relighters() -> None:
    assert "light_net" not in relightcli.list_models()
    assert relightcli.list_models(task="light") == ["light_net"]
    assert relightcli.model_info("light_net").task == "light"
    net = relightcli.create_model("light_net").eval()
    assert net(torch.rand(2, 3, 100, 70)).shape == (2, 13)  # any size in
    with pytest.raises(RelightError, match="light estimator, not a relighting model"):
        Relighter(net, device="cpu")
    result = runner.invoke(app, ["models", "light*"])
    assert result.exit_code == 0 and "light_net" in result.output and "light" in result.output


def test_augment_keeps_temperature_and_mirrors_direction() -> None:
    rng = np.random.default_rng(0)
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, :32] = (200, 120, 60)  # a lit left half
    for direction in range(len(DIRECTIONS)):
        for _ in range(20):
            out, d = augment(img, direction, 32, rng)
            assert out.shape == (32, 32, 3) and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
            name = DIRECTIONS[direction]
            assert DIRECTIONS[d] in (name, MIRRORED_DIRECTION[name])
    # The views keep the image: a mid-grey photo stays mid-grey on average (exposure goes both ways, mostly
    # darker), and a float image is refused rather than read as 0-255.
    grey = np.full((64, 64, 3), 128, np.uint8)
    means = [augment(grey, 0, 32, rng)[0].mean() for _ in range(200)]
    assert 0.15 < np.median(means) < 0.55 and min(means) < 0.3 and max(means) > 0.5
    with pytest.raises(TypeError, match="uint8"):
        augment(grey.astype(np.float32) / 255, 0, 32, rng)
    # Exposure scales linear light: chromaticity (channel ratios in linear light) of unclipped pixels is kept.
    x = np.array([[[0.6, 0.4, 0.2]]], np.float32)
    lin, dark = srgb_to_linear(x), srgb_to_linear(exposure(x, -2.0))
    np.testing.assert_allclose(dark / dark.sum(), lin / lin.sum(), rtol=1e-4)
    np.testing.assert_allclose(dark, lin / 4, rtol=1e-4)


def test_camera_response_views_keep_grey_grey_and_are_drawn_only_when_asked() -> None:
    levels = np.linspace(0, 1, 256, dtype=np.float32)
    for contrast, gamma in [(0.8, 0.85), (1.1, 1.15), (0.9, 1.0)]:
        curve = contrast_gamma(levels, contrast, gamma)
        assert np.all(np.diff(curve) >= 0) and curve.min() >= 0 and curve.max() <= 1  # a tone curve: monotone
    assert not np.allclose(contrast_gamma(levels, 0.8, 1.15), levels)
    as_tensor = contrast_gamma(torch.from_numpy(levels), torch.tensor(0.8), torch.tensor(1.15)).numpy()
    np.testing.assert_allclose(as_tensor, contrast_gamma(levels, 0.8, 1.15), atol=1e-6)  # one curve, both kinds
    img = np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    # Off (the default), no draw is made for it: earlier recipes' views are drawn exactly as before.
    off = augment(img, 2, 32, np.random.default_rng(5))
    np.testing.assert_array_equal(augment(img, 2, 32, np.random.default_rng(5), look=0.0)[0], off[0])
    views = [augment(img, 2, 32, np.random.default_rng(5), look=1.0)[0] for _ in range(2)]
    np.testing.assert_array_equal(views[0], views[1])  # seeded
    assert not np.array_equal(views[0], off[0])
    # The same curve on R, G and B: a grey image stays grey under every view (noise is zero-mean per channel).
    grey = np.full((64, 64, 3), 90, np.uint8)
    rng = np.random.default_rng(2)
    for _ in range(50):
        out, _ = augment(grey, 0, 32, rng, look=1.0)
        assert np.abs(out.mean(axis=(0, 1)) - out.mean()).max() < 0.01
    with pytest.raises(RelightError, match="look-augment"):
        train_light(LightTrainConfig(data=[Path("unused")], look_augment=1.5))
    with pytest.raises(RelightError, match="look-filmic"):
        train_light(LightTrainConfig(data=[Path("unused")], look_augment=0.5, look_filmic=-0.1))
    with pytest.raises(RelightError, match="give --look-augment too"):
        train_light(LightTrainConfig(data=[Path("unused")], look_filmic=0.5))
    # The filmic S-curves: monotone, mid-grey (sRGB 0.4613) kept, darks crushed more the steeper the curve.
    for power, shoulder in [(1.0, 1.0), (2.0, 0.3), (1.5, 0.6)]:
        curve = filmic(levels, power, shoulder)
        assert np.all(np.diff(curve) >= 0) and curve.min() >= 0 and curve.max() <= 1
        assert filmic(np.float32(0.46135), power, shoulder) == pytest.approx(0.46135, abs=1e-4)
    assert filmic(np.float32(0.1), 2.0, 0.3) < filmic(np.float32(0.1), 1.0, 0.3) < 0.2
    no_filmic = augment(img, 2, 32, np.random.default_rng(5), look=1.0)[0]
    np.testing.assert_array_equal(
        augment(img, 2, 32, np.random.default_rng(5), look=1.0, filmic_share=0.0)[0], no_filmic
    )
    for _ in range(20):
        out, _ = augment(grey, 0, 32, rng, look=1.0, filmic_share=1.0)
        assert np.abs(out.mean(axis=(0, 1)) - out.mean()).max() < 0.01
    result = runner.invoke(app, ["train", "--data", "unused", "--look-filmic", "0.5"])
    assert result.exit_code != 0 and "--look-filmic is for a light estimator" in result.output


def test_camera_responses_keep_grey_grey_and_the_light_robustness_script_scores_them(
    scenes: Path, random_weights: Path
) -> None:
    grey = np.repeat(np.linspace(0, 1, 17, dtype=np.float32)[:, None, None], 3, axis=2)
    for name in RESPONSES:
        out = respond(name, grey)
        assert out.shape == grey.shape and np.all(out[:, :, 0] == out[:, :, 1]) and np.all(out[:, :, 1] == out[:, :, 2])
        assert np.all(np.diff(out[:, 0, 0]) >= 0), name
    np.testing.assert_array_equal(respond("standard", grey), np.round(grey * 255) / 255)
    for name in ("aces", "hable"):  # exposure set so that mid-grey stays mid-grey
        assert respond(name, np.full((1, 1, 3), 0.4613, np.float32))[0, 0, 0] == pytest.approx(0.4613, abs=2 / 255)
    with pytest.raises(ValueError, match="unknown looks \\['filmic'\\]"):
        parse_responses("standard,filmic")
    repo = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's package, however the venv was installed
    cmd = [sys.executable, str(repo / "benchmarks" / "light_robustness.py"), str(scenes), "--limit", "40"]
    out = subprocess.run(
        [*cmd, "--light-weights", str(random_weights), "--looks", "standard,aces,dark1"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith(f"| {scenes.name} |")]
    assert [r.split(" | ")[1] for r in rows] == ["standard", "aces", "dark1", "mean of the 2 other looks"]
    assert all(" | 40 | " in r for r in rows)
    bad = {  # both bad inputs at once: each run's time is mostly torch's import
        "missing": [*cmd[:2], str(scenes / "missing"), "--light-weights", str(random_weights)],
        "look": [*cmd, "--looks", "standard,filmic"],
    }
    procs = {
        k: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for k, c in bad.items()
    }
    (missing_out, missing_err), (look_out, look_err) = (procs[k].communicate(timeout=120) for k in bad)
    assert procs["missing"].returncode == 1 and missing_err.strip().splitlines() == [
        f"error: {scenes / 'missing'}: folder not found"
    ]
    assert "|" not in missing_out  # no table begun for sets that are not all there
    assert procs["look"].returncode == 2 and "|" not in look_out
    assert look_err.strip().splitlines()[-1].startswith("light_robustness.py: error: unknown looks ['filmic']; choose")


def test_estimate_arithmetic() -> None:
    logits = torch.full((1, 13), -30.0)
    logits[0, DIRECTIONS.index("N")] = logits[0, DIRECTIONS.index("NE")] = 5.0  # N and NE, 50% each
    logits[0, 8 + TEMPERATURES.index(2500)] = logits[0, 8 + TEMPERATURES.index(6500)] = 5.0
    e = estimates_from_logits(logits)[0]
    assert math.isclose(e.azimuth_deg, 22.5, abs_tol=1e-3) and math.isclose(e.direction_confidence, 0.5, rel_tol=1e-6)
    assert math.isclose(e.temperature_mean_k, 1e6 / ((1e6 / 2500 + 1e6 / 6500) / 2), rel_tol=1e-6)  # mired mean
    assert e.to_json("x.png")["path"] == "x.png" and set(e.to_json()) >= {
        "direction",
        "temperature_k",
        "direction_confidence",
        "temperature_confidence",
    }
    # Mirroring swaps E/W, NE/NW, SE/SW logits and leaves N, S and the temperatures alone.
    one = torch.arange(13.0)[None]
    swapped = mirror_logits(one)[0]
    for d in DIRECTIONS:
        assert swapped[DIRECTIONS.index(d)] == one[0, DIRECTIONS.index(MIRRORED_DIRECTION[d])]
    assert torch.equal(swapped[8:], one[0, 8:])
    assert step_distance(np.array([0]), np.array([7]), 8, circular=True)[0] == 1  # N and NW are neighbours


def test_flip_ensemble_reads_a_mirror_as_the_mirrored_light(random_weights: Path) -> None:
    est = LightEstimator(random_weights, device="cpu")
    rgb = np.random.default_rng(1).random((40, 56, 3)).astype(np.float32)
    a, b = est(rgb), est(rgb[:, ::-1].copy())
    for d in DIRECTIONS:
        assert math.isclose(
            a.direction_probabilities[d], b.direction_probabilities[MIRRORED_DIRECTION[d]], rel_tol=1e-4
        )
    assert a.temperature_probabilities == pytest.approx(b.temperature_probabilities, rel=1e-4)
    with pytest.raises(RelightError, match="NaN"):
        est(np.full((8, 8, 3), np.nan, np.float32))
    with pytest.raises(RelightError, match="not a light estimator"):
        tiny = relightcli.create_model("s3net_lite", encoder_args={"layers": [1, 1, 1, 1]})
        path = random_weights.parent / "relighter.safetensors"
        save_checkpoint(tiny, path)
        LightEstimator(path, device="cpu")


def test_a_second_estimator_reads_the_temperature_at_its_own_size(
    random_weights: Path, tmp_path: Path, monkeypatch
) -> None:
    """``temperature_weights``: the temperature is the second estimator's, the direction both's (the normalised
    geometric mean of their probabilities) or, with ``directions="first"``, the first's alone; each network reads
    the photo resized once to its own side (as either reads alone); the shipped pair is taken by default."""
    other = tmp_path / "t48.safetensors"
    torch.manual_seed(1)
    save_checkpoint(relightcli.create_model("light_net", input_size=48), other)
    pair = LightEstimator(random_weights, device="cpu", temperature_weights=other)
    first = LightEstimator(random_weights, device="cpu", temperature_weights=other, directions="first")
    alone, second = LightEstimator(random_weights, device="cpu"), LightEstimator(other, device="cpu")
    assert pair.input_sizes == (32, 48) and pair.description.endswith(f"(temperature: {other})")
    assert first.description.endswith(f"(temperature: {other}; direction: the first alone)")
    rng = np.random.default_rng(3)
    rgbs = [rng.random((60, 90, 3), dtype=np.float32), rng.random((40, 40, 3), dtype=np.float32)]
    for got, got_first, a, b in zip(
        pair.many(rgbs), first.many(rgbs), alone.many(rgbs), second.many(rgbs), strict=True
    ):
        assert got_first.direction_probabilities == pytest.approx(a.direction_probabilities, abs=1e-6)
        pa, pb = (np.array(list(e.direction_probabilities.values())) for e in (a, b))
        geometric = np.sqrt(pa * pb) / np.sqrt(pa * pb).sum()
        assert list(got.direction_probabilities.values()) == pytest.approx(geometric, abs=1e-5)
        assert not np.allclose(geometric, pa, atol=1e-3)  # the second network really counts
        for e in (got, got_first):
            assert e.temperature_probabilities == pytest.approx(b.temperature_probabilities, abs=1e-6)
        assert a.temperature_probabilities != pytest.approx(b.temperature_probabilities, abs=1e-3)
    with pytest.raises(RelightError, match="directions='second'"):
        LightEstimator(random_weights, device="cpu", temperature_weights=other, directions="second")
    out = tmp_path / "lights.json"
    picture = tmp_path / "photo.png"
    relightcli.io.write_image(picture, rgbs[0])
    args = ["light", str(picture), "--light-weights", str(random_weights), "--temperature-weights", str(other)]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{random_weights.name} and {other.name}" in result.output
    read, expected = json.loads(out.read_text())[0], second.for_file(picture)
    assert read["temperature_k"] == expected.temperature_k
    assert read["temperature_confidence"] == pytest.approx(expected.temperature_confidence, abs=1e-4)
    assert read["direction_confidence"] == pytest.approx(pair.for_file(picture).direction_confidence, abs=1e-4)
    result = runner.invoke(app, [*args, "--directions", "first", "--json", str(out)])
    assert result.exit_code == 0 and f"(temperature: {other.name})" in result.output, result.output
    read = json.loads(out.read_text())[0]
    assert read["direction_confidence"] == pytest.approx(alone.for_file(picture).direction_confidence, abs=1e-4)
    result = runner.invoke(app, [*args, "--temperature-crops", "--json", str(out)])
    assert result.exit_code == 0 and "with corner crops" in " ".join(result.output.split()), result.output
    cropped = LightEstimator(other, device="cpu", temperature_crops=True).for_file(picture)
    assert json.loads(out.read_text())[0]["temperature_confidence"] == pytest.approx(
        cropped.temperature_confidence, abs=1e-4
    )
    assert cropped.temperature_confidence != pytest.approx(expected.temperature_confidence, abs=1e-4)
    relighter = tmp_path / "relighter.safetensors"
    save_checkpoint(relightcli.create_model("s3net_lite", encoder_args={"layers": [1, 1, 1, 1]}), relighter)
    for bad, message in (
        (tmp_path / "none.safetensors", "weights file not found"),
        (relighter, "not a light estimator"),
    ):
        out.unlink(missing_ok=True)
        result = runner.invoke(app, [*args[:-1], str(bad), "--json", str(out)])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    import relightcli.assets as assets

    monkeypatch.setattr(assets, "default_light_weights", lambda: random_weights)
    monkeypatch.setattr(assets, "default_temperature_weights", lambda: other)
    assert LightEstimator(device="cpu").temperature_weights == str(other)  # the shipped pair
    monkeypatch.setattr(assets, "default_temperature_weights", lambda: None)
    assert LightEstimator(device="cpu").temperature_model is None  # an installation without one


def test_the_temperature_is_read_from_the_photo_and_its_corner_crops(random_weights: Path, tmp_path: Path) -> None:
    """``temperature_crops``: the temperature is the normalised product of the readings of the whole
    photo and its four corner crops of 80% of each side, each read as a photo of its own; the direction is the
    whole photo's, as without crops; with a second network, the crops are that network's."""
    x = torch.arange(20 * 30, dtype=torch.float32).view(1, 1, 20, 30)
    crops = [corner_crop(x, corner) for corner in CORNERS]
    assert all(c.shape[-2:] == (16, 24) for c in crops)
    assert [c[0, 0, 0, 0].item() for c in crops] == [0, 6, 4 * 30, 4 * 30 + 6]  # top-left, top-right, ...
    assert crops[3][0, 0, -1, -1].item() == x[0, 0, -1, -1].item()
    other = tmp_path / "t48.safetensors"
    torch.manual_seed(2)
    save_checkpoint(relightcli.create_model("light_net", input_size=48), other)
    rng = np.random.default_rng(5)
    rgbs = [rng.random((50, 70, 3), dtype=np.float32), rng.random((33, 33, 3), dtype=np.float32)]
    for temperature_weights in (None, other):
        crops_on = LightEstimator(
            random_weights, device="cpu", temperature_weights=temperature_weights, temperature_crops=True
        )
        plain = LightEstimator(random_weights, device="cpu", temperature_weights=temperature_weights)
        assert not plain.temperature_crops  # off by default
        reader = plain if temperature_weights is None else LightEstimator(other, device="cpu")
        for rgb, got, whole in zip(rgbs, crops_on.many(rgbs), plain.many(rgbs), strict=True):
            assert got.direction_probabilities == pytest.approx(whole.direction_probabilities, abs=1e-6)
            h, w = rgb.shape[:2]
            ch, cw = round(h * 0.8), round(w * 0.8)
            tops_lefts = [(t * (h - ch), s * (w - cw)) for t, s in CORNERS]
            views = [rgb] + [rgb[top : top + ch, left : left + cw] for top, left in tops_lefts]
            p = np.prod([list(reader(v).temperature_probabilities.values()) for v in views], axis=0) ** (1 / 5)
            assert list(got.temperature_probabilities.values()) == pytest.approx(p / p.sum(), abs=1e-5)
            assert got.temperature_probabilities != pytest.approx(whole.temperature_probabilities, abs=1e-4)
            mirrored = crops_on(rgb[:, ::-1].copy())  # the mirror's crops are the crops' mirrors: the same reading
            assert mirrored.temperature_probabilities == pytest.approx(got.temperature_probabilities, rel=1e-4)


def test_training_resumes_and_records_every_option(scenes: Path, tmp_path: Path) -> None:
    cfg = LightTrainConfig(
        data=[scenes],
        out=tmp_path / "run",
        epochs=2,
        batch_size=20,
        cache_size=48,
        val_split=0.2,
        model_args={"input_size": 32, "widths": [8, 8, 16, 16, 16]},
        lr=3e-3,
    )
    messages: list[str] = []
    first = train_light(LightTrainConfig(**{**cfg.__dict__, "epochs": 1}), on_message=messages.append)
    assert len(first.history) == 1 and "160 training images (4 scenes), 40 validation images (1 scenes)" in messages[0]
    with pytest.raises(RelightError, match="holds a run already"):
        train_light(cfg)
    resumed = train_light(LightTrainConfig(**{**cfg.__dict__, "resume": True}), on_message=messages.append)
    assert [r["epoch"] for r in resumed.history] == [1, 2] and "resumed at epoch 1" in " ".join(messages)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,train_loss,val_direction,val_temperature") and len(rows) == 3
    est = LightEstimator(tmp_path / "run" / "best.safetensors", device="cpu")
    assert est.model.input_size == 32 and list(est.model.relight_args["widths"]) == [8, 8, 16, 16, 16]
    assert est.model.relight_args["dropout"] == 0.2  # defaults recorded too


def test_fine_tuning_starts_from_the_given_estimator_and_refuses_another_shape(
    scenes: Path, tmp_path: Path, random_weights: Path
) -> None:
    cfg = LightTrainConfig(
        data=[scenes], out=tmp_path / "ft", epochs=1, batch_size=20, cache_size=48, val_split=0.2, lr=0.0,
        model_args={"input_size": 32}, init=str(random_weights), warmup_epochs=0.0,
    )  # fmt: skip
    train_light(cfg, on_message=lambda m: None)
    start = load_model(random_weights).state_dict()
    tuned = load_model(tmp_path / "ft" / "last.safetensors").state_dict()
    weights = [k for k in start if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(start[k], tuned[k]) for k in weights)  # lr 0: the weights are the init's
    with pytest.raises(RelightError, match="--model-args"):  # other widths: other weights
        train_light(
            LightTrainConfig(**{**cfg.__dict__, "out": tmp_path / "ft2", "model_args": {"widths": [8, 8, 16, 16, 16]}}),
            on_message=lambda m: None,
        )
    # another working size changes no weight: fine-tuning at it starts from the same weights
    other = LightTrainConfig(**{**cfg.__dict__, "out": tmp_path / "ft4", "model_args": {"input_size": 48}})
    train_light(other, on_message=lambda m: None)
    tuned = load_model(tmp_path / "ft4" / "last.safetensors")
    assert tuned.input_size == 48 and all(torch.equal(start[k], tuned.state_dict()[k]) for k in weights)
    result = runner.invoke(app, ["train", "--model", "light_net", "--data", str(scenes), "--init",
                                 str(tmp_path / "missing.safetensors"), "-o", str(tmp_path / "ft3")])  # fmt: skip
    assert result.exit_code != 0 and "missing.safetensors" in result.output and "Traceback" not in result.output


def test_an_epoch_draws_every_folder_equally() -> None:
    from relightcli.light.training import LabelledImages, epoch_order

    folder = np.array([0] * 90 + [1] * 10)
    data = LabelledImages(np.zeros((100, 1, 1, 3), np.uint8), folder * 0, folder * 0, [""] * 100, folder)
    order = epoch_order(data, 40, np.random.default_rng(0))
    assert len(order) == 40 and (folder[order] == 1).sum() == 20 and len(set(order[folder[order] == 1])) == 10
    assert sorted(epoch_order(data, None, np.random.default_rng(0))) == list(range(100))


def test_scores_and_report_are_exact(scenes: Path, tmp_path: Path, random_weights: Path, monkeypatch) -> None:
    items = labelled_images(scenes)
    assert len(items) == 200 and labelled_images(scenes / "train") == items
    est = LightEstimator(random_weights, device="cpu")
    # A stand-in that reads every light as N at 2500 K: the scores follow from the labels alone.
    monkeypatch.setattr(
        est, "logits", lambda x, *_, **__: torch.tensor([[9.0] + [0.0] * 7 + [9.0] + [0.0] * 4] * len(x))
    )
    result = evaluate_light(est, scenes, tmp_path / "report")
    assert result.images == 200
    assert result.direction.top1 == pytest.approx(1 / 8) and result.direction.within_one == pytest.approx(3 / 8)
    assert result.temperature.top1 == pytest.approx(1 / 5) and result.temperature.within_one == pytest.approx(2 / 5)
    assert result.direction.matrix[:, 0].tolist() == [25] * 8 and result.direction.matrix.sum() == 200
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["direction"]["matrix"][3][0] == 25
    assert "Direction: top-1 12.5%" in result.report.read_text()
    assert len((tmp_path / "report" / "predictions.csv").read_text().splitlines()) == 201
    scores = LightScores.of(np.array([0, 1, 2]), np.array([0, 2, 4]), ["a", "b", "c", "d", "e"], circular=False)
    assert (scores.top1, scores.within_one) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    with pytest.raises(RelightError, match="no images named with their setting"):
        labelled_images(tmp_path / "report")


def test_light_command(scenes: Path, tmp_path: Path, random_weights: Path) -> None:
    train = scenes / "train"
    out = tmp_path / "lights.json"
    first = sorted(train.glob("Image000_*.png"))[0]
    args = ["light", str(first), str(train / "Image001_*_N.png"), "--light-weights", str(random_weights)]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    listed = json.loads(out.read_text())
    assert [Path(e["path"]).name for e in listed] == [first.name] + [f"Image001_{t}_N.png" for t in TEMPERATURES]
    for e in listed:
        assert e["direction"] in DIRECTIONS and e["temperature_k"] in TEMPERATURES
        assert 0 < e["direction_confidence"] <= 1 and 0 < e["temperature_confidence"] <= 1
    folder = runner.invoke(app, ["light", str(train), "--light-weights", str(random_weights)])
    assert folder.exit_code == 0 and folder.output.count("°") == 200  # one row per image
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    weights = ["--light-weights", str(random_weights)]
    for bad, message in (
        ([str(notes), *weights], "notes.png"),
        ([str(tmp_path / "missing.png"), *weights], "image file not found"),
        ([str(tmp_path / "*.jpg"), *weights], "no file matches"),
        ([str(first), "--light-weights", str(tmp_path / "none.safetensors")], "none.safetensors"),
    ):
        out.unlink(missing_ok=True)
        result = runner.invoke(app, ["light", *bad, "--json", str(out)])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
        assert not out.exists()


def test_eval_light_and_show_light(scenes: Path, tmp_path: Path, random_weights: Path) -> None:
    result = runner.invoke(
        app, ["eval", "--light", "--data", str(scenes), "--light-weights", str(random_weights), "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "light read from 200 images" in result.output and "within one step" in result.output
    assert "true (rows) x read (columns)" in result.output and (tmp_path / "report.html").is_file()
    alone = json.loads((tmp_path / "summary.json").read_text())
    assert alone["temperature_weights"] is None and alone["temperature_crops"] is False
    assert "corner crops" not in (tmp_path / "report.html").read_text()
    paired = runner.invoke(
        app,
        ["eval", "--light", "--data", str(scenes), "--light-weights", str(random_weights), "--temperature-weights",
         str(random_weights), "--limit", "8", "--temperature-crops", "-o", str(tmp_path / "paired")],
    )  # fmt: skip
    assert paired.exit_code == 0, paired.output
    paired = json.loads((tmp_path / "paired" / "summary.json").read_text())
    assert paired["temperature_weights"] == str(random_weights) and paired["directions"] == "both"
    assert paired["temperature_crops"] is True
    report = (tmp_path / "paired" / "report.html").read_text()
    assert "(temperature: " in report and "with the corner crops" in report
    from relightcli.assets import samples

    s = samples()[0]
    common = ["apply", str(s.src), str(s.src_depth), "-o", str(tmp_path / "o.png"), "--show-light"]
    preset = runner.invoke(app, [*common, "--light", "3500K/NW", "--light-weights", str(random_weights)])
    assert preset.exit_code == 0, preset.output
    assert "source light: " in preset.output and "guide light: 3500 K (warm white)" in preset.output
    assert "(the preset, exact)" in preset.output


def test_eval_records_the_lights_read_per_pair(scenes: Path, tmp_path: Path, random_weights: Path) -> None:
    import re

    from relightcli.evaluation import evaluate

    from .conftest import tiny_model

    relighter = Relighter(tiny_model("s3net_lite"), device="cpu", precision="fp32")
    reader = LightEstimator(random_weights, device="cpu")
    result = evaluate(relighter, scenes, tmp_path, limit=3, light_reader=reader)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].endswith(",source_light,guide_light") and len(lines) == 1 + 3 * 3
    for line in lines[1:]:
        assert re.search(r",\d{4}K/[NSEW]{1,2} \(\d\.\d\d/\d\.\d\d\),\d{4}K/[NSEW]{1,2} \(\d\.\d\d/\d\.\d\d\)$", line)
    assert result.summary["light_reader"] == str(random_weights)
    assert result.report.read_text().count("light read: source ") == 3


def test_show_light_is_refused_for_folders(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["apply", "--src-dir", str(tmp_path), "--light", "3500K/N", "-o", str(tmp_path / "o"), "--show-light"]
    )
    assert result.exit_code == 1 and "--show-light is for one photo" in result.output


def test_the_calibration_script_reads_crop_views_as_a_mean_of_logits(monkeypatch, capsys) -> None:
    """`benchmarks/light_calibration.py --crop-views F`: the whole image and its four corner crops, averaged."""
    import importlib.util

    repo = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("light_calibration", repo / "benchmarks" / "light_calibration.py")
    cal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cal)
    batch = torch.rand(2, 3, 20, 30)
    views = cal.views(batch, 0.5)
    assert len(views) == 5 and views[0] is batch and all(v.shape == (2, 3, 10, 15) for v in views[1:])
    torch.testing.assert_close(views[4], batch[..., 10:, 15:])
    assert cal.views(batch, None) == [batch]
    presets = repo / "relightcli" / "assets" / "presets"
    monkeypatch.setattr(sys, "argv", ["x", str(presets), "--scales", "2", "--pairs", "400", "--crop-views", "0.8"])
    cal.main()
    assert torch.is_grad_enabled()  # run in this process, it leaves autograd as it found it
    out = capsys.readouterr().out
    assert "| presets | 40 |" in out and out.count("| 2 | 0.") == 1
    shipped = str(repo / "relightcli" / "assets" / "weights" / "light-default.safetensors")
    two = ["x", str(presets), "--scales", "2", "--pairs", "400", "--weights", shipped, shipped]
    monkeypatch.setattr(sys, "argv", two)
    cal.main()
    assert "light-default.safetensors + " in capsys.readouterr().out  # two estimators, their logits averaged
    monkeypatch.setattr(sys, "argv", ["x", str(presets), "--crop-views", "1.5"])
    with pytest.raises(SystemExit):
        cal.main()
