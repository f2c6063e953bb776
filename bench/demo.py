"""Benchmark: `qet demo` end to end and per step (target: the whole demo under 60 s on 2 cores).

    .venv/bin/python bench/demo.py [--n 600]

Runs the real command in a fresh process (imports included, as a user pays them) and prints the
wall time and the time of each step reported by the command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600, help="synthetic answers")
    args = parser.parse_args()
    qet = Path(sys.executable).parent / "qet"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = subprocess.run(
            [str(qet), "demo", "--out", f"{tmp}/demo", "--n", str(args.n), "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"qet demo failed:\n{res.stderr}")
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"qet demo ({args.n} synthetic answers, {summary['homes']} homes): {wall:.1f} s wall")
    steps = summary["timings_s"]
    for name, seconds in steps.items():
        print(f"  {name:<12} {seconds:6.2f} s")
    print(f"  {'startup+io':<12} {wall - sum(steps.values()):6.2f} s")
    print(f"target < 60 s: {'met' if wall < 60 else 'NOT met'} ({60 / wall:.1f}x margin)")


if __name__ == "__main__":
    main()
