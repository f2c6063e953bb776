"""Benchmark of the web pages: p95 latency of GET pages at 20 concurrent clients on loopback.

Starts ``qet serve`` on 127.0.0.1 (a temporary SQLite store, one worker unless ``--workers``, no
access log), then drives each page of ``--pages`` with ``--clients`` concurrent clients (httpx
async, one keep-alive connection each) for ``--seconds``, and prints per page the requests
served, p50 and p95 latency (the target of issue 15: p95 < 200 ms) and the throughput. A page
that does not answer 200 before the run (not built yet) is reported and left out. Every answer's
status is checked; a run with any other status fails.

Skeleton (issue 15, first increment): anonymous pages only. Still to come, once the accounts
exist: logged-in clients (a session cookie per client, ``--cookie`` passes one now), the
neighbourhood pages, and the analysis job running during the run.

httpx costs the load generator about 2 ms of CPU per request (bench/api.py): at a 200 ms target
its share stays small; the CPU time of the server and of the generator are printed so that a run
on a busy machine can be read.

Usage: ``python bench/web.py [--seconds 10] [--clients 20] [--workers 1]
[--pages / /docs /connexion] [--cookie NAME=VALUE]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 200.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far, in seconds (one worker: the server)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _start_server(
    port: int, env: dict[str, str], log: Any, workers: int
) -> subprocess.Popen[bytes]:
    """Start ``qet serve`` (what users run)."""
    command = [sys.executable, "-m", "qet_geo.cli.main", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Any) -> None:
    while True:
        try:
            httpx.get(f"{base}/", timeout=5)
            return
        except httpx.TransportError:
            if server.poll() is not None:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                raise SystemExit("the server stopped before it answered") from None
            time.sleep(0.2)


async def _client(
    base: str, path: str, cookies: dict[str, str], stop_at: float, out: list[float], bad: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60) as client:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            answer = await client.get(path)
            await answer.aread()
            out.append(time.perf_counter() - start)
            if answer.status_code != 200:
                bad.append(f"{path}: {answer.status_code}")


async def _drive(
    base: str, path: str, clients: int, seconds: float, cookies: dict[str, str]
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    bad: list[str] = []
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(
        *(_client(base, path, cookies, stop_at, latencies, bad) for _ in range(clients))
    )
    return latencies, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="server processes (qet serve)")
    parser.add_argument("--pages", nargs="+", default=["/", "/docs", "/connexion"])
    parser.add_argument("--cookie", action="append", default=[], help="NAME=VALUE, repeatable")
    args = parser.parse_args()
    cookies = dict(c.split("=", 1) for c in args.cookie)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    failed = False
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "server.log", "w+b") as log:
        env = {**os.environ, "QET_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        server = _start_server(port, env, log, args.workers)
        try:
            _wait_until_up(base, server, log)
            print(
                f"qet serve --workers {args.workers}, {args.clients} concurrent clients, "
                f"{args.seconds:.0f} s per page, loopback; target p95 < {TARGET_P95_MS:.0f} ms"
            )
            for path in args.pages:
                first = httpx.get(base + path, cookies=cookies, timeout=60)
                if first.status_code != 200:
                    print(f"{path:<24} left out: {first.status_code} before the run")
                    continue
                cpu_server = _cpu_s(server.pid)
                cpu_self = time.process_time()
                latencies, bad = asyncio.run(
                    _drive(base, path, args.clients, args.seconds, cookies)
                )
                cpu_server = _cpu_s(server.pid) - cpu_server
                cpu_self = time.process_time() - cpu_self
                ms = np.array(latencies) * 1000
                p50, p95 = np.percentile(ms, [50, 95])
                verdict = "ok" if p95 < TARGET_P95_MS and not bad else "OVER TARGET"
                print(
                    f"{path:<24} {len(ms):>6} requests  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                    f"{len(ms) / args.seconds:7.1f} req/s  CPU server {cpu_server:5.1f} s, "
                    f"clients {cpu_self:5.1f} s  {verdict}"
                )
                if bad:
                    print(f"  {len(bad)} answers not 200, first: {bad[:3]}")
                failed |= bool(bad)
        finally:
            server.terminate()
            server.wait(timeout=20)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
