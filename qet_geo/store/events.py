"""Meetings and workshops of a neighbourhood's process (phases 2 to 5), before and after.

Before an event the pilot team writes its title, kind, phase, date and time, place, agenda
(Markdown) and capacity (:func:`create_event`, :func:`update_before`); residents register *by
count* ("we will be 3", :func:`register`: no name is kept). After it the team writes the
minutes (Markdown), the attendance and contributions counts and the outputs (:data:`OUTPUTS`:
shared narrative, objectives, problems to solve; :func:`update_after`). The public reads an
event only once the team publishes it (:func:`publish_event`, :func:`public_events`).

Counts of people follow the ≥ 11 rule of ``docs/privacy.md`` when shown to the public
(:func:`public_count`: 0 or at least 11 as a number, else "fewer than 11"). A capacity, when
set, is at least :data:`MIN_CAPACITY` = 10 + :data:`MAX_PARTY`, so that a registration refused
for lack of places never tells that fewer than 11 people have registered: with 10 registered
or fewer, any party of at most :data:`MAX_PARTY` still fits.

Workshops may invite the residents who share a usage profile (:func:`invite_profiles`: the
profile numbers of the campaign's latest release, as the pages name them, "Profil 1" being
number 1). The profile's public page (its description, the forum's poster and its QR code lead
there) registers by count too, and :func:`register` then adds the party to that profile's count
as well (``Event.profile_registrations``): a count per profile page, never a person, shown to the
team under the ≥ 11 rule (:func:`profile_counts`) and never to the public.

What this does not hide: a resident whose registration takes the count from "fewer than 11" to
a number learns how many were registered before (the number minus their party). The count is
of anonymous parties with no attribute (no name, no profile, no address is kept), so it tells
nothing about anyone; the rule is kept so that the page never prints a count from 1 to 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.escaping import MARKDOWN_MAX_CHARS
from qet_geo.i18n import Msg, msg, number
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.models import ConflictError, Event, NotFoundError

__all__ = [
    "EVENT_PHASES",
    "KINDS",
    "KIND_LABELS",
    "MAX_PARTY",
    "MIN_CAPACITY",
    "OUTPUTS",
    "OUTPUT_LABELS",
    "EventsOf",
    "create_event",
    "event_of",
    "events_of",
    "invite_profiles",
    "is_upcoming",
    "profile_counts",
    "public_count",
    "public_events",
    "publish_event",
    "register",
    "update_after",
    "update_before",
]

#: The phases an event belongs to (:data:`qet_geo.store.portal.PHASES`' keys).
EVENT_PHASES = ("forum", "sensibilisation", "inspiration")
#: An event's kind: an open meeting, or a workshop.
KINDS = ("reunion", "atelier")
KIND_LABELS: dict[str, Msg] = {"reunion": msg("Réunion"), "atelier": msg("Atelier")}
#: What a workshop produces, each the team's Markdown (keys of ``Event.outputs``).
OUTPUTS = ("narrative", "objectives", "problems")
OUTPUT_LABELS: dict[str, Msg] = {
    "narrative": msg("Récit partagé"),
    "objectives": msg("Objectifs"),
    "problems": msg("Problèmes à résoudre"),
}
#: People one registration may count at most.
MAX_PARTY = 10
#: The smallest capacity a team may set (see the module's docstring).
MIN_CAPACITY = MIN_RESPONDENTS - 1 + MAX_PARTY
_TITLE_MAX = 200
_PLACE_MAX = 300
_COUNT_MAX = 100_000


def _aware(value: datetime | None) -> datetime | None:
    """``value`` in UTC (SQLite gives back naive datetimes of what was stored in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: str, limit: int, what: Msg) -> str:
    value = value.replace("\r\n", "\n")
    if len(value) > limit:
        raise ValidationError(
            msg("{what} dépasse {n} caractères : raccourcissez-le.", what=what, n=limit)
        )
    return value


def _count(value: int | None, what: Msg) -> int | None:
    if value is not None and not 0 <= value <= _COUNT_MAX:
        raise ValidationError(
            msg("{what} doit être un nombre entier de 0 à {n}.", what=what, n=_COUNT_MAX)
        )
    return value


def _before(
    *,
    title: str,
    phase: str,
    kind: str,
    starts_at: datetime | None,
    place: str,
    agenda: str,
    capacity: int | None,
) -> dict[str, Any]:
    """The validated "before" fields of an event."""
    title = title.strip()
    if not title:
        raise ValidationError(msg("Donnez un titre à l'événement."))
    title = _text(title, _TITLE_MAX, msg("Le titre"))
    if phase not in EVENT_PHASES:
        raise ValidationError(
            msg("Phase inconnue {key!r} : {known}.", key=phase, known=", ".join(EVENT_PHASES))
        )
    if kind not in KINDS:
        raise ValidationError(
            msg("Type d'événement inconnu {kind!r} : {known}.", kind=kind, known=", ".join(KINDS))
        )
    if starts_at is not None and starts_at.tzinfo is None:
        raise ValidationError(msg("La date de l'événement doit porter son fuseau horaire."))
    if capacity is not None and not MIN_CAPACITY <= capacity <= _COUNT_MAX:
        raise ValidationError(
            msg(
                "La capacité doit être d'au moins {n} places (ou laissée vide) : en dessous, "
                "le refus d'une inscription dirait que moins de 11 personnes sont inscrites.",
                n=MIN_CAPACITY,
            )
        )
    return {
        "title": title,
        "phase": phase,
        "kind": kind,
        "starts_at": _aware(starts_at),
        "place": _text(place.strip(), _PLACE_MAX, msg("Le lieu")),
        "agenda": _text(agenda, MARKDOWN_MAX_CHARS, msg("L'ordre du jour")),
        "capacity": capacity,
    }


def create_event(
    session: Session,
    hood_id: int,
    *,
    title: str,
    phase: str,
    kind: str = "atelier",
    starts_at: datetime | None = None,
    place: str = "",
    agenda: str = "",
    capacity: int | None = None,
    profiles: list[int] | None = None,
    known_profiles: list[int] | None = None,
) -> Event:
    """Create an (unpublished) event of a neighbourhood.

    ``profiles``: the usage profiles it invites, among ``known_profiles`` (those of the
    campaign's latest release; see :func:`invite_profiles`).

    Raises
    ------
    ValidationError
        No title, an unknown phase (:data:`EVENT_PHASES`) or kind (:data:`KINDS`), a naive
        date, a capacity under :data:`MIN_CAPACITY`, a text too long, a profile not among
        ``known_profiles``.
    """
    fields = _before(
        title=title,
        phase=phase,
        kind=kind,
        starts_at=starts_at,
        place=place,
        agenda=agenda,
        capacity=capacity,
    )
    chosen = _profiles(profiles or [], known_profiles or [])
    event = Event(
        neighbourhood_id=hood_id, outputs={}, profiles=chosen, profile_registrations={}, **fields
    )
    session.add(event)
    session.flush()
    return event


def update_before(
    session: Session,
    event: Event,
    *,
    title: str,
    phase: str,
    kind: str,
    starts_at: datetime | None,
    place: str,
    agenda: str,
    capacity: int | None,
    profiles: list[int] | None = None,
    known_profiles: list[int] | None = None,
) -> Event:
    """Rewrite an event's "before" fields (as :func:`create_event` validates them).

    ``profiles`` None leaves the invited profiles as they are.

    Raises
    ------
    ValidationError
        As :func:`create_event`.
    ConflictError
        A capacity below the registrations already counted.
    """
    fields = _before(
        title=title,
        phase=phase,
        kind=kind,
        starts_at=starts_at,
        place=place,
        agenda=agenda,
        capacity=capacity,
    )
    chosen = None if profiles is None else _profiles(profiles, known_profiles or [])
    if capacity is not None and capacity < event.registrations:
        raise ConflictError(
            msg(
                "Des personnes sont déjà inscrites au-delà de cette capacité : choisissez une "
                "capacité plus grande, ou laissez-la vide."
            )
        )
    for key, value in fields.items():
        setattr(event, key, value)
    if chosen is not None:
        event.profiles = chosen
    event.updated_at = datetime.now(UTC)
    session.flush()
    return event


def _profiles(numbers: list[int], known: list[int]) -> list[int]:
    """The invited profiles' numbers, sorted and unique, each one of ``known``."""
    chosen = sorted({int(n) for n in numbers})
    unknown = [n for n in chosen if n not in set(known)]
    if unknown:
        raise ValidationError(
            msg(
                "Le profil {n} n'est pas un profil de la dernière publication du diagnostic : "
                "choisissez parmi les profils proposés.",
                n=unknown[0],
            )
        )
    return chosen


def invite_profiles(
    session: Session, event: Event, numbers: list[int], *, known: list[int]
) -> Event:
    """Set the usage profiles a workshop invites (their numbers, "Profil 1" being 1).

    Registrations already counted from a profile's page are kept (they are part of the event's
    registrations), even if that profile is no longer invited.

    Parameters
    ----------
    numbers
        The invited profiles' numbers (duplicates dropped).
    known
        The numbers of the profiles of the campaign's latest release.

    Raises
    ------
    ValidationError
        A number that is not one of ``known``.
    """
    event.profiles = _profiles(numbers, known)
    event.updated_at = datetime.now(UTC)
    session.flush()
    return event


def profile_counts(event: Event) -> dict[int, Msg]:
    """The registrations made from each invited profile's page, as the team reads them.

    A breakdown of the registrations: a count is a number from 11, else "fewer than 11" --
    0 too, since the team reads the event's total beside it: with a total of 1, say, a 0 shown
    for the other profile would give this one's count exactly.
    """
    counts = event.profile_registrations or {}
    shown: dict[int, Msg] = {}
    for key in sorted({int(n) for n in event.profiles or []} | {int(k) for k in counts}):
        value = int(counts.get(str(key), 0))
        shown[key] = (
            number(value) if value >= MIN_RESPONDENTS else msg("moins de {n}", n=MIN_RESPONDENTS)
        )
    return shown


def update_after(
    session: Session,
    event: Event,
    *,
    minutes: str,
    attendance: int | None,
    contributions: int | None,
    outputs: dict[str, str],
) -> Event:
    """Write what an event gave: minutes, attendance and contributions, outputs.

    Parameters
    ----------
    outputs
        Markdown per key of :data:`OUTPUTS` (other keys refused; empty texts dropped).

    Raises
    ------
    ValidationError
        A count outside 0 to 100 000, an unknown output, a text too long.
    """
    unknown = sorted(set(outputs) - set(OUTPUTS))
    if unknown:
        raise ValidationError(
            msg("Production inconnue {key!r} : {known}.", key=unknown[0], known=", ".join(OUTPUTS))
        )
    kept = {
        key: _text(text, MARKDOWN_MAX_CHARS, OUTPUT_LABELS[key])
        for key, text in outputs.items()
        if text.strip()
    }
    minutes = _text(minutes, MARKDOWN_MAX_CHARS, msg("Le compte rendu"))
    attendance = _count(attendance, msg("Le nombre de participants"))
    contributions = _count(contributions, msg("Le nombre de contributions"))
    # every field checked before any is written: a refused form leaves the event as it was
    event.minutes, event.attendance, event.contributions = minutes, attendance, contributions
    event.outputs = kept
    event.updated_at = datetime.now(UTC)
    session.flush()
    return event


def publish_event(session: Session, event: Event, published: bool) -> Event:
    """Publish an event on the portal, or withdraw it."""
    event.published = bool(published)
    event.updated_at = datetime.now(UTC)
    session.flush()
    return event


def event_of(session: Session, hood_id: int, event_id: int) -> Event:
    """The event ``event_id`` of the neighbourhood ``hood_id``.

    Raises
    ------
    NotFoundError
        No such event in that neighbourhood.
    """
    event = session.get(Event, event_id)
    if event is None or event.neighbourhood_id != hood_id:
        raise NotFoundError(msg("Aucun événement n°{id} dans ce quartier.", id=event_id))
    return event


def is_upcoming(event: Event, now: datetime) -> bool:
    """Whether ``event`` is still to come at ``now`` (an event without a date is)."""
    starts = _aware(event.starts_at)
    return starts is None or starts > _aware(now)  # type: ignore[operator]


def events_of(session: Session, hood_id: int) -> list[Event]:
    """Every event of a neighbourhood, by date (undated last), then by creation."""
    rows = session.scalars(
        select(Event).where(Event.neighbourhood_id == hood_id).order_by(Event.id)
    ).all()
    return sorted(rows, key=_order)


def _order(event: Event) -> tuple[bool, datetime]:
    starts = _aware(event.starts_at)
    return (starts is None, starts or datetime.max.replace(tzinfo=UTC))


@dataclass(frozen=True)
class EventsOf:
    """A neighbourhood's published events: upcoming ones by date, past ones latest first."""

    upcoming: list[Event]
    past: list[Event]


def public_events(session: Session, hood_id: int, now: datetime) -> EventsOf:
    """The published events of a neighbourhood, split at ``now``."""
    rows = [e for e in events_of(session, hood_id) if e.published]
    upcoming = [e for e in rows if is_upcoming(e, now)]
    past = [e for e in rows if not is_upcoming(e, now)]
    past.reverse()
    return EventsOf(upcoming, past)


def register(
    session: Session,
    hood_id: int,
    event_id: int,
    party: int,
    *,
    now: datetime,
    profile: int | None = None,
) -> Event:
    """Add ``party`` people to a published upcoming event's registrations (no name kept).

    One conditional update, so that two concurrent registrations never pass the capacity.
    ``profile``: the invited profile whose page the registration came from; the party is added
    to that profile's count too, in the same transaction (the conditional update holds the
    event's row until the commit, so two registrations never lose one another's count).

    Raises
    ------
    ValidationError
        ``party`` not from 1 to :data:`MAX_PARTY`.
    NotFoundError
        No such published event in the neighbourhood, or one that does not invite
        ``profile``.
    ConflictError
        The event has started or is over, or too few places remain (how many is not said).
    """
    if not 1 <= party <= MAX_PARTY:
        raise ValidationError(
            msg("Indiquez combien vous serez, de 1 à {n} personnes par inscription.", n=MAX_PARTY)
        )
    event = event_of(session, hood_id, event_id)
    if not event.published:
        raise NotFoundError(msg("Aucun événement n°{id} dans ce quartier.", id=event_id))
    if profile is not None and profile not in (event.profiles or []):
        raise NotFoundError(msg("Cet atelier n'invite pas ce profil."))
    if not is_upcoming(event, now):
        raise ConflictError(msg("Cet événement a déjà commencé : les inscriptions sont closes."))
    room = Event.capacity.is_(None) | (Event.registrations + party <= Event.capacity)
    done = session.execute(
        update(Event)
        .where(Event.id == event.id, Event.published.is_(True), room)
        .values(registrations=Event.registrations + party)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(
            msg(
                "Il ne reste pas assez de places pour {n} personne(s) : essayez avec moins de "
                "personnes, ou contactez l'équipe du quartier.",
                n=party,
            )
        )
    session.flush()
    session.refresh(event)  # read again after the update: the row is this transaction's now
    if profile is not None:
        counts = dict(event.profile_registrations or {})
        counts[str(profile)] = int(counts.get(str(profile), 0)) + party
        event.profile_registrations = counts
        session.flush()
    return event


def public_count(value: int | None) -> Msg | None:
    """A count of people as the public reads it: 0 or ≥ 11 as a number, else "fewer than 11".

    None (not counted) gives None.
    """
    if value is None:
        return None
    if value == 0 or value >= MIN_RESPONDENTS:
        return number(value)
    return msg("moins de {n}", n=MIN_RESPONDENTS)
