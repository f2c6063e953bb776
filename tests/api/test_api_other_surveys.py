"""The API's uploads of the other surveys: MdV/EdV and NosGestesClimat (``?kind=mdv|ngc``).

Labelled-synthetic files made by the library (:mod:`qet_geo.surveys.synthetic_others`) on the real
buildings of the shared Lorient extract, which the neighbourhood has as its OSM extract; SQLite
and PostgreSQL. The SU uploads' own tests stay as they are (tests/api/test_api_upload*.py).
"""

from __future__ import annotations

import itertools
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

import api.routers.uploads
from api._workers import run_in_worker
from api.models import UploadOut
from api.routers.uploads import UploadItem
from qet_geo.constraints.indicators import nearest_min
from qet_geo.inputs.osm import read_osm
from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.surveys.synthetic_others import synthetic_mdv, synthetic_ngc
from tests.api.conftest import BACKENDS, World, build_world, fresh_postgres_database
from tests.api.factories import su_csv
from tests.conftest import shared

FOOD = nearest_min("food_shop")
EXTRACT = "lorient_centre.osm.gz"
_years = itertools.count(30)


@pytest.fixture(scope="module", params=BACKENDS)
def oworld(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.db'}"
    else:
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    osm_dir = tmp_path_factory.mktemp("osm")
    shutil.copy(shared("osm", EXTRACT), osm_dir / EXTRACT)
    w = build_world(url, osm_dir=osm_dir, release=False)
    with store.session_scope(_engine(w)) as s:
        hood = s.get(store.Neighbourhood, w.hoods["A"])
        assert hood is not None
        hood.osm_extract = EXTRACT  # the neighbourhood's extract: MdV homes on its buildings
    yield w
    _engine(w).dispose()


@pytest.fixture(scope="module")
def homes() -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buildings = read_osm(shared("osm", EXTRACT)).buildings
    points = buildings.geometry.representative_point()
    return gpd.GeoDataFrame(
        {FOOD: [5.0] * len(points)}, geometry=points, crs=buildings.crs, index=buildings.index
    )


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.drop(columns=["plant"], errors="ignore").to_csv(index=False).encode()


def _engine(w: World) -> Engine:
    engine: Engine = w.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def _diagnostic(w: World, hood: str = "A") -> int:
    r = w.client.post(
        f"/neighbourhoods/{w.hoods[hood]}/diagnostics",
        json={"year": next(_years)},
        headers=w.headers("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _post(w: World, diag: int, data: bytes, kind: str | None, who: str = "pilotA") -> Any:
    params = {} if kind is None else {"kind": kind}
    return w.client.post(
        f"/diagnostics/{diag}/uploads", content=data, params=params, headers=w.headers(who)
    )


def _frame(w: World, diag: int, kind: str) -> pd.DataFrame:
    with store.session_scope(_engine(w)) as s:
        return ingest.survey_frame(s, diag, kind)


def _listed(w: World, diag: int) -> list[UploadItem]:
    r = w.client.get(f"/diagnostics/{diag}/uploads", headers=w.headers("pilotA"))
    assert r.status_code == 200, r.text
    return [UploadItem.model_validate(item) for item in r.json()]


def test_the_three_surveys_of_one_demo_go_through_the_worker(oworld, homes) -> None:
    w = oworld
    assert w.client.app.state.settings.survey_workers > 0
    diag = _diagnostic(w)
    su = su_csv(40, seed=3, prefix="SYN-")
    mdv = synthetic_mdv(homes, n=50, n_planted=0, seed=5)
    ngc = synthetic_ngc(su, seed=2)
    r = _post(w, diag, su, None)
    assert r.status_code == 201, r.text
    r = _post(w, diag, _csv(mdv), "mdv")
    assert r.status_code == 201, r.text
    out = UploadOut.model_validate(r.json())
    assert out.created and out.synthetic and out.n_stored == 50
    r = _post(w, diag, _csv(ngc), "ngc")
    assert r.status_code == 201, r.text
    assert [(u.kind, u.n_stored) for u in _listed(w, diag)] == [
        ("su", 40),
        ("mdv", 50),
        ("ngc", 40),
    ]
    # MdV homes on the extract's buildings (read in the worker), NGC rows on the SU pseudonyms
    frame = _frame(w, diag, "mdv")
    assert list(frame["building_key"]) == list(mdv["building_key"])
    assert frame["cell_id"].str.startswith("CRS3035RES200m").all()
    with store.session_scope(_engine(w)) as s:
        respondents = ingest.respondents_frame(s, diag)
    assert set(_frame(w, diag, "ngc").index) == set(respondents.index)


def test_the_same_file_again_and_as_another_survey(oworld, homes) -> None:
    w = oworld
    diag = _diagnostic(w)
    data = _csv(synthetic_mdv(homes, n=20, n_planted=0, seed=6))
    assert _post(w, diag, data, "mdv").status_code == 201
    again = _post(w, diag, data, "mdv")
    assert again.status_code == 200 and again.json()["created"] is False
    other = _post(w, diag, data, "ngc")
    assert other.status_code == 409
    assert "MdV/EdV" in other.json()["detail"]
    assert _post(w, diag, data, "edv").status_code == 422
    assert len(_frame(w, diag, "mdv")) == 20


def test_a_file_that_is_not_of_the_survey_is_refused_in_words(oworld) -> None:
    w = oworld
    diag = _diagnostic(w)
    r = _post(w, diag, su_csv(20, seed=1, prefix="SYN-"), "mdv")
    assert r.status_code == 422, r.text
    assert "Traceback" not in r.text and "/tmp" not in r.text
    r = _post(w, diag, b"id\tfoo\nSYN-1\tbar\n", "ngc")
    assert r.status_code == 422
    assert _frame(w, diag, "mdv").empty and _frame(w, diag, "ngc").empty


def test_replace_and_delete_an_mdv_upload(oworld, homes) -> None:
    w = oworld
    diag = _diagnostic(w)
    first = _post(w, diag, _csv(synthetic_mdv(homes, n=20, n_planted=0, seed=7)), "mdv")
    upload = first.json()["upload_id"]
    newer = _csv(synthetic_mdv(homes, n=15, n_planted=0, seed=8))
    # another survey in its place is refused, and nothing changes
    r = w.client.put(
        f"/diagnostics/{diag}/uploads/{upload}",
        content=newer,
        params={"kind": "ngc"},
        headers=w.headers("pilotA"),
    )
    assert r.status_code == 409 and "même enquête" in r.json()["detail"]
    assert len(_frame(w, diag, "mdv")) == 20
    # the replaced upload's survey by default
    r = w.client.put(
        f"/diagnostics/{diag}/uploads/{upload}", content=newer, headers=w.headers("pilotA")
    )
    assert r.status_code == 200, r.text
    new_id = r.json()["upload_id"]
    assert new_id != upload and len(_frame(w, diag, "mdv")) == 15
    assert [u.kind for u in _listed(w, diag)] == ["mdv"]
    r = w.client.delete(f"/diagnostics/{diag}/uploads/{new_id}", headers=w.headers("pilotA"))
    assert r.status_code == 204
    assert _frame(w, diag, "mdv").empty and _listed(w, diag) == []


def test_other_teams_and_staff_may_not_upload(oworld, homes) -> None:
    w = oworld
    diag = _diagnostic(w)
    data = _csv(synthetic_mdv(homes, n=10, n_planted=0, seed=9))
    assert _post(w, diag, data, "mdv", who="pilotB").status_code in (403, 404)
    assert _post(w, diag, data, "mdv", who="staff").status_code == 403
    assert _post(w, diag, data, "mdv", who="nobody").status_code in (401, 404)
    assert _frame(w, diag, "mdv").empty


def test_an_mdv_file_past_its_time_is_killed_and_nothing_stored(
    oworld, homes, monkeypatch, tmp_path: Path
) -> None:
    from tests.api._gate import gated_survey_job

    w = oworld
    diag = _diagnostic(w)
    gate = tmp_path / "never"  # never opened: the worker waits past its time

    async def patched_run(func: Any, *args: Any, limits: Any, **kwargs: Any) -> Any:
        assert func is api.routers.uploads.ingest_other_job  # the other surveys' job
        return await run_in_worker(gated_survey_job, str(gate), *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.uploads, "run_in_worker", patched_run)
    monkeypatch.setattr(w.client.app.state.settings, "survey_timeout_s", 1.0)
    r = _post(w, diag, _csv(synthetic_mdv(homes, n=10, n_planted=0, seed=10)), "mdv")
    assert r.status_code == 422, r.text
    assert "n'a pas pu être lu en 1 s" in r.json()["detail"]
    assert _frame(w, diag, "mdv").empty


def test_the_su_path_is_unchanged_and_the_kind_is_documented(oworld) -> None:
    w = oworld
    diag = _diagnostic(w)
    r = _post(w, diag, su_csv(20, seed=4, prefix="Q"), None)
    assert r.status_code == 201
    assert [u.kind for u in _listed(w, diag)] == ["su"]
    spec = w.client.get("/openapi.json").json()
    post = spec["paths"]["/diagnostics/{diagnostic_id}/uploads"]["post"]
    (kind,) = [p for p in post["parameters"] if p["name"] == "kind"]
    assert kind["in"] == "query" and "NosGestesClimat" in kind["description"]
    assert kind["schema"]["enum"] == ["su", "mdv", "ngc"] and kind["schema"]["default"] == "su"
    put = spec["paths"]["/diagnostics/{diagnostic_id}/uploads/{upload_id}"]["put"]
    assert any(p["name"] == "kind" for p in put["parameters"])
