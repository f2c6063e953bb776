"""``qet serve``: run the qet-geo web service (FastAPI) with uvicorn.

Defined here as a plain function, ready for ``typer``; :mod:`qet_geo.cli` registers it. FastAPI
and uvicorn are imported when the command runs, so that ``qet --help`` starts at once.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from qet_geo._cli_common import _fail, _t, _user_errors

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
) -> None:
    """Lancer le service web qet-geo (API documentée sur /docs)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            _fail(
                _t(
                    f"adresse d'écoute invalide : {host!r} (ex. 127.0.0.1).",
                    f"invalid listen address: {host!r} (e.g. 127.0.0.1).",
                )
            )
    with _user_errors():
        import uvicorn

        from api.main import create_app
        from api.settings import Settings

        settings = Settings() if database_url is None else Settings(database_url=database_url)
        app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info")
