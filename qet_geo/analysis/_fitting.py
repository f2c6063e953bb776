"""What the usage models share: option checks, design matrices, fits and the home bootstrap."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qet_geo.analysis.homes import _checked_columns
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.surveys.schema import USAGES

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

# answers a model needs on each side of its outcome (and in all): INSEE's secrecy floor, which is
# also about the least a logistic regression with a few predictors can be fitted on
_MIN_ANSWERS = MIN_RESPONDENTS
# bootstrap replicates that may fail (one outcome class missing) before intervals are withheld
_MAX_FAILED_SHARE = 0.05
_DEFAULT_SPEED_KMH = {"walk": 4.5, "bike": 15.0}


def _check_weights(weights: pd.Series | None, index: pd.Index) -> np.ndarray:
    if weights is None:
        return np.ones(len(index))
    if not isinstance(weights, pd.Series) or not pd.api.types.is_numeric_dtype(weights):
        raise ValidationError(
            msg(
                "weights doit être une Series numérique alignée sur les réponses (par exemple "
                "raking_weights)."
            )
        )
    aligned = weights.reindex(index).to_numpy(dtype=float)
    if np.isnan(aligned).any() or (aligned < 0).any() or not np.isfinite(aligned).all():
        raise ValidationError(
            msg(
                "weights doit donner à chaque réponse un poids fini, positif ou nul (son index "
                "doit contenir chaque identifiant de répondant)."
            )
        )
    if aligned.sum() <= 0:
        raise ValidationError(msg("la somme des poids (weights) est nulle."))
    return aligned


def _check_inputs(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    cell_access: pd.DataFrame | None,
    **common: Any,
) -> list[str]:
    """Check the answers, the indicator tables and the common parameters; the indicator columns."""
    columns = _checked_columns(answers, access, cell_access)
    _check_common(**common)
    return columns


def _check_common(
    *,
    n_bootstrap: int,
    min_answers: int,
    max_missing: float,
    C: float,
    confidence: float,
) -> None:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValidationError(
            msg(
                "n_bootstrap doit être un entier positif ou nul (0 : pas d'intervalles), reçu "
                "{n_bootstrap!r}.",
                n_bootstrap=n_bootstrap,
            )
        )
    if (
        isinstance(min_answers, bool)
        or not isinstance(min_answers, int)
        or min_answers < MIN_RESPONDENTS
    ):
        raise ValidationError(
            msg(
                "min_answers doit valoir au moins {minimum} (secret statistique), reçu "
                "{min_answers!r}.",
                minimum=MIN_RESPONDENTS,
                min_answers=min_answers,
            )
        )
    if not 0.0 <= float(max_missing) < 1.0:
        raise ValidationError(
            msg(
                "max_missing doit être une part dans [0, 1), reçu {max_missing!r}.",
                max_missing=max_missing,
            )
        )
    if not float(C) > 0.0:
        raise ValidationError(
            msg("C (inverse de la pénalité ridge) doit être positif, reçu {C!r}.", C=C)
        )
    if not 0.5 <= float(confidence) < 1.0:
        raise ValidationError(
            msg(
                "confidence doit être dans [0,5, 1), par exemple 0.95, reçu {confidence!r}.",
                confidence=confidence,
            )
        )


def _check_constraints(constraints: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(constraints, Mapping):
        raise ValidationError(
            msg(
                "constraints doit associer des usages à des noms d'indicateurs (voir "
                "USAGE_CONSTRAINTS)."
            )
        )
    out: dict[str, tuple[str, ...]] = {}
    for usage, indicators in constraints.items():
        if usage not in USAGES:
            raise ValidationError(
                msg(
                    "Usage {usage!r} inconnu dans constraints : utilisez {usages}.",
                    usage=usage,
                    usages=", ".join(USAGES),
                )
            )
        if isinstance(indicators, str) or not all(isinstance(i, str) for i in indicators):
            raise ValidationError(
                msg(
                    "constraints[{usage!r}] doit être une suite de noms d'indicateurs.", usage=usage
                )
            )
        out[usage] = tuple(dict.fromkeys(indicators))
    return out


# --------------------------------------------------------------------------------------------------
# design matrices


def _cutoff_min(access: pd.DataFrame) -> float:
    """The time of the 5 km search cutoff at the mode's speed: "none within reach"."""
    from qet_geo.constraints.access import NEAREST_CUTOFF_M

    mode = str(access.attrs.get("mode", "walk"))
    speed = _DEFAULT_SPEED_KMH.get(mode, _DEFAULT_SPEED_KMH["walk"])
    return NEAREST_CUTOFF_M / (speed * 1000.0 / 60.0)


def _filled(
    values: pd.DataFrame, cutoff_min: float, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Distances and times to the nearest amenity: none within the 5 km search = the cutoff.

    A pair ``<category>_m`` / ``<category>_min`` is what :func:`qet_geo.constraints.access.home_access`
    gives for the nearest amenity; NaN there means none within the search, not unknown. Other
    indicators keep their NaN (no timetable, no DEM). ``columns`` (all by default): the columns
    of ``values`` to give, as ``values[columns]`` would, without copying the others.
    """
    from qet_geo.constraints.access import NEAREST_CUTOFF_M
    from qet_geo.constraints.indicators import INDICATORS, nearest_m, nearest_min

    chosen = list(values.columns) if columns is None else list(columns)
    names = {str(c) for c in chosen}
    # column by column: a wide table of every home is never copied or consolidated whole
    out: dict[Any, np.ndarray] = {}
    for col in chosen:
        arr = values[col].astype(float).to_numpy(copy=True)
        entry = INDICATORS.get(str(col))
        missing = np.isnan(arr)
        if entry is None or entry.category is None or missing.all():
            out[col] = arr
            continue
        distance, time = nearest_m(entry.category), nearest_min(entry.category)
        if col == distance and time in names:
            arr[missing] = NEAREST_CUTOFF_M
        elif col == time and distance in names:
            arr[missing] = cutoff_min
        out[col] = arr
    return pd.DataFrame(out, index=values.index, columns=pd.Index(chosen))


@dataclass
class _Design:
    """The answers a usage model is fitted on, and its predictors."""

    usage: str
    predictors: list[str]
    dropped: dict[str, str]
    rows: np.ndarray  # boolean mask over the located answers
    levels: np.ndarray  # 1..3 of the rows used
    x: np.ndarray  # raw (filled) predictors of the rows used
    w: np.ndarray
    groups: np.ndarray  # home cluster of the rows used
    n_answered: int  # located answers to the usage, before predictors are checked
    mean: np.ndarray
    sd: np.ndarray

    @property
    def n(self) -> int:
        return int(self.rows.sum())

    def z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.sd


def _design(
    usage: str,
    candidates: Sequence[str],
    located: pd.DataFrame,
    filled: pd.DataFrame,
    weights: np.ndarray,
    groups: np.ndarray,
    *,
    max_missing: float,
) -> _Design:
    levels = pd.to_numeric(located[usage], errors="coerce").to_numpy(dtype=float)
    answered = np.isfinite(levels)
    dropped: dict[str, str] = {}
    kept: list[str] = []
    for name in candidates:
        if name not in filled.columns:
            dropped[name] = "indicator_absent"
            continue
        col = filled[name].to_numpy(dtype=float)[answered]
        if len(col) and np.isnan(col).mean() > max_missing:
            dropped[name] = "indicator_missing"
            continue
        kept.append(name)
    rows = answered.copy()
    for name in kept:
        rows &= np.isfinite(filled[name].to_numpy(dtype=float))
    final: list[str] = []
    for name in kept:
        col = filled[name].to_numpy(dtype=float)[rows]
        if len(col) < 2 or float(np.std(col)) <= 1e-12 * max(1.0, float(np.abs(col).max())):
            dropped[name] = "indicator_constant"
        else:
            final.append(name)
    x = filled[final].to_numpy(dtype=float)[rows] if final else np.zeros((int(rows.sum()), 0))
    mean = x.mean(axis=0) if len(x) else np.zeros(len(final))
    sd = x.std(axis=0) if len(x) else np.ones(len(final))
    sd = np.where(sd > 0, sd, 1.0)
    return _Design(
        usage=usage,
        predictors=final,
        dropped=dropped,
        rows=rows,
        levels=levels[rows].astype(int),
        x=x,
        w=weights[rows],
        groups=groups[rows],
        n_answered=int(answered.sum()),
        mean=mean,
        sd=sd,
    )


@contextmanager
def _quiet_fits() -> Iterator[None]:
    """One BLAS thread (many tiny fits are much faster so) and no convergence chatter.

    The designs are checked once (finite rows, fixed options), so scikit-learn's checks of each
    of the hundreds of bootstrap fits are skipped: the same fits, less overhead.
    """
    from sklearn import config_context
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with (
        threadpool_limits(limits=1),
        config_context(assume_finite=True, skip_parameter_validation=True),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _logit(z: np.ndarray, y: np.ndarray, w: np.ndarray, C: float) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(z, y, sample_weight=w / w.mean())
    return model


class _Clusters:
    """Homes as bootstrap clusters: draw as many homes as there are, with replacement."""

    def __init__(self, groups: np.ndarray) -> None:
        order = np.argsort(groups, kind="stable")
        counts = np.bincount(groups) if len(groups) else np.zeros(0, dtype=np.intp)
        self._order = order
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        self._counts = counts.astype(np.intp)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Return the row positions of one cluster-bootstrap replicate."""
        n = len(self._counts)
        if n == 0:
            return np.zeros(0, dtype=np.intp)
        drawn = rng.integers(0, n, n)
        sizes = self._counts[drawn]
        offsets = np.repeat(self._starts[drawn] - np.cumsum(sizes) + sizes, sizes)
        return np.asarray(self._order[offsets + np.arange(sizes.sum())], dtype=np.intp)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    return np.asarray(low), np.asarray(high)


def _located(
    answers: pd.DataFrame, joined: pd.DataFrame, w: np.ndarray, cutoff_min: float
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The located answers, their filled indicators, weights and home clusters (codes)."""
    keep = joined["located_by"].notna().to_numpy(dtype=bool)
    indicators = joined.drop(columns=["located_by", "home_id"]).loc[keep]
    usages = [u for u in USAGES if u in answers.columns]
    located = answers.loc[keep, usages]
    homes = (
        joined.loc[keep, "located_by"].astype(str) + ":" + joined.loc[keep, "home_id"].astype(str)
    )
    groups = pd.factorize(homes.to_numpy(dtype=str))[0].astype(np.intp)
    return located, _filled(indicators, cutoff_min), w[keep], groups
