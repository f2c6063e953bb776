"""Street networks: the :class:`Network` a street graph becomes, built once per mode.

A :class:`Network` is built once per street graph (walk, bike or drive) from the node and edge
tables of osmnx's ``graph_to_gdfs`` convention, with its travel times
(:mod:`qet_geo.network.speeds`) and its snapping index (:mod:`qet_geo.network.snapping`), and then
answers every query of the package: :mod:`~qet_geo.network.queries` (nearest amenities, counts
within a time), :mod:`~qet_geo.network.isochrone` (reachable areas) and :mod:`~qet_geo.network.od`
(origin-destination matrices and street paths).

The graph is held as compressed sparse rows (CSR), one per weight ("length" in metres, "time" in
minutes) and direction, keeping the lightest of parallel edges and no self-loop; an edge of zero
length stays a stored entry of weight 0, which :func:`scipy.sparse.csgraph.dijkstra` follows.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph

from qet_geo._validate import geo_frame, require_crs
from qet_geo.errors import CRSError, EmptyDataError, ValidationError
from qet_geo.i18n import msg
from qet_geo.network._common import (
    FloatArray,
    GeomArray,
    IntArray,
    Mode,
    Weight,
    _check_weight,
    _ragged,
)
from qet_geo.network.snapping import _snap_index, _SnapIndex, _Snapped
from qet_geo.network.speeds import (
    _M_PER_KM,
    _MIN_PER_H,
    DEFAULT_SPEED_KMH,
    bike_speed_factor,
    walk_speed_factor,
)

__all__ = ["MIN_COMPONENT_NODES", "Network", "build_network"]

logger = logging.getLogger(__name__)

_TWIN_TOLERANCE_M = 0.01

MIN_COMPONENT_NODES = 50
"""Fewest nodes of a strongly connected component that points may snap to (besides the largest).

A street fragment cut off from the network (a cul-de-sac clipped by the extract's edge, a private
service road drawn alone, a oneway street that only leads out of the extract) reaches nothing,
or nothing reaches it: a home snapped to it would get no distance and a 15-minute score of 0.
As OSRM skips the "tiny components" of its strongly connected components
(``--small-component-size``, 1000 nodes for whole countries) and Valhalla's snapping skips edges
that reach fewer than ``minimum_reachability`` nodes (50 by default), points snap only to the
streets of the *largest* strongly connected component or of one of at least this many nodes (a
street is in a component when both its ends are); a point farther than the snap limit from all
of them is off the network. On a walking graph, where every street goes both ways, strongly and
weakly connected components are the same. 50 is Valhalla's figure: a neighbourhood extract has a
few hundred to a few thousand nodes, so OSRM's 1000 would drop whole quarters cut off by a
river, while a fragment rarely has more than a dozen.
"""


@dataclass(frozen=True)
class _Csr:
    """CSR arrays of the real graph for one weight and direction (private).

    ``primary`` holds the weight searched, ``secondary`` the other one on the same edge, so that
    a path found by length also knows its time and conversely; ``edge`` is the network edge each
    entry stands for (to draw a path) and ``key`` its ``row * n_nodes + col``, sorted.
    """

    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    primary: FloatArray
    secondary: FloatArray
    edge: IntArray
    key: IntArray

    def entry(self, rows: IntArray, cols: IntArray) -> IntArray:
        """Position of the stored edges ``rows[i] -> cols[i]``."""
        return np.searchsorted(self.key, rows * (self.indptr.size - 1) + cols)


@dataclass(frozen=True, eq=False, repr=False)
class Network:
    """A street graph prepared for repeated accessibility queries.

    Build it with :func:`build_network` (or :meth:`Network.from_gdfs`) once per graph, then pass
    it to :func:`nearest`, :func:`count_within`, :func:`isochrones` and :func:`snap`. It is
    immutable.

    Attributes
    ----------
    mode
        "walk", "bike" or "drive".
    speed_kmh
        Flat speed used for travel times (and for the snap distance).
    crs
        Projected CRS of the graph (metres), normally EPSG:2154.
    node_ids
        Node labels (osmid, int64 for OSM graphs); position ``i`` is node index ``i``.
    node_xy
        Node coordinates, shape ``(n_nodes, 2)``.
    edge_index
        Labels ``(u, v, key)`` of the edges, in the order of the edge arrays.
    edge_u, edge_v
        Node indices of each directed edge.
    edge_length
        Length of each edge (m), from the ``length`` column.
    edge_time
        Travel time of each edge (min), from the speed model and the ``grade`` column.
    edge_twin
        Index of the same street travelled the other way (``v -> u``, same geometry), -1 for a
        oneway edge.
    edge_geometry
        LineStrings from u to v.
    edge_geometry_length
        Length of each geometry (m); positions along an edge are fractions of it, costs
        fractions of ``edge_length``.
    edge_name
        The street's name (the ``name`` column: the OSM ``name`` tag of its way), None where it
        has none; what a roadbook reads the streets walked from.
    edge_highway
        The way's ``highway`` tag ("residential", "footway"...), None where unknown.
    component
        Weakly connected component of each node (0 is the largest), computed on first use.
    snappable
        Whether points may snap to each edge: both its ends are in the largest strongly connected
        component or in one of at least ``min_component_nodes`` nodes
        (:data:`MIN_COMPONENT_NODES`); the other edges are fragments no point joins.
    """

    mode: str
    speed_kmh: float
    crs: CRS
    node_ids: npt.NDArray[Any]
    node_xy: FloatArray
    edge_index: pd.MultiIndex
    edge_u: IntArray
    edge_v: IntArray
    edge_length: FloatArray
    edge_time: FloatArray
    edge_twin: IntArray
    edge_geometry: GeomArray
    edge_geometry_length: FloatArray
    edge_name: npt.NDArray[np.object_]
    edge_highway: npt.NDArray[np.object_]
    snappable: npt.NDArray[np.bool_]
    _snap_edges: IntArray
    _snap_index: _SnapIndex
    _time_per_m: float | None
    _graphs: dict[tuple[str, bool], _Csr] = field(default_factory=dict, init=False)
    # the last points snapped to it (snapping._snap)
    _snapped: dict[bytes, _Snapped] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def component(self) -> IntArray:
        """Weakly connected component label of each node (0 is the largest)."""
        return _components(self.edge_u, self.edge_v, self.n_nodes, connection="weak")

    def _graph(self, weight: Weight, reverse: bool) -> _Csr:
        # built on first need: a query uses one or two of the four
        key = (weight, reverse)
        if key not in self._graphs:
            w1, w2 = (
                (self.edge_length, self.edge_time)
                if weight == "length"
                else (self.edge_time, self.edge_length)
            )
            self._graphs[key] = _real_csr(
                self.edge_u, self.edge_v, w1, w2, self.n_nodes, reverse=reverse
            )
        return self._graphs[key]

    @classmethod
    def from_gdfs(
        cls,
        nodes: pd.DataFrame,
        edges: gpd.GeoDataFrame,
        *,
        mode: Mode = "walk",
        speed_kmh: float | None = None,
        min_component_nodes: int = MIN_COMPONENT_NODES,
    ) -> Network:
        """Build a network from node and edge tables; same as :func:`build_network`."""
        return build_network(
            nodes, edges, mode=mode, speed_kmh=speed_kmh, min_component_nodes=min_component_nodes
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.size)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.edge_u.size)

    @property
    def n_components(self) -> int:
        """Number of weakly connected components."""
        return int(self.component.max()) + 1 if self.component.size else 0

    @property
    def flat_min_per_m(self) -> float:
        """Minutes per metre at the flat speed (the cost of the snap distance)."""
        return _MIN_PER_H / (_M_PER_KM * self.speed_kmh)

    def matrix(self, weight: Weight = "length") -> sparse.csr_matrix:
        """Return the node-to-node CSR matrix of the shortest parallel edge.

        Parameters
        ----------
        weight
            "length" (m) or "time" (min).

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape ``(n_nodes, n_nodes)``; entry ``(i, j)`` is the weight of edge ``i -> j``.
        """
        g = self._graph(_check_weight(weight), False)
        n = self.n_nodes
        return sparse.csr_matrix((g.primary, g.indices, g.indptr), shape=(n, n))

    def __repr__(self) -> str:
        return (
            f"Network(mode={self.mode!r}, speed_kmh={self.speed_kmh:g}, nodes={self.n_nodes}, "
            f"edges={self.n_edges}, components={self.n_components}, crs={self.crs.to_string()!r})"
        )


def build_network(
    nodes: pd.DataFrame,
    edges: gpd.GeoDataFrame,
    *,
    mode: Mode = "walk",
    speed_kmh: float | None = None,
    min_component_nodes: int = MIN_COMPONENT_NODES,
) -> Network:
    """Build a :class:`Network` from osmnx-style node and edge tables.

    Parameters
    ----------
    nodes
        Nodes indexed by their id (osmid), with ``x`` and ``y`` columns or Point geometries.
    edges
        Directed edges with a ``(u, v, key)`` MultiIndex (or ``u`` and ``v`` columns), a
        ``length`` column in metres and LineString geometries from u to v, in a projected CRS
        (EPSG:2154). A two-way street appears twice, a oneway street once. Optional columns:
        ``grade`` (signed rise over run along u→v) slows walking and cycling; ``speed_kph``
        sets driving speeds.
    mode
        "walk", "bike" or "drive": chooses the default speed and the slope model.
    speed_kmh
        Flat speed in km/h; defaults to 4.5 (walk), 15 (bike) or 30 (drive).
    min_component_nodes
        Fewest nodes of a strongly connected component, other than the largest, whose streets
        points snap to (:data:`MIN_COMPONENT_NODES`); 1 lets points snap to every street,
        fragments and oneway streets between components included.

    Returns
    -------
    Network
        The prepared graph; the input tables are not modified.

    Raises
    ------
    ValidationError
        If a table lacks a required column, an edge refers to a missing node, a length or
        speed is not a finite positive number, or ``min_component_nodes`` is not a whole
        number of at least 1.
    CRSError
        If the edges have no CRS or a geographic one.
    EmptyDataError
        If there are no edges.
    """
    if mode not in DEFAULT_SPEED_KMH:
        raise ValidationError(
            msg("mode doit valoir 'walk', 'bike' ou 'drive', et non {mode!r}.", mode=mode)
        )
    speed = DEFAULT_SPEED_KMH[mode] if speed_kmh is None else float(speed_kmh)
    if not math.isfinite(speed) or speed <= 0:
        raise ValidationError(
            msg(
                "speed_kmh doit être une vitesse positive en km/h, et non {speed_kmh!r}.",
                speed_kmh=speed_kmh,
            )
        )
    if (
        isinstance(min_component_nodes, bool)
        or not isinstance(min_component_nodes, (int, np.integer))
        or min_component_nodes < 1
    ):
        raise ValidationError(
            msg(
                "min_component_nodes doit être un nombre entier de nœuds, au moins 1, et non "
                "{value!r}.",
                value=min_component_nodes,
            )
        )
    geo_frame(edges, what="edges", hint=msg("suivez la convention graph_to_gdfs d'osmnx"))
    if not isinstance(nodes, pd.DataFrame):
        raise ValidationError(
            msg("nodes doit être un (Geo)DataFrame indexé par identifiant de nœud.")
        )
    if len(edges) == 0:
        raise EmptyDataError(
            msg(
                "La table des arcs est vide : construisez le réseau à partir d'un extrait qui "
                "contient des rues."
            )
        )
    crs = _check_projected_crs(edges, "edges")
    node_crs = getattr(nodes, "crs", None)
    if node_crs is not None and node_crs is not crs and CRS.from_user_input(node_crs) != crs:
        raise CRSError(
            msg(
                "nodes et edges sont dans des CRS différents : reprojetez-les tous deux en "
                "EPSG:2154."
            )
        )
    if "length" not in edges.columns:
        raise ValidationError(
            msg(
                "edges n'a pas de colonne 'length' : ajoutez la longueur des arcs en mètres "
                "(osmnx le fait)."
            )
        )
    if not nodes.index.is_unique:
        raise ValidationError(
            msg("L'index des nœuds contient des doublons : chaque identifiant doit être unique.")
        )
    return _build_network(
        nodes, edges, mode=mode, speed=speed, crs=crs, min_component_nodes=int(min_component_nodes)
    )


def _build_network(
    nodes: pd.DataFrame,
    edges: gpd.GeoDataFrame,
    *,
    mode: str,
    speed: float,
    crs: CRS,
    min_component_nodes: int,
) -> Network:
    node_ids = nodes.index.to_numpy()
    node_xy = _node_coordinates(nodes)
    u_lab, v_lab, edge_index = _edge_labels(edges)
    ends = np.asarray(
        nodes.index.get_indexer(pd.Index(np.concatenate([u_lab, v_lab]))), dtype=np.int64
    )
    eu, ev = ends[: len(u_lab)], ends[len(u_lab) :]
    missing = (eu < 0) | (ev < 0)
    if missing.any():
        raise ValidationError(
            msg(
                "{n_edges} arcs renvoient à des nœuds absents de nodes : passez la table "
                "des nœuds du même graphe.",
                n_edges=int(missing.sum()),
            )
        )
    length = _numbers(edges["length"])
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        raise ValidationError(
            msg(
                "{n_edges} arcs ont une longueur ('length') manquante, infinie ou négative : "
                "corrigez-les ou retirez-les.",
                n_edges=int(bad.sum()),
            )
        )
    geometry, coords, first_vertex, n_vertex = _edge_geometries(edges, node_xy, eu, ev)

    speed_kmh = np.full(length.size, speed)
    if mode == "drive" and "speed_kph" in edges.columns:
        edge_speed = _numbers(edges["speed_kph"])
        usable = np.isfinite(edge_speed) & (edge_speed > 0)
        speed_kmh = np.where(usable, edge_speed, speed)
    if "grade" in edges.columns and mode in ("walk", "bike"):
        grade = _numbers(edges["grade"])
        factor = walk_speed_factor(grade) if mode == "walk" else bike_speed_factor(grade)
        speed_kmh = speed_kmh * factor
    time = length * _MIN_PER_H / (_M_PER_KM * speed_kmh)

    flat = _MIN_PER_H / (_M_PER_KM * speed)
    proportional = bool(np.allclose(time, length * flat, rtol=1e-12, atol=0.0))

    n = node_ids.size
    twin = _find_twins(eu, ev, length, coords, first_vertex, n_vertex, n)
    strong = _components(eu, ev, n, connection="strong")
    large = np.bincount(strong) >= min_component_nodes
    large[:1] = True  # the largest, however small the graph
    snappable = (strong[eu] == strong[ev]) & large[strong[eu]]
    if min_component_nodes <= 1 or not snappable.any():  # every street: asked, or last resort
        snappable[:] = True
    canonical = np.flatnonzero((twin < 0) | (np.arange(twin.size) < twin))
    doubled = _doubled(eu, ev, twin, coords, first_vertex, n_vertex, n)
    canonical = canonical[snappable[canonical] & ~doubled[canonical]]
    geometry_length = shapely.length(geometry)
    net = Network(
        mode=mode,
        speed_kmh=speed,
        crs=crs,
        node_ids=node_ids,
        node_xy=node_xy,
        edge_index=edge_index,
        edge_u=eu,
        edge_v=ev,
        edge_length=length,
        edge_time=time,
        edge_twin=twin,
        edge_geometry=geometry,
        edge_geometry_length=geometry_length,
        edge_name=_tag(edges, "name"),
        edge_highway=_tag(edges, "highway"),
        snappable=snappable,
        _snap_edges=canonical.astype(np.int64),
        _snap_index=_snap_index(
            geometry, canonical, coords, first_vertex, n_vertex, eu, ev, node_xy
        ),
        _time_per_m=flat if proportional else None,
    )
    logger.info("built %r", net)
    return net


def _check_projected_crs(frame: gpd.GeoDataFrame, name: str) -> CRS:
    crs = require_crs(frame, what=name, hint=msg("puis reprojetez avec .to_crs({crs})", crs=2154))
    out = CRS.from_user_input(crs)
    if not out.is_projected:
        raise CRSError(
            msg(
                "{name} est dans un CRS géographique ({crs}) : reprojetez en mètres "
                "avec .to_crs(2154).",
                name=name,
                crs=out.to_string(),
            )
        )
    return out


def _numbers(column: pd.Series) -> FloatArray:
    """A column as floats, NaN where it does not hold a number."""
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _tag(edges: pd.DataFrame, column: str) -> npt.NDArray[np.object_]:
    """A way tag of each edge as text, None where missing or empty.

    osmnx's simplified graphs hold a list where an edge merges ways of different tags: the
    first is kept.
    """
    out = np.full(len(edges), None, dtype=object)
    if column in edges.columns:
        for i, value in enumerate(edges[column].to_numpy(dtype=object)):
            if isinstance(value, list | tuple) and value:
                value = value[0]
            if isinstance(value, str) and value.strip():
                out[i] = value.strip()
    return out


def _node_coordinates(nodes: pd.DataFrame) -> FloatArray:
    if {"x", "y"} <= set(nodes.columns):
        x = _numbers(nodes["x"])
        y = _numbers(nodes["y"])
    elif isinstance(nodes, gpd.GeoDataFrame) and nodes.geometry.name in nodes.columns:
        pts = np.asarray(nodes.geometry.array, dtype=object)
        x = shapely.get_x(pts)
        y = shapely.get_y(pts)
    else:
        raise ValidationError(
            msg("nodes doit avoir des colonnes 'x' et 'y' ou des géométries Point.")
        )
    xy = np.column_stack([x, y]).astype(np.float64)
    if not np.isfinite(xy).all():
        raise ValidationError(
            msg("Des nœuds n'ont pas de coordonnées : retirez-les ou remplissez 'x' et 'y'.")
        )
    return xy


def _edge_labels(
    edges: gpd.GeoDataFrame,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], pd.MultiIndex]:
    idx = edges.index
    if isinstance(idx, pd.MultiIndex) and idx.nlevels >= 2:
        u = idx.get_level_values(0).to_numpy()
        v = idx.get_level_values(1).to_numpy()
        if idx.nlevels == 3:
            named = (
                idx if list(idx.names) == ["u", "v", "key"] else idx.set_names(["u", "v", "key"])
            )
            return u, v, named
        key = idx.get_level_values(2).to_numpy() if idx.nlevels > 3 else np.zeros(len(idx), int)
    elif {"u", "v"} <= set(edges.columns):
        u = edges["u"].to_numpy()
        v = edges["v"].to_numpy()
        key = edges["key"].to_numpy() if "key" in edges.columns else np.zeros(len(edges), np.int64)
    else:
        raise ValidationError(
            msg(
                "edges doit avoir un MultiIndex (u, v, key) ou des colonnes 'u' et 'v' "
                "(graph_to_gdfs d'osmnx)."
            )
        )
    labels = pd.MultiIndex.from_arrays([u, v, key], names=["u", "v", "key"])
    return u, v, labels


def _edge_geometries(
    edges: gpd.GeoDataFrame, node_xy: FloatArray, eu: IntArray, ev: IntArray
) -> tuple[GeomArray, FloatArray, IntArray, IntArray]:
    """Edge LineStrings from u to v, their vertices, and each edge's first vertex and count."""
    geoms = np.asarray(edges.geometry.array, dtype=object)
    types = shapely.get_type_id(geoms)
    if ((types != shapely.GeometryType.LINESTRING) & (types != shapely.GeometryType.MISSING)).any():
        raise ValidationError(
            msg(
                "Les géométries des arcs doivent être des LineString : éclatez ou fusionnez les "
                "autres géométries d'abord."
            )
        )
    for _ in range(3):
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        n_vertex = np.bincount(owner, minlength=geoms.size).astype(np.int64)
        missing = n_vertex < 2
        if missing.any():
            # a straight segment between the end nodes, as osmnx draws edges without geometry
            seg = np.stack([node_xy[eu[missing]], node_xy[ev[missing]]], axis=1)
            geoms = geoms.copy()
            geoms[missing] = shapely.linestrings(seg)
            continue
        first = np.cumsum(n_vertex) - n_vertex
        # orient every geometry from u to v: positions along an edge depend on it
        sx, sy = coords[first, 0], coords[first, 1]
        d_u = (sx - node_xy[eu, 0]) ** 2 + (sy - node_xy[eu, 1]) ** 2
        d_v = (sx - node_xy[ev, 0]) ** 2 + (sy - node_xy[ev, 1]) ** 2
        flip = (d_v < d_u) & (eu != ev)
        if not flip.any():
            break
        logger.debug("reversing %d edge geometries drawn from v to u", int(flip.sum()))
        geoms = geoms.copy()
        geoms[flip] = shapely.reverse(geoms[flip])
    return geoms, coords, first, n_vertex


def _find_twins(
    eu: IntArray,
    ev: IntArray,
    length: FloatArray,
    coords: FloatArray,
    first: IntArray,
    n_vertex: IntArray,
    n: int,
) -> IntArray:
    """Pair each edge u→v with the same street v→u (same vertices reversed), or -1."""
    m = eu.size
    twin = np.full(m, -1, dtype=np.int64)
    # group the edges by their unordered pair of ends; a twin is in the same group
    pair_key = np.minimum(eu, ev) * n + np.maximum(eu, ev)
    order = np.argsort(pair_key, kind="stable")
    sorted_key = pair_key[order]
    start = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    size = np.diff(np.r_[start, m])
    # candidate pairs: the two members of groups of two (the usual u→v and v→u), and every
    # pair in larger groups (parallel edges)
    two = size == 2
    x, y = order[start[two]], order[start[two] + 1]
    big = np.flatnonzero(size > 2)
    group, pos = _ragged(start[big], size[big])
    member, partner = _ragged(start[big][group], size[big][group])
    a = np.concatenate([np.minimum(x, y), order[pos[member]]])
    b = np.concatenate([np.maximum(x, y), order[partner]])
    keep = (
        (a < b)
        & (eu[a] == ev[b])
        & (ev[a] == eu[b])
        & (n_vertex[a] == n_vertex[b])
        & (np.abs(length[a] - length[b]) <= _TWIN_TOLERANCE_M + 1e-9 * length[a])
    )
    a, b = a[keep], b[keep]
    # vertex k of a against vertex n - 1 - k of b
    pair, at_a = _ragged(first[a], n_vertex[a])
    at_b = first[b][pair] + n_vertex[b][pair] - 1 - (at_a - first[a][pair])
    off = (np.abs(coords[at_a] - coords[at_b]) > _TWIN_TOLERANCE_M).any(axis=1)
    same = np.bincount(pair[off], minlength=a.size) == 0
    a, b = a[same], b[same]
    # one twin per edge (parallel duplicates aside, there is only one candidate)
    in_a, in_b = np.bincount(a, minlength=m), np.bincount(b, minlength=m)
    while a.size and (in_a.max() > 1 or in_b.max() > 1 or (in_a & in_b).any()):
        _, keep_a = np.unique(a, return_index=True)
        a, b = a[keep_a], b[keep_a]
        _, keep_b = np.unique(b, return_index=True)
        a, b = a[keep_b], b[keep_b]
        clash = np.isin(a, b)
        a, b = a[~clash], b[~clash]
        in_a, in_b = np.bincount(a, minlength=m), np.bincount(b, minlength=m)
    twin[a] = b
    twin[b] = a
    return twin


def _doubled(
    eu: IntArray,
    ev: IntArray,
    twin: IntArray,
    coords: FloatArray,
    first: IntArray,
    n_vertex: IntArray,
    n: int,
) -> npt.NDArray[np.bool_]:
    """Oneway edges drawn on the very vertices of a two-way street (a way mapped twice).

    A point on that place is on the two-way street, which goes both ways: snapping it to the
    oneway copy would let it leave in one direction only.
    """
    out = np.zeros(eu.size, dtype=bool)
    one = np.flatnonzero(twin < 0)
    two = np.flatnonzero(twin >= 0)
    if not one.size or not two.size:
        return out
    key = eu[two] * n + ev[two]
    order = np.argsort(key, kind="stable")
    at = np.searchsorted(key[order], eu[one] * n + ev[one])
    found = at < two.size
    found[found] = key[order][at[found]] == (eu[one] * n + ev[one])[found]
    cand, other = one[found], two[order][at[found]]
    same = n_vertex[cand] == n_vertex[other]
    cand, other = cand[same], other[same]
    if cand.size:
        pair, at_c = _ragged(first[cand], n_vertex[cand])
        at_o = first[other][pair] + (at_c - first[cand][pair])
        off = (np.abs(coords[at_c] - coords[at_o]) > _TWIN_TOLERANCE_M).any(axis=1)
        out[cand[np.bincount(pair[off], minlength=cand.size) == 0]] = True
    return out


def _components(
    eu: IntArray, ev: IntArray, n: int, *, connection: Literal["weak", "strong"]
) -> IntArray:
    """Connected component of each node, numbered by decreasing size (0 the largest)."""
    # CSR arrays built directly: scipy's COO route costs more than the search itself here
    order = np.argsort(eu, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(eu, minlength=n), out=indptr[1:])
    indices = ev[order].astype(np.int32)
    adjacency = sparse.csr_matrix(
        (np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n, n)
    )
    _, labels = csgraph.connected_components(adjacency, directed=True, connection=connection)
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[labels].astype(np.int64)


def _real_csr(
    eu: IntArray, ev: IntArray, primary: FloatArray, secondary: FloatArray, n: int, *, reverse: bool
) -> _Csr:
    """CSR of the lightest of parallel edges, without self-loops (useless to shortest paths)."""
    keep = eu != ev
    rows, cols = (ev[keep], eu[keep]) if reverse else (eu[keep], ev[keep])
    key = rows * n + cols
    order = np.argsort(key, kind="stable")
    key = key[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    p1, p2 = primary[keep][order], secondary[keep][order]
    sel = start
    if start.size < key.size:  # parallel edges: the lightest of each group
        group = np.repeat(np.arange(start.size), np.diff(np.r_[start, key.size]))
        lightest = np.flatnonzero(p1 == np.minimum.reduceat(p1, start)[group])
        _, first = np.unique(group[lightest], return_index=True)
        sel = lightest[first]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows[order][start], minlength=n), out=indptr[1:])
    edge = np.flatnonzero(keep)[order][sel]
    return _Csr(indptr, cols[order][start].astype(np.int32), p1[sel], p2[sel], edge, key[start])
