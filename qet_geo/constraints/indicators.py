"""The indicator registry: every per-home indicator, described once.

An indicator is a column of the per-home access table
(:func:`qet_geo.constraints.access.neighbourhood_access`) or of the building table
(:func:`qet_geo.analysis.links.building_indicators`). Everything the library knows about one lives
here, in one :class:`Indicator`: its column name, its label and plain-language sentence (French
templates, :class:`qet_geo.i18n.Msg`, English in the catalogue), how its effect is reported and
its figures rounded (:class:`IndicatorUnit`), its map classes and colour direction, the usages it
bears on (the method's constraint table, ``docs/method.md``, "Built constraints") and whether
zones summarise it.

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
- :data:`INDICATOR_UNITS`: units by name and by suffix, as :func:`indicator_unit` reads them;
- :data:`FIGURES` and :func:`get_figure`: the other figures shown (footprints, profile shares,
  the exhibition's table columns, the statistics of the links), labelled and explained the same
  way; :func:`effect_sentence` and :func:`fit_in_words` say a link's statistics in words.

Examples
--------
>>> from qet_geo.constraints.indicators import CYCLE_KM, get_indicator, nearest_min
>>> CYCLE_KM
'cycle_km_500m'
>>> get_indicator(nearest_min("food_shop")).unit.label.render("en")
'per 5 min'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from qet_geo.errors import ValidationError
from qet_geo.i18n import Msg, msg, number
from qet_geo.taxonomy import CATEGORIES, ESSENTIAL_CATEGORIES

__all__ = [
    "ACCESS_INDICATORS",
    "CYCLE_KM",
    "CYCLE_RADIUS_M",
    "DEPARTURES",
    "FIGURES",
    "FOOTPRINT_USAGES",
    "INDICATORS",
    "INDICATOR_UNITS",
    "INTERSECTIONS",
    "INTERSECTION_RADIUS_M",
    "NOT_INDICATORS",
    "PROFILE_INDICATORS",
    "REACHES_BORDER",
    "SCORE",
    "SCORE_MIN",
    "SLOPE",
    "SLOPE_RADIUS_M",
    "THRESHOLDS_MIN",
    "TRANSIT_RADIUS_M",
    "TRANSIT_STOPS",
    "USAGE_CONSTRAINTS",
    "ZONE_INDICATORS",
    "Figure",
    "Indicator",
    "IndicatorUnit",
    "effect_sentence",
    "fit_in_words",
    "get_figure",
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
    """Write a radius or a time as in column names: 400.0 -> "400", 2.5 -> "2.5"."""
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
#: Whether the streets reached within :data:`SCORE_MIN` minutes come within
#: :data:`qet_geo.network.isochrone.BORDER_MARGIN_M` of the extract's edge: a flag on the figures
#: (they may be cut off), not a constraint; kept out of the profiles, zones and link models.
REACHES_BORDER = f"reaches_border_{SCORE_MIN}min"

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
    label
        The unit in words ("par 100 m", "per 100 m").
    precision
        Published means and quartiles are rounded to this step (10 m, half a minute).
    more
        One step more, in words, as a resident reads an effect ("100 m de plus", "100 m
        further"); "one unit more" when None. See :func:`effect_sentence`.
    """

    step: float
    label: Msg
    precision: float
    more: Msg | None = None


@dataclass(frozen=True)
class Indicator:
    """Everything known about one indicator.

    Attributes
    ----------
    name
        Its column name.
    label
        What the value is, with its unit, as a legend title or a table header ("minutes jusqu'au
        commerce alimentaire le plus proche").
    sentence
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
    label: Msg
    sentence: Msg
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


# "minutes jusqu'" + these: the article and agreement of each category's nearest one.
_NEAREST: Mapping[str, Msg] = {
    "food_shop": msg("au commerce alimentaire le plus proche"),
    "market": msg("au marché le plus proche"),
    "school": msg("à l'école la plus proche"),
    "health": msg("au lieu de santé le plus proche"),
    "transit_stop": msg("à l'arrêt de transport en commun le plus proche"),
    "rail_station": msg("à la gare la plus proche"),
    "park": msg("au parc, jardin ou aire de jeux le plus proche"),
    "sport_culture": msg("au lieu de sport ou de culture le plus proche"),
    "public_service": msg("au service public le plus proche"),
    "second_hand_repair": msg("à la boutique de seconde main ou de réparation la plus proche"),
    "local_shop": msg("au commerce de proximité le plus proche"),
    "cycle_parking": msg("au stationnement vélo le plus proche"),
}
# "Nombre de " + these; the English names the kind, in the singular ("food shop reachable...").
_PLURAL: Mapping[str, Msg] = {
    # i18n: the kind, in the singular, lower case: "food shop reachable within 5 minutes"
    "food_shop": msg("commerces alimentaires"),
    "market": msg("marchés"),
    "school": msg("écoles"),
    "health": msg("lieux de santé"),
    "transit_stop": msg("arrêts de transport en commun"),
    "rail_station": msg("gares"),
    "park": msg("parcs, jardins et aires de jeux"),
    "sport_culture": msg("lieux de sport et de culture"),
    "public_service": msg("services publics"),
    "second_hand_repair": msg("boutiques de seconde main et de réparation"),
    "local_shop": msg("commerces de proximité"),
    "cycle_parking": msg("stationnements vélo"),
}

_PER_100_M = IndicatorUnit(100.0, msg("par 100 m"), 10.0, msg("100 m de plus"))
_PER_5_MIN = IndicatorUnit(5.0, msg("par 5 min"), 0.5, msg("5 minutes de plus"))
_PER_AMENITY = IndicatorUnit(1.0, msg("par équipement"), 0.5, msg("un équipement de plus"))
_GENERIC_UNIT = IndicatorUnit(1.0, msg("par unité"), 0.01)
_INF = math.inf


def _distance(category: str, *, usages: tuple[str, ...] = (), profile: bool = False) -> Indicator:
    nearest = _NEAREST[category]
    return Indicator(
        nearest_m(category),
        msg("mètres jusqu'{nearest}", nearest=nearest),
        msg("Distance à parcourir par les rues jusqu'{nearest}.", nearest=nearest),
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
    nearest = _NEAREST[category]
    return Indicator(
        nearest_min(category),
        msg("minutes jusqu'{nearest}", nearest=nearest),
        msg("Temps qu'il faut pour aller jusqu'{nearest}, par les rues.", nearest=nearest),
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
    plural, time = _PLURAL[category], number(minutes)
    return Indicator(
        reachable(category, minutes),
        msg("{plural} accessibles en {minutes} minutes (nombre)", plural=plural, minutes=time),
        msg(
            "Nombre de {plural} que l'on atteint en {minutes} minutes par les rues.",
            plural=plural,
            minutes=time,
        ),
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
_TRANSIT_R, _CYCLE_R = number(TRANSIT_RADIUS_M), number(CYCLE_RADIUS_M)
_SLOPE_R, _INTERSECTION_R = number(SLOPE_RADIUS_M), number(INTERSECTION_RADIUS_M)
_SCORE_T = number(SCORE_MIN)
_CITY = (
    msg("ville du quart d'heure")
    if SCORE_MIN == 15
    else msg("ville des {minutes} minutes", minutes=_SCORE_T)
)

_METHOD: tuple[Indicator, ...] = (
    # daily mobility
    _distance("transit_stop", usages=(_MOBILITY,), profile=True),
    Indicator(
        TRANSIT_STOPS,
        msg("arrêts de transport en commun à moins de {radius} m (nombre)", radius=_TRANSIT_R),
        msg(
            "Nombre d'arrêts de transport en commun à moins de {radius} m par les rues.",
            radius=_TRANSIT_R,
        ),
        IndicatorUnit(
            1.0,
            msg("par arrêt à {radius} m", radius=_TRANSIT_R),
            0.5,
            msg("un arrêt de plus à moins de {radius} m", radius=_TRANSIT_R),
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
        msg(
            "départs par heure à l'arrêt le mieux desservi à moins de {radius} m (pointe du matin)",
            radius=_TRANSIT_R,
        ),
        msg(
            "Nombre de départs par heure, en semaine à la pointe du matin, à l'arrêt le mieux "
            "desservi à moins de {radius} m.",
            radius=_TRANSIT_R,
        ),
        IndicatorUnit(5.0, msg("par 5 départs par heure"), 1.0, msg("5 départs par heure de plus")),
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
        msg("km d'aménagements cyclables à moins de {radius} m", radius=_CYCLE_R),
        msg(
            "Longueur des pistes et bandes cyclables à moins de {radius} m à vol d'oiseau.",
            radius=_CYCLE_R,
        ),
        IndicatorUnit(
            1.0,
            msg("par km d'aménagements cyclables à {radius} m", radius=_CYCLE_R),
            0.1,
            msg("1 km d'aménagements cyclables de plus"),
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
        msg("pente moyenne des rues à moins de {radius} m (%)", radius=_SLOPE_R),
        msg(
            "Pente moyenne des rues à moins de {radius} m : plus elle est forte, plus marcher et "
            "pédaler coûte d'effort.",
            radius=_SLOPE_R,
        ),
        IndicatorUnit(1.0, msg("par point de pente (%)"), 0.1, msg("un point de pente de plus")),
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
        msg("carrefours par km² à moins de {radius} m", radius=_INTERSECTION_R),
        msg(
            "Nombre de carrefours par km² à moins de {radius} m : plus il y en a, plus les "
            "trajets à pied sont directs.",
            radius=_INTERSECTION_R,
        ),
        IndicatorUnit(
            50.0, msg("par 50 carrefours au km²"), 5.0, msg("50 carrefours au km² de plus")
        ),
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
        msg(
            "score « {city} » (% des catégories essentielles à {minutes} minutes)",
            city=_CITY,
            minutes=_SCORE_T,
        ),
        msg(
            "Part des besoins du quotidien (commerces, école, santé, parc, arrêt, services) que "
            "l'on atteint en {minutes} minutes par les rues.",
            minutes=_SCORE_T,
        ),
        IndicatorUnit(
            0.1,
            msg("par 10 points de score {minutes} minutes", minutes=_SCORE_T),
            0.01,
            msg("10 points de score de plus"),
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
        msg("année de construction du bâtiment"),
        msg("L'année où le bâtiment a été construit : les plus anciens sont souvent moins isolés."),
        IndicatorUnit(10.0, msg("par décennie"), 1.0, msg("un bâtiment plus récent de 10 ans")),
        usages=(_HEATING,),
        source="building",
    ),
    Indicator(
        "building_levels",
        msg("étages du bâtiment (nombre)"),
        msg("Le nombre d'étages du bâtiment : une maison ou un immeuble."),
        IndicatorUnit(1.0, msg("par étage"), 0.5, msg("un étage de plus")),
        usages=(_HEATING,),
        source="building",
    ),
    Indicator(
        "footprint_m2",
        msg("emprise au sol du bâtiment (m²)"),
        msg("La surface au sol du bâtiment."),
        IndicatorUnit(100.0, msg("par 100 m² d'emprise"), 10.0, msg("100 m² d'emprise de plus")),
        usages=(_HEATING,),
        source="building",
    ),
    # a flag on the figures, not a constraint: no usage, profile or zone
    Indicator(
        REACHES_BORDER,
        msg(
            "portée à {minutes} minutes coupée par le bord de l'extrait (oui ou non)",
            minutes=_SCORE_T,
        ),
        msg(
            "Oui quand les rues que l'on atteint en {minutes} minutes arrivent au bord des "
            "données OpenStreetMap : les chiffres à {minutes} minutes de ce logement peuvent être "
            "sous-estimés.",
            minutes=_SCORE_T,
        ),
        _GENERIC_UNIT,
        "",
        (0, 1, 1),
        "worse",
        decimals=0,
        integer=True,
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
            msg(
                "Indicateur {name!r} inconnu : utilisez l'un de {known}.",
                name=name,
                known=", ".join(INDICATORS),
            )
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


# --------------------------------------------------------------------------------------------------
# the other figures shown: footprints, shares, counts, and the statistics of the links

_Ramp = Literal["worse", "better", "share", "neutral"]


@dataclass(frozen=True)
class Figure:
    """A figure shown to residents that is not a per-home indicator, described once.

    The footprints and profile shares the maps draw, the columns of the exhibition's tables and
    the statistics of the links (odds ratios, AUC, intervals, sample sizes): the report, the maps
    and the API name them from here, as they name the indicators from :data:`INDICATORS`.

    Attributes
    ----------
    name
        Its column name or key ("share_pct", "total_kgco2e_mean", "odds_ratio").
    label
        What the value is, with its unit, as a legend title or a table header.
    sentence
        What it means, in one plain-language sentence (for a statistic: what it measures and
        how to read it, as the report's "Méthode" section explains it).
    symbol
        Short unit after a value on a map ("%", "t CO2e/an"); may be empty.
    breaks, direction, scale, decimals, integer
        How a map classes, colours and writes it, as for :class:`Indicator` (direction also
        "share" or "neutral"); ``breaks`` None: not drawn on a map by default.
    technical
        A statistic for the method section, never for the residents' text (odds ratio, AUC,
        interval, p-value, bootstrap and fold counts).
    """

    name: str
    label: Msg
    sentence: Msg
    symbol: Msg | str = ""
    breaks: tuple[float, ...] | None = None
    direction: _Ramp = "neutral"
    scale: float = 1.0
    decimals: int = 1
    integer: bool = False
    technical: bool = False


#: The usages as they qualify a footprint ("empreinte : alimentation", "food footprint").
FOOTPRINT_USAGES: Mapping[str, Msg] = {
    "total": msg("totale"),
    "meat_frequency": msg("alimentation"),
    "transportation_mode": msg("mobilité quotidienne"),
    "digital_intensity": msg("numérique"),
    "purchasing_strategy": msg("achats"),
    "air_travel_frequency": msg("avion"),
    "heat_source": msg("chauffage"),
}
_T_CO2E = msg("t CO2e/an")


def _footprint(usage: str, *, mean: bool) -> Figure:
    word = FOOTPRINT_USAGES[usage]
    if usage == "total":
        label = (
            msg("empreinte moyenne {usage} (t CO2e par an et par personne)", usage=word)
            if mean
            else msg("empreinte {usage} (t CO2e par an et par personne)", usage=word)
        )
        sentence = (
            msg(
                "Gaz à effet de serre émis en un an, en moyenne par répondant de la zone, pour "
                "les six usages de l'enquête (alimentation, mobilité quotidienne, numérique, "
                "achats, avion, chauffage)."
            )
            if mean
            else msg(
                "Gaz à effet de serre émis en un an par une personne pour les six usages de "
                "l'enquête (alimentation, mobilité quotidienne, numérique, achats, avion, "
                "chauffage)."
            )
        )
    else:
        label = (
            msg("empreinte moyenne : {usage} (t CO2e par an et par personne)", usage=word)
            if mean
            else msg("empreinte : {usage} (t CO2e par an et par personne)", usage=word)
        )
        sentence = (
            msg(
                "Gaz à effet de serre émis en un an pour cet usage ({usage}), en moyenne par "
                "répondant de la zone.",
                usage=word,
            )
            if mean
            else msg(
                "Gaz à effet de serre émis en un an par une personne pour cet usage ({usage}).",
                usage=word,
            )
        )
    total = usage == "total"
    return Figure(
        f"{usage}_kgco2e" + ("_mean" if mean else ""),
        label,
        sentence,
        _T_CO2E,
        (0, 4000, 5000, 6000, 7000, 8000, _INF) if total else (0, 250, 500, 1000, 1500, 2000, _INF),
        "worse",
        scale=0.001,
        decimals=1 if total else 2,
    )


_KG_YEAR = msg("kgCO2e par personne et par an")

_FIGURES: tuple[Figure, ...] = (
    *(_footprint(u, mean=m) for u in FOOTPRINT_USAGES for m in (False, True)),
    # counts of the maps
    Figure(
        "n_respondents",
        msg("répondants (nombre)"),
        msg("Nombre de personnes de la zone qui ont répondu à l'enquête."),
        breaks=(11, 20, 50, 100, 200, _INF),
        decimals=0,
        integer=True,
    ),
    Figure(
        "population",
        msg("habitants (nombre)"),
        msg("Nombre d'habitants de la zone, d'après le recensement."),
        breaks=(0, 1000, 2000, 5000, 10000, _INF),
        decimals=0,
        integer=True,
    ),
    # the key figures of the report
    Figure(
        "answers",
        msg("réponses"),
        msg("Nombre de personnes du quartier dont les réponses à l'enquête sont comptées."),
        decimals=0,
        integer=True,
    ),
    Figure(
        "footprint_t",
        msg("tCO2e par personne et par an (6 usages)"),
        msg(
            "Gaz à effet de serre émis en un an, en moyenne par répondant, pour les six usages "
            "de l'enquête, en tonnes d'équivalent CO2."
        ),
    ),
    Figure(
        "france_t",
        msg("moyenne française sur les mêmes usages"),
        msg(
            "La même empreinte pour une personne en France, d'après NosGestesClimat (situation "
            "par défaut), en tonnes d'équivalent CO2 par an."
        ),
    ),
    Figure(
        "homes",
        msg("logements mesurés"),
        msg("Nombre de logements du quartier dont on a mesuré l'accès à pied aux équipements."),
        decimals=0,
        integer=True,
    ),
    # footprints by usage, profiles, constraints, margins, votes
    Figure(
        "neighbourhood",
        msg("quartier (kgCO2e par personne et par an)"),
        msg("Empreinte de l'usage dans le quartier : moyenne pondérée des réponses."),
    ),
    Figure(
        "france",
        msg("moyenne française (kgCO2e par personne et par an)"),
        msg("Empreinte du même usage en France, d'après NosGestesClimat (situation par défaut)."),
    ),
    Figure(
        "share_pct",
        msg("part des réponses (%)"),
        msg("Sur 100 personnes qui ont répondu, combien sont dans ce profil."),
        "%",
        decimals=1,
    ),
    Figure(
        "n",
        msg("réponses (nombre)"),
        msg("Nombre de personnes qui ont répondu et sont dans ce profil."),
        decimals=0,
        integer=True,
    ),
    Figure(
        "mean_kg",
        msg("empreinte moyenne (kgCO2e par personne et par an)"),
        msg("Ce qu'émet en moyenne en un an une personne de ce profil, pour les six usages."),
        decimals=0,
    ),
    Figure(
        "median_min",
        msg("temps médian à pied (min)"),
        msg(
            "La moitié des logements sont à moins de ce temps de marche de l'équipement le plus "
            "proche, l'autre moitié à plus."
        ),
        "min",
    ),
    Figure(
        "share_within_15",
        msg("logements à 15 min à pied ou moins (%)"),
        msg("Part des logements qui ont au moins un de ces équipements à 15 minutes de marche."),
        "%",
        decimals=0,
    ),
    Figure(
        "saving",
        msg("économie estimée (kgCO2e par personne et par an)"),
        msg(
            "Ce que le quartier émettrait en moins chaque année, par habitant, si ce changement "
            "était fait, d'après les réponses ; une économie incertaine le dit."
        ),
    ),
    Figure(
        "share_homes",
        msg("logements concernés (%)"),
        msg("Part des logements du quartier que ce changement rapprocherait."),
        "%",
        decimals=0,
    ),
    Figure(
        "potential",
        msg("potentiel de réduction (kgCO2e par personne et par an)"),
        msg(
            "L'économie par personne et par an si chacun passait au niveau le plus sobre de "
            "l'usage (échelle NosGestesClimat) ; elle ne dépasse jamais l'empreinte de l'usage."
        ),
        decimals=0,
    ),
    Figure(
        "footprint",
        msg("empreinte de l'usage (kgCO2e par personne et par an)"),
        msg("Ce qu'émet en moyenne une personne du quartier pour cet usage en un an."),
        decimals=0,
    ),
    Figure(
        "built",
        msg("dont en levant une contrainte bâtie (kgCO2e par personne et par an)"),
        msg(
            "La part du potentiel que donnerait la meilleure marge de manœuvre de l'usage (un "
            "équipement ou un arrêt plus proche) : elle fait partie du potentiel, elle ne s'y "
            "ajoute pas."
        ),
        decimals=0,
    ),
    # the statistics of the links: the method section only
    Figure(
        "model",
        msg("régression logistique"),
        msg(
            "Un calcul qui estime, pour chaque usage, comment les chances de donner la réponse "
            "la plus émettrice varient avec les contraintes du logement, toutes prises ensemble."
        ),
        technical=True,
    ),
    Figure(
        "odds_ratio",
        msg("rapport de cotes"),
        msg(
            "De combien sont multipliées les chances de donner la réponse la plus émettrice "
            "(plus exactement sa cote : les chances de la donner divisées par celles de ne pas "
            "la donner) quand la contrainte augmente d'une unité (100 m, 5 minutes...) : 1, "
            "aucun lien ; 2, deux fois plus ; 0,5, deux fois moins."
        ),
        decimals=2,
        technical=True,
    ),
    Figure(
        "interval",
        msg("IC 95\u00a0% (intervalle de confiance à 95\u00a0%)"),
        msg(
            "Les valeurs plausibles du chiffre compte tenu du nombre de réponses : un "
            "intervalle qui contient 1 (pour un rapport de cotes) ou 0 (pour une économie) ne "
            "permet pas de conclure à un lien net. Il est obtenu par bootstrap : le calcul est "
            "refait sur des tirages au hasard des logements des répondants."
        ),
        decimals=2,
        technical=True,
    ),
    Figure(
        "auc",
        msg("AUC validée"),
        msg(
            "À quel point les contraintes de l'usage distinguent ceux qui donnent la réponse la "
            "plus émettrice des autres, mesuré sur des réponses que le modèle n'a pas vues "
            "(validation croisée) : 0,5, pas mieux que le hasard ; 1, parfaitement."
        ),
        decimals=2,
        technical=True,
    ),
    Figure(
        "p_value",
        msg("valeur p"),
        msg(
            "La probabilité d'observer un lien au moins aussi fort si, en réalité, il n'y en "
            "avait aucun : plus elle est petite, moins le lien tient du hasard."
        ),
        decimals=3,
        technical=True,
    ),
    Figure(
        "n_model",
        msg("réponses modélisées (nombre)"),
        msg("Nombre de réponses sur lesquelles repose le modèle de l'usage."),
        decimals=0,
        integer=True,
    ),
    Figure(
        "n_bootstrap",
        msg("tirages bootstrap (nombre)"),
        msg(
            "Combien de fois le calcul a été refait sur un tirage au hasard des logements pour "
            "obtenir les intervalles."
        ),
        decimals=0,
        integer=True,
        technical=True,
    ),
)

#: The other figures shown, by name: footprints (``total_kgco2e``, ``<usage>_kgco2e_mean``...),
#: map counts, the exhibition's table columns and the statistics of the links.
FIGURES: Mapping[str, Figure] = MappingProxyType({f.name: f for f in _FIGURES})


def get_figure(name: str) -> Figure:
    """Return the registry entry of a figure, a ``share_<profile>`` column included.

    Parameters
    ----------
    name
        A key of :data:`FIGURES` ("share_pct", "total_kgco2e_mean", "odds_ratio") or
        ``share_<profile>``, the share of a usage profile in a zone ("share_0": "Profil 1").
    """
    if name in FIGURES:
        return FIGURES[name]
    if name.startswith("share_") and len(name) > len("share_"):
        profile = name[len("share_") :]
        shown: Msg | str = (
            msg("Profil {n}", n=int(profile) + 1) if profile.lstrip("-").isdigit() else profile
        )
        return Figure(
            name,
            msg("part du profil « {profile} » (%)", profile=shown),
            msg("Sur 100 répondants de la zone, combien sont dans ce profil."),
            "%",
            (0, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0),
            "share",
            scale=100,
            decimals=0,
        )
    raise ValidationError(
        msg(
            "Chiffre {name!r} inconnu : utilisez l'un de {known}, ou share_<profil>.",
            name=name,
            known=", ".join(FIGURES),
        )
    )


def effect_sentence(
    indicator: str, odds_ratio: float, low: float, high: float, *, answer: Msg | str
) -> Msg:
    """Say an odds ratio in words for residents: "2 fois plus de chances de répondre « … »".

    Parameters
    ----------
    indicator
        The constraint, a name of :data:`INDICATORS` (its label and the step its effect is given
        per, :attr:`IndicatorUnit.more`).
    odds_ratio, low, high
        The odds ratio per step and its 95 % interval.
    answer
        The answer modelled, in words ("Voiture individuelle").

    Returns
    -------
    Msg
        "<label> : pas de lien net…" when the interval holds 1 (or a bound is missing); else the
        ratio as "N fois plus (moins) de chances" from 1.5 on, as a percentage below.
    """
    entry = INDICATORS.get(indicator)
    label: Msg | str = entry.label if entry is not None else indicator
    more = indicator_unit(indicator).more or msg("une unité de plus")
    figures = (odds_ratio, low, high)
    if any(v is None or not math.isfinite(v) or v <= 0 for v in figures) or low <= 1 <= high:
        return msg(
            "{label} : pas de lien net avec la réponse « {answer} » dans ces réponses (l'écart "
            "observé pourrait venir du hasard).",
            label=label,
            answer=answer,
        )
    ratio = odds_ratio if odds_ratio >= 1 else 1 / odds_ratio
    if ratio >= 1.5:
        words = (
            msg("environ {ratio} fois plus de chances", ratio=number(round(ratio, 1)))
            if odds_ratio >= 1
            else msg("environ {ratio} fois moins de chances", ratio=number(round(ratio, 1)))
        )
    else:
        pct = number(round(abs(odds_ratio - 1) * 100))
        words = (
            msg("environ {pct}\u00a0% de chances en plus", pct=pct)
            if odds_ratio >= 1
            else msg("environ {pct}\u00a0% de chances en moins", pct=pct)
        )
    return msg(
        "{label} : avec {more}, les ménages ont {words} de répondre « {answer} ».",
        label=label,
        more=more,
        words=words,
        answer=answer,
    )


def fit_in_words(auc: float | None) -> Msg | None:
    """Say in words how well an usage's constraints tell its answers apart (a validated AUC).

    None when the AUC is missing. Bands: below 0.6 hardly better than chance, below 0.7 a little,
    below 0.8 fairly well, from 0.8 well.
    """
    if auc is None or not math.isfinite(auc):
        return None
    if auc < 0.6:
        return msg("à peine mieux que le hasard")
    if auc < 0.7:
        return msg("un peu")
    if auc < 0.8:
        return msg("assez bien")
    return msg("bien")
