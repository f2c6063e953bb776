"""The visit (qet_geo.visit.plan): plan_visit, the one visit of a neighbourhood (``qet route``,
the diagnostic, the service), whose walks are the street network's own shortest paths on the
real Lorient extract; plan_route (optimal order, loops, time budgets, errors); ``qet route`` end
to end."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import geopandas as gpd
import gpxpy
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from qet_geo.cli._common import _state
from qet_geo.errors import DataCoverageError, ValidationError
from qet_geo.network.graph import build_network
from qet_geo.network.od import od_matrix
from qet_geo.network.queries import nearest
from qet_geo.pipeline import Neighbourhood, build_neighbourhood
from qet_geo.visit.export import route_summary
from qet_geo.visit.order import order_stops
from qet_geo.visit.plan import plan_route, plan_visit
from qet_geo.visit.stops import auto_stops
from tests.conftest import shared
from tests.network.test_od import nx_costs
from tests.visit.conftest import brute_force, cli_app, lonlat, minutes, runner, write_csv


@pytest.fixture(scope="module")
def hood(lorient_pbf: Path) -> Neighbourhood:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_neighbourhood(lorient_pbf, modes=("walk",))


@pytest.fixture(scope="module")
def start(hood: Neighbourhood) -> shapely.Point:
    net = hood.networks["walk"]
    return shapely.Point(net.node_xy[np.flatnonzero(net.component == 0)[40]])


def shortest(net, a: shapely.Point, b: shapely.Point) -> tuple[float, float]:
    """Metres and minutes of the fastest walk from a to b, by the network's nearest search."""
    origin = gpd.GeoSeries([a], crs=net.crs)
    target = gpd.GeoDataFrame({"category": ["next"]}, geometry=[b], crs=net.crs)
    near = nearest(net, origin, target, weight="time", cutoff_m=None)
    return float(near["next_m"].iloc[0]), float(near["next_min"].iloc[0])


def test_qet_route_legs_are_the_networks_own_shortest_paths_on_lorient(
    hood: Neighbourhood, start: shapely.Point, lorient_pbf: Path, tmp_path: Path
) -> None:
    net = hood.networks["walk"]
    visit = plan_visit(hood, n=6, start=start, loop=True)
    points = [start, *visit.stops.geometry, start]  # from the start, stop to stop, and back
    assert len(visit.legs) == len(points) - 1 == 7
    for leg, a, b in zip(visit.legs.itertuples(), points[:-1], points[1:], strict=True):
        dist_m, time_min = shortest(net, a, b)
        assert leg.length_m == pytest.approx(dist_m, rel=1e-9, abs=1e-9)
        assert leg.time_min == pytest.approx(time_min, rel=1e-9, abs=1e-9)
        assert leg.geometry.length == pytest.approx(dist_m, rel=1e-6)

    # the command plans the same visit: same stops, same order, same walks
    lon, lat = Transformer.from_crs(net.crs, 4326, always_xy=True).transform(start.x, start.y)
    out = tmp_path / "visite.gpx"
    args = ["route", str(lorient_pbf), "--auto", "6", "--loop", "--start", f"{lon!r},{lat!r}"]
    res = runner.invoke(cli_app(), [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["order"] == list(visit.stops.index)
    features = json.loads(out.with_suffix(".geojson").read_text(encoding="utf-8"))["features"]
    legs = [f["properties"] for f in features if f["properties"]["kind"] == "leg"]
    assert [p["length_m"] for p in legs] == pytest.approx(list(visit.legs["length_m"]), abs=0.011)
    assert [p["time_min"] for p in legs] == pytest.approx(list(visit.legs["time_min"]), abs=0.011)


def test_plan_visit_is_auto_stops_then_plan_route(hood: Neighbourhood) -> None:
    visit = plan_visit(hood, n=5, lang="en")
    net = hood.networks["walk"]
    stops = auto_stops(hood.layers, n=5, access=hood.access["walk"], network=net, lang="en")
    same = plan_route(net, stops, area=hood.layers.territory.working_area)
    assert list(visit.stops.index) == list(same.stops.index)
    assert list(visit.stops["reason"]) == list(same.stops["reason"])
    assert visit.stops.loc["market", "reason"].startswith("Market")
    np.testing.assert_array_equal(visit.legs["length_m"], same.legs["length_m"])
    assert visit.start is None and not visit.loop


def test_plan_visit_on_given_stops_and_its_errors(
    hood: Neighbourhood, start: shapely.Point
) -> None:
    amen = hood.layers.layers["amenities"]
    amen = amen[amen["name"].notna()].iloc[:4]
    stops = gpd.GeoDataFrame(
        {"name": amen["name"].to_numpy(), "priority": [1, 2, 3, 4]},
        geometry=amen.geometry.representative_point().to_numpy(),
        crs=amen.crs,
    )
    visit = plan_visit(hood, stops=stops, start=start, max_minutes=1000, dwell_min=2)
    assert sorted(visit.stops.index) == [0, 1, 2, 3] and visit.start == start
    assert visit.dwell_total_min == 8 and visit.max_minutes == 1000
    with pytest.raises(ValidationError, match="walking network") as err:
        plan_visit(Neighbourhood(layers=hood.layers), stops=stops)
    assert "réseau piéton" in err.value.message_fr
    far = stops.set_geometry(stops.geometry.translate(50_000, 0))
    with pytest.raises(Exception, match="outside"):
        plan_visit(hood, stops=far)  # the extract's area, as qet route checks it


# --------------------------------------------------------------------------------------------
# the walking-time matrix
# --------------------------------------------------------------------------------------------


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
    d = od_matrix(square, points, weight="length")["dist_m"].to_numpy().reshape(3, 3)
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
    c = minutes(net, pts)
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
    c = minutes(net, stops)
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


def test_budget_too_small_and_bad_stops(net, net_all_streets, places):
    stops = places.sample(3, random_state=6)
    with pytest.raises(ValidationError, match="budget") as err:
        plan_route(net, stops, max_minutes=6)
    assert "budget" in err.value.message_fr and "--max-minutes" in err.value.message_fr
    with pytest.raises(ValidationError, match="at least 2"):
        plan_route(net, stops.iloc[:1])
    every = net_all_streets
    island = int(np.flatnonzero(every.component[every.edge_u] == 2)[0])
    cut = shapely.line_interpolate_point(every.edge_geometry[island], 0.5, normalized=True)
    lonely = pd.concat([stops, gpd.GeoDataFrame({"name": ["Île"]}, geometry=[cut], crs=net.crs)])
    lonely.index = ["a", "b", "c", "d"]
    with pytest.raises(ValidationError, match="Île") as err:
        plan_route(every, lonely)
    assert "injoignable" in err.value.message_fr
    # on the default network the fragment takes no stop: it joins the nearest routable street
    assert plan_route(net, lonely).stops.index.isin(["d"]).any()
    far = stops.set_geometry(stops.geometry.translate(5000, 0))
    with pytest.raises(DataCoverageError, match="from any street"):
        plan_route(net, far)
    with pytest.raises(DataCoverageError, match="outside"):
        plan_route(net, stops, area=shapely.box(0, 0, 1, 1))
    with pytest.raises(ValidationError, match="dwell"):
        plan_route(net, stops.assign(dwell_min=[5, -1, 5]))


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def test_cli_auto_8_end_to_end(tmp_path):
    out = tmp_path / "visite.gpx"
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    args = ["route", osm, "--auto", "8", "--out", str(out), "--json", "--name", "Merville"]
    res = runner.invoke(cli_app(), args)
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
    # --name titles the roadbook and the GPX instead of the extract's file name
    assert "Merville" in (tmp_path / "visite.html").read_text(encoding="utf-8")
    assert "Merville" in (gpx.name or "") + "".join(t.name or "" for t in gpx.tracks)


@pytest.fixture(scope="module")
def island_lonlat(net_all_streets) -> tuple[float, float]:
    every = net_all_streets
    island = int(np.flatnonzero(every.component[every.edge_u] == 1)[0])
    return lonlat(shapely.line_interpolate_point(every.edge_geometry[island], 0.5, normalized=True))


def test_cli_joins_a_stop_on_a_street_fragment_to_the_network(tmp_path, places, island_lonlat):
    """A stop drawn on a cut-off fragment walks from the nearest routable street (OSRM's rule),
    where it used to be refused as unreachable."""
    rows = [(*lonlat(g), n) for g, n in zip(places.geometry[:3], places["name"][:3], strict=True)]
    stops = write_csv(tmp_path / "i.csv", [*rows, (*island_lonlat, "Île")])
    out = tmp_path / "visite.gpx"
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    res = runner.invoke(
        cli_app(), ["route", osm, "--stops", str(stops), "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["order"]) == 4


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("outside", "hors de la zone couverte"),
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
def test_cli_bad_input_exits_2_with_one_line(tmp_path, places, case, message):
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
