"""Margins of manoeuvre: the kgCO2e a year the neighbourhood would save if a constraint were lifted.

For each :class:`~qet_geo.analysis.scenarios.Scenario`, a multinomial logistic model of each
affected usage's level predicts the level probabilities of every home of the neighbourhood, with
its indicators as they are and as the scenario changes them; the difference in expected kgCO2e
(NEAR or NGC scale) is averaged over the homes, weighted by their population, with a bootstrap
interval that resamples homes.

The point estimate predicts every home with the full fit. A bootstrap replicate's saving is the
same weighted mean, but a home the scenario leaves as it is saves exactly 0 under any model, so
the replicates only predict the homes the scenario changes, all replicates at once (one matrix
product per level, :func:`_expected_kg_many`): the figures are those of predicting every home
with every replicate, to the rounding of a float (``tests/analysis/test_links.py`` checks it),
and the cost grows with the homes changed, not with the replicates times the homes.

A scenario that needs data the run lacks (:attr:`Scenario.requires`: frequent stops without a
GTFS timetable, so departures per hour unknown) is left out: its row says ``left_out`` and the
table's ``attrs["left_out"]`` maps its name to the reason, a :class:`~qet_geo.i18n.Msg`.

These are associations, not causal effects: a margin reads "what the neighbourhood would emit if
residents living with the lifted constraint behaved like the respondents who already live without
it". Residents choose where they live (self-selection), so margins are an upper bound of what a
change of the built environment alone would bring.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from qet_geo.analysis._fitting import (
    _MAX_FAILED_SHARE,
    _MIN_ANSWERS,
    _check_constraints,
    _check_inputs,
    _check_weights,
    _Clusters,
    _cutoff_min,
    _Design,
    _design,
    _filled,
    _located,
    _logit,
    _percentiles,
    _quiet_fits,
)
from qet_geo.analysis._publish import _publish
from qet_geo.analysis.homes import _join
from qet_geo.analysis.scenarios import DEFAULT_SCENARIOS, MISSING_DATA, Scenario
from qet_geo.constraints.indicators import INDICATORS, USAGE_CONSTRAINTS
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, join, msg
from qet_geo.privacy import MIN_RESPONDENTS

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

__all__ = ["MARGIN_FIGURES", "margins_of_manoeuvre"]


def margins_of_manoeuvre(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    scale: Literal["near", "ngc"] | Mapping[str, Mapping[int, float]] = "near",
    constraints: Mapping[str, Sequence[str]] = USAGE_CONSTRAINTS,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    population: float | None = None,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    min_answers: int = _MIN_ANSWERS,
    max_missing: float = 0.2,
    C: float = 100.0,
    random_state: int = 0,
) -> pd.DataFrame:
    """Estimate the kgCO2e a year the neighbourhood would save if a constraint were lifted.

    For each usage a scenario touches (a usage whose model in ``constraints`` uses a changed
    indicator), a multinomial logistic model of its level (1, 2, 3) on its constraints is fitted
    on the answers; it predicts the level probabilities of **every home** of ``access``, with the
    indicators as they are and as the scenario changes them. The saving of a home is the drop of
    its expected kgCO2e (probabilities × the scale's kgCO2e per level); the neighbourhood's is
    the mean over homes weighted by ``access["weight"]`` (their population when a census was
    allocated to buildings). Bootstrap replicates resample the answers, the same ones for every
    usage, and refit every model.

    Parameters
    ----------
    answers
        Located SU answers (see :func:`~qet_geo.analysis.homes.join_constraints`).
    access
        Indicators per home, with its ``weight`` column (people, or 1 per building).
    scenarios
        The constraints to lift; :data:`~qet_geo.analysis.scenarios.DEFAULT_SCENARIOS` by default.
    scale
        "near" (NEAR's table, default), "ngc" (NosGestesClimat) or a mapping usage → level →
        kgCO2e (:func:`qet_geo.analysis.footprint.usage_scale`).
    constraints
        Usage → indicators, as for :func:`~qet_geo.analysis.models.constraint_models`.
    weights
        Respondent weights aligned to ``answers`` (raking weights), used to fit the models.
    cell_access
        Indicators per 200 m cell, for answers located by their cell only.
    population
        Inhabitants of the neighbourhood, for the total saving; by default the sum of
        ``access["weight"]`` when the weights are populations (not all 1), else no total.
    n_bootstrap, confidence, min_answers, max_missing, C, random_state
        As for :func:`~qet_geo.analysis.models.constraint_models`. A usage is modelled when at least ``min_answers`` of
        its answers are located and at least two of its levels gather ``min_answers`` each.

    Returns
    -------
    pandas.DataFrame
        One row per (``scenario``, ``usage``), usage "all" holding the sum over the usages:
        ``n_respondents``, ``status`` (ok; partial: some usage could not be modelled;
        not_applicable: no model uses a changed indicator; too_few_answers;
        unstable_intervals; left_out: the run lacks data the scenario requires, one row "all"
        with no figure), ``label_fr``, ``label_en``, ``share_homes_changed`` (weighted share
        of homes whose indicators change), ``baseline_kgco2e_per_person`` (modelled mean of the
        usage), ``saving_kgco2e_per_person`` with ``_low``/``_high`` (bootstrap interval),
        ``population`` and ``saving_tco2e`` with ``_low``/``_high`` (total a year, NaN without a
        population), ``ignored`` (changed indicators no model uses, or for a scenario left
        out the required ones the run lacks, ";"-joined). Marked as protected.
        ``attrs["left_out"]``: scenario name → why it was left out (a French
        :class:`~qet_geo.i18n.Msg`, rendered in any language), for each scenario left out.

    Raises
    ------
    ValidationError
        Bad input, an unknown scale, two scenarios of the same name, or a bad option.

    Warns
    -----
    QetGeoWarning
        Answers without home indicators; usages with too few answers; intervals withheld;
        scenarios left out for lack of data.
    """
    from qet_geo.analysis.footprint import usage_scale

    columns = _check_inputs(
        answers,
        access,
        cell_access,
        n_bootstrap=n_bootstrap,
        min_answers=min_answers,
        max_missing=max_missing,
        C=C,
        confidence=confidence,
    )
    scenarios = list(scenarios)
    if not all(isinstance(s, Scenario) for s in scenarios):
        raise ValidationError(msg("scenarios doit être une suite de Scenario."))
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValidationError(
            msg("Deux scénarios portent le même nom : donnez-leur des noms distincts.")
        )
    if population is not None and (
        isinstance(population, bool) or not float(population) > 0 or math.isinf(population)
    ):
        raise ValidationError(
            msg(
                "population doit être un nombre d'habitants positif, reçu {population!r}.",
                population=population,
            )
        )
    table = usage_scale(scale)
    chosen = _check_constraints(constraints)
    w = _check_weights(weights, answers.index)
    joined = _join(answers, access, columns, cell_access)
    home_w = (
        access["weight"].to_numpy(dtype=float)
        if "weight" in access.columns
        else np.ones(len(access))
    )
    home_w = np.where(np.isfinite(home_w) & (home_w > 0), home_w, 0.0)
    if home_w.sum() <= 0:
        raise ValidationError(msg("access n'a aucun logement de poids positif."))
    if population is None and not np.allclose(home_w, 1.0):
        population = float(home_w.sum())
    homes = _filled(access, _cutoff_min(access), columns)
    left_out = _left_out(scenarios, access)
    if left_out:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Scénario(s) laissé(s) de côté dans les marges de manœuvre : {reasons}",
                    reasons=join(
                        [
                            msg("{name} : {why}", name=n, why=why)
                            for n, (why, _) in left_out.items()
                        ],
                        msg(" ; "),
                    ),
                )
            ),
            stacklevel=2,
        )
    table = _margins(
        answers,
        joined,
        w,
        homes,
        home_w,
        scenarios,
        chosen,
        kg=table,
        cutoff_min=_cutoff_min(access),
        population=population,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        min_answers=min_answers,
        max_missing=max_missing,
        C=C,
        random_state=random_state,
        left_out=left_out,
    )
    table.attrs["left_out"] = {name: reason for name, (reason, _) in left_out.items()}
    return table


def _left_out(
    scenarios: Sequence[Scenario], access: pd.DataFrame
) -> dict[str, tuple[Msg, tuple[str, ...]]]:
    """The scenarios whose required data the run lacks: the reason, and the indicators lacking."""
    out: dict[str, tuple[Msg, tuple[str, ...]]] = {}
    for scenario in scenarios:
        lacking = [
            ind
            for ind in scenario.requires
            if ind not in access.columns
            or not pd.to_numeric(access[ind], errors="coerce").notna().any()
        ]
        if lacking:
            parts = [
                MISSING_DATA.get(ind)
                or msg(
                    "« {label} » n'est connu pour aucun logement",
                    label=INDICATORS[ind].label if ind in INDICATORS else ind,
                )
                for ind in lacking
            ]
            reason = msg(
                "scénario laissé de côté, faute de données : {missing}.",
                missing=join(parts, msg(" ; ")),
            )
            out[scenario.name] = (reason, tuple(lacking))
    return out


@dataclass
class _UsageMargin:
    design: _Design
    kg: np.ndarray  # kgCO2e of levels 1, 2, 3
    base: np.ndarray  # standardised home predictors
    home_ok: np.ndarray
    models: list[LogisticRegression | None]  # full fit first, then replicates (None: failed)
    base_kg: np.ndarray  # expected kgCO2e of every home under the full fit


def _margins(
    answers: pd.DataFrame,
    joined: pd.DataFrame,
    w: np.ndarray,
    homes: pd.DataFrame,
    home_w: np.ndarray,
    scenarios: list[Scenario],
    constraints: Mapping[str, tuple[str, ...]],
    *,
    kg: pd.DataFrame,
    cutoff_min: float,
    population: float | None,
    n_bootstrap: int,
    confidence: float,
    min_answers: int,
    max_missing: float,
    C: float,
    random_state: int,
    left_out: Mapping[str, tuple[Msg, tuple[str, ...]]],
) -> pd.DataFrame:
    located, filled, weights, groups = _located(answers, joined, w, cutoff_min)
    kept = [s for s in scenarios if s.name not in left_out]
    n_located = len(located)
    needed: dict[str, _Design] = {}
    status_of: dict[str, str] = {}
    for usage, candidates in constraints.items():
        if usage not in located.columns:
            continue
        design = _design(
            usage, candidates, located, filled, weights, groups, max_missing=max_missing
        )
        touched = any(ind in design.predictors for s in kept for ind in s.indicators)
        if not touched:
            continue
        counts = np.bincount(design.levels, minlength=4)[1:] if design.n else np.zeros(3)
        if design.n < min_answers or int((counts >= min_answers).sum()) < 2:
            status_of[usage] = "too_few_answers"
        else:
            status_of[usage] = "ok"
        needed[usage] = design
    rng = np.random.default_rng(random_state)
    clusters = _Clusters(groups)
    replicates = [clusters.sample(rng) for _ in range(n_bootstrap)]
    fitted: dict[str, _UsageMargin] = {}
    with _quiet_fits():
        for usage, design in needed.items():
            if status_of[usage] != "ok":
                continue
            fitted[usage] = _fit_margin(
                design,
                homes,
                kg.loc[usage, [1, 2, 3]].to_numpy(float),
                replicates,
                C,
                min_answers=min_answers,
            )
    failed = {
        usage: np.array([m is None for m in margin.models[1:]], dtype=bool)
        for usage, margin in fitted.items()
    }
    # the columns a scenario may change for a fitted model: the counterfactual homes need no more
    predictor_columns = list(
        dict.fromkeys(name for margin in fitted.values() for name in margin.design.predictors)
    )

    keys: list[tuple[str, str]] = []
    counts_out: list[int | None] = []
    cols: dict[str, list[Any]] = {k: [] for k in _MARGIN_COLUMNS}
    few = sorted(u for u, s in status_of.items() if s == "too_few_answers")
    unstable: list[str] = []
    for scenario in scenarios:
        if scenario.name in left_out:
            keys.append((scenario.name, "all"))
            counts_out.append(n_located if n_located >= MIN_RESPONDENTS else None)
            cols["status"].append("left_out")
            cols["label_fr"].append(scenario.label.render("fr"))
            cols["label_en"].append(scenario.label.render("en"))
            cols["share_homes_changed"].append(np.nan)
            cols["ignored"].append(";".join(left_out[scenario.name][1]))
            cols["population"].append(population if population is not None else np.nan)
            for name in MARGIN_FIGURES:
                cols[name].append(np.nan)
            continue
        affected = [u for u, d in needed.items() if set(scenario.indicators) & set(d.predictors)]
        used = {ind for u in affected for ind in needed[u].predictors}
        ignored = [ind for ind in scenario.indicators if ind not in used]
        modelled = [u for u in affected if u in fitted]
        changed_share = _changed_share(scenario, homes, used, home_w)
        per_usage: dict[str, np.ndarray] = {}
        baselines: dict[str, float] = {}
        if modelled:
            counterfactual = _apply(scenario, homes[predictor_columns])
        for usage in modelled:
            margin = fitted[usage]
            cf = _standardised_homes(margin.design, counterfactual)
            ok = margin.home_ok
            weight_ok = home_w[ok]
            # the point estimate: the full model over every home, as published
            base_kg = margin.base_kg
            # the full fit: a usage is only in ``fitted`` when it could be made
            full = cast("LogisticRegression", margin.models[0])
            cf_kg = _expected_kg(full, cf, margin.kg)
            point = float(np.sum(weight_ok * (base_kg - cf_kg)[ok]) / weight_ok.sum())
            baselines[usage] = float(np.sum(weight_ok * base_kg[ok]) / weight_ok.sum())
            per_usage[usage] = np.concatenate(
                [[point], _replicate_savings(margin, cf, home_w, n_bootstrap)]
            )
        # a replicate counts for the total when every usage could be refitted on it
        lost = np.zeros(n_bootstrap, dtype=bool)
        for usage in modelled:
            lost |= failed[usage]
        scenario_unstable = _too_many_failed(lost)
        unstable.extend(u for u in modelled if _too_many_failed(failed[u]) and u not in unstable)
        if not affected:
            status = "not_applicable"
        elif not modelled:
            status = "too_few_answers"
        elif scenario_unstable:
            status = "unstable_intervals"
        elif len(modelled) < len(affected):
            status = "partial"
        else:
            status = "ok"
        rows: list[tuple[str, np.ndarray | None, np.ndarray, str, float]] = []
        for usage in affected:
            if usage in fitted:
                bad = failed[usage]
                row_status = "unstable_intervals" if _too_many_failed(bad) else "ok"
            else:
                bad = np.ones(n_bootstrap, dtype=bool)
                row_status = status_of[usage]
            rows.append(
                (usage, per_usage.get(usage), bad, row_status, baselines.get(usage, np.nan))
            )
        total = np.sum(np.vstack([per_usage[u] for u in modelled]), axis=0) if modelled else None
        baseline_all = sum(baselines.values()) if modelled else np.nan
        rows.append(("all", total, lost, status, baseline_all))
        for usage, savings_arr, bad, row_status, baseline in rows:
            keys.append((scenario.name, usage))
            counts_out.append(n_located if n_located >= MIN_RESPONDENTS else None)
            cols["status"].append(row_status)
            cols["label_fr"].append(scenario.label.render("fr"))
            cols["label_en"].append(scenario.label.render("en"))
            cols["share_homes_changed"].append(round(changed_share, 4))
            cols["ignored"].append(";".join(ignored))
            cols["population"].append(population if population is not None else np.nan)
            if savings_arr is None:
                point, low, high = np.nan, np.nan, np.nan
            else:
                point = float(savings_arr[0])
                low, high = (
                    (np.nan, np.nan)
                    if _too_many_failed(bad)
                    else _interval(savings_arr[1:][~bad], confidence)
                )
            cols["baseline_kgco2e_per_person"].append(baseline)
            cols["saving_kgco2e_per_person"].append(point)
            cols["saving_kgco2e_per_person_low"].append(low)
            cols["saving_kgco2e_per_person_high"].append(high)
            scale_t = (population / 1000.0) if population is not None else np.nan
            cols["saving_tco2e"].append(point * scale_t)
            cols["saving_tco2e_low"].append(low * scale_t)
            cols["saving_tco2e_high"].append(high * scale_t)
    if few:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Trop peu de réponses pour modéliser {few} dans les marges de manœuvre "
                    "(moins de {min_answers} réponses localisées, ou moins de deux niveaux de "
                    "{min_answers} réponses chacun) : leurs gains sont NaN.",
                    few=", ".join(few),
                    min_answers=min_answers,
                )
            ),
            stacklevel=3,
        )
    if unstable:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Les intervalles bootstrap des marges de {unstable} sont retenus "
                    "(NaN) : trop de rééchantillons n'avaient pas l'un de ses niveaux principaux ; "
                    "les estimations reposent sur peu de réponses.",
                    unstable=", ".join(sorted(unstable)),
                )
            ),
            stacklevel=3,
        )
    return _publish(keys, counts_out, cols, index_names=("scenario", "usage"))


_MARGIN_COLUMNS = (
    "status",
    "label_fr",
    "label_en",
    "share_homes_changed",
    "baseline_kgco2e_per_person",
    "saving_kgco2e_per_person",
    "saving_kgco2e_per_person_low",
    "saving_kgco2e_per_person_high",
    "population",
    "saving_tco2e",
    "saving_tco2e_low",
    "saving_tco2e_high",
    "ignored",
)


#: The figures of a margin (a scenario, per usage and for all), in the table's column order.
MARGIN_FIGURES: tuple[str, ...] = (
    "baseline_kgco2e_per_person",
    "saving_kgco2e_per_person",
    "saving_kgco2e_per_person_low",
    "saving_kgco2e_per_person_high",
    "saving_tco2e",
    "saving_tco2e_low",
    "saving_tco2e_high",
)


def _too_many_failed(failed: np.ndarray) -> bool:
    return len(failed) > 0 and float(failed.mean()) > _MAX_FAILED_SHARE


def _fit_margin(
    design: _Design,
    homes: pd.DataFrame,
    kg: np.ndarray,
    replicates: list[np.ndarray],
    C: float,
    *,
    min_answers: int,
) -> _UsageMargin:
    z = design.z(design.x)
    y = design.levels
    w = design.w
    full = _logit(z, y, w, C)
    classes = np.asarray(full.classes_)
    # a replicate must hold the levels the answers really have; a rare level (fuel oil) may be
    # missing from one, its probability is then 0 there
    counts = np.bincount(y, minlength=4)
    required = np.array([lv for lv in classes if counts[lv] >= min_answers])
    # position of each located answer among the design's rows (-1: not in this model)
    pos = np.cumsum(design.rows) - 1
    pos[~design.rows] = -1
    models: list[LogisticRegression | None] = [full]
    for idx in replicates:
        sub = pos[idx]
        sub = sub[sub >= 0]
        present = np.unique(y[sub]) if len(sub) else np.zeros(0, dtype=int)
        if len(present) < 2 or not np.isin(required, present).all() or w[sub].sum() <= 0:
            models.append(None)
            continue
        models.append(_logit(z[sub], y[sub], w[sub], C))
    base = _standardised_homes(design, homes)
    home_ok = np.isfinite(base).all(axis=1)
    return _UsageMargin(
        design=design,
        kg=kg,
        base=base,
        home_ok=home_ok,
        models=models,
        base_kg=_expected_kg(full, base, kg),
    )


def _standardised_homes(design: _Design, homes: pd.DataFrame) -> np.ndarray:
    return design.z(homes[design.predictors].to_numpy(dtype=float))


def _apply(scenario: Scenario, homes: pd.DataFrame) -> pd.DataFrame:
    out = homes.copy()
    for change in scenario.changes:
        if change.indicator in out.columns:
            out[change.indicator] = change.apply(out[change.indicator].to_numpy(dtype=float))
    return out


def _changed_share(
    scenario: Scenario, homes: pd.DataFrame, used: set[str], home_w: np.ndarray
) -> float:
    changed = np.zeros(len(homes), dtype=bool)
    for change in scenario.changes:
        if change.indicator not in used or change.indicator not in homes.columns:
            continue
        before = homes[change.indicator].to_numpy(dtype=float)
        after = change.apply(before)
        changed |= np.isfinite(before) & ~np.isclose(before, after, rtol=0.0, atol=1e-9)
    total = home_w.sum()
    return float(home_w[changed].sum() / total) if total > 0 else np.nan


def _expected_kg(model: LogisticRegression, z: np.ndarray, kg: np.ndarray) -> np.ndarray:
    z = np.where(np.isfinite(z), z, 0.0)
    probs = model.predict_proba(z)
    levels = np.asarray(model.classes_, dtype=int)
    return np.asarray(probs @ kg[levels - 1], dtype=float)


def _replicate_savings(
    margin: _UsageMargin, cf: np.ndarray, home_w: np.ndarray, n_bootstrap: int
) -> np.ndarray:
    """The saving of each bootstrap replicate (NaN where its fit failed), on the changed homes.

    A home the scenario leaves as it is saves exactly 0 under every model (the same predictors
    give the same prediction), so only the homes it changes are predicted, by every replicate at
    once (:func:`_expected_kg_many`); the sum over them is divided by the weight of every home,
    as the point estimate is. This is the weighted mean over every home of the replicate's
    saving, to the rounding of a sum.
    """
    out = np.full(n_bootstrap, np.nan)
    ok = margin.home_ok
    total = float(home_w[ok].sum())
    good = [i for i, model in enumerate(margin.models[1:]) if model is not None]
    if not good or total <= 0:
        return out
    base = np.where(np.isfinite(margin.base), margin.base, 0.0)
    after = np.where(np.isfinite(cf), cf, 0.0)
    changed = ok & (base != after).any(axis=1)
    if not changed.any():
        out[good] = 0.0
        return out
    models = [margin.models[1 + i] for i in good]
    rows = np.flatnonzero(changed)
    saved = np.zeros(len(models))
    # a block of homes at a time: memory bounded whatever the number of homes
    for start in range(0, len(rows), _CHUNK_HOMES):
        block = rows[start : start + _CHUNK_HOMES]
        drop = _expected_kg_many(models, base[block], margin.kg)
        drop -= _expected_kg_many(models, after[block], margin.kg)
        saved += home_w[block] @ drop
    out[good] = saved / total
    return out


# predictions computed at once by _expected_kg_many (homes x models x levels): small enough for
# its few temporary arrays to stay in the processor's cache (5x faster than 2 M values at once)
_CHUNK_VALUES = 1 << 16
# homes whose replicate savings are held at once by _replicate_savings (x replicates x 2 floats)
_CHUNK_HOMES = 4096


def _expected_kg_many(
    models: Sequence[LogisticRegression], z: np.ndarray, kg: np.ndarray
) -> np.ndarray:
    """Expected kgCO2e of each row of ``z`` under each model: (rows, models).

    What :func:`_expected_kg` gives model by model (``LogisticRegression.predict_proba``: the
    logistic function for two levels, the softmax for more), to the rounding of a float: the
    models of the same levels are stacked, so that each level's logit relative to the first
    level is one matrix product for every model at once, in chunks of rows. With the first
    level's logit as 0, the softmax needs one exponential per other level; where one would
    overflow the largest logit is subtracted first, as ``predict_proba`` does.
    """
    by_levels: dict[tuple[int, ...], list[int]] = {}
    for i, model in enumerate(models):
        by_levels.setdefault(tuple(int(c) for c in model.classes_), []).append(i)
    parts: list[tuple[list[int], np.ndarray]] = []
    for levels, members in by_levels.items():
        coef = np.stack([models[i].coef_ for i in members], axis=1)  # (k, m, p); k=1: 2 levels
        intercept = np.stack([models[i].intercept_ for i in members], axis=1)  # (k, m)
        if len(coef) > 1:
            # relative to the first level (the softmax is unchanged by a common shift)
            coef, intercept = coef[1:] - coef[0], intercept[1:] - intercept[0]
        slopes = [np.ascontiguousarray(c.T) for c in coef]  # (p, m) per level
        kg_levels = kg[np.asarray(levels) - 1].astype(float)
        part = np.empty((len(z), len(members)))
        step = max(1, _CHUNK_VALUES // (len(members) * len(coef)))
        for start in range(0, len(z), step):
            block = z[start : start + step]
            logits = [block @ slope + shift for slope, shift in zip(slopes, intercept, strict=True)]
            part[start : start + step] = _softmax_kg(logits, kg_levels)
        parts.append((members, part))
    if len(parts) == 1:
        return parts[0][1]
    out = np.empty((len(z), len(models)))
    for members, part in parts:
        out[:, members] = part
    return out


def _softmax_kg(logits: list[np.ndarray], kg: np.ndarray) -> np.ndarray:
    """sum_k kg_k softmax(0, logits)_k, elementwise; ``logits`` are relative to the first level."""
    with np.errstate(over="ignore", invalid="ignore"):
        if len(logits) == 1:
            # two levels: the logistic function, as predict_proba
            high = 1.0 / (1.0 + np.exp(-logits[0]))
            return np.asarray((1.0 - high) * kg[0] + high * kg[1])
        total = np.ones_like(logits[0])
        weighted = np.full_like(logits[0], kg[0])
        e = np.empty_like(logits[0])
        for value, logit in zip(kg[1:], logits, strict=True):
            np.exp(logit, out=e)
            total += e
            e *= value
            weighted += e
        out = np.divide(weighted, total, out=weighted)
    bad = ~np.isfinite(out)
    if bad.any():
        # a logit too large for exp: subtract the largest first
        rel = np.stack([np.zeros(int(bad.sum()))] + [logit[bad] for logit in logits])
        rel -= rel.max(axis=0)
        np.exp(rel, out=rel)
        out[bad] = (kg[:, None] * rel).sum(axis=0) / rel.sum(axis=0)
    return out


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return np.nan, np.nan
    low, high = _percentiles(samples, confidence)
    return float(low), float(high)
