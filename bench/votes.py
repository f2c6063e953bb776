"""Benchmark: opening a vote and casting ballots, by number of participant codes.

    .venv/bin/python bench/votes.py [--url postgresql://...] [--codes 100 5000] [--ballots 60]

Each ballot rewrites every code row and every counter of its vote (so that neither row order
nor PostgreSQL's xmin/ctid tell which code voted when, ``api.routers.votes``): its cost grows
with the number of codes. Prints the time to open a vote and the median and slowest ballot, on
a fresh SQLite file by default or on a fresh database of the PostgreSQL cluster at ``--url``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a PostgreSQL cluster (scripts/postgres.sh); SQLite if not")
    parser.add_argument("--codes", type=int, nargs="+", default=[100, 5000])
    parser.add_argument("--ballots", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("QET_KEY_DIR", tempfile.mkdtemp(prefix="qet-bench-keys-"))
    from tests.api.conftest import build_world, fresh_postgres_database

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_postgres_database(args.url) if args.url else f"sqlite:///{tmp}/votes.db"
        world = build_world(url)
        c = world.client
        for n in args.codes:
            t0 = time.perf_counter()
            r = c.post(
                f"/diagnostics/{world.diags['B']}/votes",
                json={"question": "Q", "themes": ["a", "b", "c"], "n_participants": n},
                headers=world.headers("pilotB"),
            )
            opened = time.perf_counter() - t0
            vote = r.json()
            times = []
            for code in vote["participant_codes"][: args.ballots]:
                t0 = time.perf_counter()
                r = c.post(f"/votes/{vote['id']}/ballots", json={"code": code, "choices": ["a"]})
                times.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.text
            print(
                f"{url.split(':')[0]:<10} {n:>5} codes: open {opened * 1000:6.0f} ms, ballot "
                f"median {statistics.median(times) * 1000:5.1f} ms, slowest {max(times) * 1000:5.1f} ms"
            )
        world.client.app.state.engine.dispose()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
