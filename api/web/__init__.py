"""The web workspace: server-rendered pages for pilot teams and network staff (issue 15).

:func:`add_web` registers the pages (:mod:`api.web.routes`), their stylesheet (``/static/web``),
the handler that turns a page's refusal (sign in first, not found, forbidden) into its page, and
the one that answers a page's unforeseen :class:`~qet_geo.errors.QetGeoError` (the store busy
when a form is sent, a conflict) with an HTML page in the reader's language rather than the JSON
API's body.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.errors import handle_api_error, status_for
from api.web import (
    _kit,
    analysis,
    collect,
    community,
    documents,
    events,
    forum,
    impact,
    network,
    network_kit,
    network_profiles,
    network_projects,
    open_data,
    portal,
    portal_admin,
    posters,
    project_community,
    projects,
    setup,
    survey,
)
from api.web._kit import PageExit, error_page
from api.web.routes import fallback, router
from maps._assets import STATIC as MAPS_STATIC
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg
from qet_geo.store.accounts import prepare_hashing

__all__ = ["add_web"]

STATIC = Path(__file__).resolve().parent / "static"

#: The routers of the journey's steps (neighbourhood set-up, survey, collection, analysis...),
#: each in its own module of this package, registered between the core pages and the fallback.
STEPS: list[APIRouter] = []
STEPS.append(setup.router)  # 1 the neighbourhood: outline, OSM extract, layers
STEPS.append(survey.router)  # 2 preparing the survey: quotas, visit route
STEPS.append(collect.router)  # 3 collecting the answers
STEPS.append(analysis.router)  # 4 analysing, 5 reviewing and publishing
STEPS.append(portal_admin.router)  # the portal's address, publication and phases (the team)
STEPS.append(forum.router)  # the forum: the vote, its codes, paper counts (team and public)
STEPS.append(events.router)  # meetings and workshops (team and public)
STEPS.append(project_community.router)  # comments, follows, featuring of sheets (issue 17)
STEPS.append(projects.router)  # project sheets (team and public)
STEPS.append(impact.router)  # the second diagnostic against the first (public)
STEPS.append(documents.router)  # every published document of a portal (public)
STEPS.append(posters.router)  # profile posters and the profile opt-in to workshops
STEPS.append(community.router)  # members, questions and expertise, /reseau (issue 17)
STEPS.append(network.router)  # the network's pages, /reseau (public)
STEPS.append(network_projects.router)  # the network's projects library, /reseau/projets
STEPS.append(network_kit.router)  # the method kit, /reseau/kit
STEPS.append(open_data.router)  # the network's open data, /reseau/donnees
STEPS.append(network_profiles.router)  # national usage profiles and their trend, /reseau/profils
STEPS.append(portal.router)  # the public portal of a territory, /q/{slug}


async def _page_exit(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageExit)  # registered for it only
    return exc.response


#: Titles of the error pages by HTTP status (others: "Demande refusée").
_ERROR_TITLES: dict[int, Msg] = {
    404: msg("Page introuvable"),
    409: msg("Conflit avec ce qui est enregistré"),
    413: msg("Fichier trop volumineux"),
    503: msg("Service momentanément occupé"),
}


def _is_page(request: Request) -> bool:
    """Whether the request was routed to a page of this package (not to the JSON API)."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return getattr(endpoint, "__module__", "").startswith(f"{__name__}.")


async def _qet_error(request: Request, exc: Exception) -> Response:
    """A page's error as an HTML page (its message, what to do); the API's as its JSON body."""
    assert isinstance(exc, QetGeoError)  # registered for it only
    if not _is_page(request):
        return await handle_api_error(request, exc)
    status = status_for(exc)
    lang = _kit.lang_of(request)
    return error_page(
        request,
        status,
        _ERROR_TITLES.get(status, msg("Demande refusée")),
        msg("{text}", text=_kit.error_sentence(exc, lang)),
        headers={"Retry-After": "5"} if status == 503 else None,
    )


def add_web(app: FastAPI) -> None:
    """Register the web workspace's pages and files on ``app``."""
    app.include_router(router)
    # the pages of the journey's steps, one module each
    for step in STEPS:
        app.include_router(step)
    app.include_router(fallback)  # last: the 404 page of any other path under /espace
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    # the vendored Leaflet and Leaflet.draw, for the outline's drawing map (step 1)
    app.mount("/static/maps", StaticFiles(directory=MAPS_STATIC), name="maps-static")
    app.add_exception_handler(PageExit, _page_exit)
    app.add_exception_handler(QetGeoError, _qet_error)  # replaces the API's: pages get pages
    # the hash that unknown e-mails are checked against, made now rather than on a sign-in
    prepare_hashing()
