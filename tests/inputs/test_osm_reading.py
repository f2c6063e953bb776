"""The OSM reader's fast paths, each against the plain way on the real extracts.

- tags and way nodes read on pyosmium's C++ objects = read through its public iterators;
- areas decoded from WKB in numpy = ``shapely.from_wkb`` then projected;
- one strict pass for a complete file, the checked pass for a clipped one;
- the buildings' ``residential`` column = ``_is_residential`` building by building;
- the cycle collector held off during a read and given back as it was.
"""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely

from qet_geo._gc import no_cycle_collection
from qet_geo.errors import QetGeoWarning
from qet_geo.inputs import _osm_fast, _wkb
from qet_geo.inputs import osm as osm_mod
from qet_geo.inputs.osm import _READ_KEYS, read_osm

EXTRACTS = (
    "lorient_centre.osm.pbf",
    "nantes_hypercentre.osm.pbf",
    "pont_de_veyle.osm.gz",
    "saudron_rural.osm.gz",
)


def _read(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return read_osm(path)


def test_the_installed_pyosmium_takes_the_fast_path():
    # if an upgrade removes the C++ methods, reading still works (the public iterators) but a
    # city's extract takes twice as long: this says so
    assert _osm_fast.FAST


@pytest.mark.parametrize("name", EXTRACTS)
def test_fast_tags_and_nodes_equal_the_public_iterators(name):
    from tests.conftest import shared

    path = shared("osm", name)
    processor = osmium.FileProcessor(str(path)).with_areas()
    kept = {k: k for k in ("building", "name", "highway", "amenity", "addr:street")}
    seen = {"n": 0, "w": 0, "r": 0, "a": 0}
    nodes = 0
    for obj in processor:
        assert _osm_fast.all_tags(obj) == _osm_fast.all_tags(obj, fast=False)
        assert _osm_fast.kept_tags(obj, kept) == _osm_fast.kept_tags(obj, kept, fast=False)
        seen[obj.type_str()] += 1
        if isinstance(obj, osmium.osm.Way):
            fast = _osm_fast.way_nodes(obj)
            public = _osm_fast.way_nodes(obj, fast=False)
            assert [(n.ref, n.location.x, n.location.y) for n in fast] == [
                (n.ref, n.location.x, n.location.y) for n in public
            ]
            nodes += len(fast)
    assert all(seen.values()), seen  # every kind of object was compared
    assert nodes > 1000


def _areas_wkb(path: Path) -> list[bytes]:
    """The areas of ``path`` as the reader keeps them (libosmium's WKB)."""
    wkb = osmium.geom.WKBFactory()
    out = []
    processor = (
        osmium.FileProcessor(str(path))
        .with_areas()
        .with_filter(osmium.filter.KeyFilter(*_READ_KEYS))
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Area):
            try:
                out.append(bytes.fromhex(wkb.create_multipolygon(obj)))
            except RuntimeError:
                continue
    return out


def _project(xy: np.ndarray) -> np.ndarray:
    return osm_mod._lonlat_to_l93(xy)


@pytest.mark.parametrize("name", EXTRACTS)
def test_areas_decoded_in_numpy_equal_shapely_from_wkb(name):
    from tests.conftest import shared

    wkbs = _areas_wkb(shared("osm", name))
    expected = shapely.from_wkb(wkbs)
    expected = shapely.set_coordinates(expected, _project(shapely.get_coordinates(expected)))
    lengths = np.array([len(w) for w in wkbs], dtype=np.int64)
    got = _wkb.multipolygons(b"".join(wkbs), lengths, _project)
    assert (shapely.to_wkb(got) == shapely.to_wkb(expected)).all()
    # both kinds were met: one-ring areas (numpy) and the others (GEOS), unless the extract has
    # none of the latter
    simple = _wkb._one_ring(
        np.frombuffer(b"".join(wkbs), np.uint8), np.cumsum(lengths) - lengths, lengths
    )
    assert simple.sum() > 100


def test_areas_of_every_shape_and_byte_order_are_decoded(lorient_pbf):
    wkbs = _areas_wkb(lorient_pbf)[:300]
    base = shapely.from_wkb(wkbs)
    # a hole, several polygons, big-endian, a ring of 4 points, a ring of 3 (invalid, kept)
    square = shapely.Polygon([(0, 0), (1e-3, 0), (1e-3, 1e-3), (0, 0)])
    holed = shapely.MultiPolygon(
        [shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], [[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4)]])]
    )
    several = shapely.MultiPolygon([base[0].geoms[0], base[1].geoms[0]])
    extra = [
        shapely.to_wkb(holed),
        shapely.to_wkb(several),
        shapely.to_wkb(base[2], byte_order=0),
        shapely.to_wkb(shapely.MultiPolygon([square])),
    ]
    mixed = [wkbs[0], *extra[:2], *wkbs[1:150], extra[2], *wkbs[150:], extra[3]]
    lengths = np.array([len(w) for w in mixed], dtype=np.int64)
    expected = shapely.from_wkb(mixed)
    expected = shapely.set_coordinates(expected, _project(shapely.get_coordinates(expected)))
    old_block = _wkb._BLOCK
    try:
        _wkb._BLOCK = 64  # several blocks, each mixing both kinds
        got = _wkb.multipolygons(b"".join(mixed), lengths, _project)
    finally:
        _wkb._BLOCK = old_block
    assert (shapely.to_wkb(got) == shapely.to_wkb(expected)).all()
    assert len(_wkb.multipolygons(b"", np.array([], dtype=np.int64), _project)) == 0


def test_wkb_list_splits_the_buffer_back(lorient_pbf):
    wkbs = _areas_wkb(lorient_pbf)[:50]
    assert _wkb.wkb_list(b"".join(wkbs), np.array([len(w) for w in wkbs])) == wkbs


@pytest.fixture
def passes(monkeypatch) -> list[bool]:
    """The passes the reader makes, strict or not, in order."""
    made: list[bool] = []
    real = osm_mod._read_pass

    def counted(path, *, strict):
        made.append(strict)
        return real(path, strict=strict)

    monkeypatch.setattr(osm_mod, "_read_pass", counted)
    return made


def test_a_complete_file_is_read_in_one_strict_pass(lorient_pbf, passes):
    data = _read(lorient_pbf)
    assert passes == [True]
    assert data.missing.missing_nodes == 0 and data.missing.ways_affected == 0


def test_a_clipped_file_is_read_again_with_every_way_checked(lorient_pbf, tmp_path, passes):
    # the western part of Lorient's nodes only: ways crossing the cut cite absent nodes
    clipped = tmp_path / "clipped.osm.pbf"
    writer = osmium.SimpleWriter(str(clipped))
    absent: set[int] = set()
    for obj in osmium.FileProcessor(str(lorient_pbf)):
        if obj.is_node():
            if obj.location.lon < -3.355:
                writer.add_node(obj)
            else:
                absent.add(obj.id)
        elif obj.is_way():
            writer.add_way(obj)
        else:
            writer.add_relation(obj)
    writer.close()
    # the ways citing an absent node, read independently of the reader
    cited: set[int] = set()
    ways = closed = 0
    for obj in osmium.FileProcessor(str(clipped), osmium.osm.WAY):
        refs = [n.ref for n in obj.nodes]
        gone = absent.intersection(refs)
        if gone:
            cited |= gone
            ways += 1
            closed += refs[0] == refs[-1]

    data = _read(clipped)
    assert passes == [True, False]
    assert data.missing.missing_nodes == len(cited) > 100
    assert data.missing.ways_affected == ways
    assert data.missing.areas_lost >= closed > 10
    # what the pass keeps of a way whose nodes are all present is unchanged
    assert len(data.buildings) > 500


@pytest.mark.parametrize("name", EXTRACTS)
def test_the_residential_column_is_is_residential_building_by_building(name):
    from tests.conftest import shared

    path = shared("osm", name)
    raw = osm_mod._read_any_order(path)
    tags = dict(zip(raw.area_keys, raw.area_tags, strict=True))
    buildings = _read(path).buildings
    expected = [
        osm_mod._is_residential(tags[key], area)
        for key, area in zip(buildings.index, buildings["footprint_m2"], strict=True)
    ]
    assert buildings["residential"].tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_no_cycle_collection_holds_the_collector_off_and_gives_it_back():
    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
        with no_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
    # an error inside gives it back too
    with pytest.raises(ValueError), no_cycle_collection():
        raise ValueError
    assert gc.isenabled()
    # disabled before: left disabled
    gc.disable()
    try:
        with no_cycle_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_no_cycle_collection_across_threads():
    inside = threading.Barrier(3)
    release = {"a": threading.Event(), "b": threading.Event()}

    def hold(name: str) -> None:
        with no_cycle_collection():
            inside.wait()
            release[name].wait()

    threads = {n: threading.Thread(target=hold, args=(n,)) for n in release}
    for t in threads.values():
        t.start()
    inside.wait()
    assert not gc.isenabled()
    release["a"].set()
    threads["a"].join()
    assert not gc.isenabled()  # b still holds it
    release["b"].set()
    threads["b"].join()
    assert gc.isenabled()


def test_reading_leaves_the_collector_enabled(lorient_pbf):
    _read(lorient_pbf)
    assert gc.isenabled()
