"""Visit routes: the walking "visite du quartier" through the places that matter.

During the diagnostic, a pilot team walks the neighbourhood with residents and partners (the
"visite du quartier"): the market, the food shops, a school, the transit stop where a survey
stand will stand, the homes that have everything at hand and those that have nothing. This module
orders such stops to minimise the walking time on the street network, keeps the visit within a
time budget, and writes it for the field: a GPX for phones and GPS units, a GeoJSON for QGIS and
web maps, and a printable, self-contained HTML roadbook.

- :func:`distance_matrix`: walking time (or length) between every pair of points, exact to the
  snapping of :func:`qet_geo.network.graph.snap` (the path starts and ends part-way along a street).
- :func:`order_stops`: the order of least cost over a cost matrix, open path or loop, with or
  without a fixed start.
- :func:`plan_route`: the whole visit: matrix, order, time budget, street-following legs.
- :func:`auto_stops`: the stops a pilot team would pick, with a reason and a priority each.
- :func:`read_stops`: stops from a GeoJSON, GeoPackage or CSV (lon, lat) file.
- :func:`to_gpx`, :func:`to_geojson`, :func:`to_roadbook`, :func:`write_route`: the outputs.

Algorithms
----------
The walking-time matrix comes from one Dijkstra search per street end next to a stop
(:func:`scipy.sparse.csgraph.dijkstra` on the graph of the fastest parallel edges), each stop
leaving or joining its street at its snap point, in the directions the street allows, and two
stops on the same street may also walk straight along it. The predecessors of the searches give
back every leg's path, drawn from the street geometries.

The order is exact for up to :data:`EXACT_MAX_STOPS` stops to order: Held-Karp dynamic
programming, ``O(2^n n^2)``, vectorised with numpy over all subsets of one size at a time. Above
it a near-optimal heuristic: nearest-neighbour tours from every possible first stop and a
cheapest-insertion tour, each improved by 2-opt (reverse a stretch) and Or-opt (move a run of 1
to 3 stops elsewhere, either way round) until no move shortens it, the best one kept. Every move
is evaluated with the exact, possibly asymmetric, costs (a slope makes a street quicker one way),
so the result is never worse than the nearest-neighbour tour; on random 10 to 12 stop instances
it is within a few per cent of the optimum, and usually equal to it.

Time budget
-----------
A visit lasts the walking time plus a dwell time at every stop (:data:`DEFAULT_DWELL_MIN`, 5 min
by default, or a ``dwell_min`` column per stop). Over budget, the stop of lowest priority is
dropped (among equals, the one whose removal saves the most time), the order re-optimised, and
so on until the visit fits; the dropped stops are reported in order of dropping.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import uuid
import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse import csgraph
from shapely.ops import substring

from qet_geo._validate import existing_file
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    CRSError,
    DataCoverageError,
    EmptyDataError,
    InputFileError,
    QetGeoWarning,
    ValidationError,
)
from qet_geo.escaping import escape_html, xml_chars
from qet_geo.i18n import Lang
from qet_geo.network.graph import Network, build_network
from qet_geo.network.queries import count_within
from qet_geo.network.snapping import DEFAULT_MAX_SNAP_M, snap
from qet_geo.taxonomy import CATEGORY_LABELS, ESSENTIAL_CATEGORIES

if TYPE_CHECKING:
    from qet_geo.layers import NeighbourhoodLayers

__all__ = [
    "DEFAULT_DWELL_MIN",
    "EXACT_MAX_STOPS",
    "STOP_FILE_SUFFIXES",
    "VisitRoute",
    "auto_stops",
    "distance_matrix",
    "order_stops",
    "plan_route",
    "read_stops",
    "route_cost",
    "route_summary",
    "to_geojson",
    "to_gpx",
    "to_roadbook",
    "write_route",
]

logger = logging.getLogger(__name__)

Weight = Literal["time", "length"]
Method = Literal["auto", "exact", "heuristic", "nearest_neighbour"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_DWELL_MIN = 5.0
"""Minutes spent at each stop (look, talk, take notes) when no ``dwell_min`` is given."""

EXACT_MAX_STOPS = 12
"""Most stops ordered exactly (Held-Karp) by ``method="auto"``; a heuristic above."""

STOP_FILE_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".shp", ".csv", ".tsv", ".txt")
"""Stop files :func:`read_stops` reads."""

_EXACT_HARD_LIMIT = 16  # Held-Karp memory grows as 2^n n^2: 16 is about 30 MB
_MIN_WEIGHT = 1e-9  # zero-length edges searched at a negligible positive cost
_MAX_CONSTRUCTIONS = 30  # nearest-neighbour starts tried by the heuristic
_DUPLICATE_M = 25.0  # two automatic stops closer than this are the same place
_AUTO_RADIUS_MIN = 5.0  # "busy place": amenities and homes within this walk
_SVG_WIDTH = 760.0
_WGS84 = CRS.from_user_input(WGS84)

_OPEN_LABELS: dict[str, tuple[str, str]] = {
    "held-karp": (
        "ordre optimal (programmation dynamique de Held-Karp)",
        "optimal order (Held-Karp dynamic programming)",
    ),
    "heuristic": (
        "ordre quasi optimal (plus proche voisin, 2-opt et Or-opt)",
        "near-optimal order (nearest neighbour, 2-opt and Or-opt)",
    ),
    "nearest_neighbour": ("ordre du plus proche voisin", "nearest-neighbour order"),
    "trivial": ("ordre unique", "single possible order"),
}


# --------------------------------------------------------------------------------------------
# Walking-time matrix
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Graph:
    """The graph searched for one weight: the lightest of parallel edges, no self-loops."""

    matrix: sparse.csr_matrix
    edge: IntArray  # network edge index of each stored entry, aligned to matrix.data
    keys: IntArray  # row * n + col of each stored entry (sorted)
    secondary: FloatArray  # the other weight of each stored entry

    def entry(self, rows: IntArray, cols: IntArray) -> IntArray:
        """Position of the stored edges ``rows[i] -> cols[i]``."""
        n = self.matrix.shape[0]
        return np.searchsorted(self.keys, rows * n + cols)


def _weights(net: Network, weight: Weight) -> tuple[FloatArray, FloatArray, float, float]:
    """Edge weights (searched, other) and the cost of one metre of snap in each."""
    if weight == "time":
        return net.edge_time, net.edge_length, net.flat_min_per_m, 1.0
    return net.edge_length, net.edge_time, 1.0, net.flat_min_per_m


def _search_graph(net: Network, weight: Weight) -> _Graph:
    w1, w2, _, _ = _weights(net, weight)
    n = net.n_nodes
    keep = np.flatnonzero(net.edge_u != net.edge_v)
    u, v = net.edge_u[keep], net.edge_v[keep]
    order = np.lexsort((w2[keep], w1[keep], v, u))
    keep = keep[order]
    key = u[order] * n + v[order]
    first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    edges, keys = keep[first], key[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(net.edge_u[edges], minlength=n), out=indptr[1:])
    matrix = sparse.csr_matrix(
        (np.maximum(w1[edges], _MIN_WEIGHT), net.edge_v[edges].astype(np.int32), indptr),
        shape=(n, n),
    )
    return _Graph(matrix=matrix, edge=edges, keys=keys, secondary=w2[edges])


@dataclass(frozen=True)
class _Legs:
    """Costs of every pair of points and what is needed to draw each leg (private).

    A point leaves its street towards end 0 (the end its edge leads to) or end 1 (back along
    the twin), and joins its street from end 0 (the end its edge comes from) or end 1. ``plan``
    says how each pair is joined: ``2 * origin_end + destination_end``, 4 straight along a
    shared street, 5 the point itself, -1 no path.
    """

    cost: FloatArray  # (k, k) searched weight
    other: FloatArray  # (k, k) the other weight along the same paths
    plan: IntArray  # (k, k)
    weight: Weight
    edge: IntArray  # (k,) snapped edge
    fraction: FloatArray  # (k,)
    xy: FloatArray  # (k, 2) the points
    out_node: IntArray  # (k, 2) street end reached when leaving
    in_node: IntArray  # (k, 2) street end a point is joined from
    out_row: IntArray  # (k, 2) row of out_node in pred
    pred: npt.NDArray[np.int32]  # (r, n) predecessors of the searches
    graph: _Graph


def _legs(net: Network, points: gpd.GeoSeries, *, weight: Weight, max_snap_m: float) -> _Legs:
    """Snap the points and search every pair; off-network points get no path."""
    snapped = snap(net, points, max_snap_m=max_snap_m)
    k = len(points)
    on = ~snapped["off_network"].to_numpy(bool)
    e = np.where(on, snapped["edge"].to_numpy(np.int64), 0)
    f = np.where(on, snapped["fraction"].to_numpy(float), 0.0)
    s = np.where(on, snapped["snap_m"].to_numpy(float), 0.0)
    w1, w2, per1, per2 = _weights(net, weight)
    twin = net.edge_twin[e]
    two = twin >= 0
    tw = np.where(two, twin, 0)

    def ends(w: FloatArray, per_m: float) -> tuple[FloatArray, FloatArray]:
        snap_cost = s * per_m
        out = np.column_stack(
            [
                snap_cost + (1 - f) * w[e],
                np.where(two, snap_cost + f * w[tw], np.where(f == 0, snap_cost, np.inf)),
            ]
        )
        inn = np.column_stack(
            [
                snap_cost + f * w[e],
                np.where(two, snap_cost + (1 - f) * w[tw], np.where(f == 1, snap_cost, np.inf)),
            ]
        )
        out[~on] = np.inf
        inn[~on] = np.inf
        return out, inn

    out1, in1 = ends(w1, per1)
    out2, in2 = ends(w2, per2)
    out_node = np.column_stack([net.edge_v[e], net.edge_u[e]])
    in_node = np.column_stack([net.edge_u[e], net.edge_v[e]])

    graph = _search_graph(net, weight)
    usable = np.isfinite(out1)
    sources, inverse = np.unique(out_node[usable], return_inverse=True)
    out_row = np.zeros((k, 2), dtype=np.int64)
    out_row[usable] = inverse.ravel()
    if sources.size:
        dist, pred = csgraph.dijkstra(
            graph.matrix, indices=sources, return_predecessors=True, directed=True
        )
        along = _tree_secondary(graph, pred)
    else:
        dist = np.full((1, net.n_nodes), np.inf)
        along = np.full((1, net.n_nodes), np.inf)
        pred = np.full((1, net.n_nodes), -9999, dtype=np.int32)

    # cost[i, o, j, d] = leave i by end o, search, join j from end d
    rows = out_row[:, :, None, None]
    cols = in_node[None, None, :, :]
    total = out1[:, :, None, None] + dist[rows, cols] + in1[None, None, :, :]
    total2 = out2[:, :, None, None] + along[rows, cols] + in2[None, None, :, :]
    total = np.where(usable[:, :, None, None], total, np.inf)
    flat = total.transpose(0, 2, 1, 3).reshape(k, k, 4)
    flat2 = total2.transpose(0, 2, 1, 3).reshape(k, k, 4)
    plan = np.argmin(flat, axis=2).astype(np.int64)
    cost = np.take_along_axis(flat, plan[..., None], 2)[..., 0]
    other = np.take_along_axis(flat2, plan[..., None], 2)[..., 0]

    # straight along a street shared by both points
    same = (e[:, None] == e[None, :]) & on[:, None] & on[None, :]
    np.fill_diagonal(same, False)
    oi, di = np.nonzero(same)
    if oi.size:
        fo, fd = f[oi], f[di]
        ahead = fd >= fo
        back = (fd <= fo) & two[oi]
        direct = []
        for w, per_m in ((w1, per1), (w2, per2)):
            base = (s[oi] + s[di]) * per_m
            fwd = np.where(ahead, base + (fd - fo) * w[e[oi]], np.inf)
            rev = np.where(back, base + (fo - fd) * w[tw[oi]], np.inf)
            direct.append((fwd, rev))
        best = np.minimum(direct[0][0], direct[0][1])
        use_rev = direct[0][1] < direct[0][0]
        best2 = np.where(use_rev, direct[1][1], direct[1][0])
        better = best <= cost[oi, di]
        oi, di = oi[better], di[better]
        cost[oi, di] = best[better]
        other[oi, di] = best2[better]
        plan[oi, di] = 4
    diag = np.flatnonzero(on)
    cost[diag, diag] = 0.0
    other[diag, diag] = 0.0
    plan[diag, diag] = 5
    plan[~np.isfinite(cost)] = -1
    off = ~on
    cost[off, :] = np.nan
    cost[:, off] = np.nan
    other[off, :] = np.nan
    other[:, off] = np.nan
    plan[off, :] = -1
    plan[:, off] = -1
    xy = shapely.get_coordinates(np.asarray(points.array, dtype=object))
    return _Legs(
        cost=cost,
        other=other,
        plan=plan,
        weight=weight,
        edge=e,
        fraction=f,
        xy=xy,
        out_node=out_node,
        in_node=in_node,
        out_row=out_row,
        pred=pred,
        graph=graph,
    )


def _tree_secondary(graph: _Graph, pred: npt.NDArray[np.int32]) -> FloatArray:
    """Sum the other weight along each shortest-path tree, by pointer jumping."""
    r, n = pred.shape
    own = np.broadcast_to(np.arange(n, dtype=np.int64), (r, n))
    parent = pred.astype(np.int64)
    has = parent >= 0
    acc = np.zeros((r, n))
    acc[has] = graph.secondary[graph.entry(parent[has], own[has])]
    offset = (np.arange(r, dtype=np.int64) * n)[:, None]
    flat_parent = (np.where(has, parent, own) + offset).ravel()
    flat_acc = acc.ravel()
    while True:
        grand = flat_parent[flat_parent]
        flat_acc = flat_acc + flat_acc[flat_parent]
        if np.array_equal(grand, flat_parent):
            break
        flat_parent = grand
    # the last pass added the root's 0 (or, at a root, its own 0): nothing counted twice
    return flat_acc.reshape(r, n)


def _leg_coords(net: Network, legs: _Legs, i: int, j: int) -> FloatArray:
    """Coordinates of the path from point ``i`` to point ``j``, along the streets."""
    how = int(legs.plan[i, j])
    if how < 0:
        raise ValueError("no path")  # callers only draw legs that have a path
    pi, pj = legs.xy[i], legs.xy[j]
    if how == 5:
        return np.vstack([pi, pj])
    ei, ej = int(legs.edge[i]), int(legs.edge[j])
    gi, gj = net.edge_geometry[ei], net.edge_geometry[ej]
    li, lj = float(net.edge_geometry_length[ei]), float(net.edge_geometry_length[ej])
    fi, fj = float(legs.fraction[i]), float(legs.fraction[j])
    parts: list[FloatArray] = [pi[None, :]]
    if how == 4:
        parts.append(_sub(gi, fi * li, fj * li))
    else:
        o, d = divmod(how, 2)
        parts.append(_sub(gi, fi * li, li if o == 0 else 0.0))
        a, b = int(legs.out_node[i, o]), int(legs.in_node[j, d])
        row = legs.pred[legs.out_row[i, o]]
        nodes = [b]
        while nodes[-1] != a:
            nodes.append(int(row[nodes[-1]]))
        nodes.reverse()
        if len(nodes) > 1:
            path = np.asarray(nodes, dtype=np.int64)
            edges = legs.graph.edge[legs.graph.entry(path[:-1], path[1:])]
            parts.extend(shapely.get_coordinates(net.edge_geometry[x]) for x in edges)
        parts.append(_sub(gj, 0.0 if d == 0 else lj, fj * lj))
    parts.append(pj[None, :])
    coords = np.vstack(parts)
    keep = np.r_[True, (np.abs(np.diff(coords, axis=0)) > 1e-9).any(axis=1)]
    coords = coords[keep]
    return coords if len(coords) > 1 else np.vstack([coords, coords])


def _sub(line: Any, start: float, end: float) -> FloatArray:
    """Coordinates of ``line`` from ``start`` to ``end`` (m along it; reversed if end < start)."""
    if abs(end - start) <= 1e-9:
        return shapely.get_coordinates(shapely.line_interpolate_point(line, start))
    return shapely.get_coordinates(substring(line, start, end))


def _check_weight(weight: str) -> Weight:
    if weight == "time":
        return "time"
    if weight == "length":
        return "length"
    raise ValidationError(
        f"weight must be 'time' or 'length', not {weight!r}.",
        message_fr=f"weight doit valoir 'time' ou 'length', et non {weight!r}.",
    )


def _check_max_snap(max_snap_m: float) -> float:
    value = float(max_snap_m)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"max_snap_m must be a positive number of metres, not {max_snap_m!r}.",
            message_fr=f"max_snap_m doit être un nombre positif de mètres, et non {max_snap_m!r}.",
        )
    return value


def _as_points(
    points: gpd.GeoSeries | gpd.GeoDataFrame, crs: CRS, name: str, name_fr: str
) -> gpd.GeoSeries:
    """The geometries as points in ``crs`` (a polygon gives a point inside it)."""
    if isinstance(points, gpd.GeoDataFrame):
        series = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        series = points
    else:
        raise ValidationError(
            f"{name} must be a GeoDataFrame or a GeoSeries, not {type(points).__name__}.",
            message_fr=f"{name_fr} doit être un GeoDataFrame ou une GeoSeries, et non "
            f"{type(points).__name__}.",
        )
    if series.crs is None:
        raise CRSError(
            f"{name} has no CRS: set it with .set_crs(...) (EPSG:4326 for lon/lat).",
            message_fr=f"{name_fr} n'a pas de CRS : définissez-le avec .set_crs(...) (EPSG:4326 "
            "pour des lon/lat).",
        )
    if not series.index.is_unique:
        raise ValidationError(
            f"{name} has duplicate index values: give each point its own id.",
            message_fr=f"{name_fr} contient des identifiants en double : donnez à chaque point "
            "son propre identifiant.",
        )
    geoms = np.asarray(series.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        bad = [str(x) for x in series.index[missing][:5]]
        raise ValidationError(
            f"{name} {', '.join(bad)} have no geometry: give each point a position.",
            message_fr=f"{name_fr} {', '.join(bad)} sans géométrie : donnez une position à "
            "chaque point.",
        )
    geoms = np.where(
        shapely.get_type_id(geoms) == shapely.GeometryType.POINT,
        geoms,
        shapely.point_on_surface(geoms),
    )
    out = gpd.GeoSeries(geoms, index=series.index, crs=series.crs)
    return out if CRS.from_user_input(out.crs) == crs else out.to_crs(crs)


def distance_matrix(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    weight: Weight = "time",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Compute the network walking time (or length) between every pair of points.

    Parameters
    ----------
    network
        The street network (:func:`qet_geo.network.graph.build_network`).
    points
        Points in any CRS (reprojected to the network's); other geometries give a point inside
        them.
    weight
        "time" (default): the time of the fastest path, in minutes; "length": the length of
        the shortest path, in metres.
    max_snap_m
        Farthest a point may be from a street (m), see :func:`qet_geo.network.graph.snap`.

    Returns
    -------
    pandas.DataFrame
        Square, indexed by ``points.index`` on both axes: entry ``(i, j)`` is the cost of the
        path from ``i`` to ``j`` (snap distances of both ends included; 0 on the diagonal),
        ``inf`` when no path joins them (another component of the network, or a oneway street
        the wrong way) and NaN in the rows and columns of points farther than ``max_snap_m``
        from any street. ``attrs["other"]`` holds the other weight along the same paths (the
        lengths of the fastest paths, or the times of the shortest ones).

    Notes
    -----
    A point joins the nearest point of the nearest street edge (the straight-line distance to
    it costs the flat speed), then walks to either end of that edge in the directions the edge
    allows, or straight along it to a point on the same street. One Dijkstra search runs from
    each street end next to a point, so the cost is that of at most ``2 * len(points)``
    searches of the whole graph.
    """
    weight = _check_weight(weight)
    max_snap_m = _check_max_snap(max_snap_m)
    pts = _as_points(points, network.crs, "points", "points")
    legs = _legs(network, pts, weight=weight, max_snap_m=max_snap_m)
    out = pd.DataFrame(legs.cost, index=pts.index, columns=pts.index)
    out.attrs["other"] = pd.DataFrame(legs.other, index=pts.index, columns=pts.index)
    out.attrs["weight"] = weight
    return out


# --------------------------------------------------------------------------------------------
# Ordering: Held-Karp and the heuristic
# --------------------------------------------------------------------------------------------


def route_cost(cost: npt.ArrayLike, order: Sequence[int], *, loop: bool = False) -> float:
    """Return the cost of visiting the points of ``cost`` in ``order``.

    Parameters
    ----------
    cost
        Square matrix, ``cost[i, j]`` from ``i`` to ``j``.
    order
        Positions of the points in visiting order.
    loop
        Add the way back from the last point to the first.
    """
    c = np.asarray(cost, dtype=float)
    t = np.asarray(order, dtype=np.int64)
    if t.size < 2:
        return 0.0
    total = float(c[t[:-1], t[1:]].sum())
    return total + float(c[t[-1], t[0]]) if loop else total


def order_stops(
    cost: npt.ArrayLike,
    *,
    start: int | None = None,
    loop: bool = False,
    method: Method = "auto",
) -> list[int]:
    """Order points to minimise the total cost of visiting them all.

    Parameters
    ----------
    cost
        Square matrix of finite, non-negative costs, ``cost[i, j]`` from ``i`` to ``j``; it
        may be asymmetric.
    start
        Position of the point the visit starts from; ``None`` lets the visit start anywhere.
    loop
        Come back to the first point at the end (the cost of the way back counts).
    method
        "auto" (exact up to :data:`EXACT_MAX_STOPS` points to order, heuristic above),
        "exact" (Held-Karp, up to 16), "heuristic" (nearest neighbour, 2-opt, Or-opt) or
        "nearest_neighbour" (the best nearest-neighbour tour, for comparison).

    Returns
    -------
    list of int
        The positions in visiting order, every point once, ``start`` first when given; for a
        loop without a start, the first point is position 0.
    """
    c = _check_cost(cost)
    if start is not None and not (isinstance(start, int | np.integer) and 0 <= start < len(c)):
        raise ValidationError(
            f"start must be a position of the cost matrix (0 to {len(c) - 1}), not {start!r}.",
            message_fr=f"start doit être une position de la matrice des coûts (0 à {len(c) - 1}),"
            f" et non {start!r}.",
        )
    if method not in ("auto", "exact", "heuristic", "nearest_neighbour"):
        raise ValidationError(
            f"method must be 'auto', 'exact', 'heuristic' or 'nearest_neighbour', not {method!r}.",
            message_fr=f"method doit valoir 'auto', 'exact', 'heuristic' ou 'nearest_neighbour', "
            f"et non {method!r}.",
        )
    order, _ = _order(c, start=start, loop=loop, method=method)
    return order


def _check_cost(cost: npt.ArrayLike) -> FloatArray:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValidationError(
            f"cost must be a non-empty square matrix, not of shape {c.shape}.",
            message_fr=f"cost doit être une matrice carrée non vide, et non de forme {c.shape}.",
        )
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValidationError(
            "cost holds negative, infinite or missing values: every point must be reachable "
            "from every other.",
            message_fr="cost contient des valeurs négatives, infinies ou manquantes : chaque "
            "point doit être joignable depuis chacun des autres.",
        )
    return c


def _order(c: FloatArray, *, start: int | None, loop: bool, method: str) -> tuple[list[int], str]:
    """Order all points; returns the order and the method used."""
    k = c.shape[0]
    # depot form: node 0 is where the visit starts (a real point, or a free dummy)
    if start is not None:
        labels = [start, *(i for i in range(k) if i != start)]
        depot = c[np.ix_(labels, labels)]
    elif loop:
        labels = list(range(k))
        depot = c
    else:
        labels = [-1, *range(k)]
        depot = np.zeros((k + 1, k + 1))
        depot[1:, 1:] = c
    m = depot.shape[0] - 1
    if m <= 1:
        inner, used = list(range(1, m + 1)), "trivial"
    elif method == "exact" or (method == "auto" and m <= EXACT_MAX_STOPS):
        if m > _EXACT_HARD_LIMIT:
            raise ValidationError(
                f"Exact ordering is limited to {_EXACT_HARD_LIMIT} stops ({m} given): use "
                "method='heuristic'.",
                message_fr=f"L'ordre exact est limité à {_EXACT_HARD_LIMIT} étapes ({m} "
                "données) : utilisez method='heuristic'.",
            )
        inner, used = _held_karp(depot, loop=loop), "held-karp"
    elif method == "nearest_neighbour":
        inner, used = _best_nearest_neighbour(depot, loop=loop), "nearest_neighbour"
    else:
        inner, used = _heuristic(depot, loop=loop), "heuristic"
    order = [labels[i] for i in ([0, *inner] if labels[0] >= 0 else inner)]
    return order, used


def _held_karp(c: FloatArray, *, loop: bool) -> list[int]:
    """Exact order of nodes 1..m after the depot 0 (Held-Karp), vectorised by subset size.

    ``best[S, k]`` is the least cost of leaving the depot, visiting the subset ``S`` of nodes
    1..m (bit ``k`` for node ``k + 1``) and ending at ``k``. All subsets of one size are solved
    at once from those one smaller: ``best[S, k] = min_j best[S - k, j] + c[j, k]``.
    """
    m = c.shape[0] - 1
    full = 1 << m
    bits = np.int64(1) << np.arange(m, dtype=np.int64)
    subsets = np.arange(full, dtype=np.int64)
    size = np.zeros(full, dtype=np.int64)
    for b in range(m):
        size += (subsets >> b) & 1
    best = np.full((full, m), np.inf)
    parent = np.full((full, m), -1, dtype=np.int8)
    best[bits, np.arange(m)] = c[0, 1:]
    step = c[1:, 1:].T  # step[k, j] = c[j, k]
    for p in range(2, m + 1):
        group = np.flatnonzero(size == p)
        has = (group[:, None] & bits[None, :]) != 0  # (t, m): k in S
        prev = np.where(has, group[:, None] ^ bits[None, :], 0)
        cand = best[prev] + step[None, :, :]  # cand[t, k, j] = best[S - k, j] + c[j, k]
        j = np.argmin(cand, axis=2)
        value = np.take_along_axis(cand, j[..., None], 2)[..., 0]
        best[group] = np.where(has, value, np.inf)
        parent[group] = np.where(has, j, -1)
    last = best[full - 1] + (c[1:, 0] if loop else 0.0)
    k = int(np.argmin(last))
    subset = full - 1
    order: list[int] = []
    while subset:
        order.append(k + 1)
        j = int(parent[subset, k])
        subset ^= 1 << k
        k = j
    order.reverse()
    return order


def _nearest_neighbour(c: FloatArray, first: int | None) -> list[int]:
    """Nearest-neighbour order of nodes 1..m from the depot, optionally forcing the first."""
    m = c.shape[0] - 1
    left = np.ones(m + 1, dtype=bool)
    left[0] = False
    order: list[int] = []
    here = 0
    if first is not None:
        order.append(first)
        left[first] = False
        here = first
    while left.any():
        cand = np.flatnonzero(left)
        here = int(cand[np.argmin(c[here, cand])])
        order.append(here)
        left[here] = False
    return order


def _cheapest_insertion(c: FloatArray, *, loop: bool) -> list[int]:
    """Insert, one at a time, the node whose best insertion costs least."""
    m = c.shape[0] - 1
    ce = _extended(c, loop=loop)
    tail = 0 if loop else m + 1
    tour = [0, tail]
    left = list(range(1, m + 1))
    while left:
        t = np.asarray(tour)
        x, y = t[:-1], t[1:]
        node = np.asarray(left)
        add = ce[x[:, None], node[None, :]] + ce[node[None, :], y[:, None]] - ce[x, y][:, None]
        pos, which = np.unravel_index(int(np.argmin(add)), add.shape)
        tour.insert(int(pos) + 1, int(node[which]))
        left.remove(int(node[which]))
    return tour[1:-1]


def _extended(c: FloatArray, *, loop: bool) -> FloatArray:
    """The costs with a free sentinel end node m + 1 (open paths end there at no cost)."""
    m = c.shape[0] - 1
    ce = np.zeros((m + 2, m + 2))
    ce[: m + 1, : m + 1] = c
    if loop:
        ce[:, m + 1] = np.inf  # never used: a loop ends at the depot
    return ce


def _best_nearest_neighbour(c: FloatArray, *, loop: bool) -> list[int]:
    tours = _nn_tours(c)
    costs = [route_cost(c, [0, *t], loop=loop) for t in tours]
    return tours[int(np.argmin(costs))]


def _nn_tours(c: FloatArray) -> list[list[int]]:
    m = c.shape[0] - 1
    firsts: list[int | None] = [None]
    if m <= _MAX_CONSTRUCTIONS:
        firsts.extend(range(1, m + 1))
    else:  # the nearest first stops from the depot
        firsts.extend(int(i) + 1 for i in np.argsort(c[0, 1:], kind="stable")[:_MAX_CONSTRUCTIONS])
    return [_nearest_neighbour(c, first) for first in firsts]


def _heuristic(c: FloatArray, *, loop: bool) -> list[int]:
    """Best local optimum from the nearest-neighbour tours and cheapest insertion."""
    ce = _extended(c, loop=loop)
    end = 0 if loop else c.shape[0]
    best: list[int] | None = None
    best_cost = math.inf
    seen: set[tuple[int, ...]] = set()
    for tour in [*_nn_tours(c), _cheapest_insertion(c, loop=loop)]:
        if tuple(tour) in seen:
            continue
        seen.add(tuple(tour))
        improved = _local_search(ce, np.asarray([0, *tour, end], dtype=np.int64))
        cost = route_cost(c, [0, *improved], loop=loop)
        if cost < best_cost - 1e-12:
            best, best_cost = improved, cost
    assert best is not None  # at least one construction
    return best


def _local_search(ce: FloatArray, te: IntArray) -> list[int]:
    """2-opt and Or-opt moves until none shortens the tour ``te`` (depot ... end)."""
    scale = max(1.0, float(np.abs(ce[np.isfinite(ce)]).max(initial=0.0)))
    tol = 1e-10 * scale
    while True:
        i, j, gain = _two_opt_move(ce, te)
        if gain < -tol:
            te[i : j + 1] = te[i : j + 1][::-1]
            continue
        move = _or_opt_move(ce, te)
        if move is not None and move[3] < -tol:
            i, length, p, _, backwards = move
            seg = te[i : i + length].copy()
            if backwards:
                seg = seg[::-1]
            rest = np.concatenate([te[:i], te[i + length :]])
            at = p if p < i else p - length
            te = np.concatenate([rest[: at + 1], seg, rest[at + 1 :]])
            continue
        return [int(x) for x in te[1:-1]]


def _two_opt_move(ce: FloatArray, te: IntArray) -> tuple[int, int, float]:
    """Best reversal of a stretch ``te[i..j]`` (1 <= i < j <= m) and its change of cost."""
    m = te.size - 2
    if m < 2:
        return 0, 0, 0.0
    a, b = te[:-1], te[1:]
    fw = np.r_[0.0, np.cumsum(ce[a, b])]
    bw = np.r_[0.0, np.cumsum(ce[b, a])]
    i, j = np.triu_indices(m + 1, 1)
    keep = i >= 1
    i, j = i[keep], j[keep]
    old = ce[te[i - 1], te[i]] + (fw[j] - fw[i]) + ce[te[j], te[j + 1]]
    new = ce[te[i - 1], te[j]] + (bw[j] - bw[i]) + ce[te[i], te[j + 1]]
    with np.errstate(invalid="ignore"):
        delta = np.nan_to_num(new - old, nan=np.inf)
    k = int(np.argmin(delta))
    return int(i[k]), int(j[k]), float(delta[k])


def _or_opt_move(ce: FloatArray, te: IntArray) -> tuple[int, int, int, float, bool] | None:
    """Best move of a run of 1 to 3 nodes elsewhere, either way round."""
    m = te.size - 2
    a, b = te[:-1], te[1:]
    fw = np.r_[0.0, np.cumsum(ce[a, b])]
    bw = np.r_[0.0, np.cumsum(ce[b, a])]
    x_all, y_all = te[: m + 1], te[1 : m + 2]
    gap = ce[x_all, y_all]
    best: tuple[int, int, int, float, bool] | None = None
    for length in (1, 2, 3):
        for i in range(1, m - length + 2):
            s0, s1 = te[i], te[i + length - 1]
            inner_f = fw[i + length - 1] - fw[i]
            inner_b = bw[i + length - 1] - bw[i]
            removed = ce[te[i - 1], s0] + inner_f + ce[s1, te[i + length]]
            removed -= ce[te[i - 1], te[i + length]]
            p = np.r_[0 : i - 1, i + length : m + 1]
            if not p.size or not math.isfinite(removed):
                continue
            x, y = x_all[p], y_all[p]
            fwd = ce[x, s0] + inner_f + ce[s1, y] - gap[p]
            rev = ce[x, s1] + inner_b + ce[s0, y] - gap[p]
            with np.errstate(invalid="ignore"):
                add = np.nan_to_num(np.minimum(fwd, rev), nan=np.inf)
            q = int(np.argmin(add))
            delta = float(add[q] - removed)
            if best is None or delta < best[3]:
                best = (i, length, int(p[q]), delta, bool(rev[q] < fwd[q]))
    return best


# --------------------------------------------------------------------------------------------
# The visit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VisitRoute:
    """An ordered walking visit, its street-following legs and what was left out.

    Attributes
    ----------
    stops
        The stops in visiting order, indexed by stop id, in the network's CRS: the input
        columns, then ``order`` (1, 2...), ``leg_m`` and ``leg_min`` (the walk from the
        previous point), ``arrive_min`` and ``leave_min`` (minutes since the start, dwell
        included) and ``dwell_min``.
    legs
        One row per walk, in order: ``from_id`` (None from the start), ``to_id`` (None back to
        the start), ``length_m``, ``time_min`` and the LineString along the streets.
    dropped
        The stops left out to keep within ``max_minutes``, in the order they were dropped
        (input columns and ``dropped_rank``).
    start
        The start point, or None when the visit begins at its first stop.
    loop
        Whether the visit comes back to its start (or first stop).
    method
        "held-karp" (proved optimal), "heuristic", "nearest_neighbour" or "trivial".
    dwell_min
        The default dwell time per stop (minutes).
    max_minutes
        The time budget, or None.
    streets
        Street lines around the visit, for sketches.
    """

    stops: gpd.GeoDataFrame
    legs: gpd.GeoDataFrame
    dropped: gpd.GeoDataFrame
    start: shapely.Point | None
    loop: bool
    method: str
    dwell_min: float
    max_minutes: float | None
    streets: gpd.GeoSeries

    @property
    def crs(self) -> CRS:
        """CRS of every geometry (the network's)."""
        return CRS.from_user_input(self.stops.crs)

    @property
    def length_m(self) -> float:
        """Walking length of the visit (m)."""
        return float(self.legs["length_m"].sum())

    @property
    def walk_min(self) -> float:
        """Walking time of the visit (min)."""
        return float(self.legs["time_min"].sum())

    @property
    def dwell_total_min(self) -> float:
        """Time spent at the stops (min)."""
        return float(self.stops["dwell_min"].sum())

    @property
    def duration_min(self) -> float:
        """Walking time plus dwell time (min): what ``max_minutes`` bounds."""
        return self.walk_min + self.dwell_total_min

    @property
    def line(self) -> shapely.LineString:
        """The whole visit as one LineString along the streets."""
        coords = [shapely.get_coordinates(g) for g in self.legs.geometry]
        if not coords:
            xy = shapely.get_coordinates(self.stops.geometry.to_numpy())
            return shapely.LineString(np.vstack([xy[:1], xy[:1]]))
        joined = np.vstack(coords)
        keep = np.r_[True, (np.abs(np.diff(joined, axis=0)) > 1e-9).any(axis=1)]
        joined = joined[keep]
        return shapely.LineString(joined if len(joined) > 1 else np.vstack([joined, joined]))

    def __repr__(self) -> str:
        return (
            f"VisitRoute(stops={len(self.stops)}, length_m={self.length_m:.0f}, "
            f"duration_min={self.duration_min:.1f}, loop={self.loop}, method={self.method!r}, "
            f"dropped={len(self.dropped)})"
        )


def plan_route(
    network: Network,
    stops: gpd.GeoDataFrame,
    *,
    start: shapely.Point | None = None,
    loop: bool = False,
    max_minutes: float | None = None,
    dwell_min: float = DEFAULT_DWELL_MIN,
    method: Method = "auto",
    area: shapely.Geometry | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> VisitRoute:
    """Plan a walking visit through stops: order, time budget and street-following legs.

    Parameters
    ----------
    network
        The walking network (:func:`qet_geo.network.graph.build_network` with ``mode="walk"``).
    stops
        At least two stops (points; other geometries give a point inside them), in any CRS,
        indexed by a unique stop id. Optional columns: ``name``, ``reason`` (why the stop is in
        the visit), ``category``, ``priority`` (a number, higher kept longer; 1 by default) and
        ``dwell_min`` (minutes spent there; ``dwell_min`` below by default).
    start
        Where the visit starts, a point in the network's CRS; None: at its first stop, chosen
        by the optimisation (or, for a loop, the stop of highest priority).
    loop
        Come back to the start (or to the first stop) at the end.
    max_minutes
        Time budget (walking plus dwell times, minutes); None: no budget.
    dwell_min
        Minutes spent at each stop without a ``dwell_min`` of its own.
    method
        "auto" (exact Held-Karp up to :data:`EXACT_MAX_STOPS` stops, the heuristic above),
        "exact", "heuristic" or "nearest_neighbour"; see :func:`order_stops`.
    area
        The area the stops must lie in (the extract or the working area, network CRS).
    max_snap_m
        Farthest a stop may be from a street (m).

    Returns
    -------
    VisitRoute
        The visit; ``stops`` is not modified.

    Raises
    ------
    ValidationError
        Fewer than two stops, bad priorities or dwell times, a stop that cannot be reached on
        foot from the others, or a budget too small even for the most important stop.
    DataCoverageError
        A stop (or the start) outside ``area`` or farther than ``max_snap_m`` from any street.
    """
    if not isinstance(stops, gpd.GeoDataFrame):
        raise ValidationError(
            f"stops must be a GeoDataFrame of points, not {type(stops).__name__}.",
            message_fr=f"stops doit être un GeoDataFrame de points, et non {type(stops).__name__}.",
        )
    if len(stops) < 2:
        raise ValidationError(
            f"A visit needs at least 2 stops ({len(stops)} given): add stops.",
            message_fr=f"Une visite demande au moins 2 étapes ({len(stops)} donnée"
            f"{'s' if len(stops) > 1 else ''}) : ajoutez des étapes.",
        )
    dwell = float(dwell_min)
    if not math.isfinite(dwell) or dwell < 0:
        raise ValidationError(
            f"dwell_min must be a number of minutes >= 0, not {dwell_min!r}.",
            message_fr=f"La durée d'arrêt doit être un nombre de minutes positif ou nul, et non "
            f"{dwell_min!r}.",
        )
    budget = None if max_minutes is None else float(max_minutes)
    if budget is not None and (not math.isfinite(budget) or budget <= 0):
        raise ValidationError(
            f"max_minutes must be a positive number of minutes, not {max_minutes!r}.",
            message_fr=f"Le budget de temps doit être un nombre positif de minutes, et non "
            f"{max_minutes!r}.",
        )
    if start is not None and not (
        isinstance(start, shapely.Point) and not start.is_empty and math.isfinite(start.x)
    ):
        raise ValidationError(
            f"start must be a shapely Point in the network's CRS, not {start!r}.",
            message_fr=f"start doit être un Point shapely dans le CRS du réseau, et non {start!r}.",
        )
    if method not in ("auto", "exact", "heuristic", "nearest_neighbour"):
        raise ValidationError(
            f"method must be 'auto', 'exact', 'heuristic' or 'nearest_neighbour', not {method!r}.",
            message_fr=f"method doit valoir 'auto', 'exact', 'heuristic' ou 'nearest_neighbour', "
            f"et non {method!r}.",
        )
    max_snap_m = _check_max_snap(max_snap_m)
    pts = _as_points(stops, network.crs, "stops", "Les étapes")
    table = _stop_table(stops, dwell)
    names = _display_names(table)
    if area is not None:
        outside = ~shapely.covers(area, pts.to_numpy())
        if outside.any():
            en, fr = _quoted(names[outside])
            raise DataCoverageError(
                f"{int(outside.sum())} stop(s) outside the area covered by the extract (or the "
                f"territory and its buffer): {en}. Check the LON,LAT order and that the extract "
                "covers the neighbourhood.",
                message_fr=f"{int(outside.sum())} étape(s) hors de la zone couverte par "
                f"l'extrait (ou le territoire et son tampon) : {fr}. Vérifiez l'ordre LON,LAT et "
                "que l'extrait couvre le quartier.",
            )
        if start is not None and not shapely.covers(area, start):
            raise DataCoverageError(
                f"The start ({start.x:.0f}, {start.y:.0f}) is outside the area covered by the "
                "extract (or the territory and its buffer): check the LON,LAT order.",
                message_fr="Le point de départ est hors de la zone couverte par l'extrait (ou le "
                "territoire et son tampon) : vérifiez l'ordre LON,LAT.",
            )
    geoms = [start] if start is not None else []
    everything = gpd.GeoSeries(
        [*geoms, *pts.to_numpy()],
        index=pd.RangeIndex(len(geoms) + len(pts)),
        crs=network.crs,
    )
    legs = _legs(network, everything, weight="time", max_snap_m=max_snap_m)
    first = 1 if start is not None else 0
    _check_reachable(legs, names, first, max_snap_m)
    return _plan(network, legs, table, pts, start, loop, budget, method, first, dwell)


_COMPUTED = ("order", "leg_m", "leg_min", "arrive_min", "leave_min", "dropped_rank")


def _stop_table(stops: gpd.GeoDataFrame, dwell: float) -> pd.DataFrame:
    """The stops' attributes with defaults filled in, validated."""
    table = pd.DataFrame(stops.drop(columns=stops.geometry.name)).copy()
    table = table.drop(columns=[c for c in _COMPUTED if c in table.columns])
    for column, default, floor in (("priority", 1.0, -math.inf), ("dwell_min", dwell, 0.0)):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = values.notna() & (~np.isfinite(values) | (values < floor))
            if (table[column].notna() & values.isna()).any() or bad.any():
                en, fr = (
                    ("numbers", "des nombres")
                    if column == "priority"
                    else ("numbers of minutes >= 0", "des minutes positives ou nulles")
                )
                raise ValidationError(
                    f"The {column!r} column of the stops must hold {en}.",
                    message_fr=f"La colonne {column!r} des étapes doit contenir {fr}.",
                )
            table[column] = values.fillna(default).astype(float)
        else:
            table[column] = default
    for column in ("name", "reason", "category"):
        if column not in table.columns:
            table[column] = None
    return table


def _display_names(table: pd.DataFrame) -> npt.NDArray[np.object_]:
    names = [
        str(n) if isinstance(n, str) and n.strip() else str(i)
        for i, n in zip(table.index, table["name"], strict=True)
    ]
    return np.asarray(names, dtype=object)


def _quoted(names: Sequence[str] | npt.NDArray[np.object_], most: int = 5) -> tuple[str, str]:
    """The first names, quoted in English and in French, "and N more" after ``most``."""
    shown = [str(x) for x in list(names)[:most]]
    more = len(names) - len(shown)
    en = ", ".join(f'"{x}"' for x in shown) + (f" and {more} more" if more else "")
    fr = ", ".join(f"« {x} »" for x in shown) + (f" et {more} autre(s)" if more else "")
    return en, fr


def _check_reachable(
    legs: _Legs, names: npt.NDArray[np.object_], first: int, max_snap_m: float
) -> None:
    cost = legs.cost
    off = np.isnan(np.diag(cost))
    if first and off[0]:
        raise DataCoverageError(
            f"The start is more than {max_snap_m:g} m from any street: start from a street of "
            "the extract.",
            message_fr=f"Le point de départ est à plus de {max_snap_m:g} m de toute rue : partez "
            "d'une rue de l'extrait.",
        )
    if off[first:].any():
        en, fr = _quoted(names[off[first:]])
        raise DataCoverageError(
            f"{int(off[first:].sum())} stop(s) more than {max_snap_m:g} m from any street: {en}. "
            "Are they outside the extract? Move them onto a street or use a larger extract.",
            message_fr=f"{int(off[first:].sum())} étape(s) à plus de {max_snap_m:g} m de toute "
            f"rue : {fr}. Sont-elles hors de l'extrait ? Placez-les sur une rue ou prenez un "
            "extrait plus grand.",
        )
    finite = np.isfinite(cost)
    both = finite & finite.T
    ref = 0 if first else int(np.argmax(both.sum(axis=1)))
    cut = ~both[ref]
    if not cut.any():
        return
    if first and cut[first:].all():
        raise ValidationError(
            "The start lies on a part of the walking network cut off from every stop: start "
            "from a street connected to them.",
            message_fr="Le point de départ est sur une partie du réseau piéton isolée de toutes "
            "les étapes : partez d'une rue reliée à elles.",
        )
    en, fr = _quoted(names[cut[first:]])
    raise ValidationError(
        f"Stop(s) {en} cannot be reached on foot from the other stops: they lie on a part of "
        "the street network cut off from the rest. Move them onto a connected street or remove "
        "them.",
        message_fr=f"Étape(s) {fr} injoignable(s) à pied depuis les autres : elles sont sur une "
        "partie du réseau piéton isolée du reste. Placez-les sur une rue reliée ou retirez-les.",
    )


def _plan(
    net: Network,
    legs: _Legs,
    table: pd.DataFrame,
    pts: gpd.GeoSeries,
    start: shapely.Point | None,
    loop: bool,
    budget: float | None,
    method: str,
    first: int,
    default_dwell: float,
) -> VisitRoute:
    priority = table["priority"].to_numpy(float)
    dwell = table["dwell_min"].to_numpy(float)
    active = list(range(len(table)))
    dropped: list[int] = []
    min_keep = 1 if first else 2
    while True:
        order, used = _solve(legs.cost, active, first, loop, priority, method)
        walk = route_cost(legs.cost, order, loop=loop)
        total = walk + dwell[[p - first for p in order if p >= first]].sum()
        if budget is None or total <= budget + 1e-9:
            break
        if len(active) <= min_keep:
            kept_en, kept = _quoted(_display_names(table.iloc[active]))
            raise ValidationError(
                f"The time budget of {budget:g} min is too small: even with only {kept_en}, the "
                f"visit takes {total:.0f} min ({walk:.0f} min walking, "
                f"{total - walk:.0f} min at the stops). Raise the budget (--max-minutes) or "
                "shorten the dwell time.",
                message_fr=f"Le budget de {budget:g} min est trop court : même réduite à {kept}, "
                f"la visite dure {total:.0f} min ({walk:.0f} min de marche, "
                f"{total - walk:.0f} min d'arrêt). Augmentez le budget (--max-minutes) ou "
                "réduisez la durée d'arrêt.",
            )
        victim = _victim(legs.cost, order, active, priority, dwell, first, loop)
        active.remove(victim)
        dropped.append(victim)
        logger.info("over budget (%.1f > %.1f min): dropped stop %s", total, budget, victim)
    return _assemble(
        net, legs, table, pts, start, loop, budget, order, used, dropped, first, default_dwell
    )


def _solve(
    cost: FloatArray,
    active: list[int],
    first: int,
    loop: bool,
    priority: FloatArray,
    method: str,
) -> tuple[list[int], str]:
    """Order the active stops (positions in the table); returns matrix positions."""
    nodes = ([0] if first else []) + [a + first for a in active]
    sub = cost[np.ix_(nodes, nodes)]
    local, used = _order(sub, start=0 if first else None, loop=loop, method=method)
    order = [nodes[i] for i in local]
    if loop and not first:
        # a loop has no beginning: start it at the most important stop
        top = max(range(len(order)), key=lambda i: (priority[order[i]], -active.index(order[i])))
        order = order[top:] + order[:top]
    return order, used


def _victim(
    cost: FloatArray,
    order: list[int],
    active: list[int],
    priority: FloatArray,
    dwell: FloatArray,
    first: int,
    loop: bool,
) -> int:
    """The stop to drop: lowest priority, then the one whose removal saves the most time."""
    low = min(priority[a] for a in active)
    best, best_gain = active[0], -math.inf
    for pos, node in enumerate(order):
        stop = node - first
        if node < first or priority[stop] != low:
            continue
        rest = order[:pos] + order[pos + 1 :]
        gain = route_cost(cost, order, loop=loop) - route_cost(cost, rest, loop=loop)
        gain += dwell[stop]
        if gain > best_gain + 1e-12:
            best, best_gain = stop, gain
    return best


def _assemble(
    net: Network,
    legs: _Legs,
    table: pd.DataFrame,
    pts: gpd.GeoSeries,
    start: shapely.Point | None,
    loop: bool,
    budget: float | None,
    order: list[int],
    used: str,
    dropped: list[int],
    first: int,
    default_dwell: float,
) -> VisitRoute:
    ids = list(table.index)
    stop_nodes = [p for p in order if p >= first]
    pairs = list(itertools.pairwise(order))
    if loop and len(order) > 1:
        pairs.append((order[-1], order[0]))

    def ident(p: int) -> Any:
        return ids[p - first] if p >= first else None

    leg_table = gpd.GeoDataFrame(
        {
            # object columns keep None (the start) apart from any id
            "from_id": pd.Series([ident(a) for a, _ in pairs], dtype=object),
            "to_id": pd.Series([ident(b) for _, b in pairs], dtype=object),
            "length_m": np.asarray([legs.other[a, b] for a, b in pairs], dtype=float),
            "time_min": np.asarray([legs.cost[a, b] for a, b in pairs], dtype=float),
        },
        geometry=[shapely.LineString(_leg_coords(net, legs, a, b)) for a, b in pairs],
        crs=net.crs,
    )
    leg_table.index = pd.RangeIndex(1, len(leg_table) + 1, name="leg")

    positions = [p - first for p in stop_nodes]
    out = table.iloc[positions].copy()
    dwell = out["dwell_min"].to_numpy(float)
    # the walk arriving at each stop: from the start, or none to the first stop
    leg_m = np.zeros(len(positions))
    leg_min = np.zeros(len(positions))
    lead = 0 if first else 1
    leg_m[lead:] = leg_table["length_m"].to_numpy()[: len(positions) - lead]
    leg_min[lead:] = leg_table["time_min"].to_numpy()[: len(positions) - lead]
    leave = np.cumsum(leg_min + dwell)
    out.insert(0, "order", np.arange(1, len(positions) + 1))
    out["leg_m"] = leg_m
    out["leg_min"] = leg_min
    out["arrive_min"] = leave - dwell
    out["leave_min"] = leave
    stops_gdf = gpd.GeoDataFrame(out, geometry=pts.iloc[positions].to_numpy(), crs=net.crs)

    gone = table.iloc[dropped].copy()
    gone["dropped_rank"] = np.arange(1, len(dropped) + 1)
    gone_gdf = gpd.GeoDataFrame(gone, geometry=pts.iloc[dropped].to_numpy(), crs=net.crs)

    streets = _streets_around(net, [*leg_table.geometry, *pts.to_numpy()])
    return VisitRoute(
        stops=stops_gdf,
        legs=leg_table,
        dropped=gone_gdf,
        start=start,
        loop=loop,
        method=used,
        dwell_min=default_dwell,
        max_minutes=budget,
        streets=streets,
    )


def _streets_around(net: Network, geoms: Sequence[Any], margin_m: float = 120.0) -> gpd.GeoSeries:
    """Each street once (one of two twins), cut to the box around ``geoms``."""
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    box = (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
    idx = np.arange(net.n_edges)
    canonical = (net.edge_twin < 0) | (idx < net.edge_twin)
    geom = net.edge_geometry[canonical]
    near = shapely.intersects(geom, shapely.box(*box))
    cut = shapely.clip_by_rect(geom[near], *box)
    cut = cut[~shapely.is_empty(cut)]
    return gpd.GeoSeries(cut, crs=net.crs)


# --------------------------------------------------------------------------------------------
# Stops: from a file, or chosen automatically
# --------------------------------------------------------------------------------------------

_LON = ("lon", "lng", "long", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_ALIASES = {
    "nom": "name",
    "raison": "reason",
    "pourquoi": "reason",
    "priorite": "priority",
    "priorité": "priority",
    "categorie": "category",
    "catégorie": "category",
    "arret_min": "dwell_min",
    "arrêt_min": "dwell_min",
}


def read_stops(path: str | PathLike[str], *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read visit stops from a GeoJSON, GeoPackage, shapefile or CSV (lon, lat) file.

    Parameters
    ----------
    path
        A vector file of points (any CRS), or a CSV/TSV with ``lon`` and ``lat`` columns (or
        ``longitude``/``latitude``, ``x``/``y``) in WGS84 degrees.
    layer
        The layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:2154, indexed by the ``id`` column when there is one (else 1, 2...),
        with the optional columns ``name``, ``reason``, ``priority``, ``category`` and
        ``dwell_min`` (French headers ``nom``, ``raison``, ``priorite`` are understood).
    """
    from qet_geo.inputs.territory import read_vector

    path = Path(path)
    existing_file(path, what="Stop file", what_fr="Fichier d'étapes")
    suffix = path.suffix.lower()
    if suffix not in STOP_FILE_SUFFIXES:
        raise InputFileError(
            f"{path}: unknown stop file format; give one of {', '.join(STOP_FILE_SUFFIXES)}.",
            message_fr=f"{path} : format de fichier d'étapes non reconnu ; donnez un fichier "
            f"{', '.join(STOP_FILE_SUFFIXES)}.",
            path=path,
        )
    if suffix in (".csv", ".tsv", ".txt"):
        gdf = _read_csv_stops(path)
    else:
        gdf = read_vector(path, layer=layer)
    gdf = gdf.rename(columns={c: _ALIASES.get(str(c).lower(), str(c).lower()) for c in gdf.columns})
    if "id" in gdf.columns:
        ids = gdf["id"]
        if ids.isna().any() or not ids.is_unique:
            raise ValidationError(
                f"{path}: the 'id' column must hold a unique id per stop.",
                message_fr=f"{path} : la colonne 'id' doit donner un identifiant unique par étape.",
                path=path,
            )
        gdf = gdf.set_index("id")
    else:
        gdf.index = pd.RangeIndex(1, len(gdf) + 1, name="id")
    return gdf.to_crs(WORK_CRS)


def _read_csv_stops(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputFileError(
            f"{path} could not be read as CSV ({err}).",
            message_fr=f"{path} n'a pas pu être lu comme CSV ({err}).",
            path=path,
        ) from err
    lower = {str(c).strip().lower(): c for c in frame.columns}
    lon = next((lower[c] for c in _LON if c in lower), None)
    lat = next((lower[c] for c in _LAT if c in lower), None)
    if lon is None or lat is None:
        raise ValidationError(
            f"{path} has no lon/lat columns (it has {', '.join(map(str, frame.columns))}): add "
            "'lon' and 'lat' columns in degrees (WGS84).",
            message_fr=f"{path} n'a pas de colonnes lon/lat (colonnes : "
            f"{', '.join(map(str, frame.columns))}) : ajoutez des colonnes 'lon' et 'lat' en "
            "degrés (WGS84).",
            path=path,
        )
    x = pd.to_numeric(frame[lon], errors="coerce")
    y = pd.to_numeric(frame[lat], errors="coerce")
    bad = x.isna() | y.isna() | ~x.between(-180, 180) | ~y.between(-90, 90)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise ValidationError(
            f"{path}: line(s) {rows} have no valid lon/lat in degrees.",
            message_fr=f"{path} : ligne(s) {rows} sans lon/lat valides en degrés.",
            path=path,
        )
    rest = frame.drop(columns=[lon, lat])
    return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(x, y), crs=_WGS84)


@dataclass(frozen=True)
class _Pick:
    id: str
    priority: float
    ranked: Iterable[int]  # candidate rows, best first
    pool: str  # "amenity" or "home"
    name: tuple[str, str]  # (fr, en), "{name}" replaced by the feature's name
    reason: tuple[str, str]  # (fr, en), formatted with the row's values
    category: str


def auto_stops(
    layers: NeighbourhoodLayers,
    *,
    n: int = 8,
    access: gpd.GeoDataFrame | None = None,
    network: Network | None = None,
    lang: Lang = "fr",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """Pick the stops a pilot team would want to see, each with a reason and a priority.

    In order of priority (higher is kept longer when a budget drops stops): the market (5, a
    place to survey and meet people), the home farthest from food shops (5), the busiest
    transit stop (4: most departures per hour with a GTFS feed, otherwise most amenities
    within 5 minutes, a place for a survey stand), the best-served home (4), one food shop,
    school, park and second-hand or repair place (3, each the one with most homes within
    5 minutes), the least-served home (3), a public service, health place, railway station and
    sport or culture place (2), the home farthest from transit (2), then a local shop, the home
    farthest from a park, a cycle park and the home farthest from second hand (1). The first
    ``n`` available are kept; two picks less than 25 m apart count once (the next candidate of
    the later criterion is taken instead).

    Parameters
    ----------
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`); places are taken inside the
        territory, on the main part of the walking network.
    n
        Number of stops wanted (at least 2).
    access
        The per-home indicators (:func:`qet_geo.constraints.access.neighbourhood_access`, walk);
        computed when None.
    network
        The walking network of ``layers`` (built when None).
    lang
        "fr" or "en": language of names and reasons.
    max_snap_m
        Farthest a place may be from a street (m).

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:2154 indexed by a stop id ("market", "home_far_food"...), with columns
        ``name``, ``reason``, ``priority``, ``category`` and ``source`` (the OSM feature or
        home id). Fewer than ``n`` rows, with a :class:`QetGeoWarning`, when the neighbourhood
        lacks some places.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValidationError(
            f"n must be a whole number of stops >= 2, not {n!r}.",
            message_fr=f"Le nombre d'étapes doit être un entier supérieur ou égal à 2, et non "
            f"{n!r}.",
        )
    if lang not in ("fr", "en"):
        raise ValidationError(
            f"lang must be 'fr' or 'en', not {lang!r}.",
            message_fr=f"lang doit valoir 'fr' ou 'en', et non {lang!r}.",
        )
    max_snap_m = _check_max_snap(max_snap_m)
    if "walk" not in layers.graphs or "amenities" not in layers.layers:
        raise ValidationError(
            "layers lacks the walking graph or the amenities: build it with build_layers.",
            message_fr="Les couches n'ont pas le graphe piéton ou les équipements : construisez-"
            "les avec build_layers.",
        )
    net = network if network is not None else build_network(*layers.graphs["walk"], mode="walk")
    if access is None:
        from qet_geo.constraints.access import neighbourhood_access

        access = neighbourhood_access(layers, mode="walk")
    return _auto_stops(layers, int(n), access, net, lang, max_snap_m)


def _auto_stops(
    layers: NeighbourhoodLayers,
    n: int,
    access: gpd.GeoDataFrame,
    net: Network,
    lang: str,
    max_snap_m: float,
) -> gpd.GeoDataFrame:
    terr = layers.territory.geometry
    crs = net.crs
    amen = layers.layers["amenities"].to_crs(crs)
    amen = amen[shapely.covers(terr, amen.geometry.to_numpy())]
    stops_layer = layers.layers.get("transit_stops")
    places = amen[["category", "geometry"]].assign(
        name=amen["name"] if "name" in amen.columns else None
    )
    if stops_layer is not None and "departures_per_hour" in stops_layer.columns:
        st = stops_layer.to_crs(crs)
        st = st[shapely.covers(terr, st.geometry.to_numpy())]
        name_col = "stop_name" if "stop_name" in st.columns else "name"
        gtfs = gpd.GeoDataFrame(
            {
                "category": "transit_stop",
                "name": st[name_col] if name_col in st.columns else None,
                "departures_per_hour": st["departures_per_hour"],
            },
            geometry=st.geometry.to_numpy(),
            crs=crs,
            index="gtfs:" + st.index.astype(str),
        )
        places = pd.concat([places[places["category"] != "transit_stop"], gtfs])
    places = gpd.GeoDataFrame(places, geometry="geometry", crs=crs)
    places.geometry = places.geometry.representative_point()
    places = places[_on_main(net, places.geometry, max_snap_m)]

    homes = access[~access["off_network"].astype(bool)] if "off_network" in access else access
    homes = homes[_on_main(net, homes.geometry, max_snap_m)]
    homes = homes[homes["food_shop_min"].notna()] if "food_shop_min" in homes else homes

    if not places.empty:
        counted = pd.concat(
            [
                places[["category", "geometry"]],
                gpd.GeoDataFrame(
                    {"category": np.full(len(homes), "home", dtype=object)},
                    geometry=homes.geometry.to_numpy(),
                    crs=crs,
                ),
            ],
            ignore_index=True,
        )
        counts = count_within(net, places, counted, thresholds_min=[_AUTO_RADIUS_MIN])
        n5 = [c for c in counts.columns if c.endswith("_n5")]
        homes_n5 = counts["home_n5"] if "home_n5" in counts else pd.Series(0, places.index)
        places = places.assign(
            homes_n5=homes_n5.to_numpy(),
            amenities_n5=counts[[c for c in n5 if c != "home_n5"]].sum(axis=1).to_numpy(),
        )
    picks = list(_criteria(places, homes))
    chosen: list[dict[str, Any]] = []
    taken: list[Any] = []
    for pick in sorted(picks, key=lambda p: -p.priority):
        if len(chosen) >= n:
            break
        table = places if pick.pool == "amenity" else homes
        for row in pick.ranked:
            geom = table.geometry.iloc[row]
            if any(geom.distance(g) < _DUPLICATE_M for g in taken):
                continue
            chosen.append(_describe(pick, table, row, lang))
            taken.append(geom)
            break
    if len(chosen) < 2:
        raise EmptyDataError(
            "Fewer than 2 places worth a visit were found in the territory (no amenity, no "
            "home on the walking network): check the extract covers the neighbourhood.",
            message_fr="Moins de 2 lieux à visiter trouvés dans le territoire (aucun équipement "
            "ni logement sur le réseau piéton) : vérifiez que l'extrait couvre le quartier.",
        )
    if len(chosen) < n:
        warnings.warn(
            QetGeoWarning(
                f"Only {len(chosen)} stops worth a visit were found (of {n} asked): the "
                "neighbourhood lacks some kinds of places.",
                message_fr=f"Seulement {len(chosen)} étapes trouvées (sur {n} demandées) : le "
                "quartier n'a pas tous les types de lieux.",
            ),
            stacklevel=3,
        )
    out = gpd.GeoDataFrame(
        [{k: v for k, v in c.items() if k != "id"} for c in chosen],
        index=pd.Index([c["id"] for c in chosen], name="id"),
        geometry="geometry",
        crs=crs,
    )
    return out


def _on_main(net: Network, geoms: gpd.GeoSeries, max_snap_m: float) -> npt.NDArray[np.bool_]:
    if geoms.empty:
        return np.zeros(0, dtype=bool)
    s = snap(net, geoms, max_snap_m=max_snap_m)
    return (~s["off_network"].to_numpy(bool)) & (s["component"].to_numpy(float) == 0)


def _rank(values: pd.Series, *, descending: bool, tie: pd.Series | None = None) -> list[int]:
    """Row positions by value (NaN last), ties broken by ``tie`` ascending then position."""
    frame = pd.DataFrame(
        {
            "v": values.to_numpy(float) * (-1 if descending else 1),
            "t": tie.to_numpy(float) if tie is not None else 0.0,
            "p": np.arange(len(values)),
        }
    )
    frame = frame[np.isfinite(frame["v"])]
    return [int(x) for x in frame.sort_values(["v", "t", "p"], kind="stable")["p"]]


def _criteria(places: gpd.GeoDataFrame, homes: gpd.GeoDataFrame) -> Iterator[_Pick]:
    """The criteria of :func:`auto_stops`, in order, with the candidates of each ranked."""
    named = places["name"].notna().astype(float) if "name" in places else None

    def cat(category: str, key: str) -> pd.Series:
        mask = (places["category"] == category).to_numpy()
        values = places[key].where(mask) if key in places else pd.Series(np.nan, places.index)
        return values

    def ranked_places(category: str, key: str) -> list[int]:
        tie = -named if named is not None else None
        return _rank(cat(category, key), descending=True, tie=tie)

    if not places.empty:
        yield _Pick(
            "market",
            5,
            ranked_places("market", "amenities_n5"),
            "amenity",
            ("Marché{name}", "Market{name}"),
            (
                "Marché : lieu d'enquête et de rencontre",
                "Market: a place to survey and meet people",
            ),
            "market",
        )
    essentials = [c for c in ESSENTIAL_CATEGORIES if f"{c}_min" in homes.columns]
    mean_min = (
        homes[[f"{c}_min" for c in essentials]].mean(axis=1)
        if essentials
        else pd.Series(0.0, homes.index)
    )
    if "food_shop_min" in homes:
        yield _Pick(
            "home_far_food",
            5,
            _rank(homes["food_shop_min"], descending=True),
            "home",
            ("Logement éloigné des commerces", "Home far from food shops"),
            (
                "Logement le plus éloigné des commerces alimentaires ({food_shop_min:.0f} min à "
                "pied)",
                "Home farthest from food shops ({food_shop_min:.0f} min walk)",
            ),
            "home",
        )
    if not places.empty:
        transit = cat("transit_stop", "amenities_n5")
        has_departures = "departures_per_hour" in places and bool(
            cat("transit_stop", "departures_per_hour").notna().any()
        )
        if has_departures:
            yield _Pick(
                "transit_busy",
                4,
                ranked_places("transit_stop", "departures_per_hour"),
                "amenity",
                ("Arrêt{name}", "Stop{name}"),
                (
                    "Arrêt le plus desservi ({departures_per_hour:.0f} départs/h) : lieu de "
                    "passage pour un stand d'enquête",
                    "Busiest stop ({departures_per_hour:.0f} departures/h): a place for a "
                    "survey stand",
                ),
                "transit_stop",
            )
        elif transit.notna().any():
            yield _Pick(
                "transit_busy",
                4,
                ranked_places("transit_stop", "amenities_n5"),
                "amenity",
                ("Arrêt{name}", "Stop{name}"),
                (
                    "Arrêt le plus animé ({amenities_n5:.0f} équipements à 5 min) : lieu de "
                    "passage pour un stand d'enquête",
                    "Liveliest stop ({amenities_n5:.0f} amenities within 5 min): a place for a "
                    "survey stand",
                ),
                "transit_stop",
            )
    if "score_15min" in homes:
        yield _Pick(
            "home_best",
            4,
            _rank(homes["score_15min"], descending=True, tie=mean_min),
            "home",
            ("Logement le mieux desservi", "Best-served home"),
            (
                "Logement le mieux desservi : {score_pct:.0f} % des besoins du quotidien à moins "
                "de 15 min (en moyenne {mean_min:.0f} min)",
                "Best-served home: {score_pct:.0f} % of daily needs within 15 min "
                "(on average {mean_min:.0f} min)",
            ),
            "home",
        )
    category_reasons = {
        "food_shop": (
            3,
            "Commerce alimentaire : là où le quartier fait ses courses ({homes_n5:.0f} "
            "logements à 5 min)",
            "Food shop: where the neighbourhood buys its food ({homes_n5:.0f} homes within 5 min)",
        ),
        "school": (
            3,
            "École : trajets domicile-école, parents à rencontrer ({homes_n5:.0f} logements à "
            "5 min)",
            "School: home-school trips, parents to meet ({homes_n5:.0f} homes within 5 min)",
        ),
        "park": (
            3,
            "Espace vert : lieu de vie et de rencontre ({homes_n5:.0f} logements à 5 min)",
            "Green space: a place to live and meet ({homes_n5:.0f} homes within 5 min)",
        ),
        "second_hand_repair": (
            3,
            "Seconde main et réparation : alternative aux achats neufs",
            "Second hand and repair: an alternative to buying new",
        ),
    }
    later = {
        "public_service": (
            2,
            "Service public : lieu de passage, relais pour l'enquête",
            "Public service: a busy place, a relay for the survey",
        ),
        "health": (
            2,
            "Santé : service du quotidien ({homes_n5:.0f} logements à 5 min)",
            "Health: an everyday service ({homes_n5:.0f} homes within 5 min)",
        ),
        "rail_station": (
            2,
            "Gare : l'alternative bas carbone à l'avion",
            "Railway station: the low-carbon alternative to flying",
        ),
        "sport_culture": (
            2,
            "Sport et culture : lieu de rencontre des habitants",
            "Sport and culture: where residents meet",
        ),
    }
    last = {
        "local_shop": (
            1,
            "Commerce de proximité le plus animé ({amenities_n5:.0f} équipements à 5 min)",
            "Liveliest local shop ({amenities_n5:.0f} amenities within 5 min)",
        ),
        "cycle_parking": (
            1,
            "Stationnement vélo : la pratique du vélo au quotidien",
            "Cycle parking: everyday cycling",
        ),
    }

    def category_picks(table: dict[str, tuple[int, str, str]]) -> Iterator[_Pick]:
        if places.empty:
            return
        for category, (priority, fr, en) in table.items():
            key = "amenities_n5" if category == "local_shop" else "homes_n5"
            ranked = ranked_places(category, key)
            if ranked:
                fr_label = CATEGORY_LABELS["fr"][category]
                en_label = CATEGORY_LABELS["en"][category]
                yield _Pick(
                    category,
                    priority,
                    ranked,
                    "amenity",
                    (fr_label + "{name}", en_label + "{name}"),
                    (fr, en),
                    category,
                )

    def far_home(
        column: str, key: str, priority: int, name: tuple[str, str], reason: tuple[str, str]
    ) -> Iterator[_Pick]:
        if column in homes:
            ranked = _rank(homes[column], descending=True)
            yield _Pick(key, priority, ranked, "home", name, reason, "home")

    yield from category_picks(category_reasons)
    if "score_15min" in homes:
        yield _Pick(
            "home_least_served",
            3,
            _rank(homes["score_15min"], descending=False, tie=-mean_min),
            "home",
            ("Logement le moins bien desservi", "Least-served home"),
            (
                "Logement le moins bien desservi : {score_pct:.0f} % des besoins du quotidien à "
                "moins de 15 min (en moyenne {mean_min:.0f} min)",
                "Least-served home: {score_pct:.0f} % of daily needs within 15 min "
                "(on average {mean_min:.0f} min)",
            ),
            "home",
        )
    yield from category_picks(later)
    yield from far_home(
        "transit_stop_min",
        "home_far_transit",
        2,
        ("Logement éloigné des transports", "Home far from transit"),
        (
            "Logement le plus éloigné d'un arrêt de transport en commun "
            "({transit_stop_min:.0f} min à pied)",
            "Home farthest from a transit stop ({transit_stop_min:.0f} min walk)",
        ),
    )
    yield from category_picks({"local_shop": last["local_shop"]})
    yield from far_home(
        "park_min",
        "home_far_park",
        1,
        ("Logement éloigné des espaces verts", "Home far from green spaces"),
        (
            "Logement le plus éloigné d'un espace vert ({park_min:.0f} min à pied)",
            "Home farthest from a green space ({park_min:.0f} min walk)",
        ),
    )
    yield from category_picks({"cycle_parking": last["cycle_parking"]})
    yield from far_home(
        "second_hand_repair_min",
        "home_far_second_hand",
        1,
        ("Logement éloigné de la seconde main", "Home far from second hand"),
        (
            "Logement le plus éloigné de la seconde main et de la réparation "
            "({second_hand_repair_min:.0f} min à pied)",
            "Home farthest from second hand and repair ({second_hand_repair_min:.0f} min walk)",
        ),
    )


def _describe(pick: _Pick, table: gpd.GeoDataFrame, row: int, lang: str) -> dict[str, Any]:
    record = table.iloc[row]
    values: dict[str, Any] = {
        k: float(v)
        for k, v in record.items()
        if isinstance(k, str) and isinstance(v, int | float | np.number) and not isinstance(v, bool)
    }
    if "score_15min" in values:
        values["score_pct"] = 100 * float(values["score_15min"])
    essentials = [f"{c}_min" for c in ESSENTIAL_CATEGORIES if f"{c}_min" in values]
    if essentials:
        values["mean_min"] = float(np.nanmean([float(values[c]) for c in essentials]))

    class _Safe(dict[str, Any]):
        def __missing__(self, key: str) -> float:
            return math.nan

    i = 0 if lang == "fr" else 1
    name_value = record.get("name") if pick.pool == "amenity" else None
    label = f" « {name_value} »" if isinstance(name_value, str) and name_value.strip() else ""
    return {
        "id": pick.id,
        "name": pick.name[i].format(name=label),
        "reason": pick.reason[i].format_map(_Safe(values)),
        "priority": float(pick.priority),
        "category": pick.category,
        "source": str(table.index[row]),
        "geometry": record.geometry,
    }


# --------------------------------------------------------------------------------------------
# Outputs: GPX, GeoJSON, HTML roadbook
# --------------------------------------------------------------------------------------------


def _to_wgs84(route: VisitRoute) -> Transformer:
    return Transformer.from_crs(route.crs, _WGS84, always_xy=True)


def _lonlat(tr: Transformer, xy: FloatArray) -> FloatArray:
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _text(lang: str) -> dict[str, str]:
    fr = lang != "en"
    return {
        "start": "Départ" if fr else "Start",
        "back": "Retour au départ" if fr else "Back to the start",
        "title": "Visite du quartier" if fr else "Neighbourhood walk",
        "stop": "Étape" if fr else "Stop",
    }


def _stop_label(route: VisitRoute, stop_id: Hashable, name: Any, lang: str) -> str:
    if isinstance(name, str) and name.strip():
        return name
    return f"{_text(lang)['stop']} {stop_id}"


def to_gpx(route: VisitRoute, *, lang: Lang = "fr", title: str | None = None) -> str:
    """Return the visit as GPX 1.1: numbered waypoints in order and the track along the streets.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    lang
        "fr" or "en": language of the labels.
    title
        Name of the track; "Visite du quartier" by default.

    Returns
    -------
    str
        The GPX document: a "00 Départ" waypoint when the visit has a start, then one
        waypoint per stop named ``"01 <name>"``, ``"02 ..."`` with the reason as description,
        and one track of one segment following the streets (WGS84).
    """
    import gpxpy.gpx

    words = _text(lang)
    tr = _to_wgs84(route)
    doc = gpxpy.gpx.GPX()
    doc.creator = "qet-geo"
    doc.name = xml_chars(title or words["title"])  # gpxpy escapes markup, not controls
    if route.start is not None:
        lon, lat = tr.transform(route.start.x, route.start.y)
        doc.waypoints.append(
            gpxpy.gpx.GPXWaypoint(latitude=lat, longitude=lon, name=f"00 {words['start']}")
        )
    xy = shapely.get_coordinates(route.stops.geometry.to_numpy())
    ll = _lonlat(tr, xy)
    for (stop_id, row), (lon, lat) in zip(route.stops.iterrows(), ll, strict=True):
        reason, category = row.get("reason"), row.get("category")
        doc.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=float(lat),
                longitude=float(lon),
                name=xml_chars(
                    f"{int(row['order']):02d} {_stop_label(route, stop_id, row.get('name'), lang)}"
                ),
                description=xml_chars(reason) if isinstance(reason, str) and reason else None,
                type=xml_chars(category) if isinstance(category, str) else None,
            )
        )
    track = gpxpy.gpx.GPXTrack(name=doc.name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for lon, lat in _lonlat(tr, shapely.get_coordinates(route.line)):
        segment.points.append(gpxpy.gpx.GPXTrackPoint(latitude=float(lat), longitude=float(lon)))
    track.segments.append(segment)
    doc.tracks.append(track)
    return str(doc.to_xml(version="1.1"))


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else round(float(value), 2)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    if pd.isna(value):
        return None
    return str(value)


def to_geojson(route: VisitRoute) -> dict[str, Any]:
    """Return the visit as a GeoJSON FeatureCollection in WGS84 (EPSG:4326).

    Returns
    -------
    dict
        Features with a ``kind`` property: ``"start"`` (when given), ``"stop"`` (Points in
        visiting order, with ``id``, ``order``, ``name``, ``reason``, ``priority``, ``leg_m``,
        ``leg_min``, ``arrive_min``...), ``"leg"`` (one LineString per walk, with ``from_id``,
        ``to_id``, ``length_m``, ``time_min``), ``"route"`` (the whole visit as one
        LineString, with ``length_m``, ``walk_min``, ``duration_min``) and ``"dropped"``
        (stops left out for the budget).
    """
    tr = _to_wgs84(route)

    def geometry(geom: Any) -> dict[str, Any]:
        xy = np.round(_lonlat(tr, shapely.get_coordinates(geom)), 7).tolist()
        if shapely.get_type_id(geom) == shapely.GeometryType.POINT:
            return {"type": "Point", "coordinates": xy[0]}
        return {"type": "LineString", "coordinates": xy}

    def feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "properties": {k: _clean(v) for k, v in props.items()},
            "geometry": geometry(geom),
        }

    features: list[dict[str, Any]] = []
    if route.start is not None:
        features.append(feature(route.start, {"kind": "start", "id": None, "order": 0}))
    for stop_id, row in route.stops.iterrows():
        props = {"kind": "stop", "id": stop_id}
        props.update({k: v for k, v in row.items() if k != route.stops.geometry.name})
        features.append(feature(row.geometry, props))
    for leg, row in route.legs.iterrows():
        features.append(
            feature(
                row.geometry,
                {
                    "kind": "leg",
                    "leg": leg,
                    "from_id": row["from_id"],
                    "to_id": row["to_id"],
                    "length_m": row["length_m"],
                    "time_min": row["time_min"],
                },
            )
        )
    features.append(
        feature(
            route.line,
            {
                "kind": "route",
                "length_m": route.length_m,
                "walk_min": route.walk_min,
                "duration_min": route.duration_min,
                "loop": route.loop,
                "method": route.method,
            },
        )
    )
    for stop_id, row in route.dropped.iterrows():
        props = {"kind": "dropped", "id": stop_id}
        props.update({k: v for k, v in row.items() if k != route.dropped.geometry.name})
        features.append(feature(row.geometry, props))
    return {"type": "FeatureCollection", "features": features}


def route_summary(route: VisitRoute) -> dict[str, Any]:
    """Return the visit's figures as plain JSON-ready values.

    Returns
    -------
    dict
        ``order`` (stop ids in visiting order), ``length_m``, ``duration_min`` (walking plus
        dwell), ``walk_min``, ``dwell_min`` (total at the stops), ``dropped`` (ids, in the
        order they were dropped), ``loop``, ``method`` and ``max_minutes``.
    """
    return {
        "order": [_clean(i) for i in route.stops.index],
        "length_m": round(route.length_m, 1),
        "duration_min": round(route.duration_min, 1),
        "walk_min": round(route.walk_min, 1),
        "dwell_min": round(route.dwell_total_min, 1),
        "dropped": [_clean(i) for i in route.dropped.index],
        "loop": route.loop,
        "method": route.method,
        "max_minutes": route.max_minutes,
    }


def _fmt_min(minutes: float) -> str:
    total = round(minutes)
    return f"{total // 60}\u00a0h\u00a0{total % 60:02d}" if total >= 60 else f"{total}\u00a0min"


def _fmt_m(metres: float, lang: str) -> str:
    if metres >= 1000:
        text = f"{metres / 1000:.2f}\u00a0km"
        return text.replace(".", ",") if lang != "en" else text
    return f"{metres:.0f}\u00a0m"


def _svg(route: VisitRoute, lang: str) -> str:
    """An inline SVG sketch: streets in grey, the visit in colour, numbered stops."""
    geoms = [*route.legs.geometry, *route.stops.geometry]
    if route.start is not None:
        geoms.append(route.start)
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    pad = max(40.0, 0.06 * max(maxx - minx, maxy - miny))
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = _SVG_WIDTH / max(maxx - minx, 1.0)
    height = max(200.0, (maxy - miny) * scale)
    if height > 1000.0:  # a tall visit: fit the height instead
        scale = 1000.0 / max(maxy - miny, 1.0)
        height = 1000.0
    width = (maxx - minx) * scale

    def path(geom: Any) -> str:
        parts = []
        for line in shapely.get_parts(geom):
            xy = shapely.get_coordinates(line)
            if len(xy) < 2:
                continue
            px = (xy[:, 0] - minx) * scale
            py = (maxy - xy[:, 1]) * scale
            pts = " L".join(f"{a:.1f} {b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f"M{pts}")
        return " ".join(parts)

    out = [
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="{escape_html(_text(lang)["title"])}">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fbfaf7"/>',
    ]
    streets = " ".join(path(g) for g in route.streets if g is not None)
    if streets:
        out.append(f'<path d="{streets}" fill="none" stroke="#c9c6bd" stroke-width="1.6"/>')
    for geom in route.legs.geometry:
        out.append(
            f'<path d="{path(geom)}" fill="none" stroke="#c0392b" stroke-width="3.2" '
            'stroke-linejoin="round" stroke-linecap="round" opacity="0.85"/>'
        )
        # one arrow half-way along each walk long enough to hold it
        length = float(shapely.length(geom))
        if length * scale >= 40:
            tip = shapely.line_interpolate_point(geom, 0.5 * length + 4 / scale)
            tail = shapely.line_interpolate_point(geom, 0.5 * length - 4 / scale)
            tx, ty = (tip.x - minx) * scale, (maxy - tip.y) * scale
            bx, by = (tail.x - minx) * scale, (maxy - tail.y) * scale
            dx, dy = tx - bx, ty - by
            norm = math.hypot(dx, dy) or 1.0
            ux, uy = dx / norm, dy / norm
            out.append(
                f'<path d="M{tx + 3 * ux:.1f} {ty + 3 * uy:.1f} '
                f"L{tx - 7 * ux - 5 * uy:.1f} {ty - 7 * uy + 5 * ux:.1f} "
                f'L{tx - 7 * ux + 5 * uy:.1f} {ty - 7 * uy - 5 * ux:.1f} z" fill="#8e2a20"/>'
            )
    if route.start is not None:
        sx, sy = (route.start.x - minx) * scale, (maxy - route.start.y) * scale
        out.append(
            f'<rect x="{sx - 8:.1f}" y="{sy - 8:.1f}" width="16" height="16" fill="#1f2d3d"/>'
            f'<text x="{sx:.1f}" y="{sy + 4:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#fff" font-weight="bold">{escape_html(_text(lang)["start"][0])}</text>'
        )
    for order, geom in zip(route.stops["order"], route.stops.geometry, strict=True):
        x, y = (geom.x - minx) * scale, (maxy - geom.y) * scale
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="#fff" stroke="#c0392b" '
            f'stroke-width="2.5"/><text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="middle" font-weight="bold" fill="#1f2d3d">{int(order)}</text>'
        )
    # scale bar and north arrow
    bar_m = next((b for b in (50, 100, 200, 250, 500, 1000, 2000) if b * scale >= width / 6), 5000)
    bx, by = 16.0, height - 18.0
    out.append(
        f'<path d="M{bx:.1f} {by:.1f} h{bar_m * scale:.1f}" stroke="#1f2d3d" stroke-width="3"/>'
        f'<text x="{bx:.1f}" y="{by - 6:.1f}" font-size="11" fill="#1f2d3d">'
        f"{_fmt_m(bar_m, lang)}</text>"
        f'<text x="{width - 18:.1f}" y="22" font-size="14" text-anchor="middle" '
        'font-weight="bold" fill="#1f2d3d">N</text>'
        f'<path d="M{width - 18:.1f} 26 l-5 12 h10 z" fill="#1f2d3d"/>'
    )
    out.append("</svg>")
    return "".join(out)


def to_roadbook(route: VisitRoute, *, lang: Lang = "fr", title: str | None = None) -> str:
    """Return a printable, self-contained HTML roadbook of the visit.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    lang
        "fr" (default) or "en".
    title
        Name of the neighbourhood, shown in the heading.

    Returns
    -------
    str
        One HTML page with no external resource (no script, font, image or style sheet
        fetched): the totals, an inline SVG sketch of the visit drawn from the street
        geometry, the ordered stops with why each is there, the distance and time of each
        walk, the arrival times, and the stops dropped for the budget.
    """
    fr = lang != "en"
    e = escape_html
    words = _text(lang)
    heading = words["title"] + (f" : {title}" if title and fr else f": {title}" if title else "")
    method = _OPEN_LABELS.get(route.method, (route.method, route.method))[0 if fr else 1]
    n = len(route.stops)
    summary = (
        f"{n} étapes · {_fmt_m(route.length_m, lang)} · {_fmt_min(route.walk_min)} de marche + "
        f"{_fmt_min(route.dwell_total_min)} d'arrêts = <strong>{_fmt_min(route.duration_min)}"
        "</strong>"
        if fr
        else f"{n} stops · {_fmt_m(route.length_m, lang)} · {_fmt_min(route.walk_min)} walking + "
        f"{_fmt_min(route.dwell_total_min)} at the stops = <strong>"
        f"{_fmt_min(route.duration_min)}</strong>"
    )
    notes = [method]
    if route.loop:
        notes.append("boucle : retour au point de départ" if fr else "loop: back to the start")
    if route.max_minutes is not None:
        notes.append(
            f"budget : {_fmt_min(route.max_minutes)}"
            if fr
            else f"budget: {_fmt_min(route.max_minutes)}"
        )
    heads = (
        ("N°", "Étape", "Pourquoi", "Trajet", "Arrivée", "Arrêt")
        if fr
        else ("No.", "Stop", "Why", "Walk", "Arrival", "Stay")
    )
    rows = []
    if route.start is not None:
        rows.append(
            f'<tr class="start"><td>0</td><td>{e(words["start"])}</td><td></td><td></td>'
            "<td>0 min</td><td></td></tr>"
        )
    for stop_id, row in route.stops.iterrows():
        reason = row.get("reason")
        leg = (
            f"{_fmt_m(float(row['leg_m']), lang)} · {_fmt_min(float(row['leg_min']))}"
            if row["leg_m"] > 0 or route.start is not None or int(row["order"]) > 1
            else "—"
        )
        rows.append(
            f"<tr><td>{int(row['order'])}</td>"
            f"<td><strong>{e(_stop_label(route, stop_id, row.get('name'), lang))}</strong></td>"
            f"<td>{e(reason) if isinstance(reason, str) else ''}</td>"
            f"<td>{leg}</td><td>+{_fmt_min(float(row['arrive_min']))}</td>"
            f"<td>{_fmt_min(float(row['dwell_min']))}</td></tr>"
        )
    if route.loop and len(route.legs):
        back = route.legs.iloc[-1]
        rows.append(
            f'<tr class="start"><td>↺</td><td>{e(words["back"])}</td><td></td>'
            f"<td>{_fmt_m(float(back['length_m']), lang)} · {_fmt_min(float(back['time_min']))}"
            f"</td><td>+{_fmt_min(route.duration_min)}</td><td></td></tr>"
        )
    rows.append(
        f'<tr class="total"><td></td><td>Total</td><td></td>'
        f"<td>{_fmt_m(route.length_m, lang)} · {_fmt_min(route.walk_min)}</td>"
        f"<td>{_fmt_min(route.duration_min)}</td>"
        f"<td>{_fmt_min(route.dwell_total_min)}</td></tr>"
    )
    dropped = ""
    if len(route.dropped):
        items = "".join(
            f"<li>{e(_stop_label(route, i, r.get('name'), lang))} "
            f"({'priorité' if fr else 'priority'} {float(r['priority']):g})"
            + (f" : {e(r['reason'])}" if isinstance(r.get("reason"), str) and r["reason"] else "")
            + "</li>"
            for i, r in route.dropped.iterrows()
        )
        dropped = (
            f"<h2>{'Étapes retirées pour tenir le budget' if fr else 'Stops dropped to fit the budget'}"
            f"</h2><ol>{items}</ol>"
        )
    credit = (
        "Données © les contributeurs d'OpenStreetMap (licence ODbL). Itinéraire calculé par "
        "qet-geo sur le réseau piéton, à 4,5 km/h sur le plat."
        if fr
        else "Data © OpenStreetMap contributors (ODbL licence). Route computed by qet-geo on the "
        "walking network, at 4.5 km/h on the flat."
    )
    style = (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2d3d;"
        "max-width:820px;margin:24px auto;padding:0 16px;line-height:1.4}"
        "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin-top:1.6em}"
        ".summary{font-size:1.1em;margin:6px 0}.notes{color:#5b6670;font-size:.92em}"
        "figure{margin:16px 0;border:1px solid #ddd}svg{display:block;max-width:100%;height:auto}"
        "table{border-collapse:collapse;width:100%;font-size:.93em}"
        "th,td{border-bottom:1px solid #ddd;padding:6px 6px;text-align:left;vertical-align:top}"
        "th{background:#f1efe9}tr.start td{color:#5b6670}tr.total td{font-weight:bold;"
        "border-top:2px solid #1f2d3d}footer{margin-top:24px;color:#5b6670;font-size:.82em}"
        "@media print{body{margin:0;max-width:none}figure{break-inside:avoid}"
        "tr{break-inside:avoid}}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{"fr" if fr else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(heading)}</title><style>{style}</style></head><body>"
        f'<h1>{e(heading)}</h1><p class="summary">{summary}</p>'
        f'<p class="notes">{e(" · ".join(notes))}</p>'
        f"<figure>{_svg(route, lang)}</figure>"
        f"<h2>{'Feuille de route' if fr else 'Roadbook'}</h2>"
        f"<table><thead><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{dropped}"
        f"<footer>{e(credit)}</footer></body></html>\n"
    )


def write_route(
    route: VisitRoute,
    path: str | PathLike[str],
    *,
    lang: Lang = "fr",
    title: str | None = None,
) -> dict[str, Path]:
    """Write the visit as GPX, GeoJSON and HTML roadbook, atomically.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    path
        The GPX file (``.gpx``); the GeoJSON and the roadbook are written beside it with the
        same name and the suffixes ``.geojson`` and ``.html``.
    lang
        "fr" or "en": language of the labels and the roadbook.
    title
        Name of the neighbourhood, for the track and the roadbook.

    Returns
    -------
    dict
        ``{"gpx": ..., "geojson": ..., "html": ...}``: the paths written.

    Notes
    -----
    Every document is rendered first, then written to a temporary file beside its target and
    moved into place (:func:`os.replace`): a failure leaves no half-written file.
    """
    target = Path(path)
    if target.suffix.lower() != ".gpx":
        raise ValidationError(
            f"{target}: the route is written as a .gpx file (with .geojson and .html beside it).",
            message_fr=f"{target} : l'itinéraire s'écrit dans un fichier .gpx (avec le .geojson "
            "et le .html à côté).",
            path=target,
        )
    if lang not in ("fr", "en"):
        raise ValidationError(
            f"lang must be 'fr' or 'en', not {lang!r}.",
            message_fr=f"lang doit valoir 'fr' ou 'en', et non {lang!r}.",
        )
    if not target.parent.is_dir():
        raise InputFileError(
            f"The folder {target.parent} does not exist: create it first.",
            message_fr=f"Le dossier {target.parent} n'existe pas : créez-le d'abord.",
            path=target.parent,
        )
    documents = {
        "gpx": (target, to_gpx(route, lang=lang, title=title)),
        "geojson": (
            target.with_suffix(".geojson"),
            json.dumps(to_geojson(route), ensure_ascii=False),
        ),
        "html": (target.with_suffix(".html"), to_roadbook(route, lang=lang, title=title)),
    }
    return _write_all(documents)


def _write_all(documents: dict[str, tuple[Path, str]]) -> dict[str, Path]:
    temps: dict[str, str] = {}
    try:
        for key, (target, text) in documents.items():
            # a fresh name opened exclusively: the file gets the usual permissions (umask)
            tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp"))
            with open(tmp, "x", encoding="utf-8") as handle:
                temps[key] = tmp
                handle.write(text)
        for key, (target, _) in documents.items():
            os.replace(temps.pop(key), target)
    except OSError as err:
        raise InputFileError(
            f"Could not write the route files ({err}).",
            message_fr=f"Impossible d'écrire les fichiers de l'itinéraire ({err}).",
        ) from err
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    return {key: target for key, (target, _) in documents.items()}
