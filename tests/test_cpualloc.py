"""Freed CPU memory kept for reuse (relightcli.inference.cpualloc): page faults counted in fresh interpreters."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)

# Five forward passes of a small model at 1024x1024 (activations of 32 MiB, above glibc's largest mmap
# threshold); counts the minor page faults of passes 2-5, once the first has sized the heap.
_PROBE = """
import json, resource, sys
import torch
from relightcli.inference import cpualloc
from relightcli.inference.engine import Relighter
from relightcli.models import create_model
mode = sys.argv[1]
model = create_model("formresnet", width=8, depth=3)
relighter = Relighter(model, device="cpu", precision="fp32", optimize=False, retain_memory=mode == "relighter")
x = torch.rand(1, 8, 1024, 1024)
relighter.run(x)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    relighter.run(x)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"faults": faults, "retaining": cpualloc.retaining_freed_memory()}))
"""


def _probe(mode: str) -> dict:
    """The probe's result in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "RELIGHT_RETAIN_MEMORY"}  # the default, whatever the shell says
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_relighter_retains_freed_memory_and_reuses_it_without_page_faults() -> None:
    default, on = _probe("default"), _probe("relighter")  # Relighter(retain_memory=True), the default
    assert not default["retaining"] and on["retaining"]
    assert default["faults"] > 4 * 8192  # each pass maps its large activations afresh and faults them in
    assert on["faults"] < default["faults"] / 10


def test_the_environment_turns_retaining_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from relightcli.inference import cpualloc

    class FakeGlibc:  # records what would be set, and leaves this process's allocator as it is
        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []

        def mallopt(self, param: int, value: int) -> int:
            self.calls.append((param, value))
            return 1

    libc = FakeGlibc()
    monkeypatch.setattr(cpualloc, "_glibc", lambda: libc)
    monkeypatch.setattr(cpualloc, "_retaining", False)
    for off in ("0", "false", " No ", "OFF"):
        monkeypatch.setenv("RELIGHT_RETAIN_MEMORY", off)
        assert not cpualloc.retain_freed_memory() and not cpualloc.retaining_freed_memory() and libc.calls == []
    monkeypatch.setenv("RELIGHT_RETAIN_MEMORY", "1")
    assert cpualloc.retain_freed_memory() and cpualloc.retaining_freed_memory()
    assert [value for _, value in libc.calls] == [2**31 - 1] * 2 and len({param for param, _ in libc.calls}) == 2


def test_retaining_is_idempotent_and_release_keeps_it_on() -> None:
    from relightcli.inference import cpualloc

    assert cpualloc.retain_freed_memory() and cpualloc.retain_freed_memory()
    cpualloc.release_freed_memory()
    assert cpualloc.retaining_freed_memory()
