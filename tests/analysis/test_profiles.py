"""Tests of qet_geo.analysis.profiles: NEAR's algorithm against a literal reference, the ordinal-Ward
default, stability, national profiles, the output format and the ``qet profiles`` command."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import silhouette_score
from typer.testing import CliRunner

from qet_geo.analysis.profiles import (
    UsageProfiles,
    _cut,
    _pairwise,
    _ward_merges,
    _weighted_silhouette,
    bootstrap_stability,
    national_profiles,
    profile_mix,
)
from qet_geo.cli.profiles import profiles as profiles_command
from qet_geo.errors import EmptyDataError, QetGeoWarning, ValidationError
from qet_geo.surveys.schema import DIFFERENTIATING_USAGES, NEAR_KGCO2E, USAGES
from qet_geo.surveys.su import read_su
from tests.conftest import shared

# --------------------------------------------------------------------------------------------
# NEAR's algorithm, literally: pure Python, exact fractions, no merging of identical answers
# --------------------------------------------------------------------------------------------


@dataclass
class Reference:
    sizes: list[int]
    barycentres: list[tuple[Fraction, ...]]
    merged: list[int]
    labels: list[int]
    distances2: list[Fraction]
    steps: int


def near_reference(
    rows: Sequence[Sequence[int]],
    *,
    usages: Sequence[str] = USAGES,
    max_profiles: int = 3,
    min_share: Fraction = Fraction(11, 100),
    max_share: Fraction = Fraction(95, 100),
    later: Sequence[Sequence[int]] = (),
) -> Reference:
    """Method.md step by step: singletons, centroid linkage, every exact-minimum pair merged at
    once (connected components), stop rule checked before every step, nearest barycentre."""
    n = len(rows)
    vectors = [
        tuple(Fraction(NEAR_KGCO2E[u][lev]) for u, lev in zip(usages, row, strict=True))
        for row in rows
    ]
    members: list[list[int]] = [[i] for i in range(n)]
    bary: list[tuple[Fraction, ...]] = list(vectors)

    def stop() -> bool:
        sizes = [len(m) for m in members]
        return (
            len(members) <= max_profiles
            or Fraction(min(sizes), n) >= min_share
            or Fraction(max(sizes), n) >= max_share
        )

    def sq(a: tuple[Fraction, ...], b: tuple[Fraction, ...]) -> Fraction:
        return sum(((x - y) ** 2 for x, y in zip(a, b, strict=True)), Fraction(0))

    # pair distances are cached by cluster identity; a cluster's barycentre never changes
    ids = list(range(n))
    next_id = n
    cache: dict[tuple[int, int], Fraction] = {}
    steps = 0
    while not stop():
        k = len(members)
        pairs = {}
        for i in range(k):
            for j in range(i + 1, k):
                key = (ids[i], ids[j])
                if key not in cache:
                    cache[key] = sq(bary[i], bary[j])
                pairs[(i, j)] = cache[key]
        low = min(pairs.values())
        parent = list(range(k))
        for (i, j), value in pairs.items():
            if value == low:
                parent[_root(parent, j)] = _root(parent, i)
        groups: dict[int, list[int]] = {}
        for i in range(k):
            groups.setdefault(_root(parent, i), []).append(i)
        new_members, new_bary, new_ids = [], [], []
        for group in groups.values():
            if len(group) == 1:
                (i,) = group
                new_members.append(members[i])
                new_bary.append(bary[i])
                new_ids.append(ids[i])
                continue
            merged = sorted(a for i in group for a in members[i])
            total = sum(len(members[i]) for i in group)
            new_bary.append(
                tuple(
                    sum((len(members[i]) * bary[i][d] for i in group), Fraction(0)) / total
                    for d in range(len(usages))
                )
            )
            new_members.append(merged)
            new_ids.append(next_id)
            next_id += 1
        members, bary, ids = new_members, new_bary, new_ids
        steps += 1
    order = sorted(range(len(members)), key=lambda c: (-len(members[c]), min(members[c])))
    members = [members[c] for c in order]
    bary = [bary[c] for c in order]
    merged_of = [0] * n
    for p, m in enumerate(members):
        for a in m:
            merged_of[a] = p
    targets = list(vectors) + [
        tuple(Fraction(NEAR_KGCO2E[u][lev]) for u, lev in zip(usages, row, strict=True))
        for row in later
    ]
    labels, dist2 = [], []
    for v in targets:
        d = [sq(v, b) for b in bary]
        best = min(d)
        labels.append(d.index(best))  # the lowest-numbered profile on a tie
        dist2.append(best)
    return Reference([len(m) for m in members], bary, merged_of, labels, dist2, steps)


def _root(parent: list[int], a: int) -> int:
    while parent[a] != a:
        a = parent[a]
    return a


def assert_same_as_reference(
    model: UsageProfiles, ref: Reference, later: np.ndarray | None = None
) -> None:
    assert model.counts_.tolist() == ref.sizes
    assert model.barycentres_.shape == (len(ref.sizes), len(model.usages_))
    expected = np.array([[float(x) for x in b] for b in ref.barycentres])
    assert np.array_equal(model.barycentres_, expected)  # both correctly rounded quotients
    n = len(model.labels_)
    assert model.merged_labels_.tolist() == ref.merged
    assert model.labels_.tolist() == ref.labels[:n]
    assert model.n_merge_steps_ == ref.steps
    for got, exact in zip(model.distances_, ref.distances2[:n], strict=True):
        assert math.isclose(got, math.sqrt(exact), rel_tol=1e-12, abs_tol=1e-9)
    if later is not None:
        assert model.predict(later).tolist() == ref.labels[n:]


LEVEL_ROW = st.tuples(*[st.integers(1, 3)] * 6)


@st.composite
def answer_sets(draw: st.DrawFn) -> list[tuple[int, ...]]:
    """Small answer sets built to tie: few distinct answers, often differing in few usages, or
    on a cube of side 800 kgCO2e (meat 1-2, purchases 2-3, flights 1-2) where many pairs tie
    and chain."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        pool = draw(st.lists(LEVEL_ROW, min_size=1, max_size=10, unique=True))
    elif kind == 1:
        base = draw(LEVEL_ROW)
        varying = draw(st.sets(st.integers(0, 5), min_size=1, max_size=3))
        row = st.tuples(
            *[st.integers(1, 3) if j in varying else st.just(base[j]) for j in range(6)]
        )
        pool = draw(st.lists(row, min_size=1, max_size=10, unique=True))
    else:
        base = draw(LEVEL_ROW)
        corners = st.tuples(st.integers(1, 2), st.integers(2, 3), st.integers(1, 2))
        moves = draw(st.lists(corners, min_size=3, max_size=8, unique=True))
        pool = [(m, base[1], base[2], p, a, base[5]) for m, p, a in moves]
    n = draw(st.integers(1, 32))
    return draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=answer_sets(),
    later=st.lists(LEVEL_ROW, max_size=5),
    max_profiles=st.sampled_from([3, 1, 2, 5]),
    min_share=st.sampled_from(
        [Fraction(11, 100), Fraction(1, 20), Fraction(1, 4), Fraction(1), Fraction(1)]
    ),
    max_share=st.sampled_from([Fraction(95, 100), Fraction(1, 2), Fraction(1)]),
    five=st.booleans(),
)
def test_near_equals_the_literal_reference(
    rows: list[tuple[int, ...]],
    later: list[tuple[int, ...]],
    max_profiles: int,
    min_share: Fraction,
    max_share: Fraction,
    five: bool,
) -> None:
    usages = DIFFERENTIATING_USAGES if five else USAGES
    d = len(usages)
    X = np.array([r[:d] for r in rows])
    new = np.array([r[:d] for r in later]).reshape(-1, d)
    ref = near_reference(
        [r[:d] for r in rows],
        usages=usages,
        max_profiles=max_profiles,
        min_share=min_share,
        max_share=max_share,
        later=[r[:d] for r in later],
    )
    model = UsageProfiles(
        "near",
        n_profiles=max_profiles,
        min_share=float(min_share),
        max_share=float(max_share),
        usages=usages,
    ).fit(X)
    assert_same_as_reference(model, ref, new)


# --------------------------------------------------------------------------------------------
# NEAR on the real survey
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survey_path() -> Path:
    return shared("surveys", "near_su", "survey_0.tsv")


@pytest.fixture(scope="module")
def answers(survey_path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return read_su(survey_path).answers


@pytest.fixture(scope="module")
def near(answers: pd.DataFrame) -> UsageProfiles:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return UsageProfiles("near").fit(answers)


@pytest.fixture(scope="module")
def ordinal(answers: pd.DataFrame) -> UsageProfiles:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return UsageProfiles().fit(answers)


def test_near_reproduces_the_three_profiles_of_survey_0(near: UsageProfiles) -> None:
    # 313 complete answers: 232, 71 and 10 merged, i.e. 74.1 %, 22.7 %, 3.2 %
    assert near.n_profiles_ == 3
    assert near.counts_.tolist() == [232, 71, 10]
    assert np.round(100 * near.shares_, 1).tolist() == [74.1, 22.7, 3.2]
    # the published shares are those of the merged answers; here the nearest-barycentre
    # assignment happens to give the same counts, answer by answer
    assert near.assigned_counts_.tolist() == [232, 71, 10]
    assert np.array_equal(near.labels_, near.merged_labels_)
    assert near.n_merge_steps_ == 95


def test_near_splits_survey_0_on_car_and_frequent_flying(
    near: UsageProfiles, answers: pd.DataFrame
) -> None:
    car = answers["transportation_mode"].to_numpy() == 3
    flies = answers["air_travel_frequency"].to_numpy() == 3
    labels = near.labels_
    assert not car[labels == 0].any()  # profile 0: nobody drives
    assert car[labels == 1].all() and car[labels == 2].all()
    assert flies[labels == 2].all()
    assert near.descriptions_[0].render("fr") == "Sans voiture au quotidien"
    assert near.descriptions_[0].render("en") == "No car day to day"
    assert near.descriptions_[2].render("fr").startswith("Avion plus de 3 fois par an, voiture")


def test_near_barycentres_are_the_members_mean_kgco2e(
    near: UsageProfiles, answers: pd.DataFrame
) -> None:
    complete = answers.dropna()
    kg = np.column_stack(
        [complete[u].map(lambda v, u=u: NEAR_KGCO2E[u][int(v)]).to_numpy(float) for u in USAGES]
    )
    members = near.merged_labels_[near.merged_labels_ >= 0]
    for p in range(3):
        assert np.allclose(near.barycentres_[p], kg[members == p].mean(axis=0), rtol=1e-12)
    # an incomplete answer (respondent 84, no flight answer) is left out, not guessed
    pos = answers.index.get_loc("84")
    assert near.labels_[pos] == -1 and np.isnan(near.distances_[pos])


def test_near_fast_equals_the_reference_on_survey_0(
    near: UsageProfiles, answers: pd.DataFrame
) -> None:
    rows = [tuple(int(v) for v in r) for r in answers.dropna().to_numpy()]
    ref = near_reference(rows)
    complete = near.labels_ >= 0
    assert near.counts_.tolist() == ref.sizes
    assert near.labels_[complete].tolist() == ref.labels
    assert near.merged_labels_[complete].tolist() == ref.merged
    assert near.n_merge_steps_ == ref.steps


def test_near_warns_about_incomplete_answers(answers: pd.DataFrame) -> None:
    with pytest.warns(QetGeoWarning, match=r"1 incomplete SU answer\(s\) .*ids 84"):
        UsageProfiles("near").fit(answers)


# --------------------------------------------------------------------------------------------
# NEAR: adversarial cases
# --------------------------------------------------------------------------------------------


def fit_near(rows: Sequence[Sequence[int]], **params: object) -> UsageProfiles:
    return UsageProfiles("near", **params).fit(np.array(rows))  # type: ignore[arg-type]


def test_near_all_identical_answers_make_one_profile() -> None:
    model = fit_near([(2, 3, 1, 2, 1, 2)] * 20)
    assert model.counts_.tolist() == [20]
    assert model.n_merge_steps_ == 1
    assert model.labels_.tolist() == [0] * 20
    assert model.distances_.tolist() == [0.0] * 20


@pytest.mark.parametrize("n", [1, 2, 3])
def test_near_one_to_three_answers_stay_singletons(n: int) -> None:
    rows = [(1, 1, 1, 1, 1, 1), (3, 3, 3, 3, 3, 3), (1, 3, 1, 3, 1, 3)][:n]
    model = fit_near(rows)
    assert model.counts_.tolist() == [1] * n
    assert model.labels_.tolist() == list(range(n))
    assert model.n_merge_steps_ == 0
    assert model.to_dict()["profiles"][0]["share_pct"] == round(100 / n, 2)


def test_near_stop_rule_is_checked_before_the_first_step() -> None:
    # 9 answers: each singleton already holds 11.1 % >= 11 %, so nothing is merged, identical
    # answers included; every answer's nearest barycentre is then the first identical one
    model = fit_near([(2, 2, 2, 2, 2, 2)] * 9)
    assert model.counts_.tolist() == [1] * 9
    assert model.merged_labels_.tolist() == list(range(9))
    assert model.labels_.tolist() == [0] * 9
    # 10 answers: 10 % < 11 %, the identical answers merge at the first step
    model = fit_near([(2, 2, 2, 2, 2, 2)] * 10)
    assert model.counts_.tolist() == [10]


def test_near_two_answers() -> None:
    model = fit_near([(3, 3, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1)])
    assert model.counts_.tolist() == [1, 1]
    assert model.barycentres_[0].tolist() == [2000, 2300, 90, 400, 0, 200]
    assert model.labels_.tolist() == [0, 1]


def test_near_merges_tied_pairs_and_chains_in_one_step() -> None:
    a = (1, 1, 1, 1, 1, 1)
    b = (1, 1, 1, 1, 2, 1)  # a + 800 kg of flights
    c = (2, 1, 1, 1, 2, 1)  # b + 800 kg of meat: a chain a-b-c at 800
    d = (1, 3, 1, 2, 1, 1)
    e = (1, 3, 1, 3, 1, 1)  # d + 800 kg of purchases: a separate pair at 800
    f = (3, 2, 3, 1, 3, 3)
    model = fit_near([a, b, c, d, e, f], min_share=1.0)
    assert model.n_merge_steps_ == 1
    assert model.counts_.tolist() == [3, 2, 1]
    assert model.merged_labels_.tolist() == [0, 0, 0, 1, 1, 2]
    assert_same_as_reference(model, near_reference([a, b, c, d, e, f], min_share=Fraction(1)))


def test_near_merges_a_whole_cube_of_ties_at_once() -> None:
    # the 8 corners of a cube of side 800 kgCO2e: 12 edges tie, all chained, one step merges all
    corners = [(m, 2, 2, p, a, 1) for m in (1, 2) for p in (2, 3) for a in (1, 2)]
    model = fit_near(corners, min_share=1.0)
    assert model.n_merge_steps_ == 1 and model.counts_.tolist() == [8]
    # with one corner doubled, the two identical answers merge first (step 1); their barycentre
    # is that corner, so the 12 edges tie again (step 2)
    model = fit_near([*corners, corners[0]], min_share=1.0)
    assert_same_as_reference(model, near_reference([*corners, corners[0]], min_share=Fraction(1)))
    assert model.n_merge_steps_ == 2 and model.counts_.tolist() == [9]


def test_near_nearest_barycentre_can_differ_from_the_merged_cluster() -> None:
    rows = [
        (3, 2, 1, 3, 3, 2), (3, 2, 1, 2, 3, 1), (2, 3, 3, 3, 2, 3), (1, 3, 2, 3, 1, 1),
        (3, 2, 3, 1, 3, 1), (2, 3, 2, 3, 2, 2), (2, 1, 1, 1, 3, 1), (2, 3, 3, 1, 2, 1),
        (3, 3, 2, 1, 2, 2), (3, 3, 3, 1, 3, 2), (2, 2, 2, 1, 3, 1), (2, 2, 2, 3, 1, 3),
        (3, 1, 2, 3, 2, 2), (3, 3, 3, 1, 1, 2),
    ]  # fmt: skip
    model = fit_near(rows)
    assert model.counts_.tolist() == [7, 6, 1]
    assert model.merged_labels_[12] == 1 and model.labels_[12] == 2
    assert model.assigned_counts_.tolist() == [7, 5, 2]
    out = model.to_dict()
    assert [p["n"] for p in out["profiles"]] == [7, 6, 1]
    assert [p["n_assigned"] for p in out["profiles"]] == [7, 5, 2]
    assert_same_as_reference(model, near_reference(rows))


def test_near_assignment_ties_go_to_the_lowest_profile() -> None:
    x = (2, 1, 1, 1, 1, 1)  # 1000 kg of meat, no flights
    y = (1, 1, 1, 1, 2, 1)  # 200 kg of meat, 800 kg of flights
    z = (1, 1, 1, 1, 1, 1)  # 800 kg from both
    for first, second in ((x, y), (y, x)):
        model = fit_near([first, second])
        assert model.predict(np.array([z])).tolist() == [0]
        assert model.transform(np.array([z]))[0].tolist() == [800.0, 800.0]
    assert model.assign(np.array([z]))["distance"].tolist() == [800.0]


# --------------------------------------------------------------------------------------------
# ordinal-ward
# --------------------------------------------------------------------------------------------


def test_ordinal_default_profiles_on_survey_0(ordinal: UsageProfiles) -> None:
    assert ordinal.method == "ordinal-ward"
    assert 3 <= ordinal.n_profiles_ <= 8
    assert ordinal.silhouette_ == pytest.approx(max(ordinal.silhouettes_.values()))
    assert sorted(ordinal.silhouettes_) == list(range(3, 9))
    assert ordinal.shares_.min() >= 0.05 and ordinal.counts_.min() >= 11
    assert np.all(np.diff(ordinal.counts_) <= 0)  # numbered by decreasing size
    assert ordinal.shares_.sum() == pytest.approx(1.0)
    for lang in ("fr", "en"):
        assert len({d.render(lang) for d in ordinal.descriptions_}) == ordinal.n_profiles_


def _explained(labels: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Share of each usage's variance (levels) explained by the profiles (eta squared)."""
    out = []
    for j in range(levels.shape[1]):
        x = levels[:, j].astype(float)
        within = sum(
            ((x[labels == p] - x[labels == p].mean()) ** 2).sum() for p in np.unique(labels)
        )
        out.append(1 - within / ((x - x.mean()) ** 2).sum())
    return np.array(out)


def test_ordinal_profiles_use_every_usage_where_near_uses_car_and_plane(
    near: UsageProfiles, ordinal: UsageProfiles, answers: pd.DataFrame
) -> None:
    levels = answers.dropna().to_numpy(dtype=int)
    eta_near = _explained(near.labels_[near.labels_ >= 0], levels)
    eta_ord = _explained(ordinal.labels_[ordinal.labels_ >= 0], levels)
    car, plane = USAGES.index("transportation_mode"), USAGES.index("air_travel_frequency")
    others = [j for j in range(6) if j not in (car, plane)]
    assert eta_near[car] > 0.5 and eta_near[others].max() < 0.05
    assert (eta_ord > 0.1).sum() >= 5


def test_ordinal_predict_gives_back_the_fitted_labels(
    ordinal: UsageProfiles, answers: pd.DataFrame
) -> None:
    assert np.array_equal(ordinal.predict(answers), ordinal.labels_)
    assigned = ordinal.assign(answers)
    assert assigned.index.equals(answers.index)
    assert assigned["profile"].isna().sum() == 1


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(LEVEL_ROW, min_size=1, max_size=80),
    outliers=st.lists(LEVEL_ROW, max_size=4),
    min_share=st.sampled_from([0.05, 0.11, 0.3]),
    min_size=st.sampled_from([0, 11, 25]),
    n_profiles=st.sampled_from(["auto", 2, 6]),
)
def test_ordinal_minimum_share_and_size_are_guaranteed(
    rows: list[tuple[int, ...]],
    outliers: list[tuple[int, ...]],
    min_share: float,
    min_size: int,
    n_profiles: int | str,
) -> None:
    X = np.array(rows + outliers)
    model = UsageProfiles(n_profiles=n_profiles, min_share=min_share, min_size=min_size).fit(X)  # type: ignore[arg-type]
    if model.n_profiles_ > 1:
        assert model.shares_.min() >= min_share - 1e-12
        assert model.counts_.min() >= min_size
    assert model.counts_.sum() == len(X)
    assert np.array_equal(model.predict(X), model.labels_)
    assert np.array_equal(np.bincount(model.labels_, minlength=model.n_profiles_), model.counts_)


def test_weighted_silhouette_equals_sklearn_on_repeated_answers() -> None:
    rng = np.random.default_rng(3)
    points = rng.integers(0, 3, (25, 4)).astype(float)
    points = np.unique(points, axis=0)
    weight = rng.integers(1, 5, len(points)).astype(float)
    labels = rng.integers(0, 3, len(points))
    labels[:3] = [0, 1, 2]
    expanded = np.repeat(points, weight.astype(int), axis=0)
    expected = silhouette_score(expanded, np.repeat(labels, weight.astype(int)))
    got = _weighted_silhouette(_pairwise(points), weight, labels.astype(np.intp))
    assert got == pytest.approx(expected, rel=1e-12)


def test_weighted_ward_equals_scipy_ward_on_repeated_points() -> None:
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(5)
    points = rng.normal(size=(30, 3))
    weight = rng.integers(1, 4, 30)
    expanded = np.repeat(points, weight, axis=0)
    tree = linkage(expanded, method="ward")
    merges = _ward_merges(points, weight.astype(float))
    for k in range(2, 8):
        ours = np.repeat(_cut(merges, len(points), k), weight)
        theirs = fcluster(tree, k, criterion="maxclust")
        assert adjusted_rand_score(ours, theirs) == 1.0


def test_sample_weight_is_the_same_as_repeating_answers(answers: pd.DataFrame) -> None:
    X = answers.dropna().to_numpy(dtype=int)[:120]
    w = np.tile([1, 2, 3], 40)
    a = UsageProfiles(n_profiles=4).fit(X, sample_weight=w)
    b = UsageProfiles(n_profiles=4).fit(np.repeat(X, w, axis=0))
    assert np.allclose(a.centres_, b.centres_)
    assert np.allclose(a.shares_, b.shares_)


# --------------------------------------------------------------------------------------------
# scikit-learn conventions, stability, national profiles
# --------------------------------------------------------------------------------------------


def test_estimator_conventions(answers: pd.DataFrame) -> None:
    model = UsageProfiles("near", random_state=3)
    assert model.get_params()["method"] == "near"
    assert model.get_params()["random_state"] == 3
    with pytest.raises(NotFittedError):
        model.predict(answers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        assert model.fit(answers) is model
        twin = clone(model)
        assert not hasattr(twin, "labels_")
        assert np.array_equal(twin.fit_predict(answers), model.labels_)
    assert model.transform(answers).shape == (len(answers), 3)


def test_bootstrap_stability_of_both_methods(answers: pd.DataFrame) -> None:
    near = bootstrap_stability(UsageProfiles("near"), answers, n_resamples=20, random_state=0)
    again = bootstrap_stability(UsageProfiles("near"), answers, n_resamples=20, random_state=0)
    assert np.array_equal(near.values, again.values)  # seeded
    assert near.mean > 0.8 and near.low <= near.mean <= near.high <= 1.0
    ordinal = bootstrap_stability(UsageProfiles(), answers, n_resamples=10, random_state=0)
    assert -1.0 <= ordinal.low <= ordinal.mean <= ordinal.high <= 1.0
    assert len(ordinal.values) == 10 and (ordinal.n_profiles >= 1).all()
    with pytest.raises(ValidationError):
        bootstrap_stability(UsageProfiles(), answers, n_resamples=0)


@pytest.fixture(scope="module")
def pool(answers: pd.DataFrame) -> pd.DataFrame:
    """Three neighbourhoods from survey_0: two halves, and a small car-and-plane one."""
    complete = answers.dropna()
    a = complete.iloc[:150].assign(neighbourhood="A")
    b = complete.iloc[150:].assign(neighbourhood="B")
    drivers = complete[complete["transportation_mode"] == 3]
    c = drivers.iloc[:30].assign(neighbourhood="C")
    c.index = "C" + c.index
    return pd.concat([a, b, c])


def test_national_profiles_balance_neighbourhoods(pool: pd.DataFrame) -> None:
    model = national_profiles(pool, n_profiles=4)
    sizes = pool["neighbourhood"].map(pool["neighbourhood"].value_counts()).to_numpy(float)
    weights = len(pool) / (3 * sizes)
    same = UsageProfiles(n_profiles=4).fit(pool, sample_weight=weights)
    assert np.allclose(model.centres_, same.centres_)
    unbalanced = national_profiles(pool, n_profiles=4, balance=False)
    plain = UsageProfiles(n_profiles=4).fit(pool)
    assert np.allclose(unbalanced.centres_, plain.centres_)
    # the small car neighbourhood weighs as much as each half once balanced
    car = USAGES.index("transportation_mode")
    assert (model.barycentres_[:, car] * model.shares_).sum() > (
        plain.barycentres_[:, car] * plain.shares_
    ).sum()
    with pytest.raises(ValidationError, match="balance"):
        national_profiles(pool, method="near")
    with pytest.raises(ValidationError, match="no 'neighbourhood' column") as err:
        national_profiles(pool.drop(columns="neighbourhood"))
    assert "quartier" in err.value.message_fr


def test_profile_mix_and_later_answers(pool: pd.DataFrame, answers: pd.DataFrame) -> None:
    model = national_profiles(pool, n_profiles=4)
    before = model.barycentres_.copy()
    mix = profile_mix(model, pool)
    assert mix.index.tolist() == ["A", "B", "C"]
    assert mix["n"].tolist() == [150, 163, 30]
    assert np.allclose(mix[[0, 1, 2, 3]].sum(axis=1), 100.0)
    # later answers, from another survey, are assigned to the existing profiles
    later = answers.iloc[::7]
    labels = model.predict(later)
    assert labels.min() >= -1 and labels.max() < 4
    assert np.array_equal(model.barycentres_, before)
    near = national_profiles(pool, method="near", balance=False)
    assert profile_mix(near, pool).loc["C", 0] == 0.0  # drivers never in the no-car profile


# --------------------------------------------------------------------------------------------
# output format and errors
# --------------------------------------------------------------------------------------------


def test_to_dict_format(near: UsageProfiles, answers: pd.DataFrame) -> None:
    out = json.loads(json.dumps(near.to_dict()))
    assert out["method"] == "near" and out["distance_unit"] == "kgco2e"
    assert [p["share_pct"] for p in out["profiles"]] == [74.12, 22.68, 3.19]
    first = out["profiles"][0]
    assert set(first) >= {"profile", "share_pct", "n", "barycentre", "description"}
    assert list(first["barycentre"]) == list(USAGES)
    assert first["description"] == "Sans voiture au quotidien"
    assert len(out["answers"]) == len(answers)
    by_id = {a["id"]: a for a in out["answers"]}
    assert by_id["84"] == {"id": "84", "profile": None, "distance": None}
    assert set(by_id["4"]) == {"id", "profile", "distance"}
    assert near.to_dict(lang="en")["profiles"][0]["description"] == "No car day to day"


def test_bad_input_raises_errors_with_a_french_message(answers: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="heat_source") as err:
        UsageProfiles().fit(answers.drop(columns="heat_source"))
    assert "colonnes" in err.value.message_fr
    bad = answers.dropna().astype("Int64")
    bad.iloc[0, 0] = 4
    with pytest.raises(ValidationError, match=r"meat_frequency holds \[4.0\]"):
        UsageProfiles().fit(bad)
    with pytest.raises(EmptyDataError):
        UsageProfiles().fit(answers.iloc[:0])
    with pytest.raises(ValidationError, match="method"):
        UsageProfiles("kmeans").fit(answers)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="sample_weight"):
        UsageProfiles("near").fit(answers, sample_weight=np.ones(len(answers)))
    with pytest.raises(ValidationError, match="usages"):
        UsageProfiles(usages=("meat_frequency", "bike")).fit(answers)
    with pytest.raises(ValidationError, match="one column per usage"):
        UsageProfiles().fit(np.ones((5, 3)))
    with pytest.raises(ValidationError, match="min_share"):
        UsageProfiles(min_share=11).fit(answers)
    with pytest.raises(ValidationError, match="k_range"):
        UsageProfiles(k_range=(5, 2)).fit(answers)
    with pytest.raises(ValidationError, match="min_size"):
        UsageProfiles(min_size=-1).fit(answers)
    with pytest.raises(ValidationError, match="n_profiles"):
        UsageProfiles(n_profiles=0).fit(answers)
    with pytest.raises(ValidationError, match="not levels"):
        UsageProfiles().fit(answers.dropna().replace({1: 0}))


def test_ordinal_to_dict_and_describe(ordinal: UsageProfiles) -> None:
    out = ordinal.to_dict(lang="en")
    assert out["method"] == "ordinal-ward" and out["distance_unit"] == "level_steps"
    assert sum(p["n"] for p in out["profiles"]) == 313
    assert [p["description"] for p in out["profiles"]] == [
        d.render("en") for d in ordinal.descriptions_
    ]
    table = ordinal.describe()
    assert table["share_pct"].sum() == pytest.approx(100.0)
    assert list(table.columns[-7:]) == [f"{u}_kgco2e" for u in USAGES] + ["description"]
    with pytest.raises(ValidationError, match="lang"):
        ordinal.to_dict(lang="de")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# the qet profiles command
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> Iterator[typer.Typer]:
    import qet_geo.cli.main

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test harness."""

    app.command("profiles")(profiles_command)
    lang = qet_geo.cli.main._state["lang"]
    qet_geo.cli.main._state["lang"] = "fr"
    yield app
    qet_geo.cli.main._state["lang"] = lang


def test_cli_near_writes_the_json_and_prints_in_french(
    cli: typer.Typer, survey_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "deep" / "profiles.json"
    result = CliRunner().invoke(cli, ["profiles", str(survey_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 profils d'usages (near) sur 313 réponses complètes" in result.output
    assert "74,1 %" in result.output and "Sans voiture au quotidien" in result.output
    assert "le profil 2 ne compte que 10 réponses" in result.output  # statistical secrecy
    body = json.loads(out.read_text(encoding="utf-8"))
    assert [p["n"] for p in body["profiles"]] == [232, 71, 10]
    assert len(body["answers"]) == 314


def test_cli_ordinal_json_in_english(cli: typer.Typer, survey_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["profiles", str(survey_path), "--method", "ordinal-ward", "--json", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["method"] == "ordinal-ward"
    assert min(p["n"] for p in body["profiles"]) >= 11
    assert "Warning" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "kmeans"], "--method kmeans : utilisez near ou ordinal-ward"),
        (["--out", "x.csv"], "utilisez un fichier .json"),
        (["--min-share", "11"], "entre 0 et 1"),
        (["--n-profiles", "0"], "au moins égal à 1"),
    ],
)
def test_cli_bad_options_exit_2_with_one_line(
    cli: typer.Typer, survey_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["profiles", str(survey_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_missing_or_bad_file_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["profiles", str(tmp_path / "none.tsv")])
    assert result.exit_code == 2 and "Erreur" in result.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tcouleur\n1\tbleu\n", encoding="utf-8")
    out = tmp_path / "p.json"
    result = CliRunner().invoke(cli, ["profiles", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "Erreur" in result.output
    assert not out.exists()
