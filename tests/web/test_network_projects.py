"""The network's projects library ``/reseau/projets`` and its CSV file, read without an account.

A published Lorient neighbourhood with two released campaigns of labelled-synthetic answers
(years 0 and 1: measured changes exist), a published one with one released campaign, an
unpublished one; published and unpublished sheets in each (the fixtures of test_impact.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from qet_geo.store import models as store
from tests.web.test_accounts import Site, make_site
from tests.web.test_impact import EVIL, NAME, add_project, campaigns
from tests.web.test_pages import _french_only, _Text

URL = "/reseau/projets"


@dataclass
class World:
    site: Site
    hood: int
    ids: dict[str, int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("library"))
    api = site.client()
    engine = site.engine
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    hood, _ = campaigns(api, engine, osm_dir, staff, name=NAME, slug="lorient-centre")
    single, _ = campaigns(api, engine, osm_dir, staff, name="Un seul", slug="un-seul", years=(0,))
    hidden, _ = campaigns(
        api, engine, osm_dir, staff, name="Caché", slug="cache", years=(0,), published=False
    )
    ids = {
        "evil": add_project(
            engine,
            hood,
            title=EVIL,
            theme="Mobilité",
            status="en_cours",
            usage="transportation_mode",
            profiles=[1, 2],
            budget_eur=15000.0,
            published=True,
        ),
        "compost": add_project(
            engine,
            hood,
            title="Compost partagé",
            theme="Alimentation",
            usage="meat_frequency",
            status="idee",
            published=True,
            problem="Les déchets de cuisine.",
        ),
        "draft": add_project(
            engine, hood, title="Projet brouillon", theme="Mobilité", published=False
        ),
        "school": add_project(
            engine,
            single,
            title="Vélo-école",
            theme="mobilité",
            usage="transportation_mode",
            status="realise",
            budget_eur=250000.0,
            published=True,
        ),
        "secret": add_project(engine, hidden, title="Vélos du quartier caché", published=True),
    }
    yield World(site, hood, ids)
    engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    text = re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html)))
    return text.replace("&#39;", "'").replace("\u202f", " ").replace("\xa0", " ")


def _cards(html: str) -> list[str]:
    return re.findall(r'<li class="card">(.*?)</li>', _main(html), flags=re.S)


def _facet(html: str, legend: str) -> dict[str, str]:
    """A facet's values: label -> count, from the page."""
    block = _main(html).split(f"<legend>{legend}</legend>", 1)[1].split("</fieldset>", 1)[0]
    return {
        label.strip(): count
        for label, count in re.findall(
            r'<label for="[^"]+">(.*?) <span class="count">\((\d+)\)</span>', block, re.S
        )
    }


def test_the_library_lists_every_published_project(world: World) -> None:
    page = world.site.client().get(URL)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<html lang="fr">' in html and 'aria-current="page">Projets<' in html
    text = _text(html)
    assert "Bibliothèque des projets" in text and "3 projets." in text
    assert "Compost partagé" in text and "Vélo-école" in text
    # never an unpublished sheet, nor a sheet of an unpublished portal
    assert "Projet brouillon" not in html and "Vélos du quartier caché" not in html
    assert "Caché" not in html
    hrefs = re.findall(r'<h3><a href="([^"]+)">', html)
    assert f"/q/lorient-centre/projets/{world.ids['compost']}" in hrefs
    assert f"/q/un-seul/projets/{world.ids['school']}" in hrefs
    for href in hrefs:
        assert world.site.client().get(href).status_code == 200
    # the map of France: région outlines and a dot per place
    assert '<svg class="france-svg"' in html and html.count('class="region"') == 13
    assert 'class="spot"' in html and "3 projets placés sur la carte" in text
    assert "Réponses synthétiques" in text


def test_titles_are_escaped(world: World) -> None:
    html = world.site.client().get(URL).text
    assert "<script>alert" not in html
    assert "Vélos &lt;script&gt;alert(2)&lt;/script&gt; {{ 7*7 }}" in html
    assert "Lorient &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html
    assert "49" not in _text(html)


def test_facets_count_projects(world: World) -> None:
    html = world.site.client().get(URL).text
    assert _facet(html, "Statut") == {"Idée": "1", "En cours": "1", "Réalisé": "1"}
    assert _facet(html, "Région") == {"Bretagne": "3"}
    assert _facet(html, "Thème") == {"Mobilité": "2", "Alimentation": "1"}
    assert _facet(html, "Coût") == {
        "de 10 000 à 50 000 €": "1",
        "200 000 € ou plus": "1",
        "budget non précisé": "1",
    }
    # the Lorient neighbourhood's two releases measure the change of both its projects' usages
    assert _facet(html, "Effet mesuré") == {"oui": "2", "non": "1"}
    kinds = _facet(html, "Type de quartier")
    assert sum(int(n) for n in kinds.values()) == 3
    # the type is the national comparison's, as the public reads it (GET /national)
    national = world.site.client().get("/national").json()
    of = {r["neighbourhood_id"]: r for r in national}
    row = of[world.hood]
    kind = row["type"] if row.get("compared", True) and row["type"] is not None else -1
    expected = f"Type {kind + 1}" if kind >= 0 else "non classé"
    card = next(c for c in _cards(html) if "Compost partagé" in c)
    assert f"<dt>Type de quartier</dt><dd>{expected}</dd>" in card
    cards = {c.split("</a>", 1)[0].rsplit(">", 1)[1]: c for c in _cards(html)}
    assert "/q/lorient-centre/impact" in cards["Compost partagé"]
    assert "pas encore" in cards["Vélo-école"]


def test_filters_and_search(world: World) -> None:
    client = world.site.client()
    html = client.get(URL, params={"statut": ["idee", "realise"]}).text
    text = _text(html)
    assert "2 projets." in text and "Compost partagé" in text and "Vélo-école" in text
    assert 'value="idee" checked' in html and 'value="en_cours">' in html
    # the status facet still counts every status; the others narrow
    assert _facet(html, "Statut") == {"Idée": "1", "En cours": "1", "Réalisé": "1"}
    assert _facet(html, "Effet mesuré") == {"oui": "1", "non": "1"}
    html = client.get(URL, params={"statut": "idee", "cout": "plus-200k"}).text
    assert "Aucun projet ne correspond." in _text(html)
    for words, found in (("velo", "2 projets."), ("VÉLO", "2 projets."),
                         ("déchets", "1 projet."), ("dechets cuisine", "1 projet.")):  # fmt: skip
        html = client.get(URL, params={"q": words}).text
        assert found in _text(html), words
    html = client.get(URL, params={"q": "<script>{{ 7*7 }}"}).text
    assert 'value="&lt;script&gt;{{ 7*7 }}"' in html and "<script>{{" not in html
    assert "1 projet." in _text(html)  # the title holding those words
    # bad input: never an error
    for params in ({"page": "x"}, {"page": "-1"}, {"page": "9" * 30}, {"q": "é" * 5000},
                   {"statut": "inconnu"}, {"nimporte": "quoi"}):  # fmt: skip
        assert client.get(URL, params=params).status_code == 200, params


def test_pages_of_results(world: World) -> None:
    engine = world.site.engine
    extra = [
        add_project(engine, world.hood, title=f"Jardin {i:02d}", theme="Jardins", published=True)
        for i in range(25)
    ]
    try:
        client = world.site.client()
        html = client.get(URL, params={"theme": "jardins"}).text
        assert "25 projets." in _text(html) and "Page 1 sur 2." in _text(html)
        assert len(_cards(html)) == 20
        nxt = re.search(r'<a href="([^"]+)" rel="next">', html)
        assert nxt is not None
        second = client.get(nxt.group(1).replace("&amp;", "&")).text
        assert "Page 2 sur 2." in _text(second) and len(_cards(second)) == 5
        assert 'value="jardins" checked' in second
    finally:
        with store.session_scope(engine) as s:
            for pid in extra:
                s.delete(s.get_one(store.Project, pid))


def test_csv_export(world: World) -> None:
    client = world.site.client()
    got = client.get(URL + ".csv", params={"statut": "idee"})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0][:3] == ["Projet", "Titre", "Quartier"]
    assert [r[1] for r in rows[1:]] == ["Compost partagé"]
    assert rows[1][3].endswith(f"/q/lorient-centre/projets/{world.ids['compost']}")
    assert rows[1][10] == "Bretagne" and rows[1][11] == "oui" and rows[1][12] == "oui"
    every = list(csv.reader(io.StringIO(client.get(URL + ".csv").text)))
    titles = {r[1] for r in every[1:]}
    assert EVIL in titles and "Projet brouillon" not in titles
    assert "Vélos du quartier caché" not in titles
    # a title a spreadsheet would run as a formula is written as text
    engine = world.site.engine
    pid = add_project(engine, world.hood, title='=HYPERLINK("x")', published=True)
    try:
        rows = list(csv.reader(io.StringIO(client.get(URL + ".csv").text)))
        assert '\'=HYPERLINK("x")' in {r[1] for r in rows}
    finally:
        with store.session_scope(engine) as s:
            s.delete(s.get_one(store.Project, pid))
    english = world.site.client()
    english.cookies.set("qet_lang", "en")
    en = english.get(URL + ".csv")
    assert next(csv.reader(io.StringIO(en.text)))[:3] == ["Project", "Title", "Neighbourhood"]


def test_the_library_in_english(world: World) -> None:
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    french = _french_only()
    for params in ({}, {"statut": "idee"}, {"q": "zzz"}):
        page = client.get(URL, params=params)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, left
    text = _text(client.get(URL).text)
    assert "Projects library" in text and "3 projects." in text
    assert "Measured effect" in text and "Neighbourhood type" in text and "Idea" in text


def test_an_unpublished_portal_never_shows(world: World) -> None:
    engine = world.site.engine
    with store.session_scope(engine) as s:
        s.get_one(store.Neighbourhood, world.hood).published = False
    try:
        html = world.site.client().get(URL).text
        assert "1 projet." in _text(html) and "Compost partagé" not in html
        rows = world.site.client().get(URL + ".csv").text
        assert "Compost partagé" not in rows
    finally:
        with store.session_scope(engine) as s:
            s.get_one(store.Neighbourhood, world.hood).published = True
