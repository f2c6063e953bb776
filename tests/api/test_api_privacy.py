"""docs/privacy.md on every endpoint, with generated small groups: zero leaks."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import build_world
from tests.api.factories import su_csv

GET_ROUTES = [
    "/diagnostics/{diag}",
    "/diagnostics/{diag}/indicators",
    "/diagnostics/{diag}/indicators?limit=1000",
    "/diagnostics/{diag}/profiles",
    "/diagnostics/{diag}/footprints",
]
COORD = re.compile(r"-?\d+\.\d{5,}")


@pytest.mark.parametrize("role", ["admin", "staff", "public"])
def test_small_neighbourhood_publishes_nothing(world, role):
    """Rule 2: C has 8 respondents: no figure, for any role, on any route."""
    c = world.client
    h = world.headers(role)
    d = world.diags["C"]
    fc = c.get(f"/diagnostics/{d}/indicators", headers=h).json()
    assert fc["numberMatched"] == 0 and fc["features"] == []
    p = c.get(f"/diagnostics/{d}/profiles", headers=h).json()
    assert not p["published"] and p["shares"] == {} and p["n_respondents"] == 0
    f = c.get(f"/diagnostics/{d}/footprints", headers=h).json()
    assert not f["published"] and f["mean_kgco2e"] == {}


def test_small_groups_are_pooled_never_shown(world):
    """Rule 2: the 3 isolated homes of A are pooled; every cell has 11 or more respondents."""
    fc = world.client.get(
        f"/diagnostics/{world.diags['A']}/indicators?limit=1000", headers=world.headers("admin")
    ).json()
    counts = [f["properties"]["n_respondents"] for f in fc["features"]]
    assert counts and min(counts) >= 11
    # rule 4: the cells add up to the published total, so no remainder can be derived
    total = world.client.get(
        f"/diagnostics/{world.diags['A']}/footprints", headers=world.headers("admin")
    ).json()["n_respondents"]
    assert sum(counts) == total


def test_no_raw_location_or_id_leaves_the_service(world):
    """Rule 1: no coordinate, respondent id or building key in any body."""
    sent = su_csv(60, seed=10, prefix="A").decode().splitlines()[1:]
    coords = {v for line in sent for v in line.split("\t")[-2:]}
    ids = {line.split("\t")[0] for line in sent}
    for route in GET_ROUTES:
        for hood in ("A", "B"):
            body = world.client.get(
                route.format(diag=world.diags[hood]), headers=world.headers("admin")
            ).text
            assert not any(v in body for v in coords)
            assert not any(i in body for i in ids)
            assert "building_key" not in body and "pseudo_id" not in body and "cell_id" not in body


def test_dominant_profile_cells_are_not_published(tmp_path):
    """Rule 3: a cell where one profile is 100 % of respondents is merged away."""
    w = build_world(f"sqlite:///{tmp_path / 'dom.db'}")
    header = "id\tmeat_frequency\ttransportation_mode\tdigital_intensity\tpurchasing_strategy\tair_travel_frequency\theat_source\tlon\tlat"
    rows = [header]
    # 15 identical answers in one cell (one profile), 15 varied ones 1 km away
    for i in range(15):
        rows.append(f"S{i:03d}\t3\t3\t3\t3\t3\t3\t-3.3700\t47.7480")
    varied = (
        su_csv(15, seed=5, prefix="V", clusters=((-3.357, 47.748, 15),)).decode().splitlines()[1:]
    )
    data = ("\n".join(rows + varied) + "\n").encode()
    diag = w.client.post(
        f"/neighbourhoods/{w.hoods['A']}/diagnostics", json={"year": 3}, headers=w.headers("admin")
    ).json()["id"]
    r = w.client.post(f"/diagnostics/{diag}/uploads", content=data, headers=w.headers("admin"))
    assert r.status_code == 201, r.text
    fc = w.client.get(f"/diagnostics/{diag}/indicators", headers=w.headers("admin")).json()
    assert fc["features"]
    for f in fc["features"]:
        shares = [v for k, v in f["properties"].items() if k.startswith("share_")]
        assert max(shares) < 1.0
        assert f["properties"]["n_respondents"] >= 11
