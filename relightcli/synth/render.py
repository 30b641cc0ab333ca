"""Shading a synthetic scene under VIDIT's 40 lighting settings.

Light: a distant (sun-like) light at one of 8 azimuths and a fixed elevation, coloured by the blackbody colour
of its temperature (`blackbody.py`), plus a constant, slightly cool ambient fill. Shading: Lambertian with cast
shadows (a shadow ray from every lit surface point towards the light). Geometry is traced once per scene and
each direction's shadows once per direction, so the 5 temperatures of a direction cost one multiply each.
Rendered at ``supersample`` x the output size in linear light and box-filtered down (anti-aliasing).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..data.vidit import DIRECTIONS, TEMPERATURES, Setting
from .blackbody import blackbody_rgb
from .scene import Scene, intersect

LIGHT_ELEVATION = 35.0
"""Degrees above the horizon of every light direction."""
SUN_INTENSITY = 0.8
AMBIENT = np.array([0.15, 0.16, 0.18])
"""Sky fill, independent of the light's temperature."""
_SKY = np.array([0.55, 0.62, 0.75])


def light_direction(azimuth_deg: float, elevation_deg: float = LIGHT_ELEVATION) -> np.ndarray:
    """Unit vector towards the light; azimuth clockwise from north (+z), east is +x."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


@dataclass
class GBuffer:
    """Per-ray hit data, flattened ``(N, ...)``; ``hit`` is False for rays that leave the scene (sky)."""

    t: np.ndarray
    normal: np.ndarray
    albedo: np.ndarray
    position: np.ndarray
    hit: np.ndarray


def trace(scene: Scene, height: int, width: int) -> GBuffer:
    """Primary visibility: nearest of the ground plane and the objects for every pixel."""
    o, d = scene.camera.rays(height, width)
    n_rays = len(d)
    with np.errstate(divide="ignore"):
        t = np.where(d[:, 1] < -1e-9, -o[:, 1] / d[:, 1], np.inf)
    normal = np.tile(np.array([0.0, 1.0, 0.0]), (n_rays, 1))
    owner = np.full(n_rays, -1)
    for k, obj in enumerate(scene.objects):
        tk, nk = intersect(obj, o, d)
        closer = tk < t
        t = np.where(closer, tk, t)
        normal[closer] = nk[closer]
        owner[closer] = k
    hit = np.isfinite(t)
    position = o + np.where(hit, t, 0.0)[:, None] * d
    albedo = np.tile(_SKY, (n_rays, 1))
    ground = hit & (owner < 0)
    albedo[ground] = scene.ground.albedo(position[ground])
    for k, obj in enumerate(scene.objects):
        mine = owner == k
        if mine.any():
            albedo[mine] = obj.texture.albedo(position[mine])
    if not hit.all():
        t = np.where(hit, t, t[hit].max() if hit.any() else 1.0)
    return GBuffer(t, normal, albedo, position, hit)


def direct_light(scene: Scene, g: GBuffer, to_light: np.ndarray) -> np.ndarray:
    """Lambertian cosine times visibility (0 in cast shadow) for every ray, ``(N,)``."""
    cos = np.clip(g.normal @ to_light, 0.0, None) * g.hit
    lit = cos > 0
    if lit.any():
        origin = g.position[lit] + 1e-3 * g.normal[lit]
        dirs = np.broadcast_to(to_light, origin.shape)
        blocked = np.zeros(len(origin), dtype=bool)
        for obj in scene.objects:
            blocked |= np.isfinite(intersect(obj, origin, dirs)[0])
        cos[np.flatnonzero(lit)[blocked]] = 0.0
    return cos


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> 8-bit sRGB with a smooth highlight roll-off above 0.8 instead of a hard clip."""
    x = np.maximum(linear, 0.0)
    x = np.where(x < 0.8, x, 0.8 + 0.2 * np.tanh((x - 0.8) / 0.2))
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return (np.clip(srgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass
class RenderedScene:
    """The 40 images (8-bit sRGB ``(S, S, 3)``) of one scene, its depth normalised to [0, 1], camera distance."""

    images: dict[Setting, np.ndarray]
    depth: np.ndarray
    center_distance: float


def _down(arr: np.ndarray, size: int) -> np.ndarray:
    return arr if arr.shape[0] == size else cv2.resize(arr, (size, size), interpolation=cv2.INTER_AREA)


def render_scene(scene: Scene, size: int, *, supersample: int = 2) -> RenderedScene:
    """Render ``scene`` at ``size x size`` under all 40 VIDIT settings."""
    big = size * supersample
    g = trace(scene, big, big)
    albedo = g.albedo.reshape(big, big, 3)
    ambient = albedo * AMBIENT
    images: dict[Setting, np.ndarray] = {}
    for direction in DIRECTIONS:
        to_light = light_direction(Setting(TEMPERATURES[0], direction).azimuth)
        direct = (SUN_INTENSITY * direct_light(scene, g, to_light)).reshape(big, big, 1)
        lit = (albedo * direct).astype(np.float32)
        for temperature in TEMPERATURES:
            colour = blackbody_rgb(temperature).astype(np.float32)
            linear = _down(ambient.astype(np.float32) + lit * colour, size)
            images[Setting(temperature, direction)] = to_srgb8(linear)
    t = _down(g.t.reshape(big, big).astype(np.float32), size).astype(np.float64)
    depth = ((t - t.min()) / max(t.max() - t.min(), 1e-12)).astype(np.float32)
    center = float(np.linalg.norm(scene.camera.target - scene.camera.position))
    return RenderedScene(images, depth, center)
