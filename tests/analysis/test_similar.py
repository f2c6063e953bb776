"""Neighbourhoods like yours (qet_geo.analysis.similar) against a brute-force computation.

The brute force standardises each column and measures every distance with plain Python loops,
following the documented definition (mean 0, population standard deviation 1, a missing figure
at the column's mean, a constant column worth nothing, each group divided by the square root of
its number of columns), then sorts every other neighbourhood by (distance, id).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qet_geo.analysis.similar import similar_neighbourhoods, similarity_space
from qet_geo.errors import ValidationError


def _standardised(columns: dict[str, list[float | None]]) -> dict[str, list[float]]:
    out = {}
    for name, values in columns.items():
        known = [v for v in values if v is not None and not math.isnan(v)]
        mean = sum(known) / len(known) if known else 0.0
        filled = [mean if v is None or math.isnan(v) else v for v in values]
        mu = sum(filled) / len(filled)
        sd = math.sqrt(sum((v - mu) ** 2 for v in filled) / len(filled))
        out[name] = [0.0 if sd == 0 else (v - mu) / sd / math.sqrt(len(columns)) for v in filled]
    return out


def _brute(
    ids: list[int], constraints: dict[str, list], profiles: dict[str, list], target: int, k: int
) -> list[int]:
    cols = list(_standardised(constraints).values()) + list(_standardised(profiles).values())
    t = ids.index(target)
    dist = []
    for i, hood in enumerate(ids):
        if hood == target:
            continue
        dist.append((round(math.sqrt(sum((c[i] - c[t]) ** 2 for c in cols)), 12), hood))
    return [hood for _, hood in sorted(dist)[:k]]


def _tables(seed: int, n: int, missing: float) -> tuple[list[int], dict, dict]:
    rng = np.random.default_rng(seed)
    ids = [int(i) for i in rng.permutation(1000)[:n]]
    constraints = {
        "walk_min_food": list(rng.gamma(2, 4, n)),
        "transit_stop_m": list(rng.gamma(3, 120, n)),
        "cycle_share": list(rng.uniform(0, 1, n)),
        "constant": [5.0] * n,
    }
    mix = rng.dirichlet(np.ones(4), n)
    profiles = {f"profile_{j}": list(mix[:, j]) for j in range(4)}
    for values in constraints.values():
        for i in range(n):
            if rng.uniform() < missing:
                values[i] = None
    return ids, constraints, profiles


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 40),
    k=st.integers(1, 6),
    missing=st.sampled_from([0.0, 0.2]),
)
def test_the_nearest_are_the_brute_force_nearest(seed: int, n: int, k: int, missing: float) -> None:
    ids, constraints, profiles = _tables(seed, n, missing)
    space = similarity_space(
        pd.DataFrame(constraints, index=ids, dtype=float), pd.DataFrame(profiles, index=ids)
    )
    for target in ids[:5]:
        got = [s.id for s in similar_neighbourhoods(space, target, k=k)]
        assert got == _brute(ids, constraints, profiles, target, k)


def test_candidates_can_be_restricted_and_ties_go_to_the_smaller_id() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, -1.0, 1.0]}, index=[7, 3, 9, 1])
    space = similarity_space(frame)
    assert [s.id for s in similar_neighbourhoods(space, 7, k=3)] == [1, 3, 9]
    assert [s.id for s in similar_neighbourhoods(space, 7, k=3, among=[9, 3])] == [3, 9]
    assert similar_neighbourhoods(space, 7, among=[]) == []


def test_bad_requests_are_refused() -> None:
    space = similarity_space(pd.DataFrame({"a": [0.0, 1.0]}, index=[1, 2]))
    with pytest.raises(ValidationError):
        similar_neighbourhoods(space, 3)
    with pytest.raises(ValidationError):
        similar_neighbourhoods(space, 1, k=0)
    with pytest.raises(ValidationError):
        similarity_space(
            pd.DataFrame({"a": [0.0]}, index=[1]), pd.DataFrame({"p": [1.0]}, index=[2])
        )
