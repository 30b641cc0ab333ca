"""The page's back end (`relightcli.ui.service`) without a browser or Gradio: lights, depth, errors, outputs."""

from __future__ import annotations

import socket
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from relightcli.assets import default_weights, preset, samples
from relightcli.checkpoint import load_model
from relightcli.data.vidit import SETTINGS, Setting
from relightcli.errors import RelightError
from relightcli.inference.engine import Relighter
from relightcli.inference.sheet import thumbnail_size
from relightcli.io import read_image, write_depth
from relightcli.ui.service import RelightService, preview

from .conftest import tiny_model, write_png


@pytest.fixture(scope="module")
def service() -> RelightService:
    relighter = Relighter(tiny_model("s3net_lite_lightcolour"), device="cpu", precision="fp32")
    svc = RelightService(relighter)
    yield svc
    svc.close()


def test_setting_words_name_where_the_light_comes_from() -> None:
    assert Setting.parse("3500K/W").describe() == "3500 K (warm white), light from the left"
    assert "behind the camera" in Setting(6500, "S").describe()
    assert Setting(2500, "NE").preset == "2500K/NE"
    assert len({s.describe() for s in SETTINGS}) == 40


def test_relight_by_preset_and_by_guide(service: RelightService, tmp_path: Path) -> None:
    sample = samples()[0]
    by_preset = service.relight(sample.src, sample.src_depth, light="5500K/E")
    assert by_preset.light == Setting(5500, "E").describe()
    out = read_image(by_preset.path)
    assert out.size == read_image(sample.src).size == by_preset.size
    assert by_preset.path.name == "sample0_src_relit.png" and by_preset.seconds > 0
    assert by_preset.relit_preview.dtype == np.uint8 and by_preset.relit_preview.shape[:2] == out.size
    by_guide = service.relight(sample.src, sample.src_depth, sample.guide, sample.guide_depth)
    assert "guide photo sample0_guide.png" in by_guide.light
    assert by_guide.path != by_preset.path and by_preset.path.is_file()  # one folder per request
    # The same guide given as a preset's files relights exactly as the preset does.
    guide, guide_depth = preset("5500K/E")
    same = service.relight(sample.src, sample.src_depth, guide, guide_depth)
    np.testing.assert_array_equal(read_image(same.path).rgb, out.rgb)


def test_per_request_options_do_not_stick(service: RelightService) -> None:
    sample = samples()[1]
    calls: list[tuple[int, int]] = []
    service.relight(
        sample.src, sample.src_depth, light="2500K/N", flip_ensemble=True, on_progress=lambda *a: calls.append(a)
    )
    assert calls == [(1, 2), (2, 2)]  # two passes with the flip ensemble
    assert service.relighter.flip_ensemble is True and service.relighter.on_progress is None
    calls.clear()
    service.relight(sample.src, sample.src_depth, light="2500K/N", on_progress=lambda *a: calls.append(a))
    assert calls == [(1, 1)]  # the server's default again (off for this model)
    service.relight(sample.src, sample.src_depth, light="2500K/N", max_side=64)
    assert service.relighter.max_side == 64
    service.relight(sample.src, sample.src_depth, light="2500K/N")
    assert service.relighter.max_side == service.default_max_side


def test_bad_requests_are_one_line_errors(service: RelightService, tmp_path: Path) -> None:
    sample = samples()[0]
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    small = write_png(tmp_path / "small.png", np.zeros((20, 30, 3), np.uint8))
    bad_depth = tmp_path / "d.png"
    write_depth(bad_depth, np.zeros((10, 10), np.float32))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((256, 256), np.nan, np.float32))
    huge = bytearray(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    huge[16:24] = (10000).to_bytes(4, "big") + (7000).to_bytes(4, "big")  # a 70-megapixel header, valid CRC
    huge[29:33] = zlib.crc32(bytes(huge[12:29])).to_bytes(4, "big")
    (tmp_path / "huge.png").write_bytes(bytes(huge))
    cases = [
        (dict(photo=None, light="3500K/N"), "no photo: upload one"),
        (dict(photo=text, light="3500K/N"), "photo notes.txt: "),
        (dict(photo=tmp_path / "huge.png", light="3500K/N"), r"photo huge.png: .*claims 10000x7000 pixels"),
        (dict(photo=sample.src, photo_depth=bad_depth, light="3500K/N"), "photo's depth d.png: .*10x10"),
        (dict(photo=sample.src, photo_depth=nan, light="3500K/N"), "photo's depth nan.npy: .*(NaN|finite)"),
        (dict(photo=sample.src, photo_depth=sample.src_depth), "no light: upload a guide photo or choose"),
        (dict(photo=sample.src, photo_depth=sample.src_depth, guide=small, light="3500K/N"), "not both"),
        (dict(photo=sample.src, photo_depth=sample.src_depth, light="3600K/N"), "unknown lighting setting"),
        (dict(photo=sample.src, photo_depth=sample.src_depth, guide=text), "guide notes.txt: "),
        (dict(photo=sample.src, photo_depth=sample.src_depth, light="3500K/N", max_side=8), "max side 8"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RelightError, match=message) as info:
            service.relight(**kwargs)
        assert "\n" not in str(info.value) and str(tmp_path) not in str(info.value)
    assert not list(tmp_path.glob("*relit*"))


def test_missing_depth_is_estimated_or_said_in_one_line(service: RelightService, monkeypatch) -> None:
    sample = samples()[0]
    seen: list[str] = []

    class Estimator:
        def for_file(self, path, rgb):
            seen.append(Path(path).name)
            return np.linspace(0, 1, rgb.shape[0] * rgb.shape[1], dtype=np.float32).reshape(rgb.shape[:2])

    monkeypatch.setattr(service, "_estimator", Estimator())
    service.relight(sample.src, None, sample.guide, None)
    assert seen == ["sample0_src.png", "sample0_guide.png"]
    monkeypatch.setattr(service, "_estimator", None)
    monkeypatch.setattr(service, "depth_model", "nobody/not-cached-depth-model")  # HF_HUB_OFFLINE=1 in the tests
    with pytest.raises(RelightError, match="is not in the Hugging Face cache"):
        service.relight(sample.src, None, light="3500K/N")


def test_sixteen_bit_source_gives_sixteen_bit_png(service: RelightService, tmp_path: Path) -> None:
    rgb16 = (np.random.default_rng(0).random((40, 48, 3)) * 65535).astype(np.uint16)
    src = write_png(tmp_path / "deep.png", rgb16)
    depth = tmp_path / "deep_depth.png"
    write_depth(depth, np.tile(np.linspace(0, 1, 48, dtype=np.float32), (40, 1)))
    relit = service.relight(src, depth, light="4500K/S")
    assert read_image(relit.path).bit_depth == 16 and relit.size == (40, 48)


def test_all_lights_is_a_labelled_sheet_of_forty() -> None:
    service = RelightService(Relighter(load_model(default_weights()), device="cpu", precision="fp32"))
    sample = samples()[2]
    ticks: list[int] = []
    path, seconds = service.all_lights(sample.src, sample.src_depth, cell=32, on_progress=lambda d, t: ticks.append(d))
    sheet = read_image(path).rgb
    assert ticks == list(range(1, 41)) and seconds > 0
    th, tw = thumbnail_size(256, 256, 32)
    assert sheet.shape == (22 + 5 * (th + 4), 56 + 8 * (tw + 4), 3)
    cells = [sheet[22 + i * (th + 4) :][:th, 56 + j * (tw + 4) :][:, :tw] for i in range(5) for j in range(8)]
    assert len({c.tobytes() for c in cells}) == 40  # every setting relit differently (the shipped weights)
    warm, cool = cells[0].mean(axis=(0, 1)), cells[-1].mean(axis=(0, 1))  # 2500K/N, 6500K/NW
    assert warm[0] / warm[2] > cool[0] / cool[2]  # the 2500 K row is redder than the 6500 K row
    assert service.relighter.max_side == service.default_max_side
    service.close()


def test_preview_is_bounded_and_outputs_are_removed(tmp_path: Path) -> None:
    assert preview(np.zeros((3000, 1000, 3), np.float32), 600).shape == (600, 200, 3)
    assert thumbnail_size(100, 50, 256) == (100, 50)  # never upscaled
    relighter = Relighter(tiny_model("s3net_lite_lightcolour"), device="cpu", precision="fp32")
    svc = RelightService(relighter)
    sample = samples()[0]
    path = svc.relight(sample.src, sample.src_depth, light="3500K/N").path
    svc.close()
    assert not path.exists() and not svc.workdir.exists()


def test_ui_command_says_what_is_missing(monkeypatch) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from relightcli.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    result = CliRunner().invoke(app, ["ui"])
    assert result.exit_code == 1 and 'pip install "relightcli[ui]"' in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    monkeypatch.setattr(importlib.util, "find_spec", real)
    cases = [(["--port", "70000"], "--port 70000"), (["--max-megapixels", "0"], "must be positive")]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases.append((["--port", str(port)], f"cannot serve on 127.0.0.1:{port} (Address already in use)"))
        for args, message in cases:
            result = CliRunner().invoke(app, ["ui", *args])
            assert result.exit_code == 1 and message in result.output, result.output


def test_the_lights_read_are_shown_when_an_estimator_is_there(service: RelightService, monkeypatch, tmp_path) -> None:
    import relightcli
    from relightcli.checkpoint import save_checkpoint
    from relightcli.light.estimator import LightEstimator

    path = tmp_path / "light.safetensors"
    save_checkpoint(relightcli.create_model("light_net", input_size=32), path)
    monkeypatch.setattr(service, "_light_reader", LightEstimator(path, device="cpu"))
    sample = samples()[0]
    by_guide = service.relight(sample.src, sample.src_depth, sample.guide, sample.guide_depth)
    assert "light read: source " in by_guide.summary and "; guide " in by_guide.summary
    by_preset = service.relight(sample.src, sample.src_depth, light="3500K/N")
    assert "light read: source " in by_preset.summary and "; guide " not in by_preset.summary
    monkeypatch.setattr(service, "_light_reader", False)  # an installation without light weights
    assert "light read" not in service.relight(sample.src, sample.src_depth, light="3500K/N").summary
