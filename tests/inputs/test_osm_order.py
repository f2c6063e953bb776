"""Unsorted OSM files: an Overpass ``out qt`` export (quadtile order, BOM) and a JOSM save
(negative ids, ``action`` attributes) read like the sorted extract they come from."""

from __future__ import annotations

import gzip
import json
import random
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.errors import InputFileError, QetGeoWarning
from qet_geo.inputs import _osm_order
from qet_geo.inputs.osm import OSM_LAYERS, OsmData, read_osm
from qet_geo.layers import build_layers

BOM = b"\xef\xbb\xbf"
CORRUPT = "truncated, corrupt"


def _read(path: Path) -> OsmData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return read_osm(path)


def _write(root: ET.Element, objects: list[ET.Element], path: Path, *, bom: bool = False) -> Path:
    out = ET.Element("osm", root.attrib)
    out.extend(e for e in root if e.tag not in ("node", "way", "relation"))
    out.extend(objects)
    data = ET.tostring(out, encoding="utf-8", xml_declaration=True)
    path.write_bytes((BOM if bom else b"") + data)
    return path


def _quadtile(lon: float, lat: float) -> int:
    """Overpass's quadtile index: the bits of the quantized latitude and longitude interleaved."""
    x = int((lon + 180.0) / 360.0 * 0xFFFF)
    y = int((lat + 90.0) / 180.0 * 0xFFFF)
    return sum(((x >> i) & 1) << (2 * i) | ((y >> i) & 1) << (2 * i + 1) for i in range(16))


@pytest.fixture(scope="module")
def lorient_root(lorient_xml: Path) -> ET.Element:
    return ET.parse(lorient_xml).getroot()


@pytest.fixture(scope="module")
def sorted_lorient(lorient_xml: Path) -> OsmData:
    return _read(lorient_xml)


@pytest.fixture(scope="module")
def overpass_osm(lorient_root: ET.Element, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lorient as Overpass writes `out qt`: objects in quadtile order, not by id; one way ahead
    of every node, one node after the ways; a UTF-8 BOM."""
    nodes = [e for e in lorient_root if e.tag == "node"]
    ways = [e for e in lorient_root if e.tag == "way"]
    relations = [e for e in lorient_root if e.tag == "relation"]
    tile = {n.get("id"): _quadtile(float(n.get("lon")), float(n.get("lat"))) for n in nodes}
    nodes.sort(key=lambda n: tile[n.get("id")])
    ways.sort(key=lambda w: tile.get(w.find("nd").get("ref"), 0))
    relations.reverse()
    highway = next(w for w in ways if w.find("tag[@k='highway']") is not None)
    ways.remove(highway)
    late_node = nodes.pop(len(nodes) // 2)
    objects = [highway, *nodes, *ways, late_node, *relations]
    path = tmp_path_factory.mktemp("overpass") / "overpass_lorient.osm"
    return _write(lorient_root, objects, path, bom=True)


@pytest.fixture(scope="module")
def josm_osm(
    lorient_root: ET.Element, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str], str]:
    """Lorient saved by JOSM: 200 nodes and 30 ways new (negative ids), 100 ways modified, one
    building deleted. Returns the file, its new keys → the original ones, the deleted key."""
    root = ET.fromstring(ET.tostring(lorient_root))
    root.attrib = {"version": "0.6", "generator": "JOSM", "upload": "never"}
    rnd = random.Random(14)
    nodes = [e for e in root if e.tag == "node"]
    ways = [e for e in root if e.tag == "way"]
    new_nodes: dict[str, str] = {}
    for k, node in enumerate(rnd.sample(nodes, 200), start=1):
        new_nodes[node.get("id")] = str(-k)
    new_ways: dict[str, str] = {}
    for k, way in enumerate(rnd.sample(ways, 30), start=1):
        new_ways[way.get("id")] = str(-1000 - k)
    for element in root:
        element.set("visible", "true")
        renamed = (new_nodes if element.tag == "node" else new_ways).get(element.get("id"))
        if element.tag != "relation" and renamed is not None:
            element.set("id", renamed)
            element.set("action", "modify")
            for attribute in ("version", "changeset", "timestamp", "user", "uid"):
                element.attrib.pop(attribute, None)
    for nd in root.iter("nd"):
        nd.set("ref", new_nodes.get(nd.get("ref"), nd.get("ref")))
    for member in root.iter("member"):
        if member.get("type") == "way":
            member.set("ref", new_ways.get(member.get("ref"), member.get("ref")))
    for way in rnd.sample(ways, 100):
        way.set("action", "modify")
    building = next(
        w
        for w in ways
        if w.find("tag[@k='building']") is not None
        and int(w.get("id")) > 0
        and w.get("action") is None
    )
    building.set("action", "delete")
    rename = {f"n{new}": f"n{old}" for old, new in new_nodes.items()}
    rename |= {f"w{new}": f"w{old}" for old, new in new_ways.items()}
    path = tmp_path_factory.mktemp("josm") / "josm_lorient.osm"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path, rename, f"w{building.get('id')}"


def _assert_same_layers(
    ref: OsmData, other: OsmData, *, rename: Callable[[str], str] = str, drop: str | None = None
) -> None:
    for name in OSM_LAYERS:
        a = getattr(ref, name).drop(index=[drop] if drop else [], errors="ignore")
        b = getattr(other, name).rename(index=rename)
        if "building_key" in b.columns:
            b["building_key"] = b["building_key"].map(rename, na_action="ignore")
        assert sorted(b.index) == sorted(a.index), name
        b = b.loc[a.index]
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all(), name


def test_overpass_quadtile_order_and_bom_read_like_the_sorted_extract(
    overpass_osm, sorted_lorient, tmp_path
):
    assert overpass_osm.read_bytes().startswith(BOM)
    gz = tmp_path / "overpass_lorient.osm.gz"
    gz.write_bytes(gzip.compress(overpass_osm.read_bytes()))
    for path in (overpass_osm, gz):
        data = _read(path)
        # the way placed before its nodes found every one of them
        assert data.missing == sorted_lorient.missing
        assert data.bounds == pytest.approx(sorted_lorient.bounds)
        _assert_same_layers(sorted_lorient, data)
        for kind in ("walk", "drive"):
            nodes_a, edges_a = sorted_lorient.graph(kind)
            nodes_b, edges_b = data.graph(kind)
            assert nodes_a.index.equals(nodes_b.index) and edges_a.index.equals(edges_b.index)
            assert np.array_equal(edges_a["length"].to_numpy(), edges_b["length"].to_numpy())


def test_josm_save_reads_like_the_extract_without_its_deleted_object(josm_osm, sorted_lorient):
    path, rename, deleted = josm_osm
    assert deleted in sorted_lorient.buildings.index
    data = _read(path)
    # new objects keep JOSM's negative ids
    assert any(k.startswith("w-") for k in data.buildings.index) or any(
        k.startswith("w-") for k in data.parks.index
    )
    assert deleted not in data.buildings.index
    assert len(data.buildings) == len(sorted_lorient.buildings) - 1
    _assert_same_layers(sorted_lorient, data, rename=lambda k: rename.get(k, k), drop=deleted)
    assert data.missing == sorted_lorient.missing
    _, edges_a = sorted_lorient.graph("walk")
    _, edges_b = data.graph("walk")
    assert np.array_equal(np.sort(edges_a["length"]), np.sort(edges_b["length"]))
    assert (edges_b.index.get_level_values("u") < 0).any()


def test_build_layers_and_qet_layers_take_overpass_and_josm_files(
    overpass_osm, josm_osm, lorient_xml, tmp_path
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        ref = build_layers(lorient_xml).counts()
        assert build_layers(overpass_osm).counts() == ref
        josm = build_layers(josm_osm[0]).counts()
    assert josm == {**ref, "buildings": ref["buildings"] - 1}
    for path, expected in ((overpass_osm, ref), (josm_osm[0], josm)):
        out = tmp_path / path.stem
        res = CliRunner().invoke(app, ["layers", str(path), "--out", str(out), "--json"])
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        assert summary["layers"] == expected


def test_corrupt_files_are_still_corrupt_and_no_copy_is_left(
    overpass_osm, josm_osm, lorient_pbf, tmp_path, monkeypatch
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    text = overpass_osm.read_bytes()
    cut = tmp_path / "cut.osm"  # unsorted and truncated: sorting it fails, it is corrupt
    cut.write_bytes(text[: len(text) // 2])
    garbage = tmp_path / "garbage.osm"
    garbage.write_bytes(text[:4000] + bytes(range(256)) * 64)
    not_xml = tmp_path / "notes.osm.gz"
    not_xml.write_bytes(gzip.compress(b"name;lon;lat\nboulangerie;-3.36;47.75\n"))
    bad_blocks = tmp_path / "bad.osm.pbf"
    pbf = bytearray(lorient_pbf.read_bytes())
    pbf[len(pbf) // 2 : len(pbf) // 2 + 2000] = bytes(2000)
    bad_blocks.write_bytes(bytes(pbf))
    josm_cut = tmp_path / "josm_cut.osm.gz"  # a JOSM save whose compression is cut
    josm_gz = gzip.compress(josm_osm[0].read_bytes())
    josm_cut.write_bytes(josm_gz[: len(josm_gz) // 2])
    for path in (cut, garbage, not_xml, bad_blocks, josm_cut):
        with pytest.raises(InputFileError, match=CORRUPT):
            _read(path)
    _read(overpass_osm)
    assert list(scratch.iterdir()) == []


def test_sorted_and_clipped_files_are_read_without_a_copy(
    lorient_pbf, lorient_xml, tmp_path, monkeypatch
):
    def refuse(*args, **kwargs):
        raise AssertionError("a sorted file was copied")

    monkeypatch.setattr(_osm_order, "normalized_copy", refuse)
    # a clipped extract: its ways cite nodes absent from the file, which no sort can find
    root = ET.parse(lorient_xml).getroot()
    nodes = [e for e in root if e.tag == "node"]
    cut = float(np.median([float(n.get("lon")) for n in nodes]))
    for node in nodes:
        if float(node.get("lon")) > cut:
            root.remove(node)
    clipped = tmp_path / "clipped.osm"
    ET.ElementTree(root).write(clipped, encoding="utf-8", xml_declaration=True)
    for path in (lorient_pbf, lorient_xml, clipped):
        assert len(_read(path).buildings) > 0
    assert _read(clipped).missing.missing_nodes > 100
