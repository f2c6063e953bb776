"""What every page needs: templates, language, the signed-in user, CSRF checks, error pages.

Templates are Jinja2 with autoescape on for every file (user text is data); their text is
French, written as ``{{ _("...") }}`` and translated from the catalogue of :mod:`qet_geo.i18n`
(``python -m qet_geo.i18n`` extracts it from the templates). The language is the ``qet_lang``
cookie's (the switch in the page's header), else ``Accept-Language``'s, else French.

A signed-in browser holds the ``qet_session`` cookie (HttpOnly, SameSite=Lax, Secure unless the
page is served over plain http to localhost); its hash names a server-side session
(:mod:`qet_geo.store.accounts`) that carries the CSRF token every form sends back (hidden field
``csrf``, or the ``X-CSRF-Token`` header of an htmx request). The forms shown before signing in
(sign-in, invitation) use a ``qet_csrf`` cookie matched by their hidden field.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from api.dependencies import Caller, neighbourhood_for
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg, translate
from qet_geo.store import accounts
from qet_geo.store.models import Neighbourhood, NotFoundError, User, WebSession

SESSION_COOKIE = "qet_session"
LANG_COOKIE = "qet_lang"
FORM_COOKIE = "qet_csrf"
TEMPLATES = Path(__file__).resolve().parent / "templates"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "testserver"})

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageExit(Exception):
    """Leave a route with ``response`` (a redirect to sign in, an error page)."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def now(request: Request) -> datetime:
    """The time of the request: ``app.state.web_clock()`` when a test sets it, else UTC now."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "web_clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def lang_of(request: Request) -> str:
    """The reader's language: the switch's cookie, else Accept-Language, else French."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("fr", "en"):
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("fr"):
            return "fr"
        if tag.startswith("en"):
            return "en"
    return "fr"


def in_page_lang(request: Request) -> Request:
    """``request`` with the page's language (:func:`lang_of`) as its only ``Accept-Language``.

    For a page that answers with a JSON API route's function (a map page: the API's
    ``/diagnostics/{id}/map``), which reads the language from that header alone
    (:func:`api.errors.request_lang`): the reader's switch then holds there too.
    """
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"accept-language"]
    headers.append((b"accept-language", lang_of(request).encode()))
    return Request({**request.scope, "headers": headers}, request.receive)


def secure_cookies(request: Request) -> bool:
    """Whether cookies must be Secure: always, except over plain http to this very machine."""
    return not (request.url.scheme == "http" and request.url.hostname in _LOCAL_HOSTS)


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    """Set a cookie HttpOnly, SameSite=Lax and (see :func:`secure_cookies`) Secure."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
        **kw,
    )


def safe_next(target: str | None, default: str = "/espace") -> str:
    """Return ``target`` if it is a path of this site (``/espace/...``), else ``default``."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 33 for c in target)
    ):
        return default
    return target


@dataclass
class Visitor:
    """The signed-in user of a request, its session and its rights (as an API caller)."""

    user: User
    web_session: WebSession
    cookie: str
    caller: Caller

    @property
    def is_staff(self) -> bool:
        return self.user.role in ("admin", "staff")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    visitor: Visitor | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    form_token: str | None = None,
) -> HTMLResponse:
    """Render ``template`` in the reader's language.

    ``form_token``: the CSRF token of a form shown before signing in, set as its cookie.
    """
    lang = lang_of(request)

    def _(template: str, /, **fields: Any) -> str:  # the templates' text (catalogue)
        return msg(template, **fields).render(lang) if fields else translate(template, lang)

    values = {
        "_": _,
        "lang": lang,
        "visitor": visitor,
        "csrf": visitor.web_session.csrf_token if visitor is not None else form_token,
        "path": request.url.path,
        "here": quote(request.url.path, safe="/"),
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if form_token is not None and visitor is None:
        set_cookie(request, response, FORM_COOKIE, form_token)
    return response


def error_page(
    request: Request,
    status: int,
    title: Msg,
    text: Msg,
    *,
    visitor: Visitor | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page of a refusal, its ``title`` and ``text`` in the reader's language."""
    lang = lang_of(request)
    return render(
        request,
        "error.html",
        {"title": title.render(lang), "text": text.render(lang)},
        visitor=visitor,
        status=status,
        headers=headers,
    )


def not_found(request: Request, visitor: Visitor | None) -> PageExit:
    """The 404 page: of what does not exist, or what the visitor may not see (the same)."""
    return PageExit(
        error_page(
            request,
            404,
            msg("Page introuvable"),
            msg("Cette page n'existe pas, ou vous n'y avez pas accès."),
            visitor=visitor,
        )
    )


def forbidden(request: Request, visitor: Visitor | None) -> PageExit:
    """The 403 page of a visitor whose role does not allow the action."""
    return PageExit(
        error_page(
            request,
            403,
            msg("Action non autorisée"),
            msg("Votre rôle ne permet pas cette action."),
            visitor=visitor,
        )
    )


def csrf_refused(request: Request, visitor: Visitor | None) -> PageExit:
    """The 403 page of a form sent without its CSRF token (or with a wrong one)."""
    return PageExit(
        error_page(
            request,
            403,
            msg("Formulaire refusé"),
            msg(
                "Ce formulaire a expiré ou ne vient pas de cette page : rechargez la page et "
                "envoyez-le à nouveau."
            ),
            visitor=visitor,
        )
    )


def visitor_of(request: Request, session: Session) -> Visitor | None:
    """Return the signed-in visitor of ``request``, None if not signed in."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = accounts.session_for(session, cookie, now=now(request))
    if found is None:
        return None
    row, user = found
    hoods = accounts.memberships(session, user.id) if user.role == "pilot" else frozenset()
    return Visitor(user, row, cookie, Caller(user.role, hoods, f"user:{user.id}"))


def signed_in(request: Request, session: Session) -> Visitor:
    """Return the signed-in visitor, or leave for the sign-in page (back here afterwards)."""
    visitor = visitor_of(request, session)
    if visitor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageExit(redirect(f"/connexion?suite={quote(target, safe='')}"))
    if (
        visitor.user.role == "member"
        and request.url.path.startswith("/espace")
        and not request.url.path.startswith("/espace/compte")
    ):
        raise PageExit(redirect("/espace/compte"))  # a member's workspace: its account only
    return visitor


def check_csrf(request: Request, visitor: Visitor | None, sent: str | None) -> None:
    """Refuse (403 page) a form whose token is not its session's (or its form cookie's)."""
    token = sent or request.headers.get("x-csrf-token") or ""
    expected = (
        visitor.web_session.csrf_token
        if visitor is not None
        else request.cookies.get(FORM_COOKIE, "")
    )
    if not token or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise csrf_refused(request, visitor)


#: A field of a page's form (an empty string when the form lacks it).
FormStr = Annotated[str, Form()]


def redirect(target: str) -> RedirectResponse:
    """After a form: go to ``target`` with a GET (303 See Other), so a reload sends nothing again."""
    return RedirectResponse(target, status_code=303)


def hood_for_page(
    request: Request, session: Session, visitor: Visitor, hood_id: str
) -> Neighbourhood:
    """The neighbourhood of the URL, if the visitor may see it, else the 404 page: the API's
    object check (:func:`api.dependencies.neighbourhood_for`), so that another team's
    neighbourhood and one that does not exist look the same."""
    if not hood_id.isdigit() or len(hood_id) > 12:
        raise not_found(request, visitor)
    try:
        return neighbourhood_for(session, visitor.caller, int(hood_id))
    except NotFoundError:
        raise not_found(request, visitor) from None


def error_sentence(error: QetGeoError, lang: str) -> str:
    """A library error's message in ``lang`` as a sentence for a page (the library's messages
    start in lower case, after the input's name)."""
    text = error.localized(lang)
    return text[:1].upper() + text[1:]


def writable_hood(
    request: Request, session: Session, hood_id: str, csrf: str
) -> tuple[Visitor, Neighbourhood]:
    """The signed-in visitor of a team form and the neighbourhood of its URL, if the form's token
    is right (else the 403 page), the visitor sees the neighbourhood (else the 404 page) and may
    write to it as the API's ``can_write`` (else the 403 page)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    if not visitor.caller.can_write(hood):
        raise forbidden(request, visitor)
    return visitor, hood


def published_hood(request: Request, session: Session, slug: str) -> Neighbourhood:
    """The published neighbourhood of a public portal's address ``/q/{slug}``, else the 404 page
    (the same for an unknown address and an unpublished portal)."""
    from qet_geo.store.portal import public_hood

    if len(slug) > 60:
        raise not_found(request, None)
    try:
        return public_hood(session, slug)
    except NotFoundError:
        raise not_found(request, None) from None


def staff_only(request: Request, visitor: Visitor) -> None:
    """Refuse (the 403 page) a visitor who is not network staff or an administrator."""
    if not visitor.is_staff:
        raise forbidden(request, visitor)


def new_form_token() -> str:
    """A CSRF token for a form shown before signing in."""
    return secrets.token_urlsafe(32)
