"""Usages against their built constraints: one logistic model per usage.

:func:`~qet_geo.analysis.models.constraint_models` regresses each usage's highest-carbon level (car, meat at every meal,
more than 3 flights, always new, fuel oil) on the constraints of the method's table
(:data:`qet_geo.constraints.indicators.USAGE_CONSTRAINTS`), on standardised predictors: odds
ratios per documented unit (per 100 m, per 5 min; :func:`qet_geo.constraints.indicators.indicator_unit`)
and per standard deviation with percentile-bootstrap 95 % intervals, and stratified k-fold
cross-validated AUC and log-loss against a no-constraint baseline (the prevalence of the training
folds).

Answers of one home share its indicators and are not independent (a block of flats can hold many
respondents): the bootstrap resamples homes (a cluster bootstrap) and the folds never split a
home. Resampling answers instead gives intervals far too narrow: on Lorient with shuffled
indicators it finds "effects" where there are none.

Both tables pass :func:`qet_geo.privacy.protect_counts`: no figure from fewer than 11 answers, and
a model is only fitted when at least 11 answers sit on each side of the outcome.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
    _located,
    _logit,
    _percentiles,
    _quiet_fits,
)
from qet_geo.analysis._publish import _publish, _round_to
from qet_geo.analysis.homes import _join
from qet_geo.constraints.indicators import USAGE_CONSTRAINTS, IndicatorUnit, indicator_unit
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS

__all__ = ["ConstraintModels", "constraint_models"]


@dataclass(frozen=True)
class ConstraintModels:
    """The usage models of :func:`~qet_geo.analysis.models.constraint_models`: their effects and their scores.

    Attributes
    ----------
    effects
        One row per (``usage``, ``indicator``): ``n_respondents``, ``status`` ("ok"; else
        why there is no figure: too_few_answers, no_indicator, indicator_absent,
        indicator_missing, indicator_constant), ``unit``, ``unit_en``, ``unit_fr``,
        ``odds_ratio`` (per unit) with ``odds_ratio_low``/``_high`` (bootstrap interval),
        ``sd`` (of the indicator among the answers), ``odds_ratio_per_sd`` with
        ``odds_ratio_per_sd_low``/``_high``, ``coef_std`` (logit per standard deviation).
        Marked as protected.
    scores
        One row per ``usage``: ``n_respondents``, ``status`` (ok, too_few_answers, no_indicator,
        unstable_intervals), ``outcome_level`` (the outcome is level >= it), ``predictors``,
        ``n_splits``, ``cv_auc`` and ``cv_auc_sd`` (over the folds), ``cv_log_loss``,
        ``baseline_auc`` (0.5), ``baseline_log_loss`` (no-constraint model: the prevalence of
        the training folds), ``log_loss_gain`` (baseline minus model; > 0 when the constraints
        predict), ``n_bootstrap`` (replicates that could be fitted). Marked as protected.
    """

    effects: pd.DataFrame
    scores: pd.DataFrame


def constraint_models(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    constraints: Mapping[str, Sequence[str]] = USAGE_CONSTRAINTS,
    level: Literal[2, 3] = 3,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    n_splits: int = 5,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    min_answers: int = _MIN_ANSWERS,
    max_missing: float = 0.2,
    C: float = 100.0,
    random_state: int = 0,
) -> ConstraintModels:
    """Model each usage's high-carbon level against its home constraints.

    For each usage of ``constraints``, a logistic regression of P(level >= ``level``) (by default
    the highest-carbon answer: car, meat at every meal, more than 3 flights, always new, fuel oil)
    on its constraint indicators, standardised, with a weak ridge penalty (``C``) that only
    matters when answers are few or nearly separated.

    Parameters
    ----------
    answers
        Located SU answers (see :func:`~qet_geo.analysis.homes.join_constraints`).
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access`), joined with
        :func:`~qet_geo.analysis.homes.building_indicators` to model heating.
    constraints
        Usage → indicators; :data:`~qet_geo.constraints.indicators.USAGE_CONSTRAINTS` (the method's table) by default.
        Indicators absent from ``access``, missing for more than ``max_missing`` of the answers
        or constant are left out (and said so). A distance or time to the nearest amenity that is
        NaN (none within the 5 km search) counts as the cutoff (5 000 m, its time at the mode's
        speed).
    level
        3 (default): the outcome is the highest-carbon level; 2: any level above the lowest.
    weights
        Respondent weights aligned to ``answers`` (raking weights); 1 each by default.
    cell_access
        Indicators per 200 m cell, for answers located by their cell only.
    n_splits
        Folds of the stratified cross-validation (2 to 20; fewer when the rarer outcome has
        fewer answers); the answers of one home are never split between folds.
    n_bootstrap
        Bootstrap replicates of the intervals (0: no intervals). Each replicate resamples
        homes (building or cell) with their answers, not single answers.
    confidence
        Level of the percentile-bootstrap intervals; 0.95.
    min_answers
        Fewest answers on each side of the outcome for a model to be fitted; 11 (INSEE's
        secrecy floor, also about the least a logistic regression needs). Lower is refused.
    max_missing
        Largest share of answers an indicator may lack before it is left out; 0.2.
    C
        Inverse strength of the ridge penalty on standardised coefficients; 100 (weak).
    random_state
        Seed of the folds and of the bootstrap: the same inputs and seed give the same figures.

    Returns
    -------
    ConstraintModels
        ``effects`` and ``scores``, both protected tables.

    Raises
    ------
    ValidationError
        Bad ``answers``, ``access``, ``weights``, ``constraints`` or option.

    Warns
    -----
    QetGeoWarning
        Answers without home indicators; a usage with too few answers (no figure); bootstrap
        intervals withheld because too many replicates could not be fitted.
    """
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
    if level not in (2, 3):
        raise ValidationError(msg("level doit valoir 2 ou 3, reçu {level!r}.", level=level))
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or not 2 <= n_splits <= 20:
        raise ValidationError(
            msg("n_splits doit être un entier de 2 à 20, reçu {n_splits!r}.", n_splits=n_splits)
        )
    chosen = _check_constraints(constraints)
    w = _check_weights(weights, answers.index)
    joined = _join(answers, access, columns, cell_access)
    return _constraint_models(
        answers,
        joined,
        w,
        chosen,
        cutoff_min=_cutoff_min(access),
        level=level,
        n_splits=n_splits,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        min_answers=min_answers,
        max_missing=max_missing,
        C=C,
        random_state=random_state,
    )


def _constraint_models(
    answers: pd.DataFrame,
    joined: pd.DataFrame,
    w: np.ndarray,
    constraints: Mapping[str, tuple[str, ...]],
    *,
    cutoff_min: float,
    level: int,
    n_splits: int,
    n_bootstrap: int,
    confidence: float,
    min_answers: int,
    max_missing: float,
    C: float,
    random_state: int,
) -> ConstraintModels:
    located, filled, weights, groups = _located(answers, joined, w, cutoff_min)
    effect_keys: list[tuple[str, str]] = []
    effect_n: list[int | None] = []
    effect_cols: dict[str, list[Any]] = {k: [] for k in _EFFECT_COLUMNS}
    score_keys: list[str] = []
    score_n: list[int | None] = []
    score_cols: dict[str, list[Any]] = {k: [] for k in _SCORE_COLUMNS}
    few: list[str] = []
    unstable: list[str] = []
    with _quiet_fits():
        for usage, candidates in constraints.items():
            if usage not in located.columns:
                continue
            design = _design(
                usage, candidates, located, filled, weights, groups, max_missing=max_missing
            )
            y = (design.levels >= level).astype(int)
            n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
            if design.n_answered < min_answers or design.w.sum() <= 0:
                status = "too_few_answers"
                few.append(usage)
            elif not design.predictors:
                status = "no_indicator"
            elif min(n_pos, n_neg) < min_answers:
                status = "too_few_answers"
                few.append(usage)
            else:
                status = "ok"
            fit = (
                _fit_binary(
                    design,
                    y,
                    n_splits=n_splits,
                    n_bootstrap=n_bootstrap,
                    confidence=confidence,
                    C=C,
                    seed=random_state,
                )
                if status == "ok"
                else None
            )
            if fit is not None and fit["unstable"]:
                status = "unstable_intervals"
                unstable.append(usage)
            n_used = design.n if design.n >= MIN_RESPONDENTS else None
            score_keys.append(usage)
            score_n.append(n_used)
            score_cols["status"].append(status)
            score_cols["outcome_level"].append(level)
            score_cols["predictors"].append(";".join(design.predictors))
            score_cols["n_splits"].append(fit["n_splits"] if fit is not None else n_splits)
            for key in ("cv_auc", "cv_auc_sd", "cv_log_loss", "baseline_log_loss"):
                score_cols[key].append(fit[key] if fit is not None else np.nan)
            score_cols["baseline_auc"].append(0.5 if fit is not None else np.nan)
            score_cols["log_loss_gain"].append(
                fit["baseline_log_loss"] - fit["cv_log_loss"] if fit is not None else np.nan
            )
            score_cols["n_bootstrap"].append(fit["n_bootstrap"] if fit is not None else 0)
            for j, name in enumerate(design.predictors):
                unit = indicator_unit(name)
                effect_keys.append((usage, name))
                effect_n.append(n_used)
                effect_cols["status"].append(status)
                _unit_columns(effect_cols, unit)
                sd = float(design.sd[j])
                effect_cols["sd"].append(_round_to(sd, unit.precision / 10.0))
                if fit is None:
                    for key in _FIGURES:
                        effect_cols[key].append(np.nan)
                    continue
                coef = float(fit["coef"][j])
                low, high = fit["low"][j], fit["high"][j]
                per_unit = unit.step / sd
                effect_cols["coef_std"].append(coef)
                effect_cols["odds_ratio"].append(_odds(coef * per_unit))
                effect_cols["odds_ratio_low"].append(_odds(low * per_unit))
                effect_cols["odds_ratio_high"].append(_odds(high * per_unit))
                effect_cols["odds_ratio_per_sd"].append(_odds(coef))
                effect_cols["odds_ratio_per_sd_low"].append(_odds(low))
                effect_cols["odds_ratio_per_sd_high"].append(_odds(high))
            for name, reason in design.dropped.items():
                unit = indicator_unit(name)
                effect_keys.append((usage, name))
                effect_n.append(n_used)
                effect_cols["status"].append(reason)
                _unit_columns(effect_cols, unit)
                effect_cols["sd"].append(np.nan)
                for key in _FIGURES:
                    effect_cols[key].append(np.nan)
    _warn_models(few, unstable, min_answers)
    effects = _publish(effect_keys, effect_n, effect_cols, index_names=("usage", "indicator"))
    scores = _publish(score_keys, score_n, score_cols, index_names=("usage",))
    return ConstraintModels(effects=effects, scores=scores)


_FIGURES = (
    "coef_std",
    "odds_ratio",
    "odds_ratio_low",
    "odds_ratio_high",
    "odds_ratio_per_sd",
    "odds_ratio_per_sd_low",
    "odds_ratio_per_sd_high",
)
_EFFECT_COLUMNS = ("status", "unit", "unit_en", "unit_fr", "sd", *_FIGURES)
_SCORE_COLUMNS = (
    "status",
    "outcome_level",
    "predictors",
    "n_splits",
    "cv_auc",
    "cv_auc_sd",
    "cv_log_loss",
    "baseline_auc",
    "baseline_log_loss",
    "log_loss_gain",
    "n_bootstrap",
)


def _odds(logit: float) -> float:
    """exp of a logit difference, saturating instead of overflowing (quasi-separation)."""
    return math.exp(min(max(float(logit), -700.0), 700.0)) if math.isfinite(logit) else math.nan


def _unit_columns(cols: dict[str, list[Any]], unit: IndicatorUnit) -> None:
    cols["unit"].append(unit.step)
    cols["unit_en"].append(unit.label.render("en"))
    cols["unit_fr"].append(unit.label.render("fr"))


def _warn_models(few: list[str], unstable: list[str], min_answers: int) -> None:
    if few:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Trop peu de réponses pour modéliser {few} : moins de {min_answers} "
                    "réponses localisées, ou moins que cela d'un côté du résultat ; leurs effets et "
                    "scores sont NaN. Interrogez davantage d'habitants.",
                    few=", ".join(few),
                    min_answers=min_answers,
                )
            ),
            stacklevel=4,
        )
    if unstable:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Les intervalles bootstrap de {unstable} sont retenus (NaN) : trop de "
                    "rééchantillons n'avaient qu'un seul résultat ; les estimations reposent sur "
                    "très peu de réponses.",
                    unstable=", ".join(unstable),
                )
            ),
            stacklevel=4,
        )


def _fit_binary(
    design: _Design,
    y: np.ndarray,
    *,
    n_splits: int,
    n_bootstrap: int,
    confidence: float,
    C: float,
    seed: int,
) -> dict[str, Any]:
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    z = design.z(design.x)
    w = design.w
    model = _logit(z, y, w, C)
    coef = model.coef_[0].copy()
    # cross-validation: standardised within each training fold
    # every fold must hold both outcomes, and a home's answers stay in one fold (they share the
    # home's indicators): never more folds than answers on the rarer side, or than homes
    k = int(min(n_splits, y.sum(), len(y) - y.sum(), len(np.unique(design.groups))))
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    aucs, losses, base_losses = [], [], []
    for train, test in folds.split(design.x, y, groups=design.groups):
        if y[test].min() == y[test].max():
            continue
        mu = design.x[train].mean(axis=0)
        sd = design.x[train].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        fold = _logit((design.x[train] - mu) / sd, y[train], w[train], C)
        p = fold.predict_proba((design.x[test] - mu) / sd)[:, 1]
        prevalence = float(np.average(y[train], weights=w[train]))
        base = np.full(len(test), min(max(prevalence, 1e-9), 1 - 1e-9))
        aucs.append(roc_auc_score(y[test], p, sample_weight=w[test]))
        losses.append(log_loss(y[test], p, sample_weight=w[test], labels=[0, 1]))
        base_losses.append(log_loss(y[test], base, sample_weight=w[test], labels=[0, 1]))
    # bootstrap of the coefficients, resampling homes (answers of one home share its indicators
    # and are not independent); the standardisation is held fixed, the unit conversion uses it
    rng = np.random.default_rng(seed)
    clusters = _Clusters(design.groups)
    samples = []
    failed = 0
    for _ in range(n_bootstrap):
        idx = clusters.sample(rng)
        if y[idx].min() == y[idx].max() or w[idx].sum() <= 0:
            failed += 1
            continue
        samples.append(_logit(z[idx], y[idx], w[idx], C).coef_[0])
    unstable = n_bootstrap > 0 and failed > _MAX_FAILED_SHARE * n_bootstrap
    if samples and not unstable:
        low, high = _percentiles(np.asarray(samples), confidence)
    else:
        low = high = np.full(len(coef), np.nan)
    return {
        "coef": coef,
        "low": low,
        "high": high,
        "unstable": unstable,
        "n_bootstrap": len(samples),
        "n_splits": k,
        "cv_auc": float(np.mean(aucs)) if aucs else np.nan,
        "cv_auc_sd": float(np.std(aucs)) if aucs else np.nan,
        "cv_log_loss": float(np.mean(losses)) if losses else np.nan,
        "baseline_log_loss": float(np.mean(base_losses)) if base_losses else np.nan,
    }
