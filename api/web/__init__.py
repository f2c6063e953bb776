"""The web workspace: server-rendered pages for pilot teams and network staff (issue 15).

:func:`add_web` registers the pages (:mod:`api.web.routes`), their stylesheet (``/static/web``),
and the handler that turns a page's refusal (sign in first,
not found, forbidden) into its page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.web import analysis, collect, setup, survey
from api.web._kit import PageExit
from api.web.routes import fallback, router
from maps._assets import STATIC as MAPS_STATIC
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


async def _page_exit(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageExit)  # registered for it only
    return exc.response


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
    # the hash that unknown e-mails are checked against, made now rather than on a sign-in
    prepare_hashing()
