"""A release's sample against the census and its census-weighted footprints.

Library pieces: the weighted moments against numpy, their comparison, the pooling of small
categories (a scripted attacker reading the shares and the total never finds a count of 1 to
10). Store: a Paris neighbourhood whose IRIS are in the shared Paris census table
(``census/paris_iris/RP_2011_CS8_Paris_by_IRIS.csv``, CSP columns only), with labelled-synthetic
answers carrying a CSP, released with the shared data folder; a neighbourhood without IRIS and
one whose IRIS no table holds say why they are not weighted.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sqlalchemy.engine import Engine

from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.store.census_figures import census_comparison, weighted_release_changes
from qet_geo.store.releases import Figures, create_release
from qet_geo.surveys.representativeness import (
    CATEGORIES,
    pool_categories,
    raking_weights,
    weighted_change,
    weighted_moments,
)
from qet_geo.surveys.schema import CSP_LABELS, USAGES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PARIS_TABLE = SHARED / "census" / "paris_iris" / "RP_2011_CS8_Paris_by_IRIS.csv"
PARIS_IRIS = ["751010201", "751010202", "751010203", "751010204"]
HALLES = (2.3470, 48.8620)

needs_census = pytest.mark.skipif(not PARIS_TABLE.is_file(), reason="shared Paris census absent")


# --------------------------------------------------------------------------------------------------
# library


def test_weighted_moments_equal_a_direct_numpy_computation() -> None:
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 400.0, size=200)
    x[[4, 50]] = np.nan
    w = rng.uniform(0.3, 3.0, size=200)
    frame = pd.DataFrame({"mobility_kgco2e": x}, index=[f"r{i}" for i in range(200)])
    m = weighted_moments(frame, pd.Series(w, index=frame.index))["mobility_kgco2e"]
    keep = ~np.isnan(x)
    xs, ws = x[keep], w[keep]
    assert m["n"] == 198
    assert m["sum_w"] == pytest.approx(ws.sum())
    assert m["sum_wx"] == pytest.approx(np.sum(ws * xs))
    assert m["sum_wx2"] == pytest.approx(np.sum(ws * xs**2))
    assert m["effective_n"] == pytest.approx(ws.sum() ** 2 / np.sum(ws**2))
    assert m["sum_wx"] / m["sum_w"] == pytest.approx(np.average(xs, weights=ws))

    # two sets: the change and its interval, from the moments, against numpy on the answers
    y = rng.gamma(2.0, 350.0, size=150)
    v = rng.uniform(0.3, 3.0, size=150)
    other = weighted_moments(pd.DataFrame({"mobility_kgco2e": y}), pd.Series(v, index=range(150)))
    table = weighted_change({"mobility_kgco2e": m}, other, confidence=0.95)
    row = table.loc["mobility_kgco2e"]

    def mean_se(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
        mean = np.average(values, weights=weights)
        n = len(values)
        var = np.average((values - mean) ** 2, weights=weights) * n / (n - 1)
        n_eff = weights.sum() ** 2 / np.sum(weights**2)
        return float(mean), math.sqrt(var / n_eff)

    (ma, sa), (mb, sb) = mean_se(xs, ws), mean_se(y, v)
    z = norm.ppf(0.975)
    assert row["delta"] == pytest.approx(mb - ma)
    assert row["ci_low"] == pytest.approx(mb - ma - z * math.hypot(sa, sb))
    assert row["ci_high"] == pytest.approx(mb - ma + z * math.hypot(sa, sb))
    assert row["n_eff_before"] == pytest.approx(m["effective_n"])


def test_weighting_moves_the_mean_towards_the_census() -> None:
    # cadres over-represented; they fly more: weighting lowers the mean
    answers = pd.DataFrame({"csp": ["CS3"] * 60 + ["CS6"] * 20})
    x = pd.DataFrame({"v": [1000.0] * 60 + [200.0] * 20})
    w = raking_weights(answers, {"csp": {"CS3": 50, "CS6": 50}})
    m = weighted_moments(x, w)["v"]
    assert m["sum_wx"] / m["sum_w"] == pytest.approx(600.0)
    assert x["v"].mean() == pytest.approx(800.0)


@pytest.mark.parametrize("seed", range(40))
def test_pooled_shares_never_give_a_count_of_1_to_10(seed: int) -> None:
    """The attacker knows the total and every shown share (rounded as stored, 4 decimals) and
    adds shares up in every way: no sum is 1 to 10 respondents, no difference with the total
    either, and each shown group is 0 or 11 or more."""
    rng = np.random.default_rng(seed)
    cats = list(CSP_LABELS)
    counts = pd.Series(rng.integers(0, 25, size=len(cats)) * rng.integers(0, 2, size=8), cats)
    counts[cats[rng.integers(0, 8)]] += rng.integers(1, 11)  # at least one small category
    n = int(counts.sum())
    if n < 11:
        counts[cats[0]] += 11
        n = int(counts.sum())
    groups = pool_categories(counts, min_size=11)
    assert sorted(itertools.chain.from_iterable(groups)) == sorted(cats)
    shares = [round(int(counts[g].sum()) / n, 4) for g in groups]
    sizes = [int(counts[g].sum()) for g in groups]
    assert all(s == 0 or s >= 11 for s in sizes), (counts.to_dict(), groups)
    for r in range(1, len(shares) + 1):
        for combo in itertools.combinations(range(len(shares)), r):
            recovered = round(sum(shares[i] for i in combo) * n)
            assert not 1 <= recovered <= 10
            assert not 1 <= n - recovered <= 10
    # raking groups: each 11 or more with a census population
    census = pd.Series(rng.integers(0, 500, size=8), cats)
    census[cats[0]] += 1
    raking = pool_categories(counts, min_size=11, census=census)
    for g in raking:
        assert int(counts[g].sum()) >= 11 or len(raking) == 1
        assert float(census[g].sum()) > 0 or len(raking) == 1


def test_a_shown_share_is_never_the_complement_of_a_withheld_one() -> None:
    frame = pd.DataFrame(
        {
            "csp": ["CS3"] * 30 + ["CS5"] * 15 + ["CS6"] * 4 + ["CS7"] * 12,
            "mobility_kgco2e": 1.0,
        }
    )
    margin = pd.Series({c: 100.0 for c in CATEGORIES["csp"]})
    from qet_geo.store.census_figures import _comparison

    shown, _ = _comparison(frame, "csp", margin)
    n = len(frame)
    sizes = [round(Fraction(r["sample_share"]).limit_denominator(1000) * n) for r in shown["rows"]]
    assert sum(sizes) == n
    assert all(s == 0 or s >= 11 for s in sizes)
    # the 4 CS6 are in a group with a neighbour, never alone
    assert not any(r["categories"] == ["CS6"] for r in shown["rows"])
    # 1 to 10 without a category: the variable is withheld whole
    frame.loc[:3, "csp"] = None
    withheld, raking = _comparison(frame, "csp", margin)
    assert withheld["status"] == "withheld" and "rows" not in withheld and raking is None


# --------------------------------------------------------------------------------------------------
# releases


def _csv(n: int, *, seed: int, prefix: str = "SYN-") -> bytes:
    """A labelled-synthetic SU file at the Halles, with a CSP skewed towards cadres."""
    rng = np.random.default_rng(seed)
    csp = rng.choice(["CS3", "CS4", "CS5", "CS7", "CS8"], size=n, p=[0.5, 0.2, 0.1, 0.1, 0.1])
    lines = ["\t".join(["id", *USAGES, "lon", "lat", "csp"])]
    for k in range(n):
        levels = rng.integers(1, 4, size=len(USAGES))
        if csp[k] == "CS3":  # cadres fly more
            levels[list(USAGES).index("air_travel_frequency")] = 3
        x = HALLES[0] + rng.normal(0, 0.0015)
        y = HALLES[1] + rng.normal(0, 0.001)
        lines.append("\t".join([f"{prefix}{seed}-{k:04d}", *map(str, levels), f"{x:.6f}",
                                f"{y:.6f}", str(csp[k])]))  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def _hood(engine: Engine, name: str, codes: list[str]) -> int:
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name=name, iris_codes=codes)
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        return diag.id


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(made)
    return made


@needs_census
def test_a_paris_release_compares_and_weights_to_the_census(engine: Engine) -> None:
    diag = _hood(engine, "Halles", PARIS_IRIS)
    ingest.ingest_su(engine, diag, _csv(90, seed=1))
    release = create_release(engine, diag, shared_data=SHARED)
    census = Figures.from_json(release.figures).census
    assert census["status"] == "ok" and census["table"] == PARIS_TABLE.name
    assert census["iris"] == sorted(PARIS_IRIS)
    [csp] = census["variables"]
    assert csp["variable"] == "csp" and csp["status"] == "ok"
    n = release.n_respondents
    table = pd.read_csv(PARIS_TABLE, dtype=str).set_index("IRIS").loc[PARIS_IRIS]
    people = {c: table[f"C11_POP15P_{c}"].astype(float).sum() for c in CSP_LABELS}
    for row in csp["rows"]:
        count = round(row["sample_share"] * n)
        assert count == 0 or count >= 11
        assert row["census_share"] == pytest.approx(
            sum(people[c] for c in row["categories"]) / sum(people.values()), abs=1e-4
        )
    # the cadres are over-represented in the sample
    cadres = next(r for r in csp["rows"] if "CS3" in r["categories"])
    assert cadres["sample_share"] > cadres["census_share"]
    weighted = census["weighted"]
    assert weighted["status"] == "ok" and weighted["bounds"] == [0.3, 3.0]
    assert 11 <= weighted["effective_n"] <= n
    assert set(weighted["footprints"]) == {*USAGES, "total"}
    # cadres fly more and weigh less once weighted
    figures = Figures.from_json(release.figures)
    assert (
        weighted["footprints"]["air_travel_frequency"] < figures.footprints["air_travel_frequency"]
    )
    moments = release.summary["census_moments"]
    m = moments["air_travel_frequency_kgco2e"]
    assert m["n"] == n and m["sum_wx"] / m["sum_w"] == pytest.approx(
        weighted["footprints"]["air_travel_frequency"], abs=1e-3
    )
    assert release.summary["census_source"] == [PARIS_TABLE.name, sorted(PARIS_IRIS)]


@needs_census
def test_two_weighted_releases_compare_with_intervals(engine: Engine) -> None:
    diags = []
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Halles", iris_codes=PARIS_IRIS)
        for year in (0, 1):
            d = store.Diagnostic(neighbourhood_id=hood.id, year=year)
            s.add(d)
            s.flush()
            diags.append(d.id)
    ingest.ingest_su(engine, diags[0], _csv(80, seed=2))
    ingest.ingest_su(engine, diags[1], _csv(90, seed=3))
    a = create_release(engine, diags[0], shared_data=SHARED)
    b = create_release(engine, diags[1], shared_data=SHARED)
    table = weighted_release_changes(a.summary, b.summary)
    assert not isinstance(table, str)
    assert "total_kgco2e" in table.index and (table["ci_low"] < table["ci_high"]).all()
    # one release weighted, the other not: said, not compared
    c = create_release(engine, diags[1], shared_data=None)
    assert c.figures["census"] == {"status": "no_folder"} and c.summary["census_moments"] == {}
    assert weighted_release_changes(a.summary, c.summary) == "not_weighted"
    # a usage one release could not weight: withheld with the total
    partial = dict(b.summary)
    partial["census_moments"] = {
        k: v for k, v in b.summary["census_moments"].items() if k != "heat_source_kgco2e"
    }
    table = weighted_release_changes(a.summary, partial)
    assert not isinstance(table, str)
    assert "total_kgco2e" not in table.index and "heat_source_kgco2e" not in table.index
    assert table.attrs["withheld"] == ["heat_source_kgco2e", "total_kgco2e"]


@needs_census
def test_without_census_the_release_says_why(engine: Engine) -> None:
    no_iris = _hood(engine, "Sans IRIS", [])
    ingest.ingest_su(engine, no_iris, _csv(30, seed=4))
    assert create_release(engine, no_iris, shared_data=SHARED).figures["census"] == {
        "status": "no_iris"
    }
    lorient = _hood(engine, "Lorient", ["561210101"])
    ingest.ingest_su(engine, lorient, _csv(30, seed=5, prefix="SYN-L"))
    release = create_release(engine, lorient, shared_data=SHARED)
    assert release.figures["census"] == {"status": "no_table"}
    assert release.summary["census_moments"] == {} and release.summary["census_source"] is None


def test_a_small_category_is_pooled_in_a_release(tmp_path: Path) -> None:
    """A census table of two IRIS written here; 4 respondents in CS1 never show alone."""
    folder = tmp_path / "shared" / "census"
    folder.mkdir(parents=True)
    header = ["IRIS", *(f"C19_POP15P_CS{i}" for i in range(1, 9))]
    rows = [["751010201", "5", "90", "860", "350", "240", "55", "270", "270"],
            ["751010202", "0", "70", "630", "190", "180", "35", "260", "220"]]  # fmt: skip
    (folder / "t.csv").write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    frame = pd.DataFrame(
        {
            "csp": ["CS1"] * 4 + ["CS2"] * 12 + ["CS3"] * 40 + ["CS7"] * 20,
            **{f"{u}_kgco2e": np.linspace(100, 900, 76) for u in USAGES},
        }
    )
    frame["total_kgco2e"] = frame[[f"{u}_kgco2e" for u in USAGES]].sum(axis=1)
    figures, moments = census_comparison(
        frame, ["751010201", "751010202"], tmp_path / "shared", publishable=[*USAGES, "total"]
    )
    rows = figures["variables"][0]["rows"]
    assert ["CS1", "CS2"] in [r["categories"] for r in rows]
    assert all(round(r["sample_share"] * 76) in (0, *range(11, 77)) for r in rows)
    assert figures["weighted"]["status"] == "ok" and set(moments) == {
        *(f"{u}_kgco2e" for u in USAGES),
        "total_kgco2e",
    }


def test_a_weighted_footprint_one_person_dominates_in_a_group_is_withheld(tmp_path: Path) -> None:
    """Two raking groups: the weighted and unweighted means give each group's mean; one flyer
    making most of a group's air travel withholds the weighted air travel and the total."""
    folder = tmp_path / "shared" / "census"
    folder.mkdir(parents=True)
    header = ["IRIS", *(f"C19_POP15P_CS{i}" for i in range(1, 9))]
    row = ["751010201", "0", "0", "500", "0", "0", "0", "500", "0"]
    (folder / "t.csv").write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    n3, n7 = 30, 12
    frame = pd.DataFrame({"csp": ["CS3"] * n3 + ["CS7"] * n7})
    for u in USAGES:
        frame[f"{u}_kgco2e"] = 500.0
    frame["air_travel_frequency_kgco2e"] = [300.0] * n3 + [10_000.0] + [10.0] * (n7 - 1)
    frame["total_kgco2e"] = frame[[f"{u}_kgco2e" for u in USAGES]].sum(axis=1)
    figures, moments = census_comparison(
        frame, ["751010201"], tmp_path / "shared", publishable=[*USAGES, "total"]
    )
    weighted = figures["weighted"]
    assert weighted["status"] == "ok"
    assert "air_travel_frequency" not in weighted["footprints"]
    assert "total" not in weighted["footprints"] and "total_kgco2e" not in moments
    assert "meat_frequency" in weighted["footprints"]
