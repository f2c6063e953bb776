"""The documents page of a public portal, ``/q/{slug}/documents``.

Neighbourhoods inserted in the store: one published with two released campaigns, a closed vote of
11 ballots (results published), published and unpublished workshops and sheets whose titles carry
``<script>`` and ``{{ 7*7 }}``; one published with nothing yet; one unpublished. No account is
used to read the page.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from qet_geo.store import models as store
from qet_geo.store import votes
from qet_geo.store.events import create_event, publish_event
from qet_geo.store.portal import set_slug
from qet_geo.store.releases import Figures
from tests.web.test_accounts import Site, make_site
from tests.web.test_pages import _french_only, _Text

EVIL = "Atelier <script>alert(1)</script> {{ 7*7 }}"
SHEET = "Vélos <script>alert(2)</script> {{ 7*7 }}"


@dataclass
class World:
    site: Site
    events: dict[str, int]
    projects: dict[str, int]


def _release(s: object, diag: int) -> None:
    s.add(  # type: ignore[attr-defined]
        store.Release(
            diagnostic_id=diag,
            number=1,
            n_respondents=40,
            respondent_ids=[],
            figures=Figures(n_respondents=40).as_json(),
            summary={},
        )
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("documents"))
    found_events: dict[str, int] = {}
    found_projects: dict[str, int] = {}
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient <b>centre</b>", published=True)
        set_slug(s, hood, "lorient-centre")
        diags = []
        for year in (0, 1):
            diag = store.Diagnostic(neighbourhood_id=hood.id, year=year)
            s.add(diag)
            s.flush()
            _release(s, diag.id)
            diags.append(diag.id)
        vote, codes = votes.open_vote(s, diags[1], "Quel thème ?", ["Mobilité", "Viande"], 11)
        for code in codes:
            votes.cast_ballot(s, vote.id, code, ["Mobilité"])
        votes.close_vote(s, vote)
        when = datetime(2027, 3, 13, 17, 0, tzinfo=UTC)
        for key, title, published, minutes in (
            ("evil", EVIL, True, "Nous avons parlé des vélos."),
            ("plain", "Réunion de lancement", True, ""),
            ("draft", "Atelier brouillon", False, ""),
        ):
            event = create_event(s, hood.id, title=title, phase="inspiration", starts_at=when)
            event.minutes = minutes
            publish_event(s, event, published)
            found_events[key] = event.id
        for key, title, published in (("evil", SHEET, True), ("draft", "Projet brouillon", False)):
            project = store.Project(neighbourhood_id=hood.id, title=title, published=published)
            s.add(project)
            s.flush()
            found_projects[key] = project.id
        empty = store.add_neighbourhood(s, name="Vide", published=True)
        set_slug(s, empty, "vide")
        s.add(store.Diagnostic(neighbourhood_id=empty.id, year=0))  # no release: not listed
        s.flush()
        hidden = store.add_neighbourhood(s, name="Caché", published=False)
        set_slug(s, hidden, "cache")
        diag = store.Diagnostic(neighbourhood_id=hidden.id, year=0)
        s.add(diag)
        s.flush()
        _release(s, diag.id)
    yield World(site, found_events, found_projects)
    site.engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _main(html))).replace("&#39;", "'")


def _links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', _main(html)))


def test_documents_lists_every_published_artefact(world: World) -> None:
    page = world.site.client().get("/q/lorient-centre/documents")
    assert page.status_code == 200, page.text
    links = _links(page.text)
    base = "/q/lorient-centre"
    e, p = world.events, world.projects
    assert links >= {
        f"{base}/diagnostic/0",
        f"{base}/diagnostic/0.csv",
        f"{base}/diagnostic/1",
        f"{base}/diagnostic/1.csv",
        f"{base}/forum",
        f"{base}/ateliers#atelier-{e['evil']}",
        f"{base}/ateliers#atelier-{e['plain']}",
        f"{base}/projets/{p['evil']}",
        f"{base}/impact",
        f"{base}/archive.zip",
    }
    assert f"{base}/ateliers#atelier-{e['draft']}" not in links
    assert f"{base}/projets/{p['draft']}" not in links
    text = _text(page.text)
    assert "brouillon" not in text
    assert "résultats du vote publiés" in text
    evil = text.split("Réunions et ateliers", 1)[1]
    assert "compte rendu publié" in evil.split("Réunion de lancement", 1)[0]
    assert "pas de compte rendu" in evil.split("Réunion de lancement", 1)[1]
    # the nav marks the page
    assert 'href="/q/lorient-centre/documents" aria-current="page"' in page.text


def test_every_listed_link_answers(world: World) -> None:
    client = world.site.client()
    html = client.get("/q/lorient-centre/documents").text
    for link in _links(html):
        if link.startswith("/q/") and not link.endswith(".csv"):
            assert client.get(link.split("#", 1)[0]).status_code == 200, link


def test_titles_are_escaped(world: World) -> None:
    html = world.site.client().get("/q/lorient-centre/documents").text
    assert "<script>alert" not in html
    assert "Atelier &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html
    assert "Vélos &lt;script&gt;alert(2)&lt;/script&gt; {{ 7*7 }}" in html
    assert "49" not in _text(html)
    assert "Lorient &lt;b&gt;centre&lt;/b&gt;" in html


def test_an_empty_portal_says_nothing_is_published(world: World) -> None:
    page = world.site.client().get("/q/vide/documents")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Aucun diagnostic n'est encore publié." in text
    assert "Aucune réunion ni aucun atelier n'est encore publié." in text
    assert "Aucune fiche projet n'est encore publiée." in text
    assert "La comparaison paraîtra quand deux diagnostics seront publiés." in text
    assert "résultats du vote" not in text
    assert "/impact" not in " ".join(_links(page.text))
    assert "/diagnostic/0" not in " ".join(_links(page.text))


def test_unknown_and_unpublished_portals_are_404(world: World) -> None:
    client = world.site.client()
    for slug in ("cache", "inconnu", "x" * 80):
        page = client.get(f"/q/{slug}/documents")
        assert page.status_code == 404, slug
        assert "Caché" not in page.text


def test_english_keeps_no_french(world: World) -> None:
    from api.web._kit import TEMPLATES
    from qet_geo.i18n import translate

    ours = re.findall(r'_\("([^"]+)"', (TEMPLATES / "documents_page.html").read_text())
    assert ours and not [
        t
        for t in ours
        if translate(t, "en") == t and t not in ("Documents", "Diagnostics", "Forum", "Impact")
    ]
    french = _french_only()
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    for slug in ("lorient-centre", "vide"):
        page = client.get(f"/q/{slug}/documents")
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{slug}: {left}"
    text = _text(client.get("/q/lorient-centre/documents").text)
    assert "results of the vote published" in text and "Project sheets" in text


# --------------------------------------------------------------------------------------------------
# the offline archive


def _archive(world: World, slug: str = "lorient-centre", lang: str = "fr") -> zipfile.ZipFile:
    client = world.site.client()
    client.cookies.set("qet_lang", lang)
    got = client.get(f"/q/{slug}/archive.zip")
    assert got.status_code == 200, got.text[:500]
    assert got.headers["content-type"] == "application/zip"
    assert got.headers["content-disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(got.content))


def test_the_archive_holds_every_page_with_relative_links(world: World) -> None:
    zf = _archive(world)
    names = set(zf.namelist())
    e, p = world.events, world.projects
    expected = {
        "README.txt",
        "web.css",
        "portal.css",
        "index.html",
        "diagnostic.html",
        "diagnostic-0.html",
        "diagnostic-1.html",
        "diagnostic-0.csv",
        "diagnostic-1.csv",
        "diagnostic-0.gpkg",
        "diagnostic-1.gpkg",
        "forum.html",
        "ateliers.html",
        "projets.html",
        f"projet-{p['evil']}.html",
        "impact.html",
        "documents.html",
    }
    assert names == expected
    for name in names:
        if not name.endswith(".html"):
            continue
        html = zf.read(name).decode("utf-8")
        assert "<form" not in html, name
        assert not re.search(r'(href|src|action)="/', html), name
        for link in re.findall(r'href="([^"#]+)', html):
            assert link in names, (name, link)
    documents = zf.read("documents.html").decode("utf-8")
    assert f'href="ateliers.html#atelier-{e["evil"]}"' in documents
    assert f'href="projet-{p["evil"]}.html"' in documents
    assert 'href="diagnostic-1.csv"' in documents
    assert 'href="diagnostic-1.gpkg"' in documents
    assert "Projet brouillon" not in documents and "<script>alert" not in documents
    assert 'href="web.css"' in zf.read("index.html").decode("utf-8")
    readme = zf.read("README.txt").decode("utf-8")
    assert "static copy" in readme and "index.html" in readme and "left out" in readme
    assert re.search(r"Made on \d{4}-\d\d-\d\d \d\d:\d\d \(UTC\)", readme)


def test_the_archive_is_in_the_readers_language(world: World) -> None:
    zf = _archive(world, lang="en")
    assert '<html lang="en">' in zf.read("index.html").decode("utf-8")


def test_the_archive_of_an_unknown_or_unpublished_portal_is_404(world: World) -> None:
    client = world.site.client()
    for slug in ("cache", "inconnu"):
        assert client.get(f"/q/{slug}/archive.zip").status_code == 404, slug


def test_the_archive_is_bounded_and_names_its_files() -> None:
    from api.web.documents import MAX_PAGES, _archive_paths, archive_name

    context = {"campaigns": [{"year": 0}], "projects": [{"id": i} for i in range(300)]}
    paths = _archive_paths(context, "q1")
    assert len(paths) == MAX_PAGES and paths[0] == "/q/q1"
    assert archive_name("/q/q1", "q1") == "index.html"
    assert archive_name("/q/q1/diagnostic/3", "q1") == "diagnostic-3.html"
    assert archive_name("/q/q1/diagnostic/3.csv", "q1") == "diagnostic-3.csv"
    assert archive_name("/q/q1/diagnostic/3.gpkg", "q1") == "diagnostic-3.gpkg"
    assert archive_name("/q/q1/projets/12", "q1") == "projet-12.html"
    assert archive_name("/static/web/portal.css", "q1") == "portal.css"
    for other in ("/q/q2", "/q/q1/projets/x", "/espace", "/static/web/evil.css", "/q/q1x"):
        assert archive_name(other, "q1") is None, other
