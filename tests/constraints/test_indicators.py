"""The indicator registry: one place for an indicator's name, labels, units, classes and usages."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from qet_geo.constraints import indicators
from qet_geo.constraints.indicators import (
    ACCESS_INDICATORS,
    CYCLE_KM,
    DEPARTURES,
    INDICATOR_UNITS,
    INDICATORS,
    NOT_INDICATORS,
    PROFILE_INDICATORS,
    REACHES_BORDER,
    SCORE,
    TRANSIT_STOPS,
    USAGE_CONSTRAINTS,
    ZONE_INDICATORS,
    get_indicator,
    indicator_unit,
)
from qet_geo.errors import ValidationError
from qet_geo.taxonomy import CATEGORIES, ESSENTIAL_CATEGORIES

REPO = Path(__file__).resolve().parents[2]

# the tables as analysis/links.py and constraints/access.py wrote them before the registry: the
# registry must give exactly these (names, order, units), so outputs stay the same
LEGACY_USAGE_CONSTRAINTS = {
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
LEGACY_PROFILE_INDICATORS = (
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
LEGACY_ZONE_INDICATORS = (
    "score_15min",
    "transit_stops_400m",
    "departures_per_hour_400m",
    "cycle_km_500m",
    "slope_pct",
    "intersections_km2",
    *(f"{c}_min" for c in ESSENTIAL_CATEGORIES),
)
LEGACY_UNITS = {
    "_m": (100.0, "per 100 m", "par 100 m", 10.0),
    "_min": (5.0, "per 5 min", "par 5 min", 0.5),
    "_n5": (1.0, "per amenity", "par équipement", 0.5),
    "_n10": (1.0, "per amenity", "par équipement", 0.5),
    "_n15": (1.0, "per amenity", "par équipement", 0.5),
    "transit_stops_400m": (1.0, "per stop within 400 m", "par arrêt à 400 m", 0.5),
    "departures_per_hour_400m": (5.0, "per 5 departures an hour", "par 5 départs par heure", 1.0),
    "cycle_km_500m": (
        1.0,
        "per km of cycle lanes within 500 m",
        "par km d'aménagements cyclables à 500 m",
        0.1,
    ),
    "slope_pct": (1.0, "per point of slope (%)", "par point de pente (%)", 0.1),
    "intersections_km2": (50.0, "per 50 intersections per km²", "par 50 carrefours au km²", 5.0),
    "score_15min": (
        0.1,
        "per 10 points of 15-minute score",
        "par 10 points de score 15 minutes",
        0.01,
    ),
    "building_year": (10.0, "per decade of construction", "par décennie", 1.0),
    "building_levels": (1.0, "per storey", "par étage", 0.5),
    "footprint_m2": (100.0, "per 100 m² of footprint", "par 100 m² d'emprise", 10.0),
}


def test_registry_keeps_the_column_names_and_tables_of_before() -> None:
    assert (TRANSIT_STOPS, DEPARTURES, CYCLE_KM, SCORE) == (
        "transit_stops_400m",
        "departures_per_hour_400m",
        "cycle_km_500m",
        "score_15min",
    )
    assert list(USAGE_CONSTRAINTS.items()) == list(LEGACY_USAGE_CONSTRAINTS.items())
    assert PROFILE_INDICATORS == LEGACY_PROFILE_INDICATORS
    assert ZONE_INDICATORS == LEGACY_ZONE_INDICATORS
    assert {
        k: (v.step, v.label.render("en"), v.label.render("fr"), v.precision)
        for k, v in INDICATOR_UNITS.items()
        if k != REACHES_BORDER  # a flag added since (issue 14), not a constraint
    } == LEGACY_UNITS
    from qet_geo.constraints.access import zone_indicators

    assert zone_indicators.__kwdefaults__["indicators"] == LEGACY_ZONE_INDICATORS


def test_every_usage_bearing_indicator_is_of_a_usage_of_the_method() -> None:
    from qet_geo.surveys.schema import USAGES

    for entry in INDICATORS.values():
        assert set(entry.usages) <= set(USAGES), entry.name
        assert entry.name == get_indicator(entry.name).name
        # every indicator speaks both languages, in full sentences
        for lang in ("fr", "en"):
            assert entry.label.render(lang).strip(), entry.name
            assert entry.sentence.render(lang).strip(), entry.name
            assert entry.sentence.render(lang).endswith("."), entry.name
        # the English is a translation, not the French again
        assert entry.label.render("en") != entry.label.render("fr"), entry.name
        if entry.breaks is not None:
            assert list(entry.breaks) == sorted(entry.breaks), entry.name
    # digital use has no built constraint; every other usage of the method has one
    assert set(USAGE_CONSTRAINTS) == set(USAGES) - {"digital_intensity"}


def test_units_by_name_then_suffix_then_generic() -> None:
    assert indicator_unit("food_shop_min").label.render("en") == "per 5 min"
    assert indicator_unit("market_m").step == 100.0
    assert indicator_unit("footprint_m2").step == 100.0  # not taken for a distance
    assert indicator_unit("bakery_n10").label.render("fr") == "par équipement"  # suffix
    assert indicator_unit("whatever").label.render("en") == "per unit"
    for name, entry in INDICATORS.items():
        assert indicator_unit(name) is entry.unit


def test_unknown_indicator_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="cycle_km_500m") as info:
        get_indicator("cycle_km_5000m")
    assert "inconnu" in info.value.message_fr


def test_access_columns_are_exactly_the_registry_entries(lorient_pbf: Path) -> None:
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.inputs.territory import territory_from_file
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(
            lorient_pbf, territory=territory_from_file(REPO / "data/osm/lorient_centre.geojson")
        )
        access = neighbourhood_access(layers)
    columns = [c for c in access.columns if c != access.geometry.name and c not in NOT_INDICATORS]
    assert set(columns) == set(ACCESS_INDICATORS)
    assert len(columns) == len(ACCESS_INDICATORS)
    for category in CATEGORIES:
        assert INDICATORS[f"{category}_min"].category == category


def test_maps_label_class_and_colour_from_the_registry() -> None:
    from maps._labels import indicator

    for name, entry in INDICATORS.items():
        if entry.breaks is None:
            continue
        for lang in ("fr", "en"):
            spec = indicator(name, lang)
            assert spec.label == entry.label.render(lang)
            assert (spec.unit, spec.bins, spec.ramp) == (
                entry.symbol,
                entry.breaks,
                entry.direction,
            )
            assert (spec.scale, spec.decimals, spec.integer) == (
                entry.scale,
                entry.decimals,
                entry.integer,
            )


# the modules converted to the registry: none writes a named indicator or its words itself
CONVERTED = (
    *sorted((REPO / "maps").glob("*.py")),
    REPO / "qet_geo" / "constraints" / "access.py",
    REPO / "qet_geo" / "surveys" / "synthetic.py",
)


@pytest.mark.parametrize("path", CONVERTED, ids=lambda p: p.name)
def test_consumers_write_no_indicator_name_or_label_of_their_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for entry in INDICATORS.values():
        if entry.category is not None or entry.source != "home":
            # per-category names follow one pattern (<category>_min, _m, _n<minutes>); the
            # building ones are the building layer's own columns
            continue
        words = (
            entry.name,
            entry.label.render("fr"),
            entry.label.render("en"),
            entry.unit.label.render("fr"),
        )
        found = [w for w in words if w in text]
        assert not found, f"{path.name} writes {found}: read them from the registry"


# Changing a radius in indicators.py alone: the column is renamed, every label follows, the
# computation uses the new radius, and the maps and the usage table see the new name. Run in a
# fresh interpreter so that the patched registry does not leak into the other tests.
_PATCHED = r"""
import json, sys, types, warnings

path, pbf = sys.argv[1], sys.argv[2]
source = open(path, encoding="utf-8").read()
for old, new in (
    ("CYCLE_RADIUS_M = 500.0", "CYCLE_RADIUS_M = 750.0"),
    ("TRANSIT_RADIUS_M = 400.0", "TRANSIT_RADIUS_M = 300.0"),
    ("SLOPE_RADIUS_M = 300.0", "SLOPE_RADIUS_M = 250.0"),
    ("INTERSECTION_RADIUS_M = 500.0", "INTERSECTION_RADIUS_M = 600.0"),
):
    assert source.count(old) == 1, old
    source = source.replace(old, new)
import qet_geo.constraints  # the package only (its exports are lazy)

module = types.ModuleType("qet_geo.constraints.indicators")
module.__file__ = path
sys.modules[module.__name__] = module
exec(compile(source, path, "exec"), module.__dict__)

from maps._labels import indicator
from qet_geo.constraints.access import home_access, homes_from_buildings
from qet_geo.inputs.osm import read_osm

I = module
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    data = read_osm(pbf)
    nodes, edges = data.graph("walk")
    homes = homes_from_buildings(data.buildings).iloc[::20]
    table = home_access(
        homes, nodes, edges, data.amenities,
        transit_stops=data.transit_stops, cycleways=data.cycleways,
    )
texts = {}
for name in (I.CYCLE_KM, I.TRANSIT_STOPS, I.DEPARTURES, I.SLOPE, I.INTERSECTIONS):
    e = I.INDICATORS[name]
    texts[name] = [
        e.label.render("fr"), e.label.render("en"), e.sentence.render("fr"),
        e.sentence.render("en"), e.unit.label.render("fr"), e.unit.label.render("en"),
        indicator(name, "fr").label, indicator(name, "en").label,
    ]
print(json.dumps({
    "names": [I.CYCLE_KM, I.TRANSIT_STOPS, I.DEPARTURES],
    "columns": list(table.columns),
    "cycle_km": table[I.CYCLE_KM].tolist(),
    "stops": table[I.TRANSIT_STOPS].tolist(),
    "index": [str(i) for i in table.index],
    "texts": texts,
    "usages": {k: list(v) for k, v in I.USAGE_CONSTRAINTS.items()},
    "zone": list(I.ZONE_INDICATORS),
    "profile": list(I.PROFILE_INDICATORS),
}))
"""


def test_a_radius_changed_in_the_registry_renames_and_relabels_everywhere(
    lorient_pbf: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _PATCHED, indicators.__file__, str(lorient_pbf)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["names"] == ["cycle_km_750m", "transit_stops_300m", "departures_per_hour_300m"]
    for new in out["names"]:
        assert new in out["columns"]
    assert not {CYCLE_KM, TRANSIT_STOPS, DEPARTURES} & set(out["columns"])
    radius = {
        "cycle_km_750m": "750 m",
        "transit_stops_300m": "300 m",
        "departures_per_hour_300m": "300 m",
        "slope_pct": "250 m",
        "intersections_km2": "600 m",
    }
    # labels, sentences and map legends (FR, EN) name the new radius; so do the effect units
    # that mention one (the slope's, the intersections' and the departures' name none)
    with_unit = {"cycle_km_750m", "transit_stops_300m"}
    for name, texts in out["texts"].items():
        for i, text in enumerate(texts):
            if i in (4, 5) and name not in with_unit:
                continue
            assert radius[name] in text, (name, text)
            assert not any(f"{r} m" in text for r in (400, 500)), (name, text)
    # the usage, profile and zone tables follow the rename
    assert out["usages"]["transportation_mode"][1:3] == [
        "departures_per_hour_300m",
        "cycle_km_750m",
    ]
    assert "cycle_km_750m" in out["profile"] and "cycle_km_750m" in out["zone"]
    # and the computation uses the new radii: a wider disc holds at least as much cycle lane, a
    # shorter walk at most as many stops
    from qet_geo.constraints.access import home_access, homes_from_buildings
    from qet_geo.inputs.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = read_osm(lorient_pbf)
        nodes, edges = data.graph("walk")
        homes = homes_from_buildings(data.buildings).iloc[::20]
        base = home_access(
            homes,
            nodes,
            edges,
            data.amenities,
            transit_stops=data.transit_stops,
            cycleways=data.cycleways,
        )
    assert [str(i) for i in base.index] == out["index"]
    wide = pd.Series(out["cycle_km"], index=base.index)
    assert (wide >= base[CYCLE_KM] - 1e-9).all() and (wide > base[CYCLE_KM]).any()
    near = pd.Series(out["stops"], index=base.index)
    assert (near <= base[TRANSIT_STOPS]).all() and (near < base[TRANSIT_STOPS]).any()
    assert not math.isnan(wide.sum())
