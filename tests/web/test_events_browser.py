"""Workshops and meetings in a real browser (Debian's chromium): the pilot team creates a
workshop from its neighbourhood's page, writes its agenda and publishes it; a resident registers
"we will be 3" on the public agenda, which shows "fewer than 11"; a past workshop shows its
minutes and outputs. axe-core finds no serious or critical violation on the team's and the
public pages, at desktop and phone widths."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from qet_geo.store import accounts, events
from qet_geo.store import models as store
from qet_geo.store.portal import set_slug
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_accounts import PASSWORD

TIMEOUT = 60_000


def _hood(live_app: LiveApp) -> tuple[int, str]:
    with store.session_scope(live_app.app.state.engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec (Lorient)", published=True)
        slug = set_slug(s, hood, "kervenanec")
        accounts.create_user(
            s, email="pilote@ex.example", password=PASSWORD, role="pilot",
            neighbourhood_ids=[hood.id],
        )  # fmt: skip
        past = events.create_event(
            s, hood.id, title="Réunion de sensibilisation", phase="sensibilisation",
            kind="reunion", starts_at=datetime.now(UTC) - timedelta(days=20),
            place="Médiathèque",
        )  # fmt: skip
        events.update_after(
            s, past, minutes="# Ce qui s'est dit\n\nLe vélo, **surtout**.\n\n<script>x</script>",
            attendance=23, contributions=4,
            outputs={"narrative": "Un quartier où l'on marche.", "problems": "- le carrefour"},
        )  # fmt: skip
        events.publish_event(s, past, True)
        return hood.id, slug


def test_the_team_publishes_a_workshop_and_a_resident_registers(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    page.set_default_timeout(TIMEOUT)
    hood, slug = _hood(live_app)
    seen: list[tuple[str, list[str]]] = []

    def checked(p: Page) -> None:
        seen.append((p.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(p)]))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("pilote@ex.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name=re.compile("Ateliers et réunions")).click()
    expect(page.locator("h1")).to_have_text("Ateliers et réunions")
    checked(page)

    page.get_by_label("Titre").fill("Atelier mobilité")
    page.get_by_label("Phase de la démarche").select_option("inspiration")
    page.get_by_label("Date et heure (heure de Paris)").fill("2027-01-14T18:30")
    page.get_by_label("Lieu").fill("Maison de quartier")
    page.get_by_label("Ordre du jour (Markdown)").fill("# Programme\n\n- les trajets\n- le vélo")
    page.get_by_label("Capacité (places)").fill("30")
    page.get_by_role("button", name="Créer l'événement").click()
    expect(page.locator("h1")).to_have_text("Atelier mobilité")
    expect(page.get_by_role("status")).to_contain_text("Événement créé")
    expect(page.locator(".markdown h4")).to_have_text("Programme")
    checked(page)
    page.get_by_role("button", name="Publier sur le portail").click()
    expect(page.get_by_role("status")).to_contain_text("L'événement est publié")
    checked(page)

    resident = page.context.new_page()  # the page needs no account
    try:
        resident.set_default_timeout(TIMEOUT)
        resident.goto(f"/q/{slug}/ateliers")
        expect(resident.locator("h1")).to_have_text("Ateliers et réunions")
        expect(resident.locator("main")).to_contain_text("14 janvier 2027 à 18:30")
        expect(resident.locator("main")).to_contain_text("Participants : 23.")
        expect(resident.locator("main")).to_contain_text("Contributions : moins de 11.")
        expect(resident.locator("main h4", has_text="Récit partagé")).to_be_visible()
        expect(resident.locator("main script")).to_have_count(0)
        checked(resident)
        shoot(resident, "portail_ateliers")
        resident.get_by_label("Nous serons (nombre de personnes)").fill("3")
        resident.get_by_role("button", name="S'inscrire").click()
        expect(resident.get_by_role("status")).to_contain_text("votre inscription est comptée")
        expect(resident.locator("main")).to_contain_text("Inscrits : moins de 11.")
        checked(resident)
        resident.set_viewport_size({"width": 375, "height": 800})
        resident.reload()
        expect(resident.locator("h1")).to_have_text("Ateliers et réunions")
        checked(resident)
    finally:
        resident.close()

    page.reload()
    expect(page.locator("main")).to_contain_text("Inscrits : 3.")  # the team sees its count
    assert all(not found for _, found in seen), seen
    watch.assert_no_error()
