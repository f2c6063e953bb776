"""Synthetic campaigns are never compared with real ones: before/after and national comparison.

The issue's case: a synthetic year 0 (``qet survey synthesize`` on Lorient) against the real
answers of NEAR's test survey (embedded by :mod:`qet_geo.analysis.reference`) showed a
"significant" drop of about a tonne of CO2e per person.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from qet_geo.analysis.footprint import su_footprints
from qet_geo.analysis.national import (
    before_after,
    before_after_moments,
    campaign_synthetic,
    compare_neighbourhoods,
    national_table,
)
from qet_geo.analysis.reference import reference_profiles
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.layers import build_layers
from qet_geo.privacy import is_protected
from qet_geo.surveys.schema import USAGES
from qet_geo.surveys.synthetic import synthesize_answers
from tests.conftest import shared


@pytest.fixture(scope="module")
def synthetic_year0() -> pd.DataFrame:
    """300 synthetic answers on Lorient (the command's default count and seed), footprints."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(shared("osm", "lorient_centre.osm.pbf"))
        answers = synthesize_answers(layers, 300, seed=0)
    feet = su_footprints(answers[list(USAGES)], usages=list(USAGES))
    feet["synthetic"] = answers["synthetic"]
    return feet


@pytest.fixture(scope="module")
def near() -> pd.DataFrame:
    """The 313 complete answers of NEAR's test survey: real answers, footprints."""
    levels = reference_profiles()[list(USAGES)].astype("Int8")
    return su_footprints(levels, usages=list(USAGES))


def test_the_issue_case_is_refused(synthetic_year0: pd.DataFrame, near: pd.DataFrame) -> None:
    assert campaign_synthetic(synthetic_year0) and not campaign_synthetic(near)
    # what the comparison showed before: a "significant" drop of about a tonne
    shown = before_after(synthetic_year0, near, synthetic=(False, False))
    total = shown.loc["total_kgco2e"]
    assert total["delta"] < -800 and total["ci_high"] < 0
    with pytest.raises(ValidationError) as err:
        before_after(synthetic_year0, near)
    fr = err.value.localized("fr")
    assert "campagne d'avant est synthétique" in fr and "celle d'après réelle" in fr
    assert "Comparez deux campagnes" in fr
    assert "synthetic" in err.value.localized("en")
    with pytest.raises(ValidationError):  # the other way round too
        before_after(near, synthetic_year0)


def test_two_synthetic_campaigns_are_a_labelled_demonstration(
    synthetic_year0: pd.DataFrame, near: pd.DataFrame
) -> None:
    half = len(synthetic_year0) // 2
    table = before_after(synthetic_year0.iloc[:half], synthetic_year0.iloc[half:])
    assert table.attrs["synthetic"] is True
    assert before_after(near.iloc[:150], near.iloc[150:]).attrs["synthetic"] is False


def test_moments_of_a_synthetic_and_a_real_release_are_refused() -> None:
    moments = {"total_kgco2e": [300.0, 5440.0, 4.0e6]}
    real = {"total_kgco2e": [313.0, 4393.0, 2.0e6]}
    with pytest.raises(ValidationError, match="synthetic"):
        before_after_moments(moments, real, synthetic=(True, False))
    both = before_after_moments(moments, real, synthetic=(True, True))
    assert both.attrs["synthetic"] is True
    assert before_after_moments(moments, real).attrs["synthetic"] is False


def _hood(name: str, n: int, seed: int, *, synthetic: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = pd.DataFrame(rng.integers(1, 4, size=(n, len(USAGES))), columns=list(USAGES))
    feet = su_footprints(levels.astype("Int8"))
    feet.index = [f"SYN-{name}-{i}" if synthetic else f"{name}-{i}" for i in range(n)]
    feet["neighbourhood"] = name
    feet["profile"] = rng.integers(0, 3, size=n)
    return feet


def test_compare_leaves_synthetic_neighbourhoods_out_and_names_them() -> None:
    r = pd.concat(
        [
            _hood("A", 40, 1, synthetic=False),
            _hood("B", 30, 2, synthetic=False),
            _hood("Demo", 50, 3, synthetic=True),
        ]
    )
    with pytest.warns(QetGeoWarning, match="Demo"):
        out = compare_neighbourhoods(r)
    assert is_protected(out)
    assert list(out.index) == ["A", "B"]
    assert out.attrs["synthetic_left_out"] == ["Demo"] and out.attrs["synthetic"] is False
    assert sorted(out["rank_total_kgco2e"].tolist()) == [1, 2]
    demo = compare_neighbourhoods(
        pd.concat([_hood("D1", 30, 4, synthetic=True), _hood("D2", 30, 5, synthetic=True)])
    )
    assert list(demo.index) == ["D1", "D2"] and demo.attrs["synthetic"] is True
    mixed = _hood("M", 30, 6, synthetic=False)
    mixed.index = ["SYN-1", *mixed.index[1:]]
    with pytest.raises(ValidationError, match="mixes"):
        compare_neighbourhoods(mixed)


def test_national_table_ranks_real_releases_among_themselves() -> None:
    released = pd.DataFrame(
        {
            "n_respondents": [40, 30, 300],
            "total_kgco2e": [4500.0, 5000.0, 2000.0],
            "food_shop_min": [5.0, 9.0, 3.0],
            "synthetic": [False, False, True],
        },
        index=["1", "2", "3"],
    )
    with pytest.warns(QetGeoWarning, match="synthetic answers are left out"):
        table = national_table(released, constraints=["food_shop_min"], n_types=2)
    assert is_protected(table)
    # the synthetic 2 000 kg would have ranked first
    assert table["rank_total_kgco2e"].to_dict() == {"1": 1, "2": 2}
    assert table.attrs["synthetic_left_out"] == ["3"] and table.attrs["synthetic"] is False
    demo = national_table(released.loc[["3"]])
    assert demo.attrs["synthetic"] is True and demo.loc["3", "rank_total_kgco2e"] == 1
