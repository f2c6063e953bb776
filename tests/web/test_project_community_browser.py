"""Comments on and follows of a project sheet in a real browser (Debian's chromium): a member
comments in Markdown and follows the sheet, then reads it in their followed projects; network
staff hide the comment with a reason and feature the sheet; the public reads neither the hidden
comment nor a count of followers under 11, and finds the featured sheet first in the library.
axe-core finds no serious or critical violation, and no page asks another host for anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, browse

TIMEOUT = 30_000
PASSWORD = "correct horse battery"


def _world(live_app: LiveApp) -> str:
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre", published=True)
        hood.slug = "lorient"
        for title in ("Compost partagé", "Vélo-école"):
            s.add(store.Project(neighbourhood_id=hood.id, title=title, published=True))
        for email, role in (("ana@example.org", "member"), ("staff@example.org", "staff")):
            accounts.create_user(s, email=email, password=PASSWORD, role=role)
        s.flush()
        project = s.query(store.Project).filter_by(title="Vélo-école").one()
        return f"/q/lorient/projets/{project.id}"


def _sign_in(page: Page, email: str, then: str) -> None:
    page.goto(f"/connexion?suite={then}")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{then}", timeout=TIMEOUT)


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}])
def test_a_member_comments_and_follows_staff_moderate_and_feature(
    page: Page, watch: Watch, live_app: LiveApp, browser: Browser, viewport: dict[str, int]
) -> None:
    url = _world(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked(p: Page) -> None:
        p.wait_for_load_state("load")
        seen.append((p.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(p)]))

    # the public reads the sheet's section
    page.goto(url)
    expect(page.locator("#commentaires")).to_have_text("Commentaires", timeout=TIMEOUT)
    expect(page.locator(".project-talk")).to_contain_text("Moins de 11 personnes", timeout=TIMEOUT)
    checked(page)
    # a member comments and follows
    _sign_in(page, "ana@example.org", url)
    page.get_by_label("Votre commentaire (Markdown)").fill("Une **belle** idée <script>x</script>")
    page.get_by_role("button", name="Publier le commentaire").click()
    expect(page.get_by_role("status")).to_contain_text("commentaire est publié", timeout=TIMEOUT)
    expect(page.locator(".comments strong")).to_have_text("belle", timeout=TIMEOUT)
    expect(page.locator(".comments")).to_contain_text("<script>x</script>", timeout=TIMEOUT)
    page.get_by_role("button", name="Suivre ce projet").click()
    expect(page.get_by_role("button", name="Ne plus suivre")).to_be_visible(timeout=TIMEOUT)
    checked(page)
    page.get_by_role("link", name="Vos projets suivis").click()
    expect(page.locator("h1")).to_have_text("Projets suivis", timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Vélo-école")).to_be_visible(timeout=TIMEOUT)
    checked(page)
    # staff hide the comment and feature the sheet
    with browse(live_app, browser=browser) as (staff, staff_watch):
        staff.set_viewport_size(viewport)  # type: ignore[arg-type]
        _sign_in(staff, "staff@example.org", url)
        staff.get_by_label("Raison pour masquer ce commentaire").fill("Hors sujet")
        staff.get_by_role("button", name="Masquer").click()
        expect(staff.get_by_role("status")).to_contain_text("modération", timeout=TIMEOUT)
        expect(staff.locator(".comments")).to_contain_text("Raison : Hors sujet", timeout=TIMEOUT)
        staff.get_by_role("button", name="Mettre en avant", exact=True).click()
        expect(staff.get_by_role("button", name="Ne plus mettre en avant")).to_be_visible(
            timeout=TIMEOUT
        )
        checked(staff)
        staff_watch.assert_no_outside_request()
        staff_watch.assert_no_error()
    # its author sees it marked; the public no more
    page.goto(url)
    expect(page.locator(".comments")).to_contain_text("masqué par la modération", timeout=TIMEOUT)
    expect(page.locator(".comments")).not_to_contain_text("belle")
    with browse(live_app, browser=browser) as (public, public_watch):
        public.set_viewport_size(viewport)  # type: ignore[arg-type]
        public.goto(url)
        expect(public.locator(".project-talk")).to_contain_text(
            "Aucun commentaire", timeout=TIMEOUT
        )
        public.goto("/reseau/projets")
        expect(public.locator(".card h3").first).to_contain_text("Vélo-école", timeout=TIMEOUT)
        checked(public)
        public_watch.assert_no_outside_request()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
