"""Steps 4 and 5 of the journey: analysing from the page, reviewing and publishing the figures.

A neighbourhood over the shared Lorient extract, its territory and generated (synthetic) answers;
the analysis runs from the page (in the test client the job runs right after the answer, as the
API tests' jobs do), the results page shows the API's own figures, and "Publier" makes release 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.models import FootprintsOut, ProfilesOut, ReleaseOut
from qet_geo.i18n import day, number
from qet_geo.store import models as store
from qet_geo.surveys.schema import USAGE_LABELS, USAGES
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client
from tests.web.test_pages import _french_only, _Text


@dataclass
class World:
    site: Site
    hood: int
    diag: int
    empty_hood: int
    small_hood: int
    small_diag: int
    token: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("analysis"))
    cli_admin(site.url, "admin@reseau.example")
    api = site.client()
    with store.session_scope(site.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    hood = api.post(
        "/neighbourhoods", json={"name": "Lorient <centre>", "territory": LORIENT_TERRITORY},
        headers=staff,
    ).json()["id"]  # fmt: skip
    small = api.post("/neighbourhoods", json={"name": "Petit"}, headers=staff).json()["id"]
    empty = api.post("/neighbourhoods", json={"name": "Vide"}, headers=staff).json()["id"]
    with store.session_scope(site.engine) as s:
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
        small_token = store.create_token(s, role="pilot", neighbourhood_ids=[small])
    pilot = {"Authorization": f"Bearer {token}"}
    done = api.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        headers={**pilot, "Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 200, done.text
    diag = api.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot)
    diag_id = diag.json()["id"]
    homes = ((-3.360, 47.749, 30), (-3.358, 47.752, 20))
    sent = api.post(
        f"/diagnostics/{diag_id}/uploads", content=su_csv(50, seed=5, clusters=homes), headers=pilot
    )
    assert sent.status_code == 201, sent.text
    small_headers = {"Authorization": f"Bearer {small_token}"}
    small_diag = api.post(
        f"/neighbourhoods/{small}/diagnostics", json={"year": 0}, headers=small_headers
    ).json()["id"]
    api.post(f"/diagnostics/{small_diag}/uploads", content=su_csv(8, seed=6), headers=small_headers)
    with store.session_scope(site.engine) as s:
        s.execute(
            update(store.Diagnostic).where(store.Diagnostic.id == diag_id).values(synthetic=True)
        )
    add_pilot(site, "pilote@lorient.example", hood)
    add_pilot(site, "pilote@petit.example", small)
    yield World(site, hood, diag_id, empty, small, small_diag, token)
    site.engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html))).replace("&#39;", "'")


def _api(w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.token}"}


@pytest.fixture(scope="module")
def analysed(world: World) -> World:
    """The pilot runs the analysis from the page (the job runs after the answer)."""
    pilot = signed_in_client(world.site, "pilote@lorient.example")
    page = pilot.get(f"/espace/quartiers/{world.hood}/analyse")
    assert page.status_code == 200
    assert "Lancer l&#39;analyse" in page.text
    assert "Réponses synthétiques" in page.text
    run = pilot.post(f"/espace/quartiers/{world.hood}/analyse", data={"csrf": csrf_of(page.text)})
    assert run.status_code == 303
    assert run.headers["location"] == f"/espace/quartiers/{world.hood}/analyse"
    return world


def test_the_neighbourhood_page_links_both_steps(world: World) -> None:
    pilot = signed_in_client(world.site, "pilote@lorient.example")
    page = pilot.get(f"/espace/quartiers/{world.hood}").text
    assert f'href="/espace/quartiers/{world.hood}/analyse"' in page
    assert f'href="/espace/quartiers/{world.hood}/resultats"' in page


def test_progress_is_polled_while_the_job_runs(world: World) -> None:
    with store.session_scope(world.site.engine) as s:
        s.execute(
            update(store.Diagnostic)
            .where(store.Diagnostic.id == world.diag)
            .values(
                status="running", job_step="access", progress=0.5, job_updated_at=datetime.now(UTC)
            )
        )
    pilot = signed_in_client(world.site, "pilote@lorient.example")
    try:
        page = pilot.get(f"/espace/quartiers/{world.hood}/analyse")
        assert "Analyse en cours" in page.text and "accès à pied aux équipements" in page.text
        assert re.search(r'<progress id="barre" max="100" value="50">', page.text)
        assert 'hx-trigger="every 2s"' in page.text
        assert f'<a href="/espace/quartiers/{world.hood}/analyse">Actualiser</a>' in page.text
        assert "Relancer" not in page.text  # no second run while one is under way
        part = pilot.get(f"/espace/quartiers/{world.hood}/analyse", headers={"HX-Request": "true"})
        assert part.text.lstrip().startswith('<div id="avancement"')
        assert "<html" not in part.text
        # a second run is refused while this one gives news
        csrf = csrf_of(page.text)
        again = pilot.post(f"/espace/quartiers/{world.hood}/analyse", data={"csrf": csrf})
        assert again.status_code == 409 and "déjà en cours" in again.text
    finally:
        with store.session_scope(world.site.engine) as s:
            s.execute(
                update(store.Diagnostic)
                .where(store.Diagnostic.id == world.diag)
                .values(status="collecting", job_step=None, progress=0.0)
            )


def test_the_analysis_runs_from_the_page_and_ends_done(analysed: World) -> None:
    w = analysed
    pilot = signed_in_client(w.site, "pilote@lorient.example")
    page = pilot.get(f"/espace/quartiers/{w.hood}/analyse")
    assert "Analyse terminée" in page.text, _text(page.text)
    assert '<progress id="barre" max="100" value="100">' in page.text
    assert "hx-trigger" not in page.text  # no more polling
    assert "profils d&#39;usages propres" in page.text or "Pas de profil propre" in page.text
    assert "Contraintes bâties calculées pour" in page.text
    assert f'href="/espace/quartiers/{w.hood}/resultats"' in page.text
    job = w.site.client().get(f"/diagnostics/{w.diag}/job", headers=_api(w)).json()
    assert job["status"] == "done"


def test_a_failed_job_says_why_and_offers_to_run_again(world: World) -> None:
    message = {"fr": "l'extrait ne couvre pas le quartier.", "en": "x", "code": "DataCoverageError"}
    with store.session_scope(world.site.engine) as s:
        before = s.get(store.Diagnostic, world.diag)
        assert before is not None
        saved = (before.status, before.job_message)
        s.execute(
            update(store.Diagnostic)
            .where(store.Diagnostic.id == world.diag)
            .values(status="failed", job_message=message)
        )
    try:
        pilot = signed_in_client(world.site, "pilote@lorient.example")
        page = pilot.get(f"/espace/quartiers/{world.hood}/analyse")
        assert "Analyse échouée" in page.text
        assert "l&#39;extrait ne couvre pas le quartier." in page.text
        assert "Relancer l&#39;analyse" in page.text
    finally:
        with store.session_scope(world.site.engine) as s:
            s.execute(
                update(store.Diagnostic)
                .where(store.Diagnostic.id == world.diag)
                .values(status=saved[0], job_message=saved[1])
            )


def test_results_show_the_api_figures_and_publish_makes_release_1(analysed: World) -> None:
    w = analysed
    api = w.site.client()
    pilot = signed_in_client(w.site, "pilote@lorient.example")
    page = pilot.get(f"/espace/quartiers/{w.hood}/resultats")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Aucune publication pour l'instant." in text
    assert "Réponses synthétiques" in text
    foot = FootprintsOut.model_validate(
        api.get(f"/diagnostics/{w.diag}/footprints", headers=_api(w)).json()
    )
    assert foot.published and foot.release is None
    for usage in USAGES:
        label = USAGE_LABELS[usage].render("fr")
        value = number(foot.mean_kgco2e[usage], decimals=0).render("fr")
        assert re.search(rf"{re.escape(label)} {re.escape(value)} ", text), (label, value)
    total = number(foot.mean_kgco2e["total"], decimals=0).render("fr")
    assert f"Total des six usages {total}" in text
    profiles = ProfilesOut.model_validate(
        api.get(f"/diagnostics/{w.diag}/profiles", headers=_api(w)).json()
    )
    for key, share in profiles.shares.items():
        shown = number(100 * share, decimals=1).render("fr") + " %"
        assert f"Profil {int(key) + 1} {shown}" in text
    assert "Profils propres au quartier" in text and "Mobilité quotidienne : " in text
    assert "Contraintes bâties" in text and "Par carreau de 200 m" in text
    # the API's map of the cells, as its own page under the maps' policy (inline scripts)
    assert f'href="/cartes/quartiers/{w.hood}/resultats"' in page.text
    drawn = pilot.get(f"/cartes/quartiers/{w.hood}/resultats")
    assert drawn.status_code == 200 and "aperçu de vos données" in drawn.text
    assert "frame-ancestors 'none'" in drawn.headers["content-security-policy"]
    assert "script-src 'unsafe-inline'" in drawn.headers["content-security-policy"]
    # no raw column name of the figures
    assert "kgco2e" not in _main(page.text) and "share_" not in _main(page.text)
    assert "n_respondents" not in _main(page.text)
    assert "Ce que les règles de confidentialité ont retenu" in text
    # one scale for every footprint of the page, said once
    assert "avec l'échelle NosGestesClimat (le modèle de l'ADEME), la même pour" in text
    # the confirmation is required
    csrf = csrf_of(page.text)
    refused = pilot.post(f"/espace/quartiers/{w.hood}/resultats/publier", data={"csrf": csrf})
    assert refused.status_code == 400 and "Cochez la case de confirmation" in refused.text
    assert api.get(f"/diagnostics/{w.diag}/releases", headers=_api(w)).json() == []
    # CSRF refused
    forged = pilot.post(
        f"/espace/quartiers/{w.hood}/resultats/publier", data={"confirmer": "oui", "csrf": "x"}
    )
    assert forged.status_code == 403 and "Formulaire refusé" in forged.text
    done = pilot.post(
        f"/espace/quartiers/{w.hood}/resultats/publier", data={"confirmer": "oui", "csrf": csrf}
    )
    assert done.status_code == 303, done.text
    listed = [
        ReleaseOut.model_validate(r)
        for r in api.get(f"/diagnostics/{w.diag}/releases", headers=_api(w)).json()
    ]
    assert [r.number for r in listed] == [1]
    after = pilot.get(done.headers["location"])
    text = _text(after.text)
    with store.session_scope(w.site.engine) as s:
        made = s.query(store.Release).filter_by(diagnostic_id=w.diag).one().created_at
    when = day(made).render("fr")
    assert "Publication n° 1 faite." in text
    assert f"Publication n° 1 du {when}" in text
    # the release's figures are the API's released ones (the public reads them once published)
    staff = signed_in_client(w.site, "admin@reseau.example")
    assert f"Publication n° 1 du {when}" in _text(
        staff.get(f"/espace/quartiers/{w.hood}/resultats").text
    )
    # the same set again: 0 respondents of difference, a second release is allowed
    again = pilot.post(
        f"/espace/quartiers/{w.hood}/resultats/publier",
        data={"confirmer": "oui", "csrf": csrf_of(after.text)},
    )
    assert again.status_code == 303


def test_a_release_of_the_old_near_scale_is_not_set_beside_the_french_average(
    world: World,
) -> None:
    from api.web.analysis import figure_view
    from qet_geo.store.releases import Figures

    means = {u: 1000.0 for u in USAGES} | {"total": 6000.0}
    with store.session_scope(world.site.engine) as s:
        for scale, note, france in (
            ("ngc", "la même pour la moyenne française", True),
            ("near", "ancienne échelle NEAR", False),
        ):
            view = figure_view(
                s,
                Figures(20, footprints=means, scale=scale),
                title="t",
                lang="fr",
                live=False,
                constraints={},
            )
            assert note in view.scale_note
            assert [r["france"] != "–" for r in view.footprints] == [france] * len(USAGES)
            assert view.total is not None and (view.total["france"] != "–") is france


def test_withheld_figures_are_explained(world: World) -> None:
    pilot = signed_in_client(world.site, "pilote@petit.example")
    page = pilot.get(f"/espace/quartiers/{world.small_hood}/resultats")
    text = _text(page.text)
    assert "Rien n'est publié : moins de 11 répondants" in text
    assert "règle 2" in text
    assert "/cartes/quartiers/" not in page.text  # nothing to map
    assert pilot.get(f"/cartes/quartiers/{world.small_hood}/resultats").status_code == 404
    refused = pilot.post(
        f"/espace/quartiers/{world.small_hood}/resultats/publier",
        data={"confirmer": "oui", "csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert "Publication refusée : moins de 11 répondants" in _text(refused.text)


def test_without_a_diagnostic_the_pages_point_to_the_collection(world: World) -> None:
    admin = signed_in_client(world.site, "admin@reseau.example")
    for path in ("analyse", "resultats"):
        page = admin.get(f"/espace/quartiers/{world.empty_hood}/{path}")
        assert page.status_code == 200
        assert "pas encore de diagnostic" in page.text
        assert f'href="/espace/quartiers/{world.empty_hood}/enquete/collecte"' in page.text


def test_another_team_gets_404_on_every_url(world: World) -> None:
    other = signed_in_client(world.site, "pilote@petit.example")
    page = other.get(f"/espace/quartiers/{world.small_hood}/analyse")
    csrf = csrf_of(page.text)
    for method, path, data in (
        ("get", "analyse", None),
        ("get", "resultats", None),
        ("get", "resultats?publication=1", None),
        ("get", "/cartes", None),
        ("post", "analyse", {"csrf": csrf}),
        ("post", "resultats/publier", {"csrf": csrf, "confirmer": "oui"}),
    ):
        url = (
            f"/cartes/quartiers/{world.hood}/resultats"
            if path == "/cartes"
            else f"/espace/quartiers/{world.hood}/{path}"
        )
        answer = other.get(url) if method == "get" else other.post(url, data=data)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "Page introuvable" in answer.text and "Lorient" not in answer.text


def test_csrf_is_required_to_run(world: World) -> None:
    pilot = signed_in_client(world.site, "pilote@lorient.example")
    for data in ({}, {"csrf": "faux"}):
        answer = pilot.post(f"/espace/quartiers/{world.hood}/analyse", data=data)
        assert answer.status_code == 403 and "Formulaire refusé" in answer.text


def test_network_staff_read_but_may_not_run_or_publish(world: World) -> None:
    with store.session_scope(world.site.engine) as s:
        from qet_geo.store import accounts

        accounts.create_user(
            s, email="staff@reseau.example", password="mot de passe très long", role="staff"
        )
    staff = signed_in_client(world.site, "staff@reseau.example", "mot de passe très long")
    page = staff.get(f"/espace/quartiers/{world.hood}/analyse")
    assert page.status_code == 200 and "Lancer l&#39;analyse" not in page.text
    results = staff.get(f"/espace/quartiers/{world.hood}/resultats")
    assert results.status_code == 200 and "Je confirme" not in results.text
    assert "Aperçu" not in results.text  # staff read the releases, as the API
    csrf = csrf_of(page.text)
    assert (
        staff.post(f"/espace/quartiers/{world.hood}/analyse", data={"csrf": csrf}).status_code
        == 403
    )
    sent = staff.post(
        f"/espace/quartiers/{world.hood}/resultats/publier", data={"csrf": csrf, "confirmer": "oui"}
    )
    assert sent.status_code == 403


def test_names_are_escaped(world: World) -> None:
    admin = signed_in_client(world.site, "admin@reseau.example")
    page = admin.get(f"/espace/quartiers/{world.hood}/resultats")
    assert "Lorient &lt;centre&gt;" in page.text and "Lorient <centre>" not in page.text


def test_english_pages_have_no_french_left(analysed: World) -> None:
    french = _french_only()
    pilot: TestClient = signed_in_client(analysed.site, "pilote@lorient.example")
    pilot.cookies.set("qet_lang", "en")
    for path in ("analyse", "resultats"):
        page = pilot.get(f"/espace/quartiers/{analysed.hood}/{path}")
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{path}: {left}"
    results = pilot.get(f"/espace/quartiers/{analysed.hood}/resultats").text
    assert "Review and publish the results" in results
    assert "Carbon footprint per usage" in results
    assert "Daily mobility: " in results  # a profile described in English
