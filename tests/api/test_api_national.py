"""National comparison and before/after endpoints."""

from __future__ import annotations

import json

import pytest

from api.models import BeforeAfterOut, NationalRow
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY, build_world
from tests.api.factories import su_csv
from tests.api.test_api_layers import NANTES_TERRITORY
from tests.maps.test_maps import (
    assert_offline,
    feature_collections,
    number,
    readable,
    tooltip_pairs,
)


def test_national_comparison_by_role(world):
    c = world.client
    staff = [
        NationalRow.model_validate(r)
        for r in c.get("/national", headers=world.headers("staff")).json()
    ]
    by_id = {r.neighbourhood_id: r for r in staff}
    assert {world.hoods["A"], world.hoods["B"], world.hoods["C"]} <= set(by_id)
    a = by_id[world.hoods["A"]]
    assert a.n_respondents >= 11 and a.mean_kgco2e["total"] and a.rank_total_kgco2e
    small = by_id[world.hoods["C"]]  # 8 respondents: no figure
    assert small.n_respondents == 0 and small.mean_kgco2e["total"] is None
    assert small.rank_total_kgco2e is None
    public = {r["neighbourhood_id"] for r in c.get("/national").json()}
    assert world.hoods["A"] not in public and world.hoods["B"] in public


def test_before_after(world):
    c = world.client
    h = world.headers("admin")
    hood = c.post("/neighbourhoods", json={"name": "Avant-après"}, headers=h).json()["id"]
    with store.session_scope(world.client.app.state.engine) as s:  # type: ignore[attr-defined]
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
    ph = {"Authorization": f"Bearer {token}"}
    for year, seed in ((0, 31), (1, 32)):
        d = c.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": year}, headers=ph).json()[
            "id"
        ]
        r = c.post(
            f"/diagnostics/{d}/uploads",
            content=su_csv(30, seed=seed, prefix=f"Y{year}"),
            headers=ph,
        )
        assert r.status_code == 201
    out = BeforeAfterOut.model_validate(
        c.get(f"/neighbourhoods/{hood}/before-after?before=0&after=1", headers=ph).json()
    )
    total = next(d for d in out.deltas if d.value == "total_kgco2e")
    assert total.n_before == total.n_after == 30
    assert total.ci_low <= total.delta <= total.ci_high
    assert (
        c.get(f"/neighbourhoods/{hood}/before-after?before=0&after=5", headers=ph).status_code
        == 404
    )
    # another pilot team cannot see it
    assert (
        c.get(f"/neighbourhoods/{hood}/before-after", headers=world.headers("pilotA")).status_code
        == 404
    )


def test_releases_of_the_old_near_scale_are_never_compared(world):
    """A release published before migration 0012 (NEAR's table) is listed, not ranked, and a
    before/after between it and a NosGestesClimat release is refused, saying what to do."""
    c = world.client
    h = world.headers("admin")
    hood = c.post("/neighbourhoods", json={"name": "Deux échelles"}, headers=h).json()["id"]
    for year, seed in ((0, 41), (1, 42)):
        d = c.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": year}, headers=h).json()[
            "id"
        ]
        sent = c.post(
            f"/diagnostics/{d}/uploads", content=su_csv(30, seed=seed, prefix=f"Z{year}"), headers=h
        )
        assert sent.status_code == 201, sent.text
        published = c.post(f"/diagnostics/{d}/releases", headers=h)
        assert published.status_code == 201, published.text
    staff = world.headers("staff")
    ok = c.get(f"/neighbourhoods/{hood}/before-after?before=0&after=1", headers=staff)
    assert ok.status_code == 200, ok.text
    assert ok.json()["release_before"] == 1
    rows = {r["neighbourhood_id"]: r for r in c.get("/national", headers=staff).json()}
    assert rows[hood]["compared"] and rows[hood]["scale"] == "ngc"
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        latest = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood, year=1).one()
        release = s.query(store.Release).filter_by(diagnostic_id=latest.id).one()
        # as migration 0012 labels a release published before it
        release.summary = {**release.summary, "scale": "near"}
    c.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
    refused = c.get(f"/neighbourhoods/{hood}/before-after?before=0&after=1", headers=staff)
    assert refused.status_code == 422
    detail = json.dumps(refused.json(), ensure_ascii=False)
    assert "NEAR" in detail and "publier à nouveau" in detail
    rows = {r["neighbourhood_id"]: r for r in c.get("/national", headers=staff).json()}
    assert not rows[hood]["compared"] and rows[hood]["scale"] == "near"
    assert rows[hood]["mean_kgco2e"] == {} and rows[hood]["rank_total_kgco2e"] is None
    a = rows[world.hoods["A"]]
    assert a["compared"] and a["scale"] == "ngc" and a["rank_total_kgco2e"]


# --------------------------------------------------------------------------------------------------
# the national map


@pytest.fixture
def placed(empty_database, tmp_path):
    """A fresh world where A (60 answers) and C (8) have a territory, B (40) has none."""
    w = build_world(empty_database, osm_dir=tmp_path / "osm")
    h = w.headers("admin")
    for key, territory in (("A", LORIENT_TERRITORY), ("C", NANTES_TERRITORY)):
        r = w.client.put(f"/neighbourhoods/{w.hoods[key]}/territory", json=territory, headers=h)
        assert r.status_code == 200, r.text
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _tips(html: str) -> list[dict[str, str]]:
    """Every tooltip of the page (outlines and markers), as label -> text."""
    return [
        tooltip_pairs(collection, feature)
        for collection in feature_collections(html)
        for feature in collection["features"]
    ]


def test_national_map_shows_the_national_rows_on_their_territories(placed):
    w = placed
    c = w.client
    h = w.headers("staff")
    r = c.get("/national/map", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert_offline(html)
    table = {row["name"]: row for row in c.get("/national", headers=h).json()}
    tips = _tips(html)
    by_name: dict[str, list[dict[str, str]]] = {}
    for tip in tips:
        by_name.setdefault(tip["Quartier"], []).append(tip)
    # A and C drawn (an outline and a marker each); B listed as left out, never drawn
    assert set(by_name) == {"Quartier A", "Quartier C (petit)"}
    assert all(len(v) == 2 for v in by_name.values())
    text = readable(html)
    assert "Hors carte, faute de territoire (1) : Quartier B." in text
    a = by_name["Quartier A"][0]
    row = table["Quartier A"]
    assert number(a["Empreinte moyenne totale (t CO2e par an et par personne)"]) == round(
        row["mean_kgco2e"]["total"] / 1000, 1
    )
    assert a["Répondants (nombre)"] == "60"
    assert a["Rang de l'empreinte totale (1 = la plus faible)"] == str(row["rank_total_kgco2e"])
    assert "Type de quartier (typologie des contraintes)" in a
    mix = {k: v for k, v in a.items() if k.startswith("Part du profil")}
    assert len(mix) == len(row["profile_mix"]) and all(v.endswith("%") for v in mix.values())
    # coloured by the footprint, with the statistical-secrecy note (C has 8 respondents)
    assert "Empreinte moyenne totale (t CO2e par an et par personne)" in text
    assert "Moins de 11 répondants : chiffres non publiés (secret statistique)." in text


def test_national_map_publishes_no_figure_of_fewer_than_11_respondents(placed):
    w = placed
    html = w.client.get("/national/map", headers=w.headers("admin")).text
    small = [t for t in _tips(html) if t["Quartier"] == "Quartier C (petit)"]
    assert len(small) == 2
    for tip in small:  # the name and the reason only
        assert set(tip) == {"Quartier", "Chiffres"} and "moins de 11" in tip["Chiffres"]
    # C's real figures, computed from the store, appear nowhere in its features
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        frame = ingest.respondents_frame(s, w.diags["C"])
    assert len(frame) == 8
    secret = f"{frame['total_kgco2e'].mean() / 1000:.1f}".replace(".", ",")
    for collection in feature_collections(html):
        for feature in collection["features"]:
            if tooltip_pairs(collection, feature).get("Quartier") == "Quartier C (petit)":
                assert secret not in json.dumps(feature["properties"], ensure_ascii=False)
                assert "8" not in "".join(tooltip_pairs(collection, feature).values())


def test_national_map_in_english_and_for_the_public(placed):
    w = placed
    c = w.client
    r = c.get("/national/map", headers={**w.headers("staff"), "Accept-Language": "en"})
    assert r.status_code == 200
    text = readable(r.text)
    names = {t["Neighbourhood"] for t in _tips(r.text)}
    assert names == {"Quartier A", "Quartier C (petit)"}
    assert "Not on the map, for want of a territory (1): Quartier B." in text
    assert "Mean total footprint (t CO2e per person and year)" in text
    assert "Fewer than 11 respondents: figures not published" in text
    assert "Network neighbourhoods (2)" in text and "Hors carte" not in text
    # the public sees the published neighbourhoods only (B and C): A is neither drawn nor named
    public = c.get("/national/map")
    assert public.status_code == 200
    assert {t["Quartier"] for t in _tips(public.text)} == {"Quartier C (petit)"}
    assert "Quartier A" not in readable(public.text)
    assert "Hors carte, faute de territoire (1) : Quartier B." in readable(public.text)


def test_national_map_with_nothing_to_place(empty_database, tmp_path):
    """Errors of the HTML route are JSON, French or English; names are escaped."""
    w = build_world(empty_database, osm_dir=tmp_path / "osm")
    c = w.client
    r = c.get("/national/map", headers=w.headers("admin"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert r.json()["code"] == "EmptyDataError" and "aucun des 3 quartiers" in r.json()["detail"]
    en = c.get("/national/map", headers={**w.headers("admin"), "Accept-Language": "en"})
    assert "none of the 3 neighbourhoods" in en.json()["detail"]
    assert c.get("/national/map", headers={"Authorization": "Bearer forged"}).status_code == 401
    engine = c.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="<img src=x onerror=alert(1)> & Cie")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    ingest.ingest_su(engine, diag_id, su_csv(12, seed=8))
    # written behind the service's back: its national look-up would see it within a second
    c.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
    c.put(
        f"/neighbourhoods/{w.hoods['A']}/territory",
        json=LORIENT_TERRITORY,
        headers=w.headers("admin"),
    )
    html = c.get("/national/map", headers=w.headers("admin")).text
    assert "<img src=x" not in readable(html)
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; Cie" in readable(html)
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_national_is_one_query_cached_by_content_across_processes(empty_database, monkeypatch):
    """GET /national reads the latest releases in one query, at most once per REFRESH_S, and
    computes the comparison once per content: another server process's release is seen."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from api import _aggregates
    from api.main import create_app
    from api.routers import national as national_router

    w = build_world(empty_database)
    first = w.client
    second = TestClient(create_app(first.app.state.settings))  # type: ignore[attr-defined]
    engine = first.app.state.engine  # type: ignore[attr-defined]
    statements: list[str] = []
    built: list[int] = []
    real_rows = national_router._released_rows

    def rows(released):
        built.append(len(released))
        return real_rows(released)

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    monkeypatch.setattr(national_router, "_released_rows", rows)
    monkeypatch.setattr(_aggregates, "REFRESH_S", 3600.0)
    event.listen(engine, "before_cursor_execute", count)
    try:
        one = first.get("/national").json()  # the public: no token to look up
        assert len(statements) == 1 and "releases" in statements[0]
        assert first.get("/national").json() == one
        assert len(statements) == 1 and built == [2]  # served from the cache
        # the store is read again at every request now; the comparison only when it changed
        monkeypatch.setattr(_aggregates, "REFRESH_S", 0.0)
        first.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
        assert first.get("/national").json() == one
        assert len(statements) == 2 and built == [2]
        # another process publishes a new release of B (11 more answers)
        h = w.headers("pilotB")
        more = su_csv(11, seed=40, prefix="BB", clusters=((-3.37, 47.748, 11),))
        assert (
            second.post(f"/diagnostics/{w.diags['B']}/uploads", content=more, headers=h).status_code
            == 201
        )
        assert second.post(f"/diagnostics/{w.diags['B']}/releases", headers=h).status_code == 201
        rows_b = {r["neighbourhood_id"]: r for r in first.get("/national").json()}
        assert rows_b[w.hoods["B"]]["n_respondents"] == 51 and built == [2, 2]
    finally:
        event.remove(engine, "before_cursor_execute", count)
        second.app.state.engine.dispose()  # type: ignore[attr-defined]
        engine.dispose()
