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
    # a 0.0105° × 0.0115° box at 47.75° N is about 0.79 km × 1.28 km
    assert t.area_km2 == pytest.approx(1.01, rel=0.05)
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


# --------------------------------------------------------------------------------------------------
# the whole extract's territory is its data extent (issue 14)

EXTRACTS = (
    "lorient_centre.osm.gz",
    "nantes_hypercentre.osm.pbf",
    "pont_de_veyle.osm.gz",
    "saudron_rural.osm.gz",
)


def _header_box(path) -> tuple[float, float, float, float]:
    import osmium

    box = osmium.FileProcessor(str(path), osmium.osm.NOTHING).header.box()
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def _whole_extract(path):
    import warnings

    from qet_geo.errors import QetGeoWarning
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)  # the extracts are cut at their border
        return build_layers(path).territory


@pytest.mark.parametrize("name", EXTRACTS)
def test_whole_extract_territory_is_the_header_box(name):
    path = shared("osm", name)
    box = _header_box(path)
    territory = _whole_extract(path)
    assert territory.source == "bounds"
    expected = territory_from_bounds(box).area_km2
    assert territory.area_km2 == pytest.approx(expected, rel=1e-9)
    # the box projected, padded by a metre (features on the edge are inside)
    lon_lat = gpd.GeoSeries([territory.geometry], crs=2154).to_crs(4326).total_bounds
    assert lon_lat == pytest.approx(box, abs=2e-5)


def test_headerless_extract_territory_is_its_building_extent(lorient_pbf):
    """Lorient's PBF states no box, and its complete streets run kilometres past the cut: the
    territory is the extent of its buildings, around the box the data was cut to."""
    import osmium

    class Extent(osmium.SimpleHandler):
        def __init__(self):
            super().__init__()
            self.lon, self.lat = [], []
            self.blon, self.blat = [], []

        def node(self, n):
            self.lon.append(n.location.lon)
            self.lat.append(n.location.lat)

        def way(self, w):
            if w.tags.get("building", "no") != "no":
                for n in w.nodes:
                    self.blon.append(n.location.lon)
                    self.blat.append(n.location.lat)

    assert not osmium.FileProcessor(str(lorient_pbf), osmium.osm.NOTHING).header.box().valid()
    every = Extent()
    every.apply_file(str(lorient_pbf), locations=True)
    territory = _whole_extract(lorient_pbf)
    extent = gpd.GeoSeries([territory.geometry], crs=2154).to_crs(4326)
    left, bottom, right, top = extent.total_bounds
    # the extent of the buildings drawn by ways (the territory is padded by a metre) ...
    tol = 2e-5
    assert (left, bottom, right, top) == pytest.approx(
        (min(every.blon), min(every.blat), max(every.blon), max(every.blat)), abs=tol
    )
    # ... around the box the data was cut to, and far inside the extent of every node
    assert left < -3.3654 and bottom < 47.743 and right > -3.3454 and top > 47.7554
    box = territory_from_bounds((-3.3654, 47.743, -3.3454, 47.7554)).area_km2
    nodes = territory_from_bounds(
        (min(every.lon), min(every.lat), max(every.lon), max(every.lat))
    ).area_km2
    assert box < territory.area_km2 < 1.3 * box and nodes > 10 * territory.area_km2


def _with_far_relation(root, *, bounds: bool):
    """The Lorient extract plus a forest multipolygon whose member way lies 20 km away, as an
    Overpass recursion brings a relation's members whole."""
    import xml.etree.ElementTree as ET

    out = ET.Element("osm", root.attrib)
    out.extend(e for e in root if bounds or e.tag != "bounds")
    lon0, lat0 = -3.60, 47.85  # 20 km north-west of Lorient
    refs = []
    for i, (dx, dy) in enumerate([(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01)]):
        ref = str(9_000_000_000 + i)
        ET.SubElement(
            out, "node", id=ref, version="1", lat=f"{lat0 + dy:.7f}", lon=f"{lon0 + dx:.7f}"
        )
        refs.append(ref)
    way = ET.SubElement(out, "way", id="9000000000", version="1")
    for ref in [*refs, refs[0]]:
        ET.SubElement(way, "nd", ref=ref)
    rel = ET.SubElement(out, "relation", id="9000000000", version="1")
    ET.SubElement(rel, "member", type="way", ref="9000000000", role="outer")
    ET.SubElement(rel, "tag", k="type", v="multipolygon")
    ET.SubElement(rel, "tag", k="leisure", v="park")
    return ET.tostring(out, encoding="utf-8", xml_declaration=True)


@pytest.mark.parametrize("bounds", [True, False])
def test_far_relation_members_do_not_stretch_the_territory(lorient_xml, tmp_path, bounds):
    import xml.etree.ElementTree as ET

    root = ET.parse(lorient_xml).getroot()
    far = tmp_path / "far.osm"
    far.write_bytes(_with_far_relation(root, bounds=bounds))
    plain = tmp_path / "plain.osm"
    out = ET.Element("osm", root.attrib)
    out.extend(e for e in root if bounds or e.tag != "bounds")
    plain.write_bytes(ET.tostring(out, encoding="utf-8", xml_declaration=True))

    import warnings

    from qet_geo.errors import QetGeoWarning
    from qet_geo.inputs.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        data = read_osm(far)
    # the far park was read (it is a real area of the file) ...
    assert data.parks.loc["r9000000000"].geometry.bounds[0] < 210_000  # Lorient: x > 223 000
    territory = _whole_extract(far)
    # ... yet the territory is the extract's own extent, as without the relation
    assert territory.area_km2 == pytest.approx(_whole_extract(plain).area_km2, rel=1e-9)
    if bounds:
        assert territory.area_km2 == pytest.approx(
            territory_from_bounds((-3.3654, 47.743, -3.3454, 47.7554)).area_km2, rel=1e-9
        )
    else:
        assert territory.area_km2 < 3  # the extent of Lorient's buildings (its box: 2.1 km²)
