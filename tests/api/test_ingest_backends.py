"""Ingestion on both backends: idempotent, and a worker killed mid-upload leaves no partial batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select

from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.factories import su_csv
from tests.conftest import kill_at_marker

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from qet_geo.store import ingest, models as store
    url, diag, data_path, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    replaces = int(sys.argv[5]) if len(sys.argv) > 5 else None

    def hang():
        Path(marker).write_text("inside")
        time.sleep(120)

    ingest._BEFORE_COMMIT = hang
    ingest.ingest_su(store.make_engine(url), diag, Path(data_path).read_bytes(), replaces=replaces)
    """
)


def _counts(engine) -> tuple[int, int]:
    with store.session_scope(engine) as s:
        uploads = s.scalar(select(func.count()).select_from(store.Upload)) or 0
        people = s.scalar(select(func.count()).select_from(store.Respondent)) or 0
    return int(uploads), int(people)


def test_kill_during_ingestion_on_each_backend(empty_database, tmp_path):
    engine = store.make_engine(empty_database)
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Kill test")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    first = su_csv(15, seed=7, prefix="K")
    kept = ingest.ingest_su(engine, diag_id, first)
    assert not ingest.ingest_su(engine, diag_id, first).created  # idempotent here too
    data_path = tmp_path / "big.tsv"
    data_path.write_bytes(su_csv(300, seed=8, prefix="B"))
    marker = tmp_path / "marker"
    kill_at_marker(
        [sys.executable, "-c", _CHILD, empty_database, str(diag_id), str(data_path), str(marker)],
        marker,
    )
    engine.dispose()
    fresh = store.make_engine(empty_database)
    deadline = time.monotonic() + 30  # PostgreSQL notices the dead client's connection
    while True:
        try:
            assert _counts(fresh) == (1, 15)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with store.session_scope(fresh) as s:
        assert [u.id for u in s.scalars(select(store.Upload))] == [kept.upload_id]
    again = ingest.ingest_su(fresh, diag_id, data_path.read_bytes())
    assert again.created and again.n_stored == 300
    assert _counts(fresh) == (2, 315)
    fresh.dispose()


def test_kill_during_replacement_keeps_the_old_upload(empty_database, tmp_path):
    """A replacement killed before its commit: the old upload and its respondents are intact."""
    engine = store.make_engine(empty_database)
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Replace kill test")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    old = ingest.ingest_su(engine, diag_id, su_csv(15, seed=9, prefix="R"))
    engine.dispose()
    data_path = tmp_path / "full.tsv"
    data_path.write_bytes(su_csv(40, seed=9, prefix="R"))  # the same ids, and more
    marker = tmp_path / "marker"
    args = [empty_database, str(diag_id), str(data_path), str(marker), str(old.upload_id)]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *args], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the replacement died before its commit"
            assert time.monotonic() < deadline, "the replacement never reached its commit"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
    fresh = store.make_engine(empty_database)
    deadline = time.monotonic() + 30  # PostgreSQL notices the dead client's connection
    while True:
        try:
            assert _counts(fresh) == (1, 15)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    new = ingest.ingest_su(fresh, diag_id, data_path.read_bytes(), replaces=old.upload_id)
    assert new.created and new.upload_id != old.upload_id
    assert _counts(fresh) == (1, 40)
    fresh.dispose()
