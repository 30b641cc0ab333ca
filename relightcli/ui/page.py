"""The page of ``relight ui`` (Gradio Blocks): photo and depth in, a compass and a temperature dial (or a guide
photo) for the light, a before/after slider, the full-resolution PNG, and the 40-setting contact sheet.

Everything it does goes through `RelightService`; this module only lays out the controls and turns the
service's `RelightError` into a message in the page (``gr.Error``), so a bad upload never stops the server.
The named endpoint ``relight`` is the scripted door (``gradio_client``): photo, photo depth, guide, guide depth,
light preset, in that order, answering with the relit PNG.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry, no version ping

import gradio as gr

from ..assets import samples
from ..data.vidit import DIRECTIONS, TEMPERATURES, Setting
from ..errors import RelightError
from .service import RelightService, preview

API_NAME = "relight"
"""The scripted endpoint: ``Client(url).predict(photo, depth, guide, guide_depth, light, api_name="/relight")``."""

# The compass: VIDIT's 8 directions as a 3x3 grid seen from above, north (behind the scene) at the top and the
# camera at the centre, so a click says where the light comes from. A radio group underneath (keyboard and
# screen readers work as for any radio group); the grid is CSS.
_GRID = {"N": (1, 2), "NE": (1, 3), "E": (2, 3), "SE": (3, 3), "S": (3, 2), "SW": (3, 1), "W": (2, 1), "NW": (1, 1)}
CSS = (
    "#compass .wrap:has(> label) { display: grid; grid-template-columns: repeat(3, 4.2em);"
    " grid-template-rows: repeat(3, 2.6em); gap: 6px; justify-content: center; }\n"
    "#compass .wrap:has(> label) > label { justify-content: center; margin: 0; min-width: 0; }\n"
    '#compass .wrap:has(> label)::after { content: "scene"; grid-area: 2 / 2; display: flex; align-items: center;'
    " justify-content: center; font-size: 0.75em; opacity: 0.6; }\n"
    + "".join(
        f"#compass .wrap:has(> label) > label:nth-of-type({i + 1}) {{ grid-area: {r} / {c}; }}\n"
        for i, (r, c) in enumerate(_GRID[d] for d in DIRECTIONS)
    )
)
THEME_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
"""Local fonts: the page loads nothing from outside the machine (Gradio's default theme fetches web fonts)."""


def _message(exc: BaseException) -> gr.Error:
    """A page message for ``exc``: a `RelightError`'s own line, anything else named with a traceback on the
    server's terminal (the page keeps serving either way)."""
    if isinstance(exc, RelightError):
        return gr.Error(str(exc), print_exception=False)
    traceback.print_exception(exc)
    return gr.Error(f"relighting failed: {type(exc).__name__}: {exc}", print_exception=False)


def setting_words(direction: str, temperature: float) -> str:
    setting = Setting(int(temperature), direction)
    return f"**{setting.preset}**: {setting.describe()}"


def build_page(service: RelightService) -> gr.Blocks:
    """The Blocks app over ``service`` (not launched)."""
    bundled = samples()
    with gr.Blocks(title="relight", analytics_enabled=False) as page:
        gr.Markdown(
            "## relight: depth-guided relighting\n"
            "Upload a photo (its depth map is optional: it is estimated when missing), choose the light with the "
            "compass and the temperature, or with a guide photo, and press **Relight**. **All lights** shows "
            "the photo under VIDIT's 40 settings."
        )
        mode = gr.State("setting")
        with gr.Row():
            with gr.Column():
                photo = gr.File(label="Photo", elem_id="photo", height=150)
                photo_depth = gr.File(
                    label="Depth (optional: 16-bit PNG or .npy; estimated when empty)",
                    elem_id="photo-depth",
                    height=110,
                )
                photo_view = gr.Image(label="Photo as read", interactive=False, height=220, elem_id="photo-view")
            with gr.Column():
                with gr.Tabs():
                    with gr.Tab("Light setting", id="setting") as setting_tab:
                        direction = gr.Radio(
                            list(DIRECTIONS),
                            value="NW",
                            label="Light comes from",
                            info="Seen from above: the camera stands at S and looks N; E is the image's right.",
                            elem_id="compass",
                        )
                        temperature = gr.Slider(
                            TEMPERATURES[0],
                            TEMPERATURES[-1],
                            value=3500,
                            step=TEMPERATURES[1] - TEMPERATURES[0],
                            label="Colour temperature (K)",
                            elem_id="temperature",
                        )
                        words = gr.Markdown(setting_words("NW", 3500), elem_id="setting-words")
                    with gr.Tab("Guide photo", id="guide") as guide_tab:
                        guide = gr.File(label="Guide photo (its light is copied)", elem_id="guide", height=130)
                        guide_depth = gr.File(label="Guide depth (optional)", elem_id="guide-depth", height=100)
                        guide_view = gr.Image(label="Guide as read", interactive=False, height=160)
                with gr.Accordion("Options", open=False):
                    flip = gr.Checkbox(
                        value=service.default_flip,
                        label="Flip ensemble (average with the mirrored pass: better, twice the time)",
                        elem_id="flip",
                    )
                    max_side = gr.Number(
                        value=service.default_max_side,
                        precision=0,
                        minimum=0,
                        label=f"Max side in pixels (empty: {service.relighter.default_max_side or 'every pixel'} "
                        "for larger photos; 0: every pixel)",
                        elem_id="max-side",
                    )
                with gr.Row():
                    run = gr.Button("Relight", variant="primary", elem_id="run")
                    sheet_run = gr.Button("All lights", elem_id="all-lights")
        gr.Examples(
            [[str(p) for p in (s.src, s.src_depth, s.guide, s.guide_depth)] for s in bundled],
            inputs=[photo, photo_depth, guide, guide_depth],
            example_labels=[f"{s.name}: {s.description}" for s in bundled],
            label="Bundled samples (with depth; the guide fills the guide tab)",
        )
        result = gr.ImageSlider(
            label="Before / after", type="numpy", format="png", elem_id="result", max_height=720, interactive=False
        )
        info = gr.Markdown(elem_id="info")
        download = gr.DownloadButton("Download PNG (full resolution)", interactive=False, elem_id="download")
        sheet = gr.Image(
            label="All lights (rows: temperature, columns: direction)",
            type="filepath",
            format="png",
            interactive=False,
            elem_id="sheet",
        )

        # -- events ---------------------------------------------------------------------------------------------
        setting_tab.select(lambda: "setting", outputs=mode, api_visibility="private")
        guide_tab.select(lambda: "guide", outputs=mode, api_visibility="private")
        for control in (direction, temperature):
            control.change(setting_words, [direction, temperature], words, api_visibility="private")

        def show(path: str | None, what: str) -> Any:
            if path is None:
                return None
            try:
                return preview(service.read_photo(path, what).rgb, 1024)
            except Exception as exc:
                raise _message(exc) from None

        photo.change(lambda p: show(p, "photo"), photo, photo_view, api_visibility="private")
        guide.change(lambda p: show(p, "guide"), guide, guide_view, api_visibility="private")

        def relight_in_page(
            photo_path: str | None,
            depth_path: str | None,
            guide_path: str | None,
            guide_depth_path: str | None,
            mode_now: str,
            direction_now: str,
            temperature_now: float,
            flip_now: bool,
            max_side_now: float | None,
            progress: gr.Progress = gr.Progress(),
        ) -> tuple[Any, str, Any]:
            by_setting = mode_now == "setting"
            try:
                relit = service.relight(
                    photo_path,
                    depth_path,
                    None if by_setting else guide_path,
                    None if by_setting else guide_depth_path,
                    f"{int(temperature_now)}K/{direction_now}" if by_setting else None,
                    flip_ensemble=flip_now,
                    max_side=None if max_side_now is None else int(max_side_now),
                    on_progress=lambda done, total: progress((done, total), desc="relighting"),
                )
            except Exception as exc:
                raise _message(exc) from None
            button = gr.DownloadButton(value=str(relit.path), interactive=True)
            return (relit.source_preview, relit.relit_preview), relit.summary, button

        run.click(
            relight_in_page,
            [photo, photo_depth, guide, guide_depth, mode, direction, temperature, flip, max_side],
            [result, info, download],
            api_visibility="private",
        )

        def contact_sheet(
            photo_path: str | None,
            depth_path: str | None,
            flip_now: bool,
            progress: gr.Progress = gr.Progress(),
        ) -> tuple[str, str]:
            try:
                path, seconds = service.all_lights(
                    photo_path,
                    depth_path,
                    flip_ensemble=flip_now,
                    on_progress=lambda done, total: progress((done, total), desc="settings"),
                )
            except Exception as exc:
                raise _message(exc) from None
            return str(path), f"40 settings in {seconds:.1f} s"

        sheet_run.click(contact_sheet, [photo, photo_depth, flip], [sheet, info], api_visibility="private")

        # -- the scripted door: hidden inputs in the documented order, the relit PNG out ---------------------------
        with gr.Row(visible=False):
            api_inputs = [
                gr.File(label="photo"),
                gr.File(label="photo_depth"),
                gr.File(label="guide"),
                gr.File(label="guide_depth"),
                gr.Textbox(label="light"),
            ]
            api_output = gr.Image(label="relit", type="filepath", format="png")
            api_button = gr.Button()

        def relight_api(
            photo_path: str | None,
            depth_path: str | None,
            guide_path: str | None,
            guide_depth_path: str | None,
            light: str | None,
        ) -> str:
            try:
                return str(service.relight(photo_path, depth_path, guide_path, guide_depth_path, light or None).path)
            except Exception as exc:
                raise _message(exc) from None

        api_button.click(relight_api, api_inputs, api_output, api_name=API_NAME)
    return page


def launch_options(host: str, port: int) -> dict[str, Any]:
    """`gr.Blocks.launch` arguments: bound to ``host`` (localhost by default), no share link, no server-side
    rendering (it needs Node), local fonts, and the bundled samples servable."""
    from ..assets import ASSETS_DIR

    return dict(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        mcp_server=False,
        show_error=True,
        quiet=True,
        prevent_thread_lock=True,
        allowed_paths=[str(Path(ASSETS_DIR))],
        max_file_size="512mb",
        theme=gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "monospace"]),
        css=CSS,
    )
