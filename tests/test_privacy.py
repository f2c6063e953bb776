"""Tests of qet_geo.privacy: each disclosure rule of docs/privacy.md, on generated small groups."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.inputs.census import cell_id_to_polygon, point_to_cell_id
from qet_geo.privacy import (
    DOMINANCE_SHARE,
    MIN_RESPONDENTS,
    DisclosureError,
    check_differencing,
    coarsen_locations,
    is_protected,
    protect_counts,
    protect_zones,
    require_protected,
    safe_aggregate,
)

# a 200 m cell of Lorient's centre, on a 1 600 m block boundary so that quadtree parents are known
BASE_N, BASE_E = 2768000, 3342400


def cell(i: int, j: int) -> str:
    return f"CRS3035RES200mN{BASE_N + 200 * i}E{BASE_E + 200 * j}"


def frame(counts: dict[str, int], **columns: list[object]) -> pd.DataFrame:
    zones = [z for z, n in counts.items() for _ in range(n)]
    data: dict[str, list[object]] = {"cell_id": list(zones)}
    data.update(columns)
    return pd.DataFrame(data, index=[f"r{k}" for k in range(len(zones))])


def quiet_aggregate(df: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return safe_aggregate(df, **kwargs)  # type: ignore[arg-type]


# --- rule 1: coarsening ----------------------------------------------------------------------------


def test_coarsen_locations_keeps_cells_and_drops_coordinates() -> None:
    points = gpd.GeoSeries(
        [shapely.Point(223700, 6757840), shapely.Point(223900, 6758100), None, None],
        crs=2154,
        index=["a", "b", "c", "d"],
    )
    located = gpd.GeoDataFrame(
        {
            "source": ["coordinates", "address", "cell", "address"],
            "match": ["coordinates", "housenumber", "cell", "street"],
            "is_home": [True, True, False, False],
            "building_key": ["w1", "w2", None, None],
            "cell_id": [None, None, "CRS3035RES200mN2768600E3343000", None],
            "iris_code": [None, None, None, None],
            "score": [np.nan, 97.0, np.nan, 91.0],
            "reason_en": ["", "", "", "house number not found"],
        },
        geometry=points,
        crs=2154,
        index=points.index,
    )
    out = coarsen_locations(located)
    assert not isinstance(out, gpd.GeoDataFrame)
    assert "geometry" not in out.columns and "score" not in out.columns
    assert "reason_en" not in out.columns
    expected = point_to_cell_id(points[["a", "b"]])
    assert list(out.loc[["a", "b"], "cell_id"]) == list(expected)
    assert out.loc["c", "cell_id"] == "CRS3035RES200mN2768600E3343000"
    assert pd.isna(out.loc["d", "cell_id"])  # a street match is not a home: no cell
    assert list(out["building_key"].fillna("-")) == ["w1", "w2", "-", "-"]
    assert "building_key" not in coarsen_locations(located, keep_building=False).columns
    raw = coarsen_locations(located, keep_raw=True)
    assert isinstance(raw, gpd.GeoDataFrame)
    assert raw.geometry["a"].equals(points["a"])
    with pytest.raises(ValidationError, match="locate_homes"):
        coarsen_locations(pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]


# --- rule 2: no statistic from 1 to 10 respondents --------------------------------------------------


def test_small_cells_are_pooled_into_their_400m_parent() -> None:
    counts = {cell(0, 0): 3, cell(0, 1): 3, cell(1, 0): 3, cell(1, 1): 3, cell(5, 5): 20}
    table = safe_aggregate(frame(counts))
    assert dict(table["n_respondents"]) == {
        f"CRS3035RES400mN{BASE_N}E{BASE_E}": 12,
        cell(5, 5): 20,
    }
    parent = f"CRS3035RES400mN{BASE_N}E{BASE_E}"
    assert dict(table["merged"]) == {parent: True, cell(5, 5): False}
    assert table.crs.to_epsg() == 2154
    assert dict(table.to_crs(3035).area.round()) == {parent: 160000.0, cell(5, 5): 40000.0}
    assert is_protected(table)


def test_a_large_cell_stays_and_the_small_rest_pools_around_it() -> None:
    counts = {cell(0, 0): 15, cell(0, 1): 4, cell(1, 0): 4, cell(1, 1): 4}
    table = safe_aggregate(frame(counts))
    assert dict(table["n_respondents"]) == {
        f"CRS3035RES400mN{BASE_N}E{BASE_E}": 12,
        cell(0, 0): 15,
    }
    areas = table.to_crs(3035).area.round()
    assert areas[cell(0, 0)] == 40000.0
    assert areas[f"CRS3035RES400mN{BASE_N}E{BASE_E}"] == 120000.0  # the block minus the big cell
    assert shapely.area(shapely.intersection(*table.geometry)) == pytest.approx(0.0, abs=1e-6)


def test_small_pools_climb_the_quadtree_then_join_the_nearest_zone() -> None:
    counts = {cell(0, 0): 2, cell(2, 2): 3, cell(7, 7): 4, cell(12, 12): 30}
    table = safe_aggregate(frame(counts))
    assert len(table) == 1
    assert int(table["n_respondents"].iloc[0]) == 39  # nothing suppressed, nothing left over
    suppressed = protect_zones(frame(counts), leftover="suppress")
    assert suppressed.isna().sum() == 9
    with pytest.warns(QetGeoWarning, match="suppressed"):
        kept = safe_aggregate(frame(counts), leftover="suppress")
    assert list(kept["n_respondents"]) == [30]


def test_nothing_is_published_from_fewer_than_11() -> None:
    with pytest.warns(QetGeoWarning, match="suppressed"):
        table = safe_aggregate(frame({cell(0, 0): 6, cell(3, 3): 4}, kg=[1.0] * 10), values=["kg"])
    assert table.empty
    assert is_protected(table)


def test_zones_that_are_not_cells_merge_with_neighbours_or_pool() -> None:
    iris = pd.DataFrame({"iris": ["A"] * 5 + ["B"] * 8 + ["C"] * 20 + ["D"] * 4})
    neighbours = {"A": ["B"], "B": ["A", "C"], "C": ["B"], "D": []}
    table = quiet_aggregate(iris, zone="iris", neighbours=neighbours)
    assert dict(table["n_respondents"]) == {"A+B": 13, "C": 20}  # D has no neighbour: suppressed
    assert not isinstance(table, gpd.GeoDataFrame)
    pooled = safe_aggregate(pd.DataFrame({"iris": ["A"] * 5 + ["B"] * 8 + ["C"] * 20}), zone="iris")
    assert dict(pooled["n_respondents"]) == {"C": 20, "other": 13}


def test_protect_counts() -> None:
    counts = pd.Series({cell(0, 0): 3, cell(0, 1): 9, cell(4, 4): 11, cell(9, 9): 0})
    table = protect_counts(counts)
    assert dict(table["n_respondents"]) == {
        f"CRS3035RES400mN{BASE_N}E{BASE_E}": 12,
        cell(4, 4): 11,
    }
    assert is_protected(table)
    with pytest.raises(ValidationError, match="whole numbers"):
        protect_counts(pd.Series({cell(0, 0): 2.5}))


# --- rule 3: dominance -----------------------------------------------------------------------------


def test_one_respondent_dominating_a_total_is_not_published() -> None:
    kg = [20000.0] + [100.0] * 11 + [1000.0] * 14
    counts = {cell(0, 0): 12, cell(6, 6): 14}
    alone = quiet_aggregate(frame({cell(0, 0): 12}, kg=kg[:12]), values=["kg"])
    assert alone.empty  # 20 000 of 21 100 kg is one person's: no figure at all
    table = safe_aggregate(frame(counts, kg=kg), values=["kg"])
    assert len(table) == 1 and int(table["n_respondents"].iloc[0]) == 26
    assert table["kg_sum"].iloc[0] == pytest.approx(sum(kg))
    assert table["kg_mean"].iloc[0] == pytest.approx(np.mean(kg))
    # without values=, the count alone is safe: both cells are published
    assert len(safe_aggregate(frame(counts, kg=kg))) == 2


def test_a_mean_needs_11_answers() -> None:
    kg: list[object] = [100.0] * 5 + [None] * 7 + [100.0] * 12
    counts = {cell(0, 0): 12, cell(6, 6): 12}
    table = safe_aggregate(frame(counts, kg=kg), values=["kg"])
    assert list(table["n_respondents"]) == [24]
    assert table["kg_mean"].iloc[0] == pytest.approx(100.0)


def test_a_profile_at_100_percent_is_not_published() -> None:
    profile = ["A"] * 15 + ["A", "B", "C"] * 5
    counts = {cell(0, 0): 15, cell(6, 6): 15}
    table = safe_aggregate(frame(counts, profile=profile), profile="profile")
    assert len(table) == 1
    assert table["share_A"].iloc[0] == pytest.approx(20 / 30)
    assert {c for c in table.columns if c.startswith("share_")} == {"share_A", "share_B", "share_C"}
    with pytest.warns(QetGeoWarning):
        everyone_a = safe_aggregate(frame(counts, profile=["A"] * 30), profile="profile")
    assert everyone_a.empty


# --- properties on generated small groups: zero leaks ------------------------------------------------


@st.composite
def survey_cells(draw: st.DrawFn) -> pd.DataFrame:
    n_cells = draw(st.integers(1, 25))
    positions = draw(
        st.lists(
            st.tuples(st.integers(0, 15), st.integers(0, 15)),
            min_size=n_cells,
            max_size=n_cells,
            unique=True,
        )
    )
    sizes = draw(st.lists(st.integers(1, 14), min_size=n_cells, max_size=n_cells))
    zones = [cell(i, j) for (i, j), k in zip(positions, sizes, strict=True) for _ in range(k)]
    n = len(zones)
    kg = draw(
        st.lists(st.one_of(st.floats(0, 3000), st.just(50000.0), st.none()), min_size=n, max_size=n)
    )
    profile = draw(st.lists(st.sampled_from(["A", "B", "C", None]), min_size=n, max_size=n))
    return pd.DataFrame(
        {"cell_id": zones, "kg": pd.array(kg, dtype="Float64"), "profile": profile},
        index=[f"r{k}" for k in range(n)],
    )


def _assert_no_leak(df: pd.DataFrame, table: pd.DataFrame, zones: pd.Series) -> None:
    assert is_protected(table)
    assert set(zones.dropna()) == set(table.index)
    for zone_id, members in df.groupby(zones):
        row = table.loc[zone_id]
        assert row["n_respondents"] == len(members) >= MIN_RESPONDENTS
        kg = members["kg"].dropna().astype(float)
        assert len(kg) == 0 or len(kg) >= MIN_RESPONDENTS
        if kg.sum() > 0:
            assert kg.max() <= DOMINANCE_SHARE * kg.sum()
            assert row["kg_sum"] == pytest.approx(kg.sum())
        profiles = members["profile"].dropna()
        assert len(profiles) == 0 or len(profiles) >= MIN_RESPONDENTS
        assert profiles.nunique() != 1
        shares = [row[c] for c in table.columns if c.startswith("share_")]
        assert all(s < 1.0 for s in shares if not pd.isna(s))
    # published zones never overlap, so no two of them can be subtracted from each other
    geoms = list(table.geometry)
    assert sum(g.area for g in geoms) == pytest.approx(shapely.union_all(geoms).area, rel=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(survey_cells())
def test_property_merged_zones_never_leak(df: pd.DataFrame) -> None:
    table = quiet_aggregate(df, values=["kg"], profile="profile")
    zones = protect_zones(df, values=["kg"], profile="profile")
    _assert_no_leak(df, table, zones)
    # by default nothing is suppressed when anything can be published: no remainder to compute
    if len(table):
        assert int(table["n_respondents"].sum()) == len(df)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(survey_cells())
def test_property_suppression_never_leaks(df: pd.DataFrame) -> None:
    table = quiet_aggregate(df, values=["kg"], profile="profile", leftover="suppress")
    zones = protect_zones(df, values=["kg"], profile="profile", leftover="suppress")
    _assert_no_leak(df, table, zones)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(survey_cells())
def test_property_published_zones_pass_the_differencing_check(df: pd.DataFrame) -> None:
    table = quiet_aggregate(df)
    squares = cell_id_to_polygon(df["cell_id"]).to_crs(2154)
    homes = gpd.GeoSeries(squares.to_numpy(), index=df.index, crs=2154)
    for a, b in itertools.combinations(table.geometry, 2):
        check_differencing(a, b, homes)


# --- rule 4: differencing --------------------------------------------------------------------------


@pytest.fixture
def homes() -> gpd.GeoSeries:
    points = [shapely.Point(x, 0.5) for x in np.arange(40) + 0.5]
    return gpd.GeoSeries(points, index=[f"r{k}" for k in range(40)], crs=2154)


@pytest.mark.parametrize(
    ("extra", "refused"), [(0, False), (1, True), (5, True), (10, True), (11, False), (25, False)]
)
def test_nested_zones_must_not_differ_by_1_to_10(
    homes: gpd.GeoSeries, extra: int, refused: bool
) -> None:
    inner = shapely.box(0, 0, 12, 1)
    outer = shapely.box(0, 0, 12 + extra, 1)
    if refused:
        with pytest.raises(DisclosureError) as err:
            check_differencing(inner, outer, homes)
        assert str(extra) not in err.value.message.replace("11", "")
        assert "11" in err.value.message_fr
    else:
        check_differencing(inner, outer, homes)


def test_overlapping_and_disjoint_zones(homes: gpd.GeoSeries) -> None:
    a = shapely.box(0, 0, 20, 1)
    with pytest.raises(DisclosureError):
        check_differencing(a, shapely.box(3, 0, 23, 1), homes)  # 3 in a only, 3 in b only
    check_differencing(a, shapely.box(20, 0, 40, 1), homes)  # touching, nobody shared
    # 11 in each part alone and the same count: nothing small to subtract
    check_differencing(shapely.box(0, 0, 22, 1), shapely.box(11, 0, 33, 1), homes)
    with pytest.raises(DisclosureError):  # 8 alone in a: refused even though 20 vs 32 differ by 12
        check_differencing(a, shapely.box(8, 0, 40, 1), homes)
    with pytest.raises(DisclosureError):
        check_differencing(a, shapely.box(0, 0, 25, 1), homes)


def test_differencing_on_respondent_ids() -> None:
    everyone = pd.Index([f"r{k}" for k in range(30)])
    first = set(everyone[:20])
    with pytest.raises(DisclosureError):
        check_differencing(first, set(everyone[:25]), everyone)
    check_differencing(first, set(everyone[:20]), everyone)
    check_differencing(first, set(everyone[20:]), everyone)
    with pytest.raises(ValidationError, match="both be polygons"):
        check_differencing(shapely.box(0, 0, 1, 1), first, everyone)


# --- the chokepoint --------------------------------------------------------------------------------


def test_only_protected_tables_may_leave() -> None:
    df = frame({cell(0, 0): 12})
    with pytest.raises(DisclosureError, match="safe_aggregate"):
        require_protected(df.groupby("cell_id").size().to_frame("n"), what="the map")
    require_protected(safe_aggregate(df), what="the map")
    assert not is_protected(df)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_respondents": 5}, "min_respondents"),
        ({"dominance": 0.95}, "dominance"),
        ({"leftover": "keep"}, "leftover"),
        ({"max_resolution_m": 500}, "max_resolution_m"),
        ({"values": ["nope"]}, "no column"),
        ({"values": ["profile"]}, "not numeric"),
    ],
)
def test_rules_cannot_be_weakened(kwargs: dict[str, object], match: str) -> None:
    df = frame({cell(0, 0): 12}, profile=["A"] * 12)
    with pytest.raises(ValidationError, match=match):
        safe_aggregate(df, **kwargs)  # type: ignore[arg-type]


def test_negative_values_and_mixed_zones_are_refused() -> None:
    with pytest.raises(ValidationError, match="negative"):
        safe_aggregate(frame({cell(0, 0): 12}, kg=[-1.0] * 12), values=["kg"])
    mixed = pd.DataFrame({"cell_id": [cell(0, 0)] * 11 + ["751010101"] * 11})
    with pytest.raises(ValidationError, match="mixes"):
        safe_aggregate(mixed)
