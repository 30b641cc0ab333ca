"""The relighter told the lights (s3net_lite_lightaware) and its light codes (relightcli.models.lightcode)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

import relightcli
from relightcli.cli import app
from relightcli.data.vidit import DIRECTIONS, SETTINGS, Setting
from relightcli.inference.apply import parse_apply_paths
from relightcli.inference.engine import Relighter
from relightcli.models import lightcode
from relightcli.models.s3net import widen_input
from relightcli.synth import synthesize
from relightcli.training import TrainConfig, train
from relightcli.training.trainer import told_lights

from .conftest import TINY_ARGS, tiny_model

runner = CliRunner()
NAME = "s3net_lite_lightaware"


def _scrambled(seed: int = 0) -> torch.nn.Module:
    """The tiny told model with every trainable weight random (the zero-initialised heads too), so that each path
    the lights steer does something."""
    model = tiny_model(NAME, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith("light_reader.") and p.ndim >= 1:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _other_estimator(path: Path) -> torch.nn.Module:
    """A light estimator unlike the tiny model's carried reader in every weight, saved at ``path``."""
    estimator = relightcli.create_model("light_net")
    with torch.no_grad():
        for p in estimator.parameters():
            p.add_(0.1)
    relightcli.save_checkpoint(estimator, path)
    return estimator


def _codes(*settings: str) -> torch.Tensor:
    return lightcode.settings_code([Setting.parse(s) for s in settings])


def test_setting_codes_are_one_hot_and_smoothing_keeps_them_distributions() -> None:
    code = lightcode.setting_code(Setting(3500, "NE"))
    assert code.shape == (lightcode.CODE,) and code.sum() == 2
    assert code[DIRECTIONS.index("NE")] == 1 and code[lightcode.N_DIRECTIONS + 1] == 1
    smooth = lightcode.setting_code(Setting(3500, "NE"), smoothing=0.1)
    torch.testing.assert_close(smooth[: lightcode.N_DIRECTIONS].sum(), torch.tensor(1.0))
    torch.testing.assert_close(smooth[lightcode.N_DIRECTIONS :].sum(), torch.tensor(1.0))
    assert smooth.argmax() == DIRECTIONS.index("NE")


def test_mirrored_codes_swap_east_and_west_and_keep_the_temperature() -> None:
    for s in SETTINGS:
        mirrored = Setting(
            s.temperature,
            {"E": "W", "W": "E", "NE": "NW", "NW": "NE", "SE": "SW", "SW": "SE"}.get(s.direction, s.direction),
        )
        torch.testing.assert_close(lightcode.mirror_code(_codes(str(s))), _codes(str(mirrored)))


def test_same_direction_is_the_probability_that_both_lights_come_from_one_side() -> None:
    assert lightcode.same_direction(_codes("2500_E"), _codes("6500_E")).item() == 1.0
    assert lightcode.same_direction(_codes("2500_E"), _codes("2500_W")).item() == 0.0
    uniform = torch.full((1, lightcode.CODE), 1 / 8)
    torch.testing.assert_close(lightcode.same_direction(uniform, _codes("2500_E")), torch.tensor([1 / 8]))


def test_it_starts_as_the_colour_model_where_the_direction_changes() -> None:
    """--init from s3net_lite_lightcolour: the FiLM and the temperature table start at zero, so told that the
    direction changes, the new model computes exactly what the old one did."""
    old = tiny_model("s3net_lite_lightcolour", seed=3)
    with torch.no_grad():
        for p in old.parameters():
            p.add_(0.02 * torch.randn_like(p))
    new = tiny_model(NAME)
    new.load_state_dict(widen_input(old.state_dict(), new.state_dict()))
    x = torch.rand(2, 8, 64, 96)
    with torch.inference_mode():
        a = old(x)
        b = new(x, source_light=_codes("4500_E", "2500_N"), target_light=_codes("4500_W", "6500_S"))
    torch.testing.assert_close(a, b)


def test_told_the_direction_stays_only_the_colour_changes() -> None:
    """Same direction: the output is the source times one gain per channel (shadows cannot move); another
    direction: the gain varies across the image."""
    model = _scrambled()
    x = torch.rand(1, 8, 64, 64) * 0.8 + 0.1
    with torch.inference_mode():
        same = model(x, source_light=_codes("2500_E"), target_light=_codes("6500_E"))
        moved = model(x, source_light=_codes("2500_E"), target_light=_codes("6500_W"))
    ratio = same / x[:, :3]
    spread = (ratio.amax(dim=(2, 3)) - ratio.amin(dim=(2, 3))).max()
    assert spread < 1e-4, spread
    assert (ratio.mean(dim=(2, 3)) - 1).abs().max() > 1e-3  # it does change the colour
    moved_ratio = moved / x[:, :3]
    assert (moved_ratio.amax(dim=(2, 3)) - moved_ratio.amin(dim=(2, 3))).min() > 1e-2


def test_lights_not_told_are_read_and_a_mirrored_input_reads_mirrored() -> None:
    model = tiny_model(NAME)
    x = torch.rand(2, 8, 64, 64)
    with torch.inference_mode():
        src, guide = model.read_lights(x)
        src_m, guide_m = model.read_lights(x.flip(-1))
        assert src.shape == guide.shape == (2, lightcode.CODE)
        torch.testing.assert_close(src.sum(1), torch.full((2,), 2.0))
        torch.testing.assert_close(src_m, lightcode.mirror_code(src), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(guide_m, lightcode.mirror_code(guide), atol=1e-5, rtol=1e-5)
        # what forward reads by itself is what read_lights gives, and half-told fills in the other half
        torch.testing.assert_close(model(x), model(x, source_light=src, target_light=guide))
        torch.testing.assert_close(model(x, target_light=guide), model(x))


def test_the_light_reader_is_the_shipped_estimator_frozen_in_eval_mode() -> None:
    from safetensors.torch import load_file

    from relightcli.assets import default_light_weights

    model = tiny_model(NAME).train()
    assert not model.light_reader.training and all(not p.requires_grad for p in model.light_reader.parameters())
    shipped = load_file(str(default_light_weights()))
    for k, v in model.light_reader.state_dict().items():
        torch.testing.assert_close(v, shipped[k].to(v.dtype))
    assert "light_weights" not in tiny_model(NAME).relight_args  # how it starts is not part of the architecture


def test_bf16_weights_run_the_light_reader_too() -> None:
    model = tiny_model(NAME).to(torch.bfloat16)
    with torch.inference_mode():
        y = model(torch.rand(1, 8, 64, 64, dtype=torch.bfloat16))
    assert torch.isfinite(y.float()).all()


@pytest.mark.parametrize("flip", [False, True])
def test_the_relighter_tells_a_known_setting_and_mirrors_it_for_the_flip_pass(flip: bool) -> None:
    relighter = Relighter(_scrambled(), device="cpu", precision="fp32", flip_ensemble=flip)
    assert relighter.told_light
    rng = np.random.default_rng(0)
    src, guide = rng.random((64, 64, 3), dtype=np.float32) * 0.4 + 0.1, rng.random((64, 64, 3), dtype=np.float32)
    depth = rng.random((64, 64), dtype=np.float32)
    out = relighter.relight(
        src, depth, guide, depth, source_setting=Setting(2500, "NE"), target_setting=Setting(5500, "NE")
    )
    ratio = out / src
    assert (ratio.max(axis=(0, 1)) - ratio.min(axis=(0, 1))).max() < 1e-4
    plain = Relighter(tiny_model("s3net_lite_lightcolour"), device="cpu", precision="fp32", flip_ensemble=flip)
    assert not plain.told_light
    np.testing.assert_array_equal(  # other models ignore the settings
        plain.relight(src, depth, guide, depth, target_setting=Setting(5500, "NE")),
        plain.relight(src, depth, guide, depth),
    )


def test_the_engine_reads_the_lights_once_on_the_whole_image_and_tells_every_tile() -> None:
    model = _scrambled()
    relighter = Relighter(model, device="cpu", precision="fp32", flip_ensemble=False)
    rng = np.random.default_rng(1)
    src, guide = rng.random((96, 96, 3), dtype=np.float32), rng.random((96, 96, 3), dtype=np.float32)
    depth = rng.random((96, 96), dtype=np.float32)
    x = torch.from_numpy(np.concatenate([src, guide, depth[..., None], depth[..., None]], axis=2)).permute(2, 0, 1)
    with torch.inference_mode():
        whole_src, whole_guide = model.read_lights(x[None])
        tile_src, _ = model.read_lights(x[None, :, :64, :64])
    read = relighter.read_lights(x[None])  # the model's own reader, kept apart from the optimised model
    torch.testing.assert_close(read["source_light"], whole_src, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(read["target_light"], whole_guide, atol=1e-5, rtol=1e-5)
    assert (whole_src - tile_src).abs().max() > 1e-3  # a tile alone reads another light
    target = _codes("3500_NW")
    half = relighter.complete_lights(x[None], {"target_light": target})
    assert half["target_light"] is target
    torch.testing.assert_close(half["source_light"], whole_src, atol=1e-5, rtol=1e-5)
    tiled = Relighter(model, device="cpu", precision="fp32", flip_ensemble=False, tile=64, tile_overlap=16)
    tiled.relight(src, depth, guide, depth)
    torch.testing.assert_close(tiled.last_lights["source_light"], whole_src, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tiled.last_lights["target_light"], whole_guide, atol=1e-5, rtol=1e-5)
    same = relighter.same_direction({"source_light": _codes("2500_E"), "target_light": _codes("6500_E", "6500_W")})
    torch.testing.assert_close(same, torch.tensor([1.0, 0.0]))
    plain = Relighter(tiny_model("s3net_lite_lightcolour"), device="cpu", precision="fp32")
    assert plain.complete_lights(x[None]) is None
    with pytest.raises(relightcli.RelightError, match="does not read the lights"):
        plain.read_lights(x[None])


@pytest.mark.parametrize("native_bf16", [True, False])
def test_the_lights_are_read_in_fp32_whichever_precision_the_cpu_gets(native_bf16: bool, monkeypatch) -> None:
    import relightcli.inference.engine as engine

    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: native_bf16)  # both branches on any CPU
    model = _scrambled()
    x = torch.rand(1, 8, 64, 64)
    with torch.inference_mode():
        src, guide = model.read_lights(x)
    relighter = Relighter(model, device="cpu")  # auto: bf16 where the CPU has it natively, else fp32
    assert relighter.precision == ("bf16" if native_bf16 else "fp32")
    assert all(p.dtype == torch.float32 for p in relighter._reader.parameters())  # not cast with the model
    read = relighter.read_lights(x)  # runs the fp32 copy only, so it is safe on a CPU without bf16 too
    torch.testing.assert_close(read["source_light"], src, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(read["target_light"], guide, atol=1e-5, rtol=1e-5)


def test_show_light_prints_what_a_light_aware_model_was_told_and_read(scene: dict[str, Path], tmp_path: Path) -> None:
    ckpt = relightcli.save_checkpoint(_scrambled(), tmp_path / "aware.safetensors")
    common = ["apply", str(scene["src"]), str(scene["src_depth"]), "--weights", str(ckpt), "--show-light"]
    told = runner.invoke(
        app, [*common, "--light", "3500K/NW", "--source-light", "4500K/NW", "-o", str(tmp_path / "a.png")]
    )
    assert told.exit_code == 0, told.output
    assert "source light: 4500 K" in told.output and "(given, exact)" in told.output
    assert "same direction: 100%" in told.output
    guide = [str(scene["guide"]), str(scene["guide_depth"])]
    read = runner.invoke(app, [*common[:3], *guide, *common[3:], "-o", str(tmp_path / "b.png")])
    assert read.exit_code == 0, read.output
    assert read.output.count("read by the model") == 2 and "same direction: " in read.output


def test_apply_tells_the_preset_setting(scene: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    inputs = parse_apply_paths([scene["src"], scene["src_depth"]], "3500K/nw")
    assert inputs.setting == Setting(3500, "NW")
    told = {}

    def spy(self, *arrays, source_setting=None, target_setting=None):
        told.update(source=source_setting, target=target_setting)
        return arrays[0]

    monkeypatch.setattr(Relighter, "relight", spy)
    ckpt = relightcli.save_checkpoint(tiny_model(NAME), tmp_path / "aware.safetensors")
    args = ["apply", str(scene["src"]), str(scene["src_depth"]), "--light", "3500K/NW", "--weights", str(ckpt)]
    result = runner.invoke(app, [*args, "--source-light", "4500_E", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    assert told == {"source": Setting(4500, "E"), "target": Setting(3500, "NW")}
    bad = runner.invoke(app, [*args, "--source-light", "4000K/E", "-o", str(tmp_path / "bad.png")])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1 and "4000K/E" in bad.stderr
    assert not (tmp_path / "bad.png").exists()


def test_training_tells_the_labels_on_a_share_of_the_steps(tmp_path: Path) -> None:
    info = relightcli.model_info(NAME)
    batch = {"source_setting": ["2500_E", "3500_N"], "target_setting": ["2500_W", "6500_N"]}
    cfg = TrainConfig(data=tmp_path, model=NAME, exact_light=0.5)
    draws = [told_lights(info, batch, cfg, step, torch.device("cpu")) for step in range(200)]
    told = [d for d in draws if d]
    assert 70 < len(told) < 130  # about half, and the same steps on every call (a resumed run draws alike)
    assert [bool(d) for d in draws] == [bool(told_lights(info, batch, cfg, s, torch.device("cpu"))) for s in range(200)]
    assert told[0]["target_light"].shape == (2, lightcode.CODE) and told[0]["target_light"][0].argmax() == 6
    assert told_lights(relightcli.model_info("s3net_lite_lightcolour"), batch, cfg, 0, torch.device("cpu")) == {}
    never = TrainConfig(data=tmp_path, model=NAME, exact_light=0.0)
    assert not any(told_lights(info, batch, never, s, torch.device("cpu")) for s in range(50))


def test_it_trains_from_colour_model_weights(tmp_path: Path) -> None:
    data = tmp_path / "vidit"
    synthesize(data, scenes=3, size=32, seed=3, pairs=2, supersample=1)
    start = relightcli.save_checkpoint(tiny_model("s3net_lite_lightcolour"), tmp_path / "colour.safetensors")
    cfg = TrainConfig(
        data=data,
        model=NAME,
        model_args=TINY_ARGS[NAME],
        out=tmp_path / "run",
        epochs=1,
        batch_size=2,
        lr=1e-8,
        fresh_lr_scale=1e5,  # the added FiLM and table at 1e-3, the rest at 1e-8
        weight_decay=0.0,
        max_steps=3,
        loss="l1",
        val_max=1,
        init=str(start),
        exact_light=1.0,
        device="cpu",
    )
    train(cfg)
    trained = relightcli.load_model(tmp_path / "run" / "last.safetensors")
    fresh = tiny_model(NAME)
    assert trained.relight_info.name == NAME
    assert (trained.temperature_gain - fresh.temperature_gain).abs().max() > 1e-4  # the told paths learned fast
    assert (trained.code_film[2].weight - fresh.code_film[2].weight).abs().max() > 0
    started = relightcli.load_model(start)
    moved = (trained.tail[1].weight - started.tail[1].weight).abs().max()
    assert moved < 1e-6, moved  # what --init gave moved at the base rate only
    for k, v in fresh.light_reader.state_dict().items():  # the reader did not
        torch.testing.assert_close(trained.light_reader.state_dict()[k], v)


def test_the_reader_size_is_the_estimators_and_checkpoints_that_do_not_record_it_keep_128(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relightcli.assets
    from relightcli.checkpoint import read_checkpoint, stored_model_args
    from relightcli.models.s3net import LEGACY_READER_SIZE

    sizes = {}
    for size in (64, 96):  # estimators of their own sizes
        sizes[size] = tmp_path / f"est{size}.safetensors"
        relightcli.save_checkpoint(relightcli.create_model("light_net", input_size=size), sizes[size])
    built = relightcli.create_model(NAME, **TINY_ARGS[NAME], light_weights=str(sizes[96]))  # the starting reader
    assert built.light_reader.input_size == 96 and built.relight_args["reader_size"] == 96
    # the shipped estimator (here one of 64) is what a fresh model starts from, at its size
    monkeypatch.setattr(relightcli.assets, "default_light_weights", lambda: sizes[64])
    fresh = tiny_model(NAME)
    assert fresh.light_reader.input_size == 64 and fresh.relight_args["reader_size"] == 64
    # a checkpoint written before reader_size was recorded: rebuilt with the 128 reader it was made with,
    # whatever the shipped estimator's size, and --init inherits that size (stored_model_args fills it in)
    legacy = tmp_path / "legacy.safetensors"
    relightcli.save_checkpoint(fresh, legacy)
    state, meta = read_checkpoint(legacy)
    args = json.loads(meta["model_args"])
    del args["reader_size"]
    meta = {**meta, "model_args": json.dumps(args)}
    save_file(state, legacy, metadata=meta)
    assert stored_model_args(meta, "legacy")["reader_size"] == LEGACY_READER_SIZE == 128
    loaded = relightcli.load_model(legacy)
    assert loaded.light_reader.input_size == 128 and loaded.relight_args["reader_size"] == 128  # re-saved: recorded
    with pytest.raises(relightcli.RelightError, match="reader_size must be a whole number"):
        relightcli.create_model(NAME, **TINY_ARGS[NAME], reader_size=8)


def test_fine_tuning_continues_the_checkpoints_model_as_it_was_built(tmp_path: Path) -> None:
    """``--init W`` without --model-args: W's recorded options (its reader's size, its calibrated gate) carry on,
    as `relight train --init weights/relight-default.safetensors` needs; the inference-only sharpnesses may be
    set apart from W's, options that shape the weights may not."""
    data = tmp_path / "vidit"
    synthesize(data, scenes=3, size=32, seed=3, pairs=2, supersample=1)
    start = relightcli.create_model(NAME, **TINY_ARGS[NAME], reader_size=96, gate_sharpness=2.0)
    relightcli.save_checkpoint(start, tmp_path / "start.safetensors")
    base = dict(data=data, model=NAME, epochs=1, batch_size=2, lr=1e-8, max_steps=1, loss="l1", val_max=1,
                init=str(tmp_path / "start.safetensors"), device="cpu")  # fmt: skip
    train(TrainConfig(**base, out=tmp_path / "run"))
    tuned = relightcli.load_model(tmp_path / "run" / "last.safetensors")
    assert tuned.light_reader.input_size == 96 and tuned.gate_sharpness == 2.0
    assert tuned.relight_args["encoder_args"] == TINY_ARGS[NAME]["encoder_args"]
    train(TrainConfig(**base, out=tmp_path / "sharp", model_args={"gate_sharpness": 3.0}))
    assert relightcli.load_model(tmp_path / "sharp" / "last.safetensors").gate_sharpness == 3.0
    with pytest.raises(relightcli.RelightError, match="--model-args"):
        train(TrainConfig(**base, out=tmp_path / "other", model_args={"reader_size": 128}))


def test_eval_tells_the_recorded_settings_only_to_a_model_told_the_lights(tmp_path: Path) -> None:
    from relightcli.evaluation import evaluate

    data = tmp_path / "vidit"
    synthesize(data, scenes=0, size=32, seed=4, pairs=2, val_scenes=2, supersample=1)
    told = Relighter(_scrambled(), device="cpu", precision="fp32")
    read = evaluate(told, data / "val", tmp_path / "read").summary
    exact = evaluate(told, data / "val", tmp_path / "told", tell_lights=True).summary
    assert exact["told_lights"] and not read["told_lights"] and exact["pairs"] == read["pairs"] == 2
    header, *rows = (tmp_path / "told" / "metrics.csv").read_text().splitlines()
    assert header.endswith(",source_light,guide_light,same_direction") and len(rows) == 2 * 3
    exact_rows = [r for r in rows if ",model," in r]
    assert all(r.endswith(",1.00") or r.endswith(",0.00") for r in exact_rows), exact_rows  # exact codes
    assert (tmp_path / "read" / "index.html").read_text().count("; same direction ") == 2
    assert (tmp_path / "told" / "index.html").read_text().count("; light told: source ") == 2
    from relightcli.light import LightEstimator

    estimator = LightEstimator(device="cpu")
    named = evaluate(told, data / "val", tmp_path / "named", light_reader=estimator, tell_lights=True)
    assert named.summary["light_reader"] == estimator.weights  # its columns: the estimator's readings
    assert named.report.read_text().count("; light read: source ") == 2
    assert (tmp_path / "named" / "metrics.csv").read_text().splitlines()[0].endswith(",same_direction")
    assert exact["methods"]["model"]["psnr"] != read["methods"]["model"]["psnr"]  # the codes reach the model
    plain = Relighter(tiny_model("s3net_lite_lightcolour"), device="cpu", precision="fp32")
    with pytest.raises(relightcli.RelightError, match="not told the lights"):
        evaluate(plain, data / "val", tmp_path / "plain", tell_lights=True)
    ckpt = relightcli.save_checkpoint(tiny_model("s3net_lite_lightcolour"), tmp_path / "plain.safetensors")
    args = ["eval", "--data", str(data / "val"), "--tell-lights", "--no-flip-ensemble"]
    result = runner.invoke(app, [*args, "--weights", str(ckpt), "-o", str(tmp_path / "cli")])
    assert result.exit_code == 1 and "not told the lights" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    shipped = runner.invoke(app, [*args, "-o", str(tmp_path / "default")])  # the shipped default is told them
    assert shipped.exit_code == 0, shipped.output


def test_softened_codes_stay_distributions_and_keep_exact_ones_possible() -> None:
    from relightcli.training.trainer import soften_codes

    exact = _codes("2500_E", "6500_NW", "4500_S")
    soft = soften_codes(exact, 0.8, torch.Generator().manual_seed(0))
    torch.testing.assert_close(soft[:, : lightcode.N_DIRECTIONS].sum(1), torch.ones(3))
    torch.testing.assert_close(soft[:, lightcode.N_DIRECTIONS :].sum(1), torch.ones(3))
    assert (soft[:, : lightcode.N_DIRECTIONS].max(1).values < 1).all()  # unsure now
    again = soften_codes(exact, 0.8, torch.Generator().manual_seed(0))
    torch.testing.assert_close(soft, again)  # a function of the generator's seed (the run's seed and step)
    torch.testing.assert_close(soften_codes(exact, 0.0, torch.Generator().manual_seed(0)), exact)
    weights = [1 - soften_codes(exact[:1], 0.8, torch.Generator().manual_seed(k))[0, 2].item() for k in range(200)]
    assert max(weights) < 0.8 and min(weights) < 0.1  # the weight spans [0, amount]


def test_reading_sharpness_makes_read_codes_surer_and_export_records_it(tmp_path: Path) -> None:
    model = tiny_model(NAME)
    x = torch.rand(2, 8, 64, 64)
    with torch.inference_mode():
        soft = model.read_lights(x)
        model.reading_sharpness = 3.0
        sharp = model.read_lights(x)
    for a, b in zip(soft, sharp, strict=True):
        for group in (slice(0, lightcode.N_DIRECTIONS), slice(lightcode.N_DIRECTIONS, lightcode.CODE)):
            assert torch.equal(a[:, group].argmax(1), b[:, group].argmax(1))  # the same reading, surer
            assert (b[:, group].max(1).values > a[:, group].max(1).values).all()
    model.reading_sharpness = 1.0
    ckpt, out = tmp_path / "aware.safetensors", tmp_path / "sharp.safetensors"
    relightcli.save_checkpoint(model, ckpt)
    result = runner.invoke(
        app, ["export", str(ckpt), str(out), "--dtype", "fp32", "--model-arg", "reading_sharpness=3"]
    )
    assert result.exit_code == 0, result.output
    loaded = relightcli.load_model(out)
    assert loaded.reading_sharpness == 3.0 and loaded.relight_args["reading_sharpness"] == 3
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    for bad in ("reading_sharpness=0", "no_such_option=1", "reading_sharpness"):
        result = runner.invoke(app, ["export", str(ckpt), str(tmp_path / "bad.safetensors"), "--model-arg", bad])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert not (tmp_path / "bad.safetensors").exists()


def test_gate_sharpness_commits_the_same_direction_mix_and_leaves_told_codes_alone() -> None:
    agree = torch.tensor([[0.6, 0.3] + [0.1 / 6] * 6 + [0.2] * 5])  # reads N, unsure
    other = torch.tensor([[0.3, 0.6] + [0.1 / 6] * 6 + [0.2] * 5])  # reads NE, unsure
    soft = lightcode.same_direction(agree, agree).item()
    sharp = lightcode.same_direction(agree, agree, 4.0).item()
    assert 0.4 < soft < 0.5 and sharp > 0.85  # two readings of N: nearer the colour-only path
    assert lightcode.same_direction(agree, other, 4.0).item() < lightcode.same_direction(agree, other).item() < 0.5
    exact = lightcode.settings_code(["4500_N", "2500_E"])
    for power in (1.0, 4.0):
        assert lightcode.same_direction(exact[:1], exact[:1], power).item() == 1.0
        assert lightcode.same_direction(exact[:1], exact[1:], power).item() == 0.0
    torch.testing.assert_close(
        lightcode.sharpen(agree[:, :8], 3.0), torch.softmax(3.0 * agree[:, :8].log(), dim=1)
    )  # a softmax of the logits times the power

    model = tiny_model(NAME)
    x, src, guide = torch.rand(1, 8, 64, 64), agree, agree
    with torch.inference_mode():
        before = model(x, src, guide)
        model.gate_sharpness = 4.0
        after = model(x, src, guide)
        told = model(x, exact[:1], exact[:1])
        model.gate_sharpness = 1.0
        told_before = model(x, exact[:1], exact[:1])
    assert not torch.equal(before, after)
    torch.testing.assert_close(told, told_before)
    with pytest.raises(relightcli.RelightError, match="gate_sharpness must be a positive number"):
        relightcli.create_model(NAME, **TINY_ARGS[NAME], gate_sharpness=0.0)


def test_a_bad_light_reader_file_is_one_clear_error(tmp_path: Path) -> None:
    for name, data in (
        ("missing.safetensors", None),
        ("truncated.safetensors", b"\x08\x00\x00"),
        ("foreign.bin", b"x" * 64),
    ):
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(relightcli.RelightError, match=r"light_weights .*: not a light estimator's weights"):
            relightcli.create_model(NAME, **TINY_ARGS.get(NAME, {}), light_weights=str(path))
    wrong = tmp_path / "relighter.safetensors"  # a checkpoint, but of another network
    relightcli.save_checkpoint(tiny_model("s3net_lite_ratio"), wrong)
    with pytest.raises(relightcli.RelightError, match="not a light estimator's weights"):
        relightcli.create_model(NAME, **TINY_ARGS.get(NAME, {}), light_weights=str(wrong))


def test_export_swaps_the_carried_light_reader_and_refuses_what_cannot_be_one(tmp_path: Path) -> None:
    model = tiny_model(NAME)
    ckpt = tmp_path / "aware.safetensors"
    relightcli.save_checkpoint(model, ckpt)
    reader_file, out = tmp_path / "reader.safetensors", tmp_path / "swapped.safetensors"
    reader = _other_estimator(reader_file)
    result = runner.invoke(app, ["export", str(ckpt), str(out), "--dtype", "fp32", "--light-weights", str(reader_file)])
    assert result.exit_code == 0, result.output
    loaded = relightcli.load_model(out)
    for k, v in reader.state_dict().items():
        torch.testing.assert_close(loaded.light_reader.state_dict()[k], v)
    for k, v in model.state_dict().items():  # the relighter's own weights unchanged
        if not k.startswith("light_reader."):
            torch.testing.assert_close(loaded.state_dict()[k], v)
    x = torch.rand(1, 8, 64, 64)
    with torch.inference_mode():
        assert not torch.allclose(loaded.read_lights(x)[0], model.read_lights(x)[0])
    # an estimator of another working size: the relighter records it and reads at it, as the estimator does
    wide = relightcli.create_model("light_net", input_size=64)
    wide.load_state_dict(reader.state_dict())
    wide_file, wide_out = tmp_path / "reader64.safetensors", tmp_path / "swapped64.safetensors"
    relightcli.save_checkpoint(wide, wide_file)
    result = runner.invoke(app, ["export", str(out), str(wide_out), "--light-weights", str(wide_file)])
    assert result.exit_code == 0, result.output
    loaded64 = relightcli.load_model(wide_out)
    assert loaded64.light_reader.input_size == 64 and loaded64.relight_args["reader_size"] == 64
    from relightcli.light import LightEstimator

    with torch.inference_mode():
        codes = loaded64.read_lights(x)[0].float()
    logits = LightEstimator(wide_file, device="cpu").logits(x[:, :3])
    torch.testing.assert_close(codes[:, :8], torch.softmax(logits[:, :8], 1), atol=2e-3, rtol=0)
    plain = tmp_path / "plain.safetensors"
    relightcli.save_checkpoint(tiny_model("s3net_lite_ratio"), plain)
    for src, weights, message in (
        (plain, reader_file, "reads no light"),
        (ckpt, ckpt, "not a LightNet light estimator"),
        (ckpt, tmp_path / "missing.safetensors", "missing.safetensors"),
    ):
        bad = tmp_path / "bad.safetensors"
        result = runner.invoke(app, ["export", str(src), str(bad), "--light-weights", str(weights)])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert message in result.output and not bad.exists(), result.output


def test_the_gate_sharpness_script_scores_every_value_from_two_relightings(tmp_path: Path, monkeypatch, capsys) -> None:
    """`benchmarks/gate_sharpness.py` on the shipped default: pairs drawn from a scene range, every value and the
    checkpoint's own scored, the mix as near the model's own output as clamping allows; bad ranges are one line."""
    import importlib.util

    repo = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("gate_sharpness", repo / "benchmarks" / "gate_sharpness.py")
    gs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gs)
    synthesize(tmp_path / "d", scenes=3, size=32, seed=3, supersample=1)
    train_dir = tmp_path / "d" / "train"
    monkeypatch.setattr(sys, "argv", ["x", f"{train_dir}:1-2", "--pairs", "4", "--values", "1", "3", "--json",
                                      str(tmp_path / "gs.json")])  # fmt: skip
    assert gs.main() == 0
    out = capsys.readouterr().out
    own = relightcli.load_model(repo / "weights" / "relight-default.safetensors").gate_sharpness
    keys = sorted({1.0, 3.0, own})
    for key in [*map(str, keys), "hard", "identity"]:
        assert out.count(f"\n| {key} | ") == 2, key  # the folder's table and the pooled one
    near = float(out.split("(first pairs): ")[1].split(" dB")[0])
    assert near > 40.0, out
    assert float(out.split("pick: gate sharpness ")[1].split()[0]) in keys
    saved = json.loads((tmp_path / "gs.json").read_text())
    rows = saved["pairs"][f"{train_dir}:1-2"]
    assert len(rows) == 4 and all(r["scores"]["hard"][2] in (0.0, 1.0) for r in rows)
    assert all(r["scores"]["identity"][2] == 1.0 and 0 <= r["scores"]["1.0"][2] <= 1 for r in rows)
    import relightcli.inference.engine as engine

    native = engine.cpu_has_native_bf16()  # the other precision branch than this CPU's runs the same way
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: not native)
    monkeypatch.setattr(sys, "argv", ["x", f"{train_dir}:1-2", "--pairs", "2", "--values", "2"])
    assert gs.main() == 0
    out = capsys.readouterr().out
    assert ("; fp32, flip" if native else "; bf16, flip") in out
    assert float(out.split("(first pairs): ")[1].split(" dB")[0]) > 40.0, out
    monkeypatch.setattr(sys, "argv", ["x", f"{train_dir}:0-0"])
    assert gs.main() == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == f"error: {train_dir}:0-0: fewer than two scenes to draw pairs from"
    )


def test_two_gate_readers_read_the_directions_together(tmp_path: Path, monkeypatch) -> None:
    """`relight export --gate-weights A --gate-weights B`: the directions for the same-direction weight are the
    normalised geometric mean of both readers' probabilities (the mean of their log-probabilities), in the model
    and in the engine alike; one --gate-weights replaces both; a third is one clear error."""
    from relightcli.checkpoint import read_checkpoint
    from relightcli.models.s3net import read_codes

    ckpt = relightcli.save_checkpoint(_scrambled(), tmp_path / "aware.safetensors")
    a_file, b_file, out = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "two.safetensors"
    torch.manual_seed(3)
    a_net, b_net = (relightcli.create_model("light_net", input_size=size).eval() for size in (128, 48))
    relightcli.save_checkpoint(a_net, a_file)
    relightcli.save_checkpoint(b_net, b_file)
    args = ["export", str(ckpt), str(out), "--dtype", "fp32", "--gate-weights", str(a_file)]
    result = runner.invoke(app, [*args, "--gate-weights", str(b_file)])
    assert result.exit_code == 0, result.output
    two = relightcli.load_model(out)
    assert two.relight_args["gate_reader_size"] == 128 and two.relight_args["second_gate_reader_size"] == 48
    assert read_checkpoint(out)[1]["second_gate_reader"] == b_file.name
    x = torch.rand(2, 8, 64, 64)
    images = torch.cat([x[:, :3], x[:, 3:6]])
    with torch.inference_mode():
        d_src, d_guide = two.read_directions(x)
        pa, pb = (read_codes(net.eval(), images)[:, :8] for net in (a_net, b_net))
    geometric = (pa * pb).sqrt() / (pa * pb).sqrt().sum(dim=1, keepdim=True)
    torch.testing.assert_close(torch.cat([d_src, d_guide]), geometric, atol=1e-5, rtol=1e-4)
    assert (geometric - pa).abs().max() > 1e-3 and (geometric - pb).abs().max() > 1e-3  # both count
    read = Relighter(two, device="cpu", precision="fp32").read_lights(x)
    torch.testing.assert_close(read["source_direction"], d_src, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(read["target_direction"], d_guide, atol=1e-5, rtol=1e-4)
    import relightcli.inference.engine as engine

    for native in (True, False):  # both precision branches, whichever this CPU has: the readers stay fp32
        monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda native=native: native)
        relighter = Relighter(two, device="cpu")
        assert all(p.dtype == torch.float32 for r in relighter._gate_readers for p in r.parameters())
        torch.testing.assert_close(relighter.read_lights(x)["source_direction"], d_src, atol=1e-5, rtol=1e-4)

    one = tmp_path / "one.safetensors"
    result = runner.invoke(app, ["export", str(out), str(one), "--dtype", "fp32", "--gate-weights", str(b_file)])
    assert result.exit_code == 0, result.output
    single = relightcli.load_model(one)
    assert single.second_gate_reader is None and single.relight_args["gate_reader_size"] == 48
    assert "second_gate_reader" not in read_checkpoint(one)[1]
    result = runner.invoke(app, [*args, "--gate-weights", str(b_file), "--gate-weights", str(a_file)])
    assert result.exit_code == 1 and "one or two gate readers" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_gate_reader_decides_the_same_direction_weight_and_leaves_the_codes_alone(
    scene: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    """`relight export --gate-weights E`: E reads the directions of the lights the model reads, for the
    same-direction weight alone; the codes (FiLM, table) stay the light reader's, and given codes keep theirs."""
    model = _scrambled()
    ckpt = relightcli.save_checkpoint(model, tmp_path / "aware.safetensors")
    gate_file, out = tmp_path / "gate.safetensors", tmp_path / "gated.safetensors"
    gate_net = _other_estimator(gate_file)
    result = runner.invoke(app, ["export", str(ckpt), str(out), "--dtype", "fp32", "--gate-weights", str(gate_file)])
    assert result.exit_code == 0, result.output
    gated = relightcli.load_model(out)
    assert gated.relight_args["gate_reader_size"] == 128 and gated.gate_reader is not None
    for k, v in gate_net.state_dict().items():
        torch.testing.assert_close(gated.gate_reader.state_dict()[k], v)
    for k, v in model.state_dict().items():  # everything else as it was
        torch.testing.assert_close(gated.state_dict()[k], v)

    x = torch.rand(1, 8, 64, 64)
    with torch.inference_mode():
        src, guide = gated.read_lights(x)
        d_src, d_guide = gated.read_directions(x)
        torch.testing.assert_close(src, model.read_lights(x)[0])  # the codes: the light reader's
        assert (d_src - src[:, :8]).abs().max() > 1e-3  # the gate reader reads otherwise
        torch.testing.assert_close(gated(x), gated(x, src, guide, d_src, d_guide))
        assert not torch.allclose(gated(x), gated(x, src, guide))  # the codes' directions would mix otherwise
        ne = _codes("2500_NE")
        told = gated(x, ne, _codes("5500_NE"))  # given codes: their own directions, colour only
    ratio = told / x[:, :3]
    assert (ratio.amax(dim=(2, 3)) - ratio.amin(dim=(2, 3))).max() < 1e-4

    relighter = Relighter(gated, device="cpu", precision="fp32", flip_ensemble=True)
    read = relighter.read_lights(x)
    torch.testing.assert_close(read["source_direction"], d_src, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        relighter.same_direction(read), lightcode.same_direction(d_src, d_guide, gated.gate_sharpness)
    )
    half = relighter.complete_lights(x, {"target_light": ne})
    assert "target_direction" not in half and "source_direction" in half  # a given light gives its direction
    torch.testing.assert_close(relighter.same_direction(half), lightcode.same_direction(d_src, ne))
    with torch.inference_mode():  # the flip pass reads its mirrored directions: the ensemble stays mirror-exact
        y, y_m = relighter.run(x, read), relighter.run(x.flip(-1), relighter.read_lights(x.flip(-1)))
    torch.testing.assert_close(y_m.flip(-1), y, atol=1e-4, rtol=0)

    # directions given to relight() decide the weight (benchmarks/gate_sharpness.py forces it to 1 and to 0), and
    # the output at any directions is the mix of those two at the weight the directions give
    one = Relighter(gated, device="cpu", precision="fp32", flip_ensemble=False)
    arrays = (x[0, :3].permute(1, 2, 0).numpy(), x[0, 6].numpy(), x[0, 3:6].permute(1, 2, 0).numpy(), x[0, 7].numpy())
    north, south = (torch.nn.functional.one_hot(torch.tensor([i]), 8).float() for i in (0, 4))
    keep = one.relight(*arrays, lights={"source_direction": north, "target_direction": north})
    assert torch.equal(one.last_lights["target_direction"], north)
    move = one.relight(*arrays, lights={"source_direction": north, "target_direction": south})
    unsure = {k: torch.softmax(torch.randn(1, 8), dim=1) for k in ("source_direction", "target_direction")}
    real = one.relight(*arrays, lights=unsure)
    w = float(one.same_direction(one.last_lights)[0])
    assert 0.0 < w < 1.0 and np.abs(keep - move).max() > 1e-2
    inside = (keep > 0) & (keep < 1) & (move > 0) & (move < 1)  # no pass clamped there
    assert inside.mean() > 0.5
    np.testing.assert_allclose(real[inside], (w * keep + (1 - w) * move)[inside], atol=1e-5)
    one.relight(*arrays, source_setting=Setting.parse("2500_NE"), lights={"source_direction": south})
    assert "source_direction" not in one.last_lights  # a setting given gives its own direction
    torch.testing.assert_close(one.last_lights["source_light"], _codes("2500_NE"))

    import relightcli.inference.engine as engine

    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: True)  # the bf16 branch on any CPU
    bf16 = Relighter(gated, device="cpu")
    assert bf16.precision == "bf16" and all(
        p.dtype == torch.float32 for r in bf16._gate_readers for p in r.parameters()
    )
    torch.testing.assert_close(bf16.read_lights(x)["target_direction"], d_guide, atol=1e-5, rtol=1e-5)

    sharper = tmp_path / "sharper.safetensors"  # other options change, the gate reader stays
    result = runner.invoke(app, ["export", str(out), str(sharper), "--model-arg", "gate_sharpness=3"])
    assert result.exit_code == 0, result.output
    assert relightcli.load_model(sharper).gate_reader is not None
    shown = runner.invoke(
        app,
        ["apply", str(scene["src"]), str(scene["src_depth"]), str(scene["guide"]), str(scene["guide_depth"]),
         "--weights", str(out), "--show-light", "-o", str(tmp_path / "shown.png")],
    )  # fmt: skip
    assert shown.exit_code == 0 and "directions read by its gate reader: source " in shown.output, shown.output
    for size in (-128, 8, 1.5, True):
        with pytest.raises(relightcli.RelightError, match="gate_reader_size must be 0"):
            relightcli.create_model(NAME, **TINY_ARGS[NAME], gate_reader_size=size)
    plain = relightcli.save_checkpoint(tiny_model("s3net_lite_ratio"), tmp_path / "plain.safetensors")
    for src_file, weights, message in ((plain, gate_file, "reads no light"), (ckpt, ckpt, "not a LightNet")):
        bad = tmp_path / "bad.safetensors"
        result = runner.invoke(app, ["export", str(src_file), str(bad), "--gate-weights", str(weights)])
        assert result.exit_code == 1 and message in result.output and not bad.exists(), result.output
