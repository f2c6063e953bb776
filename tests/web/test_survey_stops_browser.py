"""Step 2 in a real browser (Debian's chromium): stops picked by clicking the neighbourhood's map
(its outline and streets, no tiles, no other host), one removed, then the visit planned through
them while the page polls; axe-core finds no serious or critical violation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from qet_geo.store import models as store
from qet_geo.store.jobs import territory_from_geojson
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import cli_admin
from tests.web.test_survey import SHARED
from tests.web.test_survey_browser import TIMEOUT_MS, _sign_in

#: Where to click, in pixels from the map's centre (the neighbourhood's outline fills the map).
CLICKS = [(-40, -70), (30, 0), (-20, 70)]


def test_a_team_picks_its_stops_on_the_map_and_plans_the_visit(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    engine = live_app.app.state.engine
    assert cli_admin(str(engine.url), "admin@reseau.example").exit_code == 0  # type: ignore[attr-defined]
    osm_dir = Path(live_app.app.state.settings.osm_dir)
    # a copy: the service reads extracts inside its OSM folder only (the kit's are links)
    shutil.copyfile(SHARED / "osm" / "lorient_centre.osm.pbf", osm_dir / "lorient_copie.osm.pbf")
    outline = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
    with store.session_scope(engine) as s:
        lorient = store.add_neighbourhood(
            s,
            name="Lorient centre",
            territory_wkt=territory_from_geojson(json.loads(outline.read_text())).wkt,
            osm_extract="lorient_copie.osm.pbf",
        ).id

    _sign_in(page, "admin@reseau.example")
    page.goto(f"/espace/quartiers/{lorient}/enquete/preparer")
    page.wait_for_selector("#carte-visite[data-ready='1']", timeout=TIMEOUT_MS)
    note = page.locator("#note-carte-visite")
    expect(note).to_have_text(
        "Cliquez sur la carte pour ajouter un arrêt numéroté ; cliquez un arrêt pour le retirer."
    )
    the_map = page.get_by_role("region", name="Carte du quartier pour choisir les arrêts")
    box = the_map.bounding_box()
    assert box is not None
    chosen = page.get_by_role("list", name="Arrêts choisis").locator("li")
    field = page.get_by_label("Les arrêts, un par ligne", exact=False)
    for n, (dx, dy) in enumerate(CLICKS, start=1):
        the_map.click(position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 + dy})
        expect(chosen).to_have_count(n)
        expect(note).to_have_text(f"Arrêt {n} ajouté.")
    expect(page.locator(".visit-stop")).to_have_text(["1", "2", "3"])
    lines = field.input_value().split("\n")
    assert len(lines) == 3
    # the second one goes (its button), the third becomes the second
    page.get_by_role("button", name="Retirer l’arrêt 2").click()
    expect(chosen).to_have_count(2)
    expect(note).to_have_text("Arrêt 2 retiré ; les suivants sont renumérotés.")
    assert field.input_value().split("\n") == [lines[0], lines[2]]
    # a click on a stop of the map takes it away too; picked again
    page.locator(".visit-stop").nth(1).click()
    expect(chosen).to_have_count(1)
    for dx, dy in CLICKS[1:]:
        the_map.click(position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 + dy})
    expect(chosen).to_have_count(3)
    expect(chosen.nth(2)).to_contain_text("Arrêt 3 : 47.7")
    assert axe(page) == []

    page.get_by_role("button", name="Calculer l'itinéraire par ces arrêts").click()
    expect(page.get_by_text("Itinéraire prêt : 3 arrêts")).to_be_visible(timeout=TIMEOUT_MS)
    stops = page.locator("table", has=page.locator("caption", has_text="Les arrêts, dans l'ordre"))
    expect(stops.locator("tbody th")).to_have_count(3)
    # the field and the map show the stops planned, after the page came back
    page.wait_for_selector("#carte-visite[data-ready='1']", timeout=TIMEOUT_MS)
    expect(page.locator(".visit-stop")).to_have_count(3)
    # and the map draws the planned walk (from the GeoJSON download)
    page.wait_for_selector("#carte-visite[data-route='1']", timeout=TIMEOUT_MS)
    expect(
        page.get_by_role("link", name="Télécharger le tracé GPX (pour le téléphone)")
    ).to_be_visible()
    assert axe(page) == []
    watch.assert_no_outside_request()
    watch.assert_no_error()
