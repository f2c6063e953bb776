"""The service's maps have the CLI maps' basemap, a title, legends with units, and stay offline.

``/diagnostics/{id}/map`` draws the neighbourhood's streets (and buildings, water, parks) from its
stored OSM extract, the real Lorient one here; ``/national/map`` draws France's régions and
départements from ``../shared/data/census/communes``. Both are French, or English with
``Accept-Language: en``; names are escaped; a synthetic campaign carries the banner.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

import maps
from maps._assets import LINK_HOSTS, link_host
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY, World, build_world
from tests.conftest import shared

#: Lorient centre, with room: (left, bottom, right, top) in WGS84.
LORIENT_BOX = (-3.40, 47.72, -3.33, 47.77)
_HOST = r"https?://([^/\"'\s)<>]+)"
#: Hosts named in the comments and strings of the vendored Leaflet code inlined into the pages
#: (bug tracker links, the SVG namespace): text, never requested.
_VENDORED_HOSTS = {
    host
    for path in (Path(maps.__file__).parent / "static").rglob("*")
    if path.suffix in (".js", ".css")
    for host in re.findall(_HOST, path.read_text(encoding="utf-8"))
}


@pytest.fixture(scope="module")
def w() -> Iterator[World]:
    """Neighbourhood B (published, released) on the Lorient extract and its territory; A has
    neither extract nor territory; C has a territory only."""
    tmp = Path(tempfile.mkdtemp(prefix="qet-maps-"))
    world = build_world(f"sqlite:///{tmp / 'maps.db'}", osm_dir=shared("osm"))
    admin = world.headers("admin")
    for key in ("B", "C"):
        r = world.client.put(
            f"/neighbourhoods/{world.hoods[key]}/territory", json=LORIENT_TERRITORY, headers=admin
        )
        assert r.status_code == 200, r.text
    with store.session_scope(world.client.app.state.engine) as s:  # type: ignore[attr-defined]
        s.get(store.Neighbourhood, world.hoods["B"]).osm_extract = "lorient_centre.osm.pbf"
    yield world
    world.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _get(w: World, url: str, who: str | None = None, lang: str | None = None) -> str:
    headers = w.headers(who) if who else {}
    if lang:
        headers["Accept-Language"] = lang
    r = w.client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def readable(html: str) -> str:
    """The page with folium's JS string escapes undone ("\\u00e9" -> "é")."""
    return maps._assets._unescape_js(html)


def basemap_collections(html: str) -> list[dict[str, Any]]:
    """The GeoJSON FeatureCollections of the page's vector basemap (drawn under the layers)."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r'\}\)\((\{"type":"FeatureCollection")', html):
        data, _ = decoder.raw_decode(html, match.start(1))
        found.append(data)
    return found


def panels(html: str, css_class: str) -> list[str]:
    """The text of the page's panels of ``css_class`` (title, banner, note), tags removed."""
    bodies = re.findall(rf'class="qet-panel {css_class} qet-hidden">(.*?)</div>', html, re.S)
    return [re.sub(r"<[^>]+>", "", b) for b in bodies]


def assert_offline(html: str) -> None:
    """Nothing loaded from another host; the only links are the credits' (followed on a click)."""
    assert maps.find_remote_resources(html) == []
    assert {link_host(url) for url in maps.find_links(html)} <= LINK_HOSTS
    assert not re.search(r"<script[^>]*\ssrc=", html) and not re.search(r"<link\b", html)
    hosts = set(re.findall(_HOST, html))
    assert hosts <= LINK_HOSTS | _VENDORED_HOSTS, hosts - LINK_HOSTS - _VENDORED_HOSTS


# --------------------------------------------------------------------------------------------------
# the diagnostic's map


def test_released_map_draws_the_streets_of_the_stored_extract(w: World) -> None:
    html = _get(w, f"/diagnostics/{w.diags['B']}/map")  # the public reads the release
    assert_offline(html)
    streets = [
        c
        for c in basemap_collections(html)
        if c["features"] and all("w" in f["properties"] for f in c["features"])
    ]
    assert len(streets) == 1 and len(streets[0]["features"]) > 500
    coords = [
        xy
        for f in streets[0]["features"]
        for xy in (
            f["geometry"]["coordinates"]
            if f["geometry"]["type"] == "LineString"
            else [p for part in f["geometry"]["coordinates"] for p in part]
        )
    ]
    left, bottom, right, top = LORIENT_BOX
    assert all(left < x < right and bottom < y < top for x, y in coords)
    # buildings and the territory's outline too, as on the CLI maps
    assert len(basemap_collections(html)) >= 4
    assert "Fond de carte (OpenStreetMap)" in readable(html)


def test_released_map_has_a_title_and_a_legend_with_units(w: World) -> None:
    html = _get(w, f"/diagnostics/{w.diags['B']}/map")
    (title,) = panels(html, "qet-title")
    assert title == (
        "Quartier B, année 0, publication n° 1 : profils d'usages et empreinte carbone par "
        "carreau de 200 m"
    )
    text = readable(html)
    assert "Empreinte moyenne totale (t CO2e par an et par personne)" in text
    assert "t CO2e/an" in text and "secret statistique" in text
    assert not panels(html, "qet-banner")  # real answers: no synthetic banner
    assert not panels(html, "qet-note")  # the extract was read


def test_map_in_english(w: World) -> None:
    html = _get(w, f"/diagnostics/{w.diags['B']}/map", lang="en")
    (title,) = panels(html, "qet-title")
    assert title.startswith("Quartier B, year 0, release no. 1: usage profiles")
    text = readable(html)
    assert "Basemap (OpenStreetMap)" in text and "t CO2e/yr" in text
    assert "publication n°" not in text and "Fond de carte" not in text


def test_released_map_is_the_same_page_until_the_next_release(w: World) -> None:
    first = _get(w, f"/diagnostics/{w.diags['B']}/map")
    w.client.app.state.aggregates.clear(w.diags["B"])  # type: ignore[attr-defined]
    assert _get(w, f"/diagnostics/{w.diags['B']}/map") == first  # rebuilt, byte for byte


def test_live_preview_without_extract_says_so(w: World) -> None:
    html = _get(w, f"/diagnostics/{w.diags['A']}/map", who="pilotA")
    assert_offline(html)
    (title,) = panels(html, "qet-title")
    assert title.startswith("Quartier A, année 0 : profils d") and "non publié" in title
    (note,) = panels(html, "qet-note")
    assert "ce quartier n'a pas d'extrait OSM" in note
    assert f"/neighbourhoods/{w.hoods['A']}/osm-extract" in note
    assert basemap_collections(html) == []


def test_synthetic_campaign_carries_the_banner(w: World) -> None:
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        s.get(store.Diagnostic, w.diags["B"]).synthetic = True
    try:
        html = _get(w, f"/diagnostics/{w.diags['B']}/map")
        (banner,) = panels(html, "qet-banner")
        assert "SYNTHÉTIQUES" in banner and "pas un résultat d" in banner
        en = _get(w, f"/diagnostics/{w.diags['B']}/map", lang="en")
        assert "SYNTHETIC answers (demo)" in panels(en, "qet-banner")[0]
    finally:
        with store.session_scope(engine) as s:
            s.get(store.Diagnostic, w.diags["B"]).synthetic = False
    assert not panels(_get(w, f"/diagnostics/{w.diags['B']}/map"), "qet-banner")


def test_names_in_the_title_are_text(w: World) -> None:
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    hostile = "<img src=x onerror=alert(1)>{{ 7*7 }}{% raw %}"
    with store.session_scope(engine) as s:
        s.get(store.Neighbourhood, w.hoods["B"]).name = hostile
    try:
        html = _get(w, f"/diagnostics/{w.diags['B']}/map")
        (title,) = panels(html, "qet-title")
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&#123;&#123; 7*7 &#125;&#125;&#123;% raw %&#125;, année 0" in title
        assert "49" not in title
    finally:
        with store.session_scope(engine) as s:
            s.get(store.Neighbourhood, w.hoods["B"]).name = "Quartier B"


def test_unreadable_extract_gives_a_map_and_a_note_without_path(w: World) -> None:
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        s.get(store.Neighbourhood, w.hoods["B"]).osm_extract = "gone.osm.pbf"
    try:
        html = _get(w, f"/diagnostics/{w.diags['B']}/map")
        (note,) = panels(html, "qet-note")
        assert "l'extrait OSM de ce quartier n'a pas pu être lu" in note
        assert str(shared("osm")) not in html and "gone.osm.pbf" not in html
        assert basemap_collections(html) == []
    finally:
        with store.session_scope(engine) as s:
            s.get(store.Neighbourhood, w.hoods["B"]).osm_extract = "lorient_centre.osm.pbf"


# --------------------------------------------------------------------------------------------------
# the national map


def test_national_map_draws_france_regions_and_departements(w: World) -> None:
    html = _get(w, "/national/map", who="admin")
    assert_offline(html)
    regions = gpd.read_file(shared("census", "communes", "regions-version-simplifiee.geojson"))
    departements = gpd.read_file(
        shared("census", "communes", "departements-version-simplifiee.geojson")
    )
    sizes = sorted(len(c["features"]) for c in basemap_collections(html))
    assert sizes == sorted([len(departements), len(regions), 1])  # + France's outline
    (title,) = panels(html, "qet-title")
    assert title.startswith("Comparaison nationale des quartiers : empreinte carbone moyenne")
    text = readable(html)
    assert "Empreinte moyenne totale (t CO2e par an et par personne)" in text
    assert "t CO2e/an" in text
    assert not panels(html, "qet-note")
    en = readable(_get(w, "/national/map", who="admin", lang="en"))
    assert "National comparison of neighbourhoods: mean carbon footprint" in en
    assert "t CO2e/yr" in en


def test_national_map_without_the_shared_data_still_renders(w: World, tmp_path: Path) -> None:
    app = w.client.app
    folder = app.state.shared_data  # type: ignore[attr-defined]
    app.state.shared_data = tmp_path  # type: ignore[attr-defined]
    try:
        html = _get(w, "/national/map", who="admin")
    finally:
        app.state.shared_data = folder  # type: ignore[attr-defined]
    (note,) = panels(html, "qet-note")
    assert "regions-version-simplifiee.geojson" in note
    assert "departements-version-simplifiee.geojson" in note and "QET_SHARED_DATA" in note
    assert str(tmp_path) not in html
    assert basemap_collections(html) == []
    assert "Quartiers du réseau" in readable(html)


def test_maps_run_in_chromium_without_any_request(w: World, tmp_path: Path) -> None:
    """Both pages in headless chromium, every host unresolvable: drawn, no error, no request."""
    from tests.browser import open_page

    for name, url, who in (
        ("diagnostic", f"/diagnostics/{w.diags['B']}/map", None),
        ("national", "/national/map", "admin"),
    ):
        page = tmp_path / f"{name}.html"
        page.write_text(_get(w, url, who=who), encoding="utf-8")
        run = open_page(page)
        assert run.console_errors == [], (name, run.console)
        assert run.requests == [], (name, run.requests)
        # the title panel was moved into the map's controls, and the basemap drawn on a canvas
        assert re.search(r'class="qet-panel qet-title[^"]*leaflet-control', run.dom), name
        assert "<canvas" in run.dom, name


def _row(hood: int, name: str, *, synthetic: bool, compared: bool) -> Any:
    from api.models import NationalRow

    figures = {"total": 5400.0} if compared else {}
    return NationalRow(
        neighbourhood_id=hood,
        name=name,
        year=0,
        n_respondents=40,
        mean_kgco2e=figures,
        profile_mix={},
        constraints={},
        type=0 if compared else -1,
        rank_total_kgco2e=1 if compared else None,
        synthetic=synthetic,
        compared=compared,
    )


def test_national_map_sets_synthetic_neighbourhoods_apart() -> None:
    """Among real ones, a synthetic neighbourhood is named in a note, not drawn; compared among
    themselves as a demonstration, synthetic ones carry the banner."""
    import shapely

    from api.routers.maps import _national_map_html
    from qet_geo.crs import WGS84, WORK_CRS

    lorient = shapely.geometry.shape(LORIENT_TERRITORY)
    outline = gpd.GeoSeries([lorient], crs=WGS84).to_crs(WORK_CRS).iloc[0]
    territories = {1: outline, 2: outline}
    mixed = [
        _row(1, "Réel", synthetic=False, compared=True),
        _row(2, "Démo SYN", synthetic=True, compared=False),
    ]
    html = _national_map_html(mixed, territories, lang="fr", background=[], lacking=[])
    (note,) = panels(html, "qet-note")
    assert note == "Hors comparaison, réponses synthétiques (1) : Démo SYN."
    assert "Quartiers du réseau (1)" in readable(html) and not panels(html, "qet-banner")
    demo = [
        _row(1, "Démo A", synthetic=True, compared=True),
        _row(2, "Démo B", synthetic=True, compared=True),
    ]
    html = _national_map_html(demo, territories, lang="en", background=[], lacking=[])
    (banner,) = panels(html, "qet-banner")
    assert banner.startswith("SYNTHETIC answers (demo)")
    assert not panels(html, "qet-note") and "Quartiers du réseau" not in readable(html)


def test_national_map_names_a_synthetic_campaign_left_out(tmp_path: Path) -> None:
    """A synthetic upload released beside real ones: named in a note, never coloured."""
    from qet_geo.store import ingest
    from qet_geo.store.releases import create_release
    from tests.api.factories import su_csv

    world = build_world(f"sqlite:///{tmp_path / 'syn.db'}")
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        demo = store.add_neighbourhood(s, name="Démo synthétique", published=True)
        diag = store.Diagnostic(neighbourhood_id=demo.id, year=0)
        s.add(diag)
        s.flush()
        demo_id, diag_id = demo.id, diag.id
    ingest.ingest_su(engine, diag_id, su_csv(40, seed=13, prefix="SYN-"))
    create_release(engine, diag_id)
    admin = world.headers("admin")
    for hood in (world.hoods["B"], demo_id):
        r = world.client.put(
            f"/neighbourhoods/{hood}/territory", json=LORIENT_TERRITORY, headers=admin
        )
        assert r.status_code == 200, r.text
    rows = {r["name"]: r for r in world.client.get("/national", headers=admin).json()}
    assert rows["Démo synthétique"]["compared"] is False  # the service's rule, S's part
    html = _get(world, "/national/map", who="admin")
    notes = panels(html, "qet-note")
    assert "Hors comparaison, réponses synthétiques (1) : Démo synthétique." in notes
    assert not panels(html, "qet-banner")
    world.client.app.state.engine.dispose()  # type: ignore[attr-defined]
