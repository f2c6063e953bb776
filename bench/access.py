"""Benchmark per-home nearest-amenity distances: qet_geo.network against networkx and pandana.

For each graph (Lorient, Nantes, a generated street grid of about 200 000 intersections) the same
question is answered three ways in one run: the network distance from every home to the nearest
amenity of each of 12 categories, within 2 km.

- engine: ``qet_geo.network.graph.build_network`` (preparation) then ``nearest`` (query);
- networkx: ``osmnx.graph_from_gdfs`` (preparation), then ``osmnx.distance.nearest_nodes`` and one
  ``networkx.multi_source_dijkstra_path_length`` per category (query);
- pandana: ``pandana.Network`` (preparation: its contraction hierarchy), then ``set_pois`` and
  ``nearest_pois`` per category (query).

pandana is AGPL: it is only ever installed for this benchmark, never a dependency of qet-geo.
Install it with ``uv pip install --python .venv/bin/python pandana`` (wheels exist for Python
3.11 and numpy 2), or pass ``--install-pandana``; without it the benchmark says so and runs the
rest.

Homes and amenities are, by default, graph nodes drawn with a fixed seed, so that all three
methods answer exactly the same question (the engine snaps to edges, the others to nodes: on a
node both agree) and the benchmark checks that they agree. ``--points osm`` takes the extract's
buildings and amenities (``qet_geo.inputs.osm``) instead; :func:`load_points` is the one place to swap.

The walk graphs are symmetric (every street both ways), so networkx and pandana search from the
amenities on the graph itself; the engine searches the reversed graph, which is what a directed
graph needs.

It prints, per graph, the preparation and query times of each method (best of ``--repeat``
runs; one run on the large grid), a "scipy floor" reference (the least work a scipy engine
must do to answer: node look-up, one Dijkstra from virtual category sources, a table; see
:func:`scipy_floor`), the engine's speed-up on the query alone and on preparation +
query, the largest distance difference and the homes whose reach differs; then the engine's cost
growth as exponents (cost ~ size ** exponent), preparation, ``nearest`` and ``count_within``
(amenities within 5/10/15 minutes) timed separately, with homes and amenities growing with the
area: on grids from 1x to 16x the nodes (one home per 5 nodes, one amenity per 50), and on
Lorient centre tiled k×k (``bench/_tiled.py``: real streets, homes and amenities repeated side
by side, ``--tiled-max-k``). pandana's contraction
hierarchy on the 200 000-node grid takes 5 to 10 minutes (a regular grid is its worst case): skip
it with ``--no-pandana-grid``.

Run from the repository root::

    .venv/bin/python bench/access.py                      # everything (~10 minutes)
    .venv/bin/python bench/access.py --no-pandana-grid    # about a minute
    .venv/bin/python bench/access.py --quick              # smaller grid, fewer repeats
    .venv/bin/python bench/access.py --points osm --only lorient --only nantes
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qet_geo import network as qn  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "osm"
EXTRACTS = {
    "lorient": DATA / "lorient_centre.osm.pbf",
    "nantes": DATA / "nantes_hypercentre.osm.pbf",
}
CRS = "EPSG:2154"
CUTOFF_M = 2000.0
N_HOMES = 2000
N_POIS = 300
CATEGORIES = [f"cat{i:02d}" for i in range(12)]
SEED = 20240601

Graph = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]


# --------------------------------------------------------------------------------------------
# Inputs: swap these two functions to bench other graphs or real homes and amenities
# --------------------------------------------------------------------------------------------


def load_graph(name: str, *, grid_side: int = 447) -> Graph:
    """Return the walk graph ``name`` as osmnx-style (nodes, edges) in EPSG:2154."""
    if name == "grid":
        return street_grid(grid_side)
    data = _read_osm(name)
    if data is None:
        return _osmnx_walk_graph(EXTRACTS[name])
    nodes, edges = data.graph("walk")
    return nodes, edges


def load_points(
    name: str, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, *, kind: str = "nodes"
) -> tuple[gpd.GeoSeries, gpd.GeoDataFrame]:
    """Homes and amenities (with a ``category`` column) for graph ``name``.

    ``kind`` "nodes": graph nodes drawn with a fixed seed, amenities in 12 categories (every
    method then answers the same question). "osm": the extract's buildings (a point inside
    each) and amenities, as ``qet_geo.inputs.osm`` reads them (the engine snaps them to the nearest
    street, networkx and pandana to the nearest node, so the answers differ by design).
    """
    data = _read_osm(name) if kind == "osm" and name in EXTRACTS else None
    if data is not None:
        homes = data.buildings.geometry.representative_point().reset_index(drop=True)
        pois = data.amenities[["category", "geometry"]].reset_index(drop=True)
        return homes, pois
    return _node_points(nodes, edges)


@functools.cache
def _read_osm(name: str) -> Any:
    try:  # the project's reader (qet_geo.inputs.osm)
        from qet_geo.inputs.osm import read_osm  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return read_osm(EXTRACTS[name])


def _node_points(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame | None = None,
    *,
    seed: int = SEED,
    n_homes: int = N_HOMES,
    n_pois: int = N_POIS,
) -> tuple[gpd.GeoSeries, gpd.GeoDataFrame]:
    """Homes and amenities: graph nodes drawn with a fixed seed (12 amenity categories)."""
    rng = np.random.default_rng(seed)
    # a node sharing its position with another (a bridge over a street) is ambiguous for
    # nearest-node snapping: leave such nodes out so that all methods answer the same question
    alone = ~nodes.duplicated(subset=["x", "y"], keep=False).to_numpy()
    # nor a node of a street fragment: the engine joins a point there to the nearest routable
    # street (OSRM's rule, issue 14) where node-to-node methods stay on the fragment
    if edges is not None:
        net = qn.build_network(nodes, edges, mode="walk")
        routable = np.zeros(len(nodes), dtype=bool)
        routable[net.edge_u[net.snappable]] = True
        routable[net.edge_v[net.snappable]] = True
        alone &= routable
    geoms = gpd.GeoSeries(gpd.points_from_xy(nodes["x"], nodes["y"]), crs=CRS)[alone]
    homes = geoms.iloc[rng.integers(0, len(geoms), n_homes)].reset_index(drop=True)
    pois = gpd.GeoDataFrame(
        {"category": rng.choice(CATEGORIES, n_pois)},
        geometry=geoms.iloc[rng.integers(0, len(geoms), n_pois)].to_numpy(),
        crs=CRS,
    )
    return homes, pois


def _osmnx_walk_graph(path: Path) -> Graph:
    import osmium
    import osmnx as ox

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "streets.osm"
        # osmnx reads every way of an .osm file: keep the streets and their nodes
        with osmium.BackReferenceWriter(str(xml), ref_src=str(path)) as writer:
            for obj in osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(
                osmium.filter.KeyFilter("highway")
            ):
                writer.add(obj)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = ox.graph_from_xml(xml, bidirectional=True, retain_all=True)
    graph = ox.project_graph(graph, to_crs=CRS)
    nodes, edges = ox.graph_to_gdfs(graph)
    return nodes, edges[["length", "geometry"]]


def street_grid(side: int, *, spacing: float = 80.0, seed: int = SEED) -> Graph:
    """A ``side`` x ``side`` street grid, both ways, lengths stretched by 0-20 % at random."""
    rng = np.random.default_rng(seed)
    ids = np.arange(side * side, dtype=np.int64)
    x = 200_000.0 + (ids // side) * spacing
    y = 6_700_000.0 + (ids % side) * spacing
    nodes = gpd.GeoDataFrame(
        {"x": x, "y": y},
        geometry=gpd.points_from_xy(x, y),
        index=pd.Index(ids, name="osmid"),
        crs=CRS,
    )
    right = ids[ids // side < side - 1]
    up = ids[ids % side < side - 1]
    a = np.concatenate([right, up])
    b = np.concatenate([right + side, up + 1])
    length = spacing * rng.uniform(1.0, 1.2, a.size)
    u = np.concatenate([a, b])
    v = np.concatenate([b, a])
    coords = np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1)
    edges = gpd.GeoDataFrame(
        {"length": np.concatenate([length, length])},
        geometry=shapely.linestrings(coords),
        index=pd.MultiIndex.from_arrays(
            [u, v, np.zeros(u.size, np.int64)], names=["u", "v", "key"]
        ),
        crs=CRS,
    )
    return nodes, edges


# --------------------------------------------------------------------------------------------
# The three methods: each returns (preparation s, query s, distances per category)
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    prep_s: float
    query_s: float
    dist: dict[str, np.ndarray]  # per category, one value per home (NaN: none within 2 km)

    @property
    def total_s(self) -> float:
        return self.prep_s + self.query_s


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_engine(graph: Graph, homes: gpd.GeoSeries, pois: gpd.GeoDataFrame, repeat: int) -> Timing:
    nodes, edges = graph
    prep, net = best_of(repeat, lambda: qn.build_network(nodes, edges, mode="walk"))
    cats = categories(pois)
    query, res = best_of(
        repeat, lambda: qn.nearest(net, homes, pois, categories=cats, cutoff_m=CUTOFF_M)
    )
    return Timing(prep, query, {c: res[f"{c}_m"].to_numpy() for c in cats})


def scipy_floor(
    graph: Graph, homes: gpd.GeoSeries, pois: gpd.GeoDataFrame, repeat: int
) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds of the least a scipy engine must do to answer the same question: a reference.

    Coordinates read and hashed, each place looked up among the graph's node coordinates
    (the default homes and amenities are nodes; others take their nearest node by cKDTree, as
    osmnx does), one bounded scipy Dijkstra from 12 virtual category sources on the reversed
    graph, distances gathered per home into a table. Nothing else: no input checks, no
    snapping to edges, no travel times, no off-network flags, no same-street paths. Its ratio
    to networkx bounds what any engine built on scipy.sparse.csgraph, numpy and pandas can
    reach on a graph; the engine does all of the above on top of it.
    """
    from scipy import sparse
    from scipy.sparse import csgraph
    from scipy.spatial import cKDTree

    nodes, edges = graph
    net = qn.build_network(nodes, edges, mode="walk")
    tree = cKDTree(net.node_xy)
    keys = pd.Index(np.ascontiguousarray(net.node_xy).view(np.complex128).ravel())
    alone = ~keys.duplicated()  # nodes sharing a place (bridges): the first stands for it
    node_key, key_node = keys[alone], np.flatnonzero(alone)
    reverse = net.matrix("length").T.tocsr()
    n = net.n_nodes
    cats = categories(pois)
    home_geoms = np.asarray(homes.array)
    k = home_geoms.size

    def query() -> pd.DataFrame:
        geoms = np.concatenate([home_geoms, np.asarray(pois.geometry.array)])
        key = shapely.get_x(geoms) + 1j * shapely.get_y(geoms)
        codes, places = pd.factorize(key)
        at = node_key.get_indexer(places)
        node = key_node[at]
        miss = np.flatnonzero(at < 0)
        if miss.size:
            node[miss] = tree.query(np.column_stack([places.real, places.imag])[miss])[1]
        poi_node = node[codes[k:]]
        found, distinct = pd.factorize(pois["category"].to_numpy(dtype=object))
        cat = np.searchsorted(cats, np.asarray(distinct, dtype=object))[found]
        order = np.argsort(cat, kind="stable")
        size = n + len(cats)
        indptr = np.concatenate(
            [reverse.indptr, reverse.indptr[-1] + np.cumsum(np.bincount(cat, minlength=len(cats)))]
        )
        matrix = sparse.csr_matrix(
            (
                np.concatenate([reverse.data, np.zeros(cat.size)]),
                np.concatenate([reverse.indices, poi_node[order]]),
                indptr,
            ),
            shape=(size, size),
        )
        dist = csgraph.dijkstra(matrix, indices=n + np.arange(len(cats)), limit=CUTOFF_M)
        out = dist[:, node[codes[:k]]]
        out[out > CUTOFF_M] = np.nan
        return pd.DataFrame(out.T, index=homes.index, columns=cats, copy=False)

    seconds, table = best_of(max(repeat, 5), query)
    return seconds, {c: table[c].to_numpy() for c in cats}


def run_networkx(graph: Graph, homes: gpd.GeoSeries, pois: gpd.GeoDataFrame, repeat: int) -> Timing:
    import networkx as nx
    import osmnx as ox

    nodes, edges = graph
    prep, g = best_of(repeat, lambda: ox.graph_from_gdfs(nodes, edges))

    def query() -> dict[str, np.ndarray]:
        home_nodes = ox.distance.nearest_nodes(g, homes.x.to_numpy(), homes.y.to_numpy())
        poi_nodes = np.asarray(
            ox.distance.nearest_nodes(g, pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy())
        )
        out = {}
        for c in categories(pois):
            sources = set(poi_nodes[(pois["category"] == c).to_numpy()].tolist())
            if not sources:
                out[c] = np.full(len(homes), np.nan)
                continue
            dist = nx.multi_source_dijkstra_path_length(
                g, sources, cutoff=CUTOFF_M, weight="length"
            )
            out[c] = np.array([dist.get(h, np.nan) for h in home_nodes], dtype=np.float64)
        return out

    q, dist = best_of(repeat, query)
    return Timing(prep, q, dist)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence the C++ progress lines pandana prints on file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_pandana(graph: Graph, homes: gpd.GeoSeries, pois: gpd.GeoDataFrame, repeat: int) -> Timing:
    import pandana

    nodes, edges = graph
    node_x = pd.Series(nodes["x"].to_numpy(), index=nodes.index.to_numpy())
    node_y = pd.Series(nodes["y"].to_numpy(), index=nodes.index.to_numpy())
    frm = pd.Series(edges.index.get_level_values(0).to_numpy())
    to = pd.Series(edges.index.get_level_values(1).to_numpy())
    weights = pd.DataFrame({"length": edges["length"].to_numpy()})

    def prepare() -> Any:
        with quiet_stdout():
            return pandana.Network(node_x, node_y, frm, to, weights, twoway=False)

    prep, net = best_of(repeat, prepare)
    px, py = pois.geometry.x, pois.geometry.y

    def query() -> dict[str, np.ndarray]:
        out = {}
        with quiet_stdout():
            home_nodes = net.get_node_ids(homes.x, homes.y).to_numpy()
            for c in categories(pois):
                sel = (pois["category"] == c).to_numpy()
                if not sel.any():
                    out[c] = np.full(len(homes), np.nan)
                    continue
                net.set_pois(c, CUTOFF_M, 1, px[sel], py[sel])
                near = net.nearest_pois(CUTOFF_M, c, num_pois=1)[1]
                d = near.reindex(home_nodes).to_numpy(dtype=np.float64)
                out[c] = np.where(d >= CUTOFF_M, np.nan, d)  # pandana reports misses as 2 km
        return out

    q, dist = best_of(repeat, query)
    return Timing(prep, q, dist)


def pandana_available(install: bool) -> bool:
    if importlib.util.find_spec("pandana") is not None:
        return True
    how = f"uv pip install --python {sys.executable} pandana"
    if not install:
        print(f"pandana is not installed: skipped (install it with `{how}` or --install-pandana)")
        return False
    cmd = (
        ["uv", "pip", "install", "--python", sys.executable, "pandana"]
        if shutil.which("uv")
        else [sys.executable, "-m", "pip", "install", "pandana"]
    )
    print("installing pandana for this benchmark only (AGPL, never a qet-geo dependency):")
    print("  " + " ".join(cmd))
    done = subprocess.run(cmd, check=False)
    importlib.invalidate_caches()
    if done.returncode != 0 or importlib.util.find_spec("pandana") is None:
        print("pandana could not be installed: skipped")
        return False
    return True


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def categories(pois: gpd.GeoDataFrame) -> list[str]:
    return sorted(pois["category"].unique().tolist())


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, int]:
    """Largest difference where both found an amenity, and how many homes disagree on reach."""
    worst, mismatched = 0.0, 0
    for c in a:
        fa, fb = np.isfinite(a[c]), np.isfinite(b[c])
        # reach may differ only right at the 2 km limit
        edge_case = np.where(fa, a[c], b[c]) > CUTOFF_M - 0.5
        mismatched += int(((fa != fb) & ~edge_case).sum())
        both = fa & fb
        if both.any():
            worst = max(worst, float(np.abs(a[c][both] - b[c][both]).max()))
    return worst, mismatched


def bench_graph(name: str, graph: Graph, args: argparse.Namespace, with_pandana: bool) -> None:
    nodes, edges = graph
    homes, pois = load_points(name, nodes, graph[1], kind=args.points)
    big = len(nodes) > 50_000
    repeat = 1 if big else args.repeat
    print(
        f"\n== {name}: {len(nodes):,} nodes, {len(edges):,} directed edges, "
        f"{len(homes):,} homes, {len(pois):,} amenities in {len(categories(pois))} categories, "
        f"{CUTOFF_M:g} m limit (best of {repeat})"
    )
    print(f"{'method':<10}{'prep s':>10}{'query s':>10}{'total s':>10}", flush=True)
    runs: dict[str, Callable[..., Timing]] = {"engine": run_engine, "networkx": run_networkx}
    if with_pandana and not (big and args.no_pandana_grid):
        runs["pandana"] = run_pandana
    results: dict[str, Timing] = {}
    for method, run in runs.items():
        t = results[method] = run(graph, homes, pois, repeat)
        print(f"{method:<10}{t.prep_s:>10.4f}{t.query_s:>10.4f}{t.total_s:>10.4f}", flush=True)
    eng = results["engine"]
    net = qn.build_network(nodes, edges, mode="walk")
    count_s, _ = best_of(
        repeat, lambda: qn.count_within(net, homes, pois, categories=categories(pois))
    )
    print(f"engine count_within (amenities within 5/10/15 min, timed alone): {count_s:.4f} s")
    floor, floor_dist = scipy_floor(graph, homes, pois, repeat)
    nx_query = results["networkx"].query_s
    diff, mism = max_diff(floor_dist, results["networkx"].dist)
    print(
        f"scipy floor (node look-up, one {len(categories(pois))}-source Dijkstra, a table; "
        f"nothing else): {floor:.4f} s, {nx_query / floor:.1f}x faster than networkx (query); "
        f"max |diff| to networkx {diff:.2e} m, {mism} reach mismatches"
    )
    for method, t in results.items():
        if method == "engine":
            continue
        diff, mism = max_diff(eng.dist, t.dist)
        print(
            f"engine vs {method}: {t.query_s / eng.query_s:7.1f}x faster (query), "
            f"{t.total_s / eng.total_s:7.1f}x faster (prep + query); "
            f"max |diff| {diff:.2e} m, {mism} reach mismatches"
        )


def _exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log seconds on log size."""
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(seconds, 1e-9)), 1)[0])


def _engine_steps(
    graph: Graph, homes: gpd.GeoSeries, pois: gpd.GeoDataFrame, repeat: int
) -> tuple[float, float, float]:
    """Seconds (best of ``repeat``) of build_network, nearest and count_within (5/10/15 min)."""
    nodes, edges = graph
    prep, net = best_of(repeat, lambda: qn.build_network(nodes, edges, mode="walk"))
    cats = categories(pois)
    near, _ = best_of(
        repeat, lambda: qn.nearest(net, homes, pois, categories=cats, cutoff_m=CUTOFF_M)
    )
    count, _ = best_of(repeat, lambda: qn.count_within(net, homes, pois, categories=cats))
    return prep, near, count


def _steps_table(rows: list[tuple[str, int, int, int, tuple[float, float, float]]]) -> None:
    print(
        f"{'size':<8}{'nodes':>10}{'homes':>9}{'amen.':>8}"
        f"{'prep s':>9}{'nearest s':>11}{'count s':>9}"
    )
    for label, n_nodes, n_homes, n_pois, (prep, near, count) in rows:
        print(
            f"{label:<8}{n_nodes:>10,}{n_homes:>9,}{n_pois:>8,}"
            f"{prep:>9.3f}{near:>11.3f}{count:>9.3f}",
            flush=True,
        )
    if len(rows) >= 2:
        homes = [float(r[2]) for r in rows]
        for i, step in enumerate(("build_network", "nearest", "count_within")):
            slope = _exponent(homes, [r[4][i] for r in rows])
            print(f"  {step:<14} cost exponent over homes: {slope:5.2f} (target <= 1.1)")


def scaling(side_small: int, side_large: int, repeat: int) -> None:
    """The engine on street grids growing 16x in nodes, homes and amenities growing with them
    (one home per 5 nodes, one amenity per 50), each step timed."""
    print(
        f"\n== scaling of the engine on grids {side_small}² to {side_large}², homes and amenities "
        "growing with the area"
    )
    rows = []
    for side in (side_small, (side_small + side_large) // 2, side_large):
        graph = street_grid(side)
        nodes, edges = graph
        n_homes, n_pois = max(1, len(nodes) // 5), max(12, len(nodes) // 50)
        homes, pois = _node_points(nodes, edges, n_homes=n_homes, n_pois=n_pois)
        rep = repeat if side == side_small else 1
        rows.append(
            (f"{side}²", len(nodes), n_homes, n_pois, _engine_steps(graph, homes, pois, rep))
        )
    _steps_table(rows)


def tiled_scaling(max_k: int, repeat: int) -> None:
    """The engine on Lorient centre tiled k×k (bench/_tiled.py): the real homes (residential
    buildings) and amenities of every copy, so both grow with the area, each step timed."""
    from _tiled import tiled_extract

    from qet_geo.inputs.osm import read_osm

    print(
        f"\n== scaling of the engine on Lorient centre tiled k×k, k = 1..{max_k}: real homes "
        "and amenities growing with the area"
    )
    rows = []
    k = 1
    while k <= max_k:
        data = read_osm(tiled_extract(EXTRACTS["lorient"], k))
        nodes, edges = data.graph("walk")
        homes_b = data.buildings[data.buildings["residential"].astype(bool)]
        homes = homes_b.geometry.representative_point().reset_index(drop=True)
        pois = data.amenities[["category", "geometry"]].reset_index(drop=True)
        rep = repeat if k <= 2 else 1
        steps = _engine_steps((nodes, edges), homes, pois, rep)
        rows.append((f"k={k}", len(nodes), len(homes), len(pois), steps))
        k *= 2
    _steps_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grid, fewer repeats")
    parser.add_argument("--grid-side", type=int, default=447, help="grid side (447: ~200k nodes)")
    parser.add_argument("--repeat", type=int, default=20, help="repeats on the small graphs")
    parser.add_argument("--no-pandana", action="store_true", help="skip pandana")
    parser.add_argument(
        "--no-pandana-grid",
        action="store_true",
        help="skip pandana on the large grid (its contraction hierarchy takes ~10 minutes)",
    )
    parser.add_argument(
        "--install-pandana", action="store_true", help="install pandana into this venv if absent"
    )
    parser.add_argument(
        "--points",
        choices=["nodes", "osm"],
        default="nodes",
        help="homes and amenities: graph nodes (same question for all) or the extract's "
        "buildings and amenities (qet_geo.inputs.osm)",
    )
    parser.add_argument(
        "--only", choices=["lorient", "nantes", "grid", "scaling", "tiled"], action="append"
    )
    parser.add_argument(
        "--tiled-max-k", type=int, default=4, help="largest k of the tiled Lorient (1, 2, 4...)"
    )
    args = parser.parse_args()
    if args.quick:
        args.grid_side = min(args.grid_side, 150)
        args.repeat = min(args.repeat, 2)
    with_pandana = not args.no_pandana and pandana_available(args.install_pandana)
    only = set(args.only or ["lorient", "nantes", "grid", "scaling", "tiled"])
    warnings.simplefilter("ignore")
    for name in ("lorient", "nantes"):
        if name in only and EXTRACTS[name].exists():
            bench_graph(name, load_graph(name), args, with_pandana)
    if "grid" in only:
        bench_graph("grid", load_graph("grid", grid_side=args.grid_side), args, with_pandana)
    if "scaling" in only:
        side = args.grid_side
        scaling(max(2, round(side / 4)), side, args.repeat)
    if "tiled" in only:
        tiled_scaling(args.tiled_max_k, args.repeat)


if __name__ == "__main__":
    main()
