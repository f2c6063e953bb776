"""Search graphs: the real graph plus virtual source rows, and the costs of joining it (private).

The sources of a search are virtual rows appended to the graph's CSR, each joined to the two ends
of its edge at its initial cost (snap distance plus the part of the edge to travel, in the
directions the edge allows). With slopes, the other weight of a path (its time when searching by
length, its length when searching by time) is summed along the shortest-path tree by pointer
jumping (:func:`_path_secondary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qet_geo.network._common import BoolArray, FloatArray, IntArray, Weight
from qet_geo.network.snapping import _Snapped

if TYPE_CHECKING:
    from qet_geo.network.graph import Network

_CHUNK_CELLS = 1 << 23  # distance cells one Dijkstra batch may hold (64 MiB of float64)


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
