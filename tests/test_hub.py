"""The hub without the wait: an unreachable hub is one prompt line, with no retries and no retry noise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relightcli.hub import hub_reachable

from .conftest import write_png


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_hub(tmp_path: Path) -> dict[str, str]:
    """An environment whose hub endpoint refuses connections, with an empty cache and offline mode unset."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "empty-hf-home"))
    return env


def test_hub_reachable_is_false_for_a_refused_endpoint_and_offline_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    hub_reachable.cache_clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert hub_reachable() is False
    with socket.socket() as server:  # a listening endpoint is reachable
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        hub_reachable.cache_clear()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable() is True
    hub_reachable.cache_clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub_reachable() is False
    hub_reachable.cache_clear()


@pytest.mark.parametrize(
    "args",
    [
        ["apply", "{photo}", "--light", "3500K/NW", "-o", "{out}"],  # a photo without depth: the depth model
        [
            "apply",
            "{photo}",
            "{depth}",
            "--light",
            "3500K/NW",
            "-w",
            "hf://someone/weights/w.safetensors",
            "-o",
            "{out}",
        ],
    ],
    ids=["depth model", "hf weights"],
)
def test_no_network_is_one_line_at_once(dead_hub: dict[str, str], tmp_path: Path, args: list[str]) -> None:
    photo = write_png(tmp_path / "p.png", np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    depth = write_png(tmp_path / "p_depth.png", np.tile(np.arange(64, dtype=np.uint8), (48, 1)))
    fill = {"photo": str(photo), "depth": str(depth), "out": str(tmp_path / "o.png")}
    result = subprocess.run(
        [sys.executable, "-m", "relightcli", *(a.format(**fill) for a in args)],
        capture_output=True,
        text=True,
        env=dead_hub,
        timeout=300,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr  # no retry warnings, no traceback
    assert "cannot reach" in lines[0] or "cannot be reached" in lines[0]
    assert "retry" not in result.stderr.lower() and not (tmp_path / "o.png").exists()
