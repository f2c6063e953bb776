"""OSM layers read offline: counts on the real extracts, XML = PBF, graph topology, bad input."""

from __future__ import annotations

import bz2
import gzip
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from qet_geo.errors import DataCoverageError, EmptyDataError, InputFileError, QetGeoWarning
from qet_geo.inputs.osm import (
    _NETWORK_EXCLUDE,
    _WAY_TAGS,
    OSM_LAYERS,
    _keeps,
    read_osm,
    street_graph,
)
from qet_geo.taxonomy import CATEGORIES
from tests.conftest import shared

LAYERS = ("buildings", "amenities", "transit_stops", "cycleways", "parking", "parks", "water")
#: The box lorient_centre.osm.gz states in its <bounds> header.
LORIENT_HEADER_BOX = (-3.3654, 47.743, -3.3454, 47.7554)


def _read(path: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return read_osm(path, **kw)


@pytest.mark.parametrize(
    ("name", "buildings", "min_amenities", "min_streets"),
    [
        ("lorient_centre.osm.pbf", 1712, 400, 1500),
        ("nantes_hypercentre.osm.pbf", 309, 300, 400),
        ("pont_de_veyle.osm.gz", 1529, 50, 800),
        ("saudron_rural.osm.gz", 798, 5, 700),
    ],
)
def test_real_extracts_load(name, buildings, min_amenities, min_streets):
    data = _read(shared("osm", name))
    # PROVENANCE counts building ways + relations; a relation whose member ways are outside the
    # file cannot be closed and is counted in `missing` instead
    assert len(data.buildings) + data.missing.relations_affected >= buildings
    assert len(data.buildings) <= buildings + 25
    assert len(data.amenities) >= min_amenities
    _nodes, edges = data.graph("walk")
    assert len(edges) >= min_streets
    for layer in LAYERS:
        gdf = getattr(data, layer)
        assert gdf.crs.to_epsg() == 2154
        assert gdf.index.is_unique
    # everything lies in metropolitan France in Lambert-93
    minx, miny, maxx, maxy = data.buildings.total_bounds
    assert 100_000 < minx < maxx < 1_250_000 and 6_000_000 < miny < maxy < 7_150_000
    assert set(data.amenities["category"]) <= set(CATEGORIES)


def test_lorient_amenities_cover_the_taxonomy(lorient):
    counts = lorient.amenities["category"].value_counts()
    for cat in (
        "food_shop",
        "health",
        "school",
        "transit_stop",
        "local_shop",
        "park",
        "public_service",
        "sport_culture",
        "cycle_parking",
        "market",
        "second_hand_repair",
    ):
        assert counts.get(cat, 0) > 0, cat
    assert "shop=vacant" not in set(lorient.amenities["tag"])
    # a supermarket is a food shop, never a local shop
    supermarkets = lorient.amenities[lorient.amenities["tag"] == "shop=supermarket"]
    assert len(supermarkets) > 0 and (supermarkets["category"] == "food_shop").all()
    # areas become points inside them
    assert (lorient.amenities.geom_type == "Point").all()
    assert lorient.amenities["from_area"].any()


def test_buildings_attributes(lorient):
    b = lorient.buildings
    assert b.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert b["residential"].any() and (~b["residential"]).any()
    assert (b.loc[b["building"] == "house", "residential"]).all()
    assert not b.loc[b["building"].isin(["church", "commercial", "school"]), "residential"].any()
    tagged = b["levels"].notna()
    assert tagged.sum() > 50
    # floor area is footprint × levels where levels are tagged
    row = b[tagged & b["height_m"].isna()].iloc[0]
    assert row["floor_area_m2"] >= row["footprint_m2"] * row["levels"] - 1e-6
    assert np.allclose(b["footprint_m2"], b.area)


def test_xml_and_pbf_give_identical_layers(lorient_gz, lorient_pbf, lorient_xml, tmp_path):
    bz = tmp_path / "lorient.osm.bz2"
    bz.write_bytes(bz2.compress(lorient_xml.read_bytes()))
    ref = _read(lorient_pbf)
    for other_path in (lorient_gz, lorient_xml, bz):
        other = _read(other_path)
        # the XML states its box in <bounds>; the converted PBF lost its header: node extent
        assert other.bounds == pytest.approx(LORIENT_HEADER_BOX)
        left, bottom, right, top = ref.bounds
        assert left < -3.3654 and bottom < 47.743 and right > -3.3454 and top > 47.7554
        assert other.missing == ref.missing
        pd.testing.assert_frame_equal(
            ref.highways.drop(columns=["refs", "xy"]), other.highways.drop(columns=["refs", "xy"])
        )
        for col in ("refs", "xy"):
            assert all(map(np.array_equal, ref.highways[col], other.highways[col]))
        for layer in OSM_LAYERS:
            a, b = getattr(ref, layer), getattr(other, layer)
            pd.testing.assert_frame_equal(
                pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
            )
            assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()
        for kind in ("walk", "bike", "drive"):
            na, ea = ref.graph(kind)
            nb, eb = other.graph(kind)
            assert na.index.equals(nb.index) and ea.index.equals(eb.index)
            assert np.array_equal(ea["length"].to_numpy(), eb["length"].to_numpy())


def _ways_from_xml(path: Path) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    root = ET.parse(path).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    ways = []
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        coords = [nodes[nd.get("ref")] for nd in w.iter("nd") if nd.get("ref") in nodes]
        ways.append((tags, coords))
    return ways


def test_walk_graph_keeps_every_metre_of_walkable_street(lorient, lorient_xml):
    """Independent check: ElementTree + the filter + shapely give the same total length."""
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    total = 0.0
    for tags, coords in _ways_from_xml(lorient_xml):
        if "highway" not in tags or not _keeps(tags, "walk") or len(coords) < 2:
            continue
        x, y = to_l93.transform(*zip(*coords, strict=True))
        total += shapely.length(shapely.linestrings(np.column_stack([x, y])))
    _nodes, edges = lorient.graph("walk")
    # walk edges run both ways
    assert edges["length"].sum() == pytest.approx(2 * total, rel=1e-9)


def test_graph_follows_osmnx_conventions(lorient):
    import osmnx as ox

    nodes, edges = lorient.graph("walk")
    assert nodes.index.name == "osmid" and list(edges.index.names) == ["u", "v", "key"]
    assert np.allclose(edges["length"], edges.length)
    # geometry runs from u to v
    starts = shapely.get_point(edges.geometry.values, 0)
    u = edges.index.get_level_values("u")
    assert np.allclose(shapely.get_x(starts), nodes.loc[u, "x"].to_numpy())
    # walking ignores oneways: every edge has its reverse
    pairs = set(
        zip(edges.index.get_level_values("u"), edges.index.get_level_values("v"), strict=True)
    )
    assert all((v, u) in pairs for u, v in pairs)
    G = ox.graph_from_gdfs(nodes, edges)
    assert G.number_of_nodes() == len(nodes) and G.number_of_edges() == len(edges)
    # intermediate nodes of degree 2 were merged away: no node with exactly one way in and out
    # unless it ends a way
    assert (nodes["street_count"] != 2).mean() > 0.5


def test_bike_and_drive_graphs_apply_filters_and_oneways(lorient):
    _, walk = lorient.graph("walk")
    _, bike = lorient.graph("bike")
    _, drive = lorient.graph("drive")
    assert not drive["highway"].isin(["footway", "pedestrian", "steps", "path", "cycleway"]).any()
    assert not walk["highway"].isin(["cycleway"]).any()
    assert not bike["highway"].isin(["footway", "steps"]).any()
    assert drive["oneway"].any()
    oneway = drive[drive["oneway"]]
    pairs = set(
        zip(drive.index.get_level_values("u"), drive.index.get_level_values("v"), strict=True)
    )
    u, v = oneway.index.get_level_values("u"), oneway.index.get_level_values("v")
    assert sum((b, a) not in pairs for a, b in zip(u, v, strict=True)) > 10


def test_filters_match_osmnx_exactly():
    from osmnx._overpass import _get_network_filter

    for kind in ("walk", "bike", "drive"):
        text = _get_network_filter(kind)
        for key, pattern in _NETWORK_EXCLUDE[kind].items():
            assert f'["{key}"!~"{pattern.pattern}"]' in text


def _clipped_xml(src: Path, dst: Path) -> int:
    """Drop the nodes east of the median longitude; return how many way refs point to them."""
    text = src.read_text()
    lons = [float(m) for m in re.findall(r'<node [^>]*lon="([-0-9.]+)"', text)]
    cut = float(np.median(lons))
    root = ET.fromstring(text)
    dropped = set()
    for node in list(root.findall("node")):
        if float(node.get("lon")) > cut:
            dropped.add(node.get("id"))
            root.remove(node)
    ET.ElementTree(root).write(dst, encoding="utf-8", xml_declaration=True)
    refs = set()
    for w in root.iter("way"):
        refs.update(nd.get("ref") for nd in w.iter("nd") if nd.get("ref") in dropped)
    return len(refs)


def test_clipped_extract_loads_with_a_warning(lorient_xml, tmp_path):
    clipped = tmp_path / "clipped.osm"
    n_refs = _clipped_xml(lorient_xml, clipped)
    assert n_refs > 100
    with pytest.warns(QetGeoWarning, match=rf"{n_refs} node\(s\)"):
        data = read_osm(clipped)
    assert data.missing.missing_nodes == n_refs
    full = _read(lorient_xml)
    _nodes, edges = data.graph("walk")
    _, full_edges = full.graph("walk")
    assert 0.2 * len(full_edges) < len(edges) < len(full_edges)
    assert 0 < len(data.buildings) < len(full.buildings)
    assert np.isfinite(edges["length"]).all() and (edges["length"] > 0).all()


def test_highway_parts_and_missing_report_match_an_independent_reading(lorient_xml, tmp_path):
    """ElementTree on a clipped file: each highway is cut into its runs of present nodes
    (numbered among its runs, those of one node left out), in the file's order, with the
    nodes' coordinates projected; the report counts every way's absent nodes."""
    clipped = tmp_path / "clipped.osm"
    _clipped_xml(lorient_xml, clipped)
    data = _read(clipped)
    root = ET.parse(clipped).getroot()
    nodes = {
        int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")
    }
    expected = []
    absent_refs: set[int] = set()
    ways_affected = 0
    for w in root.iter("way"):
        refs = [int(nd.get("ref")) for nd in w.iter("nd")]
        absent = [r for r in refs if r not in nodes]
        absent_refs.update(absent)
        ways_affected += bool(absent)
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        if "highway" not in tags:
            continue
        runs: list[list[int]] = [[]]
        for r in refs:
            if r in nodes:
                runs[-1].append(r)
            elif runs[-1]:
                runs.append([])
        for part, run in enumerate(r for r in runs if r):
            if len(run) >= 2:
                kept = {k: v for k, v in tags.items() if k in _WAY_TAGS}
                expected.append((int(w.get("id")), part, kept, run))
    hw = data.highways
    assert len(expected) > 100 and len(hw) == len(expected)
    assert (hw["part"] > 0).sum() > 0  # some ways were cut in two runs at least
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    for (way_id, part, tags, run), row in zip(expected, hw.itertuples(), strict=True):
        assert (row.way_id, row.part, row.tags) == (way_id, part, tags)
        assert row.refs.tolist() == run
        x, y = to_l93.transform(*zip(*(nodes[r] for r in run), strict=True))
        assert np.allclose(row.xy, np.column_stack([x, y]), rtol=0, atol=1e-6)
    assert data.missing.missing_nodes == len(absent_refs)
    assert data.missing.ways_affected == ways_affected


def test_bad_files_get_clear_errors(tmp_path, lorient_pbf):
    with pytest.raises(InputFileError, match="not found"):
        read_osm(tmp_path / "nowhere.osm.pbf")
    text = tmp_path / "notes.osm"
    text.write_text("this is not OSM data\n")
    with pytest.raises(InputFileError, match="could not be read as OpenStreetMap"):
        read_osm(text)
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes(lorient_pbf.read_bytes()[: lorient_pbf.stat().st_size // 2])
    with pytest.raises(InputFileError, match="truncated, corrupt"):
        read_osm(truncated)
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputFileError):
        read_osm(garbage)
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?>\n<osm version="0.6"></osm>\n')
    with pytest.raises(EmptyDataError, match="empty"):
        read_osm(empty)
    gz = tmp_path / "empty.osm.gz"
    gz.write_bytes(gzip.compress(empty.read_bytes()))
    with pytest.raises(EmptyDataError):
        read_osm(gz)
    with pytest.raises(InputFileError, match="unknown OSM file type"):
        read_osm(lorient_pbf.parent / "lorient_layers" / "buildings.shp")


def test_extract_elsewhere_than_territory(lorient_pbf):
    paris = shapely.box(650_000, 6_860_000, 653_000, 6_863_000)
    with pytest.raises(DataCoverageError, match="does not reach the territory"):
        _read(lorient_pbf, mask=paris)


def test_mask_keeps_only_what_touches_it(lorient):
    minx, miny, maxx, maxy = lorient.buildings.total_bounds
    box = shapely.box(minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    part = _read(Path(lorient.path), mask=box)
    assert 0 < len(part.buildings) < len(lorient.buildings)
    assert part.buildings.intersects(box).all()
    _, edges = street_graph(part, network_type="walk")
    assert edges.intersects(box).all()


def test_cycleways_and_transit(lorient):
    cyc = lorient.cycleways
    assert set(cyc["cycle_type"]) <= {"track", "lane", "shared"}
    assert cyc.length.sum() > 1000
    stops = lorient.transit_stops
    assert len(stops) >= 25 and set(stops["mode"]) <= {"bus", "tram", "rail"}
    assert isinstance(stops, gpd.GeoDataFrame)
