"""The visit written out: GPX, GeoJSON and the HTML roadbook, atomically."""

from __future__ import annotations

import html

import geopandas as gpd
import gpxpy
import pytest

from qet_geo.errors import ValidationError
from qet_geo.visit import export
from qet_geo.visit.export import to_geojson, to_roadbook, write_route
from qet_geo.visit.plan import plan_route
from tests.visit.conftest import lonlat

# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------


def test_outputs_gpx_geojson_html(tmp_path, net, places):
    stops = places.sample(6, random_state=8).assign(reason="Pour voir <ça> & le reste")
    start = stops.geometry.iloc[0].buffer(40).exterior.interpolate(0)
    visit = plan_route(net, stops.iloc[1:], start=start, loop=True)
    paths = write_route(visit, tmp_path / "visite.gpx", title="Lorient centre")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "visite.geojson",
        "visite.gpx",
        "visite.html",
    ]

    gpx = gpxpy.parse(paths["gpx"].read_text(encoding="utf-8"))
    names = [w.name for w in gpx.waypoints]
    assert names[0] == "00 Départ"
    expected = [f"{i:02d} {n}" for i, n in enumerate(visit.stops["name"], start=1)]
    assert names[1:] == expected
    for w, geom in zip(gpx.waypoints[1:], visit.stops.geometry, strict=True):
        assert (w.longitude, w.latitude) == pytest.approx(lonlat(geom), abs=1e-6)
    assert gpx.waypoints[1].description == "Pour voir <ça> & le reste"
    assert len(gpx.tracks) == 1
    assert gpx.length_2d() == pytest.approx(visit.length_m, rel=0.01)
    first = gpx.tracks[0].segments[0].points[0]
    assert (first.longitude, first.latitude) == pytest.approx(lonlat(start), abs=1e-6)

    layer = gpd.read_file(paths["geojson"])
    assert layer.crs.to_epsg() == 4326
    stops_out = layer[layer["kind"] == "stop"]
    assert list(stops_out["id"]) == [str(i) for i in visit.stops.index]
    assert list(stops_out["order"]) == list(range(1, 6))
    whole = layer[layer["kind"] == "route"]
    assert len(whole) == 1 and whole["length_m"].iloc[0] == pytest.approx(visit.length_m, 0.01)
    assert (layer[layer["kind"] == "leg"].to_crs(2154).length.sum()) == pytest.approx(
        visit.length_m, rel=0.01
    )
    assert layer.total_bounds[0] > -3.4 and layer.total_bounds[2] < -3.3

    page = paths["html"].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "src=" not in page
    assert "<svg" in page and "<script" not in page and "@import" not in page
    assert "Pour voir &lt;ça&gt; &amp; le reste" in page
    for name in visit.stops["name"]:
        assert html.escape(name) in page
    assert "Retour au départ" in page and "Pourquoi" in page
    english = to_roadbook(visit, lang="en")
    assert "Why" in english and "Back to the start" in english and "http" not in english


def test_write_route_is_atomic_and_checks_the_name(tmp_path, net, places, monkeypatch):
    visit = plan_route(net, places.sample(3, random_state=9))
    with pytest.raises(ValidationError, match=r"\.gpx"):
        write_route(visit, tmp_path / "visite.txt")

    def broken(route, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(export, "to_roadbook", broken)
    with pytest.raises(RuntimeError):
        write_route(visit, tmp_path / "visite.gpx")
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert to_geojson(visit)["type"] == "FeatureCollection"
