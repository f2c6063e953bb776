"""The network's projects library in a real browser (Debian's chromium): a published Lorient
neighbourhood with two released campaigns and a published one with one, their sheets read
without an account on a phone's width and on a desktop; a search, a facet ticked, the card
followed to its portal, English. axe-core finds no serious or critical violation, and no page
asks another host for anything."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_impact import add_project, campaigns

TIMEOUT = 30_000


def _published(live_app: LiveApp) -> None:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood, _ = campaigns(api, engine, osm_dir, admin, name="Lorient centre", slug="lorient")
        single, _ = campaigns(api, engine, osm_dir, admin, name="Un seul", slug="un-seul",
                              years=(0,))  # fmt: skip
    add_project(engine, hood, title="Pistes cyclables", theme="Mobilité", status="en_cours",
                usage="transportation_mode", budget_eur=40000.0, published=True)  # fmt: skip
    add_project(engine, hood, title="Compost partagé", theme="Alimentation", status="idee",
                usage="meat_frequency", published=True)  # fmt: skip
    add_project(engine, single, title="Vélo-école", theme="Mobilité", status="realise",
                published=True)  # fmt: skip
    add_project(engine, single, title="Brouillon", published=False)


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 900}]
)
def test_the_public_searches_the_projects_library(
    page: Page, watch: Watch, live_app: LiveApp, viewport: dict[str, int]
) -> None:
    _published(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/reseau/projets")
    expect(page.locator("h1")).to_have_text("Bibliothèque des projets", timeout=TIMEOUT)
    expect(page.get_by_role("status")).to_contain_text("3 projets.", timeout=TIMEOUT)
    expect(page.locator(".france-svg .spot").first).to_be_attached(timeout=TIMEOUT)
    expect(page.locator("main")).not_to_contain_text("Brouillon")
    checked()
    if viewport["width"] > 1000:
        shoot(page, "reseau_projets")
    # a search by words, without the accent
    page.get_by_label("Chercher dans les titres, problèmes et thèmes").fill("velo")
    page.get_by_role("button", name="Chercher").click()
    expect(page.get_by_role("status")).to_contain_text("1 projet.", timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Vélo-école")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("link", name="Tout effacer").click()
    expect(page.get_by_role("status")).to_contain_text("3 projets.", timeout=TIMEOUT)
    # a facet ticked
    page.get_by_role("checkbox", name="Idée (1)").check()
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("status")).to_contain_text("1 projet.", timeout=TIMEOUT)
    expect(page.get_by_role("checkbox", name="Idée (1)")).to_be_checked()
    checked()
    # the card leads to the sheet on its portal
    page.get_by_role("link", name="Compost partagé").click()
    expect(page.locator("h1")).to_contain_text("Compost partagé", timeout=TIMEOUT)
    assert "/q/lorient/projets/" in page.url
    page.goto("/reseau/projets")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Projects library", timeout=TIMEOUT)
    expect(page.get_by_role("status")).to_contain_text("3 projects.", timeout=TIMEOUT)
    checked()
    page.get_by_role("link", name="Français").click()
    expect(page.locator("h1")).to_have_text("Bibliothèque des projets", timeout=TIMEOUT)
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
