"""The VIDIT dataset's layouts (El Helou et al. 2020; NTIRE 2021 track 2): settings, file names, indexes.

Flat training layout: ``Image{NNN}_{TTTT}_{DIR}.png`` (40 settings per scene) plus one ``Image{NNN}.npy`` depth
per scene. Pair layout: ``input/``, ``guide/`` and optional ``target/``, each ``Pair{NNN}.png`` (+ ``.npy``
depth in input/ and guide/). Directions name where the light comes from; azimuths count clockwise from north.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RelightError

TEMPERATURES: tuple[int, ...] = (2500, 3500, 4500, 5500, 6500)
DIRECTIONS: tuple[str, ...] = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
MIRRORED_DIRECTION = {"N": "N", "NE": "NW", "E": "W", "SE": "SW", "S": "S", "SW": "SE", "W": "E", "NW": "NE"}
"""Direction labels after a left-right flip of an image whose camera looks north."""
TEMPERATURE_WORDS = {2500: "warm", 3500: "warm white", 4500: "neutral white", 5500: "daylight", 6500: "cool daylight"}
DIRECTION_WORDS = {
    "N": "from behind the scene, towards the camera (back light)",
    "NE": "from behind the scene, on the right",
    "E": "from the right",
    "SE": "from the right, behind the camera",
    "S": "from behind the camera (front light)",
    "SW": "from the left, behind the camera",
    "W": "from the left",
    "NW": "from behind the scene, on the left",
}
"""Where each direction's light comes from in the picture: the camera looks north, east is the image's right."""


@dataclass(frozen=True, order=True)
class Setting:
    """One of VIDIT's 40 lighting settings: a colour temperature (K) and a light direction."""

    temperature: int
    direction: str

    def __post_init__(self) -> None:
        if self.temperature not in TEMPERATURES or self.direction not in DIRECTIONS:
            raise RelightError(f"{self.temperature}K/{self.direction} is not a VIDIT setting")

    def __str__(self) -> str:
        return f"{self.temperature}_{self.direction}"

    @property
    def azimuth(self) -> float:
        """Azimuth of the light in degrees, clockwise from north (N = 0, E = 90)."""
        return 45.0 * DIRECTIONS.index(self.direction)

    def describe(self) -> str:
        """The setting in words, e.g. ``3500 K (warm white), light from the left`` for ``3500_W``."""
        return f"{self.temperature} K ({TEMPERATURE_WORDS[self.temperature]}), light {DIRECTION_WORDS[self.direction]}"

    @property
    def preset(self) -> str:
        """The ``--light`` spelling, ``3500K/W``."""
        return f"{self.temperature}K/{self.direction}"

    @classmethod
    def parse(cls, text: str) -> Setting:
        """``"3500_NW"``, ``"3500K/NW"`` or ``"3500/nw"``."""
        m = re.fullmatch(r"\s*(\d{4})\s*[kK]?\s*[_/ ]\s*([NnSsEeWw]{1,2})\s*", text)
        if not m or int(m[1]) not in TEMPERATURES or m[2].upper() not in DIRECTIONS:
            valid = ", ".join(s.preset for s in SETTINGS)
            raise RelightError(f"unknown lighting setting {text!r}; valid: {valid}")
        return cls(int(m[1]), m[2].upper())


SETTINGS: tuple[Setting, ...] = tuple(Setting(t, d) for t in TEMPERATURES for d in DIRECTIONS)

_IMAGE_RE = re.compile(r"Image(\d+)_(\d+)_([A-Z]+)\.png")
_DEPTH_RE = re.compile(r"Image(\d+)\.npy")
_PAIR_RE = re.compile(r"Pair(\d+)\.png")


def image_name(scene: str, setting: Setting) -> str:
    """``Image049_4500_E.png`` for scene ``"049"``."""
    return f"Image{scene}_{setting}.png"


def depth_name(scene: str) -> str:
    return f"Image{scene}.npy"


@dataclass
class FlatIndex:
    """The scenes of a flat VIDIT training folder: every scene has all 40 settings and a depth file."""

    root: Path
    scenes: list[str]

    def image(self, scene: str, setting: Setting) -> Path:
        return self.root / image_name(scene, setting)

    def depth(self, scene: str) -> Path:
        return self.root / depth_name(scene)


def scan_flat(root: str | Path) -> FlatIndex:
    """Index a flat training folder; `RelightError` naming the file for malformed names, missing settings/depth."""
    root = Path(root)
    if not root.is_dir():
        raise RelightError(f"{root}: dataset folder not found")
    found: dict[str, set[Setting]] = {}
    depths: set[str] = set()
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        suffix = p.suffix.lower()
        if suffix == ".png":
            m = _IMAGE_RE.fullmatch(p.name)
            if not m or int(m[2]) not in TEMPERATURES or m[3] not in DIRECTIONS:
                raise RelightError(
                    f"{p}: not a VIDIT training image name (expected Image<scene>_<temperature>_<direction>.png, "
                    "e.g. Image049_4500_E.png)"
                )
            found.setdefault(m[1], set()).add(Setting(int(m[2]), m[3]))
        elif suffix == ".npy":
            m = _DEPTH_RE.fullmatch(p.name)
            if not m:
                raise RelightError(f"{p}: not a VIDIT depth name (expected Image<scene>.npy)")
            depths.add(m[1])
    if not found:
        raise RelightError(f"{root}: no VIDIT training images (Image<scene>_<temperature>_<direction>.png) found")
    for scene, settings in sorted(found.items()):
        if len(settings) != len(SETTINGS):
            missing = [str(s) for s in SETTINGS if s not in settings]
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise RelightError(
                f"{root / image_name(scene, SETTINGS[0]).replace(str(SETTINGS[0]), '*')}: scene {scene} has "
                f"{len(settings)} of 40 settings; missing {shown}"
            )
        if scene not in depths:
            raise RelightError(f"{root / depth_name(scene)}: depth file for scene {scene} is missing")
    return FlatIndex(root, sorted(found))


@dataclass
class PairIndex:
    """A pair-layout folder: ``input/``, ``guide/`` and optionally ``target/`` with matching ``PairNNN`` files."""

    root: Path
    pairs: list[str]
    has_target: bool = field(default=False)
    settings: dict[str, tuple[Setting, Setting]] = field(default_factory=dict)
    """``pair -> (source setting, guide setting)`` where the folder records them (`PAIR_SETTINGS_FILE`)."""

    def input(self, pair: str) -> tuple[Path, Path]:
        return self.root / "input" / f"{pair}.png", self.root / "input" / f"{pair}.npy"

    def guide(self, pair: str) -> tuple[Path, Path]:
        return self.root / "guide" / f"{pair}.png", self.root / "guide" / f"{pair}.npy"

    def target(self, pair: str) -> Path:
        return self.root / "target" / f"{pair}.png"


def scan_pairs(root: str | Path) -> PairIndex:
    """Index a pair-layout folder; every input needs its depth, a guide with depth and (if any) a target."""
    root = Path(root)
    for sub in ("input", "guide"):
        if not (root / sub).is_dir():
            raise RelightError(f"{root / sub}: missing; a pair-layout folder holds input/, guide/ and target/")
    pairs = []
    for p in sorted((root / "input").glob("*.png")):
        if not _PAIR_RE.fullmatch(p.name):
            raise RelightError(f"{p}: not a VIDIT pair name (expected Pair<NNN>.png)")
        pairs.append(p.stem)
    if not pairs:
        raise RelightError(f"{root / 'input'}: no Pair<NNN>.png images")
    index = PairIndex(root, pairs, has_target=(root / "target").is_dir(), settings=read_pair_settings(root))
    for pair in pairs:
        needed = [index.input(pair)[1], *index.guide(pair)]
        if index.has_target:
            needed.append(index.target(pair))
        for path in needed:
            if not path.is_file():
                raise RelightError(f"{path}: missing (needed for {pair})")
    return index


PAIR_SETTINGS_FILE = "pairs.csv"
"""Optional record of a pair-layout folder's lighting: ``pair,source_setting,guide_setting`` rows (header first),
settings written as in file names (``4500_E``). VIDIT's own validation pairs do not carry one; ``relight synth``
writes it, so that ``relight eval`` can say what changed in each pair."""


def read_pair_settings(root: Path) -> dict[str, tuple[Setting, Setting]]:
    """The ``pairs.csv`` of a pair-layout folder as ``{pair: (source, guide)}``; empty if there is none."""
    import csv

    path = root / PAIR_SETTINGS_FILE
    if not path.is_file():
        return {}
    out: dict[str, tuple[Setting, Setting]] = {}
    with open(path, newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                out[row["pair"]] = (Setting.parse(row["source_setting"]), Setting.parse(row["guide_setting"]))
            except (KeyError, TypeError, RelightError) as exc:
                raise RelightError(
                    f"{path}:{n}: expected columns pair,source_setting,guide_setting with settings such as 4500_E "
                    f"({exc}); fix or delete the file"
                ) from None
    return out


LIGHT_CHANGES = ("direction", "temperature", "both")
"""What differs between a pair's source and guide lighting: direction only, temperature only, or both."""


def light_change(source: Setting, guide: Setting) -> str:
    """One of `LIGHT_CHANGES` (``"none"`` when the settings are equal)."""
    same_dir, same_temp = source.direction == guide.direction, source.temperature == guide.temperature
    if same_dir and same_temp:
        return "none"
    return "temperature" if same_dir else "direction" if same_temp else "both"
