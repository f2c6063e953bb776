"""Territories from a polygon file, IRIS codes, a commune code, or bounds."""

from __future__ import annotations

import shutil

import geopandas as gpd
import pytest
import shapely

from qet_geo.errors import CRSError, InputFileError, UnknownCodeError, ValidationError
from qet_geo.inputs.territory import (
    territory_from_bounds,
    territory_from_commune,
    territory_from_file,
    territory_from_iris,
)
from tests.conftest import shared


def test_polygon_file_in_wgs84_is_projected(tmp_path):
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
    t = territory_from_file(demo)
    # a 0.0115° × 0.0115° box at 47.75° N is about 0.86 km × 1.28 km
    assert t.area_km2 == pytest.approx(1.1, rel=0.1)
    minx, miny, _, _ = t.geometry.bounds
    assert 200_000 < minx < 240_000 and 6_740_000 < miny < 6_780_000
    assert shapely.area(t.working_area) > shapely.area(t.geometry) + 4e6  # 1 km ring
    # a GeoPackage in Lambert-93 with two polygons is merged into one territory
    gdf = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)], crs=2154
    )
    gdf.to_file(tmp_path / "two.gpkg")
    two = territory_from_file(tmp_path / "two.gpkg", buffer_m=0)
    assert shapely.area(two.geometry) == pytest.approx(20_000)
    assert two.working_area.equals(two.geometry)


def test_iris_codes_with_the_paris_layer():
    layer = shared("census", "paris_iris", "ParisIris_2013_L93.gpkg")
    t = territory_from_iris(["751145620", "751145621", "751145622"], layer)
    iris = gpd.read_file(layer)
    code_col = "DCOMIRIS"
    expected = iris[iris[code_col].isin(["751145620", "751145621", "751145622"])].union_all()
    assert (
        shapely.equals_exact(shapely.normalize(t.geometry), shapely.normalize(expected), 1e-6)
        or abs(shapely.area(t.geometry) - expected.area) < 1
    )
    assert t.iris_codes == ("751145620", "751145621", "751145622")
    with pytest.raises(UnknownCodeError, match="999999999"):
        territory_from_iris(["999999999"], layer)


def test_commune_code():
    communes = shared("census", "communes", "communes-56-morbihan.geojson")
    t = territory_from_commune("56121", communes)
    assert t.name == "Lorient"
    assert 10 < t.area_km2 < 25
    with pytest.raises(UnknownCodeError, match="not the postcode"):
        territory_from_commune("56999", communes)


def test_bounds_and_buffer_checks():
    t = territory_from_bounds((-3.3654, 47.743, -3.3454, 47.7554))
    assert 2.0 < t.area_km2 < 2.5
    with pytest.raises(ValidationError):
        territory_from_bounds((10, 50, 5, 40))
    with pytest.raises(ValidationError, match="buffer"):
        territory_from_bounds((-3.36, 47.74, -3.34, 47.75), buffer_m=-5)


def test_bad_territory_files(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        territory_from_file(tmp_path / "nope.geojson")
    src = shared("osm", "lorient_layers", "buildings.shp")
    for ext in (".shp", ".shx", ".dbf"):
        shutil.copy(src.with_suffix(ext), tmp_path / f"noprj{ext}")
    with pytest.raises(CRSError, match=r"\.prj"):
        territory_from_file(tmp_path / "noprj.shp")
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=2154)
    points.to_file(tmp_path / "points.geojson")
    with pytest.raises(ValidationError, match="no polygon"):
        territory_from_file(tmp_path / "points.geojson")
    (tmp_path / "broken.geojson").write_text("{not json")
    with pytest.raises(InputFileError):
        territory_from_file(tmp_path / "broken.geojson")


def test_options_take_one_definition():
    from qet_geo.inputs.territory import territory_from_options

    layer = shared("census", "paris_iris", "ParisIris_2013_L93.gpkg")
    as_text = territory_from_options(iris="751145620, 751145621", iris_layer=layer, buffer_m=0)
    as_list = territory_from_options(iris=["751145620", "751145621"], iris_layer=layer, buffer_m=0)
    assert as_text is not None and as_list is not None
    assert as_text.iris_codes == as_list.iris_codes == ("751145620", "751145621")
    assert territory_from_options() is None
    communes = shared("census", "communes", "communes-56-morbihan.geojson")
    with pytest.raises(ValidationError, match="one territory definition"):
        territory_from_options(commune="56121", communes_layer=communes, iris=["751145620"])
    with pytest.raises(ValidationError, match="iris-layer"):
        territory_from_options(iris="751145620")
    with pytest.raises(ValidationError, match="communes-layer"):
        territory_from_options(commune="56121")
