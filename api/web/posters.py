"""Profile posters and the profile opt-in (issue 16): residents who share a usage profile are
invited to workshops without anyone's profile being revealed.

- ``/espace/quartiers/{id}/forum/affiches`` (the pilot team): one printable A4 poster per usage
  profile of the campaign's latest release (:func:`release_profiles`) (its own profiles, else the reference profiles whose
  shares it publishes): the profile in plain words (its usage levels as sentences, what the
  forum's exhibition says of it), its share as the release publishes it, and a QR code holding
  the printed address of the profile's public page. The poster is the same for everyone: the
  address carries no code, no token, nothing that tells one reader from another.
- ``/q/{slug}/profils/{number}`` (everyone): the profile's description, "vous vous reconnaissez ?
  ces ateliers vous invitent", and the published workshops to come that invite it, each with the
  usual registration by count (:func:`api.web.events.registration`, the same capacity rules,
  per-client limit and CSRF form token as the public agenda). The registration adds the party
  to the event's count and to that profile's count (:func:`qet_geo.store.events.register`);
  nothing about the person is kept.

Nobody's profile is revealed: the profile page is reached by choosing to scan a poster that
everyone sees, it never lists who belongs to a profile, and the counts per profile page are
shown to the team only, as "fewer than 11" below 11 (:func:`qet_geo.store.events.
profile_counts`), never to the public. Every figure comes from the latest release
(:func:`qet_geo.store.releases.latest_release`), described as the results pages describe it
(:mod:`api.web.analysis`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import SessionDep
from api.web import analysis
from api.web import events as web_events
from api.web._kit import (
    FormStr,
    check_csrf,
    hood_for_page,
    lang_of,
    not_found,
    now,
    published_hood,
    render,
    signed_in,
)
from qet_geo.escaping import qr_svg
from qet_geo.i18n import Msg, day, join, msg
from qet_geo.store import events as store_events
from qet_geo.store.models import Diagnostic, Neighbourhood, Profile, Release
from qet_geo.store.releases import Figures, latest_release
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["ProfileCard", "ReleaseProfiles", "opt_in_path", "release_profiles", "router"]

router = APIRouter(include_in_schema=False)


@dataclass
class ProfileCard:
    """A usage profile of a release, in words, as a poster and its public page show it."""

    number: int
    name: str
    share: str
    description: str
    #: one sentence per usage: "Mobilité quotidienne : voiture individuelle"
    sentences: list[str] = field(default_factory=list)
    #: what the forum's exhibition says of it, in sentences
    exhibition: list[str] = field(default_factory=list)


@dataclass
class ReleaseProfiles:
    """The profiles of a campaign's latest release: its own, else the reference ones."""

    diag: Diagnostic
    release: Release
    own: bool
    profiles: list[ProfileCard]
    released_on: str

    def card(self, number: int) -> ProfileCard | None:
        """The profile numbered ``number`` ("Profil 1" is 1), None if the release has none."""
        return next((p for p in self.profiles if p.number == number), None)

    @property
    def numbers(self) -> list[int]:
        return [p.number for p in self.profiles]


def opt_in_path(hood: Neighbourhood, number: int) -> str:
    """The public page of a profile (the address its poster prints and its QR code holds)."""
    return f"/q/{hood.slug}/profils/{number}"


def _sentences(levels: dict[str, float], lang: str) -> list[str]:
    """A profile's centre as one sentence per usage, as the results pages describe it."""
    return [analysis._describe({u: levels[u]}, lang) for u in USAGES if u in levels]


def _extremes(levels: dict[str, float], lang: str) -> list[str]:
    """Where the profile's answers are the most and the least emitting of the survey's three."""

    def at(level: int) -> list[Msg | str]:
        return [
            USAGE_LABELS[u]
            for u in USAGES
            if u in levels and min(3, max(1, round(float(levels[u])))) == level
        ]

    out: list[str] = []
    if most := at(3):
        out.append(
            msg(
                "Ses réponses sont les plus émettrices de l'enquête pour : {usages}.",
                usages=join(most, ", "),
            ).render(lang)
        )
    if least := at(1):
        out.append(
            msg(
                "Ses réponses sont les plus sobres de l'enquête pour : {usages}.",
                usages=join(least, ", "),
            ).render(lang)
        )
    return out


def _national_centres(session: Session) -> dict[str, dict[str, float]]:
    """The reference (national) profiles' centres as usage levels 1 to 3, by key."""
    rows = session.scalars(
        select(Profile).where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
    ).all()
    return {str(p.number): {u: float(v) + 1.0 for u, v in p.centre.items()} for p in rows}


def release_profiles(
    session: Session, hood: Neighbourhood, lang: str, *, with_theme: bool = False
) -> ReleaseProfiles | None:
    """The usage profiles of the latest release of the neighbourhood's current campaign (or,
    while a new campaign has no release yet, of the latest campaign that has one).

    Its own profiles when it publishes them, else the reference profiles whose shares it
    publishes; each with its share as the release publishes it and its description. None
    before the first release. ``with_theme``: say on each profile the theme the campaign's
    forum vote chose, once its results are published (:func:`api.web.portal.chosen_theme`).
    """
    diag = analysis.current_diagnostic(session, hood)
    release = latest_release(session, diag.id) if diag is not None else None
    if release is None:  # a new campaign not yet released: the workshops go on with the last one
        diag = session.scalars(
            select(Diagnostic)
            .join(Release, Release.diagnostic_id == Diagnostic.id)
            .where(Diagnostic.neighbourhood_id == hood.id)
            .order_by(Diagnostic.year.desc(), Diagnostic.id.desc())
            .limit(1)
        ).first()
        release = latest_release(session, diag.id) if diag is not None else None
    if diag is None or release is None:
        return None
    figures = Figures.from_json(release.figures)
    theme = None
    if with_theme:
        from api.web.portal import chosen_theme

        theme = chosen_theme(session, hood, lang)
    shown = msg(
        "Publication n° {number} du {day}", number=release.number, day=day(release.created_at)
    )
    cards: list[ProfileCard] = []
    own = bool(figures.own_profiles)
    rows: list[tuple[int, float | None, dict[str, float]]] = []
    if own:
        for p in figures.own_profiles:
            levels = {str(k): float(v) for k, v in (p.get("centre_levels") or {}).items()}
            rows.append((int(p["number"]) + 1, p.get("share"), levels))
    else:
        centres = _national_centres(session)
        for key, value in figures.profile_shares.items():
            if str(key).isdigit():
                rows.append((int(key) + 1, value, centres.get(str(key), {})))
    for number, share, levels in sorted(rows, key=lambda r: r[0]):
        pct = analysis._pct(share, lang)
        exhibition = [
            msg(
                "À l'exposition du forum, ce profil rassemble {share} des répondants du "
                "diagnostic {year} ({release}).",
                share=pct,
                year=diag.year,
                release=shown,
            ).render(lang),
            *_extremes(levels, lang),
        ]
        if theme:
            exhibition.append(
                msg(
                    "Le vote du forum a choisi le thème « {theme} » : les ateliers y travaillent.",
                    theme=theme,
                ).render(lang)
            )
        cards.append(
            ProfileCard(
                number=number,
                name=msg("Profil {n}", n=number).render(lang),
                share=pct,
                description=analysis._describe(levels, lang) if levels else "",
                sentences=_sentences(levels, lang),
                exhibition=exhibition,
            )
        )
    return ReleaseProfiles(
        diag=diag,
        release=release,
        own=own,
        profiles=cards,
        released_on=day(release.created_at).render(lang),
    )


# --------------------------------------------------------------------------------------------------
# the team's posters


@router.get("/espace/quartiers/{hood_id}/forum/affiches", response_class=HTMLResponse)
def posters(request: Request, session: SessionDep, hood_id: str) -> Response:
    """One printable poster per usage profile of the latest release, with its QR code."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    lang = lang_of(request)
    diag = analysis.current_diagnostic(session, hood)
    found = release_profiles(session, hood, lang, with_theme=True)
    base = str(request.base_url).rstrip("/")
    sheets: list[dict[str, Any]] = []
    if found is not None and hood.slug:
        for card in found.profiles:
            address = base + opt_in_path(hood, card.number)
            title = msg("Code QR de la page du {name}", name=card.name).render(lang)
            sheets.append({"card": card, "address": address, "qr": qr_svg(address, title=title)})
    context = {
        "hood": hood,
        "diag": diag,
        "found": found,
        "sheets": sheets,
    }
    return render(request, "posters_team.html", context, visitor=visitor)


# --------------------------------------------------------------------------------------------------
# the public opt-in


def _card_of(
    request: Request,
    session: Session,
    hood: Neighbourhood,
    number: str,
    lang: str,
    *,
    with_theme: bool = False,
) -> tuple[ReleaseProfiles, ProfileCard]:
    if not number.isdigit() or len(number) > 3:
        raise not_found(request, None)
    found = release_profiles(session, hood, lang, with_theme=with_theme)
    card = found.card(int(number)) if found is not None else None
    if found is None or card is None:
        raise not_found(request, None)
    return found, card


def _opt_in_page(
    request: Request,
    session: Session,
    hood: Neighbourhood,
    found: ReleaseProfiles,
    card: ProfileCard,
    *,
    error: str | None = None,
    error_for: int | None = None,
    party: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    lang = lang_of(request)
    upcoming = store_events.public_events(session, hood.id, now(request)).upcoming
    invited = [e for e in upcoming if card.number in (e.profiles or [])]
    context: dict[str, Any] = {
        "hood": hood,
        "section": "ateliers",
        "kiosk": False,
        "found": found,
        "card": card,
        "upcoming": [web_events.event_view(e, lang) for e in invited],
        "action": opt_in_path(hood, card.number),
    }
    return web_events.render_registration(
        request, "posters_opt_in.html", context, error=error, error_for=error_for, party=party,
        status=status, headers=headers,
    )  # fmt: skip


@router.get("/q/{slug}/profils/{number}", response_class=HTMLResponse)
def opt_in(request: Request, session: SessionDep, slug: str, number: str) -> Response:
    """A usage profile's public page: its description and the workshops that invite it."""
    hood = published_hood(request, session, slug)
    found, card = _card_of(request, session, hood, number, lang_of(request), with_theme=True)
    return _opt_in_page(request, session, hood, found, card)


@router.post(
    "/q/{slug}/profils/{number}/ateliers/{event_id}/inscription", response_class=HTMLResponse
)
def opt_in_register(
    request: Request,
    session: SessionDep,
    slug: str,
    number: str,
    event_id: str,
    csrf: FormStr = "",
    party: FormStr = "",
) -> Response:
    """Register N people, from the profile's page, to a workshop that invites it (a count)."""
    check_csrf(request, None, csrf)
    hood = published_hood(request, session, slug)
    found, card = _card_of(request, session, hood, number, lang_of(request))
    return web_events.registration(
        request,
        session,
        hood,
        event_id,
        party,
        profile=card.number,
        page=partial(_opt_in_page, request, session, hood, found, card),
        back=opt_in_path(hood, card.number),
    )
