"""Origin-destination: the travel cost between every pair of points, and the street paths between them.

- :func:`od_matrix`: the network distance (m) and travel time (min) from every point to every
  other, along the path of least time (or of least length);
- :func:`street_paths`: the LineStrings along the streets joining consecutive points, the paths
  whose costs :func:`od_matrix` gives.

Points join the network as in every query of the package (:func:`qet_geo.network.snapping.snap`):
at the nearest point of the nearest street edge, the straight-line distance to it walked at the
flat speed, then along the edge to either of its ends in the directions the edge allows, or
straight along it to a point on the same street. The costs are those :func:`~qet_geo.network.
queries.nearest` gives between the same two points (same graph, same weights, same snapping).

Algorithms
----------
One :func:`scipy.sparse.csgraph.dijkstra` search of the whole graph (no cutoff) runs from each
street end a point leaves by: at most ``2 * len(points)`` searches. A pair's cost is the best of
its four ways (leave by either end of the origin's street, join the destination's street from
either end) and of the direct walk along a street both points share. The other weight of each
path (its length when searching by time) is summed along the shortest-path trees, and the
predecessors of the searches give back the path, drawn from the street geometries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import csgraph
from shapely.ops import substring

from qet_geo.network._common import BoolArray, FloatArray, IntArray, Weight, _check_weight
from qet_geo.network._common import _check_positive as _positive
from qet_geo.network._search import _chunk, _ends, _path_secondary, _same_edge, _search_graph
from qet_geo.network.snapping import DEFAULT_MAX_SNAP_M, _points, _snap, _Snapped

if TYPE_CHECKING:
    from qet_geo.network.graph import Network, _Csr

__all__ = ["od_matrix", "street_paths"]

_DIRECT = 4  # plan of a pair joined straight along the street both share
_ITSELF = 5  # plan of a point to itself
_SAME_XY_M = 1e-9  # consecutive path vertices closer than this are one


@dataclass(frozen=True)
class _Od:
    """Costs of every pair of points and what is needed to draw each path (private).

    A point leaves its street towards end 0 (the end its edge leads to) or end 1 (back along the
    twin), and joins its street from end 0 (the end its edge comes from) or end 1. ``plan`` says
    how each pair is joined: ``2 * origin_end + destination_end``, :data:`_DIRECT` straight along
    a shared street, :data:`_ITSELF` the point itself, -1 no path.
    """

    cost: FloatArray  # (k, k) in the weight searched; NaN in rows and columns off the network
    other: FloatArray  # (k, k) the other weight along the same paths
    plan: IntArray  # (k, k)
    snapped: _Snapped
    out_node: IntArray  # (k, 2) street end reached when leaving
    in_node: IntArray  # (k, 2) street end a point is joined from
    out_row: IntArray  # (k, 2) row of out_node in pred
    pred: npt.NDArray[np.int32] | None  # (r, n) predecessors of the searches, when kept
    csr: _Csr  # the graph searched


def od_matrix(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    weight: Weight = "time",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Compute the network distance and travel time from every point to every other.

    Parameters
    ----------
    network
        The network built by :func:`qet_geo.network.graph.build_network`.
    points
        Points in the network's CRS; other geometries stand for a point inside them.
    weight
        "time" (default): along the fastest path; "length": along the shortest one (they differ
        with slopes).
    max_snap_m
        Farthest a point may be from a street (m), see :func:`qet_geo.network.snapping.snap`.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair, indexed by ``(origin, destination)`` (labels of
        ``points.index``, origins in the outer level, both in the order of ``points``), with
        ``dist_m`` and ``time_min`` along the path from the origin to the destination (snap
        distances of both ends included; 0 from a point to itself), ``inf`` when no path joins
        them (another component, or a oneway street the wrong way), NaN when either point is
        farther than ``max_snap_m`` from every street (or has no geometry). ``.unstack()`` gives
        the square matrices.

    Notes
    -----
    The cost is that of at most ``2 * len(points)`` searches of the whole graph; for many
    points and a bound on the distance, :func:`qet_geo.network.queries.count_within` and
    :func:`~qet_geo.network.queries.nearest` are much cheaper.
    """
    weight = _check_weight(weight)
    max_snap_m = _positive(max_snap_m, "max_snap_m")
    index, xy = _points(points, network.crs, "points")
    od = _od(network, _snap(network, xy, max_snap_m), weight, keep_pred=False)
    dist, time = (od.cost, od.other) if weight == "length" else (od.other, od.cost)
    names = ["origin", "destination"]
    return pd.DataFrame(
        {"dist_m": dist.ravel(), "time_min": time.ravel()},
        index=pd.MultiIndex.from_product([index, index], names=names),
    )


def street_paths(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    weight: Weight = "time",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoSeries:
    """Draw the paths along the streets from each point to the next.

    Parameters
    ----------
    network
        The network built by :func:`qet_geo.network.graph.build_network`.
    points
        Points in visiting order, in the network's CRS (a point may come back, as at the end of
        a loop); other geometries stand for a point inside them.
    weight
        "time" (default): the fastest paths; "length": the shortest ones.
    max_snap_m
        Farthest a point may be from a street (m).

    Returns
    -------
    geopandas.GeoSeries
        ``len(points) - 1`` LineStrings in the network's CRS, path ``i`` from point ``i`` to
        point ``i + 1``: from the point to its street, along the streets, to the next point.
        Their lengths are the ``dist_m`` of :func:`od_matrix` (snap distances included). None
        where no path joins the two points.
    """
    weight = _check_weight(weight)
    max_snap_m = _positive(max_snap_m, "max_snap_m")
    _, xy = _points(points, network.crs, "points")
    k = xy.shape[0]
    origins = np.zeros(k, dtype=bool)
    origins[:-1] = True
    od = _od(network, _snap(network, xy, max_snap_m), weight, keep_pred=True, origins=origins)
    lines = [
        shapely.LineString(_path_coords(network, od, i, i + 1)) if od.plan[i, i + 1] >= 0 else None
        for i in range(k - 1)
    ]
    return gpd.GeoSeries(lines, index=pd.RangeIndex(max(k - 1, 0)), crs=network.crs)


def _od(
    net: Network,
    pts: _Snapped,
    weight: Weight,
    *,
    keep_pred: bool,
    origins: BoolArray | None = None,
) -> _Od:
    """Search every pair of snapped points (rows: only ``origins``); off-network ones get NaN."""
    k = pts.on.size
    on = np.flatnonzero(pts.on)
    leave = _ends(net, pts, on, weight, origin=True, secondary=True)
    join = _ends(net, pts, on, weight, origin=False, secondary=True)
    out1, out2, in1, in2 = (np.full((k, 2), np.inf) for _ in range(4))
    out_node = np.zeros((k, 2), dtype=np.int64)
    in_node = np.zeros((k, 2), dtype=np.int64)
    out_node[on] = np.column_stack([leave.a, leave.b])
    in_node[on] = np.column_stack([join.a, join.b])
    assert leave.a2 is not None and leave.b2 is not None
    assert join.a2 is not None and join.b2 is not None
    out1[on] = np.column_stack([leave.a1, leave.b1])
    out2[on] = np.column_stack([leave.a2, leave.b2])
    in1[on] = np.column_stack([join.a1, join.b1])
    in2[on] = np.column_stack([join.a2, join.b2])

    # the real graph, no virtual row: searches start from the street ends themselves
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
    search = _search_graph(
        net,
        weight,
        reverse=False,
        rows=empty_i,
        cols=empty_i,
        w1=empty_f,
        w2=empty_f,
        n_virtual=0,
    )
    usable = np.isfinite(out1)
    if origins is not None:
        usable &= origins[:, None]
    sources, inverse = np.unique(out_node[usable], return_inverse=True)
    out_row = np.zeros((k, 2), dtype=np.int64)
    out_row[usable] = inverse.ravel()
    # distances (and the other weight) from every source to the street ends points join from
    targets = in_node.ravel()
    dist = np.full((max(sources.size, 1), targets.size), np.inf)
    along = np.full_like(dist, np.inf)
    pred = (
        np.full((max(sources.size, 1), net.n_nodes), -9999, dtype=np.int32) if keep_pred else None
    )
    step = _chunk(sources.size, net.n_nodes)
    for start in range(0, sources.size, step):
        stop = min(start + step, sources.size)
        d, p = csgraph.dijkstra(
            search.matrix, indices=sources[start:stop], return_predecessors=True
        )
        dist[start:stop] = d[:, targets]
        along[start:stop] = _path_secondary(search, p)[:, targets]
        if pred is not None:
            pred[start:stop] = p

    # cost[i, o, j, d] = leave i by end o, search, join j from end d
    rows = out_row[:, :, None, None]
    cols = np.arange(targets.size).reshape(k, 2)[None, None, :, :]
    total = out1[:, :, None, None] + dist[rows, cols] + in1[None, None, :, :]
    total2 = out2[:, :, None, None] + along[rows, cols] + in2[None, None, :, :]
    total = np.where(usable[:, :, None, None], total, np.inf)
    flat = total.transpose(0, 2, 1, 3).reshape(k, k, 4)
    flat2 = total2.transpose(0, 2, 1, 3).reshape(k, k, 4)
    plan = np.argmin(flat, axis=2).astype(np.int64)
    cost = np.take_along_axis(flat, plan[..., None], 2)[..., 0]
    other = np.take_along_axis(flat2, plan[..., None], 2)[..., 0]

    # straight along a street shared by both points, when at least as good
    oi, di, c1, c2 = _same_edge(net, pts, on, pts, on, weight, secondary=True)
    assert c2 is not None
    keep = oi != di
    if origins is not None:
        keep &= origins[oi]
    oi, di, c1, c2 = oi[keep], di[keep], c1[keep], c2[keep]
    better = c1 <= cost[oi, di]
    oi, di = oi[better], di[better]
    cost[oi, di] = c1[better]
    other[oi, di] = c2[better]
    plan[oi, di] = _DIRECT

    # no path, no length either (an unreached node's tree sum is 0)
    other = np.where(np.isfinite(cost), other, cost)
    cost[on, on] = 0.0
    other[on, on] = 0.0
    plan[on, on] = _ITSELF
    plan[~np.isfinite(cost)] = -1
    off = ~pts.on
    for matrix in (cost, other):
        matrix[off, :] = np.nan
        matrix[:, off] = np.nan
    plan[off, :] = -1
    plan[:, off] = -1
    return _Od(
        cost=cost,
        other=other,
        plan=plan,
        snapped=pts,
        out_node=out_node,
        in_node=in_node,
        out_row=out_row,
        pred=pred,
        csr=net._graph(weight, False),
    )


def _path_coords(net: Network, od: _Od, i: int, j: int) -> FloatArray:
    """Coordinates of the path from point ``i`` to point ``j`` (which has one), along the streets."""
    how = int(od.plan[i, j])
    pi, pj = od.snapped.xy[i], od.snapped.xy[j]
    if how == _ITSELF:
        return np.vstack([pi, pj])
    ei, ej = int(od.snapped.edge[i]), int(od.snapped.edge[j])
    gi, gj = net.edge_geometry[ei], net.edge_geometry[ej]
    li, lj = float(net.edge_geometry_length[ei]), float(net.edge_geometry_length[ej])
    fi, fj = float(od.snapped.fraction[i]), float(od.snapped.fraction[j])
    parts: list[FloatArray] = [pi[None, :]]
    if how == _DIRECT:
        parts.append(_sub(gi, fi * li, fj * li))
    else:
        assert od.pred is not None, "paths need the predecessors of the searches"
        o, d = divmod(how, 2)
        parts.append(_sub(gi, fi * li, li if o == 0 else 0.0))
        a, b = int(od.out_node[i, o]), int(od.in_node[j, d])
        row = od.pred[od.out_row[i, o]]
        nodes = [b]
        while nodes[-1] != a:
            nodes.append(int(row[nodes[-1]]))
        nodes.reverse()
        if len(nodes) > 1:
            path = np.asarray(nodes, dtype=np.int64)
            edges = od.csr.edge[od.csr.entry(path[:-1], path[1:])]
            parts.extend(shapely.get_coordinates(net.edge_geometry[x]) for x in edges)
        parts.append(_sub(gj, 0.0 if d == 0 else lj, fj * lj))
    parts.append(pj[None, :])
    coords = np.vstack(parts)
    keep = np.r_[True, (np.abs(np.diff(coords, axis=0)) > _SAME_XY_M).any(axis=1)]
    coords = coords[keep]
    return coords if len(coords) > 1 else np.vstack([coords, coords])


def _sub(line: Any, start: float, end: float) -> FloatArray:
    """Coordinates of ``line`` from ``start`` to ``end`` (m along it; reversed if end < start)."""
    if abs(end - start) <= _SAME_XY_M:
        return shapely.get_coordinates(shapely.line_interpolate_point(line, start))
    return shapely.get_coordinates(substring(line, start, end))
