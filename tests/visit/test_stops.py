"""The stops: read from CSV and GeoJSON files, picked automatically on Lorient."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from qet_geo.constraints.indicators import get_indicator
from qet_geo.errors import InputFileError, ValidationError
from qet_geo.network.queries import nearest
from qet_geo.network.snapping import snap
from qet_geo.visit.stops import auto_stops, read_stops
from tests.conftest import shared
from tests.visit.conftest import lonlat, write_csv

# --------------------------------------------------------------------------------------------
# stops
# --------------------------------------------------------------------------------------------


def test_read_stops_csv_and_geojson(tmp_path, places):
    rows = [(*lonlat(g), n) for g, n in zip(places.geometry[:3], places["name"][:3], strict=True)]
    csv = write_csv(tmp_path / "etapes.csv", rows, priority=True)
    got = read_stops(csv)
    assert got.crs.to_epsg() == 2154 and list(got.index) == [1, 2, 3]
    assert list(got["name"]) == list(places["name"][:3]) and list(got["priority"]) == [3, 2, 1]
    assert np.allclose(
        shapely.get_coordinates(got.geometry), shapely.get_coordinates(places.geometry[:3])
    )
    gj = tmp_path / "etapes.geojson"
    places.iloc[:3].assign(id=["x", "y", "z"]).to_crs(4326).to_file(gj)
    got = read_stops(gj)
    assert list(got.index) == ["x", "y", "z"] and got.crs.to_epsg() == 2154
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="lon/lat"):
        read_stops(bad)
    with pytest.raises(InputFileError):
        read_stops(tmp_path / "absent.csv")


@pytest.fixture(scope="module")
def lorient_layers():
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(shared("osm", "lorient_centre.osm.pbf"))
        access = neighbourhood_access(layers)
    return layers, access


def test_auto_stops_on_lorient(lorient_layers, net):
    layers, access = lorient_layers
    stops = auto_stops(layers, n=8, access=access)  # builds its own walking network
    assert list(stops.index) == [
        "market",
        "home_far_food",
        "transit_busy",
        "home_best",
        "food_shop",
        "school",
        "park",
        "second_hand_repair",
    ]
    assert (np.diff(stops["priority"]) <= 0).all()
    assert stops["reason"].str.len().min() > 20 and not stops["reason"].str.contains("nan").any()
    assert stops.loc["market", "reason"] == "Marché : lieu d'enquête et de rencontre"
    far = access.loc[stops.loc["home_far_food", "source"]]
    assert far["food_shop_min"] == pytest.approx(access["food_shop_min"].max(), abs=1e-9) or (
        far["food_shop_min"] > access["food_shop_min"].quantile(0.99)
    )
    label = get_indicator("food_shop_min").label.render("fr")  # the registry's words
    assert f"({far['food_shop_min']:.0f} {label})" in stops.loc["home_far_food", "reason"]
    best = access.loc[stops.loc["home_best", "source"]]
    assert best["score_15min"] == access["score_15min"].max()
    d = np.asarray([[a.distance(b) for b in stops.geometry] for a in stops.geometry])
    assert d[np.triu_indices(8, 1)].min() >= 25
    s = snap(net, stops)
    assert (s["component"] == 0).all() and not s["off_network"].any()
    more = auto_stops(layers, n=15, access=access, network=net, lang="en")
    assert len(more) == 15 and list(more.index[:8]) == list(stops.index)
    assert more.loc["market", "reason"].startswith("Market")


def test_the_visit_reads_indicator_names_from_the_registry() -> None:
    from qet_geo.constraints.indicators import INDICATORS
    from qet_geo.taxonomy import CATEGORIES

    folder = Path(__file__).resolve().parents[2] / "qet_geo" / "visit"
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for entry in INDICATORS.values():
            if entry.category is None:
                words = (entry.name, entry.label.render("fr"), entry.label.render("en"))
                assert not [w for w in words if w in text], f"{path.name}: {entry.name}"
        for category in CATEGORIES:
            for suffix in ("_m", "_min", "_n5", "_n10", "_n15"):
                assert f'"{category}{suffix}"' not in text, f"{path.name}: {category}{suffix}"


EVERYDAY_FOOD = {
    "shop=bakery",
    "shop=butcher",
    "shop=greengrocer",
    "shop=supermarket",
    "shop=convenience",
    "shop=organic",
    "shop=farm",
    "shop=cheese",
    "shop=seafood",
    "shop=deli",
    "shop=dairy",
    "shop=pastry",
    "shop=frozen_food",
    "shop=health_food",
    "shop=food",
    "shop=grocery",
    "shop=wholefoods",
    "shop=general",
    "shop=butcher;deli",
    "amenity=vending_machine_food",
}


@pytest.mark.parametrize(
    "extract",
    [
        "lorient_centre.osm.pbf",
        "nantes_hypercentre.osm.pbf",
        "pont_de_veyle.osm.gz",
        "saudron_rural.osm.gz",
    ],
)
def test_automatic_stops_on_the_shared_extracts_name_what_residents_know(extract: str) -> None:
    from qet_geo.pipeline import build_neighbourhood

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hood = build_neighbourhood(shared("osm", extract))
        stops = auto_stops(
            hood.layers, n=8, access=hood.access["walk"], network=hood.networks["walk"]
        )
    amenities = hood.layers.layers["amenities"]
    # "where the neighbourhood shops" is a grocery, bakery or market, never a coffee-bean shop
    food = amenities.loc[amenities["category"] == "food_shop", "tag"]
    assert set(food) <= EVERYDAY_FOOD, set(food) - EVERYDAY_FOOD
    # a temp agency is not a public service
    public = amenities.loc[amenities["category"] == "public_service", "tag"]
    assert "office=employment_agency" not in set(public)
    assert 2 <= len(stops) <= 8
    assert stops["name"].str.strip().str.len().gt(0).all()
    assert stops["reason"].str.strip().str.len().gt(0).all()
    # a reason never quotes a zero count (Pont-de-Veyle's places read "0 logements à 5 min"
    # when its homes, none of which has a food shop within reach, were all left out)
    assert not stops["reason"].str.contains(r"\b0 (?:logement|autre|départ)").any()
    assert not stops["reason"].str.contains("nan|None|_").any()
    # the stops come from what the taxonomy calls them, never from a misleading amenity
    places = amenities[~amenities.index.duplicated()]
    for _, stop in stops[stops["category"] != "home"].iterrows():
        assert places.loc[stop["source"], "category"] == stop["category"]
        if stop["category"] == "food_shop":
            assert places.loc[stop["source"], "tag"] in EVERYDAY_FOOD
    # the homes quoted around a place are the homes within a 5-minute walk of it, counted
    # here from each home to the place (the other direction of the walking network)
    net = hood.networks["walk"]
    access = hood.access["walk"]
    homes = access[~access["off_network"].astype(bool)]
    for stop_id, stop in stops.iterrows():
        if "homes_n5" not in stop["figures"].split():
            continue
        target = gpd.GeoDataFrame({"category": ["here"]}, geometry=[stop.geometry], crs=net.crs)
        times = nearest(net, homes, target, weight="time", cutoff_m=None)["here_min"]
        quoted = re.search(r"\(([\d\u202f]+) logements? à 5 min", stop["reason"])
        assert quoted is not None, stop["reason"]
        assert int(quoted.group(1).replace("\u202f", "")) == int((times <= 5).sum()), stop_id
    # the homes' figures are theirs
    for stop_id, stop in stops[stops["category"] == "home"].iterrows():
        home = access.loc[stop["source"]]
        if "food_shop_min" in stop["figures"].split():
            assert f"({home['food_shop_min']:.0f} minutes" in stop["reason"], stop_id
