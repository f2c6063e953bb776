"""The pages of the web workspace: sign-in, dashboard, neighbourhoods, invitations, people, account.

Every page under ``/espace`` needs a signed-in visitor (else: the sign-in page, back here
afterwards) and checks the visitor's right to each neighbourhood as the JSON API does
(:func:`api.dependencies.neighbourhood_for`: another team's neighbourhood is a 404 page). Forms
post and redirect, and carry the CSRF token (:mod:`api.web._kit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api._throttle import client_address
from api.dependencies import SessionDep
from api.web import _kit, mail
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    hood_for_page,
    redirect,
    render,
    signed_in,
    staff_only,
)
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg
from qet_geo.store import accounts
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Neighbourhood,
    NotFoundError,
    Release,
    Respondent,
    Upload,
    User,
    add_neighbourhood,
)

router = APIRouter(include_in_schema=False)


# --------------------------------------------------------------------------------------------------
# signing in and out, language


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, suite: str = "") -> Response:
    """The sign-in form."""
    if _kit.visitor_of(request, session) is not None:
        return redirect(_kit.safe_next(suite))
    return _login_form(request, suite=suite)


def _login_form(
    request: Request,
    *,
    suite: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        {
            "suite": _kit.safe_next(suite),
            "email": email,
            "error": error,
            "welcome": request.query_params.get("bienvenue") == "1",
        },
        status=status,
        headers=headers,
        form_token=_kit.new_form_token(),
    )


@router.post("/connexion", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    password: FormStr = "",
    csrf: FormStr = "",
    suite: FormStr = "",
) -> Response:
    """Sign in: a session cookie on success; after repeated failures, wait (429)."""
    check_csrf(request, None, csrf)
    lang = _kit.lang_of(request)
    moment = _kit.now(request)
    keys = accounts.login_keys(email, client_address(request, _trusted(request)))
    # counted (as a failure until it succeeds) and committed before the password is checked
    claim = accounts.claim_login_attempt(request.app.state.engine, keys, now=moment)
    if claim.wait_s:
        wait = claim.wait_s
        text = msg(
            "Trop de tentatives de connexion : réessayez dans {seconds} secondes.",
            seconds=wait,
        )
        return _login_form(
            request,
            suite=suite,
            email=email,
            error=text.render(lang),
            status=429,
            headers={"Retry-After": str(wait)},
        )
    user = accounts.authenticate(session, email, password, now=moment)
    if user is None:
        return _login_form(
            request,
            suite=suite,
            email=email,
            error=msg("Adresse électronique ou mot de passe incorrect.").render(lang),
            status=400,
        )
    accounts.login_succeeded(session, claim, keys[0])
    cookie, _ = accounts.open_session(session, user, now=moment)
    response = redirect(_kit.safe_next(suite))
    _kit.set_cookie(
        request,
        response,
        _kit.SESSION_COOKIE,
        cookie,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(_kit.FORM_COOKIE, path="/")
    return response


def _trusted(request: Request) -> list[str]:
    return list(getattr(request.app.state.settings, "trusted_proxies", []) or [])


@router.post("/deconnexion")
def logout(request: Request, session: SessionDep, csrf: FormStr = "") -> Response:
    """Sign out: the session ends on the server, its cookie goes."""
    visitor = _kit.visitor_of(request, session)
    if visitor is None:
        return redirect("/connexion")
    check_csrf(request, visitor, csrf)
    accounts.close_session(session, visitor.cookie)
    response = redirect("/connexion")
    response.delete_cookie(_kit.SESSION_COOKIE, path="/")
    return response


@router.get("/langue")
def choose_language(request: Request, choix: str = "fr", suite: str = "") -> Response:
    """Switch the pages' language (a cookie), then go back."""
    response = redirect(_kit.safe_next(suite))
    _kit.set_cookie(
        request, response, _kit.LANG_COOKIE, "en" if choix == "en" else "fr", max_age=31536000
    )
    return response


# --------------------------------------------------------------------------------------------------
# the dashboard and the neighbourhoods


@dataclass(frozen=True)
class HoodRow:
    """A neighbourhood as the dashboard shows it."""

    id: int
    name: str
    phase: Msg
    last_activity: datetime
    answers: int
    uploads: int
    releases: int
    has_territory: bool
    has_extract: bool


def _counts(session: Session, model: Any, hood_ids: list[int]) -> dict[int, tuple[int, Any]]:
    """Rows of ``model`` (a diagnostic's) per neighbourhood, and the latest ``created_at``."""
    created = getattr(model, "created_at", None)
    latest = func.max(created) if created is not None else func.max(Diagnostic.created_at)
    rows = session.execute(
        select(Diagnostic.neighbourhood_id, func.count(model.id), latest)
        .join(model, model.diagnostic_id == Diagnostic.id)
        .where(Diagnostic.neighbourhood_id.in_(hood_ids))
        .group_by(Diagnostic.neighbourhood_id)
    )
    return {int(h): (int(n), last) for h, n, last in rows}


def _phase(hood: Neighbourhood, answers: int, releases: int) -> Msg:
    """The step of the journey a neighbourhood is at."""
    if releases:
        return msg("Publié")
    if answers:
        return msg("Collecte en cours")
    if hood.territory_wkt is None:
        return msg("Contour à définir")
    if hood.osm_extract is None:
        return msg("Extrait OSM à déposer")
    return msg("Collecte à commencer")


def hood_rows(session: Session, hoods: list[Neighbourhood]) -> list[HoodRow]:
    """The dashboard's rows: phase, last activity, answers, uploads and releases per hood."""
    ids = [h.id for h in hoods]
    answers = _counts(session, Respondent, ids) if ids else {}
    uploads = _counts(session, Upload, ids) if ids else {}
    releases = _counts(session, Release, ids) if ids else {}
    jobs = dict(
        session.execute(
            select(Diagnostic.neighbourhood_id, func.max(Diagnostic.job_updated_at))
            .where(Diagnostic.neighbourhood_id.in_(ids))
            .group_by(Diagnostic.neighbourhood_id)
        ).all()
    )
    rows = []
    for hood in hoods:
        n_answers = answers.get(hood.id, (0, None))[0]
        n_releases, last_release = releases.get(hood.id, (0, None))
        n_uploads, last_upload = uploads.get(hood.id, (0, None))
        moments = [
            m
            for m in (hood.created_at, last_upload, last_release, jobs.get(hood.id))
            if m is not None
        ]
        rows.append(
            HoodRow(
                id=hood.id,
                name=hood.name,
                phase=_phase(hood, n_answers, n_releases),
                last_activity=max(accounts._aware(m) for m in moments),
                answers=n_answers,
                uploads=n_uploads,
                releases=n_releases,
                has_territory=hood.territory_wkt is not None,
                has_extract=hood.osm_extract is not None,
            )
        )
    return rows


def _visible_hoods(session: Session, visitor: Visitor) -> list[Neighbourhood]:
    query = select(Neighbourhood).order_by(Neighbourhood.name, Neighbourhood.id)
    if not visitor.is_staff:
        query = query.where(Neighbourhood.id.in_(sorted(visitor.caller.neighbourhood_ids)))
    return list(session.scalars(query))


@router.get("/espace", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep) -> Response:
    """The visitor's neighbourhoods (all of them for the network staff)."""
    visitor = signed_in(request, session)
    rows = hood_rows(session, _visible_hoods(session, visitor))
    return render(request, "dashboard.html", {"rows": rows}, visitor=visitor)


@router.get("/espace/quartiers/nouveau", response_class=HTMLResponse)
def new_hood_page(request: Request, session: SessionDep) -> Response:
    """The form creating a neighbourhood (network staff)."""
    visitor = signed_in(request, session)
    staff_only(request, visitor)
    return render(request, "hood_new.html", {"name": "", "error": None}, visitor=visitor)


@router.post("/espace/quartiers/nouveau", response_class=HTMLResponse)
def new_hood(
    request: Request, session: SessionDep, name: FormStr = "", csrf: FormStr = ""
) -> Response:
    """Create a neighbourhood, then show its page."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    staff_only(request, visitor)
    clean = " ".join(name.split())
    if not clean or len(clean) > 200:
        error = msg("Donnez au quartier un nom de 1 à 200 caractères.")
        return render(
            request,
            "hood_new.html",
            {"name": name[:200], "error": error.render(_kit.lang_of(request))},
            visitor=visitor,
            status=400,
        )
    hood = add_neighbourhood(session, name=clean)
    return redirect(f"/espace/quartiers/{hood.id}")


@router.get("/espace/quartiers/{hood_id}", response_class=HTMLResponse)
def hood_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """A neighbourhood: what it has, and the steps of the journey."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    (row,) = hood_rows(session, [hood])
    return render(
        request,
        "hood.html",
        {
            "hood": row,
            "members": accounts.members(session, hood.id),
            "invitations": (
                accounts.pending_invitations(
                    session, neighbourhood_id=hood.id, now=_kit.now(request)
                )
                if visitor.is_staff
                else []
            ),
            "notice": _notice(request),
        },
        visitor=visitor,
    )


#: The notices a page shows after a form (``?fait=...``), in French.
_NOTICES: dict[str, Msg] = {
    "retire": msg("Le membre a été retiré du quartier : il n'y a plus accès."),
    "invitation-revoquee": msg("L'invitation est révoquée : son lien ne fonctionne plus."),
    "desactive": msg("Le compte est désactivé : ses sessions sont fermées et ses jetons révoqués."),
    "reactive": msg("Le compte est réactivé : la personne peut à nouveau se connecter."),
}


def _notice(request: Request) -> str | None:
    done = _NOTICES.get(request.query_params.get("fait", ""))
    return None if done is None else done.render(_kit.lang_of(request))


def _id_or_404(request: Request, visitor: Visitor, text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise _kit.not_found(request, visitor)
    return int(text)


def _forget_tokens(request: Request, response: Response, hashes: list[str]) -> Response:
    """Make the API forget these tokens' cached rights now, and again once the change is
    committed (a request in between may have cached them anew)."""
    cache = request.app.state.token_cache

    def forget() -> None:
        for digest in hashes:
            cache.pop(digest, None)

    forget()
    response.background = BackgroundTask(forget)
    return response


@router.get("/espace/quartiers/{hood_id}/membres/{user_id}/retirer", response_class=HTMLResponse)
def remove_member_page(
    request: Request, session: SessionDep, hood_id: str, user_id: str
) -> Response:
    """Ask to confirm taking a member out of a neighbourhood (a form: works without JavaScript)."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    member = _member(request, session, visitor, hood.id, user_id)
    return render(request, "members_remove.html", {"hood": hood, "member": member}, visitor=visitor)


def _member(
    request: Request, session: Session, visitor: Visitor, hood_id: int, user_id: str
) -> User:
    ident = _id_or_404(request, visitor, user_id)
    user = session.get(User, ident)
    if user is None or hood_id not in accounts.memberships(session, ident):
        raise _kit.not_found(request, visitor)
    return user


@router.post("/espace/quartiers/{hood_id}/membres/{user_id}/retirer")
def remove_member(
    request: Request, session: SessionDep, hood_id: str, user_id: str, csrf: FormStr = ""
) -> Response:
    """Take a member out of a neighbourhood: its pages and its tokens no longer reach it."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    member = _member(request, session, visitor, hood.id, user_id)
    hashes = accounts.remove_membership(session, member.id, hood.id)
    return _forget_tokens(
        request, redirect(f"/espace/quartiers/{hood.id}?fait=retire#membres"), hashes
    )


@router.post("/espace/quartiers/{hood_id}/invitations/{invitation_id}/revoquer")
def revoke_hood_invitation(
    request: Request, session: SessionDep, hood_id: str, invitation_id: str, csrf: FormStr = ""
) -> Response:
    """Revoke a pending invitation to this neighbourhood (network staff)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    ident = _id_or_404(request, visitor, invitation_id)
    try:
        accounts.revoke_invitation(session, ident, neighbourhood_id=hood.id)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return redirect(f"/espace/quartiers/{hood.id}?fait=invitation-revoquee#membres")


@router.get("/espace/quartiers/{hood_id}/inviter", response_class=HTMLResponse)
def invite_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The form inviting a pilot team member to a neighbourhood (network staff)."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    return render(
        request, "invite.html", {"hood": hood, "email": "", "error": None}, visitor=visitor
    )


@router.post("/espace/quartiers/{hood_id}/inviter", response_class=HTMLResponse)
def invite(
    request: Request,
    session: SessionDep,
    hood_id: str,
    email: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Invite a pilot: the one-time link is shown (and e-mailed when SMTP is configured)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    lang = _kit.lang_of(request)
    try:
        invited = accounts.invite(
            session,
            email=email,
            role="pilot",
            neighbourhood_id=hood.id,
            invited_by=visitor.user.id,
            now=_kit.now(request),
        )
    except QetGeoError as exc:
        return render(
            request,
            "invite.html",
            {"hood": hood, "email": email[:320], "error": exc.localized(lang)},
            visitor=visitor,
            status=400,
        )
    link, mailed = _send_invitation(request, session, invited, email, hood.name, lang)
    return render(
        request,
        "invited.html",
        {
            "hood": hood,
            "email": accounts.normalize_email(email),
            "link": link,
            "mailed": mailed,
        },
        visitor=visitor,
    )


def _send_invitation(
    request: Request,
    session: Session,
    invited: accounts.Invited,
    email: str,
    hood_name: str | None,
    lang: str,
) -> tuple[str | None, bool | None]:
    """The invitation's link (None for an existing account) and whether it was e-mailed (None:
    no SMTP server configured, the link is only shown to copy; False: the server refused)."""
    if invited.token is None:
        return None, None
    session.commit()  # the link works as soon as the e-mail arrives
    link = str(request.base_url).rstrip("/") + f"/invitation/{invited.token}"
    config = mail.smtp_config(request.app.state.settings)
    if config is None:
        return link, None
    message = mail.invitation_message(
        sender=config.sender,
        to=accounts.normalize_email(email),
        link=link,
        neighbourhood=hood_name,
        lang=lang,
    )
    return link, mail.send(config, message)


# --------------------------------------------------------------------------------------------------
# invitations


def _invitation_error(request: Request, exc: accounts.InvitationError) -> Response:
    lang = _kit.lang_of(request)
    return render(
        request,
        "error.html",
        {
            "title": msg("Lien d'invitation inutilisable").render(lang),
            "text": exc.localized(lang)
            + " "
            + msg(
                "Demandez une nouvelle invitation à la personne du réseau qui vous a invité·e."
            ).render(lang),
        },
        status=404 if exc.reason == "unknown" else 410,
    )


@router.get("/invitation/{token}", response_class=HTMLResponse)
def invitation_page(request: Request, session: SessionDep, token: str) -> Response:
    """The form where an invited person chooses a password."""
    try:
        row = accounts.invitation_for(session, token, now=_kit.now(request))
    except accounts.InvitationError as exc:
        return _invitation_error(request, exc)
    return render(
        request,
        "invitation.html",
        {"email": row.email, "error": None, "token": token},
        form_token=_kit.new_form_token(),
    )


@router.post("/invitation/{token}", response_class=HTMLResponse)
def accept_invitation(
    request: Request,
    session: SessionDep,
    token: str,
    password: FormStr = "",
    password2: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Create the account of an invitation (the link then stops working)."""
    check_csrf(request, None, csrf)
    lang = _kit.lang_of(request)
    moment = _kit.now(request)
    try:
        row = accounts.invitation_for(session, token, now=moment)
    except accounts.InvitationError as exc:
        return _invitation_error(request, exc)
    error = None
    if password != password2:
        error = msg("Les deux mots de passe diffèrent.").render(lang)
    else:
        try:
            accounts.accept_invitation(session, token, password, now=moment)
        except QetGeoError as exc:
            error = exc.localized(lang)
    if error is not None:
        return render(
            request,
            "invitation.html",
            {"email": row.email, "error": error, "token": token},
            status=400,
            form_token=_kit.new_form_token(),
        )
    response = redirect("/connexion?bienvenue=1")
    response.delete_cookie(_kit.FORM_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------------------------------
# the people: accounts and invitations (administrators; network staff read and invite pilots)


def _admin_only(request: Request, visitor: Visitor) -> None:
    if visitor.user.role != "admin":
        raise _kit.forbidden(request, visitor)


def _invitable_roles(visitor: Visitor) -> tuple[str, ...]:
    """Whom the visitor may invite: network staff (administrators only) and pilot teams."""
    return ("staff", "pilot") if visitor.user.role == "admin" else ("pilot",)


def _people(
    request: Request,
    session: Session,
    visitor: Visitor,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    hoods = list(
        session.scalars(select(Neighbourhood).order_by(Neighbourhood.name, Neighbourhood.id))
    )
    invitations = accounts.pending_invitations(session, now=_kit.now(request))
    names = {h.id: h.name for h in hoods}
    return render(
        request,
        "people.html",
        {
            "accounts": accounts.list_accounts(session),
            "invitations": invitations,
            "hood_names": names,
            "hoods": hoods,
            "roles": _invitable_roles(visitor),
            "is_admin": visitor.user.role == "admin",
            "form": form or {"email": "", "role": "pilot", "hood": ""},
            "error": error,
            "notice": _notice(request),
        },
        visitor=visitor,
        status=status,
    )


@router.get("/espace/personnes", response_class=HTMLResponse)
def people_page(request: Request, session: SessionDep) -> Response:
    """The accounts, pending invitations and the invitation form (network staff)."""
    visitor = signed_in(request, session)
    staff_only(request, visitor)
    return _people(request, session, visitor)


@router.post("/espace/personnes/inviter", response_class=HTMLResponse)
def invite_person(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    role: FormStr = "",
    hood: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Invite network staff (administrators only) or a pilot team member to a neighbourhood."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    staff_only(request, visitor)
    lang = _kit.lang_of(request)
    form = {"email": email[:320], "role": role, "hood": hood[:12]}
    if role not in _invitable_roles(visitor):
        if role in accounts.ACCOUNT_ROLES:
            raise _kit.forbidden(request, visitor)
        text = msg("Choisissez le rôle de la personne invitée.").render(lang)
        return _people(request, session, visitor, form=form, error=text, status=400)
    target = None
    if role == "pilot":
        target = (
            session.get(Neighbourhood, int(hood)) if hood.isdigit() and len(hood) <= 12 else None
        )
        if target is None:
            text = msg("Choisissez le quartier de la personne invitée.").render(lang)
            return _people(request, session, visitor, form=form, error=text, status=400)
    try:
        invited = accounts.invite(
            session,
            email=email,
            role=role,
            neighbourhood_id=None if target is None else target.id,
            invited_by=visitor.user.id,
            now=_kit.now(request),
        )
    except QetGeoError as exc:
        return _people(request, session, visitor, form=form, error=exc.localized(lang), status=400)
    name = None if target is None else target.name
    link, mailed = _send_invitation(request, session, invited, email, name, lang)
    return render(
        request,
        "invited.html",
        {
            "hood": target,
            "email": accounts.normalize_email(email),
            "link": link,
            "mailed": mailed,
        },
        visitor=visitor,
    )


@router.post("/espace/personnes/invitations/{invitation_id}/revoquer")
def revoke_invitation(
    request: Request, session: SessionDep, invitation_id: str, csrf: FormStr = ""
) -> Response:
    """Revoke a pending invitation (administrators): its link stops working."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _admin_only(request, visitor)
    ident = _id_or_404(request, visitor, invitation_id)
    try:
        accounts.revoke_invitation(session, ident)
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    return redirect("/espace/personnes?fait=invitation-revoquee")


def _account_of(request: Request, session: Session, visitor: Visitor, user_id: str) -> User:
    user = session.get(User, _id_or_404(request, visitor, user_id))
    if user is None:
        raise _kit.not_found(request, visitor)
    return user


@router.get("/espace/personnes/{user_id}/desactiver", response_class=HTMLResponse)
def deactivate_page(request: Request, session: SessionDep, user_id: str) -> Response:
    """Ask to confirm an account's deactivation (a form: works without JavaScript)."""
    visitor = signed_in(request, session)
    _admin_only(request, visitor)
    person = _account_of(request, session, visitor, user_id)
    return render(request, "people_deactivate.html", {"person": person}, visitor=visitor)


@router.post("/espace/personnes/{user_id}/desactiver", response_class=HTMLResponse)
def deactivate(request: Request, session: SessionDep, user_id: str, csrf: FormStr = "") -> Response:
    """Deactivate an account: no more sign-in, its sessions end, its API tokens are revoked."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _admin_only(request, visitor)
    person = _account_of(request, session, visitor, user_id)
    try:
        hashes = accounts.set_active(session, visitor.user, person.id, False)
    except ConflictError as exc:
        return _people(
            request,
            session,
            visitor,
            error=exc.localized(_kit.lang_of(request)),
            status=409,
        )
    return _forget_tokens(request, redirect("/espace/personnes?fait=desactive"), hashes)


@router.post("/espace/personnes/{user_id}/reactiver")
def reactivate(request: Request, session: SessionDep, user_id: str, csrf: FormStr = "") -> Response:
    """Reactivate an account: its owner may sign in again (no session or token comes back)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    _admin_only(request, visitor)
    person = _account_of(request, session, visitor, user_id)
    accounts.set_active(session, visitor.user, person.id, True)
    return redirect("/espace/personnes?fait=reactive")


# --------------------------------------------------------------------------------------------------
# the account: password and tokens


def _account(
    request: Request,
    session: Session,
    visitor: Visitor,
    *,
    new_token: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "account.html",
        {
            "tokens": accounts.user_tokens(session, visitor.user),
            "new_token": new_token,
            "error": error,
            "notice": notice,
        },
        visitor=visitor,
        status=status,
    )


@router.get("/espace/compte", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep) -> Response:
    """The visitor's account: password, tokens for scripts."""
    visitor = signed_in(request, session)
    notice = None
    if request.query_params.get("fait") == "mot-de-passe":
        notice = msg("Mot de passe changé.").render(_kit.lang_of(request))
    return _account(request, session, visitor, notice=notice)


@router.post("/espace/compte/mot-de-passe", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: SessionDep,
    current: FormStr = "",
    password: FormStr = "",
    password2: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Change the password (the account's other sessions end)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    lang = _kit.lang_of(request)
    if password != password2:
        error = msg("Les deux mots de passe diffèrent.").render(lang)
        return _account(request, session, visitor, error=error, status=400)
    try:
        accounts.change_password(
            session, visitor.user, current=current, new=password, keep_session=visitor.cookie
        )
    except QetGeoError as exc:
        return _account(request, session, visitor, error=exc.localized(lang), status=400)
    return redirect("/espace/compte?fait=mot-de-passe")


@router.post("/espace/compte/jetons", response_class=HTMLResponse)
def create_token(
    request: Request, session: SessionDep, label: FormStr = "", csrf: FormStr = ""
) -> Response:
    """Create a token for scripts, shown on this answer only."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    token = accounts.create_user_token(session, visitor.user, label=label)
    return _account(request, session, visitor, new_token=token)


@router.post("/espace/compte/jetons/{token_id}/revoquer")
def revoke_token(
    request: Request, session: SessionDep, token_id: str, csrf: FormStr = ""
) -> Response:
    """Revoke one of the visitor's tokens: it stops working on the API at once."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    if not token_id.isdigit() or len(token_id) > 12:
        raise _kit.not_found(request, visitor)
    tokens = {t.id: t.token_sha256 for t in accounts.user_tokens(session, visitor.user)}
    try:
        accounts.revoke_user_token(session, visitor.user, int(token_id))
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    # the API remembers known tokens for a few seconds: forget this one now, and again once
    # the deletion is committed (a request in between may have remembered it anew)
    cache = request.app.state.token_cache
    cache.pop(tokens[int(token_id)], None)
    response = redirect("/espace/compte")
    response.background = BackgroundTask(cache.pop, tokens[int(token_id)], None)
    return response


# --------------------------------------------------------------------------------------------------
# everything else under /espace: a page, not the API's JSON


@router.get("/deconnexion")
def logout_link(request: Request, session: SessionDep) -> Response:
    """Signing out is a form (POST, CSRF): a link here leads back to the workspace."""
    return redirect("/espace" if _kit.visitor_of(request, session) else "/connexion")


#: Registered after every page of the workspace (:func:`api.web.add_web`), so that it only
#: answers the paths no page has.
fallback = APIRouter(include_in_schema=False)


@fallback.api_route("/espace/{rest:path}", methods=["GET", "POST"])
def unknown_page(request: Request, session: SessionDep, rest: str) -> Response:
    """Any other path of the workspace: the 404 page (after signing in, as for the others)."""
    visitor = signed_in(request, session)
    raise _kit.not_found(request, visitor)


@fallback.api_route("/q/{rest:path}", methods=["GET", "POST"])
@fallback.api_route("/reseau/{rest:path}", methods=["GET", "POST"])
def unknown_public_page(request: Request, rest: str) -> Response:
    """Any other path of the public portals and of the network's pages: the 404 page, with no
    account (not the JSON API's answer)."""
    raise _kit.not_found(request, None)
