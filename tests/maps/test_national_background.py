"""The national map's background: France's régions and départements, each written once."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest

import maps
from maps._base import FRANCE_BOUNDS
from qet_geo.errors import ValidationError
from tests.conftest import shared


@pytest.fixture(scope="module")
def france() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    folder = shared("census", "communes")
    return (
        gpd.read_file(folder / "regions-version-simplifiee.geojson"),
        gpd.read_file(folder / "departements-version-simplifiee.geojson"),
    )


def _network() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Lorient", "Bel-Air"], "n_respondents": [40, 412]},
        geometry=gpd.points_from_xy([-3.37, 2.094], [47.748, 48.899]),
        crs=4326,
    )


def _background_layers(html: str) -> list[tuple[dict, list[str]]]:
    """Each dataset of the page's vector basemap with the styles it is drawn with."""
    decoder = json.JSONDecoder()
    out = []
    for match in re.finditer(
        r"\(function\(data\) \{(.*?)\}\)\((\{\"type\":\"FeatureCollection\")", html, re.S
    ):
        data, _ = decoder.raw_decode(html, match.start(2))
        out.append((data, re.findall(r"style: (\{.*?\})\}", match[1])))
    return out


def test_regions_and_departements_are_each_written_once(france) -> None:
    regions, departements = france
    html = (
        maps.make_national_map(_network(), background=[regions, departements]).get_root().render()
    )
    assert maps.find_remote_resources(html) == []
    layers = _background_layers(html)
    sizes = [len(data["features"]) for data, _ in layers]
    # the départements fill the land and draw their borders, then the régions', then the outline
    assert sizes == [len(departements), len(regions), 1]
    styles = [s for _, s in layers]
    assert '"fillOpacity": 1' in styles[0][0] and "0.6" in styles[0][1]
    assert '"weight": 1.2' in styles[1][0] and '"weight": 2' in styles[2][0]
    # simplified for display: far fewer points than the files hold
    drawn = sum(len(json.dumps(f["geometry"])) for f in layers[0][0]["features"])
    assert drawn < len(departements.to_json()) / 2


def test_one_background_is_the_land_and_its_outline(france) -> None:
    regions, _ = france
    html = maps.make_national_map(_network(), background=regions).get_root().render()
    sizes = [len(data["features"]) for data, _ in _background_layers(html)]
    assert sizes == [len(regions), 1]


def test_the_map_opens_on_france_with_a_background(france) -> None:
    regions, _ = france
    m = maps.make_national_map(_network().iloc[:1], background=regions)
    html = m.get_root().render()
    fit = re.search(r"fitBounds\(\s*\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]", html)
    assert fit is not None
    south, west, north, east = map(float, fit.groups())
    left, bottom, right, top = FRANCE_BOUNDS
    assert (west, south, east, north) == (left, bottom, right, top)
    # without a background, the map is fitted to the neighbourhoods alone
    alone = maps.make_national_map(_network().iloc[:1]).get_root().render()
    fit = re.search(r"fitBounds\(\s*\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]", alone)
    assert fit is not None and float(fit[2]) > -3.5 and float(fit[4]) < -3.2


def test_a_background_must_be_polygons() -> None:
    points = _network()
    with pytest.raises(ValidationError, match=r"background\[0\]"):
        maps.make_national_map(_network(), background=[points])
