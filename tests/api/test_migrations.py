"""Alembic: the migrations build the schema of qet_geo.store, on SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from migrations.env_filters import include_object as _include_object
from qet_geo import store

ROOT = Path(__file__).resolve().parents[2]


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def test_upgrade_matches_models_and_downgrades(empty_database):
    cfg = _config(empty_database)
    command.upgrade(cfg, "head")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include_object, "compare_type": False}
        )
        diff = compare_metadata(context, store.Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert not diff, diff
    assert {"neighbourhoods", "diagnostics", "uploads", "respondents", "votes"} <= tables
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            kind = conn.exec_driver_sql(
                "SELECT udt_name FROM information_schema.columns WHERE table_name='neighbourhoods' "
                "AND column_name='territory_wkt'"
            ).scalar()
        assert kind == "geometry"
    # the migrated store works: ingestion on top of it
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(
            s, name="Kervénanec", territory_wkt="POLYGON ((0 0, 1 0, 1 1, 0 0))"
        )
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    from tests.api.factories import su_csv

    assert store.ingest_su(engine, diag_id, su_csv(12)).n_stored == 12
    engine.dispose()
    command.downgrade(cfg, "base")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        left = set(inspect(conn).get_table_names()) - {"alembic_version", "spatial_ref_sys"}
    engine.dispose()
    assert not left
