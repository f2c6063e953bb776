"""The store keeps the synthetic label: uploads, diagnostics, deletions and releases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.errors import ValidationError
from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.store.jobs import fit_national_profiles
from qet_geo.store.releases import create_release
from tests.api.factories import su_csv


def _db(tmp_path: Path) -> tuple[Engine, dict[str, int]]:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    ids = {}
    with store.session_scope(engine) as s:
        for name in ("Réel", "Démo"):
            hood = store.add_neighbourhood(s, name=name)
            diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
            s.add(diag)
            s.flush()
            ids[name] = diag.id
    return engine, ids


def _synthetic(engine: Engine, diagnostic_id: int) -> bool:
    with store.session_scope(engine) as s:
        return bool(s.get(store.Diagnostic, diagnostic_id).synthetic)


def test_a_synthetic_file_labels_its_upload_and_diagnostic(tmp_path: Path) -> None:
    engine, ids = _db(tmp_path)
    real = ingest.ingest_su(engine, ids["Réel"], su_csv(30, seed=1))
    demo = ingest.ingest_su(engine, ids["Démo"], su_csv(30, seed=2, prefix="SYN-"))
    assert (real.synthetic, demo.synthetic) == (False, True)
    assert not _synthetic(engine, ids["Réel"]) and _synthetic(engine, ids["Démo"])
    # the same file again: the stored upload, with its label
    again = ingest.ingest_su(engine, ids["Démo"], su_csv(30, seed=2, prefix="SYN-"))
    assert not again.created and again.synthetic is True
    with store.session_scope(engine) as s:
        assert s.get(store.Upload, demo.upload_id).synthetic is True
        assert "synthetic" not in s.get(store.Upload, demo.upload_id).summary


def test_mixing_is_refused_and_deleting_resets(tmp_path: Path) -> None:
    engine, ids = _db(tmp_path)
    demo = ingest.ingest_su(engine, ids["Démo"], su_csv(20, seed=3, prefix="SYN-"))
    with pytest.raises(store.ConflictError) as err:
        ingest.ingest_su(engine, ids["Démo"], su_csv(20, seed=4))
    assert "ne mélange jamais" in err.value.localized("fr")
    mixed = su_csv(15, seed=5, prefix="SYN-") + su_csv(15, seed=6).split(b"\n", 1)[1]
    with pytest.raises(ValidationError) as err2:
        ingest.ingest_su(engine, ids["Réel"], mixed)
    assert "15 réponses synthétiques" in err2.value.localized("fr")
    assert not _synthetic(engine, ids["Réel"])
    with store.session_scope(engine) as s:
        assert ingest.delete_upload(s, ids["Démo"], demo.upload_id) == 20
    assert not _synthetic(engine, ids["Démo"])
    assert ingest.ingest_su(engine, ids["Démo"], su_csv(20, seed=4)).synthetic is False


def test_a_release_keeps_the_label_and_the_national_fit_leaves_it_out(tmp_path: Path) -> None:
    engine, ids = _db(tmp_path)
    ingest.ingest_su(engine, ids["Réel"], su_csv(40, seed=7))
    ingest.ingest_su(engine, ids["Démo"], su_csv(40, seed=8, prefix="SYN-"))
    real, demo = create_release(engine, ids["Réel"]), create_release(engine, ids["Démo"])
    assert real.figures["synthetic"] is False and real.summary["synthetic"] is False
    assert demo.figures["synthetic"] is True and demo.summary["synthetic"] is True
    fit = fit_national_profiles(engine)
    with store.session_scope(engine) as s:
        demo_hood = s.get(store.Diagnostic, ids["Démo"]).neighbourhood_id
    assert fit.synthetic is False and fit.synthetic_left_out == [demo_hood]
    assert fit.n_neighbourhoods == 1 and fit.n_answers == 40
    with store.session_scope(engine) as s:
        assert not any(p.synthetic for p in store.national_reference(s))


def test_national_profiles_fitted_on_synthetic_answers_only_are_stored_as_such(
    tmp_path: Path,
) -> None:
    """With no real campaign, the fit is a demonstration: the stored profiles keep the label,
    and GET /national/profiles (which reads them) says so, long after the fit."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    engine, ids = _db(tmp_path)
    ingest.ingest_su(engine, ids["Démo"], su_csv(40, seed=8, prefix="SYN-"))
    fit = fit_national_profiles(engine)
    assert fit.synthetic is True
    with store.session_scope(engine) as s:
        stored = store.national_reference(s)
        assert stored and all(p.synthetic for p in stored)
        token = store.create_token(s, role="staff")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'qet.db'}"))
    with TestClient(app) as client:
        body = client.get("/national/profiles", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["synthetic"] is True and body["profiles"]
    # a real campaign then fitted: the label goes
    ingest.ingest_su(engine, ids["Réel"], su_csv(40, seed=7))
    assert fit_national_profiles(engine).synthetic is False
    with store.session_scope(engine) as s:
        assert not any(p.synthetic for p in store.national_reference(s))


def test_the_store_commands_say_synthetic(tmp_path: Path) -> None:
    engine, ids = _db(tmp_path)
    ingest.ingest_su(engine, ids["Démo"], su_csv(40, seed=9, prefix="SYN-"))
    base = ["--database-url", str(engine.url)]
    runner = CliRunner()
    r = runner.invoke(app, ["store", "release", str(ids["Démo"]), *base, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["synthetic"] is True
    r = runner.invoke(app, ["store", "national-profiles", *base, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["synthetic"] is True and out["synthetic_left_out"] == []
    ingest.ingest_su(engine, ids["Réel"], su_csv(40, seed=10))
    r = runner.invoke(app, ["store", "release", str(ids["Réel"]), *base])
    assert r.exit_code == 0 and "SYNTH" not in r.output
    r = runner.invoke(app, ["store", "national-profiles", *base])
    assert r.exit_code == 0, r.output
    assert "hors de l'ajustement" in " ".join(r.output.split())
