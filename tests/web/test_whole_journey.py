"""The whole journey of issue 15 in a real browser (Debian's chromium), on the shared Lorient extract.

The administrator made by ``qet admin create`` signs in, creates the neighbourhood and invites a
pilot; the pilot opens the one-time link, chooses a password and, without a terminal: uploads
the outline and the OSM extract and sees the layers; prepares the survey (the quota sheet, or why
there is none, and a visit route with GPX); opens the campaign and uploads the SU, MdV/EdV and
NosGestesClimat files (labelled synthetic, made on Lorient's real buildings by ``qet survey
synthesize``); runs the analysis and watches it finish; reviews the results (profiles, links and
margins of manoeuvre, vote themes, measured against perceived access, NGC footprints) and
publishes release 1, which the JSON API then serves. axe-core finds no serious or critical
violation on any page, no request leaves for another host, and the browser logs no error.

With ``QET_SCREENSHOTS=<folder>`` the test also saves the journey's main pages there (the README's
screenshots are taken so: ``QET_SCREENSHOTS=docs/img/web .venv/bin/python -m pytest -p no:xdist
tests/web/test_whole_journey.py``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from qet_geo.store import models as store
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, browse
from tests.web.journey_kit import (
    LONG_MS,
    OUTLINE,
    SHOTS,
    Journey,
    accept_invitation,
    reviewed,
    sign_in,
    synthesize,
    upload,
)
from tests.web.test_accounts import cli_admin


@pytest.fixture(scope="module")
def survey_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SU, MdV/EdV and NGC files of labelled-synthetic answers on Lorient's real buildings."""
    return synthesize(tmp_path_factory.mktemp("enquetes"))


def test_a_pilot_team_goes_from_the_outline_to_a_published_release(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser, survey_files: dict[str, Path]
) -> None:
    journey = Journey()
    page.set_viewport_size({"width": 1200, "height": 900})
    done = cli_admin(str(live_app.app.state.engine.url), "admin@reseau.example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]

    # the administrator creates the neighbourhood and invites the pilot
    sign_in(page, "admin@reseau.example")
    page.get_by_role("link", name="Créer un quartier").click()
    page.get_by_label("Nom du quartier").fill("Lorient centre")
    page.get_by_role("button", name="Créer").click()
    expect(page.locator("h1")).to_have_text("Lorient centre")
    hood_url = page.url
    page.get_by_role("link", name="Inviter un membre de l'équipe pilote").click()
    page.get_by_label("Adresse électronique de la personne invitée").fill("pilote@lorient.example")
    page.get_by_role("button", name="Inviter").click()
    link = page.get_by_label("Lien d'invitation").input_value()
    journey.check(page, "invitation")
    page.get_by_role("button", name="Se déconnecter").click()

    with browse(live_app, browser=browser) as (pilot, pilot_watch):
        pilot.set_viewport_size({"width": 1200, "height": 900})
        accept_invitation(pilot, link)
        sign_in(pilot, "pilote@lorient.example")
        journey.check(pilot, "tableau_de_bord")
        pilot.get_by_role("link", name="Lorient centre").click()
        expect(pilot).to_have_url(hood_url)

        # 1 the neighbourhood: outline, extract, layers
        pilot.get_by_role("link", name="Définir le contour du territoire").click()
        pilot.get_by_label("Fichier GeoJSON du contour").set_input_files(str(OUTLINE))
        pilot.get_by_role("button", name="Envoyer le fichier").click()
        expect(pilot.get_by_role("status")).to_contain_text("Contour enregistré")
        pilot.goto(hood_url)
        pilot.get_by_role("link", name="Déposer l'extrait OpenStreetMap").click()
        pilot.get_by_label("Fichier de l'extrait").set_input_files(
            str(shared("osm", "lorient_centre.osm.gz"))
        )
        pilot.get_by_role("button", name="Envoyer l'extrait").click()
        expect(pilot.get_by_role("status")).to_contain_text("Extrait accepté", timeout=LONG_MS)
        journey.check(pilot, "extrait")
        pilot.get_by_role("link", name="Voir les couches du quartier").click()
        expect(pilot.locator("table.amenity-counts")).to_contain_text("Commerce alimentaire")
        journey.check(pilot, "couches")

        # 2 preparing the survey: no census table by IRIS for Lorient in the shared data (the
        # page says so and how to add one); the visit route with its GPX
        pilot.goto(hood_url)
        pilot.get_by_role(
            "link", name="Préparer l'enquête : quotas et itinéraire de visite"
        ).click()
        pilot.get_by_label("Nombre d'arrêts (2 à 12)").fill("4")
        pilot.get_by_role("button", name="Calculer l'itinéraire", exact=True).click()
        expect(pilot.get_by_text("Itinéraire prêt : 4 arrêts")).to_be_visible(timeout=LONG_MS)
        gpx = pilot.get_by_role("link", name="Télécharger le tracé GPX (pour le téléphone)")
        answer = pilot.request.get(str(gpx.get_attribute("href")))
        assert answer.status == 200 and b"<gpx" in answer.body()
        journey.check(pilot, "preparer", exclude=[".leaflet-container"])

        # 3 collecting: the campaign, then the three surveys' files
        pilot.goto(hood_url)
        pilot.get_by_role("link", name="Collecter les réponses : fichiers et avancement").click()
        pilot.get_by_role("button", name="Ouvrir la campagne d'enquête").click()
        expect(pilot.get_by_role("status")).to_contain_text("Campagne d'enquête ouverte")
        upload(pilot, survey_files)
        journey.check(pilot, "collecte")

        # 4 analysing
        pilot.goto(hood_url)
        pilot.get_by_role("link", name="Analyser le diagnostic").click()
        pilot.get_by_role("button", name="Lancer l'analyse").click()
        expect(pilot.locator(".job-state")).to_contain_text("Analyse terminée", timeout=LONG_MS)
        journey.check(pilot, "analyse")

        # 5 reviewing and publishing
        pilot.get_by_role("link", name="Voir les résultats").click()
        expect(pilot.locator("h1")).to_have_text("Relire et publier les résultats")
        reviewed(pilot)
        journey.check(pilot, "resultats")
        if SHOTS:
            heading = pilot.get_by_role("heading", name="Accès mesuré et accès perçu").first
            heading.evaluate("element => element.scrollIntoView()")
            pilot.screenshot(path=str(Path(SHOTS) / "acces_percu.png"))
        pilot.get_by_label("Je confirme : publier ces chiffres maintenant").check()
        pilot.get_by_role("button", name="Publier", exact=True).click()
        expect(pilot.get_by_role("status")).to_have_text("Publication n° 1 faite.")
        pilot.get_by_role("link", name="Publication n° 1 du", exact=False).click()
        reviewed(pilot)
        journey.check(pilot)
        pilot_watch.assert_no_outside_request()
        pilot_watch.assert_no_error()
        hood_id = int(hood_url.rstrip("/").rsplit("/", 1)[1])

    # network staff read release 1 through the JSON API (not the team's live preview): its
    # links and its other surveys
    with store.session_scope(live_app.app.state.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    with httpx.Client(base_url=live_app.url, headers=staff) as api:
        diagnostics = api.get(f"/neighbourhoods/{hood_id}/diagnostics").json()
        diag = diagnostics[0]["id"]
        releases = api.get(f"/diagnostics/{diag}/releases").json()
        links = api.get(f"/diagnostics/{diag}/links").json()
    assert [r["number"] for r in releases] == [1]
    assert links["release"] == 1 and links["synthetic"] is True
    assert links["vote_themes"] and links["other_surveys"]["ngc"]
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert journey.failures() == []
