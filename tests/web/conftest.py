"""Fixtures of the browser tests (the kit is :mod:`tests.web.browser_kit`).

- ``live_app``: the real app (:func:`api.main.create_app`) on a fresh SQLite database and the
  shared OSM extracts, served by uvicorn on a free localhost port for one test; a
  :class:`~tests.web.browser_kit.LiveApp` (``.url``, ``.app``).
- ``browser``: Debian's chromium driven by Playwright, one per test process (per xdist worker).
- ``page`` and ``watch``: a page of a new browser context on ``live_app`` (relative URLs work:
  ``page.goto("/docs")``), whose requests to any other host are refused and listed in ``watch``
  (``watch.assert_no_outside_request()``, ``watch.assert_no_error()``). A test that ends with an
  outside request still listed fails at teardown.

``axe(page)`` is imported from :mod:`tests.web.browser_kit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.web.browser_kit import LiveApp, Watch, browse, serve_new_app, shared_browser


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[LiveApp]:
    with serve_new_app(tmp_path / "live") as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Browser:
    """This process's chromium, for one module (stopped after it: tests/conftest.py)."""
    return shared_browser()


@pytest.fixture
def _browsing(live_app: LiveApp, browser: Browser) -> Iterator[tuple[Page, Watch]]:
    with browse(live_app, browser=browser) as (page, watch):
        yield page, watch
    if watch.outside:
        pytest.fail(f"the page asked for other hosts (refused): {watch.outside}")


@pytest.fixture
def page(_browsing: tuple[Page, Watch]) -> Page:
    return _browsing[0]


@pytest.fixture
def watch(_browsing: tuple[Page, Watch]) -> Watch:
    return _browsing[1]
