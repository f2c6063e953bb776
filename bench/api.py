"""Benchmark of the service: the indicators endpoint under 50 concurrent clients.

Starts ``uvicorn`` on 127.0.0.1 (one worker, a temporary SQLite store), creates a neighbourhood,
uploads about 2 000 labelled-synthetic answers on the residential buildings of Lorient
(``synthesize_answers``), then drives ``GET /diagnostics/{id}/indicators`` (random bbox, limit
and offset) with 50 concurrent httpx clients for a bounded time, on loopback only. Prints p50 and
p95 latency and throughput; the target is p95 < 100 ms on 2 cores.

Usage: ``python bench/api.py [--seconds 10] [--clients 50] [--homes 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LORIENT = ROOT.parent / "shared" / "data" / "osm" / "lorient_centre.osm.pbf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _survey(n: int) -> tuple[bytes, tuple[float, float, float, float]]:
    from qet_geo.layers import build_layers
    from qet_geo.surveys.schema import USAGES
    from qet_geo.synthetic import synthesize_answers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answers = synthesize_answers(build_layers(LORIENT), n, seed=1)
    points = answers.to_crs("EPSG:4326").geometry
    lines = ["\t".join(["id", *USAGES, "lon", "lat"])]
    for (rid, row), pt in zip(answers.iterrows(), points, strict=True):
        levels = [str(int(row[u])) for u in USAGES]
        lines.append("\t".join([str(rid), *levels, f"{pt.x:.6f}", f"{pt.y:.6f}"]))
    left, bottom, right, top = points.total_bounds
    return ("\n".join(lines) + "\n").encode(), (left, bottom, right, top)


async def _client(
    client: httpx.AsyncClient,
    url: str,
    bounds: tuple[float, float, float, float],
    stop: float,
    rng: np.random.Generator,
    latencies: list[float],
    errors: list[int],
) -> None:
    left, bottom, right, top = bounds
    while time.perf_counter() < stop:
        params: dict[str, str | int] = {"limit": int(rng.choice([10, 50, 100]))}
        if rng.random() < 0.7:
            x0, x1 = sorted(rng.uniform(left, right, 2))
            y0, y1 = sorted(rng.uniform(bottom, top, 2))
            params["bbox"] = f"{x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f}"
        else:
            params["offset"] = int(rng.integers(0, 20))
        t0 = time.perf_counter()
        r = await client.get(url, params=params)
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(r.status_code)


async def _drive(
    base: str,
    url: str,
    token: str,
    bounds: tuple[float, float, float, float],
    *,
    seconds: float,
    clients: int,
) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:
        await c.get(url)  # warm the cache of protected aggregates
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(
            *(
                _client(c, url, bounds, stop, np.random.default_rng(i), latencies, errors)
                for i in range(clients)
            )
        )
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--homes", type=int, default=2000)
    args = parser.parse_args()

    data, bounds = _survey(args.homes)
    token = secrets.token_urlsafe(24)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "QET_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "QET_ADMIN_TOKEN": token,
            "QET_MAX_UPLOAD_BYTES": str(50_000_000),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            h = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/neighbourhoods", headers=h, timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            hood = httpx.post(
                f"{base}/neighbourhoods", json={"name": "Lorient (synthétique)"}, headers=h
            ).json()["id"]
            diag = httpx.post(
                f"{base}/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=h
            ).json()["id"]
            t0 = time.perf_counter()
            up = httpx.post(
                f"{base}/diagnostics/{diag}/uploads", content=data, headers=h, timeout=300
            )
            upload_s = time.perf_counter() - t0
            up.raise_for_status()
            url = f"/diagnostics/{diag}/indicators"
            first = httpx.get(base + url, headers=h, params={"limit": 1000}, timeout=60).json()
            latencies, errors, elapsed = asyncio.run(
                _drive(base, url, token, bounds, seconds=args.seconds, clients=args.clients)
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
    ms = np.array(latencies) * 1000
    print(
        f"upload of {up.json()['n_stored']} answers: {upload_s:.2f} s; "
        f"{first['numberMatched']} published cells"
    )
    print(
        f"{len(ms)} requests in {elapsed:.1f} s with {args.clients} clients "
        f"({os.cpu_count()} cores): {len(ms) / elapsed:.0f} req/s"
    )
    print(
        f"latency p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
        f"max {ms.max():.1f} ms; errors {len(errors)}"
    )
    print(f"target p95 < 100 ms: {'met' if np.percentile(ms, 95) < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
