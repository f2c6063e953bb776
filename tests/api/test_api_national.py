"""National comparison and before/after endpoints."""

from __future__ import annotations

from api.models import BeforeAfterOut, NationalRow
from qet_geo import store
from tests.api.factories import su_csv


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
