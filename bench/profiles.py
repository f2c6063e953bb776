"""Benchmark and compare the Profils d'Usages methods.

Timing (default): NEAR's algorithm (``UsageProfiles(method="near")``) on 1 000, 10 000, 100 000
and 1 000 000 answers drawn with replacement from the 313 complete answers of NEAR's
``survey_0.tsv`` (fixed seed), best of N runs, with the growth exponent (least-squares slope of
log time against log answers; target <= 1.2). The default ``ordinal-ward`` method is timed too, and
on 1 000 answers both are set against scipy's centroid linkage (one pair merged at a time, no tie
rule, a condensed distance matrix of n² / 2 floats: it cannot go much further).

Comparison (``--compare``): the figures of ``docs/profiles.md`` on ``survey_0.tsv``: profiles,
shares and descriptions of both methods, silhouettes, variance of each usage explained by the
profiles, bootstrap stability (adjusted Rand index), and for ordinal-ward the criteria for every k.

    .venv/bin/python bench/profiles.py [--repeat 3]
    .venv/bin/python bench/profiles.py --compare [--resamples 100]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

SURVEY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "surveys" / "near_su"
SIZES = (1_000, 10_000, 100_000, 1_000_000)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def load() -> pd.DataFrame:
    from qet_geo.surveys.su import read_su

    return read_su(SURVEY / "survey_0.tsv").complete_rows()


def timing(repeat: int) -> None:
    from scipy.cluster.hierarchy import linkage

    from qet_geo.analysis.profiles import UsageProfiles, _kgco2e, _near_table
    from qet_geo.surveys.schema import USAGES

    levels = load().to_numpy(dtype=np.int8)
    rng = np.random.default_rng(20240601)
    rows = []
    for n in SIZES:
        sample = levels[rng.integers(0, len(levels), n)]
        near = UsageProfiles("near")
        t_near = best(partial(near.fit, sample), repeat)
        t_ord = best(partial(UsageProfiles().fit, sample), repeat)
        shares = " / ".join(f"{100 * s:.1f}" for s in near.shares_)
        rows.append((n, t_near, t_ord, shares, near.n_merge_steps_))
    print("near on answers resampled from survey_0.tsv (best of", repeat, "runs)")
    print(f"  {'answers':>9}  {'near':>9}  {'ordinal-ward':>12}  near shares (%)   steps")
    for n, t_near, t_ord, shares, steps in rows:
        print(f"  {n:>9,}  {t_near * 1000:7.1f} ms  {t_ord * 1000:9.1f} ms  {shares:<17} {steps}")
    x = np.log([r[0] for r in rows])
    for name, col in (("near", 1), ("ordinal-ward", 2)):
        y = np.log([r[col] for r in rows])
        slope = np.polyfit(x, y, 1)[0]
        last = (y[-1] - y[-2]) / (x[-1] - x[-2])
        print(
            f"growth exponent, {name:<12}: {slope:5.2f} over 1k-1M, {last:5.2f} over 100k-1M "
            "(target <= 1.2)"
        )
    # the worst case for the agglomeration: usages drawn independently, so that nearly all
    # 3^6 = 729 possible answers occur
    wide = np.column_stack(
        [rng.choice(levels[:, j], 1_000_000) for j in range(levels.shape[1])]
    ).astype(np.int8)
    n_distinct = len(np.unique(wide, axis=0))
    t_wide = best(lambda: UsageProfiles("near").fit(wide), repeat)
    t_wide_ord = best(lambda: UsageProfiles().fit(wide), repeat)
    print(
        f"1 000 000 answers with independent usages ({n_distinct} distinct): near "
        f"{t_wide * 1000:.1f} ms, ordinal-ward {t_wide_ord * 1000:.1f} ms"
    )
    # a peer on 1 000 answers: scipy's centroid linkage over the same kgCO2e vectors
    sample = levels[rng.integers(0, len(levels), 1_000)]
    kg = _kgco2e(sample, _near_table(USAGES)).astype(float)
    t_scipy = best(lambda: linkage(kg, method="centroid"), repeat)
    t_near = best(lambda: UsageProfiles("near").fit(sample), repeat)
    print(
        f"1 000 answers: scipy centroid linkage {t_scipy * 1000:.1f} ms, near {t_near * 1000:.1f} "
        f"ms, ratio {t_scipy / t_near:.1f}x"
    )


def explained(labels: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Share of the variance of each usage's level explained by the profiles (eta squared)."""
    out = []
    for j in range(levels.shape[1]):
        x = levels[:, j].astype(float)
        within = sum(((x[labels == p] - x[labels == p].mean()) ** 2).sum() for p in set(labels))
        out.append(1.0 - within / ((x - x.mean()) ** 2).sum())
    return np.array(out)


def compare(resamples: int) -> None:
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    from qet_geo.analysis.profiles import (
        Method,
        UsageProfiles,
        _kgco2e,
        _near_table,
        bootstrap_stability,
    )
    from qet_geo.surveys.schema import USAGE_LABELS, USAGES

    answers = load()
    levels = answers.to_numpy(dtype=np.int8)
    kg = _kgco2e(levels, _near_table(USAGES)).astype(float)
    steps = (levels - 1).astype(float)
    methods: tuple[Method, Method] = ("near", "ordinal-ward")
    models = {name: UsageProfiles(name).fit(answers) for name in methods}
    print(f"survey_0.tsv: {len(answers)} complete answers\n")
    for name, model in models.items():
        print(f"### {name}: {model.n_profiles_} profiles\n")
        print("| profile | share | n | description (fr) | description (en) |")
        print("|---|---|---|---|---|")
        for p in range(model.n_profiles_):
            print(
                f"| {p} | {100 * model.shares_[p]:.1f} % | {model.counts_[p]} | "
                f"{model.descriptions_['fr'][p]} | {model.descriptions_['en'][p]} |"
            )
        print()
    labels = {name: m.labels_ for name, m in models.items()}
    print("| criterion | near | ordinal-ward |")
    print("|---|---|---|")
    for space, points in (("kgCO2e", kg), ("level steps", steps)):
        values = [silhouette_score(points, labels[name]) for name in models]
        print(f"| silhouette in {space} | {values[0]:.3f} | {values[1]:.3f} |")
    eta = {name: explained(labels[name], levels) for name in models}
    for j, usage in enumerate(USAGES):
        label = USAGE_LABELS[usage].render("en")
        print(
            f"| variance explained, {label} | {eta['near'][j]:.2f} | {eta['ordinal-ward'][j]:.2f} |"
        )
    stab = {
        name: bootstrap_stability(
            UsageProfiles(name), answers, n_resamples=resamples, random_state=0
        )
        for name in methods
    }
    cells = [f"{s.mean:.2f} [{s.low:.2f}, {s.high:.2f}]" for s in stab.values()]
    print(
        f"| bootstrap ARI, mean [95 % interval], {resamples} resamples | {cells[0]} | {cells[1]} |"
    )
    ks = [
        ", ".join(
            f"{k}: {c}" for k, c in zip(*np.unique(s.n_profiles, return_counts=True), strict=True)
        )
        for s in stab.values()
    ]
    print(f"| profiles found on the resamples (k: times) | {ks[0]} | {ks[1]} |")
    print(
        f"\nARI between the two methods' partitions: "
        f"{adjusted_rand_score(labels['near'], labels['ordinal-ward']):.3f}\n"
    )

    # the criteria for each k of ordinal-ward
    rng = np.random.default_rng(0)
    n_ref = 20
    print(
        "| k | profiles after the floor | silhouette | gap (independent usages) | bootstrap ARI |"
    )
    print("|---|---|---|---|---|")
    for k in range(3, 9):
        model = UsageProfiles(n_profiles=k).fit(answers)
        within = np.log(sum(d**2 for d in model.distances_))
        refs = []
        for _ in range(n_ref):
            fake = np.column_stack(
                [rng.choice(levels[:, j], len(levels)) for j in range(levels.shape[1])]
            )
            ref = UsageProfiles(n_profiles=k).fit(fake)
            refs.append(np.log(sum(d**2 for d in ref.distances_)))
        gap, sd = np.mean(refs) - within, np.std(refs) * np.sqrt(1 + 1 / n_ref)
        s = bootstrap_stability(
            UsageProfiles(n_profiles=k),
            answers,
            n_resamples=max(10, resamples // 3),
            random_state=0,
        )
        print(
            f"| {k} | {model.n_profiles_} | {model.silhouette_:.3f} | {gap:+.3f} ± {sd:.3f} | "
            f"{s.mean:.2f} [{s.low:.2f}, {s.high:.2f}] |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (best is kept)")
    parser.add_argument("--compare", action="store_true", help="print the docs/profiles.md figures")
    parser.add_argument("--resamples", type=int, default=100, help="bootstrap resamples")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.compare:
        compare(args.resamples)
    else:
        timing(args.repeat)


if __name__ == "__main__":
    main()
