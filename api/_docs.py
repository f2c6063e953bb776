"""The service's documentation pages, offline: Swagger UI from ``api/static/swagger-ui``, and ``/``.

FastAPI's own ``/docs`` and ``/redoc`` load their scripts from a CDN; here ``/docs`` is built
with :func:`fastapi.openapi.docs.get_swagger_ui_html` on the vendored Swagger UI (version,
source and checksums in ``api/static/swagger-ui/README.md``), so the documentation opens on a
network that reaches nothing but the service. ReDoc is not served. ``/`` is a short page, in
the reader's language, that points to ``/docs`` and to the OpenAPI description.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.errors import request_lang
from qet_geo.escaping import escape_html
from qet_geo.i18n import msg

__all__ = ["DOCS_URL", "SWAGGER_STATIC", "SWAGGER_URL", "add_docs"]

#: Where the documentation is read.
DOCS_URL = "/docs"
#: Where the vendored Swagger UI files are served.
SWAGGER_URL = "/static/swagger-ui"
#: The vendored Swagger UI files.
SWAGGER_STATIC = Path(__file__).resolve().parent / "static" / "swagger-ui"

_HOME_CSS = (
    "body{font:16px/1.5 'DejaVu Sans',Arial,sans-serif;max-width:42rem;margin:2rem auto;"
    "padding:0 1rem;color:#222}h1{font-size:1.4rem;color:#1f4e3d}a{color:#1f4e3d}"
)


def add_docs(app: FastAPI) -> None:
    """Serve the vendored Swagger UI, ``/docs`` on it, and the home page ``/``.

    Build ``app`` with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages) first.
    """
    app.mount(SWAGGER_URL, StaticFiles(directory=SWAGGER_STATIC), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} – documentation",
            swagger_js_url=f"{root}{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_URL}/favicon-32x32.png",
            # no badge fetched from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )
        # Swagger UI's words are English: say so (screen readers pick their voice from it)
        body = bytes(page.body).replace(b"<html>", b'<html lang="en">', 1)
        return HTMLResponse(body, status_code=page.status_code)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        root = _root(request)
        page = home_page(
            request_lang(request),
            docs_url=root + DOCS_URL,
            openapi_url=root + openapi_url,
            workspace_url=root + "/connexion",
        )
        return HTMLResponse(page)


def _root(request: Request) -> str:
    """The path the service is mounted at behind a proxy (``--root-path``), without its last /."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def home_page(
    lang: str,
    *,
    docs_url: str = DOCS_URL,
    openapi_url: str = "/openapi.json",
    workspace_url: str = "/connexion",
) -> str:
    """The page a person opening the service's address reads: what it is, where its workspace
    and its documentation are."""
    title = msg("qet-geo : le service d'analyse géographique des Quartiers en Transitions")
    intro = msg(
        "Ce service répond aux programmes (API JSON) : quartiers, enquêtes, indicateurs "
        "protégés par le secret statistique, cartes."
    )
    workspace = msg("Espace de travail des équipes pilotes et du réseau : se connecter")
    docs = msg("Documentation de l'API : toutes les routes, essayables dans le navigateur")
    schema = msg("Description OpenAPI (JSON), pour les outils")

    def e(text: object) -> str:
        return escape_html(str(text))

    return (
        f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title.render(lang))}</title><style>{_HOME_CSS}</style></head><body>"
        f"<h1>{e(title.render(lang))}</h1><p>{e(intro.render(lang))}</p><ul>"
        f'<li><a href="{e(workspace_url)}">{e(workspace.render(lang))}</a></li>'
        f'<li><a href="{e(docs_url)}">{e(docs.render(lang))}</a></li>'
        f'<li><a href="{e(openapi_url)}">{e(schema.render(lang))}</a></li>'
        "</ul></body></html>"
    )
