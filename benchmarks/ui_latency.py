"""How long the page of ``relight ui`` takes to answer, in a real browser and through the scripted endpoint.

Serves the page in this process (shipped weights unless ``--weights``), drives it with headless Chromium
(Playwright) on a ``--size`` x ``--size`` photo (bundled sample 0 resized, with its depth), and times:

- ``page``: from the click on **Relight** to the result in the page (the server's relight, the previews'
  encoding and transfer, the browser's drawing), with the flip ensemble on and off;
- ``server``: the relight alone, as the page reports it;
- ``endpoint``: ``gradio_client``'s ``predict`` on ``/relight`` (upload, relight, the full-resolution PNG back);
- ``all lights``: the 40-setting contact sheet.

``--screenshot PATH`` also saves the page with bundled sample 0 relit (the README's picture).

Usage: python benchmarks/ui_latency.py [--size 1024] [--repeats 3] [--screenshot docs/images/ui.png]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from relightcli.assets import default_weights, samples
from relightcli.checkpoint import load_model
from relightcli.hardware import machine_summary
from relightcli.inference.engine import Relighter
from relightcli.io import read_depth, read_image, write_depth, write_image
from relightcli.ui.page import build_page, launch_options
from relightcli.ui.service import RelightService


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def photo_of_size(folder: Path, size: int) -> tuple[Path, Path]:
    sample = samples()[0]
    rgb = cv2.resize(read_image(sample.src).rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    depth = cv2.resize(read_depth(sample.src_depth), (size, size), interpolation=cv2.INTER_LINEAR)
    return write_image(folder / f"photo{size}.png", np.clip(rgb, 0, 1)), write_depth(folder / "depth.png", depth)


def relight_in_page(page, photo: Path, depth: Path, flip: bool) -> tuple[float, float]:
    """(click-to-result seconds, the server's seconds) for one relight in the page."""
    page.reload()
    page.wait_for_selector("#run")
    page.set_input_files("#photo input[type=file]", str(photo))
    page.set_input_files("#photo-depth input[type=file]", str(depth))
    page.wait_for_selector("#photo-view img", timeout=60_000)
    page.click("text=Options")
    box = page.locator("#flip input[type=checkbox]")
    if box.is_checked() != flip:
        box.click()
    page.locator("#compass [data-testid=W-radio-label]").click()
    start = time.perf_counter()
    page.click("#run")
    page.wait_for_function("document.querySelector('#info').innerText.includes('relit in')", timeout=300_000)
    page.wait_for_function("document.querySelectorAll('#result img').length >= 2")
    wall = time.perf_counter() - start
    server = float(re.search(r"relit in ([0-9.]+) s", page.inner_text("#info"))[1])
    return wall, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default=str(default_weights()))
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--no-sheet", action="store_true", help="Skip timing the 40-setting contact sheet.")
    args = parser.parse_args()

    from gradio_client import Client, handle_file
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="ui-latency-"))
    photo, depth = photo_of_size(folder, args.size)
    relighter = Relighter(load_model(args.weights), device="auto")
    service = RelightService(relighter)
    page_app = build_page(service)
    page_app.queue(default_concurrency_limit=1)
    port = free_port()
    page_app.launch(**launch_options("127.0.0.1", port))
    url = f"http://127.0.0.1:{port}/"
    print(machine_summary())
    print(
        f"{relighter.info.name}, {relighter.device}, {relighter.precision}; "
        f"{args.size}x{args.size}, best of {args.repeats}"
    )
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto(url)
            for flip in (True, False):
                runs = [relight_in_page(page, photo, depth, flip) for _ in range(args.repeats)]
                walls, servers = zip(*runs, strict=True)
                print(
                    f"page, flip ensemble {'on ' if flip else 'off'}: click to result {min(walls):.2f} s "
                    f"(median {statistics.median(walls):.2f}); server relight {min(servers):.2f} s"
                )
            if args.screenshot:
                sample = samples()[0]
                page.reload()
                page.wait_for_selector("#run")
                page.set_input_files("#photo input[type=file]", str(sample.src))
                page.set_input_files("#photo-depth input[type=file]", str(sample.src_depth))
                page.wait_for_selector("#photo-view img")
                page.locator("#compass [data-testid=E-radio-label]").click()
                page.click("#run")
                page.wait_for_function("document.querySelector('#info').innerText.includes('relit in')")
                page.wait_for_timeout(500)
                bottom = page.locator("#download").bounding_box()
                clip = {"x": 0, "y": 0, "width": 1280, "height": bottom["y"] + bottom["height"] + 16}
                page.screenshot(path=str(args.screenshot), full_page=True, clip=clip)
                print(f"screenshot: {args.screenshot}")
            browser.close()
        client = Client(url, verbose=False, download_files=str(folder))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            client.predict(handle_file(photo), handle_file(depth), None, None, "3500K/W", api_name="/relight")
            times.append(time.perf_counter() - start)
        print(
            f"endpoint /relight (gradio_client, flip ensemble as shipped): {min(times):.2f} s "
            f"(median {statistics.median(times):.2f})"
        )
        if not args.no_sheet:
            start = time.perf_counter()
            service.all_lights(photo, depth)
            print(f"all lights (40 cells of 256 px): {time.perf_counter() - start:.1f} s")
    finally:
        page_app.close()
        service.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
