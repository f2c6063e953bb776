"""The extract upload takes what ``qet layers`` reads (issue 14): .osm.pbf, .osm, .osm.gz and
.osm.bz2, recognised by their content, under the same limits, on both backends."""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
import zlib

import pytest

from api.models import ExtractOut, NeighbourhoodOut
from qet_geo.errors import InputFileError
from qet_geo.inputs.osm import read_osm
from qet_geo.store.jobs import check_extract, extract_suffix
from tests.api.conftest import LORIENT_TERRITORY, build_world
from tests.conftest import shared

#: Upload limit of these tests: the plain XML of Lorient (4.95 MB) fits, a bomb does not.
MAX_OSM_BYTES = 6_000_000


@pytest.fixture
def lorient_formats(tmp_path):
    """The shared Lorient extract in the four formats, as bytes."""
    xml = gzip.decompress(shared("osm", "lorient_centre.osm.gz").read_bytes())
    assert len(xml) < MAX_OSM_BYTES
    return {
        ".osm.pbf": shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        ".osm.gz": shared("osm", "lorient_centre.osm.gz").read_bytes(),
        ".osm": xml,
        ".osm.bz2": bz2.compress(xml),
    }


@pytest.fixture
def hood_world(empty_database, tmp_path):
    """A fresh world whose extracts go to tmp_path/osm, and a neighbourhood over Lorient."""
    w = build_world(empty_database, osm_dir=tmp_path / "osm", max_osm_bytes=MAX_OSM_BYTES)
    r = w.client.post(
        "/neighbourhoods",
        json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
        headers=w.headers("staff"),
    )
    assert r.status_code == 201, r.text
    yield w, NeighbourhoodOut.model_validate(r.json()).id, tmp_path / "osm"
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _put(w, hood, data, **headers):
    return w.client.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=data,
        headers={**w.headers("admin"), "Content-Type": "application/octet-stream", **headers},
    )


def _stored(w, hood) -> str | None:
    return w.client.get(f"/neighbourhoods/{hood}", headers=w.headers("admin")).json()["osm_extract"]


def test_the_four_formats_give_the_same_layers(hood_world, lorient_formats):
    """The same extract sent as PBF, gzip, plain XML and bzip2 is accepted, kept as sent, under
    the suffix of its content, and gives the same layers."""
    w, hood, osm_dir = hood_world
    answers, counts = {}, {}
    for suffix, data in lorient_formats.items():
        r = _put(w, hood, data)
        assert r.status_code == 200, (suffix, r.text)
        out = ExtractOut.model_validate(r.json())
        assert out.osm_extract.endswith(suffix) and out.osm_extract.startswith(
            f"neighbourhood-{hood}-"
        )
        assert suffix != ".osm" or not out.osm_extract.endswith(".pbf")
        assert out.size_bytes == len(data) and (osm_dir / out.osm_extract).read_bytes() == data
        assert _stored(w, hood) == out.osm_extract
        # the previous upload is replaced, and no temporary file is left
        assert sorted(p.name for p in osm_dir.iterdir()) == [out.osm_extract]
        answers[suffix] = (out.coverage, out.residential_buildings, out.amenities, out.bbox)
        with pytest.warns(Warning):  # the extract is clipped at its border
            counts[suffix] = read_osm(osm_dir / out.osm_extract).layer_counts()
    pbf = answers[".osm.pbf"]
    assert pbf[0] == 1.0 and pbf[1] > 500 and pbf[2] > 100
    assert all(a[:3] == pbf[:3] for a in answers.values()), answers
    # the data extent: the XML files state the box they were cut to (<bounds>); the PBF, made
    # from them, lost its header, and its buildings' extent stands for it (a building crossing
    # the edge passes it by a few metres)
    box = (-3.3654, 47.743, -3.3454, 47.7554)
    assert all(
        answers[s][3] == pytest.approx(box, abs=2e-4) for s in (".osm", ".osm.gz", ".osm.bz2")
    )
    left, bottom, right, top = pbf[3]
    assert left <= box[0] and bottom <= box[1] and right >= box[2] and top >= box[3]
    assert pbf[3] == pytest.approx(box, abs=2e-3)
    assert all(c == counts[".osm.pbf"] for c in counts.values()), counts


def _bomb(compress: str, inflated_bytes: int = 64 << 20) -> bytes:
    """A valid-looking OSM XML file of ``inflated_bytes`` (mostly spaces), compressed."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
    filler = b" " * (1 << 20)
    if compress == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as f:
            f.write(head)
            for _ in range(inflated_bytes >> 20):
                f.write(filler)
            f.write(b"</osm>\n")
        return out.getvalue()
    packer = bz2.BZ2Compressor(9)
    parts = [packer.compress(head)]
    parts += [packer.compress(filler) for _ in range(inflated_bytes >> 20)]
    return b"".join([*parts, packer.compress(b"</osm>\n"), packer.flush()])


@pytest.mark.parametrize("compress", ["gzip", "bzip2"])
def test_a_compression_bomb_is_refused(hood_world, compress):
    """A few kB that inflate to 64 MiB, past the 6 MB an extract may be, are refused (422, in
    French or English) once the limit is inflated, and nothing is stored."""
    w, hood, osm_dir = hood_world
    bomb = _bomb(compress)
    assert len(bomb) < 200_000
    r = _put(w, hood, bomb)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "InputFileError"
    assert body["detail"].startswith("l'extrait décompressé dépasse 6\u202f000\u202f000 octets")
    assert "osm.pbf" in body["detail"] and "upload" not in body["detail"]
    assert str(osm_dir) not in r.text
    en = _put(w, hood, bomb, **{"Accept-Language": "en"})
    assert en.status_code == 422 and "6,000,000 bytes" in en.json()["detail"]
    assert _stored(w, hood) is None
    assert list(osm_dir.iterdir()) == []


def test_other_files_are_refused_by_their_content(hood_world, lorient_formats):
    """A PBF gzipped again, a zip archive and an HTML page are refused in words, whatever they
    would be named; nothing is stored."""
    w, hood, osm_dir = hood_world
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("lorient_centre.osm.pbf", lorient_formats[".osm.pbf"])
    cases = {
        gzip.compress(lorient_formats[".osm.pbf"]): "compressé une seconde fois",
        zipped.getvalue(): "archive zip",
        b"<html><body>runtime error: Query timed out</body></html>": "OpenStreetMap",
        bz2.compress(b"not xml at all " * 100): "ne contient pas de XML OpenStreetMap",
        lorient_formats[".osm.gz"][: len(lorient_formats[".osm.gz"]) // 2]: "tronqué",
    }
    for data, words in cases.items():
        r = _put(w, hood, data)
        assert r.status_code == 422, (words, r.text)
        assert words in r.json()["detail"], r.json()["detail"]
        assert "Query timed out" not in r.text and str(osm_dir) not in r.text
    assert _stored(w, hood) is None
    assert list(osm_dir.iterdir()) == []


def test_formats_are_read_from_the_content(tmp_path, lorient_formats):
    """extract_suffix reads the first bytes; check_extract refuses a name that lies."""
    for suffix, data in lorient_formats.items():
        assert extract_suffix(data[:4096]) == suffix
    # Overpass writes a BOM and a blank line before the XML declaration
    assert extract_suffix(b"\xef\xbb\xbf\n <?xml version='1.0'?><osm>") == ".osm"
    with pytest.raises(InputFileError, match="not a recognised OpenStreetMap file"):
        extract_suffix(zlib.compress(lorient_formats[".osm"][:4096]))
    lying = tmp_path / "lorient.osm.pbf"
    lying.write_bytes(lorient_formats[".osm.gz"])
    with pytest.raises(InputFileError) as err:
        check_extract(lying)
    assert ".osm.gz" in err.value.message_fr
    plain = tmp_path / "lorient.osm"
    plain.write_bytes(lorient_formats[".osm"])
    assert check_extract(plain, max_xml_bytes=len(lorient_formats[".osm"])) == ".osm"
    with pytest.raises(InputFileError, match="decompressed extract is larger"):
        check_extract(plain, max_xml_bytes=len(lorient_formats[".osm"]) - 1)
