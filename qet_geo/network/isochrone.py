"""Isochrones: the areas reachable from points within travel times, along the streets.

One bounded search per start point (:func:`scipy.sparse.csgraph.dijkstra` from a virtual source
row, :mod:`qet_geo.network._search`); each edge whose start is reached is kept whole or cut where
time runs out (:func:`shapely.ops.substring`), and the union of the parts is widened by
``buffer_m``.

The edge of the extract
-----------------------
An extract holds the streets of its box and only the first stretch of those that leave it: a
home near its edge reaches fewer places in 15 minutes than it really does. The *border band* is
the part of the extract's extent within :data:`BORDER_MARGIN_M` of its edge (and anything
beyond it); :func:`minutes_to_border` gives, for every point, the travel time along the streets
to the first place where the streets enter that band, exactly: one bounded search from the band
on the reversed graph (each edge is entered at the point where its geometry crosses into the
band, at the time that part of the edge takes), read at both ends of the point's street, and the
point's own street followed directly. A reach within a time that comes that close to the edge
may be cut off: :func:`isochrones` flags those areas when given the extent
(``reaches_border``), and the access table flags the homes whose 15-minute reach does
(:data:`qet_geo.constraints.indicators.REACHES_BORDER`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.network._common import (
    BoolArray,
    FloatArray,
    GeomArray,
    IntArray,
    _check_positive,
)
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

__all__ = ["BORDER_MARGIN_M", "DEFAULT_ISOCHRONE_BUFFER_M", "isochrones", "minutes_to_border"]

DEFAULT_ISOCHRONE_BUFFER_M = 30.0
"""Half-width of the band drawn around the reachable streets of an isochrone (m)."""

BORDER_MARGIN_M = 50.0
"""Width of the border band inside the extract's extent (m).

An extract cut with ``osmium extract``'s simple strategy drops the segment that crosses its
edge, so its streets end at their last node inside, up to a segment short of the edge; one
from the OSM API or Overpass keeps the crossing ways whole. A street that comes within 50 m of
the edge (a street segment in town) may therefore be cut there.
"""

_QUAD_SEGS = 4  # segments per quarter circle of the isochrone bands (0.6 m off at 30 m)


def isochrones(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    minutes: Sequence[float] = (5, 10, 15),
    buffer_m: float = DEFAULT_ISOCHRONE_BUFFER_M,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    extent: BaseGeometry | None = None,
    margin_m: float = BORDER_MARGIN_M,
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
    extent
        The extract's data extent (a polygon in the network's CRS): adds ``reaches_border``.
    margin_m
        Width of the border band inside ``extent`` (m), :data:`BORDER_MARGIN_M`.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per point and time, indexed by ``(point, minutes)`` (``point`` is the
        label in ``points.index``), in the network's CRS. The polygon is the union of the
        street parts reachable in time, the last edge cut where time runs out, and of the walk
        from the point to its street, widened by ``buffer_m``: it follows the streets, so a
        block no reachable street runs along stays out (unlike a convex hull). With
        ``extent``, ``reaches_border`` is True when the streets reached in time enter the
        border band (:func:`minutes_to_border`): the area may be cut off by the extract's edge.
    """
    values = sorted({_check_positive(t, "minutes") for t in minutes})
    if not values:
        raise ValidationError(msg("Donnez au moins un temps de parcours en minutes."))
    buffer_m = _check_positive(buffer_m, "buffer_m")
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    inner = None if extent is None else _inner_extent(extent, margin_m)
    index, xy = _points(points, network.crs, "points")
    snapped = _snap(network, xy, max_snap_m)
    _warn_off_network(snapped, max_snap_m, msg("points"))
    polygons = _isochrones(network, snapped, np.asarray(values), buffer_m)
    name = index.name if index.name is not None else "point"
    mi = pd.MultiIndex.from_arrays(
        [index.repeat(len(values)), np.tile(values, len(index))], names=[name, "minutes"]
    )
    out = gpd.GeoDataFrame(geometry=polygons.ravel(), index=mi, crs=network.crs)
    if inner is not None:
        border = _border_minutes(network, snapped, inner, max(values))
        out.insert(0, "reaches_border", (border[:, None] <= np.asarray(values)[None, :]).ravel())
    return out


def minutes_to_border(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    extent: BaseGeometry,
    *,
    margin_m: float = BORDER_MARGIN_M,
    limit_min: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.Series:
    """Compute the travel time from each point to the extract's border band, along the streets.

    Parameters
    ----------
    network
        The network built by :func:`build_network`; its mode and speeds give the times.
    points
        Points in the network's CRS (other geometries: a point inside them).
    extent
        The extract's data extent, a polygon in the network's CRS (the whole-extract
        territory: :func:`qet_geo.inputs.territory.territory_from_bounds` of
        :attr:`qet_geo.inputs.osm.OsmData.bounds`).
    margin_m
        Width of the border band inside ``extent`` (m), :data:`BORDER_MARGIN_M`.
    limit_min
        Longest time searched (min); farther points get NaN. None: no limit.
    max_snap_m
        Farthest a point may be from a street (m); farther points get NaN.

    Returns
    -------
    pandas.Series
        ``minutes_to_border``, aligned to ``points.index``: 0 for a point in the band (or whose
        street is), else the time of the walk to its street and along the streets to where
        they enter the band; NaN beyond ``limit_min`` or off the network.
    """
    inner = _inner_extent(extent, margin_m)
    limit = math.inf if limit_min is None else _check_positive(limit_min, "limit_min")
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    index, xy = _points(points, network.crs, "points")
    snapped = _snap(network, xy, max_snap_m)
    border = _border_minutes(network, snapped, inner, limit)
    return pd.Series(
        np.where(np.isfinite(border), border, np.nan), index=index, name="minutes_to_border"
    )


def _inner_extent(extent: BaseGeometry, margin_m: float) -> BaseGeometry:
    """The extent less its border band: where the streets are whole."""
    if not isinstance(extent, BaseGeometry) or extent.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(
            msg(
                "extent doit être le polygone de l'emprise de l'extrait (EPSG:2154), et non "
                "{extent!r}.",
                extent=type(extent).__name__,
            )
        )
    margin = float(margin_m)
    if not margin >= 0 or not math.isfinite(margin):
        raise ValidationError(
            msg(
                "margin_m doit être une largeur positive ou nulle en mètres, et non {value!r}.",
                value=margin_m,
            )
        )
    inner = shapely.buffer(extent, -margin) if margin > 0 else extent
    shapely.prepare(inner)
    return inner


def _crossings(net: Network, inner: BaseGeometry, edges: IntArray) -> tuple[IntArray, FloatArray]:
    """Where ``edges`` cross the edge of ``inner``: edge and fraction along its geometry."""
    boundary = inner.boundary
    shapely.prepare(boundary)
    edges = edges[shapely.intersects(boundary, net.edge_geometry[edges])]
    if not edges.size:
        return edges, np.empty(0)
    cut = shapely.intersection(net.edge_geometry[edges], boundary)
    coords, owner = shapely.get_coordinates(cut, return_index=True)
    e = edges[owner]
    along = shapely.line_locate_point(net.edge_geometry[e], shapely.points(coords), normalized=True)
    return e, np.where(np.isfinite(along), along, 0.0)


def _border_minutes(
    net: Network, snapped: _Snapped, inner: BaseGeometry, limit: float
) -> FloatArray:
    """Minutes from each point to the border band (inf beyond ``limit`` or off the network)."""
    out = np.full(snapped.on.size, np.inf)
    idx = np.flatnonzero(snapped.on)
    if not idx.size:
        return out
    # each edge enters the band where its geometry first leaves ``inner``: at once when its
    # start is outside, else at its first crossing
    start_out = ~shapely.contains_xy(inner, *net.node_xy[net.edge_u].T)
    enter = np.where(start_out, 0.0, np.inf)
    e, along = _crossings(net, inner, np.flatnonzero(~start_out))
    np.minimum.at(enter, e, along)
    sel = np.flatnonzero(np.isfinite(enter))
    if sel.size:
        search = _search_graph(
            net,
            "time",
            reverse=True,
            rows=np.zeros(sel.size, dtype=np.int64),
            cols=net.edge_u[sel],
            w1=enter[sel] * net.edge_time[sel],
            w2=None,
            n_virtual=1,
        )
        dist = csgraph.dijkstra(search.matrix, indices=[net.n_nodes], limit=limit)
        via_ends, _ = _ends(net, snapped, idx, "time", origin=True).read(dist)
        out[idx] = via_ends[0]
    # the point's own street: the point itself in the band, or the band ahead or behind it
    own = snapped.edge[idx]
    snap_min = snapped.snap_m[idx] * net.flat_min_per_m
    on_street = shapely.line_interpolate_point(
        net.edge_geometry[own], snapped.fraction[idx], normalized=True
    )
    home_out = ~shapely.contains_xy(inner, *snapped.xy[idx].T)
    street_out = ~shapely.contains(inner, on_street)
    out[idx] = np.where(street_out, snap_min, out[idx])
    out[idx[home_out]] = 0.0
    e, along = _crossings(net, inner, np.unique(own))
    if e.size:
        order = np.argsort(e, kind="stable")
        e, along = e[order], along[order]
        lo, hi = np.searchsorted(e, own), np.searchsorted(e, own, side="right")
        for j in np.flatnonzero(hi > lo):
            f = snapped.fraction[idx[j]]
            g = along[lo[j] : hi[j]]
            edge = int(own[j])
            ahead = g[g >= f]
            if ahead.size:
                cost = snap_min[j] + (ahead.min() - f) * net.edge_time[edge]
                out[idx[j]] = min(out[idx[j]], cost)
            twin = int(net.edge_twin[edge])
            behind = g[g <= f]
            if twin >= 0 and behind.size:
                cost = snap_min[j] + (f - behind.max()) * net.edge_time[twin]
                out[idx[j]] = min(out[idx[j]], cost)
    out[out > limit] = np.inf
    return out


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
