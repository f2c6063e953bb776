"""Meetings and workshops (phases 2 to 5): the team's pages and the public agenda (issue 16).

- ``/espace/quartiers/{id}/ateliers`` (the pilot team): the neighbourhood's events and the form
  that creates one; ``/espace/quartiers/{id}/ateliers/{event}``: an event's "before" (title,
  kind, phase, date and time, place, agenda in Markdown, capacity), its "after" (minutes,
  attendance and contributions, outputs: shared narrative, objectives, problems to solve) with
  the Markdown shown as the public reads it, and publishing or withdrawing it.
- ``/q/{slug}/ateliers`` (everyone): the published events to come, each with a registration form
  "we will be N" (a count, no name; CSRF by form token; limited per client like the vote's
  wrong codes) and the usage profiles it invites (links to their pages,
  :mod:`api.web.posters`), and the past ones with their minutes and outputs.

A workshop may invite usage profiles of the campaign's latest release (checkboxes of the
"before" form); the team reads the registrations made from each profile's page under the
≥ 11 rule (:func:`qet_geo.store.events.profile_counts`), the public never.

The logic is :mod:`qet_geo.store.events`; counts of people shown to the public pass
:func:`qet_geo.store.events.public_count` (0 or ≥ 11, else "fewer than 11"). Markdown becomes
HTML through :func:`qet_geo.escaping.markdown_html` only. Dates are typed and shown in French
time (Europe/Paris) and stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api._throttle import FailureThrottle, client_address
from api.dependencies import SessionDep
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    error_sentence,
    hood_for_page,
    lang_of,
    new_form_token,
    not_found,
    now,
    published_hood,
    redirect,
    render,
    signed_in,
    writable_hood,
)
from qet_geo.errors import ValidationError
from qet_geo.escaping import markdown_html
from qet_geo.i18n import Msg, day, msg
from qet_geo.store import events as store_events
from qet_geo.store.events import (
    EVENT_PHASES,
    KIND_LABELS,
    KINDS,
    MAX_PARTY,
    MIN_CAPACITY,
    OUTPUT_LABELS,
    OUTPUTS,
    profile_counts,
    public_count,
)
from qet_geo.store.models import ConflictError, Event, Neighbourhood, NotFoundError
from qet_geo.store.portal import PHASE_LABELS

if TYPE_CHECKING:
    from api.web.posters import ReleaseProfiles

__all__ = ["event_view", "registration", "router"]

#: The checked boxes of a form (an empty list when none is).
FormList = Annotated[list[str], Form()]

router = APIRouter(include_in_schema=False)

#: The time zone dates are typed and read in.
PARIS = ZoneInfo("Europe/Paris")
#: Registrations per client address in :data:`REGISTER_WINDOW_S` seconds.
REGISTER_LIMIT = 5
REGISTER_WINDOW_S = 600.0

_NOTICES: dict[str, Msg] = {
    "cree": msg("Événement créé : complétez-le, puis publiez-le quand il est prêt."),
    "avant": msg("Préparation enregistrée."),
    "apres": msg("Compte rendu enregistré."),
    "publie": msg("L'événement est publié : il paraît sur le portail."),
    "retire": msg("L'événement est retiré du portail."),
}


def register_throttle(request: Request) -> FailureThrottle:
    """The app's limit of registrations per client (each attempt counts)."""
    state = request.app.state
    throttle: FailureThrottle | None = getattr(state, "event_throttle", None)
    if throttle is None:
        throttle = FailureThrottle(REGISTER_LIMIT, REGISTER_WINDOW_S)
        state.event_throttle = throttle
    return throttle


def _when_of(text: str) -> datetime | None:
    """A form's date and time (``YYYY-MM-DDTHH:MM``, French time), None if empty."""
    text = text.strip()
    if not text:
        return None
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            msg(
                "Date et heure illisibles « {text} » : écrivez-les au format AAAA-MM-JJTHH:MM "
                "(par exemple 2027-03-14T18:30).",
                text=text[:20],
            )
        ) from None
    return typed.replace(tzinfo=PARIS) if typed.tzinfo is None else typed


def _int_of(text: str, what: Msg) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError(msg("{what} doit être un nombre entier.", what=what)) from None


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else store_events._aware(value).astimezone(PARIS)  # type: ignore[union-attr]


def when_text(value: datetime | None, lang: str) -> str:
    """An event's date and time in words, in French time."""
    local = _local(value)
    if local is None:
        return msg("date à préciser").render(lang)
    return msg("{day} à {time}", day=day(local.date()), time=local.strftime("%H:%M")).render(lang)


def _before_form(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {
            "title": "",
            "kind": "atelier",
            "phase": "inspiration",
            "starts_at": "",
            "place": "",
            "agenda": "",
            "capacity": "",
            "profiles": [],
        }
    local = _local(event.starts_at)
    return {
        "title": event.title,
        "kind": event.kind,
        "phase": event.phase,
        "starts_at": local.strftime("%Y-%m-%dT%H:%M") if local else "",
        "place": event.place,
        "agenda": event.agenda,
        "capacity": "" if event.capacity is None else str(event.capacity),
        "profiles": [str(n) for n in event.profiles or []],
    }


def _after_form(event: Event) -> dict[str, str]:
    form = {
        "minutes": event.minutes,
        "attendance": "" if event.attendance is None else str(event.attendance),
        "contributions": "" if event.contributions is None else str(event.contributions),
    }
    for key in OUTPUTS:
        form[key] = str((event.outputs or {}).get(key, ""))
    return form


def _release_profiles(session: Session, hood: Neighbourhood, lang: str) -> ReleaseProfiles | None:
    """The usage profiles of the campaign's latest release (None before it)."""
    from api.web.posters import release_profiles

    return release_profiles(session, hood, lang)


def _choices(lang: str, profiles: ReleaseProfiles | None = None) -> dict[str, Any]:
    return {
        "kinds": [(k, KIND_LABELS[k].render(lang)) for k in KINDS],
        "phases": [(p, PHASE_LABELS[p].render(lang)) for p in EVENT_PHASES],
        "outputs": [(k, OUTPUT_LABELS[k].render(lang)) for k in OUTPUTS],
        "min_capacity": MIN_CAPACITY,
        "profile_choices": [
            (str(p.number), p.name, p.share, p.description)
            for p in (profiles.profiles if profiles is not None else [])
        ],
    }


def _invited(event: Event, lang: str) -> list[dict[str, Any]]:
    """The profiles an event invites and the registrations from their pages, as the team reads
    them (from 11, else "fewer than 11": :func:`qet_geo.store.events.profile_counts`)."""
    return [
        {
            "number": n,
            "name": msg("Profil {n}", n=n).render(lang),
            "invited": n in (event.profiles or []),
            "count": shown.render(lang),
        }
        for n, shown in profile_counts(event).items()
    ]


def _row(event: Event, lang: str) -> dict[str, Any]:
    """What the team's list shows of an event."""
    return {
        "invited": _invited(event, lang),
        "id": event.id,
        "title": event.title,
        "kind": KIND_LABELS.get(event.kind, msg("Atelier")).render(lang),
        "phase": PHASE_LABELS[event.phase].render(lang) if event.phase in PHASE_LABELS else "",
        "when": when_text(event.starts_at, lang),
        "registrations": event.registrations,
        "capacity": event.capacity,
        "published": event.published,
    }


def _profile_numbers(values: list[str]) -> list[int]:
    """The checked profiles of a form, as numbers."""
    numbers = []
    for value in values:
        value = value.strip()
        if not value.isdigit() or len(value) > 3:
            raise ValidationError(
                msg("Profil inconnu « {value} » : cochez les profils proposés.", value=value[:20])
            )
        numbers.append(int(value))
    return numbers


def _before(
    title: str,
    kind: str,
    phase: str,
    starts_at: str,
    place: str,
    agenda: str,
    capacity: str,
    profiles: list[str],
    known: ReleaseProfiles | None,
) -> dict[str, Any]:
    return {
        "profiles": _profile_numbers(profiles),
        "known_profiles": known.numbers if known is not None else [],
        "title": title,
        "kind": kind,
        "phase": phase,
        "starts_at": _when_of(starts_at),
        "place": place,
        "agenda": agenda,
        "capacity": _int_of(capacity, msg("La capacité")),
    }


# --------------------------------------------------------------------------------------------------
# the team's pages


def _event(request: Request, session: Session, visitor: Visitor, hood: Any, event_id: str) -> Event:
    if not event_id.isdigit() or len(event_id) > 12:
        raise not_found(request, visitor)
    try:
        return store_events.event_of(session, hood.id, int(event_id))
    except NotFoundError:
        raise not_found(request, visitor) from None


def _list_page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    lang = lang_of(request)
    profiles = _release_profiles(session, hood, lang)
    context: dict[str, Any] = {
        "hood": hood,
        "rows": [_row(e, lang) for e in store_events.events_of(session, hood.id)],
        "form": form or _before_form(None),
        "error": error,
        "can_write": visitor.caller.can_write(hood),
        "has_release": profiles is not None,
        **_choices(lang, profiles),
    }
    return render(request, "events_team.html", context, visitor=visitor, status=status)


@router.get("/espace/quartiers/{hood_id}/ateliers", response_class=HTMLResponse)
def team_list(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The neighbourhood's meetings and workshops, and the form that creates one."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    return _list_page(request, session, visitor, hood)


@router.post("/espace/quartiers/{hood_id}/ateliers", response_class=HTMLResponse)
def team_create(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: FormStr = "",
    title: FormStr = "",
    kind: FormStr = "",
    phase: FormStr = "",
    starts_at: FormStr = "",
    place: FormStr = "",
    agenda: FormStr = "",
    capacity: FormStr = "",
    profiles: FormList = [],  # noqa: B006 (FastAPI copies a form's default)
) -> Response:
    """Create an (unpublished) event, then go to its page."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    typed = {
        "title": title,
        "kind": kind,
        "phase": phase,
        "starts_at": starts_at,
        "place": place,
        "agenda": agenda,
        "capacity": capacity,
        "profiles": profiles,
    }
    try:
        known = _release_profiles(session, hood, lang_of(request))
        fields = _before(title, kind, phase, starts_at, place, agenda, capacity, profiles, known)
        event = store_events.create_event(session, hood.id, **fields)
    except ValidationError as exc:
        return _list_page(
            request,
            session,
            visitor,
            hood,
            form=typed,
            error=error_sentence(exc, lang_of(request)),
            status=422,
        )
    return redirect(f"/espace/quartiers/{hood.id}/ateliers/{event.id}?fait=cree")


def _edit_page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    event: Event,
    *,
    before: dict[str, Any] | None = None,
    before_error: str | None = None,
    after: dict[str, str] | None = None,
    after_error: str | None = None,
    status: int = 200,
) -> Response:
    lang = lang_of(request)
    profiles = _release_profiles(session, hood, lang)
    done = _NOTICES.get(request.query_params.get("fait", ""))
    outputs = event.outputs or {}
    context: dict[str, Any] = {
        "hood": hood,
        "event": event,
        "row": _row(event, lang),
        "notice": done.render(lang) if done is not None else None,
        "before": before or _before_form(event),
        "before_error": before_error,
        "after": after or _after_form(event),
        "after_error": after_error,
        "can_write": visitor.caller.can_write(hood),
        "agenda_html": markdown_html(event.agenda, top=4) if event.agenda.strip() else "",
        "minutes_html": markdown_html(event.minutes, top=4) if event.minutes.strip() else "",
        "outputs_html": [
            (OUTPUT_LABELS[k].render(lang), markdown_html(outputs[k], top=4))
            for k in OUTPUTS
            if str(outputs.get(k, "")).strip()
        ],
        "has_release": profiles is not None,
        "opt_in": [
            (p.name, f"/q/{hood.slug}/profils/{p.number}")
            for p in (profiles.profiles if profiles is not None and hood.slug else [])
            if p.number in (event.profiles or [])
        ],
        **_choices(lang, profiles),
    }
    return render(request, "events_edit.html", context, visitor=visitor, status=status)


@router.get("/espace/quartiers/{hood_id}/ateliers/{event_id}", response_class=HTMLResponse)
def team_event(request: Request, session: SessionDep, hood_id: str, event_id: str) -> Response:
    """An event: its preparation, its minutes and outputs, its publication."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    event = _event(request, session, visitor, hood, event_id)
    return _edit_page(request, session, visitor, hood, event)


@router.post("/espace/quartiers/{hood_id}/ateliers/{event_id}/avant", response_class=HTMLResponse)
def team_before(
    request: Request,
    session: SessionDep,
    hood_id: str,
    event_id: str,
    csrf: FormStr = "",
    title: FormStr = "",
    kind: FormStr = "",
    phase: FormStr = "",
    starts_at: FormStr = "",
    place: FormStr = "",
    agenda: FormStr = "",
    capacity: FormStr = "",
    profiles: FormList = [],  # noqa: B006 (FastAPI copies a form's default)
) -> Response:
    """Rewrite an event's preparation (title, kind, phase, date, place, agenda, capacity)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    event = _event(request, session, visitor, hood, event_id)
    typed = {
        "title": title,
        "kind": kind,
        "phase": phase,
        "starts_at": starts_at,
        "place": place,
        "agenda": agenda,
        "capacity": capacity,
        "profiles": profiles,
    }
    try:
        known = _release_profiles(session, hood, lang_of(request))
        fields = _before(title, kind, phase, starts_at, place, agenda, capacity, profiles, known)
        store_events.update_before(session, event, **fields)
    except (ValidationError, ConflictError) as exc:
        return _edit_page(
            request,
            session,
            visitor,
            hood,
            event,
            before=typed,
            before_error=error_sentence(exc, lang_of(request)),
            status=409 if isinstance(exc, ConflictError) else 422,
        )
    return redirect(f"/espace/quartiers/{hood.id}/ateliers/{event.id}?fait=avant")


@router.post("/espace/quartiers/{hood_id}/ateliers/{event_id}/apres", response_class=HTMLResponse)
def team_after(
    request: Request,
    session: SessionDep,
    hood_id: str,
    event_id: str,
    csrf: FormStr = "",
    minutes: FormStr = "",
    attendance: FormStr = "",
    contributions: FormStr = "",
    narrative: FormStr = "",
    objectives: FormStr = "",
    problems: FormStr = "",
) -> Response:
    """Write an event's minutes, attendance and contributions counts and outputs."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    event = _event(request, session, visitor, hood, event_id)
    typed = {
        "minutes": minutes,
        "attendance": attendance,
        "contributions": contributions,
        "narrative": narrative,
        "objectives": objectives,
        "problems": problems,
    }
    try:
        store_events.update_after(
            session,
            event,
            minutes=minutes,
            attendance=_int_of(attendance, msg("Le nombre de participants")),
            contributions=_int_of(contributions, msg("Le nombre de contributions")),
            outputs={"narrative": narrative, "objectives": objectives, "problems": problems},
        )
    except ValidationError as exc:
        return _edit_page(
            request,
            session,
            visitor,
            hood,
            event,
            after=typed,
            after_error=error_sentence(exc, lang_of(request)),
            status=422,
        )
    return redirect(f"/espace/quartiers/{hood.id}/ateliers/{event.id}?fait=apres#apres")


@router.post(
    "/espace/quartiers/{hood_id}/ateliers/{event_id}/publication", response_class=HTMLResponse
)
def team_publish(
    request: Request,
    session: SessionDep,
    hood_id: str,
    event_id: str,
    csrf: FormStr = "",
    action: FormStr = "",
) -> Response:
    """Publish the event on the portal (``action=publier``) or withdraw it (``retirer``)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    event = _event(request, session, visitor, hood, event_id)
    if action not in ("publier", "retirer"):
        text = msg("Action inconnue : publiez ou retirez l'événement.").render(lang_of(request))
        return _edit_page(request, session, visitor, hood, event, before_error=text, status=422)
    store_events.publish_event(session, event, action == "publier")
    done = "publie" if action == "publier" else "retire"
    return redirect(f"/espace/quartiers/{hood.id}/ateliers/{event.id}?fait={done}")


# --------------------------------------------------------------------------------------------------
# the public agenda


def event_view(
    event: Event, lang: str, invites: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """An event as the public reads it; ``invites``: the (name, address) of the profile pages
    that invite to it."""
    outputs = event.outputs or {}
    registered = public_count(event.registrations)
    attendance = public_count(event.attendance)
    contributions = public_count(event.contributions)
    full = event.capacity is not None and event.registrations >= event.capacity
    return {
        "id": event.id,
        "title": event.title,
        "kind": KIND_LABELS.get(event.kind, msg("Atelier")).render(lang),
        "phase": PHASE_LABELS[event.phase].render(lang) if event.phase in PHASE_LABELS else "",
        "when": when_text(event.starts_at, lang),
        "iso": store_events._aware(event.starts_at).isoformat() if event.starts_at else "",  # type: ignore[union-attr]
        "place": event.place,
        "capacity": event.capacity,
        "full": full,
        "registered": registered.render(lang) if registered is not None else None,
        "invites": invites or [],
        "attendance": attendance.render(lang) if attendance is not None else None,
        "contributions": contributions.render(lang) if contributions is not None else None,
        "agenda_html": markdown_html(event.agenda, top=5) if event.agenda.strip() else "",
        "minutes_html": markdown_html(event.minutes, top=5) if event.minutes.strip() else "",
        "outputs_html": [
            (OUTPUT_LABELS[k].render(lang), markdown_html(outputs[k], top=5))
            for k in OUTPUTS
            if str(outputs.get(k, "")).strip()
        ],
    }


def _public_page(
    request: Request,
    session: Session,
    hood: Neighbourhood,
    *,
    error: str | None = None,
    error_for: int | None = None,
    party: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    lang = lang_of(request)
    found = store_events.public_events(session, hood.id, now(request))
    profiles = _release_profiles(session, hood, lang)
    pages = {p.number: p.name for p in (profiles.profiles if profiles is not None else [])}

    def invites(event: Event) -> list[tuple[str, str]]:
        return [
            (pages[n], f"/q/{hood.slug}/profils/{n}") for n in event.profiles or [] if n in pages
        ]

    context: dict[str, Any] = {
        "hood": hood,
        "section": "ateliers",
        "kiosk": False,
        "upcoming": [event_view(e, lang, invites(e)) for e in found.upcoming],
        "past": [event_view(e, lang) for e in found.past],
    }
    return render_registration(
        request, "events_public.html", context, error=error, error_for=error_for, party=party,
        status=status, headers=headers,
    )  # fmt: skip


def render_registration(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    error: str | None,
    error_for: int | None,
    party: str,
    status: int,
    headers: dict[str, str] | None,
) -> Response:
    """A public page with the registration-by-count form (the agenda, a profile's page): the
    form's state (its error and the workshop it is for, the party typed, the workshop just
    registered for from ``?inscrit=``) and a new form token, since no account is used."""
    registered = request.query_params.get("inscrit", "")
    context = {
        **context,
        "error": error,
        "error_for": error_for,
        "party": party,
        "max_party": MAX_PARTY,
        "registered_id": int(registered) if registered.isdigit() and len(registered) < 12 else None,
    }
    return render(
        request, template, context, status=status, headers=headers, form_token=new_form_token()
    )


@router.get("/q/{slug}/ateliers", response_class=HTMLResponse)
def public_agenda(request: Request, session: SessionDep, slug: str) -> Response:
    """The published meetings and workshops: to come (with registration), and past."""
    hood = published_hood(request, session, slug)
    return _public_page(request, session, hood)


def registration(
    request: Request,
    session: Session,
    hood: Neighbourhood,
    event_id: str,
    party: str,
    *,
    page: Callable[..., Response],
    back: str,
    profile: int | None = None,
) -> Response:
    """A public registration form sent (its CSRF token already checked): N people to an event
    to come, a count and no name, limited per client address.

    Parameters
    ----------
    page
        The page to show again with the error (``error``, ``error_for``, ``party``,
        ``status``, ``headers``).
    back
        The page to go back to once registered (``?inscrit={event}`` is added).
    profile
        The invited profile whose page the form is on (:mod:`api.web.posters`): its count grows
        with the event's.
    """
    lang = lang_of(request)
    if not event_id.isdigit() or len(event_id) > 12:
        raise not_found(request, None)
    target = int(event_id)
    throttle = register_throttle(request)
    client = client_address(request, request.app.state.settings.trusted_proxies)
    wait = throttle.retry_after(client)
    if wait:
        text = msg(
            "Trop d'inscriptions depuis cette adresse : réessayez dans {wait} secondes.", wait=wait
        ).render(lang)
        return page(
            error=text,
            error_for=target,
            party=party[:10],
            status=429,
            headers={"Retry-After": str(wait)},
        )
    throttle.failed(client)  # every attempt counts: registrations add to a public count
    try:
        count = _int_of(party, msg("Le nombre de personnes"))
        if count is None:
            raise ValidationError(
                msg("Indiquez combien vous serez, de 1 à {n} personnes.", n=MAX_PARTY)
            )
        store_events.register(session, hood.id, target, count, now=now(request), profile=profile)
    except NotFoundError:
        raise not_found(request, None) from None
    except (ValidationError, ConflictError) as exc:
        return page(
            error=error_sentence(exc, lang),
            error_for=target,
            party=party[:10],
            status=409 if isinstance(exc, ConflictError) else 422,
        )
    return redirect(f"{back}?inscrit={target}#atelier-{target}")


@router.post("/q/{slug}/ateliers/{event_id}/inscription", response_class=HTMLResponse)
def public_register(
    request: Request,
    session: SessionDep,
    slug: str,
    event_id: str,
    csrf: FormStr = "",
    party: FormStr = "",
) -> Response:
    """Register N people to an event to come (a count, no name)."""
    check_csrf(request, None, csrf)
    hood = published_hood(request, session, slug)
    return registration(
        request,
        session,
        hood,
        event_id,
        party,
        page=partial(_public_page, request, session, hood),
        back=f"/q/{hood.slug}/ateliers",
    )
