"""Step 1 in chromium: a pilot draws the outline with Leaflet.draw, saves it, and the
neighbourhood page says it is set; axe finds nothing serious on the outline page."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import PASSWORD

OUTLINE = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"


def test_a_pilot_draws_the_outline(page: Page, watch: Watch, live_app: LiveApp) -> None:
    with store.session_scope(live_app.app.state.engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre").id
        accounts.create_user(
            s, email="p@b.example", password=PASSWORD, role="pilot", neighbourhood_ids=[hood]
        )
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("p@b.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.goto(f"/espace/quartiers/{hood}/contour")
    page.wait_for_selector("#carte-contour[data-ready='1']")
    assert axe(page, exclude=["#carte-contour"]) == []
    # no extract yet: no basemap, France as a whole; zoom in to a neighbourhood's scale
    for zoom in range(6, 15):
        page.get_by_role("button", name="Zoomer", exact=True).click()
        page.wait_for_selector(f"#carte-contour[data-zoom='{zoom}']")
    page.get_by_role("link", name="Dessiner un polygone").click()
    box = page.locator("#carte-contour").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-60, -60), (60, -60), (60, 60), (-60, 60)]
    for done, (dx, dy) in enumerate(corners, start=1):
        page.mouse.move(x + dx, y + dy, steps=4)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function(
            f"() => document.querySelectorAll('.leaflet-editing-icon').length === {done}"
        )
    page.mouse.move(x + corners[0][0], y + corners[0][1], steps=4)
    page.mouse.down()
    page.mouse.up()
    expect(page.locator("#geojson")).not_to_have_value("")
    page.get_by_role("button", name="Enregistrer le contour").click()
    expect(page.get_by_role("status")).to_contain_text("Contour enregistré")
    page.get_by_role("link", name="Retour au quartier").click()
    expect(page.locator("dl.facts")).to_contain_text("Contour du territoire")
    expect(page.locator("dl.facts dd").first).to_have_text("défini")
    assert axe(page) == []
    watch.assert_no_outside_request()
    watch.assert_no_error()


def test_an_admin_uploads_the_outline_and_the_extract_and_see_the_layers(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    with store.session_scope(live_app.app.state.engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre").id
        accounts.create_user(s, email="admin@b.example", password=PASSWORD, role="admin")
    seen: list[tuple[str, list[dict[str, object]]]] = []
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("admin@b.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name="Définir le contour du territoire").click()
    page.get_by_label("Fichier GeoJSON du contour").set_input_files(str(OUTLINE))
    page.get_by_role("button", name="Envoyer le fichier").click()
    expect(page.get_by_role("status")).to_contain_text("Contour enregistré")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name="Déposer l'extrait OpenStreetMap").click()
    seen.append((page.url, axe(page)))
    page.get_by_label("Fichier de l'extrait").set_input_files(
        str(shared("osm") / "lorient_centre.osm.pbf")
    )
    page.get_by_role("button", name="Envoyer l'extrait").click()
    expect(page.get_by_role("status")).to_contain_text("Extrait accepté")
    expect(page.locator("ul.warnings")).to_contain_text("bord de l'extrait")
    seen.append((page.url, axe(page)))
    page.get_by_role("link", name="Voir les couches du quartier").click()
    expect(page.locator("h1")).to_have_text("Couches du quartier")
    expect(page.locator("table.amenity-counts")).to_contain_text("Commerce alimentaire")
    seen.append((page.url, axe(page)))
    page.goto(f"/espace/quartiers/{hood}/contour")
    page.wait_for_selector("#carte-contour[data-ready='1']")
    expect(page.locator("#note-carte")).to_have_text(
        "Les rues de l’extrait OpenStreetMap sont affichées."
    )
    assert page.locator("#carte-contour path.leaflet-interactive, #carte-contour svg path").count()
    seen.append((page.url, axe(page, exclude=["#carte-contour"])))
    answer = page.goto(f"/cartes/quartiers/{hood}/couches")
    assert answer is not None and answer.status == 200
    page.wait_for_selector(".leaflet-container")
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert [(url, found) for url, found in seen if found] == []
