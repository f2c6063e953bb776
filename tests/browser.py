"""Headless chromium for the map tests: find Debian's chromium, open a page, report.

:func:`chromium` returns the browser, which ``scripts/system_packages.sh`` installs before pytest
starts (never a test: parallel workers would race for the dpkg lock); it fails the test, never
skips it, when the browser is missing. :func:`open_page` opens one local HTML file with every host unresolvable
(``--host-resolver-rules``), lets the page run for a virtual time budget, and returns the DOM
after scripts ran, the page's console messages, every request to a non-local URL that the page
made (from chromium's net log), and a screenshot.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Flags of every run: headless, no sandbox (root in CI), and no background traffic of the browser.
FLAGS = (
    "--headless",
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
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    # Every host name fails to resolve: even a request the page made could not leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
)

_CONSOLE = re.compile(r":CONSOLE(?::\d+)?\]\s*(?P<message>.*)$")
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-error:", "devtools:")


@dataclass
class PageRun:
    """What one page did in the browser."""

    dom: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    background: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    netlog: Path | None = None
    stderr: str = ""

    @property
    def console_errors(self) -> list[str]:
        """Console lines that report an error (uncaught exceptions, failed loads)."""
        return [
            line
            for line in self.console
            if "Uncaught" in line or "Error" in line or "Failed to load" in line
        ]


def chromium() -> str:
    """Return Debian's chromium binary; fail the calling test when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "chromium is missing: the browser tests need Debian's chromium, which "
            "scripts/test.sh installs before pytest starts (run bash scripts/system_packages.sh "
            "as root)."
        )
    return found


def open_page(
    page: Path,
    *,
    screenshot: Path | None = None,
    budget_ms: int = 5000,
    size: tuple[int, int] = (1200, 900),
    timeout_s: float = 60.0,
) -> PageRun:
    """Open ``page`` headless and return its DOM, console, outside requests and screenshot.

    Parameters
    ----------
    page
        A local HTML file.
    screenshot
        Where to write the PNG; none when None. The net log is written beside it (or in a
        temporary folder).
    budget_ms
        Virtual time the page runs before the DOM is dumped.
    size
        Window width and height, pixels.
    timeout_s
        Wall-clock limit of the run.
    """
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="qet-chromium-") as tmp:
        profile = Path(tmp) / "profile"
        netlog = (
            screenshot.with_suffix(".netlog.json")
            if screenshot is not None
            else Path(tmp) / "netlog.json"
        )
        args = [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={netlog}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={size[0]},{size[1]}",
        ]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            args.append(f"--screenshot={screenshot}")
        args += ["--dump-dom", page.resolve().as_uri()]
        try:
            result = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium did not finish {page.name} within {timeout_s:.0f} s")
        requests, background = _requests(netlog)
        console = [
            match["message"]
            for line in result.stderr.splitlines()
            if (match := _CONSOLE.search(line)) is not None
        ]
        return PageRun(
            dom=result.stdout,
            console=console,
            requests=requests,
            background=background,
            screenshot=screenshot if screenshot is not None and screenshot.exists() else None,
            netlog=netlog if screenshot is not None else None,
            stderr=result.stderr,
        )


def _requests(netlog: Path) -> tuple[list[str], list[str]]:
    """Split the non-local URLs of a net log into the page's requests and the browser's own.

    A request made by the page carries the page's origin ("null" for a file) as initiator; the
    browser's own background requests (updates, time sync) carry none ("not an origin").
    """
    if not netlog.exists():
        return [], []
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # chromium may stop before closing the JSON
        data = json.loads(text.rstrip(",") + "]}")
    types = {value: key for key, value in data["constants"]["logEventTypes"].items()}
    page: list[str] = []
    background: list[str] = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        url = params.get("url")
        if not isinstance(url, str) or url.startswith(_LOCAL_SCHEMES):
            continue
        if types.get(event.get("type")) != "URL_REQUEST_START_JOB":
            continue
        initiator = str(params.get("initiator", ""))
        isolation = str(params.get("network_isolation_key", ""))
        from_page = initiator not in ("", "not an origin") or "file://" in isolation
        (page if from_page else background).append(url)
    return sorted(set(page)), sorted(set(background))
