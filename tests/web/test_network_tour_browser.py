"""The network's pages in one visit, in a real browser (Debian's chromium), as the issue's
"Done when" asks: five neighbourhoods where the shared extracts are (labelled-synthetic releases,
flagged on every page), their project sheets, the national profiles published by staff, a
member's question and an expert's profile. The public reads the network's home, the
neighbourhoods' comparison, a territory's "neighbourhoods like yours", the projects library, the
national profiles, the questions, the expertise directory, the kit and the open data, and
downloads the open data's GeoPackage; axe-core finds no serious or critical violation, no page
asks another host for anything, and the browser logs no error.

With ``QET_SCREENSHOTS=<folder>`` the pages are saved there as ``reseau_*.png`` (the README's
screenshots: ``QET_SCREENSHOTS=docs/img/reseau .venv/bin/python -m pytest -p no:xdist
tests/web/test_network_tour_browser.py``).
"""

from __future__ import annotations

import geopandas as gpd
from playwright.sync_api import Page, expect

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.community import ExpertForm, ask_question, save_expert
from qet_geo.store.jobs import fit_national_profiles
from tests.web.browser_kit import LiveApp, Watch, axe, shoot
from tests.web.test_accounts import PASSWORD
from tests.web.test_impact import add_project
from tests.web.test_network import CONSTRAINTS
from tests.web.test_network_browser import PLACES, _network

TIMEOUT = 30_000


def _world(live_app: LiveApp) -> None:
    _network(live_app)
    engine = live_app.app.state.engine
    with store.session_scope(engine) as s:
        ids = {h.slug: h.id for h in s.query(store.Neighbourhood) if h.slug}
        for slug in PLACES:  # the built constraints the releases compare on
            diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=ids[slug]).one()
            release = s.query(store.Release).filter_by(diagnostic_id=diag.id).one()
            release.summary = {**release.summary, "constraints": CONSTRAINTS[slug]}
    sheets = [
        ("nantes-hypercentre", "Rue aux écoles", "transportation_mode", "retenu", 4200.0),
        ("pont-de-veyle", "Marché de producteurs", "meat_frequency", "en_cours", 1500.0),
        ("saudron", "Covoiturage du bourg", "transportation_mode", "propose", 9000.0),
    ]
    for slug, title, usage, status, effect in sheets:
        add_project(engine, ids[slug], title=title, usage=usage, status=status, published=True,
                    problem="Trop de trajets en voiture pour les besoins du quotidien.",
                    theme="Mobilité", budget_eur=12000.0, effect={"value": effect})  # fmt: skip
    fit_national_profiles(engine)
    with store.session_scope(engine) as s:
        s.query(store.Profile).filter(store.Profile.scope == "national").update({"published": True})
        member = accounts.create_user(
            s, email="membre@ex.example", password=PASSWORD, role="member"
        )
        ask_question(
            s, member, theme="transportation_mode", title="Un pédibus pour l'école ?",
            body="Comment avez-vous **organisé** les trajets à pied vers l'école ?",
        )  # fmt: skip
        project = s.query(store.Project).filter_by(title="Rue aux écoles").one()
        save_expert(
            s,
            member,
            ExpertForm(
                display_name="Camille, urbaniste",
                organisation="Atelier des mobilités",
                skills=("cartographie",),
                bio="J'accompagne les **rues aux écoles**.",
                project_ids=(project.id,),
                published=True,
            ),
        )


def test_the_public_tours_the_network(page: Page, watch: Watch, live_app: LiveApp) -> None:
    _world(live_app)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    seen: list[tuple[str, list[str]]] = []

    def checked(shot: str) -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))
        shoot(page, shot)

    page.goto("/reseau")
    expect(page.locator("h1")).to_have_text("Le réseau Quartiers en Transitions")
    checked("reseau_accueil")
    page.get_by_role("link", name="Quartiers", exact=True).click()
    expect(page.locator("h1")).to_have_text("Les quartiers du réseau")
    expect(page.locator("main")).to_contain_text("synthétiques")
    checked("reseau_quartiers")
    page.goto("/q/lorient-centre")
    section = page.locator("section.similar")
    expect(section.locator("h3")).to_have_count(3)
    section.scroll_into_view_if_needed()
    checked("reseau_comme_le_votre")
    page.goto("/reseau/projets")
    expect(page.locator("main")).to_contain_text("Rue aux écoles")
    checked("reseau_projets")
    page.get_by_role("link", name="Rue aux écoles").first.click()
    expect(page.locator("#expertise")).to_have_text("Expertise")
    expect(page.get_by_role("link", name="Camille, urbaniste")).to_be_visible()
    checked("reseau_fiche_experts")
    page.goto("/reseau/profils")
    expect(page.locator("h1")).to_have_text("Les profils d'usages nationaux")
    expect(page.get_by_role("table").first).to_be_visible()
    checked("reseau_profils")
    page.goto("/reseau/questions")
    expect(page.locator("main")).to_contain_text("Un pédibus pour l'école ?")
    checked("reseau_questions")
    page.goto("/reseau/expertise")
    expect(page.locator("main")).to_contain_text("Camille, urbaniste")
    expect(page.locator("main")).not_to_contain_text("membre@ex.example")
    checked("reseau_expertise")
    page.goto("/reseau/kit")
    expect(page.locator("h1")).to_have_text("Le kit de la méthode")
    checked("reseau_kit")
    with page.expect_download() as download:
        page.locator('a[href="/reseau/kit/formulaire_su.xlsx"]').click()
    assert download.value.suggested_filename == "formulaire_su.xlsx"
    page.goto("/reseau/donnees")
    expect(page.locator("h1")).to_have_text("Données ouvertes")
    checked("reseau_donnees")
    with page.expect_download() as download:
        page.get_by_role("link", name="reseau.gpkg").click()
    rows = gpd.read_file(download.value.path(), layer="quartiers")
    released = rows[rows["n_respondents"] > 0]
    assert len(released) == 4 and released["synthetic"].all()
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Open data")
    checked("reseau_donnees_en")
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()
