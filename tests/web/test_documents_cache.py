"""The offline archive ``/q/{slug}/archive.zip`` kept in the process.

A published Lorient neighbourhood (the shared territory) with a released campaign of
labelled-synthetic answers (``campaigns`` of the impact page's tests). The templates rendered are
counted through the pages' Jinja2 environment: a second download of an unchanged portal renders
none; publishing something, or asking in another language, makes a new archive.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyogrio
import pytest
from sqlalchemy import update

from api.web import _kit, documents
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY, fresh_postgres_database, postgres_url  # noqa: F401 (a fixture)
from tests.web.test_accounts import Site, make_site
from tests.web.test_impact import add_project, campaigns

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"
SLUG = "lorient-centre"


@dataclass
class World:
    site: Site
    hood: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("documents_cache"))
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    hood, _ = campaigns(
        site.client(), site.engine, osm_dir, admin, name=NAME, slug=SLUG, years=(0,)
    )
    yield World(site, hood)
    site.engine.dispose()


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    documents._ARCHIVES.clear()
    yield
    documents._ARCHIVES.clear()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates rendered from now on."""
    seen: list[str] = []
    real = _kit.env.get_template

    def counted(name: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(name))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_kit.env, "get_template", counted)
    return seen


def _download(world: World, lang: str = "fr") -> bytes:
    client = world.site.client()
    client.cookies.set("qet_lang", lang)
    got = client.get(f"/q/{SLUG}/archive.zip")
    assert got.status_code == 200, got.text[:300]
    return got.content


def _names(body: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(body)).namelist())


def test_a_second_download_renders_nothing(world: World, renders: list[str]) -> None:
    first = _download(world)
    assert "portal_diagnostic.html" in renders and "documents_page.html" in renders
    renders.clear()
    second = _download(world)
    assert renders == []
    assert second == first


def test_concurrent_downloads_share_one_build(world: World, renders: list[str]) -> None:
    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=world.site.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return list(await asyncio.gather(*(c.get(f"/q/{SLUG}/archive.zip") for _ in "ab")))

    first, second = asyncio.run(both())
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert renders.count("documents_page.html") == 1, renders
    assert documents._BUILDING == {}


def test_publishing_something_new_changes_the_archive(world: World, renders: list[str]) -> None:
    before = _download(world)
    project = add_project(world.site.engine, world.hood, title="Jardin partagé", published=False)
    renders.clear()
    assert _download(world) == before and renders == []  # a draft changes nothing
    with store.session_scope(world.site.engine) as s:
        s.execute(update(store.Project).where(store.Project.id == project).values(published=True))
    after = _download(world)
    assert renders, "the new sheet's archive is rendered"
    assert f"projet-{project}.html" in _names(after) - _names(before)
    documents_html = zipfile.ZipFile(io.BytesIO(after)).read("documents.html").decode()
    assert "Jardin partagé" in documents_html
    renders.clear()
    assert _download(world) == after and renders == []


def test_another_language_is_another_archive(world: World, renders: list[str]) -> None:
    french = _download(world)
    renders.clear()
    english = _download(world, "en")
    assert renders and english != french
    index = zipfile.ZipFile(io.BytesIO(english)).read("index.html").decode()
    assert '<html lang="en">' in index


def test_the_archive_holds_the_geopackage_linked_relatively(world: World, tmp_path: Path) -> None:
    zf = zipfile.ZipFile(io.BytesIO(_download(world)))
    assert {"diagnostic-0.csv", "diagnostic-0.gpkg"} <= set(zf.namelist())
    for page in ("documents.html", "diagnostic-0.html"):
        assert 'href="diagnostic-0.gpkg"' in zf.read(page).decode(), page
    path = tmp_path / "in-archive.gpkg"
    path.write_bytes(zf.read("diagnostic-0.gpkg"))
    meta = pyogrio.read_dataframe(path, layer="metadata")
    assert meta["neighbourhood"].iloc[0] == NAME and meta["synthetic"].iloc[0]
    assert "<script>alert" not in zf.read("documents.html").decode()


def test_the_kept_archives_are_bounded_by_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "ARCHIVES_MAX_BYTES", 100)
    documents._keep_archive("a", b"x" * 40)
    documents._keep_archive("b", b"y" * 40)
    assert documents._kept_archive("a") is not None  # a is now the most recent
    documents._keep_archive("c", b"z" * 40)
    assert documents._kept_archive("b") is None
    assert documents._kept_archive("a") == b"x" * 40 and documents._kept_archive("c")
    documents._keep_archive("big", b"w" * 101)  # larger than the bound: never kept
    assert documents._kept_archive("big") is None


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = None
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    site = make_site(tmp_path, url)
    yield site
    site.engine.dispose()


def test_the_fingerprint_is_stable_and_follows_what_is_published(any_store: Site) -> None:
    """On both backends (a PostGIS outline is an object, read anew by each session)."""
    import geopandas as gpd
    from shapely.geometry import shape

    at = datetime(2027, 1, 1, 12, tzinfo=UTC)
    wkt = gpd.GeoSeries([shape(LORIENT_TERRITORY)], crs=4326).to_crs(2154).iloc[0].wkt
    with store.session_scope(any_store.engine) as s:
        hood = store.add_neighbourhood(s, name=NAME, territory_wkt=wkt, published=True)
        hood_id = hood.id

    def fingerprint(lang: str = "fr") -> str:
        with store.session_scope(any_store.engine) as s:
            found = s.get_one(store.Neighbourhood, hood_id)
            return documents.archive_fingerprint(s, found, lang=lang, at=at)

    first = fingerprint()
    assert fingerprint() == first and fingerprint("en") != first
    project = add_project(any_store.engine, hood_id, title="Brouillon", published=False)
    assert fingerprint() == first
    with store.session_scope(any_store.engine) as s:
        s.execute(update(store.Project).where(store.Project.id == project).values(published=True))
    assert fingerprint() != first
