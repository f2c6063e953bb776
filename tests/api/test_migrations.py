"""Alembic: the migrations build the schema of qet_geo.store.models, on SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, select, update

from migrations.env_filters import include_object as _include_object
from qet_geo.store import ingest
from qet_geo.store import models as store

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

    assert ingest.ingest_su(engine, diag_id, su_csv(12)).n_stored == 12
    engine.dispose()
    command.downgrade(cfg, "base")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        left = set(inspect(conn).get_table_names()) - {"alembic_version", "spatial_ref_sys"}
    engine.dispose()
    assert not left


def test_0003_adds_the_job_state_and_keeps_the_diagnostics(empty_database):
    """0002 → 0003 on a store with data: the job columns appear, empty; back to 0002 they go."""
    cfg = _config(empty_database)
    command.upgrade(cfg, "0002")
    engine = store.make_engine(empty_database)
    with engine.begin() as conn:
        assert "job_message" not in {c["name"] for c in inspect(conn).get_columns("diagnostics")}
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0003', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, created_at) "
            "SELECT id, 0, 'failed', 1.0, CURRENT_TIMESTAMP FROM neighbourhoods"
        )
    engine.dispose()
    command.upgrade(cfg, "0003")
    engine = store.make_engine(empty_database)
    # the table as 0003 left it (the models have grown since: read it from the database)
    diagnostics = Table("diagnostics", MetaData(), autoload_with=engine)
    reason = {"fr": "raison", "en": "reason", "code": "InternalError"}
    with engine.begin() as conn:
        row = conn.execute(select(diagnostics)).one()
        assert row.status == "failed" and row.job_step is None and row.job_message is None
        conn.execute(update(diagnostics).values(job_step="store", job_message=reason))
    with engine.connect() as conn:
        assert conn.execute(select(diagnostics.c.job_message)).scalar() == reason
    engine.dispose()
    command.downgrade(cfg, "0002")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("diagnostics")}
        assert "job_message" not in columns and "job_step" not in columns
        assert conn.exec_driver_sql("SELECT status FROM diagnostics").scalar() == "failed"
    engine.dispose()


def test_0004_adds_the_job_heartbeat_and_frees_jobs_left_running(empty_database):
    """0003 → 0004 on a store with a job left running by a killed process: it can run again."""
    from qet_geo.store import jobs as service

    cfg = _config(empty_database)
    command.upgrade(cfg, "0003")
    engine = store.make_engine(empty_database)
    with engine.begin() as conn:
        assert "job_updated_at" not in {c["name"] for c in inspect(conn).get_columns("diagnostics")}
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0004', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, job_step, "
            "created_at) SELECT id, 0, 'running', 0.5, 'access', CURRENT_TIMESTAMP "
            "FROM neighbourhoods"
        )
    engine.dispose()
    # through 0004 up to the head: the models (read below) have grown since 0004
    command.upgrade(cfg, "head")
    engine = store.make_engine(empty_database)
    with store.session_scope(engine) as s:
        diag = s.scalars(select(store.Diagnostic)).one()
        assert (diag.status, diag.job_step) == ("running", "access")
        assert diag.job_updated_at is None and diag.job_id is None
        # no time recorded: the job is abandoned, not "running" forever
        assert service.job_status(diag) == "abandoned"
        diag_id = diag.id
    job_id = service.claim_analysis(engine, diag_id)
    with store.session_scope(engine) as s:
        diag = s.get(store.Diagnostic, diag_id)
        assert (diag.status, diag.job_id) == ("queued", job_id)
        assert diag.job_updated_at is not None and service.job_status(diag) == "queued"
    engine.dispose()
    command.downgrade(cfg, "0003")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("diagnostics")}
        assert "job_updated_at" not in columns and "job_id" not in columns
        assert "job_step" in columns
        assert conn.exec_driver_sql("SELECT status FROM diagnostics").scalar() == "queued"
    engine.dispose()
