"""``qet serve``: run the qet-geo web service (FastAPI) with uvicorn.

Defined here as a plain function, ready for ``typer``; :mod:`qet_geo.cli.main` registers it. FastAPI
and uvicorn are imported when the command runs, so that ``qet --help`` starts at once.

uvicorn picks uvloop and httptools when they are installed (``uvicorn[standard]``), asyncio
and h11 otherwise. With ``--workers`` above 1, each worker is a process that builds the app
from the ``QET_*`` variables (:func:`api.main.create_served_app`); the store's tables are
created once, here, before they start.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Annotated

import typer

from qet_geo.cli._common import _fail, _t, _user_errors

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["serve"]


def serve(
    host: Annotated[
        str, typer.Option(help="Adresse d'écoute (127.0.0.1 : cette machine seulement).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port d'écoute.")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="QET_DATABASE_URL",
            help="Base de données : fichier SQLite (défaut sqlite:///qet.db) ou "
            "postgresql://… (PostGIS).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Processus serveurs (1 par défaut ; au plus un par cœur). Chacun garde ses "
            "caches : un nouveau dépôt ou une publication y paraît en 1 s au plus.",
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Une ligne de journal par requête (à couper sous forte charge).",
        ),
    ] = True,
) -> None:
    """Lancer le service web qet-geo (API documentée sur /docs)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            _fail(_t("adresse d'écoute invalide : {host!r} (ex. 127.0.0.1).", host=host))
    if database_url is not None:
        # Read by Settings in this process and in every worker.
        os.environ["QET_DATABASE_URL"] = database_url
    with _user_errors():
        import uvicorn

        app: FastAPI | str = "api.main:create_served_app"  # each worker builds its own
        if workers == 1:
            from api.main import create_served_app

            app = create_served_app()
        else:
            from api.settings import Settings
            from qet_geo.store.models import create_schema, make_engine

            engine = make_engine(Settings().database_url)
            create_schema(engine)
            engine.dispose()
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
    )
