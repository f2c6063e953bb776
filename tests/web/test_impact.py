"""The public impact page ``/q/{slug}/impact``: the second diagnostic against the first.

A published Lorient neighbourhood with two campaigns (year 0 and year 1) of labelled-synthetic
answers, each released; published and unpublished projects inserted in the store; beside it a
published neighbourhood with one released campaign, one whose year-1 release is labelled real
(synthetic against real: refused), one whose year-0 release is of the old NEAR scale (refused),
and an unpublished one. No account is used to read the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from qet_geo.i18n import translate
from qet_geo.store import models as store
from qet_geo.store.releases import create_release
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.web.test_accounts import Site, make_site
from tests.web.test_pages import _french_only, _Text

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"
EVIL = "Vélos <script>alert(2)</script> {{ 7*7 }}"


def campaigns(
    api: Any,
    engine: Engine,
    osm_dir: str,
    headers: dict[str, str],
    *,
    name: str,
    slug: str,
    years: tuple[int, ...] = (0, 1),
    published: bool = True,
) -> tuple[int, list[int]]:
    """A neighbourhood with one released campaign of labelled-synthetic answers per year.

    ``api`` is a TestClient or an httpx client of the app. Returns its id and its diagnostics.
    """
    hood = api.post(
        "/neighbourhoods", json={"name": name, "territory": LORIENT_TERRITORY}, headers=headers
    ).json()["id"]
    diags = []
    for year in years:
        diag = api.post(
            f"/neighbourhoods/{hood}/diagnostics", json={"year": year}, headers=headers
        ).json()["id"]
        homes = ((-3.360, 47.749, 30 + 10 * year), (-3.358, 47.752, 20))
        sent = api.post(
            f"/diagnostics/{diag}/uploads",
            content=su_csv(50 + 10 * year, seed=5 + year, prefix=f"Y{year}", clusters=homes),
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
        with store.session_scope(engine) as s:
            s.execute(
                update(store.Diagnostic).where(store.Diagnostic.id == diag).values(synthetic=True)
            )
        create_release(engine, diag, osm_dir=osm_dir)
        diags.append(diag)
    with store.session_scope(engine) as s:
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == hood)
            .values(slug=slug, published=published)
        )
    return hood, diags


def add_project(engine: Engine, hood: int, **values: Any) -> int:
    with store.session_scope(engine) as s:
        project = store.Project(neighbourhood_id=hood, **values)
        s.add(project)
        s.flush()
        return project.id


@dataclass
class World:
    site: Site
    hood: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("impact"))
    api = site.client()
    engine = site.engine
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    hood, _ = campaigns(api, engine, osm_dir, staff, name=NAME, slug="lorient-centre")
    campaigns(api, engine, osm_dir, staff, name="Un seul", slug="un-seul", years=(0,))
    campaigns(api, engine, osm_dir, staff, name="Caché", slug="cache", published=False)
    _, mixed = campaigns(api, engine, osm_dir, staff, name="Mélangé", slug="melange")
    _, scales = campaigns(api, engine, osm_dir, staff, name="Deux échelles", slug="echelles")
    partial, parts = campaigns(api, engine, osm_dir, staff, name="Partiel", slug="partiel")
    with store.session_scope(engine) as s:
        release = s.query(store.Release).filter_by(diagnostic_id=mixed[1]).one()
        release.summary = {**release.summary, "synthetic": False}
        s.execute(
            update(store.Diagnostic).where(store.Diagnostic.id == mixed[1]).values(synthetic=False)
        )
        release = s.query(store.Release).filter_by(diagnostic_id=scales[0]).one()
        release.summary = {**release.summary, "scale": "near"}
        # year 1 could not publish its heating footprint (one respondent dominating it)
        release = s.query(store.Release).filter_by(diagnostic_id=parts[1]).one()
        moments = dict(release.summary["moments"])
        del moments["heat_source_kgco2e"]
        release.summary = {**release.summary, "moments": moments}
    add_project(engine, hood, title=EVIL, usage="transportation_mode", published=True,
                effect={"value": 12345.0, "low": 5000.0, "high": 20000.0})  # fmt: skip
    add_project(
        engine, hood, title="Compost partagé", usage="meat_frequency", published=True, effect={}
    )
    add_project(engine, hood, title="Projet brouillon", usage="heat_source", published=False,
                effect={"value": 1.0})  # fmt: skip
    add_project(engine, hood, title="Sans usage", published=True, effect={"value": "beaucoup"})
    add_project(engine, partial, title="Isolation", usage="heat_source", published=True,
                effect={"value": 800})  # fmt: skip
    add_project(engine, partial, title="Covoiturage", usage="transportation_mode",
                published=True)  # fmt: skip
    yield World(site, hood)
    engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    text = re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html)))
    return text.replace("&#39;", "'")


def test_impact_compares_the_two_campaigns(world: World) -> None:
    page = world.site.client().get("/q/lorient-centre/impact")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<script>alert" not in html
    assert "{{ 7*7 }}" in html and "49" not in _text(html).split("Usage", 1)[0]
    text = _text(html)
    assert "Le diagnostic de l'année 1" in text and "l'année 0" in text
    assert "Réponses synthétiques" in text
    table = _main(html).split('id="titre-changement"', 1)[1].split("</table>", 1)[0]
    for label in ("Mobilité quotidienne", "Alimentation (viande)", "Total des six usages"):
        assert label in table, label
    # each row: before, after, change, interval in words, counts 50 / 60
    assert "50 / 60" in table
    assert re.search(r"de [−+]?[\d  ]+ à [−+]?[\d  ]+", table)
    assert any(v in table for v in ("en baisse", "en hausse", "pas de changement net"))
    profiles = _main(html).split('id="titre-profils"', 1)[1].split("</table>", 1)[0]
    assert "Profil 1" in profiles and " %" in profiles
    assert "Ce que cette comparaison ne prouve pas" in text
    assert "pas un panel" in text
    # released without the census folder: the weighted change says why it is absent
    assert "Pas de comparaison pondérée par le recensement" in text
    assert "Ce que la pondération ne corrige pas" in text
    assert "ne sont pas pondérées par le recensement" in text


def test_impact_lists_published_projects_beside_the_measured_change(world: World) -> None:
    html = world.site.client().get("/q/lorient-centre/impact").text
    projects = _main(html).split('id="titre-projets"', 1)[1]
    assert "Vélos &lt;script&gt;alert(2)&lt;/script&gt; {{ 7*7 }}" in projects
    assert "<script>alert(2)" not in projects
    assert "Projet brouillon" not in html
    rows = projects.split("<tr>")[2:]
    velo, compost = rows[0], rows[1]
    assert "12 345 (entre 5 000 et 20 000)" in velo.replace("\u202f", " ").replace("\xa0", " ")
    assert "entre" in velo and "pas de mesure comparable" not in velo
    assert "non estimé" in compost
    assert "Alimentation (viande)" in compost and "entre" in compost
    none = rows[2]
    assert "Sans usage" in none and "aucun usage précisé" in none
    assert "non estimé" in none and "pas de mesure comparable" in none


def test_impact_withholds_what_one_year_could_not_publish(world: World) -> None:
    html = world.site.client().get("/q/partiel/impact").text
    table = _main(html).split('id="titre-changement"', 1)[1].split("</table>", 1)[0]
    rows = {r.split("</th>", 1)[0].rsplit(">", 1)[1]: r for r in table.split("<tr>")[2:]}
    assert "non comparé" in rows["Chauffage"]
    # the total would give the heating back: withheld too
    assert "non comparé" in rows["Total des six usages"]
    assert "non comparé" not in rows["Mobilité quotidienne"]
    projects = _main(html).split('id="titre-projets"', 1)[1]
    isolation, covoiturage = projects.split("<tr>")[2:4]
    assert "Isolation" in isolation and "pas de mesure comparable" in isolation
    assert ">800<" in isolation
    assert "Covoiturage" in covoiturage and "non estimé" in covoiturage
    assert "pas de mesure comparable" not in covoiturage


def test_impact_in_english_keeps_no_french(world: World) -> None:
    from api.web._kit import TEMPLATES

    ours = re.findall(r'_\("([^"]+)"', (TEMPLATES / "impact_page.html").read_text())
    assert ours and not [
        t for t in ours if translate(t, "en") == t and t not in ("Impact", "Usage")
    ]
    french = _french_only()
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    for slug in ("lorient-centre", "un-seul", "melange", "echelles", "partiel"):
        page = client.get(f"/q/{slug}/impact")
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{slug}: {left}"
    text = _text(client.get("/q/lorient-centre/impact").text)
    assert "What this comparison cannot prove" in text
    assert "not estimated" in text and "Daily mobility" in text
    assert "synthetic" in _text(client.get("/q/melange/impact").text)


def test_impact_with_one_campaign_waits_for_the_second(world: World) -> None:
    page = world.site.client().get("/q/un-seul/impact")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Le second diagnostic n'est pas encore publié" in text
    assert "Aucun projet n'est encore publié" in text


def test_impact_refuses_synthetic_against_real(world: World) -> None:
    page = world.site.client().get("/q/melange/impact")
    assert page.status_code == 200
    text = _text(page.text)
    assert "ne peuvent pas être comparés" in text
    assert "synthétique" in text and "réelle" in text
    assert "titre-changement" not in page.text


def test_impact_refuses_two_scales(world: World) -> None:
    page = world.site.client().get("/q/echelles/impact")
    assert page.status_code == 200
    text = _text(page.text)
    assert "NEAR" in text and "publier à nouveau" in text
    assert "titre-changement" not in page.text


@pytest.mark.parametrize("slug", ["cache", "inconnu", "x" * 80])
def test_impact_of_an_unknown_or_unpublished_portal_is_404(world: World, slug: str) -> None:
    page = world.site.client().get(f"/q/{slug}/impact")
    assert page.status_code == 404
    assert "Traceback" not in page.text
