"""The documents of a public portal, ``/q/{slug}/documents``: every published artefact, linked.

Per campaign with a release (its latest: :func:`qet_geo.store.releases.latest_release`), its
diagnostic page and its CSV file; the forum's page (and whether its vote's results are published,
:func:`qet_geo.store.votes.vote_results`); each published meeting or workshop, and whether its
minutes are written; each published project sheet; the impact page once two campaigns have a
release. Nothing unpublished is named. No account; an unknown address and an unpublished portal
give the same 404 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.dependencies import SessionDep
from api.web._kit import lang_of, now, published_hood, render
from api.web.analysis import current_diagnostic
from api.web.events import when_text
from api.web.forum import _vote_of
from api.web.impact import released_campaigns
from qet_geo.i18n import day
from qet_geo.store import votes
from qet_geo.store.events import public_events
from qet_geo.store.models import Neighbourhood
from qet_geo.store.projects import public_projects

__all__ = ["documents_context", "router"]

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
    vote = _vote_of(session, current_diagnostic(session, hood))
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
    }


@router.get("/q/{slug}/documents", response_class=HTMLResponse)
def documents(request: Request, session: SessionDep, slug: str) -> Response:
    """Every published document of the portal, listed and linked."""
    hood = published_hood(request, session, slug)
    return render(request, "documents_page.html", documents_context(request, session, hood))
