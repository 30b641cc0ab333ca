"""Installed as users install it: a wheel carries everything ``relight demo`` and ``relight apply --light`` need.

The wheel is built from this checkout and installed into a fresh virtual environment outside it. Its
dependencies come from the environment running the tests (a ``.pth`` line naming that environment's
site-packages, after the fresh one's own), so the test needs no network and no second multi-gigabyte torch; the
relightcli package itself, its weights, samples and presets can only come from the wheel. The commands run from
an empty folder, offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout: building must not write into it."""
    src = tmp_path_factory.mktemp("src") / "relightcli"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__"))
    return src


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, src = tmp_path_factory.mktemp("dist"), source
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=src,
        env=os.environ.copy(),
    )
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("relightcli-*.whl")
    return path


def test_the_wheel_carries_the_weights_samples_presets_and_renderer(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "relightcli/assets/weights/relight-default.safetensors" in names
    assert {f"relightcli/assets/samples/sample0_{k}.png" for k in ("src", "src_depth", "guide", "target")} <= names
    assert sum(n.startswith("relightcli/assets/presets/") for n in names) == 41  # 40 settings and their depth
    assert "relightcli/synth/cycles/worker.py" in names  # Blender's worker script, found beside its package


def test_the_sdist_carries_the_weights(source: Path, tmp_path: Path) -> None:
    code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path)!r}))"
    built = _run([sys.executable, "-c", code], source, os.environ.copy())
    assert built.returncode == 0, built.stderr
    with tarfile.open(tmp_path / built.stdout.strip().splitlines()[-1]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"relightcli/assets/weights/relight-default.safetensors", "pyproject.toml", "README.md"} <= names


def test_an_installed_wheel_runs_offline_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    site = Path(
        _run(
            [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            tmp_path,
            os.environ.copy(),
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after the wheel's own
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    # This environment's pip installs into the fresh one (``--python``), which then needs no pip of its own.
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python")]
    installed = _run([*pip, "install", "-q", "--no-deps", str(wheel)], tmp_path, env)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relight = str(bin_dir / "relight")

    version = _run([relight, "--version"], elsewhere, env)
    assert version.returncode == 0 and version.stdout.startswith("relight ") and "torch" in version.stdout

    where = _run([str(bin_dir / "python"), "-c", "import relightcli; print(relightcli.__file__)"], elsewhere, env)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # the wheel's copy, not the checkout's

    demo = _run([relight, "demo", "-o", "demo-out"], elsewhere, env)
    assert demo.returncode == 0, demo.stderr
    assert (elsewhere / "demo-out" / "sample0_relit.png").is_file()

    sample = site / "relightcli" / "assets" / "samples"
    shutil.copy(sample / "sample1_src.png", elsewhere / "photo.png")
    shutil.copy(sample / "sample1_src_depth.png", elsewhere / "photo_depth.png")
    applied = _run([relight, "apply", "photo.png", "photo_depth.png", "--light", "3500K/NW"], elsewhere, env)
    assert applied.returncode == 0, applied.stderr
    assert (elsewhere / "photo_relit.png").is_file()
