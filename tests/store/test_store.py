"""The store: tables, idempotent one-transaction ingestion, raw locations never stored."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from qet_geo.errors import ValidationError
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.factories import su_csv
from tests.conftest import kill_at_marker, shared

ROOT = Path(__file__).resolve().parents[2]


def _db(tmp_path: Path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre", iris_codes=["561210101"])
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    return engine, diag_id


def _count(engine, model) -> int:
    with store.session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_ingest_stores_protected_locations_only(tmp_path):
    engine, diag = _db(tmp_path)
    data = su_csv(30, seed=1)
    result = ingest.ingest_su(engine, diag, data)
    assert result.created and result.n_stored == 30
    with store.session_scope(engine) as s:
        rows = s.scalars(select(store.Respondent)).all()
        assert {r.cell_id[:18] for r in rows} == {"CRS3035RES200mN282"}
        assert all(r.profile is not None and r.total_kgco2e > 0 for r in rows)
        # pseudonymous ids, never the file's ids
        assert not any(r.pseudo_id.startswith("R0") for r in rows)
    # no column anywhere holds a coordinate from the file
    dump = "\n".join(engine.raw_connection().driver_connection.iterdump())
    lon_text = data.decode().splitlines()[1].split("\t")[-2]
    assert lon_text not in dump
    assert "R00001" not in dump


def test_same_file_twice_changes_nothing(tmp_path):
    engine, diag = _db(tmp_path)
    data = su_csv(20, seed=2)
    first = ingest.ingest_su(engine, diag, data, idempotency_key="k-1")
    again = ingest.ingest_su(engine, diag, data)
    keyed = ingest.ingest_su(engine, diag, data, idempotency_key="k-1")
    assert first.created and not again.created and not keyed.created
    assert again.upload_id == first.upload_id == keyed.upload_id
    assert _count(engine, store.Upload) == 1
    assert _count(engine, store.Respondent) == 20


def test_reused_key_for_other_file_is_a_conflict(tmp_path):
    engine, diag = _db(tmp_path)
    ingest.ingest_su(engine, diag, su_csv(20, seed=3), idempotency_key="k")
    with pytest.raises(store.ConflictError):
        ingest.ingest_su(engine, diag, su_csv(20, seed=4, prefix="S"), idempotency_key="k")
    assert _count(engine, store.Upload) == 1


def test_overlapping_ids_roll_back_the_whole_batch(tmp_path):
    engine, diag = _db(tmp_path)
    ingest.ingest_su(engine, diag, su_csv(20, seed=5))
    with pytest.raises(store.ConflictError):
        ingest.ingest_su(engine, diag, su_csv(25, seed=6))  # same ids R00000..., other answers
    assert _count(engine, store.Upload) == 1
    assert _count(engine, store.Respondent) == 20


def test_real_near_file_is_ingested(tmp_path):
    engine, diag = _db(tmp_path)
    data = shared("surveys", "near_su", "survey_0.tsv").read_bytes()
    result = ingest.ingest_su(engine, diag, data)
    assert result.n_rows == 314 and 250 < result.n_stored <= 314
    with store.session_scope(engine) as s:
        frame = ingest.respondents_frame(s, diag)
    assert len(frame) == result.n_stored
    assert frame["cell_id"].isna().all()  # the file has no location


def test_bad_inputs_raise_library_errors(tmp_path):
    engine, diag = _db(tmp_path)
    with pytest.raises(store.NotFoundError):
        ingest.ingest_su(engine, 999, su_csv(12))
    with pytest.raises(ValidationError):
        ingest.ingest_su(engine, diag, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        store.create_token(None, role="root")  # type: ignore[arg-type]


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from qet_geo.store import ingest, models as store
    url, diag, data_path, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

    def hang():
        Path(marker).write_text("inside")
        time.sleep(120)

    ingest._BEFORE_COMMIT = hang
    ingest.ingest_su(store.make_engine(url), diag, Path(data_path).read_bytes())
    """
)


def test_killed_worker_leaves_no_partial_batch(tmp_path):
    engine, diag = _db(tmp_path)
    kept = ingest.ingest_su(engine, diag, su_csv(15, seed=7, prefix="K"))
    data_path = tmp_path / "big.tsv"
    data_path.write_bytes(su_csv(400, seed=8, prefix="B"))
    marker = tmp_path / "marker"
    url = f"sqlite:///{tmp_path / 'qet.db'}"
    kill_at_marker(
        [sys.executable, "-c", _CHILD, url, str(diag), str(data_path), str(marker)], marker
    )
    engine.dispose()
    fresh = store.make_engine(url)
    with store.session_scope(fresh) as s:
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        uploads = s.scalars(select(store.Upload)).all()
        assert [u.id for u in uploads] == [kept.upload_id]
        assert s.scalar(select(func.count()).select_from(store.Respondent)) == 15
    # the batch can be sent again after the crash, and lands whole
    again = ingest.ingest_su(fresh, diag, data_path.read_bytes())
    assert again.created and again.n_stored == 400
    assert _count(fresh, store.Respondent) == 415


def test_pseudonyms_are_keyed_outside_the_database(tmp_path, monkeypatch):
    """A database copy alone cannot turn pseudonyms back into ids by hashing guesses."""
    import hashlib
    import hmac

    monkeypatch.delenv("QET_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("QET_KEY_DIR", str(tmp_path / "keys"))
    key = store.pseudonym_key()
    path = tmp_path / "keys" / "pseudonym.key"
    assert len(key) == 64 and path.stat().st_mode & 0o777 == 0o600
    assert store.pseudonym_key() == key  # created once, then read
    plain = hashlib.sha256(b"qet-respondent:R00001").hexdigest()[:32]
    keyed = ingest._pseudonym("R00001")
    assert keyed != plain
    assert keyed == hmac.new(key, b"qet-respondent:R00001", "sha256").hexdigest()[:32]
    monkeypatch.setenv("QET_PSEUDONYM_KEY", "another secret")
    assert ingest._pseudonym("R00001") != keyed


def test_assign_to_centres_matches_the_fitted_model():
    """Stored centres give every answer the profile UsageProfiles.predict gives it."""
    import warnings

    from qet_geo.analysis.profiles import UsageProfiles
    from qet_geo.analysis.reference import reference_profiles
    from qet_geo.surveys.schema import USAGES

    answers = reference_profiles()[list(USAGES)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = UsageProfiles(random_state=0).fit(answers)
    stored = [
        store.Profile(number=k, centre=dict(zip(USAGES, map(float, c), strict=True)))
        for k, c in enumerate(model.centres_)
    ]
    got = ingest.assign_to_centres(answers, stored[::-1])  # any order
    assert got.tolist() == model.predict(answers).tolist()
    partial = answers.head(3).astype("Int8").copy()
    partial.iloc[0, 0] = pd.NA
    out = ingest.assign_to_centres(partial, stored)
    assert out.isna().tolist() == [True, False, False]
    assert ingest.assign_to_centres(answers, []).isna().all()
