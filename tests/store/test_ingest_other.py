"""The other surveys in the store: MdV/EdV and NosGestesClimat uploads (``ingest_survey``).

The files are labelled-synthetic ones made by the library on Lorient's real buildings
(:mod:`qet_geo.surveys.synthetic_others`): no real MdV or NGC answers are at hand. SQLite and
PostgreSQL, as the API's upload tests.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from qet_geo.analysis.footprint import read_ngc_results
from qet_geo.constraints.indicators import nearest_min
from qet_geo.errors import ValidationError
from qet_geo.inputs.osm import read_osm
from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.surveys.mdv import read_mdv
from qet_geo.surveys.synthetic_others import synthetic_mdv, synthetic_ngc
from tests.api.conftest import BACKENDS, fresh_postgres_database, postgres_url  # noqa: F401
from tests.api.factories import su_csv
from tests.conftest import shared

FOOD = nearest_min("food_shop")


# --------------------------------------------------------------------------------------------------
# data


@pytest.fixture(scope="module")
def osm() -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        return read_osm(shared("osm", "lorient_centre.osm.gz"))


@pytest.fixture(scope="module")
def buildings(osm) -> gpd.GeoDataFrame:
    return osm.buildings


@pytest.fixture(scope="module")
def homes(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lorient's real buildings as an access table (their points; the food minutes unused)."""
    points = buildings.geometry.representative_point()
    return gpd.GeoDataFrame(
        {FOOD: [5.0] * len(points)}, geometry=points, crs=buildings.crs, index=buildings.index
    )


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.drop(columns=["plant"], errors="ignore").to_csv(index=False).encode()


@pytest.fixture(scope="module")
def mdv_frame(homes) -> pd.DataFrame:
    return synthetic_mdv(homes, n=60, n_planted=0, seed=4)


@pytest.fixture(scope="module")
def mdv_file(mdv_frame) -> bytes:
    return _csv(mdv_frame)


@pytest.fixture(scope="module")
def su_file() -> bytes:
    return su_csv(40, seed=7, prefix="SYN-")


@pytest.fixture(scope="module")
def ngc_file(su_file: bytes) -> bytes:
    return _csv(synthetic_ngc(su_file, share=0.75, seed=1))


# --------------------------------------------------------------------------------------------------
# the store, on both backends


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, int]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'qet.db'}"
    else:
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    engine = store.make_engine(url)
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre", iris_codes=["561210101"])
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    yield engine, diag_id
    engine.dispose()


def _count(engine: Engine, kind: str | None = None) -> int:
    query = select(func.count()).select_from(store.SurveyAnswer)
    if kind is not None:
        query = query.where(store.SurveyAnswer.kind == kind)
    with store.session_scope(engine) as s:
        return int(s.scalar(query) or 0)


def test_mdv_rows_are_stored_under_pseudonyms_with_protected_places(
    db, mdv_file, mdv_frame, buildings
) -> None:
    engine, diag = db
    result = ingest.ingest_survey(engine, diag, mdv_file, kind="mdv", buildings=buildings)
    assert result.created and result.synthetic and result.n_stored == 60
    with store.session_scope(engine) as s:
        upload = s.get(store.Upload, result.upload_id)
        assert upload is not None and upload.kind == "mdv" and upload.synthetic
        assert s.get(store.Diagnostic, diag).synthetic  # type: ignore[union-attr]
        rows = s.scalars(select(store.SurveyAnswer)).all()
        assert {r.kind for r in rows} == {"mdv"}
        assert not any(r.pseudo_id.startswith("SYN-") for r in rows)
        assert all(r.cell_id.startswith("CRS3035RES200m") for r in rows)  # type: ignore[union-attr]
        # the file's building keys are the extract's: kept, inside the store only
        assert {r.building_key for r in rows} <= set(mdv_frame["building_key"])
        # nothing of the file's coordinates
        text = " ".join(str(r.answers) for r in rows)
        assert str(mdv_frame["lon"].iloc[0]) not in text and "lat" not in text


def test_survey_frame_has_the_shape_of_read_located_mdv(db, mdv_file, mdv_frame, buildings):
    engine, diag = db
    ingest.ingest_survey(engine, diag, mdv_file, kind="mdv", buildings=buildings)
    with store.session_scope(engine) as s:
        frame = ingest.survey_frame(s, diag, "mdv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_mdv(io.BytesIO(mdv_file))
    assert len(frame) == 60 and frame.index.name == "pseudo_id"
    assert list(frame.columns) == [*read.answers.columns, "building_key", "cell_id", "synthetic"]
    for column in read.answers.columns:  # the reader's types, the reader's values
        assert frame[column].dtype == read.answers[column].dtype, column
        assert list(frame[column].astype(object)) == list(read.answers[column].astype(object))
    assert list(frame["building_key"]) == list(mdv_frame["building_key"])
    assert list(frame["cell_id"]) == list(mdv_frame["cell_id"])
    assert frame["synthetic"].all() and frame.attrs["synthetic"] is True


def test_without_buildings_a_file_key_is_not_trusted(db, mdv_file) -> None:
    engine, diag = db
    ingest.ingest_survey(engine, diag, mdv_file, kind="mdv")
    with store.session_scope(engine) as s:
        frame = ingest.survey_frame(s, diag, "mdv")
    assert frame["building_key"].isna().all()
    assert frame["cell_id"].str.startswith("CRS3035RES200m").all()  # from the coordinates


def test_ngc_rows_link_to_the_su_respondents(db, su_file, ngc_file, tmp_path: Path) -> None:
    engine, diag = db
    ingest.ingest_survey(engine, diag, su_file, kind="su")
    result = ingest.ingest_survey(engine, diag, ngc_file, kind="ngc")
    assert result.n_stored == 30 and result.synthetic
    with store.session_scope(engine) as s:
        frame = ingest.survey_frame(s, diag, "ngc")
        su = ingest.respondents_frame(s, diag)
        rows = s.scalars(select(store.SurveyAnswer)).all()
    assert all(r.cell_id is None and r.building_key is None for r in rows)
    assert set(frame.index) <= set(su.index)  # the same keyed pseudonyms
    path = tmp_path / "ngc.csv"
    path.write_bytes(ngc_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = read_ngc_results(path)
    assert list(frame.columns) == list(expected.columns)
    assert frame["total"].to_numpy() == pytest.approx(expected["total"].to_numpy())
    assert frame["transport_avion"].sum() == pytest.approx(expected["transport_avion"].sum())


def test_the_same_file_twice_changes_nothing_and_one_file_is_one_survey(db, mdv_file) -> None:
    engine, diag = db
    first = ingest.ingest_survey(engine, diag, mdv_file, kind="mdv", idempotency_key="k1")
    again = ingest.ingest_survey(engine, diag, mdv_file, kind="mdv")
    keyed = ingest.ingest_survey(engine, diag, mdv_file, kind="mdv", idempotency_key="k1")
    assert first.created and not again.created and not keyed.created
    assert first.upload_id == again.upload_id == keyed.upload_id
    assert _count(engine) == 60
    with pytest.raises(store.ConflictError) as err:
        ingest.ingest_survey(engine, diag, mdv_file, kind="ngc")
    assert "MdV/EdV" in err.value.localized("fr")
    with pytest.raises(ValidationError):
        ingest.ingest_survey(engine, diag, mdv_file, kind="edv")


def test_replace_and_delete_take_the_answers_with_them(db, mdv_file, homes, su_file) -> None:
    engine, diag = db
    first = ingest.ingest_survey(engine, diag, mdv_file, kind="mdv")
    other = _csv(synthetic_mdv(homes, n=25, n_planted=0, seed=9))
    second = ingest.ingest_survey(engine, diag, other, kind="mdv", replaces=first.upload_id)
    assert second.created and _count(engine, "mdv") == 25
    with store.session_scope(engine) as s:
        assert s.get(store.Upload, first.upload_id) is None
    # an SU upload is replaced by an SU file only
    su = ingest.ingest_survey(engine, diag, su_file, kind="su")
    with pytest.raises(store.ConflictError) as err:
        ingest.ingest_survey(engine, diag, mdv_file, kind="mdv", replaces=su.upload_id)
    assert "même enquête" in err.value.localized("fr")
    assert _count(engine, "mdv") == 25
    with store.session_scope(engine) as s:
        assert ingest.delete_upload(s, diag, second.upload_id) == 25
    assert _count(engine) == 0
    with store.session_scope(engine) as s:  # the SU upload stays
        assert len(ingest.respondents_frame(s, diag)) == 40


def test_the_foreign_keys_cascade_on_both_backends(db, ngc_file, su_file) -> None:
    engine, diag = db
    ingest.ingest_survey(engine, diag, su_file, kind="su")
    ingest.ingest_survey(engine, diag, ngc_file, kind="ngc")
    with store.session_scope(engine) as s:  # a diagnostic deleted takes its answers
        s.delete(s.get(store.Diagnostic, diag))
    assert _count(engine) == 0


def test_a_real_file_is_refused_in_a_synthetic_diagnostic(db, mdv_file, mdv_frame) -> None:
    engine, diag = db
    ingest.ingest_survey(engine, diag, mdv_file, kind="mdv")
    real = mdv_frame.drop(columns=["synthetic"]).assign(
        respondent_id=[f"R{i:04d}" for i in range(len(mdv_frame))]
    )
    with pytest.raises(store.ConflictError):
        ingest.ingest_survey(engine, diag, _csv(real), kind="mdv")
    mixed = mdv_frame.drop(columns=["synthetic"]).copy()
    mixed.loc[0, "respondent_id"] = "R0001"
    with pytest.raises(ValidationError):
        ingest.ingest_survey(engine, diag, _csv(mixed), kind="mdv")
    assert _count(engine) == 60


def test_one_transaction_per_upload(db, ngc_file, monkeypatch) -> None:
    engine, diag = db

    def boom() -> None:
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(ingest, "_BEFORE_COMMIT", boom)
    with pytest.raises(RuntimeError):
        ingest.ingest_survey(engine, diag, ngc_file, kind="ngc")
    monkeypatch.setattr(ingest, "_BEFORE_COMMIT", None)
    assert _count(engine) == 0
    with store.session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(store.Upload)) == 0
    assert ingest.ingest_survey(engine, diag, ngc_file, kind="ngc").created


def test_a_1km_cell_is_refused_and_duplicates_across_files_conflict(db, mdv_frame) -> None:
    engine, diag = db
    coarse = mdv_frame.drop(columns=["lon", "lat", "building_key"]).assign(
        cell_id="CRS3035RES1000mN2827000E3324000"
    )
    with pytest.raises(ValidationError, match="200"):
        ingest.ingest_survey(engine, diag, _csv(coarse), kind="mdv")
    ingest.ingest_survey(engine, diag, _csv(mdv_frame.iloc[:20]), kind="mdv")
    with pytest.raises(store.ConflictError):
        ingest.ingest_survey(engine, diag, _csv(mdv_frame.iloc[10:30]), kind="mdv")
    assert _count(engine) == 20


def test_survey_frame_refuses_other_kinds_and_is_empty_without_answers(db) -> None:
    engine, diag = db
    with store.session_scope(engine) as s:
        assert ingest.survey_frame(s, diag, "ngc").empty
        empty = ingest.survey_frame(s, diag, "mdv")
        assert empty.empty and {"building_key", "cell_id"} <= set(empty.columns)
        with pytest.raises(ValidationError):
            ingest.survey_frame(s, diag, "su")
