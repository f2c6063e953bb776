"""Queries from every home at once: the nearest amenity of each category, and counts within a time.

- :func:`nearest`: network distance (m) and travel time (min) to the nearest amenity of each
  category;
- :func:`count_within`: number of amenities of each category reachable within 5, 10, 15 minutes
  (or any thresholds, in minutes or metres).

Algorithms
----------
The graph is searched with :func:`scipy.sparse.csgraph.dijkstra`, bounded by the cutoff
(``limit``), from virtual source rows (:mod:`qet_geo.network._search`):

- :func:`nearest`: one virtual source per category, joined to the edge ends of all its
  amenities, searched on the reversed graph (paths run from the home to the amenity). That is a
  multi-source search with initial offsets: ``len(categories)`` bounded searches in all,
  whatever the number of homes and amenities. Every home then reads
  ``snap + min(rest of its edge + d[v], start of its edge + d[u])`` (the second term only if
  its street is two-way), or the direct way along a street it shares with an amenity.
- :func:`count_within`: one bounded search per amenity on the reversed graph, or per home on
  the graph, whichever side has fewer points (:mod:`qet_geo.network._bounded`): each touches only
  the nodes it reaches and adds its pairs to the counts of their category and home, so the cost
  is the number of sources times the size of a reach, linear in the area.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import csgraph

from qet_geo._validate import geo_frame
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import msg
from qet_geo.network._common import FloatArray, IntArray, Weight, _check_positive, _check_weight
from qet_geo.network._search import (
    _chunk,
    _ends,
    _path_secondary,
    _same_edge,
    _search_graph,
    _source_rows,
)
from qet_geo.network.snapping import (
    DEFAULT_MAX_SNAP_M,
    _points,
    _snap,
    _Snapped,
    _warn_off_network,
)

try:  # pandas >= 3: a table built from its blocks, without per-column checks
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover - pandas 2
    _from_blocks = None

if TYPE_CHECKING:
    from qet_geo.network.graph import Network

__all__ = ["DEFAULT_CUTOFF_M", "count_within", "nearest"]

logger = logging.getLogger(__name__)

DEFAULT_CUTOFF_M = 3000.0
"""Farthest network distance :func:`nearest` searches by default (m); beyond it: NaN."""


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
    hint = msg(
        "une ligne par équipement, avec une colonne {category_column!r}",
        category_column=category_column,
    )
    geo_frame(pois, what="pois", hint=hint)
    if category_column not in pois.columns:
        raise ValidationError(
            msg(
                "pois n'a pas de colonne {category_column!r} (colonnes : {columns}) : "
                "passez category_column=... avec la catégorie d'équipement.",
                category_column=category_column,
                columns=list(pois.columns),
            )
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
    # apart: the homes are the same for every query of a table (their snapping is kept)
    h, p = _snap(net, home_xy, max_snap_m), _snap(net, poi_xy, max_snap_m)
    off = (codes >= 0) & ~p.on
    if off.any():
        n_off = int(off.sum())
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{n_off} équipement(s) à plus de {max_snap_m:g} m de toute rue reliée au "
                    "réseau (ou sans géométrie) sont écartés ; augmentez la distance d'accroche "
                    "pour les garder.",
                    n_off=n_off,
                    max_snap_m=max_snap_m,
                )
            ),
            stacklevel=3,
        )
    _warn_off_network(h, max_snap_m, msg("logements"), stacklevel=4)
    return index, h, _Pois(snapped=p.keep(codes >= 0), cat=codes, categories=cats)


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
        raise ValidationError(msg("Passez thresholds_min ou thresholds_m, pas les deux."))
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
        raise ValidationError(msg("Donnez au moins un seuil."))
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
    oi, di, c1, _ = _same_edge(net, homes, h_idx, pois.snapped, p_idx, weight)
    h_pos = np.searchsorted(h_idx, oi)
    p_pos = np.searchsorted(p_idx, di)
    p_cat = pois.cat[p_idx]
    from_pois = p_idx.size <= h_idx.size
    none_h = np.full(h_idx.size, -1, dtype=np.int64)
    none_p = np.full(p_idx.size, -1, dtype=np.int64)
    if from_pois:
        # amenities as sources of the reversed graph, homes read as origins
        src_ends = _ends(net, pois.snapped, p_idx, weight, origin=False)
        tgt_ends = _ends(net, homes, h_idx, weight, origin=True)
        src_pair, tgt_pair = p_pos, h_pos
        keys = (p_cat, none_p, none_h, np.arange(h_idx.size, dtype=np.int64))
    else:
        # homes as sources of the graph, amenities read as destinations
        src_ends = _ends(net, homes, h_idx, weight, origin=True)
        tgt_ends = _ends(net, pois.snapped, p_idx, weight, origin=False)
        src_pair, tgt_pair = h_pos, p_pos
        keys = (none_h, np.arange(h_idx.size, dtype=np.int64), p_cat, none_p)
    from qet_geo.network._bounded import bounded_counts  # numba: imported when first needed

    graph = net._graph(weight, from_pois)
    n_src = src_ends.a.size
    # each source starts at its edge's two ends
    src_node = np.column_stack([src_ends.a, src_ends.b]).ravel().astype(np.int64)
    src_cost = np.column_stack([src_ends.a1, src_ends.b1]).ravel()
    # each target is read at its edge's two ends: entries grouped by node
    tgt_node = np.concatenate([tgt_ends.a, tgt_ends.b])
    tgt_cost = np.concatenate([tgt_ends.a1, tgt_ends.b1])
    tgt_id = np.tile(np.arange(tgt_ends.a.size, dtype=np.int64), 2)
    ok = np.isfinite(tgt_cost)
    order = np.argsort(tgt_node[ok], kind="stable")
    # direct paths along a street a source and a target share, grouped by source
    by_src = np.argsort(src_pair, kind="stable")
    bounded_counts(
        graph.indptr,
        graph.indices,
        graph.primary,
        np.arange(0, 2 * n_src + 1, 2, dtype=np.int64),
        src_node,
        src_cost,
        _offsets(tgt_node[ok], net.n_nodes),
        tgt_id[ok][order],
        tgt_cost[ok][order],
        _offsets(src_pair, n_src),
        tgt_pair[by_src].astype(np.int64),
        c1[by_src],
        thresholds,
        *keys,
        counts,
    )
    logger.debug("count_within: %d bounded searches", n_src)
    return counts.take(column, axis=2)


def _offsets(owner: IntArray, n: int) -> npt.NDArray[np.int64]:
    """CSR offsets of entries owned by ``owner`` (ids below ``n``), once sorted by owner."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=ptr[1:])
    return ptr
