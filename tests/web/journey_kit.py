"""What the browser journeys share (tests/web/test_whole_journey.py, test_full_cycle.py).

The labelled-synthetic survey files made on Lorient's real buildings by ``qet survey
synthesize`` (:func:`synthesize`), the record of the pages seen with their axe findings and
screenshots (:class:`Journey`), and the steps a pilot team takes in the pages: signing in,
accepting an invitation, uploading a campaign's three files, running the analysis and
publishing its release.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from qet_geo.cli.main import app as cli
from tests.conftest import shared
from tests.web.browser_kit import axe, shoot
from tests.web.test_accounts import PASSWORD

OUTLINE = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
#: The analysis of the Lorient extract takes seconds; a loaded machine may take much longer.
LONG_MS = 300_000
#: Where to save the screenshots (unset: none are taken).
SHOTS = os.environ.get("QET_SCREENSHOTS")
#: The names of the three surveys on the collection page.
SURVEY_NAMES = {
    "su": "Profils d'Usages (SU)",
    "mdv": "Modes et espaces de vie (MdV/EdV)",
    "ngc": "NosGestesClimat (NGC)",
}


def synthesize(folder: Path, *, seeds: tuple[int, int, int] = (4, 5, 6)) -> dict[str, Path]:
    """SU (120 answers), MdV/EdV (80) and NGC (80 % of the SU's) files of labelled-synthetic
    answers on Lorient's real buildings, drawn with ``seeds`` (SU, MdV, NGC), in ``folder``."""
    osm = str(shared("osm", "lorient_centre.osm.gz"))
    files = {kind: folder / f"{kind}_synthetique.csv" for kind in ("su", "mdv", "ngc")}
    su, mdv, ngc = (str(seed) for seed in seeds)
    runs = [
        ["--kind", "su", "--n", "120", "--seed", su],
        ["--kind", "mdv", "--n", "80", "--seed", mdv],
        ["--kind", "ngc", "--su", str(files["su"]), "--share", "0.8", "--seed", ngc],
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
        """Run axe on ``page`` (findings kept with its address) and, with ``QET_SCREENSHOTS``
        set, save it as ``<shot>.png``."""
        page.wait_for_load_state("load")
        found = axe(page, exclude=exclude) if exclude else axe(page)
        self.seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in found]))
        if shot:
            shoot(page, shot)

    def failures(self) -> list[tuple[str, list[str]]]:
        """The pages with a serious or critical finding (empty: all passed)."""
        return [(where, found) for where, found in self.seen if found]


def sign_in(page: Page, email: str) -> None:
    """Sign in with the tests' password; the dashboard ("Quartiers") shows."""
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")


def accept_invitation(page: Page, link: str) -> None:
    """Open a one-time invitation link and choose the tests' password."""
    page.goto(link)
    page.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
    page.get_by_label("Le même mot de passe, à nouveau").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("[role=status]")).to_contain_text("Votre compte est créé")


def invite(page: Page, hood_url: str, email: str) -> str:
    """From the neighbourhood's page (an administrator signed in), invite ``email`` to its pilot
    team; return the one-time link."""
    page.goto(hood_url)
    page.get_by_role("link", name="Inviter un membre de l'équipe pilote").click()
    page.get_by_label("Adresse électronique de la personne invitée").fill(email)
    page.get_by_role("button", name="Inviter").click()
    return page.get_by_label("Lien d'invitation").input_value()


def upload(page: Page, files: dict[str, Path]) -> None:
    """Upload the SU, MdV/EdV and NGC files on the collection page; each is accepted."""
    uploads = page.locator("table", has=page.locator("caption", has_text="Envois de la campagne"))
    for done, (kind, name) in enumerate(SURVEY_NAMES.items(), start=1):
        page.get_by_role("radio", name=name).check()
        page.get_by_label("Export des Profils d'Usages (SU)", exact=False).set_input_files(
            str(files[kind])
        )
        page.get_by_role("button", name="Déposer le fichier").click()
        expect(page.get_by_text(f"Enquête du fichier : {name}.")).to_be_visible(timeout=LONG_MS)
        expect(uploads.locator("tbody tr")).to_have_count(done)
    expect(page.get_by_text("Réponses SYNTHÉTIQUES").first).to_be_visible()


def reviewed(page: Page) -> None:
    """The results' sections as the exhibition shows them."""
    for heading in (
        "Empreinte carbone par usage",
        "Accès mesuré et accès perçu",
        "Empreinte NosGestesClimat",
    ):
        expect(page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()


def analyse(page: Page, hood_url: str) -> None:
    """Run the analysis of the neighbourhood's current campaign and wait for its end."""
    page.goto(hood_url)
    page.get_by_role("link", name="Analyser le diagnostic").click()
    page.get_by_role("button", name="Lancer l'analyse").click()
    expect(page.locator(".job-state")).to_contain_text("Analyse terminée", timeout=LONG_MS)


def publish(page: Page, number: int) -> None:
    """On the results' page: confirm and publish release ``number`` of the current campaign."""
    page.get_by_label("Je confirme : publier ces chiffres maintenant").check()
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"Publication n° {number} faite.")
