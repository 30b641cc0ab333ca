"""Blender side of the path-traced renderer: run in a Python that has ``bpy`` (Blender as a Python module).

    python worker.py JOB.json OUT.npz

Reads a job (a scene description from `relightcli.synth.cycles.scene` plus render settings), builds the scene
in Blender, and renders it with Cycles as linear float images: once with the ambient light alone (the world
background) and once per light direction with a white sun of unit strength alone. Light transport is linear in
the lights, so the caller composes every setting from these (`relightcli.synth.cycles.compose`). Depth is
ray-cast from the camera (distance along the view axis; the sky gets the farthest depth). Writes
``ambient (H, W, 3)``, ``sun (D, H, W, 3)``, ``depth (H, W)`` and ``seconds`` to OUT.npz atomically, and, for a
job that lists ``direct`` settings (a coloured sun with the ambient, rendered at once), ``direct (K, H, W, 3)``.

This file imports nothing from relightcli (only numpy and bpy), so it runs in Blender's own interpreter too.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree


def _principled(mat: Any) -> Any:
    return next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")


def _set(node: Any, name: str, value: Any) -> None:
    if name in node.inputs:
        node.inputs[name].default_value = value


def make_material(spec: dict[str, Any], name: str) -> Any:
    """A Principled BSDF material, its base colour optionally a procedural texture between two colours."""
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # Blender < 5 makes node trees on request only
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = _principled(mat)
    c1, c2 = (*spec["colour"], 1.0), (*spec["colour2"], 1.0)
    _set(bsdf, "Base Color", c1)
    _set(bsdf, "Roughness", spec["roughness"])
    _set(bsdf, "Metallic", spec["metallic"])
    _set(bsdf, "Specular IOR Level", spec["specular"])
    kind = spec["texture"]
    if kind == "none":
        return mat
    coords = nodes.new("ShaderNodeTexCoord")
    tex = nodes.new(
        {
            "noise": "ShaderNodeTexNoise",
            "voronoi": "ShaderNodeTexVoronoi",
            "brick": "ShaderNodeTexBrick",
            "wave": "ShaderNodeTexWave",
            "checker": "ShaderNodeTexChecker",
            "gradient": "ShaderNodeTexGradient",
        }[kind]
    )
    links.new(coords.outputs["Object"], tex.inputs["Vector"])
    _set(tex, "Scale", spec["texture_scale"] if kind != "gradient" else 1.0)
    if kind in ("brick", "checker"):
        _set(tex, "Color1", c1)
        _set(tex, "Color2", c2)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        return mat
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = c1
    ramp.color_ramp.elements[1].color = c2
    out = next(o for o in tex.outputs if o.name in ("Factor", "Fac", "Distance"))  # "Factor" since Blender 5
    links.new(out, ramp.inputs[0])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


_TEMPLATES: dict[tuple[str, bool], Any] = {}
"""One mesh per (shape, smooth shading), shared by every object of that shape: a scene of a thousand grass blades
and stones is built without a thousand operator calls, and Cycles instances the shared meshes."""


def _template(shape: str, smooth: bool) -> Any:
    key = (shape, smooth)
    if key not in _TEMPLATES:
        ops = bpy.ops.mesh
        if shape == "cube":
            ops.primitive_cube_add(size=2.0)
        elif shape == "uv_sphere":
            ops.primitive_uv_sphere_add(radius=1.0, segments=32, ring_count=16)
        elif shape == "ico_sphere":
            ops.primitive_ico_sphere_add(radius=1.0, subdivisions=2)
        elif shape == "cylinder":
            ops.primitive_cylinder_add(radius=1.0, depth=2.0, vertices=32)
        elif shape == "cone":
            ops.primitive_cone_add(radius1=1.0, depth=2.0, vertices=32)
        elif shape == "torus":
            ops.primitive_torus_add(major_radius=1.0, minor_radius=0.35)
        elif shape == "monkey":
            ops.primitive_monkey_add(size=2.0)
        elif shape == "plane":
            ops.primitive_plane_add(size=2.0)
        elif shape == "blade":  # a grass blade: a three-sided spike
            ops.primitive_cone_add(radius1=1.0, depth=2.0, vertices=3)
        else:
            raise ValueError(f"unknown shape {shape!r}")
        made = bpy.context.active_object
        mesh = made.data
        mesh.name = f"{shape}{'_smooth' if smooth else ''}"
        mesh.polygons.foreach_set("use_smooth", [smooth] * len(mesh.polygons))
        mesh.materials.append(None)  # one slot, filled per object (`_assign`)
        bpy.data.objects.remove(made)
        _TEMPLATES[key] = mesh
    return _TEMPLATES[key]


def _add(
    shape: str,
    location: tuple[float, ...] = (0.0, 0.0, 0.0),
    rotation: tuple[float, ...] = (0.0, 0.0, 0.0),
    smooth: bool = False,
) -> Any:
    """A new object of ``shape`` (a unit primitive, sharing its mesh) at ``location`` with Euler ``rotation``."""
    obj = bpy.data.objects.new(shape, _template(shape, smooth))
    bpy.context.scene.collection.objects.link(obj)
    obj.location, obj.rotation_euler = location, rotation
    return obj


def _assign(obj: Any, material: Any) -> None:
    """Give ``obj`` its own material (an object-linked slot: its mesh is shared)."""
    slot = obj.material_slots[0]
    slot.link, slot.material = "OBJECT", material


def _displace(obj: Any, strength: float, scale: float) -> None:
    tex = bpy.data.textures.new(f"{obj.name}_clouds", type="CLOUDS")
    tex.noise_scale = scale
    mod = obj.modifiers.new("Displace", "DISPLACE")
    mod.texture, mod.strength, mod.texture_coords = tex, strength, "GLOBAL"


def build_parts(desc: dict[str, Any]) -> None:
    """The VIDIT-look family's primitives (``parts``, sharing ``materials``): a part may have openings cut through
    it (``cuts``: centre in its own frame, then size), a displacement (``displace``, finer with ``detail``) and
    smooth shading."""
    materials = [make_material(m, f"material{k}") for k, m in enumerate(desc.get("materials", []))]
    for part in desc.get("parts", []):
        rot = tuple(math.radians(a) for a in part["rotation"])
        obj = _add(part["shape"], location=tuple(part["location"]), rotation=rot, smooth=bool(part.get("smooth")))
        obj.scale = tuple(part["scale"])
        for k, (cx, cy, cz, sx, sy, sz) in enumerate(part.get("cuts", [])):
            yaw = rot[2]
            offset = (cx * math.cos(yaw) - cy * math.sin(yaw), cx * math.sin(yaw) + cy * math.cos(yaw), cz)
            cutter = _add("cube", location=tuple(np.add(part["location"], offset)), rotation=(0.0, 0.0, yaw))
            cutter.scale = (sx / 2, sy / 2, sz / 2)
            cutter.hide_render = True
            cutter.hide_set(True)
            mod = obj.modifiers.new(f"Cut{k}", "BOOLEAN")
            mod.operation, mod.object, mod.solver = "DIFFERENCE", cutter, "EXACT"
        if part.get("displace"):
            mod = obj.modifiers.new("Subdivision", "SUBSURF")
            mod.subdivision_type, mod.levels, mod.render_levels = "SIMPLE", 2, 2
            _displace(obj, part["displace"], 0.15 if part.get("detail") else 0.6)
        _assign(obj, materials[part["material"]])


def build_scene(desc: dict[str, Any]) -> tuple[Any, Any]:
    """Ground, structures, objects, parts, world and camera; returns ``(camera, light)``: a sun, or for a scene
    with a ``lamp`` a point light of soft radius (neither placed yet)."""
    scene = bpy.context.scene
    ground = _add("plane", location=(0.0, 0.0, 0.0))
    ground.scale = (40.0, 40.0, 1.0)
    if desc["ground"]["terrain"] > 0:
        sub = ground.modifiers.new("Subdivision", "SUBSURF")
        sub.subdivision_type, sub.levels, sub.render_levels = "SIMPLE", 7, 7
        _displace(ground, desc["ground"]["terrain"], 4.0)
    _assign(ground, make_material(desc["ground"]["material"], "ground"))
    for k, s in enumerate(desc["structures"]):
        sx, sy, sz = s["size"]
        x, y = s["location"]
        rot = (0.0, 0.0, math.radians(s["rotation"]))
        mat = make_material(s["material"], f"structure{k}")
        if s["kind"] == "pillar":
            parts = [("cylinder", (x, y, sz / 2), (sx / 2, sy / 2, sz / 2))]
        elif s["kind"] == "steps":
            n = 4
            parts = [
                ("cube", (x, y + sy * i / (2 * n), sz * (i + 0.5) / n), (sx / 2, sy * (n - i) / (2 * n), sz / (2 * n)))
                for i in range(n)
            ]
        else:  # wall, block
            parts = [("cube", (x, y, sz / 2), (sx / 2, sy / 2, sz / 2))]
        for shape, loc, scale in parts:
            obj = _add(shape, location=loc, rotation=rot)
            obj.scale = scale
            _assign(obj, mat)
    for k, o in enumerate(desc["objects"]):
        sx, sy, sz = o["scale"]
        x, y = o["location"]
        rotation = tuple(math.radians(a) for a in o["rotation"])
        obj = _add(o["shape"], location=(x, y, sz), rotation=rotation, smooth=o["shape"] != "cube")
        obj.scale = (sx, sy, sz)
        mods = o["modifiers"]
        if "boolean" in mods:
            b = mods["boolean"]
            cutter = _add("uv_sphere", location=tuple(np.add((x, y, sz), np.multiply(b["offset"], (sx, sy, sz)))))
            cutter.scale = tuple(b["scale"] * s for s in (sx, sy, sz))
            cutter.hide_render = True
            cutter.hide_set(True)
            mod = obj.modifiers.new("Boolean", "BOOLEAN")
            mod.operation, mod.object = "DIFFERENCE", cutter
        if "bevel" in mods:
            mod = obj.modifiers.new("Bevel", "BEVEL")
            mod.width, mod.segments = mods["bevel"], 3
        if "subdivision" in mods:
            mod = obj.modifiers.new("Subdivision", "SUBSURF")
            mod.levels = mod.render_levels = mods["subdivision"]
        if "displace" in mods:
            if "subdivision" not in mods:
                mod = obj.modifiers.new("Subdivision", "SUBSURF")
                mod.subdivision_type, mod.levels, mod.render_levels = "SIMPLE", 3, 3
            _displace(obj, mods["displace"], 0.5)
        _assign(obj, make_material(o["material"], f"object{k}"))
    build_parts(desc)
    world = bpy.data.worlds.new("world")
    scene.world = world
    if world.node_tree is None:
        world.use_nodes = True
    bg = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    bg.inputs["Color"].default_value = (*desc["world"]["colour"], 1.0)
    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens, cam_data.sensor_width, cam_data.clip_end = desc["camera"]["lens"], 36.0, 500.0
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = desc["camera"]["location"]
    pitch, yaw = math.radians(desc["camera"]["pitch"]), math.radians(desc["camera"]["yaw"])
    forward = Vector((math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), -math.sin(pitch)))
    cam.rotation_euler = forward.to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    if "lamp" in desc:
        sun_data = bpy.data.lights.new("lamp", type="POINT")
        sun_data.shadow_soft_size = desc["lamp"]["radius"]
    else:
        sun_data = bpy.data.lights.new("sun", type="SUN")
        sun_data.angle = math.radians(desc["sun"]["angle"])
    sun = bpy.data.objects.new("sun", sun_data)
    scene.collection.objects.link(sun)
    return cam, sun


def _unit_lamp_power(lamp: dict[str, Any]) -> float:
    """Watts of a point light whose irradiance at the scene's centre is about a unit sun's (1 W/m^2) by the
    inverse-square law ``E = P / (4 pi r^2)``; a constant factor of Blender's own convention is absorbed by the
    per-scene exposure."""
    r2 = lamp["distance"] ** 2 + lamp["height"] ** 2
    return 4.0 * math.pi * r2


def place_light(light: Any, azimuth: float, elevation: float, lamp: dict[str, Any] | None) -> None:
    """A sun pointed from ``azimuth`` (clockwise from north) and ``elevation``, or the lamp placed at that azimuth,
    its distance and height from the scene's centre (elevation then follows from them)."""
    az, el = math.radians(azimuth), math.radians(elevation)
    if lamp is None:
        towards = Vector((math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)))
        light.rotation_euler = towards.to_track_quat("Z", "Y").to_euler()  # a sun shines along its -Z
        return
    cx, cy = lamp["centre"]
    light.location = (cx + lamp["distance"] * math.sin(az), cy + lamp["distance"] * math.cos(az), lamp["height"])


def configure(settings: dict[str, Any]) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = settings["size"]
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = True  # the BVH is built once for the 9 renders
    scene.cycles.samples = settings["samples"]
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.adaptive_threshold = settings["adaptive_threshold"]
    scene.cycles.use_denoising = settings["denoise"]
    if settings["denoise"]:
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.seed = settings["seed"]
    scene.cycles.max_bounces = settings["bounces"]
    scene.cycles.diffuse_bounces = scene.cycles.glossy_bounces = min(2, settings["bounces"])
    scene.cycles.transmission_bounces = scene.cycles.transparent_max_bounces = 2
    scene.cycles.caustics_reflective = scene.cycles.caustics_refractive = False
    scene.view_settings.view_transform = "Standard"  # linear data out; the caller encodes to sRGB
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    if settings.get("threads"):
        scene.render.threads_mode, scene.render.threads = "FIXED", settings["threads"]


def render_linear(path: Path) -> np.ndarray:
    """Render the current state and return its linear RGB as float32 ``(H, W, 3)``, top row first."""
    scene = bpy.context.scene
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(path))
    w, h = img.size
    buf = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(buf)
    bpy.data.images.remove(img)
    return buf.reshape(h, w, 4)[::-1, :, :3].copy()


def _scene_tree() -> BVHTree:
    """One BVH over the world-space triangles of every rendered mesh, as evaluated (modifiers applied): one ray
    query per pixel instead of one per pixel and object (``scene.ray_cast``), whatever the object count."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    points, triangles, count = [], [], 0
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type != "MESH" or obj.original.hide_render:  # cutters of boolean cuts are not rendered
            continue
        mesh = obj.to_mesh()
        mesh.calc_loop_triangles()
        co = np.empty(3 * len(mesh.vertices), np.float64)
        mesh.vertices.foreach_get("co", co)
        tris = np.empty(3 * len(mesh.loop_triangles), np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
        world = np.array(inst.matrix_world)
        points.append(co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3])
        triangles.append(tris.reshape(-1, 3) + count)
        count += len(mesh.vertices)
        obj.to_mesh_clear()
    if not points:
        return BVHTree.FromPolygons([], [])
    return BVHTree.FromPolygons(np.concatenate(points).tolist(), np.concatenate(triangles).tolist(), all_triangles=True)


def ray_depth(cam: Any, size: int) -> np.ndarray:
    """Distance along the camera's view axis of the first surface under each pixel centre; sky: the farthest."""
    scene = bpy.context.scene
    tree = _scene_tree()
    frame = [cam.matrix_world.to_3x3() @ v for v in cam.data.view_frame(scene=scene)]  # tr, br, bl, tl
    tr, br, bl, tl = (np.array(v) for v in frame)
    origin = Vector(cam.matrix_world.translation)
    forward = np.array(cam.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0)))
    centres = (np.arange(size) + 0.5) / size
    left = tl + (bl - tl) * centres[:, None]  # (rows, 3), top first
    right = tr + (br - tr) * centres[:, None]
    rays = left[:, None] + (right - left)[:, None] * centres[None, :, None]  # (rows, columns, 3)
    rays /= np.linalg.norm(rays, axis=2, keepdims=True)
    cos_forward = rays @ forward  # view-axis distance per unit of ray length
    depth = np.full((size, size), np.nan)
    cast = tree.ray_cast
    for i in range(size):
        for j, ray in enumerate(rays[i].tolist()):
            hit = cast(origin, Vector(ray))[3]  # (location, normal, index, distance)
            if hit is not None:
                depth[i, j] = hit * cos_forward[i, j]
    far = np.nanmax(depth) if np.isfinite(depth).any() else 1.0
    return np.where(np.isnan(depth), far, depth).astype(np.float32)


def main(job_path: str, out_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _TEMPLATES.clear()
    configure(job["settings"])
    cam, sun = build_scene(job["scene"])
    scene = bpy.context.scene
    bg = next(n for n in scene.world.node_tree.nodes if n.type == "BACKGROUND")
    timings = {"build": time.perf_counter() - t0}
    with tempfile.TemporaryDirectory(prefix="relight-cycles-") as tmp:
        bg.inputs["Strength"].default_value = 1.0  # ambient alone at unit strength; the caller scales it
        sun.hide_render = True
        t = time.perf_counter()
        ambient = render_linear(Path(tmp) / "ambient.exr")
        suns = []
        bg.inputs["Strength"].default_value = 0.0
        sun.hide_render = False
        sun.data.energy = 1.0
        lamp = job["scene"].get("lamp")
        if lamp is not None:  # a unit sun's irradiance at the distance of the scene's centre
            sun.data.energy = _unit_lamp_power(lamp)
        for k, (azimuth, elevation) in enumerate(job["lights"]):
            place_light(sun, azimuth, elevation, lamp)
            suns.append(render_linear(Path(tmp) / f"sun{k}.exr"))
        direct = []  # each light of a setting at once (a coloured sun and the ambient): for checking the composition
        for k, spec in enumerate(job.get("direct", [])):
            place_light(sun, spec["azimuth"], spec["elevation"], lamp)
            unit = _unit_lamp_power(lamp) if lamp is not None else 1.0
            sun.data.color, sun.data.energy = spec["colour"], spec["sun_strength"] * unit
            bg.inputs["Strength"].default_value = spec["ambient_strength"]
            direct.append(render_linear(Path(tmp) / f"direct{k}.exr"))
        timings["render"] = time.perf_counter() - t
    t = time.perf_counter()
    depth = ray_depth(cam, job["settings"]["size"])
    timings["depth"] = time.perf_counter() - t
    out = Path(out_path)
    part = out.with_name(out.name + ".part.npz")
    extra = {"direct": np.stack(direct)} if direct else {}
    np.savez(part, ambient=ambient, sun=np.stack(suns), depth=depth, seconds=np.array(json.dumps(timings)), **extra)
    os.replace(part, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python worker.py JOB.json OUT.npz")
    main(sys.argv[1], sys.argv[2])
