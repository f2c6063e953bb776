"""The order of the stops: the visit of least walking time, exact up to 12 stops.

:func:`order_stops` orders points over any cost matrix, open path or loop, with or without a
fixed start; :func:`route_cost` is the cost of an order.

Algorithms
----------
The order is exact for up to :data:`EXACT_MAX_STOPS` stops to order: Held-Karp dynamic
programming, ``O(2^n n^2)``, vectorised with numpy over all subsets of one size at a time. Above
it a near-optimal heuristic: nearest-neighbour tours from every possible first stop and a
cheapest-insertion tour, each improved by 2-opt (reverse a stretch) and Or-opt (move a run of 1
to 3 stops elsewhere, either way round) until no move shortens it, the best one kept. Every move
is evaluated with the exact, possibly asymmetric, costs (a slope makes a street quicker one way),
so the result is never worse than the nearest-neighbour tour; on random 10 to 12 stop instances
it is within a few per cent of the optimum, and usually equal to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from qet_geo.errors import (
    ValidationError,
)
from qet_geo.i18n import msg

__all__ = ["EXACT_MAX_STOPS", "Method", "order_stops", "route_cost"]

Method = Literal["auto", "exact", "heuristic", "nearest_neighbour"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EXACT_MAX_STOPS = 12
"""Most stops ordered exactly (Held-Karp) by ``method="auto"``; a heuristic above."""

_EXACT_HARD_LIMIT = 16  # Held-Karp memory grows as 2^n n^2: 16 is about 30 MB
_MAX_CONSTRUCTIONS = 30  # nearest-neighbour starts tried by the heuristic


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
            msg(
                "start doit être une position de la matrice des coûts (0 à {last}), et non "
                "{start!r}.",
                last=len(c) - 1,
                start=start,
            )
        )
    _check_method(method)
    order, _ = _order(c, start=start, loop=loop, method=method)
    return order


def _check_cost(cost: npt.ArrayLike) -> FloatArray:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValidationError(
            msg(
                "cost doit être une matrice carrée non vide, et non de forme {shape}.",
                shape=c.shape,
            )
        )
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValidationError(
            msg(
                "cost contient des valeurs négatives, infinies ou manquantes : chaque point doit "
                "être joignable depuis chacun des autres."
            )
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
                msg(
                    "L'ordre exact est limité à {limit} étapes ({m} données) : utilisez "
                    "method='heuristic'.",
                    limit=_EXACT_HARD_LIMIT,
                    m=m,
                )
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


def _check_method(method: str) -> None:
    if method not in ("auto", "exact", "heuristic", "nearest_neighbour"):
        raise ValidationError(
            msg(
                "method doit valoir 'auto', 'exact', 'heuristic' ou 'nearest_neighbour', et non "
                "{method!r}.",
                method=method,
            )
        )
