"""The browser tests' kit: the real app served live, Debian's chromium driven by Playwright, axe.

:func:`serve` runs the FastAPI app under uvicorn in a thread on a free loopback port;
:func:`shared_browser` launches Debian's chromium once per test process (each pytest-xdist worker
has its own) through Playwright's sync API, never a downloaded browser; :func:`browse` opens a
page whose context refuses, and records, every request to a host other than the live server;
:func:`axe` runs axe-core (``scripts/web``, pinned) in a page and returns its serious and critical
violations. The fixtures of ``tests/web/conftest.py`` are built on these; other folders (the
``/docs`` test of ``tests/api``) use them directly.

Every wait is explicit (a selector, a load state, an ``expect``) with :data:`TIMEOUT_MS`: a busy
machine makes a test slower, never failed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Playwright, Route, WebSocketRoute, expect

from api.main import create_app
from api.settings import Settings
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]
#: axe-core, installed from scripts/web/package-lock.json by scripts/test.sh (npm ci).
AXE_JS = ROOT / "scripts" / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: The longest any single wait may take (ms): generous, so that a busy machine only slows a test.
TIMEOUT_MS = 60_000
#: The axe impacts a page must not have.
BLOCKING_IMPACTS = ("serious", "critical")
#: chromium's flags beside Playwright's own: no GPU, no background traffic of the browser, and
#: every host name but localhost unresolvable (a second wall behind the context's routing).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
)

expect.set_options(timeout=TIMEOUT_MS)


# --------------------------------------------------------------------------------------------------
# the live server


@dataclass(frozen=True)
class LiveApp:
    """The app served live: its base URL (``http://localhost:<port>``, no final /) and the app."""

    url: str
    app: FastAPI

    @property
    def origin(self) -> str:
        """``localhost:<port>``: the only host a page may reach."""
        return urlsplit(self.url).netloc


def web_settings(folder: Path, **overrides: Any) -> Settings:
    """Settings of a live app: SQLite in ``folder``, the shared OSM extracts, ``overrides``.

    The OSM folder is ``folder/osm`` with a link to each file of ``../shared/data/osm``: the app
    reads the shared extracts by name, in place, and writes the extracts uploaded during a test
    (and their temporary files) to the test's own folder, never to the shared data.
    """
    osm = folder / "osm"
    osm.mkdir(parents=True, exist_ok=True)
    for source in shared("osm").iterdir():
        if not (osm / source.name).exists():
            (osm / source.name).symlink_to(source)
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'web.db'}",
        "osm_dir": str(osm),
    }
    values.update(overrides)
    return Settings(**values)


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serve(app: FastAPI) -> Iterator[LiveApp]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield it live, stop it on exit.

    The socket is bound before the server starts (no race for a free port); the start is
    awaited without a time limit, and a server that stops before listening fails the test.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    # a request still open at the end (a page left streaming) may delay the stop, never hang it
    config = uvicorn.Config(app, log_level="error", lifespan="on", timeout_graceful_shutdown=30)
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.ready.wait(1.0):
            if not thread.is_alive():
                pytest.fail("the test server stopped before it listened (see its log above)")
        yield LiveApp(f"http://localhost:{port}", app)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@contextmanager
def serve_new_app(folder: Path, **overrides: Any) -> Iterator[LiveApp]:
    """Build the real app on :func:`web_settings` and :func:`serve` it."""
    app = create_app(web_settings(folder, **overrides))
    try:
        with serve(app) as live:
            yield live
    finally:
        app.state.engine.dispose()


# --------------------------------------------------------------------------------------------------
# the browser


def chromium_path() -> str:
    """Debian's chromium; fail (never skip) when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is missing: the browser tests drive Debian's chromium (Playwright never "
            "downloads a browser here), which scripts/test.sh installs before pytest starts "
            "(run bash scripts/system_packages.sh as root)."
        )
    return found


_started: dict[str, Any] = {}


def shared_browser() -> Browser:
    """The chromium of this test process, launched on first use and closed at exit.

    Playwright's sync API runs one driver per thread; every test of a process (a pytest-xdist
    worker) shares this browser and opens its own context, so tests do not see each other's
    cookies or storage.
    """
    browser: Browser | None = _started.get("browser")
    if browser is not None and browser.is_connected():
        return browser
    from playwright.sync_api import sync_playwright

    playwright: Playwright | None = _started.get("playwright")
    if playwright is None:
        playwright = sync_playwright().start()
        _started["playwright"] = playwright
        atexit.register(stop_browser)
    browser = playwright.chromium.launch(
        executable_path=chromium_path(),
        args=list(CHROMIUM_ARGS),
        chromium_sandbox=False,
        timeout=TIMEOUT_MS,
    )
    _started["browser"] = browser
    return browser


def stop_browser() -> None:
    """Close this process's chromium and stop Playwright, if started (the next use starts them
    again). Playwright's sync API keeps an event loop running in the thread while it lives:
    ``asyncio.run`` in a later test of the same process would fail (tests/conftest.py stops it
    after each module)."""
    browser = _started.pop("browser", None)
    playwright = _started.pop("playwright", None)
    try:
        if browser is not None:
            browser.close()
    finally:
        if playwright is not None:
            playwright.stop()


@dataclass
class Watch:
    """What a page's context refused and what its pages reported.

    ``outside`` lists every request to a host other than the live server (each one refused
    before it left the browser), ``errors`` the console errors and uncaught exceptions.
    """

    origin: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_no_outside_request(self) -> None:
        """Fail when a page asked for anything on another host."""
        assert self.outside == [], f"requests to other hosts (refused): {self.outside}"

    def assert_no_error(self) -> None:
        """Fail when a page logged a console error or threw."""
        assert self.errors == [], f"errors in the page: {self.errors}"


_LOCAL = ("data", "blob", "about", "chrome", "chrome-error", "devtools", "file")


def _outside(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in _LOCAL and parts.netloc != origin


@contextmanager
def browse(
    live: LiveApp, *, browser: Browser | None = None, **context_options: Any
) -> Iterator[tuple[Page, Watch]]:
    """Open a page in a new context of ``browser`` (:func:`shared_browser` by default).

    Every request (WebSockets too) to a host other than ``live``'s is refused before it leaves
    the browser and recorded in the :class:`Watch`; service workers are blocked (their requests
    would escape the routing). ``context_options`` go to ``Browser.new_context`` (``locale``,
    ``viewport``...); the locale is French unless given.
    """
    watch = Watch(live.origin)
    options: dict[str, Any] = {"locale": "fr-FR", "service_workers": "block"}
    options.update(context_options)
    context = (browser or shared_browser()).new_context(base_url=live.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)

    def route(route: Route) -> None:
        url = route.request.url
        if _outside(url, live.origin):
            watch.outside.append(url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def route_socket(ws: WebSocketRoute) -> None:
        if _outside(ws.url, live.origin):
            watch.outside.append(ws.url)
            ws.close()
        else:
            ws.connect_to_server()

    context.route("**/*", route)
    context.route_web_socket("**/*", route_socket)
    page = context.new_page()
    page.on(
        "console",
        lambda message: watch.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    try:
        yield page, watch
    finally:
        context.close()


# --------------------------------------------------------------------------------------------------
# accessibility


def _axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE_JS.relative_to(ROOT)}): scripts/test.sh installs it "
            "before pytest (cd scripts/web && npm ci --ignore-scripts --no-audit --no-fund)."
        )
    return AXE_JS.read_text(encoding="utf-8")


def axe(
    page: Page,
    *,
    exclude: Iterable[str] = (),
    rules_off: Iterable[str] = (),
    impacts: Iterable[str] = BLOCKING_IMPACTS,
) -> list[dict[str, Any]]:
    """Run axe-core on ``page`` as it is now and return its violations of ``impacts``.

    axe is evaluated through the DevTools protocol, not as a ``<script>``: a page whose
    Content-Security-Policy forbids inline scripts is checked under that policy unchanged.

    Parameters
    ----------
    page
        A page loaded and settled (wait for what it draws first).
    exclude
        CSS selectors of parts not checked (a vendored widget's own markup), each documented
        where it is used.
    rules_off
        axe rule ids not run.
    impacts
        The impacts reported: "minor", "moderate", "serious", "critical".

    Returns
    -------
    list of dict
        One per violated rule, sorted by id: ``id``, ``impact``, ``help`` and ``targets`` (the
        selectors of the offending nodes); empty when the page passes.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(f"() => {{ {_axe_source()}\n; return true; }}")
    context: dict[str, Any] = {"include": [["html"]]}
    excluded = [[selector] for selector in exclude]
    if excluded:
        context["exclude"] = excluded
    options = {
        "resultTypes": ["violations"],
        "rules": {rule: {"enabled": False} for rule in rules_off},
    }
    found = page.evaluate(
        """async ([context, options]) => {
            const results = await window.axe.run(context, options);
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.flat().join(' ')),
            }));
        }""",
        [context, options],
    )
    wanted = set(impacts)
    return sorted((v for v in found if v["impact"] in wanted), key=lambda v: v["id"])


def shoot(page: Page, name: str) -> None:
    """Save the page as ``<name>.png`` in ``QET_SCREENSHOTS`` when it is set (the README's
    screenshots are taken so), else nothing."""
    folder = os.environ.get("QET_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)
