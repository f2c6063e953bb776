"""Migration 0008: the ``synthetic`` flag of uploads and diagnostics, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from qet_geo.store import models as store

ROOT = Path(__file__).resolve().parents[2]


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def test_0008_adds_the_synthetic_flag_false_for_stored_rows(empty_database):
    """0007 → 0008 on a store with a diagnostic and an upload: both read as real; back they go."""
    cfg = _config(empty_database)
    command.upgrade(cfg, "0007")
    engine = store.make_engine(empty_database)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0008', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, created_at) "
            "SELECT id, 0, 'collecting', 0.0, CURRENT_TIMESTAMP FROM neighbourhoods"
        )
        conn.exec_driver_sql(
            "INSERT INTO uploads (diagnostic_id, sha256, key_scope, kind, n_rows, n_stored, "
            "summary, created_at) SELECT id, 'abc', '', 'su', 3, 3, '{}', CURRENT_TIMESTAMP "
            "FROM diagnostics"
        )
    engine.dispose()
    command.upgrade(cfg, "0008")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT synthetic FROM diagnostics").scalar() in (False, 0)
        assert conn.exec_driver_sql("SELECT synthetic FROM uploads").scalar() in (False, 0)
    with store.session_scope(engine) as s:
        diag = s.scalars(store.select(store.Diagnostic)).one()
        assert diag.synthetic is False
        diag.synthetic = True
    with store.session_scope(engine) as s:
        assert s.scalars(store.select(store.Diagnostic)).one().synthetic is True
    engine.dispose()
    command.downgrade(cfg, "0007")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        assert "synthetic" not in {c["name"] for c in inspect(conn).get_columns("diagnostics")}
        assert "synthetic" not in {c["name"] for c in inspect(conn).get_columns("uploads")}
        assert conn.exec_driver_sql("SELECT n_rows FROM uploads").scalar() == 3
    engine.dispose()
