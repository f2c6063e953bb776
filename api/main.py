"""Assembly of the qet-geo service: settings, store, error table, routers."""

from __future__ import annotations

from fastapi import FastAPI

from api._aggregates import AggregateCache
from api.errors import add_exception_handlers
from api.routers import aggregates, jobs, national, neighbourhoods, routes, uploads, votes
from api.settings import Settings
from qet_geo.store import create_schema, make_engine


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for ``settings`` (read from ``QET_*`` variables when None)."""
    settings = settings or Settings()
    app = FastAPI(
        title="qet-geo",
        version="0.1.0",
        description="Service d'analyse géographique du réseau Quartiers en Transitions : "
        "quartiers, enquêtes, indicateurs protégés (secret statistique : au moins 11 "
        "répondants derrière tout chiffre publié).",
    )
    app.state.settings = settings
    app.state.lang = settings.lang
    app.state.engine = make_engine(settings.database_url)
    app.state.aggregates = AggregateCache()
    app.state.token_cache = {}
    create_schema(app.state.engine)
    add_exception_handlers(app)
    app.include_router(neighbourhoods.router)
    app.include_router(uploads.router)
    app.include_router(aggregates.router)
    app.include_router(jobs.router)
    app.include_router(votes.router)
    app.include_router(national.router)
    app.include_router(routes.router)
    return app
