"""The demonstration network (``qet store demo-network``) in a real browser (Debian's chromium).

The live app's store is built by :func:`qet_geo.store.demo_network.build_demo_network` from the
shared OSM extracts: five published neighbourhoods (Lorient's centre in two halves, Nantes'
hypercentre, Pont-de-Veyle, Saudron), each with a released campaign of labelled-synthetic
answers drawn on its extract's real buildings and analysed on it, and the published national
profiles. The public reads the neighbourhoods' comparison (five points on the map of France, the
synthetic notice), a territory's "neighbourhoods like yours" (three real neighbours), the
national profiles and the open data; axe-core finds no serious or critical violation, no page
asks another host for anything, and the browser logs no error.

With ``QET_SCREENSHOTS=<folder>`` the neighbourhoods' page and the "like yours" section are
saved there as ``demo_reseau_quartiers.png`` and ``demo_comme_le_votre.png``
(``QET_SCREENSHOTS=docs/img/reseau .venv/bin/python -m pytest -p no:xdist
tests/web/test_demo_network_browser.py``).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from qet_geo.store.demo_network import DEMO_NEIGHBOURHOODS, build_demo_network
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, axe, shoot

TIMEOUT = 30_000


def test_the_public_reads_the_demonstration_network(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    app = live_app.app
    built = build_demo_network(
        app.state.engine,
        osm_dir=app.state.settings.osm_dir,  # type: ignore[attr-defined]
        shared_data=shared("osm").parent,
    )
    assert min(built.respondents.values()) >= 11
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    seen: list[tuple[str, list[str]]] = []

    def checked(shot: str | None = None) -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))
        if shot:
            shoot(page, shot)

    page.goto("/reseau/quartiers")
    expect(page.locator("h1")).to_have_text("Les quartiers du réseau")
    expect(page.locator("svg.france-svg a")).to_have_count(len(DEMO_NEIGHBOURHOODS))
    expect(page.locator(".synthetic").first).to_contain_text("Données synthétiques")
    for spec in DEMO_NEIGHBOURHOODS:
        expect(page.get_by_role("row", name=spec.name)).to_be_visible()
    checked("demo_reseau_quartiers")

    names = {spec.name for spec in DEMO_NEIGHBOURHOODS}
    page.goto("/q/lorient-ouest")
    expect(page.locator("h1")).to_contain_text("Lorient centre ouest")
    section = page.locator("section.similar")
    neighbours = section.locator("h3")
    expect(neighbours).to_have_count(3)
    listed = [text.strip() for text in neighbours.all_inner_texts()]
    assert all(any(name in text for name in names - {"Lorient centre ouest"}) for text in listed)
    section.scroll_into_view_if_needed()
    checked("demo_comme_le_votre")

    page.goto("/reseau/profils")
    expect(page.locator("h1")).to_have_text("Les profils d'usages nationaux")
    expect(page.get_by_role("table").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("synthétiques")
    checked()

    page.goto("/reseau/donnees")
    expect(page.locator("h1")).to_have_text("Données ouvertes")
    checked()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
