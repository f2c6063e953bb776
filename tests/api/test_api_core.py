"""Neighbourhoods, uploads (idempotent, size-limited), indicators, profiles, footprints."""

from __future__ import annotations

import http.client
import json

import pytest
import shapely.geometry

from api.models import FeatureCollection, FootprintsOut, NeighbourhoodOut, ProfilesOut, UploadOut
from tests.api.conftest import build_world, live_server
from tests.api.factories import su_csv


def test_neighbourhood_lists_follow_roles(world):
    c = world.client
    admin = [
        NeighbourhoodOut.model_validate(h)
        for h in c.get("/neighbourhoods", headers=world.headers("admin")).json()
    ]
    assert {h.id for h in admin} >= set(world.hoods.values())
    pilot = c.get("/neighbourhoods", headers=world.headers("pilotA")).json()
    assert [h["id"] for h in pilot] == [world.hoods["A"]]
    public = {h["id"] for h in c.get("/neighbourhoods").json()}
    assert world.hoods["A"] not in public and world.hoods["B"] in public


def test_create_neighbourhood_and_diagnostic(world):
    c = world.client
    r = c.post("/neighbourhoods", json={"name": "Bois du Château"}, headers=world.headers("staff"))
    assert r.status_code == 201
    hood = NeighbourhoodOut.model_validate(r.json())
    r = c.post(
        f"/neighbourhoods/{hood.id}/diagnostics", json={"year": 0}, headers=world.headers("admin")
    )
    assert r.status_code == 201 and r.json()["year"] == 0
    again = c.post(
        f"/neighbourhoods/{hood.id}/diagnostics", json={"year": 0}, headers=world.headers("admin")
    )
    assert again.status_code == 409 and "déjà" in again.json()["detail"]


def test_unknown_fields_are_rejected_and_not_stored(world):
    c = world.client
    r = c.post(
        "/neighbourhoods",
        json={"name": "Intrus", "owner": "x", "is_admin": True},
        headers=world.headers("admin"),
    )
    assert r.status_code == 422
    names = [h["name"] for h in c.get("/neighbourhoods", headers=world.headers("admin")).json()]
    assert "Intrus" not in names
    r = c.post(
        f"/neighbourhoods/{world.hoods['A']}/diagnostics",
        json={"year": 7, "status": "done"},
        headers=world.headers("admin"),
    )
    assert r.status_code == 422


def test_upload_is_idempotent(world):
    c = world.client
    diag = c.post(
        f"/neighbourhoods/{world.hoods['A']}/diagnostics",
        json={"year": 1},
        headers=world.headers("pilotA"),
    ).json()["id"]
    data = su_csv(25, seed=20, prefix="U")
    h = {
        **world.headers("pilotA"),
        "Content-Type": "text/tab-separated-values",
        "Idempotency-Key": "abc-1",
    }
    first = c.post(f"/diagnostics/{diag}/uploads", content=data, headers=h)
    assert first.status_code == 201, first.text
    out = UploadOut.model_validate(first.json())
    assert out.created and out.n_stored == 25
    second = c.post(f"/diagnostics/{diag}/uploads", content=data, headers=h)
    assert second.status_code == 200 and second.json()["upload_id"] == out.upload_id
    h.pop("Idempotency-Key")
    third = c.post(f"/diagnostics/{diag}/uploads", content=data, headers=h)
    assert third.status_code == 200 and not third.json()["created"]
    fp = FootprintsOut.model_validate(c.get(f"/diagnostics/{diag}/footprints", headers=h).json())
    assert fp.n_respondents == 25


def test_upload_errors_are_french_and_mapped(world):
    c = world.client
    h = world.headers("admin")
    r = c.post(f"/diagnostics/{world.diags['A']}/uploads", content=b"", headers=h)
    assert r.status_code == 422 and "vide" in r.json()["detail"]
    r = c.post(f"/diagnostics/{world.diags['A']}/uploads", content=b"\x00\x01garbage", headers=h)
    assert r.status_code == 422 and r.json()["code"]
    r = c.post(
        f"/diagnostics/{world.diags['A']}/uploads",
        content=b"",
        headers={**h, "Accept-Language": "en"},
    )
    assert "empty" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [bytes(range(256)) * 8, b"\x89PNG\r\n\x1a\n" + bytes(64)],
    ids=["binary", "png"],
)
def test_a_binary_upload_is_refused_in_one_language(world, body):
    """The file has no name in an upload: each message names it in its own language."""
    url = f"/diagnostics/{world.diags['A']}/uploads"
    h = world.headers("pilotA")
    fr = world.client.post(url, content=body, headers=h)
    assert fr.status_code == 422 and fr.json()["code"] == "InputFileError"
    detail = fr.json()["detail"]
    assert detail.startswith("le fichier envoyé est ") and "pas un tableau" in detail
    assert "uploaded" not in detail and "file is" not in detail
    en = world.client.post(url, content=body, headers={**h, "Accept-Language": "en"})
    assert en.status_code == 422
    detail = en.json()["detail"]
    assert detail.startswith("the uploaded file is ") and "not a table" in detail
    assert "fichier" not in detail and " est " not in detail


def test_upload_too_large_by_content_length(world):
    big = su_csv(6000, seed=1)
    assert len(big) > 200_000
    r = world.client.post(
        f"/diagnostics/{world.diags['A']}/uploads", content=big, headers=world.headers("admin")
    )
    assert r.status_code == 413 and "dépasse" in r.json()["detail"]


def test_upload_too_large_is_refused_before_reading_the_body(tmp_path):
    """A real server answers 413 on Content-Length alone, and on a chunked body while streaming."""
    w = build_world(f"sqlite:///{tmp_path / 'big.db'}", max_upload_bytes=1000)
    with live_server(w.client.app) as port:
        # announce 1 GB and send nothing: the answer comes without the body
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("POST", f"/diagnostics/{w.diags['A']}/uploads")
        conn.putheader("Authorization", f"Bearer {w.tokens['admin']}")
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert "dépasse" in json.loads(resp.read())["detail"]
        conn.close()
        # chunked, no Content-Length: counted while streaming
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        chunks = (b"x" * 400 for _ in range(10))
        conn.request(
            "POST",
            f"/diagnostics/{w.diags['A']}/uploads",
            body=chunks,
            headers={"Authorization": f"Bearer {w.tokens['admin']}"},
            encode_chunked=True,
        )
        assert conn.getresponse().status == 413
        conn.close()


def test_indicators_geojson_paginated_with_bbox(world):
    c = world.client
    h = world.headers("staff")
    url = f"/diagnostics/{world.diags['A']}/indicators"
    fc = FeatureCollection.model_validate(c.get(url, headers=h).json())
    assert fc.numberMatched >= 1 and fc.numberReturned == len(fc.features)
    assert sum(f.properties["n_respondents"] for f in fc.features) == 60
    for f in fc.features:
        assert f.properties["n_respondents"] >= 11
        left, bottom, right, top = shapely.geometry.shape(f.geometry).bounds
        assert -4 < left < right < -3 and 47 < bottom < top < 48  # WGS84, (lon, lat)
    one = c.get(url, params={"limit": 1}, headers=h).json()
    assert one["numberReturned"] == 1
    if fc.numberMatched > 1:
        assert one["links"][0]["rel"] == "next"
    clamped = c.get(url, params={"limit": 10**6}, headers=h)
    assert clamped.status_code == 200
    assert c.get(url, params={"limit": -5}, headers=h).json()["numberReturned"] == 1
    empty = c.get(url, params={"bbox": "2.0,48.0,2.5,49.0"}, headers=h).json()
    assert empty["numberMatched"] == 0 and empty["features"] == []
    around = c.get(url, params={"bbox": "-3.5,47.6,-3.2,47.9"}, headers=h).json()
    assert around["numberMatched"] == fc.numberMatched
    bad = c.get(url, params={"bbox": "1,2,3"}, headers=h)
    assert bad.status_code == 422 and "bbox" in bad.json()["detail"]
    assert c.get(url, params={"bbox": "3,2,1,4"}, headers=h).status_code == 422


def test_profiles_and_footprints(world):
    c = world.client
    h = world.headers("pilotA")
    p = ProfilesOut.model_validate(
        c.get(f"/diagnostics/{world.diags['A']}/profiles", headers=h).json()
    )
    assert p.published and p.n_respondents == 60
    assert sum(p.shares.values()) == pytest.approx(1.0)
    f = FootprintsOut.model_validate(
        c.get(f"/diagnostics/{world.diags['A']}/footprints", headers=h).json()
    )
    assert f.published and f.mean_kgco2e["total"] > 0
    assert set(f.mean_kgco2e) >= {"meat_frequency", "heat_source", "total"}


def test_nul_characters_are_refused_not_a_server_error(world):
    """PostgreSQL cannot store NUL in text: every body refuses it (422) on both backends."""
    c = world.client
    h = world.headers("admin")
    r = c.post("/neighbourhoods", json={"name": "a\x00b"}, headers=h)
    assert r.status_code == 422 and "NUL" in r.text
    r = c.post(
        f"/diagnostics/{world.diags['A']}/votes",
        json={"question": "Q", "themes": ["a", "b\x00"], "n_participants": 1},
        headers=h,
    )
    assert r.status_code == 422
    r = c.post(
        f"/neighbourhoods/{world.hoods['A']}/diagnostics",
        json={"year": 9, "label": "\x00"},
        headers=h,
    )
    assert r.status_code == 422
    names = [n["name"] for n in c.get("/neighbourhoods", headers=h).json()]
    assert not any("\x00" in n for n in names)
