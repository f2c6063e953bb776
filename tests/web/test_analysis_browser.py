"""Steps 4 and 5 in a real browser (Debian's chromium): the pilot team runs the analysis of its
Lorient neighbourhood, watches it reach "Analyse terminée" (htmx polling), opens the results
and publishes release 1, which the JSON API lists. axe-core finds no serious or critical
violation on any page."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import PASSWORD

#: The analysis of the Lorient extract takes seconds; a loaded machine may take much longer.
ANALYSIS_MS = 300_000


def _lorient(live_app: LiveApp) -> tuple[int, int, str]:
    """A neighbourhood over the Lorient extract with 50 synthetic answers, through the JSON API."""
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        staff = store.create_token(s, role="staff")
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood = api.post(
            "/neighbourhoods",
            json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
            headers={"Authorization": f"Bearer {staff}"},
        ).json()["id"]
        with store.session_scope(engine) as s:
            token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
            accounts.create_user(
                s, email="pilote@lorient.example", password=PASSWORD, role="pilot",
                neighbourhood_ids=[hood],
            )  # fmt: skip
        pilot = {"Authorization": f"Bearer {token}"}
        put = api.put(
            f"/neighbourhoods/{hood}/osm-extract",
            content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
            headers={**pilot, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        diag = api.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot)
        diag_id = diag.json()["id"]
        homes = ((-3.360, 47.749, 30), (-3.358, 47.752, 20))
        sent = api.post(
            f"/diagnostics/{diag_id}/uploads",
            content=su_csv(50, seed=5, clusters=homes),
            headers=pilot,
        )
        assert sent.status_code == 201, sent.text
    return hood, diag_id, token


def test_the_pilot_runs_the_analysis_then_publishes(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    hood, diag, token = _lorient(live_app)
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        seen.append((page.url, [f"{v['id']} ({v['impact']})" for v in axe(page)]))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("pilote@lorient.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Quartiers")
    page.goto(f"/espace/quartiers/{hood}")
    page.get_by_role("link", name="Analyser le diagnostic").click()
    expect(page.locator("h1")).to_have_text("Analyser le diagnostic")
    checked()
    page.get_by_role("button", name="Lancer l'analyse").click()
    # the page polls its fragment every 2 s until the job is done
    expect(page.locator(".job-state")).to_contain_text("Analyse terminée", timeout=ANALYSIS_MS)
    expect(page.locator("progress#barre")).to_have_attribute("value", "100")
    checked()
    page.get_by_role("link", name="Voir les résultats").click()
    expect(page.locator("h1")).to_have_text("Relire et publier les résultats")
    expect(page.get_by_role("heading", name="Empreinte carbone par usage")).to_be_visible()
    # what qet diagnose's report shows: the vote's themes, the links, the margins, the method
    expect(
        page.get_by_role("heading", name="Thèmes à mettre au vote, par potentiel de réduction")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Marges de manœuvre", exact=True)).to_be_visible()
    page.get_by_text("Méthode : les chiffres des liens et des marges").click()
    expect(page.get_by_role("heading", name="Les mots de la méthode")).to_be_visible()
    checked()
    # the cells' map: the API's page, under the maps' policy, drawn without any other host
    page.get_by_role("link", name="Carte des profils d'usages", exact=False).click()
    expect(page.locator(".leaflet-container").first).to_be_visible()
    page.go_back()
    expect(page.locator("h1")).to_have_text("Relire et publier les résultats")
    page.get_by_label("Je confirme : publier ces chiffres maintenant").check()
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Publication n° 1 faite.")
    expect(page.get_by_role("link", name="Publication n° 1 du", exact=False)).to_be_visible()
    checked()
    with httpx.Client(base_url=live_app.url) as api:
        listed = api.get(
            f"/diagnostics/{diag}/releases", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert [r["number"] for r in listed] == [1]
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert [s for s in seen if s[1]] == [], seen
