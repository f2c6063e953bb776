"""The public impact page in a real browser (Debian's chromium): a published Lorient
neighbourhood with two released campaigns (year 0 and year 1) and two published projects, read
without an account on a phone's width and on a desktop, in French and in English; a portal with a
single campaign and one whose two campaigns cannot be compared. axe-core finds no serious or
critical violation, and no page asks another host for anything."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from qet_geo.store import models as store
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_impact import add_project, campaigns


def _published(live_app: LiveApp) -> None:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood, _ = campaigns(api, engine, osm_dir, admin, name="Lorient centre", slug="lorient")
        campaigns(api, engine, osm_dir, admin, name="Un seul", slug="un-seul", years=(0,))
        _, mixed = campaigns(api, engine, osm_dir, admin, name="Mélangé", slug="melange")
    with store.session_scope(engine) as s:
        # year 1 labelled real: not compared with the synthetic year 0
        release = s.query(store.Release).filter_by(diagnostic_id=mixed[1]).one()
        release.summary = {**release.summary, "synthetic": False}
        s.get_one(store.Diagnostic, mixed[1]).synthetic = False
    add_project(engine, hood, title="Pistes cyclables", usage="transportation_mode",
                published=True, effect={"value": 12000.0})  # fmt: skip
    add_project(engine, hood, title="Compost partagé", usage="meat_frequency", published=True)


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 900}]
)
def test_the_public_reads_the_impact_page(
    page: Page, watch: Watch, live_app: LiveApp, viewport: dict[str, int]
) -> None:
    _published(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/q/lorient")
    page.get_by_role("link", name="Impact").click()
    expect(page.locator("h1")).to_have_text("L'impact de la démarche", timeout=20_000)
    link = page.get_by_role("link", name="Impact")
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("#titre-changement")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Mobilité quotidienne")
    expect(page.locator("main")).to_contain_text("Ce que cette comparaison ne prouve pas")
    expect(page.get_by_role("row", name="Compost partagé")).to_contain_text("non estimé")
    expect(page.get_by_role("row", name="Pistes cyclables")).to_contain_text("12")
    checked()
    if viewport["width"] > 1000:
        shoot(page, "portail_impact")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("The impact of the approach", timeout=20_000)
    assert page.url.endswith("/q/lorient/impact")
    expect(page.get_by_role("row", name="Compost partagé")).to_contain_text("not estimated")
    checked()
    page.get_by_role("link", name="Français").click()
    expect(page.locator("h1")).to_have_text("L'impact de la démarche", timeout=20_000)
    page.goto("/q/un-seul/impact")
    expect(page.locator("main")).to_contain_text("Le second diagnostic n'est pas encore publié")
    checked()
    page.goto("/q/melange/impact")
    expect(page.locator(".refusal")).to_contain_text("ne peuvent pas être comparés")
    checked()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
