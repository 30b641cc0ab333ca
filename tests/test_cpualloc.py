"""Freed CPU memory kept for reuse (relightcli.inference.cpualloc): page faults counted in fresh interpreters."""

from __future__ import annotations

import functools
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
if mode == "retain":
    cpualloc.retain_freed_memory()
relighter = Relighter(model, device="cpu", precision="fp32", optimize=False, retain_memory=mode == "relighter")
x = torch.rand(1, 8, 1024, 1024)
relighter.run(x)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    relighter.run(x)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"faults": faults, "retaining": cpualloc.retaining_freed_memory()}))
"""


@functools.cache
def _probe(mode: str, **env: str) -> dict:
    """The probe's result in a fresh interpreter, each mode run once per pytest run."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_retained_memory_is_reused_without_page_faults() -> None:
    default, retained = _probe("default"), _probe("retain")
    assert not default["retaining"] and retained["retaining"]
    assert default["faults"] > 4 * 8192  # each pass maps its large activations afresh and faults them in
    assert retained["faults"] < default["faults"] / 10


def test_the_relighter_retains_freed_memory_on_cpu_unless_the_environment_says_not_to() -> None:
    on = _probe("relighter")
    assert on["retaining"] and on["faults"] < _probe("default")["faults"] / 10
    assert not _probe("relighter", RELIGHT_RETAIN_MEMORY="0")["retaining"]


def test_retaining_is_idempotent_and_release_keeps_it_on() -> None:
    from relightcli.inference import cpualloc

    assert cpualloc.retain_freed_memory() and cpualloc.retain_freed_memory()
    cpualloc.release_freed_memory()
    assert cpualloc.retaining_freed_memory()
