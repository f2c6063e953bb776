"""The network's neighbourhoods page in a real browser (Debian's chromium): five published
neighbourhoods where the shared extracts are (Lorient centre, Nantes hypercentre, Pont-de-Veyle,
Saudron, and one whose campaign has no release), labelled-synthetic releases, read without an
account on a phone's width and on a desktop, in French and in English. The map of France shows,
sorting by a heading reorders the table, a point leads to its portal; axe-core finds no serious or
critical violation, the page is no wider than a phone, and no page asks another host for anything.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from qet_geo.store import models as store
from qet_geo.store.portal import set_phase
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_impact import campaigns
from tests.web.test_network import TOWNS, _square

#: The towns of the shared extracts (the fifth of tests/web/test_network.py is left out).
PLACES = ("lorient-centre", "nantes-hypercentre", "pont-de-veyle", "saudron")
NAMES = {slug: TOWNS[slug][0] for slug in PLACES} | {"lorient-centre": "Lorient centre"}


def _network(live_app: LiveApp) -> None:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    ids = {}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        for year, slug in enumerate(PLACES):
            ids[slug], _ = campaigns(
                api, engine, osm_dir, admin, name=NAMES[slug], slug=slug, years=(year,)
            )
        waiting = api.post("/neighbourhoods", json={"name": "En attente"}, headers=admin)
        ids["en-attente"] = waiting.json()["id"]
        api.post(
            f"/neighbourhoods/{ids['en-attente']}/diagnostics", json={"year": 0}, headers=admin
        )
    with store.session_scope(engine) as s:
        for slug in PLACES:
            lon, lat = TOWNS[slug][1]
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == ids[slug])
                .values(territory_wkt=_square(lon, lat))
            )
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == ids["en-attente"])
            .values(slug="en-attente", published=True)
        )
        set_phase(s, ids["lorient-centre"], "forum", state="current")


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 900}]
)
def test_the_public_reads_the_neighbourhoods_page(
    page: Page, watch: Watch, live_app: LiveApp, viewport: dict[str, int]
) -> None:
    _network(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"{page.url}: {wide} px wider than the window"

    page.goto("/reseau")
    expect(page.locator("h1")).to_have_text("Le réseau Quartiers en Transitions", timeout=20_000)
    checked()
    page.get_by_role("link", name="Les quartiers").click()
    expect(page.locator("h1")).to_have_text("Les quartiers du réseau", timeout=20_000)
    expect(page.get_by_role("link", name="Quartiers", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    # the map: France's outlines loaded from the service, a point per placed neighbourhood
    background = page.locator("svg.france-svg image")
    expect(background).to_have_count(1)
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('/reseau/carte-france.svg'))",
        timeout=20_000,
    )
    expect(page.locator("svg.france-svg a")).to_have_count(len(PLACES))
    expect(page.locator(".synthetic")).to_contain_text("Données synthétiques")
    expect(page.get_by_role("row", name="En attente")).to_contain_text(
        "Pas encore de diagnostic publié"
    )
    expect(page.get_by_role("row", name="Lorient centre")).to_contain_text("Forum")
    checked()
    if viewport["width"] > 1000:
        shoot(page, "reseau_quartiers")
    # sorting by a heading: the largest footprint first, then the other way
    page.get_by_role("link", name="Empreinte totale").click()
    heading = page.locator("th[aria-sort]")
    expect(heading).to_have_attribute("aria-sort", "descending", timeout=20_000)
    expect(heading).to_contain_text("Empreinte totale")
    first = page.locator("tbody tr th").first.inner_text()
    page.get_by_role("link", name="Empreinte totale").click()
    expect(heading).to_have_attribute("aria-sort", "ascending", timeout=20_000)
    assert page.locator("tbody tr th").first.inner_text() != first
    expect(page.locator("tbody tr").last).to_contain_text("En attente")
    checked()
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("The network's neighbourhoods", timeout=20_000)
    expect(page.locator(".synthetic")).to_contain_text("Synthetic data")
    checked()
    page.get_by_role("link", name="Français").click()
    expect(page.locator("h1")).to_have_text("Les quartiers du réseau", timeout=20_000)
    # a point of the map leads to its portal
    page.locator('svg.france-svg a[href="/q/saudron"]').click()
    expect(page.locator("h1")).to_have_text("Saudron rural", timeout=20_000)
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
