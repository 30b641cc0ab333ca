"""Issue 28's look table for any image folders: are they VIDIT's dark, one-light world?

Usage: python benchmarks/look_stats.py FOLDER [FOLDER ...] [--limit 2000]
Measures every colour image under each folder (recursively; depth maps left out; at most ``--limit`` spread
evenly) at 256x256 (`relightcli.evaluation.look`), prints one markdown table with real VIDIT's figures
beside them, and says per folder which statistics are within the tolerance of VIDIT's
(`relightcli.evaluation.look.TOLERANCE`). Point it at VIDIT itself to check the reference figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relightcli.errors import RelightError
from relightcli.evaluation.look import LABELS, TOLERANCE, VIDIT_LOOK, look_table, measure_folder, within


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--limit", type=int, default=2000, help="At most this many images per folder.")
    args = ap.parse_args()
    try:
        looks = [(str(f), measure_folder(f, args.limit)) for f in args.folders]
    except RelightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(look_table([("real VIDIT (issue 28)", VIDIT_LOOK), *looks]))
    print()
    tol = ", ".join(
        f"{LABELS[k]} ±{v:.0%}" if k == "dark_share" else f"{LABELS[k]} ±{v:.2f}" for k, v in TOLERANCE.items()
    )
    print(f"tolerance: {tol}")
    for name, look in looks:
        verdict = within(look)
        off = [LABELS[k] for k, ok in verdict.items() if not ok]
        print(f"{name}: {'VIDIT look' if not off else 'not VIDIT look: ' + ', '.join(off)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
