"""Profiles meet constraints: how the built environment around each home relates to usages.

The QeT method holds the residents' usages (the SU survey) against the built constraints of their
homes (``docs/method.md``, "Built constraints"): daily mobility against transit distance and
frequency, the cycle network, slope, street intersections and the time to daily needs; food
against the time to food shops and markets; purchases against second-hand and repair shops and
local shops; flying against the time to a railway station; heating against the building. This
module does three things with located SU answers and the per-home indicators of
:func:`qet_geo.constraints.access.neighbourhood_access`:

1. :func:`profile_constraints`: for each usage profile (Profil d'Usages), the distribution of its
   members' home indicators (weighted mean and quartiles).
2. :func:`constraint_models`: for each usage, a logistic regression of its highest-carbon level
   (car, meat at every meal, more than 3 flights, always new, fuel oil) on the constraints of the
   method's table (:data:`USAGE_CONSTRAINTS`), on standardised predictors: odds ratios per
   documented unit (per 100 m, per 5 min; :func:`indicator_unit`) and per standard deviation with
   percentile-bootstrap 95 % intervals, and stratified k-fold cross-validated AUC and log-loss
   against a no-constraint baseline (the prevalence of the training folds).

   Answers of one home share its indicators and are not independent (a block of flats can hold
   many respondents): the bootstrap resamples homes (a cluster bootstrap) and the folds never
   split a home. Resampling answers instead gives intervals far too narrow: on Lorient with
   shuffled indicators it finds "effects" where there are none.
3. :func:`margins_of_manoeuvre`: the kgCO2e per person and year the neighbourhood would save if
   a constraint were lifted (:class:`Scenario`, :data:`DEFAULT_SCENARIOS`): a multinomial logistic
   model of each affected usage's level predicts the level probabilities of every home of the
   neighbourhood, with its indicators as they are and as the scenario changes them; the
   difference in expected kgCO2e (NEAR or NGC scale) is averaged over the homes, weighted by their
   population, with a bootstrap interval.

These are associations, not causal effects: a margin of manoeuvre reads "what the neighbourhood
would emit if residents living with the lifted constraint behaved like the respondents who
already live without it". Residents choose where they live (self-selection), so margins are an
upper bound of what a change of the built environment alone would bring.

Privacy
-------
Answers tied to a home are personal data. :func:`join_constraints` gives each answer its home's
indicators and stays inside the store. Everything else returned here is an aggregate that went
through :mod:`qet_geo.privacy`: profile groups are decided by :func:`qet_geo.privacy.safe_aggregate`
(no group of 1 to 10 located members, no dominance; small profiles are merged into their nearest
profile or suppressed, and named), model and margin tables by
:func:`qet_geo.privacy.protect_counts` (no figure from fewer than 11 answers, and a model is only
fitted when at least 11 answers sit on each side of the outcome). Every returned table passes
:func:`qet_geo.privacy.require_protected`. Published quartiles and means are rounded to the
indicator's publication step (10 m, half a minute...), so that no figure is one home's exact
indicator.

Examples
--------
>>> access = neighbourhood_access(layers, mode="walk")  # doctest: +SKIP
>>> models = constraint_models(answers, access, random_state=0)  # doctest: +SKIP
>>> models.effects.loc[("transportation_mode", "transit_stop_m"), "odds_ratio"]  # doctest: +SKIP
>>> margins_of_manoeuvre(answers, access, scale="near")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qet_geo._validate import existing_file
from qet_geo.crs import WORK_CRS
from qet_geo.errors import InputFileError, QetGeoWarning, ValidationError
from qet_geo.i18n import Lang
from qet_geo.privacy import (
    MIN_RESPONDENTS,
    protect_counts,
    protect_zones,
    require_protected,
    safe_aggregate,
)
from qet_geo.surveys.schema import USAGES

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

    from qet_geo.analysis.profiles import UsageProfiles
    from qet_geo.layers import NeighbourhoodLayers

__all__ = [
    "DEFAULT_SCENARIOS",
    "INDICATOR_UNITS",
    "OPERATIONS",
    "PROFILE_INDICATORS",
    "USAGE_CONSTRAINTS",
    "Change",
    "ConstraintModels",
    "IndicatorUnit",
    "Scenario",
    "building_indicators",
    "constraint_models",
    "indicator_unit",
    "join_constraints",
    "link_report",
    "margins_of_manoeuvre",
    "profile_constraints",
    "read_located_answers",
]

logger = logging.getLogger(__name__)

#: The constraints each usage is modelled against: the method's constraint table
#: (``docs/method.md``) as columns of :func:`qet_geo.constraints.access.neighbourhood_access` and of
#: :func:`building_indicators`. Digital use has no built constraint and is not modelled.
USAGE_CONSTRAINTS: Mapping[str, tuple[str, ...]] = {
    "transportation_mode": (
        "transit_stop_m",
        "departures_per_hour_400m",
        "cycle_km_500m",
        "slope_pct",
        "intersections_km2",
        "food_shop_min",
    ),
    "meat_frequency": ("food_shop_min", "market_min"),
    "purchasing_strategy": ("second_hand_repair_min", "local_shop_min"),
    "air_travel_frequency": ("rail_station_min",),
    "heat_source": ("building_year", "building_levels", "footprint_m2"),
}

#: The indicators :func:`profile_constraints` describes by default.
PROFILE_INDICATORS: tuple[str, ...] = (
    "transit_stop_m",
    "departures_per_hour_400m",
    "cycle_km_500m",
    "slope_pct",
    "intersections_km2",
    "food_shop_min",
    "market_min",
    "second_hand_repair_min",
    "local_shop_min",
    "rail_station_min",
    "score_15min",
)

#: Operations a :class:`Change` may make: cap (at most the value: distances, times), floor (at
#: least the value: frequencies, cycle lanes), set (exactly the value), scale (times the value).
OPERATIONS: tuple[str, ...] = ("cap", "floor", "set", "scale")

Operation = Literal["cap", "floor", "set", "scale"]

# answers a model needs on each side of its outcome (and in all): INSEE's secrecy floor, which is
# also about the least a logistic regression with a few predictors can be fitted on
_MIN_ANSWERS = MIN_RESPONDENTS
# bootstrap replicates that may fail (one outcome class missing) before intervals are withheld
_MAX_FAILED_SHARE = 0.05
_DEFAULT_SPEED_KMH = {"walk": 4.5, "bike": 15.0}
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_NOT_INDICATORS = frozenset({"weight", "snap_m", "off_network", "kind"})


# --------------------------------------------------------------------------------------------------
# units


@dataclass(frozen=True)
class IndicatorUnit:
    """How an indicator's effect is reported and its figures rounded.

    Attributes
    ----------
    step
        The documented unit of an odds ratio, in the indicator's unit (100 for "per 100 m").
    label_en, label_fr
        The unit in words ("per 100 m", "par 100 m").
    precision
        Published means and quartiles are rounded to this step (10 m, half a minute).
    """

    step: float
    label_en: str
    label_fr: str
    precision: float


#: Units by indicator name, or by suffix (``_m``, ``_min``, ``_n5``...) for the others.
INDICATOR_UNITS: Mapping[str, IndicatorUnit] = {
    "_m": IndicatorUnit(100.0, "per 100 m", "par 100 m", 10.0),
    "_min": IndicatorUnit(5.0, "per 5 min", "par 5 min", 0.5),
    "_n5": IndicatorUnit(1.0, "per amenity", "par équipement", 0.5),
    "_n10": IndicatorUnit(1.0, "per amenity", "par équipement", 0.5),
    "_n15": IndicatorUnit(1.0, "per amenity", "par équipement", 0.5),
    "transit_stops_400m": IndicatorUnit(1.0, "per stop within 400 m", "par arrêt à 400 m", 0.5),
    "departures_per_hour_400m": IndicatorUnit(
        5.0, "per 5 departures an hour", "par 5 départs par heure", 1.0
    ),
    "cycle_km_500m": IndicatorUnit(
        1.0, "per km of cycle lanes within 500 m", "par km d'aménagements cyclables à 500 m", 0.1
    ),
    "slope_pct": IndicatorUnit(1.0, "per point of slope (%)", "par point de pente (%)", 0.1),
    "intersections_km2": IndicatorUnit(
        50.0, "per 50 intersections per km²", "par 50 carrefours au km²", 5.0
    ),
    "score_15min": IndicatorUnit(
        0.1, "per 10 points of 15-minute score", "par 10 points de score 15 minutes", 0.01
    ),
    "building_year": IndicatorUnit(10.0, "per decade of construction", "par décennie", 1.0),
    "building_levels": IndicatorUnit(1.0, "per storey", "par étage", 0.5),
    "footprint_m2": IndicatorUnit(100.0, "per 100 m² of footprint", "par 100 m² d'emprise", 10.0),
}
_GENERIC_UNIT = IndicatorUnit(1.0, "per unit", "par unité", 0.01)


def indicator_unit(indicator: str) -> IndicatorUnit:
    """Return how an indicator's effect is reported (its name, else its suffix, else per unit).

    Parameters
    ----------
    indicator
        A column of the access table, e.g. "transit_stop_m" (per 100 m) or "food_shop_min"
        (per 5 min).
    """
    if indicator in INDICATOR_UNITS:
        return INDICATOR_UNITS[indicator]
    for suffix in ("_min", "_n15", "_n10", "_n5", "_m"):
        if indicator.endswith(suffix):
            return INDICATOR_UNITS[suffix]
    return _GENERIC_UNIT


# --------------------------------------------------------------------------------------------------
# scenarios


@dataclass(frozen=True)
class Change:
    """One change of a home indicator: ``operation`` by ``value``.

    Attributes
    ----------
    indicator
        A column of the access table ("transit_stop_m", "food_shop_min").
    operation
        cap (at most ``value``), floor (at least ``value``), set (exactly ``value``) or scale
        (times ``value``).
    value
        In the indicator's unit (m, min, departures per hour, km).
    """

    indicator: str
    operation: Operation
    value: float

    def __post_init__(self) -> None:
        _check_change(self.indicator, self.operation, self.value)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Return ``values`` changed (a new array)."""
        if self.operation == "cap":
            return np.minimum(values, self.value)
        if self.operation == "floor":
            return np.maximum(values, self.value)
        if self.operation == "set":
            return np.full_like(values, self.value, dtype=float)
        return values * self.value


@dataclass(frozen=True)
class Scenario:
    """A constraint lifted for every home of the neighbourhood, declared, not coded.

    Attributes
    ----------
    name
        Short identifier ("frequent_transit").
    indicator, operation, value
        The main change (see :class:`Change`): e.g. "transit_stop_m", "cap", 300.0 for "every
        home within 300 m of a stop".
    label_fr, label_en
        What the scenario means, for people.
    also
        Further changes made at the same time (e.g. at least 6 departures an hour).

    Examples
    --------
    >>> Scenario("shop_5min", "food_shop_min", "cap", 5.0,
    ...          label_fr="Un commerce alimentaire à 5 min", label_en="A food shop within 5 min")
    Scenario(name='shop_5min', ...)  # doctest: +SKIP
    """

    name: str
    indicator: str
    operation: Operation
    value: float
    label_fr: str
    label_en: str
    also: tuple[Change, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(
                f"A scenario needs a name, got {self.name!r}.",
                message_fr=f"Un scénario doit avoir un nom, reçu {self.name!r}.",
            )
        _check_change(self.indicator, self.operation, self.value)
        if not all(isinstance(c, Change) for c in self.also):
            raise ValidationError(
                f"Scenario {self.name!r}: 'also' must be a tuple of Change.",
                message_fr=f"Scénario {self.name!r} : 'also' doit être un tuple de Change.",
            )

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every change of the scenario, the main one first."""
        return (Change(self.indicator, self.operation, self.value), *self.also)

    @property
    def indicators(self) -> tuple[str, ...]:
        """The indicators the scenario changes."""
        return tuple(dict.fromkeys(c.indicator for c in self.changes))

    def label(self, lang: Lang = "fr") -> str:
        """Return the label in ``lang`` ("fr" or "en")."""
        return self.label_fr if lang == "fr" else self.label_en


def _check_change(indicator: object, operation: object, value: object) -> None:
    if not isinstance(indicator, str) or not indicator:
        raise ValidationError(
            f"A change needs an indicator name (a column of the access table), got {indicator!r}.",
            message_fr=f"Une modification demande un nom d'indicateur (une colonne de la table "
            f"d'accès), reçu {indicator!r}.",
        )
    if operation not in OPERATIONS:
        raise ValidationError(
            f"Unknown operation {operation!r} on {indicator}: use {', '.join(OPERATIONS)}.",
            message_fr=f"Opération {operation!r} inconnue sur {indicator} : utilisez "
            f"{', '.join(OPERATIONS)}.",
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValidationError(
            f"The value of the change on {indicator} must be a number, got {value!r}.",
            message_fr=f"La valeur de la modification de {indicator} doit être un nombre, reçu "
            f"{value!r}.",
        )


#: Scenarios tied to the method's constraint table; indicators absent from the data (no GTFS
#: timetable, no railway station within reach) are skipped and said so.
DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "frequent_transit",
        "transit_stop_m",
        "cap",
        300.0,
        label_fr="Chaque logement à moins de 300 m d'un arrêt fréquent (au moins 6 départs par "
        "heure)",
        label_en="Every home within 300 m of a frequent stop (at least 6 departures an hour)",
        also=(Change("departures_per_hour_400m", "floor", 6.0),),
    ),
    Scenario(
        "food_shop_5min",
        "food_shop_min",
        "cap",
        5.0,
        label_fr="Un commerce alimentaire à moins de 5 minutes de chaque logement",
        label_en="A food shop within 5 minutes of every home",
    ),
    Scenario(
        "market_10min",
        "market_min",
        "cap",
        10.0,
        label_fr="Un marché à moins de 10 minutes de chaque logement",
        label_en="A market within 10 minutes of every home",
    ),
    Scenario(
        "second_hand_repair_10min",
        "second_hand_repair_min",
        "cap",
        10.0,
        label_fr="Une boutique d'occasion ou un atelier de réparation à moins de 10 minutes de "
        "chaque logement",
        label_en="A second-hand or repair shop within 10 minutes of every home",
    ),
    Scenario(
        "local_shop_5min",
        "local_shop_min",
        "cap",
        5.0,
        label_fr="Un commerce de proximité à moins de 5 minutes de chaque logement",
        label_en="A local shop within 5 minutes of every home",
    ),
    Scenario(
        "cycle_network",
        "cycle_km_500m",
        "floor",
        2.0,
        label_fr="Au moins 2 km d'aménagements cyclables à moins de 500 m de chaque logement",
        label_en="At least 2 km of cycle lanes within 500 m of every home",
    ),
    Scenario(
        "rail_station_15min",
        "rail_station_min",
        "cap",
        15.0,
        label_fr="Une gare à moins de 15 minutes de chaque logement",
        label_en="A railway station within 15 minutes of every home",
    ),
)


# --------------------------------------------------------------------------------------------------
# joining answers and homes


def building_indicators(buildings: pd.DataFrame) -> pd.DataFrame:
    """Return the heating-related indicators of each building: age, storeys, footprint.

    Parameters
    ----------
    buildings
        The building layer (``layers.layers["buildings"]``, indexed by OSM key such as "w123"),
        with any of ``start_date``, ``levels`` and ``footprint_m2`` (or a geometry).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``buildings``: ``building_year`` (the first year of ``start_date``, NaN when
        unknown), ``building_levels`` (storeys, NaN when unknown) and ``footprint_m2``. Join it to
        the access table (``access.join(building_indicators(b))``) to model heating.

    Raises
    ------
    ValidationError
        ``buildings`` is not a DataFrame.
    """
    if not isinstance(buildings, pd.DataFrame):
        raise ValidationError(
            "buildings must be the building layer (a GeoDataFrame indexed by OSM key).",
            message_fr="buildings doit être la couche des bâtiments (un GeoDataFrame indexé par "
            "clé OSM).",
        )
    out = pd.DataFrame(index=buildings.index)
    if "start_date" in buildings.columns:
        text = buildings["start_date"].astype("string")
        year = text.str.extract(_YEAR, expand=False)
        out["building_year"] = pd.to_numeric(year, errors="coerce").astype(float)
    else:
        out["building_year"] = np.nan
    if "levels" in buildings.columns:
        levels = pd.to_numeric(buildings["levels"], errors="coerce").astype(float)
        out["building_levels"] = levels.where(levels > 0)
    else:
        out["building_levels"] = np.nan
    if "footprint_m2" in buildings.columns:
        out["footprint_m2"] = pd.to_numeric(buildings["footprint_m2"], errors="coerce").astype(
            float
        )
    elif hasattr(buildings, "geometry") and buildings.geometry is not None:
        out["footprint_m2"] = np.asarray(buildings.geometry.area, dtype=float)
    else:
        out["footprint_m2"] = np.nan
    return out


def join_constraints(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    cell_access: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Give each answer its home's constraint indicators (personal data: never publish it).

    Parameters
    ----------
    answers
        SU answers with ``building_key`` (the home's building, an index of ``access``) and/or
        ``cell_id`` (the home's INSEE 200 m cell), e.g. from :func:`read_located_answers` or
        :func:`qet_geo.surveys.synthetic.synthesize_answers`.
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access` with homes as
        buildings, indexed by building key), optionally joined with :func:`building_indicators`.
    cell_access
        Indicators per 200 m cell (``neighbourhood_access(layers, homes="cells")``, indexed by
        cell id), for answers located by their cell only. Without it such answers are left out.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``answers``: every numeric indicator column of ``access`` (NaN when the answer
        is not located), ``located_by`` ("building", "cell" or ``<NA>``) and ``home_id`` (the
        building key or cell id joined: answers sharing it are one cluster of the bootstrap).

    Raises
    ------
    ValidationError
        ``answers`` has neither ``building_key`` nor ``cell_id``, or ``access`` is not a table of
        indicators with unique home ids.
    """
    _check_answers(answers)
    columns = _indicator_columns(access, what="access")
    if cell_access is not None:
        _indicator_columns(cell_access, what="cell_access")
    return _join(answers, access, columns, cell_access)


def _check_answers(answers: object) -> None:
    if not isinstance(answers, pd.DataFrame):
        raise ValidationError(
            f"answers must be a DataFrame of SU answers, not {type(answers).__name__}.",
            message_fr=f"answers doit être un DataFrame de réponses SU, pas "
            f"{type(answers).__name__}.",
        )
    if "building_key" not in answers.columns and "cell_id" not in answers.columns:
        raise ValidationError(
            "answers has no building_key nor cell_id column: locate the homes first "
            "(qet_geo.analysis.links.read_located_answers, or locate_homes then coarsen_locations).",
            message_fr="answers n'a ni colonne building_key ni colonne cell_id : localisez "
            "d'abord les logements (qet_geo.analysis.links.read_located_answers, ou locate_homes puis "
            "coarsen_locations).",
        )
    if not answers.index.is_unique:
        raise ValidationError(
            "answers has duplicated respondent ids in its index.",
            message_fr="answers a des identifiants de répondants en double dans son index.",
        )


def _indicator_columns(access: object, *, what: str) -> list[str]:
    if not isinstance(access, pd.DataFrame):
        raise ValidationError(
            f"{what} must be the table of indicators per home (neighbourhood_access), not "
            f"{type(access).__name__}.",
            message_fr=f"{what} doit être la table des indicateurs par logement "
            f"(neighbourhood_access), pas {type(access).__name__}.",
        )
    if not access.index.is_unique:
        raise ValidationError(
            f"{what} has duplicated home ids in its index.",
            message_fr=f"{what} a des identifiants de logement en double dans son index.",
        )
    columns = [
        str(c)
        for c in access.columns
        if str(c) not in _NOT_INDICATORS
        and pd.api.types.is_numeric_dtype(access[c])
        and not pd.api.types.is_bool_dtype(access[c])
    ]
    if not columns:
        raise ValidationError(
            f"{what} has no numeric indicator column: compute it with "
            "qet_geo.constraints.access.neighbourhood_access.",
            message_fr=f"{what} n'a aucune colonne d'indicateur numérique : calculez-la avec "
            "qet_geo.constraints.access.neighbourhood_access.",
        )
    return columns


def _join(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    columns: list[str],
    cell_access: pd.DataFrame | None,
) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=answers.index, columns=columns, dtype=float)
    located = pd.Series(pd.NA, index=answers.index, dtype="string")
    home = pd.Series(pd.NA, index=answers.index, dtype="string")
    values = access[columns].astype(float)
    if "building_key" in answers.columns:
        keys = answers["building_key"].astype("string")
        hit = keys.isin(values.index.astype(str)).fillna(False).to_numpy(dtype=bool)
        if hit.any():
            lookup = values.set_axis(values.index.astype(str))
            out.loc[hit, columns] = lookup.loc[keys[hit].to_numpy(dtype=str)].to_numpy()
            located[hit] = "building"
            home[hit] = keys[hit]
    if cell_access is not None and "cell_id" in answers.columns:
        cell_cols = [c for c in columns if c in cell_access.columns]
        cells = answers["cell_id"].astype("string")
        lookup = cell_access[cell_cols].astype(float)
        lookup = lookup.set_axis(lookup.index.astype(str))
        todo = located.isna().to_numpy(dtype=bool) & cells.isin(lookup.index).fillna(
            False
        ).to_numpy(dtype=bool)
        if todo.any():
            out.loc[todo, cell_cols] = lookup.loc[cells[todo].to_numpy(dtype=str)].to_numpy()
            located[todo] = "cell"
            home[todo] = cells[todo]
    out["located_by"] = located
    out["home_id"] = home
    missing = int(located.isna().sum())
    if missing:
        by_cell = ""
        by_cell_fr = ""
        if cell_access is None and "cell_id" in answers.columns:
            by_cell = " (answers located by their cell only need cell_access=)"
            by_cell_fr = " (les réponses localisées par leur seul carreau demandent cell_access=)"
        warnings.warn(
            QetGeoWarning(
                f"{missing} of {len(answers)} answers have no home indicators: their building is "
                f"not a home of the access table and their cell is not known{by_cell}; they are "
                "left out.",
                message_fr=f"{missing} réponses sur {len(answers)} n'ont pas d'indicateurs de "
                f"logement : leur bâtiment n'est pas un logement de la table d'accès et leur "
                f"carreau n'est pas connu{by_cell_fr} ; elles sont écartées.",
            ),
            stacklevel=3,
        )
    return out


def _check_weights(weights: pd.Series | None, index: pd.Index) -> np.ndarray:
    if weights is None:
        return np.ones(len(index))
    if not isinstance(weights, pd.Series) or not pd.api.types.is_numeric_dtype(weights):
        raise ValidationError(
            "weights must be a numeric Series aligned to the answers (e.g. raking_weights).",
            message_fr="weights doit être une Series numérique alignée sur les réponses (par "
            "exemple raking_weights).",
        )
    aligned = weights.reindex(index).to_numpy(dtype=float)
    if np.isnan(aligned).any() or (aligned < 0).any() or not np.isfinite(aligned).all():
        raise ValidationError(
            "weights must give every answer a finite weight, 0 or more (its index must hold "
            "every respondent id).",
            message_fr="weights doit donner à chaque réponse un poids fini, positif ou nul (son "
            "index doit contenir chaque identifiant de répondant).",
        )
    if aligned.sum() <= 0:
        raise ValidationError(
            "weights sum to 0.", message_fr="la somme des poids (weights) est nulle."
        )
    return aligned


def _check_inputs(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    cell_access: pd.DataFrame | None,
    **common: Any,
) -> list[str]:
    """Check the answers, the indicator tables and the common parameters; the indicator columns."""
    _check_answers(answers)
    columns = _indicator_columns(access, what="access")
    if cell_access is not None:
        _indicator_columns(cell_access, what="cell_access")
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
            f"n_bootstrap must be a whole number, 0 or more (0: no intervals), got {n_bootstrap!r}.",
            message_fr=f"n_bootstrap doit être un entier positif ou nul (0 : pas d'intervalles), "
            f"reçu {n_bootstrap!r}.",
        )
    if (
        isinstance(min_answers, bool)
        or not isinstance(min_answers, int)
        or min_answers < MIN_RESPONDENTS
    ):
        raise ValidationError(
            f"min_answers must be at least {MIN_RESPONDENTS} (statistical secrecy), got "
            f"{min_answers!r}.",
            message_fr=f"min_answers doit valoir au moins {MIN_RESPONDENTS} (secret "
            f"statistique), reçu {min_answers!r}.",
        )
    if not 0.0 <= float(max_missing) < 1.0:
        raise ValidationError(
            f"max_missing must be a share in [0, 1), got {max_missing!r}.",
            message_fr=f"max_missing doit être une part dans [0, 1), reçu {max_missing!r}.",
        )
    if not float(C) > 0.0:
        raise ValidationError(
            f"C (inverse ridge strength) must be positive, got {C!r}.",
            message_fr=f"C (inverse de la pénalité ridge) doit être positif, reçu {C!r}.",
        )
    if not 0.5 <= float(confidence) < 1.0:
        raise ValidationError(
            f"confidence must be in [0.5, 1), e.g. 0.95, got {confidence!r}.",
            message_fr=f"confidence doit être dans [0,5, 1), par exemple 0.95, reçu "
            f"{confidence!r}.",
        )


def _check_constraints(constraints: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(constraints, Mapping):
        raise ValidationError(
            "constraints must map usages to indicator names (see USAGE_CONSTRAINTS).",
            message_fr="constraints doit associer des usages à des noms d'indicateurs (voir "
            "USAGE_CONSTRAINTS).",
        )
    out: dict[str, tuple[str, ...]] = {}
    for usage, indicators in constraints.items():
        if usage not in USAGES:
            raise ValidationError(
                f"Unknown usage {usage!r} in constraints: use {', '.join(USAGES)}.",
                message_fr=f"Usage {usage!r} inconnu dans constraints : utilisez "
                f"{', '.join(USAGES)}.",
            )
        if isinstance(indicators, str) or not all(isinstance(i, str) for i in indicators):
            raise ValidationError(
                f"constraints[{usage!r}] must be a sequence of indicator names.",
                message_fr=f"constraints[{usage!r}] doit être une suite de noms d'indicateurs.",
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


def _filled(values: pd.DataFrame, cutoff_min: float) -> pd.DataFrame:
    """Distances and times to the nearest amenity: none within the 5 km search = the cutoff.

    A pair ``<category>_m`` / ``<category>_min`` is what :func:`qet_geo.constraints.access.home_access`
    gives for the nearest amenity; NaN there means none within the search, not unknown. Other
    indicators keep their NaN (no timetable, no DEM).
    """
    from qet_geo.constraints.access import NEAREST_CUTOFF_M

    out = values.astype(float).copy()
    names = {str(c) for c in out.columns}
    for col in out.columns:
        name = str(col)
        if not out[col].notna().any():
            continue
        if name.endswith("_m") and f"{name[:-2]}_min" in names:
            out[col] = out[col].fillna(NEAREST_CUTOFF_M)
        elif name.endswith("_min") and f"{name[:-4]}_m" in names:
            out[col] = out[col].fillna(cutoff_min)
    return out


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
    """One BLAS thread (many tiny fits are much faster so) and no convergence chatter."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
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


# --------------------------------------------------------------------------------------------------
# publishing through the chokepoint


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


# --------------------------------------------------------------------------------------------------
# 1. profiles and their constraints


def profile_constraints(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    profiles: pd.Series | UsageProfiles,
    *,
    indicators: Sequence[str] | None = None,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    neighbours: Mapping[str, Sequence[str]] | None = None,
    min_respondents: int = MIN_RESPONDENTS,
) -> pd.DataFrame:
    """Describe the home constraints of each usage profile's located members.

    Parameters
    ----------
    answers
        Located SU answers (see :func:`join_constraints`).
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access`).
    profiles
        A fitted :class:`qet_geo.analysis.profiles.UsageProfiles` (each answer gets its nearest profile,
        and a small profile is merged into the profile of the nearest centre), or a Series of
        profile labels aligned to ``answers`` (``<NA>``: no profile; a small profile is then
        merged into the smallest other profile).
    indicators
        Indicators to describe; those of :data:`PROFILE_INDICATORS` found in ``access`` by
        default.
    weights
        Respondent weights (e.g. :func:`qet_geo.surveys.representativeness.raking_weights`), aligned to
        ``answers``; 1 each by default.
    cell_access
        Indicators per 200 m cell, for answers located by their cell only.
    neighbours
        Profile label → profiles it may be merged with, instead of the defaults above. An empty
        mapping merges nothing: small profiles are then suppressed (and named).
    min_respondents
        Fewest located members of a published group; 11 (INSEE). Lower values are refused.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``profile`` (the published group: a profile label, labels joined by "+" when
        merged, or "other"): ``n_respondents`` (located members), ``merged``, ``profiles`` (the
        profiles in the group, "+"-joined) and, for each indicator, ``{indicator}_n`` (members
        with a value), ``_mean`` (weighted), ``_q25``, ``_median``, ``_q75`` (weighted), rounded
        to the indicator's publication step (:func:`indicator_unit`). Marked as protected;
        ``attrs["suppressed_profiles"]`` and ``attrs["merged_profiles"]`` name the profiles
        that could not be published alone.

    Raises
    ------
    ValidationError
        Bad ``answers``, ``access``, ``profiles``, ``weights`` or ``indicators``, or
        ``min_respondents`` below 11.

    Warns
    -----
    QetGeoWarning
        Answers without home indicators were left out; profiles were merged or suppressed (they
        are named).
    """
    _check_answers(answers)
    columns = _indicator_columns(access, what="access")
    if cell_access is not None:
        _indicator_columns(cell_access, what="cell_access")
    labels, auto_neighbours = _profile_labels(profiles, answers)
    if indicators is None:
        chosen = [c for c in PROFILE_INDICATORS if c in columns]
    else:
        if isinstance(indicators, str):
            indicators = [indicators]
        unknown = [c for c in indicators if c not in columns]
        if unknown:
            raise ValidationError(
                f"Indicators {', '.join(unknown)} are not columns of access.",
                message_fr=f"Les indicateurs {', '.join(unknown)} ne sont pas des colonnes de "
                "access.",
            )
        chosen = list(dict.fromkeys(indicators))
    if not chosen:
        raise ValidationError(
            "None of the indicators to describe is in access.",
            message_fr="Aucun des indicateurs à décrire n'est dans access.",
        )
    w = _check_weights(weights, answers.index)
    joined = _join(answers, access, columns, cell_access)
    return _profile_constraints(
        joined,
        labels,
        chosen,
        w,
        neighbours=neighbours if neighbours is not None else auto_neighbours,
        min_respondents=min_respondents,
    )


def _profile_labels(
    profiles: pd.Series | UsageProfiles, answers: pd.DataFrame
) -> tuple[pd.Series, dict[str, list[str]] | None]:
    if isinstance(profiles, pd.Series):
        if not profiles.index.equals(answers.index):
            aligned = profiles.reindex(answers.index)
            if aligned.isna().all() and len(profiles):
                raise ValidationError(
                    "profiles must be aligned to the answers (same respondent ids).",
                    message_fr="profiles doit être aligné sur les réponses (mêmes identifiants "
                    "de répondants).",
                )
            profiles = aligned
        labels = profiles.astype("string")
        # no centres to say which profile is nearest: a small profile joins the smallest other
        # one (a pooled "other" group of 1 to 10 would be suppressed, and its size could then be
        # read off the total)
        present = sorted({str(p) for p in labels.dropna().tolist()}, key=_profile_sort)
        everyone = {p: [q for q in present if q != p] for p in present}
        return labels, everyone
    if hasattr(profiles, "assign") and hasattr(profiles, "centres_"):
        assigned = profiles.assign(answers)["profile"]
        labels = assigned.astype("string")
        centres = np.asarray(profiles.centres_, dtype=float)
        neighbours: dict[str, list[str]] = {}
        if len(centres) > 1:
            d = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
            np.fill_diagonal(d, np.inf)
            for p in range(len(centres)):
                neighbours[str(p)] = [str(int(np.argmin(d[p])))]
        return labels, neighbours
    raise ValidationError(
        "profiles must be a fitted UsageProfiles or a Series of profile labels aligned to the "
        "answers.",
        message_fr="profiles doit être un UsageProfiles ajusté ou une Series d'étiquettes de "
        "profil alignée sur les réponses.",
    )


def _profile_constraints(
    joined: pd.DataFrame,
    labels: pd.Series,
    indicators: list[str],
    w: np.ndarray,
    *,
    neighbours: Mapping[str, Sequence[str]] | None,
    min_respondents: int,
) -> pd.DataFrame:
    keep = joined["located_by"].notna().to_numpy(dtype=bool) & labels.notna().to_numpy(dtype=bool)
    frame = joined.loc[keep, indicators].astype(float)
    frame["profile"] = labels[keep].astype(str).to_numpy()
    weight = w[keep]
    values = [c for c in indicators if frame[c].notna().any()]
    zones = protect_zones(
        frame,
        zone="profile",
        values=values,
        neighbours=neighbours,
        min_respondents=min_respondents,
        leftover="nearest",
    )
    table = safe_aggregate(
        frame,
        zone="profile",
        values=values,
        neighbours=neighbours,
        min_respondents=min_respondents,
        leftover="nearest",
    )
    for col in [c for c in table.columns if c.endswith(("_sum", "_mean"))]:
        del table[col]
    zone_of = zones.astype("string").fillna("").to_numpy(dtype=str)
    members: dict[str, list[str]] = {}
    all_profiles = sorted(set(frame["profile"]), key=_profile_sort)
    for profile, zone in zip(frame["profile"], zone_of, strict=True):
        if zone:
            members.setdefault(zone, [])
            if profile not in members[zone]:
                members[zone].append(profile)
    published = {p for ps in members.values() for p in ps}
    suppressed = [p for p in all_profiles if p not in published]
    merged = sorted({p for ps in members.values() if len(ps) > 1 for p in ps}, key=_profile_sort)
    table["profiles"] = [
        "+".join(sorted(members.get(str(z), []), key=_profile_sort)) for z in table.index
    ]
    for name in indicators:
        unit = indicator_unit(name)
        stats: dict[str, list[float]] = {k: [] for k in ("n", "mean", "q25", "median", "q75")}
        values_all = frame[name].to_numpy(dtype=float)
        for zone in table.index:
            sel = (zone_of == str(zone)) & np.isfinite(values_all)
            v, wz = values_all[sel], weight[sel]
            stats["n"].append(float(sel.sum()))
            if len(v) == 0 or wz.sum() <= 0:
                for k in ("mean", "q25", "median", "q75"):
                    stats[k].append(np.nan)
                continue
            q = _weighted_quantiles(v, wz, (0.25, 0.5, 0.75))
            stats["mean"].append(_round_to(float(np.average(v, weights=wz)), unit.precision))
            for k, value in zip(("q25", "median", "q75"), q, strict=True):
                stats[k].append(_round_to(float(value), unit.precision))
        table[f"{name}_n"] = pd.array([int(n) for n in stats["n"]], dtype="Int64")
        for k in ("mean", "q25", "median", "q75"):
            table[f"{name}_{k}"] = stats[k]
    table.index.name = "profile"
    table.attrs["suppressed_profiles"] = suppressed
    table.attrs["merged_profiles"] = merged
    table.attrs["indicators"] = list(indicators)
    if suppressed or merged:
        parts_en, parts_fr = [], []
        if merged:
            parts_en.append(f"profiles {', '.join(merged)} were merged")
            parts_fr.append(f"les profils {', '.join(merged)} ont été fusionnés")
        if suppressed:
            parts_en.append(f"profiles {', '.join(suppressed)} were suppressed")
            parts_fr.append(f"les profils {', '.join(suppressed)} ont été supprimés")
        warnings.warn(
            QetGeoWarning(
                f"{' and '.join(parts_en)}: too few located members to publish them alone "
                f"(fewer than {min_respondents}, or one member dominating an indicator).",
                message_fr=f"{' et '.join(parts_fr)} : trop peu de membres localisés pour les "
                f"publier seuls (moins de {min_respondents}, ou un membre dominant un "
                "indicateur).",
            ),
            stacklevel=3,
        )
    return table


def _profile_sort(label: str) -> tuple[int, str]:
    return (int(label), "") if label.isdigit() else (1 << 30, label)


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


# --------------------------------------------------------------------------------------------------
# 2. models of each usage against its constraints


@dataclass(frozen=True)
class ConstraintModels:
    """The usage models of :func:`constraint_models`: their effects and their scores.

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
        Located SU answers (see :func:`join_constraints`).
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access`), joined with
        :func:`building_indicators` to model heating.
    constraints
        Usage → indicators; :data:`USAGE_CONSTRAINTS` (the method's table) by default.
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
        raise ValidationError(
            f"level must be 2 or 3, got {level!r}.",
            message_fr=f"level doit valoir 2 ou 3, reçu {level!r}.",
        )
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or not 2 <= n_splits <= 20:
        raise ValidationError(
            f"n_splits must be a whole number from 2 to 20, got {n_splits!r}.",
            message_fr=f"n_splits doit être un entier de 2 à 20, reçu {n_splits!r}.",
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
    cols["unit_en"].append(unit.label_en)
    cols["unit_fr"].append(unit.label_fr)


def _warn_models(few: list[str], unstable: list[str], min_answers: int) -> None:
    if few:
        warnings.warn(
            QetGeoWarning(
                f"Too few answers to model {', '.join(few)}: fewer than {min_answers} located "
                "answers, or fewer than that on one side of the outcome; their effects and scores "
                "are NaN. Survey more residents.",
                message_fr=f"Trop peu de réponses pour modéliser {', '.join(few)} : moins de "
                f"{min_answers} réponses localisées, ou moins que cela d'un côté du résultat ; "
                "leurs effets et scores sont NaN. Interrogez davantage d'habitants.",
            ),
            stacklevel=4,
        )
    if unstable:
        warnings.warn(
            QetGeoWarning(
                f"The bootstrap intervals of {', '.join(unstable)} are withheld (NaN): too many "
                "resamples held a single outcome; the estimates rest on very few answers.",
                message_fr=f"Les intervalles bootstrap de {', '.join(unstable)} sont retenus "
                "(NaN) : trop de rééchantillons n'avaient qu'un seul résultat ; les estimations "
                "reposent sur très peu de réponses.",
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


# --------------------------------------------------------------------------------------------------
# 3. margins of manoeuvre


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
        Located SU answers (see :func:`join_constraints`).
    access
        Indicators per home, with its ``weight`` column (people, or 1 per building).
    scenarios
        The constraints to lift; :data:`DEFAULT_SCENARIOS` by default.
    scale
        "near" (NEAR's table, default), "ngc" (NosGestesClimat) or a mapping usage → level →
        kgCO2e (:func:`qet_geo.analysis.footprint.usage_scale`).
    constraints
        Usage → indicators, as for :func:`constraint_models`.
    weights
        Respondent weights aligned to ``answers`` (raking weights), used to fit the models.
    cell_access
        Indicators per 200 m cell, for answers located by their cell only.
    population
        Inhabitants of the neighbourhood, for the total saving; by default the sum of
        ``access["weight"]`` when the weights are populations (not all 1), else no total.
    n_bootstrap, confidence, min_answers, max_missing, C, random_state
        As for :func:`constraint_models`. A usage is modelled when at least ``min_answers`` of
        its answers are located and at least two of its levels gather ``min_answers`` each.

    Returns
    -------
    pandas.DataFrame
        One row per (``scenario``, ``usage``), usage "all" holding the sum over the usages:
        ``n_respondents``, ``status`` (ok; partial: some usage could not be modelled;
        not_applicable: no model uses a changed indicator; too_few_answers;
        unstable_intervals), ``label_fr``, ``label_en``, ``share_homes_changed`` (weighted share
        of homes whose indicators change), ``baseline_kgco2e_per_person`` (modelled mean of the
        usage), ``saving_kgco2e_per_person`` with ``_low``/``_high`` (bootstrap interval),
        ``population`` and ``saving_tco2e`` with ``_low``/``_high`` (total a year, NaN without a
        population), ``ignored`` (changed indicators no model uses, ";"-joined). Marked as
        protected.

    Raises
    ------
    ValidationError
        Bad input, an unknown scale, two scenarios of the same name, or a bad option.

    Warns
    -----
    QetGeoWarning
        Answers without home indicators; usages with too few answers; intervals withheld.
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
        raise ValidationError(
            "scenarios must be a sequence of Scenario.",
            message_fr="scenarios doit être une suite de Scenario.",
        )
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValidationError(
            "Two scenarios share a name: give each a distinct name.",
            message_fr="Deux scénarios portent le même nom : donnez-leur des noms distincts.",
        )
    if population is not None and (
        isinstance(population, bool) or not float(population) > 0 or math.isinf(population)
    ):
        raise ValidationError(
            f"population must be a positive number of inhabitants, got {population!r}.",
            message_fr=f"population doit être un nombre d'habitants positif, reçu {population!r}.",
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
        raise ValidationError(
            "access has no home with a positive weight.",
            message_fr="access n'a aucun logement de poids positif.",
        )
    if population is None and not np.allclose(home_w, 1.0):
        population = float(home_w.sum())
    homes = _filled(access[columns], _cutoff_min(access))
    return _margins(
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
    )


@dataclass
class _UsageMargin:
    design: _Design
    kg: np.ndarray  # kgCO2e of levels 1, 2, 3
    base: np.ndarray  # standardised home predictors
    home_ok: np.ndarray
    models: list[LogisticRegression | None]  # full fit first, then replicates (None: failed)


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
) -> pd.DataFrame:
    located, filled, weights, groups = _located(answers, joined, w, cutoff_min)
    n_located = len(located)
    needed: dict[str, _Design] = {}
    status_of: dict[str, str] = {}
    for usage, candidates in constraints.items():
        if usage not in located.columns:
            continue
        design = _design(
            usage, candidates, located, filled, weights, groups, max_missing=max_missing
        )
        touched = any(ind in design.predictors for s in scenarios for ind in s.indicators)
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

    keys: list[tuple[str, str]] = []
    counts_out: list[int | None] = []
    cols: dict[str, list[Any]] = {k: [] for k in _MARGIN_COLUMNS}
    few = sorted(u for u, s in status_of.items() if s == "too_few_answers")
    unstable: list[str] = []
    for scenario in scenarios:
        affected = [u for u, d in needed.items() if set(scenario.indicators) & set(d.predictors)]
        used = {ind for u in affected for ind in needed[u].predictors}
        ignored = [ind for ind in scenario.indicators if ind not in used]
        modelled = [u for u in affected if u in fitted]
        changed_share = _changed_share(scenario, homes, used, home_w)
        per_usage: dict[str, np.ndarray] = {}
        baselines: dict[str, float] = {}
        for usage in modelled:
            margin = fitted[usage]
            cf = _standardised_homes(margin.design, _apply(scenario, homes))
            savings = []
            for model in margin.models:
                if model is None:
                    savings.append(np.nan)
                    continue
                base_kg = _expected_kg(model, margin.base, margin.kg)
                cf_kg = _expected_kg(model, cf, margin.kg)
                ok = margin.home_ok
                savings.append(float(np.sum(home_w[ok] * (base_kg - cf_kg)[ok]) / home_w[ok].sum()))
                if len(savings) == 1:
                    baselines[usage] = float(np.sum(home_w[ok] * base_kg[ok]) / home_w[ok].sum())
            per_usage[usage] = np.asarray(savings)
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
            cols["label_fr"].append(scenario.label_fr)
            cols["label_en"].append(scenario.label_en)
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
                f"Too few answers to model {', '.join(few)} for the margins of manoeuvre (fewer "
                f"than {min_answers} located answers, or fewer than two levels with "
                f"{min_answers} answers each): their savings are NaN.",
                message_fr=f"Trop peu de réponses pour modéliser {', '.join(few)} dans les "
                f"marges de manœuvre (moins de {min_answers} réponses localisées, ou moins de "
                f"deux niveaux de {min_answers} réponses chacun) : leurs gains sont NaN.",
            ),
            stacklevel=3,
        )
    if unstable:
        warnings.warn(
            QetGeoWarning(
                f"The bootstrap intervals of the margins of {', '.join(sorted(unstable))} are "
                "withheld (NaN): too many resamples lacked one of its main levels; the estimates "
                "rest on few answers.",
                message_fr=f"Les intervalles bootstrap des marges de {', '.join(sorted(unstable))} "
                "sont retenus (NaN) : trop de rééchantillons n'avaient pas l'un de ses niveaux "
                "principaux ; les estimations reposent sur peu de réponses.",
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
    return _UsageMargin(design=design, kg=kg, base=base, home_ok=home_ok, models=models)


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


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return np.nan, np.nan
    low, high = _percentiles(samples, confidence)
    return float(low), float(high)


# --------------------------------------------------------------------------------------------------
# reading located answers


def read_located_answers(
    path: str | PathLike[str],
    layers: NeighbourhoodLayers,
) -> pd.DataFrame:
    """Read SU answers and locate each home on the neighbourhood's buildings and 200 m cells.

    Parameters
    ----------
    path
        One of:

        - a GeoPackage or (Geo)Parquet table with one row per respondent, the usage columns
          (levels 1 to 3, :data:`~qet_geo.surveys.schema.USAGES`), an optional
          ``respondent_id``, and a location: ``building_key`` (an OSM building key such as
          "w123"), a point geometry, ``lon``/``lat``, or ``cell_id``, such as
          ``qet survey synthesize`` writes;
        - an SU answer file read by :func:`qet_geo.surveys.io.read_su` (CSV, TSV, XLSX: labels
          or codes) with location columns (``lon``/``lat``, ``x``/``y``, ``cell_id``, an address)
          and optionally ``building_key``.
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`): its buildings and addresses
        locate the homes (offline).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``respondent_id``: the usage levels (``Int8``), ``age_band``, ``gender``,
        ``csp`` when given, ``building_key`` and ``cell_id`` (``<NA>`` when unknown). Raw
        coordinates and addresses are dropped here (:func:`qet_geo.privacy.coarsen_locations`).
        ``attrs["synthetic"]`` is True when every respondent is labelled synthetic.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    ValidationError
        No usage column, levels other than 1, 2, 3, or no location column.

    Warns
    -----
    QetGeoWarning
        Rows of the survey file were rejected, or respondents could not be located.
    """
    file = Path(path)
    existing_file(file, what="Answer file", what_fr="Fichier de réponses", file_only=True)
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".gpkg", ".geoparquet"):
        answers, locations = _read_table(file)
    else:
        answers, locations = _read_survey(file)
    return _locate_answers(answers, locations, layers)


def _read_table(file: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    import geopandas as gpd

    try:
        if file.suffix.lower() == ".gpkg":
            frame: pd.DataFrame = gpd.read_file(file)
        else:
            try:
                frame = gpd.read_parquet(file)
            except (ValueError, KeyError, TypeError):
                frame = pd.read_parquet(file)
    except Exception as err:
        raise InputFileError(
            f"{file} is not a readable GeoPackage or Parquet table: {err}.",
            message_fr=f"{file} n'est pas une table GeoPackage ou Parquet lisible : {err}.",
            path=file,
        ) from err
    if "respondent_id" in frame.columns:
        frame = frame.set_index("respondent_id")
    elif frame.index.name != "respondent_id":
        frame.index = pd.Index([f"R{i + 1:06d}" for i in range(len(frame))], name="respondent_id")
    frame.index = frame.index.astype(str)
    present = [u for u in USAGES if u in frame.columns]
    if not present:
        raise ValidationError(
            f"{file} has no usage column ({', '.join(USAGES)}).",
            message_fr=f"{file} n'a aucune colonne d'usage ({', '.join(USAGES)}).",
        )
    answers = pd.DataFrame(index=frame.index)
    for usage in USAGES:
        if usage not in frame.columns:
            answers[usage] = pd.array([pd.NA] * len(frame), dtype="Int8")
            continue
        levels = pd.to_numeric(frame[usage], errors="coerce")
        bad = frame[usage].notna() & ~levels.isin([1, 2, 3])
        if bad.any():
            raise ValidationError(
                f"{file}: column {usage} must hold levels 1, 2 or 3 (e.g. '{frame[usage][bad].iloc[0]}'); "
                "read labelled answers from a CSV survey file instead.",
                message_fr=f"{file} : la colonne {usage} doit contenir les niveaux 1, 2 ou 3 "
                f"(par exemple « {frame[usage][bad].iloc[0]} ») ; lisez plutôt les réponses en "
                "libellés depuis un fichier d'enquête CSV.",
            )
        answers[usage] = levels.astype("Int8")
    for col in ("age_band", "gender", "csp", "synthetic"):
        if col in frame.columns:
            answers[col] = frame[col].to_numpy()
    locations = pd.DataFrame(index=frame.index)
    for col in ("building_key", "cell_id", "lon", "lat", "x", "y", "iris_code"):
        if col in frame.columns:
            locations[col] = frame[col].astype("string").to_numpy()
    if (
        isinstance(frame, gpd.GeoDataFrame)
        and frame.crs is not None
        and "lon" not in locations.columns
    ):
        points = frame.geometry.to_crs(WORK_CRS)
        valid = points.notna() & ~points.is_empty
        xs = np.full(len(points), np.nan)
        ys = np.full(len(points), np.nan)
        xs[valid.to_numpy()] = points[valid].x.to_numpy()
        ys[valid.to_numpy()] = points[valid].y.to_numpy()
        locations["x"] = pd.array(xs, dtype="Float64").astype("string")
        locations["y"] = pd.array(ys, dtype="Float64").astype("string")
    return answers, locations


def _read_survey(file: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from qet_geo.surveys.io import read_su

    with warnings.catch_warnings():
        # building_key (and the synthetic flag) are read below, not ignored
        warnings.filterwarnings(
            "ignore",
            message=r".*columns \[('building_key'|'synthetic')(, '(building_key|synthetic)')?\] "
            r"were not recognised.*",
            category=QetGeoWarning,
        )
        read = read_su(file)
    answers = read.answers.copy()
    locations = read.locations.copy()
    locations.index = answers.index
    id_header = next((h for h, key in read.columns.items() if key == "respondent_id"), None)
    if read.sep is not None and id_header is not None and "building_key" in read.ignored_columns:
        raw = pd.read_csv(
            file,
            sep=read.sep,
            dtype="string",
            encoding=read.encoding or "utf-8",
            usecols=[id_header, "building_key"],
        )
        keys = raw.drop_duplicates(id_header).set_index(id_header)["building_key"]
        locations["building_key"] = keys.reindex(answers.index.astype(str)).to_numpy()
    return answers, locations


def _locate_answers(
    answers: pd.DataFrame, locations: pd.DataFrame, layers: NeighbourhoodLayers
) -> pd.DataFrame:
    from qet_geo.privacy import coarsen_locations
    from qet_geo.surveys.geocode import locate_homes
    from qet_geo.surveys.schema import LOCATION_COLUMNS

    buildings = layers.layers.get("buildings")
    keys = pd.Series(pd.NA, index=answers.index, dtype="string")
    if "building_key" in locations.columns:
        keys = locations["building_key"].astype("string").str.strip()
        keys = keys.where(keys.str.len() > 0)
    cells = pd.Series(pd.NA, index=answers.index, dtype="string")
    rest = locations[[c for c in LOCATION_COLUMNS if c in locations.columns]]
    if "building_key" not in locations.columns and rest.columns.empty:
        raise ValidationError(
            "The answers have no location column (building_key, lon/lat, x/y, cell_id, address): "
            "their homes cannot be tied to the built constraints.",
            message_fr="Les réponses n'ont aucune colonne de localisation (building_key, lon/lat, "
            "x/y, cell_id, adresse) : leurs logements ne peuvent pas être reliés aux contraintes "
            "bâties.",
        )
    todo = keys.isna().to_numpy(dtype=bool)
    if todo.any() and not rest.columns.empty:
        has_address = any(c in rest.columns for c in ("address", "street"))
        located = locate_homes(
            rest.loc[todo],
            addresses=layers.layers.get("addresses") if has_address else None,
            buildings=buildings,
        )
        coarse = coarsen_locations(located)
        keys.loc[coarse.index] = coarse["building_key"].astype("string")
        cells.loc[coarse.index] = coarse["cell_id"].astype("string")
    if "cell_id" in locations.columns:
        given = locations["cell_id"].astype("string")
        cells = cells.fillna(given)
    if buildings is not None and keys.notna().any():
        from qet_geo.inputs.census import point_to_cell_id

        known = keys.notna() & keys.isin(buildings.index.astype(str)) & cells.isna()
        if known.any():
            points = buildings.loc[keys[known].to_numpy(dtype=str)].geometry.representative_point()
            points.index = keys[known].index
            cells.loc[known] = point_to_cell_id(points).astype("string").to_numpy()
    out = answers.copy()
    out["building_key"] = keys.to_numpy()
    out["cell_id"] = cells.to_numpy()
    out["building_key"] = out["building_key"].astype("string")
    out["cell_id"] = out["cell_id"].astype("string")
    synthetic = False
    if "synthetic" in out.columns:
        synthetic = bool(pd.Series(out["synthetic"]).astype("boolean").fillna(False).all())
        out = out.drop(columns=["synthetic"])
    elif len(out):
        synthetic = bool(pd.Index(out.index.astype(str)).str.startswith("SYN-").all())
    out.attrs["synthetic"] = synthetic and len(out) > 0
    return out


# --------------------------------------------------------------------------------------------------
# the report


def link_report(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    profiles: pd.Series | UsageProfiles | None = None,
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    scale: Literal["near", "ngc"] | Mapping[str, Mapping[int, float]] = "near",
    constraints: Mapping[str, Sequence[str]] = USAGE_CONSTRAINTS,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    population: float | None = None,
    n_bootstrap: int = 200,
    random_state: int = 0,
    lang: Lang = "fr",
) -> dict[str, Any]:
    """Run the three analyses and return their protected aggregates, ready for JSON.

    Parameters
    ----------
    answers, access
        Located SU answers and indicators per home (see :func:`join_constraints`).
    profiles
        Usage profiles (a fitted :class:`qet_geo.analysis.profiles.UsageProfiles` or labels); None
        leaves the profile section out.
    scenarios, scale, constraints, weights, cell_access, population, n_bootstrap, random_state
        As for :func:`constraint_models` and :func:`margins_of_manoeuvre`.
    lang
        "fr" (default) or "en": the language of labels and descriptions.

    Returns
    -------
    dict
        ``{"synthetic", "n_answers", "n_located", "scale", "profiles", "neighbourhood",
        "models", "margins", "notes"}``: ``profiles`` the groups of
        :func:`profile_constraints` (with the suppressed and merged profiles named),
        ``neighbourhood`` the same indicators over every home (OSM-derived, no respondent
        data), ``models`` one entry per usage (scores and effects), ``margins`` one entry per
        scenario (total and per usage). Counts of fewer than 11 are given as None. Every table
        passed :func:`qet_geo.privacy.require_protected`.
    """
    if lang not in ("fr", "en"):
        raise ValidationError(
            f"lang must be 'fr' or 'en', got {lang!r}.",
            message_fr=f"lang doit valoir 'fr' ou 'en', reçu {lang!r}.",
        )
    _check_answers(answers)
    columns = _indicator_columns(access, what="access")
    joined = join_constraints(answers, access, cell_access=cell_access)
    n_located = int(joined["located_by"].notna().sum())
    report: dict[str, Any] = {
        "synthetic": bool(answers.attrs.get("synthetic", False))
        or bool(len(answers) and pd.Index(answers.index.astype(str)).str.startswith("SYN-").all()),
        "n_answers": _count(len(answers)),
        "n_located": _count(n_located),
        "scale": scale if isinstance(scale, str) else "custom",
        "notes": [],
    }
    with warnings.catch_warnings():
        # join_constraints above already reported the answers left out
        warnings.filterwarnings("ignore", message=r".*have no home indicators.*")
        warnings.filterwarnings("ignore", message=r".*n'ont pas d'indicateurs de logement.*")
        if profiles is not None:
            table = profile_constraints(
                answers, access, profiles, weights=weights, cell_access=cell_access
            )
            require_protected(table, what="the profile constraint table")
            report["profiles"] = _profiles_json(table, profiles, lang)
        models = constraint_models(
            answers,
            access,
            constraints=constraints,
            weights=weights,
            cell_access=cell_access,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
        margins = margins_of_manoeuvre(
            answers,
            access,
            scenarios=scenarios,
            scale=scale,
            constraints=constraints,
            weights=weights,
            cell_access=cell_access,
            population=population,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
    require_protected(models.effects, what="the constraint effects table")
    require_protected(models.scores, what="the model scores table")
    require_protected(margins, what="the margins of manoeuvre table")
    indicators = [c for c in PROFILE_INDICATORS if c in columns]
    report["neighbourhood"] = _homes_json(access, indicators)
    report["models"] = _models_json(models, lang, n_located=n_located)
    report["margins"] = _margins_json(margins, lang)
    if report["synthetic"]:
        report["notes"].append(
            "Réponses synthétiques (étiquetées SYN-) : démonstration, pas un résultat d'enquête."
            if lang == "fr"
            else "Synthetic answers (labelled SYN-): a demonstration, not a survey result."
        )
    report["notes"].append(
        "Associations, pas des effets causaux : les marges supposent que les habitants se "
        "comporteraient comme les répondants qui vivent déjà sans la contrainte."
        if lang == "fr"
        else "Associations, not causal effects: margins assume residents would behave like the "
        "respondents who already live without the constraint."
    )
    return report


def _count(n: int) -> int | None:
    return int(n) if n >= MIN_RESPONDENTS else None


def _count_or_zero(value: Any) -> int:
    number = _num(value)
    return 0 if number is None else int(number)


def _num(value: Any, digits: int = 4) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return round(f, digits)


def _profiles_json(
    table: pd.DataFrame, profiles: pd.Series | UsageProfiles, lang: Lang
) -> dict[str, Any]:
    descriptions: dict[str, str] = {}
    if not isinstance(profiles, pd.Series) and hasattr(profiles, "describe"):
        described = profiles.describe(lang=lang)
        descriptions = {str(p): str(d) for p, d in described["description"].items()}
    indicators = list(table.attrs.get("indicators", []))
    suppressed = list(table.attrs.get("suppressed_profiles", []))
    groups = []
    for zone, row in table.iterrows():
        members = [p for p in str(row["profiles"]).split("+") if p]
        size = int(row["n_respondents"])
        groups.append(
            {
                "group": str(zone),
                "profiles": members,
                "merged": bool(row["merged"]),
                # with a profile suppressed, the sizes would give its size by difference
                "n": None if suppressed else _count(size),
                "descriptions": [descriptions[p] for p in members if p in descriptions],
                "indicators": {
                    ind: {
                        "n": _indicator_count(int(row[f"{ind}_n"]), size, hide=bool(suppressed)),
                        "mean": _num(row[f"{ind}_mean"]),
                        "q25": _num(row[f"{ind}_q25"]),
                        "median": _num(row[f"{ind}_median"]),
                        "q75": _num(row[f"{ind}_q75"]),
                    }
                    for ind in indicators
                },
            }
        )
    return {
        "groups": groups,
        "suppressed_profiles": list(table.attrs.get("suppressed_profiles", [])),
        "merged_profiles": list(table.attrs.get("merged_profiles", [])),
    }


def _indicator_count(n: int, size: int, *, hide: bool) -> int | None:
    """Members with a value: withheld when it would tell how many (1 to 10) have none."""
    if n == 0:
        return 0
    if hide or 0 < size - n < MIN_RESPONDENTS:
        return None
    return _count(n)


def _homes_json(access: pd.DataFrame, indicators: list[str]) -> dict[str, Any]:
    weight = (
        access["weight"].to_numpy(dtype=float)
        if "weight" in access.columns
        else np.ones(len(access))
    )
    weight = np.where(np.isfinite(weight) & (weight > 0), weight, 0.0)
    out: dict[str, Any] = {"homes": len(access), "indicators": {}}
    for ind in indicators:
        unit = indicator_unit(ind)
        v = access[ind].to_numpy(dtype=float)
        ok = np.isfinite(v) & (weight > 0)
        if not ok.any():
            out["indicators"][ind] = {
                "homes": 0,
                "mean": None,
                "q25": None,
                "median": None,
                "q75": None,
            }
            continue
        q = _weighted_quantiles(v[ok], weight[ok], (0.25, 0.5, 0.75))
        out["indicators"][ind] = {
            "homes": int(ok.sum()),
            "mean": _num(_round_to(float(np.average(v[ok], weights=weight[ok])), unit.precision)),
            "q25": _num(_round_to(float(q[0]), unit.precision)),
            "median": _num(_round_to(float(q[1]), unit.precision)),
            "q75": _num(_round_to(float(q[2]), unit.precision)),
        }
    return out


def _models_json(models: ConstraintModels, lang: Lang, *, n_located: int) -> list[dict[str, Any]]:
    from qet_geo.surveys.schema import LEVEL_LABELS, USAGE_LABELS

    out = []
    effects = models.effects
    for usage, row in models.scores.iterrows():
        usage = str(usage)
        level = int(row["outcome_level"])
        rows = (
            effects.xs(usage, level="usage") if usage in effects.index.get_level_values(0) else None
        )
        entry: dict[str, Any] = {
            "usage": usage,
            "label": USAGE_LABELS[lang][usage],
            "outcome": (
                f"niveau {level} ou plus : {LEVEL_LABELS[usage][level][lang]}"
                if lang == "fr"
                else f"level {level} or above: {LEVEL_LABELS[usage][level][lang]}"
            ),
            "status": str(row["status"]),
            # withheld when it would tell, by difference, how many (1 to 10) lack the usage
            "n": None
            if row["n_respondents"] is pd.NA
            else _indicator_count(int(row["n_respondents"]), n_located, hide=False),
            "cv": {
                "n_splits": int(row["n_splits"]),
                "auc": _num(row["cv_auc"]),
                "auc_sd": _num(row["cv_auc_sd"]),
                "log_loss": _num(row["cv_log_loss"]),
                "baseline_auc": _num(row["baseline_auc"]),
                "baseline_log_loss": _num(row["baseline_log_loss"]),
                "log_loss_gain": _num(row["log_loss_gain"], 5),
            },
            "n_bootstrap": _count_or_zero(row["n_bootstrap"]),
            "effects": [],
        }
        if rows is not None:
            for indicator, eff in rows.iterrows():
                entry["effects"].append(
                    {
                        "indicator": str(indicator),
                        "status": str(eff["status"]),
                        "unit": eff["unit_fr"] if lang == "fr" else eff["unit_en"],
                        "odds_ratio": _num(eff["odds_ratio"]),
                        "odds_ratio_low": _num(eff["odds_ratio_low"]),
                        "odds_ratio_high": _num(eff["odds_ratio_high"]),
                        "odds_ratio_per_sd": _num(eff["odds_ratio_per_sd"]),
                        "odds_ratio_per_sd_low": _num(eff["odds_ratio_per_sd_low"]),
                        "odds_ratio_per_sd_high": _num(eff["odds_ratio_per_sd_high"]),
                        "sd": _num(eff["sd"]),
                    }
                )
        out.append(entry)
    return out


def _margins_json(margins: pd.DataFrame, lang: Lang) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pair, row in margins.iterrows():
        scenario, usage = pair if isinstance(pair, tuple) else (pair, "all")
        key = str(scenario)
        item = out.setdefault(
            key,
            {
                "scenario": key,
                "label": row["label_fr"] if lang == "fr" else row["label_en"],
                "share_homes_changed": _num(row["share_homes_changed"]),
                "ignored_indicators": [i for i in str(row["ignored"]).split(";") if i],
                "population": _num(row["population"], 1),
                "usages": [],
            },
        )
        figures = {
            "status": str(row["status"]),
            "baseline_kgco2e_per_person": _num(row["baseline_kgco2e_per_person"], 1),
            "saving_kgco2e_per_person": _num(row["saving_kgco2e_per_person"], 2),
            "saving_kgco2e_per_person_low": _num(row["saving_kgco2e_per_person_low"], 2),
            "saving_kgco2e_per_person_high": _num(row["saving_kgco2e_per_person_high"], 2),
            "saving_tco2e": _num(row["saving_tco2e"], 3),
            "saving_tco2e_low": _num(row["saving_tco2e_low"], 3),
            "saving_tco2e_high": _num(row["saving_tco2e_high"], 3),
        }
        if usage == "all":
            item.update(figures)
        else:
            item["usages"].append({"usage": str(usage), **figures})
    return list(out.values())
