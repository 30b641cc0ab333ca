"""The synthetic renderer: determinism and physical sanity checks that fail if the lighting is wrong."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from relightcli.cli import app
from relightcli.data import Setting, scan_flat, scan_pairs
from relightcli.io import read_image
from relightcli.synth import blackbody_rgb, light_direction, render_scene, synthesize
from relightcli.synth.render import direct_light, trace
from relightcli.synth.scene import Camera, Scene, Sphere, Texture

GREY = Texture(base=np.array([0.5, 0.5, 0.5]), second=np.array([0.5, 0.5, 0.5]))


def _one_sphere_scene() -> Scene:
    """A grey sphere of radius 1 at the origin on a plain grey ground, camera due south looking north."""
    camera = Camera(position=np.array([0.0, 4.0, -6.0]), target=np.array([0.0, 0.5, 0.0]), fov=40.0)
    return Scene(camera, GREY, [Sphere(np.array([0.0, 1.0, 0.0]), 1.0, GREY)])


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


@pytest.fixture(scope="module")
def sphere_render():
    scene = _one_sphere_scene()
    g = trace(scene, 96, 96)
    return scene, g, render_scene(scene, 96, supersample=1)


def test_light_from_the_east_lights_the_east_side(sphere_render) -> None:
    _, g, rendered = sphere_render
    on_sphere = g.hit & (np.abs(g.position[:, 1] - 1.0) < 0.5) & (np.linalg.norm(g.position - [0, 1, 0], axis=1) < 1.01)
    east = on_sphere & (g.normal[:, 0] > 0.5)
    west = on_sphere & (g.normal[:, 0] < -0.5)
    assert east.sum() > 20 and west.sum() > 20
    for temperature in (2500, 6500):
        img = _luma(rendered.images[Setting(temperature, "E")]).reshape(-1)
        assert img[east].mean() > img[west].mean() + 40
        img_w = _luma(rendered.images[Setting(temperature, "W")]).reshape(-1)
        assert img_w[west].mean() > img_w[east].mean() + 40


def test_cast_shadow_falls_away_from_the_light(sphere_render) -> None:
    scene, g, rendered = sphere_render
    ground = g.hit & (g.position[:, 1] < 1e-6) & (np.abs(g.position[:, 2]) < 0.4)
    west_band = ground & (g.position[:, 0] < -1.2) & (g.position[:, 0] > -2.2)
    east_band = ground & (g.position[:, 0] > 1.2) & (g.position[:, 0] < 2.2)
    assert west_band.sum() > 10 and east_band.sum() > 10
    img = _luma(rendered.images[Setting(4500, "E")]).reshape(-1)
    assert img[west_band].mean() < img[east_band].mean() - 30  # shadow on the far side from an eastern light
    vis = direct_light(scene, g, light_direction(90.0))
    assert (vis[west_band] == 0).mean() > 0.5 and (vis[east_band] > 0).all()


def test_low_temperature_is_redder(sphere_render) -> None:
    _, _, rendered = sphere_render
    assert blackbody_rgb(2500)[0] / blackbody_rgb(2500)[2] > 5 * blackbody_rgb(6500)[0] / blackbody_rgb(6500)[2]
    ratios = []
    for temperature in (2500, 3500, 4500, 5500, 6500):
        img = rendered.images[Setting(temperature, "S")].astype(np.float64)
        ratios.append(img[..., 0].mean() / img[..., 2].mean())
    assert all(a > b for a, b in itertools.pairwise(ratios))


def test_depth_increases_with_distance(sphere_render) -> None:
    _, g, rendered = sphere_render
    depth = rendered.depth.reshape(-1)
    assert depth.min() == 0.0 and depth.max() == 1.0
    order = np.argsort(g.t)
    assert np.all(np.diff(depth[order]) >= -1e-6)  # monotonic in the true camera distance
    assert rendered.depth[-1].mean() < rendered.depth[0].mean()  # bottom of the frame is nearer


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        synthesize(tmp_path / name, scenes=2, size=24, seed=seed, pairs=3, supersample=1)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files_a) == 2 * 41 + 3 * 5 + 1  # + val/pairs.csv
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / files_a[1]).read_bytes() != (tmp_path / "c" / files_a[1]).read_bytes()


def test_images_are_opaque_rgba_png(tmp_path: Path) -> None:
    synthesize(tmp_path, scenes=1, size=16, supersample=1)
    import cv2

    raw = cv2.imdecode(np.fromfile(tmp_path / "train" / "Image000_2500_N.png", np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (16, 16, 4) and raw.dtype == np.uint8 and (raw[..., 3] == 255).all()


def test_relight_synth_cli_with_preview(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(
        app,
        [
            "synth",
            str(out),
            "--scenes",
            "2",
            "--size",
            "32",
            "--pairs",
            "4",
            "--supersample",
            "1",
            "--preview",
            str(tmp_path / "grid.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 80 images of 2 scenes" in result.stdout
    assert len(scan_flat(out / "train").scenes) == 2 and len(scan_pairs(out / "val").pairs) == 4
    sheet = read_image(tmp_path / "grid.png")
    assert sheet.size == (24 + 5 * (128 + 4), 64 + 8 * (128 + 4))
    bad = CliRunner().invoke(app, ["synth", str(out), "--scenes", "0"])
    assert bad.exit_code == 1 and "--scenes >= 1" in bad.stderr
    only_pairs = CliRunner().invoke(
        app, ["synth", str(tmp_path / "eval"), "--scenes", "0", "--pairs", "2", "--size", "16", "--supersample", "1"]
    )
    assert only_pairs.exit_code == 0, only_pairs.output
    assert "wrote 2 pairs to" in only_pairs.stdout and not (tmp_path / "eval" / "train").exists()
