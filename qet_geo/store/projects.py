"""Project sheets of a neighbourhood (phases 5 and 6 of the method).

A pilot team writes a sheet per project (:func:`save_project`): the problem, the theme and the
usage targeted, the usage profiles concerned, its place (a point), holders and partners, budget
and funding, dates, status (:data:`STATUSES`), milestones and activity indicators
(:func:`parse_milestones`, :func:`parse_indicators`: one a line), and the expected effect in
kgCO2e a year, computed when the sheet is saved from the neighbourhood's latest release
(:func:`qet_geo.analysis.project_effect.expected_effect`, its inputs kept in
``effect["params"]``). The public reads a sheet once the team publishes it (:func:`publish_project`,
:func:`public_projects`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qet_geo.analysis.project_effect import EFFECT_METHODS, expected_effect
from qet_geo.errors import ValidationError
from qet_geo.escaping import MARKDOWN_MAX_CHARS
from qet_geo.i18n import Msg, msg
from qet_geo.store.models import Diagnostic, NotFoundError, Project, Release
from qet_geo.surveys.schema import USAGES

__all__ = [
    "STATUSES",
    "STATUS_LABELS",
    "ProjectForm",
    "effect_figures",
    "get_project",
    "latest_of",
    "parse_indicators",
    "parse_milestones",
    "projects_of",
    "public_projects",
    "publish_project",
    "save_project",
]

#: A project's statuses, in the order a project goes through them (the last two end it).
STATUSES = ("idee", "propose", "retenu", "en_cours", "realise", "abandonne")
STATUS_LABELS: dict[str, Msg] = {
    "idee": msg("Idée"),
    "propose": msg("Proposé"),
    "retenu": msg("Retenu"),
    "en_cours": msg("En cours"),
    "realise": msg("Réalisé"),
    "abandonne": msg("Abandonné"),
}
_SHORT = 200
_LONG = 5000
_LINES = 50


@dataclass
class ProjectForm:
    """What a team types on a sheet (text fields as typed; numbers parsed by :func:`save_project`)."""

    title: str = ""
    problem: str = ""
    theme: str = ""
    usage: str = ""
    profiles: str = ""
    x: str = ""
    y: str = ""
    holders: str = ""
    partners: str = ""
    budget_eur: str = ""
    funding: str = ""
    starts_on: str = ""
    ends_on: str = ""
    status: str = "idee"
    milestones: str = ""
    indicators: str = ""
    method: str = "diagnostic"
    reach_percent: str = ""
    population: str = ""
    factor: str = ""
    units: str = ""
    source: str = ""

    @classmethod
    def of(cls, project: Project) -> ProjectForm:
        """The form of a saved sheet."""
        params = dict((project.effect or {}).get("params") or {})
        x = y = ""
        if project.place_wkt:
            import shapely

            point: Any = shapely.from_wkt(str(project.place_wkt))
            x, y = f"{point.x:.0f}", f"{point.y:.0f}"

        def num(value: Any) -> str:
            if value is None:
                return ""
            return f"{float(value):g}"

        return cls(
            title=project.title,
            problem=project.problem,
            theme=project.theme,
            usage=project.usage or "",
            profiles=", ".join(str(p) for p in project.profiles or []),
            x=x,
            y=y,
            holders=project.holders,
            partners=project.partners,
            budget_eur=num(project.budget_eur),
            funding=project.funding,
            starts_on=project.starts_on.isoformat() if project.starts_on else "",
            ends_on=project.ends_on.isoformat() if project.ends_on else "",
            status=project.status,
            milestones="\n".join(
                " ; ".join(
                    [m.get("on", ""), m.get("label", "")] + (["fait"] if m.get("done") else [])
                )
                for m in project.milestones or []
            ),
            indicators="\n".join(
                " ; ".join([i.get("label", ""), i.get("value", ""), i.get("unit", "")]).rstrip(" ;")
                for i in project.indicators or []
            ),
            method=str(params.get("method", "diagnostic")),
            reach_percent=num(params["reach_share"] * 100) if params.get("reach_share") else "",
            population=num(params.get("population")),
            factor=num(params.get("factor")),
            units=num(params.get("units")),
            source=str(params.get("source", "")),
        )


def _text(value: str, limit: int, what: Msg) -> str:
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise ValidationError(
            msg("{what} dépasse {n} caractères : raccourcissez-le.", what=what, n=limit)
        )
    return value


def _number(value: str, what: Msg) -> float | None:
    value = value.strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    if not value:
        return None
    try:
        out = float(value.replace(",", "."))
    except ValueError:
        raise ValidationError(
            msg("{what} : « {value} » n'est pas un nombre.", what=what, value=value[:20])
        ) from None
    if not math.isfinite(out) or out < 0:
        raise ValidationError(msg("{what} doit être un nombre positif.", what=what))
    return out


def _date(value: str, what: Msg) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            msg(
                "{what} : date illisible « {value} » ; écrivez-la au format AAAA-MM-JJ.",
                what=what,
                value=value[:20],
            )
        ) from None


def parse_milestones(text: str) -> list[dict[str, Any]]:
    """Milestones, one a line: ``AAAA-MM-JJ ; what ; fait`` (the date and "fait" optional)."""
    out: list[dict[str, Any]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        parts = [p.strip() for p in line.split(";")]
        if not any(parts):
            continue
        on = ""
        if parts and parts[0] and parts[0][:1].isdigit():
            on = str(_date(parts.pop(0), msg("Jalon")))
        done = bool(parts) and parts[-1].lower() in ("fait", "done", "x")
        if done:
            parts.pop()
        label = " ; ".join(p for p in parts if p)
        if not label:
            raise ValidationError(msg("Chaque jalon a besoin d'un libellé après sa date."))
        out.append({"on": on, "label": label[:_SHORT], "done": done})
    if len(out) > _LINES:
        raise ValidationError(msg("Pas plus de {n} jalons.", n=_LINES))
    return sorted(out, key=lambda m: (m["on"] or "9999", m["label"]))


def parse_indicators(text: str) -> list[dict[str, str]]:
    """Activity indicators, one a line: ``what ; value ; unit`` (the unit optional)."""
    out: list[dict[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        parts = [p.strip() for p in line.split(";")]
        if not any(parts):
            continue
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValidationError(
                msg(
                    "Indicateur « {line} » : écrivez « libellé ; valeur ; unité » (l'unité est "
                    "facultative).",
                    line=line.strip()[:60],
                )
            )
        unit = " ; ".join(parts[2:]).strip(" ;")
        out.append({"label": parts[0][:_SHORT], "value": parts[1][:40], "unit": unit[:40]})
    if len(out) > _LINES:
        raise ValidationError(msg("Pas plus de {n} indicateurs.", n=_LINES))
    return out


def latest_of(session: Session, hood_id: int) -> Release | None:
    """The latest release of the neighbourhood's latest campaign (None: none)."""
    diag = session.scalars(
        select(Diagnostic)
        .where(Diagnostic.neighbourhood_id == hood_id)
        .order_by(Diagnostic.year.desc(), Diagnostic.id.desc())
        .limit(1)
    ).first()
    if diag is None:
        return None
    return session.scalars(
        select(Release)
        .where(Release.diagnostic_id == diag.id)
        .order_by(Release.number.desc())
        .limit(1)
    ).first()


def effect_figures(session: Session, hood_id: int) -> dict[str, Any] | None:
    """The figures of the latest release of the neighbourhood's latest campaign (None: none)."""
    release = latest_of(session, hood_id)
    return dict(release.figures) if release is not None else None


def _place(form: ProjectForm, territory: Any) -> str | None:
    x = _number(form.x, msg("X (Lambert 93)"))
    y = _number(form.y, msg("Y (Lambert 93)"))
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise ValidationError(msg("Donnez les deux coordonnées du lieu, ou aucune."))
    from shapely.geometry import Point

    point = Point(x, y)
    if territory is not None and not territory.buffer(500).contains(point):
        raise ValidationError(
            msg(
                "Le lieu est hors du quartier : donnez des coordonnées Lambert 93 (EPSG:2154) "
                "dans son périmètre."
            )
        )
    return point.wkt


def save_project(
    session: Session,
    hood_id: int,
    form: ProjectForm,
    *,
    project: Project | None = None,
    territory: Any = None,
) -> Project:
    """Create a sheet (``project`` None) or update one, and compute its expected effect.

    Raises
    ------
    ValidationError
        A missing title, an unknown status, usage or method, a text too long, a number, date or
        place unreadable, an end before the start, a milestone or indicator badly written.
    """
    title = _text(form.title, _SHORT, msg("Le titre"))
    if not title:
        raise ValidationError(msg("Donnez un titre au projet."))
    if form.status not in STATUSES:
        raise ValidationError(msg("Statut inconnu : choisissez-en un dans la liste."))
    usage = form.usage.strip() or None
    if usage is not None and usage not in USAGES:
        raise ValidationError(msg("Usage inconnu : choisissez-en un dans la liste."))
    if form.method not in EFFECT_METHODS:
        raise ValidationError(msg("Méthode de calcul inconnue."))
    profiles: list[int] = []
    for part in form.profiles.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 3:
            raise ValidationError(
                msg(
                    "Profils : « {part} » n'est pas un numéro de profil (écrivez par exemple 1, 3).",
                    part=part[:20],
                )
            )
        profiles.append(int(part))
    starts_on = _date(form.starts_on, msg("Début"))
    ends_on = _date(form.ends_on, msg("Fin"))
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError(msg("La fin du projet précède son début : corrigez une des dates."))
    reach = _number(form.reach_percent, msg("Part des habitants touchés"))
    if reach is not None and not 0 < reach <= 100:
        raise ValidationError(
            msg("La part des habitants touchés doit être comprise entre 0 et 100 %.")
        )
    params: dict[str, Any] = {
        "method": form.method,
        "reach_share": reach / 100 if reach is not None else None,
        "population": _number(form.population, msg("Habitants")),
        "factor": _number(form.factor, msg("Facteur")),
        "units": _number(form.units, msg("Unités par an")),
        "source": _text(form.source, 500, msg("La source du facteur")),
    }
    place = _place(form, territory)
    values: dict[str, Any] = {
        "title": title,
        "problem": _text(form.problem, MARKDOWN_MAX_CHARS, msg("Le problème")),
        "theme": _text(form.theme, _SHORT, msg("Le thème")),
        "usage": usage,
        "profiles": sorted(set(profiles)),
        "place_wkt": place,
        "holders": _text(form.holders, _LONG, msg("Les porteurs")),
        "partners": _text(form.partners, _LONG, msg("Les partenaires")),
        "budget_eur": _number(form.budget_eur, msg("Le budget")),
        "funding": _text(form.funding, _LONG, msg("Le financement")),
        "starts_on": starts_on,
        "ends_on": ends_on,
        "status": form.status,
        "milestones": parse_milestones(form.milestones),
        "indicators": parse_indicators(form.indicators),
    }
    release = latest_of(session, hood_id) if form.method == "diagnostic" else None
    effect = expected_effect(
        dict(release.figures) if release is not None else None,
        method=form.method,
        usage=usage,
        profiles=sorted(set(profiles)),
        reach_share=params["reach_share"],
        population=params["population"],
        factor=params["factor"],
        units=params["units"],
        source=params["source"],
    )
    effect["params"] = params
    if release is not None and effect["status"] == "ok":
        # which release the effect was computed from: a later one asks for a new computation
        effect["release"] = {"id": release.id, "number": release.number}
    if project is None:
        project = Project(neighbourhood_id=hood_id)
        session.add(project)
    for key, value in values.items():
        setattr(project, key, value)
    project.effect = effect
    project.updated_at = datetime.now(UTC)
    session.flush()
    return project


def projects_of(session: Session, hood_id: int) -> list[Project]:
    """The neighbourhood's sheets, newest first."""
    return list(
        session.scalars(
            select(Project)
            .where(Project.neighbourhood_id == hood_id)
            .order_by(Project.created_at.desc(), Project.id.desc())
        )
    )


def public_projects(session: Session, hood_id: int) -> list[Project]:
    """The neighbourhood's published sheets, by status then title."""
    rows = session.scalars(
        select(Project).where(Project.neighbourhood_id == hood_id, Project.published.is_(True))
    )
    return sorted(rows, key=lambda p: (STATUSES.index(p.status), p.title.lower(), p.id))


def get_project(
    session: Session, hood_id: int, project_id: int, *, published_only: bool = False
) -> Project:
    """A sheet of the neighbourhood (only a published one if ``published_only``).

    Raises
    ------
    NotFoundError
        No such sheet in this neighbourhood (or not published).
    """
    project = session.get(Project, project_id)
    if (
        project is None
        or project.neighbourhood_id != hood_id
        or (published_only and not project.published)
    ):
        raise NotFoundError(msg("Fiche projet introuvable."))
    return project


def publish_project(session: Session, project: Project, published: bool) -> None:
    """Publish a sheet (the public reads it) or withdraw it."""
    project.published = published
    project.updated_at = datetime.now(UTC)
    session.flush()
