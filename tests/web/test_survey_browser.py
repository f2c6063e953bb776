"""Steps 2 and 3 in a real browser (Debian's chromium): the quota sheet, the visit route planned
while the page polls, a campaign opened and a file uploaded with its validation report; axe-core
finds no serious or critical violation on any of these pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from qet_geo.store import models as store
from qet_geo.store.jobs import territory_from_geojson
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import PASSWORD, cli_admin
from tests.web.test_survey import PARIS_IRIS, SHARED, demographic_su

TIMEOUT_MS = 120_000


def _sign_in(page: Page, email: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace")


def test_a_team_prepares_and_collects_its_survey(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    engine = live_app.app.state.engine
    assert cli_admin(str(engine.url), "admin@reseau.example").exit_code == 0  # type: ignore[attr-defined]
    osm_dir = Path(live_app.app.state.settings.osm_dir)
    # a copy: the service reads extracts inside its OSM folder only (the kit's are links)
    shutil.copyfile(SHARED / "osm" / "lorient_centre.osm.pbf", osm_dir / "lorient_copie.osm.pbf")
    geojson = json.loads(
        (
            Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
        ).read_text()
    )
    with store.session_scope(engine) as s:
        lorient = store.add_neighbourhood(
            s,
            name="Lorient centre",
            territory_wkt=territory_from_geojson(geojson).wkt,
            osm_extract="lorient_copie.osm.pbf",
        ).id
        paris = store.add_neighbourhood(s, name="Paris centre", iris_codes=PARIS_IRIS).id
    violations: list[tuple[str, list[dict[str, object]]]] = []

    def check() -> None:
        found = axe(page)
        if found:
            violations.append((page.url, found))

    _sign_in(page, "admin@reseau.example")
    page.goto(f"/espace/quartiers/{paris}")
    page.get_by_role("link", name="Préparer l'enquête : quotas et itinéraire de visite").click()
    expect(page.locator("h1")).to_have_text("Préparer l'enquête · Paris centre")
    expect(page.get_by_text("Taille de l'échantillon")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer la feuille de quotas")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("#visite")).to_be_hidden()
    page.emulate_media(media="screen")
    check()

    page.goto(f"/espace/quartiers/{lorient}/enquete/preparer")
    page.get_by_label("Nombre d'arrêts (2 à 12)").fill("4")
    page.get_by_role("button", name="Calculer l'itinéraire", exact=True).click()
    expect(page.get_by_text("Itinéraire prêt : 4 arrêts")).to_be_visible(timeout=TIMEOUT_MS)
    expect(
        page.get_by_role("link", name="Télécharger le tracé GPX (pour le téléphone)")
    ).to_be_visible()
    check()

    page.goto(f"/espace/quartiers/{paris}")
    page.get_by_role("link", name="Collecter les réponses : fichiers et avancement").click()
    check()
    page.get_by_role("button", name="Ouvrir la campagne d'enquête").click()
    expect(page.get_by_role("status")).to_contain_text("Campagne d'enquête ouverte")
    page.get_by_label("Export des Profils d'Usages (SU)").set_input_files(
        files={
            "name": "reponses.tsv",
            "mimeType": "text/tab-separated-values",
            "buffer": demographic_su(30, bad_rows=True),
        }
    )
    page.get_by_role("button", name="Déposer le fichier").click()
    report = page.locator(
        "table", has=page.locator("caption", has_text="Lignes partielles ou refusées")
    )
    expect(report).to_be_visible(timeout=TIMEOUT_MS)
    expect(report.locator("tbody tr").first).to_contain_text("refusée")
    expect(page.get_by_text("Réponses SYNTHÉTIQUES").first).to_be_visible()
    check()
    with store.session_scope(engine) as s:
        assert s.query(store.Upload).count() == 1
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert violations == []
