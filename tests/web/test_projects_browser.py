"""Project sheets in a real browser (Debian's chromium): the pilot team writes a sheet from its
neighbourhood's page (a wrong budget first: the page says so and keeps what was typed), reads
its expected effect with its assumptions, publishes it, and the public reads it at
/q/{slug}/projets. axe-core finds no violation on any of these pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.releases import Figures
from tests.web.browser_kit import LiveApp, Watch, axe, browse, shoot
from tests.web.test_accounts import PASSWORD
from tests.web.test_portal_public_browser import _published

WAIT_MS = 60_000


def test_the_team_writes_a_sheet_and_the_public_reads_it(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    _published(live_app)
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        hood = s.scalars(
            select(store.Neighbourhood).where(store.Neighbourhood.slug == "lorient-centre")
        ).one()
        hood_id = hood.id
        accounts.create_user(
            s, email="pilote@lorient.example", password=PASSWORD, role="pilot",
            neighbourhood_ids=[hood_id],
        )  # fmt: skip
        release = s.scalars(select(store.Release)).one()
        figures = Figures.from_json(release.figures)
    votes = [r for r in figures.links["fr"]["votes"] if r["built"] > 0]
    assert votes
    usage_label = votes[0]["theme"]
    profile = str(int(sorted(figures.profile_shares)[0]) + 1)  # "Profil n"
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("pilote@lorient.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers", timeout=WAIT_MS)
    page.goto(f"/espace/quartiers/{hood_id}")
    page.get_by_role("link", name="Projets : fiches, avancement et effet attendu").click()
    expect(page.locator("h1")).to_have_text("Fiches projets", timeout=WAIT_MS)
    checked()
    page.get_by_role("link", name="Écrire une nouvelle fiche").click()
    expect(page.locator("h1")).to_have_text("Nouvelle fiche projet", timeout=WAIT_MS)
    checked()
    page.get_by_label("Titre", exact=True).fill("Pistes cyclables <b>sûres</b>")
    page.get_by_label("Statut", exact=True).select_option(label="Retenu")
    page.get_by_label("Le problème à résoudre").fill("# Constat\n\nTrop de **voitures**.")
    page.get_by_label("Usage visé", exact=True).select_option(label=usage_label)
    page.get_by_label("Profils d'usages concernés").fill(profile)
    page.get_by_label("Budget (euros)").fill("beaucoup")
    page.get_by_role("button", name="Créer la fiche").click()
    expect(page.get_by_role("alert")).to_contain_text("n'est pas un nombre", timeout=WAIT_MS)
    expect(page.get_by_label("Titre", exact=True)).to_have_value("Pistes cyclables <b>sûres</b>")
    checked()
    page.get_by_label("Budget (euros)").fill("15000")
    page.get_by_role("button", name="Créer la fiche").click()
    expect(page.get_by_role("status")).to_have_text("Fiche projet créée.", timeout=WAIT_MS)
    expect(page.locator(".effect-value")).to_contain_text("kgCO2e évités par an")
    expect(page.locator(".assumptions li").first).to_contain_text("Empreinte moyenne")
    checked()
    page.get_by_role("button", name="Publier la fiche").click()
    expect(page.get_by_role("status")).to_contain_text("La fiche est publiée", timeout=WAIT_MS)
    checked()
    # the public, without an account
    with browse(live_app) as (public, public_watch):
        public.goto("/q/lorient-centre/projets")
        expect(public.locator("h1")).to_have_text("Les projets du quartier", timeout=WAIT_MS)
        expect(public.locator("h2")).to_have_text("Retenu")
        seen.append((public.url, [v["id"] for v in axe(public)]))
        public.get_by_role("link", name="Pistes cyclables <b>sûres</b>").click()
        expect(public.locator("h1")).to_have_text("Pistes cyclables <b>sûres</b>", timeout=WAIT_MS)
        expect(public.locator(".assumptions li").first).to_be_visible()
        seen.append((public.url, [v["id"] for v in axe(public)]))
        shoot(public, "portail_projet")
        public.set_viewport_size({"width": 360, "height": 740})
        seen.append((public.url, [v["id"] for v in axe(public)]))
        public_watch.assert_no_outside_request()
        public_watch.assert_no_error()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    # the one error logged: the refused form's answer (400), which the page explained
    assert all("400" in e for e in watch.errors), watch.errors
