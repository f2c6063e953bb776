"""Carbon footprints of the usages: kgCO2e per respondent, per profile and per neighbourhood.

Three sources of kgCO2e per usage (per person and year):

``scale="near"``
    NEAR's production table (:data:`qet_geo.surveys.schema.NEAR_KGCO2E`): each SU answer level is
    worth a fixed kgCO2e, exactly as the NEAR platform computes it.
``scale="ngc"``
    A scale calibrated on NosGestesClimat (NGC), the ADEME footprint model: the committed table
    ``qet_geo/data/ngc_scale.csv`` (:func:`read_ngc_scale`), written by ``scripts/ngc/evaluate.mjs``
    with the pinned npm packages ``@incubateur-ademe/nosgestesclimat`` and ``publicodes``.
imported NGC results
    The per-category results of respondents who took the NGC questionnaire (the CC survey), read by
    :func:`read_ngc_results` and mapped to the usages by :func:`ngc_usage_footprints`.

:func:`su_footprints` turns SU answers into kgCO2e per usage; :func:`profile_footprints` and
:func:`neighbourhood_footprint` average them per usage profile and over the neighbourhood, weighted
by the raking weights of :func:`qet_geo.surveys.representativeness.raking_weights`. Aggregates of fewer
than 11 respondents must go through :mod:`qet_geo.privacy` before they leave the library; the
``respondents`` column is there for that.

The NGC scale: how each SU level becomes an NGC situation
---------------------------------------------------------
Each level is evaluated from NGC's empty situation (the "average French" defaults, 8 287 kgCO2e a
year in model 4.10.2), changing only the answers of that usage; the value kept is the sum of the
usage's *scope* rules, so that usages do not overlap and add up. ``bilan_kgco2e`` in the table is
the whole footprint of the same situation. Rule names are NGC's; text answers are quoted literals.

Per usage: the scope rules, then each level's answers, then the values (NGC 4.10.2, kgCO2e/yr):

``meat_frequency``, scope ``alimentation . déjeuner et dîner`` (lunches and dinners): 570 / 872 /
2 269
    NGC's own meal suggestions of ``alimentation . plats``, entered as ``alimentation . plats .
    * . nombre``: 1 "aucun repas ou très rarement" → ``végétarien`` (3 vegan + 11 vegetarian
    meals a week); 2 "quelques repas" → ``peu de viande`` (4 white meat, 2 fish, 8 vegetarian or
    vegan); 3 "tous les repas ou presque" → ``viande chaque jour`` (6 white meat, 6 red meat,
    2 fish).
``transportation_mode``, scope ``transport . voiture``, ``. transports commun``, ``. mobilité
douce``, ``. deux roues``: 10 / 160 / 2 206
    1 active → ``voiture . utilisateur = 'jamais'``, no bus, coach or metro, owns a bike; 2 public
    transport → no car, ``bus . présent`` and ``métro ou tram . présent`` at NGC's 2 h a week
    each; 3 car → ``utilisateur = 'propriétaire'``, ``voiture . km = 13000``: ENTD 2008's
    car-main-mode people drive or ride 37.5 km a weekday and 35.0 km a weekend day, so
    (5 × 37.5 + 2 × 35.0) × 52 = 13 386 km; NGC's default car and 1.6 occupants. Motorbikes are
    off at every level (the SU levels do not name them); train and holiday vehicles stay default.
``digital_intensity``, scope ``divers . numérique``: 66 / 129 / 258
    1 low → 1 h of Internet a day, 1 smartphone, 1 TV; 2 office, internet → 3 h a day (NGC's
    default), + 1 laptop, 1 printer; 3 games, streaming → 6 h a day, + 1 tablet, 2 TVs, a home
    and a handheld console, a speaker.
``purchasing_strategy``, scope ``divers . textile``, ``. ameublement``, ``. électroménager``:
502 / 653 / 1 069
    ``textile . volume = 'renouvellement occasionnel'`` at every level; 1 second hand first →
    ``textile . qualité = 'occasion réfléchie'``, ``ameublement . préservation = 'maximum'``
    (kept until it cannot be repaired); 2 mixed → quality unset, ``préservation = 'moyen'``;
    3 always new → ``'neuf fast fashion'``, ``préservation = 'faible'`` (replaced by taste).
    NGC 4.10 models second-hand clothes through durability only: plain ``'occasion'`` gets the
    durability factor of fast fashion, hence the deliberate choice. Digital devices belong to
    ``digital_intensity``.
``air_travel_frequency``, scope ``transport . avion``: 0 / 795 / 2 887
    1 "0" → ``avion . usager = 'jamais'``. A "time" is read as a return trip, entered as hours a
    year (``usager = 'fréquemment'``, ``vols annuels . heures court courrier . saisie`` and
    ``... moyen et long courrier . saisie``): 2 "1 à 3" → 2 trips, 3 h short haul (2 × 1.5 h,
    Paris-Nice) + 6 h medium haul (2 × 3 h, Paris-Athens); 3 "plus de 3" → 5 trips, 6 h short
    haul + 27 h medium and long haul (2 medium-haul returns and a long-haul one of 2 × 7.5 h).
``heat_source``, scope ``logement . chauffage``, ``logement . électricité``: 224 / 1 019 / 1 687
    ``chauffage . mode = 'individuel'`` and ``chauffage . principal`` = 1 ``'électricité'`` (far
    more homes than heat networks), 2 ``'gaz'``, 3 ``'fioul'``; per person (NGC's 2.15 people a
    home). Electric heating is counted in ``logement . électricité``, hence the scope.

Compared with NEAR's table, the NGC scale is close on car use (2 206 against 2 300) and heating,
higher on daily meat (2 269 against 2 000) and frequent flying (2 887 against 2 000), and flatter
on purchases (502-1 069 against 400-1 600) and digital use (66-258 against 90-360). Re-evaluate
with ``cd scripts/ngc && npm ci --ignore-scripts && node evaluate.mjs`` (``--check`` compares with
the committed table); the test suite re-evaluates and fails when node or the packages are missing.

Imported NGC results
--------------------
:func:`read_ngc_results` reads one row per respondent with the survey reader,
:func:`qet_geo.surveys.ngc.read_ngc` (``errors="raise"``), from a CSV, TSV or XLSX file (decimal
point or comma): an identifier column (``respondent_id``, ``id``, ``identifiant``,
``simulation_id``, …) and category columns in kgCO2e per year, named by NGC's rule names or French
titles (compared without accents or case; a ``(t)``, ``tCO2e`` or ``tonnes`` header means tonnes,
``(kg)`` kilograms; with no unit in any header, a median total below 100 means tonnes):

=====================  ==========================================================================
column                 accepted headers (examples)
=====================  ==========================================================================
total                  ``bilan``, ``Empreinte totale``, ``total``, ``empreinte``
alimentation           ``alimentation``, ``Alimentation``
transport              ``transport``, ``Transport``, ``Transports``
logement               ``logement``, ``Logement``
divers                 ``divers``, ``Divers``
services_societaux     ``services sociétaux``, ``Services sociétaux``
transport_avion        ``transport . avion``, ``Avion``
transport_voiture      ``transport . voiture``, ``Voiture``
transport_commun       ``transport . transports commun``, ``Transports en commun``
logement_chauffage     ``logement . chauffage``, ``Chauffage``, ``Énergie logement``
divers_numerique       ``divers . numérique``, ``Numérique``
divers_textile         ``divers . textile``, ``Textile``, ``Vêtements``
=====================  ==========================================================================

At least the four main categories or the total are required; missing sub-categories are NaN. The
usages take: meat ← ``alimentation`` (NGC does not split meals in its results), daily mobility ←
``transport_voiture`` + ``transport_commun``, flights ← ``transport_avion``, heating ←
``logement_chauffage``, digital ← ``divers_numerique``, purchases ← ``divers_textile``; the rest of
NGC's total is ``other_kgco2e``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from qet_geo._validate import data_frame, existing_file
from qet_geo.errors import EmptyDataError, InputFileError, ValidationError
from qet_geo.i18n import msg
from qet_geo.surveys.ngc import read_ngc
from qet_geo.surveys.schema import NEAR_KGCO2E, NGC_CATEGORIES, NGC_COLUMNS, USAGES

__all__ = [
    "NGC_SCALE_PATH",
    "NGC_USAGE_SOURCES",
    "SCALES",
    "french_averages",
    "neighbourhood_footprint",
    "ngc_usage_footprints",
    "profile_footprints",
    "read_ngc_results",
    "read_ngc_scale",
    "su_footprints",
    "usage_scale",
]

#: The built-in scales of :func:`su_footprints`.
SCALES: tuple[str, ...] = ("near", "ngc")

#: The committed NosGestesClimat scale (see the module docstring).
NGC_SCALE_PATH: Path = Path(__file__).resolve().parents[1] / "data" / "ngc_scale.csv"

#: Usage → the imported NGC result columns whose sum is that usage's footprint.
NGC_USAGE_SOURCES: Mapping[str, tuple[str, ...]] = {
    "meat_frequency": ("alimentation",),
    "transportation_mode": ("transport_voiture", "transport_commun"),
    "digital_intensity": ("divers_numerique",),
    "purchasing_strategy": ("divers_textile",),
    "air_travel_frequency": ("transport_avion",),
    "heat_source": ("logement_chauffage",),
}

Scale = Literal["near", "ngc"]
PathType = str | PathLike[str]

_LEVELS = (1, 2, 3)
_SCALE_COLUMNS = ("usage", "level", "kgco2e", "default_kgco2e", "bilan_kgco2e")
_META = re.compile(r"^#\s*(?P<key>[a-z0-9 _]+?)\s*:\s*(?P<value>.+?)\s*$", re.I)


# --------------------------------------------------------------------------------------------------
# Scales
# --------------------------------------------------------------------------------------------------


def read_ngc_scale(path: PathType | None = None) -> pd.DataFrame:
    """Read the NosGestesClimat scale of the SU levels.

    Parameters
    ----------
    path
        The table written by ``scripts/ngc/evaluate.mjs``; the committed
        ``qet_geo/data/ngc_scale.csv`` (:data:`NGC_SCALE_PATH`) by default.

    Returns
    -------
    pandas.DataFrame
        One row per usage and level: ``usage``, ``level`` (1-3), ``kgco2e`` (the usage's scope in
        that situation), ``default_kgco2e`` (the scope in NGC's default situation),
        ``bilan_kgco2e`` (the whole footprint of the situation), ``scope``, ``situation`` (the NGC
        answers, JSON) and ``note``. ``attrs`` holds the header: ``model`` (package and version),
        ``engine``, ``evaluated`` (date) and ``default_situation_bilan_kgco2e``.

    Raises
    ------
    InputFileError
        The file is missing, unreadable, or does not hold the three levels of the six usages.
    """
    file = NGC_SCALE_PATH if path is None else Path(path)
    return _read_ngc_scale_cached(str(file), file.stat().st_mtime if file.is_file() else 0.0).copy()


def french_averages() -> dict[str, float]:
    """The French average of each usage, kgCO2e a year: NosGestesClimat's default situation
    (``default_kgco2e`` of :func:`read_ngc_scale`), as the report, the results and portal pages,
    the release files and the kit write it beside a neighbourhood's footprints; empty when the
    scale cannot be read (the pages then show no average)."""
    from qet_geo.errors import QetGeoError

    try:
        scale = read_ngc_scale()
    except QetGeoError:
        return {}
    first = scale.groupby("usage")["default_kgco2e"].first()
    return {str(k): float(v) for k, v in first.items()}


@lru_cache(maxsize=4)
def _read_ngc_scale_cached(file: str, mtime: float) -> pd.DataFrame:
    path = Path(file)
    existing_file(
        path,
        what=msg("Échelle NGC"),
        hint=msg("Lancez `node evaluate.mjs` dans scripts/ngc pour l'écrire."),
        file_only=True,
    )
    meta: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            m = _META.match(line)
            if m:
                meta[m["key"].strip().replace(" ", "_").lower()] = m["value"]
    try:
        table = pd.read_csv(path, comment="#", dtype={"usage": str, "scope": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputFileError(
            msg("{path} n'est pas une échelle NGC lisible : {err}.", path=path, err=err), path=path
        ) from err
    missing_cols = [c for c in _SCALE_COLUMNS if c not in table.columns]
    expected = {(u, lv) for u in USAGES for lv in _LEVELS}
    if missing_cols:
        raise InputFileError(
            msg(
                "{path} n'a pas les colonnes {missing_cols} : relancez scripts/ngc/evaluate.mjs.",
                path=path,
                missing_cols=", ".join(missing_cols),
            ),
            path=path,
        )
    found = set(zip(table["usage"], table["level"].astype(int), strict=True))
    numbers = table[["kgco2e", "default_kgco2e", "bilan_kgco2e"]].apply(
        pd.to_numeric, errors="coerce"
    )
    if not expected <= found or numbers.isna().to_numpy().any():
        lacking = sorted(expected - found)
        raise InputFileError(
            msg(
                "{path} ne donne pas une valeur pour chaque usage et niveau (manquent : "
                "{value0}) : relancez scripts/ngc/evaluate.mjs.",
                path=path,
                value0=", ".join(f"{u}/{lv}" for u, lv in lacking) or "aucun",
                value1=", ".join(f"{u}/{lv}" for u, lv in lacking) or "none",
            ),
            path=path,
        )
    table["level"] = table["level"].astype(int)
    table[numbers.columns] = numbers.astype(float)
    table.attrs.update(meta)
    if "default_situation_bilan_kgco2e" in meta:
        table.attrs["default_situation_bilan_kgco2e"] = float(
            meta["default_situation_bilan_kgco2e"]
        )
    return table


def usage_scale(scale: Scale | Mapping[str, Mapping[int, float]] = "near") -> pd.DataFrame:
    """Return a kgCO2e scale as a table of usages by levels.

    Parameters
    ----------
    scale
        "near" (NEAR's table), "ngc" (the NosGestesClimat scale), or a mapping usage → level →
        kgCO2e for a custom scale (every usage of the answers it is used on, levels 1 to 3).

    Returns
    -------
    pandas.DataFrame
        Index: usages; columns: levels 1, 2, 3; values: kgCO2e per person and year.
    """
    if isinstance(scale, str):
        if scale == "near":
            mapping: Mapping[str, Mapping[int, float]] = NEAR_KGCO2E
        elif scale == "ngc":
            table = read_ngc_scale()
            pivot = table.pivot(index="usage", columns="level", values="kgco2e")
            pivot = pivot.loc[list(USAGES), list(_LEVELS)]
            pivot.columns.name = "level"
            return pivot.astype(float)
        else:
            raise ValidationError(
                msg(
                    "Échelle inconnue {scale!r} : utilisez 'near', 'ngc' ou un dictionnaire usage → "
                    "niveau → kgCO2e.",
                    scale=scale,
                )
            )
    else:
        mapping = scale
    rows = {}
    for usage, levels in mapping.items():
        try:
            rows[usage] = [float(levels[lv]) for lv in _LEVELS]
        except (KeyError, TypeError, ValueError) as err:
            raise ValidationError(
                msg(
                    "L'échelle de {usage!r} doit donner un nombre de kgCO2e pour les niveaux 1, 2 et "
                    "3.",
                    usage=usage,
                )
            ) from err
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(_LEVELS))
    out.index.name = "usage"
    out.columns.name = "level"
    return out


# --------------------------------------------------------------------------------------------------
# Footprints from SU answers
# --------------------------------------------------------------------------------------------------


def su_footprints(
    answers: pd.DataFrame,
    *,
    scale: Scale | Mapping[str, Mapping[int, float]] = "near",
    usages: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Turn SU answers into kgCO2e per usage for each respondent.

    Parameters
    ----------
    answers
        SU frame (:mod:`qet_geo.surveys.schema`): one row per respondent, a level 1-3 (or NA) per
        usage.
    scale
        "near", "ngc", or a custom mapping usage → level → kgCO2e (see :func:`usage_scale`).
    usages
        Usages to compute; every usage of :data:`~qet_geo.surveys.schema.USAGES` present in
        ``answers`` by default.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``answers.index``: ``{usage}_kgco2e`` per usage (NaN when unanswered) and
        ``total_kgco2e``, their sum (NaN when a usage is unanswered). ``attrs["scale"]`` names the
        scale.

    Raises
    ------
    ValidationError
        A usage is missing from ``answers`` or from the scale, or a level is not 1, 2 or 3.
    """
    data_frame(answers, what="answers", hint=msg("une ligne par répondant"))
    table = usage_scale(scale)
    chosen = [u for u in USAGES if u in answers.columns] if usages is None else list(usages)
    if not chosen:
        raise ValidationError(
            msg(
                "answers n'a aucune des colonnes d'usage SU ({usages}).",
                usages=", ".join(USAGES),
            )
        )
    for usage in chosen:
        if usage not in answers.columns:
            raise ValidationError(msg("answers n'a pas de colonne {usage!r}.", usage=usage))
        if usage not in table.index:
            raise ValidationError(msg("L'échelle n'a pas de valeur pour {usage!r}.", usage=usage))
        levels = pd.to_numeric(answers[usage], errors="coerce")
        bad = answers[usage].notna() & ~levels.isin(_LEVELS)
        if bad.any():
            raise ValidationError(
                msg(
                    "{n_bad} réponses à {usage!r} ne sont pas un niveau 1, 2 ou 3 (par exemple "
                    "{example!r}) ; lisez le fichier avec qet_geo.surveys.su.read_su.",
                    n_bad=int(bad.sum()),
                    usage=usage,
                    example=answers[usage][bad].iloc[0],
                )
            )
    out = _su_footprints(answers, table, chosen)
    out.attrs["scale"] = scale if isinstance(scale, str) else "custom"
    return out


def _su_footprints(answers: pd.DataFrame, table: pd.DataFrame, usages: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=answers.index)
    for usage in usages:
        levels = pd.to_numeric(answers[usage], errors="coerce")
        out[f"{usage}_kgco2e"] = levels.map(table.loc[usage].to_dict()).astype(float)
    cols = [f"{u}_kgco2e" for u in usages]
    out["total_kgco2e"] = out[cols].sum(axis=1, min_count=len(cols))
    out.loc[out[cols].isna().any(axis=1), "total_kgco2e"] = np.nan
    return out


# --------------------------------------------------------------------------------------------------
# Aggregates
# --------------------------------------------------------------------------------------------------


def profile_footprints(
    footprints: pd.DataFrame,
    profiles: pd.Series,
    *,
    weights: pd.Series | None = None,
) -> pd.DataFrame:
    """Average footprints per usage profile.

    Parameters
    ----------
    footprints
        Per-respondent footprints (:func:`su_footprints` or :func:`ngc_usage_footprints`).
    profiles
        Profile of each respondent (label per respondent id), e.g. the assignment of
        :mod:`qet_geo.analysis.profiles`; respondents without a profile (NA) are left out.
    weights
        Respondent weights (raking weights); 1 for everyone by default.

    Returns
    -------
    pandas.DataFrame
        One row per profile: ``respondents``, ``weight_share`` (the profile's share of the
        weighted respondents) and the weighted mean of every ``*_kgco2e`` column.
    """
    cols = _kg_columns(footprints)
    if not isinstance(profiles, pd.Series):
        raise ValidationError(
            msg("profiles doit être une Series de profils indexée par répondant.")
        )
    labels = profiles.reindex(footprints.index)
    w = _weights(footprints, weights)
    keep = labels.notna().to_numpy()
    if not keep.any():
        raise EmptyDataError(
            msg(
                "Aucun répondant de footprints n'a de profil : vérifiez que les index "
                "correspondent."
            )
        )
    rows = {}
    total_weight = w[keep].sum()
    for label in pd.unique(labels[keep]):
        member = (labels == label).to_numpy()
        row = {
            "respondents": int(member.sum()),
            "weight_share": float(w[member].sum() / total_weight) if total_weight > 0 else np.nan,
        }
        for col in cols:
            row[col] = _weighted_mean(footprints[col].to_numpy(float)[member], w[member])
        rows[label] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = profiles.name or "profile"
    return out.sort_index()


def neighbourhood_footprint(
    footprints: pd.DataFrame,
    *,
    weights: pd.Series | None = None,
    population: float | None = None,
) -> pd.DataFrame:
    """Return the neighbourhood's mean footprint per inhabitant, usage by usage.

    Parameters
    ----------
    footprints
        Per-respondent footprints (:func:`su_footprints` or :func:`ngc_usage_footprints`).
    weights
        Respondent weights (the raking weights of
        :func:`qet_geo.surveys.representativeness.raking_weights`); 1 for everyone by default.
    population
        Number of inhabitants the means stand for; adds the neighbourhood total in tonnes.

    Returns
    -------
    pandas.DataFrame
        One row per ``*_kgco2e`` column: ``respondents`` (with a value), ``mean_kgco2e``
        (weighted), ``share`` (of the mean total, for the usage rows), ``effective_n`` (Kish),
        ``ci95_kgco2e`` (half-width of a normal 95 % interval on the mean, from the weighted
        standard deviation and the effective size) and, with ``population``, ``total_tco2e``.
    """
    cols = _kg_columns(footprints)
    w = _weights(footprints, weights)
    if population is not None and not (isinstance(population, int | float) and population > 0):
        raise ValidationError(
            msg(
                "population doit être un nombre positif d'habitants, reçu {population!r}.",
                population=population,
            )
        )
    rows = {}
    for col in cols:
        values = footprints[col].to_numpy(float)
        ok = ~np.isnan(values) & (w > 0)
        vals, ws = values[ok], w[ok]
        mean = _weighted_mean(vals, ws)
        n_eff = float(ws.sum() ** 2 / np.sum(ws**2)) if ok.any() else 0.0
        if ok.sum() > 1:
            var = float(np.sum(ws * (vals - mean) ** 2) / ws.sum())
            half = 1.959964 * np.sqrt(var / n_eff)
        else:
            half = np.nan
        row = {
            "respondents": int(ok.sum()),
            "mean_kgco2e": mean,
            "effective_n": n_eff,
            "ci95_kgco2e": half,
        }
        if population is not None:
            row["total_tco2e"] = mean * float(population) / 1000.0
        rows[col] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "column"
    total = out["mean_kgco2e"].get("total_kgco2e", np.nan)
    out.insert(2, "share", out["mean_kgco2e"] / total if total and total > 0 else np.nan)
    if "total_kgco2e" in out.index:
        out.loc["total_kgco2e", "share"] = 1.0
    return out


def _kg_columns(footprints: pd.DataFrame) -> list[str]:
    data_frame(footprints, what="footprints", hint=msg("passez le résultat de su_footprints"))
    cols = [c for c in footprints.columns if str(c).endswith("_kgco2e")]
    if not cols or footprints.empty:
        raise EmptyDataError(
            msg("footprints n'a aucun répondant ou aucune colonne *_kgco2e (voir su_footprints).")
        )
    return cols


def _weights(frame: pd.DataFrame, weights: pd.Series | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(frame))
    aligned = pd.to_numeric(weights.reindex(frame.index), errors="coerce")
    if aligned.isna().any() or (aligned < 0).any():
        missing = int(aligned.isna().sum())
        raise ValidationError(
            msg(
                "weights doit donner un nombre positif ou nul pour chaque répondant ({missing} "
                "absents ou non numériques) : calculez-les sur les mêmes réponses.",
                missing=missing,
            )
        )
    return aligned.to_numpy(float)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = ~np.isnan(values)
    total = weights[ok].sum()
    return float(np.sum(values[ok] * weights[ok]) / total) if total > 0 else float("nan")


# --------------------------------------------------------------------------------------------------
# Imported NGC results
# --------------------------------------------------------------------------------------------------


def read_ngc_results(
    path: PathType,
    *,
    id_column: str | None = None,
    unit: Literal["auto", "kg", "t"] = "auto",
) -> pd.DataFrame:
    """Read NosGestesClimat results: kgCO2e per category for each respondent.

    The file is read by :func:`qet_geo.surveys.ngc.read_ngc` with ``errors="raise"``; this gives
    its answers as a frame of every NGC column.

    Parameters
    ----------
    path
        CSV, TSV or XLSX export (see the module docstring for the expected columns).
    id_column
        Column of respondent identifiers; by default the first of ``respondent_id``, ``id``,
        ``identifiant``, … (row numbers from 1, with a warning, when there is none).
    unit
        "auto", "kg" or "t". "auto": each column in the unit its header states (``(t)``,
        ``tCO2e``, ``tonnes``, ``(kg)``...), kilograms for the others; when no header states a
        unit, tonnes if the median total is below 100 (no one emits less), else kilograms.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``respondent_id`` (text), the columns of
        :data:`qet_geo.surveys.schema.NGC_COLUMNS` in kgCO2e per year (NaN when the file lacks a
        sub-category). ``total`` is the sum of the five categories when the file has no total.
        ``attrs``: ``source`` (the file) and ``columns`` (NGC column → header read).

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    ValidationError
        No category column, a value that is not a non-negative number, duplicate identifiers,
        a row that cannot be read.

    Warns
    -----
    QetGeoWarning
        Totals that differ from the sum of the categories by more than 2 %, a sub-category
        larger than its category, no identifier column, missing figures, ignored columns.
    """
    if unit not in ("auto", "kg", "t"):
        raise ValidationError(
            msg("unit doit valoir 'auto', 'kg' ou 't', reçu {unit!r}.", unit=unit)
        )
    # re-emitted below so that they point at our caller, not at this module
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_ngc(
            path, unit=None if unit == "auto" else unit, id_column=id_column, errors="raise"
        )
    for caught_warning in caught:
        warnings.warn(caught_warning.message, stacklevel=2)
    out = read.answers.reindex(columns=list(NGC_COLUMNS)).astype(float)
    if "total" not in read.answers.columns:
        out["total"] = out[list(NGC_CATEGORIES)].sum(axis=1, min_count=len(NGC_CATEGORIES))
    out.attrs["source"] = read.source
    out.attrs["columns"] = {key: header for header, key in read.columns.items() if key in out}
    return out


def ngc_usage_footprints(results: pd.DataFrame) -> pd.DataFrame:
    """Map imported NGC results to the SU usages.

    Parameters
    ----------
    results
        NGC results per respondent in kgCO2e, with columns named as
        :data:`qet_geo.surveys.schema.NGC_COLUMNS`: the output of :func:`read_ngc_results` (or the
        answers of :func:`qet_geo.surveys.ngc.read_ngc`). Needs ``total``, or the five categories.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``results``: ``{usage}_kgco2e`` for each usage (the sum of its
        :data:`NGC_USAGE_SOURCES`; NaN when one is missing), ``other_kgco2e`` (NGC's total minus
        the usages) and ``total_kgco2e`` (NGC's total, all of the footprint).
    """
    data_frame(results, what="results", hint=msg("passez le résultat de read_ngc_results"))
    numbers = results[[c for c in NGC_COLUMNS if c in results.columns]].astype(float)
    if "total" in numbers.columns:
        total = numbers["total"]
    elif all(c in numbers.columns for c in NGC_CATEGORIES):
        total = numbers[list(NGC_CATEGORIES)].sum(axis=1, min_count=len(NGC_CATEGORIES))
    else:
        raise ValidationError(
            msg(
                "results n'a ni colonne 'total' ni les cinq catégories NGC ({ngc_categories}).",
                ngc_categories=", ".join(NGC_CATEGORIES),
            )
        )
    out = pd.DataFrame(index=results.index)
    for usage, sources in NGC_USAGE_SOURCES.items():
        if all(s in numbers.columns for s in sources):
            out[f"{usage}_kgco2e"] = numbers[list(sources)].sum(axis=1, min_count=len(sources))
        else:
            out[f"{usage}_kgco2e"] = np.nan
    usage_cols = [f"{u}_kgco2e" for u in NGC_USAGE_SOURCES]
    out["other_kgco2e"] = total - out[usage_cols].sum(axis=1, min_count=1).fillna(0.0)
    out["total_kgco2e"] = total
    out.attrs["scale"] = "ngc-results"
    return out
