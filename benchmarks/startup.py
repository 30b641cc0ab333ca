"""Start-up cost of the ``relight`` command, in fresh processes, next to the floor of what each job must import.

For each command: the median wall time of ``--repeats`` fresh processes (``python -c "from relightcli.cli import
main; main()" ...``, which is what the ``relight`` script runs), interleaved with the floors measured in the same
run: ``python -c "import torch"`` and ``python -c "import torch, timm"``. ``relight demo`` also reports its own
relighting time; its goal is at most 1.5 s over ``import torch, timm`` plus that time (issue 19).

    python benchmarks/startup.py                    # this checkout
    python benchmarks/startup.py --repo /tmp/old    # another checkout (e.g. a git worktree of an older commit)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RELIGHT = "from relightcli.cli import main; main()"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run(args: list[str], env: dict[str, str], expect: int, cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    wall = time.perf_counter() - start
    if proc.returncode != expect:
        raise SystemExit(f"{args}: exit {proc.returncode}, expected {expect}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1], help="checkout to time")
    parser.add_argument("--only", default="", help="time only the commands containing this text (and the floors)")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(args.repo.resolve())}
    out = Path(tempfile.mkdtemp(prefix="relight-startup-"))
    commands: dict[str, tuple[list[str], int]] = {
        "python -c 'import torch' (floor)": (["-c", "import torch"], 0),
        "python -c 'import torch, timm' (floor)": (["-c", "import torch, timm"], 0),
        "relight --help": (["-c", RELIGHT, "--help"], 0),
        "relight apply --help": (["-c", RELIGHT, "apply", "--help"], 0),
        "relight apply missing.png --light 3500K/NW": (
            ["-c", RELIGHT, "apply", "missing.png", "--light", "3500K/NW"],
            1,
        ),
        "relight apply x.png --precision int4": (["-c", RELIGHT, "apply", "x.png", "--precision", "int4"], 2),
        "relight models": (["-c", RELIGHT, "models"], 0),
        "relight demo": (["-c", RELIGHT, "demo", "-o", str(out / "demo")], 0),
    }
    commands = {k: v for k, v in commands.items() if args.only in k or "(floor)" in k}
    times: dict[str, list[float]] = {k: [] for k in commands}
    relight_s: list[float] = []
    for _ in range(args.repeats):  # interleaved: drift on a shared machine moves every row alike
        for name, (argv, code) in commands.items():
            wall, stdout = _run(argv, env, code, out)  # cwd outside any checkout: PYTHONPATH decides
            times[name].append(wall)
            if name == "relight demo":
                found = re.search(r", ([0-9.]+) s\)", stdout)
                relight_s.append(float(found.group(1)) if found else float("nan"))
    found = _run(["-c", "import relightcli; print(relightcli.__file__)"], env, 0, out)[1].strip()
    print(f"CPU: {_cpu()} ({os.cpu_count()} cores); {found}; median of {args.repeats} fresh processes")
    width = max(map(len, commands))
    for name, walls in times.items():
        print(f"{name:<{width}}  {statistics.median(walls):6.2f} s")
    if "relight demo" not in times:
        return
    floor = statistics.median(times["python -c 'import torch, timm' (floor)"])
    demo, relight = statistics.median(times["relight demo"]), statistics.median(relight_s)
    print(
        f"relight demo: {demo:.2f} s wall = floor {floor:.2f} s + relighting {relight:.2f} s "
        f"+ {demo - floor - relight:.2f} s other start-up (goal: <= 1.5 s)"
    )


if __name__ == "__main__":
    main()
