"""Disclosure control across time and across outputs (issue 12, item 2): a scripted attacker.

The attacker may upload answers as a pilot team and read everything as the public. Each test
replays one attack of the issue against the service, on SQLite and PostgreSQL, and fails if it
leaks: published figures come from releases (``POST /diagnostics/{id}/releases``), every figure
of a release covers the same respondents, two releases differ by 0 or at least 11 respondents,
pooled zones never outline a few cells, the diagnostic's own profiles and before/after follow
rules 2 and 3, and no message gives a count from 1 to 10.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from qet_geo.analysis.footprint import su_footprints
from qet_geo.privacy import GRID_LEVELS_M, MIN_RESPONDENTS
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.surveys.schema import USAGES
from tests.api.conftest import World, build_world
from tests.api.factories import LORIENT, cell_lonlat, su_rows, varied_levels

#: A count of 1 to 10 as a word of a message (11 and more, years, ids are other numbers).
SMALL_COUNT = re.compile(r"(?<![\w.,])(10|[1-9])(?![\w.,])")


@pytest.fixture
def fresh(empty_database: str) -> Iterator[World]:
    """A world of its own on each backend (the attacks add campaigns and releases)."""
    w = build_world(empty_database, release=False)
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _campaign(w: World, year: int, *, who: str = "pilotB", hood: str = "B") -> int:
    r = w.client.post(
        f"/neighbourhoods/{w.hoods[hood]}/diagnostics", json={"year": year}, headers=w.headers(who)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _upload(w: World, diag: int, data: bytes, *, who: str = "pilotB") -> None:
    r = w.client.post(f"/diagnostics/{diag}/uploads", content=data, headers=w.headers(who))
    assert r.status_code == 201, r.text


def _release(w: World, diag: int, *, who: str = "pilotB") -> int:
    r = w.client.post(f"/diagnostics/{diag}/releases", headers=w.headers(who))
    assert r.status_code == 201, r.text
    return int(r.json()["number"])


def _homes(n: int, *, seed: int, prefix: str, located: bool = True) -> list:
    rng = np.random.default_rng(seed)
    levels = varied_levels(n, seed=seed)
    rows = []
    for i in range(n):
        lon = LORIENT[0] + rng.normal(0, 0.0004) if located else None
        lat = LORIENT[1] + rng.normal(0, 0.0003) if located else None
        rows.append((f"{prefix}{i:04d}", levels[i], lon, lat))
    return rows


def _footprint(levels: list[int]) -> dict[str, float]:
    import pandas as pd

    frame = pd.DataFrame([levels], columns=list(USAGES)).astype("Int8")
    row = su_footprints(frame, scale=FOOTPRINT_SCALE).iloc[0]  # as the store computes them
    return {c.removesuffix("_kgco2e"): float(row[c]) for c in row.index}


def _public(w: World, diag: int, what: str) -> dict:
    r = w.client.get(f"/diagnostics/{diag}/{what}")
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------------------------------
# attack 1: 11 answers, then a 12th (or any batch of 1 to 10): 12·m₂ − 11·m₁


@pytest.mark.parametrize("batch", [1, 4, 10])
def test_a_newcomer_cannot_be_subtracted_between_two_readings(fresh, batch):
    w = fresh
    diag = _campaign(w, 5)
    first = _homes(11, seed=1, prefix="P")
    _upload(w, diag, su_rows(first))
    assert _release(w, diag) == 1
    m1 = _public(w, diag, "footprints")
    p1 = _public(w, diag, "profiles")
    assert m1["published"] and m1["n_respondents"] == 11 and m1["release"] == 1
    # the attacker (a pilot team) adds a batch of 1 to 10 and asks for a new release
    newcomers = _homes(batch, seed=2, prefix="N")
    _upload(w, diag, su_rows(newcomers))
    r = w.client.post(f"/diagnostics/{diag}/releases", headers=w.headers("pilotB"))
    assert r.status_code == 422, r.text
    assert "moins de 11 répondants" in r.json()["detail"]
    assert not SMALL_COUNT.search(r.json()["detail"])
    # the public still reads release 1: the difference is zero, not the newcomers' answers
    m2 = _public(w, diag, "footprints")
    p2 = _public(w, diag, "profiles")
    assert m2 == m1 and p2 == p1
    n1, n2 = m1["n_respondents"], m2["n_respondents"]
    guess = {k: n2 * m2["mean_kgco2e"][k] - n1 * m1["mean_kgco2e"][k] for k in m1["mean_kgco2e"]}
    truth = {k: sum(_footprint(lv)[k] for _, lv, _, _ in newcomers) for k in guess}
    assert guess["total"] == 0.0 != truth["total"]
    # nor can the cells or the national comparison be differenced
    fc = _public(w, diag, "indicators")
    assert sum(f["properties"]["n_respondents"] for f in fc["features"]) in (0, 11)
    # once 11 more have answered (whatever the batches), a new release is accepted
    _upload(w, diag, su_rows(_homes(11 - batch, seed=3, prefix="M")))
    assert _release(w, diag) == 2
    m3 = _public(w, diag, "footprints")
    assert m3["release"] == 2 and m3["n_respondents"] == 22


def test_changed_answers_count_as_a_difference(fresh):
    """One respondent's answers change in the store between two releases (the service freezes
    released uploads; a restore or a direct edit could still do it): refused like a newcomer."""
    w = fresh
    diag = _campaign(w, 6)
    rows = _homes(30, seed=4, prefix="Q")
    _upload(w, diag, su_rows(rows))
    _release(w, diag)
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    from sqlalchemy import select, update

    from qet_geo.store import models as store

    with store.session_scope(engine) as s:  # one respondent's answers are corrected
        rid = s.scalars(
            select(store.Respondent.id).where(store.Respondent.diagnostic_id == diag).limit(1)
        ).one()
        s.execute(
            update(store.Respondent)
            .where(store.Respondent.id == rid)
            .values(total_kgco2e=99_999.0, footprint={"total_kgco2e": 99_999.0})
        )
    r = w.client.post(f"/diagnostics/{diag}/releases", headers=w.headers("pilotB"))
    assert r.status_code == 422 and not SMALL_COUNT.search(r.json()["detail"])


def test_a_campaign_cannot_be_subtracted_from_another(fresh):
    """Year 1's file holds year 0's answers plus a few: two releases, one subtraction."""
    w = fresh
    y0, y1 = _campaign(w, 20), _campaign(w, 21)
    base = _homes(15, seed=14, prefix="R")
    _upload(w, y0, su_rows(base))
    _release(w, y0)
    _upload(w, y1, su_rows([*base, *_homes(2, seed=15, prefix="T")]))
    r = w.client.post(f"/diagnostics/{y1}/releases", headers=w.headers("pilotB"))
    assert r.status_code == 422 and not SMALL_COUNT.search(r.json()["detail"])
    # a real second campaign (other people) is released
    y2 = _campaign(w, 22)
    _upload(w, y2, su_rows(_homes(15, seed=16, prefix="U")))
    assert _release(w, y2) == 1


# --------------------------------------------------------------------------------------------------
# attack 2: a respondent without location, counted in /footprints (n = 21) but not in the cells


def test_a_respondent_without_location_is_in_no_figure(fresh):
    w = fresh
    diag = _campaign(w, 7)
    located = _homes(20, seed=5, prefix="L")
    hidden = ("H0000", [3, 3, 3, 3, 3, 3], None, None)
    _upload(w, diag, su_rows([*located, hidden]))
    _release(w, diag)
    foot = _public(w, diag, "footprints")
    prof = _public(w, diag, "profiles")
    fc = _public(w, diag, "indicators")
    cells = [f["properties"] for f in fc["features"]]
    assert foot["n_respondents"] == prof["n_respondents"] == 20
    assert sum(c["n_respondents"] for c in cells) in (0, 20)
    # one subtraction across outputs gives nothing: the cells add up to the mean
    if cells:
        total = sum(c["n_respondents"] * c["total_kgco2e_mean"] for c in cells)
        assert total == pytest.approx(20 * foot["mean_kgco2e"]["total"], rel=1e-3)
    mean_located = np.mean([_footprint(lv)["total"] for _, lv, _, _ in located])
    assert foot["mean_kgco2e"]["total"] == pytest.approx(mean_located, abs=1e-3)


# --------------------------------------------------------------------------------------------------
# attack 3: a pooled zone whose outline is exactly one 200 m cell

#: South-west corner of an 800 m INSEE square in Lorient (EPSG:3035).
N0, E0 = 2827200.0, 3324000.0


def pooled_layout() -> list[tuple[float, float, int]]:
    """(north, east, respondents) of 200 m cells: a 400 m block whose three cells are published
    (12 each) and whose fourth holds 3 respondents, and 9 respondents in small cells of another
    block of the same 800 m square: the pool of 12 was drawn as that fourth cell plus a block."""
    return [
        (N0, E0, 12),
        (N0, E0 + 200, 12),
        (N0 + 200, E0, 12),
        (N0 + 200, E0 + 200, 3),
        (N0 + 400, E0 + 400, 5),
        (N0 + 600, E0 + 600, 4),
    ]


def isolating_parts(features: list[dict], homes: dict[tuple[float, float], int]) -> list[str]:
    """The parts of published geometries that hold 1 to 10 respondents without being made of
    whole 400 m blocks (EPSG:3035): each would show which few cells those respondents live in."""
    to_3035 = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)

    def to_grid(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_3035.transform(xy[:, 0], xy[:, 1]))

    block = GRID_LEVELS_M[0]
    bad = []
    for f in features:
        geom = shapely.transform(shape(f["geometry"]), to_grid)
        for part in shapely.get_parts(geom):
            inside = [
                (n, e)
                for (n, e) in homes
                if part.buffer(1.0).contains(shapely.Point(e + 100, n + 100))
            ]
            held = sum(homes[c] for c in inside)
            if not 0 < held < MIN_RESPONDENTS:
                continue
            for n, e in inside:
                bn, be = (n // block) * block, (e // block) * block
                square = shapely.box(be, bn, be + block, bn + block)
                if not square.buffer(-2.0).within(part.buffer(2.0)):
                    bad.append(f"{f['id']}: a part holding {held} respondents cuts a block")
                    break
    return bad


def test_a_pooled_zone_never_outlines_a_few_cells(fresh):
    w = fresh
    diag = _campaign(w, 8)
    rows, k = [], 0
    for north, east, count in pooled_layout():
        lon, lat = cell_lonlat(north, east)
        for level in varied_levels(count, seed=k):
            rows.append((f"Z{k:04d}", level, lon, lat))
            k += 1
    _upload(w, diag, su_rows(rows))
    _release(w, diag)
    fc = _public(w, diag, "indicators?limit=1000")
    assert fc["features"], "nothing published: the attack is not replayed"
    homes = {(n, e): c for n, e, c in pooled_layout()}
    assert isolating_parts(fc["features"], homes) == []
    # the live preview of the pilot team follows the same rule
    live = w.client.get(f"/diagnostics/{diag}/indicators?limit=1000", headers=w.headers("pilotB"))
    assert isolating_parts(live.json()["features"], homes) == []


# --------------------------------------------------------------------------------------------------
# attack 4: the diagnostic's own profiles (POST /run) with one at 100 % and exact mean answers


def test_own_profiles_never_hold_everyone(fresh):
    w = fresh
    diag = _campaign(w, 9)
    same = [(f"S{i:03d}", [3, 1, 2, 3, 1, 2], *LORIENT) for i in range(25)]
    _upload(w, diag, su_rows(same))
    r = w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotB"))
    assert r.status_code == 202, r.text
    job = w.client.get(f"/diagnostics/{diag}/job", headers=w.headers("pilotB")).json()
    assert job["status"] == "done", job
    for who in ("pilotB", "admin", None):
        out = w.client.get(f"/diagnostics/{diag}/profiles", headers=w.headers(who)).json()
        assert all((p["share"] or 0) < 1.0 for p in out["own_profiles"]), (who, out)
        assert out["own_profiles"] == [] or who is not None
    # the public reads own profiles from the release only: fitted on its respondents alone
    _release(w, diag)
    out = _public(w, diag, "profiles")
    assert out["own_profiles"] == [] and out["release"] == 1
    assert all(v < 1.0 for v in out["shares"].values())


def test_public_own_profiles_come_from_the_release(fresh):
    w = fresh
    diag = _campaign(w, 10)
    _upload(w, diag, su_rows(_homes(40, seed=6, prefix="O")))
    _release(w, diag)
    before = _public(w, diag, "profiles")
    # a new analysis on more answers changes the live profiles, not the published ones
    _upload(w, diag, su_rows(_homes(5, seed=7, prefix="X")))
    assert w.client.post(f"/diagnostics/{diag}/run", headers=w.headers("pilotB")).status_code == 202
    assert _public(w, diag, "profiles") == before
    for p in before["own_profiles"]:
        assert p["share"] * 40 >= MIN_RESPONDENTS - 1e-6 and p["share"] < 1.0


# --------------------------------------------------------------------------------------------------
# attack 5: before/after shows a single flyer's footprint (no dominance rule)


def test_before_after_withholds_a_dominant_flyer(fresh):
    w = fresh
    y0, y1 = _campaign(w, 11), _campaign(w, 12)
    calm = [1, 1, 1, 1, 1, 1]
    flyer = [1, 1, 1, 1, 3, 1]  # the only air travel of the campaign: 2 t of 2 t
    _upload(
        w,
        y0,
        su_rows([(f"F{i:03d}", calm, *LORIENT) for i in range(14)] + [("FLY", flyer, *LORIENT)]),
    )
    _upload(w, y1, su_rows(_homes(15, seed=8, prefix="G")))
    url = f"/neighbourhoods/{w.hoods['B']}/before-after?before=11&after=12"
    out = w.client.get(url, headers=w.headers("pilotB")).json()
    values = {d["value"] for d in out["deltas"]}
    assert "air_travel_frequency_kgco2e" not in values and "total_kgco2e" not in values
    assert {"air_travel_frequency_kgco2e", "total_kgco2e"} <= set(out["withheld"])
    # the mean of the flyer's campaign would give the flyer's footprint: 2000 / 15
    for d in out["deltas"]:
        assert d["mean_before"] * d["n_before"] != pytest.approx(2000.0)
    # the public reads releases only: the flyer's campaign cannot be released at all
    r = w.client.post(f"/diagnostics/{y0}/releases", headers=w.headers("pilotB"))
    assert r.status_code == 422
    assert w.client.get(url).status_code == 404


def test_before_after_of_releases_for_the_public(fresh):
    w = fresh
    y0, y1 = _campaign(w, 13), _campaign(w, 14)
    _upload(w, y0, su_rows(_homes(20, seed=9, prefix="A")))
    _upload(w, y1, su_rows(_homes(20, seed=10, prefix="B")))
    url = f"/neighbourhoods/{w.hoods['B']}/before-after?before=13&after=14"
    assert w.client.get(url).status_code == 404  # nothing released yet
    _release(w, y0)
    _release(w, y1)
    public = w.client.get(url).json()
    live = w.client.get(url, headers=w.headers("pilotB")).json()
    assert public["release_before"] == public["release_after"] == 1
    assert [d["value"] for d in public["deltas"]] == [d["value"] for d in live["deltas"]]
    for pub, own in zip(public["deltas"], live["deltas"], strict=True):
        for key in ("n_before", "n_after", "mean_before", "mean_after", "ci_low", "ci_high"):
            assert pub[key] == pytest.approx(own[key], rel=1e-6), key
    # later answers change the live comparison, not the public one
    _upload(w, y1, su_rows(_homes(5, seed=11, prefix="C")))
    assert w.client.get(url).json() == public


# --------------------------------------------------------------------------------------------------
# attack 6: counts from 1 to 10 in messages


def test_messages_never_give_a_small_count(fresh):
    w = fresh
    y0, y1 = _campaign(w, 15), _campaign(w, 16)
    _upload(w, y0, su_rows(_homes(15, seed=12, prefix="A")))
    _upload(w, y1, su_rows(_homes(4, seed=13, prefix="B")))
    for lang in ("fr", "en"):
        r = w.client.get(
            f"/neighbourhoods/{w.hoods['B']}/before-after?before=15&after=16",
            headers={**w.headers("pilotB"), "Accept-Language": lang},
        )
        assert r.status_code == 422
        assert not SMALL_COUNT.search(r.json()["detail"]), r.json()
    # the analysis job's note
    assert w.client.post(f"/diagnostics/{y1}/run", headers=w.headers("pilotB")).status_code == 202
    for lang in ("fr", "en"):
        job = w.client.get(
            f"/diagnostics/{y1}/job", headers={**w.headers("pilotB"), "Accept-Language": lang}
        ).json()
        assert job["status"] == "failed" and job["message"]
        assert not SMALL_COUNT.search(job["message"]), job
    # a release of too few respondents
    r = w.client.post(f"/diagnostics/{y1}/releases", headers=w.headers("pilotB"))
    assert r.status_code == 422 and not SMALL_COUNT.search(r.json()["detail"])


# --------------------------------------------------------------------------------------------------
# the release model itself


def test_who_reads_what(fresh):
    w = fresh
    diag = w.diags["B"]
    # before any release: the public, the network staff and other teams read nothing
    for who in (None, "staff", "pilotA"):
        r = w.client.get(f"/diagnostics/{diag}/footprints", headers=w.headers(who))
        if who == "pilotA":
            continue  # B is published: pilot A reads it as the public does
        assert r.status_code == 200 and not r.json()["published"], (who, r.json())
    assert _public(w, diag, "indicators")["features"] == []
    for row in w.client.get("/national").json():  # names only, no figure
        assert row["n_respondents"] == 0 and row["rank_total_kgco2e"] is None
        assert all(v is None for v in row["mean_kgco2e"].values()), row
    # the pilot team previews the live figures of its data
    live = w.client.get(f"/diagnostics/{diag}/footprints", headers=w.headers("pilotB")).json()
    assert live["published"] and live["release"] is None
    # only a caller with write access may publish
    for who in (None, "staff", "pilotA"):
        r = w.client.post(f"/diagnostics/{diag}/releases", headers=w.headers(who))
        assert r.status_code in (401, 403, 404), (who, r.status_code)
    assert _release(w, diag) == 1
    listed = w.client.get(f"/diagnostics/{diag}/releases").json()
    assert [r["number"] for r in listed] == [1] and listed[0]["n_respondents"] == 40
    assert "respondent_ids" not in str(listed)
    assert _public(w, diag, "footprints") == {**live, "release": 1}
    national = {r["neighbourhood_id"]: r for r in w.client.get("/national").json()}
    assert national[w.hoods["B"]]["n_respondents"] == 40
    assert national[w.hoods["B"]]["mean_kgco2e"]["total"] == live["mean_kgco2e"]["total"]
    # the released map is the public's, frozen with the rest of the release
    released_map = w.client.get(f"/diagnostics/{diag}/map")
    assert released_map.status_code == 200
    _upload(w, diag, su_rows(_homes(5, seed=17, prefix="W")))
    assert w.client.get(f"/diagnostics/{diag}/map").text == released_map.text
    assert _public(w, diag, "footprints") == {**live, "release": 1}
    # a private neighbourhood's releases stay private
    _release(w, w.diags["A"], who="pilotA")
    assert w.hoods["A"] not in {r["neighbourhood_id"] for r in w.client.get("/national").json()}
    staff = {
        r["neighbourhood_id"] for r in w.client.get("/national", headers=w.headers("staff")).json()
    }
    assert {w.hoods["A"], w.hoods["B"]} <= staff
    assert w.client.get(f"/diagnostics/{w.diags['A']}/releases").status_code == 404
