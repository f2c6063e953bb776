"""Benchmark of the network's neighbourhoods page: p95 of ``/reseau/quartiers`` at 50 concurrent
clients on loopback (issue 17: the national page's p95 < 100 ms, cached).

What it sets up
    A fresh SQLite store with ``--hoods`` published neighbourhoods (at least five) placed where the
    shared extracts are (Lorient centre, Nantes hypercentre, Pont-de-Veyle, Saudron, then other
    towns), each an 800 m square outline, a portal address, a phase under way and one campaign of
    ``--answers`` labelled-synthetic SU answers (SYN- ids, the campaign marked synthetic) uploaded
    through the JSON API and released (:func:`qet_geo.store.releases.create_release`), with
    built constraints in its release's summary so that the typology is fitted. The régions and
    départements come from the shared data folder (``QET_SHARED_DATA``, else ``../shared/data``).

What it measures
    ``qet serve`` on 127.0.0.1 (one worker unless ``--workers``, no access log). The first request
    (the page's data built: national rows, phases, France's outlines) is timed apart, and each
    sort is asked once. Then ``--clients`` clients fetch the page for ``--seconds`` through
    bench/api.py's load generator (one keep-alive connection each on raw asyncio streams, about
    40 us of CPU per request; each request sent as soon as the last one is answered), cycling
    through a few sorts (by name, total footprint descending, phase, type) as readers click the
    headings. Every status is checked, and every 20th body is checked to be the page of every
    neighbourhood with its map. Printed (bench/api.py's report): requests, p50, p95, max,
    requests per second, the CPU time of the server, of the load generator and of the rest of
    the machine (on a shared machine, other work moves the figures), and the p95's ratio to the
    100 ms target. The map's background (``/reseau/carte-france.svg``) is a document a browser
    keeps; it is not in the load.

Usage: ``python bench/network.py [--seconds 10] [--clients 50] [--workers 1] [--hoods 6]
[--answers 60]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import _load, _report, _start_server  # noqa: E402
from bench.web import _free_port, _shared, _wait_until_up  # noqa: E402

TARGET_P95_MS = 100.0
PATH = "/reseau/quartiers"
SORTS = ("", "?tri=total&ordre=desc", "?tri=phase&ordre=asc", "?tri=type&ordre=desc")
#: Where the neighbourhoods are (name, lon, lat): the shared extracts first.
TOWNS = (
    ("Lorient centre", -3.364, 47.748),
    ("Nantes hypercentre", -1.556, 47.215),
    ("Pont-de-Veyle", 4.888, 46.264),
    ("Saudron", 5.306, 48.491),
    ("Rennes centre", -1.680, 48.110),
    ("Lyon Croix-Rousse", 4.832, 45.774),
    ("Lille Wazemmes", 3.050, 50.626),
    ("Marseille Belsunce", 5.378, 43.300),
    ("Toulouse Arnaud-Bernard", 1.440, 43.610),
    ("Strasbourg Neudorf", 7.760, 48.570),
)
PHASES = ("diagnostic", "forum", "sensibilisation", "inspiration", "mise_en_oeuvre")


def _answers(n: int, lon: float, lat: float, seed: int) -> bytes:
    """A tab-separated SU file of ``n`` synthetic respondents (SYN- ids) around a point."""
    from qet_geo.surveys.schema import USAGES

    rng = np.random.default_rng(seed)
    lines = ["\t".join(["id", *USAGES, "lon", "lat"])]
    for k in range(n):
        levels = rng.integers(1, 4, size=len(USAGES))
        x, y = lon + rng.normal(0, 0.0015), lat + rng.normal(0, 0.001)
        lines.append(
            "\t".join([f"SYN-{seed:02d}{k:05d}", *map(str, levels), f"{x:.6f}", f"{y:.6f}"])
        )
    return ("\n".join(lines) + "\n").encode()


def _make_store(tmp: Path, n_hoods: int, n_answers: int) -> str:
    """A fresh store with the published, released neighbourhoods; returns its URL."""
    from fastapi.testclient import TestClient
    from pyproj import Transformer
    from shapely.geometry import box
    from sqlalchemy import update

    from api.main import create_app
    from api.settings import Settings
    from qet_geo.store import models as store
    from qet_geo.store.portal import set_phase
    from qet_geo.store.releases import create_release

    url = f"sqlite:///{tmp / 'bench.db'}"
    osm_dir = tmp / "osm"
    osm_dir.mkdir()
    app = create_app(Settings(database_url=url, osm_dir=str(osm_dir)))
    engine = app.state.engine
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    with store.session_scope(engine) as s:
        headers = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with TestClient(app) as api:
        for i in range(n_hoods):
            name, lon, lat = TOWNS[i % len(TOWNS)]
            if i >= len(TOWNS):
                name, lon, lat = f"{name} {i // len(TOWNS) + 1}", lon + 0.01 * i, lat
            x, y = to_l93.transform(lon, lat)
            with store.session_scope(engine) as s:
                hood = store.add_neighbourhood(
                    s, name=name, territory_wkt=box(x - 400, y - 400, x + 400, y + 400).wkt
                ).id
            diag = api.post(
                f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=headers
            ).json()["id"]
            sent = api.post(
                f"/diagnostics/{diag}/uploads",
                content=_answers(n_answers + 5 * i, lon, lat, seed=i),
                headers=headers,
            )
            if sent.status_code != 201:
                raise SystemExit(f"the upload of {name} failed: {sent.text}")
            with store.session_scope(engine) as s:
                s.execute(
                    update(store.Diagnostic)
                    .where(store.Diagnostic.id == diag)
                    .values(synthetic=True)
                )
            create_release(engine, diag, osm_dir=osm_dir)
            with store.session_scope(engine) as s:
                release = s.query(store.Release).filter_by(diagnostic_id=diag).one()
                release.summary = {
                    **release.summary,
                    "constraints": {
                        "food_shop_min": float(3 + 4 * (i % 5)),
                        "transit_stop_m": float(100 + 700 * (i % 5)),
                    },
                }
                s.execute(
                    update(store.Neighbourhood)
                    .where(store.Neighbourhood.id == hood)
                    .values(slug=f"quartier-{i + 1}", published=True)
                )
                set_phase(s, hood, PHASES[i % len(PHASES)], state="current")
    engine.dispose()
    return url


def _run(args: argparse.Namespace, port: int, server: subprocess.Popen[bytes]) -> bool:
    """Warm the page, drive it with the API bench's load generator, print the figures."""
    base = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    first = httpx.get(base + PATH, timeout=120)
    cold_ms = (time.perf_counter() - start) * 1000
    if first.status_code != 200 or 'class="france-svg"' not in first.text:
        raise SystemExit(f"{PATH}: {first.status_code}, or no map of France in the page")
    rows = first.text.count('<th scope="row">')
    for sort in SORTS:  # each sort once, as the first reader of each heading would
        httpx.get(base + PATH + sort, timeout=120).raise_for_status()
    print(
        f"qet serve --workers {args.workers} on loopback; {args.clients} concurrent clients, no "
        f"pause, {args.seconds:.0f} s; {rows} published neighbourhoods (labelled-synthetic "
        f"releases); first request (the page's data built): {cold_ms:.0f} ms, "
        f"{len(first.content)} bytes"
    )
    targets = [PATH + sort for sort in SORTS]
    # bench/api.py's clients send a bearer token, which the public page does not read
    run = _load(server, port, "none", lambda p: targets, args)
    bad = [
        f"{target}: not the page of {rows} neighbourhoods with its map"
        for target, body in run["samples"]
        if body.count(b'<th scope="row">') != rows or b'class="france-svg"' not in body
    ]
    met = _report(PATH, run, args, bad)
    p95 = float(np.percentile(run["ms"], 95))
    print(f"{PATH}: p95 = {p95:.1f} ms = {p95 / TARGET_P95_MS:.2f} x the 100 ms target")
    return met and not bad and not run["errors"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="server processes (qet serve)")
    parser.add_argument("--hoods", type=int, default=6, help="published neighbourhoods (>= 5)")
    parser.add_argument("--answers", type=int, default=60, help="SU answers per neighbourhood")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    args = parser.parse_args()
    if args.hoods < 5 or args.clients < 1 or args.answers < 20:
        parser.error("at least 5 neighbourhoods, 1 client and 20 answers")
    port = _free_port()
    with tempfile.TemporaryDirectory() as name, open(Path(name) / "server.log", "w+b") as log:
        tmp = Path(name)
        url = _make_store(tmp, args.hoods, args.answers)
        env = {
            **os.environ,
            "QET_DATABASE_URL": url,
            "QET_OSM_DIR": str(tmp / "osm"),
            "QET_SHARED_DATA": str(_shared()),
        }
        server = _start_server(port, env, log, workers=args.workers, access_log=False)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", server, log)
            met = _run(args, port, server)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
