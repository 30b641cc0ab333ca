"""``relight light``: read each photo's light (direction and colour temperature) with the light estimator."""

from __future__ import annotations

import glob
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..errors import RelightError
from .app import app, console, err_console, user_errors
from .options import DeviceOpt
from .progress import counting_progress
from .tables import table

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

LightWeightsOpt = Annotated[
    str | None,
    typer.Option("--light-weights", help="Light estimator checkpoint (.safetensors or hf://...); default: shipped."),
]
TemperatureWeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--temperature-weights",
        help="A second light estimator whose colour temperature is taken in place of the first's; the direction "
        "is read by both (the shipped estimator pairs its 128-pixel reader with a 256-pixel one this way).",
    ),
]


class DirectionReaders(str, Enum):
    """Which of two estimators reads the direction (`relightcli.light.estimator.DIRECTION_READERS`)."""

    both = "both"
    first = "first"


DirectionsOpt = Annotated[
    DirectionReaders,
    typer.Option(
        "--directions",
        help="With two estimators: read the direction with both (the mean of their log-probabilities) or with the "
        "first alone.",
    ),
]


TemperatureCropsOpt = Annotated[
    bool,
    typer.Option(
        "--temperature-crops/--no-temperature-crops",
        help="Read the colour temperature from the photo and its four corner crops together (0.2-1.9 points more read "
        "right on held-out renders, three to four times the time), or from the whole photo alone (default).",
    ),
]


def expand_photos(specs: list[str]) -> list[Path]:
    """Files, folders (their PNG/JPEG files, sorted) and globs (expanded here too, for shells that do not),
    in order, each once; `RelightError` for a path that matches nothing."""
    out: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if any(c in spec for c in "*?[") and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
            if not matches:
                raise RelightError(f"{spec}: no file matches")
            out += [m for m in matches if m.is_file()]
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise RelightError(f"{path}: no PNG or JPEG files in this folder")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise RelightError(f"{path}: image file not found")
    return list(dict.fromkeys(out))


def load_light_estimator(
    weights: str | None,
    device: str,
    temperature_weights: str | None = None,
    directions: str = "both",
    temperature_crops: bool = False,
) -> Any:
    from ..light.estimator import LightEstimator

    with err_console.status("Loading the light estimator ..."):
        return LightEstimator(
            weights,
            device=device,
            temperature_weights=temperature_weights,
            directions=directions,
            temperature_crops=temperature_crops,
        )


@app.command(
    epilog="Examples: relight light photo.jpg · relight light photos/ --json lights.json · relight light 'shots/*.png'"
)
@user_errors
def light(
    photos: Annotated[list[str], typer.Argument(help="Photos, folders of photos, or globs.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the estimates as a JSON list (one object per photo).")
    ] = None,
    light_weights: LightWeightsOpt = None,
    temperature_weights: TemperatureWeightsOpt = None,
    directions: DirectionsOpt = DirectionReaders.both,
    temperature_crops: TemperatureCropsOpt = False,
    device: DeviceOpt = "auto",
) -> None:
    """Read each photo's light: where it comes from (VIDIT's 8 directions, camera looking north, east = the image's
    right) and its colour temperature (2500-6500 K), each with a confidence, from the image alone."""
    from ..io import read_image

    paths = expand_photos(photos)
    if json_out is not None and json_out.is_dir():
        raise RelightError(f"--json {json_out}: is a folder; give a file name such as lights.json")
    estimator = load_light_estimator(light_weights, device, temperature_weights, directions.value, temperature_crops)
    results = []
    with counting_progress("reading light", min_total=4) as progress:
        for path in paths:
            results.append((path, estimator(read_image(path).rgb)))
            progress(len(results), len(paths))
    columns = ("photo", "direction", "azimuth", "conf.", "temperature", "conf.")
    title = f"light read by {Path(estimator.weights).name}"
    if estimator.temperature_weights is not None:
        second = Path(estimator.temperature_weights).name
        title += f" (temperature: {second})" if estimator.directions == "first" else f" and {second}"
    if estimator.temperature_crops:
        title += ", the temperature with corner crops"
    t = table(title, *columns, right=columns[2:], keep=columns[1:])
    for path, e in results:
        t.add_row(
            escape(str(path)),
            e.direction,
            f"{e.azimuth_deg:.0f}°",
            f"{e.direction_confidence:.0%}",
            f"{e.temperature_k} K",
            f"{e.temperature_confidence:.0%}",
        )
    console.print(t)
    if json_out is not None:
        from ..atomic import atomic_write_bytes

        payload = json.dumps([e.to_json(str(p)) for p, e in results], indent=2)
        atomic_write_bytes(json_out, payload.encode() + b"\n")
        console.print(f"estimates: {escape(str(json_out))}")
