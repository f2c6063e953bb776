"""The order of the stops: Held-Karp against brute force, the heuristic near the optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qet_geo.errors import ValidationError
from qet_geo.visit.order import order_stops, route_cost
from tests.visit.conftest import brute_force, euclidean

# --------------------------------------------------------------------------------------------
# ordering
# --------------------------------------------------------------------------------------------


@st.composite
def instances(draw):
    k = draw(st.integers(2, 7))
    values = draw(st.lists(st.integers(0, 60), min_size=k * k, max_size=k * k))
    c = np.asarray(values, dtype=float).reshape(k, k)  # small integers: many ties
    np.fill_diagonal(c, 0.0)
    start = draw(st.one_of(st.none(), st.integers(0, k - 1)))
    return c, start, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(instances())
def test_held_karp_equals_brute_force(instance):
    c, start, loop = instance
    order = order_stops(c, start=start, loop=loop, method="exact")
    assert sorted(order) == list(range(len(c)))
    if start is not None:
        assert order[0] == start
    assert route_cost(c, order, loop=loop) == pytest.approx(brute_force(c, start, loop), abs=1e-9)


def test_held_karp_equals_brute_force_on_real_size():
    rng = np.random.default_rng(7)
    for start, loop in ((0, False), (0, True), (None, False), (None, True)):
        c = euclidean(rng, 9)
        order = order_stops(c, start=start, loop=loop)  # "auto": exact at this size
        assert route_cost(c, order, loop=loop) == pytest.approx(brute_force(c, start, loop))


def test_heuristic_near_exact_and_never_worse_than_nearest_neighbour():
    rng = np.random.default_rng(2024)
    gaps = []
    for trial in range(24):
        c = euclidean(rng, 10 + trial % 3)
        for start, loop in ((0, False), (0, True), (None, False)):
            cost = {
                m: route_cost(c, order_stops(c, start=start, loop=loop, method=m), loop=loop)
                for m in ("exact", "heuristic", "nearest_neighbour")
            }
            assert cost["heuristic"] <= cost["nearest_neighbour"] + 1e-12
            assert cost["exact"] <= cost["heuristic"] + 1e-12
            gaps.append(cost["heuristic"] / cost["exact"] - 1)
    gaps_arr = np.asarray(gaps)
    assert gaps_arr.max() < 0.05
    assert gaps_arr.mean() < 0.005
    assert (gaps_arr < 1e-9).mean() > 0.85  # optimal on most instances


def test_heuristic_is_a_local_optimum_on_a_large_instance():
    rng = np.random.default_rng(3)
    c = euclidean(rng, 40)
    order = order_stops(c, start=0)  # heuristic above 12 stops
    assert order[0] == 0 and sorted(order) == list(range(40))
    best = route_cost(c, order)
    nn = route_cost(c, order_stops(c, start=0, method="nearest_neighbour"))
    assert best <= nn
    for i, j in itertools.combinations(range(1, 40), 2):  # no 2-opt move improves it
        moved = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
        assert route_cost(c, moved) >= best - 1e-9
    for i in range(1, 40):  # nor moving one stop elsewhere
        rest = order[:i] + order[i + 1 :]
        for p in range(1, 40):
            assert route_cost(c, [*rest[:p], order[i], *rest[p:]]) >= best - 1e-9


def test_order_stops_rejects_bad_costs():
    with pytest.raises(ValidationError):
        order_stops(np.ones((2, 3)))
    with pytest.raises(ValidationError, match="reachable"):
        order_stops(np.array([[0, np.inf], [1, 0]]))
    with pytest.raises(ValidationError):
        order_stops(np.zeros((3, 3)), start=5)
