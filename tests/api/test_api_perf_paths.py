"""The hot path of the service (``bench/api.py``): what an indicators page does, and does not do.

No timing here (benchmarks live in ``bench/``): these tests pin the behaviours the speed rests
on, and that several server processes serve the same store.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from api import _aggregates, dependencies
from api.main import create_served_app
from api.models import FeatureCollection
from tests.api.conftest import BACKENDS, World, _database_url, build_world, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def own_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world of its own: these tests patch its caches."""
    w = build_world(_database_url(request, tmp_path))
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_a_fresh_indicators_page_touches_no_database(own_world, monkeypatch):
    # Cached layers and tokens stay fresh for the whole test, however slow the machine.
    monkeypatch.setattr(_aggregates, "REFRESH_S", 3600.0)
    monkeypatch.setattr(dependencies, "TOKEN_CACHE_S", 3600.0)
    w = own_world
    url = f"/diagnostics/{w.diags['B']}/indicators"
    for who, status in (("pilotB", 200), ("staff", 200), (None, 200), ("pilotA", 404)):
        assert w.client.get(url, headers=w.headers(who)).status_code == status
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    checkouts: list[object] = []

    def count(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", count)
    try:
        for who in ("pilotB", "staff", None):
            r = w.client.get(url, headers=w.headers(who), params={"limit": 5})
            assert r.status_code == 200
            FeatureCollection.model_validate(r.json())
        # the refusals of the hot path need no database either
        assert w.client.get(url, headers=w.headers("pilotA")).status_code == 404
    finally:
        event.remove(engine, "checkout", count)
    assert checkouts == []


def test_concurrent_pages_share_one_store_lookup(own_world, monkeypatch):
    w = own_world
    app = w.client.app
    cache = app.state.aggregates  # type: ignore[attr-defined]
    diag = w.diags["B"]
    arrived: list[int] = []
    release = threading.Event()
    lookups: list[int] = []
    real_fresh, real_load = cache.fresh_cells, cache.load_cells

    def fresh_cells(diagnostic_id):
        arrived.append(diagnostic_id)
        return real_fresh(diagnostic_id)

    def load_cells(engine, diagnostic_id):
        lookups.append(diagnostic_id)
        release.wait(30)  # until every request waits for this look-up
        return real_load(engine, diagnostic_id)

    monkeypatch.setattr(cache, "fresh_cells", fresh_cells)
    monkeypatch.setattr(cache, "load_cells", load_cells)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tasks = [
                asyncio.ensure_future(client.get(f"/diagnostics/{diag}/indicators"))
                for _ in range(20)
            ]
            deadline = time.monotonic() + 30
            # fresh_cells is called right before the request awaits the look-up
            while len(arrived) < 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            release.set()
            return await asyncio.gather(*tasks)

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.content for r in responses}) == 1
    assert lookups == [diag]
    assert app.state.cell_loads == {}  # type: ignore[attr-defined]


def test_a_failed_lookup_is_not_kept(own_world, monkeypatch):
    w = own_world
    cache = w.client.app.state.aggregates  # type: ignore[attr-defined]
    real_load = cache.load_cells
    calls: list[int] = []

    def load_cells(engine, diagnostic_id):
        calls.append(diagnostic_id)
        if len(calls) == 1:
            raise RuntimeError("store unreachable")
        return real_load(engine, diagnostic_id)

    monkeypatch.setattr(cache, "load_cells", load_cells)
    url = f"/diagnostics/{w.diags['B']}/indicators"
    with pytest.raises(RuntimeError):
        w.client.get(url)
    assert w.client.get(url).status_code == 200
    assert len(calls) == 2


def test_the_served_app_freezes_its_startup_objects(tmp_path, monkeypatch):
    monkeypatch.setenv("QET_DATABASE_URL", f"sqlite:///{tmp_path / 'served.db'}")
    try:
        app = create_served_app()
        assert gc.get_freeze_count() > 10_000
        assert app.state.settings.database_url.endswith("served.db")
        app.state.engine.dispose()
    finally:
        gc.unfreeze()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                pass
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts worker processes in /proc")
def test_serve_with_two_workers_serves_one_store(tmp_path):
    port = free_port()
    db = tmp_path / "workers.db"
    token = "t" * 32
    command = [sys.executable, "-m", "qet_geo.cli.main", "serve", "--port", str(port)]
    command += ["--workers", "2", "--database-url", f"sqlite:///{db}", "--no-access-log"]
    env = {**os.environ, "QET_ADMIN_TOKEN": token}
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    h = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.get(f"{base}/neighbourhoods", headers=h, timeout=2)
                if r.status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "qet serve --workers 2 exited"
            assert time.monotonic() < deadline, "qet serve --workers 2 did not answer in 90 s"
            time.sleep(0.2)
        hood = httpx.post(f"{base}/neighbourhoods", json={"name": "W"}, headers=h, timeout=10)
        assert hood.status_code == 201, hood.text
        # each call is a new connection, taken by either worker: all read the same store
        for _ in range(12):
            listed = httpx.get(f"{base}/neighbourhoods", headers=h, timeout=10).json()
            assert [n["id"] for n in listed] == [hood.json()["id"]]
        assert httpx.get(f"{base}/neighbourhoods", timeout=10).json() == []  # still private
    finally:
        proc.terminate()
        proc.wait(timeout=30)
