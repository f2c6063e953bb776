"""Benchmark: start-up of the ``qet`` command, and the import cost of ``qet access``.

Runs each measurement in a fresh interpreter (median of N): ``qet --help``, and the imports the
``qet access`` command makes before it reads anything (the CLI, then the pipeline, the access
indicators and the layers writers, with geopandas, scipy and pyosmium behind them). With ``--ref
REV`` the same is measured on another revision of the repository (a temporary git worktree run
with this environment), to compare a layout before and after.

    .venv/bin/python bench/startup.py [--repeat 7] [--ref 09ae5cd]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# what `qet access` imports, in the layout of each era (the first that imports is used)
ACCESS_IMPORTS = (
    "import qet_geo.cli.main; import qet_geo.pipeline, qet_geo.constraints.access, qet_geo.layers",
    "import qet_geo.cli; import qet_geo.constraints, qet_geo.layers",
)
HELP = "import sys; sys.argv = ['qet', '--help']\nfrom {cli} import app\ntry:\n    app()\nexcept SystemExit:\n    pass"


def _run(code: str, root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(root)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def _median(code: str, root: Path, repeat: int) -> float:
    _run(code, root)  # warm the file cache and bytecode
    return statistics.median(_run(code, root) for _ in range(repeat))


def measure(root: Path, repeat: int) -> dict[str, float]:
    """Return the median seconds of ``qet --help`` and of the ``qet access`` imports at ``root``."""
    cli = "qet_geo.cli.main" if (root / "qet_geo" / "cli" / "main.py").exists() else "qet_geo.cli"
    out = {"qet --help": _median(HELP.format(cli=cli), root, repeat)}
    base = _median("pass", root, repeat)
    for code in ACCESS_IMPORTS:
        try:
            out["qet access imports"] = _median(code, root, repeat) - base
            break
        except subprocess.CalledProcessError:
            continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--ref", help="another git revision to measure the same way")
    args = parser.parse_args()
    rows = {"this tree": measure(ROOT, args.repeat)}
    if args.ref:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "ref"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), args.ref],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            try:
                rows[args.ref] = measure(tree, args.repeat)
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True
                )
    for name, figures in rows.items():
        line = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in figures.items())
        print(f"{name}: {line}")


if __name__ == "__main__":
    main()
