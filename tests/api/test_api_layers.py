"""Layers of a neighbourhood: territory (GeoJSON) and OSM extract upload, on both backends."""

from __future__ import annotations

import http.client
import json
import math
from pathlib import Path

import pytest

from api.models import ExtractOut, NeighbourhoodOut, TerritoryOut
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY, ROOT, build_world, live_server
from tests.conftest import shared

#: A box inside the Nantes extract, far from Lorient.
NANTES_TERRITORY = {
    "type": "Polygon",
    "coordinates": [
        # inside the Nantes extract's header box (-1.5569, 47.2132, -1.5508, 47.2156)
        [
            [-1.5565, 47.2134],
            [-1.5512, 47.2134],
            [-1.5512, 47.2154],
            [-1.5565, 47.2154],
            [-1.5565, 47.2134],
        ]
    ],
}


@pytest.fixture
def layered(empty_database, tmp_path):
    """A fresh world whose extracts go to tmp_path/osm, with a small extract size limit."""
    w = build_world(empty_database, osm_dir=tmp_path / "osm", max_osm_bytes=400_000)
    yield w, tmp_path / "osm"
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _hood(w, *, territory=LORIENT_TERRITORY) -> int:
    r = w.client.post(
        "/neighbourhoods",
        json={"name": "Lorient centre", "territory": territory},
        headers=w.headers("staff"),
    )
    assert r.status_code == 201, r.text
    return NeighbourhoodOut.model_validate(r.json()).id


def _put_extract(w, hood, data, who="admin", **headers):
    return w.client.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=data,
        headers={**w.headers(who), "Content-Type": "application/octet-stream", **headers},
    )


def test_territory_is_set_checked_and_described(layered):
    w, _ = layered
    hood = w.hoods["A"]
    h = w.headers("pilotA")
    assert not w.client.get(f"/neighbourhoods/{hood}", headers=h).json()["has_territory"]
    r = w.client.put(f"/neighbourhoods/{hood}/territory", json=LORIENT_TERRITORY, headers=h)
    assert r.status_code == 200, r.text
    assert w.client.get(f"/neighbourhoods/{hood}", headers=h).json()["has_territory"]
    out = TerritoryOut.model_validate(r.json())
    assert out.area_km2 == pytest.approx(0.79 * 1.28, rel=0.05)  # data/osm/README.md
    assert out.bbox == pytest.approx((-3.365, 47.7435, -3.3545, 47.755), abs=1e-4)
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        geom = store.territory_geometry(s.get(store.Neighbourhood, hood))
    assert geom is not None and 600_000 < geom.area < 1_500_000  # m², Lambert-93
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[-3.36, 47.74], [-3.35, 47.75], [-3.35, 47.74], [-3.36, 47.75], [-3.36, 47.74]]
        ],
    }
    bad = w.client.put(f"/neighbourhoods/{hood}/territory", json=bow_tie, headers=h)
    assert bad.status_code == 422 and "polygone valide" in bad.json()["detail"]
    swapped = {
        "type": "Polygon",
        "coordinates": [[[47.74, -3.36], [47.75, -3.36], [47.75, -3.35], [47.74, -3.36]]],
    }
    r = w.client.put(
        f"/neighbourhoods/{hood}/territory",
        json=swapped,
        headers={**h, "Accept-Language": "en"},
    )
    assert r.status_code == 422 and "(lon, lat)" in r.json()["detail"]
    extra = w.client.put(
        f"/neighbourhoods/{hood}/territory", json={**LORIENT_TERRITORY, "owner": "x"}, headers=h
    )
    assert extra.status_code == 422
    nested = w.client.post(
        "/neighbourhoods",
        json={"name": "Intrus", "territory": {**LORIENT_TERRITORY, "crs": "EPSG:2154"}},
        headers=w.headers("admin"),
    )
    assert nested.status_code == 422


def test_extract_upload_validates_then_replaces_atomically(layered):
    w, osm_dir = layered
    lorient = shared("osm", "lorient_centre.osm.pbf").read_bytes()
    nantes = shared("osm", "nantes_hypercentre.osm.pbf").read_bytes()
    hood = _hood(w)
    # with the pilot team's token of that neighbourhood
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
    w.tokens["pilotL"] = token
    r = _put_extract(w, hood, lorient, who="pilotL")
    assert r.status_code == 200, r.text
    out = ExtractOut.model_validate(r.json())
    assert out.coverage == 1.0 and out.residential_buildings > 500 and out.amenities > 100
    assert out.osm_extract.startswith(f"neighbourhood-{hood}-") and out.size_bytes == len(lorient)
    assert (osm_dir / out.osm_extract).read_bytes() == lorient
    got = w.client.get(f"/neighbourhoods/{hood}", headers=w.headers("admin")).json()
    assert got["osm_extract"] == out.osm_extract
    # the same file again: same name, still there
    again = _put_extract(w, hood, lorient)
    assert again.status_code == 200 and again.json()["osm_extract"] == out.osm_extract
    assert (osm_dir / out.osm_extract).exists()

    def unchanged():
        hood_now = w.client.get(f"/neighbourhoods/{hood}", headers=w.headers("admin")).json()
        assert hood_now["osm_extract"] == out.osm_extract
        assert (osm_dir / out.osm_extract).read_bytes() == lorient
        assert sorted(p.name for p in osm_dir.iterdir()) == [out.osm_extract]  # no temp left

    # not OSM data: refused, clearly, and the previous extract stays
    garbage = _put_extract(w, hood, b"\x00\x01 not a pbf" * 100)
    assert garbage.status_code == 422 and "OpenStreetMap" in garbage.json()["detail"]
    unchanged()
    # an extract of another town does not cover the territory
    elsewhere = _put_extract(w, hood, nantes)
    assert elsewhere.status_code == 422, elsewhere.text
    assert elsewhere.json()["code"] == "DataCoverageError"
    assert "couvre 0%" in elsewhere.json()["detail"]
    unchanged()
    # empty body; too large (announced, then chunked without a length)
    assert _put_extract(w, hood, b"").status_code == 422
    unchanged()
    big = _put_extract(w, hood, b"x" * 400_001)
    assert big.status_code == 413 and "dépasse" in big.json()["detail"]
    unchanged()
    # a good extract for the neighbourhood's new territory replaces it, and the old file goes
    assert (
        w.client.put(
            f"/neighbourhoods/{hood}/territory", json=NANTES_TERRITORY, headers=w.headers("admin")
        ).status_code
        == 200
    )
    moved = _put_extract(w, hood, nantes)
    assert moved.status_code == 200, moved.text
    name = moved.json()["osm_extract"]
    assert name != out.osm_extract
    assert sorted(p.name for p in osm_dir.iterdir()) == [name]


def test_extract_needs_a_territory_and_an_osm_folder(layered):
    w, _ = layered
    lorient = shared("osm", "lorient_centre.osm.pbf").read_bytes()
    r = _put_extract(w, w.hoods["A"], lorient)  # A has no territory
    assert r.status_code == 422 and "territoire" in r.json()["detail"]
    r = _put_extract(w, w.hoods["A"], lorient, **{"Accept-Language": "en"})
    assert "no territory" in r.json()["detail"]
    app = w.client.app
    app.state.settings.osm_dir = None  # type: ignore[attr-defined]
    try:
        r = _put_extract(w, w.hoods["A"], lorient)
        assert r.status_code == 422 and "QET_OSM_DIR" in r.json()["detail"]
    finally:
        app.state.settings.osm_dir = str(layered[1])  # type: ignore[attr-defined]


def test_a_shared_extract_is_never_deleted(layered):
    """An extract the administrator put in the folder (osm_extract by name) stays on upload."""
    w, osm_dir = layered
    lorient = shared("osm", "lorient_centre.osm.pbf").read_bytes()
    osm_dir.mkdir(parents=True, exist_ok=True)
    (osm_dir / "lorient_centre.osm.pbf").write_bytes(lorient)
    r = w.client.post(
        "/neighbourhoods",
        json={
            "name": "Partagé",
            "territory": LORIENT_TERRITORY,
            "osm_extract": "lorient_centre.osm.pbf",
        },
        headers=w.headers("admin"),
    )
    hood = r.json()["id"]
    up = _put_extract(w, hood, lorient)
    assert up.status_code == 200 and up.json()["osm_extract"] != "lorient_centre.osm.pbf"
    assert (osm_dir / "lorient_centre.osm.pbf").exists()


def test_new_endpoints_are_documented(world):
    spec = world.client.get("/openapi.json").json()
    paths = spec["paths"]
    extract = paths["/neighbourhoods/{neighbourhood_id}/osm-extract"]["put"]
    assert "application/octet-stream" in extract["requestBody"]["content"]
    assert {"401", "403", "404", "413", "422"} <= set(extract["responses"])
    territory = paths["/neighbourhoods/{neighbourhood_id}/territory"]["put"]
    assert territory["requestBody"]["content"]["application/json"]
    assert {"get", "post"} <= set(paths["/national/profiles"])
    for op in (extract, territory, paths["/national/profiles"]["post"]):
        assert op["description"] and op["responses"]["422"]["content"]["application/json"]
    job = spec["components"]["schemas"]["JobOut"]["properties"]
    assert {"step", "message", "code"} <= set(job)
    votes = spec["components"]["schemas"]["VoteResults"]["properties"]
    assert {"published", "message"} <= set(votes)


def test_extract_too_large_is_refused_before_reading_the_body(tmp_path):
    """A real server answers 413 on the announced length alone, and counts a chunked body."""
    w = build_world(
        f"sqlite:///{tmp_path / 'big.db'}", osm_dir=tmp_path / "osm", max_osm_bytes=1000
    )
    url = f"/neighbourhoods/{w.hoods['A']}/osm-extract"
    auth = f"Bearer {w.tokens['admin']}"
    with live_server(w.client.app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("PUT", url)
        conn.putheader("Authorization", auth)
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()  # 1 GB announced, nothing sent
        resp = conn.getresponse()
        assert resp.status == 413 and "dépasse" in json.loads(resp.read())["detail"]
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        chunks = (b"x" * 400 for _ in range(10))
        conn.request("PUT", url, body=chunks, headers={"Authorization": auth}, encode_chunked=True)
        assert conn.getresponse().status == 413
        conn.close()
    assert not [p for p in (tmp_path / "osm").iterdir()]  # the partial upload was removed


#: The repository's territory file, as QGIS exported it (a FeatureCollection with a crs).
LORIENT_FILE: dict = json.loads(
    (Path(__file__).parents[2] / "data" / "osm" / "lorient_centre.geojson").read_text()
)
SECRET = "Marie Dupont 12 rue des Lilas"


def _stored_territory(w, hood):
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        return store.territory_geometry(s.get(store.Neighbourhood, hood))


def test_territory_as_geometry_feature_or_collection(layered):
    """The geometry, its Feature and the exported FeatureCollection store the same territory;
    the polygons of a collection are merged."""
    w, _ = layered
    hood = w.hoods["A"]
    h = w.headers("pilotA")
    url = f"/neighbourhoods/{hood}/territory"
    feature = {**LORIENT_FILE["features"][0], "id": 7}  # geojson.io adds an id
    assert LORIENT_FILE["type"] == "FeatureCollection" and "crs" in LORIENT_FILE
    stored, answers = [], []
    for body in (LORIENT_TERRITORY, feature, LORIENT_FILE):
        r = w.client.put(url, json=body, headers=h)
        assert r.status_code == 200, r.text
        answers.append(TerritoryOut.model_validate(r.json()))
        stored.append(_stored_territory(w, hood))
    assert stored[0].wkt == stored[1].wkt == stored[2].wkt
    assert answers[0] == answers[1] == answers[2]
    # two overlapping halves of the box, as two features: their union, the whole box
    (ring,) = LORIENT_TERRITORY["coordinates"]
    (west, south), (east, north) = ring[0], ring[2]
    mid = (west + east) / 2

    def box(left, right):
        coords = [[left, south], [right, south], [right, north], [left, north], [left, south]]
        return {
            "type": "Feature",
            "properties": {"name": SECRET},
            "geometry": {"type": "Polygon", "coordinates": [coords]},
        }

    halves = {"type": "FeatureCollection", "features": [box(west, mid + 0.001), box(mid, east)]}
    r = w.client.put(url, json=halves, headers=h)
    assert r.status_code == 200, r.text
    merged = _stored_territory(w, hood)
    assert merged.geom_type == "Polygon"
    assert merged.area == pytest.approx(stored[0].area, rel=1e-6)
    assert SECRET not in r.text


def test_territory_collections_that_are_not_polygons_are_refused(layered):
    """A point, a line, an empty collection, a projected export, too many vertices: refused in
    French (English on request), never echoing the body, and the territory stays."""
    w, _ = layered
    hood = w.hoods["A"]
    h = w.headers("pilotA")
    url = f"/neighbourhoods/{hood}/territory"
    assert w.client.put(url, json=LORIENT_FILE, headers=h).status_code == 200
    before = _stored_territory(w, hood).wkt
    polygon = LORIENT_FILE["features"][0]
    point = {
        "type": "Feature",
        "properties": {"name": SECRET},
        "geometry": {"type": "Point", "coordinates": [-3.36, 47.75]},
    }
    line = {
        **point,
        "geometry": {"type": "LineString", "coordinates": [[-3.36, 47.75], [-3.35, 47.75]]},
    }
    projected = {
        **LORIENT_FILE,
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::2154 {SECRET}"}},
    }
    cases = [
        (
            {"type": "FeatureCollection", "features": [polygon, point]},
            "l'objet n° 2 du territoire est un Point, pas un polygone",
        ),
        ({"type": "FeatureCollection", "name": SECRET, "features": []}, "ne contient aucun objet"),
        (line, "la Feature du territoire est un LineString, pas un polygone"),
        ({**point, "geometry": None}, "n'a pas de géométrie"),
        (
            {"type": "FeatureCollection", "features": [{**point, "geometry": {"type": SECRET}}]},
            "est un objet inconnu",
        ),
        (projected, "EPSG:4326"),
    ]
    for body, words in cases:
        r = w.client.put(url, json=body, headers=h)
        assert r.status_code == 422, (words, r.text)
        assert words in r.json()["detail"], r.json()["detail"]
        assert r.json()["code"] == "ValidationError"
        assert SECRET not in r.text and "Marie" not in r.text
    en = w.client.put(
        url,
        json={"type": "FeatureCollection", "features": [polygon, point]},
        headers={**h, "Accept-Language": "en"},
    )
    assert en.status_code == 422
    assert en.json()["detail"].startswith("feature 2 of the territory is a Point, not a polygon")
    # the vertex limit counts every polygon of a collection
    limit = w.client.app.state.settings.max_territory_vertices  # type: ignore[attr-defined]
    n = limit // 2 + 10
    circles = [
        [
            [
                -3.36 + 0.002 * math.cos(2 * math.pi * i / n) + dx,
                47.75 + 0.002 * math.sin(2 * math.pi * i / n),
            ]
            for i in range(n)
        ]
        for dx in (0.0, 0.005)
    ]
    many = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*c, c[0]]]},
            }
            for c in circles
        ],
    }
    r = w.client.put(url, json=many, headers=h)
    assert r.status_code == 422 and "sommets" in r.json()["detail"], r.text
    assert _stored_territory(w, hood).wkt == before


def test_a_new_neighbourhood_takes_its_outline_as_qgis_exports_it(layered):
    """POST /neighbourhoods takes the territory in the shapes PUT .../territory takes: the
    demo's FeatureCollection file as written, a Feature; a line is refused in words."""
    w, _ = layered
    document = json.loads((ROOT / "data" / "osm" / "lorient_centre.geojson").read_text())
    as_file = _hood(w, territory=document)
    as_feature = _hood(w, territory=document["features"][0])
    bare = _hood(w)
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        shapes = [
            store.territory_geometry(s.get(store.Neighbourhood, h))
            for h in (as_file, as_feature, bare)
        ]
    assert shapes[0].equals(shapes[2]) and shapes[1].equals(shapes[2])
    line = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[-3.36, 47.75], [-3.35, 47.75]]},
    }
    r = w.client.post(
        "/neighbourhoods", json={"name": "Ligne", "territory": line}, headers=w.headers("staff")
    )
    assert r.status_code == 422 and "polygone" in r.json()["detail"].lower(), r.text
