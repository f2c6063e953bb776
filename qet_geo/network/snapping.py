"""Snapping: where homes, amenities and any point join the street network.

Points are snapped to the nearest point of the nearest *edge*: the straight-line distance to the
street (``snap_m``) is added to every network distance, and the path starts or ends part-way
along the edge, in either direction the edge can be travelled (a oneway edge only forward).
Only the streets of a component large enough to route on are snapped to, as OSRM and Valhalla
do: the largest strongly connected component and any of at least
:data:`~qet_geo.network.graph.MIN_COMPONENT_NODES` nodes (``Network.snappable``); a fragment
cut off from the network (a clipped cul-de-sac, a private road drawn alone) would reach nothing,
so a point beside it joins the nearest street of the network instead. A point farther than
``max_snap_m`` from every such street is flagged ``off_network`` and gets no distance (NaN) and
no count (0); an amenity that far is left out, with a warning. Every query of
the package (:mod:`~qet_geo.network.queries`, :mod:`~qet_geo.network.isochrone`,
:mod:`~qet_geo.network.od`) snaps through :func:`_snap`, so they all agree on where a point is.

Snapping is exact: a k-d tree of points laid along the streets bounds each point's distance to the
network, and the R-tree of the edges gives the few segments within that bound, whose distances are
then computed with numpy.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from qet_geo._validate import geometries, require_crs
from qet_geo.errors import CRSError, QetGeoWarning
from qet_geo.i18n import Msg, msg
from qet_geo.network._common import (
    BoolArray,
    FloatArray,
    GeomArray,
    IntArray,
    _check_positive,
    _ragged,
)

if TYPE_CHECKING:
    from qet_geo.network.graph import Network

__all__ = ["DEFAULT_MAX_SNAP_M", "snap"]

DEFAULT_MAX_SNAP_M = 200.0
"""Farthest a home or an amenity may be from the nearest street and still be on the network (m)."""

_END_FRACTION = 1e-9  # a snap this close to an end of its edge is on the end node
_PROBE_SPACING_M = 15.0  # probe points of the snapping index are at least this far apart


@dataclass(frozen=True)
class _SnapIndex:
    """Street geometry for exact nearest-edge search (private).

    The R-tree holds the canonical edges (one per street: a two-way street once); the
    segments of canonical edge ``i`` are ``first_seg[i] : first_seg[i] + n_seg[i]``.
    """

    tree: shapely.STRtree  # over the canonical edges
    probes: cKDTree  # points on the streets, at most ``spacing`` apart along each
    spacing: float
    start: FloatArray  # (s, 2) segment starts
    end: FloatArray  # (s, 2) segment ends
    edge: IntArray  # edge index of each segment (a canonical edge)
    along: FloatArray  # distance along the edge geometry to the segment start (m)
    first_seg: IntArray  # per canonical edge
    n_seg: IntArray  # per canonical edge
    vertex: pd.Index  # coordinates (complex x + iy) of the streets' vertices, each once
    vertex_edge: IntArray  # a canonical edge through each vertex
    vertex_along: FloatArray  # where along that edge's geometry (m)


def _snap_index(
    geometry: GeomArray,
    canonical: IntArray,
    coords: FloatArray,
    first_vertex: IntArray,
    n_vertex: IntArray,
    eu: IntArray,
    ev: IntArray,
    node_xy: FloatArray,
) -> _SnapIndex:
    """Segments of the canonical edges, their R-tree, and probe points along them."""
    n_seg = n_vertex[canonical] - 1
    group, at = _ragged(first_vertex[canonical], n_seg)
    a = coords[at]
    b = coords[at + 1]
    seg_len = np.hypot(*(b - a).T)
    first_seg = np.cumsum(n_seg) - n_seg
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    along = cum[:-1] - cum[first_seg][group]
    # probes: the end nodes, the inner vertices and points filling longer segments, so that
    # no point of a street is more than spacing / 2 from a probe; denser probes give a tighter
    # search box, at most about two probes per segment keeps large graphs quick to index
    spacing = max(_PROBE_SPACING_M, float(seg_len.sum()) / max(seg_len.size, 1))
    is_end = np.zeros(node_xy.shape[0], dtype=bool)
    is_end[eu[canonical]] = True
    is_end[ev[canonical]] = True
    inner = at[at != first_vertex[canonical][group]]
    n_fill = np.maximum(np.ceil(seg_len / spacing).astype(np.int64) - 1, 0)
    seg, rank = _ragged(np.ones(n_fill.size, dtype=np.int64), n_fill)
    t = (rank / (n_fill[seg] + 1))[:, None]
    fill = a[seg] + t * (b[seg] - a[seg])
    probes = np.concatenate([node_xy[is_end], coords[inner], fill])
    # every vertex once (the first edge through it): a point exactly on one needs no search
    ends = np.concatenate([a, b])
    key = pd.Index(np.ascontiguousarray(ends).view(np.complex128).ravel())
    first = ~key.duplicated()
    return _SnapIndex(
        tree=shapely.STRtree(geometry[canonical]),
        probes=cKDTree(probes, balanced_tree=False, compact_nodes=False),
        spacing=spacing,
        start=a,
        end=b,
        edge=canonical[group],
        along=along,
        first_seg=first_seg,
        n_seg=n_seg,
        vertex=key[first],
        vertex_edge=np.concatenate([canonical[group], canonical[group]])[first],
        vertex_along=np.concatenate([along, along + seg_len])[first],
    )


@dataclass(frozen=True)
class _Snapped:
    """Where points join the network (private); arrays aligned to the points."""

    edge: IntArray  # canonical edge index, -1 when the point is missing
    fraction: FloatArray  # position along the edge from u, 0..1
    snap_m: FloatArray  # straight-line distance to the edge (NaN when missing)
    on: BoolArray  # snapped within max_snap_m
    xy: FloatArray  # (k, 2) coordinates of the points that were snapped (NaN: missing)
    same: IntArray  # the first point at the same place (itself when it is the first)

    def keep(self, mask: BoolArray) -> _Snapped:
        """The same points, with those outside ``mask`` set off the network."""
        return _Snapped(self.edge, self.fraction, self.snap_m, self.on & mask, self.xy, self.same)

    def distinct(self) -> tuple[IntArray, IntArray]:
        """Points on the network, the first at each place; and where each point reads its result.

        Every result depends only on where a point joins the network, so queries compute the
        first point of each place (``first``, d of them) into d columns, add a column of
        no-result, and gather them with ``column``: the column of the point's place, or ``d``
        for a point off the network (dwellings of one building share a column).
        """
        on = self.on & (self.same == np.arange(self.same.size))
        first = np.flatnonzero(on)
        column = np.full(self.same.size, first.size, dtype=np.int64)
        column[first] = np.arange(first.size)
        column = np.where(self.on, column[self.same], first.size)
        return first, column


#: How many sets of points snapped to one network it keeps: the homes of an access table are
#: snapped for the nearest amenities, the counts, transit and the border, once.
SNAPPED_KEPT = 2


def _snap(net: Network, xy: FloatArray, max_snap_m: float) -> _Snapped:
    """Where the points ``xy`` join ``net``, kept by the network for the next query on the same
    points (the same coordinates and snap distance: a digest of their bytes)."""
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    digest = hashlib.blake2b(xy.tobytes(), digest_size=16)
    digest.update(f"{xy.shape}|{max_snap_m!r}".encode())
    key = digest.digest()
    kept = net._snapped
    with _kept_lock:
        found = kept.get(key)
    if found is not None:
        return found
    snapped = _snap_points(net, xy.copy(), max_snap_m)  # its own copy: the caller's may change
    with _kept_lock:  # a network may serve several threads (the web service)
        kept[key] = snapped
        while len(kept) > SNAPPED_KEPT:
            kept.pop(next(iter(kept)))
    return snapped


_kept_lock = threading.Lock()


def _snap_points(net: Network, xy: FloatArray, max_snap_m: float) -> _Snapped:
    k = xy.shape[0]
    edge = np.full(k, -1, dtype=np.int64)
    fraction = np.zeros(k)
    snap_m = np.full(k, np.nan)
    present = np.flatnonzero(~np.isnan(xy[:, 0]))
    same = np.arange(k, dtype=np.int64)
    if present.size:
        at = xy[present] if present.size < k else xy
        # points at the same place (dwellings of one address, cells) are snapped once; codes
        # number the places in order of first appearance
        inverse = pd.factorize(np.ascontiguousarray(at).view(np.complex128).ravel())[0]
        first = np.flatnonzero(np.r_[True, inverse[1:] > np.maximum.accumulate(inverse)[:-1]])
        same[present] = present[first][inverse]
        if first.size < present.size:
            e, f, d = _nearest_edge(net, at[first], max_snap_m)
            e, f, d = e[inverse], f[inverse], d[inverse]
        else:
            e, f, d = _nearest_edge(net, at, max_snap_m)
        edge[present] = e
        fraction[present] = f
        snap_m[present] = d
    on = (edge >= 0) & (snap_m <= max_snap_m)
    return _Snapped(edge=edge, fraction=fraction, snap_m=snap_m, on=on, xy=xy, same=same)


def _nearest_edge(
    net: Network, xy: FloatArray, max_snap_m: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Exact nearest canonical edge of each point, its fraction and distance.

    A point exactly on a vertex of a street (a graph node, an amenity mapped on the way) is on
    that street, found by a hash look-up; the others are searched (:func:`_searched_edge`).
    """
    si = net._snap_index
    glen = net.edge_geometry_length
    at = si.vertex.get_indexer(pd.Index(np.ascontiguousarray(xy).view(np.complex128).ravel()))
    on_vertex = np.flatnonzero(at >= 0)
    if not on_vertex.size:
        return _end_fractions(*_searched_edge(net, xy, max_snap_m))
    q = xy.shape[0]
    edge = np.full(q, -1, dtype=np.int64)
    fraction = np.zeros(q)
    dist = np.zeros(q)
    e = si.vertex_edge[at[on_vertex]]
    along = si.vertex_along[at[on_vertex]]
    edge[on_vertex] = e
    fraction[on_vertex] = np.divide(along, glen[e], out=np.zeros_like(along), where=glen[e] > 0)
    rest = np.flatnonzero(at < 0)
    if rest.size:
        edge[rest], fraction[rest], dist[rest] = _searched_edge(net, xy[rest], max_snap_m)
    return _end_fractions(edge, fraction, dist)


def _searched_edge(
    net: Network, xy: FloatArray, max_snap_m: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Nearest canonical edge of points off the streets' vertices, by a bounded search.

    The nearest probe point bounds the distance to the streets from above (it lies on one), so
    every segment nearer than it crosses the square of that half-side around the point: the
    R-tree gives these few candidates and their exact distances settle the nearest.
    """
    si = net._snap_index
    q = xy.shape[0]
    edge = np.full(q, -1, dtype=np.int64)
    fraction = np.zeros(q)
    dist = np.full(q, np.nan)
    glen = net.edge_geometry_length
    bound, _ = si.probes.query(xy, k=1)
    bound = np.asarray(bound, dtype=np.float64) * (1 + 1e-9) + 1e-9
    # a point much farther than max_snap_m is off the network whatever its exact distance:
    # the R-tree's own nearest search then avoids boxes that cover the whole network
    reach = max_snap_m + si.spacing / 2
    near = np.flatnonzero(bound <= reach)
    if near.size:
        x, y, r = xy[near, 0], xy[near, 1], bound[near]
        src, hit = si.tree.query(shapely.box(x - r, y - r, x + r, y + r))
        if src.size > 1 and (src[1:] < src[:-1]).any():
            order = np.argsort(src, kind="stable")
            src, hit = src[order], hit[order]
        cand, seg = _ragged(si.first_seg[hit], si.n_seg[hit])
        src = src[cand]
        px, py = x[src], y[src]
        ax, ay = si.start[seg, 0], si.start[seg, 1]
        dx, dy = si.end[seg, 0] - ax, si.end[seg, 1] - ay
        denom = dx * dx + dy * dy
        t = np.divide(
            (px - ax) * dx + (py - ay) * dy, denom, out=np.zeros_like(denom), where=denom > 0
        )
        np.clip(t, 0.0, 1.0, out=t)
        d = np.hypot(px - (ax + t * dx), py - (ay + t * dy))
        # the nearest segment of each point (candidates come grouped by point)
        head = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
        group = np.cumsum(np.r_[True, src[1:] != src[:-1]]) - 1
        is_min = np.flatnonzero(d <= np.minimum.reduceat(d, head)[group])
        best = is_min[np.r_[True, group[is_min][1:] != group[is_min][:-1]]]
        got = near[src[best]]
        e = si.edge[seg[best]]
        along = si.along[seg[best]] + t[best] * np.sqrt(denom[best])
        edge[got] = e
        fraction[got] = np.divide(along, glen[e], out=np.zeros_like(along), where=glen[e] > 0)
        dist[got] = d[best]
    far = np.flatnonzero(bound > reach)
    if far.size:
        points = np.asarray(shapely.points(xy[far]), dtype=object)
        (src, hit), d_tree = si.tree.query_nearest(points, return_distance=True, all_matches=False)
        e = net._snap_edges[hit]
        along = shapely.line_locate_point(net.edge_geometry[e], points[src])
        edge[far[src]] = e
        fraction[far[src]] = np.divide(along, glen[e], out=np.zeros_like(along), where=glen[e] > 0)
        dist[far[src]] = d_tree
    return edge, fraction, dist


def _end_fractions(
    edge: IntArray, fraction: FloatArray, dist: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """A point on a node is at that end of its edge exactly (it matters on a oneway edge)."""
    fraction = np.clip(fraction, 0.0, 1.0)
    fraction[fraction < _END_FRACTION] = 0.0
    fraction[fraction > 1.0 - _END_FRACTION] = 1.0
    return edge, fraction, dist


def snap(
    network: Network,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Snap points to the nearest point of the nearest street edge.

    Parameters
    ----------
    network
        The network built by :func:`build_network`.
    points
        Points in the network's CRS; other geometries are replaced by a point inside them
        (``representative_point``).
    max_snap_m
        Farthest distance to a street (m) for a point to count as on the network.

    Only the streets of the network's large components are snapped to
    (:attr:`Network.snappable`, :data:`~qet_geo.network.graph.MIN_COMPONENT_NODES`): a point
    nearest a cut-off fragment joins the nearest street of the network within ``max_snap_m``,
    or is off the network.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``points.index``, with columns ``edge`` (position in the network's edge
        arrays, -1 for a missing geometry), ``u``, ``v``, ``key`` (labels of that edge),
        ``fraction`` (0 at u, 1 at v), ``offset_m`` (distance along the edge from u, on the
        ``length`` scale), ``snap_m`` (straight-line distance to the edge), ``component`` (of
        the edge, 0 the largest) and ``off_network`` (farther than ``max_snap_m``, or missing).
        A two-way street is reported by one of its two directed edges.
    """
    index, xy = _points(points, network.crs, "points")
    snapped = _snap(network, xy, _check_positive(max_snap_m, "max_snap_m"))
    e = snapped.edge
    has = e >= 0
    safe = np.where(has, e, 0)
    labels = network.edge_index[safe]
    data: dict[str, Any] = {"edge": e}
    for level, name in enumerate(("u", "v", "key")):
        values = pd.Series(labels.get_level_values(level), index=index)
        data[name] = values if has.all() else values.where(has)
    data["fraction"] = np.where(has, snapped.fraction, np.nan)
    data["offset_m"] = np.where(has, snapped.fraction * network.edge_length[safe], np.nan)
    data["snap_m"] = snapped.snap_m
    component = pd.Series(network.component[network.edge_u[safe]], index=index)
    data["component"] = component if has.all() else component.where(has)
    data["off_network"] = ~snapped.on
    return pd.DataFrame(data, index=index)


def _points(obj: Any, crs: CRS, name: str) -> tuple[pd.Index, FloatArray]:
    """The index and the (k, 2) coordinates of points, NaN for a missing or empty geometry.

    Other geometries stand for a point inside them (``point_on_surface``).
    """
    series = geometries(obj, what=name)
    if len(series) or series.crs is not None:  # no points: no CRS needed
        points_crs = series.crs
        if points_crs is None:  # the hint names the network's CRS: built only when needed
            hint = msg("puis reprojetez avec .to_crs({crs})", crs=crs.to_string())
            require_crs(series, what=name, hint=hint)
        if points_crs is not crs and CRS.from_user_input(points_crs) != crs:
            raise CRSError(
                msg(
                    "{name} est en {points_crs}, le réseau en {crs} : reprojetez avec "
                    ".to_crs({crs}).",
                    name=name,
                    points_crs=CRS.from_user_input(points_crs).to_string(),
                    crs=crs.to_string(),
                )
            )
    geoms = np.asarray(series.array, dtype=object)
    try:  # NaN for a missing geometry and for anything but a point
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    except shapely.errors.GEOSException:  # GEOS has no coordinates of an empty point
        geoms = geoms.copy()
        geoms[shapely.is_empty(geoms)] = None
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    nan = np.flatnonzero(np.isnan(x))
    if nan.size:
        other = nan[~(shapely.is_missing(geoms[nan]) | shapely.is_empty(geoms[nan]))]
        inside = shapely.point_on_surface(geoms[other])
        ok = ~shapely.is_empty(inside)
        x[other[ok]] = shapely.get_x(inside[ok])
        y[other[ok]] = shapely.get_y(inside[ok])
    return series.index, np.column_stack([x, y])


def _warn_off_network(
    snapped: _Snapped, max_snap_m: float, what: Msg, *, stacklevel: int = 3
) -> None:
    off = ~snapped.on
    if off.any():
        n_off = int(off.sum())
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{n_off} {what} sur {size} sont à plus de {max_snap_m:g} m de toute rue reliée "
                    "au réseau (ou sans géométrie) : marqués hors réseau, sans résultat ; "
                    "augmentez la distance d'accroche ou vérifiez que l'extrait des rues les "
                    "couvre.",
                    n_off=n_off,
                    size=off.size,
                    max_snap_m=max_snap_m,
                    what=what,
                )
            ),
            stacklevel=stacklevel,
        )
