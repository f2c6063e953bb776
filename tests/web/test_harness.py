"""The browser harness itself, and the vendored files of the web pages (htmx, Leaflet.draw).

A page of the live app opens in Debian's chromium; a request to another host is refused and
reported; axe-core finds a planted violation and none on the home page; htmx is served as
recorded in api/static/README.md and runs; Leaflet.draw draws a polygon on the vendored Leaflet.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import folium
import folium.plugins
import httpx
import pytest
from playwright.sync_api import Page, expect

import maps
from tests.web.browser_kit import AXE_JS, ROOT, LiveApp, Watch, axe

HTMX_VERSION = "2.0.11"


def _recorded(readme: Path, folder: str) -> dict[str, str]:
    """The SHA-256 of each file of ``folder`` recorded in ``readme``."""
    text = readme.read_text(encoding="utf-8")
    pairs = re.findall(rf"^([0-9a-f]{{64}})  {re.escape(folder)}/(\S+)$", text, re.M)
    return {name: digest for digest, name in pairs}


def test_a_page_of_the_live_app_opens_with_nothing_from_elsewhere(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    answer = page.goto("/")
    assert answer is not None and answer.status == 200
    assert page.url == f"{live_app.url}/"
    expect(page.locator("h1")).to_contain_text("Quartiers en Transitions")
    expect(page.locator('a[href="/docs"]')).to_be_visible()
    assert page.evaluate("() => document.documentElement.lang") == "fr"
    watch.assert_no_outside_request()
    watch.assert_no_error()


def test_a_request_to_another_host_is_refused_and_reported(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    # a page without the service's policy (set_content), so that only the harness stands between
    # the page and the outside host: the image and the fetch are refused and listed
    page.set_content(
        '<!DOCTYPE html><html lang="fr"><title>t</title>'
        '<img alt="" src="http://tiles.example.org/1/2/3.png">'
        f'<img alt="" id="own" src="{live_app.url}/static/swagger-ui/favicon-32x32.png"></html>'
    )
    failed = page.evaluate(
        "() => fetch('https://example.com/collect').then(() => 'sent', e => e.name)"
    )
    assert failed == "TypeError"
    page.wait_for_function("() => document.getElementById('own').complete")
    assert page.evaluate("() => document.getElementById('own').naturalWidth") == 32
    assert sorted(watch.outside) == [
        "http://tiles.example.org/1/2/3.png",
        "https://example.com/collect",
    ]
    with pytest.raises(AssertionError, match=r"tiles\.example\.org"):
        watch.assert_no_outside_request()
    watch.outside.clear()  # seen: the fixture would fail the test at teardown otherwise


def test_the_service_policy_blocks_outside_requests_before_the_harness(
    page: Page, watch: Watch
) -> None:
    page.goto("/")
    result = page.evaluate("() => fetch('https://example.com/x').then(() => 'sent', e => e.name)")
    assert result == "TypeError"
    assert watch.outside == []  # refused by connect-src 'none' before any routing
    assert any("Content Security Policy" in error for error in watch.errors), watch.errors


def test_axe_finds_a_planted_violation_and_none_on_the_home_page(page: Page) -> None:
    assert AXE_JS.is_file()
    page.goto("/")
    page.wait_for_selector("h1")
    assert axe(page) == []
    page.set_content(
        '<!DOCTYPE html><html lang="fr"><head><title>Essai</title></head><body><main>'
        '<h1>Essai</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<button id="mute"></button></main></body></html>'
    )
    found = axe(page)
    assert [v["id"] for v in found] == ["button-name", "image-alt"]
    assert {v["impact"] for v in found} == {"critical"}
    assert found[0]["targets"] == ["#mute"]
    # the exclusions work, and so does switching a rule off
    assert [v["id"] for v in axe(page, exclude=["#mute"])] == ["image-alt"]
    assert axe(page, rules_off=["image-alt", "button-name"]) == []


def test_htmx_is_served_as_recorded_and_runs(page: Page, live_app: LiveApp) -> None:
    recorded = _recorded(ROOT / "api" / "static" / "README.md", "htmx")
    assert f"htmx.org@{HTMX_VERSION}" in (ROOT / "api" / "static" / "README.md").read_text()
    assert set(recorded) == {"htmx.min.js", "LICENSE"}
    for name, digest in recorded.items():
        answer = httpx.get(f"{live_app.url}/static/htmx/{name}", timeout=60)
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == digest, name
    script = httpx.get(f"{live_app.url}/static/htmx/htmx.min.js", timeout=60)
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{live_app.url}/static/htmx/../main.py", timeout=60).status_code == 404
    # the browser runs it from the service, and it swaps a fragment the service returns (htmx
    # only requests its own origin: the test page is answered on the service's address)
    html = (
        '<!DOCTYPE html><html lang="fr"><title>t</title>'
        '<script src="/static/htmx/htmx.min.js"></script>'
        '<button hx-get="/static/htmx/LICENSE" hx-target="#out">go</button>'
        '<pre id="out"></pre></html>'
    )
    page.route(
        f"{live_app.url}/harness-page",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page.goto("/harness-page")
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.evaluate("() => htmx.version") == HTMX_VERSION
    page.click("button")
    expect(page.locator("#out")).to_contain_text("Zero-Clause BSD")


def test_leaflet_draw_draws_a_polygon_on_the_vendored_leaflet(page: Page, watch: Watch) -> None:
    static = ROOT / "maps" / "static"
    for name, digest in _recorded(static / "README.md", "leaflet.draw").items():
        assert hashlib.sha256((static / "leaflet.draw" / name).read_bytes()).hexdigest() == digest
    assert "MIT" in (static / "leaflet.draw" / "LICENSE").read_text()
    m = maps.new_map((-3.37, 47.74, -3.35, 47.76))
    folium.plugins.Draw(
        show_geometry_on_click=False,
        draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False},
    ).add_to(m)
    html = m.get_root().render()
    assert "leaflet-draw 1.0.4" in html and maps.find_remote_resources(html) == []
    assert "images/spritesheet" not in html  # the toolbar's sprites are data URIs
    page.set_viewport_size({"width": 900, "height": 700})
    page.set_content(html)
    page.wait_for_selector(".leaflet-draw-draw-polygon")
    assert page.evaluate("() => [L.version, L.drawVersion]") == ["1.9.4", "1.0.4"]
    page.evaluate(
        f"() => {{ window.drawn = []; {m.get_name()}.on('draw:created', "
        "e => window.drawn.push(e.layer.toGeoJSON())); }"
    )
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-100, -80), (100, -80), (100, 80), (-100, 80)]
    for done, (dx, dy) in enumerate(corners, start=1):
        # Leaflet.draw places a vertex where its marker follows the pointer: move, then click
        page.mouse.move(x + dx, y + dy, steps=4)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function(
            f"() => document.querySelectorAll('.leaflet-editing-icon').length === {done}"
        )
    page.mouse.move(x + corners[0][0], y + corners[0][1], steps=4)  # back to the first vertex
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function("() => window.drawn.length === 1")
    shape = page.evaluate("() => window.drawn[0].geometry")
    assert shape["type"] == "Polygon" and len(shape["coordinates"][0]) == 5
    lons = [lon for lon, _ in shape["coordinates"][0]]
    lats = [lat for _, lat in shape["coordinates"][0]]
    assert -3.37 < min(lons) < max(lons) < -3.35 and 47.74 < min(lats) < max(lats) < 47.76
    watch.assert_no_outside_request()
    watch.assert_no_error()
