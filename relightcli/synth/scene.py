"""Random synthetic scenes for relighting: a textured ground plane and primitives resting on it.

World frame: x east, y up, z north; the camera stands south of the objects looking north and down, so east is
to the right of the image. All intersection routines are vectorised over rays: origins and unit directions
``(N, 3)`` in, distance ``t`` (inf where missed) and unit normals ``(N, 3)`` out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

_EPS = 1e-4
_INF = np.inf


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


@dataclass(frozen=True)
class Texture:
    """Albedo = ``base`` modulated by a procedural pattern of world position (checker or stripes)."""

    base: np.ndarray
    second: np.ndarray
    kind: str = "plain"  # plain | checker | stripes
    scale: float = 0.5

    def albedo(self, p: np.ndarray) -> np.ndarray:
        if self.kind == "plain":
            return np.broadcast_to(self.base, p.shape).copy()
        cells = np.floor(p / self.scale).astype(np.int64)
        parity = cells.sum(axis=1) if self.kind == "checker" else cells[:, 1]  # stripes: horizontal bands
        mask = (parity % 2) == 1
        return np.where(mask[:, None], self.second, self.base)


@dataclass(frozen=True)
class Sphere:
    center: np.ndarray
    radius: float
    texture: Texture

    @property
    def bound(self) -> tuple[np.ndarray, float]:
        return self.center, self.radius

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        oc = o - self.center
        b = np.einsum("ij,ij->i", oc, d)
        c = np.einsum("ij,ij->i", oc, oc) - self.radius**2
        disc = b * b - c
        root = np.sqrt(np.maximum(disc, 0.0))
        t = -b - root
        t = np.where(t > _EPS, t, -b + root)
        t = np.where((disc >= 0) & (t > _EPS), t, _INF)
        hit = np.isfinite(t)
        n = np.zeros_like(o)
        n[hit] = (o[hit] + t[hit, None] * d[hit] - self.center) / self.radius
        return t, n


@dataclass(frozen=True)
class Box:
    """A box resting on the ground, rotated by ``yaw`` (radians) about the vertical axis."""

    center: np.ndarray
    half: np.ndarray
    yaw: float
    texture: Texture

    @property
    def bound(self) -> tuple[np.ndarray, float]:
        return self.center, float(np.linalg.norm(self.half))

    @property
    def _rot(self) -> np.ndarray:  # local -> world
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rot = self._rot
        ol = (o - self.center) @ rot  # world -> local is rot.T, applied to row vectors
        dl = d @ rot
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dl
            t1 = (-self.half - ol) * inv
            t2 = (self.half - ol) * inv
        t1 = np.nan_to_num(t1, nan=-_INF)
        t2 = np.nan_to_num(t2, nan=_INF)
        tmin = np.minimum(t1, t2).max(axis=1)
        tmax = np.maximum(t1, t2).min(axis=1)
        t = np.where(tmin > _EPS, tmin, tmax)
        t = np.where((tmax >= np.maximum(tmin, _EPS)) & (t > _EPS), t, _INF)
        hit = np.isfinite(t)
        n = np.zeros_like(o)
        if hit.any():
            pl = ol[hit] + t[hit, None] * dl[hit]
            axis = np.argmax(np.abs(pl) / self.half, axis=1)
            nl = np.zeros_like(pl)
            nl[np.arange(len(pl)), axis] = np.sign(pl[np.arange(len(pl)), axis])
            n[hit] = nl @ rot.T
        return t, n


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder standing on the ground (base at y = 0, top cap at ``height``)."""

    center: np.ndarray  # (x, 0, z)
    radius: float
    height: float
    texture: Texture

    @property
    def bound(self) -> tuple[np.ndarray, float]:
        return self.center + np.array([0.0, self.height / 2, 0.0]), float(np.hypot(self.radius, self.height / 2))

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ox, oz = o[:, 0] - self.center[0], o[:, 2] - self.center[2]
        a = d[:, 0] ** 2 + d[:, 2] ** 2
        b = ox * d[:, 0] + oz * d[:, 2]
        c = ox**2 + oz**2 - self.radius**2
        disc = b * b - a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(np.maximum(disc, 0.0))
            t_side = (-b - root) / a
            t_side = np.where(t_side > _EPS, t_side, (-b + root) / a)
            y_side = o[:, 1] + t_side * d[:, 1]
            t_side = np.where(
                (disc >= 0) & (a > 1e-12) & (t_side > _EPS) & (y_side >= 0) & (y_side <= self.height), t_side, _INF
            )
            t_cap = (self.height - o[:, 1]) / d[:, 1]
        px = ox + t_cap * d[:, 0]
        pz = oz + t_cap * d[:, 2]
        t_cap = np.where(np.isfinite(t_cap) & (t_cap > _EPS) & (px**2 + pz**2 <= self.radius**2), t_cap, _INF)
        t = np.minimum(t_side, t_cap)
        n = np.zeros_like(o)
        side = np.isfinite(t_side) & (t_side <= t_cap)
        cap = np.isfinite(t_cap) & ~side
        if side.any():
            p = o[side] + t[side, None] * d[side]
            n[side] = np.stack([p[:, 0] - self.center[0], np.zeros(len(p)), p[:, 2] - self.center[2]], 1) / self.radius
        n[cap] = (0.0, 1.0, 0.0)
        return t, n


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at ``position`` looking at ``target``, vertical field of view ``fov`` degrees."""

    position: np.ndarray
    target: np.ndarray
    fov: float

    def rays(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Origins and unit directions ``(height * width, 3)``, row-major from the top-left pixel."""
        f = self.target - self.position
        f = f / np.linalg.norm(f)
        right = np.cross(np.array([0.0, 1.0, 0.0]), f)
        right /= np.linalg.norm(right)
        up = np.cross(f, right)
        tan = np.tan(np.radians(self.fov) / 2)
        v = (1.0 - 2.0 * (np.arange(height) + 0.5) / height) * tan
        u = (2.0 * (np.arange(width) + 0.5) / width - 1.0) * tan * width / height
        d = f + u[None, :, None] * right + v[:, None, None] * up
        d = d.reshape(-1, 3)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return np.broadcast_to(self.position, d.shape).copy(), d


Primitive = Sphere | Box | Cylinder


def intersect(obj: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``obj.intersect`` run only on the rays that reach its bounding sphere (the rest miss: t = inf)."""
    center, radius = obj.bound
    oc = o - center
    b = np.einsum("ij,ij->i", oc, d)
    disc = b * b - (np.einsum("ij,ij->i", oc, oc) - (radius * 1.001) ** 2)
    near = np.flatnonzero((disc >= 0) & (np.sqrt(np.maximum(disc, 0.0)) - b > 0))
    t = np.full(len(o), np.inf)
    n = np.zeros_like(o)
    if len(near):
        t[near], n[near] = obj.intersect(o[near], d[near])
    return t, n


@dataclass(frozen=True)
class Scene:
    camera: Camera
    ground: Texture
    objects: list[Primitive] = field(default_factory=list)


def _random_texture(rng: np.random.Generator, value: tuple[float, float]) -> Texture:
    hsv = np.array([rng.uniform(0, 180), rng.uniform(40, 200), rng.uniform(*value) * 255], dtype=np.float32)
    base_srgb = cv2.cvtColor(hsv.reshape(1, 1, 3).astype(np.uint8), cv2.COLOR_HSV2RGB).reshape(3) / 255.0
    base = _srgb_to_linear(base_srgb)
    kind = str(rng.choice(["plain", "checker", "stripes"], p=[0.4, 0.35, 0.25]))
    second = base * rng.uniform(0.35, 0.7)
    return Texture(base=base, second=second, kind=kind, scale=float(rng.uniform(0.15, 0.45)))


def random_scene(rng: np.random.Generator) -> Scene:
    """A camera, a textured ground and 3-6 primitives (spheres, boxes, cylinders) placed without overlap."""
    fov = rng.uniform(40.0, 46.0)
    camera = Camera(
        position=np.array([rng.uniform(-0.6, 0.6), rng.uniform(4.0, 5.0), -rng.uniform(2.5, 3.5)]),
        target=np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(2.5, 3.5)]),
        fov=fov,
    )
    ground = _random_texture(rng, (0.45, 0.8))
    ground = Texture(
        ground.base, ground.second, kind=str(rng.choice(["checker", "plain"])), scale=float(rng.uniform(0.5, 1.4))
    )
    objects: list[Primitive] = []
    placed: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(3, 7))):
        for _try in range(20):
            kind = str(rng.choice(["sphere", "box", "cylinder"]))
            x, z = rng.uniform(-2.4, 2.4), rng.uniform(1.0, 5.5)
            size = rng.uniform(0.35, 0.9)
            if all((x - px) ** 2 + (z - pz) ** 2 > (size + pr + 0.1) ** 2 for px, pz, pr in placed):
                break
        else:
            continue
        tex = _random_texture(rng, (0.5, 0.9))
        if kind == "sphere":
            objects.append(Sphere(np.array([x, size, z]), size, tex))
            placed.append((x, z, size))
        elif kind == "box":
            half = np.array([size * rng.uniform(0.6, 1.0), size * rng.uniform(0.5, 1.3), size * rng.uniform(0.6, 1.0)])
            objects.append(Box(np.array([x, half[1], z]), half, float(rng.uniform(0, np.pi / 2)), tex))
            placed.append((x, z, float(np.hypot(half[0], half[2]))))
        else:
            radius = size * rng.uniform(0.5, 0.8)
            objects.append(Cylinder(np.array([x, 0.0, z]), radius, float(size * rng.uniform(1.2, 2.6)), tex))
            placed.append((x, z, radius))
    return Scene(camera, ground, objects)
