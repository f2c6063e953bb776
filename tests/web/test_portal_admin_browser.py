"""The team's portal page in a real browser (Debian's chromium): the pilot team opens it from its
neighbourhood's page, keeps the proposed address, fills the forum phase (a wrong pair of dates
first: the page says so and keeps what was typed), and sees its note rendered; the network's
staff then publish the portal, which the public reads at /q/{slug}. axe-core finds no serious
or critical violation on any state of the page."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, browse
from tests.web.test_accounts import PASSWORD

WAIT_MS = 60_000


def _sign_in(page: Page, email: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers", timeout=WAIT_MS)


def test_the_team_fills_its_portal_and_the_network_publishes_it(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser
) -> None:
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec (Lorient)").id
        accounts.create_user(
            s, email="pilote@lorient.example", password=PASSWORD, role="pilot",
            neighbourhood_ids=[hood],
        )  # fmt: skip
        accounts.create_user(s, email="staff@reseau.example", password=PASSWORD, role="staff")
    seen: list[tuple[str, list[str]]] = []

    def checked(p: Page) -> None:
        seen.append((p.url, [f"{v['id']} ({v['impact']})" for v in axe(p)]))

    _sign_in(page, "pilote@lorient.example")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name="Portail du territoire : adresse, publication").click()
    expect(page.locator("h1")).to_have_text("Portail du territoire", timeout=WAIT_MS)
    checked(page)

    # the address: the proposed one kept
    expect(page.get_by_label("Adresse : /q/ suivi de")).to_have_value("kervenanec-lorient")
    page.get_by_role("button", name="Enregistrer l'adresse").click()
    expect(page.get_by_role("status")).to_have_text("Adresse du portail enregistrée.")
    expect(page.get_by_role("link", name="/q/kervenanec-lorient")).to_be_visible()
    expect(page.get_by_text("revient au réseau")).to_be_visible()

    # the forum phase: the end before the start first
    forum = page.locator("section.phase").filter(has=page.locator("#phase-forum"))
    forum.locator("summary").click()
    forum.get_by_label("État").select_option("current")
    forum.get_by_label("Début").fill("2027-03-21")
    forum.get_by_label("Fin").fill("2027-03-01")
    forum.get_by_label("Lieu").fill("Maison de quartier")
    forum.get_by_label("Note (Markdown").fill("# Exposition\n\nVenez **voter** <script>x</script>")
    checked(page)
    forum.get_by_role("button", name="Enregistrer la phase").click()
    forum = page.locator("section.phase").filter(has=page.locator("#phase-forum"))
    expect(forum.get_by_role("alert")).to_contain_text("précède son début", timeout=WAIT_MS)
    expect(forum.get_by_label("Lieu")).to_have_value("Maison de quartier")
    checked(page)
    forum.get_by_label("Début").fill("2027-03-01")
    forum.get_by_label("Fin").fill("2027-03-21")
    forum.get_by_role("button", name="Enregistrer la phase").click()
    expect(page.get_by_role("status")).to_have_text("Phase enregistrée.", timeout=WAIT_MS)
    forum = page.locator("section.phase").filter(has=page.locator("#phase-forum"))
    expect(forum.locator("h3")).to_have_text("2. Forum : exposition et vote : en cours")
    expect(forum.locator(".note h5")).to_have_text("Exposition")
    expect(forum.locator(".note strong")).to_have_text("voter")
    expect(forum.locator(".note")).to_contain_text("<script>x</script>")
    expect(forum.locator("ul.checklist li")).to_have_count(4)
    checked(page)

    # the network publishes; the public reads the portal
    with browse(live_app, browser=browser) as (staff, staff_watch):
        _sign_in(staff, "staff@reseau.example")
        staff.goto(f"/espace/quartiers/{hood}/portail")
        expect(staff.get_by_role("button", name="Enregistrer l'adresse")).to_have_count(0)
        staff.get_by_label("Je confirme : publier le portail").check()
        staff.get_by_role("button", name="Publier le portail").click()
        expect(staff.get_by_role("status")).to_contain_text(
            "Le portail est publié", timeout=WAIT_MS
        )
        checked(staff)
        staff.get_by_role("link", name="/q/kervenanec-lorient").click()
        expect(staff.locator("h1")).to_contain_text("Kervénanec", timeout=WAIT_MS)
        staff_watch.assert_no_outside_request()

    watch.assert_no_outside_request()
    assert all(not found for _, found in seen), seen
