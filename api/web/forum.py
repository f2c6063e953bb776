"""The forum's vote: the team's page and the public voting page (issue 16).

- ``/espace/quartiers/{id}/forum`` (the pilot team): create the vote of the neighbourhood's
  diagnostic of the year on its themes (the latest release's vote themes, ranked by reduction
  potential, else the six usages), its question and number of participant codes; the codes are
  shown once, as printable cards with a QR code each (:mod:`segno`, SVG drawn here) holding the
  public voting address with the code; each member enters their count of the paper ballots,
  and sees whether two counts agree (:func:`qet_geo.store.votes.paper_result`), never the other
  member's numbers; close the vote.
- ``/q/{slug}/forum`` (everyone): the forum's date and place, the question, the themes with
  their reduction potential, the voting form (a code typed, or from the QR code's ``?code=``;
  ``?kiosque=1`` for a tablet at the exhibition: no navigation, back to an empty form after each
  vote), and, once the vote is closed, its results from 11 ballots with the online/paper split.

The vote's logic is :mod:`qet_geo.store.votes`, the JSON API's; wrong codes count against the
client in the API's throttle (:func:`api.routers.votes.vote_throttle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api._throttle import client_address
from api.dependencies import SessionDep
from api.routers.votes import vote_throttle
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    error_sentence,
    hood_for_page,
    lang_of,
    new_form_token,
    published_hood,
    redirect,
    render,
    signed_in,
    writable_hood,
)
from api.web.analysis import current_diagnostic
from qet_geo.errors import QetGeoError, ValidationError
from qet_geo.escaping import qr_svg
from qet_geo.i18n import day, msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store import votes
from qet_geo.store.models import ConflictError, Diagnostic, Neighbourhood, Vote
from qet_geo.store.portal import phases_of
from qet_geo.store.releases import Figures, latest_release
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["public_vote_of", "router"]

router = APIRouter(include_in_schema=False)

#: Codes proposed by default on the creation form.
DEFAULT_CODES = 200


def vote_of(session: Session, diag: Diagnostic | None) -> Vote | None:
    """The vote of a diagnostic (its latest, if the API opened more than one)."""
    if diag is None:
        return None
    return session.scalars(
        select(Vote).where(Vote.diagnostic_id == diag.id).order_by(Vote.id.desc()).limit(1)
    ).first()


def public_vote_of(session: Session, hood: Neighbourhood) -> tuple[Diagnostic, Vote] | None:
    """The vote the public reads, with its diagnostic: the latest campaign's that has one.

    A year-1 campaign opened before its own forum (or with none) leaves the year-0 vote and its
    results on the portal, instead of an empty forum page.
    """
    row = session.execute(
        select(Diagnostic, Vote)
        .join(Vote, Vote.diagnostic_id == Diagnostic.id)
        .where(Diagnostic.neighbourhood_id == hood.id)
        .order_by(Diagnostic.year.desc(), Diagnostic.id.desc(), Vote.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _vote_rows(session: Session, diag: Diagnostic) -> dict[str, list[dict[str, Any]]]:
    """The latest release's vote themes per language (empty before a release or without them)."""
    release = latest_release(session, diag.id)
    if release is None:
        return {}
    links = Figures.from_json(release.figures).links
    if links.get("status") != "ok":
        return {}
    return {lang: list((links.get(lang) or {}).get("votes") or []) for lang in ("fr", "en")}


def proposed_themes(session: Session, diag: Diagnostic, lang: str) -> list[str]:
    """The themes a new vote is opened on: the release's, by reduction potential, else the six
    usages."""
    rows = _vote_rows(session, diag).get("en" if lang == "en" else "fr")
    if rows:
        return [str(r["theme"]) for r in rows]
    return [USAGE_LABELS[u].render(lang) for u in USAGES]


@dataclass(frozen=True)
class ThemeView:
    """A theme of the vote as the pages show it, in the reader's language."""

    position: int
    stored: str
    label: str
    potential: str | None


def theme_views(session: Session, diag: Diagnostic, vote: Vote, lang: str) -> list[ThemeView]:
    """The vote's themes in the reader's language with their reduction potential (release)."""
    from qet_geo.exhibition import report

    lang = "en" if lang == "en" else "fr"
    rows = _vote_rows(session, diag)
    usage_of: dict[str, str] = {}
    for u in USAGES:
        for lg in ("fr", "en"):
            usage_of[USAGE_LABELS[u].render(lg)] = u
    for lg_rows in rows.values():
        for r in lg_rows:
            usage_of[str(r["theme"])] = str(r.get("usage", ""))
    mine = {str(r.get("usage", "")): r for r in rows.get(lang, [])}
    out = []
    for i, theme in enumerate(vote.themes):
        usage = usage_of.get(theme)
        row = mine.get(usage or "")
        if row is not None:
            label = str(row["theme"])
        elif usage is not None and usage in USAGE_LABELS:
            label = USAGE_LABELS[usage].render(lang)
        else:
            label = theme
        potential = None if row is None else report._num(row["potential"], 0, lang)
        out.append(ThemeView(i, theme, label, potential))
    return out


# --------------------------------------------------------------------------------------------------
# the team's page


def _team_page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    error: str | None = None,
    status: int = 200,
    question: str | None = None,
    n_codes: str | None = None,
) -> Response:
    lang = lang_of(request)
    diag = current_diagnostic(session, hood)
    vote = vote_of(session, diag)
    context: dict[str, Any] = {
        "hood": hood,
        "diag": diag,
        "vote": vote,
        "error": error,
        "can_write": visitor.caller.can_write(hood),
        "min_ballots": MIN_RESPONDENTS,
        "notice": _NOTICES.get(request.query_params.get("fait", "")),
    }
    if context["notice"] is not None:
        context["notice"] = context["notice"].render(lang)
    if diag is not None and vote is None:
        context["proposed"] = proposed_themes(session, diag, lang)
        context["question"] = (
            question
            if question is not None
            else msg("Sur quel thème voulez-vous que le quartier agisse en priorité ?").render(lang)
        )
        context["n_codes"] = n_codes if n_codes is not None else str(DEFAULT_CODES)
    if diag is not None and vote is not None:
        context["themes"] = theme_views(session, diag, vote, lang)
        context["mine"] = votes.paper_entry(session, vote.id, visitor.user.id)
        context["paper"] = votes.paper_result(session, vote.id)
        context["results"] = votes.vote_results(session, vote)
    return render(request, "forum_team.html", context, visitor=visitor, status=status)


_NOTICES = {
    "papier": msg("Votre décompte papier est enregistré."),
    "retire": msg("Votre décompte papier est retiré : vous pouvez le saisir à nouveau."),
    "clos": msg("Le vote est clos : plus aucun bulletin n'est accepté."),
}


@router.get("/espace/quartiers/{hood_id}/forum", response_class=HTMLResponse)
def team_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The forum's vote of the neighbourhood: create it, its paper counts, close it."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    return _team_page(request, session, visitor, hood)


@router.post("/espace/quartiers/{hood_id}/forum/vote", response_class=HTMLResponse)
def create_vote(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: FormStr = "",
    question: FormStr = "",
    n_codes: FormStr = "",
) -> Response:
    """Open the vote and show its codes once, as printable cards with a QR code each."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    lang = lang_of(request)
    diag = current_diagnostic(session, hood)

    def again(error: QetGeoError, status: int) -> Response:
        return _team_page(
            request,
            session,
            visitor,
            hood,
            error=error_sentence(error, lang),
            status=status,
            question=question,
            n_codes=n_codes,
        )

    if diag is None:
        return again(ConflictError(msg("ce quartier n'a pas encore de diagnostic.")), 409)
    if vote_of(session, diag) is not None:
        return again(ConflictError(msg("le vote de ce diagnostic existe déjà.")), 409)
    if not hood.slug:
        return again(
            ConflictError(
                msg(
                    "le portail du quartier n'a pas encore d'adresse : choisissez-la d'abord "
                    "sur la page du portail, les cartes de vote la portent."
                )
            ),
            409,
        )
    try:
        count = int(n_codes.strip())
    except ValueError:
        return again(ValidationError(msg("le nombre de codes doit être un nombre entier.")), 422)
    themes = proposed_themes(session, diag, lang)
    try:
        vote, codes = votes.open_vote(session, diag.id, question, themes, count)
    except ValidationError as exc:
        return again(exc, 422)
    base = str(request.base_url).rstrip("/")
    address = f"{base}/q/{hood.slug}/forum"
    title = msg("Code QR du vote").render(lang)
    cards = []
    for code in codes:
        bare = code.replace("-", "")
        cards.append(
            {
                "code": code,
                "qr": qr_svg(f"{address}?code={bare}", title=title),
                "spoken": " ".join(code),
            }
        )
    return render(
        request,
        "forum_codes.html",
        {"hood": hood, "vote": vote, "cards": cards, "address": address},
        visitor=visitor,
        status=201,
    )


@router.post("/espace/quartiers/{hood_id}/forum/papier", response_class=HTMLResponse)
def paper_count(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: FormStr = "",
    count: Annotated[list[str] | None, Form()] = None,
    blank: FormStr = "",
) -> Response:
    """Record the member's count of the paper ballots (per theme, and blank)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    lang = lang_of(request)
    vote = vote_of(session, current_diagnostic(session, hood))
    if vote is None:
        text = msg("Ce quartier n'a pas encore de vote : créez-le d'abord.").render(lang)
        return _team_page(request, session, visitor, hood, error=text, status=409)
    try:
        numbers = [int(n.strip() or "0") for n in (count or [])]
        n_blank = int(blank.strip() or "0")
    except ValueError:
        text = msg("Chaque nombre du décompte doit être un entier (0 si aucun bulletin).").render(
            lang
        )
        return _team_page(request, session, visitor, hood, error=text, status=422)
    try:
        votes.record_paper_count(session, vote, visitor.user.id, numbers, n_blank)
    except (ValidationError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _team_page(
            request, session, visitor, hood, error=error_sentence(exc, lang), status=status
        )
    return redirect(f"/espace/quartiers/{hood.id}/forum?fait=papier#papier")


@router.post("/espace/quartiers/{hood_id}/forum/papier/retirer", response_class=HTMLResponse)
def withdraw_paper(
    request: Request, session: SessionDep, hood_id: str, csrf: FormStr = ""
) -> Response:
    """Withdraw the member's own paper count (after a disagreement: recount, enter again)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    vote = vote_of(session, current_diagnostic(session, hood))
    if vote is not None:
        try:
            votes.withdraw_paper_count(session, vote, visitor.user.id)
        except ConflictError as exc:
            text = error_sentence(exc, lang_of(request))
            return _team_page(request, session, visitor, hood, error=text, status=409)
    return redirect(f"/espace/quartiers/{hood.id}/forum?fait=retire#papier")


@router.post("/espace/quartiers/{hood_id}/forum/clore", response_class=HTMLResponse)
def close(
    request: Request, session: SessionDep, hood_id: str, csrf: FormStr = "", confirm: FormStr = ""
) -> Response:
    """Close the vote, once the box "I confirm" is ticked."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    lang = lang_of(request)
    vote = vote_of(session, current_diagnostic(session, hood))
    if vote is None:
        text = msg("Ce quartier n'a pas encore de vote : créez-le d'abord.").render(lang)
        return _team_page(request, session, visitor, hood, error=text, status=409)
    if confirm != "oui":
        text = msg(
            "Cochez la case de confirmation pour clore le vote : la clôture est définitive."
        ).render(lang)
        return _team_page(request, session, visitor, hood, error=text, status=422)
    if vote.is_open and votes.paper_result(session, vote.id).status in ("one", "differ"):
        text = msg(
            "Les décomptes papier ne concordent pas encore : il faut deux décomptes égaux, saisis "
            "par deux membres de l'équipe, avant de clore le vote (ou aucun s'il n'y a pas eu de "
            "bulletin papier)."
        ).render(lang)
        return _team_page(request, session, visitor, hood, error=text, status=409)
    if vote.is_open:
        votes.close_vote(session, vote)
    return redirect(f"/espace/quartiers/{hood.id}/forum?fait=clos")


# --------------------------------------------------------------------------------------------------
# the public page


def _public_page(
    request: Request,
    session: Session,
    hood: Neighbourhood,
    *,
    kiosk: bool,
    code: str = "",
    error: str | None = None,
    status: int = 200,
    voted: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    lang = lang_of(request)
    found = public_vote_of(session, hood)
    diag, vote = (None, None) if found is None else found
    forum = next(p for p in phases_of(session, hood.id) if p.key == "forum")
    start = None if forum.starts_on is None else day(forum.starts_on).render(lang)
    end = None if forum.starts_on is None else day(forum.ends_on or forum.starts_on).render(lang)
    context: dict[str, Any] = {
        "hood": hood,
        "section": "forum",
        "kiosk": kiosk,
        "forum": forum,
        "start": start,
        "end": end,
        "vote": vote,
        "code": code,
        "error": error,
        "voted": voted,
        "min_ballots": MIN_RESPONDENTS,
    }
    if vote is not None and diag is not None:
        context["themes"] = theme_views(session, diag, vote, lang)
        if not vote.is_open:
            context["results"] = votes.vote_results(session, vote)
    return render(
        request,
        "forum_public.html",
        context,
        status=status,
        headers=headers,
        form_token=new_form_token(),
    )


@router.get("/q/{slug}/forum", response_class=HTMLResponse)
def public_page(request: Request, session: SessionDep, slug: str) -> Response:
    """The forum of a published portal: its vote, and its results once closed."""
    hood = published_hood(request, session, slug)
    query = request.query_params
    code = query.get("code", "")[:100]
    return _public_page(
        request,
        session,
        hood,
        kiosk=query.get("kiosque") == "1",
        code=code,
        voted=query.get("vote") == "ok",
    )


@router.post("/q/{slug}/forum", response_class=HTMLResponse)
def public_vote(
    request: Request,
    session: SessionDep,
    slug: str,
    csrf: FormStr = "",
    code: FormStr = "",
    choice: FormStr = "",
    kiosque: FormStr = "",
) -> Response:
    """Cast a ballot with a participant code; a wrong code counts against the client."""
    check_csrf(request, None, csrf)
    hood = published_hood(request, session, slug)
    kiosk = kiosque == "1"
    lang = lang_of(request)
    throttle = vote_throttle(request)
    client = client_address(request, request.app.state.settings.trusted_proxies)
    wait = throttle.retry_after(client)
    if wait:
        text = msg(
            "Trop de codes erronés depuis cette adresse : réessayez dans {wait} secondes, et "
            "vérifiez le code sur votre carte.",
            wait=wait,
        ).render(lang)
        return _public_page(
            request,
            session,
            hood,
            kiosk=kiosk,
            error=text,
            status=429,
            headers={"Retry-After": str(wait)},
        )
    found = public_vote_of(session, hood)
    vote = None if found is None else found[1]
    if vote is None:
        text = msg("Aucun vote n'est ouvert sur ce portail.").render(lang)
        return _public_page(request, session, hood, kiosk=kiosk, error=text, status=409)
    code = code[:100]
    if not choice.isdigit() or int(choice) >= len(vote.themes):
        text = msg("Choisissez un thème avant de voter.").render(lang)
        return _public_page(request, session, hood, kiosk=kiosk, code=code, error=text, status=422)
    try:
        votes.cast_ballot(session, vote.id, code, [vote.themes[int(choice)]])
    except votes.WrongCodeError:
        throttle.failed(client)
        text = msg(
            "Ce code n'est pas un code de ce vote : vérifiez-le sur votre carte (les tirets, "
            "espaces et majuscules ne comptent pas)."
        ).render(lang)
        return _public_page(request, session, hood, kiosk=kiosk, error=text, status=403)
    except (ConflictError, ValidationError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _public_page(
            request, session, hood, kiosk=kiosk, error=error_sentence(exc, lang), status=status
        )
    target = f"/q/{hood.slug}/forum?vote=ok"
    return redirect(target + "&kiosque=1#vote" if kiosk else target + "#vote")
