"""Fixtures of the service tests: an app per database backend, filled with generated answers."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.factories import su_csv

BACKENDS = ["sqlite", "postgresql"]
ROOT = Path(__file__).resolve().parents[2]
#: The demo neighbourhood over the Lorient extract (GeoJSON geometry, WGS84).
LORIENT_TERRITORY: dict = json.loads(
    (ROOT / "data" / "osm" / "lorient_centre.geojson").read_text()
)["features"][0]["geometry"]
_counter = itertools.count()


@dataclass
class World:
    """An app with three neighbourhoods (A private, B published, C tiny) and tokens."""

    client: TestClient
    url: str
    hoods: dict[str, int]
    diags: dict[str, int]
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        token = self.tokens.get(who)
        return {} if token is None else {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start a throwaway PostgreSQL + PostGIS cluster once (scripts/postgres.sh); FAIL if it cannot."""
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"scripts/postgres.sh could not run: {exc}")
    if done.returncode != 0 or not done.stdout.strip().startswith("postgresql://"):
        pytest.fail(
            "PostgreSQL/PostGIS backend could not start (scripts/postgres.sh exited "
            f"{done.returncode}); the PostgreSQL tests never skip. stderr:\n{done.stderr}"
        )
    url = done.stdout.strip().splitlines()[-1]
    yield url
    match = re.search(r"stop: (\S+) -D (\S+) stop", done.stderr)
    if match:
        cmd = [match.group(1), "-D", match.group(2), "stop", "-m", "immediate"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, capture_output=True, check=False, timeout=60)
        shutil.rmtree(Path(match.group(2)).parent, ignore_errors=True)


def fresh_postgres_database(base_url: str) -> str:
    """Create an empty database with PostGIS on the test cluster and return its URL."""
    import psycopg

    # unique even when this module is imported twice (as a conftest and as tests.api.conftest)
    name = f"qet_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return url


def _database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'api.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


#: The extract folders of the worlds built without one, removed when the test process ends (each
#: xdist worker has its own): they were left in /tmp, a folder per world.
_OSM_ROOT = Path(tempfile.mkdtemp(prefix="qet-osm-tests-"))
atexit.register(shutil.rmtree, _OSM_ROOT, True)


def build_world(
    url: str,
    *,
    max_upload_bytes: int = 200_000,
    osm_dir: Path | None = None,
    max_osm_bytes: int = 5_000_000,
    census_grid: Path | None = None,
    release: bool = True,
) -> World:
    """Build the app on ``url`` with neighbourhoods A, B, C and tokens; extracts go to ``osm_dir``
    (a new temporary folder by default). With ``release``, A and B have published a release of
    their answers (``qet_geo.store.releases``): what the public and the network staff read."""
    folder = osm_dir or Path(tempfile.mkdtemp(prefix="osm-", dir=_OSM_ROOT))
    app = create_app(
        Settings(
            database_url=url,
            max_upload_bytes=max_upload_bytes,
            osm_dir=str(folder),
            max_osm_bytes=max_osm_bytes,
            census_grid=None if census_grid is None else str(census_grid),
        )
    )
    engine = app.state.engine
    with store.session_scope(engine) as s:
        a = store.add_neighbourhood(s, name="Quartier A", iris_codes=["561210101"])
        b = store.add_neighbourhood(s, name="Quartier B", published=True)
        c = store.add_neighbourhood(s, name="Quartier C (petit)", published=True)
        diags = {}
        for key, hood in (("A", a), ("B", b), ("C", c)):
            d = store.Diagnostic(neighbourhood_id=hood.id, year=0)
            s.add(d)
            s.flush()
            diags[key] = d.id
        hoods = {"A": a.id, "B": b.id, "C": c.id}
        tokens = {
            "admin": store.create_token(s, role="admin"),
            "staff": store.create_token(s, role="staff"),
            "pilotA": store.create_token(s, role="pilot", neighbourhood_ids=[a.id]),
            "pilotB": store.create_token(s, role="pilot", neighbourhood_ids=[b.id]),
        }
    ingest.ingest_su(engine, diags["A"], su_csv(60, seed=10, prefix="A"))
    ingest.ingest_su(engine, diags["B"], su_csv(40, seed=11, prefix="B"))
    ingest.ingest_su(
        engine, diags["C"], su_csv(8, seed=12, prefix="C", clusters=((-3.37, 47.748, 8),))
    )
    if release:  # the pilot teams of A and B published their figures (C is too small)
        from qet_geo.store.releases import create_release

        for key in ("A", "B"):
            create_release(engine, diags[key])
    return World(TestClient(app), url, hoods, diags, tokens)


@pytest.fixture(scope="session", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = _database_url(request, tmp_path_factory.mktemp(request.param))
    w = build_world(url)
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, on each backend."""
    return _database_url(request, tmp_path)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its port, stop it on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start within 10 s"
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
