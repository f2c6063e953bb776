"""Comments on and follows of the network's project sheets; staff feature some (issue 17, roles).

- On a public sheet (``/q/{slug}/projets/{id}``, :mod:`api.web.projects`), the section
  "Commentaires" (:func:`sheet_talk`, the template ``project_comments.html``): the public reads
  the visible comments; a signed-in member (or network staff) comments (Markdown, through
  :func:`qet_geo.escaping.markdown_html` only); network staff hide a comment with a reason or show
  it again (a hidden comment is not public; its author sees it marked) and put the sheet first in
  the projects library ("Mettre en avant"). A signed-in account follows the sheet or stops; the
  count of followers is a count of people, shown from 11 only ("moins de 11").
- ``/reseau/suivis``: the followed sheets of the signed-in account, with their current status and
  their last update (one hears of a change by visiting; no e-mail).

The rules are :mod:`qet_geo.store.community`'s (roles, moderation, rate limits); every form
carries the session's CSRF token; a pilot team's account reads and follows but does not comment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dependencies import SessionDep
from api.web import _kit
from api.web._kit import FormStr, Visitor, check_csrf, redirect, render, signed_in
from qet_geo.errors import QetGeoError
from qet_geo.escaping import markdown_html
from qet_geo.i18n import day, msg
from qet_geo.store import community
from qet_geo.store.models import Neighbourhood, NotFoundError, Project, ProjectComment
from qet_geo.store.projects import STATUS_LABELS

__all__ = ["router", "sheet_talk"]

router = APIRouter(include_in_schema=False)

_NOTICES = {
    "commente": msg("Merci : votre commentaire est publié."),
    "modere": msg("La modération est enregistrée."),
    "suivi": msg("Vous suivez ce projet : il figure dans vos projets suivis."),
    "plus-suivi": msg("Vous ne suivez plus ce projet."),
    "en-avant": msg("Le projet est mis en avant dans la bibliothèque des projets."),
    "plus-en-avant": msg("Le projet n'est plus mis en avant."),
}


def _author(name: str | None, user_id: int, lang: str) -> str:
    return name if name else msg("Membre n° {n}", n=user_id).render(lang)


def sheet_talk(
    request: Request,
    session: Any,
    project: Project,
) -> dict[str, Any]:
    """The section "Commentaires" of a public sheet as its visitor sees it (the template
    ``project_comments.html`` reads it as ``talk``); after a refused comment (:func:`comment`),
    the text sent and what is wrong."""
    sent: dict[str, Any] = getattr(request.state, "project_talk", None) or {}
    body, error = str(sent.get("body", "")), sent.get("error")
    lang = _kit.lang_of(request)
    visitor = _kit.visitor_of(request, session)
    user = None if visitor is None else visitor.user
    comments = [
        {
            "id": c.id,
            "author": _author(c.author_name, c.author_id, lang),
            "html": None if c.body is None else markdown_html(c.body, top=4),
            "hidden": c.hidden,
            "reason": c.hidden_reason,
            "date": day(c.created_at).render(lang),
            "mine": c.mine,
        }
        for c in community.comments_of_project(session, project.id, viewer=user)
    ]
    done = _NOTICES.get(request.query_params.get("fait", ""))
    return {
        "base": request.url.path.rstrip("/"),
        "comments": comments,
        "signed_in": visitor is not None,
        "csrf": None if visitor is None else visitor.web_session.csrf_token,
        "can_comment": community.can_comment(user),
        "moderator": community.is_moderator(user),
        "following": user is not None and community.is_following(session, user.id, project.id),
        "followers": community.followers_shown(community.followers_count(session, project.id)),
        "featured": bool(project.featured),
        "body": body,
        "error": error,
        "notice": None if done is None else done.render(lang),
        "signin": "/connexion?suite=" + quote(request.url.path, safe=""),
    }


def _sheet_of(request: Request, session: Any, visitor: Visitor, slug: str, pid: str) -> Project:
    """The published sheet of the URL on its published portal, else the 404 page."""
    hood: Neighbourhood = _kit.published_hood(request, session, slug)
    if not pid.isdigit() or len(pid) > 12:
        raise _kit.not_found(request, visitor)
    project = session.get(Project, int(pid))
    if project is None or project.neighbourhood_id != hood.id or not project.published:
        raise _kit.not_found(request, visitor)
    return project


def _back(slug: str, project: Project, done: str) -> Response:
    return redirect(f"/q/{slug}/projets/{project.id}?fait={done}#commentaires")


@router.post("/q/{slug}/projets/{pid}/commentaires", response_class=HTMLResponse)
def comment(
    request: Request,
    session: SessionDep,
    slug: str,
    pid: str,
    body: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Comment on the sheet (a member or network staff), then show it."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    project = _sheet_of(request, session, visitor, slug, pid)
    if not community.can_comment(visitor.user):
        raise _kit.forbidden(request, visitor)
    status, headers = 400, None
    try:
        community.comment_project(
            session, visitor.user, project.id, body=body, now=_kit.now(request)
        )
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    except community.RateLimitError as exc:
        error = _kit.error_sentence(exc, _kit.lang_of(request))
        status, headers = 429, {"Retry-After": str(exc.retry_after_s)}
    except QetGeoError as exc:
        error = _kit.error_sentence(exc, _kit.lang_of(request))
    else:
        return _back(slug, project, "commente")
    # the sheet again, with the text sent and what is wrong
    from api.web import projects

    request.state.project_talk = {"body": body[: community.BODY_MAX], "error": error}
    response = projects.public_sheet(request, session, slug, pid)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


@router.post("/q/{slug}/projets/{pid}/commentaires/{cid}/moderer")
def moderate(
    request: Request,
    session: SessionDep,
    slug: str,
    pid: str,
    cid: str,
    hidden: FormStr = "",
    reason: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Hide a comment with a reason, or show it again (network staff)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _kit.staff_only(request, visitor)
    project = _sheet_of(request, session, visitor, slug, pid)
    found = session.get(ProjectComment, int(cid)) if cid.isdigit() and len(cid) <= 12 else None
    if found is None or found.project_id != project.id:
        raise _kit.not_found(request, visitor)
    try:
        community.moderate_comment(
            session, visitor.user, found.id, hidden=hidden == "1", reason=reason
        )
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    except QetGeoError as exc:
        return _kit.error_page(
            request,
            400,
            msg("Modération refusée"),
            msg(
                "{error} Revenez à la fiche et donnez une raison.",
                error=_kit.error_sentence(exc, _kit.lang_of(request)),
            ),
            visitor=visitor,
        )
    return _back(slug, project, "modere")


@router.post("/q/{slug}/projets/{pid}/suivre")
def follow_sheet(
    request: Request,
    session: SessionDep,
    slug: str,
    pid: str,
    follow: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Follow the sheet (``follow`` = 1) or stop following it (any signed-in account)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    project = _sheet_of(request, session, visitor, slug, pid)
    try:
        if follow == "1":
            community.follow_project(session, visitor.user, project.id, now=_kit.now(request))
        else:
            community.unfollow_project(session, visitor.user, project.id)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return _back(slug, project, "suivi" if follow == "1" else "plus-suivi")


@router.post("/q/{slug}/projets/{pid}/mise-en-avant")
def feature(
    request: Request,
    session: SessionDep,
    slug: str,
    pid: str,
    featured: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Put the sheet first in the network's projects library, or no longer (network staff)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _kit.staff_only(request, visitor)
    project = _sheet_of(request, session, visitor, slug, pid)
    try:
        community.feature_project(session, visitor.user, project.id, featured=featured == "1")
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return _back(slug, project, "en-avant" if featured == "1" else "plus-en-avant")


@router.get("/reseau/suivis", response_class=HTMLResponse)
def followed_page(request: Request, session: SessionDep) -> Response:
    """The sheets the signed-in account follows: current status and last update."""
    visitor = signed_in(request, session)
    lang = _kit.lang_of(request)
    rows = []
    for f in community.followed_projects(session, visitor.user):
        label = STATUS_LABELS.get(f.status)
        rows.append(
            {
                "url": f.url,
                "title": f.title,
                "hood": f.hood_name,
                "status": label.render(lang) if label is not None else f.status,
                "updated": day(f.updated_at).render(lang),
                "since": day(f.followed_at).render(lang),
            }
        )
    return render(
        request, "reseau_suivis.html", {"section": "suivis", "rows": rows}, visitor=visitor
    )
