"""Isochrones: the areas reachable from points within travel times, along the streets.

One bounded search per start point (:func:`scipy.sparse.csgraph.dijkstra` from a virtual source
row, :mod:`qet_geo.network._search`); each edge whose start is reached is kept whole or cut where
time runs out (:func:`shapely.ops.substring`), and the union of the parts is widened by
``buffer_m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph
from shapely.ops import substring

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.network._common import BoolArray, FloatArray, GeomArray, _check_positive
from qet_geo.network._search import _chunk, _ends, _search_graph, _source_rows
from qet_geo.network.snapping import (
    DEFAULT_MAX_SNAP_M,
    _points,
    _snap,
    _Snapped,
    _warn_off_network,
)

if TYPE_CHECKING:
    from qet_geo.network.graph import Network

__all__ = ["DEFAULT_ISOCHRONE_BUFFER_M", "isochrones"]

DEFAULT_ISOCHRONE_BUFFER_M = 30.0
"""Half-width of the band drawn around the reachable streets of an isochrone (m)."""

_QUAD_SEGS = 4  # segments per quarter circle of the isochrone bands (0.6 m off at 30 m)


def isochrones(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    minutes: Sequence[float] = (5, 10, 15),
    buffer_m: float = DEFAULT_ISOCHRONE_BUFFER_M,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """Draw the areas reachable from points within travel times, along the streets.

    Parameters
    ----------
    network
        The network built by :func:`build_network`; its mode and speeds give the times.
    points
        Start points in the network's CRS (other geometries: a point inside them).
    minutes
        Travel times in minutes.
    buffer_m
        Half-width of the band drawn around every reachable street part (m), about the depth
        of the plots served by a street.
    max_snap_m
        Farthest a point may be from a street (m); farther points get an empty polygon.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per point and time, indexed by ``(point, minutes)`` (``point`` is the
        label in ``points.index``), in the network's CRS. The polygon is the union of the
        street parts reachable in time, the last edge cut where time runs out, and of the walk
        from the point to its street, widened by ``buffer_m``: it follows the streets, so a
        block no reachable street runs along stays out (unlike a convex hull).
    """
    values = sorted({_check_positive(t, "minutes") for t in minutes})
    if not values:
        raise ValidationError(msg("Donnez au moins un temps de parcours en minutes."))
    buffer_m = _check_positive(buffer_m, "buffer_m")
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    index, xy = _points(points, network.crs, "points")
    snapped = _snap(network, xy, max_snap_m)
    _warn_off_network(snapped, max_snap_m, msg("points"))
    polygons = _isochrones(network, snapped, np.asarray(values), buffer_m)
    name = index.name if index.name is not None else "point"
    mi = pd.MultiIndex.from_arrays(
        [index.repeat(len(values)), np.tile(values, len(index))], names=[name, "minutes"]
    )
    return gpd.GeoDataFrame(geometry=polygons.ravel(), index=mi, crs=network.crs)


def _isochrones(net: Network, snapped: _Snapped, minutes: FloatArray, buffer_m: float) -> GeomArray:
    k = snapped.on.size
    out = np.empty((k, minutes.size), dtype=object)
    out[:] = shapely.Polygon()
    idx = np.flatnonzero(snapped.on)
    if not idx.size:
        return out
    ends = _ends(net, snapped, idx, "time", origin=True)
    rows, cols, w1, w2 = _source_rows(ends, np.arange(idx.size))
    search = _search_graph(
        net, "time", reverse=False, rows=rows, cols=cols, w1=w1, w2=w2, n_virtual=idx.size
    )
    n = net.n_nodes
    limit = float(minutes.max())
    step = _chunk(idx.size, search.matrix.shape[0])
    for start in range(0, idx.size, step):
        stop = min(start + step, idx.size)
        dist = csgraph.dijkstra(search.matrix, indices=n + np.arange(start, stop), limit=limit)
        for row, i in enumerate(idx[start:stop]):
            du = dist[row, net.edge_u]
            e = int(snapped.edge[i])
            f = float(snapped.fraction[i])
            snap_min = float(snapped.snap_m[i]) * net.flat_min_per_m
            point = shapely.Point(snapped.xy[i])
            access = shapely.LineString(
                [point, shapely.line_interpolate_point(net.edge_geometry[e], f, normalized=True)]
            )
            # bands around the edges reached in full within the longest time, computed once
            full_at = du + net.edge_time
            whole = np.flatnonzero(_one_of_twins(net, full_at <= limit))
            whole_bands = shapely.buffer(net.edge_geometry[whole], buffer_m, quad_segs=_QUAD_SEGS)
            for col, budget in enumerate(minutes):
                parts = _partial_parts(net, du, float(budget))
                left = budget - snap_min
                if left >= 0:
                    parts.append(access)
                    parts.extend(_own_edge_parts(net, e, f, left))
                else:
                    parts.append(substring(access, 0.0, budget / snap_min, normalized=True))
                parts.append(point)
                bands = shapely.buffer(
                    np.asarray(parts, dtype=object), buffer_m, quad_segs=_QUAD_SEGS
                )
                reached = whole_bands[full_at[whole] <= budget]
                # a union of bands is much quicker than the band of a union of lines
                out[i, col] = shapely.union_all(np.concatenate([reached, bands]))
    return out


def _one_of_twins(net: Network, mask: BoolArray) -> BoolArray:
    """``mask`` keeping one edge of two twins that are both in it (same street, same band)."""
    twin = net.edge_twin
    other = mask[np.maximum(twin, 0)] & (twin >= 0)
    return mask & (~other | (np.arange(mask.size) < twin))


def _partial_parts(net: Network, du: FloatArray, budget: float) -> list[Any]:
    """Edges entered but not travelled in full within ``budget`` minutes, cut where time ends."""
    w = net.edge_time
    glen = net.edge_geometry_length
    parts: list[Any] = []
    for e in np.flatnonzero((du < budget) & (du + w > budget)):
        frac = (budget - du[e]) / w[e] if w[e] > 0 else 1.0
        parts.append(substring(net.edge_geometry[e], 0.0, float(frac) * glen[e]))
    return parts


def _own_edge_parts(net: Network, e: int, f: float, left: float) -> list[Any]:
    """Parts of the start point's own street reached directly from where it joins it."""
    w = net.edge_time
    g = net.edge_geometry[e]
    glen = net.edge_geometry_length[e]
    reach = 1.0 if w[e] <= 0 else min(1.0, f + left / w[e])
    parts: list[Any] = [substring(g, f * glen, reach * glen)]
    t = int(net.edge_twin[e])
    if t >= 0:
        back = 0.0 if w[t] <= 0 else max(0.0, f - left / w[t])
        parts.append(substring(g, back * glen, f * glen))
    return parts
