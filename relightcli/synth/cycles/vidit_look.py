"""VIDIT-look scenes for the path-traced renderer (``relight synth --renderer cycles --look vidit``).

VIDIT (El Helou et al. 2020) is a night-like world: one strong light, lit surfaces bright and half the frame
near black, deep shadows and no sky fill, in dense, detailed outdoor scenes seen from human height. This family
draws such scenes as plain data (JSON-able dicts, no Blender needed), built by the worker from primitives:

- ground: terrain with a procedural texture, and a path of flagstones leading into the scene;
- buildings: boxes with window and door openings cut through their walls (boolean differences), and gable
  roofs; fences of posts and rails; stairs;
- vegetation: grass clumps of thin blades, bushes (clusters of displaced spheres), trees (a trunk and a
  displaced canopy), scattered rocks; props from the default family's shapes;
- several scales of detail per scene: buildings metres wide, rocks and bushes tens of centimetres, blades
  and flagstone joints a few centimetres;
- light: a lamp at a finite distance (a point light with a soft radius, so the lit area fades across the
  frame), placed at each of the 8 compass directions at one height, and a near-black night sky as the only
  other light. Light transport stays linear in the lights, so the 9-render scheme holds.

Coordinates as in `scene.py`: x east, y north, z up; the camera stands south and looks north.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .scene import _in_view, random_object

EXPOSURE_TARGET = 0.55
"""Linear level the 99th percentile of the brightest direction's neutral image maps to (VIDIT's 99th percentile
luminance is 0.68 in sRGB); the default family uses 0.8."""

_FOLIAGE = ([0.10, 0.14, 0.07], [0.14, 0.19, 0.09], [0.17, 0.17, 0.10], [0.11, 0.15, 0.10])
_BARK = ([0.12, 0.08, 0.05], [0.2, 0.15, 0.1])
_STONE = ([0.25, 0.24, 0.22], [0.35, 0.32, 0.28], [0.18, 0.18, 0.19], [0.4, 0.36, 0.3])
_WALL = ([0.55, 0.5, 0.42], [0.45, 0.3, 0.22], [0.6, 0.6, 0.58], [0.35, 0.33, 0.3], [0.5, 0.42, 0.3])
_ROOF = ([0.25, 0.1, 0.07], [0.15, 0.15, 0.17], [0.3, 0.22, 0.15])
_GROUND = ([0.13, 0.13, 0.10], [0.16, 0.14, 0.11], [0.14, 0.14, 0.12])


def _vary(rng: np.random.Generator, colour: list[float], amount: float = 0.25) -> list[float]:
    scale = rng.uniform(1 - amount, 1 + amount)
    return [float(np.clip(c * scale * rng.uniform(0.9, 1.1), 0.01, 0.9)) for c in colour]


def _material(
    rng: np.random.Generator, palette: tuple[list[float], ...], texture: str, scale: tuple[float, float], rough: float
) -> dict[str, Any]:
    """A textured Principled material from a palette: two nearby colours through a procedural texture."""
    base = palette[int(rng.integers(len(palette)))]
    return {
        "colour": _vary(rng, base),
        "colour2": _vary(rng, base, 0.5),
        "texture": texture,
        "texture_scale": float(rng.uniform(*scale)),
        "roughness": float(np.clip(rough + rng.uniform(-0.1, 0.1), 0.05, 1.0)),
        "metallic": 0.0,
        "specular": float(rng.uniform(0.2, 0.5)),
    }


class _Parts:
    """The scene's primitives and their shared materials, as the worker builds them."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        self.materials: list[dict[str, Any]] = []

    def material(self, spec: dict[str, Any]) -> int:
        self.materials.append(spec)
        return len(self.materials) - 1

    def add(
        self,
        shape: str,
        location: tuple[float, float, float],
        scale: tuple[float, float, float],
        material: int,
        rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
        **extra: Any,
    ) -> dict[str, Any]:
        part = {
            "shape": shape,
            "location": [round(float(v), 4) for v in location],
            "scale": [round(float(v), 4) for v in scale],
            "rotation": [round(float(v), 3) for v in rotation],
            "material": material,
            **extra,
        }
        self.parts.append(part)
        return part


def _rotate(dx: float, dy: float, angle_deg: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return dx * math.cos(a) - dy * math.sin(a), dx * math.sin(a) + dy * math.cos(a)


def _building(rng: np.random.Generator, out: _Parts, x: float, y: float) -> None:
    """A box house with window and door openings through its walls and a gable roof."""
    w, d, h = rng.uniform(3.0, 7.0), rng.uniform(3.0, 6.0), rng.uniform(2.5, 5.0)
    yaw = float(rng.uniform(-30, 30))
    wall = out.material(_material(rng, _WALL, str(rng.choice(["brick", "noise", "voronoi"])), (3.0, 12.0), 0.8))
    cuts = []
    for face in (-1, 1):  # south and north walls: windows in rows, a door on the south side
        for k in range(int(rng.integers(1, 4))):
            cx = (k + 0.5) / 3 * w - w / 2 + rng.uniform(-0.2, 0.2)
            cz = h * rng.uniform(0.45, 0.7)
            cuts.append([cx, face * d / 2, cz, rng.uniform(0.5, 1.0), 0.6, rng.uniform(0.6, 1.2)])
    cuts.append([rng.uniform(-w / 4, w / 4), -d / 2, 1.0, 0.9, 0.6, 2.0])  # the door
    for face in (-1, 1):  # east and west walls
        if rng.random() < 0.6:
            cuts.append([face * w / 2, rng.uniform(-d / 4, d / 4), h * 0.55, 0.6, 0.8, 0.9])
    # openings: centre relative to the house's centre in its own (unrotated) frame, then width, depth, height
    cuts = [[round(float(v), 3) for v in (cx, cy, cz - h / 2, sx, sy, sz)] for cx, cy, cz, sx, sy, sz in cuts]
    out.add("cube", (x, y, h / 2), (w / 2, d / 2, h / 2), wall, (0.0, 0.0, yaw), cuts=cuts)
    roof = out.material(_material(rng, _ROOF, str(rng.choice(["brick", "wave", "noise"])), (6.0, 20.0), 0.7))
    pitch = rng.uniform(0.5, 1.2)  # roof height
    half = math.hypot(d / 2, pitch)
    tilt = math.degrees(math.atan2(pitch, d / 2))
    for side in (-1, 1):  # two slabs from the eaves (y = +-d/2, z = h) to the ridge (y = 0, z = h + pitch)
        dx, dy = _rotate(0.0, side * d / 4, yaw)
        size = (w / 2 + 0.3, half / 2 + 0.15, 0.08)
        out.add("cube", (x + dx, y + dy, h + pitch / 2), size, roof, (-side * tilt, 0.0, yaw))


def _fence(rng: np.random.Generator, out: _Parts, x: float, y: float) -> None:
    """Posts every half metre or so along a line, with two rails."""
    length, yaw = rng.uniform(4.0, 10.0), float(rng.uniform(-60, 60))
    wood = out.material(_material(rng, _BARK, "wave", (8.0, 30.0), 0.85))
    height = rng.uniform(0.8, 1.4)
    n = int(length / rng.uniform(0.35, 0.8))
    for k in range(n + 1):
        dx, dy = _rotate(-length / 2 + k * length / n, 0.0, yaw)
        out.add("cube", (x + dx, y + dy, height / 2), (0.04, 0.04, height / 2), wood, (0.0, 0.0, yaw))
    for frac in (0.35, 0.8):
        out.add("cube", (x, y, height * frac), (length / 2, 0.025, 0.05), wood, (0.0, 0.0, yaw))


def _stairs(rng: np.random.Generator, out: _Parts, x: float, y: float) -> None:
    steps, width = int(rng.integers(3, 8)), rng.uniform(1.2, 3.0)
    rise, run = rng.uniform(0.12, 0.2), rng.uniform(0.25, 0.4)
    stone = out.material(_material(rng, _STONE, "noise", (4.0, 15.0), 0.9))
    yaw = float(rng.uniform(-20, 20))
    for k in range(steps):
        depth = (steps - k) * run
        dx, dy = _rotate(0.0, k * run / 2, yaw)
        out.add("cube", (x + dx, y + dy, rise * (k + 0.5)), (width / 2, depth / 2, rise / 2), stone, (0.0, 0.0, yaw))


def _path(rng: np.random.Generator, out: _Parts, start: list[float], end: list[float]) -> None:
    """Flagstones from ``start`` to ``end`` with gaps between them (the joints self-shadow under a low lamp)."""
    stone = out.material(_material(rng, _STONE, "voronoi", (3.0, 10.0), 0.85))
    length = math.dist(start, end)
    n, width = max(4, int(length / rng.uniform(0.45, 0.8))), rng.uniform(0.8, 1.6)
    yaw = math.degrees(math.atan2(end[0] - start[0], end[1] - start[1]))
    for k in range(n):
        t = (k + 0.5) / n
        for lane in range(int(rng.integers(1, 3))):
            off = (lane - 0.5) * width / 2 if width > 1.1 else 0.0
            dx, dy = _rotate(off + rng.uniform(-0.05, 0.05), 0.0, -yaw)
            px, py = start[0] + t * (end[0] - start[0]) + dx, start[1] + t * (end[1] - start[1]) + dy
            size = (rng.uniform(0.2, 0.35) * width, length / n * rng.uniform(0.35, 0.45), 0.04)
            out.add("cube", (px, py, 0.02), size, stone, (0.0, 0.0, -yaw + rng.uniform(-8, 8)))


def _rocks(rng: np.random.Generator, out: _Parts, points: list[list[float]]) -> None:
    stone = out.material(_material(rng, _STONE, "noise", (2.0, 8.0), 0.9))
    for x, y in points:
        r = float(rng.uniform(0.08, 0.5)) * (2.0 if rng.random() < 0.15 else 1.0)
        scale = (r * rng.uniform(0.8, 1.4), r * rng.uniform(0.8, 1.4), r * rng.uniform(0.4, 0.9))
        out.add("ico_sphere", (x, y, scale[2] * 0.4), scale, stone, tuple(rng.uniform(0, 360, 3)), displace=0.3 * r)


def _bush(rng: np.random.Generator, out: _Parts, x: float, y: float, leaves: int) -> None:
    size = rng.uniform(0.3, 1.0)
    for _ in range(int(rng.integers(3, 8))):
        r = size * rng.uniform(0.4, 0.8)
        dx, dy = rng.uniform(-size, size, 2) * 0.7
        out.add(
            "ico_sphere",
            (x + dx, y + dy, r * rng.uniform(0.6, 1.2)),
            (r, r, r * 0.8),
            leaves,
            smooth=True,
            displace=0.35 * r,
            detail=True,
        )


def _tree(rng: np.random.Generator, out: _Parts, x: float, y: float, leaves: int) -> None:
    bark = out.material(_material(rng, _BARK, "wave", (10.0, 40.0), 0.9))
    height, radius = rng.uniform(3.0, 7.0), rng.uniform(0.1, 0.3)
    out.add("cylinder", (x, y, height / 2), (radius, radius, height / 2), bark, smooth=True)
    crown = rng.uniform(1.2, 2.5)
    for _ in range(int(rng.integers(2, 5))):
        dx, dy = rng.uniform(-crown, crown, 2) * 0.5
        r = crown * rng.uniform(0.6, 1.0)
        z = height + rng.uniform(-0.5, 0.8)
        out.add("ico_sphere", (x + dx, y + dy, z), (r, r, r * 0.85), leaves, smooth=True, displace=0.3 * r, detail=True)


def _grass(rng: np.random.Generator, out: _Parts, x: float, y: float, blades: int) -> None:
    """A clump of thin, tilted blades."""
    height = rng.uniform(0.15, 0.5)
    for _ in range(int(rng.integers(5, 13))):
        dx, dy = rng.uniform(-0.15, 0.15, 2)
        h = height * rng.uniform(0.6, 1.2)
        tilt = (float(rng.uniform(-25, 25)), float(rng.uniform(-25, 25)), float(rng.uniform(0, 360)))
        out.add("blade", (x + dx, y + dy, h / 2), (0.012, 0.012, h / 2), blades, tilt)


def random_vidit_scene(rng: np.random.Generator) -> dict[str, Any]:
    """One VIDIT-look scene description (see the module docstring); every number drawn from ``rng``."""
    pitch = float(rng.uniform(6.0, 22.0))
    height = float(rng.uniform(1.5, 2.6))  # human height
    camera = {
        "location": [float(rng.uniform(-1.0, 1.0)), -8.0, height],
        "pitch": pitch,
        "yaw": float(rng.uniform(-10.0, 10.0)),
        "lens": float(rng.uniform(22.0, 40.0)),
    }
    focus = _focus(camera)
    out = _Parts()
    ground = {
        "terrain": float(rng.uniform(0.05, 0.3)) if rng.random() < 0.6 else 0.0,
        "material": _material(rng, _GROUND, "noise", (8.0, 30.0), 0.95),
    }
    for _ in range(int(rng.integers(0, 3))):
        _building(rng, out, *_in_view(rng, camera, focus * 0.9, focus * 2.2 + 4.0, 1.2))
    for _ in range(int(rng.integers(0, 3))):
        _fence(rng, out, *_in_view(rng, camera, focus * 0.5, focus * 1.6 + 2.0, 1.0))
    if rng.random() < 0.4:
        _stairs(rng, out, *_in_view(rng, camera, focus * 0.7, focus * 1.5 + 2.0, 0.8))
    if rng.random() < 0.6:
        _path(rng, out, _in_view(rng, camera, 1.5, 2.5, 0.3), _in_view(rng, camera, focus * 1.2, focus * 2.0 + 3, 0.6))
    leaves = [out.material(_material(rng, _FOLIAGE, "voronoi", (10.0, 40.0), 0.7)) for _ in range(2)]
    blades = out.material(_material(rng, _FOLIAGE, "noise", (20.0, 60.0), 0.6))
    _rocks(rng, out, [_in_view(rng, camera, 1.0, focus * 2.0 + 3.0, 1.1) for _ in range(int(rng.integers(8, 40)))])
    for _ in range(int(rng.integers(2, 10))):
        _bush(rng, out, *_in_view(rng, camera, 1.5, focus * 2.0 + 3.0, 1.1), leaves[int(rng.integers(2))])
    for _ in range(int(rng.integers(0, 4))):
        _tree(rng, out, *_in_view(rng, camera, focus * 0.8, focus * 2.5 + 5.0, 1.3), leaves[int(rng.integers(2))])
    for _ in range(int(rng.integers(20, 70))):
        _grass(rng, out, *_in_view(rng, camera, 0.8, focus * 1.8 + 2.0, 1.1), blades)
    objects = [  # props
        random_object(rng, camera, (0.15, 0.5), 1.0, max(1.5, focus * 0.5), focus * 1.4 + 1.0)
        for _ in range(int(rng.integers(0, 5)))
    ]
    centre = _lamp_centre(rng, camera)
    return {
        "look": "vidit",
        "ground": ground,
        "structures": [],
        "objects": objects,
        "parts": out.parts,
        "materials": out.materials,
        "world": {"colour": [0.09, 0.095, 0.11], "strength": float(10 ** rng.uniform(-3.5, -2.0))},
        "sun": {"angle": 0.0, "strength": float(rng.uniform(2.0, 5.0))},
        "lamp": _lamp(rng, centre),
        "camera": camera,
        "exposure": EXPOSURE_TARGET,
    }


def _focus(camera: dict[str, Any]) -> float:
    """How far ahead the camera's view axis meets the ground (capped at 14 m): where the scene's content centres."""
    return min(camera["location"][2] / math.tan(math.radians(camera["pitch"])), 14.0)


def _lamp_centre(rng: np.random.Generator, camera: dict[str, Any]) -> list[float]:
    focus = _focus(camera)
    return _in_view(rng, camera, focus * 0.9, focus * 1.2, 0.1)


def _lamp(rng: np.random.Generator, centre: list[float], raise_by: float = 0.0) -> dict[str, Any]:
    """The lamp's circle: its 8 positions are ``distance`` from ``centre`` at ``height``."""
    return {
        "centre": centre,
        "distance": float(rng.uniform(5.0, 14.0)),
        "height": float(rng.uniform(3.0, 7.0)) + raise_by,
        "radius": float(rng.uniform(0.1, 0.6)),
    }


def redraw_lamp(rng: np.random.Generator, desc: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    """The scene with another lamp circle drawn from ``rng`` (for a lamp that, from some direction, lights nothing
    the camera sees: inside a canopy, or behind a wall or dense content that the camera sees only the unlit side
    of). Each ``attempt`` draws it 3 m higher, so that it reaches over what blocked it."""
    return {**desc, "lamp": _lamp(rng, _lamp_centre(rng, desc["camera"]), raise_by=3.0 * attempt)}
