"""Street networks and the accessibility engine: nearest amenities, counts, isochrones.

A :class:`Network` is built once per street graph (walk, bike or drive) from the node and edge
tables of osmnx's ``graph_to_gdfs`` convention, and then answers, for every home at once:

- :func:`nearest`: network distance (m) and travel time (min) to the nearest amenity of each
  category;
- :func:`count_within`: number of amenities of each category reachable within 5, 10, 15 minutes
  (or any thresholds, in minutes or metres);
- :func:`isochrones`: 5/10/15-minute areas from any point, as polygons that follow the streets;
- :func:`snap`: where each point joins the network (nearest edge, not nearest node).

How points join the network
---------------------------
Homes and amenities are snapped to the nearest point of the nearest *edge*: the straight-line
distance to the street (``snap_m``) is added to every network distance, and the path starts or
ends part-way along the edge, in either direction the edge can be travelled (a oneway edge only
forward). A point farther than ``max_snap_m`` from every street is flagged ``off_network`` and
gets no distance (NaN) and no count (0); an amenity that far is left out, with a warning.

Speeds and slope
----------------
Distances are in metres, times in minutes. Default flat speeds are 4.5 km/h on foot, 15 km/h by
bike and 30 km/h by car (overridable with ``speed_kmh``). When the edge table has a ``grade``
column (signed rise over run along u→v, e.g. from osmnx ``add_edge_grades``), walking and cycling
times depend on it, direction by direction:

- walk: Tobler's hiking function, rescaled so that the flat speed is ``speed_kmh`` exactly:
  ``v(S) = speed_kmh * exp(-3.5 * (|S + 0.05| - 0.05))``. Walking is fastest on a gentle descent
  (-5 %, 19 % faster than on the flat), slower uphill (10 % up: 30 % slower) and on steep
  descents.
- bike: an asymmetric exponential of the same family: uphill ``v = speed_kmh * exp(-10 * S)``
  (3 %: -26 %, 5 %: -39 %, 10 %: -63 %, close to a rider sustaining about 100 W), downhill
  ``v = speed_kmh * min(exp(5 * |S|), 1.5)`` (a descent speeds the rider up to 1.5 times the flat
  speed, then braking caps it).
- drive: no slope effect; an edge column ``speed_kph`` (osmnx ``add_edge_speeds``) is used where
  present.

Algorithms
----------
The graph is held as compressed sparse rows (CSR) and searched with
:func:`scipy.sparse.csgraph.dijkstra`, bounded by the cutoff (``limit``). The sources of a search
are virtual rows appended to the CSR, each joined to the two ends of its edge at its initial
cost (snap distance plus the part of the edge to travel, in the directions the edge allows):

- :func:`nearest`: one virtual source per category, joined to the edge ends of all its
  amenities, searched on the reversed graph (paths run from the home to the amenity). That is a
  multi-source search with initial offsets: ``len(categories)`` bounded searches in all,
  whatever the number of homes and amenities. Every home then reads
  ``snap + min(rest of its edge + d[v], start of its edge + d[u])`` (the second term only if
  its street is two-way), or the direct way along a street it shares with an amenity.
- :func:`count_within`: one bounded search per amenity on the reversed graph, or per home on
  the graph, whichever side has fewer points; the counts are summed by category with a matrix
  product.
- :func:`isochrones`: one bounded search per start point; each edge whose start is reached is
  kept whole or cut where time runs out (:func:`shapely.ops.substring`), and the union of the
  parts is widened by ``buffer_m``.

With slopes, the time of the shortest path (or the length of the fastest) is summed along the
shortest-path tree by pointer jumping. Snapping is exact: a k-d tree of points laid along the
streets bounds each point's distance to the network, and the R-tree of the edges gives the few
segments within that bound, whose distances are then computed with numpy.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Hashable, Sequence
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
from scipy.spatial import cKDTree
from shapely.ops import substring

try:  # pandas >= 3: a table built from its blocks, without per-column checks
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover - pandas 2
    _from_blocks = None

from qet_geo.errors import CRSError, EmptyDataError, QetGeoWarning, ValidationError

__all__ = [
    "BIKE_DOWNHILL_RATE",
    "BIKE_MAX_SPEEDUP",
    "BIKE_UPHILL_RATE",
    "DEFAULT_CUTOFF_M",
    "DEFAULT_ISOCHRONE_BUFFER_M",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_SPEED_KMH",
    "TOBLER_OPTIMUM_GRADE",
    "TOBLER_RATE",
    "Network",
    "bike_speed_factor",
    "build_network",
    "count_within",
    "isochrones",
    "nearest",
    "snap",
    "walk_speed_factor",
]

logger = logging.getLogger(__name__)

Mode = Literal["walk", "bike", "drive"]
Weight = Literal["length", "time"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]

DEFAULT_SPEED_KMH: dict[str, float] = {"walk": 4.5, "bike": 15.0, "drive": 30.0}
"""Flat speed of each mode, in km/h."""

DEFAULT_MAX_SNAP_M = 200.0
"""Farthest a home or an amenity may be from the nearest street and still be on the network (m)."""

DEFAULT_CUTOFF_M = 3000.0
"""Farthest network distance :func:`nearest` searches by default (m); beyond it: NaN."""

DEFAULT_ISOCHRONE_BUFFER_M = 30.0
"""Half-width of the band drawn around the reachable streets of an isochrone (m)."""

TOBLER_RATE = 3.5
"""Rate of Tobler's hiking function ``exp(-3.5 * |S + 0.05|)``."""

TOBLER_OPTIMUM_GRADE = -0.05
"""Grade at which Tobler's walker is fastest (a 5 % descent)."""

BIKE_UPHILL_RATE = 10.0
"""Cycling uphill: speed factor ``exp(-10 * S)`` on a grade ``S > 0``."""

BIKE_DOWNHILL_RATE = 5.0
"""Cycling downhill: speed factor ``exp(5 * |S|)`` on a grade ``S < 0``, capped."""

BIKE_MAX_SPEEDUP = 1.5
"""Cap of the downhill cycling speed factor (riders brake beyond it)."""

_MIN_PER_H = 60.0
_M_PER_KM = 1000.0
_QUAD_SEGS = 4  # segments per quarter circle of the isochrone bands (0.6 m off at 30 m)
_CHUNK_CELLS = 1 << 23  # distance cells one Dijkstra batch may hold (64 MiB of float64)
_TWIN_TOLERANCE_M = 0.01
_END_FRACTION = 1e-9  # a snap this close to an end of its edge is on the end node
_PROBE_SPACING_M = 15.0  # probe points of the snapping index are at least this far apart


# --------------------------------------------------------------------------------------------
# Speed models
# --------------------------------------------------------------------------------------------


def walk_speed_factor(grade: npt.ArrayLike) -> FloatArray:
    """Return the walking speed relative to the flat, by Tobler's hiking function.

    Parameters
    ----------
    grade
        Signed rise over run in the direction of travel (0.1 is a 10 % climb).

    Returns
    -------
    numpy.ndarray
        ``exp(-3.5 * (|S + 0.05| - 0.05))``: 1 on the flat, 1.19 at -5 %, 0.70 at +10 %.
    """
    s = np.nan_to_num(np.asarray(grade, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.exp(-TOBLER_RATE * (np.abs(s - TOBLER_OPTIMUM_GRADE) - abs(TOBLER_OPTIMUM_GRADE)))


def bike_speed_factor(grade: npt.ArrayLike) -> FloatArray:
    """Return the cycling speed relative to the flat.

    Parameters
    ----------
    grade
        Signed rise over run in the direction of travel (0.1 is a 10 % climb).

    Returns
    -------
    numpy.ndarray
        ``exp(-10 * S)`` uphill (0.61 at +5 %), ``min(exp(5 * |S|), 1.5)`` downhill, 1 on the
        flat.
    """
    s = np.nan_to_num(np.asarray(grade, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    up = np.exp(-BIKE_UPHILL_RATE * np.clip(s, 0.0, None))
    down = np.minimum(np.exp(BIKE_DOWNHILL_RATE * np.clip(-s, 0.0, None)), BIKE_MAX_SPEEDUP)
    return np.where(s > 0, up, down)


# --------------------------------------------------------------------------------------------
# The network object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Csr:
    """CSR arrays of the real graph for one weight and direction (private).

    ``primary`` holds the weight searched, ``secondary`` the other one on the same edge, so that
    a path found by length also knows its time and conversely.
    """

    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    primary: FloatArray
    secondary: FloatArray


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
    component
        Weakly connected component of each node (0 is the largest), computed on first use.
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
    _snap_edges: IntArray
    _snap_index: _SnapIndex
    _time_per_m: float | None
    _graphs: dict[tuple[str, bool], _Csr] = field(default_factory=dict, init=False)

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

    @cached_property
    def component(self) -> IntArray:
        """Weakly connected component label of each node (0 is the largest)."""
        g = self._graph("length", False)
        n = self.n_nodes
        adjacency = sparse.csr_matrix((np.ones(g.indices.size), g.indices, g.indptr), shape=(n, n))
        _, labels = csgraph.connected_components(adjacency, directed=True, connection="weak")
        # relabel so that 0 is the largest component, 1 the next, ...
        order = np.argsort(-np.bincount(labels), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[labels].astype(np.int64)

    @classmethod
    def from_gdfs(
        cls,
        nodes: pd.DataFrame,
        edges: gpd.GeoDataFrame,
        *,
        mode: Mode = "walk",
        speed_kmh: float | None = None,
    ) -> Network:
        """Build a network from node and edge tables; same as :func:`build_network`."""
        return build_network(nodes, edges, mode=mode, speed_kmh=speed_kmh)

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

    Returns
    -------
    Network
        The prepared graph; the input tables are not modified.

    Raises
    ------
    ValidationError
        If a table lacks a required column, an edge refers to a missing node, or a length or
        speed is not a finite positive number.
    CRSError
        If the edges have no CRS or a geographic one.
    EmptyDataError
        If there are no edges.
    """
    if mode not in DEFAULT_SPEED_KMH:
        raise ValidationError(
            f"mode must be 'walk', 'bike' or 'drive', not {mode!r}.",
            message_fr=f"mode doit valoir 'walk', 'bike' ou 'drive', et non {mode!r}.",
        )
    speed = DEFAULT_SPEED_KMH[mode] if speed_kmh is None else float(speed_kmh)
    if not math.isfinite(speed) or speed <= 0:
        raise ValidationError(
            f"speed_kmh must be a positive number of km/h, not {speed_kmh!r}.",
            message_fr=f"speed_kmh doit être une vitesse positive en km/h, et non {speed_kmh!r}.",
        )
    if not isinstance(edges, gpd.GeoDataFrame):
        raise ValidationError(
            "edges must be a GeoDataFrame (osmnx graph_to_gdfs convention).",
            message_fr="edges doit être un GeoDataFrame (convention graph_to_gdfs d'osmnx).",
        )
    if not isinstance(nodes, pd.DataFrame):
        raise ValidationError(
            "nodes must be a (Geo)DataFrame indexed by node id.",
            message_fr="nodes doit être un (Geo)DataFrame indexé par identifiant de nœud.",
        )
    if len(edges) == 0:
        raise EmptyDataError(
            "The edge table is empty: build the network from an extract that contains streets.",
            message_fr="La table des arcs est vide : construisez le réseau à partir d'un extrait "
            "qui contient des rues.",
        )
    crs = _check_projected_crs(edges.crs, "edges")
    node_crs = getattr(nodes, "crs", None)
    if node_crs is not None and node_crs is not crs and CRS.from_user_input(node_crs) != crs:
        raise CRSError(
            "nodes and edges are in different CRS: reproject both to EPSG:2154.",
            message_fr="nodes et edges sont dans des CRS différents : reprojetez-les tous deux en "
            "EPSG:2154.",
        )
    if "length" not in edges.columns:
        raise ValidationError(
            "edges has no 'length' column: add edge lengths in metres (osmnx does).",
            message_fr="edges n'a pas de colonne 'length' : ajoutez la longueur des arcs en "
            "mètres (osmnx le fait).",
        )
    if not nodes.index.is_unique:
        raise ValidationError(
            "The node index has duplicate ids: each node id must appear once.",
            message_fr="L'index des nœuds contient des doublons : chaque identifiant doit être "
            "unique.",
        )
    return _build_network(nodes, edges, mode=mode, speed=speed, crs=crs)


def _build_network(
    nodes: pd.DataFrame, edges: gpd.GeoDataFrame, *, mode: str, speed: float, crs: CRS
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
            f"{int(missing.sum())} edges refer to node ids absent from nodes: pass the node "
            "table of the same graph.",
            message_fr=f"{int(missing.sum())} arcs renvoient à des nœuds absents de nodes : "
            "passez la table des nœuds du même graphe.",
        )
    length = _numbers(edges["length"])
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        raise ValidationError(
            f"{int(bad.sum())} edges have a missing, infinite or negative 'length': fix or drop "
            "them.",
            message_fr=f"{int(bad.sum())} arcs ont une longueur ('length') manquante, infinie ou "
            "négative : corrigez-les ou retirez-les.",
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
    canonical = np.flatnonzero((twin < 0) | (np.arange(twin.size) < twin))
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
        _snap_edges=canonical.astype(np.int64),
        _snap_index=_snap_index(
            geometry, canonical, coords, first_vertex, n_vertex, eu, ev, node_xy
        ),
        _time_per_m=flat if proportional else None,
    )
    logger.info("built %r", net)
    return net


def _check_projected_crs(crs: Any, name: str) -> CRS:
    if crs is None:
        raise CRSError(
            f"{name} has no CRS: set it (e.g. .set_crs(2154)) or reproject with .to_crs(2154).",
            message_fr=f"{name} n'a pas de CRS : définissez-le (ex. .set_crs(2154)) ou "
            "reprojetez avec .to_crs(2154).",
        )
    out = CRS.from_user_input(crs)
    if not out.is_projected:
        raise CRSError(
            f"{name} is in a geographic CRS ({out.to_string()}): reproject to metres with "
            ".to_crs(2154).",
            message_fr=f"{name} est dans un CRS géographique ({out.to_string()}) : reprojetez "
            "en mètres avec .to_crs(2154).",
        )
    return out


def _numbers(column: pd.Series) -> FloatArray:
    """A column as floats, NaN where it does not hold a number."""
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


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
            "nodes needs 'x' and 'y' columns or Point geometries.",
            message_fr="nodes doit avoir des colonnes 'x' et 'y' ou des géométries Point.",
        )
    xy = np.column_stack([x, y]).astype(np.float64)
    if not np.isfinite(xy).all():
        raise ValidationError(
            "Some nodes have missing coordinates: drop them or fill 'x' and 'y'.",
            message_fr="Des nœuds n'ont pas de coordonnées : retirez-les ou remplissez 'x' et 'y'.",
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
            "edges needs a (u, v, key) MultiIndex or 'u' and 'v' columns (osmnx graph_to_gdfs).",
            message_fr="edges doit avoir un MultiIndex (u, v, key) ou des colonnes 'u' et 'v' "
            "(graph_to_gdfs d'osmnx).",
        )
    labels = pd.MultiIndex.from_arrays([u, v, key], names=["u", "v", "key"])
    return u, v, labels


def _ragged(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Expand groups ``(start, count)``: the group of each element and ``start + rank``."""
    group = np.repeat(np.arange(counts.size), counts)
    rank = np.arange(group.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, starts[group] + rank


def _edge_geometries(
    edges: gpd.GeoDataFrame, node_xy: FloatArray, eu: IntArray, ev: IntArray
) -> tuple[GeomArray, FloatArray, IntArray, IntArray]:
    """Edge LineStrings from u to v, their vertices, and each edge's first vertex and count."""
    geoms = np.asarray(edges.geometry.array, dtype=object)
    types = shapely.get_type_id(geoms)
    if ((types != shapely.GeometryType.LINESTRING) & (types != shapely.GeometryType.MISSING)).any():
        raise ValidationError(
            "Edge geometries must be LineStrings: explode or merge the other geometries first.",
            message_fr="Les géométries des arcs doivent être des LineString : éclatez ou "
            "fusionnez les autres géométries d'abord.",
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
    return _Csr(indptr, cols[order][start].astype(np.int32), p1[sel], p2[sel])


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


def _check_weight(weight: str) -> Weight:
    if weight == "length":
        return "length"
    if weight == "time":
        return "time"
    raise ValidationError(
        f"weight must be 'length' or 'time', not {weight!r}.",
        message_fr=f"weight doit valoir 'length' ou 'time', et non {weight!r}.",
    )


# --------------------------------------------------------------------------------------------
# Snapping
# --------------------------------------------------------------------------------------------


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

    def split(self, k: int) -> tuple[_Snapped, _Snapped]:
        """The first ``k`` points, and the others."""
        head, tail = slice(None, k), slice(k, None)
        # a point of the tail at the place of one of the head stands for itself
        same = self.same[tail] - k
        same = np.where(same >= 0, same, np.arange(same.size))
        return (
            _Snapped(
                self.edge[head],
                self.fraction[head],
                self.snap_m[head],
                self.on[head],
                self.xy[head],
                self.same[head],
            ),
            _Snapped(
                self.edge[tail],
                self.fraction[tail],
                self.snap_m[tail],
                self.on[tail],
                self.xy[tail],
                same,
            ),
        )

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


def _snap(net: Network, xy: FloatArray, max_snap_m: float) -> _Snapped:
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
    if isinstance(obj, gpd.GeoDataFrame):
        series = obj.geometry
    elif isinstance(obj, gpd.GeoSeries):
        series = obj
    else:
        raise ValidationError(
            f"{name} must be a GeoSeries or a GeoDataFrame, not {type(obj).__name__}.",
            message_fr=f"{name} doit être une GeoSeries ou un GeoDataFrame, et non "
            f"{type(obj).__name__}.",
        )
    if series.crs is None:
        if len(series):
            raise CRSError(
                f"{name} has no CRS: set it with .set_crs(...) then .to_crs({crs.to_string()}).",
                message_fr=f"{name} n'a pas de CRS : définissez-le avec .set_crs(...) puis "
                f".to_crs({crs.to_string()}).",
            )
    elif series.crs is not crs and CRS.from_user_input(series.crs) != crs:
        raise CRSError(
            f"{name} is in {CRS.from_user_input(series.crs).to_string()}, the network in "
            f"{crs.to_string()}: reproject with .to_crs({crs.to_string()}).",
            message_fr=f"{name} est en {CRS.from_user_input(series.crs).to_string()}, le réseau "
            f"en {crs.to_string()} : reprojetez avec .to_crs({crs.to_string()}).",
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


def _check_positive(value: float, name: str) -> float:
    out = float(value)
    if not out > 0 or not math.isfinite(out):
        raise ValidationError(
            f"{name} must be a positive finite number, not {value!r}.",
            message_fr=f"{name} doit être un nombre positif fini, et non {value!r}.",
        )
    return out


# --------------------------------------------------------------------------------------------
# Search graphs: the real graph plus virtual source rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ends:
    """How snapped points connect to the two ends of their edge (private).

    For an origin (a point the path leaves from) ``a`` is the node reached forward along the
    edge and ``b`` the node reached back along its twin; for a destination (a point the path
    arrives at) ``a`` is the node the edge comes from and ``b`` the one its twin comes from.
    Costs include the snap distance; on a oneway edge ``b`` is reachable only from a point on
    that very node (cost: the snap distance), otherwise its cost is infinite. ``a1``/``b1`` are
    in the weight searched, ``a2``/``b2`` in the other one (None when not asked for).
    """

    a: IntArray
    b: IntArray
    a1: FloatArray
    b1: FloatArray
    a2: FloatArray | None = None
    b2: FloatArray | None = None

    def read(self, dist: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Best cost through either end from node distances ``dist`` (k, n); True where via b."""
        via_a = dist[:, self.a] + self.a1
        via_b = dist[:, self.b] + self.b1
        use_b = via_b < via_a
        return np.where(use_b, via_b, via_a), use_b


def _weights(net: Network, weight: Weight) -> tuple[FloatArray, float]:
    """Per-edge weight and the cost of one metre of snap distance, for a weight."""
    if weight == "length":
        return net.edge_length, 1.0
    return net.edge_time, net.flat_min_per_m


def _other(weight: Weight) -> Weight:
    return "time" if weight == "length" else "length"


def _ends(
    net: Network,
    pts: _Snapped,
    idx: IntArray,
    weight: Weight,
    *,
    origin: bool,
    secondary: bool = False,
) -> _Ends:
    e = pts.edge[idx]
    f = pts.fraction[idx]
    s = pts.snap_m[idx]
    t = net.edge_twin[e]
    two = t >= 0
    tt = np.where(two, t, 0)
    fwd, back = (1 - f, f) if origin else (f, 1 - f)
    # without a twin, the far end is reachable only when the point is on it
    oneway = np.where(back == 0, 0.0, np.inf)
    costs = []
    for w in (weight, _other(weight)) if secondary else (weight,):
        we, per_m = _weights(net, w)
        snap = s * per_m
        costs.append(snap + fwd * we[e])
        costs.append(snap + np.where(two, back * we[tt], oneway))
    a, b = (net.edge_v[e], net.edge_u[e]) if origin else (net.edge_u[e], net.edge_v[e])
    return _Ends(a, b, *costs)


def _same_edge(
    net: Network,
    origins: _Snapped,
    o_idx: IntArray,
    dests: _Snapped,
    d_idx: IntArray,
    weight: Weight,
    *,
    secondary: bool = False,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray | None]:
    """Direct paths along a shared street from origins to destinations on the same edge.

    Returns origin and destination positions and the cost of each path in the weight searched
    and, when ``secondary``, in the other one.
    Only points strictly inside their edge need them: a path from or to a point on a node
    goes through that node, which the node distances already cover.
    """
    o_idx = o_idx[(origins.fraction[o_idx] > 0) & (origins.fraction[o_idx] < 1)]
    d_idx = d_idx[(dests.fraction[d_idx] > 0) & (dests.fraction[d_idx] < 1)]
    if not o_idx.size or not d_idx.size:
        none = np.empty(0, dtype=np.int64)
        return none, none, np.empty(0), np.empty(0) if secondary else None
    d_edge = dests.edge[d_idx]
    order = np.argsort(d_edge, kind="stable")
    d_sorted = d_idx[order]
    o_edge = origins.edge[o_idx]
    lo = np.searchsorted(d_edge[order], o_edge, side="left")
    hi = np.searchsorted(d_edge[order], o_edge, side="right")
    count = hi - lo
    oi = np.repeat(o_idx, count)
    pos = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
    di = d_sorted[pos]
    e = origins.edge[oi]
    t = net.edge_twin[e]
    fo, fd = origins.fraction[oi], dests.fraction[di]
    ahead = fd >= fo
    back = (fd <= fo) & (t >= 0)
    costs = []
    for w in (weight, _other(weight)) if secondary else (weight,):
        we, per_m = _weights(net, w)
        snap = (origins.snap_m[oi] + dests.snap_m[di]) * per_m
        fwd = np.where(ahead, snap + (fd - fo) * we[e], np.inf)
        rev = np.where(back, snap + (fo - fd) * we[np.where(t >= 0, t, 0)], np.inf)
        costs.append((fwd, rev))
    use_rev = costs[0][1] < costs[0][0]
    c1 = np.where(use_rev, costs[0][1], costs[0][0])
    ok = np.isfinite(c1)
    if not secondary:
        return oi[ok], di[ok], c1[ok], None
    c2 = np.where(use_rev, costs[1][1], costs[1][0])
    return oi[ok], di[ok], c1[ok], c2[ok]


@dataclass(frozen=True)
class _Search:
    """The real graph with virtual source rows appended (private)."""

    matrix: sparse.csr_matrix
    secondary: FloatArray | None  # aligned to matrix.data, when asked for
    n: int

    def secondary_of(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """Secondary weight of the stored edges ``rows[i] -> cols[i]``."""
        assert self.secondary is not None, "search graph built without the secondary weight"
        indptr = self.matrix.indptr
        size = self.matrix.shape[0]
        row_of = np.repeat(np.arange(size, dtype=np.int64), np.diff(indptr))
        keys = row_of * size + self.matrix.indices
        pos = np.searchsorted(keys, rows * size + cols)
        return self.secondary[pos]


def _search_graph(
    net: Network,
    weight: Weight,
    *,
    reverse: bool,
    rows: IntArray,
    cols: IntArray,
    w1: FloatArray,
    w2: FloatArray | None,
    n_virtual: int,
) -> _Search:
    """Append ``n_virtual`` source rows (local ids ``rows``) to the real graph.

    With a secondary weight ``w2`` (needed to read it along shortest-path trees) each (row,
    col) is kept once, the lightest, columns sorted; without, rows may repeat a column: the
    search takes the lightest of parallel entries.
    """
    base = net._graph(weight, reverse)
    keep = np.isfinite(w1)
    rows, cols, w1 = rows[keep], cols[keep], w1[keep]
    if w2 is None:
        order = np.argsort(rows, kind="stable")
        rows, cols, w1 = rows[order], cols[order], w1[order]
        secondary = None
    else:
        w2 = w2[keep]
        # one entry per (row, col): the lightest, rows then columns sorted
        order = np.lexsort((w2, w1, cols, rows))
        rows, cols, w1, w2 = rows[order], cols[order], w1[order], w2[order]
        first = np.ones(rows.size, dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, w1, w2 = rows[first], cols[first], w1[first], w2[first]
        secondary = np.concatenate([base.secondary, w2])
    n = net.n_nodes
    indptr = np.concatenate(
        [base.indptr, base.indptr[-1] + np.cumsum(np.bincount(rows, minlength=n_virtual))]
    ).astype(np.int32)
    indices = np.concatenate([base.indices, cols.astype(np.int32)])
    size = n + n_virtual
    matrix = sparse.csr_matrix(
        (np.concatenate([base.primary, w1]), indices, indptr), shape=(size, size)
    )
    return _Search(matrix=matrix, secondary=secondary, n=n)


def _source_rows(
    ends: _Ends, row: IntArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray | None]:
    """Virtual-row entries joining each point (or its group ``row``) to its edge's ends."""
    return (
        np.concatenate([row, row]),
        np.concatenate([ends.a, ends.b]),
        np.concatenate([ends.a1, ends.b1]),
        None if ends.a2 is None or ends.b2 is None else np.concatenate([ends.a2, ends.b2]),
    )


def _chunk(n_sources: int, width: int) -> int:
    return max(1, min(n_sources, _CHUNK_CELLS // max(width, 1)))


def _path_secondary(search: _Search, pred: npt.NDArray[Any]) -> FloatArray:
    """Sum the secondary weight along each shortest-path tree, by pointer jumping."""
    k, size = pred.shape
    own = np.broadcast_to(np.arange(size, dtype=np.int64), (k, size))
    parent = pred.astype(np.int64)
    has = parent >= 0
    acc = np.zeros((k, size))
    acc[has] = search.secondary_of(parent[has], own[has])
    offset = (np.arange(k, dtype=np.int64) * size)[:, None]
    flat_parent = (np.where(has, parent, own) + offset).ravel()
    flat_acc = acc.ravel()
    while True:
        grand = flat_parent[flat_parent]
        if np.array_equal(grand, flat_parent):
            break
        flat_acc = flat_acc + flat_acc[flat_parent]
        flat_parent = grand
    return flat_acc.reshape(k, size)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pois:
    snapped: _Snapped  # on: snapped within the limit and of a category asked for
    cat: IntArray  # category position of each amenity, -1 when not asked for
    categories: list[Hashable]


def _homes_and_pois(
    net: Network,
    homes: gpd.GeoSeries | gpd.GeoDataFrame,
    pois: gpd.GeoDataFrame,
    category_column: str,
    categories: Sequence[Hashable] | None,
    max_snap_m: float,
) -> tuple[pd.Index, _Snapped, _Pois]:
    """Validate homes and amenities and snap them all at once."""
    index, home_xy = _points(homes, net.crs, "homes")
    if not isinstance(pois, gpd.GeoDataFrame):
        raise ValidationError(
            f"pois must be a GeoDataFrame with a {category_column!r} column, not "
            f"{type(pois).__name__}.",
            message_fr=f"pois doit être un GeoDataFrame avec une colonne {category_column!r}, "
            f"et non {type(pois).__name__}.",
        )
    if category_column not in pois.columns:
        raise ValidationError(
            f"pois has no {category_column!r} column (it has {list(pois.columns)}): pass "
            "category_column=... naming the amenity category.",
            message_fr=f"pois n'a pas de colonne {category_column!r} (colonnes : "
            f"{list(pois.columns)}) : passez category_column=... avec la catégorie "
            "d'équipement.",
        )
    values = pois[category_column]
    if categories is None:
        cats: list[Hashable] = sorted(pd.unique(values.dropna()).tolist(), key=str)
    else:
        cats = list(dict.fromkeys(categories))
    _, poi_xy = _points(pois, net.crs, "pois")
    # category position of each amenity: the few distinct values looked up once each (hashing
    # numpy objects: several times quicker than through pyarrow-backed strings)
    found, distinct = pd.factorize(values.to_numpy(dtype=object))
    position = {cat: i for i, cat in enumerate(cats)}
    lookup = np.array([position.get(v, -1) for v in distinct] + [-1], dtype=np.int64)
    codes = lookup[found]  # a missing category (code -1) reads the trailing -1
    both = _snap(net, np.concatenate([home_xy, poi_xy]), max_snap_m)
    k = home_xy.shape[0]
    h, p = both.split(k)
    off = (codes >= 0) & ~p.on
    if off.any():
        n_off = int(off.sum())
        warnings.warn(
            QetGeoWarning(
                f"{n_off} amenities are more than {max_snap_m:g} m from any street (or have no "
                "geometry) and are left out; raise max_snap_m to keep them.",
                message_fr=f"{n_off} équipement(s) à plus de {max_snap_m:g} m de toute rue (ou "
                "sans géométrie) sont écartés ; augmentez la distance d'accroche pour les garder.",
            ),
            stacklevel=3,
        )
    _warn_off_network(h, max_snap_m, "homes", stacklevel=4)
    return index, h, _Pois(snapped=p.keep(codes >= 0), cat=codes, categories=cats)


def _warn_off_network(
    snapped: _Snapped, max_snap_m: float, what: str, *, stacklevel: int = 3
) -> None:
    off = ~snapped.on
    if off.any():
        n_off = int(off.sum())
        what_fr = {"homes": "logements", "points": "points"}.get(what, what)
        warnings.warn(
            QetGeoWarning(
                f"{n_off} of {off.size} {what} are more than {max_snap_m:g} m from any street (or "
                "have no geometry): they are flagged off_network and get no result; raise "
                "max_snap_m or check the street extract covers them.",
                message_fr=f"{n_off} {what_fr} sur {off.size} sont à plus de {max_snap_m:g} m de "
                "toute rue (ou sans géométrie) : marqués hors réseau, sans résultat ; augmentez "
                "la distance d'accroche ou vérifiez que l'extrait des rues les couvre.",
            ),
            stacklevel=stacklevel,
        )


def nearest(
    network: Network,
    homes: gpd.GeoSeries | gpd.GeoDataFrame,
    pois: gpd.GeoDataFrame,
    *,
    category_column: str = "category",
    categories: Sequence[Hashable] | None = None,
    weight: Weight = "length",
    cutoff_m: float | None = DEFAULT_CUTOFF_M,
    cutoff_min: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Compute, for every home, the network distance and time to the nearest amenity by category.

    Parameters
    ----------
    network
        The network built by :func:`build_network`.
    homes
        Homes (points, or buildings whose representative point is used) in the network's CRS.
    pois
        Amenities with a category column, in the network's CRS.
    category_column
        Column of ``pois`` holding the category.
    categories
        Categories to report, in this order; defaults to those present in ``pois``, sorted. A
        category with no amenity gets NaN everywhere.
    weight
        "length" to follow the shortest path, "time" the fastest one (they differ with slopes).
    cutoff_m
        Longest path reported (m); farther amenities are out of reach (NaN). ``None``: no limit.
    cutoff_min
        Longest travel time reported (min). ``None``: no limit.
    max_snap_m
        Farthest a home or an amenity may be from a street (m), see :func:`snap`.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``homes.index``: for each category ``<category>_m`` (network distance in
        metres, snap distances of both ends included) and ``<category>_min`` (travel time in
        minutes along the same path), NaN when no amenity is in reach; then ``snap_m`` and
        ``off_network`` (see :func:`snap`).

    Notes
    -----
    The path runs from the home to the amenity, following edge directions. All amenities of a
    category join one virtual source at their partial-edge and snap costs; one Dijkstra per
    category, bounded by the cutoff, runs from it on the reversed graph and every home then
    reads its value at the two ends of its own edge (or directly along a street it shares with
    an amenity). The cost is that of ``len(categories)`` bounded searches, whatever the number
    of homes and amenities.
    """
    weight = _check_weight(weight)
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    cut_m = None if cutoff_m is None else _check_positive(cutoff_m, "cutoff_m")
    cut_min = None if cutoff_min is None else _check_positive(cutoff_min, "cutoff_min")
    index, h, p = _homes_and_pois(network, homes, pois, category_column, categories, max_snap_m)
    values = _nearest(network, h, p, weight=weight, cutoff_m=cut_m, cutoff_min=cut_min)
    columns = [f"{cat}_{unit}" for cat in p.categories for unit in ("m", "min")]
    return _table(index, columns, values, h)


def _nearest(
    net: Network,
    homes: _Snapped,
    pois: _Pois,
    *,
    weight: Weight,
    cutoff_m: float | None,
    cutoff_min: float | None,
) -> FloatArray:
    """Metres (row ``2 c``) and minutes (row ``2 c + 1``) to category ``c``, per home."""
    n_cats = len(pois.categories)
    h_idx, column = homes.distinct()
    # results per distinct place, then a column of NaN for the homes off the network
    res = np.full((2 * n_cats, h_idx.size + 1), np.nan)
    p_idx = np.flatnonzero(pois.snapped.on)
    if not p_idx.size or not h_idx.size:
        return res.take(column, axis=1)
    if weight == "length":
        limit = math.inf if cutoff_m is None else cutoff_m
    elif cutoff_min is not None:
        limit = cutoff_min
    elif cutoff_m is not None:
        # no path of at most cutoff_m metres takes longer than this
        slowest = float(np.max(net.edge_time / np.maximum(net.edge_length, 1e-12)))
        limit = cutoff_m * max(slowest, net.flat_min_per_m)
    else:
        limit = math.inf

    # with slopes, the other weight is summed along the shortest-path trees; without, it is
    # a mere rescaling of the weight searched
    exact_ratio = net._time_per_m
    tree = exact_ratio is None
    p_ends = _ends(net, pois.snapped, p_idx, weight, origin=False, secondary=tree)
    rows, cols, w1, w2 = _source_rows(p_ends, pois.cat[p_idx])
    search = _search_graph(
        net, weight, reverse=True, rows=rows, cols=cols, w1=w1, w2=w2, n_virtual=n_cats
    )
    h_ends = _ends(net, homes, h_idx, weight, origin=True, secondary=tree)
    oi, di, c1, c2 = _same_edge(net, homes, h_idx, pois.snapped, p_idx, weight, secondary=tree)
    home_pos = np.searchsorted(h_idx, oi)
    pair_cat = pois.cat[di]
    if oi.size > 1:
        # the best direct path per (category, home)
        order = np.lexsort((c1, home_pos, pair_cat))
        cat_o, pos_o = pair_cat[order], home_pos[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = (cat_o[1:] != cat_o[:-1]) | (pos_o[1:] != pos_o[:-1])
        best = order[first]
        pair_cat, home_pos, c1 = pair_cat[best], home_pos[best], c1[best]
        c2 = None if c2 is None else c2[best]

    present = np.flatnonzero(np.bincount(pois.cat[p_idx], minlength=n_cats))
    step = _chunk(present.size, search.matrix.shape[0])
    for start in range(0, present.size, step):
        cats = present[start : start + step]
        sources = net.n_nodes + cats
        sec: FloatArray | None = None
        if exact_ratio is None:
            dist, pred = csgraph.dijkstra(
                search.matrix, indices=sources, limit=limit, return_predecessors=True
            )
            prim, use_b = h_ends.read(dist)
            tree_sec = _path_secondary(search, pred)
            assert h_ends.a2 is not None and h_ends.b2 is not None
            sec = np.where(
                use_b, tree_sec[:, h_ends.b] + h_ends.b2, tree_sec[:, h_ends.a] + h_ends.a2
            )
        else:
            dist = csgraph.dijkstra(search.matrix, indices=sources, limit=limit)
            prim, _ = h_ends.read(dist)
        if pair_cat.size:
            # direct paths along a street shared with an amenity of the category
            row_of_cat = np.full(n_cats, -1, dtype=np.int64)
            row_of_cat[cats] = np.arange(cats.size)
            sel = row_of_cat[pair_cat] >= 0
            r, col = row_of_cat[pair_cat[sel]], home_pos[sel]
            better = c1[sel] < prim[r, col]
            prim[r[better], col[better]] = c1[sel][better]
            if sec is not None and c2 is not None:
                sec[r[better], col[better]] = c2[sel][better]
        if exact_ratio is not None:
            # time proportional to length: the other weight of a path is a mere rescaling
            sec = prim * exact_ratio if weight == "length" else prim / exact_ratio
        assert sec is not None
        meters, minutes = (prim, sec) if weight == "length" else (sec, prim)
        ok = np.isfinite(prim) & (prim <= limit)
        if cutoff_m is not None:
            ok &= meters <= cutoff_m
        if cutoff_min is not None:
            ok &= minutes <= cutoff_min
        res[2 * cats, :-1] = np.where(ok, meters, np.nan)
        res[2 * cats + 1, :-1] = np.where(ok, minutes, np.nan)
        logger.debug("nearest: %d of %d categories searched", start + cats.size, present.size)
    return res.take(column, axis=1)


def _thresholds(
    thresholds_min: Sequence[float] | None, thresholds_m: Sequence[float] | None
) -> tuple[Weight, FloatArray, list[str]]:
    if thresholds_min is not None and thresholds_m is not None:
        raise ValidationError(
            "Pass thresholds_min or thresholds_m, not both.",
            message_fr="Passez thresholds_min ou thresholds_m, pas les deux.",
        )
    weight: Weight
    if thresholds_m is not None:
        values = [_check_positive(t, "thresholds_m") for t in thresholds_m]
        weight = "length"
        suffixes = [f"n{t:g}m" for t in values]
    else:
        raw = (5.0, 10.0, 15.0) if thresholds_min is None else thresholds_min
        values = [_check_positive(t, "thresholds_min") for t in raw]
        weight = "time"
        suffixes = [f"n{t:g}" for t in values]
    if not values:
        raise ValidationError(
            "Give at least one threshold.", message_fr="Donnez au moins un seuil."
        )
    return weight, np.asarray(values, dtype=np.float64), suffixes


def count_within(
    network: Network,
    homes: gpd.GeoSeries | gpd.GeoDataFrame,
    pois: gpd.GeoDataFrame,
    *,
    thresholds_min: Sequence[float] | None = None,
    thresholds_m: Sequence[float] | None = None,
    category_column: str = "category",
    categories: Sequence[Hashable] | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Count, for every home, the amenities of each category reachable within thresholds.

    Parameters
    ----------
    network
        The network built by :func:`build_network`.
    homes
        Homes (points, or buildings whose representative point is used) in the network's CRS.
    pois
        Amenities with a category column, in the network's CRS.
    thresholds_min
        Travel times in minutes; defaults to (5, 10, 15) when ``thresholds_m`` is not given.
    thresholds_m
        Network distances in metres, instead of times.
    category_column
        Column of ``pois`` holding the category.
    categories
        Categories to report, in this order; defaults to those present in ``pois``, sorted.
    max_snap_m
        Farthest a home or an amenity may be from a street (m), see :func:`snap`.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``homes.index``: ``<category>_n<t>`` (``<category>_n<t>m`` for metres), the
        number of amenities reachable from the home within ``t`` (bound included), 0 when none
        is and for homes off the network; then ``snap_m`` and ``off_network``.

    Notes
    -----
    Each amenity is counted along its own shortest path from the home. The searches run from
    whichever side has fewer points, bounded by the largest threshold: one Dijkstra per amenity
    on the reversed graph, or one per home on the graph.
    """
    weight, values, suffixes = _thresholds(thresholds_min, thresholds_m)
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    index, h, p = _homes_and_pois(network, homes, pois, category_column, categories, max_snap_m)
    counts = _count_within(network, h, p, weight=weight, thresholds=values)
    columns = [f"{cat}_{suffix}" for cat in p.categories for suffix in suffixes]
    return _table(index, columns, counts.reshape(len(columns), -1), h)


def _table(
    index: pd.Index, columns: list[str], values: npt.NDArray[Any], snapped: _Snapped
) -> pd.DataFrame:
    """The result table: one column per row of ``values``, then ``snap_m`` and ``off_network``."""
    k = values.shape[0]
    blocks = [
        (values, np.arange(k)),
        (snapped.snap_m[None, :], np.array([k])),
        (~snapped.on[None, :], np.array([k + 1])),
    ]
    names = pd.Index([*columns, "snap_m", "off_network"], dtype=object)
    if _from_blocks is None:  # pandas < 3: column by column
        return pd.DataFrame(
            {name: array[i] for array, at in blocks for i, name in enumerate(names[at])},
            index=index,
            columns=names,
            copy=False,
        )
    # one block per dtype at once, as pandas stores them (26 columns: 10 µs instead of 180)
    return _from_blocks(blocks, index=index, columns=names)


def _count_within(
    net: Network, homes: _Snapped, pois: _Pois, *, weight: Weight, thresholds: FloatArray
) -> npt.NDArray[np.int64]:
    """Amenities of category ``c`` within threshold ``t`` per home: (n_cats, n_thresholds, k)."""
    n_cats = len(pois.categories)
    h_idx, column = homes.distinct()
    # counts per distinct place, then a column of 0 for the homes off the network
    counts = np.zeros((n_cats, thresholds.size, h_idx.size + 1), dtype=np.int64)
    p_idx = np.flatnonzero(pois.snapped.on)
    if not h_idx.size or not p_idx.size:
        return counts.take(column, axis=2)
    limit = float(thresholds.max())
    oi, di, c1, _ = _same_edge(net, homes, h_idx, pois.snapped, p_idx, weight)
    h_pos = np.searchsorted(h_idx, oi)
    p_pos = np.searchsorted(p_idx, di)
    p_cat = pois.cat[p_idx]
    from_pois = p_idx.size <= h_idx.size
    if from_pois:
        # amenities as sources of the reversed graph, homes read as origins
        src_ends = _ends(net, pois.snapped, p_idx, weight, origin=False)
        tgt_ends = _ends(net, homes, h_idx, weight, origin=True)
        src_pair, tgt_pair = p_pos, h_pos
    else:
        # homes as sources of the graph, amenities read as destinations
        src_ends = _ends(net, homes, h_idx, weight, origin=True)
        tgt_ends = _ends(net, pois.snapped, p_idx, weight, origin=False)
        src_pair, tgt_pair = h_pos, p_pos
    n_src = src_ends.a.size
    rows, cols, w1, w2 = _source_rows(src_ends, np.arange(n_src))
    search = _search_graph(
        net, weight, reverse=from_pois, rows=rows, cols=cols, w1=w1, w2=w2, n_virtual=n_src
    )
    # category of each amenity as a one-hot matrix: counting is then a matrix product
    onehot = np.zeros((p_idx.size, n_cats))
    onehot[np.arange(p_idx.size), p_cat] = 1.0
    step = _chunk(n_src, search.matrix.shape[0])
    for start in range(0, n_src, step):
        stop = min(start + step, n_src)
        dist = csgraph.dijkstra(
            search.matrix, indices=net.n_nodes + np.arange(start, stop), limit=limit
        )
        cost, _ = tgt_ends.read(dist)
        sel = (src_pair >= start) & (src_pair < stop)
        np.minimum.at(cost, (src_pair[sel] - start, tgt_pair[sel]), c1[sel])
        for t, bound in enumerate(thresholds):
            within = (cost <= bound).astype(np.float64)
            if from_pois:  # within: amenities of the chunk x homes
                counts[:, t, :-1] += np.rint(onehot[start:stop].T @ within).astype(np.int64)
            else:  # within: homes of the chunk x amenities
                counts[:, t, start:stop] += np.rint(within @ onehot).astype(np.int64).T
        logger.debug("count_within: %d of %d searches", stop, n_src)
    return counts.take(column, axis=2)


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
        raise ValidationError(
            "Give at least one travel time in minutes.",
            message_fr="Donnez au moins un temps de parcours en minutes.",
        )
    buffer_m = _check_positive(buffer_m, "buffer_m")
    max_snap_m = _check_positive(max_snap_m, "max_snap_m")
    index, xy = _points(points, network.crs, "points")
    snapped = _snap(network, xy, max_snap_m)
    _warn_off_network(snapped, max_snap_m, "points")
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
