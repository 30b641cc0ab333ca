"""Monocular depth (`relight depth`, `relight apply` without depth maps), the VIDIT depth rule, EXIF orientation.

The estimator is a tiny Depth Anything (random weights) written with ``save_pretrained`` by the test and loaded
through the real loading code (``--depth-model DIR``); the real default cannot be downloaded here.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from relightcli import RelightError
from relightcli.cli import app
from relightcli.io import FAR_RATIO, disparity_to_depth, metric_to_depth, read_depth, read_image

from .conftest import write_png

runner = CliRunner()


@pytest.fixture(scope="session")
def tiny_depth_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.14 M-parameter Depth Anything (DINOv2 backbone, DPT head) with its image processor, random weights."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=56,
        out_indices=[1, 2, 3, 4],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        patch_size=14,
    )
    folder = tmp_path_factory.mktemp("tiny-depth-anything")
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3
    ).save_pretrained(folder)
    return folder


def _photo(path: Path, h: int = 48, w: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    return write_png(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a.ravel())), np.argsort(np.argsort(b.ravel()))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_exact_inverse_depth_of_a_synth_scene_comes_back_as_its_normalized_depth() -> None:
    from relightcli.synth.render import trace
    from relightcli.synth.scene import random_scene

    for seed in range(3):
        t = trace(random_scene(np.random.default_rng(seed)), 48, 48).t.reshape(48, 48)
        truth = (t - t.min()) / (t.max() - t.min())  # relight synth's normalized_depth
        for scale, shift in ((1.0, 0.0), (37.0, 0.0), (5.0, 0.02)):  # the estimator's unknown scale (and a shift)
            depth = disparity_to_depth(scale / t + shift)
            assert depth.dtype == np.float32 and depth.min() == 0.0 and depth.max() == 1.0
            assert _spearman(depth, t) >= 0.99
            if shift == 0.0:
                np.testing.assert_allclose(depth, truth, atol=1e-5)  # within the far ratio: exact


def test_sky_and_far_background_become_the_far_plane() -> None:
    near = np.linspace(1.0, 0.5, 40).reshape(5, 8)  # disparity: a ground plane receding from 1 to 2 units
    disparity = np.vstack([np.zeros((2, 8)), np.full((1, 8), -0.3), np.full((1, 8), 1 / 50), near])  # sky above
    depth = disparity_to_depth(disparity)
    assert np.all(depth[:4] == 1.0)  # sky (0), negative disparity and 50x the nearest distance: the far plane
    z = 1.0 / near
    np.testing.assert_allclose(depth[4:], (z - 1.0) / (FAR_RATIO - 1.0), rtol=1e-5)  # min-max with the far plane
    assert np.all(np.diff(depth[4:].ravel()) >= 0)  # receding ground: monotonic
    assert not disparity_to_depth(np.zeros((4, 4))).any()  # a featureless estimate: flat, not NaN
    np.testing.assert_allclose(metric_to_depth(z), disparity_to_depth(near), rtol=1e-5)  # metric: the same rule
    with pytest.raises(RelightError, match="NaN"):
        disparity_to_depth(np.array([[np.nan, 1.0]]))


def test_relight_depth_writes_16_bit_maps_previews_and_vidit_dicts(tiny_depth_model, tmp_path) -> None:
    a, b = _photo(tmp_path / "a.png", 48, 64), _photo(tmp_path / "b.png", 70, 30, seed=1)
    out = tmp_path / "depths"
    result = runner.invoke(
        app, ["depth", str(a), str(b), "-o", str(out), "--preview", "--depth-model", str(tiny_depth_model)]
    )
    assert result.exit_code == 0, result.output
    for name, (h, w) in (("a", (48, 64)), ("b", (70, 30))):
        raw = cv2.imread(str(out / f"{name}_depth.png"), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (h, w)  # 16-bit, one channel, the photo's size
        assert raw.min() == 0 and raw.max() == 65535
        assert cv2.imread(str(out / f"{name}_depth_preview.png")).shape == (h, w, 3)
    vidit = tmp_path / "a.npy"
    result = runner.invoke(
        app, ["depth", str(a), "--format", "vidit", "-o", str(vidit), "--depth-model", str(tiny_depth_model)]
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_depth(vidit), read_depth(out / "a_depth.png"), atol=2e-5)


def test_apply_estimates_what_is_missing(tiny_depth_model, tmp_path) -> None:
    src, guide = _photo(tmp_path / "src.png"), _photo(tmp_path / "guide.png", 40, 40, seed=2)
    model = ["--depth-model", str(tiny_depth_model), "--device", "cpu"]
    r1 = runner.invoke(app, ["apply", str(src), "--light", "3500K/NW", "-o", str(tmp_path / "o1.png"), *model])
    assert r1.exit_code == 0, r1.output
    assert "depth estimated" in r1.stdout and read_image(tmp_path / "o1.png").size == (48, 64)
    saved = tmp_path / "saved"
    r2 = runner.invoke(
        app, ["apply", str(src), str(guide), "-o", str(tmp_path / "o2.png"), "--save-depth", str(saved), *model]
    )
    assert r2.exit_code == 0, r2.output
    assert sorted(p.name for p in saved.iterdir()) == ["guide_depth.png", "src_depth.png"]
    # the saved depth given back as a file relights to the same image (estimated once, at the estimator's size). Not
    # to the same bits: the 16-bit PNG rounds the depth, and the light code's geometry mask (a threshold on depth
    # steps) can flip at a few edge pixels (on an AVX2 EPYC in fp32: 0.6% of pixels off by up to 4/255, 58 dB)
    r3 = runner.invoke(
        app,
        [
            "apply",
            str(src),
            str(saved / "src_depth.png"),
            str(guide),
            str(saved / "guide_depth.png"),
            "-o",
            str(tmp_path / "o3.png"),
            *model,
        ],
    )
    assert r3.exit_code == 0, r3.output
    o2, o3 = read_image(tmp_path / "o2.png").rgb, read_image(tmp_path / "o3.png").rgb
    assert 10 * np.log10(1 / np.mean((o2 - o3) ** 2 + 1e-12)) > 45  # another depth would be far below 45 dB
    assert np.mean(np.abs(o2 - o3) > 2 / 255) < 0.02


def test_a_folder_of_photos_without_depth(tiny_depth_model, tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "one.png")
    _photo(photos / "two.png", seed=3)
    out = tmp_path / "relit"
    args = [
        "apply",
        "--src-dir",
        str(photos),
        "--light",
        "6500K/E",
        "-o",
        str(out),
        "--depth-model",
        str(tiny_depth_model),
    ]
    result = runner.invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["one.png", "two.png"] and "depth estimated for 2" in result.stdout


@pytest.mark.parametrize(
    ("paths", "extra", "message"),
    [
        (["src.png"], [], "1 path given; expected one of: SRC SRC_DEPTH GUIDE GUIDE_DEPTH | SRC GUIDE"),
        (["src.png", "src.png", "src.png"], [], "3 paths given; expected one of"),
        (["src.png", "depth.png"], [], "looks like a depth map, not a guide photo: add --light"),
        (
            ["src.png", "depth.png", "src.png", "depth.png"],
            ["--light", "3500K/NW"],
            "--light replaces GUIDE GUIDE_DEPTH",
        ),
        (["src.png", "missing.png"], [], "missing.png: image file not found"),
        (["src.png"], ["--light", "9000K/UP"], "9000K/UP"),
    ],
)
def test_the_apply_grammar_refuses_incomplete_or_mixed_paths_in_one_line(paths, extra, message, tmp_path) -> None:
    _photo(tmp_path / "src.png")
    write_png(tmp_path / "depth.png", np.zeros((48, 64), np.uint16))
    result = runner.invoke(app, ["apply", *(str(tmp_path / p) for p in paths), *extra])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_models_that_are_not_depth_estimators_or_are_broken_are_one_line(tiny_depth_model, tmp_path) -> None:
    from transformers import BertConfig

    photo = _photo(tmp_path / "p.png")
    bert = tmp_path / "bert"
    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(bert)
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_depth_model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not safetensors at all")
    for folder, message in (
        (bert, "a bert model, not a depth-estimation model"),
        (empty, "not a transformers model folder (no config.json"),
        (broken, "unreadable model weights"),
        (tmp_path / "nowhere", "folder not found"),
    ):
        result = runner.invoke(app, ["depth", str(photo), "-o", str(tmp_path / "d.png"), "--depth-model", str(folder)])
        assert result.exit_code == 1, (folder, result.output)
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
        assert not (tmp_path / "d.png").exists()


def test_offline_and_not_cached_is_one_line_naming_the_download(tmp_path) -> None:
    photo = _photo(tmp_path / "p.png")
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty-hf-home"), "HF_HUB_OFFLINE": "1"}
    code = "from relightcli.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "depth", str(photo), "-o", str(tmp_path / "d.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "depth-anything/Depth-Anything-V2-Small-hf" in lines[0]
    assert "hf download depth-anything/Depth-Anything-V2-Small-hf" in lines[0]
    assert not (tmp_path / "d.png").exists()


def _jpeg_with_orientation(path: Path, pixels: np.ndarray, orientation: int) -> Path:
    """A JPEG whose stored pixels are ``pixels`` and whose EXIF says to show them rotated (APP1 after SOI)."""
    ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    app1 = b"Exif\x00\x00" + tiff
    data = buf.tobytes()
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    return path


def test_photos_are_read_upright_as_viewers_show_them(tiny_ckpt, tmp_path) -> None:
    stored = np.zeros((96, 160, 3), np.uint8)  # stored landscape, 160 wide
    stored[:20, :20] = (0, 0, 255)  # a red block at the stored top-left (BGR)
    photo = _jpeg_with_orientation(tmp_path / "phone.jpg", stored, 6)  # "rotate 90 degrees clockwise to show"
    assert Image.open(photo).getexif()[0x0112] == 6  # the tag is there (read by Pillow, as the reader does)
    img = read_image(photo)
    assert img.size == (160, 96)  # a portrait, as every viewer shows it
    assert img.rgb[:20, -20:, 0].mean() > 0.9 and img.rgb[-20:, :20, 0].mean() < 0.1  # top-left went top-right
    upright_depth = write_png(
        tmp_path / "phone_depth.png", np.zeros((160, 96), np.uint16)
    )  # made for the upright photo
    out = tmp_path / "relit.png"
    result = runner.invoke(
        app, ["apply", str(photo), str(upright_depth), "--light", "3500K/NW", "-o", str(out), "-w", str(tiny_ckpt)]
    )
    assert result.exit_code == 0, result.output
    assert read_image(out).size == (160, 96)  # written upright, no orientation tag
    for orientation, (h, w) in ((1, (96, 160)), (3, (96, 160)), (5, (160, 96)), (8, (160, 96))):
        assert read_image(_jpeg_with_orientation(tmp_path / f"o{orientation}.jpg", stored, orientation)).size == (h, w)


def _png_with_orientation(path: Path, pixels: np.ndarray, orientation: int, after_pixels: bool) -> Path:
    """A PNG whose EXIF orientation chunk (eXIf) stands before or after its pixel data (IDAT); both are allowed."""
    ok, buf = cv2.imencode(".png", pixels)
    assert ok
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    body = b"II*\x00" + struct.pack("<I", 8) + ifd
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    data = buf.tobytes()
    at = data.index(b"IEND") - 4 if after_pixels else data.index(b"IDAT") - 4
    path.write_bytes(data[:at] + chunk + data[at:])
    return path


def test_png_orientation_is_read_wherever_its_chunk_stands_and_plain_pngs_skip_pillows_decoder(
    tmp_path, monkeypatch
) -> None:
    stored = np.zeros((40, 64, 3), np.uint8)
    for after in (False, True):
        photo = _png_with_orientation(tmp_path / f"o{after}.png", stored, 6, after)
        assert read_image(photo).size == (64, 40)  # turned upright: a portrait
    plain = write_png(tmp_path / "plain.png", stored)
    decoded = []  # Pillow decoding the pixels would double the read time of every PNG (OpenCV decodes them)
    monkeypatch.setattr("PIL.PngImagePlugin.PngImageFile.load", lambda self: decoded.append(self))
    assert read_image(plain).size == (40, 64)
    assert not decoded
