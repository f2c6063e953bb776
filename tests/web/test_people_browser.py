"""The people page in a real browser (Debian's chromium): the administrator invites a member of
the network staff from /espace/personnes; the new member opens the link, chooses a password, signs
in and sees the dashboard of every neighbourhood; the administrator then deactivates the account
after its confirmation page, and the member's open page leads back to sign-in. axe-core finds no
serious or critical violation on any page visited."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, browse
from tests.web.test_accounts import PASSWORD, cli_admin


def _checked(page: Page, seen: list[tuple[str, list[str]]]) -> None:
    violations = axe(page)
    seen.append((page.url, [f"{v['id']} ({v['impact']})" for v in violations]))


def _sign_in(page: Page, email: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_admin_invites_network_staff_who_sees_the_dashboard(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser
) -> None:
    engine = live_app.app.state.engine
    done = cli_admin(str(engine.url), "admin@reseau.example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        store.add_neighbourhood(s, name="Kervénanec")
        store.add_neighbourhood(s, name="Bois du Château")
    seen: list[tuple[str, list[str]]] = []

    _sign_in(page, "admin@reseau.example")
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.get_by_role("navigation").get_by_role("link", name="Personnes").click()
    expect(page.locator("h1")).to_have_text("Personnes")
    _checked(page, seen)
    page.get_by_label("Adresse électronique de la personne invitée").fill("equipe@reseau.example")
    page.get_by_label("Rôle").select_option("staff")
    page.get_by_role("button", name="Inviter", exact=True).click()
    expect(page.locator("h1")).to_have_text("Invitation créée")
    _checked(page, seen)
    link = page.get_by_label("Lien d'invitation").input_value()
    assert link.startswith(f"{live_app.url}/invitation/")
    page.get_by_role("link", name="Retour à la liste des personnes").click()
    expect(page.get_by_role("table", name="Invitations pas encore utilisées")).to_contain_text(
        "equipe@reseau.example"
    )

    with browse(live_app, browser=browser) as (staff, staff_watch):
        staff.goto(link)
        expect(staff.locator("h1")).to_have_text("Choisir votre mot de passe")
        _checked(staff, seen)
        staff.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
        staff.get_by_label("Le même mot de passe, à nouveau").fill(PASSWORD)
        staff.get_by_role("button", name="Créer mon compte").click()
        expect(staff.get_by_role("status")).to_contain_text("Votre compte est créé")
        _checked(staff, seen)
        _sign_in(staff, "equipe@reseau.example")
        expect(staff.locator("h1")).to_have_text("Quartiers")
        table = staff.get_by_role("table", name="Quartiers que vous pouvez voir")
        expect(table).to_contain_text("Kervénanec")
        expect(table).to_contain_text("Bois du Château")
        expect(staff.get_by_role("link", name="Créer un quartier")).to_be_visible()
        _checked(staff, seen)
        staff.get_by_role("navigation").get_by_role("link", name="Personnes").click()
        expect(staff.locator("h1")).to_have_text("Personnes")
        expect(staff.get_by_role("link", name="Désactiver")).to_have_count(0)
        _checked(staff, seen)

        # the administrator deactivates the account after confirming; the member's page ends
        page.reload()
        row = page.get_by_role("row").filter(has_text="equipe@reseau.example")
        row.get_by_role("link", name="Désactiver").click()
        expect(page.locator("h1")).to_have_text("Désactiver un compte")
        _checked(page, seen)
        page.get_by_role("button", name="Désactiver le compte").click()
        expect(page.get_by_role("status")).to_contain_text("Le compte est désactivé")
        expect(page.get_by_role("row").filter(has_text="equipe@reseau.example")).to_contain_text(
            "désactivé"
        )
        _checked(page, seen)
        staff.reload()
        expect(staff).to_have_url(f"{live_app.url}/connexion?suite=%2Fespace%2Fpersonnes")
        staff_watch.assert_no_outside_request()
        staff_watch.assert_no_error()

    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert len(seen) == 8
    assert [(url, found) for url, found in seen if found] == []
