"""The amenity taxonomy: which OSM tags make which everyday destination.

This is the single place where OSM tags are mapped to the categories that the built-constraint
indicators, the maps and the reports use. Each category is tied to the usages it constrains (see the
constraint table in the method): ``food_shop`` and ``market`` bear on food, ``second_hand_repair``
and ``local_shop`` on purchases, ``transit_stop`` and ``cycle_parking`` on daily mobility,
``rail_station`` on flights (the low-carbon alternative), the others make the "15-minute city" set.

Rules are checked in order; the first that matches gives the category, so an object has exactly one
category (a supermarket is a ``food_shop``, never also a ``local_shop``). A rule is a key and a set of
values (``None`` means any value but ``no``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qet_geo.i18n import Msg, msg

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "ESSENTIAL_CATEGORIES",
    "RULES",
    "Rule",
    "classify",
]


@dataclass(frozen=True)
class Rule:
    """One OSM tag pattern and the category it gives."""

    category: str
    key: str
    values: frozenset[str] | None  # None: any value but "no"


def _r(category: str, key: str, *values: str) -> Rule:
    return Rule(category, key, frozenset(values) if values else None)


#: Ordered rules, first match wins.
RULES: tuple[Rule, ...] = (
    # transit first: a bus shelter tagged amenity=shelter stays a stop
    _r("rail_station", "railway", "station", "halt"),
    _r("transit_stop", "highway", "bus_stop"),
    _r("transit_stop", "railway", "tram_stop", "subway_entrance"),
    _r("transit_stop", "public_transport", "platform", "stop_position", "station"),
    _r("transit_stop", "amenity", "bus_station", "ferry_terminal"),
    _r("market", "amenity", "marketplace"),
    # repair and second hand before the generic shop rules
    _r(
        "second_hand_repair",
        "shop",
        "second_hand",
        "charity",
        "repair",
        "bicycle",
        "computer_repair",
        "electronics_repair",
        "mobile_phone_repair",
        "tailor",
        "shoe_repair",
        "sewing",
        "antiques",
        "vintage",
    ),
    _r("second_hand_repair", "amenity", "repair_cafe", "give_box", "recycling_centre"),
    _r(
        "second_hand_repair",
        "craft",
        "shoemaker",
        "tailor",
        "dressmaker",
        "electronics_repair",
        "watchmaker",
        "clockmaker",
        "upholsterer",
        "key_cutter",
    ),
    _r("second_hand_repair", "repair", "assisted_self_service", "yes"),
    _r("second_hand_repair", "second_hand", "only"),
    _r(
        "food_shop",
        "shop",
        "bakery",
        "butcher",
        "greengrocer",
        "supermarket",
        "convenience",
        "organic",
        "farm",
        "cheese",
        "seafood",
        "deli",
        "dairy",
        "pastry",
        "frozen_food",
        "health_food",
        "food",
        "grocery",
        "wholefoods",
        "general",
        "butcher;deli",
    ),
    # specialty food (shop=coffee sells beans, shop=wine, chocolate, tea, spices...) is not where a
    # neighbourhood does its daily shopping: it falls to local_shop below, with the other shops
    _r("food_shop", "amenity", "vending_machine_food"),
    _r("health", "amenity", "doctors", "clinic", "hospital", "pharmacy", "dentist"),
    _r(
        "health",
        "healthcare",
        "doctor",
        "clinic",
        "hospital",
        "pharmacy",
        "dentist",
        "centre",
        "physiotherapist",
        "nurse",
        "midwife",
        "laboratory",
    ),
    _r("health", "shop", "chemist"),
    _r("school", "amenity", "school", "kindergarten", "childcare", "college"),
    _r(
        "public_service",
        "amenity",
        "townhall",
        "post_office",
        "police",
        "social_facility",
        "social_centre",
        "courthouse",
        "fire_station",
        "public_building",
        "library",
    ),
    # office=employment_agency is mostly private temp agencies in France; France Travail's offices
    # are office=government (OSM wiki, Key:office)
    _r("public_service", "office", "government"),
    _r(
        "sport_culture",
        "leisure",
        "sports_centre",
        "pitch",
        "swimming_pool",
        "fitness_centre",
        "stadium",
        "track",
        "ice_rink",
        "sports_hall",
    ),
    _r(
        "sport_culture",
        "amenity",
        "theatre",
        "cinema",
        "arts_centre",
        "community_centre",
        "music_school",
        "conservatory",
        "events_venue",
        "university",
    ),
    _r("sport_culture", "tourism", "museum", "gallery"),
    _r("park", "leisure", "park", "garden", "playground", "nature_reserve", "common"),
    _r("park", "landuse", "recreation_ground", "village_green"),
    _r("cycle_parking", "amenity", "bicycle_parking", "bicycle_rental"),
    # any other shop is a local shop (clothes, hardware, books, hairdresser...)
    _r("local_shop", "shop"),
    _r(
        "local_shop",
        "amenity",
        "bank",
        "atm",
        "cafe",
        "bar",
        "pub",
        "restaurant",
        "fast_food",
        "laundry",
        "marketplace_stall",
    ),
    _r("local_shop", "craft"),
)

#: Categories in a stable order (the columns of the access tables follow it).
CATEGORIES: tuple[str, ...] = (
    "food_shop",
    "market",
    "school",
    "health",
    "transit_stop",
    "rail_station",
    "park",
    "sport_culture",
    "public_service",
    "second_hand_repair",
    "local_shop",
    "cycle_parking",
)

#: The "15-minute city" set used by the 15-minute score.
ESSENTIAL_CATEGORIES: tuple[str, ...] = (
    "food_shop",
    "school",
    "health",
    "transit_stop",
    "park",
    "sport_culture",
    "public_service",
    "local_shop",
)

#: User-facing names of the categories (French templates, English in the catalogue).
CATEGORY_LABELS: Mapping[str, Msg] = {
    "food_shop": msg("Commerce alimentaire"),
    "market": msg("Marché"),
    "school": msg("École"),
    "health": msg("Santé"),
    "transit_stop": msg("Arrêt de transport en commun"),
    "rail_station": msg("Gare"),
    "park": msg("Parc, jardin, aire de jeux"),
    "sport_culture": msg("Sport et culture"),
    "public_service": msg("Service public"),
    "second_hand_repair": msg("Seconde main et réparation"),
    "local_shop": msg("Commerce de proximité"),
    "cycle_parking": msg("Stationnement vélo"),
}

#: Keys worth looking at: an object with none of them is never an amenity.
TAXONOMY_KEYS: frozenset[str] = frozenset(rule.key for rule in RULES)

assert set(CATEGORIES) == {rule.category for rule in RULES}  # the table is consistent


# Rules of each key, in table order: only the keys an object has are looked at.
_RULES_BY_KEY: dict[str, list[tuple[int, Rule]]] = {}
for _position, _rule in enumerate(RULES):
    _RULES_BY_KEY.setdefault(_rule.key, []).append((_position, _rule))

# Values that say the place is not (or no longer) there.
_NOT_THERE = frozenset({"no", "vacant", "disused", "closed", "abandoned", "empty"})


def classify(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """Return ``(category, "key=value")`` for an object's tags, or None when it is no amenity.

    Parameters
    ----------
    tags
        The object's OSM tags.
    """
    best: int | None = None
    for key, value in tags.items():
        candidates = _RULES_BY_KEY.get(key)
        if candidates is None or value in _NOT_THERE:
            continue
        for position, rule in candidates:
            if best is not None and position >= best:
                break
            if rule.values is None or value in rule.values:
                best = position
                break
    if best is None:
        return None
    rule = RULES[best]
    return rule.category, f"{rule.key}={tags[rule.key]}"
