"""The public portal in a real browser (Debian's chromium): a published Lorient neighbourhood
with a release, read without an account, on a phone's width and on a desktop, in French and in
English. axe-core finds no serious or critical violation on any page, and no page asks another
host for anything."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from qet_geo.store import models as store
from qet_geo.store.jobs import run_analysis
from qet_geo.store.portal import set_phase
from qet_geo.store.releases import create_release
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, axe, shoot

NOTE = "Exposition à la **maison de quartier**, puis vote.\n\n- samedi\n- dimanche"


def _published(live_app: LiveApp) -> None:
    """``/q/lorient-centre`` with release 1 of 50 synthetic answers; ``/q/en-attente`` without."""
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood = api.post(
            "/neighbourhoods",
            json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
            headers=staff,
        ).json()["id"]
        waiting = api.post("/neighbourhoods", json={"name": "En attente"}, headers=staff).json()[
            "id"
        ]
        with store.session_scope(engine) as s:
            token = store.create_token(s, role="pilot", neighbourhood_ids=[hood, waiting])
        pilot = {"Authorization": f"Bearer {token}"}
        put = api.put(
            f"/neighbourhoods/{hood}/osm-extract",
            content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
            headers={**pilot, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        diag = api.post(
            f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot
        ).json()["id"]
        homes = ((-3.360, 47.749, 30), (-3.358, 47.752, 20))
        sent = api.post(
            f"/diagnostics/{diag}/uploads",
            content=su_csv(50, seed=5, clusters=homes),
            headers=pilot,
        )
        assert sent.status_code == 201, sent.text
        api.post(f"/neighbourhoods/{waiting}/diagnostics", json={"year": 0}, headers=pilot)
    with store.session_scope(engine) as s:
        s.execute(
            update(store.Diagnostic).where(store.Diagnostic.id == diag).values(synthetic=True)
        )
    # the analysis and the release, here rather than through the job (no wait in the test)
    assert run_analysis(engine, diag, osm_dir=osm_dir) is not None
    create_release(engine, diag, osm_dir=osm_dir)
    with store.session_scope(engine) as s:
        for hid, slug in ((hood, "lorient-centre"), (waiting, "en-attente")):
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == hid)
                .values(slug=slug, published=True)
            )
        set_phase(s, hood, "diagnostic", state="done", starts_on=date(2026, 9, 1),
                  ends_on=date(2026, 11, 30), place="Maison de quartier")  # fmt: skip
        set_phase(s, hood, "forum", state="current", starts_on=date(2026, 12, 1), note=NOTE)
        set_phase(s, hood, "inspiration", state="planned", starts_on=date(2099, 3, 10))


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 900}]
)
def test_the_public_reads_the_portal_without_an_account(
    page: Page, watch: Watch, live_app: LiveApp, viewport: dict[str, int]
) -> None:
    _published(live_app)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/q/lorient-centre")
    expect(page.locator("h1")).to_have_text("Lorient centre")
    expect(page.get_by_role("img", name="Contour du quartier Lorient centre")).to_be_visible()
    expect(page.locator(".timeline > li")).to_have_count(6)
    expect(page.locator(".timeline strong")).to_have_text("maison de quartier")
    expect(page.locator(".key-figures")).to_contain_text("moyenne française")
    expect(page.locator("body")).to_contain_text("Prochains rendez-vous")
    checked()
    if viewport["width"] > 1000:
        shoot(page, "portail_accueil")
    page.get_by_role("link", name="Lire tout le diagnostic").click()
    expect(page.locator("h1")).to_have_text("Le diagnostic du quartier")
    expect(page.locator("body")).to_contain_text("Empreinte carbone par usage")
    expect(page.locator(".synthetic").first).to_be_visible()
    checked()
    if viewport["width"] > 1000:
        shoot(page, "portail_diagnostic")
    with page.expect_download() as got:
        page.get_by_role("link", name="Télécharger les chiffres (CSV)").click()
    assert got.value.suggested_filename.endswith(".csv")
    page.goto("/q/en-attente/diagnostic")
    expect(page.locator("main")).to_contain_text("n'est pas encore publié")
    checked()
    page.goto("/q/en-attente")
    expect(page.locator("h1")).to_have_text("En attente")
    checked()
    # in English through the switch, back on the same page
    page.goto("/q/lorient-centre/diagnostic")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("The neighbourhood's diagnostic")
    assert page.url.endswith("/q/lorient-centre/diagnostic")
    checked()
    page.get_by_role("link", name="Home").click()
    expect(page.locator("h2#titre-phases")).to_have_text("The six phases of the method")
    checked()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
    # an unknown portal: the 404 page (its status is the console's only error)
    page.goto("/q/inconnu")
    expect(page.locator("h1")).to_have_text("Page not found")
    watch.assert_no_outside_request()
