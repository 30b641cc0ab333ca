"""``relight ui`` as a user meets it: a real server process, driven by headless Chromium (Playwright) and by
``gradio_client`` on the scripted endpoint; Ctrl-C must stop it cleanly.

The browser test skips only when no Chromium can be found (Debian: ``apt-get install chromium``; ``.ci/run``
installs it), and says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from relightcli.assets import samples
from relightcli.io import read_image

from .conftest import interruptible

pytest.importorskip("gradio", reason='relight ui needs the ui extra: pip install -e ".[ui]"')

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    """A Chromium executable: the system's (Debian's package) or, failing that, None (Playwright's own)."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``relight ui`` in a child process; its stdout and stderr are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relightcli", "ui", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=interruptible,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()

    def wait_ready(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("relight ui: http" in line for line in self.out):
                return f"http://127.0.0.1:{self.port}/"
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(f"relight ui did not start: {''.join(self.out + self.err)[-2000:]}")

    def interrupt(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("relight ui did not stop on Ctrl-C") from None


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.url = srv.wait_ready()
    yield srv
    if srv.proc.poll() is None:
        srv.interrupt()


def test_browser_relights_a_sample_and_shows_bad_uploads(server: Server, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra")
    sample = samples()[0]
    source = read_image(sample.src)
    with sync_api.sync_playwright() as pw:
        executable = chromium()
        try:
            browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        except sync_api.Error as exc:
            pytest.skip(f"no Chromium to drive (apt-get install chromium, or playwright install chromium): {exc}")
        page = browser.new_page(viewport={"width": 1280, "height": 1500}, accept_downloads=True)
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
        page.goto(server.url)
        page.wait_for_selector("#run")

        page.set_input_files("#photo input[type=file]", str(sample.src))
        page.set_input_files("#photo-depth input[type=file]", str(sample.src_depth))
        page.wait_for_selector("#photo-view img", timeout=30_000)  # the photo as the server read it
        page.locator("#compass [data-testid=E-radio-label]").click()
        temperature = page.locator("#temperature input[type=number]")
        temperature.fill("5500")
        temperature.press("Enter")
        page.wait_for_function("document.querySelector('#setting-words').innerText.includes('5500K/E')")
        page.click("#run")
        page.wait_for_function("document.querySelector('#info').innerText.includes('relit in')", timeout=60_000)
        assert "5500 K (daylight), light from the right" in page.inner_text("#info")

        # The slider holds the source and the result, both at the source's size (a 256x256 sample).
        loaded = "[...document.querySelectorAll('#result img')]"
        page.wait_for_function(f"{loaded}.length >= 2 && {loaded}.every(e => e.complete && e.naturalWidth > 0)")
        images = page.locator("#result img")
        sizes = images.evaluate_all("els => els.map(e => [e.naturalHeight, e.naturalWidth])")
        assert all(tuple(s) == source.size for s in sizes), sizes
        with page.expect_download() as download:
            page.click("#download")
        relit_path = tmp_path / download.value.suggested_filename
        download.value.save_as(relit_path)
        relit = read_image(relit_path)
        assert relit_path.name == "sample0_src_relit.png" and relit.size == source.size
        assert np.abs(relit.rgb - source.rgb).mean() > 0.02  # relit, not the source handed back
        page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)

        # A text file as the photo: the page says what is wrong, and the server goes on serving.
        notes = tmp_path / "notes.txt"
        notes.write_text("this is not a photo")
        page.click("#photo button[aria-label=Clear]")
        page.set_input_files("#photo input[type=file]", str(notes))
        page.get_by_text("photo notes.txt:").first.wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "ui-error.png"), full_page=True)
        browser.close()
    assert (tmp_path / "ui.png").stat().st_size > 10_000
    assert hosts == {f"127.0.0.1:{server.port}"}, f"the page reached beyond the machine: {hosts}"
    assert urllib.request.urlopen(server.url, timeout=10).status == 200


def test_scripted_endpoint_relights_and_reports_errors(server: Server, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    sample = samples()[1]
    client = Client(server.url, verbose=False, download_files=str(tmp_path))
    by_preset = client.predict(
        handle_file(sample.src), handle_file(sample.src_depth), None, None, "3500K/NW", api_name="/relight"
    )
    by_guide = client.predict(
        handle_file(sample.src),
        handle_file(sample.src_depth),
        handle_file(sample.guide),
        handle_file(sample.guide_depth),
        None,
        api_name="/relight",
    )
    source = read_image(sample.src)
    for path in (by_preset, by_guide):
        out = read_image(path)
        assert out.size == source.size and np.abs(out.rgb - source.rgb).mean() > 0.02
    assert np.abs(read_image(by_preset).rgb - read_image(by_guide).rgb).mean() > 0.01
    with pytest.raises(AppError, match="no light: upload a guide photo or choose a light setting"):
        client.predict(handle_file(sample.src), handle_file(sample.src_depth), None, None, None, api_name="/relight")


def test_ctrl_c_stops_the_server_cleanly(server: Server) -> None:
    assert server.interrupt() == 0
    time.sleep(0.5)  # let the reader threads drain
    err = "".join(server.err)
    assert "Traceback" not in err, err[-2000:]
    assert any("relight ui: stopped" in line for line in server.out)
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=5)
