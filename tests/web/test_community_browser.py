"""The network's community pages in a real browser (Debian's chromium): a visitor signs up as a
member, signs in, asks a question, publishes an expert profile linked to a published project
sheet; another member answers, reports, contacts the expert; network staff hide the answer; the
expert reads the inbox. axe-core finds no serious or critical violation on any page, and no page
asks another host for anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, browse, shoot

TIMEOUT = 30_000
PASSWORD = "correct horse battery"


def _world(live_app: LiveApp) -> int:
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre", published=True)
        hood.slug = "lorient"
        project = store.Project(neighbourhood_id=hood.id, title="Vélo-école", published=True)
        s.add(project)
        for email, role in (("bo@example.org", "member"), ("staff@example.org", "staff")):
            accounts.create_user(s, email=email, password=PASSWORD, role=role)
        s.flush()
        return project.id


def _sign_in(page: Page, email: str, then: str) -> None:
    page.goto(f"/connexion?suite={then}")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{then}", timeout=TIMEOUT)


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}])
def test_members_ask_answer_publish_a_profile_and_contact(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser, viewport: dict[str, int]
) -> None:
    _world(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    # signing up
    page.goto("/reseau/inscription")
    expect(page.locator("h1")).to_have_text("Créer un compte membre", timeout=TIMEOUT)
    checked()
    page.get_by_label("Adresse électronique").fill("ana@example.org")
    page.get_by_label("Mot de passe (au moins 12 caractères)").fill(PASSWORD)
    page.get_by_label("Le même mot de passe, à nouveau").fill(PASSWORD)
    page.get_by_label("J'accepte les règles de participation").check()
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("status")).to_contain_text("Votre compte est créé", timeout=TIMEOUT)
    page.get_by_label("Adresse électronique").fill("ana@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Questions du réseau", timeout=TIMEOUT)
    checked()
    # asking
    page.get_by_role("link", name="Poser une question").click()
    expect(page.locator("h1")).to_have_text("Poser une question", timeout=TIMEOUT)
    checked()
    page.get_by_label("Thème").select_option(label="Méthode")
    page.get_by_label("Titre").fill("Combien de répondants viser ?")
    page.get_by_label("Votre question (Markdown)").fill("Pour un quartier de **3 000** habitants.")
    page.get_by_role("button", name="Publier la question").click()
    expect(page.locator("h1")).to_have_text("Combien de répondants viser ?", timeout=TIMEOUT)
    expect(page.locator("main strong").first).to_have_text("3 000", timeout=TIMEOUT)
    checked()
    thread_url = page.url
    # the profile
    page.goto("/reseau/expertise/profil")
    expect(page.locator("h1")).to_have_text("Mon profil d'expertise", timeout=TIMEOUT)
    checked()
    page.get_by_label("Nom affiché").fill("Ana Urbaniste")
    page.get_by_label("Mobilité").check()
    page.get_by_label("Vélo-école · Lorient centre").check()
    page.get_by_label("Publier mon profil").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Votre profil est enregistré", timeout=TIMEOUT
    )
    page.get_by_role("link", name="Voir mon profil").click()
    expect(page.locator("h1")).to_have_text("Ana Urbaniste", timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Vélo-école")).to_be_visible(timeout=TIMEOUT)
    checked()
    profile_url = page.url

    # another member answers, reports and writes to the expert
    with browse(live_app, browser=browser) as (other, other_watch):
        other.set_viewport_size(viewport)  # type: ignore[arg-type]
        _sign_in(other, "bo@example.org", "/reseau/questions")
        other.goto(thread_url)
        other.get_by_label("Votre réponse (Markdown)").fill("Au moins 300, par quotas.")
        other.get_by_role("button", name="Publier la réponse").click()
        expect(other.locator("main")).to_contain_text("Au moins 300", timeout=TIMEOUT)
        other.goto(profile_url)
        other.get_by_label("Votre message").fill("Bonjour, pouvez-vous nous aider ?")
        other.get_by_role("button", name="Envoyer").click()
        expect(other.get_by_role("status")).to_contain_text("transmis", timeout=TIMEOUT)
        expect(other.locator("main")).not_to_contain_text("ana@example.org")
        other_watch.assert_no_outside_request()

    # the author reports the answer; staff hide it
    page.goto(thread_url)
    page.get_by_text("Signaler ce message").click()
    page.get_by_label("Pourquoi (facultatif)").fill("Hors sujet")
    page.get_by_role("button", name="Signaler", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("signalé", timeout=TIMEOUT)
    checked()
    page.goto("/reseau/messages")
    expect(page.locator("main")).to_contain_text("pouvez-vous nous aider", timeout=TIMEOUT)
    checked()
    page.goto("/reseau/expertise")
    expect(page.get_by_role("link", name="Ana Urbaniste")).to_be_visible(timeout=TIMEOUT)
    checked()
    shoot(page, "reseau_expertise")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/connexion", timeout=TIMEOUT)
    _sign_in(page, "staff@example.org", "/reseau/questions/moderation")
    expect(page.locator("main")).to_contain_text("Au moins 300", timeout=TIMEOUT)
    checked()
    page.get_by_label("Raison pour masquer ce message").fill("Hors sujet")
    page.get_by_role("button", name="Masquer").click()
    expect(page.get_by_role("status")).to_contain_text("modération", timeout=TIMEOUT)
    checked()
    page.context.clear_cookies()
    page.goto(thread_url)
    expect(page.locator("h1")).to_have_text("Combien de répondants viser ?", timeout=TIMEOUT)
    expect(page.locator("main")).not_to_contain_text("Au moins 300")
    checked()
    shoot(page, "reseau_questions")
    page.goto("/reseau/questions")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Questions of the network", timeout=TIMEOUT)
    checked()
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert [s for s in seen if s[1]] == [], seen
