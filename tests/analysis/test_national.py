"""National comparison and before/after deltas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qet_geo.analysis.footprint import su_footprints
from qet_geo.analysis.national import ConstraintTypology, before_after, compare_neighbourhoods
from qet_geo.analysis.reference import reference_profiles
from qet_geo.errors import ValidationError
from qet_geo.privacy import DisclosureError, is_protected
from qet_geo.surveys.schema import USAGES


def _respondents(sizes: dict[str, int], seed: int = 0, shift: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for hood, n in sizes.items():
        levels = pd.DataFrame(
            np.clip(rng.integers(1, 4, size=(n, len(USAGES))) + shift, 1, 3), columns=list(USAGES)
        ).astype("Int8")
        feet = su_footprints(levels)
        feet["neighbourhood"] = hood
        feet["profile"] = rng.integers(0, 3, size=n)
        frames.append(feet)
    return pd.concat(frames, ignore_index=True)


def test_compare_weights_suppresses_and_ranks():
    r = _respondents({"A": 40, "B": 30, "C": 6}, seed=1)
    r["weight"] = 1.0
    r.loc[r["neighbourhood"] == "A", "weight"] = np.where(
        r.loc[r["neighbourhood"] == "A", "meat_frequency_kgco2e"] > 500, 3.0, 1.0
    )
    cells = pd.DataFrame(
        {
            "neighbourhood": ["A", "A", "B", "B", "C"],
            "population": [100, 300, 50, 50, 10],
            "food_shop_min": [2.0, 6.0, 10.0, 12.0, 20.0],
        }
    )
    out = compare_neighbourhoods(r, weight="weight", constraints=cells, n_types=2)
    assert is_protected(out)
    assert out.loc["A", "n_respondents"] == 40
    a = r[r["neighbourhood"] == "A"]
    expected = np.average(a["total_kgco2e"], weights=a["weight"])
    assert out.loc["A", "total_kgco2e"] == pytest.approx(expected)
    # C has 6 respondents: no respondent figure at all, but its constraints stay
    assert out.loc["C", "n_respondents"] == 0 and np.isnan(out.loc["C", "total_kgco2e"])
    assert out.loc["A", "food_shop_min"] == pytest.approx((2 * 100 + 6 * 300) / 400)
    assert sorted(out["rank_total_kgco2e"].dropna().tolist()) == [1, 2]
    mix = out.filter(like="mix_")
    assert mix.loc["A"].sum() == pytest.approx(1.0)
    assert set(out["type"]) <= {0, 1}


def test_typology_is_an_estimator():
    X = pd.DataFrame({"a": [1.0, 1.1, 9.0, 9.2], "b": [0.0, 0.1, 5.0, 5.1]})
    t = ConstraintTypology(2, random_state=0).fit(X)
    assert list(t.labels_) == [0, 0, 1, 1]
    assert list(t.predict(X)) == [0, 0, 1, 1]
    with pytest.raises(ValidationError):
        ConstraintTypology(0).fit(X)


def test_before_after_detects_a_real_change():
    ref = reference_profiles()
    before = su_footprints(ref)
    lower = ref.copy()
    lower["meat_frequency"] = 1
    after = su_footprints(lower.astype("Int8"))
    d = before_after(before, after)
    meat = d.loc["meat_frequency_kgco2e"]
    assert meat["delta"] < 0 and meat["ci_high"] < 0
    same = before_after(before, before.sample(frac=1, random_state=0))
    assert (same["ci_low"] <= 0).all() and (same["ci_high"] >= 0).all()


def test_before_after_refuses_small_campaigns():
    r = _respondents({"A": 30, "B": 5})
    with pytest.raises(DisclosureError):
        before_after(r[r["neighbourhood"] == "A"], r[r["neighbourhood"] == "B"])
    with pytest.raises(ValidationError):
        before_after(r, r, confidence=2.0)
