"""Steps 4 and 5: the links, margins of manoeuvre and vote themes on the results pages.

A neighbourhood over the shared Lorient extract and its territory, with labelled-synthetic SU
answers on its real buildings (``SYN-`` ids) uploaded through the API; the pilot runs the
analysis from the page (the job keeps the access tables and computes the preview's links), the
results page shows what ``qet diagnose``'s report shows, in French and English, "Publier" makes
a release that holds them, and the API serves them (``GET /diagnostics/{id}/links``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from qet_geo.exhibition.report import _TEXT
from qet_geo.store import models as store
from qet_geo.store.jobs import ANALYSIS_STEP_LABELS
from qet_geo.store.releases import preview_extras
from tests.api.conftest import LORIENT_TERRITORY
from tests.conftest import shared
from tests.store.test_release_links import synthetic_su
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client
from tests.web.test_pages import _french_only, _Text


@dataclass
class World:
    site: Site
    hood: int
    diag: int
    token: str
    other_hood: int


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html))).replace("&#39;", "'")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("links"))
    cli_admin(site.url, "admin@reseau.example")
    api = site.client()
    with store.session_scope(site.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    hood = api.post(
        "/neighbourhoods", json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
        headers=staff,
    ).json()["id"]  # fmt: skip
    other = api.post("/neighbourhoods", json={"name": "Autre"}, headers=staff).json()["id"]
    with store.session_scope(site.engine) as s:
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
    pilot = {"Authorization": f"Bearer {token}"}
    done = api.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        headers={**pilot, "Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 200, done.text
    diag = api.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot)
    diag_id = diag.json()["id"]
    sent = api.post(
        f"/diagnostics/{diag_id}/uploads", content=synthetic_su(150, seed=3), headers=pilot
    )
    assert sent.status_code == 201, sent.text
    add_pilot(site, "pilote@lorient.example", hood)
    add_pilot(site, "pilote@autre.example", other)
    # the pilot runs the analysis from the page (the job runs after the answer)
    client = signed_in_client(site, "pilote@lorient.example")
    page = client.get(f"/espace/quartiers/{hood}/analyse")
    run = client.post(f"/espace/quartiers/{hood}/analyse", data={"csrf": csrf_of(page.text)})
    assert run.status_code == 303
    page = client.get(f"/espace/quartiers/{hood}/analyse")
    assert "Analyse terminée" in page.text, _text(page.text)
    yield World(site, hood, diag_id, token, other)
    site.engine.dispose()


def _pilot(w: World, lang: str = "fr") -> TestClient:
    client = signed_in_client(w.site, "pilote@lorient.example")
    if lang == "en":
        client.cookies.set("qet_lang", "en")
    return client


def _preview(w: World) -> dict:
    with store.session_scope(w.site.engine) as s:
        links, _ = preview_extras(s, w.diag, osm_dir=cast(Any, w.site.app).state.settings.osm_dir)
    return links


def test_the_analysis_page_names_the_new_steps(world: World) -> None:
    for lang in ("fr", "en"):
        page = _pilot(world, lang).get(f"/espace/quartiers/{world.hood}/analyse").text
        for step in ("bike", "links"):
            assert ANALYSIS_STEP_LABELS[step].render(lang) in _text(page)


def _sections(text: str, lang: str) -> None:
    for key in (
        "constraints",
        "vote",
        "links",
        "margins",
        "method",
        "method_terms",
        "method_links",
    ):
        assert _TEXT[key].render(lang) in text, key


def test_the_preview_shows_the_report_sections(world: World) -> None:
    links = _preview(world)
    assert links["status"] == "ok"
    page = _pilot(world).get(f"/espace/quartiers/{world.hood}/resultats")
    assert page.status_code == 200
    text = _text(page.text)
    _sections(text, "fr")
    tables = links["fr"]
    assert tables["models"] and tables["margins"] and tables["votes"]
    assert f"{tables['votes'][0]['theme']} —" in text
    for row in tables["margins"]:
        assert row["label"] in text
    for line in tables["left_out"]:
        assert line.replace("'", "'") in text.replace("&#34;", '"')
    usage, answer = tables["models"][0]["usage"], tables["models"][0]["answer"]
    assert f"{usage} : qui répond « {answer} » ?" in text
    # the other surveys' section (helper C's template) and no raw key of the tables
    assert "Accès mesuré et accès perçu" in text
    main = _main(page.text)
    assert "odds_ratio" not in main and "share_homes" not in main and "n_bootstrap" not in main


def test_publishing_stores_them_and_the_release_page_shows_them(world: World) -> None:
    pilot = _pilot(world)
    page = pilot.get(f"/espace/quartiers/{world.hood}/resultats")
    done = pilot.post(
        f"/espace/quartiers/{world.hood}/resultats/publier",
        data={"confirmer": "oui", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303, done.text
    with store.session_scope(world.site.engine) as s:
        release = s.query(store.Release).filter_by(diagnostic_id=world.diag).one()
        stored = release.figures["links"]
    assert stored == _preview(world)  # the job's preview is what the release holds
    after = pilot.get(done.headers["location"])
    text = _text(after.text)
    # the preview and the release both show them (two sets on the page)
    assert text.count(_TEXT["vote"].render("fr")) == 2
    assert text.count(stored["fr"]["margins"][0]["label"]) >= 2
    # the public API: the release's tables, in the language asked
    api = world.site.client()
    with store.session_scope(world.site.engine) as s:
        staff = store.create_token(s, role="staff")
    served = api.get(
        f"/diagnostics/{world.diag}/links",
        headers={"Authorization": f"Bearer {staff}", "Accept-Language": "en"},
    )
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["release"] == 1 and body["status"] == "ok" and body["synthetic"] is True
    assert body["models"] == stored["en"]["models"]
    assert body["vote_themes"] == stored["en"]["votes"]
    assert body["margins_left_out"] == stored["en"]["left_out"]
    with store.session_scope(world.site.engine) as s:
        walking = s.query(store.Release).filter_by(diagnostic_id=world.diag).one().figures["access"]
    assert body["walking"]["rows"] == walking["en"] and body["walking"]["homes"] == walking["homes"]
    # the pilot team reads its live preview
    live = api.get(
        f"/diagnostics/{world.diag}/links", headers={"Authorization": f"Bearer {world.token}"}
    ).json()
    assert live["release"] is None and live["models"] == stored["fr"]["models"]
    # another team's pilot: 404 on the page and on the API
    other = signed_in_client(world.site, "pilote@autre.example")
    assert other.get(f"/espace/quartiers/{world.hood}/resultats").status_code == 404
    with store.session_scope(world.site.engine) as s:
        stranger = store.create_token(s, role="pilot", neighbourhood_ids=[world.other_hood])
    refused = api.get(
        f"/diagnostics/{world.diag}/links", headers={"Authorization": f"Bearer {stranger}"}
    )
    assert refused.status_code == 404


def test_english_pages_show_them_with_no_french_left(world: World) -> None:
    french = _french_only()
    pilot = _pilot(world, "en")
    page = pilot.get(f"/espace/quartiers/{world.hood}/resultats")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    text = _text(page.text)
    _sections(text, "en")
    links = _preview(world)["en"]
    assert f"{links['votes'][0]['theme']} —" in text
    usage, answer = links["models"][0]["usage"], links["models"][0]["answer"]
    assert f"{usage}: who answers “{answer}”?" in text or usage in text
    parser = _Text()
    parser.feed(page.text)
    report_french = {m.render("fr") for m in _TEXT.values()} - {
        m.render("en") for m in _TEXT.values()
    }
    left = [p for p in parser.pieces if p in french or p in report_french]
    assert not left, left


def test_new_answers_make_the_preview_stale_and_a_small_difference_is_refused(
    world: World,
) -> None:
    pilot = _pilot(world)
    with store.session_scope(world.site.engine) as s:
        published = s.query(store.Release).filter_by(diagnostic_id=world.diag).count()
    if not published:  # this worker did not run the publishing test: publish release 1 here
        page = pilot.get(f"/espace/quartiers/{world.hood}/resultats")
        done = pilot.post(
            f"/espace/quartiers/{world.hood}/resultats/publier",
            data={"confirmer": "oui", "csrf": csrf_of(page.text)},
        )
        assert done.status_code == 303, done.text
    api = world.site.client()
    more = synthetic_su(5, seed=9).decode().replace("SYN-", "SYN-X").encode()
    sent = api.post(
        f"/diagnostics/{world.diag}/uploads",
        content=more,
        headers={"Authorization": f"Bearer {world.token}"},
    )
    assert sent.status_code == 201, sent.text
    page = pilot.get(f"/espace/quartiers/{world.hood}/resultats")
    text = _text(page.text)
    assert "pas encore calculés pour les réponses actuelles : relancez l'analyse" in text
    refused = pilot.post(
        f"/espace/quartiers/{world.hood}/resultats/publier",
        data={"confirmer": "oui", "csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert "moins de 11 répondants" in _text(refused.text)
    with store.session_scope(world.site.engine) as s:
        assert s.query(store.Release).filter_by(diagnostic_id=world.diag).count() == 1


def test_the_results_map_speaks_the_page_language(world: World) -> None:
    french = _pilot(world).get(f"/cartes/quartiers/{world.hood}/resultats")
    english = _pilot(world, "en").get(f"/cartes/quartiers/{world.hood}/resultats")
    assert french.status_code == english.status_code == 200
    assert "aperçu de vos données" in french.text
    assert "aperçu de vos données" not in english.text
