"""Benchmark of the web workspace: p95 of the main pages at 20 concurrent signed-in users on
loopback, while the analysis job runs (issue 15: p95 < 200 ms).

What it sets up, as a team would have it
    A fresh SQLite store with an administrator and a pilot (:mod:`qet_geo.store.accounts`), the
    Lorient centre neighbourhood (the shared extract ``osm/lorient_centre.osm.pbf``, the outline
    ``data/osm/lorient_centre.geojson``, IRIS 561210101), and its year-0 campaign with
    ``--answers`` labelled-synthetic SU answers (``qet survey synthesize`` on the extract, as
    ``qet demo`` makes them), uploaded by the pilot through the collection page's form.

What it measures
    ``qet serve`` on 127.0.0.1 (one worker unless ``--workers``, no access log). ``--clients``
    clients each sign in through the sign-in form (their own session cookie; half of them the
    administrator, half the pilot) and, page after page, all fetch the same page for
    ``--seconds`` (httpx async, one keep-alive connection each; each request sent as soon as
    the last one is answered, the harshest reading of "20 concurrent users", or after a pause
    of ``--think`` s on average, as people reading the page): the dashboard, the neighbourhood,
    the survey preparation, the collection, the analysis, the results and the layers (last:
    each of its requests reads the extract in a worker; a request unanswered after
    ``--timeout`` s counts as failed, at the time waited). Meanwhile the analysis job runs: the
    pilot starts it through the analysis page's form (:func:`api.routers.jobs.start_analysis`, in the server's process as in production)
    and starts it again as soon as it ends, so that it runs during the whole measurement; the
    share of each page's time it was running and the runs started and finished are printed
    (``--no-analysis`` measures without it, for comparison). Every answer's status is checked
    (a run with any answer other than 200 fails). Printed: each page's requests, p50, p95 and
    max, the overall p95 over all pages' requests, and its ratio to the 200 ms target.

httpx costs the load generator about 2 ms of CPU per request (bench/api.py): the CPU time of
the server (its process, the analysis included) and of the clients are printed so that a run on
a busy machine can be read.

Usage: ``python bench/web.py [--seconds 10] [--clients 20] [--workers 1] [--answers 300]
[--pages dashboard layers ...] [--no-analysis] [--think 0] [--timeout 60] [--server-log F]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 200.0
PASSWORD = "un mot de passe de banc d'essai"
ADMIN, PILOT = "admin@banc.example", "pilote@banc.example"
OUTLINE = ROOT / "data" / "osm" / "lorient_centre.geojson"

#: The main pages of the journey, by name ({h}: the neighbourhood's id).
PAGES = {
    "dashboard": "/espace",
    "neighbourhood": "/espace/quartiers/{h}",
    "preparation": "/espace/quartiers/{h}/enquete/preparer",
    "collection": "/espace/quartiers/{h}/enquete/collecte",
    "analysis": "/espace/quartiers/{h}/analyse",
    "results": "/espace/quartiers/{h}/resultats",
    # last: each of its requests reads the extract in a worker process, and those still queued
    # when its time is up would weigh on the next page's figures
    "layers": "/espace/quartiers/{h}/couches",
}


def _shared() -> Path:
    folder = os.environ.get("QET_SHARED_DATA")
    return Path(folder) if folder else ROOT.parent / "shared" / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU time (user + system, with waited-for children) of process ``pid`` and of its live
    descendants (``--workers`` processes, extract workers), in seconds."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):  # gone meanwhile
            continue
    return total


# --------------------------------------------------------------------------------------------------
# the store and the server


@dataclass
class World:
    url: str
    osm_dir: Path
    hood: int
    answers: Path


def _make_world(tmp: Path, n_answers: int) -> World:
    """A fresh store: the accounts, the Lorient neighbourhood and its extract, the SU file."""
    from qet_geo.store import accounts
    from qet_geo.store import models as store
    from qet_geo.store.jobs import territory_from_geojson

    url = f"sqlite:///{tmp / 'bench.db'}"
    osm_dir = tmp / "osm"
    osm_dir.mkdir()
    extract = _shared() / "osm" / "lorient_centre.osm.pbf"
    # a copy: the service reads extracts inside its OSM folder only
    shutil.copyfile(extract, osm_dir / "lorient_centre.osm.pbf")
    engine = store.make_engine(url)
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(
            s,
            name="Lorient centre",
            iris_codes=["561210101"],
            territory_wkt=territory_from_geojson(json.loads(OUTLINE.read_text())).wkt,
            osm_extract="lorient_centre.osm.pbf",
        ).id
        accounts.create_user(s, email=ADMIN, password=PASSWORD, role="admin")
        accounts.create_user(
            s, email=PILOT, password=PASSWORD, role="pilot", neighbourhood_ids=[hood]
        )
    engine.dispose()
    answers = tmp / "reponses_su.csv"
    made = subprocess.run(
        [
            *(sys.executable, "-m", "qet_geo.cli.main", "survey", "synthesize", str(extract)),
            *("--territory", str(OUTLINE), "--n", str(n_answers), "--out", str(answers)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise SystemExit(f"qet survey synthesize failed:\n{made.stderr}")
    return World(url, osm_dir, hood, answers)


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


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if found is None:
        raise SystemExit("no CSRF field in the page")
    return found.group(1)


async def _signed_in(base: str, email: str) -> httpx.AsyncClient:
    """A client signed in through the sign-in form: its own session cookie."""
    client = httpx.AsyncClient(base_url=base, timeout=300)
    form = await client.get("/connexion")
    done = await client.post(
        "/connexion",
        data={"email": email, "password": PASSWORD, "csrf": _csrf(form.text), "suite": ""},
    )
    if done.status_code != 303 or "qet_session" not in client.cookies:
        raise SystemExit(f"sign-in of {email} failed: {done.status_code}")
    return client


async def _upload_answers(pilot: httpx.AsyncClient, world: World) -> None:
    """The pilot opens the year-0 campaign and uploads the SU file through the page's forms."""
    base = f"/espace/quartiers/{world.hood}/enquete/collecte"
    page = await pilot.get(base)
    opened = await pilot.post(f"{base}/campagne", data={"csrf": _csrf(page.text), "annee": "0"})
    if opened.status_code != 303:
        raise SystemExit(f"opening the campaign failed: {opened.status_code}")
    sent = await pilot.post(
        base,
        data={"csrf": _csrf(page.text), "annee": "0", "enquete": "su"},
        files={"fichier": (world.answers.name, world.answers.read_bytes(), "text/csv")},
    )
    if sent.status_code not in (200, 303):
        raise SystemExit(f"the upload of the SU file failed: {sent.status_code}")
    from sqlalchemy import text

    with _read_engine(world.url).connect() as c:
        stored = c.execute(text("SELECT count(*) FROM respondents")).scalar_one()
    if not stored:
        raise SystemExit("the SU file was uploaded but no answer was stored")


# --------------------------------------------------------------------------------------------------
# the analysis, kept running


@dataclass
class Keeper:
    """Starts the analysis through its page's form, and again whenever it has ended."""

    pilot: httpx.AsyncClient
    url: str
    hood: int
    started: int = 0
    finished: dict[str, int] = field(default_factory=dict)
    samples: list[bool] = field(default_factory=list)
    last: str = ""
    messages: list[str] = field(default_factory=list)

    def _status(self) -> tuple[str, str]:
        from sqlalchemy import text

        engine = _read_engine(self.url)
        with engine.connect() as c:
            row = c.execute(
                text(
                    "SELECT status, job_message FROM diagnostics WHERE neighbourhood_id = :h "
                    "ORDER BY year LIMIT 1"
                ),
                {"h": self.hood},
            ).one()
        return str(row[0]), str(row[1] or "")

    async def start(self) -> None:
        path = f"/espace/quartiers/{self.hood}/analyse"
        page = await self.pilot.get(path)
        sent = await self.pilot.post(path, data={"csrf": _csrf(page.text)})
        if sent.status_code == 303:
            self.started += 1
        elif sent.status_code != 409:  # 409: a run is already live
            raise SystemExit(f"starting the analysis failed: {sent.status_code}")

    async def keep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            status, message = await asyncio.to_thread(self._status)
            running = status in ("queued", "running")
            self.samples.append(running)
            if self.last in ("queued", "running") and not running:
                self.finished[status] = self.finished.get(status, 0) + 1
                if status == "failed" and message not in self.messages:
                    self.messages.append(message)
            self.last = status
            if not running:
                await self.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)

    async def wait_running(self) -> None:
        await self.start()
        deadline = time.monotonic() + 60
        while (await asyncio.to_thread(self._status))[0] not in ("queued", "running"):
            if time.monotonic() > deadline:
                raise SystemExit("the analysis did not start")
            await asyncio.sleep(0.1)


_engines: dict[str, Any] = {}


def _read_engine(url: str) -> Any:
    if url not in _engines:
        from qet_geo.store.models import make_engine

        _engines[url] = make_engine(url)
    return _engines[url]


# --------------------------------------------------------------------------------------------------
# the load


async def _client(
    client: httpx.AsyncClient,
    path: str,
    stop_at: float,
    out: list[float],
    bad: list[str],
    timeout_s: float,
    think: np.random.Generator | None,
    think_s: float,
) -> None:
    while time.perf_counter() < stop_at:
        if think is not None:  # a person reads the page before the next click
            await asyncio.sleep(float(think.exponential(think_s)))
        start = time.perf_counter()
        try:
            answer = await client.get(path, timeout=timeout_s)
            await answer.aread()
        except httpx.TimeoutException:
            out.append(time.perf_counter() - start)  # counted at the time waited
            bad.append(f"{path}: no answer within {timeout_s:.0f} s")
            continue
        out.append(time.perf_counter() - start)
        if answer.status_code != 200:
            bad.append(f"{path}: {answer.status_code}")


async def _run(args: argparse.Namespace, world: World, base: str, server_pid: int) -> bool:
    emails = [ADMIN if i % 2 == 0 else PILOT for i in range(args.clients)]
    clients = [await _signed_in(base, email) for email in emails]
    keeper_client = await _signed_in(base, PILOT)
    await _upload_answers(keeper_client, world)
    keeper = Keeper(keeper_client, world.url, world.hood)
    stop = asyncio.Event()
    keeping = None
    if not args.no_analysis:
        await keeper.wait_running()
        keeping = asyncio.create_task(keeper.keep(stop))
    print(
        f"qet serve --workers {args.workers} on loopback; {args.clients} concurrent clients signed "
        f"in ({args.clients // 2 + args.clients % 2} as the administrator, {args.clients // 2} as "
        f"the pilot), "
        + (f"{args.think:g} s mean pause between requests, " if args.think > 0 else "no pause, ")
        + f"{args.seconds:.0f} s per page; Lorient centre, {args.answers} synthetic SU "
        f"answers; "
        + (
            "the analysis job running throughout (started again whenever it ends)"
            if keeping
            else "no analysis running (--no-analysis)"
        )
        + f"; target p95 < {TARGET_P95_MS:.0f} ms"
    )
    print(
        f"{'page':<14} {'requests':>8} {'p50':>9} {'p95':>9} {'max':>9} {'req/s':>7}  "
        f"{'analysis':>8}  CPU server / clients"
    )
    failed = False
    everything: list[float] = []
    for name in args.pages:
        path = PAGES[name].format(h=world.hood)
        first = await clients[0].get(path)
        if first.status_code != 200:
            print(f"{name:<14} left out: {first.status_code} before the run")
            failed = True
            continue
        latencies: list[float] = []
        bad: list[str] = []
        cpu_server = _cpu_s(server_pid)
        cpu_self = time.process_time()
        seen = len(keeper.samples)
        stop_at = time.perf_counter() + args.seconds
        thinks = [np.random.default_rng(i) if args.think > 0 else None for i in range(len(clients))]
        await asyncio.gather(
            *(
                _client(c, path, stop_at, latencies, bad, args.timeout, t, args.think)
                for c, t in zip(clients, thinks, strict=True)
            )
        )
        cpu_server = _cpu_s(server_pid) - cpu_server
        cpu_self = time.process_time() - cpu_self
        samples = keeper.samples[seen:]
        share = f"{100 * sum(samples) / len(samples):6.0f} %" if samples else "       -"
        ms = np.array(latencies) * 1000
        everything.extend(ms.tolist())
        p50, p95 = np.percentile(ms, [50, 95])
        verdict = "ok" if p95 < TARGET_P95_MS and not bad else "OVER TARGET"
        print(
            f"{name:<14} {len(ms):>8} {p50:6.0f} ms {p95:6.0f} ms {ms.max():6.0f} ms "
            f"{len(ms) / args.seconds:7.1f}  {share}  {cpu_server:5.1f} s / {cpu_self:4.1f} s  "
            f"{verdict}"
        )
        if bad:
            print(f"  {len(bad)} answers not 200, first: {bad[:3]}")
        failed |= bool(bad)
    stop.set()
    if keeping is not None:
        await keeping
    if everything:
        p95_all = float(np.percentile(everything, 95))
        print(
            f"{'all pages':<14} {len(everything):>8} {np.percentile(everything, 50):6.0f} ms "
            f"{p95_all:6.0f} ms {max(everything):6.0f} ms   overall p95 = "
            f"{p95_all / TARGET_P95_MS:.2f} × the {TARGET_P95_MS:.0f} ms target "
            f"({'met' if p95_all < TARGET_P95_MS else 'not met'})"
        )
    if keeping is not None:
        running = 100 * sum(keeper.samples) / max(len(keeper.samples), 1)
        ends = ", ".join(f"{n} {status}" for status, n in sorted(keeper.finished.items()))
        print(
            f"analysis job: {keeper.started} runs started, {ends or 'none'} ended during the "
            f"measurement; running {running:.0f} % of the sampled time"
        )
        for message in keeper.messages:
            print(f"  a run failed: {message[:300]}")
    for client in [*clients, keeper_client]:
        await client.aclose()
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per page")
    parser.add_argument("--clients", type=int, default=20, help="concurrent signed-in clients")
    parser.add_argument("--workers", type=int, default=1, help="server processes (qet serve)")
    parser.add_argument("--answers", type=int, default=300, help="synthetic SU answers")
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES))
    parser.add_argument("--no-analysis", action="store_true", help="measure without the job")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds a request may take (then: failed)"
    )
    parser.add_argument("--server-log", type=Path, help="keep the server's log in this file")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a client waits between two requests (exponential, seeded); 0: none",
    )
    args = parser.parse_args()
    if args.clients < 1:
        parser.error("--clients: at least 1")

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as name, open(Path(name) / "server.log", "w+b") as log:
        tmp = Path(name)
        world = _make_world(tmp, args.answers)
        env = {
            **os.environ,
            "QET_DATABASE_URL": world.url,
            "QET_OSM_DIR": str(world.osm_dir),
            "QET_SHARED_DATA": str(_shared()),
        }
        server = _start_server(port, env, log, args.workers)
        try:
            _wait_until_up(base, server, log)
            failed = asyncio.run(_run(args, world, base, server.pid))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # an analysis or a worker still busy
                server.kill()
                server.wait(timeout=30)
            for engine in _engines.values():
                engine.dispose()
            if args.server_log:
                log.flush()
                shutil.copyfile(Path(name) / "server.log", args.server_log)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
