"""The OSM tags → category table: one place, first match wins, every category reachable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qet_geo.taxonomy import CATEGORIES, CATEGORY_LABELS, ESSENTIAL_CATEGORIES, RULES, classify


@pytest.mark.parametrize(
    ("tags", "category"),
    [
        ({"shop": "bakery"}, "food_shop"),
        ({"shop": "supermarket", "name": "Leclerc"}, "food_shop"),
        ({"amenity": "marketplace"}, "market"),
        ({"amenity": "school"}, "school"),
        ({"amenity": "pharmacy"}, "health"),
        ({"healthcare": "doctor"}, "health"),
        ({"highway": "bus_stop", "amenity": "shelter"}, "transit_stop"),
        ({"public_transport": "platform", "bus": "yes"}, "transit_stop"),
        ({"railway": "station", "public_transport": "station"}, "rail_station"),
        ({"leisure": "park"}, "park"),
        ({"leisure": "sports_centre"}, "sport_culture"),
        ({"amenity": "library"}, "public_service"),
        ({"amenity": "townhall"}, "public_service"),
        ({"shop": "second_hand"}, "second_hand_repair"),
        ({"shop": "bicycle"}, "second_hand_repair"),
        ({"amenity": "repair_cafe"}, "second_hand_repair"),
        ({"craft": "shoemaker"}, "second_hand_repair"),
        ({"shop": "clothes", "second_hand": "only"}, "second_hand_repair"),
        ({"shop": "clothes"}, "local_shop"),
        ({"shop": "hairdresser"}, "local_shop"),
        # where a neighbourhood does its daily shopping, not a specialty shop (issue 14)
        ({"shop": "coffee"}, "local_shop"),
        ({"shop": "wine"}, "local_shop"),
        ({"shop": "chocolate"}, "local_shop"),
        ({"shop": "convenience"}, "food_shop"),
        ({"office": "government"}, "public_service"),
        ({"amenity": "bicycle_parking"}, "cycle_parking"),
    ],
)
def test_examples(tags, category):
    found = classify(tags)
    assert found is not None and found[0] == category


def test_not_amenities():
    assert classify({"building": "yes"}) is None
    assert classify({"shop": "vacant"}) is None
    assert classify({"amenity": "no"}) is None
    assert classify({"highway": "residential"}) is None
    # a temp agency is not a public service (France Travail is office=government)
    assert classify({"office": "employment_agency", "name": "Adecco"}) is None


def test_table_is_consistent():
    assert {r.category for r in RULES} == set(CATEGORIES)
    assert set(ESSENTIAL_CATEGORIES) <= set(CATEGORIES)
    assert set(CATEGORY_LABELS) == set(CATEGORIES)
    for lang in ("fr", "en"):
        assert all(label.render(lang).strip() for label in CATEGORY_LABELS.values())
    assert CATEGORY_LABELS["rail_station"].render("en") == "Railway station"


tag_values = st.sampled_from(
    sorted({v for r in RULES if r.values for v in r.values} | {"yes", "other", "no", "vacant"})
)
tag_keys = st.sampled_from(sorted({r.key for r in RULES} | {"name", "building"}))


@given(st.dictionaries(tag_keys, tag_values, max_size=5))
def test_first_matching_rule_wins(tags):
    """The fast lookup gives exactly what scanning the rules in order gives."""
    expected = None
    for rule in RULES:
        value = tags.get(rule.key)
        if value is None or value in {"no", "vacant", "disused", "closed", "abandoned", "empty"}:
            continue
        if rule.values is None or value in rule.values:
            expected = (rule.category, f"{rule.key}={value}")
            break
    assert classify(tags) == expected
