"""The documents of a public portal, ``/q/{slug}/documents``: every published artefact, linked.

Per campaign with a release (its latest: :func:`qet_geo.store.releases.latest_release`), its
diagnostic page, its CSV file and its GeoPackage; the forum's page (and whether its vote's results are published,
:func:`qet_geo.store.votes.vote_results`); each published meeting or workshop, and whether its
minutes are written; each published project sheet; the impact page once two campaigns have a
release. Nothing unpublished is named. No account; an unknown address and an unpublished portal
give the same 404 page.

``/q/{slug}/archive.zip``, the whole portal as static pages (its own routes render them), is
kept in this process by a fingerprint of everything it shows (:func:`archive_fingerprint`):
a second download of an unchanged portal renders nothing; publishing anything makes a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.dependencies import SessionDep
from api.web._kit import LANG_COOKIE, lang_of, now, published_hood, render
from api.web.analysis import _national_version
from api.web.events import when_text
from api.web.forum import public_vote_of
from api.web.impact import released_campaigns
from qet_geo.i18n import day
from qet_geo.store import votes
from qet_geo.store.events import public_events
from qet_geo.store.models import (
    BallotCount,
    Diagnostic,
    Event,
    Neighbourhood,
    PaperCount,
    Phase,
    Project,
    Release,
    Vote,
)
from qet_geo.store.projects import public_projects

__all__ = [
    "ARCHIVES_MAX_BYTES",
    "MAX_PAGES",
    "archive_fingerprint",
    "archive_name",
    "documents_context",
    "router",
]

router = APIRouter(include_in_schema=False)


def documents_context(request: Request, session: Session, hood: Neighbourhood) -> dict[str, Any]:
    """What the documents page lists of a published neighbourhood (its published items only)."""
    lang = lang_of(request)
    campaigns = [
        {
            "year": c.diag.year,
            "number": c.release.number,
            "on": day(c.release.created_at).render(lang),
        }
        for c in released_campaigns(session, hood.id)
    ]
    found_vote = public_vote_of(session, hood)  # the latest campaign's vote that exists
    vote = None if found_vote is None else found_vote[1]
    results = None if vote is None else votes.vote_results(session, vote).published
    found = public_events(session, hood.id, now(request))
    events = [
        {
            "id": e.id,
            "title": e.title,
            "when": when_text(e.starts_at, lang),
            "minutes": bool(e.minutes.strip()),
        }
        for e in [*reversed(found.past), *found.upcoming]
    ]
    projects = [{"id": p.id, "title": p.title} for p in public_projects(session, hood.id)]
    return {
        "hood": hood,
        "section": "documents",
        "kiosk": False,
        "campaigns": campaigns,
        "vote": vote is not None,
        "results": results,
        "events": events,
        "projects": projects,
        "impact": len(campaigns) >= 2,
        "archive": True,
    }


@router.get("/q/{slug}/documents", response_class=HTMLResponse)
def documents(request: Request, session: SessionDep, slug: str) -> Response:
    """Every published document of the portal, listed and linked."""
    hood = published_hood(request, session, slug)
    return render(request, "documents_page.html", documents_context(request, session, hood))


# --------------------------------------------------------------------------------------------------
# the offline archive

#: The most pages an archive holds (the fixed pages first, then campaigns, then project sheets).
MAX_PAGES = 100

#: The stylesheets of the portal's pages, copied beside them.
STYLESHEETS = ("web.css", "portal.css")

_README = """{name}: static copy of the public portal /q/{slug}
Made on {made} (UTC) from the pages published at that time; it is not updated.

Open index.html in a web browser: every page and file is in this folder and needs no
connection. The forms of the live portal (the forum's vote, the registration to a workshop) are
left out: they only work on the portal's server.

Copie statique du portail public /q/{slug}, faite le {made} (UTC) à partir des pages publiées
à ce moment, sans mise à jour. Ouvrez index.html dans un navigateur : tout est dans ce dossier,
sans connexion. Les formulaires du portail (vote du forum, inscription à un atelier) sont retirés.
"""


def archive_name(path: str, slug: str) -> str | None:
    """The file name in the archive of a portal's address (its query left out), else None."""
    base = f"/q/{slug}"
    if path in (base, base + "/"):
        return "index.html"
    if path.startswith("/static/web/") and path.rsplit("/", 1)[1] in STYLESHEETS:
        return path.rsplit("/", 1)[1]
    if not path.startswith(base + "/"):
        return None
    rest = path[len(base) + 1 :]
    fixed = {
        "diagnostic": "diagnostic.html",
        "forum": "forum.html",
        "ateliers": "ateliers.html",
        "projets": "projets.html",
        "impact": "impact.html",
        "documents": "documents.html",
        "archive.zip": "README.txt",
    }
    if rest in fixed:
        return fixed[rest]
    found = re.fullmatch(r"diagnostic/(\d{1,4})(\.csv|\.gpkg)?", rest)
    if found:
        return f"diagnostic-{found[1]}{found[2] or '.html'}"
    found = re.fullmatch(r"projets/(\d{1,12})", rest)
    if found:
        return f"projet-{found[1]}.html"
    return None


_FORM = re.compile(r"<form\b.*?</form>", re.S | re.I)
_LINK = re.compile(r'(href|src)="(/[^"#?]*)((?:\?[^"#]*)?)(#[^"]*)?"')


def _static_html(html: str, slug: str, present: set[str]) -> str:
    """A page with its forms left out and its links made relative to the archive's files; a
    link to anything not in the archive (another language, the team's pages) loses its href."""
    html = _FORM.sub("", html)

    def relative(found: re.Match[str]) -> str:
        attr, path, fragment = found[1], found[2], found[4] or ""
        name = archive_name(path, slug)
        if name is None or name not in present:
            return "" if attr == "href" else f'{attr}=""'
        return f'{attr}="{name}{fragment}"'

    return _LINK.sub(relative, html)


def _archive_paths(context: dict[str, Any], slug: str) -> list[str]:
    base = f"/q/{slug}"
    paths = [base] + [
        f"{base}/{p}" for p in ("diagnostic", "forum", "ateliers", "projets", "impact", "documents")
    ]
    for c in context["campaigns"]:
        paths += [
            f"{base}/diagnostic/{c['year']}",
            f"{base}/diagnostic/{c['year']}.csv",
            f"{base}/diagnostic/{c['year']}.gpkg",
        ]
    paths += [f"{base}/projets/{p['id']}" for p in context["projects"]]
    return paths[:MAX_PAGES]


# the archives kept in this process

#: The most bytes of archives kept (the least recently downloaded go first).
ARCHIVES_MAX_BYTES = 48 * 1024 * 1024
_ARCHIVES: OrderedDict[str, bytes] = OrderedDict()
_ARCHIVES_LOCK = threading.Lock()


def _kept_archive(key: str) -> bytes | None:
    with _ARCHIVES_LOCK:
        body = _ARCHIVES.get(key)
        if body is not None:
            _ARCHIVES.move_to_end(key)
        return body


def _keep_archive(key: str, body: bytes) -> None:
    if len(body) > ARCHIVES_MAX_BYTES:
        return
    with _ARCHIVES_LOCK:
        _ARCHIVES[key] = body
        _ARCHIVES.move_to_end(key)
        while sum(len(b) for b in _ARCHIVES.values()) > ARCHIVES_MAX_BYTES:
            _ARCHIVES.popitem(last=False)


def _plain(value: Any) -> Any:
    """A column's value as text or a number, the same whenever it is read (a PostGIS geometry
    comes back as an object whose ``repr`` names its address)."""
    if value is None or isinstance(value, str | int | float | date):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _rows(objects: Any) -> list[tuple[Any, ...]]:
    """Every column of each row (the portal's tables are small: a few dozen rows)."""
    return [tuple(_plain(getattr(o, c.key)) for c in o.__table__.columns) for o in objects]


def archive_fingerprint(session: Session, hood: Neighbourhood, *, lang: str, at: datetime) -> str:
    """A digest of everything the archive of ``hood`` shows, read ``at`` (the request's time).

    The neighbourhood's row (name, address, outline, published), its phases, the latest
    release of each campaign, its votes with their ballot and paper counts, its events and
    project sheets (every column: their published state and update times among them), which
    events are past at ``at`` and the day (the home's "next events"), the national profiles
    that describe the shares, and the language.
    """
    diags = list(
        session.scalars(
            select(Diagnostic).where(Diagnostic.neighbourhood_id == hood.id).order_by(Diagnostic.id)
        )
    )
    ids = [d.id for d in diags]
    releases = session.execute(
        select(Release.diagnostic_id, func.max(Release.number), func.max(Release.id))
        .where(Release.diagnostic_id.in_(ids))
        .group_by(Release.diagnostic_id)
        .order_by(Release.diagnostic_id)
    ).all()
    votes_ = list(
        session.scalars(select(Vote).where(Vote.diagnostic_id.in_(ids)).order_by(Vote.id))
    )
    vote_ids = [v.id for v in votes_]
    ballots = session.execute(
        select(BallotCount.vote_id, BallotCount.position, BallotCount.n)
        .where(BallotCount.vote_id.in_(vote_ids))
        .order_by(BallotCount.vote_id, BallotCount.position)
    ).all()
    papers = session.scalars(
        select(PaperCount).where(PaperCount.vote_id.in_(vote_ids)).order_by(PaperCount.id)
    )
    phases = session.scalars(
        select(Phase).where(Phase.neighbourhood_id == hood.id).order_by(Phase.id)
    )
    events = session.scalars(
        select(Event)
        .where(Event.neighbourhood_id == hood.id, Event.published.is_(True))
        .order_by(Event.id)
    )
    projects = session.scalars(
        select(Project)
        .where(Project.neighbourhood_id == hood.id, Project.published.is_(True))
        .order_by(Project.id)
    )
    found = public_events(session, hood.id, at)
    parts = (
        str(session.get_bind().engine.url),
        lang,
        at.date().isoformat(),
        _rows([hood]),
        [(d.id, d.year, d.label, d.synthetic) for d in diags],
        [tuple(r) for r in releases],
        _rows(votes_),
        [tuple(r) for r in ballots],
        _rows(papers),
        _rows(phases),
        _rows(events),
        _rows(projects),
        [e.id for e in found.past],
        _national_version(session),
    )
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def _zip(hood_name: str, slug: str, made: str, bodies: dict[str, bytes]) -> bytes:
    """The archive's ZIP file: the README, then every page (made static) and file."""
    readme = _README.format(name=hood_name, slug=slug, made=made)
    present = set(bodies) | {"README.txt"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", readme)
        for name, body in bodies.items():
            if name.endswith(".html"):
                body = _static_html(body.decode("utf-8"), slug, present).encode("utf-8")
            zf.writestr(name, body)
    return out.getvalue()


@router.get("/q/{slug}/archive.zip")
async def archive(request: Request, session: SessionDep, slug: str) -> Response:
    """The whole portal as static pages in a ZIP file, rendered by the portal's own routes.

    Kept in this process by :func:`archive_fingerprint`: an unchanged portal's archive is
    built once (its README then says when)."""
    lang = lang_of(request)
    at = now(request)

    def read() -> tuple[str, str, list[str], str]:
        hood = published_hood(request, session, slug)
        name, canonical = hood.name, hood.slug or slug
        paths = _archive_paths(documents_context(request, session, hood), canonical)
        key = archive_fingerprint(session, hood, lang=lang, at=at)
        session.rollback()  # nothing held while the pages are rendered
        return name, canonical, paths, key

    hood_name, slug, paths, key = await run_in_threadpool(read)
    body = _kept_archive(key)
    if body is None:
        body = await _shared_build(key, lambda: _build(request, hood_name, slug, paths, lang, at))
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{slug}-portail.zip"',
            "Cache-Control": "no-store",
        },
    )


#: The archives being built, by event loop and fingerprint: concurrent downloads of an archive
#: not kept yet await the same build.
_BUILDING: dict[tuple[int, str], asyncio.Future[bytes]] = {}


async def _shared_build(key: str, build: Callable[[], Awaitable[bytes]]) -> bytes:
    """The archive of ``key``: built once for the concurrent requests, then kept."""
    loop = asyncio.get_running_loop()
    slot = (id(loop), key)
    pending = _BUILDING.get(slot)
    if pending is not None:
        try:
            return await asyncio.shield(pending)
        except Exception:  # that build failed: this request tries on its own
            return await build()
    future: asyncio.Future[bytes] = loop.create_future()
    # its failure is read by the requests awaiting it, if any
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    _BUILDING[slot] = future
    try:
        body = await build()
    except BaseException as error:
        future.set_exception(error if isinstance(error, Exception) else RuntimeError("stopped"))
        raise
    finally:
        _BUILDING.pop(slot, None)
    _keep_archive(key, body)
    future.set_result(body)
    return body


async def _build(
    request: Request, hood_name: str, slug: str, paths: list[str], lang: str, at: datetime
) -> bytes:
    """Render the archive's pages through the app (each route in the thread pool), then write
    the ZIP file off the event loop."""
    # the reader's language, chosen or asked for
    cookies = {LANG_COOKIE: lang}
    bodies: dict[str, bytes] = {}
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://archive.invalid", cookies=cookies
    ) as client:
        for path in paths:
            got = await client.get(path)
            name = archive_name(path, slug)
            if got.status_code == 200 and name is not None:
                bodies[name] = got.content
        for sheet in STYLESHEETS:
            got = await client.get(f"/static/web/{sheet}")
            if got.status_code == 200:
                bodies[sheet] = got.content
    made = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return await run_in_threadpool(_zip, hood_name, slug, made, bodies)
