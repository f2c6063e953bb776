"""Representativeness of a neighbourhood survey: sample sizes, census quotas, raking weights.

A pilot team surveys a few hundred residents. Before the survey it needs a **sample size** and
**quotas** per age band, gender and socio-professional category (CSP) that follow the census of the
neighbourhood's IRIS; after it, **raking weights** correct the answers received towards the same
census margins, so that footprints and profile shares speak for the neighbourhood, not for the
people who happened to answer.

Sample size
    For a proportion ``p`` estimated within a margin of error ``e`` at a confidence level with
    normal quantile ``z``: ``n0 = z² p (1 - p) / e²`` (385 at 95 % and 5 % with ``p = 0.5``), then
    the finite-population correction ``n = n0 / (1 + (n0 - 1) / N)`` for a population of ``N``
    people (370 for ``N = 10 000``), rounded up.

Census margins
    :func:`census_margins` sums, over the chosen IRIS, the census columns of one variable. The
    column names are INSEE's (RP "base infracommunale" tables, any vintage ``yy``):

    - ``csp``: ``C{yy}_POP15P_CS1`` … ``C{yy}_POP15P_CS8`` (population aged 15 or over by
      socio-professional category; ``P{yy}_`` accepted too) → ``"CS1"`` … ``"CS8"``;
    - ``age_band``: ``P{yy}_POP1529``, ``P{yy}_POP3044``, ``P{yy}_POP4559``, ``P{yy}_POP6074``,
      ``P{yy}_POP75P`` → :data:`~qet_geo.surveys.schema.AGE_BANDS`;
    - ``gender``: ``P{yy}_F1529`` + … + ``P{yy}_F75P`` (women aged 15 or over) and ``P{yy}_H…``
      (men; INSEE writes *hommes*) → ``"F"`` and ``"M"``; failing those, ``P{yy}_POPF`` and
      ``P{yy}_POPH`` (all ages, with a warning).

    Other tables pass ``columns={"CS1": "my_col", ...}``. The Paris RP 2011 table at hand has the
    CSP columns only; the INSEE "Population" IRIS table has the age and sex columns.

Quotas
    :func:`quotas` splits a sample size over the categories in proportion to their census counts
    by the largest-remainder method, so that quotas are whole people and sum exactly to the sample
    size.

Census tables
    :func:`census_tables` lists the census tables by IRIS of a shared data folder (its
    ``census/**/*.csv`` files) and :func:`read_census` reads one as text columns: the one reader
    of those files for the survey's quotas and the releases' census comparison.

Raking
    :func:`raking_weights` runs iterative proportional fitting: it multiplies the weights of each
    category of each variable in turn by the ratio of its target share to its weighted share, until
    every weighted margin is within ``tol`` of its target (or ``max_iter`` sweeps), optionally
    trimming weights to ``bounds`` times the mean weight between sweeps. Respondents whose category
    is unknown (missing, or "other" when the census has only F and M) keep their weight for that
    variable. A census category with no respondent cannot be reached: that is an error that names
    the category and says to merge it with a neighbour. :func:`pool_categories` merges adjacent
    categories until each group holds 0 or at least ``min_size`` respondents (or, for raking, at
    least ``min_size`` and a census count).

Weighted moments
    :func:`weighted_moments` keeps, per value, what a weighted mean and its interval need (count,
    ``Σw``, ``Σwx``, ``Σwx²``, ``Σw²`` and the effective sample size ``(Σw)² / Σw²``, Kish);
    :func:`weighted_change` compares two sets of them: the change of the weighted mean with a
    normal interval whose variance is ``s²_w / n_eff`` on each side, ``s²_w`` the weighted
    variance times ``n / (n - 1)``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from qet_geo._validate import existing_file
from qet_geo.errors import (
    EmptyDataError,
    InputFileError,
    QetGeoWarning,
    UnknownCodeError,
    ValidationError,
)
from qet_geo.i18n import join, msg
from qet_geo.surveys.schema import AGE_BANDS, CSP_LABELS

__all__ = [
    "CATEGORIES",
    "VARIABLES",
    "census_margins",
    "census_tables",
    "compare_margins",
    "pool_categories",
    "quotas",
    "raking_weights",
    "read_census",
    "sample_size",
    "survey_quotas",
    "weighted_change",
    "weighted_moments",
]

#: The socio-demographic variables quotas and raking work on (SU column names).
VARIABLES: tuple[str, ...] = ("age_band", "gender", "csp")

#: Census categories of each variable, in order (the census knows only F and M).
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "age_band": AGE_BANDS,
    "gender": ("F", "M"),
    "csp": tuple(CSP_LABELS),
}

_AGE_CODES = {"1529": "15-29", "3044": "30-44", "4559": "45-59", "6074": "60-74", "75P": "75+"}
_CSP_PATTERN = re.compile(r"^(?P<prefix>[PC](?P<yy>\d{2}))_POP15P_CS(?P<cat>[1-8])$", re.I)
_AGE_PATTERN = re.compile(r"^(?P<prefix>P(?P<yy>\d{2}))_POP(?P<cat>1529|3044|4559|6074|75P)$", re.I)
_SEX_AGE_PATTERN = re.compile(
    r"^(?P<prefix>P(?P<yy>\d{2}))_(?P<sex>[FH])(?P<age>1529|3044|4559|6074|75P)$", re.I
)
_SEX_ALL_PATTERN = re.compile(r"^(?P<prefix>P(?P<yy>\d{2}))_POP(?P<sex>[FH])$", re.I)
_CODE_COLUMNS = ("iris_code", "code_iris", "dcomiris", "codeiris", "iris", "codgeo")

PathType = str | PathLike[str]


# --------------------------------------------------------------------------------------------------
# Sample size and quotas
# --------------------------------------------------------------------------------------------------


def sample_size(
    population: float | None = None,
    *,
    confidence: float = 0.95,
    margin: float = 0.05,
    proportion: float = 0.5,
) -> int:
    """Return the number of respondents needed to estimate a proportion within a margin.

    Parameters
    ----------
    population
        Number of people surveyed from (the neighbourhood's population aged 15 or over); None or
        ``math.inf`` for an infinite population (no finite-population correction).
    confidence
        Confidence level, strictly between 0 and 1 (0.95: ``z = 1.96``).
    margin
        Margin of error on the proportion, strictly between 0 and 1 (0.05: ± 5 points).
    proportion
        Expected proportion; 0.5, the default, gives the largest (safest) size.

    Returns
    -------
    int
        ``ceil(n0 / (1 + (n0 - 1) / N))`` with ``n0 = z² p (1 - p) / e²``; never more than ``N``.

    Examples
    --------
    >>> sample_size()
    385
    >>> sample_size(10_000)
    370
    """
    for name, value in (("confidence", confidence), ("margin", margin), ("proportion", proportion)):
        if not (isinstance(value, int | float) and 0.0 < float(value) < 1.0):
            raise ValidationError(
                msg(
                    "{name} doit être un nombre strictement compris entre 0 et 1, reçu {value!r}.",
                    name=name,
                    value=value,
                )
            )
    if population is not None and not (
        isinstance(population, int | float) and not math.isnan(population) and population >= 1
    ):
        raise ValidationError(
            msg(
                "population doit être un nombre de personnes (au moins 1) ou None, reçu "
                "{population!r}.",
                population=population,
            )
        )
    return _sample_size(population, confidence=confidence, margin=margin, proportion=proportion)


def _sample_size(
    population: float | None, *, confidence: float, margin: float, proportion: float
) -> int:
    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    n0 = z * z * proportion * (1.0 - proportion) / (margin * margin)
    if population is None or math.isinf(population):
        return math.ceil(n0 - 1e-9)
    n = n0 / (1.0 + (n0 - 1.0) / population)
    return min(math.ceil(n - 1e-9), math.ceil(population))


def quotas(margins: pd.Series | Mapping[str, float], n: int) -> pd.Series:
    """Split ``n`` respondents over categories in proportion to their census counts.

    Parameters
    ----------
    margins
        Census count (or share) per category, e.g. the output of :func:`census_margins`.
    n
        Sample size to split (a positive whole number).

    Returns
    -------
    pandas.Series
        Whole numbers of respondents per category (``Int64``), in the order of ``margins``, summing
        exactly to ``n``: each category gets the integer part of its exact share, and the remaining
        respondents go to the largest remainders (ties to the larger category).
    """
    counts = _margin_series(margins, what="margins")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValidationError(
            msg("n doit être un nombre entier positif de répondants, reçu {n!r}.", n=n)
        )
    return _quotas(counts, int(n))


def _quotas(counts: pd.Series, n: int) -> pd.Series:
    exact = counts.to_numpy(float) / counts.sum() * n
    base = np.floor(exact + 1e-9).astype(int)
    left = n - int(base.sum())
    if left > 0:
        remainder = exact - base
        # largest remainder first; ties go to the larger category, then to the first listed
        order = np.lexsort((np.arange(len(exact)), -exact, -np.round(remainder, 12)))
        base[order[:left]] += 1
    return pd.Series(base, index=counts.index, name="quota", dtype="Int64")


def census_margins(
    table: pd.DataFrame | PathType,
    variable: str,
    *,
    codes: Sequence[str] | None = None,
    columns: Mapping[str, str | Sequence[str]] | None = None,
    code_column: str | None = None,
) -> pd.Series:
    """Return the census count of each category of a variable over chosen IRIS.

    Parameters
    ----------
    table
        A census table by IRIS: a DataFrame (e.g. :func:`qet_geo.inputs.census.read_iris` with
        ``table=``, or a table read with pandas) or a CSV file (``,``, ``;`` or tab separated).
    variable
        "age_band", "gender" or "csp".
    codes
        9-character IRIS codes to sum over; all rows by default.
    columns
        Category → census column (or columns, summed), replacing the INSEE names of the module
        docstring, e.g. ``{"F": "women_15p", "M": "men_15p"}``.
    code_column
        Column of ``table`` with the IRIS codes; by default the first of ``iris_code``,
        ``code_iris``, ``dcomiris``, ``codeiris``, ``iris``, ``codgeo`` (any case).

    Returns
    -------
    pandas.Series
        Population per category (float), named ``variable``, in the order of :data:`CATEGORIES`;
        ``attrs["columns"]`` lists the census columns used and ``attrs["codes"]`` the IRIS summed.

    Raises
    ------
    ValidationError
        Unknown variable, no IRIS code column, no census column for the variable, or non-numeric or
        negative counts.
    UnknownCodeError
        A code of ``codes`` is not in the table.
    """
    if variable not in VARIABLES:
        raise ValidationError(
            msg(
                "Variable inconnue {variable!r} : utilisez l'une de {variables}.",
                variable=variable,
                variables=", ".join(VARIABLES),
            )
        )
    frame, source = _read_table(table)
    rows = frame
    if codes is not None:
        if isinstance(codes, str) or not codes:
            raise ValidationError(
                msg("codes doit être une liste non vide de codes IRIS, par exemple ['751145501'].")
            )
        code_col = _code_column(frame, code_column, source=source)
        table_codes = frame[code_col].astype("string").str.strip().str.zfill(9)
        wanted = [str(c).strip().zfill(9) for c in codes]
        unknown = sorted(set(wanted) - set(table_codes.dropna()))
        if unknown:
            raise UnknownCodeError(
                msg(
                    "Code(s) IRIS absent(s) de {source} : {codes}. Vérifiez les codes et "
                    "le millésime du recensement (les codes IRIS changent d'une année à l'autre).",
                    source=source,
                    codes=", ".join(unknown[:10]),
                )
            )
        rows = frame[table_codes.isin(set(wanted)).to_numpy()]
    mapping = (
        _explicit_columns(frame, variable, columns, source=source)
        if columns is not None
        else _insee_columns(frame, variable, source=source)
    )
    values: dict[str, float] = {}
    for category, cols in mapping.items():
        numbers = rows[list(cols)].apply(pd.to_numeric, errors="coerce")
        if numbers.isna().to_numpy().any():
            raise ValidationError(
                msg(
                    "Les colonnes {columns} de {source} ont des valeurs absentes ou non numériques "
                    "pour les IRIS choisis ; corrigez le tableau ou choisissez d'autres IRIS.",
                    columns=", ".join(cols),
                    source=source,
                )
            )
        values[category] = float(numbers.to_numpy(float).sum())
    out = pd.Series(values, name=variable, dtype=float)
    if (out < 0).any():
        raise ValidationError(
            msg(
                "Effectifs négatifs dans {source} pour {variable}.",
                source=source,
                variable=variable,
            )
        )
    out.index.name = "category"
    out.attrs["columns"] = {k: list(v) for k, v in mapping.items()}
    out.attrs["codes"] = None if codes is None else [str(c) for c in codes]
    return out


def survey_quotas(
    table: pd.DataFrame | PathType,
    *,
    codes: Sequence[str] | None = None,
    n: int | None = None,
    variables: Sequence[str] | None = None,
    confidence: float = 0.95,
    margin: float = 0.05,
) -> pd.DataFrame:
    """Return the survey sample size and the quotas per category for chosen IRIS.

    Parameters
    ----------
    table
        Census table by IRIS (see :func:`census_margins`).
    codes
        IRIS codes of the neighbourhood; all rows by default.
    n
        Sample size; by default :func:`sample_size` of the population of the IRIS (the total of the
        first variable's margins: people aged 15 or over).
    variables
        Variables to set quotas on, among "age_band", "gender", "csp"; by default every one whose
        census columns are in the table.
    confidence, margin
        Passed to :func:`sample_size` when ``n`` is None.

    Returns
    -------
    pandas.DataFrame
        One row per variable and category: ``variable``, ``category``, ``population``, ``share``
        (of the variable's total) and ``quota`` (whole respondents, summing to ``n`` within each
        variable). ``attrs["n"]`` and ``attrs["population"]`` hold the sample size and the
        population it was computed for.
    """
    frame, source = _read_table(table)
    wanted = list(VARIABLES if variables is None else variables)
    margins: list[pd.Series] = []
    for variable in wanted:
        if variables is None and not _has_insee_columns(frame, variable):
            continue
        margins.append(census_margins(frame, variable, codes=codes))
    if not margins:
        raise ValidationError(
            msg(
                "{source} n'a aucune colonne du recensement par tranche d'âge, sexe ou catégorie "
                "socio-professionnelle (par exemple C19_POP15P_CS1, P19_POP1529, P19_F1529) ; "
                "pour d'autres noms, passez columns à census_margins.",
                source=source,
            )
        )
    population = float(margins[0].sum())
    if population <= 0:
        raise EmptyDataError(
            msg(
                "Les IRIS choisis dans {source} n'ont aucune population : choisissez les IRIS du "
                "quartier.",
                source=source,
            )
        )
    size = (
        _sample_size(population, confidence=confidence, margin=margin, proportion=0.5)
        if n is None
        else n
    )
    parts = []
    for m in margins:
        q = quotas(m, size)
        parts.append(
            pd.DataFrame(
                {
                    "variable": m.name,
                    "category": m.index.astype(str),
                    "population": m.to_numpy(float),
                    "share": (m / m.sum()).to_numpy(float) if m.sum() > 0 else np.nan,
                    "quota": q.to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["quota"] = out["quota"].astype("Int64")
    out.attrs["n"] = int(size)
    out.attrs["population"] = population
    return out


# --------------------------------------------------------------------------------------------------
# Raking
# --------------------------------------------------------------------------------------------------


def raking_weights(
    answers: pd.DataFrame,
    margins: Mapping[str, pd.Series | Mapping[str, float]],
    *,
    base_weights: pd.Series | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    bounds: tuple[float, float] | None = None,
    total: float | None = None,
) -> pd.Series:
    """Compute raking weights that make the answers' margins match census margins.

    Parameters
    ----------
    answers
        One row per respondent with a column per variable of ``margins`` (e.g. an SU frame with
        ``age_band``, ``gender``, ``csp``).
    margins
        Variable → census count (or share) per category, e.g. ``{"csp": census_margins(...)}``.
        Counts are turned into shares; categories with a zero count are dropped.
    base_weights
        Design weights to start from, aligned to ``answers``; 1 for everyone by default.
    tol
        Convergence tolerance: the largest gap between a weighted share and its target share.
    max_iter
        Largest number of sweeps over the variables.
    bounds
        ``(low, high)`` trimming bounds on weights relative to the mean weight, e.g. ``(0.3, 3.0)``;
        applied after each sweep (the margins are then met only as far as the bounds allow). No
        trimming by default.
    total
        Sum of the returned weights: the number of respondents by default (mean weight 1); pass the
        population to get weights that expand to neighbourhood totals.

    Returns
    -------
    pandas.Series
        ``weight`` aligned to ``answers.index``. ``attrs`` holds ``iterations``, ``converged``,
        ``max_gap`` (largest share gap at the end), ``effective_n`` (Kish: ``(Σw)² / Σw²``) and
        ``design_effect`` (``n / effective_n``).

    Raises
    ------
    ValidationError
        A variable is missing from ``answers``; a census category has no respondent (merge it with
        a neighbour category or drop it); respondents fall in a category whose census count is 0;
        bad options.

    Warns
    -----
    QetGeoWarning
        Respondents with an unknown category (kept out of that variable's adjustment), or no
        convergence within ``max_iter`` sweeps.
    """
    if not isinstance(answers, pd.DataFrame) or answers.empty:
        raise EmptyDataError(msg("answers doit être un DataFrame non vide de répondants."))
    if not margins:
        raise ValidationError(
            msg("margins est vide : donnez les marges du recensement d'au moins une variable.")
        )
    if not (isinstance(tol, int | float) and tol > 0):
        raise ValidationError(msg("tol doit être un nombre positif, reçu {tol!r}.", tol=tol))
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValidationError(
            msg(
                "max_iter doit être un nombre entier positif, reçu {max_iter!r}.", max_iter=max_iter
            )
        )
    if bounds is not None and not (
        len(bounds) == 2 and 0 <= float(bounds[0]) < 1 < float(bounds[1])
    ):
        raise ValidationError(
            msg(
                "bounds doit valoir (bas, haut) avec 0 <= bas < 1 < haut, reçu {bounds!r}.",
                bounds=bounds,
            )
        )
    if total is not None and not (isinstance(total, int | float) and total > 0):
        raise ValidationError(
            msg("total doit être un nombre positif, reçu {total!r}.", total=total)
        )
    start = np.ones(len(answers))
    if base_weights is not None:
        aligned = pd.to_numeric(base_weights.reindex(answers.index), errors="coerce")
        if aligned.isna().any() or (aligned < 0).any() or aligned.sum() <= 0:
            raise ValidationError(
                msg(
                    "base_weights doit donner un nombre positif ou nul pour chaque répondant de "
                    "answers."
                )
            )
        start = aligned.to_numpy(float)
    codes: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    names: list[str] = []
    for variable, margin in margins.items():
        code, target = _raking_variable(answers, variable, margin)
        codes.append(code)
        targets.append(target)
        names.append(variable)
    weights, iterations, converged, gap = _rake(
        start, codes, targets, tol=tol, max_iter=max_iter, bounds=bounds
    )
    if not converged:
        worst = names[
            int(np.argmax([_gap(weights, c, t) for c, t in zip(codes, targets, strict=True)]))
        ]
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Le calage n'a pas convergé en {max_iter} itérations : les marges pondérées de "
                    "{worst!r} s'écartent encore de {gap:.2%} du recensement. Élargissez les "
                    "bornes d'écrêtage, augmentez max_iter ou regroupez les petites catégories.",
                    max_iter=max_iter,
                    worst=worst,
                    gap=gap,
                )
            ),
            stacklevel=2,
        )
    scale = (len(weights) if total is None else float(total)) / weights.sum()
    weights = weights * scale
    out = pd.Series(weights, index=answers.index, name="weight")
    effective = float(weights.sum() ** 2 / np.sum(weights**2))
    out.attrs.update(
        iterations=iterations,
        converged=converged,
        max_gap=gap,
        effective_n=effective,
        design_effect=len(weights) / effective,
    )
    return out


def _raking_variable(
    answers: pd.DataFrame, variable: str, margin: pd.Series | Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the respondents' category codes (-1: left out) and the target shares."""
    if variable not in answers.columns:
        raise ValidationError(
            msg(
                "answers n'a pas de colonne {variable!r}, sur laquelle portent les marges. "
                "Colonnes : {columns}.",
                variable=variable,
                columns=", ".join(map(str, answers.columns)),
            )
        )
    counts = _margin_series(margin, what=f"margins[{variable!r}]")
    values = answers[variable].astype("string")
    cats = [str(c) for c in counts.index]
    zero = [c for c, v in zip(cats, counts.to_numpy(float), strict=True) if v == 0]
    in_zero = values.isin(zero).fillna(False).to_numpy(bool)
    if in_zero.any():
        raise ValidationError(
            msg(
                "{n} répondants sont dans des catégories de {variable!r} dont "
                "l'effectif du recensement est nul ({zero}) : leur poids serait nul. "
                "Vérifiez les réponses, ou regroupez la catégorie avec une voisine dans les "
                "réponses et dans les marges.",
                n=int(in_zero.sum()),
                variable=variable,
                zero=", ".join(zero),
            )
        )
    keep = counts[counts > 0]
    kept = [str(c) for c in keep.index]
    lookup = {c: i for i, c in enumerate(kept)}
    code = np.array([lookup.get(v, -1) if v is not pd.NA else -1 for v in values], dtype=int)
    present = np.bincount(code[code >= 0], minlength=len(kept))
    empty = [c for c, k in zip(kept, present, strict=True) if k == 0]
    if empty:
        share = keep / keep.sum()
        detail = join(
            [
                msg("{category} ({share:.1%} du recensement)", category=c, share=share[c])
                for c in empty
            ]
        )
        raise ValidationError(
            msg(
                "Aucun répondant dans la ou les catégories {detail} de {variable!r} : le "
                "calage ne peut pas leur donner leur part du recensement. Regroupez chacune avec "
                "une catégorie voisine (dans les réponses et les marges), retirez-la des marges, "
                "ou interrogez davantage de personnes de cette catégorie.",
                detail=detail,
                variable=variable,
                categories=msg("catégorie") if len(empty) == 1 else msg("catégories"),
            )
        )
    unknown = int((code < 0).sum())
    if unknown:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{unknown} répondants n'ont pas de catégorie du recensement pour {variable!r} "
                    "(absente ou hors de {kept}) : leur poids n'est pas ajusté sur cette "
                    "variable.",
                    unknown=unknown,
                    variable=variable,
                    kept=", ".join(kept),
                )
            ),
            stacklevel=3,
        )
    return code, (keep / keep.sum()).to_numpy(float)


def _gap(weights: np.ndarray, code: np.ndarray, target: np.ndarray) -> float:
    sel = code >= 0
    sums = np.bincount(code[sel], weights=weights[sel], minlength=len(target))
    total = sums.sum()
    return float(np.max(np.abs(sums / total - target))) if total > 0 else math.inf


def _rake(
    weights: np.ndarray,
    codes: list[np.ndarray],
    targets: list[np.ndarray],
    *,
    tol: float,
    max_iter: int,
    bounds: tuple[float, float] | None,
) -> tuple[np.ndarray, int, bool, float]:
    """Iterative proportional fitting; returns weights, sweeps done, convergence, final gap."""
    w = weights.astype(float).copy()
    gap = max(_gap(w, c, t) for c, t in zip(codes, targets, strict=True))
    if gap <= tol:
        return w, 0, True, gap
    for sweep in range(1, max_iter + 1):
        for code, target in zip(codes, targets, strict=True):
            sel = code >= 0
            sums = np.bincount(code[sel], weights=w[sel], minlength=len(target))
            total = sums.sum()
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(sums > 0, target * total / sums, 1.0)
            w[sel] *= factor[code[sel]]
        if bounds is not None:
            w = _trim(w, bounds)
        gap = max(_gap(w, c, t) for c, t in zip(codes, targets, strict=True))
        if gap <= tol:
            return w, sweep, True, gap
    return w, max_iter, False, gap


def _trim(weights: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Clip weights to ``bounds`` times their mean; repeat, as clipping moves the mean."""
    w = weights
    for _ in range(100):
        mean = w.mean()
        clipped = np.clip(w, bounds[0] * mean, bounds[1] * mean)
        if np.allclose(clipped, w, rtol=1e-12, atol=0.0):
            return clipped
        w = clipped
    return w


def compare_margins(
    answers: pd.DataFrame,
    margins: Mapping[str, pd.Series | Mapping[str, float]],
    *,
    weights: pd.Series | None = None,
) -> pd.DataFrame:
    """Compare the answers' shares per category with the census shares.

    Parameters
    ----------
    answers
        One row per respondent with a column per variable of ``margins``.
    margins
        Variable → census count (or share) per category.
    weights
        Weights aligned to ``answers`` (e.g. :func:`raking_weights`); the weighted shares are then
        given too.

    Returns
    -------
    pandas.DataFrame
        One row per variable and category: ``respondents``, ``census_share``, ``sample_share``
        (among respondents with a known category) and, with ``weights``, ``weighted_share``.
    """
    rows = []
    for variable, margin in margins.items():
        if variable not in answers.columns:
            raise ValidationError(
                msg("answers n'a pas de colonne {variable!r}.", variable=variable)
            )
        counts = _margin_series(margin, what=f"margins[{variable!r}]")
        values = answers[variable].astype("string")
        known = values.isin([str(c) for c in counts.index]).fillna(False).to_numpy(bool)
        w = (
            np.ones(len(answers))
            if weights is None
            else pd.to_numeric(weights.reindex(answers.index), errors="coerce").to_numpy(float)
        )
        for category, count in counts.items():
            member = (values == str(category)).fillna(False).to_numpy(bool)
            row: dict[str, Any] = {
                "variable": variable,
                "category": str(category),
                "respondents": int(member.sum()),
                "census_share": float(count / counts.sum()),
                "sample_share": float(member.sum() / max(known.sum(), 1)),
            }
            if weights is not None:
                row["weighted_share"] = float(w[member].sum() / max(w[known].sum(), 1e-300))
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Census tables, pooling and weighted moments
# --------------------------------------------------------------------------------------------------


def census_tables(shared: PathType | None) -> list[Path]:
    """Return the census tables by IRIS of a shared data folder: its ``census/**/*.csv`` files.

    Parameters
    ----------
    shared
        The shared data folder (``QET_SHARED_DATA``); None gives no table.

    Returns
    -------
    list of pathlib.Path
        Sorted; empty when the folder or its ``census`` sub-folder does not exist.
    """
    if shared is None or not (Path(shared) / "census").is_dir():
        return []
    return sorted((Path(shared) / "census").rglob("*.csv"))


def read_census(table: PathType) -> pd.DataFrame:
    """Read a census table by IRIS as text columns (``,``, ``;`` or tab separated)."""
    return pd.read_csv(table, sep=None, engine="python", dtype=str)


def pool_categories(
    counts: pd.Series | Mapping[str, float],
    *,
    min_size: int = 11,
    census: pd.Series | Mapping[str, float] | None = None,
) -> list[list[str]]:
    """Merge adjacent categories until every group is safe to show or to rake on.

    Parameters
    ----------
    counts
        Respondents per category, in the categories' order (adjacent ones are merged).
    min_size
        Smallest number of respondents a group may show (11: INSEE's statistical secrecy).
    census
        None: a group must hold 0 or at least ``min_size`` respondents (a category nobody
        answered stays on its own, as 0). Census counts per category: a group must hold at
        least ``min_size`` respondents **and** a positive census count, as raking needs.

    Returns
    -------
    list of list of str
        The groups, in order, each a list of categories. The smallest offending group is merged
        with its smaller adjacent neighbour that holds respondents (else the other one) first; when the categories hold fewer than
        ``min_size`` respondents in all, one group of all of them (the caller withholds it).
    """
    series = counts.copy() if isinstance(counts, pd.Series) else pd.Series(dict(counts))
    series.index = series.index.astype(str)
    sizes = [float(v) for v in pd.to_numeric(series, errors="coerce").fillna(0).to_numpy()]
    pop = (
        None
        if census is None
        else [float(pd.Series(census).rename(index=str).get(c, 0.0) or 0.0) for c in series.index]
    )
    groups = [[str(c)] for c in series.index]
    size = list(sizes)
    people = None if pop is None else list(pop)

    def bad(i: int) -> bool:
        if people is None:
            return 0 < size[i] < min_size
        return size[i] < min_size or people[i] <= 0

    while len(groups) > 1:
        offending = [i for i in range(len(groups)) if bad(i)]
        if not offending:
            break
        i = min(offending, key=lambda k: (size[k], k))
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
        # a neighbour nobody answered would leave the group as small: a counted one first
        j = min(neighbours, key=lambda k: (size[k] <= 0, size[k], k))
        lo, hi = min(i, j), max(i, j)
        groups[lo : hi + 1] = [groups[lo] + groups[hi]]
        size[lo : hi + 1] = [size[lo] + size[hi]]
        if people is not None:
            people[lo : hi + 1] = [people[lo] + people[hi]]
    return groups


def weighted_moments(values: pd.DataFrame, weights: pd.Series) -> dict[str, dict[str, float]]:
    """Return, per column, the weighted moments a weighted mean and its interval need.

    Parameters
    ----------
    values
        One row per respondent, one numeric column per value (kgCO2e per usage, for instance).
    weights
        Weights aligned to ``values`` (e.g. :func:`raking_weights`), positive.

    Returns
    -------
    dict
        Column → ``{"n", "sum_w", "sum_wx", "sum_wx2", "sum_w2", "effective_n"}`` over the
        respondents with a value: count, ``Σw``, ``Σwx``, ``Σwx²``, ``Σw²`` and the Kish
        effective sample size ``(Σw)² / Σw²``. The weighted mean is ``sum_wx / sum_w``.
    """
    w_all = pd.to_numeric(weights.reindex(values.index), errors="coerce").to_numpy(float)
    if np.isnan(w_all).any() or (w_all < 0).any():
        raise ValidationError(
            msg("weights doit donner un poids positif ou nul à chaque répondant de values.")
        )
    out: dict[str, dict[str, float]] = {}
    for column in values.columns:
        x = pd.to_numeric(values[column], errors="coerce").to_numpy(float)
        keep = ~np.isnan(x)
        xs, ws = x[keep], w_all[keep]
        sum_w, sum_w2 = float(ws.sum()), float(np.sum(ws**2))
        out[str(column)] = {
            "n": float(keep.sum()),
            "sum_w": sum_w,
            "sum_wx": float(np.sum(ws * xs)),
            "sum_wx2": float(np.sum(ws * xs**2)),
            "sum_w2": sum_w2,
            "effective_n": sum_w**2 / sum_w2 if sum_w2 > 0 else 0.0,
        }
    return out


def _mean_and_se(m: Mapping[str, float]) -> tuple[float, float]:
    """The weighted mean and its standard error (``s²_w / n_eff``) from stored moments."""
    mean = m["sum_wx"] / m["sum_w"]
    n, n_eff = m["n"], m["effective_n"]
    variance = max(m["sum_wx2"] / m["sum_w"] - mean * mean, 0.0)
    if n > 1:
        variance *= n / (n - 1)
    return mean, math.sqrt(variance / n_eff) if n_eff > 0 else math.inf


def weighted_change(
    before: Mapping[str, Mapping[str, float]],
    after: Mapping[str, Mapping[str, float]],
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Return the change of each weighted mean between two sets of :func:`weighted_moments`.

    Parameters
    ----------
    before, after
        Value → moments, as :func:`weighted_moments` gives them.
    confidence
        Level of the interval, strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        One row per value both give: ``mean_before``, ``mean_after``, ``delta``, ``ci_low``,
        ``ci_high``, ``n_eff_before``, ``n_eff_after``. The interval is
        ``delta ± z √(se_before² + se_after²)``, each ``se² = s²_w / n_eff``.
    """
    if not (isinstance(confidence, int | float) and 0.0 < float(confidence) < 1.0):
        raise ValidationError(
            msg(
                "confidence doit être strictement entre 0 et 1, reçu {confidence!r}.",
                confidence=confidence,
            )
        )
    z = float(norm.ppf(0.5 + float(confidence) / 2))
    rows = {}
    for name in before:
        if name not in after:
            continue
        mean_a, se_a = _mean_and_se(before[name])
        mean_b, se_b = _mean_and_se(after[name])
        delta = mean_b - mean_a
        half = z * math.sqrt(se_a**2 + se_b**2)
        rows[name] = {
            "mean_before": mean_a,
            "mean_after": mean_b,
            "delta": delta,
            "ci_low": delta - half,
            "ci_high": delta + half,
            "n_eff_before": float(before[name]["effective_n"]),
            "n_eff_after": float(after[name]["effective_n"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _margin_series(margin: pd.Series | Mapping[str, float], *, what: str) -> pd.Series:
    series = margin.copy() if isinstance(margin, pd.Series) else pd.Series(dict(margin))
    numbers = pd.to_numeric(series, errors="coerce")
    if series.empty or numbers.isna().any() or (numbers < 0).any() or numbers.sum() <= 0:
        raise ValidationError(
            msg(
                "{what} doit associer à chaque catégorie un effectif ou une part positif ou nul, "
                "pas tous nuls.",
                what=what,
            )
        )
    numbers.index = numbers.index.astype(str)
    return numbers.astype(float)


def _read_table(table: pd.DataFrame | PathType) -> tuple[pd.DataFrame, str]:
    if isinstance(table, pd.DataFrame):
        return table, "the census table"
    path = Path(table)
    existing_file(path, what=msg("Tableau du recensement"), file_only=True)
    try:
        frame = pd.read_csv(path, sep=None, engine="python", dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputFileError(
            msg("{path} n'est pas un tableau CSV lisible : {err}.", path=path, err=err), path=path
        ) from err
    return frame, str(path)


def _code_column(frame: pd.DataFrame, name: str | None, *, source: str) -> str:
    lowered = {str(c).lower(): str(c) for c in frame.columns}
    if name is not None:
        if name in frame.columns:
            return name
        if name.lower() in lowered:
            return lowered[name.lower()]
    else:
        for candidate in _CODE_COLUMNS:
            if candidate in lowered:
                return lowered[candidate]
    raise ValidationError(
        msg(
            "{source} n'a pas de colonne de code IRIS ({expected}). "
            "Colonnes : {columns} ; indiquez code_column=.",
            source=source,
            expected=name or ", ".join(_CODE_COLUMNS),
            columns=", ".join(map(str, frame.columns)),
        )
    )


def _explicit_columns(
    frame: pd.DataFrame,
    variable: str,
    columns: Mapping[str, str | Sequence[str]],
    *,
    source: str,
) -> dict[str, list[str]]:
    mapping = {str(k): [v] if isinstance(v, str) else list(v) for k, v in columns.items()}
    missing = sorted({c for cols in mapping.values() for c in cols} - set(map(str, frame.columns)))
    if missing:
        raise ValidationError(
            msg(
                "Les colonnes {missing} ne sont pas dans {source}.",
                missing=", ".join(missing),
                source=source,
            )
        )
    if not mapping:
        raise ValidationError(msg("columns est vide pour {variable!r}.", variable=variable))
    return mapping


def _latest(groups: dict[str, dict[str, list[str]]], size: int) -> dict[str, list[str]] | None:
    """Pick the most recent census vintage whose column group is complete."""
    complete = {yy: cats for yy, cats in groups.items() if len(cats) == size}
    if not complete:
        return None
    # two-digit years: 90-99 are the 1990s
    latest = max(complete, key=lambda yy: int(yy) + (1900 if int(yy) >= 90 else 2000))
    return complete[latest]


def _insee_groups(frame: pd.DataFrame, variable: str) -> dict[str, list[str]] | None:
    columns = [str(c) for c in frame.columns]
    groups: dict[str, dict[str, list[str]]] = {}
    if variable == "csp":
        for col in columns:
            m = _CSP_PATTERN.match(col)
            if m:
                groups.setdefault(m["yy"], {}).setdefault(f"CS{m['cat']}", []).append(col)
        # C{yy} (complementary exploitation) and P{yy} may both exist: keep one column per CS
        for cats in groups.values():
            for cat, cols in cats.items():
                cats[cat] = sorted(cols, key=lambda c: not c.upper().startswith("C"))[:1]
        return _latest(groups, 8)
    if variable == "age_band":
        for col in columns:
            m = _AGE_PATTERN.match(col)
            if m:
                groups.setdefault(m["yy"], {})[_AGE_CODES[m["cat"].upper()]] = [col]
        found = _latest(groups, 5)
        return None if found is None else {band: found[band] for band in AGE_BANDS}
    # gender: women and men aged 15 or over, from the sex-by-age columns
    for col in columns:
        m = _SEX_AGE_PATTERN.match(col)
        if m:
            sex = "F" if m["sex"].upper() == "F" else "M"
            groups.setdefault(m["yy"], {}).setdefault(sex, []).append(col)
    complete = {yy: cats for yy, cats in groups.items() if all(len(v) == 5 for v in cats.values())}
    found = _latest(complete, 2)
    return None if found is None else {"F": found["F"], "M": found["M"]}


def _has_insee_columns(frame: pd.DataFrame, variable: str) -> bool:
    if _insee_groups(frame, variable) is not None:
        return True
    return variable == "gender" and _all_ages_gender(frame) is not None


def _all_ages_gender(frame: pd.DataFrame) -> dict[str, list[str]] | None:
    groups: dict[str, dict[str, list[str]]] = {}
    for col in map(str, frame.columns):
        m = _SEX_ALL_PATTERN.match(col)
        if m:
            groups.setdefault(m["yy"], {})["F" if m["sex"].upper() == "F" else "M"] = [col]
    return _latest(groups, 2)


def _insee_columns(frame: pd.DataFrame, variable: str, *, source: str) -> dict[str, list[str]]:
    found = _insee_groups(frame, variable)
    if found is not None:
        return found
    if variable == "gender":
        all_ages = _all_ages_gender(frame)
        if all_ages is not None:
            warnings.warn(
                QetGeoWarning(
                    msg(
                        "{source} n'a pas les femmes et les hommes par tranche d'âge "
                        "(P{{aa}}_F1529 ...) : les marges par sexe utilisent {women} et {men}, qui "
                        "comptent aussi les enfants.",
                        source=source,
                        women=all_ages["F"][0],
                        men=all_ages["M"][0],
                    )
                ),
                stacklevel=4,
            )
            return {"F": all_ages["F"], "M": all_ages["M"]}
    expected = {
        "csp": "C{yy}_POP15P_CS1 ... C{yy}_POP15P_CS8",
        "age_band": "P{yy}_POP1529, P{yy}_POP3044, P{yy}_POP4559, P{yy}_POP6074, P{yy}_POP75P",
        "gender": "P{yy}_F1529 ... P{yy}_F75P and P{yy}_H1529 ... P{yy}_H75P (or P{yy}_POPF, "
        "P{yy}_POPH)",
    }[variable]
    raise ValidationError(
        msg(
            "{source} n'a pas de colonnes du recensement pour {variable!r} : attendu celles "
            "de l'INSEE, {expected}. Pour d'autres noms, passez columns={{catégorie: "
            "colonne}}.",
            source=source,
            variable=variable,
            expected=expected,
        )
    )
