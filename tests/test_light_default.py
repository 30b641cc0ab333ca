"""The shipped light estimator: present in every install, small, and right on scenes it never saw (the bundled
presets and samples are rendered from seed 2024, which its training data never used)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from relightcli.assets import PRESETS_DIR, SAMPLE_PAIRS, default_light_weights, default_temperature_weights, samples
from relightcli.checkpoint import read_checkpoint
from relightcli.cli import app
from relightcli.data.vidit import DIRECTIONS
from relightcli.evaluation.responses import respond
from relightcli.io import read_image
from relightcli.light import LightEstimator, estimate_light
from relightcli.light.evaluation import evaluate_light, labelled_images


def test_shipped_estimator_is_small_and_records_its_recipe() -> None:
    path = default_light_weights()
    assert path.stat().st_size < 20 * 2**20
    _, meta = read_checkpoint(path)
    assert meta["model"] == "light_net" and json.loads(meta["recipe"])["data"] == ["pt256", "np256", "vl256"]
    assert json.loads(meta["recipe"])["look_augment"] == 0.5


def test_shipped_temperature_reader_reads_at_256_beside_the_estimator() -> None:
    """The shipped estimator is a pair: light-default (128 px) and light-temperature (256 px), continued from it;
    the temperature is the second's, the direction both's (weights/light.md); both files stay under 20 MB."""
    path = default_temperature_weights()
    assert path is not None and path.stat().st_size + default_light_weights().stat().st_size < 20 * 2**20
    _, meta = read_checkpoint(path)
    recipe = json.loads(meta["recipe"])
    assert meta["model"] == "light_net" and json.loads(meta["model_args"])["input_size"] == 256
    assert recipe["init"] == "light-default.safetensors" and recipe["look_augment"] == 0.5
    est = LightEstimator(device="cpu")
    assert est.input_sizes == (128, 256) and est.temperature_weights == str(path) and est.directions == "both"


def test_shipped_estimator_reads_the_bundled_presets(tmp_path) -> None:
    result = evaluate_light(LightEstimator(device="cpu"), PRESETS_DIR, tmp_path)
    assert result.images == 40
    # Measured 100% / 100% for direction and 85% / 100% for temperature (top-1 / within one step, 2026-12-05;
    # light-default alone: 70% / 95%); chance is 12.5% / 37.5% and 20% / 52%.
    assert result.direction.top1 >= 0.9 and result.direction.within_one == 1.0
    assert result.temperature.top1 >= 0.75 and result.temperature.within_one >= 0.95


def test_shipped_estimator_reads_the_presets_directions_through_other_camera_responses() -> None:
    # Measured 100% under each (2026-12-05); the estimator before --look-augment read 82.5% through lowcontrast.
    estimator = LightEstimator(device="cpu")
    items = labelled_images(PRESETS_DIR)
    images = [read_image(path).rgb for path, _, _ in items]
    for look in ("lowcontrast", "aces", "gamma22", "dark2"):
        read = estimator.many([respond(look, image) for image in images])
        right = sum(DIRECTIONS.index(e.direction) == d for e, (_, d, _) in zip(read, items, strict=True))
        assert right >= 38, (look, right)  # of 40


def test_shipped_estimator_reads_the_samples_directions() -> None:
    for sample, (_, _, source, target) in zip(samples(), SAMPLE_PAIRS, strict=True):
        assert estimate_light(sample.src).direction == source.split("_")[1]
        assert estimate_light(sample.guide).direction == target.split("_")[1]


def test_relight_light_runs_offline_on_the_shipped_weights(tmp_path) -> None:
    out = tmp_path / "l.json"
    result = CliRunner().invoke(app, ["light", str(samples()[0].src), "--json", str(out)])
    assert result.exit_code == 0, result.output
    (read,) = json.loads(out.read_text())
    assert read["direction"] == "W" and read["direction_confidence"] > 0.5
