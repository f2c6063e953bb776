"""Tests of qet_geo.network: agreement with networkx, snapping, slopes, counts, isochrones."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qet_geo.network as qn
from qet_geo.errors import CRSError, EmptyDataError, QetGeoError, QetGeoWarning, ValidationError
from qet_geo.network import queries

CRS = "EPSG:2154"
X0, Y0 = 225_000.0, 6_757_000.0  # Lorient, in Lambert-93
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "osm"
LORIENT_PBF = DATA / "lorient_centre.osm.pbf"
TOL = 1e-6


# --------------------------------------------------------------------------------------------
# Graph builders
# --------------------------------------------------------------------------------------------


def make_gdfs(
    coords: dict[int, tuple[float, float]],
    streets: Iterable[tuple[int, int, bool]],
    *,
    stretch: dict[tuple[int, int], float] | None = None,
    grade: dict[tuple[int, int], float] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges (osmnx convention) from node coordinates and (u, v, oneway) streets."""
    nodes = gpd.GeoDataFrame(
        {"x": [c[0] for c in coords.values()], "y": [c[1] for c in coords.values()]},
        geometry=gpd.points_from_xy(
            [c[0] for c in coords.values()], [c[1] for c in coords.values()]
        ),
        index=pd.Index(list(coords), name="osmid", dtype="int64"),
        crs=CRS,
    )
    rows: list[dict[str, Any]] = []
    index: list[tuple[int, int, int]] = []
    seen: dict[tuple[int, int], int] = {}
    for u, v, oneway in streets:
        line = shapely.LineString([coords[u], coords[v]])
        length = line.length * (stretch or {}).get((u, v), 1.0)
        g = (grade or {}).get((u, v), 0.0)
        for a, b, geom, gr in ((u, v, line, g), (v, u, line.reverse(), -g)):
            key = seen.get((a, b), 0)
            seen[(a, b)] = key + 1
            index.append((a, b, key))
            rows.append({"length": length, "grade": gr, "oneway": oneway, "geometry": geom})
            if oneway:
                break
    edges = gpd.GeoDataFrame(
        rows, index=pd.MultiIndex.from_tuples(index, names=["u", "v", "key"]), crs=CRS
    )
    return nodes, edges


def grid(
    nx_: int,
    ny_: int,
    *,
    spacing: float = 100.0,
    skip: Sequence[tuple[int, int]] = (),
    oneway: Sequence[tuple[int, int]] = (),
    seed: int = 0,
    offset: tuple[float, float] = (0.0, 0.0),
    first_id: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A street grid; ``skip`` removes streets, ``oneway`` makes them one-way u→v.

    Lengths are stretched by a random factor in [1, 1.2) so that shortest paths are unique.
    """
    rng = np.random.default_rng(seed)
    coords = {
        first_id + i * ny_ + j: (X0 + offset[0] + i * spacing, Y0 + offset[1] + j * spacing)
        for i in range(nx_)
        for j in range(ny_)
    }
    streets = []
    for i in range(nx_):
        for j in range(ny_):
            a = first_id + i * ny_ + j
            for b in ([first_id + (i + 1) * ny_ + j] if i + 1 < nx_ else []) + (
                [a + 1] if j + 1 < ny_ else []
            ):
                if (a, b) in skip or (b, a) in skip:
                    continue
                streets.append((a, b, (a, b) in oneway))
    stretch = {(u, v): float(rng.uniform(1.0, 1.2)) for u, v, _ in streets}
    return make_gdfs(coords, streets, stretch=stretch)


def points(xy: Iterable[tuple[float, float]], **columns: Any) -> gpd.GeoDataFrame:
    xy = list(xy)
    return gpd.GeoDataFrame(
        columns, geometry=gpd.points_from_xy([p[0] for p in xy], [p[1] for p in xy]), crs=CRS
    )


def scattered(
    rng: np.random.Generator, box: Sequence[float], n: int, **columns: Any
) -> gpd.GeoDataFrame:
    """``n`` points drawn uniformly in ``box`` (xmin, ymin, xmax, ymax): the xs, then the ys."""
    xmin, ymin, xmax, ymax = box
    return points(
        zip(rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n), strict=True), **columns
    )


@pytest.fixture(scope="module")
def lorient() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The Lorient street graph (oneways kept), by osmnx, projected to EPSG:2154."""
    import osmium
    import osmnx as ox

    if not LORIENT_PBF.exists():  # real data is required: fail, never skip
        pytest.fail(f"{LORIENT_PBF} is missing: the shared data must be in ../shared/data")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "lorient_streets.osm"
        # keep the streets only: osmnx reads every way of an .osm file
        with osmium.BackReferenceWriter(str(xml), ref_src=str(LORIENT_PBF)) as writer:
            streets = osmium.FileProcessor(str(LORIENT_PBF), osmium.osm.WAY).with_filter(
                osmium.filter.KeyFilter("highway")
            )
            for obj in streets:
                writer.add(obj)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = ox.graph_from_xml(xml, bidirectional=False, retain_all=True)
    graph = ox.project_graph(graph, to_crs=2154)
    nodes, edges = ox.graph_to_gdfs(graph)
    return nodes, edges


# --------------------------------------------------------------------------------------------
# Reference: networkx on an explicit graph with the snapped points inserted
# --------------------------------------------------------------------------------------------


def cell(frame: pd.DataFrame, row: Any, column: str) -> Any:
    """One value of a table (typed loosely: pandas-stubs types .loc scalars as a wide union)."""
    return cast(Any, frame.loc[row, column])


def reference_graph(
    edges: gpd.GeoDataFrame,
    located: dict[str, tuple[int, float, float, str]],
    *,
    weight: str = "length",
    per_m: float = 1.0,
    edge_weight: np.ndarray | None = None,
) -> nx.DiGraph:
    """networkx graph where each point splits the street it is snapped to.

    ``located`` maps a point name to (edge position, fraction from u, snap distance, role),
    role "origin" (a home: joins its street) or "destination" (an amenity: the street joins
    it). The point is placed on the snapped edge and on every reverse edge with the same
    geometry, so both ways of a two-way street pass by it.
    """
    u_all = edges.index.get_level_values(0).to_numpy()
    v_all = edges.index.get_level_values(1).to_numpy()
    geoms = np.asarray(edges.geometry.array, dtype=object)
    weights = edges[weight].to_numpy() if edge_weight is None else edge_weight
    on_edge: dict[int, list[tuple[float, str]]] = {}
    for name, (e, f, _, _) in located.items():
        on_edge.setdefault(e, []).append((f, name))
        u, v = u_all[e], v_all[e]
        for t in np.flatnonzero((u_all == v) & (v_all == u)):
            if shapely.equals_exact(geoms[t].reverse(), geoms[e], tolerance=1e-6):
                on_edge.setdefault(int(t), []).append((1.0 - f, name))
    graph = nx.DiGraph()

    def add(a: Any, b: Any, w: float) -> None:
        if a == b:
            return
        if not graph.has_edge(a, b) or graph[a][b]["w"] > w:
            graph.add_edge(a, b, w=w)

    for e in range(len(edges)):
        u, v, w = u_all[e], v_all[e], float(weights[e])
        stops = sorted(on_edge.get(e, []))
        chain = [(0.0, ("n", u)), *[(f, ("p", name)) for f, name in stops], (1.0, ("n", v))]
        for (f0, a), (f1, b) in itertools.pairwise(chain):
            add(a, b, (f1 - f0) * w)
        graph.add_node(("n", u))
        graph.add_node(("n", v))
    for name, (e, f, s, role) in located.items():
        # a point on a node is that node, whatever way its street runs
        for end, at in ((u_all[e], 0.0), (v_all[e], 1.0)):
            if f == at:
                add(("p", name), ("n", end), 0.0)
                add(("n", end), ("p", name), 0.0)
        if role == "origin":
            add(("o", name), ("p", name), s * per_m)
        else:
            add(("p", name), ("d", name), s * per_m)
    return graph


def routable_streets(edges: gpd.GeoDataFrame, min_nodes: int = 50) -> np.ndarray:
    """Independent rule of the streets points snap to, by networkx: both ends in the largest
    strongly connected component or in one of at least ``min_nodes`` nodes."""
    graph = nx.DiGraph()
    u = edges.index.get_level_values(0).to_numpy()
    v = edges.index.get_level_values(1).to_numpy()
    graph.add_edges_from(zip(u, v, strict=True))
    parts = sorted(nx.strongly_connected_components(graph), key=len, reverse=True)
    label = {n: i for i, part in enumerate(parts) for n in part}
    big = {i for i, part in enumerate(parts) if i == 0 or len(part) >= min_nodes}
    return np.array(
        [label[a] == label[b] and label[a] in big for a, b in zip(u, v, strict=True)], dtype=bool
    )


def locate(net: qn.Network, pts: gpd.GeoDataFrame, prefix: str, role: str) -> dict[str, Any]:
    snapped = qn.snap(net, pts, max_snap_m=1e9)
    edge = snapped["edge"].to_numpy(dtype=np.int64)
    fraction = snapped["fraction"].to_numpy(dtype=np.float64)
    snap_m = snapped["snap_m"].to_numpy(dtype=np.float64)
    return {
        f"{prefix}{i}": (int(edge[i]), float(fraction[i]), float(snap_m[i]), role)
        for i in range(len(snapped))
    }


def reference_nearest(
    graph: nx.DiGraph, homes: Sequence[str], pois: dict[str, list[str]]
) -> dict[str, np.ndarray]:
    """Distance from each home to the nearest amenity of each category (NaN: none)."""
    reverse = graph.reverse(copy=False)
    out = {}
    for cat, names in pois.items():
        sources = [("d", n) for n in names]
        dist = nx.multi_source_dijkstra_path_length(reverse, sources, weight="w") if names else {}
        out[cat] = np.array([dist.get(("o", h), np.nan) for h in homes])
    return out


# --------------------------------------------------------------------------------------------
# Agreement with networkx
# --------------------------------------------------------------------------------------------


def test_node_to_node_distances_match_networkx_on_lorient(lorient):
    nodes, edges = lorient
    net = qn.build_network(nodes, edges, mode="walk")
    graph = nx.DiGraph()
    for (u, v, _), length in edges["length"].items():
        if not graph.has_edge(u, v) or graph[u][v]["length"] > length:
            graph.add_edge(u, v, length=length)
    rng = np.random.default_rng(1)
    # a node at the same place as another (a bridge over a street) may join either: skip them;
    # points join only the network's large components (no other reaches 50 nodes here), so a
    # node of a fragment is not where a point snaps: draw the nodes of the largest one
    main = max(nx.strongly_connected_components(graph), key=len)
    alone = nodes.index[~nodes.duplicated(subset=["x", "y"], keep=False)]
    alone = alone[alone.isin(list(main))].to_numpy()
    assert alone.size < len(nodes) - 30  # the fragments are left out
    home_ids = rng.choice(alone, 300)
    poi_ids = rng.choice(alone, 60)
    cats = np.array(["bakery", "school", "pharmacy"])[rng.integers(0, 3, 60)]
    homes = nodes.geometry.loc[home_ids].reset_index(drop=True)
    pois = gpd.GeoDataFrame(
        {"category": cats}, geometry=nodes.geometry.loc[poi_ids].to_numpy(), crs=nodes.crs
    )
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    reverse = graph.reverse(copy=False)
    for cat in np.unique(cats):
        dist = nx.multi_source_dijkstra_path_length(
            reverse, set(poi_ids[cats == cat]), weight="length"
        )
        expected = np.array([dist.get(h, np.nan) for h in home_ids])
        np.testing.assert_allclose(got[f"{cat}_m"], expected, atol=TOL, rtol=0)
        np.testing.assert_allclose(
            got[f"{cat}_min"], expected / 4500 * 60, atol=TOL, rtol=0, equal_nan=True
        )
    assert got["off_network"].sum() == 0
    assert np.nanmax(got["snap_m"]) < 1e-6


def test_project_bike_graph_matches_networkx_with_real_homes():
    from qet_geo.inputs import osm

    if not LORIENT_PBF.exists():  # real data is required: fail, never skip
        pytest.fail(f"{LORIENT_PBF} is missing: the shared data must be in ../shared/data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is clipped at its border
        data = osm.read_osm(LORIENT_PBF)
    nodes, edges = data.graph("bike")  # oneways and loops included
    net = qn.build_network(nodes, edges, mode="bike")
    assert (net.edge_twin < 0).any()
    homes = data.buildings.geometry.representative_point().iloc[:300].reset_index(drop=True)
    pois = data.amenities[["category", "geometry"]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few buildings lie far from the bike network
        got = qn.nearest(net, homes, pois, cutoff_m=None)
    snapped_homes, snapped_pois = qn.snap(net, homes), qn.snap(net, pois)
    on_h = ~snapped_homes["off_network"].to_numpy()
    on_p = ~snapped_pois["off_network"].to_numpy()
    located = locate(net, homes[on_h], "h", "origin") | locate(net, pois[on_p], "p", "destination")
    kept = pois[on_p].reset_index(drop=True)
    cats = sorted(kept["category"].unique())
    names = {c: [f"p{i}" for i in np.flatnonzero(kept["category"] == c)] for c in cats}
    expected = reference_nearest(
        reference_graph(edges, located), [f"h{i}" for i in range(int(on_h.sum()))], names
    )
    for c in cats:
        np.testing.assert_allclose(got[f"{c}_m"].to_numpy()[on_h], expected[c], atol=TOL)
        assert np.isnan(got[f"{c}_m"].to_numpy()[~on_h]).all()
    assert on_h.sum() > 200


def test_count_within_reads_thresholds_in_the_order_given():
    """The searches are bounded by the largest threshold, whatever its place in the list."""
    nodes, edges = grid(4, 4, seed=3)
    net = qn.build_network(nodes, edges, mode="walk")
    rng = np.random.default_rng(3)
    box = (X0, Y0, X0 + 300, Y0 + 300)
    homes = scattered(rng, box, 20)
    pois = scattered(rng, box, 8, category=list("abababab"))
    up = qn.count_within(net, homes, pois, thresholds_min=[1.0, 4.0])
    down = qn.count_within(net, homes, pois, thresholds_min=[4.0, 1.0])
    assert list(down.columns[:4]) == ["a_n4", "a_n1", "b_n4", "b_n1"]
    pd.testing.assert_frame_equal(down[up.columns], up)
    assert (up["a_n4"] >= up["a_n1"]).all() and (up["a_n4"] > up["a_n1"]).any()


def test_count_within_matches_networkx_on_real_homes_from_both_sides():
    """Bounded counts on the project's own bike graph of Lorient (oneways, loops), with its real
    buildings and amenities: searched from the amenities (every home) and from the homes (a
    few), each against networkx's bounded searches from the sampled homes."""
    from qet_geo.inputs import osm

    if not LORIENT_PBF.exists():  # real data is required: fail, never skip
        pytest.fail(f"{LORIENT_PBF} is missing: the shared data must be in ../shared/data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is clipped at its border
        data = osm.read_osm(LORIENT_PBF)
    nodes, edges = data.graph("bike")
    net = qn.build_network(nodes, edges, mode="bike")
    every = data.buildings.geometry.representative_point().reset_index(drop=True)
    pois = data.amenities[["category", "geometry"]].reset_index(drop=True)
    thresholds = [150.0, 400.0, 900.0]
    rng = np.random.default_rng(11)
    sample = np.sort(rng.choice(len(every), 120, replace=False))
    few = every.iloc[sample].reset_index(drop=True)
    assert len(few) < len(pois) < len(every)  # both sides of the search are exercised
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few buildings lie far from the bike network
        from_pois = qn.count_within(net, every, pois, thresholds_m=thresholds).iloc[sample]
        from_homes = qn.count_within(net, few, pois, thresholds_m=thresholds)
    on_h = ~qn.snap(net, few)["off_network"].to_numpy()
    on_p = ~qn.snap(net, pois)["off_network"].to_numpy()
    located = locate(net, few[on_h], "h", "origin") | locate(net, pois[on_p], "p", "destination")
    graph = reference_graph(edges, located)
    kept = pois[on_p].reset_index(drop=True)
    cats = sorted(kept["category"].unique())
    reached = 0
    for row, i in enumerate(np.flatnonzero(on_h)):
        dist = nx.single_source_dijkstra_path_length(
            graph, ("o", f"h{row}"), cutoff=max(thresholds) + 1.0, weight="w"
        )
        d = np.array([dist.get(("d", f"p{j}"), np.inf) for j in range(len(kept))])
        # a pair within a rounding error of a bound could be read either way: none is here
        assert not np.any(np.abs(d[:, None] - np.array(thresholds)) < 1e-6)
        for c in cats:
            mine = d[(kept["category"] == c).to_numpy()]
            for t in thresholds:
                want = int((mine <= t).sum())
                reached += want
                assert from_pois[f"{c}_n{t:g}m"].iloc[i] == want
                assert from_homes[f"{c}_n{t:g}m"].iloc[i] == want
    assert reached > 500  # the sample reaches many amenities
    off = ~on_h
    assert (from_homes.loc[off, [f"{c}_n900m" for c in cats]] == 0).all().all()


def test_snapped_points_match_networkx_on_lorient(lorient):
    nodes, edges = lorient
    net = qn.build_network(nodes, edges, mode="walk")
    rng = np.random.default_rng(2)
    homes = scattered(rng, edges.total_bounds, 250)
    pois = scattered(rng, edges.total_bounds, 40)
    pois["category"] = np.array(["a", "b"])[rng.integers(0, 2, 40)]  # drawn after the points
    got = qn.nearest(net, homes, pois, cutoff_m=None, max_snap_m=1e9)

    # the snap distance is the distance to the nearest street of the network's large
    # components (fragments are not snapped to), whatever the edge chosen
    streets = np.asarray(edges.geometry.array)[routable_streets(edges)]
    assert streets.size < len(edges)
    brute = np.array([shapely.distance(streets, p).min() for p in homes.geometry])
    np.testing.assert_allclose(got["snap_m"], brute, atol=1e-6)

    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    graph = reference_graph(edges, located)
    names = {c: [f"p{i}" for i in np.flatnonzero(pois["category"] == c)] for c in ("a", "b")}
    expected = reference_nearest(graph, [f"h{i}" for i in range(len(homes))], names)
    for cat in ("a", "b"):
        assert np.isfinite(expected[cat]).sum() > 100
        np.testing.assert_allclose(got[f"{cat}_m"], expected[cat], atol=TOL, rtol=0)


def test_points_on_street_vertices_snap_at_zero_distance_and_match_networkx(lorient):
    """Graph nodes and inner vertices of the streets (amenities mapped on the way) need no
    search: they join an edge through them at distance 0, where shapely puts them, and the
    distances still match networkx, mixed with points off the streets."""
    nodes, edges = lorient
    net = qn.build_network(nodes, edges, mode="walk")
    rng = np.random.default_rng(5)
    # the vertices of the streets points snap to (a fragment's are not: tested apart)
    streets = np.asarray(edges.geometry.array)[routable_streets(edges)]
    vertices = shapely.get_coordinates(streets)
    on = vertices[rng.integers(0, len(vertices), 150)]
    xmin, ymin, xmax, ymax = edges.total_bounds
    off = np.column_stack([rng.uniform(xmin, xmax, 50), rng.uniform(ymin, ymax, 50)])
    homes = points(map(tuple, np.concatenate([on, off])))
    snapped = qn.snap(net, homes, max_snap_m=1e9)
    assert (snapped["snap_m"].iloc[:150] == 0).all()
    # the chosen edge passes through the point, at the reported offset along its geometry
    geom = net.edge_geometry[snapped["edge"].to_numpy()]
    pts = np.asarray(homes.geometry.array)
    np.testing.assert_allclose(shapely.distance(geom[:150], pts[:150]), 0, atol=1e-6)
    np.testing.assert_allclose(
        snapped["fraction"].iloc[:150] * net.edge_geometry_length[snapped["edge"].iloc[:150]],
        shapely.line_locate_point(geom[:150], pts[:150]),
        atol=1e-6,
    )
    brute = np.array([shapely.distance(streets, p).min() for p in pts])
    np.testing.assert_allclose(snapped["snap_m"], brute, atol=1e-6)

    pois = points(map(tuple, on[:30]), category=np.array(["a", "b"])[rng.integers(0, 2, 30)])
    got = qn.nearest(net, homes, pois, cutoff_m=None, max_snap_m=1e9)
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    graph = reference_graph(edges, located)
    names = {c: [f"p{i}" for i in np.flatnonzero(pois["category"] == c)] for c in ("a", "b")}
    expected = reference_nearest(graph, [f"h{i}" for i in range(len(homes))], names)
    for cat in ("a", "b"):
        assert np.isfinite(expected[cat]).sum() > 100
        np.testing.assert_allclose(got[f"{cat}_m"], expected[cat], atol=TOL, rtol=0)


def test_oneway_streets_are_followed_and_a_home_uses_the_shared_street():
    # a ring of oneways: going "against" the ring means going all the way round
    coords = {0: (X0, Y0), 1: (X0 + 100, Y0), 2: (X0 + 100, Y0 + 100), 3: (X0, Y0 + 100)}
    nodes, edges = make_gdfs(coords, [(0, 1, True), (1, 2, True), (2, 3, True), (3, 0, True)])
    net = qn.build_network(nodes, edges, mode="bike")
    assert (net.edge_twin == -1).all()
    homes = points([(X0 + 60, Y0 - 5), (X0 + 20, Y0 - 5)])
    pois = points([(X0 + 40, Y0 + 3)], category=["shop"])
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    # home 0 is past the shop on the oneway 0→1: once round the ring; home 1 is before it
    np.testing.assert_allclose(got["shop_m"], [5 + 40 + 300 + 40 + 3, 5 + 20 + 3], atol=TOL)
    np.testing.assert_allclose(got["shop_min"], got["shop_m"] / 15000 * 60, atol=TOL)

    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    expected = reference_nearest(reference_graph(edges, located), ["h0", "h1"], {"s": ["p0"]})
    np.testing.assert_allclose(got["shop_m"], expected["s"], atol=TOL)


def test_grid_with_oneways_matches_networkx():
    oneway = [(0, 1), (6, 7), (7, 8), (12, 13), (1, 6), (11, 16), (17, 18)]
    nodes, edges = grid(5, 5, oneway=oneway, seed=3)
    net = qn.build_network(nodes, edges, mode="walk")
    rng = np.random.default_rng(3)
    box = (X0, Y0, X0 + 400, Y0 + 400)
    homes = scattered(rng, box, 80)
    pois = scattered(rng, box, 9, category=list("abcabcabc"))
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    names = {c: [f"p{i}" for i in np.flatnonzero(pois["category"] == c)] for c in "abc"}
    expected = reference_nearest(
        reference_graph(edges, located), [f"h{i}" for i in range(80)], names
    )
    for c in "abc":
        np.testing.assert_allclose(got[f"{c}_m"], expected[c], atol=TOL, rtol=0)


def test_parallel_streets_and_a_loop_match_networkx():
    # nodes 0 and 1 joined by a straight street and a curved one; a loop street at node 1
    nodes = gpd.GeoDataFrame(
        {"x": [X0, X0 + 100], "y": [Y0, Y0]},
        geometry=gpd.points_from_xy([X0, X0 + 100], [Y0, Y0]),
        index=pd.Index([10, 11], name="osmid"),
        crs=CRS,
    )
    straight = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    curved = shapely.LineString([(X0, Y0), (X0 + 50, Y0 + 40), (X0 + 100, Y0)])
    loop = shapely.LineString(
        [(X0 + 100, Y0), (X0 + 150, Y0 + 30), (X0 + 150, Y0 - 30), (X0 + 100, Y0)]
    )
    rows = [
        ((10, 11, 0), straight),
        ((11, 10, 0), straight.reverse()),
        ((10, 11, 1), curved),
        ((11, 10, 1), curved.reverse()),
        ((11, 11, 0), loop),
        ((11, 11, 1), loop.reverse()),
    ]
    edges = gpd.GeoDataFrame(
        {"length": [g.length for _, g in rows]},
        geometry=[g for _, g in rows],
        index=pd.MultiIndex.from_tuples([k for k, _ in rows], names=["u", "v", "key"]),
        crs=CRS,
    )
    net = qn.build_network(nodes, edges)
    assert (net.edge_twin >= 0).all()
    assert net.edge_twin.tolist() == [1, 0, 3, 2, 5, 4]
    homes = points([(X0 + 50, Y0 + 45), (X0 + 152, Y0 + 10), (X0 + 30, Y0 - 2)])
    pois = points(
        [(X0 + 148, Y0 - 20), (X0 + 60, Y0 + 2), (X0 + 20, Y0 + 26)], category=["a", "b", "b"]
    )
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    expected = reference_nearest(
        reference_graph(edges, located), ["h0", "h1", "h2"], {"a": ["p0"], "b": ["p1", "p2"]}
    )
    np.testing.assert_allclose(got["a_m"], expected["a"], atol=TOL)
    np.testing.assert_allclose(got["b_m"], expected["b"], atol=TOL)
    counts = qn.count_within(net, homes, pois, thresholds_m=[150])
    graph = reference_graph(edges, located)
    for i in range(3):
        dist = nx.single_source_dijkstra_path_length(graph, ("o", f"h{i}"), weight="w")
        within = sum(dist.get(("d", p), math.inf) <= 150 for p in ("p1", "p2"))
        assert cell(counts, i, "b_n150m") == within
    assert counts["b_n150m"].tolist() != [0, 0, 0]


def test_disconnected_graph_is_handled_per_component():
    n1, e1 = grid(3, 3, seed=4)
    n2, e2 = grid(3, 3, seed=5, offset=(2000.0, 0.0), first_id=100)
    nodes = pd.concat([n1, n2])
    edges = pd.concat([e1, e2])
    # both components count as large enough to route on (9 nodes each)
    net = qn.build_network(nodes, edges, min_component_nodes=9)
    assert net.n_components == 2 and net.snappable.all()
    homes = points([(X0 + 50, Y0 + 10), (X0 + 2150, Y0 + 10)])
    pois = points(
        [(X0 + 200, Y0 + 190), (X0 + 2000, Y0 + 110), (X0 + 10, Y0 + 150)],
        category=["left_only", "both", "both"],
    )
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    snapped = qn.snap(net, homes)
    assert snapped["component"].tolist() != [] and snapped["component"].nunique() == 2
    assert np.isfinite(cell(got, 0, "left_only_m")) and np.isnan(cell(got, 1, "left_only_m"))
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    expected = reference_nearest(
        reference_graph(edges, located), ["h0", "h1"], {"l": ["p0"], "b": ["p1", "p2"]}
    )
    np.testing.assert_allclose(got["left_only_m"], expected["l"], atol=TOL)
    np.testing.assert_allclose(got["both_m"], expected["b"], atol=TOL)
    counts = qn.count_within(net, homes, pois, thresholds_m=[10_000])
    assert counts["left_only_n10000m"].tolist() == [1, 0]
    assert counts["both_n10000m"].tolist() == [1, 1]


def test_points_never_snap_to_a_fragment_smaller_than_the_rule():
    """A 9-node grid beside a 16-node one: by default (the largest, or 50 nodes) only the larger
    one is snapped to; a point by the fragment joins the larger grid within the snap limit,
    beyond it is off the network, never on the fragment with no result."""
    n1, e1 = grid(4, 4, seed=4)
    n2, e2 = grid(3, 3, seed=5, offset=(400.0, 0.0), first_id=100)
    nodes, edges = pd.concat([n1, n2]), pd.concat([e1, e2])
    net = qn.build_network(nodes, edges)
    fragment = net.component[net.edge_u] == 1
    assert net.n_components == 2 and fragment.sum() > 0
    assert np.array_equal(net.snappable, ~fragment)
    # by the fragment, 10 m from it and 100 m from the main grid; far east of everything
    main_east = float(n1["x"].max())
    homes = points([(main_east + 100.0, Y0 + 10.0), (main_east + 700.0, Y0 + 10.0)])
    pois = points([(X0 + 10.0, Y0 + 10.0), (main_east + 120.0, Y0 + 10.0)], category=["a", "b"])
    with pytest.warns(QetGeoWarning, match="connected to the network|reliée au réseau"):
        got = qn.nearest(net, homes, pois, cutoff_m=None)
    snapped = qn.snap(net, homes)
    assert snapped["off_network"].tolist() == [False, True]
    assert snapped["component"].iloc[0] == 0
    # the snap distance is the distance to the main grid's streets, not to the fragment's
    main_streets = np.asarray(e1.geometry.array)
    home0 = homes.geometry.iloc[0]
    np.testing.assert_allclose(
        snapped["snap_m"].iloc[0], shapely.distance(main_streets, home0).min()
    )
    assert snapped["snap_m"].iloc[0] > shapely.distance(np.asarray(e2.geometry.array), home0).min()
    # distances as networkx gives them on the main grid alone, the amenity by the fragment
    # joining the main grid too
    located = locate(net, homes.iloc[[0]], "h", "origin") | locate(net, pois, "p", "destination")
    expected = reference_nearest(reference_graph(e1, located), ["h0"], {"a": ["p0"], "b": ["p1"]})
    np.testing.assert_allclose(got["a_m"].iloc[0], expected["a"][0], atol=TOL)
    np.testing.assert_allclose(got["b_m"].iloc[0], expected["b"][0], atol=TOL)
    assert np.isnan(got["a_m"].iloc[1]) and got["off_network"].iloc[1]
    counts = qn.count_within(net, homes, pois, thresholds_m=[10_000])
    assert counts["a_n10000m"].tolist() == [1, 0]
    # every street allowed (min_component_nodes=1): the former behaviour, stranded on the fragment
    stranded = qn.nearest(qn.build_network(nodes, edges, min_component_nodes=1), homes, pois)
    assert not stranded["off_network"].iloc[0] and np.isnan(stranded["a_m"].iloc[0])


def test_a_point_on_a_way_drawn_twice_joins_the_two_way_copy():
    """A oneway edge on the very vertices of a two-way street (the same way mapped twice, or a
    oneway road under a footway): a point there leaves both ways, as networkx on the graph
    says, not only along the oneway copy (160 m round the end instead of 60 m)."""
    coords = {1: (X0, Y0), 2: (X0 + 100.0, Y0), 3: (X0 + 200.0, Y0)}
    nodes, edges = make_gdfs(coords, [(1, 2, True), (1, 2, False), (2, 3, False)])
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 50.0, Y0 + 5.0)])
    pois = points([(X0, Y0 - 5.0)], category=["a"])
    snapped = qn.snap(net, homes)
    assert net._snap_edges.size == 2  # one of the two copies 1 → 2 is not snapped to
    assert net.edge_twin[snapped["edge"].iloc[0]] >= 0  # the two-way copy is
    got = qn.nearest(net, homes, pois, cutoff_m=None)
    assert got["a_m"].iloc[0] == pytest.approx(60.0, abs=TOL)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "50"])
def test_min_component_nodes_is_a_whole_number_of_nodes(bad):
    nodes, edges = grid(3, 3, seed=4)
    with pytest.raises(ValidationError, match="min_component_nodes"):
        qn.build_network(nodes, edges, min_component_nodes=bad)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(data=st.data())
def test_random_small_graphs_match_networkx(data):
    n = data.draw(st.integers(3, 8), label="nodes")
    cells = data.draw(
        st.lists(
            st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=n, max_size=n, unique=True
        )
    )
    coords = {i: (X0 + 40.0 * cx, Y0 + 40.0 * cy) for i, (cx, cy) in enumerate(cells)}
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()),
            min_size=1,
            max_size=3 * n,
            unique_by=lambda t: (min(t[0], t[1]), max(t[0], t[1])),
        ).filter(lambda ps: any(a != b for a, b, _ in ps))
    )
    streets = [(a, b, one) for a, b, one in pairs if a != b]
    stretch = {(a, b): data.draw(st.floats(1.0, 1.5)) for a, b, _ in streets}
    nodes, edges = make_gdfs(coords, streets, stretch=stretch)
    nodes = nodes.loc[sorted({u for u, _, _ in streets} | {v for _, v, _ in streets})]
    net = qn.build_network(nodes, edges, mode="walk")
    coord = st.tuples(st.floats(-20, 380), st.floats(-20, 380))
    home_xy = data.draw(st.lists(coord, min_size=1, max_size=6))
    poi_xy = data.draw(st.lists(coord, min_size=1, max_size=5))
    cats = data.draw(st.lists(st.sampled_from("xy"), min_size=len(poi_xy), max_size=len(poi_xy)))
    homes = points([(X0 + a, Y0 + b) for a, b in home_xy])
    pois = points([(X0 + a, Y0 + b) for a, b in poi_xy], category=cats)

    got = qn.nearest(net, homes, pois, categories=["x", "y"], cutoff_m=None, max_snap_m=1e9)
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    graph = reference_graph(edges, located)
    hn = [f"h{i}" for i in range(len(homes))]
    names = {c: [f"p{i}" for i, k in enumerate(cats) if k == c] for c in "xy"}
    expected = reference_nearest(graph, hn, names)
    for c in "xy":
        np.testing.assert_allclose(got[f"{c}_m"], expected[c], atol=TOL, rtol=0)

    # counts within a distance, from whichever side the engine picks
    bound = 150.0
    counts = qn.count_within(
        net, homes, pois, categories=["x", "y"], thresholds_m=[bound], max_snap_m=1e9
    )
    reverse = graph.reverse(copy=False)
    for c in "xy":
        want = np.zeros(len(homes), dtype=int)
        for p in names[c]:
            dist = nx.single_source_dijkstra_path_length(reverse, ("d", p), weight="w")
            want += np.array([dist.get(("o", h), math.inf) <= bound for h in hn])
        assert counts[f"{c}_n150m"].tolist() == want.tolist()


# --------------------------------------------------------------------------------------------
# Reach, snapping limits, counts
# --------------------------------------------------------------------------------------------


def test_category_out_of_reach_gives_nan_and_zero_counts():
    nodes, edges = grid(4, 4, seed=6)
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 10, Y0 + 5), (X0 + 150, Y0 + 300)])
    pois = points([(X0 + 300, Y0 + 300)], category=["far"])
    got = qn.nearest(net, homes, pois, categories=["far", "missing"], cutoff_m=100)
    assert list(got.columns) == [
        "far_m",
        "far_min",
        "missing_m",
        "missing_min",
        "snap_m",
        "off_network",
    ]
    assert got[["far_m", "far_min", "missing_m", "missing_min"]].isna().all().all()
    counts = qn.count_within(net, homes, pois, categories=["far", "missing"], thresholds_min=[1])
    assert (counts[["far_n1", "missing_n1"]] == 0).all().all()
    assert counts["far_n1"].dtype == np.int64


def test_empty_amenities_give_nan_not_a_crash():
    nodes, edges = grid(3, 3)
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 10, Y0 + 5)])
    pois = points([], category=pd.Series([], dtype=str))
    got = qn.nearest(net, homes, pois, categories=["school"])
    assert np.isnan(cell(got, 0, "school_m"))
    assert qn.count_within(net, homes, pois, categories=["school"]).loc[0, "school_n15"] == 0


def test_home_beyond_the_snap_limit_is_flagged_off_network():
    nodes, edges = grid(3, 3)
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 50, Y0 + 20), (X0 + 50, Y0 - 500), (X0 + 100, Y0 + 100)])
    homes.loc[2, "geometry"] = None
    pois = points([(X0 + 150, Y0 + 10)], category=["shop"])
    with pytest.warns(UserWarning, match="off_network"):
        got = qn.nearest(net, homes, pois, max_snap_m=200)
    assert got["off_network"].tolist() == [False, True, True]
    assert np.isfinite(cell(got, 0, "shop_m")) and got.loc[[1, 2], "shop_m"].isna().all()
    np.testing.assert_allclose(cell(got, 1, "snap_m"), 500)
    with pytest.warns(UserWarning, match="off_network"):
        counts = qn.count_within(net, homes, pois, thresholds_m=[10_000], max_snap_m=200)
    assert counts["shop_n10000m"].tolist() == [1, 0, 0]
    snapped = qn.snap(net, homes, max_snap_m=200)
    assert snapped["off_network"].tolist() == [False, True, True]
    assert cell(snapped, 2, "edge") == -1 and pd.isna(cell(snapped, 2, "u"))


def test_amenity_beyond_the_snap_limit_is_left_out_with_a_warning():
    nodes, edges = grid(3, 3)
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 50, Y0 + 20)])
    pois = points([(X0 + 50, Y0 - 900)], category=["shop"])
    with pytest.warns(UserWarning, match="amenities"):
        got = qn.nearest(net, homes, pois, cutoff_m=None)
    assert np.isnan(cell(got, 0, "shop_m"))


def test_snap_reports_edge_offset_and_distance():
    nodes, edges = grid(2, 2)
    net = qn.build_network(nodes, edges)
    pts = gpd.GeoSeries(
        [shapely.Point(X0 + 30, Y0 - 4), shapely.box(X0 + 40, Y0 + 10, X0 + 60, Y0 + 20)],
        index=["a", "b"],
        crs=CRS,
    )
    snapped = qn.snap(net, pts)
    assert list(snapped.index) == ["a", "b"]
    row = snapped.loc["a"]
    u, v = int(cast(Any, row["u"])), int(cast(Any, row["v"]))
    assert {u, v} == {0, 2}  # node 2 is 100 m east of node 0
    length = edges.loc[(u, v, 0), "length"]
    expected_fraction = 0.3 if u == 0 else 0.7
    np.testing.assert_allclose(row["fraction"], expected_fraction)
    np.testing.assert_allclose(row["offset_m"], expected_fraction * length)
    np.testing.assert_allclose(row["snap_m"], 4.0)
    assert row["component"] == 0 and not row["off_network"]
    # a polygon is snapped by a point inside it
    assert cell(snapped, "b", "snap_m") > 10


def test_count_within_matches_brute_force_from_both_sides():
    nodes, edges = grid(4, 4, seed=7, oneway=[(1, 2), (5, 9)])
    net = qn.build_network(nodes, edges, mode="walk")
    rng = np.random.default_rng(7)
    box = (X0, Y0, X0 + 300, Y0 + 300)
    many = scattered(rng, box, 30)
    few = scattered(rng, box, 6, category=list("ababab"))
    thresholds = [1.0, 2.5, 4.0]
    minutes_per_m = 60 / 4500
    # more homes than amenities (searches from amenities), then the reverse
    for homes, pois in ((many, few), (few.drop(columns="category"), many.assign(category="a"))):
        got = qn.count_within(net, homes, pois, thresholds_min=thresholds)
        located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
        graph = reference_graph(edges, located)  # metres
        hn = [f"h{i}" for i in range(len(homes))]
        lengths = dict(nx.all_pairs_dijkstra_path_length(graph, weight="w"))
        for c in sorted(set(pois["category"])):
            names = [f"p{i}" for i in np.flatnonzero(pois["category"] == c)]
            for t in thresholds:
                want = [
                    sum(
                        lengths[("o", h)].get(("d", p), math.inf) * minutes_per_m <= t
                        for p in names
                    )
                    for h in hn
                ]
                # graph weights are metres on a flat network: minutes = metres / 75
                assert got[f"{c}_n{t:g}"].tolist() == want


# --------------------------------------------------------------------------------------------
# Speeds and slopes
# --------------------------------------------------------------------------------------------


def test_flat_walk_is_exactly_the_default_speed():
    nodes, edges = make_gdfs({0: (X0, Y0), 1: (X0 + 450, Y0)}, [(0, 1, False)])
    net = qn.build_network(nodes, edges, mode="walk")
    np.testing.assert_allclose(net.edge_time, [6.0, 6.0], rtol=1e-12)  # 450 m at 4.5 km/h
    bike = qn.build_network(nodes, edges, mode="bike")
    np.testing.assert_allclose(bike.edge_time, [1.8, 1.8], rtol=1e-12)  # at 15 km/h
    fast = qn.build_network(nodes, edges, mode="walk", speed_kmh=5.4)
    np.testing.assert_allclose(fast.edge_time, [5.0, 5.0], rtol=1e-12)


def test_tobler_slows_walking_uphill_and_is_direction_aware():
    assert qn.walk_speed_factor(0.0) == pytest.approx(1.0)
    assert qn.walk_speed_factor(-0.05) == pytest.approx(math.exp(0.175))
    assert qn.walk_speed_factor(0.10) == pytest.approx(math.exp(-0.35))
    assert qn.walk_speed_factor(0.10) < qn.walk_speed_factor(-0.10) <= 1.0
    nodes, edges = make_gdfs(
        {0: (X0, Y0), 1: (X0 + 450, Y0)}, [(0, 1, False)], grade={(0, 1): 0.10}
    )
    net = qn.build_network(nodes, edges, mode="walk")
    up, down = net.edge_time  # 0→1 climbs 10 %, 1→0 descends
    assert up == pytest.approx(6.0 / math.exp(-0.35))
    assert down == pytest.approx(6.0)  # Tobler: a 10 % descent is as fast as the flat
    assert up > down
    np.testing.assert_allclose(net.edge_length, 450.0)
    at_0 = points([(X0, Y0)])
    at_1 = points([(X0 + 450, Y0)])
    go_up = qn.nearest(net, at_0, at_1.assign(category="c"), weight="time", cutoff_m=None)
    go_down = qn.nearest(net, at_1, at_0.assign(category="c"), weight="time", cutoff_m=None)
    assert cell(go_up, 0, "c_min") == pytest.approx(up)
    assert cell(go_down, 0, "c_min") == pytest.approx(down)
    assert cell(go_up, 0, "c_m") == pytest.approx(450.0) == cell(go_down, 0, "c_m")
    # 6 minutes on the flat: reachable within 6.5 minutes going down, not going up
    up_count = qn.count_within(net, at_0, at_1.assign(category="c"), thresholds_min=[6.5])
    down_count = qn.count_within(net, at_1, at_0.assign(category="c"), thresholds_min=[6.5])
    assert cell(up_count, 0, "c_n6.5") == 0 and cell(down_count, 0, "c_n6.5") == 1
    capped = qn.nearest(net, at_0, at_1.assign(category="c"), weight="time", cutoff_min=6.5)
    assert np.isnan(cell(capped, 0, "c_min"))


def test_bike_slope_model():
    assert qn.bike_speed_factor(0.0) == pytest.approx(1.0)
    assert qn.bike_speed_factor(0.05) == pytest.approx(math.exp(-0.5))
    assert qn.bike_speed_factor(-0.05) == pytest.approx(math.exp(0.25))
    assert qn.bike_speed_factor(-0.5) == pytest.approx(1.5)
    factors = qn.bike_speed_factor(np.linspace(-0.2, 0.2, 41))
    assert (np.diff(factors) <= 0).all()


def test_time_along_shortest_path_and_fastest_path_with_slopes():
    # two ways from 0 to 3: a short steep one via 1, a long flat one via 2
    coords = {0: (X0, Y0), 1: (X0 + 300, Y0), 2: (X0, Y0 + 400), 3: (X0 + 300, Y0 + 400)}
    streets = [(0, 1, False), (1, 3, False), (0, 2, False), (2, 3, False)]
    grade = {(0, 1): 0.0, (1, 3): 0.25, (0, 2): 0.0, (2, 3): 0.0}
    stretch = {(0, 1): 1.0, (1, 3): 1.0, (0, 2): 1.0, (2, 3): 1.5}  # via 2: 400 + 450 m
    nodes, edges = make_gdfs(coords, streets, grade=grade, stretch=stretch)
    net = qn.build_network(nodes, edges, mode="walk")
    home = points([(X0, Y0)])
    poi = points([(X0 + 300, Y0 + 400)], category=["c"])
    by_length = qn.nearest(net, home, poi, weight="length", cutoff_m=None)
    by_time = qn.nearest(net, home, poi, weight="time", cutoff_m=None)
    steep = 400 * 60 / 4500 / qn.walk_speed_factor(0.25)
    assert cell(by_length, 0, "c_m") == pytest.approx(700.0)
    assert cell(by_length, 0, "c_min") == pytest.approx(300 * 60 / 4500 + steep)
    assert cell(by_time, 0, "c_m") == pytest.approx(850.0)
    assert cell(by_time, 0, "c_min") == pytest.approx(850 * 60 / 4500)
    assert cell(by_time, 0, "c_min") < cell(by_length, 0, "c_min")


def test_sloped_lorient_times_match_networkx(lorient):
    nodes, edges = lorient
    rng = np.random.default_rng(8)
    graded = edges.copy()
    # a synthetic relief: height rises to the north-east
    z = 0.01 * nodes["x"] + 0.02 * nodes["y"]
    u = edges.index.get_level_values(0)
    v = edges.index.get_level_values(1)
    graded["grade"] = (z.loc[v].to_numpy() - z.loc[u].to_numpy()) / np.maximum(
        edges["length"].to_numpy(), 1.0
    )
    net = qn.build_network(nodes, graded, mode="walk")
    assert not np.allclose(net.edge_time, net.edge_length * 60 / 4500)
    homes = nodes.geometry.iloc[rng.integers(0, len(nodes), 150)].reset_index(drop=True)
    pois = gpd.GeoDataFrame(
        {"category": ["c"] * 20},
        geometry=nodes.geometry.iloc[rng.integers(0, len(nodes), 20)].to_numpy(),
        crs=CRS,
    )
    located = locate(net, homes, "h", "origin") | locate(net, pois, "p", "destination")
    hn = [f"h{i}" for i in range(len(homes))]
    names = {"c": [f"p{i}" for i in range(len(pois))]}
    g_time = reference_graph(edges, located, edge_weight=net.edge_time, per_m=60 / 4500)
    by_time = qn.nearest(net, homes, pois, weight="time", cutoff_m=None)
    want = reference_nearest(g_time, hn, names)["c"]
    np.testing.assert_allclose(by_time["c_min"], want, atol=TOL)
    # the time of the shortest path, summed along the networkx path
    g_len = reference_graph(edges, located)
    times = {(a, b): d["w"] for a, b, d in g_time.edges(data=True)}
    by_length = qn.nearest(net, homes, pois, weight="length", cutoff_m=None)
    _, paths = nx.multi_source_dijkstra(
        g_len.reverse(copy=False), [("d", "p" + str(i)) for i in range(20)], weight="w"
    )
    for i, h in enumerate(hn):
        path = paths.get(("o", h))
        if path is None:
            assert np.isnan(cell(by_length, i, "c_m"))
            continue
        forward = path[::-1]
        total = sum(times[(a, b)] for a, b in itertools.pairwise(forward))
        assert cell(by_length, i, "c_min") == pytest.approx(total, abs=TOL)


# --------------------------------------------------------------------------------------------
# Isochrones
# --------------------------------------------------------------------------------------------


def test_isochrones_follow_the_streets():
    # a 10 x 10 grid of 100 m blocks whose middle streets are missing: a 500 m wide hole
    skip = []
    for i in range(3, 7):
        for j in range(3, 7):
            skip += [(i * 10 + j, (i + 1) * 10 + j), (i * 10 + j, i * 10 + j + 1)]
    for i in range(3, 7):
        skip += [(i * 10 + 7, (i + 1) * 10 + 7)] if i < 6 else []
        skip += [(7 * 10 + i, 7 * 10 + i + 1)] if i < 6 else []
    nodes, edges = grid(10, 10, skip=skip, seed=9)
    net = qn.build_network(nodes, edges, mode="walk")
    start = gpd.GeoSeries([shapely.Point(X0 + 250, Y0 + 200)], index=["home"], crs=CRS)
    iso = qn.isochrones(net, start, minutes=(5, 10, 15), buffer_m=30)
    assert list(iso.index) == [("home", 5.0), ("home", 10.0), ("home", 15.0)]
    assert iso.crs == CRS
    areas = iso.area.to_numpy()
    assert (np.diff(areas) > 0).all()

    # a node exactly 15 minutes away by the network (1125 m) is in the 15-minute area only
    located = locate(net, points([(X0 + 250, Y0 + 200)]), "s", "origin")
    graph = reference_graph(edges, located, per_m=60 / 4500)
    dist = nx.single_source_dijkstra_path_length(graph, ("o", "s0"), weight="w")
    minutes = {n[1]: d * 60 / 4500 for n, d in dist.items() if n[0] == "n"}
    near_15 = max((m, n) for n, m in minutes.items() if m <= 15)[1]
    pt = shapely.Point(nodes.loc[near_15, ["x", "y"]].to_numpy())
    assert iso.loc[("home", 15.0)].geometry.contains(pt)
    assert not iso.loc[("home", 5.0)].geometry.intersects(pt.buffer(1))
    beyond = [n for n, m in minutes.items() if m > 15 + 40 / 75]
    assert beyond
    for n in beyond:
        p = shapely.Point(nodes.loc[n, ["x", "y"]].to_numpy())
        assert not iso.loc[("home", 15.0)].geometry.contains(p)

    # the middle of the hole is far from any street: a hull would cover it, the area does not
    poly = iso.loc[("home", 15.0)].geometry
    middle = shapely.Point(X0 + 500, Y0 + 500)
    assert poly.convex_hull.contains(middle)
    assert not poly.contains(middle)


def test_isochrone_cuts_the_last_edge_part_way():
    nodes, edges = make_gdfs({0: (X0, Y0), 1: (X0 + 1000, Y0)}, [(0, 1, False)])
    net = qn.build_network(nodes, edges, mode="walk")
    iso = qn.isochrones(net, points([(X0, Y0)]), minutes=[4], buffer_m=10)
    poly = iso.geometry.iloc[0]
    # 4 minutes at 4.5 km/h: 300 m, plus the 10 m band
    assert poly.bounds[2] == pytest.approx(X0 + 310, abs=0.5)
    assert poly.area == pytest.approx(300 * 20 + math.pi * 100, rel=0.01)


def test_isochrone_of_an_off_network_point_is_empty():
    nodes, edges = grid(2, 2)
    net = qn.build_network(nodes, edges)
    with pytest.warns(UserWarning):
        iso = qn.isochrones(net, points([(X0, Y0 - 1000)]), minutes=[5], max_snap_m=100)
    assert iso.geometry.iloc[0].is_empty


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_any_geometry_stands_for_a_point_inside_it_and_missing_ones_are_off_network():
    nodes, edges = grid(3, 3)
    net = qn.build_network(nodes, edges)
    square = shapely.box(X0 + 40, Y0 + 10, X0 + 60, Y0 + 30)  # a building south of a street
    geoms = [
        shapely.Point(X0 + 50, Y0 + 20),
        square,
        shapely.MultiPoint([(X0 + 50, Y0 + 20)]),
        shapely.Point(X0 + 50, Y0 + 20, 12.0),  # a height is ignored
        None,
        shapely.Point(),
        shapely.Polygon(),
    ]
    homes = gpd.GeoDataFrame(geometry=geoms, index=list("abcdefg"), crs=CRS)
    pois = points([(X0 + 150, Y0 + 10)], category=["shop"])
    with pytest.warns(UserWarning, match="3 of 7 homes"):
        got = qn.nearest(net, homes, pois)
    assert got["off_network"].tolist() == [False] * 4 + [True] * 3
    inside = shapely.point_on_surface(square)
    alone = qn.nearest(net, gpd.GeoSeries([inside], crs=CRS), pois)
    pd.testing.assert_frame_equal(got.loc[["b"]], alone.set_axis(["b"]))
    for label in "cd":
        pd.testing.assert_frame_equal(got.loc[[label]], got.loc[["a"]].set_axis([label]))
    assert cell(got, "a", "snap_m") == pytest.approx(20)
    assert got.loc[list("efg"), ["shop_m", "shop_min", "snap_m"]].isna().all().all()
    assert qn.count_within(net, homes, pois, thresholds_m=[1000])["shop_n1000m"].tolist() == [
        1,
        1,
        1,
        1,
        0,
        0,
        0,
    ]


def test_result_tables_are_the_same_with_and_without_pandas_block_construction(monkeypatch):
    nodes, edges = grid(4, 4, seed=3)
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 10, Y0 + 5), (X0 + 10, Y0 + 5), (X0 + 150, Y0 + 260), (X0, Y0 - 900)])
    homes.index = pd.Index([7, 3, 9, 1], name="home")
    pois = points([(X0 + 300, Y0 + 120), (X0 + 90, Y0 + 200)], category=["a", "b"])
    with pytest.warns(UserWarning, match="off_network"):
        fast = [qn.nearest(net, homes, pois), qn.count_within(net, homes, pois)]
    monkeypatch.setattr(queries, "_from_blocks", None)
    with pytest.warns(UserWarning, match="off_network"):
        plain = [qn.nearest(net, homes, pois), qn.count_within(net, homes, pois)]
    for a, b in zip(fast, plain, strict=True):
        pd.testing.assert_frame_equal(a, b)
        assert a.index.equals(homes.index)
        assert a["off_network"].dtype == bool and a["snap_m"].dtype == np.float64
    assert fast[0]["a_m"].dtype == np.float64 and fast[1]["a_n15"].dtype == np.int64
    # dwellings at one place share its result; a home off the network has none
    assert cell(fast[0], 7, "a_m") == cell(fast[0], 3, "a_m")
    assert np.isnan(cell(fast[0], 1, "a_m")) and cell(fast[1], 1, "b_n15") == 0


def test_scipy_dijkstra_takes_the_lightest_of_parallel_entries():
    # search graphs append virtual rows that may repeat a column (an amenity at both ends of
    # its edge, two amenities of a category on one node): the search must take the lightest
    from scipy import sparse
    from scipy.sparse import csgraph

    for data in ([5.0, 2.0, 1.0], [2.0, 5.0, 1.0]):
        matrix = sparse.csr_matrix(
            (np.array(data), np.array([1, 1, 2], np.int32), np.array([0, 2, 3, 3], np.int32)),
            shape=(3, 3),
        )
        np.testing.assert_array_equal(csgraph.dijkstra(matrix, indices=[0]), [[0.0, 2.0, 3.0]])


def test_inputs_are_not_modified():
    nodes, edges = grid(3, 3)
    nodes_before, edges_before = nodes.copy(), edges.copy()
    net = qn.build_network(nodes, edges)
    homes = points([(X0 + 10, Y0 + 10)])
    pois = points([(X0 + 110, Y0 + 10)], category=["a"])
    homes_before, pois_before = homes.copy(), pois.copy()
    qn.nearest(net, homes, pois)
    qn.count_within(net, homes, pois)
    pd.testing.assert_frame_equal(nodes, nodes_before)
    pd.testing.assert_frame_equal(edges, edges_before)
    pd.testing.assert_frame_equal(homes, homes_before)
    pd.testing.assert_frame_equal(pois, pois_before)


def test_bad_inputs_raise_errors_that_say_the_fix():
    nodes, edges = grid(2, 2)
    with pytest.raises(CRSError, match="to_crs"):
        qn.build_network(nodes.to_crs(4326), edges.to_crs(4326))
    with pytest.raises(ValidationError, match="length"):
        qn.build_network(nodes, edges.drop(columns="length"))
    with pytest.raises(ValidationError, match="absent from nodes"):
        qn.build_network(nodes.iloc[:2], edges)
    with pytest.raises(EmptyDataError):
        qn.build_network(nodes, edges.iloc[:0])
    with pytest.raises(ValidationError, match="mode"):
        qn.build_network(nodes, edges, mode="fly")  # type: ignore[arg-type]
    net = qn.build_network(nodes, edges)
    homes = points([(X0, Y0)])
    pois = points([(X0, Y0)], kind=["a"])
    with pytest.raises(ValidationError, match="category_column"):
        qn.nearest(net, homes, pois)
    with pytest.raises(CRSError, match="to_crs"):
        qn.nearest(net, homes.to_crs(4326), pois.rename(columns={"kind": "category"}))
    with pytest.raises(ValidationError, match="not both"):
        qn.count_within(
            net, homes, pois, category_column="kind", thresholds_min=[5], thresholds_m=[1]
        )
    with pytest.raises(ValidationError, match="weight"):
        qn.nearest(net, homes, pois, category_column="kind", weight="hops")  # type: ignore[arg-type]
    with pytest.raises(QetGeoError) as info:
        qn.snap(net, homes, max_snap_m=-1)
    assert info.value.message_fr != info.value.message


def test_network_summary_and_matrix():
    nodes, edges = grid(3, 3)
    net = qn.Network.from_gdfs(nodes, edges, mode="bike")
    assert "nodes=9" in repr(net) and "mode='bike'" in repr(net)
    m = net.matrix("length")
    assert m.shape == (9, 9) and m.nnz == 24
    assert m[0, 1] == pytest.approx(edges.loc[(0, 1, 0), "length"])
    np.testing.assert_allclose(net.matrix("time").data, m.data * 60 / 15000)


def test_the_homes_of_a_table_are_snapped_once_and_results_do_not_depend_on_it(
    lorient, monkeypatch
):
    from qet_geo.network import snapping

    nodes, edges = lorient
    rng = np.random.default_rng(5)
    homes = scattered(rng, edges.total_bounds, 300)
    pois = scattered(rng, edges.total_bounds, 60)
    pois["category"] = np.array(["a", "b"])[rng.integers(0, 2, 60)]  # drawn after the points
    snapped: list[int] = []
    real = snapping._snap_points

    def counted(net, xy, max_snap_m):
        snapped.append(len(xy))
        return real(net, xy, max_snap_m)

    monkeypatch.setattr(snapping, "_snap_points", counted)
    net = qn.build_network(nodes, edges, mode="walk")
    near = qn.nearest(net, homes, pois)
    counts = qn.count_within(net, homes, pois)
    # the homes once, the amenities once (the second query found both kept)
    assert sorted(snapped) == [60, 300]
    # the same tables from a network that keeps nothing
    monkeypatch.setattr(snapping, "SNAPPED_KEPT", 0)
    fresh = qn.build_network(nodes, edges, mode="walk")
    pd.testing.assert_frame_equal(qn.nearest(fresh, homes, pois), near)
    pd.testing.assert_frame_equal(qn.count_within(fresh, homes, pois), counts)
    assert len(fresh._snapped) == 0 and len(snapped) == 6
    # other points, or another snap distance, are snapped anew; at most SNAPPED_KEPT are kept
    monkeypatch.setattr(snapping, "SNAPPED_KEPT", 2)
    moved = homes.translate(xoff=3.0)
    qn.nearest(net, moved, pois)  # the moved homes anew, the amenities kept
    assert len(snapped) == 7
    qn.nearest(net, homes, pois, max_snap_m=50.0)  # both anew at another distance
    assert len(snapped) == 9 and len(net._snapped) == 2


def test_a_kept_snapping_is_not_changed_by_the_caller_changing_its_points(lorient):
    from qet_geo.network.snapping import _snap

    nodes, edges = lorient
    net = qn.build_network(nodes, edges, mode="walk")
    xy = np.asarray(shapely.get_coordinates(edges.geometry.iloc[:20].centroid)).copy()
    first = _snap(net, xy, 200.0)
    kept = first.xy.copy()
    xy += 500.0  # the caller reuses its array
    assert np.array_equal(first.xy, kept)
    again = _snap(net, xy, 200.0)  # other coordinates: snapped anew
    assert again is not first and np.array_equal(again.xy, xy)
