"""Visit routes: exact ordering against brute force, the walking-time matrix against networkx on
the real Lorient streets, time budgets, the GPX/GeoJSON/HTML outputs and ``qet route``."""

from __future__ import annotations

import html
import itertools
import json
import warnings
from pathlib import Path

import geopandas as gpd
import gpxpy
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from typer.testing import CliRunner

from qet_geo.cli._common import _state
from qet_geo.cli.route import route
from qet_geo.errors import DataCoverageError, InputFileError, ValidationError
from qet_geo.network.graph import Network, build_network
from qet_geo.network.snapping import snap
from qet_geo.visit.routes import (
    auto_stops,
    distance_matrix,
    order_stops,
    plan_route,
    read_stops,
    route_cost,
    route_summary,
    to_geojson,
    to_roadbook,
    write_route,
)
from tests.conftest import shared

TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)
runner = CliRunner()


# --------------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def net(lorient) -> Network:
    nodes, edges = lorient.graph("walk")
    return build_network(nodes, edges, mode="walk")


@pytest.fixture(scope="module")
def places(lorient, net) -> gpd.GeoDataFrame:
    """Named amenities on the main part of the Lorient walking network."""
    amen = lorient.amenities[lorient.amenities["name"].notna()]
    amen = amen[~amen.index.duplicated()]
    pts = gpd.GeoDataFrame(
        {"name": amen["name"], "category": amen["category"]},
        geometry=amen.geometry.representative_point(),
        crs=amen.crs,
    )
    s = snap(net, pts)
    return pts[(s["component"] == 0) & ~s["off_network"]]


def brute_force(c: np.ndarray, start: int | None, loop: bool) -> float:
    k = len(c)
    if start is None:
        perms = itertools.permutations(range(k))
    else:
        rest = [i for i in range(k) if i != start]
        perms = ((start, *p) for p in itertools.permutations(rest))
    return min(route_cost(c, p, loop=loop) for p in perms)


def euclidean(rng: np.random.Generator, k: int, noise: float = 0.2) -> np.ndarray:
    xy = rng.random((k, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return d * (1 + noise * rng.random((k, k)))  # asymmetric, like a slope one way


def nx_costs(net: Network, points: gpd.GeoSeries, weight: str) -> np.ndarray:
    """All-pairs costs by networkx on the graph with every snapped point inserted in its street."""
    s = snap(net, points)
    w = net.edge_time if weight == "time" else net.edge_length
    per_m = net.flat_min_per_m if weight == "time" else 1.0
    on = np.flatnonzero(~s["off_network"].to_numpy())
    edge, frac, dist = s["edge"].to_numpy(), s["fraction"].to_numpy(), s["snap_m"].to_numpy()
    carried: dict[int, set[float]] = {}
    for i in on:
        carried.setdefault(int(edge[i]), set()).add(float(frac[i]))
    g = nx.DiGraph()

    def add(a, b, cost):
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > cost):
            g.add_edge(a, b, w=cost)

    def at(key: int, f: float):
        if f == 0.0:
            return int(net.edge_u[key])
        if f == 1.0:
            return int(net.edge_v[key])
        return ("x", key, f)

    handled: set[int] = set()
    for e in range(net.n_edges):
        t = int(net.edge_twin[e])
        key = e if e in carried else t if t in carried else None
        if key is None:
            add(int(net.edge_u[e]), int(net.edge_v[e]), float(w[e]))
            continue
        if key in handled:
            continue
        kt = int(net.edge_twin[key])
        fr = sorted(carried[key] | {0.0, 1.0})
        for fa, fb in itertools.pairwise(fr):
            add(at(key, fa), at(key, fb), (fb - fa) * float(w[key]))
            if kt >= 0:
                add(at(key, fb), at(key, fa), (fb - fa) * float(w[kt]))
        handled.update({key, kt})
    for i in on:
        node = at(int(edge[i]), float(frac[i]))
        add(("p", i), node, dist[i] * per_m)
        add(node, ("p", i), dist[i] * per_m)
    out = np.full((len(points), len(points)), np.nan)
    for i in on:
        reach = nx.single_source_dijkstra_path_length(g, ("p", i), weight="w")
        out[i, on] = [0.0 if j == i else reach.get(("p", j), np.inf) for j in on]
    return out


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test group."""

    app.command("route")(route)
    return app


def write_csv(path: Path, rows: list[tuple[float, float, str]], priority: bool = False) -> Path:
    frame = pd.DataFrame(rows, columns=["lon", "lat", "nom"])
    if priority:
        frame["priorite"] = np.arange(len(rows))[::-1] + 1
    frame.to_csv(path, index=False)
    return path


def lonlat(geom: shapely.Point) -> tuple[float, float]:
    lon, lat = TO_WGS84.transform(geom.x, geom.y)
    return float(lon), float(lat)


# --------------------------------------------------------------------------------------------
# ordering
# --------------------------------------------------------------------------------------------


@st.composite
def instances(draw):
    k = draw(st.integers(2, 7))
    values = draw(st.lists(st.integers(0, 60), min_size=k * k, max_size=k * k))
    c = np.asarray(values, dtype=float).reshape(k, k)  # small integers: many ties
    np.fill_diagonal(c, 0.0)
    start = draw(st.one_of(st.none(), st.integers(0, k - 1)))
    return c, start, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(instances())
def test_held_karp_equals_brute_force(instance):
    c, start, loop = instance
    order = order_stops(c, start=start, loop=loop, method="exact")
    assert sorted(order) == list(range(len(c)))
    if start is not None:
        assert order[0] == start
    assert route_cost(c, order, loop=loop) == pytest.approx(brute_force(c, start, loop), abs=1e-9)


def test_held_karp_equals_brute_force_on_real_size():
    rng = np.random.default_rng(7)
    for start, loop in ((0, False), (0, True), (None, False), (None, True)):
        c = euclidean(rng, 9)
        order = order_stops(c, start=start, loop=loop)  # "auto": exact at this size
        assert route_cost(c, order, loop=loop) == pytest.approx(brute_force(c, start, loop))


def test_heuristic_near_exact_and_never_worse_than_nearest_neighbour():
    rng = np.random.default_rng(2024)
    gaps = []
    for trial in range(24):
        c = euclidean(rng, 10 + trial % 3)
        for start, loop in ((0, False), (0, True), (None, False)):
            cost = {
                m: route_cost(c, order_stops(c, start=start, loop=loop, method=m), loop=loop)
                for m in ("exact", "heuristic", "nearest_neighbour")
            }
            assert cost["heuristic"] <= cost["nearest_neighbour"] + 1e-12
            assert cost["exact"] <= cost["heuristic"] + 1e-12
            gaps.append(cost["heuristic"] / cost["exact"] - 1)
    gaps_arr = np.asarray(gaps)
    assert gaps_arr.max() < 0.05
    assert gaps_arr.mean() < 0.005
    assert (gaps_arr < 1e-9).mean() > 0.85  # optimal on most instances


def test_heuristic_is_a_local_optimum_on_a_large_instance():
    rng = np.random.default_rng(3)
    c = euclidean(rng, 40)
    order = order_stops(c, start=0)  # heuristic above 12 stops
    assert order[0] == 0 and sorted(order) == list(range(40))
    best = route_cost(c, order)
    nn = route_cost(c, order_stops(c, start=0, method="nearest_neighbour"))
    assert best <= nn
    for i, j in itertools.combinations(range(1, 40), 2):  # no 2-opt move improves it
        moved = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
        assert route_cost(c, moved) >= best - 1e-9
    for i in range(1, 40):  # nor moving one stop elsewhere
        rest = order[:i] + order[i + 1 :]
        for p in range(1, 40):
            assert route_cost(c, [*rest[:p], order[i], *rest[p:]]) >= best - 1e-9


def test_order_stops_rejects_bad_costs():
    with pytest.raises(ValidationError):
        order_stops(np.ones((2, 3)))
    with pytest.raises(ValidationError, match="reachable"):
        order_stops(np.array([[0, np.inf], [1, 0]]))
    with pytest.raises(ValidationError):
        order_stops(np.zeros((3, 3)), start=5)


# --------------------------------------------------------------------------------------------
# the walking-time matrix
# --------------------------------------------------------------------------------------------


def test_matrix_agrees_with_networkx_on_lorient(net):
    rng = np.random.default_rng(11)
    (x0, y0), (x1, y1) = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    pts = list(shapely.points(rng.uniform(x0, x1, 24), rng.uniform(y0, y1, 24)))
    # two points on one long street (direct walk along it), one on a node, one on an island
    long_edge = int(np.argmax(net.edge_length))
    geom = net.edge_geometry[long_edge]
    pts += [shapely.line_interpolate_point(geom, f, normalized=True) for f in (0.2, 0.7)]
    pts.append(shapely.Point(net.node_xy[net.edge_u[long_edge]]))
    island = int(np.flatnonzero(net.component[net.edge_u] == 1)[0])
    pts.append(shapely.line_interpolate_point(net.edge_geometry[island], 0.5, normalized=True))
    points = gpd.GeoSeries(pts, crs=net.crs)

    matrix = distance_matrix(net, points)
    got = matrix.to_numpy()
    expected = nx_costs(net, points, "time")
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    row, col = got[-1, :-1], got[:-1, -1]  # the island reaches nothing, nothing reaches it
    assert np.isinf(row[~np.isnan(row)]).all() and np.isinf(col[~np.isnan(col)]).all()
    finite = np.isfinite(expected)
    assert finite.sum() > 300
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-6)
    # the lengths of the same paths (time is proportional to length on the flat)
    lengths = matrix.attrs["other"].to_numpy()
    np.testing.assert_allclose(
        lengths[finite], nx_costs(net, points, "length")[finite], rtol=1e-9, atol=1e-5
    )
    by_length = distance_matrix(net, points, weight="length").to_numpy()
    np.testing.assert_allclose(by_length[finite], lengths[finite], rtol=1e-9, atol=1e-5)


def test_matrix_follows_oneway_streets_and_walks_along_a_shared_street():
    # a 100 m square, A -> B oneway, the other sides two-way
    nodes = pd.DataFrame(
        {"x": [0.0, 100.0, 100.0, 0.0], "y": [0.0, 0.0, 100.0, 100.0]},
        index=pd.Index([1, 2, 3, 4], name="osmid"),
    )
    pairs = [(1, 2), (2, 3), (3, 2), (3, 4), (4, 3), (4, 1), (1, 4)]
    edges = gpd.GeoDataFrame(
        {"length": 100.0},
        geometry=[
            shapely.LineString([nodes.loc[u, ["x", "y"]], nodes.loc[v, ["x", "y"]]])
            for u, v in pairs
        ],
        index=pd.MultiIndex.from_tuples([(u, v, 0) for u, v in pairs], names=["u", "v", "key"]),
        crs="EPSG:2154",
    )
    square = build_network(nodes, edges, mode="walk")
    points = gpd.GeoSeries(
        [shapely.Point(30, -5), shapely.Point(70, -5), shapely.Point(50, 105)], crs="EPSG:2154"
    )
    d = distance_matrix(square, points, weight="length").to_numpy()
    assert d[0, 1] == pytest.approx(5 + 40 + 5)  # along the oneway street
    assert d[1, 0] == pytest.approx(5 + 30 + 300 + 30 + 5)  # all the way round
    np.testing.assert_allclose(d, nx_costs(square, points, "length"), atol=1e-9)
    visit = plan_route(square, gpd.GeoDataFrame(geometry=points), loop=True, dwell_min=0)
    assert visit.length_m == pytest.approx(50 + (5 + 30 + 100 + 50 + 5) + (5 + 50 + 100 + 30 + 5))
    assert visit.line.length == pytest.approx(visit.length_m)


# --------------------------------------------------------------------------------------------
# planning on Lorient
# --------------------------------------------------------------------------------------------


def test_plan_route_is_optimal_and_follows_the_streets(net, places):
    stops = places.sample(7, random_state=1)
    start = shapely.Point(net.node_xy[np.flatnonzero(net.component == 0)[0]])
    visit = plan_route(net, stops, start=start)
    assert visit.method == "held-karp"
    # the order is the best of all 5040 on the route's own matrix
    pts = gpd.GeoSeries([start, *stops.geometry], crs=net.crs)
    c = distance_matrix(net, pts).to_numpy()
    assert visit.walk_min == pytest.approx(brute_force(c, 0, False))
    assert list(visit.stops.index) == [stops.index[i - 1] for i in order_stops(c, start=0)[1:]]
    # legs join the points they say, along the streets, and add up
    assert len(visit.legs) == 7 and visit.legs["from_id"].iloc[0] is None
    assert visit.line.length == pytest.approx(visit.length_m, rel=1e-6)
    for leg, (a, b) in zip(
        visit.legs.itertuples(), itertools.pairwise([start, *visit.stops.geometry]), strict=True
    ):
        xy = shapely.get_coordinates(leg.geometry)
        assert np.allclose(xy[0], [a.x, a.y]) and np.allclose(xy[-1], [b.x, b.y])
        assert leg.geometry.length == pytest.approx(leg.length_m, rel=1e-6)
    table = visit.stops
    assert list(table["order"]) == list(range(1, 8))
    assert table["leave_min"].iloc[-1] == pytest.approx(visit.duration_min)
    assert visit.duration_min == pytest.approx(visit.walk_min + 7 * 5)


def test_loop_without_start_begins_at_the_top_priority_stop(net, places):
    stops = places.sample(6, random_state=4).assign(priority=[1, 1, 3, 2, 1, 1])
    visit = plan_route(net, stops, loop=True)
    assert visit.stops.index[0] == stops.index[2]
    assert visit.legs["to_id"].iloc[-1] == stops.index[2]  # back to the first stop
    c = distance_matrix(net, stops).to_numpy()
    assert visit.walk_min == pytest.approx(brute_force(c, None, True))


def test_budget_drops_lowest_priority_first_and_fits(net, places):
    stops = places.sample(10, random_state=5).assign(
        priority=[3, 1, 2, 1, 3, 2, 1, 2, 3, 1], dwell_min=[5, 5, 5, 5, 5, 10, 5, 5, 5, 5]
    )
    full = plan_route(net, stops)
    assert full.dropped.empty
    same = plan_route(net, stops, max_minutes=full.duration_min + 1e-6)
    assert same.dropped.empty
    budget = full.duration_min - 25
    visit = plan_route(net, stops, max_minutes=budget)
    assert visit.duration_min <= budget
    dropped = stops.loc[visit.dropped.index, "priority"].to_numpy()
    kept = stops.loc[visit.stops.index, "priority"].to_numpy()
    assert len(dropped) >= 2 and (np.diff(dropped) >= 0).all()
    assert dropped.max() <= kept.min()
    assert list(visit.dropped["dropped_rank"]) == list(range(1, len(dropped) + 1))
    # dropping was needed: with the last dropped stop back, the best visit is over budget
    back = stops.loc[[*visit.stops.index, visit.dropped.index[-1]]]
    assert plan_route(net, back).duration_min > budget
    assert route_summary(visit)["dropped"] == list(visit.dropped.index)


def test_budget_too_small_and_bad_stops(net, places):
    stops = places.sample(3, random_state=6)
    with pytest.raises(ValidationError, match="budget") as err:
        plan_route(net, stops, max_minutes=6)
    assert "budget" in err.value.message_fr and "--max-minutes" in err.value.message_fr
    with pytest.raises(ValidationError, match="at least 2"):
        plan_route(net, stops.iloc[:1])
    island = int(np.flatnonzero(net.component[net.edge_u] == 2)[0])
    cut = shapely.line_interpolate_point(net.edge_geometry[island], 0.5, normalized=True)
    lonely = pd.concat([stops, gpd.GeoDataFrame({"name": ["Île"]}, geometry=[cut], crs=net.crs)])
    lonely.index = ["a", "b", "c", "d"]
    with pytest.raises(ValidationError, match="Île") as err:
        plan_route(net, lonely)
    assert "injoignable" in err.value.message_fr
    far = stops.set_geometry(stops.geometry.translate(5000, 0))
    with pytest.raises(DataCoverageError, match="from any street"):
        plan_route(net, far)
    with pytest.raises(DataCoverageError, match="outside"):
        plan_route(net, stops, area=shapely.box(0, 0, 1, 1))
    with pytest.raises(ValidationError, match="dwell"):
        plan_route(net, stops.assign(dwell_min=[5, -1, 5]))


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------


def test_outputs_gpx_geojson_html(tmp_path, net, places):
    stops = places.sample(6, random_state=8).assign(reason="Pour voir <ça> & le reste")
    start = stops.geometry.iloc[0].buffer(40).exterior.interpolate(0)
    visit = plan_route(net, stops.iloc[1:], start=start, loop=True)
    paths = write_route(visit, tmp_path / "visite.gpx", title="Lorient centre")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "visite.geojson",
        "visite.gpx",
        "visite.html",
    ]

    gpx = gpxpy.parse(paths["gpx"].read_text(encoding="utf-8"))
    names = [w.name for w in gpx.waypoints]
    assert names[0] == "00 Départ"
    expected = [f"{i:02d} {n}" for i, n in enumerate(visit.stops["name"], start=1)]
    assert names[1:] == expected
    for w, geom in zip(gpx.waypoints[1:], visit.stops.geometry, strict=True):
        assert (w.longitude, w.latitude) == pytest.approx(lonlat(geom), abs=1e-6)
    assert gpx.waypoints[1].description == "Pour voir <ça> & le reste"
    assert len(gpx.tracks) == 1
    assert gpx.length_2d() == pytest.approx(visit.length_m, rel=0.01)
    first = gpx.tracks[0].segments[0].points[0]
    assert (first.longitude, first.latitude) == pytest.approx(lonlat(start), abs=1e-6)

    layer = gpd.read_file(paths["geojson"])
    assert layer.crs.to_epsg() == 4326
    stops_out = layer[layer["kind"] == "stop"]
    assert list(stops_out["id"]) == [str(i) for i in visit.stops.index]
    assert list(stops_out["order"]) == list(range(1, 6))
    whole = layer[layer["kind"] == "route"]
    assert len(whole) == 1 and whole["length_m"].iloc[0] == pytest.approx(visit.length_m, 0.01)
    assert (layer[layer["kind"] == "leg"].to_crs(2154).length.sum()) == pytest.approx(
        visit.length_m, rel=0.01
    )
    assert layer.total_bounds[0] > -3.4 and layer.total_bounds[2] < -3.3

    page = paths["html"].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "src=" not in page
    assert "<svg" in page and "<script" not in page and "@import" not in page
    assert "Pour voir &lt;ça&gt; &amp; le reste" in page
    for name in visit.stops["name"]:
        assert html.escape(name) in page
    assert "Retour au départ" in page and "Pourquoi" in page
    english = to_roadbook(visit, lang="en")
    assert "Why" in english and "Back to the start" in english and "http" not in english


def test_write_route_is_atomic_and_checks_the_name(tmp_path, net, places, monkeypatch):
    visit = plan_route(net, places.sample(3, random_state=9))
    with pytest.raises(ValidationError, match=r"\.gpx"):
        write_route(visit, tmp_path / "visite.txt")
    import qet_geo.visit.routes as routes_module

    def broken(route, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(routes_module, "to_roadbook", broken)
    with pytest.raises(RuntimeError):
        write_route(visit, tmp_path / "visite.gpx")
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert to_geojson(visit)["type"] == "FeatureCollection"


# --------------------------------------------------------------------------------------------
# stops
# --------------------------------------------------------------------------------------------


def test_read_stops_csv_and_geojson(tmp_path, places):
    rows = [(*lonlat(g), n) for g, n in zip(places.geometry[:3], places["name"][:3], strict=True)]
    csv = write_csv(tmp_path / "etapes.csv", rows, priority=True)
    got = read_stops(csv)
    assert got.crs.to_epsg() == 2154 and list(got.index) == [1, 2, 3]
    assert list(got["name"]) == list(places["name"][:3]) and list(got["priority"]) == [3, 2, 1]
    assert np.allclose(
        shapely.get_coordinates(got.geometry), shapely.get_coordinates(places.geometry[:3])
    )
    gj = tmp_path / "etapes.geojson"
    places.iloc[:3].assign(id=["x", "y", "z"]).to_crs(4326).to_file(gj)
    got = read_stops(gj)
    assert list(got.index) == ["x", "y", "z"] and got.crs.to_epsg() == 2154
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="lon/lat"):
        read_stops(bad)
    with pytest.raises(InputFileError):
        read_stops(tmp_path / "absent.csv")


@pytest.fixture(scope="module")
def lorient_layers():
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(shared("osm", "lorient_centre.osm.pbf"))
        access = neighbourhood_access(layers)
    return layers, access


def test_auto_stops_on_lorient(lorient_layers, net):
    layers, access = lorient_layers
    stops = auto_stops(layers, n=8, access=access)  # builds its own walking network
    assert list(stops.index) == [
        "market",
        "home_far_food",
        "transit_busy",
        "home_best",
        "food_shop",
        "school",
        "park",
        "second_hand_repair",
    ]
    assert (np.diff(stops["priority"]) <= 0).all()
    assert stops["reason"].str.len().min() > 20 and not stops["reason"].str.contains("nan").any()
    assert stops.loc["market", "reason"] == "Marché : lieu d'enquête et de rencontre"
    far = access.loc[stops.loc["home_far_food", "source"]]
    assert far["food_shop_min"] == pytest.approx(access["food_shop_min"].max(), abs=1e-9) or (
        far["food_shop_min"] > access["food_shop_min"].quantile(0.99)
    )
    assert f"({far['food_shop_min']:.0f} min à pied)" in stops.loc["home_far_food", "reason"]
    best = access.loc[stops.loc["home_best", "source"]]
    assert best["score_15min"] == access["score_15min"].max()
    d = np.asarray([[a.distance(b) for b in stops.geometry] for a in stops.geometry])
    assert d[np.triu_indices(8, 1)].min() >= 25
    s = snap(net, stops)
    assert (s["component"] == 0).all() and not s["off_network"].any()
    more = auto_stops(layers, n=15, access=access, network=net, lang="en")
    assert len(more) == 15 and list(more.index[:8]) == list(stops.index)
    assert more.loc["market", "reason"].startswith("Market")


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def test_cli_auto_8_end_to_end(tmp_path):
    out = tmp_path / "visite.gpx"
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    res = runner.invoke(cli_app(), ["route", osm, "--auto", "8", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert len(summary["order"]) == 8 and summary["dropped"] == []
    assert summary["method"] == "held-karp"
    assert 1000 < summary["length_m"] < 10000
    assert summary["duration_min"] == pytest.approx(summary["walk_min"] + 40, abs=0.11)
    assert summary["walk_min"] == pytest.approx(summary["length_m"] / 75, rel=1e-3)  # 4.5 km/h
    assert {p.name for p in tmp_path.iterdir()} == {"visite.gpx", "visite.geojson", "visite.html"}
    gpx = gpxpy.parse(out.read_text(encoding="utf-8"))
    assert len(gpx.waypoints) == 8 and gpx.waypoints[0].name.startswith("01 Marché")


@pytest.fixture(scope="module")
def island_lonlat(net) -> tuple[float, float]:
    island = int(np.flatnonzero(net.component[net.edge_u] == 1)[0])
    return lonlat(shapely.line_interpolate_point(net.edge_geometry[island], 0.5, normalized=True))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("outside", "hors de la zone couverte"),
        ("island", "injoignable"),
        ("one", "au moins 2 étapes"),
        ("budget", "budget"),
        ("both", "l'un ou l'autre"),
        ("neither", "l'un ou l'autre"),
        ("start", "LON,LAT"),
        ("suffix", ".gpx"),
        ("missing", "introuvable"),
        ("auto", "entre 2 et"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, places, island_lonlat, case, message):
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    rows = [(*lonlat(g), n) for g, n in zip(places.geometry[:3], places["name"][:3], strict=True)]
    inputs = tmp_path / "in"
    inputs.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    gpx = str(out / "visite.gpx")
    csv = str(write_csv(inputs / "s.csv", rows))
    args = {
        "outside": ["--stops", str(write_csv(inputs / "o.csv", [*rows, (2.35, 48.85, "Paris")]))],
        "island": ["--stops", str(write_csv(inputs / "i.csv", [*rows, (*island_lonlat, "Île")]))],
        "one": ["--stops", str(write_csv(inputs / "1.csv", rows[:1]))],
        "budget": ["--stops", csv, "--max-minutes", "3"],
        "both": ["--stops", csv, "--auto", "4"],
        "neither": [],
        "start": ["--stops", csv, "--start", "quai"],
        "suffix": ["--stops", csv],
        "missing": ["--stops", str(inputs / "absent.csv")],
        "auto": ["--auto", "1"],
    }[case]
    target = str(out / "visite.txt") if case == "suffix" else gpx
    res = runner.invoke(cli_app(), ["route", osm, *args, "--out", target])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("Erreur")]
    assert len(errors) == 1 and message in errors[0], res.stderr
    assert "Traceback" not in res.output
    assert not list(out.iterdir())


def test_cli_speaks_english(tmp_path, monkeypatch):
    monkeypatch.setitem(_state, "lang", "en")
    res = runner.invoke(
        cli_app(),
        ["route", str(shared("osm", "lorient_centre.osm.pbf")), "--out", str(tmp_path / "x.gpx")],
    )
    assert res.exit_code == 2 and "one or the other" in res.stderr
