"""The territory portal's records: a neighbourhood's public address and its six phases.

The method documents each territory's whole process on a portal, through six phases
(:data:`PHASES`): the diagnostic, the forum (exhibition and citizen vote), sensibilisation
meetings, inspiration and élaboration workshops, mise en œuvre, and a second diagnostic a year
later. A pilot team names its portal's address (:func:`set_slug`, ``/q/{slug}``) and keeps each
phase's state, dates, place and note (:func:`set_phase`); the public reads them only once the
neighbourhood is published (:func:`public_hood`). Notes are the team's Markdown, shown through
:func:`qet_geo.escaping.markdown_html` only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.escaping import MARKDOWN_MAX_CHARS
from qet_geo.i18n import Msg, msg
from qet_geo.store.models import ConflictError, Neighbourhood, NotFoundError, Phase

__all__ = [
    "PHASES",
    "PHASE_LABELS",
    "PHASE_STATES",
    "PHASE_STATE_LABELS",
    "PhaseView",
    "phases_of",
    "public_hood",
    "set_phase",
    "set_slug",
    "slug_for",
]

#: The six phases of the method, in their order.
PHASES = (
    "diagnostic",
    "forum",
    "sensibilisation",
    "inspiration",
    "mise_en_oeuvre",
    "second_diagnostic",
)
PHASE_LABELS: dict[str, Msg] = {
    "diagnostic": msg("Diagnostic"),
    "forum": msg("Forum : exposition et vote"),
    "sensibilisation": msg("Sensibilisation"),
    "inspiration": msg("Inspiration et élaboration"),
    "mise_en_oeuvre": msg("Mise en œuvre"),
    "second_diagnostic": msg("Second diagnostic"),
}
#: A phase's state: to come, under way, done.
PHASE_STATES = ("planned", "current", "done")
PHASE_STATE_LABELS: dict[str, Msg] = {
    "planned": msg("à venir"),
    "current": msg("en cours"),
    "done": msg("terminée"),
}
#: Addresses a portal may not take (the site's own paths, and words that would mislead).
RESERVED_SLUGS = frozenset({"admin", "api", "espace", "static", "reseau", "q", "docs", "new"})
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PLACE_MAX = 300


@dataclass(frozen=True)
class PhaseView:
    """A phase as a page shows it: stored, or "to come" without a row."""

    key: str
    state: str
    starts_on: date | None
    ends_on: date | None
    place: str
    note: str

    def label(self, lang: str) -> str:
        """The phase's name in ``lang``."""
        return PHASE_LABELS[self.key].render(lang)

    def state_label(self, lang: str) -> str:
        """The phase's state in ``lang``."""
        return PHASE_STATE_LABELS[self.state].render(lang)


def slug_for(name: str) -> str:
    """A portal address proposed from a name: lower case ASCII, words joined by hyphens.

    ``"Quartier de Kervénanec (Lorient)"`` gives ``"quartier-de-kervenanec-lorient"``; at most
    60 characters, cut at a hyphen.
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    slug = "-".join(words)
    while len(slug) > 60 and "-" in slug:
        slug = slug.rsplit("-", 1)[0]
    return slug[:60]


def set_slug(session: Session, hood: Neighbourhood, slug: str) -> str:
    """Give ``hood`` the portal address ``/q/{slug}``; returns the address as stored.

    Raises
    ------
    ValidationError
        Not 3 to 60 characters of lower-case letters, digits and single hyphens, or reserved.
    ConflictError
        Another neighbourhood has it.
    """
    slug = slug.strip().lower()
    if not (3 <= len(slug) <= 60) or not _SLUG.match(slug):
        raise ValidationError(
            msg(
                "L'adresse du portail doit compter de 3 à 60 caractères : lettres minuscules sans "
                "accent, chiffres et tirets simples (par exemple {example}).",
                example=slug_for(hood.name) or "kervenanec-lorient",
            )
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError(
            msg("L'adresse « {slug} » est réservée : choisissez-en une autre.", slug=slug)
        )
    taken = session.scalar(
        select(Neighbourhood.id).where(Neighbourhood.slug == slug, Neighbourhood.id != hood.id)
    )
    if taken is not None:
        raise ConflictError(
            msg("L'adresse « {slug} » est déjà prise par un autre quartier.", slug=slug)
        )
    hood.slug = slug
    try:
        session.flush()
    except IntegrityError as err:  # taken meanwhile by a concurrent request
        raise ConflictError(
            msg("L'adresse « {slug} » est déjà prise par un autre quartier.", slug=slug)
        ) from err
    return slug


def public_hood(session: Session, slug: str) -> Neighbourhood:
    """The published neighbourhood whose portal is ``/q/{slug}``.

    Raises
    ------
    NotFoundError
        No such address, or its neighbourhood is not published (the same answer for both).
    """
    hood = session.scalar(select(Neighbourhood).where(Neighbourhood.slug == slug.lower()))
    if hood is None or not hood.published:
        raise NotFoundError(msg("Aucun portail publié à l'adresse /q/{slug}.", slug=slug))
    return hood


def phases_of(session: Session, hood_id: int) -> list[PhaseView]:
    """The six phases of a neighbourhood, in order; "to come" for those never set."""
    rows = {
        p.key: p for p in session.scalars(select(Phase).where(Phase.neighbourhood_id == hood_id))
    }
    out = []
    for key in PHASES:
        row = rows.get(key)
        if row is None:
            out.append(PhaseView(key, "planned", None, None, "", ""))
        else:
            out.append(PhaseView(key, row.state, row.starts_on, row.ends_on, row.place, row.note))
    return out


def set_phase(
    session: Session,
    hood_id: int,
    key: str,
    *,
    state: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
    place: str = "",
    note: str = "",
) -> PhaseView:
    """Record a phase's state, dates, place and note (Markdown) for a neighbourhood.

    Raises
    ------
    ValidationError
        An unknown phase or state, an end before the start, a place over 300 characters or a
        note over :data:`qet_geo.escaping.MARKDOWN_MAX_CHARS`.
    """
    if key not in PHASES:
        raise ValidationError(
            msg("Phase inconnue {key!r} : {known}.", key=key, known=", ".join(PHASES))
        )
    if state not in PHASE_STATES:
        raise ValidationError(
            msg("État inconnu {state!r} : {known}.", state=state, known=", ".join(PHASE_STATES))
        )
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValidationError(
            msg("La fin de la phase précède son début : corrigez l'une des deux dates.")
        )
    place, note = place.strip(), note.replace("\r\n", "\n")
    if len(place) > _PLACE_MAX:
        raise ValidationError(
            msg("Le lieu dépasse {n} caractères : raccourcissez-le.", n=_PLACE_MAX)
        )
    if len(note) > MARKDOWN_MAX_CHARS:
        raise ValidationError(
            msg("Le texte dépasse {n} caractères : raccourcissez-le.", n=MARKDOWN_MAX_CHARS)
        )
    row = session.scalar(select(Phase).where(Phase.neighbourhood_id == hood_id, Phase.key == key))
    if row is None:
        row = Phase(neighbourhood_id=hood_id, key=key)
        session.add(row)
    row.state, row.starts_on, row.ends_on = state, starts_on, ends_on
    row.place, row.note, row.updated_at = place, note, datetime.now(UTC)
    session.flush()
    return PhaseView(key, state, starts_on, ends_on, place, note)
