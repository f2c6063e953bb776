"""The forum in a real browser (Debian's chromium): the team creates the vote and prints its
codes, a resident votes with a scanned code on the public page, the kiosk takes the next vote,
the team closes the vote and the results wait for 11 ballots. axe-core finds no serious or
critical violation on the team's and the public pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.portal import set_phase, set_slug
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_accounts import PASSWORD

TIMEOUT = 60_000


def _hood(live_app: LiveApp) -> tuple[int, str]:
    with store.session_scope(live_app.app.state.engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec", published=True)
        s.add(store.Diagnostic(neighbourhood_id=hood.id, year=0))
        slug = set_slug(s, hood, "kervenanec")
        set_phase(s, hood.id, "forum", state="current", place="Maison de quartier")
        accounts.create_user(
            s, email="pilote@ex.example", password=PASSWORD, role="pilot",
            neighbourhood_ids=[hood.id],
        )  # fmt: skip
        return hood.id, slug


def test_the_team_opens_the_vote_and_a_resident_votes(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    page.set_default_timeout(TIMEOUT)
    hood, slug = _hood(live_app)
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("pilote@ex.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name=re.compile("Forum : créer le vote")).click()
    expect(page.locator("h1")).to_have_text("Forum : le vote du quartier")
    checked()
    page.get_by_label("Nombre de codes de participant à imprimer").fill("3")
    page.get_by_role("button", name="Créer le vote et ses codes").click()
    expect(page.locator("h1")).to_have_text("Les codes du vote")
    expect(page.locator("svg.qr")).to_have_count(3)
    checked()
    shoot(page, "forum_codes")
    codes = page.locator(".vote-code").all_inner_texts()
    assert len(codes) == 3
    page.get_by_role("link", name="Retour au forum").click()
    expect(page.get_by_role("button", name="Enregistrer mon décompte")).to_be_visible()
    checked()

    # a resident scans a card: the code is in the form
    resident = page.context.new_page()  # the same French browser; the page needs no account
    try:
        resident.set_default_timeout(TIMEOUT)
        resident.goto(f"/q/{slug}/forum?code={codes[0].replace('-', '')}")
        expect(resident.locator("h1")).to_have_text("Forum : exposition et vote")
        expect(resident.get_by_label("Votre code de participant (sur votre carte)")).to_have_value(
            codes[0].replace("-", "")
        )
        seen.append((resident.url, [f"{v['id']} ({v['impact']})" for v in axe(resident)]))
        shoot(resident, "forum_vote")
        resident.get_by_label("Numérique").check()
        resident.get_by_role("button", name="Voter").click()
        expect(resident.get_by_role("status")).to_contain_text("votre vote est enregistré")
        seen.append((resident.url, [f"{v['id']} ({v['impact']})" for v in axe(resident)]))
        # the kiosk: a typed code, then an empty form again
        resident.goto(f"/q/{slug}/forum?kiosque=1")
        expect(resident.locator("nav")).to_have_count(0)
        resident.get_by_label("Votre code de participant (sur votre carte)").fill(codes[1])
        resident.get_by_label("Mobilité quotidienne").check()
        resident.get_by_role("button", name="Voter").click()
        expect(resident.get_by_role("status")).to_contain_text("La personne suivante peut voter")
        expect(resident.get_by_label("Votre code de participant (sur votre carte)")).to_have_value(
            ""
        )
        seen.append((resident.url, [f"{v['id']} ({v['impact']})" for v in axe(resident)]))
    finally:
        resident.close()

    # the team closes the vote: 2 ballots, nothing published
    page.goto(f"/espace/quartiers/{hood}/forum")
    page.get_by_label(re.compile("Je confirme")).check()
    page.get_by_role("button", name="Clore le vote").click()
    expect(page.get_by_role("status").first).to_contain_text("Le vote est clos")
    checked()
    page.goto(f"/q/{slug}/forum")
    expect(page.locator("main")).to_contain_text("Pas assez de bulletins pour publier")
    checked()
    assert all(not found for _, found in seen), seen
    watch.assert_no_error()
