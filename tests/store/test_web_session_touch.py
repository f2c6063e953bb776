"""A page's reading of its visitor never holds the store's write lock while the page works.

The web session's own writes (``last_seen_at`` once a minute, deleting an ended session) were
made in the page's transaction: its first query flushed them, and on SQLite the page then held
the write lock until it answered. A page that, meanwhile, had the store write on another
connection (publishing a release, storing an upload, claiming the analysis) waited for its own
lock for the busy timeout (30 s) and failed with "database is locked" (a 503), about once a
minute per user, at random. They are now committed first, in a transaction of their own.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from qet_geo.store import accounts
from qet_geo.store import models as store

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _store(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = store.make_engine(f"sqlite:///{tmp_path / 'web.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        user = accounts.create_user(
            s, email="p@b.example", password="un mot de passe long", role="admin"
        )
        cookie, _ = accounts.open_session(s, user, now=NOW)
    return engine, cookie


def test_a_page_that_read_its_visitor_commits_after_another_write(tmp_path: Path) -> None:
    engine, cookie = _store(tmp_path)
    later = NOW + timedelta(minutes=5)  # the session is due to be noted seen
    page = sessionmaker(engine)()
    try:
        found = accounts.session_for(page, cookie, now=later)
        assert found is not None
        page.scalars(select(store.Neighbourhood)).all()  # the page reads (and autoflushes)
        # the store writes elsewhere (a release, an upload, the job), with a short busy wait:
        # "database is locked" while the page held the write lock
        elsewhere = sqlite3.connect(tmp_path / "web.db", timeout=0.5)
        with elsewhere:
            elsewhere.execute("UPDATE users SET role = role")
        elsewhere.close()
        page.commit()
    finally:
        page.close()
    with store.session_scope(engine) as s:
        row = s.get(store.WebSession, accounts.token_hash(cookie))
        assert row is not None and accounts._aware(row.last_seen_at) == later
    engine.dispose()


def test_an_ended_session_is_deleted_and_not_returned(tmp_path: Path) -> None:
    engine, cookie = _store(tmp_path)
    page = sessionmaker(engine)()
    try:
        assert accounts.session_for(page, cookie, now=NOW + timedelta(days=8)) is None
        page.commit()
    finally:
        page.close()
    with store.session_scope(engine) as s:
        assert s.get(store.WebSession, accounts.token_hash(cookie)) is None
    engine.dispose()
