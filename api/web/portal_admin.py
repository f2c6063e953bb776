"""The pilot team's page of its territory's portal: address, publication and the six phases.

- ``/espace/quartiers/{id}/portail``: the portal's address (``/q/{slug}``,
  :func:`qet_geo.store.portal.set_slug`, proposed from the name by
  :func:`~qet_geo.store.portal.slug_for`), whether the portal is published (the neighbourhood's
  ``published`` flag, the one ``POST /neighbourhoods`` sets), and per phase of the method its
  state, dates, place and note (:func:`~qet_geo.store.portal.set_phase`), the note shown as the
  public reads it (:func:`qet_geo.escaping.markdown_html`), beside the method's checklist of
  what the team does in that phase (:data:`CHECKLISTS`).

Rights are the JSON API's: the address and the phases are written by those who may write to the
neighbourhood (its pilot team, administrators: ``Caller.can_write``); publishing and withdrawing
the portal by administrators and network staff only, as in the API, where only they set a
neighbourhood's ``published`` (``require_roles(caller, "admin", "staff")``): a pilot team asks
the network.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import SessionDep
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    hood_for_page,
    lang_of,
    not_found,
    redirect,
    render,
    signed_in,
    staff_only,
    writable_hood,
)
from qet_geo.errors import ValidationError
from qet_geo.escaping import markdown_html
from qet_geo.i18n import Msg, day, msg
from qet_geo.store.models import ConflictError, Diagnostic, Neighbourhood
from qet_geo.store.portal import (
    PHASE_STATE_LABELS,
    PHASE_STATES,
    PHASES,
    phases_of,
    set_phase,
    set_slug,
    slug_for,
)

__all__ = ["CHECKLISTS", "router"]

router = APIRouter()

#: What the pilot team does in each phase of the method (docs: method.md, the seeds' overview).
CHECKLISTS: dict[str, tuple[Msg, ...]] = {
    "diagnostic": (
        msg("Parcourir le quartier : la visite et son itinéraire à pied"),
        msg("Fixer les quotas de l'enquête par IRIS (âge, genre, catégorie socio-professionnelle)"),
        msg(
            "Mener les quatre enquêtes : profils d'usages, modes de vie, espaces de vie, "
            "empreinte carbone"
        ),
        msg("Analyser les réponses : profils d'usages, empreinte, contraintes du bâti"),
        msg("Relire et publier les résultats du diagnostic"),
    ),
    "forum": (
        msg("Monter l'exposition du diagnostic"),
        msg("Ouvrir le vote et distribuer les codes de participation"),
        msg("Tenir les bulletins papier et saisir leur dépouillement"),
        msg("Clore le vote et annoncer le thème choisi"),
    ),
    "sensibilisation": (
        msg("Organiser des réunions ouvertes sur le thème choisi"),
        msg("Mettre à niveau les connaissances des habitants, élus et associations"),
    ),
    "inspiration": (
        msg("Tenir les ateliers d'inspiration puis d'élaboration"),
        msg("Écrire un récit partagé du futur du quartier"),
        msg("Fixer les objectifs et les projets à mener avec les élus et les acteurs locaux"),
    ),
    "mise_en_oeuvre": (
        msg("Rédiger une fiche par projet : porteurs, calendrier, moyens"),
        msg("Suivre l'avancement des projets sur le portail"),
    ),
    "second_diagnostic": (
        msg("Refaire les mêmes enquêtes un an après la mise en œuvre"),
        msg("Mesurer l'impact : comparer avec le premier diagnostic"),
        msg("Publier les résultats du second diagnostic"),
    ),
}

_NOTICES: dict[str, Msg] = {
    "adresse": msg("Adresse du portail enregistrée."),
    "publie": msg("Le portail est publié : le public peut le lire."),
    "retire": msg("Le portail est retiré : il n'est plus visible du public."),
    "phase": msg("Phase enregistrée."),
}


def _date_of(text: str) -> date | None:
    """A form's date (``YYYY-MM-DD``, as ``<input type=date>`` sends it), None if empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            msg(
                "Date illisible « {text} » : écrivez-la au format AAAA-MM-JJ (par exemple "
                "2026-03-14).",
                text=text[:20],
            )
        ) from None


def _page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    status: int = 200,
    notice: str | None = None,
    slug_value: str | None = None,
    slug_error: str | None = None,
    publish_error: str | None = None,
    phase_key: str | None = None,
    phase_form: dict[str, str] | None = None,
    phase_error: str | None = None,
) -> Response:
    lang = lang_of(request)
    phases: list[dict[str, Any]] = []
    for view in phases_of(session, hood.id):
        typed = phase_form if view.key == phase_key and phase_form is not None else None
        phases.append(
            {
                "key": view.key,
                "label": view.label(lang),
                "state": view.state,
                "state_label": view.state_label(lang),
                "starts": day(view.starts_on).render(lang) if view.starts_on else "",
                "ends": day(view.ends_on).render(lang) if view.ends_on else "",
                "place": view.place,
                "note_html": markdown_html(view.note, top=5) if view.note.strip() else "",
                "checklist": [item.render(lang) for item in CHECKLISTS[view.key]],
                "form": typed
                or {
                    "state": view.state,
                    "starts_on": view.starts_on.isoformat() if view.starts_on else "",
                    "ends_on": view.ends_on.isoformat() if view.ends_on else "",
                    "place": view.place,
                    "note": view.note,
                },
                "error": phase_error if view.key == phase_key else None,
            }
        )
    context = {
        "hood": hood,
        "slug": hood.slug,
        "slug_value": slug_value if slug_value is not None else hood.slug or slug_for(hood.name),
        "slug_error": slug_error,
        "publish_error": publish_error,
        "published": bool(hood.published),
        "can_write": visitor.caller.can_write(hood),
        "can_publish": visitor.is_staff,
        "phases": phases,
        "states": [(s, PHASE_STATE_LABELS[s].render(lang)) for s in PHASE_STATES],
        "notice": notice,
    }
    return render(request, "portal_admin.html", context, visitor=visitor, status=status)


@router.get("/espace/quartiers/{hood_id}/portail", response_class=HTMLResponse)
def portal_admin_page(
    request: Request, session: SessionDep, hood_id: str, fait: str = ""
) -> Response:
    """The portal's address, its publication and the six phases of the neighbourhood."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    done = _NOTICES.get(fait)
    notice = done.render(lang_of(request)) if done is not None else None
    return _page(request, session, visitor, hood, notice=notice)


@router.post("/espace/quartiers/{hood_id}/portail/adresse", response_class=HTMLResponse)
def portal_address(
    request: Request, session: SessionDep, hood_id: str, csrf: FormStr = "", slug: FormStr = ""
) -> Response:
    """Set the portal's address ``/q/{slug}`` (admin, the pilot team)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    try:
        set_slug(session, hood, slug)
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        status = 409 if isinstance(exc, ConflictError) else 400
        return _page(
            request,
            session,
            visitor,
            hood,
            status=status,
            slug_value=slug[:200],
            slug_error=exc.localized(lang_of(request)),
        )
    return redirect(f"/espace/quartiers/{hood.id}/portail?fait=adresse#adresse")


@router.post("/espace/quartiers/{hood_id}/portail/publication", response_class=HTMLResponse)
def portal_publication(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: FormStr = "",
    action: FormStr = "",
    confirmer: FormStr = "",
) -> Response:
    """Publish or withdraw the portal (admin, network staff: the API's rule for ``published``)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    staff_only(request, visitor)
    lang = lang_of(request)
    if action not in ("publier", "retirer"):
        raise not_found(request, visitor)
    error = None
    if confirmer != "oui":
        error = msg("Cochez la case de confirmation avant d'envoyer.")
    elif action == "publier" and not hood.slug:
        error = msg(
            "Le portail n'a pas encore d'adresse : l'équipe pilote la choisit d'abord "
            "(section « Adresse du portail »), puis il peut être publié."
        )
    if error is not None:
        return _page(request, session, visitor, hood, status=400, publish_error=error.render(lang))
    hood.published = action == "publier"
    session.flush()
    # the aggregates' caches hold who may read each diagnostic (the flag) for a second: forget it
    for diag_id in session.scalars(
        select(Diagnostic.id).where(Diagnostic.neighbourhood_id == hood.id)
    ):
        request.app.state.aggregates.clear(diag_id)
    done = "publie" if hood.published else "retire"
    return redirect(f"/espace/quartiers/{hood.id}/portail?fait={done}#publication")


@router.post("/espace/quartiers/{hood_id}/portail/phases/{key}", response_class=HTMLResponse)
def portal_phase(
    request: Request,
    session: SessionDep,
    hood_id: str,
    key: str,
    csrf: FormStr = "",
    state: FormStr = "",
    starts_on: FormStr = "",
    ends_on: FormStr = "",
    place: FormStr = "",
    note: FormStr = "",
) -> Response:
    """Record a phase's state, dates, place and note (admin, the pilot team)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    if key not in PHASES:
        raise not_found(request, visitor)
    typed = {
        "state": state,
        "starts_on": starts_on[:20],
        "ends_on": ends_on[:20],
        "place": place,
        "note": note,
    }
    try:
        set_phase(
            session,
            hood.id,
            key,
            state=state,
            starts_on=_date_of(starts_on),
            ends_on=_date_of(ends_on),
            place=place,
            note=note,
        )
    except ValidationError as exc:
        session.rollback()
        return _page(
            request,
            session,
            visitor,
            hood,
            status=400,
            phase_key=key,
            phase_form=typed,
            phase_error=exc.localized(lang_of(request)),
        )
    return redirect(f"/espace/quartiers/{hood.id}/portail?fait=phase#phase-{key}")
