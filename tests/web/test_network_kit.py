"""The method kit's page, ``/reseau/kit``: every file listed and downloadable in the reader's
language, the whole kit as one zip, an unknown file as the 404 page; in English, no French."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from qet_geo.kit import KIT_VERSION, kit_archive, kit_file, kit_files
from tests.web.test_accounts import Site, make_site
from tests.web.test_pages import _french_only, _Text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = make_site(tmp_path_factory.mktemp("kit"))
    yield s
    s.engine.dispose()


def test_the_page_lists_every_file_with_its_link(site: Site) -> None:
    page = site.client().get("/reseau/kit")
    assert page.status_code == 200
    assert "<h1>Le kit de la méthode</h1>" in page.text
    for f in kit_files():
        assert f'href="/reseau/kit/{f.name}"' in page.text
        assert (
            f.title.render("fr").replace("'", "&#39;") in page.text
            or f.title.render("fr") in page.text
        )
    assert f'href="/reseau/kit/qet-kit-{KIT_VERSION}.zip"' in page.text
    assert 'aria-current="page"' in page.text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_each_file_downloads_in_the_reader_language(site: Site, lang: str) -> None:
    client = site.client()
    client.cookies.set("qet_lang", lang)
    for f in kit_files():
        got = client.get(f"/reseau/kit/{f.name}")
        assert got.status_code == 200
        assert got.content == kit_file(f.name, lang)
        assert got.headers["content-type"].startswith(f.media_type.split(";")[0])
        assert f'filename="{f.name}"' in got.headers["content-disposition"]
    whole = client.get(f"/reseau/kit/qet-kit-{KIT_VERSION}.zip")
    assert whole.status_code == 200 and whole.content == kit_archive(lang)


def test_an_unknown_file_is_the_404_page(site: Site) -> None:
    got = site.client().get("/reseau/kit/..%2Fsecret.txt")
    assert got.status_code == 404 and "<html" in got.text
    got = site.client().get("/reseau/kit/autre.zip")
    assert got.status_code == 404 and "/reseau/kit" in got.text


def test_the_english_page_keeps_no_french(site: Site) -> None:
    client = site.client()
    client.cookies.set("qet_lang", "en")
    page = client.get("/reseau/kit")
    assert '<html lang="en">' in page.text and "<h1>The method kit</h1>" in page.text
    parser = _Text()
    parser.feed(page.text)
    french = _french_only()
    assert not [p for p in parser.pieces if p in french]
    assert not re.search(r"Télécharger|Fichier|Taille", page.text)
