"""Publishing through the chokepoint: tables whose figures all pass :mod:`qet_geo.privacy`,
and the rounding of published figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qet_geo.privacy import MIN_RESPONDENTS, protect_counts


def _publish(
    keys: Sequence[Any],
    counts: Sequence[int | None],
    columns: Mapping[str, Sequence[Any]],
    *,
    index_names: Sequence[str],
) -> pd.DataFrame:
    """Build a table whose figures all pass :func:`qet_geo.privacy.protect_counts`.

    A row of at least 11 answers keeps its count and figures; a row of fewer keeps its key and
    its descriptors (:data:`_DESCRIPTORS`: status, units, labels, which do not depend on the
    answers' values) but no count and no figure (NaN).
    """
    labels = ["|".join(str(k) for k in (key if isinstance(key, tuple) else (key,))) for key in keys]
    safe = {
        label: int(n)
        for label, n in zip(labels, counts, strict=True)
        if n is not None and n >= MIN_RESPONDENTS
    }
    table = protect_counts(pd.Series(safe, dtype="int64"), leftover="suppress")
    # what the chokepoint let through, not what this function believes is safe
    published = {str(label) for label in table.index}
    table = table.reindex(labels)
    del table["merged"]
    n_col = [
        int(n) if n is not None and label in published else pd.NA
        for label, n in zip(labels, counts, strict=True)
    ]
    table["n_respondents"] = pd.array(n_col, dtype="Int64")
    for name, values in columns.items():
        if name in _DESCRIPTORS:
            table[name] = list(values)
        else:
            table[name] = [
                v if label in published else np.nan for label, v in zip(labels, values, strict=True)
            ]
    if len(index_names) > 1:
        table.index = pd.MultiIndex.from_tuples([tuple(k) for k in keys], names=list(index_names))
    else:
        table.index = pd.Index(list(keys), name=index_names[0])
    return table


# columns that describe a row rather than measure the answers: kept when the figures are not
_DESCRIPTORS = frozenset(
    {
        "status",
        "unit",
        "unit_en",
        "unit_fr",
        "outcome_level",
        "predictors",
        "n_splits",
        "label_fr",
        "label_en",
        "share_homes_changed",
        "population",
        "ignored",
    }
)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Weighted quantiles, interpolated between mid-points of the cumulative weights."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    total = cum[-1]
    positions = (cum - 0.5 * w) / total
    return np.interp(np.asarray(qs, dtype=float), positions, v)


def _round_to(value: float, step: float) -> float:
    if not math.isfinite(value):
        return value
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(round(value / step) * step, decimals + 2)


def _count(n: int) -> int | None:
    """A respondent count as published: withheld (None) under 11."""
    return int(n) if n >= MIN_RESPONDENTS else None
