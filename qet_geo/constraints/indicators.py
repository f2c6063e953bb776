"""The indicator registry: every per-home indicator, described once.

An indicator is a column of the per-home access table
(:func:`qet_geo.constraints.access.neighbourhood_access`) or of the building table
(:func:`qet_geo.analysis.links.building_indicators`). Everything the library knows about one lives
here, in one :class:`Indicator`: its column name, its labels and plain-language sentence in French
and English, how its effect is reported and its figures rounded (:class:`IndicatorUnit`), its map
classes and colour direction, the usages it bears on (the method's constraint table,
``docs/method.md``, "Built constraints") and whether zones summarise it.

Column names and labels that mention a radius or a time are derived from the constants below, so
changing :data:`CYCLE_RADIUS_M` renames ``cycle_km_500m`` and rewrites its labels at once. Code
never writes an indicator's name as a literal: it reads a name constant (:data:`CYCLE_KM`,
:data:`SCORE`...) or builds a per-category one (:func:`nearest_m`, :func:`nearest_min`,
:func:`reachable`).

The API:

- :data:`INDICATORS`: name → :class:`Indicator`, in the method's order (daily mobility, food,
  purchases, plane, everyday life, heating), then the other per-category indicators in taxonomy
  order;
- :func:`get_indicator`: one entry, with an error naming the known ones;
- :func:`indicator_unit`: how an effect is reported, for any column (by name, else by suffix);
- :data:`USAGE_CONSTRAINTS` (usage → indicators), :data:`PROFILE_INDICATORS`,
  :data:`ZONE_INDICATORS`, :data:`ACCESS_INDICATORS`: the views the analysis, the zones and the
  access table read;
- :data:`INDICATOR_UNITS`: units by name and by suffix, as :func:`indicator_unit` reads them.

Examples
--------
>>> from qet_geo.constraints.indicators import CYCLE_KM, get_indicator, nearest_min
>>> CYCLE_KM
'cycle_km_500m'
>>> get_indicator(nearest_min("food_shop")).unit.label_en
'per 5 min'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from qet_geo.errors import ValidationError
from qet_geo.i18n import Lang
from qet_geo.taxonomy import CATEGORIES, CATEGORY_LABELS, ESSENTIAL_CATEGORIES

__all__ = [
    "ACCESS_INDICATORS",
    "CYCLE_KM",
    "CYCLE_RADIUS_M",
    "DEPARTURES",
    "INDICATORS",
    "INDICATOR_UNITS",
    "INTERSECTIONS",
    "INTERSECTION_RADIUS_M",
    "NOT_INDICATORS",
    "PROFILE_INDICATORS",
    "SCORE",
    "SCORE_MIN",
    "SLOPE",
    "SLOPE_RADIUS_M",
    "THRESHOLDS_MIN",
    "TRANSIT_RADIUS_M",
    "TRANSIT_STOPS",
    "USAGE_CONSTRAINTS",
    "ZONE_INDICATORS",
    "Indicator",
    "IndicatorUnit",
    "get_indicator",
    "indicator_unit",
    "nearest_m",
    "nearest_min",
    "reachable",
]

# --------------------------------------------------------------------------------------------------
# the constants names and labels are derived from

#: Travel times at which reachable amenities are counted (min).
THRESHOLDS_MIN: tuple[int, ...] = (5, 10, 15)
#: The "15-minute city": the time within which the essential categories are counted by the score
#: (one of :data:`THRESHOLDS_MIN`).
SCORE_MIN = 15
#: Network distance within which transit stops count as "near" (m), the usual walking catchment.
TRANSIT_RADIUS_M = 400.0
#: Radius of the cycle network length (m).
CYCLE_RADIUS_M = 500.0
#: Radius of the street neighbourhood whose slope is averaged (m).
SLOPE_RADIUS_M = 300.0
#: Radius of the intersection density (m).
INTERSECTION_RADIUS_M = 500.0

if SCORE_MIN not in THRESHOLDS_MIN:  # pragma: no cover - a contradiction in this file
    raise ValueError(f"SCORE_MIN={SCORE_MIN} must be one of THRESHOLDS_MIN={THRESHOLDS_MIN}")


def _n(value: float) -> str:
    """Write a radius or a time as in names and labels: 400.0 -> "400", 2.5 -> "2.5"."""
    return f"{value:g}"


# --------------------------------------------------------------------------------------------------
# names

#: Transit stops within :data:`TRANSIT_RADIUS_M` of network distance (count).
TRANSIT_STOPS = f"transit_stops_{_n(TRANSIT_RADIUS_M)}m"
#: Departures per hour in the weekday morning peak at the best stop within the transit radius.
DEPARTURES = f"departures_per_hour_{_n(TRANSIT_RADIUS_M)}m"
#: Length of cycle tracks and lanes within :data:`CYCLE_RADIUS_M` (straight line), km.
CYCLE_KM = f"cycle_km_{_n(CYCLE_RADIUS_M)}m"
#: Mean absolute slope of the streets within :data:`SLOPE_RADIUS_M`, length-weighted, %.
SLOPE = "slope_pct"
#: Street intersections (3 or more street ends) per km² within :data:`INTERSECTION_RADIUS_M`.
INTERSECTIONS = "intersections_km2"
#: Share of the essential categories reachable within :data:`SCORE_MIN` minutes.
SCORE = f"score_{SCORE_MIN}min"

#: Columns of the access table that are not indicators: the home's weight, its distance to the
#: network and whether it is off the network, its kind (building or cell).
NOT_INDICATORS = frozenset({"weight", "snap_m", "off_network", "kind"})


def nearest_m(category: str) -> str:
    """Return the column of the network distance (m) to the nearest amenity of ``category``."""
    return f"{category}_m"


def nearest_min(category: str) -> str:
    """Return the column of the travel time (min) to the nearest amenity of ``category``."""
    return f"{category}_min"


def reachable(category: str, minutes: float) -> str:
    """Return the column counting the amenities of ``category`` reachable within ``minutes``."""
    return f"{category}_n{minutes:g}"


# --------------------------------------------------------------------------------------------------
# the entries


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


@dataclass(frozen=True)
class Indicator:
    """Everything known about one indicator.

    Attributes
    ----------
    name
        Its column name.
    label_fr, label_en
        What the value is, with its unit, as a legend title or a table header ("minutes jusqu'au
        commerce alimentaire le plus proche").
    sentence_fr, sentence_en
        What it measures, in one plain-language sentence for residents.
    unit
        How its effect is reported and its figures rounded.
    symbol
        Short unit after a value on a map ("min", "%", "/h"); may be empty.
    breaks
        Map class edges in the column's own unit (class i is ``breaks[i] <= v < breaks[i + 1]``);
        None: classed by quantiles of the values.
    direction
        "worse" when a higher value is a stronger constraint, "better" when it is a better access
        (the map's colour ramp).
    scale
        Factor from the column's unit to the displayed one (100 for a share shown in %).
    decimals
        Decimals shown on a map.
    integer
        A count: map class labels "2-3" instead of "2-4".
    usages
        The SU usages it bears on (the method's constraint table); empty for none.
    profile
        Described by default when profiles meet constraints.
    zone
        Summarised per zone (INSEE cell) for the national database.
    category
        The amenity category of a per-category indicator (``food_shop`` for ``food_shop_min``).
    source
        "home": a column of the per-home access table; "building": of the building table.
    """

    name: str
    label_fr: str
    label_en: str
    sentence_fr: str
    sentence_en: str
    unit: IndicatorUnit
    symbol: str = ""
    breaks: tuple[float, ...] | None = None
    direction: Literal["worse", "better"] = "worse"
    scale: float = 1.0
    decimals: int = 1
    integer: bool = False
    usages: tuple[str, ...] = ()
    profile: bool = False
    zone: bool = False
    category: str | None = None
    source: Literal["home", "building"] = "home"

    def label(self, lang: Lang) -> str:
        """Return the label in ``lang`` ("fr" or "en")."""
        return self.label_fr if lang == "fr" else self.label_en

    def sentence(self, lang: Lang) -> str:
        """Return the plain-language sentence in ``lang`` ("fr" or "en")."""
        return self.sentence_fr if lang == "fr" else self.sentence_en


# "minutes jusqu'" + these: the article and agreement of each category's nearest one.
_NEAREST_FR = {
    "food_shop": "au commerce alimentaire le plus proche",
    "market": "au marché le plus proche",
    "school": "à l'école la plus proche",
    "health": "au lieu de santé le plus proche",
    "transit_stop": "à l'arrêt de transport en commun le plus proche",
    "rail_station": "à la gare la plus proche",
    "park": "au parc, jardin ou aire de jeux le plus proche",
    "sport_culture": "au lieu de sport ou de culture le plus proche",
    "public_service": "au service public le plus proche",
    "second_hand_repair": "à la boutique de seconde main ou de réparation la plus proche",
    "local_shop": "au commerce de proximité le plus proche",
    "cycle_parking": "au stationnement vélo le plus proche",
}
_PLURAL_FR = {
    "food_shop": "commerces alimentaires",
    "market": "marchés",
    "school": "écoles",
    "health": "lieux de santé",
    "transit_stop": "arrêts de transport en commun",
    "rail_station": "gares",
    "park": "parcs, jardins et aires de jeux",
    "sport_culture": "lieux de sport et de culture",
    "public_service": "services publics",
    "second_hand_repair": "boutiques de seconde main et de réparation",
    "local_shop": "commerces de proximité",
    "cycle_parking": "stationnements vélo",
}

_PER_100_M = IndicatorUnit(100.0, "per 100 m", "par 100 m", 10.0)
_PER_5_MIN = IndicatorUnit(5.0, "per 5 min", "par 5 min", 0.5)
_PER_AMENITY = IndicatorUnit(1.0, "per amenity", "par équipement", 0.5)
_GENERIC_UNIT = IndicatorUnit(1.0, "per unit", "par unité", 0.01)
_INF = math.inf


def _name_en(category: str) -> str:
    return CATEGORY_LABELS["en"][category].lower()


def _distance(category: str, *, usages: tuple[str, ...] = (), profile: bool = False) -> Indicator:
    nearest_fr, name = _NEAREST_FR[category], _name_en(category)
    return Indicator(
        nearest_m(category),
        f"mètres jusqu'{nearest_fr}",
        f"metres to the nearest {name}",
        f"Distance à parcourir par les rues jusqu'{nearest_fr}.",
        f"How far the nearest {name} is along the streets.",
        _PER_100_M,
        "m",
        (0, 250, 500, 750, 1000, 1500, _INF),
        "worse",
        decimals=0,
        usages=usages,
        profile=profile,
        category=category,
    )


def _time(category: str, *, usages: tuple[str, ...] = (), profile: bool = False) -> Indicator:
    nearest_fr, name = _NEAREST_FR[category], _name_en(category)
    return Indicator(
        nearest_min(category),
        f"minutes jusqu'{nearest_fr}",
        f"minutes to the nearest {name}",
        f"Temps qu'il faut pour aller jusqu'{nearest_fr}, par les rues.",
        f"How long it takes to reach the nearest {name} along the streets.",
        _PER_5_MIN,
        "min",
        (0, 5, 10, 15, 20, 30, _INF),
        "worse",
        usages=usages,
        profile=profile,
        zone=category in ESSENTIAL_CATEGORIES,
        category=category,
    )


def _count(category: str, minutes: int) -> Indicator:
    plural_fr, name = _PLURAL_FR[category], _name_en(category)
    return Indicator(
        reachable(category, minutes),
        f"{plural_fr} accessibles en {minutes} minutes (nombre)",
        f"{name} reachable within {minutes} minutes (count)",
        f"Nombre de {plural_fr} que l'on atteint en {minutes} minutes par les rues.",
        f"How many places of the kind {name} can be reached within {minutes} minutes along "
        "the streets.",
        _PER_AMENITY,
        "",
        (0, 1, 2, 3, 5, 10, _INF),
        "better",
        decimals=0,
        integer=True,
        category=category,
    )


_MOBILITY = "transportation_mode"
_FOOD = "meat_frequency"
_PURCHASES = "purchasing_strategy"
_PLANE = "air_travel_frequency"
_HEATING = "heat_source"
_CITY_FR = "ville du quart d'heure" if SCORE_MIN == 15 else f"ville des {SCORE_MIN} minutes"

_METHOD: tuple[Indicator, ...] = (
    # daily mobility
    _distance("transit_stop", usages=(_MOBILITY,), profile=True),
    Indicator(
        TRANSIT_STOPS,
        f"arrêts de transport en commun à moins de {_n(TRANSIT_RADIUS_M)} m (nombre)",
        f"transit stops within {_n(TRANSIT_RADIUS_M)} m (count)",
        f"Nombre d'arrêts de transport en commun à moins de {_n(TRANSIT_RADIUS_M)} m par les rues.",
        f"How many transit stops are within {_n(TRANSIT_RADIUS_M)} m along the streets.",
        IndicatorUnit(
            1.0,
            f"per stop within {_n(TRANSIT_RADIUS_M)} m",
            f"par arrêt à {_n(TRANSIT_RADIUS_M)} m",
            0.5,
        ),
        "",
        (0, 1, 2, 4, 8, _INF),
        "better",
        decimals=0,
        integer=True,
        zone=True,
    ),
    Indicator(
        DEPARTURES,
        f"départs par heure à l'arrêt le mieux desservi à moins de {_n(TRANSIT_RADIUS_M)} m "
        "(pointe du matin)",
        f"departures per hour at the best stop within {_n(TRANSIT_RADIUS_M)} m (morning peak)",
        f"Nombre de départs par heure, en semaine à la pointe du matin, à l'arrêt le mieux "
        f"desservi à moins de {_n(TRANSIT_RADIUS_M)} m.",
        f"How many departures an hour, on weekday mornings, the best-served stop within "
        f"{_n(TRANSIT_RADIUS_M)} m offers.",
        IndicatorUnit(5.0, "per 5 departures an hour", "par 5 départs par heure", 1.0),
        "/h",
        (0, 2, 4, 8, 12, 20, _INF),
        "better",
        decimals=0,
        usages=(_MOBILITY,),
        profile=True,
        zone=True,
    ),
    Indicator(
        CYCLE_KM,
        f"km d'aménagements cyclables à moins de {_n(CYCLE_RADIUS_M)} m",
        f"km of cycle tracks and lanes within {_n(CYCLE_RADIUS_M)} m",
        f"Longueur des pistes et bandes cyclables à moins de {_n(CYCLE_RADIUS_M)} m à vol "
        "d'oiseau.",
        f"How many kilometres of cycle tracks and lanes lie within {_n(CYCLE_RADIUS_M)} m as "
        "the crow flies.",
        IndicatorUnit(
            1.0,
            f"per km of cycle lanes within {_n(CYCLE_RADIUS_M)} m",
            f"par km d'aménagements cyclables à {_n(CYCLE_RADIUS_M)} m",
            0.1,
        ),
        "km",
        (0, 0.5, 1, 2, 4, _INF),
        "better",
        decimals=1,
        usages=(_MOBILITY,),
        profile=True,
        zone=True,
    ),
    Indicator(
        SLOPE,
        f"pente moyenne des rues à moins de {_n(SLOPE_RADIUS_M)} m (%)",
        f"mean slope of the streets within {_n(SLOPE_RADIUS_M)} m (%)",
        f"Pente moyenne des rues à moins de {_n(SLOPE_RADIUS_M)} m : plus elle est forte, plus "
        "marcher et pédaler coûte d'effort.",
        f"How steep the streets within {_n(SLOPE_RADIUS_M)} m are on average: the steeper, the "
        "harder walking and cycling.",
        IndicatorUnit(1.0, "per point of slope (%)", "par point de pente (%)", 0.1),
        "%",
        (0, 2, 4, 6, 8, _INF),
        "worse",
        decimals=1,
        usages=(_MOBILITY,),
        profile=True,
        zone=True,
    ),
    Indicator(
        INTERSECTIONS,
        f"carrefours par km² à moins de {_n(INTERSECTION_RADIUS_M)} m",
        f"street intersections per km² within {_n(INTERSECTION_RADIUS_M)} m",
        f"Nombre de carrefours par km² à moins de {_n(INTERSECTION_RADIUS_M)} m : plus il y en "
        "a, plus les trajets à pied sont directs.",
        f"How many street intersections there are per km² within {_n(INTERSECTION_RADIUS_M)} m: "
        "the more, the more direct the walks.",
        IndicatorUnit(50.0, "per 50 intersections per km²", "par 50 carrefours au km²", 5.0),
        "/km²",
        (0, 50, 100, 150, 200, _INF),
        "better",
        decimals=0,
        usages=(_MOBILITY,),
        profile=True,
        zone=True,
    ),
    # daily mobility and food; then the essential times the zones summarise, in taxonomy order
    _time("food_shop", usages=(_MOBILITY, _FOOD), profile=True),
    *(
        _time(c)
        for c in ESSENTIAL_CATEGORIES
        if c not in ("food_shop", "market", "second_hand_repair", "local_shop", "rail_station")
    ),
    # food, purchases, plane
    _time("market", usages=(_FOOD,), profile=True),
    _time("second_hand_repair", usages=(_PURCHASES,), profile=True),
    _time("local_shop", usages=(_PURCHASES,), profile=True),
    _time("rail_station", usages=(_PLANE,), profile=True),
    # everyday life
    Indicator(
        SCORE,
        f"score « {_CITY_FR} » (% des catégories essentielles à {SCORE_MIN} minutes)",
        f"{SCORE_MIN}-minute city score (% of the essential categories within {SCORE_MIN} minutes)",
        f"Part des besoins du quotidien (commerces, école, santé, parc, arrêt, services) que l'on "
        f"atteint en {SCORE_MIN} minutes par les rues.",
        f"The share of everyday needs (shops, school, health, park, stop, services) that can be "
        f"reached within {SCORE_MIN} minutes along the streets.",
        IndicatorUnit(
            0.1,
            f"per 10 points of {SCORE_MIN}-minute score",
            f"par 10 points de score {SCORE_MIN} minutes",
            0.01,
        ),
        "%",
        (0, 0.5, 0.75, 1.0, 1.0),
        "better",
        scale=100,
        decimals=0,
        profile=True,
        zone=True,
    ),
    # heating: the building table
    Indicator(
        "building_year",
        "année de construction du bâtiment",
        "year the building was built",
        "L'année où le bâtiment a été construit : les plus anciens sont souvent moins isolés.",
        "The year the building was built: older ones are often less insulated.",
        IndicatorUnit(10.0, "per decade of construction", "par décennie", 1.0),
        usages=(_HEATING,),
        source="building",
    ),
    Indicator(
        "building_levels",
        "étages du bâtiment (nombre)",
        "storeys of the building (count)",
        "Le nombre d'étages du bâtiment : une maison ou un immeuble.",
        "How many storeys the building has: a house or a block of flats.",
        IndicatorUnit(1.0, "per storey", "par étage", 0.5),
        usages=(_HEATING,),
        source="building",
    ),
    Indicator(
        "footprint_m2",
        "emprise au sol du bâtiment (m²)",
        "building footprint (m²)",
        "La surface au sol du bâtiment.",
        "The ground area the building covers.",
        IndicatorUnit(100.0, "per 100 m² of footprint", "par 100 m² d'emprise", 10.0),
        usages=(_HEATING,),
        source="building",
    ),
)


def _registry() -> dict[str, Indicator]:
    out = {ind.name: ind for ind in _METHOD}
    for category in CATEGORIES:
        for entry in (
            _distance(category),
            _time(category),
            *(_count(category, t) for t in THRESHOLDS_MIN),
        ):
            out.setdefault(entry.name, entry)
    return out


#: Every indicator by name, in the method's order (see the module docstring).
INDICATORS: Mapping[str, Indicator] = MappingProxyType(_registry())

#: The constraints each usage is modelled against: the method's constraint table
#: (``docs/method.md``) as columns of the access and building tables. Digital use has no built
#: constraint and is not modelled.
USAGE_CONSTRAINTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        usage: tuple(ind.name for ind in INDICATORS.values() if usage in ind.usages)
        for usage in dict.fromkeys(u for ind in INDICATORS.values() for u in ind.usages)
    }
)

#: The indicators described by default when profiles meet constraints.
PROFILE_INDICATORS: tuple[str, ...] = tuple(ind.name for ind in INDICATORS.values() if ind.profile)

#: The indicators summarised per zone: the score first (the headline figure), then transit,
#: cycling, slope and street connectivity, and the time to the nearest essential amenity.
ZONE_INDICATORS: tuple[str, ...] = (
    SCORE,
    *(ind.name for ind in INDICATORS.values() if ind.zone and ind.name != SCORE),
)

#: The columns of the per-home access table that are indicators.
ACCESS_INDICATORS: tuple[str, ...] = tuple(
    ind.name for ind in INDICATORS.values() if ind.source == "home"
)

#: Units by indicator name for the named indicators, and by suffix (``_m``, ``_min``, ``_n5``...)
#: for the per-category ones and any other column so named.
INDICATOR_UNITS: Mapping[str, IndicatorUnit] = MappingProxyType(
    {
        "_m": _PER_100_M,
        "_min": _PER_5_MIN,
        **{f"_n{t:g}": _PER_AMENITY for t in THRESHOLDS_MIN},
        **{ind.name: ind.unit for ind in INDICATORS.values() if ind.category is None},
    }
)
_SUFFIXES = ("_min", *(f"_n{t:g}" for t in sorted(THRESHOLDS_MIN, reverse=True)), "_m")


def get_indicator(name: str) -> Indicator:
    """Return the registry entry of ``name``, a column name such as "food_shop_min"."""
    try:
        return INDICATORS[name]
    except KeyError:
        raise ValidationError(
            f"Unknown indicator {name!r}: use one of {', '.join(INDICATORS)}.",
            message_fr=f"Indicateur {name!r} inconnu : utilisez l'un de {', '.join(INDICATORS)}.",
        ) from None


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
    for suffix in _SUFFIXES:
        if indicator.endswith(suffix):
            return INDICATOR_UNITS[suffix]
    return _GENERIC_UNIT
