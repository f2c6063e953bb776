"""Survey files are read in a worker process (issue 12, item 5), on SQLite and PostgreSQL.

A workbook within the size limits may still unzip to 50 MB of XML: parsed in the server process it
would hold the GIL, and every request, for seconds. The upload routes hand the file to a worker
process with time and memory limits, and the event loop answers meanwhile.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import api.routers.uploads
from api._workers import ingest_su_job, run_in_worker
from qet_geo.store import models as store
from tests.api._gate import crashing_job, gated_survey_job
from tests.api.conftest import build_world
from tests.api.factories import su_csv


@pytest.fixture
def world(empty_database):
    w = build_world(empty_database, release=False)
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _stored(w, diag: int) -> int:
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        return int(
            s.scalar(
                select(func.count())
                .select_from(store.Respondent)
                .where(store.Respondent.diagnostic_id == diag)
            )
            or 0
        )


def _started(gate: Path, answers: dict[str, object]) -> int:
    """The pid of the gated worker, once it runs (fails at once if the upload answered first)."""
    path = Path(str(gate) + ".started")
    deadline = time.monotonic() + 300
    while not (path.exists() and path.read_text()):
        assert "upload" not in answers, answers["upload"].text  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return int(path.read_text())


def test_requests_are_answered_while_a_survey_is_read(world, monkeypatch, tmp_path):
    w, diag = world, world.diags["A"]
    gate = tmp_path / "gate"

    async def patched_run(func, *args, limits, **kwargs):
        assert func is ingest_su_job
        return await run_in_worker(gated_survey_job, str(gate), *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.uploads, "run_in_worker", patched_run)
    before = _stored(w, diag)
    events: list[str] = []
    answers: dict[str, object] = {}
    with TestClient(w.client.app) as client:  # one event loop serves both requests

        def upload() -> None:
            answers["upload"] = client.post(
                f"/diagnostics/{diag}/uploads",
                content=su_csv(20, seed=77, prefix="W"),
                headers=w.headers("pilotA"),
            )
            events.append("upload answered")

        thread = threading.Thread(target=upload)
        thread.start()
        worker_pid = _started(gate, answers)
        got = client.get(f"/diagnostics/{diag}", headers=w.headers("pilotA"))
        events.append("get answered")
        assert got.status_code == 200
        gate.write_text("open")
        thread.join(timeout=300)
    assert events == ["get answered", "upload answered"]
    assert worker_pid != os.getpid()  # parsed in another process
    r = answers["upload"]
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert _stored(w, diag) == before + 20  # committed by the worker before the 201


def test_a_survey_past_its_time_is_killed_and_nothing_stored(world, monkeypatch, tmp_path):
    w, diag = world, world.diags["A"]
    gate = tmp_path / "never"

    async def patched_run(func, *args, limits, **kwargs):
        return await run_in_worker(gated_survey_job, str(gate), *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.uploads, "run_in_worker", patched_run)
    monkeypatch.setattr(w.client.app.state.settings, "survey_timeout_s", 1.0)
    before = _stored(w, diag)
    r = w.client.post(
        f"/diagnostics/{diag}/uploads", content=su_csv(20, seed=78), headers=w.headers("pilotA")
    )
    assert r.status_code == 422, r.text
    assert "n'a pas pu être lu en 1 s" in r.json()["detail"]
    assert _stored(w, diag) == before


def test_a_crash_in_the_worker_is_a_server_error_without_its_text(world, monkeypatch):
    w, diag = world, world.diags["A"]

    async def patched_run(func, *args, limits, **kwargs):
        return await run_in_worker(crashing_job, *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.uploads, "run_in_worker", patched_run)
    client = TestClient(w.client.app, raise_server_exceptions=False)
    r = client.post(
        f"/diagnostics/{diag}/uploads", content=su_csv(20, seed=79), headers=w.headers("pilotA")
    )
    assert r.status_code == 500  # the server's fault, not the file's: no "memory" message
    assert "Zq9Secret42" not in r.text and "mémoire" not in r.text


def test_a_real_upload_goes_through_the_worker(world):
    """Without any patch: the 201 comes from the worker's committed transaction."""
    w, diag = world, world.diags["A"]
    assert w.client.app.state.settings.survey_workers > 0  # type: ignore[attr-defined]
    before = _stored(w, diag)
    r = w.client.post(
        f"/diagnostics/{diag}/uploads",
        content=su_csv(15, seed=80, prefix="R"),
        headers={**w.headers("pilotA"), "Idempotency-Key": "k-worker"},
    )
    assert r.status_code == 201, r.text
    assert _stored(w, diag) == before + 15
    again = w.client.post(
        f"/diagnostics/{diag}/uploads",
        content=su_csv(15, seed=80, prefix="R"),
        headers={**w.headers("pilotA"), "Idempotency-Key": "k-worker"},
    )
    assert again.status_code == 200 and again.json()["upload_id"] == r.json()["upload_id"]


def big_answer(n: int) -> bytes:
    """A worker's answer larger than a pipe's buffer (64 KiB on Linux)."""
    return b"q" * n


def test_a_large_answer_is_read_whole_under_uvicorns_loop(monkeypatch) -> None:
    """Under uvloop (what `qet serve` runs), watching the pipe made it non-blocking, and an answer
    larger than its buffer failed half-read whenever the worker wrote slower than the server
    read (EAGAIN, reported as the memory limit): the answer is read in blocking mode, whole."""
    import asyncio
    import os
    from multiprocessing.connection import Connection

    import uvloop

    from api._workers import WorkerLimits

    blocking: list[bool] = []
    recv = Connection.recv

    def watched(self: Connection) -> object:
        blocking.append(os.get_blocking(self.fileno()))
        return recv(self)

    monkeypatch.setattr(Connection, "recv", watched)

    async def ask() -> bytes:
        return await run_in_worker(big_answer, 8 << 20, limits=WorkerLimits(timeout_s=120))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(ask()) == b"q" * (8 << 20)
    assert blocking == [True]
