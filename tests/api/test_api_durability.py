"""A 2xx means it is stored (issue 12, item 4), on both backends.

The attack: the session used to commit in a dependency that ran *after* the answer was sent,
so a write answered 201 could be lost by a ``kill -9`` right after it, a read sent right after
it did not see it, and a ballot sent right after a 201 "closed" was still accepted. Here every
write route is served through :class:`CommitProbe`: the moment a 2xx ``http.response.start``
leaves the app, a separate engine (a fresh connection, as a restarted server would open) reads
the store and must see the write. That is exactly a ``kill -9`` at that instant, deterministic.
A read sent right after the answer (the 8-in-30 404 of the issue) is the same check: the probe's
fresh connection is that read. One real test kills a ``qet serve`` process right after 201s and
reopens its SQLite file.
"""

from __future__ import annotations

import importlib
import itertools
import os
import pkgutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from api.dependencies import get_session
from api.main import create_app
from api.settings import Settings
from qet_geo.store import models as store
from tests.api.conftest import (
    BACKENDS,
    LORIENT_TERRITORY,
    World,
    build_world,
    free_port,
    fresh_postgres_database,
    live_server,
)
from tests.api.factories import su_csv
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]
Check = Callable[[Engine], bool]
_n = itertools.count()


class CommitProbe:
    """ASGI wrapper: when a 2xx answer starts, run ``check`` on a separate engine and record it.

    ``check`` runs before the first byte of the answer is handed to the server: what it does
    not see is what a ``kill -9`` at the moment the client learns "stored" would lose.
    """

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.engine = store.make_engine(url, poolclass=NullPool)
        self.check: Check | None = None
        self.seen: list[tuple[int, bool]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def probed(message: Any) -> None:
            if (
                message["type"] == "http.response.start"
                and 200 <= message["status"] < 300
                and self.check is not None
            ):
                self.seen.append((message["status"], bool(self.check(self.engine))))
            await send(message)

        await self.app(scope, receive, probed)

    @contextmanager
    def expect(self, check: Check) -> Iterator[list[tuple[int, bool]]]:
        """Record, for the requests made inside the block, whether ``check`` held at the 2xx."""
        self.check, self.seen = check, []
        try:
            yield self.seen
        finally:
            self.check = None


@pytest.fixture(scope="module", params=BACKENDS)
def dworld(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, CommitProbe, TestClient]]:
    """A world of its own (national fits and extracts change it), its probe and a client."""
    tmp = tmp_path_factory.mktemp(f"durable-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'durable.db'}"
    else:
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    w = build_world(url, osm_dir=tmp / "osm")
    probe = CommitProbe(w.client.app, url)
    yield w, probe, TestClient(probe)
    probe.engine.dispose()
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _stored_at_answer(
    probe: CommitProbe, client: TestClient, send: Callable[[], Any], check: Check
):
    with probe.expect(check) as seen:
        r = send()
    assert 200 <= r.status_code < 300, r.text
    assert seen == [(r.status_code, True)], (
        f"answered {r.status_code} before the write was committed: a kill -9 at that instant "
        "loses it"
    )
    return r


def test_create_neighbourhood_is_stored_before_201(dworld):
    w, probe, client = dworld
    name = f"Quartier durable {next(_n)}"
    _stored_at_answer(
        probe,
        client,
        lambda: client.post("/neighbourhoods", json={"name": name}, headers=w.headers("staff")),
        lambda e: _scalar(e, "SELECT count(*) FROM neighbourhoods WHERE name = :n", n=name) == 1,
    )


_years = itertools.count(50)


def _new_diagnostic(w: World, client: TestClient, hood: str = "A") -> int:
    r = client.post(
        f"/neighbourhoods/{w.hoods[hood]}/diagnostics",
        json={"year": next(_years)},
        headers=w.headers("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_create_diagnostic_is_stored_before_201(dworld):
    w, probe, client = dworld
    year = next(_years)
    hood = w.hoods["A"]
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(
            f"/neighbourhoods/{hood}/diagnostics", json={"year": year}, headers=w.headers("pilotA")
        ),
        lambda e: (
            _scalar(
                e,
                "SELECT count(*) FROM diagnostics WHERE neighbourhood_id = :h AND year = :y",
                h=hood,
                y=year,
            )
            == 1
        ),
    )


def test_territory_is_stored_before_200(dworld):
    w, probe, client = dworld
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        hood = store.add_neighbourhood(s, name=f"Sans contour {next(_n)}").id
    _stored_at_answer(
        probe,
        client,
        lambda: client.put(
            f"/neighbourhoods/{hood}/territory", json=LORIENT_TERRITORY, headers=w.headers("admin")
        ),
        lambda e: (
            _scalar(
                e,
                "SELECT count(*) FROM neighbourhoods WHERE id = :h AND territory_wkt IS NOT NULL",
                h=hood,
            )
            == 1
        ),
    )


def test_osm_extract_is_stored_before_200(dworld):
    w, probe, client = dworld
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        hood = store.add_neighbourhood(s, name=f"Lorient {next(_n)}").id
    r = client.put(
        f"/neighbourhoods/{hood}/territory", json=LORIENT_TERRITORY, headers=w.headers("admin")
    )
    assert r.status_code == 200, r.text
    _stored_at_answer(
        probe,
        client,
        lambda: client.put(
            f"/neighbourhoods/{hood}/osm-extract",
            content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
            headers={**w.headers("admin"), "Content-Type": "application/octet-stream"},
        ),
        lambda e: (
            _scalar(
                e,
                "SELECT count(*) FROM neighbourhoods WHERE id = :h AND osm_extract IS NOT NULL",
                h=hood,
            )
            == 1
        ),
    )


def test_upload_is_stored_before_201(dworld):
    w, probe, client = dworld
    diag = _new_diagnostic(w, client)
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(
            f"/diagnostics/{diag}/uploads",
            content=su_csv(15, seed=40, prefix=f"D{next(_n)}-"),
            headers=w.headers("pilotA"),
        ),
        lambda e: (
            _scalar(e, "SELECT count(*) FROM respondents WHERE diagnostic_id = :d", d=diag) == 15
        ),
    )


def test_run_is_queued_before_202(dworld):
    w, probe, client = dworld
    diag = _new_diagnostic(w, client)
    r = client.post(
        f"/diagnostics/{diag}/uploads",
        content=su_csv(15, seed=41, prefix=f"R{next(_n)}-"),
        headers=w.headers("admin"),
    )
    assert r.status_code == 201, r.text
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotA")),
        lambda e: _scalar(e, "SELECT job_id FROM diagnostics WHERE id = :d", d=diag) is not None,
    )


def test_release_is_stored_before_201(dworld):
    w, probe, client = dworld
    diag = _new_diagnostic(w, client)
    r = client.post(
        f"/diagnostics/{diag}/uploads",
        content=su_csv(30, seed=44, prefix=f"L{next(_n)}-"),
        headers=w.headers("pilotA"),
    )
    assert r.status_code == 201, r.text
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(f"/diagnostics/{diag}/releases", headers=w.headers("pilotA")),
        lambda e: _scalar(e, "SELECT count(*) FROM releases WHERE diagnostic_id = :d", d=diag) == 1,
    )


def test_national_profiles_are_stored_before_200(dworld):
    w, probe, client = dworld
    before = _scalar(
        probe.engine, "SELECT coalesce(max(id), 0) FROM profiles WHERE scope = 'national'"
    )
    _stored_at_answer(
        probe,
        client,
        lambda: client.post("/national/profiles", headers=w.headers("staff")),
        lambda e: (
            _scalar(e, "SELECT min(id) FROM profiles WHERE scope = 'national'") is not None
            and _scalar(e, "SELECT min(id) FROM profiles WHERE scope = 'national'") > before
        ),
    )


#: Ballots of a vote: its spent codes, and the sum of its per-theme counters (one choice each).
_SPENT = "SELECT count(*) FROM vote_codes WHERE vote_id = :v AND spent"
_COUNTED = "SELECT coalesce(sum(n), 0) FROM ballot_counts WHERE vote_id = :v"


def _open_vote(w: World, client: TestClient, n: int = 3) -> tuple[int, list[str]]:
    r = client.post(
        f"/diagnostics/{w.diags['A']}/votes",
        json={"question": f"Q{next(_n)}", "themes": ["vélo", "bus"], "n_participants": n},
        headers=w.headers("pilotA"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), list(r.json()["participant_codes"])


def test_open_vote_is_stored_before_201(dworld):
    w, probe, client = dworld
    question = f"Quelle priorité ? {next(_n)}"
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(
            f"/diagnostics/{w.diags['A']}/votes",
            json={"question": question, "themes": ["vélo", "bus"], "n_participants": 2},
            headers=w.headers("pilotA"),
        ),
        lambda e: _scalar(e, "SELECT count(*) FROM votes WHERE question = :q", q=question) == 1,
    )


def test_ballot_is_stored_before_201(dworld):
    w, probe, client = dworld
    vote, codes = _open_vote(w, client)
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(f"/votes/{vote}/ballots", json={"code": codes[0], "choices": ["bus"]}),
        lambda e: _scalar(e, _SPENT, v=vote) == 1 and _scalar(e, _COUNTED, v=vote) == 1,
    )


def test_close_vote_is_stored_before_200_and_no_ballot_follows(dworld):
    w, probe, client = dworld
    vote, codes = _open_vote(w, client)
    _stored_at_answer(
        probe,
        client,
        lambda: client.post(f"/votes/{vote}/close", headers=w.headers("pilotA")),
        lambda e: (
            _scalar(e, "SELECT count(*) FROM votes WHERE id = :v AND NOT is_open", v=vote) == 1
        ),
    )
    # a ballot sent once "closed" was answered: refused, and nothing stored
    r = client.post(f"/votes/{vote}/ballots", json={"code": codes[1], "choices": ["vélo"]})
    assert r.status_code == 409, r.text
    assert _scalar(probe.engine, _SPENT, v=vote) == 0
    assert _scalar(probe.engine, _COUNTED, v=vote) == 0


def test_upload_delete_and_replace_are_stored_before_2xx(dworld):
    w, probe, client = dworld
    diag = _new_diagnostic(w, client)
    first = client.post(
        f"/diagnostics/{diag}/uploads",
        content=su_csv(12, seed=42, prefix=f"M{next(_n)}-"),
        headers=w.headers("pilotA"),
    ).json()["upload_id"]
    r = _stored_at_answer(
        probe,
        client,
        lambda: client.put(
            f"/diagnostics/{diag}/uploads/{first}",
            content=su_csv(14, seed=43, prefix=f"M{next(_n)}-"),
            headers=w.headers("pilotA"),
        ),
        lambda e: (
            _scalar(e, "SELECT count(*) FROM respondents WHERE diagnostic_id = :d", d=diag) == 14
            and _scalar(e, "SELECT count(*) FROM uploads WHERE id = :u", u=first) == 0
            and _scalar(e, "SELECT sum(n_stored) FROM uploads WHERE diagnostic_id = :d", d=diag)
            == 14
        ),
    )
    second = r.json()["upload_id"]
    _stored_at_answer(
        probe,
        client,
        lambda: client.delete(f"/diagnostics/{diag}/uploads/{second}", headers=w.headers("pilotA")),
        lambda e: (
            _scalar(e, "SELECT count(*) FROM respondents WHERE diagnostic_id = :d", d=diag) == 0
            and _scalar(e, "SELECT count(*) FROM uploads WHERE id = :u", u=second) == 0
        ),
    )


def _session_dependants(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        if dep.call is get_session:
            yield dep
        yield from _session_dependants(dep)


def _api_routes() -> list[APIRoute]:
    """Every route of every router module of the service (api/routers/*.py)."""
    import api.routers

    routes = []
    for info in pkgutil.iter_modules(api.routers.__path__):
        module = importlib.import_module(f"api.routers.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            routes += [r for r in router.routes if isinstance(r, APIRoute)]
    return routes


def test_every_route_commits_before_answering():
    """Structural guard: no route gets a session whose commit would run after the answer."""
    with_session = 0
    for route in _api_routes():
        for dep in _session_dependants(route.dependant):
            with_session += 1
            assert dep.scope == "function", f"{route.path}: the session commits after the answer"
    assert with_session >= 20


#: Every write route of the service and the test above that probes it at its 2xx.
PROBED = {
    ("POST", "/neighbourhoods"): test_create_neighbourhood_is_stored_before_201,
    ("POST", "/neighbourhoods/{neighbourhood_id}/diagnostics"): (
        test_create_diagnostic_is_stored_before_201
    ),
    ("PUT", "/neighbourhoods/{neighbourhood_id}/territory"): test_territory_is_stored_before_200,
    (
        "PUT",
        "/neighbourhoods/{neighbourhood_id}/osm-extract",
    ): test_osm_extract_is_stored_before_200,
    ("POST", "/diagnostics/{diagnostic_id}/uploads"): test_upload_is_stored_before_201,
    ("PUT", "/diagnostics/{diagnostic_id}/uploads/{upload_id}"): (
        test_upload_delete_and_replace_are_stored_before_2xx
    ),
    ("DELETE", "/diagnostics/{diagnostic_id}/uploads/{upload_id}"): (
        test_upload_delete_and_replace_are_stored_before_2xx
    ),
    ("POST", "/diagnostics/{diagnostic_id}/run"): test_run_is_queued_before_202,
    ("POST", "/diagnostics/{diagnostic_id}/releases"): test_release_is_stored_before_201,
    ("POST", "/national/profiles"): test_national_profiles_are_stored_before_200,
    ("POST", "/diagnostics/{diagnostic_id}/votes"): test_open_vote_is_stored_before_201,
    ("POST", "/votes/{vote_id}/ballots"): test_ballot_is_stored_before_201,
    ("POST", "/votes/{vote_id}/close"): test_close_vote_is_stored_before_200_and_no_ballot_follows,
}


def test_every_write_route_has_its_kill_test():
    """A new write route needs its probe test here (a 2xx must mean stored, everywhere)."""
    writes = {
        (method, route.path)
        for route in _api_routes()
        for method in route.methods or ()
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }
    missing = writes - set(PROBED)
    assert not missing, f"write routes without a commit probe test in this file: {missing}"
    assert set(PROBED) <= writes, set(PROBED) - writes


# --------------------------------------------------------------------------------------------------
# concurrent creation of one diagnostic year: 409, never 500


def test_concurrent_creation_of_one_year_is_one_201_and_409s(dworld):
    w, _probe, _client = dworld
    year = next(_years)
    url_path = f"/neighbourhoods/{w.hoods['A']}/diagnostics"
    barrier = threading.Barrier(6)
    codes: list[int] = []
    with live_server(w.client.app) as port:  # type: ignore[arg-type]

        def create() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                barrier.wait()
                r = http.post(url_path, json={"year": year}, headers=w.headers("admin"))
                codes.append(r.status_code)

        threads = [threading.Thread(target=create) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(codes) == [201, 409, 409, 409, 409, 409], codes


def test_a_year_created_between_check_and_insert_is_409(dworld):
    """The race made deterministic: another connection creates the year just before the insert."""
    w, probe, client = dworld
    year = next(_years)
    hood = w.hoods["A"]
    engine: Engine = w.client.app.state.engine  # type: ignore[attr-defined]
    fired: list[bool] = []

    def rival(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DIAGNOSTICS") and not fired:
            fired.append(True)
            with probe.engine.begin() as other:
                other.execute(
                    store.Diagnostic.__table__.insert().values(neighbourhood_id=hood, year=year)
                )

    event.listen(engine, "before_cursor_execute", rival)
    try:
        r = client.post(
            f"/neighbourhoods/{hood}/diagnostics", json={"year": year}, headers=w.headers("admin")
        )
    finally:
        event.remove(engine, "before_cursor_execute", rival)
    assert fired
    assert r.status_code == 409, r.text
    assert "année" in r.json()["detail"]
    n = _scalar(
        probe.engine,
        "SELECT count(*) FROM diagnostics WHERE neighbourhood_id = :h AND year = :y",
        h=hood,
        y=year,
    )
    assert n == 1


@pytest.mark.parametrize(
    ("error", "status", "code", "says"),
    [
        # a constraint that only the commit checks (deferred)
        ("IntegrityError", 409, "ConflictError", "rien n'a été enregistré"),
        # a lock or serialisation failure: try again later
        ("OperationalError", 503, "StoreUnavailableError", "réessayez dans quelques secondes"),
    ],
)
def test_a_failing_commit_is_an_error_not_a_2xx(dworld, error, status, code, says):
    """A commit that fails answers its error (409, or 503 with Retry-After), nothing stored."""
    import sqlalchemy.exc

    w, probe, client = dworld
    engine: Engine = w.client.app.state.engine  # type: ignore[attr-defined]
    name = f"Refusé au commit {next(_n)}"

    def fail_commit(conn: Any) -> None:
        raise getattr(sqlalchemy.exc, error)("COMMIT", {}, Exception("could not commit (x)=(1)"))

    event.listen(engine, "commit", fail_commit)
    try:
        r = client.post("/neighbourhoods", json={"name": name}, headers=w.headers("staff"))
    finally:
        event.remove(engine, "commit", fail_commit)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and says in r.json()["detail"]
    assert "(x)=(1)" not in r.text
    assert (r.headers.get("retry-after") == "5") == (status == 503)
    assert _scalar(probe.engine, "SELECT count(*) FROM neighbourhoods WHERE name = :n", n=name) == 0


# --------------------------------------------------------------------------------------------------
# a real kill -9 right after a 201


def _wait_up(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/neighbourhoods", timeout=1)
            return
        except httpx.TransportError:
            assert proc.poll() is None, "qet serve exited"
            assert time.monotonic() < deadline, "qet serve did not answer in 60 s"
            time.sleep(0.1)


def test_kill_9_right_after_201_keeps_the_writes(tmp_path):
    port = free_port()
    db = tmp_path / "killed.db"
    code = (
        "from qet_geo.cli.serve import serve; "
        f"serve(host='127.0.0.1', port={port}, database_url='sqlite:///{db}')"
    )
    env = {**os.environ, "QET_ADMIN_TOKEN": "durable-admin-token", "QET_OSM_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    admin = {"Authorization": "Bearer durable-admin-token"}
    try:
        _wait_up(proc, port)
        base = f"http://127.0.0.1:{port}"
        hood = httpx.post(f"{base}/neighbourhoods", json={"name": "Kerv"}, headers=admin)
        assert hood.status_code == 201, hood.text
        diag = httpx.post(
            f"{base}/neighbourhoods/{hood.json()['id']}/diagnostics",
            json={"year": 0},
            headers=admin,
        )
        assert diag.status_code == 201, diag.text
        vote = httpx.post(
            f"{base}/diagnostics/{diag.json()['id']}/votes",
            json={"question": "Priorité ?", "themes": ["vélo", "bus"], "n_participants": 1},
            headers=admin,
        )
        assert vote.status_code == 201, vote.text
        ballot = httpx.post(
            f"{base}/votes/{vote.json()['id']}/ballots",
            json={"code": vote.json()["participant_codes"][0], "choices": ["bus"]},
        )
        assert ballot.status_code == 201, ballot.text
        os.kill(proc.pid, signal.SIGKILL)  # at once, as the 201 arrives
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    engine = store.make_engine(f"sqlite:///{db}", poolclass=NullPool)
    try:
        assert _scalar(engine, "SELECT count(*) FROM neighbourhoods WHERE name = 'Kerv'") == 1
        assert _scalar(engine, "SELECT count(*) FROM diagnostics") == 1
        assert _scalar(engine, "SELECT count(*) FROM votes") == 1
        assert _scalar(engine, "SELECT count(*) FROM vote_codes WHERE spent") == 1
        assert _scalar(engine, "SELECT sum(n) FROM ballot_counts") == 1
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# temporary files of killed extract uploads


def test_killed_extract_upload_files_are_removed_at_start(empty_database, tmp_path):
    osm = tmp_path / "osm"
    osm.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # a server process killed mid-upload: its pid is free now
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        abandoned = [
            osm / f".upload-{gone.pid}-k1ll3d.osm.pbf",
            osm / f".upload-{os.getpid()}-r3us3d.osm.pbf",  # this pid, reused: not ours
            osm / ".upload-0ld.osm.pbf",  # named before pids were
            osm / f".upload-{gone.pid}-gz1p.osm.gz",  # a compressed extract, renamed by format
            osm / f".upload-{gone.pid}-x4ml.osm",
        ]
        for path in abandoned:
            path.write_bytes(b"\x00" * 1000)
        # another worker of the running server: waiting for an extract worker, file closed
        waiting = osm / f".upload-{other.pid}-w41t.osm.pbf"
        waiting.write_bytes(b"streamed")
        extract = osm / "neighbourhood-1-abc.osm.pbf"
        extract.write_bytes(b"kept")
        notes = osm / "notes.txt"
        notes.write_text("kept")
        held = osm / ".upload-h3ld.osm.pbf"  # held open by a live process
        with open(held, "wb") as stream:
            stream.write(b"streaming")
            app = create_app(Settings(database_url=empty_database, osm_dir=str(osm)))
            assert held.exists()
        app.state.engine.dispose()
        assert not any(p.exists() for p in abandoned)
        assert waiting.exists() and extract.read_bytes() == b"kept" and notes.read_text() == "kept"
    finally:
        other.kill()
        other.wait(timeout=30)
    # once their processes are gone, the next start removes them too
    app = create_app(Settings(database_url=empty_database, osm_dir=str(osm)))
    app.state.engine.dispose()
    assert not held.exists() and not waiting.exists() and extract.exists() and notes.exists()


def test_extract_upload_files_are_named_after_their_process(dworld):
    """The name the start-up cleaning reads: a refused extract leaves no file, and while one is
    streamed its name carries the server process's pid."""
    w, _probe, client = dworld
    folder = Path(w.client.app.state.settings.osm_dir)  # type: ignore[attr-defined]
    seen: list[str] = []

    def body() -> Iterator[bytes]:
        seen.extend(p.name for p in folder.glob(".upload-*"))
        yield b"not an extract"

    r = client.put(
        f"/neighbourhoods/{w.hoods['A']}/osm-extract",
        content=body(),
        headers={**w.headers("admin"), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code in (400, 409, 422), r.text
    assert len(seen) == 1 and seen[0].startswith(f".upload-{os.getpid()}-"), seen
    assert not list(folder.glob(".upload-*"))
