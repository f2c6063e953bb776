"""The full cycle of issue 16 in a real browser (Debian's chromium), on the shared Lorient data.

Through the pages only (no JSON API call for what a page can do): the administrator made by
``qet admin create`` creates the neighbourhood and invites a pilot and a second team member;
the pilot uploads the outline and the OSM extract, opens the year-0 campaign, uploads
labelled-synthetic SU, MdV/EdV and NGC files (``qet survey synthesize`` on Lorient's real
buildings), runs the analysis and publishes release 1; the team names the portal's address and
fills the six phases, and the administrator publishes the portal. The forum: the team creates
the vote on the diagnostic's themes and prints its codes as QR cards; residents vote online
(a scanned code, a typed one, the exhibition's kiosk); the two team members count the paper
ballots independently (a first disagreement, withdrawn and counted again) until the counts
agree; the vote is closed and its results (12 online, 12 paper) and the chosen theme show on
the public forum and the home page. Two workshops are created and published, a resident
registers "we will be 3"; after them (the app's clock moved on 4 hours) the team writes their
minutes in Markdown, with a ``<script>`` that never runs, and their attendance. Three project
sheets get their expected effect: two from the neighbourhood's own release (the usage's margin
of manoeuvre, the profiles concerned or a share of residents), one from a documented factor; they
are published and read publicly. A year later the team opens the year-1 campaign on the
collection page, uploads new files (other seeds), analyses and publishes it; the public impact
page compares the two diagnostics and sets the three projects' expected effects beside the
measured change. Last, the documents page's archive is downloaded, unzipped and opened from the
disk (file://, the browser offline): no request leaves the folder, and its links work.

axe-core finds no serious or critical violation on any page seen, no page asks another host for
anything, and the browsers log no error. With ``QET_SCREENSHOTS=<folder>`` the main pages are
saved there as ``cycle_*.png`` (the README's portal tour: ``QET_SCREENSHOTS=docs/img/portail
.venv/bin/python -m pytest -p no:xdist tests/web/test_full_cycle.py``).
"""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, browse
from tests.web.journey_kit import (
    LONG_MS,
    OUTLINE,
    Journey,
    accept_invitation,
    analyse,
    invite,
    publish,
    reviewed,
    sign_in,
    synthesize,
    upload,
)
from tests.web.test_accounts import cli_admin

SLUG = "lorient-centre"
#: Participant codes printed: 12 online ballots, and a few cards left.
N_CODES = 15
#: The two members' paper count: ballots per theme (the first three themes), and blank ones.
PAPER = ([8, 3, 0], 1)
MINUTES = (
    "# Ce qui s'est dit\n\nLes trajets à **vélo** vers l'école, surtout.\n\n"
    "- un carrefour dangereux\n- des arceaux manquants\n\n<script>alert('minutes')</script>"
)


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Path]]:
    """The survey files of the year-0 and year-1 campaigns (other seeds the second year)."""
    return {
        0: synthesize(tmp_path_factory.mktemp("annee0"), seeds=(4, 5, 6)),
        1: synthesize(tmp_path_factory.mktemp("annee1"), seeds=(14, 15, 16)),
    }


def test_the_full_cycle_from_the_diagnostic_to_the_impact_page(
    page: Page,
    watch: Watch,
    live_app: LiveApp,
    browser: Browser,
    campaigns: dict[int, dict[str, Path]],
    tmp_path: Path,
) -> None:
    journey = Journey()
    # the app's clock: real time, moved on once the workshops are over
    shift = [timedelta(0)]
    live_app.app.state.web_clock = lambda: datetime.now(UTC) + shift[0]
    dialogs: list[str] = []
    done = cli_admin(str(live_app.app.state.engine.url), "admin@reseau.example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]

    # the administrator creates the neighbourhood and invites the pilot team
    page.set_viewport_size({"width": 1200, "height": 900})
    sign_in(page, "admin@reseau.example")
    page.get_by_role("link", name="Créer un quartier").click()
    page.get_by_label("Nom du quartier").fill("Lorient centre")
    page.get_by_role("button", name="Créer").click()
    expect(page.locator("h1")).to_have_text("Lorient centre")
    hood_url = page.url
    links = {email: invite(page, hood_url, email) for email in ("pilote@lorient.example",
                                                                "second@lorient.example")}  # fmt: skip
    journey.check(page)

    with (
        browse(live_app, browser=browser) as (pilot, pilot_watch),
        browse(live_app, browser=browser) as (second, second_watch),
        browse(live_app, browser=browser) as (public, public_watch),
    ):
        for member, email in (
            (pilot, "pilote@lorient.example"),
            (second, "second@lorient.example"),
        ):
            member.set_viewport_size({"width": 1200, "height": 900})
            accept_invitation(member, links[email])
            sign_in(member, email)
            member.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        public.set_viewport_size({"width": 1200, "height": 900})
        public.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

        _diagnostic(pilot, hood_url, campaigns[0], journey)
        _portal(pilot, page, public, hood_url, journey)
        chosen = _forum(pilot, second, public, hood_url, journey)
        _workshops(pilot, public, hood_url, journey, shift)
        _projects(pilot, public, hood_url, journey)
        _year_one(pilot, hood_url, campaigns[1], journey)
        _impact(public, journey)
        archive = _download(public, tmp_path, journey)
        for each in (pilot_watch, second_watch, public_watch):
            each.assert_no_outside_request()
            each.assert_no_error()

    _offline(live_app, browser, archive, chosen, journey)
    assert dialogs == []  # no script of the team's text ever ran
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert journey.failures() == []


# --------------------------------------------------------------------------------------------------
# the steps


def _diagnostic(pilot: Page, hood_url: str, files: dict[str, Path], journey: Journey) -> None:
    """Year 0: outline, extract, campaign, uploads, analysis, release 1."""
    pilot.goto(hood_url)
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
    pilot.goto(hood_url)
    pilot.get_by_role("link", name="Collecter les réponses : fichiers et avancement").click()
    pilot.get_by_role("button", name="Ouvrir la campagne d'enquête").click()
    expect(pilot.get_by_role("status")).to_contain_text("Campagne d'enquête ouverte")
    upload(pilot, files)
    journey.check(pilot)
    analyse(pilot, hood_url)
    pilot.get_by_role("link", name="Voir les résultats").click()
    expect(pilot.locator("h1")).to_have_text("Relire et publier les résultats")
    reviewed(pilot)
    journey.check(pilot)
    publish(pilot, 1)


def _phase(
    pilot: Page, key: str, state: str, starts: str, ends: str, place: str = "", note: str = ""
) -> None:
    """Fill and save one phase on the team's portal page."""
    section = pilot.locator("section.phase").filter(has=pilot.locator(f"#phase-{key}"))
    section.locator("summary").click()
    section.get_by_label("État").select_option(state)
    section.get_by_label("Début").fill(starts)
    section.get_by_label("Fin").fill(ends)
    section.get_by_label("Lieu").fill(place)
    section.get_by_label("Note (Markdown").fill(note)
    section.get_by_role("button", name="Enregistrer la phase").click()
    expect(pilot.get_by_role("status")).to_have_text("Phase enregistrée.")


def _portal(pilot: Page, admin: Page, public: Page, hood_url: str, journey: Journey) -> None:
    """The team names the address and fills the phases; the network publishes the portal."""
    pilot.goto(hood_url)
    pilot.get_by_role("link", name="Portail du territoire : adresse, publication").click()
    expect(pilot.locator("h1")).to_have_text("Portail du territoire")
    pilot.get_by_label("Adresse : /q/ suivi de").fill(SLUG)
    pilot.get_by_role("button", name="Enregistrer l'adresse").click()
    expect(pilot.get_by_role("status")).to_have_text("Adresse du portail enregistrée.")
    today = datetime.now(UTC).date()

    def on(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    _phase(pilot, "diagnostic", "done", on(-120), on(-20), "Tout le quartier",
           "L'enquête **Profils d'Usages** : 120 réponses (synthétiques).")  # fmt: skip
    _phase(pilot, "forum", "current", on(-10), on(10), "Maison de quartier",
           "# Exposition\n\nVenez voir le diagnostic et **voter** pour un thème.")  # fmt: skip
    _phase(pilot, "inspiration", "planned", on(11), on(90), "Médiathèque")
    _phase(pilot, "second_diagnostic", "planned", on(300), on(365))
    expect(pilot.locator("section.phase .note strong").first).to_have_text("Profils d'Usages")
    journey.check(pilot, "cycle_portail_equipe")

    admin.goto(f"{hood_url}/portail")
    admin.get_by_label("Je confirme : publier le portail").check()
    admin.get_by_role("button", name="Publier le portail").click()
    expect(admin.get_by_role("status")).to_contain_text("Le portail est publié")
    journey.check(admin)

    public.goto(f"/q/{SLUG}")
    expect(public.locator("h1")).to_have_text("Lorient centre")
    expect(public.get_by_role("img", name="Contour du quartier Lorient centre")).to_be_visible()
    expect(public.locator(".key-figures")).to_contain_text("Répondants")
    expect(public.locator(".timeline .note h3, .timeline .note strong").first).to_be_visible()
    journey.check(public)
    public.get_by_role("link", name="Lire tout le diagnostic").click()
    expect(public.locator("h1")).to_have_text("Le diagnostic du quartier")
    expect(public.locator("main")).to_contain_text("Diagnostic de l'année 0")
    journey.check(public)


def _forum(pilot: Page, second: Page, public: Page, hood_url: str, journey: Journey) -> str:
    """The vote: codes, online ballots (scanned, typed, kiosk), two paper counts, results.

    Returns the chosen theme.
    """
    pilot.goto(hood_url)
    pilot.get_by_role("link", name=re.compile("Forum : créer le vote")).click()
    expect(pilot.locator("h1")).to_have_text("Forum : le vote du quartier")
    proposed = pilot.locator("main ol").first.locator("li").all_inner_texts()
    assert len(proposed) >= 3, proposed  # the release's themes, by reduction potential
    journey.check(pilot)
    pilot.get_by_label("Nombre de codes de participant à imprimer").fill(str(N_CODES))
    pilot.get_by_role("button", name="Créer le vote et ses codes").click()
    expect(pilot.locator("h1")).to_have_text("Les codes du vote")
    expect(pilot.locator("svg.qr")).to_have_count(N_CODES)
    codes = pilot.locator(".vote-code").all_inner_texts()
    assert len(set(codes)) == N_CODES
    journey.check(pilot, "cycle_forum_codes")
    pilot.emulate_media(media="print")  # the printed page: the cards only
    expect(pilot.locator("div.noprint")).to_be_hidden()
    expect(pilot.locator(".vote-card").first).to_be_visible()
    pilot.emulate_media(media="screen")

    # online: 4 scanned QR codes, 4 typed codes, 4 at the exhibition's kiosk (9 + 3 on two themes)
    choices = [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    code_field = "Votre code de participant (sur votre carte)"
    for code, choice in zip(codes[:4], choices[:4], strict=True):
        public.goto(f"/q/{SLUG}/forum?code={code.replace('-', '')}")
        expect(public.get_by_label(code_field)).to_have_value(code.replace("-", ""))
        public.locator(f"#choix-{choice}").check()
        public.get_by_role("button", name="Voter").click()
        expect(public.get_by_role("status")).to_contain_text("votre vote est enregistré")
    journey.check(public)
    chosen = public.locator("label[for=choix-0]").inner_text().split(" — ")[0].strip()
    for code, choice in zip(codes[4:8], choices[4:8], strict=True):
        public.goto(f"/q/{SLUG}/forum")
        public.get_by_label(code_field).fill(code)
        public.locator(f"#choix-{choice}").check()
        public.get_by_role("button", name="Voter").click()
        expect(public.get_by_role("status")).to_contain_text("votre vote est enregistré")
    public.goto(f"/q/{SLUG}/forum?kiosque=1")
    expect(public.locator("nav")).to_have_count(0)
    journey.check(public, "cycle_forum_borne")
    for code, choice in zip(codes[8:12], choices[8:12], strict=True):
        public.get_by_label(code_field).fill(code)
        public.locator(f"#choix-{choice}").check()
        public.get_by_role("button", name="Voter").click()
        expect(public.get_by_role("status")).to_contain_text("La personne suivante peut voter")
        expect(public.get_by_label(code_field)).to_have_value("")
    journey.check(public)

    # paper: each member counts on their own; a first disagreement, withdrawn and recounted
    counts, blank = PAPER
    _paper_count(pilot, hood_url, counts, blank)
    expect(pilot.locator("#papier ~ p[role=status]").first).to_contain_text("Un décompte saisi")
    _paper_count(second, hood_url, [counts[0], counts[1] + 1, *counts[2:]], blank)
    expect(second.locator("#papier ~ p[role=status]").first).to_contain_text("ne concordent pas")
    journey.check(second)
    second.get_by_role("button", name="Retirer mon décompte").click()
    expect(second.get_by_role("status").first).to_contain_text("Votre décompte papier est retiré")
    _paper_count(second, hood_url, counts, blank)
    expect(second.locator("#papier ~ p[role=status]").first).to_contain_text(
        "Deux décomptes concordent"
    )
    journey.check(second)

    pilot.goto(f"{hood_url}/forum")
    pilot.get_by_label(re.compile("Je confirme")).check()
    pilot.get_by_role("button", name="Clore le vote").click()
    expect(pilot.get_by_role("status").first).to_contain_text("Le vote est clos")
    journey.check(pilot)

    n_paper = sum(counts) + blank
    public.goto(f"/q/{SLUG}/forum")
    expect(public.locator("main")).to_contain_text("Le vote est clos")
    expect(public.locator(".chosen")).to_have_text(f"Thème choisi : {chosen}.")
    expect(public.locator("main")).to_contain_text(
        f"Dont 12 bulletins en ligne et {n_paper} bulletins papier."
    )
    expect(public.get_by_role("row", name=re.compile(re.escape(chosen)))).to_contain_text("17")
    expect(public.locator("main")).to_contain_text("moins de 11")  # the second theme: 3 + 3
    journey.check(public, "cycle_forum_resultats")
    public.goto(f"/q/{SLUG}")
    theme = public.locator(".key-figures dt:has-text('Thème choisi par le vote') + dd")
    expect(theme).to_have_text(chosen)
    journey.check(public, "cycle_accueil")
    return chosen


def _paper_count(member: Page, hood_url: str, counts: list[int], blank: int) -> None:
    member.goto(f"{hood_url}/forum")
    form = member.locator("form", has=member.get_by_role("button", name="Enregistrer mon décompte"))
    for position, n in enumerate(counts):
        form.locator(f"#count-{position}").fill(str(n))
    form.get_by_label("Blancs").fill(str(blank))
    form.get_by_role("button", name="Enregistrer mon décompte").click()
    expect(member.get_by_role("status").first).to_contain_text(
        "Votre décompte papier est enregistré"
    )


def _workshops(
    pilot: Page, public: Page, hood_url: str, journey: Journey, shift: list[timedelta]
) -> None:
    """Two workshops: published, a registration by count; after them, minutes and attendance."""
    paris = datetime.now(ZoneInfo("Europe/Paris"))
    titles = ("Atelier mobilité : les trajets du quotidien", "Atelier : des rues pour le vélo")
    for hours, title in zip((2, 3), titles, strict=True):
        pilot.goto(hood_url)
        pilot.get_by_role("link", name=re.compile("Ateliers et réunions")).click()
        expect(pilot.locator("h1")).to_have_text("Ateliers et réunions")
        pilot.get_by_label("Titre", exact=True).fill(title)
        pilot.get_by_label("Type", exact=True).select_option("atelier")
        pilot.get_by_label("Phase de la démarche").select_option("inspiration")
        when = (paris + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
        pilot.get_by_label("Date et heure (heure de Paris)").fill(when)
        pilot.get_by_label("Lieu", exact=True).fill("Maison de quartier")
        pilot.get_by_label("Ordre du jour (Markdown)").fill(
            "# Programme\n\n- les trajets\n- le vélo"
        )
        pilot.get_by_label("Capacité (places)").fill("30")
        pilot.get_by_role("button", name="Créer l'événement").click()
        expect(pilot.locator("h1")).to_have_text(title)
        expect(pilot.get_by_role("status")).to_contain_text("Événement créé")
        pilot.get_by_role("button", name="Publier sur le portail").click()
        expect(pilot.get_by_role("status")).to_contain_text("L'événement est publié")
    journey.check(pilot)

    public.goto(f"/q/{SLUG}/ateliers")
    expect(public.locator("h1")).to_have_text("Ateliers et réunions")
    first = public.locator("article.event", has_text=titles[0])
    first.get_by_label("Nous serons (nombre de personnes)").fill("3")
    first.get_by_role("button", name="S'inscrire").click()
    expect(public.get_by_role("status")).to_contain_text("votre inscription est comptée")
    first = public.locator("article.event", has_text=titles[0])
    expect(first).to_contain_text("Inscrits : moins de 11.")
    journey.check(public)

    shift[0] = timedelta(hours=4)  # the workshops took place
    for title, attendance in zip(titles, (14, 23), strict=True):
        pilot.goto(f"{hood_url}/ateliers")
        pilot.get_by_role("link", name=title).click()
        expect(pilot.locator("h1")).to_have_text(title)
        pilot.get_by_label("Compte rendu (Markdown)").fill(MINUTES)
        pilot.get_by_label("Nombre de participants").fill(str(attendance))
        pilot.get_by_label("Nombre de contributions (idées, propositions)").fill("6")
        pilot.get_by_label("Récit partagé (Markdown)").fill("Un quartier où l'on va à vélo.")
        pilot.get_by_role("button", name="Enregistrer le compte rendu").click()
        expect(pilot.get_by_role("status")).to_contain_text("Compte rendu enregistré")
        expect(pilot.locator(".event-preview strong").first).to_have_text("vélo")
        expect(pilot.locator("main script")).to_have_count(0)
    journey.check(pilot)

    public.goto(f"/q/{SLUG}/ateliers")
    past = public.locator("article.event", has_text=titles[0])
    expect(past.locator("h4", has_text="Compte rendu")).to_be_visible()
    expect(past).to_contain_text("Participants : 14.")
    expect(past).to_contain_text("Contributions : moins de 11.")
    expect(past.locator(".markdown li")).to_have_count(2)
    expect(public.locator("article.event", has_text=titles[1])).to_contain_text(
        "Participants : 23."
    )
    expect(public.locator("main script")).to_have_count(0)
    assert "alert('minutes')" not in public.locator("main").inner_html().replace("&#39;", "'") or (
        public.locator("main").inner_text().count("<script>") == 2
    )  # removed, or shown as text
    journey.check(public, "cycle_ateliers")


def _project(pilot: Page, hood_url: str, fields: dict[str, str], *, factor: bool) -> None:
    pilot.goto(hood_url)
    pilot.get_by_role("link", name="Projets : fiches, avancement et effet attendu").click()
    expect(pilot.locator("h1")).to_have_text("Fiches projets")
    pilot.get_by_role("link", name="Écrire une nouvelle fiche").click()
    expect(pilot.locator("h1")).to_have_text("Nouvelle fiche projet")
    pilot.get_by_label("Titre", exact=True).fill(fields["title"])
    pilot.get_by_label("Statut", exact=True).select_option(label=fields["status"])
    pilot.get_by_label("Le problème à résoudre").fill(fields["problem"])
    pilot.get_by_label("Usage visé", exact=True).select_option(label=fields["usage"])
    pilot.get_by_label("Porteurs").fill(fields["holders"])
    pilot.get_by_label("Budget (euros)").fill(fields["budget"])
    for key, label in (
        ("profils", "Profils d'usages concernés"),
        ("part", "Part des habitants touchés"),
        ("habitants", "Habitants du quartier"),
    ):
        if key in fields:
            pilot.get_by_role("textbox", name=label).fill(fields[key])
    if factor:
        pilot.get_by_role("radio", name="Par un facteur documenté").check()
        pilot.get_by_role("textbox", name="Facteur (kgCO2e évités par unité)").fill(
            fields["factor"]
        )
        pilot.get_by_role("textbox", name="Unités par an").fill(fields["units"])
        pilot.get_by_role("textbox", name="Source du facteur").fill(fields["source"])
    pilot.get_by_role("button", name="Créer la fiche").click()
    expect(pilot.get_by_role("status")).to_have_text("Fiche projet créée.")
    expect(pilot.locator(".effect-value")).to_contain_text("kgCO2e évités par an")
    expect(pilot.locator(".assumptions li").first).to_be_visible()


PROJECTS = (
    {
        "title": "Pistes cyclables vers les écoles",
        "status": "Retenu",
        "problem": "# Constat\n\nLes trajets courts se font en **voiture**.",
        "usage": "Mobilité quotidienne",
        "holders": "Mairie de quartier, association Vélo Lorient",
        "budget": "45000",
        "profils": "1, 2",
    },
    {
        "title": "Autopartage et navette de quartier",
        "status": "En cours",
        "problem": "Beaucoup de ménages gardent une voiture pour quelques trajets par semaine.",
        "usage": "Mobilité quotidienne",
        "holders": "Lorient Agglomération, conseil de quartier",
        "budget": "120000",
        "part": "25",
        "habitants": "2500",
    },
    {
        "title": "Cantine : deux repas végétariens par semaine",
        "status": "Proposé",
        "problem": "La viande à chaque repas pèse lourd dans l'empreinte du quartier.",
        "usage": "Alimentation (viande)",
        "holders": "École du centre, parents d'élèves",
        "budget": "8000",
        "factor": "1.5",
        "units": "24000",
        "source": "Facteur documenté : un repas avec viande remplacé par un repas végétarien "
        "(environ 1,5 kgCO2e évités ; Base Empreinte de l'ADEME)",
    },
)


def _projects(pilot: Page, public: Page, hood_url: str, journey: Journey) -> None:
    """Three sheets with an expected effect each, published and read publicly."""
    for fields in PROJECTS:
        _project(pilot, hood_url, fields, factor="factor" in fields)
        journey.check(pilot, "cycle_projet_equipe" if fields is PROJECTS[0] else None)
        pilot.get_by_role("button", name="Publier la fiche").click()
        expect(pilot.get_by_role("status")).to_contain_text("La fiche est publiée")
    public.goto(f"/q/{SLUG}/projets")
    expect(public.locator("h1")).to_have_text("Les projets du quartier")
    for fields in PROJECTS:
        expect(public.get_by_role("link", name=fields["title"])).to_be_visible()
    journey.check(public)
    public.get_by_role("link", name=PROJECTS[0]["title"]).click()
    expect(public.locator("h1")).to_have_text(PROJECTS[0]["title"])
    expect(public.locator(".effect-value")).to_contain_text("kgCO2e évités par an")
    expect(public.locator(".assumptions li").first).to_be_visible()
    journey.check(public, "cycle_projet")


def _year_one(pilot: Page, hood_url: str, files: dict[str, Path], journey: Journey) -> None:
    """A year later: the year-1 campaign opened on the collection page, analysed, published."""
    pilot.goto(hood_url)
    pilot.get_by_role("link", name="Collecter les réponses : fichiers et avancement").click()
    expect(pilot.locator("main")).to_contain_text("Cette campagne est publiée")
    expect(pilot.get_by_label(re.compile("Année de la campagne"))).to_have_value("1")
    pilot.get_by_role("button", name="Ouvrir la campagne d'enquête").click()
    expect(pilot.get_by_role("status")).to_contain_text("Campagne d'enquête ouverte")
    expect(pilot.get_by_role("heading", name="Campagne de l'année 1")).to_be_visible()
    upload(pilot, files)
    journey.check(pilot, "cycle_collecte_annee1")
    analyse(pilot, hood_url)
    pilot.get_by_role("link", name="Voir les résultats").click()
    reviewed(pilot)
    publish(pilot, 1)


def _impact(public: Page, journey: Journey) -> None:
    """The second diagnostic against the first, and the projects beside the measured change."""
    public.goto(f"/q/{SLUG}")
    public.get_by_role("link", name="Impact").click()
    expect(public.locator("h1")).to_have_text("L'impact de la démarche")
    expect(public.locator("#titre-changement")).to_be_visible()
    expect(public.locator("main")).to_contain_text("Ce que cette comparaison ne prouve pas")
    table = public.locator("table", has=public.locator("caption", has_text="Réduction attendue"))
    for fields in PROJECTS:
        row = table.get_by_role("row", name=re.compile(re.escape(fields["title"])))
        expect(row).to_contain_text(fields["usage"])
        expect(row).not_to_contain_text("non estimé")
    journey.check(public, "cycle_impact")


def _download(public: Page, tmp_path: Path, journey: Journey) -> Path:
    """The documents page; its archive downloaded and unzipped. Returns the folder."""
    public.goto(f"/q/{SLUG}")
    public.get_by_role("link", name="Documents", exact=True).click()
    expect(public.locator("h1")).to_have_text("Documents du portail")
    expect(public.get_by_role("link", name="Diagnostic de l'année 1")).to_be_visible()
    for fields in PROJECTS:
        expect(public.get_by_role("link", name=fields["title"])).to_be_visible()
    journey.check(public, "cycle_documents")
    with public.expect_download() as info:
        public.get_by_role("link", name="Télécharger tout le portail").click()
    zipped = tmp_path / "portail.zip"
    info.value.save_as(zipped)
    folder = tmp_path / "archive"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(folder)
    assert (folder / "index.html").is_file()
    return folder


def _offline(
    live_app: LiveApp, browser: Browser, folder: Path, chosen: str, journey: Journey
) -> None:
    """The archive's index.html opened from the disk, the browser offline; a few links."""
    with browse(live_app, browser=browser, offline=True) as (disk, disk_watch):
        disk.set_viewport_size({"width": 1200, "height": 900})
        asked: list[str] = []
        disk.on("request", lambda request: asked.append(request.url))
        disk.goto((folder / "index.html").as_uri())
        expect(disk.locator("header .brand")).to_contain_text("Lorient centre")
        expect(disk.locator("h1")).to_have_text("Lorient centre")
        journey.check(disk, "cycle_archive_hors_ligne")
        for name, heading in (
            ("Forum", "Forum : exposition et vote"),
            ("Ateliers", "Ateliers et réunions"),
            ("Projets", "Les projets du quartier"),
            ("Impact", "L'impact de la démarche"),
        ):
            disk.get_by_role("link", name=name, exact=True).click()
            expect(disk.locator("h1")).to_have_text(heading)
            assert disk.url.startswith("file://")
            journey.check(disk)
            if name == "Forum":  # the year-0 vote, still public once year 1 is opened
                expect(disk.locator(".chosen")).to_have_text(f"Thème choisi : {chosen}.")
            if name == "Ateliers":
                expect(disk.locator("h4", has_text="Compte rendu")).to_have_count(2)
                expect(disk.locator("main script")).to_have_count(0)
        disk.get_by_role("link", name=PROJECTS[2]["title"]).first.click()
        expect(disk.locator("h1")).to_have_text(PROJECTS[2]["title"])
        journey.check(disk)
        assert [u for u in asked if not u.startswith("file://")] == []
        disk_watch.assert_no_outside_request()
        # axe reads the stylesheets again through XMLHttpRequest, which chromium refuses on
        # file:// (the pages loaded them); those refusals are dropped (test_documents_browser)
        refused = [e for e in disk_watch.errors if e.startswith("Access to XMLHttpRequest")]
        failed = [e for e in disk_watch.errors if e == "Failed to load resource: net::ERR_FAILED"]
        left = [e for e in disk_watch.errors if e not in refused and e not in failed]
        assert left == [], left
