"""Nothing personal in logs (issue 12, item 6), on SQLite and PostgreSQL.

Uploads fail on purpose while every logger of the service listens at DEBUG (SQLAlchemy's
statements, uvicorn's errors and access lines, the app's own loggers): concurrent uploads of
files that share respondents, and a unique-constraint violation inside an ingestion. Then every
log line, with its traceback, and on PostgreSQL the server's own log file, is searched for the
respondents' values: raw ids, pseudonyms, cell ids, building keys, footprint numbers, profiles.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.conftest import build_world, free_port
from tests.api.factories import su_csv

LOGGERS = (
    "",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "sqlalchemy.pool",
    "sqlalchemy.orm",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "fastapi",
    "starlette",
    "api",
    "qet_geo",
    "psycopg",
)
PREFIX = "Zq9Resp"  # raw respondent ids of the files: never logged


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback and the exception's text


@contextmanager
def _every_log(caplog: pytest.LogCaptureFixture) -> Iterator[_Keep]:
    keep = _Keep()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.disabled))
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        logger.addHandler(keep)
        caplog.set_level(logging.DEBUG, logger=name or None)
    try:
        yield keep
    finally:
        for logger, level, disabled in saved:
            logger.removeHandler(keep)
            logger.setLevel(level)
            logger.disabled = disabled


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """The app behind a real uvicorn (its own loggers, not configured away), at DEBUG."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="debug")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start within 30 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _values(rows: list[dict[str, Any]]) -> set[str]:
    """The strings a leak of these respondent rows would show."""
    found: set[str] = set()
    for row in rows:
        for key in ("pseudo_id", "cell_id", "building_key"):
            if row.get(key):
                found.add(str(row[key]))
        # footprints and answers are round numbers: a leak shows them beside their names, as
        # the parameters' repr or the JSON of the row
        pairs = {
            **row.get("footprint", {}),
            **row.get("answers", {}),
            "profile": row.get("profile"),
        }
        for key, value in pairs.items():
            if value is not None:
                found |= {f"'{key}': {value!r}", f'"{key}": {value!r}', f'"{key}":{value!r}'}
    return found


def _leaks(text_: str, values: set[str]) -> list[str]:
    hits = sorted(v for v in values if v in text_)
    hits += re.findall(rf"{PREFIX}\d+", text_)[:3]
    # a parameter list or a row's profile, as SQLAlchemy or PostgreSQL would print them
    hits += re.findall(r"\[parameters: .{0,80}|parameters: \$1 = .{0,80}|'profile': \d", text_)[:3]
    hits += re.findall(r"Key \(.{0,120}\)=\(.{0,80}", text_)[:3]
    return hits


def _server_log(engine: Any) -> Path:
    """The PostgreSQL cluster's log: scripts/postgres.sh writes it beside the data folder."""
    with engine.connect() as conn:
        data = conn.execute(text("SHOW data_directory")).scalar_one()
    return Path(data).parent / "server.log"


def test_failed_uploads_leave_no_respondent_value_in_any_log(
    empty_database: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(empty_database)
    app = world.client.app
    # files read in the server process, where this test injects its fault (a worker process
    # runs the same store code, whose engine hides parameters the same way)
    app.state.settings.survey_workers = 0  # type: ignore[attr-defined]
    engine = app.state.engine  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    log_file = _server_log(engine) if postgres else None
    log_start = log_file.stat().st_size if log_file is not None else 0
    diag = world.diags["A"]
    headers = world.headers("pilotA")
    files = [su_csv(30, seed=40 + i, prefix=PREFIX) for i in range(4)]  # the same 30 ids
    prepared: list[dict[str, Any]] = []
    real_prepare = ingest._prepare_rows

    def prepare(data: bytes, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rows, summary = real_prepare(data, **kwargs)
        prepared.extend(rows)
        return rows, summary

    monkeypatch.setattr(ingest, "_prepare_rows", prepare)
    with _every_log(caplog) as keep, _served(app) as base:
        statuses: list[int] = []

        def upload(data: bytes) -> None:
            with httpx.Client(base_url=base, timeout=120) as client:
                r = client.post(f"/diagnostics/{diag}/uploads", content=data, headers=headers)
                statuses.append(r.status_code)

        # 1. concurrent uploads of four files sharing their 30 respondents: one is stored
        threads = [threading.Thread(target=upload, args=(f,)) for f in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert len(statuses) == 4 and statuses.count(201) == 1, statuses
        assert all(s in (201, 409, 500) for s in statuses), statuses

        # 2. a unique violation inside the ingestion: a row written twice (a fault of the
        # code, as a race would make it); the statement fails with the rows as parameters
        def doubled(data: bytes, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            rows, summary = prepare(data, **kwargs)
            return [*rows, dict(rows[0])], summary

        monkeypatch.setattr(ingest, "_prepare_rows", doubled)
        upload(su_csv(25, seed=50, prefix=PREFIX + "B"))
        assert statuses[-1] in (409, 500)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM respondents WHERE diagnostic_id = :d"), {"d": diag}
        ).scalar_one()
    assert stored == 60 + 30  # the fixture's 60, one of the four files; nothing of the double

    values = _values(prepared)
    cells = {r["cell_id"] for r in prepared if r["cell_id"]}
    assert len(prepared) >= 4 * 30 and cells and cells <= values  # something to find
    app_log = "\n".join(keep.lines + [r.getMessage() for r in caplog.records])
    assert "INSERT INTO respondents" in app_log  # SQLAlchemy's statements were listened to
    assert "Traceback" in app_log or "409" in app_log  # the failures were logged
    leaked = _leaks(app_log, values)
    assert leaked == [], [
        line[:300] for line in app_log.splitlines() if any(v in line for v in leaked)
    ][:3]
    if log_file is not None:
        with log_file.open("rb") as f:
            f.seek(log_start)
            server = f.read().decode("utf-8", "replace")
        assert "ERROR" in server  # the failures reached the server's log
        assert _leaks(server, values) == []
        assert "STATEMENT:" not in server and "DETAIL:" not in server
    engine.dispose()


def test_database_errors_carry_no_values(empty_database: str) -> None:
    """A constraint violation's text, and its logged traceback, name the constraint only.

    PostgreSQL's message says ``DETAIL: Key (code)=(<value>) already exists``, and its bad
    input errors quote the value: any traceback logged anywhere (uvicorn, the job runner)
    printed it. The store's engine keeps the class, SQLSTATE and names.
    """
    import traceback

    from sqlalchemy.exc import DBAPIError, IntegrityError

    secret = "Zq9Secret-4711-rue-des-Lilas"
    engine = store.make_engine(empty_database)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE leak_probe (code VARCHAR(80) CONSTRAINT uq_probe UNIQUE, n INTEGER)"
        )
        conn.execute(text("INSERT INTO leak_probe (code, n) VALUES (:c, 1)"), {"c": secret})
    texts = []
    with pytest.raises(IntegrityError) as dup, engine.begin() as conn:
        conn.execute(text("INSERT INTO leak_probe (code, n) VALUES (:c, 2)"), {"c": secret})
    texts.append("".join(traceback.format_exception(dup.value)))
    if engine.dialect.name == "postgresql":  # bad input: the value is in the primary message
        with pytest.raises(DBAPIError) as bad, engine.begin() as conn:
            conn.execute(text("SELECT CAST(:c AS INTEGER)"), {"c": secret})
        texts.append("".join(traceback.format_exception(bad.value)))
        assert "uq_probe" in texts[0] and "SQLSTATE 23505" in texts[0]
    else:
        assert "UNIQUE constraint failed: leak_probe.code" in texts[0]
    for logged in texts:
        assert secret not in logged and "Lilas" not in logged
        assert "parameters hidden" in logged
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE leak_probe")
    engine.dispose()
