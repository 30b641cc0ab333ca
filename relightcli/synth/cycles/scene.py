"""Random scene descriptions for the path-traced renderer: plain data (JSON-able dicts), no Blender needed.

A scene is drawn from one numpy generator, so the same ``(seed, split, index)`` gives the same description on
every machine (the pixels then differ only by the path tracer's sampling noise). Coordinates are Blender's:
x east, y north, z up; the camera stands south of the scene and looks north, so east is image-right, as in the
numpy renderer and VIDIT's naming. VIDIT-like variety: ground (flat or displaced terrain) and structures
(walls, pillars, steps, building-like blocks), 3-12 objects of many primitive shapes with modifiers (bevel,
subdivision, displacement, boolean cuts), Principled BSDF materials with procedural textures, ambient light
from night to daylight sky, the sun's softness, and the camera's height, pitch and focal length.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SHAPES = ("cube", "uv_sphere", "ico_sphere", "cylinder", "cone", "torus", "monkey")
TEXTURES = ("none", "noise", "voronoi", "brick", "wave", "checker", "gradient")
STRUCTURES = ("wall", "pillar", "steps", "block")


def _colour(rng: np.random.Generator, dark: bool = False) -> list[float]:
    """A linear-RGB albedo: desaturated most of the time, as real materials are."""
    base = rng.uniform(0.05, 0.35 if dark else 0.8)
    tint = rng.uniform(-1.0, 1.0, 3) * rng.uniform(0.0, 0.6)
    return [float(np.clip(base * (1.0 + t), 0.01, 0.9)) for t in tint]


def random_material(rng: np.random.Generator, kind: str = "object") -> dict[str, Any]:
    """Principled BSDF parameters with an optional procedural texture between two colours."""
    metallic = float(rng.uniform(0.6, 1.0)) if rng.random() < 0.15 else 0.0
    glossy = rng.random() < 0.3 or (kind == "floor" and rng.random() < 0.3)  # glossy floors, as VIDIT's
    return {
        "colour": _colour(rng, dark=kind == "floor"),
        "colour2": _colour(rng),
        "texture": str(rng.choice(TEXTURES, p=[0.3, 0.15, 0.12, 0.1, 0.1, 0.1, 0.13])),
        "texture_scale": float(rng.uniform(1.0, 12.0)),
        "roughness": float(rng.uniform(0.05, 0.35) if glossy else rng.uniform(0.4, 1.0)),
        "metallic": metallic,
        "specular": float(rng.uniform(0.2, 0.8)),
    }


def _modifiers(rng: np.random.Generator, shape: str) -> dict[str, Any]:
    mods: dict[str, Any] = {}
    if shape in ("cube", "cylinder", "cone") and rng.random() < 0.6:
        mods["bevel"] = float(rng.uniform(0.02, 0.15))
    if rng.random() < 0.25:
        mods["subdivision"] = int(rng.integers(1, 3))
    if rng.random() < 0.2:
        mods["displace"] = float(rng.uniform(0.03, 0.15))
    if shape in ("cube", "uv_sphere", "cylinder") and rng.random() < 0.2:
        mods["boolean"] = {"offset": rng.uniform(-0.5, 0.5, 3).round(3).tolist(), "scale": float(rng.uniform(0.4, 0.8))}
    return mods


def _in_view(rng: np.random.Generator, cam: dict[str, Any], near: float, far: float, spread: float) -> list[float]:
    """A ground point ``near``-``far`` metres ahead of the camera (horizontally), within ``spread`` of the
    half-width the lens sees there."""
    yaw, half = math.radians(cam["yaw"]), math.atan(18.0 / cam["lens"])
    ahead = rng.uniform(near, far)
    side = rng.uniform(-spread, spread) * ahead * math.tan(half)
    fx, fy = math.sin(yaw), math.cos(yaw)  # forward; right is (fy, -fx)
    x0, y0 = cam["location"][:2]
    return [float(x0 + ahead * fx + side * fy), float(y0 + ahead * fy - side * fx)]


def random_object(
    rng: np.random.Generator,
    camera: dict[str, Any],
    size: tuple[float, float],
    factor: float,
    near: float,
    far: float,
) -> dict[str, Any]:
    """One object of `SHAPES`, ``size`` (drawn) x ``factor`` metres, ``near``-``far`` metres ahead of the camera,
    with modifiers and its own material."""
    shape = str(rng.choice(SHAPES))
    scale = float(rng.uniform(*size)) * factor
    return {
        "shape": shape,
        "location": _in_view(rng, camera, near, far, 0.8),
        "scale": [scale * float(s) for s in rng.uniform(0.6, 1.4, 3)],
        "rotation": [float(a) for a in rng.uniform(0, 360, 3)] if rng.random() < 0.5 else [0.0, 0.0, 0.0],
        "modifiers": _modifiers(rng, shape),
        "material": random_material(rng),
    }


def random_scene(rng: np.random.Generator) -> dict[str, Any]:
    """One scene description (see the module docstring); every number drawn from ``rng``."""
    pitch = float(rng.uniform(10.0, 35.0))  # degrees below the horizon
    height = float(rng.uniform(1.2, 4.0))
    camera = {
        "location": [float(rng.uniform(-1.0, 1.0)), -8.0, height],
        "pitch": pitch,
        "yaw": float(rng.uniform(-8.0, 8.0)),
        "lens": float(rng.uniform(24.0, 50.0)),
    }
    focus = height / math.tan(math.radians(pitch))  # where the optical axis meets the ground
    terrain = rng.random() < 0.35
    ground = {"terrain": float(rng.uniform(0.1, 0.5)) if terrain else 0.0, "material": random_material(rng, "floor")}
    structures = []
    for _ in range(int(rng.integers(0, 4))):
        kind = str(rng.choice(STRUCTURES))
        size = {
            "wall": [rng.uniform(2.0, 6.0), rng.uniform(0.2, 0.5), rng.uniform(1.5, 4.0)],
            "pillar": [rng.uniform(0.3, 0.8)] * 2 + [rng.uniform(2.0, 5.0)],
            "steps": [rng.uniform(1.5, 3.0), rng.uniform(1.5, 3.0), rng.uniform(0.6, 1.5)],
            "block": [rng.uniform(1.5, 4.0), rng.uniform(1.5, 4.0), rng.uniform(2.0, 6.0)],
        }[kind]
        structures.append(
            {
                "kind": kind,
                "location": _in_view(rng, camera, focus * 1.1, focus * 2.5 + 3.0, 1.3),
                "size": [float(s) for s in size],
                "rotation": float(rng.uniform(0, 180)),
                "material": random_material(rng, "structure"),
            }
        )
    objects = [
        random_object(rng, camera, (0.2, 0.7), max(1.0, focus / 6.0), max(1.5, focus * 0.5), focus * 1.6 + 1.0)
        for _ in range(int(rng.integers(3, 13)))
    ]
    night = rng.random() < 0.3
    sky = [0.35, 0.45, 0.7] if not night else [0.2, 0.25, 0.45]
    ambient = float(10 ** rng.uniform(-2.3, -1.3)) if night else float(10 ** rng.uniform(-1.3, -0.5))
    return {
        "ground": ground,
        "structures": structures,
        "objects": objects,
        "world": {"colour": sky, "strength": ambient},
        "sun": {"angle": float(rng.uniform(0.5, 12.0)), "strength": float(rng.uniform(2.0, 5.0))},
        "camera": camera,
    }
