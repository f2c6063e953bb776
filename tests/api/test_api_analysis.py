"""The analysis job end to end, on both backends: extract + survey → run → indicators → /national.

Also: progress in steps, explicit failure reasons (French and English), and a failed job leaves the
previous profiles and indicators intact (one transaction).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from api.models import FeatureCollection, JobOut, NationalRow, ProfilesOut
from qet_geo.constraints.indicators import ZONE_INDICATORS
from qet_geo.store import jobs as service
from qet_geo.store import models as store
from qet_geo.surveys.schema import USAGES
from tests.api.conftest import BACKENDS, LORIENT_TERRITORY, _database_url, build_world
from tests.api.factories import su_csv
from tests.api.test_api_layers import NANTES_TERRITORY
from tests.conftest import shared
from tests.maps.test_maps import feature_collections, number, readable, tooltip_pairs


@pytest.fixture(scope="module", params=BACKENDS)
def analysed(request, tmp_path_factory):
    """Two neighbourhoods with territory, extract and answers (Lorient, Nantes), analysed.

    Built once per backend: each test leaves the two neighbourhoods analysed as it found them.
    """
    tmp = tmp_path_factory.mktemp(f"analysed-{request.param}")
    w = build_world(_database_url(request, tmp), osm_dir=tmp / "osm")
    c = w.client
    made = {}
    for key, territory, osm, homes in (
        ("L", LORIENT_TERRITORY, "lorient_centre.osm.pbf", ((-3.360, 47.749, 30), (-3.358, 47.752, 20))),
        ("N", NANTES_TERRITORY, "nantes_hypercentre.osm.pbf", ((-1.552, 47.212, 40),)),
    ):  # fmt: skip
        hood = c.post(
            "/neighbourhoods",
            json={"name": f"Quartier {key}", "territory": territory},
            headers=w.headers("staff"),
        ).json()["id"]
        with store.session_scope(c.app.state.engine) as s:  # type: ignore[attr-defined]
            w.tokens[f"pilot{key}"] = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
        ph = w.headers(f"pilot{key}")
        r = c.put(
            f"/neighbourhoods/{hood}/osm-extract",
            content=shared("osm", osm).read_bytes(),
            headers={**ph, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text
        diag = c.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=ph).json()
        n = sum(k for _, _, k in homes)
        data = su_csv(n, seed=len(key) + ord(key), prefix=key, clusters=homes)
        assert (
            c.post(f"/diagnostics/{diag['id']}/uploads", content=data, headers=ph).status_code
            == 201
        )
        assert c.post(f"/diagnostics/{diag['id']}/run", headers=ph).status_code == 202
        # the pilot team publishes: the release holds the constraint means of the analysis
        r = c.post(f"/diagnostics/{diag['id']}/releases", headers=ph)
        assert r.status_code == 201, r.text
        made[key] = (hood, diag["id"])
    w.hoods.update({k: v[0] for k, v in made.items()})
    w.diags.update({k: v[1] for k, v in made.items()})
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _indicators(w, hood) -> list[tuple[str, str, float, float]]:
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(
                store.Indicator.zone_id,
                store.Indicator.name,
                store.Indicator.value,
                store.Indicator.population,
            )
            .where(store.Indicator.neighbourhood_id == hood)
            .order_by(store.Indicator.zone_id, store.Indicator.name)
        ).all()
    return [tuple(r) for r in rows]


def _job(w, key, **headers) -> JobOut:
    r = w.client.get(f"/diagnostics/{w.diags[key]}/job", headers={**w.headers("admin"), **headers})
    return JobOut.model_validate(r.json())


def test_end_to_end_indicators_and_national(analysed):
    w = analysed
    for key in ("L", "N"):
        job = _job(w, key)
        assert (job.status, job.progress, job.step, job.message) == ("done", 1.0, None, None)
        rows = _indicators(w, w.hoods[key])
        assert rows, f"no indicator stored for {key}"
        names = {r[1] for r in rows}
        assert (
            {"score_15min", "intersections_km2", "food_shop_min"} <= names <= set(ZONE_INDICATORS)
        )
        zones = {r[0] for r in rows}
        assert all(z.startswith("CRS3035RES200mN") for z in zones)  # as respondents' cell_id
        assert all(r[3] > 0 for r in rows)  # population weight of the cell
        assert all(0 <= r[2] <= 1 for r in rows if r[1] == "score_15min")
    assert len({r[0] for r in _indicators(w, w.hoods["L"])}) > 10  # 0.79 × 1.28 km of 200 m cells

    table = {
        r.neighbourhood_id: r
        for r in (
            NationalRow.model_validate(x)
            for x in w.client.get("/national", headers=w.headers("staff")).json()
        )
    }
    for key in ("L", "N"):
        row = table[w.hoods[key]]
        rows = [r for r in _indicators(w, w.hoods[key]) if r[1] == "score_15min"]
        values = np.array([r[2] for r in rows])
        pops = np.array([r[3] for r in rows])
        # the national figure is the population-weighted mean of the cells
        assert row.constraints["score_15min"] == pytest.approx(
            float((values * pops).sum() / pops.sum()), abs=1e-3
        )
        assert row.constraints["intersections_km2"] is not None
    # a typology on constraints: two neighbourhoods with indicators, two types; the others none
    assert {table[w.hoods["L"]].type, table[w.hoods["N"]].type} == {0, 1}
    assert table[w.hoods["A"]].type == -1
    # the public sees none of it (both neighbourhoods are unpublished)
    public = {r["neighbourhood_id"] for r in w.client.get("/national").json()}
    assert w.hoods["L"] not in public and w.hoods["N"] not in public


def test_constraint_indicators_per_cell_as_paged_geojson(analysed):
    w = analysed
    hood = w.hoods["L"]
    url = f"/neighbourhoods/{hood}/indicators"
    stored = {(z, n): v for z, n, v, _ in _indicators(w, hood)}
    r = w.client.get(url, params={"limit": 1000}, headers=w.headers("pilotL"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    page = FeatureCollection.model_validate(r.json())
    cells = {f.id for f in page.features}
    assert cells == {z for z, _ in stored} and page.numberMatched == len(cells)
    for f in page.features:
        assert f.geometry is not None and f.geometry["type"] == "Polygon"
        lon, lat = np.asarray(f.geometry["coordinates"][0]).mean(axis=0)
        assert -3.5 < lon < -3.3 and 47.7 < lat < 47.8  # Lorient, in WGS84
        for name, value in f.properties.items():
            assert value == pytest.approx(stored[(f.id, name)], abs=1e-3)
    # paged: a clamped limit and a next link; a bbox keeps the cells it meets
    first = w.client.get(url, params={"limit": 5}, headers=w.headers("pilotL")).json()
    assert first["numberReturned"] == 5 and first["links"][0]["rel"] == "next"
    clamped = w.client.get(url, params={"limit": 10**6}, headers=w.headers("pilotL")).json()
    assert clamped["numberReturned"] == len(cells)  # max_limit (1 000) exceeds the cells
    some = page.features[0].geometry["coordinates"][0]
    lons, lats = [p[0] for p in some], [p[1] for p in some]
    box = f"{min(lons)},{min(lats)},{max(lons)},{max(lats)}"
    near = w.client.get(url, params={"bbox": box}, headers=w.headers("pilotL")).json()
    assert 1 <= near["numberMatched"] <= 9 and page.features[0].id in {
        f["id"] for f in near["features"]
    }
    # the neighbourhood's readers only: another pilot team and the public get a 404
    assert w.client.get(url, headers=w.headers("pilotN")).status_code == 404
    assert w.client.get(url).status_code == 404
    assert w.client.get(url, headers=w.headers("staff")).status_code == 200
    # a neighbourhood never analysed with an extract: an empty page, not an error
    empty = w.client.get(f"/neighbourhoods/{w.hoods['A']}/indicators", headers=w.headers("admin"))
    assert empty.status_code == 200 and empty.json()["numberMatched"] == 0


def test_national_map_gives_the_constraints_and_the_type(analysed):
    w = analysed
    rows = {r["name"]: r for r in w.client.get("/national", headers=w.headers("staff")).json()}
    html = w.client.get("/national/map", headers=w.headers("staff")).text
    tips = {
        tip["Quartier"]: tip
        for collection in feature_collections(html)
        for feature in collection["features"]
        if (tip := tooltip_pairs(collection, feature))
    }
    assert {"Quartier L", "Quartier N"} <= set(tips)
    score = "Score « ville du quart d'heure » (% des catégories essentielles à 15 minutes)"
    for name in ("Quartier L", "Quartier N"):
        row, tip = rows[name], tips[name]
        assert number(tip[score]) == round(100 * row["constraints"]["score_15min"])
        assert tip["Carrefours par km² à moins de 500 m"].endswith("/km²")
        assert tip["Type de quartier (typologie des contraintes)"] == str(row["type"])
    en = w.client.get("/national/map", headers={**w.headers("staff"), "Accept-Language": "en"}).text
    assert "15-minute city score" in readable(en) and "Neighbourhood type" in readable(en)


def test_own_profiles_are_exposed(analysed):
    w = analysed
    out = ProfilesOut.model_validate(
        w.client.get(f"/diagnostics/{w.diags['L']}/profiles", headers=w.headers("pilotL")).json()
    )
    assert out.published and out.reference == "demo"
    assert out.own_profiles, "the analysis stored no profile"
    assert sum(p.share or 0 for p in out.own_profiles) <= 1.0 + 1e-9
    for p in out.own_profiles:
        assert set(p.centre_levels) == set(USAGES)
        assert all(1.0 <= v <= 3.0 for v in p.centre_levels.values())
        assert (p.share or 0) * 50 >= 11  # 50 respondents: every stored profile has 11 or more
    # another pilot team cannot see them
    r = w.client.get(f"/diagnostics/{w.diags['L']}/profiles", headers=w.headers("pilotN"))
    assert r.status_code == 404


def _job_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the service's analysis job in this process (it runs in a worker process otherwise),
    so that the job's own steps can be spied on or broken here. The worker is tested on its
    own in ``tests/api/test_analysis_worker.py``."""
    import api.routers.jobs as job_routes

    async def here(func, *args, limits, **kwargs):  # type: ignore[no-untyped-def]
        return func(*args, **kwargs)

    monkeypatch.setattr(job_routes, "run_in_worker", here)


def test_progress_is_reported_in_steps(analysed, monkeypatch):
    w = analysed
    seen: list[tuple[str | None, float | None]] = []
    original = service._set_state

    def spy(engine, diagnostic_id, **values):
        seen.append((values.get("job_step"), values.get("progress")))
        original(engine, diagnostic_id, **values)

    _job_in_this_process(monkeypatch)
    monkeypatch.setattr(service, "_set_state", spy)
    assert (
        w.client.post(f"/diagnostics/{w.diags['L']}/run", headers=w.headers("admin")).status_code
        == 202
    )
    steps = [s for s, _ in seen if s is not None]
    assert steps == list(service.ANALYSIS_STEPS)
    progress = [p for s, p in seen if s is not None]
    assert progress == sorted(progress) and progress[0] == 0.0 and progress[-1] < 1.0
    assert _job(w, "L").status == "done"


def test_a_failed_job_keeps_the_previous_results(analysed, monkeypatch):
    w = analysed
    hood, diag = w.hoods["L"], w.diags["L"]
    before = _indicators(w, hood)
    own = w.client.get(f"/diagnostics/{diag}/profiles", headers=w.headers("admin")).json()
    own_before = own["own_profiles"]

    # 1. the engine breaks mid-way: failed, generic reason, nothing written
    def broken(*args, **kwargs):
        raise RuntimeError("boom at /secret/path")

    _job_in_this_process(monkeypatch)
    monkeypatch.setattr("qet_geo.constraints.access.neighbourhood_access", broken)
    assert w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotL")).status_code == 202
    job = _job(w, "L")
    assert job.status == "failed" and job.code == "InternalError" and job.step == "access"
    assert "erreur interne" in (job.message or "") and "secret" not in (job.message or "")
    assert "internal error" in (_job(w, "L", **{"Accept-Language": "en"}).message or "")
    assert _indicators(w, hood) == before
    monkeypatch.undo()

    # 2. the store transaction itself fails half-way (a duplicate row after the delete):
    #    rolled back whole, the previous indicators and profiles are intact
    original = service._indicator_rows

    def doubled(neighbourhood_id, cells):
        rows = original(neighbourhood_id, cells)
        first = rows[0]
        return [
            *rows,
            store.Indicator(
                neighbourhood_id=first.neighbourhood_id,
                zone_id=first.zone_id,
                name=first.name,
                value=first.value,
                population=first.population,
            ),
        ]

    _job_in_this_process(monkeypatch)
    monkeypatch.setattr(service, "_indicator_rows", doubled)
    assert w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotL")).status_code == 202
    job = _job(w, "L")
    assert job.status == "failed" and job.step == "store"
    assert _indicators(w, hood) == before
    own = w.client.get(f"/diagnostics/{diag}/profiles", headers=w.headers("admin")).json()
    assert own["own_profiles"] == own_before
    monkeypatch.undo()

    # 3. the extract file vanished: an explicit reason, in French and in English
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        name = s.get(store.Neighbourhood, hood).osm_extract
    osm_dir = Path(w.client.app.state.settings.osm_dir)  # type: ignore[attr-defined]
    (osm_dir / name).rename(osm_dir / "moved.bin")
    try:
        r = w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotL"))
        assert r.status_code == 202
        job = _job(w, "L")
        assert job.status == "failed" and job.code == "InputFileError"
        assert "n'est pas dans le dossier OSM" in (job.message or "")
        en = _job(w, "L", **{"Accept-Language": "en"}).message or ""
        assert "is not in the OSM folder" in en
        assert _indicators(w, hood) == before
    finally:
        (osm_dir / "moved.bin").rename(osm_dir / name)
    # and a good run afterwards succeeds again, with the same figures
    assert w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotL")).status_code == 202
    assert _job(w, "L").status == "done" and _indicators(w, hood) == before


def test_without_extract_profiles_only_and_a_note(analysed):
    w = analysed
    c = w.client
    assert (
        c.post(f"/diagnostics/{w.diags['A']}/run", headers=w.headers("pilotA")).status_code == 202
    )
    job = _job(w, "A")
    assert job.status == "done" and job.code == "NoExtract"
    assert "pas d'extrait OSM" in (job.message or "")
    assert _indicators(w, w.hoods["A"]) == []
    # too few answers (C: 8): failed, with the statistical-secrecy reason
    assert c.post(f"/diagnostics/{w.diags['C']}/run", headers=w.headers("admin")).status_code == 202
    job = _job(w, "C")
    assert job.status == "failed" and job.code == "DisclosureError"
    assert "secret statistique" in (job.message or "")


def test_extract_without_territory_fails_explicitly(empty_database, tmp_path):
    """A neighbourhood pointed at an extract by name but given no territory: a clear failure."""
    osm_dir = shared("osm")
    w = build_world(empty_database, osm_dir=osm_dir)
    c = w.client
    hood = c.post(
        "/neighbourhoods",
        json={"name": "Sans contour", "osm_extract": "lorient_centre.osm.pbf"},
        headers=w.headers("admin"),
    ).json()["id"]
    diag = c.post(
        f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=w.headers("admin")
    ).json()["id"]
    c.post(f"/diagnostics/{diag}/uploads", content=su_csv(20, seed=4), headers=w.headers("admin"))
    assert c.post(f"/diagnostics/{diag}/run", headers=w.headers("admin")).status_code == 202
    job = JobOut.model_validate(
        c.get(f"/diagnostics/{diag}/job", headers=w.headers("admin")).json()
    )
    assert job.status == "failed" and "pas de territoire" in (job.message or "")
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]
