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

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from qet_geo.cli.main import app as cli
from qet_geo.store import models as store
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, axe, browse
from tests.web.test_accounts import PASSWORD, cli_admin

OUTLINE = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
#: The analysis of the Lorient extract takes seconds; a loaded machine may take much longer.
LONG_MS = 300_000
#: Where to save the screenshots (unset: none are taken).
SHOTS = os.environ.get("QET_SCREENSHOTS")


@pytest.fixture(scope="module")
def survey_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SU, MdV/EdV and NGC files of labelled-synthetic answers on Lorient's real buildings."""
    folder = tmp_path_factory.mktemp("enquetes")
    osm = str(shared("osm", "lorient_centre.osm.gz"))
    files = {kind: folder / f"{kind}_synthetique.csv" for kind in ("su", "mdv", "ngc")}
    runs = [
        ["--kind", "su", "--n", "120", "--seed", "4"],
        ["--kind", "mdv", "--n", "80", "--seed", "5"],
        ["--kind", "ngc", "--su", str(files["su"]), "--share", "0.8", "--seed", "6"],
    ]
    for kind, extra in zip(("su", "mdv", "ngc"), runs, strict=True):
        args = ["survey", "synthesize", osm, "--out", str(files[kind]), "--territory"]
        done = CliRunner().invoke(cli, [*args, str(OUTLINE), *extra])
        assert done.exit_code == 0, done.output
    return files


class Journey:
    """The pages seen, their accessibility findings, and the screenshots."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    def check(
        self, page: Page, shot: str | None = None, *, exclude: list[str] | None = None
    ) -> None:
        found = axe(page, exclude=exclude) if exclude else axe(page)
        self.seen.append((page.url, [f"{v['id']} ({v['impact']})" for v in found]))
        if SHOTS and shot:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS) / f"{shot}.png"))


def _sign_in(page: Page, email: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")


def test_a_pilot_team_goes_from_the_outline_to_a_published_release(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser, survey_files: dict[str, Path]
) -> None:
    journey = Journey()
    page.set_viewport_size({"width": 1200, "height": 900})
    done = cli_admin(str(live_app.app.state.engine.url), "admin@reseau.example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]

    # the administrator creates the neighbourhood and invites the pilot
    _sign_in(page, "admin@reseau.example")
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
        pilot.goto(link)
        pilot.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
        pilot.get_by_label("Le même mot de passe, à nouveau").fill(PASSWORD)
        pilot.get_by_role("button", name="Créer mon compte").click()
        expect(pilot.locator("[role=status]")).to_contain_text("Votre compte est créé")
        _sign_in(pilot, "pilote@lorient.example")
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
        _upload(pilot, survey_files)
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
        _reviewed(pilot)
        journey.check(pilot, "resultats")
        if SHOTS:
            heading = pilot.get_by_role("heading", name="Accès mesuré et accès perçu").first
            heading.evaluate("element => element.scrollIntoView()")
            pilot.screenshot(path=str(Path(SHOTS) / "acces_percu.png"))
        pilot.get_by_label("Je confirme : publier ces chiffres maintenant").check()
        pilot.get_by_role("button", name="Publier", exact=True).click()
        expect(pilot.get_by_role("status")).to_have_text("Publication n° 1 faite.")
        pilot.get_by_role("link", name="Publication n° 1 du", exact=False).click()
        _reviewed(pilot)
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
    assert [(where, found) for where, found in journey.seen if found] == []


def _upload(page: Page, files: dict[str, Path]) -> None:
    """Upload the SU, MdV/EdV and NGC files on the collection page; each is accepted."""
    names = {
        "su": "Profils d'Usages (SU)",
        "mdv": "Modes et espaces de vie (MdV/EdV)",
        "ngc": "NosGestesClimat (NGC)",
    }
    uploads = page.locator("table", has=page.locator("caption", has_text="Envois de la campagne"))
    for done, (kind, name) in enumerate(names.items(), start=1):
        page.get_by_role("radio", name=name).check()
        page.get_by_label("Export des Profils d'Usages (SU)", exact=False).set_input_files(
            str(files[kind])
        )
        page.get_by_role("button", name="Déposer le fichier").click()
        expect(page.get_by_text(f"Enquête du fichier : {name}.")).to_be_visible(timeout=LONG_MS)
        expect(uploads.locator("tbody tr")).to_have_count(done)
    expect(page.get_by_text("Réponses SYNTHÉTIQUES").first).to_be_visible()


def _reviewed(page: Page) -> None:
    """The results' sections as the exhibition shows them."""
    for heading in (
        "Empreinte carbone par usage",
        "Accès mesuré et accès perçu",
        "Empreinte NosGestesClimat",
    ):
        expect(page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
