"""The path-traced renderer (``relight synth --renderer cycles``): Blender's Cycles in its own interpreter.

Tests that render need a Python with ``bpy`` (``$RELIGHT_BLENDER_PYTHON``, which ``.ci/run`` provides, or this
interpreter with the ``render`` extra); elsewhere they skip and say why. Scenes are tiny (32x32, few samples).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from relightcli import RelightError
from relightcli.cli import app
from relightcli.data.vidit import DIRECTIONS, SETTINGS, Setting, scan_flat, scan_pairs
from relightcli.evaluation.look import measure
from relightcli.synth import blackbody_rgb
from relightcli.synth.cycles import CyclesSettings, blender_python, compose, render_passes
from relightcli.synth.cycles.scene import random_scene
from relightcli.synth.cycles.vidit_look import random_vidit_scene
from relightcli.synth.writer import Renderer, parse_shard, synthesize

runner = CliRunner()
FAST = CyclesSettings(samples=4, adaptive_threshold=0.1, bounces=2)


def _python() -> str:
    try:
        return blender_python()
    except RelightError as exc:
        pytest.skip(f"no Python with bpy here ({exc}); .ci/run provides one through RELIGHT_BLENDER_PYTHON")


def _probe_scene(shape: str = "uv_sphere", colour: float = 0.5) -> dict:
    """A grey object in front of the camera on a grey floor, nothing else (for checks on known geometry)."""
    desc = random_scene(np.random.default_rng(0))
    grey = {"colour": [colour] * 3, "colour2": [colour] * 3, "texture": "none", "texture_scale": 1.0}
    grey |= {"roughness": 1.0, "metallic": 0.0, "specular": 0.5}
    desc["ground"] = {"terrain": 0.0, "material": grey}
    desc["structures"] = []
    desc["camera"] = {"location": [0.0, -6.0, 1.5], "pitch": 10.0, "yaw": 0.0, "lens": 35.0}
    desc["objects"] = [
        {"shape": shape, "location": [0.0, 0.0], "scale": [1.0] * 3, "rotation": [0.0] * 3, "modifiers": {}}
        | {"material": grey}
    ]
    desc["world"] = {"colour": [0.4, 0.45, 0.6], "strength": 0.2}
    return desc


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    for args, message in (
        (["--size", "8"], "--size >= 16"),
        (["--scenes", "-1"], "--scenes >= 0"),
        (["--renderer", "povray"], "povray"),
        (["--shard", "3/2"], "between 1 and N"),
        (["--shard", "two"], "expected K/N"),
    ):
        result = runner.invoke(app, ["synth", str(tmp_path / "d"), *args])
        assert result.exit_code in (1, 2), (args, result.output)
        assert message in result.output, (args, result.output)
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) == (1, 1)


def test_without_bpy_the_command_says_which_extra_and_python(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    monkeypatch.delenv("RELIGHT_BLENDER_PYTHON", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bpy" else real(name, *a))
    result = runner.invoke(app, ["synth", str(tmp_path / "d"), "--renderer", "cycles"])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "relightcli[render]" in result.stderr and "Python 3.11" in result.stderr
    assert not (tmp_path / "d").exists()


def test_a_failing_scene_is_retried_with_another_seed_and_reported(tmp_path: Path, monkeypatch) -> None:
    calls = []
    numpy_render = Renderer.render

    def flaky(self, seed, split, index, size, attempt=0):
        calls.append(attempt)
        if attempt == 0:
            raise RelightError("Blender failed on a scene: out of memory")
        return numpy_render(Renderer("numpy", 1), seed, split, index, size, attempt)

    monkeypatch.setattr(Renderer, "render", flaky)
    said: list[str] = []
    summary = synthesize(tmp_path, scenes=1, size=16, renderer=Renderer("cycles"), on_message=said.append)
    assert calls == [0, 1] and summary.scenes == 1 and "retrying with another scene" in said[0]
    assert not (tmp_path / ".partial" / "000").exists()


def test_shards_write_every_scene_once_and_a_rerun_resumes(tmp_path: Path, monkeypatch) -> None:
    for k in (1, 2, 3):
        synthesize(tmp_path, scenes=5, size=16, supersample=1, shard=(k, 3))
    assert len(scan_flat(tmp_path / "train").scenes) == 5

    def refuse(*args, **kwargs):
        raise AssertionError("a finished scene was rendered again")

    monkeypatch.setattr(Renderer, "render", refuse)
    assert synthesize(tmp_path, scenes=5, size=16, supersample=1).scenes == 5  # all skipped


def test_same_seed_same_scene_description() -> None:
    a, b = random_scene(np.random.default_rng([7, 0, 3])), random_scene(np.random.default_rng([7, 0, 3]))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a) != json.dumps(random_scene(np.random.default_rng([7, 0, 4])))
    assert 3 <= len(a["objects"]) <= 12


def test_cycles_dataset_layout_and_40_distinct_settings(tmp_path: Path) -> None:
    python = _python()
    renderer = Renderer("cycles", cycles=FAST, python=python)
    summary = synthesize(
        tmp_path, scenes=1, size=32, pairs=2, val_scenes=2, renderer=renderer, preview=tmp_path / "p.png"
    )
    index = scan_flat(tmp_path / "train")  # names, all 40 settings, depth: the numpy renderer's layout
    assert summary.scenes == 1 and len(index.scenes) == 1
    assert len(scan_pairs(tmp_path / "val").pairs) == 2 and (tmp_path / "p.png").is_file()
    import cv2

    images = [cv2.imread(str(tmp_path / "train" / f"Image000_{s.temperature}_{s.direction}.png")) for s in SETTINGS]
    assert len({img.tobytes() for img in images}) == 40
    depth = np.load(tmp_path / "train" / "Image000.npy", allow_pickle=True).item()["normalized_depth"]  # ours
    assert depth.shape == (32, 32) and depth.min() == 0.0 and depth.max() == 1.0


def test_light_directions_temperatures_and_the_linear_composition() -> None:
    python = _python()
    desc = _probe_scene()
    t, az_e = 2500, 90.0
    colour = [float(c) for c in blackbody_rgb(t)]
    direct = [{"azimuth": az_e, "elevation": 35.0, "colour": colour, "sun_strength": 3.0, "ambient_strength": 0.2}]
    passes = render_passes(desc, 48, CyclesSettings(samples=32, bounces=2), python, direct=direct)
    sun = passes["sun"]
    east, west = sun[DIRECTIONS.index("E")], sun[DIRECTIONS.index("W")]
    depth = passes["depth"]
    sphere = np.zeros_like(depth, dtype=bool)
    sphere[8:26] = depth[8:26] < 5.8  # the sphere's front is 5 m away; the floor behind it farther, below it nearer
    cols = np.arange(48)[None, :]
    right, left = sphere & (cols >= 24), sphere & (cols < 24)
    assert right.sum() > 20 and left.sum() > 20

    def lum(img: np.ndarray) -> np.ndarray:
        return img.mean(axis=2)

    assert lum(east)[right].mean() > 1.5 * lum(west)[right].mean()  # east light: the east-facing side is brighter
    assert lum(west)[left].mean() > 1.5 * lum(east)[left].mean()
    images = compose(passes["ambient"], sun, 3.0, 0.2, gain=1.0)
    floor = (slice(40, 48), slice(0, 48))
    rb = [images[Setting(temp, "S")][floor].astype(float) for temp in (2500, 6500)]
    assert rb[0][..., 0].mean() / rb[0][..., 2].mean() > rb[1][..., 0].mean() / rb[1][..., 2].mean()  # warm -> cool
    composed = 0.2 * passes["ambient"] + 3.0 * east * np.array(colour, np.float32)
    rendered = passes["direct"][0]
    error = np.abs(composed - rendered).mean() / rendered.mean()
    assert error < 0.05, error  # equal up to sampling noise (each render denoised on its own)


def test_vidit_look_descriptions_are_dense_dark_and_lit_by_a_lamp() -> None:
    a = random_vidit_scene(np.random.default_rng([5, 0, 1]))
    again = random_vidit_scene(np.random.default_rng([5, 0, 1]))
    assert json.dumps(a, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert a["look"] == "vidit" and a["world"]["strength"] < 0.01 and {"centre", "distance", "height"} <= set(a["lamp"])
    shapes = [p["shape"] for p in a["parts"]]
    assert len(shapes) > 100 and shapes.count("blade") > 50 and "ico_sphere" in shapes  # grass, rocks, bushes
    assert all(0 <= p["material"] < len(a["materials"]) for p in a["parts"])
    scenes = [random_vidit_scene(np.random.default_rng([5, 0, k])) for k in range(20)]
    assert any(p.get("cuts") for s in scenes for p in s["parts"])  # buildings with openings


def test_a_vidit_look_scene_renders_dark_with_its_lamp_linear(tmp_path: Path) -> None:
    """A lamp at a finite distance composes linearly as the sun does, and most of the frame is dark."""
    python = _python()
    desc = random_vidit_scene(np.random.default_rng([5, 0, 1]))
    colour = [float(c) for c in blackbody_rgb(3500)]
    ambient = desc["world"]["strength"]
    direct = [{"azimuth": 180.0, "elevation": 35.0, "colour": colour, "sun_strength": 3.0, "ambient_strength": ambient}]
    passes = render_passes(desc, 32, FAST, python, direct=direct)
    south = passes["sun"][DIRECTIONS.index("S")]
    composed = ambient * passes["ambient"] + 3.0 * south * np.array(colour, np.float32)
    rendered = passes["direct"][0]
    error = np.abs(composed - rendered).mean() / rendered.mean()
    assert error < 0.1, error
    images = compose(passes["ambient"], passes["sun"], 3.0, ambient, target=desc["exposure"])
    look = measure([img.astype(np.float32) / 255 for img in images.values()])
    assert look.dark_share > 0.2 and look.mean_y < 0.3, look


def test_a_lamp_that_lights_nothing_seen_from_a_direction_is_drawn_again(monkeypatch) -> None:
    """A lamp inside a canopy or behind a wall leaves a direction's frame black; the scene keeps its content and
    gets another lamp (three draws at most, then the scene fails and the writer draws another)."""
    import relightcli.synth.cycles as cycles

    calls: list[dict] = []

    def passes(desc, size, settings, python, **_):
        calls.append(desc)
        sun = np.full((8, size, size, 3), 0.3, np.float32)
        if len(calls) < 3:  # the first two lamps light nothing from NE
            sun[DIRECTIONS.index("NE")] = 0.0
        return {"ambient": np.zeros((size, size, 3), np.float32), "sun": sun, "depth": np.full((size, size), 5.0)}

    monkeypatch.setattr(cycles, "render_passes", passes)
    vidit = CyclesSettings(samples=4, look="vidit")
    rendered, info = cycles.render_scene_cycles(np.random.default_rng([5, 0, 1]), 8, vidit, "python")
    assert len(calls) == 3 and calls[0]["lamp"] != calls[1]["lamp"] != calls[2]["lamp"]
    assert calls[0]["parts"] == calls[2]["parts"] and info["scene"]["lamp"] == calls[2]["lamp"]
    assert not cycles.dark_directions(rendered.images)
    assert calls[0] == random_vidit_scene(np.random.default_rng([5, 0, 1]))  # the first draw is unchanged

    calls.clear()
    monkeypatch.setattr(cycles, "LAMP_REDRAWS", 1)
    with pytest.raises(RelightError, match="lit nothing the camera sees from NE in 2 draws"):
        cycles.render_scene_cycles(np.random.default_rng([5, 0, 1]), 8, vidit, "python")


def test_look_is_checked_and_needs_cycles(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["synth", str(tmp_path / "x"), "--look", "noir"])
    assert bad.exit_code == 1 and "--look noir" in bad.stderr
    numpy = runner.invoke(app, ["synth", str(tmp_path / "y"), "--look", "vidit"])
    assert numpy.exit_code == 1 and "needs --renderer cycles" in numpy.stderr


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI checks it: the Python there has bpy")
def test_ci_has_a_blender_python() -> None:
    assert blender_python()


def test_objects_sharing_a_mesh_keep_their_own_materials_and_depth_is_cast_against_them() -> None:
    """Every cube shares one mesh (the worker's templates): each must still wear its own material, and the depth
    must hit its front face, as on known geometry."""
    python = _python()
    desc = _probe_scene()
    desc["camera"]["pitch"] = 0.0  # looking due north: the view-axis distance of the front faces is 6 - 0.5 m
    cube = {"shape": "cube", "scale": [0.5] * 3, "rotation": [0.0] * 3, "modifiers": {}}
    red = desc["objects"][0]["material"] | {"colour": [0.8, 0.05, 0.05], "colour2": [0.8, 0.05, 0.05]}
    blue = desc["objects"][0]["material"] | {"colour": [0.05, 0.05, 0.8], "colour2": [0.05, 0.05, 0.8]}
    desc["objects"] = [
        cube | {"location": [-1.0, 0.0], "material": red},
        cube | {"location": [1.0, 0.0], "material": blue},
    ]
    passes = render_passes(desc, 32, FAST, python)
    ambient, depth = passes["ambient"], passes["depth"]
    left, right = (slice(20, 24), slice(9, 13)), (slice(20, 24), slice(20, 24))  # each cube's front face
    assert ambient[left][..., 0].mean() > 3 * ambient[left][..., 2].mean()  # red
    assert ambient[right][..., 2].mean() > 3 * ambient[right][..., 0].mean()  # blue
    for face in (left, right):
        np.testing.assert_allclose(depth[face], 5.5, atol=1e-3)
