"""Per-home built-constraint indicators, checked against brute force on the real Lorient extract."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.constraints.access import home_access, homes_from_buildings, score_distribution
from qet_geo.constraints.indicators import (
    CYCLE_RADIUS_M,
    INTERSECTION_RADIUS_M,
    SLOPE_RADIUS_M,
    TRANSIT_RADIUS_M,
)
from qet_geo.errors import QetGeoWarning
from qet_geo.network.graph import build_network
from qet_geo.network.queries import nearest
from qet_geo.taxonomy import CATEGORIES, ESSENTIAL_CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "osm" / "lorient_centre.geojson"
runner = CliRunner()


@pytest.fixture(scope="module")
def walk(lorient):
    nodes, edges = lorient.graph("walk")
    homes = homes_from_buildings(lorient.buildings).iloc[::8]  # every 8th home keeps it quick
    stops = lorient.transit_stops.copy()
    # made-up frequencies on the real stops, to check the "best stop within 400 m" logic
    stops["departures_per_hour"] = np.arange(len(stops), dtype=float) % 7
    net = build_network(nodes, edges, mode="walk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        table = home_access(
            homes,
            nodes,
            edges,
            lorient.amenities,
            transit_stops=stops,
            cycleways=lorient.cycleways,
            network=net,
        )
    return homes, nodes, edges, stops, net, table


def test_every_column_for_every_category(walk):
    homes, *_, table = walk
    assert table.index.equals(homes.index)
    for cat in CATEGORIES:
        for suffix in ("m", "min", "n5", "n10", "n15"):
            assert f"{cat}_{suffix}" in table.columns
    for col in (
        "transit_stops_400m",
        "departures_per_hour_400m",
        "cycle_km_500m",
        "slope_pct",
        "intersections_km2",
        "score_15min",
        "weight",
        "off_network",
    ):
        assert col in table.columns
    # Lorient's extract holds no railway station: NaN distance and zero counts, never a fake
    assert table["rail_station_m"].isna().all() and (table["rail_station_n15"] == 0).all()
    # counts grow with time; time is distance at 4.5 km/h on flat ground (no DEM here)
    on = ~table["off_network"]
    assert (table["food_shop_n5"] <= table["food_shop_n10"]).all()
    assert (table["food_shop_n10"] <= table["food_shop_n15"]).all()
    ok = on & table["food_shop_m"].notna()
    assert np.allclose(table.loc[ok, "food_shop_min"], table.loc[ok, "food_shop_m"] / 75.0)
    # a home with an amenity within 5 minutes has its nearest within 5 minutes, and back
    assert ((table["health_n5"] > 0) == (table["health_min"] <= 5)).all()


def test_score_is_the_share_of_essentials_within_15_minutes(walk):
    *_, table = walk
    expected = np.mean([table[f"{c}_n15"] > 0 for c in ESSENTIAL_CATEGORIES], axis=0)
    assert np.allclose(table["score_15min"], expected)
    dist = score_distribution(table)
    assert dist["share"].sum() == pytest.approx(1.0)
    assert dist.attrs["weighted_mean"] == pytest.approx(table["score_15min"].mean())
    weighted = table.assign(weight=np.where(table["score_15min"] == 1, 10.0, 1.0))
    assert score_distribution(weighted).attrs["weighted_mean"] > dist.attrs["weighted_mean"]


def test_transit_against_brute_force(walk):
    homes, _, _, stops, net, table = walk
    per_stop = gpd.GeoDataFrame(
        {"category": [f"s{i}" for i in range(len(stops))]},
        geometry=stops.geometry.to_numpy(),
        crs=stops.crs,
    )
    names = list(per_stop["category"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        d = nearest(net, homes, per_stop, categories=names, cutoff_m=2000)
    dist = np.column_stack([d[f"{n}_m"].to_numpy() for n in names])
    within = dist <= TRANSIT_RADIUS_M
    assert np.array_equal(table["transit_stops_400m"].to_numpy(), within.sum(axis=1))
    freq = stops["departures_per_hour"].to_numpy()
    best = np.where(within, freq[None, :], 0).max(axis=1)
    assert np.allclose(table["departures_per_hour_400m"].to_numpy(), best)
    assert (best > 0).sum() > len(best) / 2


def test_cycle_and_intersections_against_brute_force(walk, lorient):
    homes, nodes, *_, table = walk
    sample = homes.iloc[:15]
    lines = lorient.cycleways.geometry
    for home_id, point in sample.geometry.items():
        # a disc drawn with 4 096 sides: at most 1.5 cm inside the true circle
        circle = point.buffer(CYCLE_RADIUS_M, quad_segs=1024)
        km = lines.intersection(circle).length.sum() / 1000
        assert km > 0
        assert table.loc[home_id, "cycle_km_500m"] == pytest.approx(km, rel=1e-4, abs=1e-4)
        inter = nodes[nodes["street_count"] >= 3]
        n = (np.hypot(inter["x"] - point.x, inter["y"] - point.y) <= INTERSECTION_RADIUS_M).sum()
        area = np.pi * (INTERSECTION_RADIUS_M / 1000) ** 2
        assert table.loc[home_id, "intersections_km2"] == pytest.approx(n / area)


def test_slope_from_the_real_lorient_elevation(lorient, lorient_dem):
    from qet_geo.inputs.raster import edge_slope

    nodes, edges = lorient.graph("walk")
    edges = edges.join(edge_slope(edges, lorient_dem))
    homes = homes_from_buildings(lorient.buildings).iloc[::25]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        flat = home_access(homes, *lorient.graph("walk"), lorient.amenities)
        hilly = home_access(homes, nodes, edges, lorient.amenities)
    assert flat["slope_pct"].isna().all()
    assert hilly["slope_pct"].notna().mean() > 0.9 and 0 < hilly["slope_pct"].median() < 15
    # Tobler: slopes change walking times but not the network distances
    ok = flat["food_shop_m"].notna() & hilly["food_shop_m"].notna()
    assert not np.allclose(flat.loc[ok, "food_shop_min"], hilly.loc[ok, "food_shop_min"])


def test_access_cli_parquet_gpkg_and_bike(tmp_path, lorient_pbf):
    out = tmp_path / "walk.parquet"
    res = runner.invoke(
        app, ["access", str(lorient_pbf), "--territory", str(DEMO), "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    table = gpd.read_parquet(out)
    assert len(table) == summary["homes"] > 1000
    assert {
        "food_shop_m",
        "food_shop_min",
        "food_shop_n5",
        "food_shop_n10",
        "food_shop_n15",
        "score_15min",
        "transit_stops_400m",
        "cycle_km_500m",
    } <= set(table.columns)
    assert table.crs.to_epsg() == 2154
    # only homes inside the neighbourhood, though amenities come from the 1 km buffer too
    from qet_geo.inputs.territory import territory_from_file

    area = territory_from_file(DEMO).geometry
    assert shapely.intersects(area, table.geometry.to_numpy()).all()
    assert 0 < summary["weighted_score_15min"] <= 1
    gpkg = tmp_path / "bike.gpkg"
    res = runner.invoke(
        app,
        [
            "access",
            str(lorient_pbf),
            "--mode",
            "bike",
            "--out",
            str(gpkg),
            "--territory",
            str(DEMO),
        ],
    )
    assert res.exit_code == 0, res.output
    bike = gpd.read_file(gpkg, layer="access_bike")
    joined = pd.merge(
        pd.DataFrame(table.drop(columns="geometry")).reset_index(),
        pd.DataFrame(bike.drop(columns="geometry")),
        on="home_id",
        suffixes=("_walk", "_bike"),
    )
    ok = joined["food_shop_min_walk"].notna() & joined["food_shop_min_bike"].notna()
    # cycling is faster than walking to the same shop
    assert (
        joined.loc[ok, "food_shop_min_bike"] < joined.loc[ok, "food_shop_min_walk"]
    ).mean() > 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.csv"], ".parquet ou .gpkg"),
        (["--out", "x.parquet", "--mode", "car"], "walk ou bike"),
        (["--out", "x.parquet", "--homes", "cells"], "grille INSEE"),
    ],
)
def test_access_cli_bad_options(tmp_path, lorient_pbf, args, message):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    res = runner.invoke(app, ["access", str(lorient_pbf), *args])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not list(tmp_path.iterdir())


def test_isochrone_cli(tmp_path, lorient_pbf):
    out = tmp_path / "iso.geojson"
    res = runner.invoke(
        app,
        [
            "isochrone",
            str(lorient_pbf),
            "--at",
            "-3.3605,47.7475",
            "--minutes",
            "5,10,15",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    shapes = gpd.read_file(out)
    assert shapes.crs.to_epsg() == 4326
    assert list(shapes["minutes"]) == [5, 10, 15]
    areas = shapes.to_crs(2154).area.to_numpy()
    assert areas[0] < areas[1] < areas[2]
    start = gpd.GeoSeries([shapely.Point(-3.3605, 47.7475)], crs=4326).iloc[0]
    assert shapes.contains(start).all()
    # a 15-minute walk covers at most a disc of 1125 m: streets, not a convex blob
    assert areas[2] < np.pi * 1125**2 * 0.8
    for bad, msg in ((["--at", "47.75,-3.36"], "hors de l'extrait"), (["--at", "abc"], "LON,LAT")):
        res = runner.invoke(
            app, ["isochrone", str(lorient_pbf), *bad, "--out", str(tmp_path / "b.geojson")]
        )
        assert res.exit_code == 2 and msg in res.output, res.output
    assert not (tmp_path / "b.geojson").exists()


def test_zone_indicators_are_population_weighted_means_per_cell():
    """Two homes in one 200 m cell, one in another; NaN values do not count."""
    from qet_geo.constraints.access import zone_indicators
    from qet_geo.inputs.census import point_to_cell_id

    pts = gpd.GeoSeries(
        shapely.points([(200_010.0, 6_800_010.0), (200_020.0, 6_800_020.0), (203_000, 6_803_000)]),
        crs="EPSG:2154",
    )
    access = gpd.GeoDataFrame(
        {
            "score_15min": [1.0, 0.5, 0.25],
            "food_shop_min": [2.0, np.nan, 9.0],
            "weight": [1.0, 3.0, 2.0],
        },
        geometry=pts,
        crs="EPSG:2154",
    )
    cells = point_to_cell_id(pts)
    assert cells.iloc[0] == cells.iloc[1] != cells.iloc[2]
    out = zone_indicators(access)
    assert list(out.columns) == ["score_15min", "food_shop_min", "population", "homes"]
    first = out.loc[cells.iloc[0]]
    assert first["score_15min"] == pytest.approx((1.0 * 1 + 0.5 * 3) / 4)
    assert first["food_shop_min"] == pytest.approx(2.0)  # the NaN home is left out
    assert first["population"] == 4.0 and first["homes"] == 2
    assert out.loc[cells.iloc[2], "score_15min"] == pytest.approx(0.25)
    # other weights, given explicitly; a home weighing 0 counts as a home but weighs nothing
    other = zone_indicators(access, weights=pd.Series([0.0, 1.0, 1.0], index=access.index))
    assert other.loc[cells.iloc[0], "score_15min"] == pytest.approx(0.5)
    assert other.loc[cells.iloc[0], "homes"] == 2
    # the input is not changed
    assert list(access.columns) == ["score_15min", "food_shop_min", "weight", "geometry"]


def test_disc_sums_match_the_pairwise_shapely_computation_on_lorient(lorient):
    """The grid kernels of the cycle and slope indicators against every (home, line) pair of
    shapely's tree, on Lorient's real buildings, cycleways and streets (with a made-up grade
    per street, some missing), homes without a geometry included."""
    from qet_geo.constraints.access import _cycle_km, _street_slope

    data = lorient
    homes = homes_from_buildings(data.buildings)
    homes.loc[homes.index[:3], "geometry"] = None
    homes.loc[homes.index[3], "geometry"] = shapely.Point()
    xy = homes.geometry.to_numpy()
    _, edges = data.graph("walk")
    rng = np.random.default_rng(3)
    grade = rng.uniform(-0.12, 0.12, len(edges))
    grade[rng.random(len(edges)) < 0.1] = np.nan
    edges = edges.assign(grade=grade)

    parts = shapely.get_parts(data.cycleways.geometry.to_numpy())
    tree = shapely.STRtree(parts)
    pair_h, pair_p = tree.query(xy, predicate="dwithin", distance=CYCLE_RADIUS_M)
    km = np.zeros(len(homes))
    disc = shapely.buffer(xy, CYCLE_RADIUS_M, quad_segs=256)
    np.add.at(km, pair_h, shapely.length(shapely.intersection(parts[pair_p], disc[pair_h])))
    got = _cycle_km(homes, data.cycleways)
    assert (got > 0).sum() > 1000
    # a 1024-gon is within 0.6 m of the circle: within 2 m per home of the exact cut
    np.testing.assert_allclose(got, km / 1000, atol=2e-3)
    np.testing.assert_array_equal(got[:4], 0.0)

    lines = edges.geometry.to_numpy()
    tree = shapely.STRtree(lines)
    pair_h, pair_e = tree.query(xy, predicate="dwithin", distance=SLOPE_RADIUS_M)
    ok = np.isfinite(grade[pair_e])
    num, den = np.zeros(len(homes)), np.zeros(len(homes))
    length = edges["length"].to_numpy()
    np.add.at(num, pair_h[ok], np.abs(grade[pair_e[ok]]) * length[pair_e[ok]])
    np.add.at(den, pair_h[ok], length[pair_e[ok]])
    want = np.where(den > 0, 100 * num / np.where(den > 0, den, 1), np.nan)
    got = _street_slope(homes, edges)
    assert np.isfinite(got).sum() > 1000 and np.isnan(got[:4]).all()
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_cycle_length_is_cut_by_the_exact_disc():
    from qet_geo.constraints.access import _cycle_km

    x0, y0, r = 300_000.0, 6_700_000.0, CYCLE_RADIUS_M
    home = gpd.GeoDataFrame(geometry=[shapely.Point(x0, y0)], crs="EPSG:2154")
    lines = [
        shapely.LineString([(x0 - 2 * r, y0), (x0 + 2 * r, y0)]),  # through the centre: 2 r
        shapely.LineString([(x0 + 10, y0 + 10), (x0 + 110, y0 + 10)]),  # inside: 100 m
        shapely.LineString([(x0 - 2 * r, y0 + r), (x0 + 2 * r, y0 + r)]),  # tangent: 0
        shapely.LineString([(x0 + 2 * r, y0), (x0 + 3 * r, y0)]),  # outside: 0
        # two parts, and a bend inside the disc: 2 sqrt(r² - 300²) + 2 x 200 m
        shapely.MultiLineString(
            [
                [(x0 - 2 * r, y0 + 300), (x0 + 2 * r, y0 + 300)],
                [(x0, y0 - 100), (x0 + 200, y0 - 100), (x0 + 200, y0 - 300)],
            ]
        ),
    ]
    expected_m = [2 * r, 100.0, 0.0, 0.0, 2 * np.sqrt(r**2 - 300**2) + 400.0]
    for line, m in zip(lines, expected_m, strict=True):
        ways = gpd.GeoDataFrame(geometry=[line], crs="EPSG:2154")
        assert _cycle_km(home, ways)[0] == pytest.approx(m / 1000, abs=1e-9)
    ways = gpd.GeoDataFrame(geometry=lines, crs="EPSG:2154")
    assert _cycle_km(home, ways)[0] == pytest.approx(sum(expected_m) / 1000, abs=1e-9)
