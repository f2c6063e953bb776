"""Security headers of every answer: what a page may load, and how browsers treat the answer.

The map pages are self-contained (Leaflet, its plugins and the basemap inlined, no tile server), so
their policy forbids any request to another host: if some text ever slipped past the escaping
chokepoint (:mod:`qet_geo.escaping`) and ran as a script, it could not send anything anywhere nor
load a script from elsewhere. Inline scripts and styles stay allowed (folium writes them inline).
The documentation (``/docs``) runs the vendored Swagger UI (:mod:`api._docs`) under its own
policy: scripts, styles and images from the service itself, requests to the service alone. The
web workspace's pages (:mod:`api.web`) have theirs: files from the service, nothing inline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

#: Content-Security-Policy of the service's answers (the maps are the only pages).
POLICY_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'unsafe-inline'",
    "style-src 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src data:",
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(POLICY_DIRECTIVES)
#: The same policy as a page's ``<meta http-equiv>`` allows it (frame-ancestors is header-only).
META_POLICY = "; ".join(d for d in POLICY_DIRECTIVES if not d.startswith("frame-ancestors"))
#: Content-Security-Policy of the documentation: Swagger UI's files and the OpenAPI description
#: come from the service; FastAPI's page starts Swagger UI with an inline script.
DOCS_POLICY_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
DOCS_POLICY = "; ".join(DOCS_POLICY_DIRECTIVES)
#: The documentation page (its policy is :data:`DOCS_POLICY`).
_DOC_PATH = "/docs"
#: Content-Security-Policy of the web workspace's pages (:mod:`api.web`): their stylesheet and
#: the vendored htmx from the service, no inline script or style, requests to the service alone.
WEB_POLICY_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
WEB_POLICY = "; ".join(WEB_POLICY_DIRECTIVES)
#: The paths of the web workspace's pages (their policy is :data:`WEB_POLICY`).
_WEB_PREFIXES = (
    "/connexion",
    "/deconnexion",
    "/espace",
    "/invitation/",
    "/langue",
    "/q/",
    "/reseau",
)

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_POLICY = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
_DOCS_POLICY = (b"content-security-policy", DOCS_POLICY.encode())
_WEB_POLICY = (b"content-security-policy", WEB_POLICY.encode())


def _policy_of(path: str) -> tuple[bytes, bytes]:
    if path == _DOC_PATH:
        return _DOCS_POLICY
    if path.startswith(_WEB_PREFIXES):
        return _WEB_POLICY
    return _POLICY


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`_ALWAYS` and the policy to each HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = _policy_of(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.extend(_ALWAYS)
                headers.append(policy)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_security_headers(app: FastAPI) -> None:
    """Register :class:`SecurityHeaders` on ``app``."""
    app.add_middleware(SecurityHeaders)
