"""National reference profiles: fitted on the network's pooled answers, stored, used everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.models import NationalProfilesOut, ProfilesOut
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.conftest import build_world
from tests.api.factories import su_csv


@pytest.fixture
def fresh(empty_database, tmp_path):
    w = build_world(empty_database, osm_dir=tmp_path / "osm")
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("role", "get", "post"),
    [
        ("admin", 200, None),  # fitting changes the world: see the test on a fresh store
        ("staff", 200, None),
        ("pilotA", 200, 403),
        ("pilotB", 200, 403),
        ("public", 403, 403),
        ("forged", 401, 401),
    ],
)
def test_roles(world, role, get, post):
    h = {"Authorization": "Bearer forged"} if role == "forged" else world.headers(role)
    assert world.client.get("/national/profiles", headers=h).status_code == get
    if post is not None:
        r = world.client.post("/national/profiles", headers=h)
        assert r.status_code == post, r.text
        if post == 403:
            assert "rôle" in r.json()["detail"]


def test_fit_store_and_use_the_national_profiles(fresh):
    w = fresh
    c = w.client
    engine = c.app.state.engine  # type: ignore[attr-defined]
    before = NationalProfilesOut.model_validate(
        c.get("/national/profiles", headers=w.headers("pilotA")).json()
    )
    assert before.profiles == []
    r = c.post("/national/profiles", headers=w.headers("staff"))
    assert r.status_code == 200, r.text
    out = NationalProfilesOut.model_validate(r.json())
    # A (60) and B (40) are pooled; C (8 answers) is too small to weigh like a neighbourhood
    assert out.n_neighbourhoods == 2 and out.n_answers == 100
    assert out.n_reassigned == 108  # every stored respondent, C included, gets a national profile
    assert out.profiles and sum(p.share or 0 for p in out.profiles) == pytest.approx(1.0, abs=0.02)
    with store.session_scope(engine) as s:
        rows = s.scalars(select(store.Profile).where(store.Profile.scope == "national")).all()
        assert rows and all(p.diagnostic_id is None for p in rows)
        numbers = {p.number for p in rows}
        assigned = set(s.scalars(select(store.Respondent.profile).distinct()))
        assert assigned <= numbers
    got = NationalProfilesOut.model_validate(
        c.get("/national/profiles", headers=w.headers("pilotB")).json()
    )
    assert [p.number for p in got.profiles] == [p.number for p in out.profiles]
    # the diagnostic's shares now speak of the national profiles
    prof = ProfilesOut.model_validate(
        c.get(f"/diagnostics/{w.diags['A']}/profiles", headers=w.headers("pilotA")).json()
    )
    assert prof.reference == "national" and prof.published
    assert {int(k) for k in prof.shares} <= numbers
    # a new upload is given national profiles at once
    diag = c.post(
        f"/neighbourhoods/{w.hoods['B']}/diagnostics", json={"year": 1}, headers=w.headers("pilotB")
    ).json()["id"]
    c.post(f"/diagnostics/{diag}/uploads", content=su_csv(20, seed=99), headers=w.headers("pilotB"))
    with store.session_scope(engine) as s:
        new = set(
            s.scalars(
                select(store.Respondent.profile).where(store.Respondent.diagnostic_id == diag)
            )
        )
    assert new <= numbers
    # fitting again (B's latest campaign is now year 1) replaces, never adds
    again = NationalProfilesOut.model_validate(
        c.post("/national/profiles", headers=w.headers("admin")).json()
    )
    assert again.n_answers == 80  # A's 60 and B's 20 of year 1
    with store.session_scope(engine) as s:
        count = s.scalar(
            select(func.count()).select_from(store.Profile).where(store.Profile.scope == "national")
        )
    assert count == len(again.profiles)


def test_no_neighbourhood_big_enough(empty_database):
    url = empty_database
    engine = store.make_engine(url)
    store.create_schema(engine)
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    client = TestClient(create_app(Settings(database_url=url)))
    with store.session_scope(client.app.state.engine) as s:  # type: ignore[attr-defined]
        token = store.create_token(s, role="admin")
        hood = store.add_neighbourhood(s, name="Petit")
        d = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(d)
        s.flush()
        diag = d.id
    ingest.ingest_su(engine, diag, su_csv(9, seed=3))
    r = client.post("/national/profiles", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and "11" in r.json()["detail"]
    engine.dispose()
    client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_another_server_process_notices_a_national_refit(fresh):
    """Two server processes on one store (qet serve --workers 2): a refit by one is seen by the
    other at its next read, not at the next upload."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    w = fresh
    first = w.client
    second = TestClient(create_app(first.app.state.settings))  # type: ignore[attr-defined]
    try:
        # the live figures (what the admin and the pilot teams read; the public reads releases)
        h = w.headers("admin")
        urls = [f"/diagnostics/{w.diags[k]}/profiles" for k in ("A", "B")]
        before = {url: first.get(url, headers=h).json() for url in urls}
        assert all(b["reference"] == "demo" and b["published"] for b in before.values())
        # the second process refits; the first one's cache still holds the demo shares
        assert second.post("/national/profiles", headers=h).status_code == 200
        for url in urls:
            seen = ProfilesOut.model_validate(first.get(url, headers=h).json())
            fresh_view = ProfilesOut.model_validate(second.get(url, headers=h).json())
            assert seen.reference == "national"
            assert seen.shares == fresh_view.shares and seen.shares != before[url]["shares"]
        # the footprints do not depend on profiles: still served, unchanged
        foot = f"/diagnostics/{w.diags['A']}/footprints"
        assert first.get(foot, headers=h).json() == second.get(foot, headers=h).json()
        # a second refit that changes nothing leaves the cache in place
        engine = first.app.state.engine  # type: ignore[attr-defined]
        from api._aggregates import _store_version

        with store.session_scope(engine) as s:
            version = _store_version(s, w.diags["A"])
        assert second.post("/national/profiles", headers=h).status_code == 200
        with store.session_scope(engine) as s:
            assert _store_version(s, w.diags["A"]) == version
    finally:
        second.app.state.engine.dispose()  # type: ignore[attr-defined]
