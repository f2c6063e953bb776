"""The network's community pages (issue 17): member sign-up, questions, the expertise directory.

- ``/reseau/inscription``: anyone creates a member account (e-mail, password twice, consent to
  the rules); then signs in at ``/connexion``. Sign-ups of one client address go through the
  sign-in brake (:func:`qet_geo.store.accounts.claim_login_attempt`, under their own key).
- ``/reseau/questions``: threads per theme, public reading; signed-in accounts ask, answer and
  report; network staff hide or show a post or a thread with a reason
  (``/reseau/questions/moderation`` lists the reported posts).
- ``/reseau/expertise``: the published expert profiles; ``/reseau/expertise/profil`` the
  visitor's own; ``/reseau/expertise/{id}`` a profile page with its contact form (signed in): the
  message is e-mailed to the expert when SMTP is configured and kept in the expert's inbox
  (``/reseau/messages``). No page shows an expert's e-mail.

The rules live in :mod:`qet_geo.store.community`; user text is data (autoescape), Markdown
becomes HTML through :func:`qet_geo.escaping.markdown_html` only. Every form carries the CSRF
token (the session's, or the form cookie's for the sign-up).
"""

from __future__ import annotations

import math
from email.message import EmailMessage
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api._throttle import client_address
from api.dependencies import SessionDep
from api.web import _kit, mail
from api.web._kit import FormStr, Visitor, check_csrf, redirect, render, signed_in
from qet_geo.errors import QetGeoError
from qet_geo.escaping import markdown_html
from qet_geo.i18n import day, msg
from qet_geo.store import accounts, community
from qet_geo.store.models import NotFoundError, User, token_hash

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _lang(request: Request) -> str:
    return _kit.lang_of(request)


def _page_no(text: str) -> int:
    return int(text) if text.isdigit() and 0 < len(text) <= 6 else 1


def _id(request: Request, visitor: Visitor | None, text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise _kit.not_found(request, visitor)
    return int(text)


def _pages(total: int) -> int:
    return max(1, math.ceil(total / community.PAGE_SIZE))


def _member_name(name: str | None, user_id: int, lang: str) -> str:
    return name if name else msg("Membre n° {n}", n=user_id).render(lang)


def _themes(lang: str) -> list[tuple[str, str]]:
    return [(t, community.theme_label(t).render(lang)) for t in community.THEMES]


def _skills(lang: str) -> list[tuple[str, str]]:
    return [(k, v.render(lang)) for k, v in community.SKILLS.items()]


def _signin_link(request: Request) -> str:
    return "/connexion?suite=" + quote(request.url.path, safe="")


# --------------------------------------------------------------------------------------------------
# signing up


def _signup_form(
    request: Request, *, email: str = "", error: str | None = None, status: int = 200, **kw: Any
) -> HTMLResponse:
    return render(
        request,
        "reseau_inscription.html",
        {"section": "inscription", "email": email, "error": error, "min": 12},
        status=status,
        form_token=_kit.new_form_token(),
        **kw,
    )


@router.get("/reseau/inscription", response_class=HTMLResponse)
def signup_page(request: Request, session: SessionDep) -> Response:
    """The form creating a member account (a signed-in visitor goes to the questions)."""
    if _kit.visitor_of(request, session) is not None:
        return redirect("/reseau/questions")
    return _signup_form(request)


@router.post("/reseau/inscription", response_class=HTMLResponse)
def signup(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    password: FormStr = "",
    password2: FormStr = "",
    consent: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Create a member account, then sign in. An address that has an account already gets the
    same answer (the page does not tell who has an account)."""
    check_csrf(request, None, csrf)
    lang = _lang(request)
    address = client_address(
        request, list(getattr(request.app.state.settings, "trusted_proxies", []) or [])
    )
    claim = accounts.claim_login_attempt(
        request.app.state.engine, [token_hash(f"signup:{address}")], now=_kit.now(request)
    )
    if claim.wait_s:
        text = msg(
            "Trop de comptes créés depuis cette adresse : réessayez dans {seconds} secondes.",
            seconds=claim.wait_s,
        )
        return _signup_form(
            request,
            email=email[:320],
            error=text.render(lang),
            status=429,
            headers={"Retry-After": str(claim.wait_s)},
        )
    error = None
    if password != password2:
        error = msg("Les deux mots de passe diffèrent.").render(lang)
    elif consent != "1":
        error = msg("Acceptez les règles de participation pour créer un compte.").render(lang)
    else:
        try:
            accounts.normalize_email(email)
            accounts.check_password(password)
        except QetGeoError as exc:
            error = _kit.error_sentence(exc, lang)
    if error is not None:
        return _signup_form(request, email=email[:320], error=error, status=400)
    if accounts.user_by_email(session, email) is None:
        accounts.create_user(session, email=email, password=password, role="member")
    response = redirect("/connexion?bienvenue=1&suite=%2Freseau%2Fquestions")
    response.delete_cookie(_kit.FORM_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------------------------------
# questions


@router.get("/reseau/questions", response_class=HTMLResponse)
def questions_page(
    request: Request, session: SessionDep, theme: str = "", page: str = "1"
) -> Response:
    """The threads (of a theme), latest activity first, a page at a time."""
    visitor = _kit.visitor_of(request, session)
    lang = _lang(request)
    chosen = theme if theme in community.THEMES else ""
    number = _page_no(page)
    rows, total = community.threads_page(
        session,
        theme=chosen or None,
        page=number,
        moderator=visitor is not None and visitor.is_staff,
    )
    return render(
        request,
        "reseau_questions.html",
        {
            "section": "questions",
            "themes": _themes(lang),
            "theme": chosen,
            "rows": [
                {
                    "id": r.id,
                    "title": r.title,
                    "theme": community.theme_label(r.theme).render(lang),
                    "answers": r.answers,
                    "last": day(r.last_post_at).render(lang),
                    "hidden": r.hidden,
                }
                for r in rows
            ],
            "total": total,
            "page": number,
            "pages": _pages(total),
            "signin": _signin_link(request),
        },
        visitor=visitor,
    )


def _ask_form(
    request: Request,
    visitor: Visitor,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "reseau_questions_new.html",
        {
            "section": "questions",
            "themes": _themes(_lang(request)),
            "form": form
            or {"theme": request.query_params.get("theme", ""), "title": "", "body": ""},
            "error": error,
        },
        visitor=visitor,
        status=status,
        headers=headers,
    )


@router.get("/reseau/questions/nouvelle", response_class=HTMLResponse)
def ask_page(request: Request, session: SessionDep) -> Response:
    """The form asking a question (signed in)."""
    visitor = signed_in(request, session)
    return _ask_form(request, visitor)


def _limited(exc: community.RateLimitError) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after_s)}


@router.post("/reseau/questions/nouvelle", response_class=HTMLResponse)
def ask(
    request: Request,
    session: SessionDep,
    theme: FormStr = "",
    title: FormStr = "",
    body: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Open a thread, then show it."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    form = {"theme": theme[:40], "title": title[:300], "body": body[: community.BODY_MAX + 1]}
    try:
        thread = community.ask_question(
            session, visitor.user, theme=theme, title=title, body=body, now=_kit.now(request)
        )
    except community.RateLimitError as exc:
        text = _kit.error_sentence(exc, _lang(request))
        return _ask_form(request, visitor, form=form, error=text, status=429, headers=_limited(exc))
    except QetGeoError as exc:
        text = _kit.error_sentence(exc, _lang(request))
        return _ask_form(request, visitor, form=form, error=text, status=400)
    return redirect(f"/reseau/questions/{thread.id}")


def _thread_page(
    request: Request,
    session: SessionDep,
    visitor: Visitor | None,
    thread_id: int,
    *,
    page: int = 1,
    body: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    lang = _lang(request)
    viewer = None if visitor is None else visitor.user
    try:
        view = community.thread_view(session, thread_id, viewer=viewer, page=page)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    posts = [
        {
            "id": p.id,
            "author": _member_name(p.author_name, p.author_id, lang),
            "html": None if p.body is None else markdown_html(p.body, top=4),
            "hidden": p.hidden,
            "reason": p.hidden_reason,
            "date": day(p.created_at).render(lang),
            "mine": p.mine,
            "first": p.id == (view.posts[0].id if page == 1 and view.posts else None),
        }
        for p in view.posts
    ]
    notice = {
        "signale": msg("Merci : le message est signalé à l'équipe du réseau."),
        "modere": msg("La modération est enregistrée."),
    }.get(request.query_params.get("fait", ""))
    return render(
        request,
        "reseau_questions_thread.html",
        {
            "section": "questions",
            "thread": view,
            "theme": community.theme_label(view.theme).render(lang),
            "posts": posts,
            "page": page,
            "pages": _pages(view.total),
            "body": body,
            "error": error,
            "notice": None if notice is None else notice.render(lang),
            "moderator": visitor is not None and visitor.is_staff,
            "signin": _signin_link(request),
        },
        visitor=visitor,
        status=status,
        headers=headers,
    )


@router.get("/reseau/questions/moderation", response_class=HTMLResponse)
def moderation_page(request: Request, session: SessionDep) -> Response:
    """The reported posts not hidden yet (network staff)."""
    visitor = signed_in(request, session)
    _kit.staff_only(request, visitor)
    reports = [
        {
            "post_id": r.post_id,
            "thread_id": r.thread_id,
            "title": r.thread_title,
            "html": markdown_html(r.body, top=3),
            "reports": r.reports,
            "reasons": r.reasons,
        }
        for r in community.open_reports(session)
    ]
    return render(
        request,
        "reseau_questions_moderation.html",
        {"section": "questions", "reports": reports},
        visitor=visitor,
    )


@router.get("/reseau/questions/{thread_id}", response_class=HTMLResponse)
def thread_page(request: Request, session: SessionDep, thread_id: str, page: str = "1") -> Response:
    """A thread: the question, its answers (a page at a time), the answer form."""
    visitor = _kit.visitor_of(request, session)
    return _thread_page(
        request, session, visitor, _id(request, visitor, thread_id), page=_page_no(page)
    )


@router.post("/reseau/questions/{thread_id}/repondre", response_class=HTMLResponse)
def answer(
    request: Request, session: SessionDep, thread_id: str, body: FormStr = "", csrf: FormStr = ""
) -> Response:
    """Answer a thread, then show it."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    ident = _id(request, visitor, thread_id)
    try:
        community.answer_thread(session, visitor.user, ident, body=body, now=_kit.now(request))
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    except community.RateLimitError as exc:
        text = _kit.error_sentence(exc, _lang(request))
        return _thread_page(
            request,
            session,
            visitor,
            ident,
            body=body[: community.BODY_MAX],
            error=text,
            status=429,
            headers=_limited(exc),
        )
    except QetGeoError as exc:
        text = _kit.error_sentence(exc, _lang(request))
        return _thread_page(
            request,
            session,
            visitor,
            ident,
            body=body[: community.BODY_MAX],
            error=text,
            status=400,
        )
    view = community.thread_view(session, ident, viewer=visitor.user)
    return redirect(f"/reseau/questions/{ident}?page={_pages(view.total)}#reponse")


@router.post("/reseau/questions/contributions/{post_id}/signaler")
def report(
    request: Request,
    session: SessionDep,
    post_id: str,
    reason: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Report a post to the moderators."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    ident = _id(request, visitor, post_id)
    try:
        community.report_post(session, visitor.user, ident, reason=reason, now=_kit.now(request))
        thread_id = _thread_of(session, ident)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return redirect(f"/reseau/questions/{thread_id}?fait=signale")


def _thread_of(session: SessionDep, post_id: int) -> int:
    from qet_geo.store.models import CommunityPost

    post = session.get(CommunityPost, post_id)
    if post is None:
        raise NotFoundError(msg("ce message n'existe pas."))
    return post.thread_id


@router.post("/reseau/questions/contributions/{post_id}/moderer")
def moderate_post(
    request: Request,
    session: SessionDep,
    post_id: str,
    hidden: FormStr = "",
    reason: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Hide a post with a reason, or show it again (network staff)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _kit.staff_only(request, visitor)
    ident = _id(request, visitor, post_id)
    try:
        post = community.moderate_post(
            session, visitor.user, ident, hidden=hidden == "1", reason=reason
        )
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return redirect(f"/reseau/questions/{post.thread_id}?fait=modere")


@router.post("/reseau/questions/{thread_id}/moderer")
def moderate_thread(
    request: Request,
    session: SessionDep,
    thread_id: str,
    hidden: FormStr = "",
    reason: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Hide a whole thread with a reason, or show it again (network staff)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _kit.staff_only(request, visitor)
    ident = _id(request, visitor, thread_id)
    try:
        community.moderate_thread(session, visitor.user, ident, hidden=hidden == "1", reason=reason)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return redirect(f"/reseau/questions/{ident}?fait=modere")


# --------------------------------------------------------------------------------------------------
# expertise


def _expert_dict(view: community.ExpertView, lang: str) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.display_name,
        "organisation": view.organisation,
        "skills": [community.skill_label(s).render(lang) for s in view.skills],
        "skills_other": view.skills_other,
        "bio": markdown_html(view.bio, top=3) if view.bio else "",
        "published": view.published,
        "projects": view.projects,
    }


@router.get("/reseau/expertise", response_class=HTMLResponse)
def directory_page(
    request: Request, session: SessionDep, competence: str = "", page: str = "1"
) -> Response:
    """The published expert profiles (with a skill), by name."""
    visitor = _kit.visitor_of(request, session)
    lang = _lang(request)
    skill = competence if competence in community.SKILLS else ""
    number = _page_no(page)
    experts, total = community.experts_directory(session, skill=skill or None, page=number)
    return render(
        request,
        "reseau_expertise.html",
        {
            "section": "expertise",
            "skills": _skills(lang),
            "skill": skill,
            "experts": [_expert_dict(e, lang) for e in experts],
            "total": total,
            "page": number,
            "pages": _pages(total),
            "signin": _signin_link(request),
        },
        visitor=visitor,
    )


def _edit_form(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    *,
    form: community.ExpertForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = _lang(request)
    expert = community.expert_of_user(session, visitor.user.id)
    if form is None:
        if expert is None:
            form = community.ExpertForm(display_name="")
        else:
            view = community.expert_view(session, expert.id, viewer=visitor.user)
            form = community.ExpertForm(
                display_name=view.display_name,
                organisation=view.organisation,
                skills=view.skills,
                skills_other=view.skills_other,
                bio=view.bio,
                project_ids=tuple(p.id for p in view.projects),
                published=view.published,
            )
    notice = None
    if request.query_params.get("fait") == "enregistre":
        notice = msg("Votre profil est enregistré.").render(lang)
    return render(
        request,
        "reseau_expertise_edit.html",
        {
            "section": "expertise",
            "form": form,
            "skills": _skills(lang),
            "projects": community.network_projects(session),
            "expert_id": None if expert is None else expert.id,
            "error": error,
            "notice": notice,
        },
        visitor=visitor,
        status=status,
    )


@router.get("/reseau/expertise/profil", response_class=HTMLResponse)
def edit_page(request: Request, session: SessionDep) -> Response:
    """The visitor's expert profile, to create or change (signed in)."""
    visitor = signed_in(request, session)
    return _edit_form(request, session, visitor)


@router.post("/reseau/expertise/profil", response_class=HTMLResponse)
def save_profile(
    request: Request,
    session: SessionDep,
    display_name: FormStr = "",
    organisation: FormStr = "",
    skills: Annotated[list[str] | None, Form()] = None,
    skills_other: FormStr = "",
    bio: FormStr = "",
    projects: Annotated[list[str] | None, Form()] = None,
    published: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Save the visitor's expert profile (published only if ticked)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    form = community.ExpertForm(
        display_name=display_name[:400],
        organisation=organisation[:400],
        skills=tuple(s[:40] for s in (skills or [])[:40]),
        skills_other=skills_other[:400],
        bio=bio[: community.BIO_MAX + 1],
        project_ids=tuple(int(p) for p in (projects or [])[:200] if p.isdigit() and len(p) <= 12),
        published=published == "1",
    )
    try:
        community.save_expert(session, visitor.user, form, now=_kit.now(request))
    except QetGeoError as exc:
        text = _kit.error_sentence(exc, _lang(request))
        session.rollback()
        return _edit_form(request, session, visitor, form=form, error=text, status=400)
    return redirect("/reseau/expertise/profil?fait=enregistre")


def _profile_page(
    request: Request,
    session: SessionDep,
    visitor: Visitor | None,
    expert_id: int,
    *,
    body: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    lang = _lang(request)
    viewer = None if visitor is None else visitor.user
    try:
        view = community.expert_view(session, expert_id, viewer=viewer)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    own = community.expert_of_user(session, viewer.id) if viewer is not None else None
    notice = {
        "envoye": msg("Votre message est transmis à l'expert·e."),
    }.get(request.query_params.get("fait", ""))
    return render(
        request,
        "reseau_expertise_profile.html",
        {
            "section": "expertise",
            "expert": _expert_dict(view, lang),
            "own": own is not None and own.id == view.id,
            "body": body,
            "error": error,
            "notice": None if notice is None else notice.render(lang),
            "signin": _signin_link(request),
        },
        visitor=visitor,
        status=status,
        headers=headers,
    )


@router.get("/reseau/expertise/{expert_id}", response_class=HTMLResponse)
def profile_page(request: Request, session: SessionDep, expert_id: str) -> Response:
    """A published profile (or the visitor's own), with the contact form."""
    visitor = _kit.visitor_of(request, session)
    return _profile_page(request, session, visitor, _id(request, visitor, expert_id))


def _contact_email(
    sender: str, expert: User, from_user: User, name: str, body: str, lang: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = expert.email
    message["Reply-To"] = from_user.email
    message["Subject"] = msg("Un message du réseau Quartiers en Transitions").render(lang)
    message.set_content(
        msg(
            "Bonjour {name},\n\nUn membre du réseau vous écrit depuis votre profil d'expertise "
            "(répondre à ce courriel lui répond directement) :\n\n{body}\n",
            name=name,
            body=body,
        ).render(lang)
    )
    return message


@router.post("/reseau/expertise/{expert_id}/contact", response_class=HTMLResponse)
def contact(
    request: Request, session: SessionDep, expert_id: str, body: FormStr = "", csrf: FormStr = ""
) -> Response:
    """Send a message to an expert: kept in their inbox, e-mailed when SMTP is configured."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    ident = _id(request, visitor, expert_id)
    lang = _lang(request)
    try:
        message = community.send_message(
            session, visitor.user, ident, body=body, now=_kit.now(request)
        )
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    except community.RateLimitError as exc:
        text = _kit.error_sentence(exc, lang)
        return _profile_page(
            request,
            session,
            visitor,
            ident,
            body=body,
            error=text,
            status=429,
            headers=_limited(exc),
        )
    except QetGeoError as exc:
        text = _kit.error_sentence(exc, lang)
        return _profile_page(request, session, visitor, ident, body=body, error=text, status=400)
    config = mail.smtp_config(request.app.state.settings)
    if config is not None:
        from qet_geo.store.models import Expert

        expert = session.get(Expert, ident)
        owner = None if expert is None else session.get(User, expert.user_id)
        if expert is not None and owner is not None:
            text = message.body
            session.commit()  # kept before the (slow) server is asked
            email = _contact_email(
                config.sender, owner, visitor.user, expert.display_name, text, lang
            )
            message.emailed = mail.send(config, email)
    return redirect(f"/reseau/expertise/{ident}?fait=envoye")


@router.get("/reseau/messages", response_class=HTMLResponse)
def inbox_page(request: Request, session: SessionDep) -> Response:
    """The messages sent to the visitor's expert profile (signed in)."""
    visitor = signed_in(request, session)
    lang = _lang(request)
    expert = community.expert_of_user(session, visitor.user.id)
    messages = [
        {
            "html": markdown_html(m.body, top=3),
            "sender": sender,
            "date": day(m.created_at).render(lang),
            "emailed": bool(m.emailed),
        }
        for m, sender in community.inbox(session, visitor.user)
    ]
    return render(
        request,
        "reseau_messages.html",
        {"section": "messages", "messages": messages, "has_profile": expert is not None},
        visitor=visitor,
    )
