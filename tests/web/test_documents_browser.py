"""The documents page and the offline archive in a real browser (Debian's chromium).

A published Lorient neighbourhood with two released campaigns of labelled-synthetic answers, a
published workshop and a published project sheet: the public reads the documents page, downloads
the archive, and opens its index.html from the disk (file://): every page it links is there, its
stylesheets load from the folder, no request goes to any host, and axe-core finds nothing.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from qet_geo.store import models as store
from qet_geo.store.events import create_event, publish_event
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_impact import add_project, campaigns


def _published(live_app: LiveApp) -> int:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        hood, _ = campaigns(api, engine, osm_dir, admin, name="Lorient centre", slug="lorient")
    with store.session_scope(engine) as s:
        event = create_event(
            s,
            hood,
            title="Atelier mobilité",
            phase="inspiration",
            starts_at=datetime(2026, 3, 13, 17, 0, tzinfo=UTC),
        )
        event.minutes = "Nous avons parlé des vélos."
        publish_event(s, event, True)
    return add_project(
        engine, hood, title="Pistes cyclables", usage="transportation_mode", published=True
    )


def test_the_archive_opens_from_the_disk(
    page: Page, watch: Watch, live_app: LiveApp, tmp_path: Path
) -> None:
    project = _published(live_app)
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        found = axe(page)
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in found]))

    page.goto("/q/lorient")
    page.get_by_role("link", name="Documents", exact=True).click()
    expect(page.locator("h1")).to_have_text("Documents du portail", timeout=20_000)
    expect(page.get_by_role("link", name="Pistes cyclables")).to_be_visible()
    expect(page.get_by_role("link", name="Diagnostic de l'année 1")).to_be_visible()
    checked()
    href = page.get_by_role("link", name="Télécharger tout le portail").get_attribute("href")
    assert href == "/q/lorient/archive.zip"
    with httpx.Client(base_url=live_app.url, timeout=120) as client:
        got = client.get(href)
    assert got.status_code == 200
    folder = tmp_path / "archive"
    zipfile.ZipFile(io.BytesIO(got.content)).extractall(folder)
    assert (folder / "README.txt").is_file() and (folder / "diagnostic-1.csv").is_file()

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto((folder / "index.html").as_uri())
    expect(page.locator("header .brand")).to_contain_text("Lorient centre", timeout=20_000)
    # the stylesheets came from the folder: the layout applies (the skip link is off screen)
    assert {u.rsplit("/", 1)[1] for u in asked if u.endswith(".css")} == {"web.css", "portal.css"}
    assert page.evaluate("() => getComputedStyle(document.querySelector('.skip')).position") == (
        "absolute"
    )
    checked()
    page.get_by_role("link", name="Documents", exact=True).click()
    expect(page.locator("h1")).to_have_text("Documents du portail", timeout=20_000)
    assert page.url.endswith("/documents.html")
    checked()
    page.get_by_role("link", name="Pistes cyclables").click()
    expect(page.locator("h1")).to_contain_text("Pistes cyclables", timeout=20_000)
    assert page.url.endswith(f"/projet-{project}.html")
    checked()
    page.go_back()
    page.get_by_role("link", name="Diagnostic de l'année 1").click()
    expect(page.locator("main")).to_be_visible(timeout=20_000)
    assert page.url.endswith("/diagnostic-1.html")
    checked()
    page.goto((folder / "ateliers.html").as_uri())
    expect(page.locator("main")).to_contain_text("Atelier mobilité", timeout=20_000)
    assert page.locator("form").count() == 0
    checked()
    assert [u for u in asked if not u.startswith("file://")] == []
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    # axe reads the stylesheets again through XMLHttpRequest, which chromium refuses on file://
    # (the pages themselves loaded them: checked above); each refusal logs two errors, dropped
    # (their count not compared: console messages may still be on their way)
    refused = [e for e in watch.errors if e.startswith("Access to XMLHttpRequest at 'file://")]
    assert all(".css' from origin 'null'" in e for e in refused), refused
    failed = [e for e in watch.errors if e == "Failed to load resource: net::ERR_FAILED"]
    watch.errors[:] = [e for e in watch.errors if e not in refused and e not in failed]
    watch.assert_no_error()
