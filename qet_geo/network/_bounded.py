"""Bounded searches from many sources, collected sparsely (private).

:func:`qet_geo.network.queries.count_within` counts, for every home, the amenities reachable
within a few minutes. A search per source bounded by the largest threshold reaches a few hundred
to a few thousand nodes in town, whatever the size of the extract; what costs is anything
proportional to the whole graph per source (a dense row of distances, a dense block of sources
by targets). :func:`bounded_counts` runs one Dijkstra per source with a binary heap and touches
only what it reaches: the distances it set are reset after each source, the targets it reached
are counted and reset. The work is linear in the number of sources times the size of a reach,
so it grows with the area like the homes and amenities do.

The kernel is compiled by numba (cached on disk after the first call). The distances are those
of :func:`scipy.sparse.csgraph.dijkstra` on the same graph: each node's distance is the smallest
``d[u] + w`` over its settled predecessors, the same floating-point sums, and a node farther
than the bound is not reached (scipy's ``limit``). Ties and bounds are therefore read alike.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

_INF = np.inf


@numba.njit(cache=True, nogil=True)
def _push(
    heap_d: npt.NDArray[np.float64], heap_v: npt.NDArray[np.int64], size: int, d: float, v: int
) -> int:
    """Push ``(d, v)`` on the binary heap of ``size`` entries; return the new size."""
    i = size
    heap_d[i] = d
    heap_v[i] = v
    while i > 0:
        parent = (i - 1) >> 1
        if heap_d[parent] <= d:
            break
        heap_d[i] = heap_d[parent]
        heap_v[i] = heap_v[parent]
        i = parent
    heap_d[i] = d
    heap_v[i] = v
    return size + 1


@numba.njit(cache=True, nogil=True)
def _pop(heap_d: npt.NDArray[np.float64], heap_v: npt.NDArray[np.int64], size: int) -> int:
    """Remove the smallest entry (read it at index 0 first); return the new size."""
    size -= 1
    d = heap_d[size]
    v = heap_v[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] < heap_d[child]:
            child += 1
        if heap_d[child] >= d:
            break
        heap_d[i] = heap_d[child]
        heap_v[i] = heap_v[child]
        i = child
    heap_d[i] = d
    heap_v[i] = v
    return size


@numba.njit(cache=True, nogil=True)
def bounded_counts(
    indptr: npt.NDArray[np.int32],
    indices: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float64],
    src_ptr: npt.NDArray[np.int64],
    src_node: npt.NDArray[np.int64],
    src_cost: npt.NDArray[np.float64],
    tgt_ptr: npt.NDArray[np.int64],
    tgt_id: npt.NDArray[np.int64],
    tgt_cost: npt.NDArray[np.float64],
    direct_ptr: npt.NDArray[np.int64],
    direct_tgt: npt.NDArray[np.int64],
    direct_cost: npt.NDArray[np.float64],
    thresholds: npt.NDArray[np.float64],
    src_group: npt.NDArray[np.int64],
    src_place: npt.NDArray[np.int64],
    tgt_group: npt.NDArray[np.int64],
    tgt_place: npt.NDArray[np.int64],
    out: npt.NDArray[np.int64],
) -> None:
    """Count, per (group, threshold, place), the source-target pairs within each threshold.

    The graph is the CSR ``indptr``/``indices``/``weights`` of its real nodes. Source ``s``
    starts at the nodes ``src_node[src_ptr[s]:src_ptr[s + 1]]`` at the costs ``src_cost`` (its
    edge's ends); target ``t`` is read at a node ``u`` as ``d[u] + tgt_cost`` for every entry
    of ``tgt_ptr[u]:tgt_ptr[u + 1]`` naming it (its own edge's ends), or directly at
    ``direct_cost`` for the entries of ``direct_ptr[s]:direct_ptr[s + 1]`` (a street both
    share). The cost of a pair is the smallest of these; pairs within ``thresholds[j]`` (bound
    included) add 1 to ``out[g, j, p]`` where ``g`` and ``p`` are the
    source's group and place when not negative, else the target's.
    """
    n = indptr.size - 1
    limit = thresholds.max()
    dist = np.full(n, _INF)
    touched = np.empty(n, dtype=np.int64)
    best = np.full(tgt_group.size, _INF)
    reached = np.empty(tgt_group.size, dtype=np.int64)
    heap_d = np.empty(indices.size + src_node.size + 1)
    heap_v = np.empty(indices.size + src_node.size + 1, dtype=np.int64)
    n_thr = thresholds.size
    for s in range(src_ptr.size - 1):
        n_touched = 0
        n_reached = 0
        size = 0
        for k in range(src_ptr[s], src_ptr[s + 1]):
            v = src_node[k]
            c = src_cost[k]
            if c <= limit and c < dist[v]:
                if dist[v] == _INF:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = c
                size = _push(heap_d, heap_v, size, c, v)
        while size > 0:
            d = heap_d[0]
            u = heap_v[0]
            size = _pop(heap_d, heap_v, size)
            if d > dist[u]:
                continue  # a stale entry: pushes are strict improvements, so u is settled
            for k in range(tgt_ptr[u], tgt_ptr[u + 1]):
                t = tgt_id[k]
                c = d + tgt_cost[k]
                if c < best[t]:
                    if best[t] == _INF:
                        reached[n_reached] = t
                        n_reached += 1
                    best[t] = c
            for k in range(indptr[u], indptr[u + 1]):
                v = indices[k]
                nd = d + weights[k]
                if nd <= limit and nd < dist[v]:
                    if dist[v] == _INF:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = nd
                    size = _push(heap_d, heap_v, size, nd, v)
        for k in range(direct_ptr[s], direct_ptr[s + 1]):
            t = direct_tgt[k]
            c = direct_cost[k]
            if c < best[t]:
                if best[t] == _INF:
                    reached[n_reached] = t
                    n_reached += 1
                best[t] = c
        g0 = src_group[s]
        p0 = src_place[s]
        for i in range(n_reached):
            t = reached[i]
            c = best[t]
            best[t] = _INF
            g = g0 if g0 >= 0 else tgt_group[t]
            p = p0 if p0 >= 0 else tgt_place[t]
            for j in range(n_thr):
                if c <= thresholds[j]:
                    out[g, j, p] += 1
        for i in range(n_touched):
            dist[touched[i]] = _INF
