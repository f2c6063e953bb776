"""Visit route of a neighbourhood as GPX, from the real Lorient extract."""

from __future__ import annotations

import gpxpy
import shapely
import shapely.geometry

from api.main import create_app
from api.settings import Settings
from qet_geo.store import models as store
from tests.conftest import shared


def test_route_gpx(tmp_path):
    osm_dir = shared("osm")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", osm_dir=str(osm_dir)))
    from fastapi.testclient import TestClient

    client = TestClient(app)
    with store.session_scope(app.state.engine) as s:
        admin = store.create_token(s, role="admin")
        other = store.add_neighbourhood(s, name="Ailleurs")
        pilot = store.create_token(s, role="pilot", neighbourhood_ids=[other.id])
    h = {"Authorization": f"Bearer {admin}"}
    bad = client.post(
        "/neighbourhoods", json={"name": "X", "osm_extract": "../../etc/passwd"}, headers=h
    )
    assert bad.status_code == 422
    hood = client.post(
        "/neighbourhoods",
        json={"name": "Lorient centre", "osm_extract": "lorient_centre.osm.pbf"},
        headers=h,
    ).json()["id"]
    r = client.get(f"/neighbourhoods/{hood}/route.gpx?stops=3", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/gpx+xml")
    gpx = gpxpy.parse(r.text)
    points = [p for t in gpx.tracks for seg in t.segments for p in seg.points]
    assert len(points) > 10
    assert all(-3.5 < p.longitude < -3.2 and 47.6 < p.latitude < 47.9 for p in points)
    # a loop by default: the track ends where it starts; one way on request
    assert (points[0].latitude, points[0].longitude) == (points[-1].latitude, points[-1].longitude)
    one_way = gpxpy.parse(
        client.get(f"/neighbourhoods/{hood}/route.gpx?stops=3&loop=false", headers=h).text
    )
    ends = [p for t in one_way.tracks for seg in t.segments for p in seg.points]
    assert (ends[0].latitude, ends[0].longitude) != (ends[-1].latitude, ends[-1].longitude)
    # the stops are chosen inside the neighbourhood's territory once it has one
    box = shapely.box(-3.372, 47.744, -3.362, 47.750)
    put = client.put(
        f"/neighbourhoods/{hood}/territory", json=shapely.geometry.mapping(box), headers=h
    )
    assert put.status_code == 200, put.text
    inside = gpxpy.parse(client.get(f"/neighbourhoods/{hood}/route.gpx?stops=3", headers=h).text)
    assert len(inside.waypoints) >= 3
    assert all(
        box.buffer(1e-9).contains(shapely.Point(w.longitude, w.latitude)) for w in inside.waypoints
    )
    # object-level: another pilot team cannot see it; no extract configured: 422
    pilot_h = {"Authorization": f"Bearer {pilot}"}
    assert client.get(f"/neighbourhoods/{hood}/route.gpx", headers=pilot_h).status_code == 404
    assert client.get(f"/neighbourhoods/{other.id}/route.gpx", headers=h).status_code == 422
