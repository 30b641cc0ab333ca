"""Path-traced VIDIT-format scenes: Blender's Cycles through ``bpy`` (``relight synth --renderer cycles``).

Blender runs in its own process (`worker.py`), in the Python that has ``bpy``: this interpreter when the
``render`` extra is installed here, or another one named by ``--blender-python`` / ``RELIGHT_BLENDER_PYTHON``
(``bpy`` wheels exist for Python 3.11 only and pin ``numpy<2``, so keeping Blender in an interpreter of its own
leaves this environment's numpy and OpenCV alone). A scene that crashes Blender costs that process, not the
run. Each scene is rendered 9 times (the ambient light alone and a white unit sun from each of the 8
directions) as linear float images and composed into the 40 settings here (`compose`): light transport is
linear in the lights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...data.vidit import DIRECTIONS, TEMPERATURES, Setting
from ...errors import RelightError
from ...io import metric_to_depth
from ..blackbody import blackbody_rgb
from ..render import LIGHT_ELEVATION, RenderedScene, to_srgb8
from .scene import random_scene
from .vidit_look import random_vidit_scene, redraw_lamp

WORKER = Path(__file__).with_name("worker.py")
AZIMUTHS = {d: a for d, a in zip(DIRECTIONS, (0, 45, 90, 135, 180, 225, 270, 315), strict=True)}


@dataclass(frozen=True)
class CyclesSettings:
    """How Cycles renders each of a scene's 9 images."""

    samples: int = 16
    adaptive_threshold: float = 0.05
    denoise: bool = True
    bounces: int = 4
    seed: int = 0
    threads: int = 0  # 0: all cores
    look: str = "default"  # the scene family: "default" (`scene.py`) or "vidit" (`vidit_look.py`)

    def to_json(self, size: int) -> dict[str, Any]:
        return {
            "size": size,
            "samples": self.samples,
            "adaptive_threshold": self.adaptive_threshold,
            "denoise": self.denoise,
            "bounces": self.bounces,
            "seed": self.seed,
            "threads": self.threads,
        }


def blender_python(explicit: str | os.PathLike[str] | None = None) -> str:
    """The interpreter that runs Blender: ``explicit``, else ``$RELIGHT_BLENDER_PYTHON``, else this one if it has
    ``bpy``; `RelightError` in one line saying how to get one otherwise."""
    chosen = explicit or os.environ.get("RELIGHT_BLENDER_PYTHON")
    if chosen:
        path = shutil.which(str(chosen)) or str(chosen)
        if not Path(path).is_file():
            raise RelightError(f"--blender-python {chosen}: no such interpreter")
        return path
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    raise RelightError(
        "--renderer cycles needs Blender's bpy: pip install 'relightcli[render]' (bpy wheels exist for Python 3.11 "
        "only), or --blender-python PATH to a Python 3.11 that has bpy"
    )


def _lights() -> list[tuple[float, float]]:
    return [(float(AZIMUTHS[d]), LIGHT_ELEVATION) for d in DIRECTIONS]


def render_passes(
    desc: dict[str, Any],
    size: int,
    settings: CyclesSettings,
    python: str,
    timeout: float = 1800,
    direct: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the worker on one scene description: ``ambient (S, S, 3)``, ``sun (8, S, S, 3)`` (linear, one white
    unit sun per direction, in `DIRECTIONS` order), ``depth (S, S)`` and ``seconds`` (build, render, depth);
    with ``direct`` (dicts of ``azimuth``, ``elevation``, ``colour``, ``sun_strength``, ``ambient_strength``), also
    ``direct (K, S, S, 3)``: those settings rendered with all their lights at once."""
    with tempfile.TemporaryDirectory(prefix="relight-cycles-job-") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "out.npz"
        spec = {"scene": desc, "settings": settings.to_json(size), "lights": _lights(), "direct": direct or []}
        job.write_text(json.dumps(spec))
        env = {**os.environ, "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)  # the worker imports only numpy and bpy, from its own interpreter
        try:
            proc = subprocess.run(
                [python, str(WORKER), str(job), str(out)], capture_output=True, text=True, timeout=timeout, env=env
            )
        except subprocess.TimeoutExpired:
            raise RelightError(f"Blender did not finish a scene in {timeout:.0f} s") from None
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            raise RelightError(f"Blender failed on a scene: {tail[0][:300]}")
        with np.load(out) as data:
            passes: dict[str, Any] = {k: data[k] for k in data.files if k != "seconds"}
            return passes | {"seconds": json.loads(str(data["seconds"]))}


LOOKS = ("default", "vidit")
"""Scene families: ``default`` (`scene.py`: primitives under a sun and a sky) and ``vidit`` (`vidit_look.py`:
dense, dark scenes under one lamp)."""


def exposure(
    ambient: np.ndarray, sun: np.ndarray, sun_strength: float, ambient_strength: float, target: float = 0.8
) -> float:
    """One exposure for all 40 settings of a scene: the 99th percentile of the brightest direction's neutral
    (6500 K) image maps to ``target`` (linear), so that its highlights are not clipped and darker scenes stay
    darker."""
    brightest = max(range(len(sun)), key=lambda k: float(sun[k].mean()))
    lit = ambient_strength * ambient + sun_strength * sun[brightest] * blackbody_rgb(6500)
    level = float(np.percentile(lit.max(axis=2), 99))
    return target / level if level > 1e-6 else 1.0


def compose(
    ambient: np.ndarray,
    sun: np.ndarray,
    sun_strength: float,
    ambient_strength: float,
    gain: float | None = None,
    target: float = 0.8,
) -> dict[Setting, np.ndarray]:
    """The 40 settings as 8-bit sRGB: ``gain x (ambient_strength x ambient + sun_strength x sun[dir] x
    blackbody_rgb(T))`` in linear RGB, encoded like the numpy renderer's images (`to_srgb8`)."""
    gain = exposure(ambient, sun, sun_strength, ambient_strength, target) if gain is None else gain
    base = ambient_strength * ambient.astype(np.float32)
    images = {}
    for k, direction in enumerate(DIRECTIONS):
        lit = sun_strength * sun[k].astype(np.float32)
        for temperature in TEMPERATURES:
            linear = gain * (base + lit * blackbody_rgb(temperature).astype(np.float32))
            images[Setting(temperature, direction)] = to_srgb8(linear)
    return images


def compose_scene(desc: dict[str, Any], passes: dict[str, Any]) -> dict[Setting, np.ndarray]:
    """`compose` with a scene description's own light strengths and exposure target (the family's)."""
    return compose(
        passes["ambient"],
        passes["sun"],
        desc["sun"]["strength"],
        desc["world"]["strength"],
        target=desc.get("exposure", 0.8),
    )


LAMP_REDRAWS = 3
DARK_LEVEL = 0.1
"""A direction is dark when its neutral image's 99th percentile (brightest channel, sRGB) is below this: the light
reaches under 1% of the frame. VIDIT has back-lit, mostly dark settings but none that show nothing."""


def dark_directions(images: dict[Setting, np.ndarray], level: float = DARK_LEVEL) -> list[str]:
    """The directions whose 6500 K image (8-bit sRGB) is dark (`DARK_LEVEL`): a lamp that, from there, lights
    nothing the camera sees (inside a canopy, behind a wall). `render_scene_cycles` draws another lamp."""
    return [d for d in DIRECTIONS if np.percentile(images[Setting(6500, d)].max(axis=2), 99) < level * 255]


def normalised_depth(depth: np.ndarray) -> np.ndarray:
    """View-axis distance -> ``normalized_depth`` by the rule estimated depth follows (`relightcli.io.depthmaps`):
    the far plane at 20x the nearest point (the 80 m ground's far edge and the sky), then min-max to [0, 1]."""
    return metric_to_depth(depth)


def render_scene_cycles(
    rng: np.random.Generator, size: int, settings: CyclesSettings, python: str
) -> tuple[RenderedScene, dict[str, Any]]:
    """Draw a scene description of ``settings.look``'s family from ``rng``, path-trace it and compose its 40
    settings; a lamp that leaves a direction dark (`dark_directions`) is drawn again (`redraw_lamp`)."""
    if settings.look not in LOOKS:
        raise RelightError(f"--look {settings.look}: one of {', '.join(LOOKS)}")
    desc = random_vidit_scene(rng) if settings.look == "vidit" else random_scene(rng)
    for redraws in range(LAMP_REDRAWS + 1):
        passes = render_passes(desc, size, settings, python)
        images = compose_scene(desc, passes)
        dark = dark_directions(images)
        if not dark or "lamp" not in desc:
            break
        if redraws == LAMP_REDRAWS:
            raise RelightError(f"the lamp lit nothing the camera sees from {', '.join(dark)} in {redraws + 1} draws")
        desc = redraw_lamp(rng, desc, redraws + 1)
    centre = float(np.linalg.norm(np.array(desc["camera"]["location"])))
    return RenderedScene(images, normalised_depth(passes["depth"]), centre), {"scene": desc, **passes}
