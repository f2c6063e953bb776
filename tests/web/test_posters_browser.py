"""Profile posters and the profile opt-in in a real browser (Debian's chromium): the pilot team of
a published Lorient neighbourhood with a released campaign opens its profile posters from the
forum's page (one A4 page each when printed), invites profile 1 to a workshop and publishes it; a
resident "scans" a poster (opens the address its QR code holds and the poster prints), reads the
profile's page and registers "we will be 2"; the team reads "fewer than 11" for that profile.
axe-core finds no serious or critical violation on the posters, the events form and the profile's
page, at desktop and phone widths."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_accounts import PASSWORD
from tests.web.test_impact import campaigns

TIMEOUT = 60_000


def _published(live_app: LiveApp) -> int:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood, _ = campaigns(
            api, engine, osm_dir, admin, name="Lorient centre", slug="lorient", years=(0,)
        )
    with store.session_scope(engine) as s:
        accounts.create_user(
            s, email="pilote@ex.example", password=PASSWORD, role="pilot",
            neighbourhood_ids=[hood],
        )  # fmt: skip
    return hood


def test_posters_lead_residents_to_the_workshops_that_invite_their_profile(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    page.set_default_timeout(TIMEOUT)
    hood = _published(live_app)
    seen: list[tuple[str, list[str]]] = []

    def checked(p: Page) -> None:
        p.wait_for_load_state("load")
        seen.append((p.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(p)]))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("pilote@ex.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")

    # the posters, from the forum's page
    page.goto(f"/espace/quartiers/{hood}/forum")
    page.get_by_role("link", name=re.compile("Imprimer les affiches des profils")).click()
    expect(page.locator("h1")).to_have_text("Affiches des profils d'usages")
    posters = page.locator("article.poster")
    expect(posters).to_have_count(3)
    first = posters.filter(has=page.get_by_role("heading", name="Profil 1", exact=True))
    expect(first.get_by_role("img", name="Code QR de la page du Profil 1")).to_be_visible()
    expect(first).to_contain_text("Mobilité quotidienne :")
    address = first.locator(".poster-address").inner_text()
    assert address == f"{live_app.url}/q/lorient/profils/1"
    checked(page)
    shoot(page, "affiches_profils")
    page.emulate_media(media="print")  # one poster per A4 page, without the workspace around
    assert posters.first.evaluate("e => getComputedStyle(e).breakAfter") == "page"
    expect(page.locator("body > header")).to_be_hidden()
    expect(page.locator(".crumbs")).to_be_hidden()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)  # as the browser's Print menu
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 3
    page.emulate_media(media="screen")

    # a workshop inviting profile 1
    page.goto(f"/espace/quartiers/{hood}/ateliers")
    page.get_by_label("Titre").fill("Atelier mobilité")
    page.get_by_label("Date et heure (heure de Paris)").fill("2030-01-14T18:30")
    page.get_by_label(re.compile(r"^Profil 1 \(")).check()
    checked(page)
    page.get_by_role("button", name="Créer l'événement").click()
    expect(page.locator("h1")).to_have_text("Atelier mobilité")
    expect(page.get_by_label(re.compile(r"^Profil 1 \("))).to_be_checked()
    page.get_by_role("button", name="Publier sur le portail").click()
    expect(page.get_by_role("status")).to_contain_text("L'événement est publié")
    checked(page)

    # a resident scans the poster: the QR code's address, which the poster prints
    resident = page.context.new_page()
    try:
        resident.set_default_timeout(TIMEOUT)
        resident.goto(address)
        expect(resident.locator("h1")).to_have_text("Profil 1")
        main = resident.locator("main")
        expect(main).to_contain_text("Vous vous reconnaissez ? Ces ateliers vous invitent.")
        expect(main).to_contain_text("Rien n'est enregistré sur vous")
        expect(resident.get_by_role("heading", name="Atelier mobilité")).to_be_visible()
        checked(resident)
        shoot(resident, "portail_profil")
        resident.get_by_label("Nous serons (nombre de personnes)").fill("2")
        resident.get_by_role("button", name="S'inscrire").click()
        expect(resident.get_by_role("status")).to_contain_text("votre inscription est comptée")
        expect(main).to_contain_text("Inscrits : moins de 11.")
        checked(resident)
        resident.set_viewport_size({"width": 375, "height": 800})
        resident.reload()
        expect(resident.locator("h1")).to_have_text("Profil 1")
        checked(resident)
        # the agenda names the invited profile and links to its page
        resident.goto("/q/lorient/ateliers")
        resident.get_by_role("link", name="Profil 1", exact=True).click()
        expect(resident.locator("h1")).to_have_text("Profil 1")
    finally:
        resident.close()

    page.goto(f"/espace/quartiers/{hood}/ateliers")
    row = page.get_by_role("row", name=re.compile("Atelier mobilité"))
    expect(row).to_contain_text("Profil 1 : moins de 11")
    expect(row).to_contain_text("2")  # the team reads its own total
    checked(page)
    assert all(not found for _, found in seen), seen
    watch.assert_no_error()
