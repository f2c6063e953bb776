"""Assembly of the qet-geo service: settings, store, error table, routers."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from api._aggregates import AggregateCache
from api.errors import add_exception_handlers
from api.routers import (
    aggregates,
    jobs,
    layers,
    national,
    neighbourhoods,
    routes,
    uploads,
    votes,
)
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
    app.state.cell_loads = {}  # diagnostic id -> pending look-up (api.dependencies.cells_for)
    app.state.token_cache = {}
    create_schema(app.state.engine)
    add_exception_handlers(app)
    # The indicators page is the hot path (bench/api.py) and routes are matched in order: every
    # router in front of it adds to its cost (the two that were took 13 % of its time in the app).
    app.include_router(aggregates.router)
    app.include_router(neighbourhoods.router)
    app.include_router(layers.router)
    app.include_router(uploads.router)
    app.include_router(jobs.router)
    app.include_router(votes.router)
    app.include_router(national.router)
    app.include_router(routes.router)
    return app


def create_served_app() -> FastAPI:
    """Build the service for a server process (``qet serve``, one call per worker).

    Settings come from the ``QET_*`` variables. The objects that exist once the app is built
    (those of geopandas, pandas, SQLAlchemy... : over 200 000) are moved out of the garbage
    collector's reach with :func:`gc.freeze`: they live as long as the process, and each full
    collection that scanned them stopped every request for about 100 ms.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
