"""Sample sizes, census quotas and raking weights, on the real Paris IRIS census table."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from qet_geo.analysis.reference import reference_profiles
from qet_geo.errors import QetGeoWarning, UnknownCodeError, ValidationError
from qet_geo.inputs.census import read_iris
from qet_geo.surveys.representativeness import (
    census_margins,
    compare_margins,
    quotas,
    raking_weights,
    sample_size,
    survey_quotas,
)
from qet_geo.surveys.schema import AGE_BANDS
from tests.conftest import shared

# Porte d'Orléans (Paris 14e): the three IRIS of Petit-Montrouge nearest the porte.
PORTE_D_ORLEANS = ["751145501", "751145502", "751145503"]
CSP = [f"CS{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def paris_table() -> pd.DataFrame:
    return pd.read_csv(
        shared("census", "paris_iris", "RP_2011_CS8_Paris_by_IRIS.csv"), dtype={"IRIS": str}
    )


# --------------------------------------------------------------------------------------------------
# sample size


def test_sample_size_known_values() -> None:
    assert sample_size() == 385
    assert sample_size(math.inf) == 385
    assert sample_size(10_000) == 370
    assert sample_size(1_000) == 278
    assert sample_size(100) == 80
    assert sample_size(confidence=0.99) == 664
    assert sample_size(margin=0.03) == 1068
    # a rarer proportion needs fewer people; never more than the population
    assert sample_size(proportion=0.1) == 139
    assert sample_size(5) == 5


def test_sample_size_grows_with_population() -> None:
    sizes = [sample_size(n) for n in (50, 500, 5_000, 50_000, 500_000)]
    assert sizes == sorted(sizes)
    assert sizes[-1] <= 385


@pytest.mark.parametrize(
    "kwargs",
    [
        {"confidence": 1.0},
        {"confidence": 0},
        {"margin": 0.0},
        {"margin": 1.5},
        {"proportion": 1.0},
        {"population": 0},
        {"population": -10},
        {"population": float("nan")},
    ],
)
def test_sample_size_rejects_bad_input(kwargs: dict) -> None:
    with pytest.raises(ValidationError) as err:
        sample_size(**kwargs)
    assert err.value.message_fr != err.value.message


# --------------------------------------------------------------------------------------------------
# census margins and quotas


def test_census_margins_paris_porte_d_orleans(paris_table: pd.DataFrame) -> None:
    margins = census_margins(paris_table, "csp", codes=PORTE_D_ORLEANS)
    rows = paris_table[paris_table["IRIS"].isin(PORTE_D_ORLEANS)]
    assert list(margins.index) == CSP
    for i, cs in enumerate(CSP, start=1):
        assert margins[cs] == rows[f"C11_POP15P_CS{i}"].sum()
    # the CS counts are rounded estimates: their sum misses the published total by a few people
    assert margins.sum() == 5867
    assert abs(margins.sum() - rows["C11_POP15P"].sum()) <= 5
    assert margins["CS1"] == 0
    assert margins.attrs["columns"]["CS3"] == ["C11_POP15P_CS3"]


def test_census_margins_from_read_iris_and_from_the_file(paris_table: pd.DataFrame) -> None:
    iris = read_iris(
        shared("census", "paris_iris", "ParisIris_2013_L93.gpkg"),
        codes=PORTE_D_ORLEANS,
        table=shared("census", "paris_iris", "RP_2011_CS8_Paris_by_IRIS.csv"),
    )
    from_layer = census_margins(iris, "csp")
    from_file = census_margins(
        shared("census", "paris_iris", "RP_2011_CS8_Paris_by_IRIS.csv"),
        "csp",
        codes=PORTE_D_ORLEANS,
    )
    pd.testing.assert_series_equal(from_layer, from_file)
    assert abs(from_layer.sum() - iris["population_15p"].sum()) <= 5


def test_quotas_sum_to_sample_size_and_follow_census(paris_table: pd.DataFrame) -> None:
    table = survey_quotas(paris_table, codes=PORTE_D_ORLEANS)
    population = census_margins(paris_table, "csp", codes=PORTE_D_ORLEANS).sum()
    n = sample_size(population)
    assert table.attrs["n"] == n == 361
    assert table.attrs["population"] == population
    assert list(table["variable"].unique()) == ["csp"]  # the 2011 table has the CSP only
    assert table["quota"].sum() == n
    exact = table["share"] * n
    assert (table["quota"] - exact).abs().max() < 1.0
    assert table.set_index("category").loc["CS1", "quota"] == 0
    # a larger neighbourhood: the whole 14e arrondissement, and an explicit sample size
    codes_14 = paris_table.loc[paris_table["IRIS"].str.startswith("75114"), "IRIS"].tolist()
    big = survey_quotas(paris_table, codes=codes_14, n=600)
    assert big["quota"].sum() == 600
    assert ((big["quota"] - big["share"] * 600).abs() < 1.0).all()


def test_quotas_largest_remainder() -> None:
    q = quotas({"a": 1, "b": 1, "c": 1}, 10)
    assert q.sum() == 10 and sorted(q.tolist()) == [3, 3, 4]
    q = quotas(pd.Series({"x": 0.5, "y": 0.3, "z": 0.2}), 7)
    assert q.to_dict() == {"x": 4, "y": 2, "z": 1}
    with pytest.raises(ValidationError):
        quotas({"a": 1}, 0)
    with pytest.raises(ValidationError):
        quotas({"a": -1, "b": 2}, 10)


def test_census_margins_age_and_gender_from_insee_names() -> None:
    table = pd.DataFrame(
        {
            "IRIS": ["560210101", "560210102"],
            "P19_POP": [2000, 1500],
            "P19_POP1529": [300, 200],
            "P19_POP3044": [350, 250],
            "P19_POP4559": [400, 300],
            "P19_POP6074": [350, 300],
            "P19_POP75P": [200, 150],
            **{f"P19_F{a}": [100, 80] for a in ("1529", "3044", "4559", "6074", "75P")},
            **{f"P19_H{a}": [90, 70] for a in ("1529", "3044", "4559", "6074", "75P")},
            "P19_POPF": [1050, 780],
            "P19_POPH": [950, 720],
        }
    )
    age = census_margins(table, "age_band")
    assert list(age.index) == list(AGE_BANDS)
    assert age["15-29"] == 500 and age["75+"] == 350
    gender = census_margins(table, "gender", codes=["560210101"])
    assert gender.to_dict() == {"F": 500.0, "M": 450.0}  # 15+ only, not P19_POPF
    # without the sex-by-age columns, the all-ages columns with a warning
    short = table.drop(columns=table.filter(regex=r"^P19_[FH]\d").columns)
    with pytest.warns(QetGeoWarning, match="children"):
        gender_all = census_margins(short, "gender")
    assert gender_all.to_dict() == {"F": 1830.0, "M": 1670.0}
    # explicit columns for other tables
    custom = census_margins(table, "gender", columns={"F": "P19_POPF", "M": "P19_POPH"})
    assert custom["F"] == 1830
    quotas_table = survey_quotas(table, n=200)
    assert set(quotas_table["variable"]) == {"age_band", "gender"}
    assert (quotas_table.groupby("variable")["quota"].sum() == 200).all()


def test_census_margins_errors(paris_table: pd.DataFrame) -> None:
    with pytest.raises(UnknownCodeError, match="751149999"):
        census_margins(paris_table, "csp", codes=["751145501", "751149999"])
    with pytest.raises(ValidationError, match="age_band"):
        census_margins(paris_table, "age_band", codes=PORTE_D_ORLEANS)
    with pytest.raises(ValidationError, match="Unknown variable"):
        census_margins(paris_table, "income")
    with pytest.raises(ValidationError) as err:
        survey_quotas(paris_table.drop(columns=paris_table.filter(like="CS").columns))
    assert "C19_POP15P_CS1" in err.value.message


# --------------------------------------------------------------------------------------------------
# raking


def _skewed_sample(n: int, seed: int) -> pd.DataFrame:
    """Respondents over-representing the young, women and managers, as street surveys do."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age_band": rng.choice(AGE_BANDS, n, p=[0.35, 0.3, 0.2, 0.1, 0.05]),
            "gender": rng.choice(["F", "M"], n, p=[0.65, 0.35]),
            "csp": rng.choice(CSP[1:], n, p=[0.03, 0.35, 0.2, 0.12, 0.05, 0.1, 0.15]),
        },
        index=pd.Index([f"r{i}" for i in range(n)], name="respondent_id"),
    )


def test_raking_reproduces_margins_on_generated_data(paris_table: pd.DataFrame) -> None:
    answers = _skewed_sample(800, seed=3)
    margins: dict[str, pd.Series | dict[str, int]] = {
        "csp": census_margins(paris_table, "csp", codes=PORTE_D_ORLEANS),
        "age_band": {"15-29": 1200, "30-44": 1500, "45-59": 1300, "60-74": 1100, "75+": 767},
        "gender": {"F": 3150, "M": 2717},
    }
    weights = raking_weights(answers, margins, tol=1e-8)
    assert weights.attrs["converged"]
    assert weights.attrs["max_gap"] < 1e-8
    assert weights.index.equals(answers.index)
    assert weights.sum() == pytest.approx(len(answers))
    assert (weights > 0).all()
    table = compare_margins(answers, margins, weights=weights)
    assert (table["weighted_share"] - table["census_share"]).abs().max() < 1e-6
    # the sample was far from the census before raking
    assert (table["sample_share"] - table["census_share"]).abs().max() > 0.1
    assert 1.0 < weights.attrs["design_effect"] < 3.0
    # weights that expand to the population
    expanded = raking_weights(answers, margins, total=5867.0)
    assert expanded.sum() == pytest.approx(5867.0)
    assert np.allclose(expanded / expanded.mean(), weights / weights.mean(), atol=1e-5)


def test_raking_on_survey_like_data(paris_table: pd.DataFrame) -> None:
    """The 313 survey_0 profiles with socio-demographics: weighted margins hit the census."""
    profiles = reference_profiles()
    rng = np.random.default_rng(11)
    answers = profiles.assign(
        age_band=rng.choice(AGE_BANDS, len(profiles), p=[0.3, 0.3, 0.2, 0.15, 0.05]),
        gender=rng.choice(["F", "M", "other"], len(profiles), p=[0.6, 0.38, 0.02]),
        csp=rng.choice(CSP[1:], len(profiles)),
    )
    answers.loc[answers.index[:3], "csp"] = None  # not answered
    margins: dict[str, pd.Series | dict[str, int]] = {
        "csp": census_margins(paris_table, "csp", codes=PORTE_D_ORLEANS),
        "gender": {"F": 52, "M": 48},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QetGeoWarning)
        weights = raking_weights(answers, margins)
    notes = [str(w.message) for w in caught]
    assert any("'gender'" in t and "keep their weight" in t for t in notes)
    assert any("'csp'" in t for t in notes)
    assert weights.attrs["converged"]
    table = compare_margins(answers, margins, weights=weights)
    assert (table["weighted_share"] - table["census_share"]).abs().max() < 1e-5
    # the usage shares move with the weights, and stay shares
    car = float(weights[answers["transportation_mode"] == 3].sum() / weights.sum())
    assert 0.0 < car < 1.0


def test_raking_errors_clearly_on_an_empty_category(paris_table: pd.DataFrame) -> None:
    answers = _skewed_sample(200, seed=5)
    answers = answers[answers["csp"] != "CS6"]
    margins = {"csp": census_margins(paris_table, "csp", codes=PORTE_D_ORLEANS)}
    with pytest.raises(ValidationError) as err:
        raking_weights(answers, margins)
    assert "No respondent in category CS6" in err.value.message
    assert "6.5% of the census" in err.value.message
    assert "Merge" in err.value.message
    assert "Aucun répondant" in err.value.message_fr and "CS6" in err.value.message_fr
    # respondents in a category the census says is empty
    answers.loc[answers.index[0], "csp"] = "CS1"
    margins_no_cs6 = {"csp": margins["csp"].drop("CS6")}
    with pytest.raises(ValidationError, match="census count is 0"):
        raking_weights(answers, margins_no_cs6)


def test_raking_trimming_and_options() -> None:
    answers = _skewed_sample(500, seed=8)
    margins = {"age_band": {"15-29": 10, "30-44": 20, "45-59": 25, "60-74": 25, "75+": 20}}
    free = raking_weights(answers, margins)
    assert free.max() / free.mean() > 2.5
    with pytest.warns(QetGeoWarning, match="did not converge"):
        trimmed = raking_weights(answers, margins, bounds=(0.5, 2.0), max_iter=20)
    assert not trimmed.attrs["converged"]
    ratio = trimmed / trimmed.mean()
    assert ratio.max() <= 2.0 + 1e-9 and ratio.min() >= 0.5 - 1e-9
    base = pd.Series(2.0, index=answers.index)
    based = raking_weights(answers, margins, base_weights=base)
    assert np.allclose(based, free)
    for bad in (
        {"tol": 0},
        {"max_iter": 0},
        {"bounds": (1.5, 3.0)},
        {"total": -1.0},
        {"base_weights": pd.Series(-1.0, index=answers.index)},
    ):
        with pytest.raises(ValidationError):
            raking_weights(answers, margins, **bad)
    with pytest.raises(ValidationError, match="no column 'csp'"):
        raking_weights(answers.drop(columns="csp"), {"csp": {"CS3": 1}})
