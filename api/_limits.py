"""Request bodies read under a size limit: 413 on the declared length, before reading, or as
soon as a chunked body goes past it.

Two layers hold the limit. :class:`BodyLimitMiddleware` wraps the whole application (pure ASGI,
so that it sees the raw ``http.request`` messages): every route has a limit, the JSON routes a
small one, the file uploads the size of their file setting (:func:`body_limit`). The upload routes
read their body through :func:`limited_chunks`, which says the same thing in their terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request

from api.errors import PayloadTooLargeError
from qet_geo.errors import ValidationError
from qet_geo.escaping import escape_html
from qet_geo.i18n import msg

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

#: Routes whose body is a file, streamed by the route itself, and the setting of their limit.
_FILE_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/neighbourhoods/[^/]+/osm-extract/?$"), "max_osm_bytes"),
    # a new survey file, or the one that replaces an upload (PUT .../uploads/{upload_id})
    (re.compile(r"^/diagnostics/[^/]+/uploads(?:/[^/]+)?/?$"), "max_upload_bytes"),
)
#: The web workspace's file forms (multipart: the file and a few fields, so a little
#: more than the file's limit), and the setting of their file's limit: the route itself checks
#: the file and answers a page in French.
_FORM_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^/espace/quartiers/[^/]+/enquete/collecte(?:/envois/[^/]+/remplacer)?/?$"),
        "max_upload_bytes",
    ),
    # the neighbourhood's extract and outline files (step 1)
    (re.compile(r"^/espace/quartiers/[^/]+/extrait/?$"), "max_osm_bytes"),
    (re.compile(r"^/espace/quartiers/[^/]+/contour/?$"), "max_territory_bytes"),
)
_FORM_OVERHEAD = 64 * 1024
#: Routes whose JSON body may hold a territory (a GeoJSON polygon of many vertices).
_TERRITORY_ROUTES = re.compile(r"^/neighbourhoods(?:/[^/]+/territory)?/?$")


def too_large(limit: int) -> PayloadTooLargeError:
    """Return the error of a file body larger than ``limit`` bytes."""
    return PayloadTooLargeError(
        msg(
            "le fichier dépasse {limit} octets : découpez-le ou demandez au réseau "
            "d'augmenter la limite.",
            limit=limit,
        )
    )


def body_too_large(limit: int) -> PayloadTooLargeError:
    """Return the error of a request body (JSON) larger than ``limit`` bytes."""
    return PayloadTooLargeError(
        msg(
            "le corps de la requête dépasse {limit} octets, le maximum de cette route : "
            "envoyez moins de données.",
            limit=limit,
        )
    )


def body_limit(settings: Any, path: str) -> tuple[int, bool]:
    """Return the largest body, in bytes, the route at ``path`` accepts under ``settings``.

    Parameters
    ----------
    settings
        The service's :class:`api.settings.Settings`.
    path
        The request path (without query string).

    Returns
    -------
    tuple of (int, bool)
        The limit, and whether the route's body is a file (its 413 then speaks of the file).
    """
    for pattern, name in _FILE_ROUTES:
        if pattern.match(path):
            return int(getattr(settings, name)), True
    for pattern, name in _FORM_ROUTES:
        if pattern.match(path):
            return int(getattr(settings, name)) + _FORM_OVERHEAD, True
    if _TERRITORY_ROUTES.match(path):
        return max(int(settings.max_territory_bytes), int(settings.max_body_bytes)), False
    return int(settings.max_body_bytes), False


def add_body_limits(app: FastAPI, settings: Any) -> None:
    """Wrap ``app`` in :class:`BodyLimitMiddleware` with the limits of ``settings``."""

    def lang_for(headers: dict[str, str]) -> str:
        accept = headers.get("accept-language", "").lower()
        return "en" if accept.startswith("en") else str(settings.lang)

    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=lambda path: body_limit(settings, path),
        lang_for=lang_for,
    )


def _declared_size(content_length: str | None) -> int:
    """The body size a ``Content-Length`` header declares; -1 when absent or not a number."""
    try:
        return int(content_length) if content_length is not None else -1
    except ValueError:
        return -1


class _BodyTooLarge(Exception):
    """Raised into the application when its body goes past the limit."""


class BodyLimitMiddleware:
    """Refuse (413) every request body larger than its route's limit, without reading it all.

    A ``Content-Length`` above the limit is answered before the application runs; a chunked or
    lying body is cut as soon as it goes past the limit: the application's next read fails and
    whatever it answers is replaced by the 413 (unless it had already started answering).

    Parameters
    ----------
    app
        The ASGI application.
    limit_for
        The limit of a request path, in bytes, and whether the body is a file.
    lang_for
        The language ("fr" or "en") of the answer to a request's headers.
    """

    def __init__(
        self,
        app: Any,
        *,
        limit_for: Callable[[str], tuple[int, bool]],
        lang_for: Callable[[dict[str, str]], str],
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.lang_for = lang_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, is_file = self.limit_for(scope.get("path", ""))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        page = str(scope.get("path", "")).startswith("/espace/")
        if _declared_size(headers.get("content-length")) > limit:
            await self._refuse(send, limit, is_file, headers, page=page)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the application's answer to a cut body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not (exceeded and not started):
                raise
        if exceeded and not started:
            await self._refuse(send, limit, is_file, headers, page=page)

    async def _refuse(
        self, send: Send, limit: int, is_file: bool, headers: dict[str, str], *, page: bool
    ) -> None:
        error = too_large(limit) if is_file else body_too_large(limit)
        lang = self.lang_for(headers)
        if page:  # a form of the web workspace: a page a person can read, and a way back
            back = msg("Revenir à l'espace de travail").render(lang)
            body = (
                f'<!DOCTYPE html><html lang="{escape_html(lang)}"><head><meta charset="utf-8">'
                f"<title>413</title></head><body><main><h1>{escape_html(error.localized(lang))}"
                f'</h1><p><a href="/espace">{escape_html(back)}</a></p></main></body></html>'
            ).encode()
            kind = b"text/html; charset=utf-8"
        else:
            body = json.dumps(
                {"detail": error.localized(lang), "code": type(error).__name__},
                ensure_ascii=False,
            ).encode()
            kind = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def limited_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """Yield the body's chunks, refusing (413) a body larger than ``limit`` bytes.

    A ``Content-Length`` above the limit is refused before anything is read; a lying or absent
    one is caught while streaming.
    """
    if _declared_size(request.headers.get("content-length")) > limit:
        raise too_large(limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        yield chunk


def check_territory_vertices(geometry: dict[str, Any], limit: int) -> None:
    """Refuse a GeoJSON Polygon or MultiPolygon of more than ``limit`` vertices.

    Counted on the decoded JSON, before any geometry is built: every later step (validity,
    projection, storage, each analysis) costs in proportion to the vertices.

    Raises
    ------
    ValidationError
        More than ``limit`` vertices.
    """
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry.get("type") == "Polygon" else coordinates
    n = 0
    for polygon in polygons if isinstance(polygons, list) else ():
        for ring in polygon if isinstance(polygon, list) else ():
            n += len(ring) if isinstance(ring, list) else 0
    if n > limit:
        raise ValidationError(
            msg(
                "le territoire a {n} sommets, plus de {limit} : simplifiez son contour (QGIS : "
                "Vecteur > Outils de géométrie > Simplifier, 1 m suffit) et envoyez-le à nouveau.",
                n=n,
                limit=limit,
            )
        )
