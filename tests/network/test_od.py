"""Origin-destination matrix and street paths (qet_geo.network.od): against networkx on the real
Lorient streets, against the network's own nearest-amenity search, oneways, zero-length edges."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from qet_geo.errors import CRSError, ValidationError
from qet_geo.network.graph import Network, build_network
from qet_geo.network.od import od_matrix, street_paths
from qet_geo.network.queries import nearest
from qet_geo.network.snapping import snap

CRS = "EPSG:2154"


@pytest.fixture(scope="module")
def net(lorient) -> Network:
    nodes, edges = lorient.graph("walk")
    return build_network(nodes, edges, mode="walk")


def square(k: int, cost: pd.Series) -> np.ndarray:
    return cost.to_numpy().reshape(k, k)


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


def square_network(*, zero: bool = False) -> tuple[Network, gpd.GeoDataFrame]:
    """A 100 m square, 1 -> 2 oneway, the other sides two-way; with ``zero``, node 2 is joined
    to a node 5 at the same place by a street of length 0, and 2 -> 3 starts from 5."""
    xy = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (100.0, 100.0), 4: (0.0, 100.0)}
    pairs = [(1, 2), (2, 3), (3, 2), (3, 4), (4, 3), (4, 1), (1, 4)]
    if zero:
        xy[5] = xy[2]
        pairs = [(1, 2), (2, 5), (5, 2), (5, 3), (3, 5), (3, 4), (4, 3), (4, 1), (1, 4)]
    nodes = pd.DataFrame(
        {"x": [p[0] for p in xy.values()], "y": [p[1] for p in xy.values()]},
        index=pd.Index(list(xy), name="osmid"),
    )
    edges = gpd.GeoDataFrame(
        {"length": [0.0 if {u, v} == {2, 5} else 100.0 for u, v in pairs]},
        geometry=[shapely.LineString([xy[u], xy[v]]) for u, v in pairs],
        index=pd.MultiIndex.from_tuples([(u, v, 0) for u, v in pairs], names=["u", "v", "key"]),
        crs=CRS,
    )
    return build_network(nodes, edges, mode="walk"), edges


def test_matrix_agrees_with_networkx_on_lorient(net, lorient):
    # every street snapped to (min_component_nodes=1), so that a point on an island (a 9-node
    # fragment, which the default rule no longer snaps to) tests pairs with no path
    net = build_network(*lorient.graph("walk"), mode="walk", min_component_nodes=1)
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
    k = len(points)

    od = od_matrix(net, points)
    assert od.index.names == ["origin", "destination"] and list(od.columns) == [
        "dist_m",
        "time_min",
    ]
    assert od.index.equals(pd.MultiIndex.from_product([points.index, points.index]))
    got = square(k, od["time_min"])
    expected = nx_costs(net, points, "time")
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    row, col = got[-1, :-1], got[:-1, -1]  # the island reaches nothing, nothing reaches it
    assert np.isinf(row[~np.isnan(row)]).all() and np.isinf(col[~np.isnan(col)]).all()
    finite = np.isfinite(expected)
    assert finite.sum() > 300
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-6)
    # the lengths of the same paths (time is proportional to length on the flat)
    lengths = square(k, od["dist_m"])
    np.testing.assert_allclose(
        lengths[finite], nx_costs(net, points, "length")[finite], rtol=1e-9, atol=1e-5
    )
    by_length = square(k, od_matrix(net, points, weight="length")["dist_m"])
    np.testing.assert_allclose(by_length[finite], lengths[finite], rtol=1e-9, atol=1e-5)
    # no path, no length: where the time is infinite, so is the distance
    assert np.array_equal(np.isinf(lengths), np.isinf(got))


def test_matrix_equals_the_nearest_amenity_search_on_lorient(net):
    """One engine: the matrix gives what nearest gives between the same two points."""
    rng = np.random.default_rng(5)
    main = np.flatnonzero(net.component[net.edge_u] == 0)
    edges = rng.choice(main, 12, replace=False)
    points = gpd.GeoSeries(
        [
            shapely.line_interpolate_point(net.edge_geometry[e], f, normalized=True)
            for e, f in zip(edges, rng.uniform(0, 1, edges.size), strict=True)
        ],
        crs=net.crs,
    ).translate(3.0, -2.0)  # a little off the streets: the snap distances count too
    k = len(points)
    for weight in ("time", "length"):
        od = od_matrix(net, points, weight=weight)
        dist, time = square(k, od["dist_m"]), square(k, od["time_min"])
        for j in range(k):
            amenity = gpd.GeoDataFrame(
                {"category": ["here"]}, geometry=points.iloc[[j]].to_numpy(), crs=net.crs
            )
            near = nearest(net, points, amenity, weight=weight, cutoff_m=None)
            # from every other point (a point to itself: 0, not there and back to the street)
            other = np.arange(k) != j
            np.testing.assert_allclose(dist[other, j], near["here_m"][other], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(
                time[other, j], near["here_min"][other], rtol=1e-9, atol=1e-9
            )
            assert dist[j, j] == 0.0 and time[j, j] == 0.0


def test_oneway_streets_and_a_shared_street():
    sq, _ = square_network()
    points = gpd.GeoSeries(
        [shapely.Point(30, -5), shapely.Point(70, -5), shapely.Point(50, 105)], crs=CRS
    )
    d = square(3, od_matrix(sq, points, weight="length")["dist_m"])
    assert d[0, 1] == pytest.approx(5 + 40 + 5)  # along the oneway street
    assert d[1, 0] == pytest.approx(5 + 30 + 300 + 30 + 5)  # all the way round
    np.testing.assert_allclose(d, nx_costs(sq, points, "length"), atol=1e-9)
    paths = street_paths(sq, points.iloc[[0, 1, 2, 0]], weight="length")
    assert list(paths.index) == [0, 1, 2] and paths.crs == sq.crs
    np.testing.assert_allclose(paths.length, [d[0, 1], d[1, 2], d[2, 0]], rtol=1e-12)
    assert shapely.get_coordinates(paths.iloc[1])[0].tolist() == [70.0, -5.0]
    assert shapely.get_coordinates(paths.iloc[1])[-1].tolist() == [50.0, 105.0]


def test_a_street_of_zero_length_costs_nothing():
    # the walks from 1 to 3 cross the street 2 -> 5 of length 0: it costs exactly 0 (scipy's
    # Dijkstra follows an explicit zero of the CSR), as in nearest
    sq, _ = square_network(zero=True)
    points = gpd.GeoSeries([shapely.Point(50, 0), shapely.Point(100, 50)], crs=CRS)
    od = od_matrix(sq, points, weight="length")
    assert od.loc[(0, 1), "dist_m"] == 100.0
    assert od.loc[(0, 1), "time_min"] == pytest.approx(100.0 * sq.flat_min_per_m, rel=1e-12)
    amenity = gpd.GeoDataFrame({"category": ["x"]}, geometry=points.iloc[[1]].to_numpy(), crs=CRS)
    assert nearest(sq, points.iloc[[0]], amenity)["x_m"].iloc[0] == 100.0
    path = street_paths(sq, points, weight="length").iloc[0]
    assert path.length == 100.0


def test_off_network_and_unreachable_points():
    sq, _ = square_network()
    points = gpd.GeoSeries(
        [shapely.Point(50, 0), shapely.Point(5000, 0), None, shapely.Point(50, 0)],
        index=["a", "far", "none", "b"],
        crs=CRS,
    )
    od = od_matrix(sq, points)
    assert od.loc[("a", "b")].tolist() == [0.0, 0.0]  # two points at one place
    assert od.loc[("a", "a")].tolist() == [0.0, 0.0]
    assert od.xs("far", level="origin").isna().all().all()
    assert od.xs("none", level="destination").isna().all().all()
    paths = street_paths(sq, points)
    assert paths.iloc[0] is None and paths.iloc[1] is None and paths.iloc[2] is None
    assert street_paths(sq, points.iloc[[0, 3]]).iloc[0].length == 0.0
    assert street_paths(sq, points.iloc[[0]]).empty


def test_bad_input():
    sq, _ = square_network()
    points = gpd.GeoSeries([shapely.Point(50, 0)], crs=CRS)
    with pytest.raises(CRSError, match="to_crs"):
        od_matrix(sq, points.to_crs(4326))
    with pytest.raises(ValidationError, match="weight"):
        od_matrix(sq, points, weight="speed")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="max_snap_m"):
        street_paths(sq, points, max_snap_m=0)
