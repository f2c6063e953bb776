"""Benchmark of the service: the indicators endpoint and /national under 50 concurrent clients.

Starts ``qet serve`` on 127.0.0.1 (a temporary SQLite store, one worker unless ``--workers``, no
access log unless ``--access-log``; uvloop and httptools when installed), creates a
neighbourhood, uploads about 2 000 labelled-synthetic answers on the residential buildings of
Lorient (``synthesize_answers``), then drives ``GET /diagnostics/{id}/indicators`` (random bbox,
limit and offset) with 50 concurrent clients for a bounded time, on loopback only. Prints p50
and p95 latency and throughput (the target is p95 < 100 ms on 2 cores), and the CPU time of the
server, of the load generator and of the rest of the machine during the run: on a shared
machine, other work moves the figures. The server's CPU is read from ``/proc`` for the server
and its children seen both at the start and at the end of the run (a process that vanishes in
between, or while ``/proc`` is listed, is left out), so it is never negative.

The load generator must cost much less than the server, or it measures itself: 50 httpx
clients in one process took about 2 ms of CPU per request, a whole core at 400 requests/s, and
their own queueing showed as latency (p95 0.3 to 1 s). Each client here is one keep-alive
HTTP/1.1 connection on raw asyncio streams (uvloop): it writes a request prepared before the
run, reads the headers, then exactly ``Content-Length`` bytes of body, without parsing them;
each request is timed from its write to the last byte of its body. The load costs about 40 us
of CPU per request, against about 300 us for the server. The clients may be split over
``--client-procs`` processes (one by default: on 2 cores another process only takes CPU from
the server). Every status is checked; every 20th body (up to 200 per process) is kept and
checked after the run as a GeoJSON FeatureCollection (counts, limit, polygon features, the
``bbox`` filter, at least 11 respondents per cell).

``GET /national`` (issue 12, item 5) is driven the same way once ``--hoods`` neighbourhoods
(100) of ``--hood-answers`` answers (30, slices of the same synthetic survey) have each been
uploaded and released (``POST /diagnostics/{id}/releases``): the comparison of 100 released
neighbourhoods, read by the admin, p50 and p95 printed against the same 100 ms target. Every
sampled body is checked to list the 100 neighbourhoods with released figures.

Usage: ``python bench/api.py [--seconds 10] [--clients 50] [--homes 2000] [--workers 1]
[--access-log] [--client-procs 1] [--endpoint indicators|national|both] [--hoods 100]
[--hood-answers 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LORIENT = ROOT.parent / "shared" / "data" / "osm" / "lorient_centre.osm.pbf"
#: One response in SAMPLE_EVERY is kept for the GeoJSON checks, up to SAMPLE_MAX per process.
SAMPLE_EVERY = 20
SAMPLE_MAX = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _survey(n: int) -> tuple[bytes, tuple[float, float, float, float]]:
    from qet_geo.layers import build_layers
    from qet_geo.surveys.schema import USAGES
    from qet_geo.surveys.synthetic import synthesize_answers

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


def _targets(path: str, bounds: tuple[float, float, float, float], n: int, seed: int) -> list[str]:
    """Return ``n`` request targets: 70 % with a random bbox, the others with an offset."""
    rng = np.random.default_rng(seed)
    left, bottom, right, top = bounds
    out = []
    for _ in range(n):
        query = f"limit={int(rng.choice([10, 50, 100]))}"
        if rng.random() < 0.7:
            x0, x1 = sorted(rng.uniform(left, right, 2))
            y0, y1 = sorted(rng.uniform(bottom, top, 2))
            query += f"&bbox={x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f}"
        else:
            query += f"&offset={int(rng.integers(0, 20))}"
        out.append(f"{path}?{query}")
    return out


async def _connection(
    port: int,
    requests: list[tuple[str, bytes]],
    start: float,
    stop: float,
    out: dict[str, Any],
) -> None:
    """Send requests on one keep-alive connection from ``start`` until ``stop``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    latencies: list[float] = out["latencies"]
    samples: list[tuple[str, bytes]] = out["samples"]
    clock = time.perf_counter
    i = 0
    try:
        while time.monotonic() < stop:
            target, raw = requests[i % len(requests)]
            i += 1
            t0 = clock()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                end = lower.index(b"\r\n", at + 2)
                length = int(lower[at + 17 : end])
            elif b"transfer-encoding" in lower:
                raise RuntimeError("the bench expects Content-Length, got a chunked body")
            body = await reader.readexactly(length)
            latencies.append(clock() - t0)
            if head[9:12] != b"200":
                out["errors"].append(int(head[9:12]))
            elif i % SAMPLE_EVERY == 0 and len(samples) < SAMPLE_MAX:
                samples.append((target, body))
            if b"\r\nconnection: close" in lower:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                out["reconnects"] += 1
    finally:
        writer.close()


async def _generate(
    port: int, token: str, targets: list[str], connections: int, start: float, stop: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": [], "samples": [], "reconnects": 0}
    header = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    requests = [(t, f"GET {t} HTTP/1.1\r\n{header}".encode()) for t in targets]
    step = max(1, len(requests) // max(1, connections))
    await asyncio.gather(
        *(
            _connection(port, requests[k * step :] + requests[: k * step], start, stop, out)
            for k in range(connections)
        )
    )
    out["end"] = time.monotonic()
    return out


def _load_process(
    port: int,
    token: str,
    targets: list[str],
    connections: int,
    start: float,
    stop: float,
    results: Any,
) -> None:
    """Run ``connections`` clients in this process and put what they measured in ``results``."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    cpu0 = time.process_time()
    out = runner(_generate(port, token, targets, connections, start, stop))
    out["cpu_s"] = time.process_time() - cpu0
    results.put(out)


def _check(target: str, body: bytes, bounds_of: dict[str, tuple[float, ...]]) -> str | None:
    """Return why a sampled body is not the expected page of GeoJSON (None if it is)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"{target}: not JSON"
    query = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&"))
    features = doc.get("features")
    if doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        return f"{target}: not a FeatureCollection"
    if doc.get("numberReturned") != len(features) or len(features) > int(query["limit"]):
        return f"{target}: numberReturned or limit is wrong"
    for f in features:
        if f.get("type") != "Feature" or f["geometry"]["type"] not in ("Polygon", "MultiPolygon"):
            return f"{target}: a feature is not a polygon Feature"
        if f["properties"]["n_respondents"] < 11:
            return f"{target}: a cell has fewer than 11 respondents"
        if "bbox" in query:
            left, bottom, right, top = (float(v) for v in query["bbox"].split(","))
            fl, fb, fr, ft = bounds_of[str(f["id"])]
            if fl > right or fr < left or fb > top or ft < bottom:
                return f"{target}: feature {f['id']} is outside the bbox"
    return None


def _feature_bounds(features: list[dict[str, Any]]) -> dict[str, tuple[float, ...]]:
    out = {}
    for f in features:
        ring = np.asarray(
            [xy for part in _rings(f["geometry"]) for xy in part], dtype=float
        ).reshape(-1, 2)
        out[str(f["id"])] = (*ring.min(axis=0), *ring.max(axis=0))
    return out


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_s(pid: int) -> dict[tuple[int, int], float]:
    """Return the CPU seconds used so far by a process and its children, per process.

    Keyed by (pid, start time), so that a pid reused by a new process is another key. Processes
    that vanish between listing ``/proc`` and reading their ``stat`` are left out (empty when not
    on Linux).
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return {}
    found: dict[tuple[int, int], float] = {}
    for entry in entries:
        fields = _stat(entry)
        if fields is None or (int(entry) != pid and int(fields[1]) != pid):
            continue
        found[(int(entry), int(fields[19]))] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_between(
    before: dict[tuple[int, int], float], after: dict[tuple[int, int], float]
) -> float:
    """CPU seconds used between two :func:`_cpu_s` readings by the processes seen at both, never
    negative."""
    return sum(max(0.0, after[key] - before[key]) for key in before.keys() & after.keys())


def _machine_busy_s() -> float:
    """Return the CPU seconds all cores spent busy since boot (0 if not on Linux)."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _start_server(
    port: int, env: dict[str, str], log: Any, *, workers: int, access_log: bool
) -> subprocess.Popen[bytes]:
    """Start ``qet serve`` (what users run): uvloop and httptools when installed."""
    command = [sys.executable, "-m", "qet_geo.cli.main", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    command += ["--access-log" if access_log else "--no-access-log"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)


def _prepare(base: str, headers: dict[str, str], data: bytes, workers: int) -> dict[str, Any]:
    """Create the neighbourhood, upload the answers and warm every worker's aggregates."""
    hood = httpx.post(
        f"{base}/neighbourhoods", json={"name": "Lorient (synthétique)"}, headers=headers
    ).json()["id"]
    diag = httpx.post(
        f"{base}/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=headers
    ).json()["id"]
    t0 = time.perf_counter()
    up = httpx.post(
        f"{base}/diagnostics/{diag}/uploads", content=data, headers=headers, timeout=300
    )
    upload_s = time.perf_counter() - t0
    up.raise_for_status()
    path = f"/diagnostics/{diag}/indicators"
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        first = c.get(path, params={"limit": 1000}).json()
        for _ in range(20 * workers):  # new connections, taken by either worker
            c.get(path, headers={"Connection": "close"}).raise_for_status()
    return {"path": path, "first": first, "n_stored": up.json()["n_stored"], "upload_s": upload_s}


def _prepare_national(
    base: str, headers: dict[str, str], data: bytes, hoods: int, answers: int, workers: int
) -> dict[str, Any]:
    """Create ``hoods`` neighbourhoods, each with ``answers`` answers and a release.

    The answers are consecutive slices of the synthetic survey (cycling over it); every
    neighbourhood is published, so the public and the admin see the same comparison.
    """
    header, *lines = data.decode().splitlines()
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
        for i in range(hoods):
            hood = c.post(
                "/neighbourhoods", json={"name": f"Quartier {i:03d}", "published": True}
            ).json()["id"]
            diag = c.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}).json()["id"]
            start = (i * answers) % max(1, len(lines) - answers)
            chunk = "\n".join([header, *lines[start : start + answers]]) + "\n"
            c.post(f"/diagnostics/{diag}/uploads", content=chunk.encode()).raise_for_status()
            c.post(f"/diagnostics/{diag}/releases").raise_for_status()
        prepare_s = time.perf_counter() - t0
        first = c.get("/national").json()
        for _ in range(20 * workers):  # new connections, taken by either worker
            c.get("/national", headers={"Connection": "close"}).raise_for_status()
    return {"first": first, "prepare_s": prepare_s}


def _check_national(body: bytes, hoods: int) -> str | None:
    """Return why a sampled body is not the national comparison of ``hoods`` (None if it is).

    The ``hoods`` released neighbourhoods have figures; any other (the indicators one, not
    released) is listed by name only.
    """
    try:
        rows = json.loads(body)
    except ValueError:
        return "/national: not JSON"
    if not isinstance(rows, list):
        return "/national: not a list"
    released = [r for r in rows if r["n_respondents"] > 0]
    if len(released) != hoods:
        return f"/national: {len(released)} neighbourhoods with figures, not {hoods}"
    for row in rows:
        if row["n_respondents"] and (row["n_respondents"] < 11 or row["rank_total_kgco2e"] is None):
            return f"/national: {row['name']} has figures of fewer than 11 respondents"
        if not row["n_respondents"] and row["rank_total_kgco2e"] is not None:
            return f"/national: {row['name']} has figures but no release"
    return None


def _report(name: str, run: dict[str, Any], args: argparse.Namespace, bad: list[str]) -> bool:
    """Print the figures of a run; return whether the p95 target was met."""
    ms, elapsed = run["ms"], run["elapsed"]
    print(
        f"{name}: {len(ms)} requests in {elapsed:.1f} s with {args.clients} clients in "
        f"{args.client_procs} process(es) ({os.cpu_count()} cores): {len(ms) / elapsed:.0f} req/s"
    )
    print(
        f"{name}: latency p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
        f"max {ms.max():.1f} ms; errors {len(run['errors'])}; "
        f"{len(run['samples'])} sampled bodies checked, {len(bad)} wrong"
    )
    other = max(0.0, run["busy"] - run["server_cpu"] - run["client_cpu"])
    print(
        f"{name}: CPU during the run: server {run['server_cpu']:.1f} s "
        f"({1e6 * run['server_cpu'] / max(1, len(ms)):.0f} us/request), load generator "
        f"{run['client_cpu']:.1f} s, other processes of the machine {other:.1f} s, "
        f"of {elapsed * (os.cpu_count() or 1):.0f} s"
    )
    for why in bad[:5]:
        print("  " + why)
    met = bool(np.percentile(ms, 95) < 100)
    print(f"{name}: target p95 < 100 ms: {'met' if met else 'NOT met'}")
    return met


def _load(
    server: subprocess.Popen[bytes],
    port: int,
    token: str,
    make_targets: Callable[[int], list[str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Run the load generator processes; return what they measured and the CPU it took.

    ``make_targets(p)`` gives the request targets of load process ``p``.
    """
    context = multiprocessing.get_context("spawn")
    procs, results = [], context.Queue()
    start = time.monotonic() + 1.0 + 0.5 * args.client_procs  # once all are connected
    stop = start + args.seconds
    for p in range(args.client_procs):
        share = args.clients // args.client_procs + (p < args.clients % args.client_procs)
        targets = make_targets(p)
        proc = context.Process(
            target=_load_process, args=(port, token, targets, share, start, stop, results)
        )
        proc.start()
        procs.append(proc)
    time.sleep(max(0.0, start - time.monotonic()))
    server_cpu0, busy0 = _cpu_s(server.pid), _machine_busy_s()
    outs = [results.get(timeout=args.seconds + 120) for _ in procs]
    elapsed = max(o["end"] for o in outs) - start
    server_cpu, busy = _cpu_between(server_cpu0, _cpu_s(server.pid)), _machine_busy_s() - busy0
    for proc in procs:
        proc.join()
    return {
        "ms": np.concatenate([np.asarray(o["latencies"]) for o in outs]) * 1000,
        "errors": [e for o in outs for e in o["errors"]],
        "samples": [s for o in outs for s in o["samples"]],
        "elapsed": elapsed,
        "server_cpu": server_cpu,
        "client_cpu": sum(o["cpu_s"] for o in outs),
        "busy": busy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--homes", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (qet serve)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--endpoint",
        choices=("indicators", "national", "both"),
        default="both",
        help="what to drive: the indicators pages, GET /national, or one after the other",
    )
    parser.add_argument("--hoods", type=int, default=100, help="neighbourhoods of /national")
    parser.add_argument(
        "--hood-answers", type=int, default=30, help="answers of each /national neighbourhood"
    )
    args = parser.parse_args()

    data, bounds = _survey(args.homes)
    token = secrets.token_urlsafe(24)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    h = {"Authorization": f"Bearer {token}"}
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "server.log", "w+b") as log:
        env = {
            **os.environ,
            "QET_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "QET_ADMIN_TOKEN": token,
            "QET_MAX_UPLOAD_BYTES": str(50_000_000),
        }
        server = _start_server(port, env, log, workers=args.workers, access_log=args.access_log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/neighbourhoods", headers=h, timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        sys.stderr.write(log.read().decode(errors="replace"))
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            if args.endpoint in ("indicators", "both"):
                ready = _prepare(base, h, data, args.workers)
                runs["indicators"] = _load(
                    server,
                    port,
                    token,
                    lambda p: _targets(ready["path"], bounds, 2000, seed=p),
                    args,
                )
            if args.endpoint in ("national", "both"):
                national = _prepare_national(
                    base, h, data, args.hoods, args.hood_answers, args.workers
                )
                runs["national"] = _load(server, port, token, lambda p: ["/national"] * 100, args)
        finally:
            server.terminate()
            server.wait(timeout=20)
    found = {m: importlib.util.find_spec(m) is not None for m in ("uvloop", "httptools")}
    print(
        f"server: qet serve --workers {args.workers} on "
        + ("uvloop" if found["uvloop"] else "asyncio")
        + " and "
        + ("httptools" if found["httptools"] else "h11")
        + (", access log" if args.access_log else ", no access log")
    )
    failed = False
    if "indicators" in runs:
        run = runs["indicators"]
        bounds_of = _feature_bounds(ready["first"]["features"])
        bad = [why for t, b in run["samples"] if (why := _check(t, b, bounds_of)) is not None]
        print(
            f"upload of {ready['n_stored']} answers: {ready['upload_s']:.2f} s; "
            f"{ready['first']['numberMatched']} published cells"
        )
        _report("indicators", run, args, bad)
        failed |= bool(run["errors"] or bad)
    if "national" in runs:
        run = runs["national"]
        bad = [
            why for _, b in run["samples"] if (why := _check_national(b, args.hoods)) is not None
        ]
        print(
            f"{args.hoods} neighbourhoods of {args.hood_answers} answers created, uploaded and "
            f"released in {national['prepare_s']:.1f} s; GET /national gives figures for "
            f"{sum(1 for r in national['first'] if r['n_respondents'])} neighbourhoods"
        )
        _report("national", run, args, bad)
        failed |= bool(run["errors"] or bad)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
