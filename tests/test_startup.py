"""Start-up: ``import relightcli``, ``relight --help`` and argument errors import no torch, torchvision or timm.

Checked in fresh interpreters through ``sys.modules`` (timings live in ``benchmarks/startup.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "timm", "transformers", "matplotlib", "bpy")

_PROBE = """
import json, sys
from relightcli.cli import app
try:
    app({argv!r})
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{"code": code, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _fresh(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_relightcli_is_cheap_and_its_api_still_resolves() -> None:
    code = (
        "import json, sys, relightcli\n"
        f"light = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "names = relightcli.list_models('s3net*')\n"
        "print(json.dumps({'loaded': light, 'names': names, 'torch_after': 'torch' in sys.modules,"
        " 'all': sorted(relightcli.__all__), 'has_create': callable(relightcli.create_model)}))"
    )
    result = _fresh(code)
    assert result["loaded"] == []  # import relightcli pulls in nothing heavy
    assert "s3net" in result["names"] and result["torch_after"] and result["has_create"]  # the lazy API works
    assert {"create_model", "load_model", "Relighter", "estimate_depth"} <= set(result["all"])


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        (["apply", "--help"], 0),
        (["depth", "--help"], 0),
        (["apply", "missing.png", "--light", "3500K/NW"], 1),  # a missing file
        (["apply", "x.png", "--precision", "int4"], 2),  # a bad option value (click's usage error)
        (["apply", "x.png", "--no-such-option"], 2),  # an unknown option
    ],
)
def test_help_and_argument_errors_import_no_torch(argv: list[str], code: int) -> None:
    result = _fresh(_PROBE.format(argv=argv, heavy=HEAVY))
    assert result["code"] == code
    assert result["loaded"] == [], result["loaded"]


def test_a_bad_preset_name_fails_before_torch() -> None:
    from relightcli.assets import preset_names

    assert "3500K/NW" in preset_names()
    result = _fresh(_PROBE.format(argv=["apply", __file__, "--light", "9000K/UP"], heavy=HEAVY))
    assert result["code"] == 1 and result["loaded"] == []
