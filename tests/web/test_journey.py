"""The first steps of the journey in a real browser (Debian's chromium): the administrator made by
``qet admin create`` signs in, creates a neighbourhood, invites a pilot; the pilot opens the link,
chooses a password, signs in and sees its neighbourhood, and another team's URL is a 404 page.
The admin also makes a token for scripts on her account page, which the JSON API takes. axe-core
finds no serious or critical violation on any page visited."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, browse
from tests.web.test_accounts import PASSWORD, cli_admin


def _checked(page: Page, seen: list[tuple[str, list[str]]]) -> None:
    """Run axe on the page as it is now; remember its blocking violations and its URL."""
    violations = axe(page)
    seen.append((page.url, [f"{v['id']} ({v['impact']})" for v in violations]))


def _sign_in(page: Page, email: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_admin_invites_a_pilot_who_sees_its_neighbourhood(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser
) -> None:
    engine = live_app.app.state.engine
    url = str(engine.url)
    done = cli_admin(url, "admin@reseau.example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        other = store.add_neighbourhood(s, name="Quartier d'une autre équipe").id
    seen: list[tuple[str, list[str]]] = []

    page.goto("/espace")
    expect(page).to_have_url(f"{live_app.url}/connexion?suite=%2Fespace")
    _checked(page, seen)
    _sign_in(page, "admin@reseau.example")
    expect(page.locator("h1")).to_have_text("Quartiers")
    _checked(page, seen)
    page.get_by_role("link", name="Créer un quartier").click()
    _checked(page, seen)
    page.get_by_label("Nom du quartier").fill("Kervénanec")
    page.get_by_role("button", name="Créer").click()
    expect(page.locator("h1")).to_have_text("Kervénanec")
    hood_url = page.url
    _checked(page, seen)
    page.get_by_role("link", name="Inviter un membre de l'équipe pilote").click()
    _checked(page, seen)
    page.get_by_label("Adresse électronique de la personne invitée").fill("pilote@quartier.example")
    page.get_by_role("button", name="Inviter").click()
    expect(page.locator("h1")).to_have_text("Invitation créée")
    _checked(page, seen)
    link = page.get_by_label("Lien d'invitation").input_value()
    assert link.startswith(f"{live_app.url}/invitation/")
    page.get_by_role("link", name="Mon compte").click()
    page.get_by_label("Nom du nouveau jeton (à quoi il sert)").fill("export R")
    page.get_by_role("button", name="Créer un jeton").click()
    token = page.locator("#nouveau-jeton").input_value()
    assert len(token) > 40
    _checked(page, seen)
    answer = page.request.get("/neighbourhoods", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and "Kervénanec" in answer.text()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{live_app.url}/connexion")

    with browse(live_app, browser=browser) as (pilot, pilot_watch):
        pilot.goto(link)
        _checked(pilot, seen)
        pilot.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
        pilot.get_by_label("Le même mot de passe, à nouveau").fill(PASSWORD)
        pilot.get_by_role("button", name="Créer mon compte").click()
        expect(pilot.locator("[role=status]")).to_contain_text("Votre compte est créé")
        _checked(pilot, seen)
        _sign_in(pilot, "pilote@quartier.example")
        expect(pilot.get_by_role("link", name="Kervénanec")).to_be_visible()
        expect(pilot.get_by_text("Quartier d'une autre équipe")).to_have_count(0)
        pilot.get_by_role("link", name="Kervénanec").click()
        expect(pilot).to_have_url(hood_url)
        _checked(pilot, seen)
        answer = pilot.goto(f"/espace/quartiers/{other}")
        assert answer is not None and answer.status == 404
        expect(pilot.locator("h1")).to_have_text("Page introuvable")
        _checked(pilot, seen)
        answer = pilot.goto(link)  # the link served once
        assert answer is not None and answer.status == 410
        pilot_watch.assert_no_outside_request()
        # chromium logs the 404 and 410 pages' own status as errors: those are the point
        expected = ("status of 404 (Not Found)", "status of 410 (Gone)")
        assert [e for e in pilot_watch.errors if not e.endswith(expected)] == []

    watch.assert_no_outside_request()
    watch.assert_no_error()
    blocking = [(where, found) for where, found in seen if found]
    assert len(seen) == 11
    assert not blocking, blocking
