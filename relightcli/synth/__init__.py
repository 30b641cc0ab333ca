"""Synthetic VIDIT-format data: random scenes, blackbody-coloured directional light, cast shadows."""

from .blackbody import blackbody_rgb
from .render import RenderedScene, light_direction, render_scene
from .scene import random_scene
from .writer import contact_sheet, synthesize

__all__ = [
    "RenderedScene",
    "blackbody_rgb",
    "contact_sheet",
    "light_direction",
    "random_scene",
    "render_scene",
    "synthesize",
]
