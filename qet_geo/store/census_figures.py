"""A release's sample against the census, and its census-weighted footprints.

At release time (:func:`qet_geo.store.releases.create_release`), when the neighbourhood's IRIS
codes are all in one census table by IRIS of the shared data folder
(:func:`qet_geo.surveys.representativeness.census_tables`), :func:`census_comparison` computes
over the release set:

- **the sample against the census**: per age band, gender and socio-professional category (the
  variables the table has), the share of the set's respondents beside the census share. Adjacent
  categories are pooled until each shown group holds 0 or at least 11 respondents
  (:func:`~qet_geo.surveys.representativeness.pool_categories`); the respondents without a
  category make a row of their own when 0 or at least 11, else the variable is withheld. Every
  group of the set is shown, so that no share is the complement of the others: any sum of shown
  counts is 0 or at least 11;
- **the census-weighted footprints**: raking weights
  (:func:`~qet_geo.surveys.representativeness.raking_weights`, trimmed to
  :data:`TRIM_BOUNDS` times the mean weight) on the margins of groups of at least 11 respondents
  with a census population, and the weighted mean footprint per usage and in total. A weighted
  footprint one respondent dominates (more than 85 % of the weighted total, or of the total of
  one raking group, whose mean the weighted and unweighted means together may give: rule 3) is
  withheld, and the total with it. The weighted moments (:func:`~qet_geo.surveys.representativeness.
  weighted_moments`) go to the release's summary (``census_moments``), so that two releases can
  be compared with intervals (:func:`weighted_release_changes`).

The pilot team's live preview shows the same comparison over the would-be release set
(:func:`preview_census`).

Without census the figures say why, in a code the pages put in words: ``no_folder`` (the
service has no census table at all), ``no_iris`` (the neighbourhood has no IRIS code),
``no_table`` (no table holds all its IRIS), ``no_variable`` (the table has no age, sex or CSP
column the service reads).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from qet_geo.errors import QetGeoError, UnknownCodeError
from qet_geo.privacy import DOMINANCE_SHARE, MIN_RESPONDENTS
from qet_geo.surveys.representativeness import (
    CATEGORIES,
    VARIABLES,
    census_margins,
    census_tables,
    pool_categories,
    raking_weights,
    read_census,
    weighted_change,
    weighted_moments,
)
from qet_geo.surveys.schema import USAGES

__all__ = [
    "TRIM_BOUNDS",
    "census_comparison",
    "census_source",
    "preview_census",
    "weighted_release_changes",
]

logger = logging.getLogger(__name__)

#: Raking weights are trimmed to these multiples of the mean weight (between sweeps).
TRIM_BOUNDS: tuple[float, float] = (0.3, 3.0)
#: The category of respondents who gave none (or one the census does not count, as "other").
UNKNOWN = "unknown"

_FOOTPRINTS = [*(f"{u}_kgco2e" for u in USAGES), "total_kgco2e"]


def _iris_margins(
    shared: str | PathLike[str] | None, codes: Sequence[str]
) -> tuple[str, dict[str, pd.Series]] | str:
    """The census margins of the IRIS ``codes`` from the first table holding them all, with its
    file name; else the reason (``no_folder``, ``no_iris``, ``no_table``, ``no_variable``)."""
    if not codes:
        return "no_iris"
    tables = census_tables(shared)
    if not tables:
        return "no_folder"
    wanted = sorted({str(c).strip().zfill(9) for c in codes})
    reason = "no_table"
    for table in tables:
        try:
            frame = read_census(table)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        margins: dict[str, pd.Series] = {}
        covered = True
        for variable in VARIABLES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    margins[variable] = census_margins(frame, variable, codes=wanted)
            except UnknownCodeError:
                covered = False
                break
            except QetGeoError:
                continue  # the table has no column for this variable
        if not covered:
            continue
        margins = {v: m for v, m in margins.items() if float(m.sum()) > 0}
        if margins:
            return table.name, margins
        reason = "no_variable"
    return reason


def _categories(frame: pd.DataFrame, variable: str) -> pd.Series:
    """Each respondent's census category of ``variable`` (:data:`UNKNOWN` when none)."""
    known = CATEGORIES[variable]
    if variable not in frame.columns:
        return pd.Series(UNKNOWN, index=frame.index)
    values = frame[variable].astype("string")
    return values.where(values.isin(list(known)), UNKNOWN).fillna(UNKNOWN).astype(str)


def _comparison(
    frame: pd.DataFrame, variable: str, margin: pd.Series
) -> tuple[dict[str, Any], list[list[str]] | None]:
    """The shown rows of one variable and its raking groups (None: not raked on)."""
    cats = _categories(frame, variable)
    order = [str(c) for c in margin.index]
    counts = cats.value_counts().reindex([*order, UNKNOWN], fill_value=0).astype(int)
    n = len(frame)
    unknown = int(counts[UNKNOWN])
    if 0 < unknown < MIN_RESPONDENTS:
        return {"variable": variable, "status": "withheld", "reason": "unknown_small"}, None
    known = counts[order]
    shown = pool_categories(known, min_size=MIN_RESPONDENTS)
    if any(0 < int(known[g].sum()) < MIN_RESPONDENTS for g in shown):
        return {"variable": variable, "status": "withheld", "reason": "too_few"}, None
    census_total = float(margin.sum())
    rows = [
        {
            "categories": group,
            "census_share": round(float(margin[group].sum()) / census_total, 4),
            "sample_share": round(int(known[group].sum()) / n, 4),
        }
        for group in shown
    ]
    out: dict[str, Any] = {
        "variable": variable,
        "status": "ok",
        "rows": rows,
        "unknown_share": round(unknown / n, 4),
    }
    raking = pool_categories(known, min_size=MIN_RESPONDENTS, census=margin)
    if len(raking) < 2 or any(
        int(known[g].sum()) < MIN_RESPONDENTS or float(margin[g].sum()) <= 0 for g in raking
    ):
        return out, None
    return out, raking


def _dominated(values: np.ndarray, weights: np.ndarray) -> bool:
    """Whether one respondent makes more than :data:`DOMINANCE_SHARE` of a weighted total."""
    parts = np.abs(values * weights)
    total = float(parts.sum())
    # as qet_geo.privacy: nobody dominates a total of zero
    return total > 0 and float(parts.max()) > DOMINANCE_SHARE * total


def _dominated_in_a_group(values: np.ndarray, answers: pd.DataFrame) -> bool:
    """Whether one respondent makes more than :data:`DOMINANCE_SHARE` of a group's total.

    With one raking variable every member of a group has the same weight: the weighted mean
    beside the unweighted one gives each group's mean (two groups: two equations). A group's
    mean one respondent dominates would be that person's footprint (rule 3).
    """
    keep = ~np.isnan(values)
    for variable in answers.columns:
        labels = answers[variable].astype(object).where(answers[variable].notna(), UNKNOWN)
        for label in pd.unique(labels[keep]):
            member = keep & (labels == label).to_numpy(bool)
            if member.any() and _dominated(values[member], np.ones(int(member.sum()))):
                return True
    return False


def census_comparison(
    chosen: pd.DataFrame,
    codes: Sequence[str],
    shared: str | PathLike[str] | None,
    *,
    publishable: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The release set against the census, and its census-weighted footprints.

    Parameters
    ----------
    chosen
        The release set (:func:`qet_geo.store.releases.release_set`), with ``age_band``,
        ``gender``, ``csp`` where the answers gave them and the ``{usage}_kgco2e`` and
        ``total_kgco2e`` footprints.
    codes
        The neighbourhood's IRIS codes (``Neighbourhood.iris_codes``).
    shared
        The shared data folder whose ``census/`` holds the census tables by IRIS
        (``QET_SHARED_DATA``); None: not weighted (``no_folder``).
    publishable
        The footprints the release publishes (``mobility``..., ``total``): a weighted one is
        kept only beside its unweighted one.

    Returns
    -------
    tuple
        The figures a release keeps (``{"status": "ok", "table", "iris", "variables",
        "weighted"}``, or ``{"status": reason}``), and the weighted moments per footprint
        (``{}`` when not weighted) for the summary.
    """
    found = _iris_margins(shared, codes)
    if isinstance(found, str):
        return {"status": found}, {}
    table, margins = found
    variables = []
    groups: dict[str, list[list[str]]] = {}
    for variable, margin in margins.items():
        shown, raking = _comparison(chosen, variable, margin)
        variables.append(shown)
        if raking is not None:
            groups[variable] = raking
    out: dict[str, Any] = {
        "status": "ok",
        "table": table,
        "iris": sorted({str(c).strip().zfill(9) for c in codes}),
        "variables": variables,
    }
    if not groups:
        out["weighted"] = {"status": "withheld", "reason": "no_groups"}
        return out, {}
    answers = pd.DataFrame(index=chosen.index)
    pooled: dict[str, pd.Series] = {}
    for variable, parts in groups.items():
        cats = _categories(chosen, variable)
        name = {c: "+".join(g) for g in parts for c in g}
        answers[variable] = cats.map(name).where(cats != UNKNOWN, None)
        pooled[variable] = pd.Series(
            {"+".join(g): float(margins[variable][g].sum()) for g in parts}
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weights = raking_weights(answers, pooled, bounds=TRIM_BOUNDS, max_iter=200)
    except QetGeoError:
        logger.exception("raking the release set failed")
        out["weighted"] = {"status": "withheld", "reason": "raking"}
        return out, {}
    values = chosen[[c for c in _FOOTPRINTS if c in chosen.columns]].astype(float)
    moments = weighted_moments(values, weights)
    wanted = set(publishable)
    kept: dict[str, dict[str, float]] = {}
    for column, m in moments.items():
        key = column.removesuffix("_kgco2e")
        x = values[column].to_numpy(float)
        keep = ~np.isnan(x)
        if (
            key in wanted
            and m["n"] >= MIN_RESPONDENTS
            and not _dominated(x[keep], weights.to_numpy(float)[keep])
            and not _dominated_in_a_group(x, answers)
        ):
            kept[column] = m
    # the total is the sum of the usages: with one usage withheld it would give it back
    if any(f"{u}_kgco2e" not in kept for u in USAGES):
        kept.pop("total_kgco2e", None)
    out["weighted"] = {
        "status": "ok",
        "variables": {v: ["+".join(g) for g in parts] for v, parts in groups.items()},
        "bounds": list(TRIM_BOUNDS),
        "converged": bool(weights.attrs.get("converged", False)),
        "max_gap": round(float(weights.attrs.get("max_gap", math.nan)), 4),
        "effective_n": round(float(weights.attrs.get("effective_n", math.nan)), 1),
        "footprints": {
            c.removesuffix("_kgco2e") or "total": round(m["sum_wx"] / m["sum_w"], 4)
            for c, m in kept.items()
        },
    }
    return out, kept


def preview_census(
    session: Session,
    diagnostic_id: int,
    shared: str | PathLike[str] | None,
    *,
    publishable: Sequence[str] = (),
) -> dict[str, Any]:
    """The census comparison a release of the diagnostic would make now, for the pilot team's
    live preview (:func:`census_comparison` over the would-be release set); ``{}`` under 11
    respondents or for a diagnostic that does not exist."""
    from qet_geo.store.ingest import respondents_frame
    from qet_geo.store.models import Diagnostic, Neighbourhood
    from qet_geo.store.releases import release_set

    diag = session.get(Diagnostic, diagnostic_id)
    hood = None if diag is None else session.get(Neighbourhood, diag.neighbourhood_id)
    if hood is None:
        return {}
    chosen = release_set(respondents_frame(session, diagnostic_id))
    if len(chosen) < MIN_RESPONDENTS:
        return {}
    figures, _ = census_comparison(
        chosen, [str(c) for c in hood.iris_codes or []], shared, publishable=publishable
    )
    return figures


def weighted_release_changes(
    before: dict[str, Any], after: dict[str, Any], *, confidence: float = 0.95
) -> pd.DataFrame | str:
    """The change of each census-weighted footprint between two releases' summaries.

    Returns
    -------
    pandas.DataFrame or str
        As :func:`qet_geo.surveys.representativeness.weighted_change`, indexed by footprint
        (``mobility_kgco2e``..., ``total_kgco2e``), ``attrs["withheld"]`` listing those only
        one release weighted (and the total with them); or why not: ``not_weighted`` (a
        release has no weighted moments), ``other_table`` (weighted on different census
        tables or IRIS).
    """
    a, b = before.get("census_moments") or {}, after.get("census_moments") or {}
    if not a or not b:
        return "not_weighted"
    if (before.get("census_source") or None) != (after.get("census_source") or None):
        return "other_table"
    withheld = sorted(set(a) ^ set(b))
    shared = {k: a[k] for k in a if k in b}
    if withheld:
        shared.pop("total_kgco2e", None)
        withheld = sorted({*withheld, "total_kgco2e"})
    if not shared:
        return "not_weighted"
    table = weighted_change(shared, b, confidence=confidence)
    table.attrs["withheld"] = withheld
    return table


def census_source(figures: dict[str, Any]) -> list[Any] | None:
    """What a release was weighted on (the table and the IRIS), None when not weighted."""
    if figures.get("status") != "ok":
        return None
    return [figures.get("table"), figures.get("iris")]
