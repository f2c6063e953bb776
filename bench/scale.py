"""Benchmark the national run on Dask: speed-up from 1 to 2 workers, and cost per partition.

The job is every shared extract of ``../shared/data/osm`` cut into square tiles of ``--tile-m``
metres (each with its 1 km buffer, as ``qet national run --tile-m`` does), so that the partitions
span a range of sizes, from a rural tile of a few homes to a dense town centre. The same job runs
on a ``LocalCluster`` of 1 then 2 worker processes (one thread each), each into a fresh store; the
workers are warmed up (imports, a first partition) before the clock starts, as they would be on a
long national run. It prints:

- the wall time on 1 and 2 workers and the speed-up (target >= 1.6 on this 2-core machine),
  beside the same job on a plain process pool without Dask: the machine's own ceiling (two
  vCPUs shared with other work can give much less than 2x, whatever the scheduler);
- the cost of each partition against its size (homes, street edges), and a least-squares fit
  ``seconds = a + b * edges`` used by the cost model of ``docs/scale.md``;
- memory: the Python peak (tracemalloc) of each whole extract computed serially, and the
  high-water resident memory of the worker processes.

Run from the repository root::

    .venv/bin/python bench/scale.py                  # ~1 minute
    .venv/bin/python bench/scale.py --tile-m 2000    # more, smaller partitions
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qet_geo.batch import Partition, compute_partition, run_national, tile_partitions

SHARED_OSM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osm"
EXTRACTS = {
    "lorient_centre": "lorient_centre.osm.pbf",
    "nantes_hypercentre": "nantes_hypercentre.osm.pbf",
    "pont_de_veyle": "pont_de_veyle.osm.gz",
    "saudron_rural": "saudron_rural.osm.gz",
}


def _warm() -> int:
    import os

    import qet_geo.constraints.access
    import qet_geo.layers  # noqa: F401

    return os.getpid()


@contextlib.contextmanager
def warmed_cluster(n_workers: int, warmup: Partition) -> Iterator[Any]:
    """A fresh LocalCluster of ``n_workers`` processes (one thread each, the batch's worker
    environment) and its client, every worker having imported the library and computed
    ``warmup`` once: the clock starts after."""
    from distributed import Client, LocalCluster

    from qet_geo.batch import _WORKER_ENV

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            env=_WORKER_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm)
        client.gather(
            [
                client.submit(compute_partition, warmup, workers=[w], pure=False)
                for w in client.scheduler_info()["workers"]
            ]
        )
        yield client


def run_on(n_workers: int, job: list[Partition], warmup: Partition) -> tuple[float, list[dict]]:
    """Run the job on a fresh LocalCluster of ``n_workers``; return wall time and summaries."""
    with warmed_cluster(n_workers, warmup) as client, tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = run_national(job, Path(tmp) / "store", client=client)
        seconds = time.perf_counter() - start
        for pid, message in report.failed.items():
            print(f"  failed: {pid}: {message}")
        return seconds, list(report.summaries.values())


def _summary_only(partition: Partition) -> float:
    return float(compute_partition(partition)[1]["seconds"])


def run_plain(n_workers: int, job: list[Partition], warmup: Partition) -> float:
    """Run the job on a plain process pool, no Dask: what the machine itself gives."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        list(pool.map(_summary_only, [warmup] * n_workers))
        start = time.perf_counter()
        list(pool.map(_summary_only, job, chunksize=1))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tile-m", type=float, default=4000.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count (best kept)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("qet_geo").setLevel(logging.ERROR)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("qet_geo").propagate = False

    whole = [Partition(id=pid, osm=SHARED_OSM / name) for pid, name in EXTRACTS.items()]
    job = tile_partitions(whole, tile_m=args.tile_m)
    print(f"job: {len(whole)} extracts in {len(job)} tiles of {args.tile_m:.0f} m (1 km buffer)")

    # 1 and 2 workers alternate, so that a burst of load on the machine hits both alike
    times: dict[int, list[float]] = {1: [], 2: []}
    summaries: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for n in (1, 2):
            seconds, found = run_on(n, job, whole[1])
            times[n].append(seconds)
            if n == 1:
                summaries = found
            print(f"{n} worker(s): {seconds:6.1f} s wall")
    plain = {n: run_plain(n, job, whole[1]) for n in (1, 2)}
    print(
        f"plain process pool, no Dask: {plain[1]:.1f} s on 1, {plain[2]:.1f} s on 2 -> "
        f"{plain[1] / plain[2]:.2f}x: the machine's own ceiling right now"
    )
    ratios = [t1 / t2 for t1, t2 in zip(times[1], times[2], strict=True)]
    print(
        f"speed-up 1 -> 2 workers: best times {min(times[1]) / min(times[2]):.2f}x, per pair "
        f"{', '.join(f'{r:.2f}x' for r in ratios)} (target >= 1.6x)"
    )

    # cost per partition, measured on 1 worker (no contention for the memory bus)
    empty = [s for s in summaries if s["homes"] == 0]
    print(f"\n{len(empty)} of {len(summaries)} partitions hold no home (complete, no table)")
    rows = sorted(summaries, key=lambda s: s["edges"])
    print("\nper-partition cost (1 worker), sorted by size:")
    print(f"{'partition':28} {'homes':>6} {'edges':>6} {'seconds':>8} {'ms/home':>8}")
    shown = rows[:: max(1, len(rows) // 15)]
    for s in shown + ([rows[-1]] if shown[-1] is not rows[-1] else []):
        per_home = 1000 * s["seconds"] / s["homes"] if s["homes"] else float("nan")
        print(f"{s['id']:28} {s['homes']:6d} {s['edges']:6d} {s['seconds']:8.3f} {per_home:8.2f}")
    edges = np.array([s["edges"] for s in rows], dtype=float)
    homes = np.array([s["homes"] for s in rows], dtype=float)
    secs = np.array([s["seconds"] for s in rows])
    b, a = np.polyfit(edges, secs, 1)
    print(f"\nfit: seconds = {a:.3f} + {b * 1000:.3f} ms x edges  ({len(rows)} partitions)")
    print(
        f"totals: {int(homes.sum())} homes, {int(edges.sum())} edges, {secs.sum():.1f} s of "
        f"partition time; mean {secs.mean():.3f} s/partition, "
        f"{1000 * secs.sum() / homes.sum():.2f} ms/home"
    )
    rss = max(s["peak_rss_mb"] for s in summaries)
    print(f"worker resident memory, high-water: {rss:.0f} MB")

    print("\nwhole extracts, serial, with tracemalloc (Python peak allocation):")
    print(f"{'extract':20} {'homes':>6} {'edges':>6} {'seconds':>8} {'peak MB':>8}")
    for part in whole:
        _, s = compute_partition(part, trace_memory=True)
        _, t = compute_partition(part)  # untraced time: tracemalloc slows allocation-heavy code
        print(
            f"{part.id:20} {s['homes']:6d} {s['edges']:6d} {t['seconds']:8.3f} "
            f"{s['peak_traced_mb']:8.1f}"
        )


if __name__ == "__main__":
    main()
