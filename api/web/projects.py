"""Project sheets (phases 5 and 6): the team's pages and the public ones.

- Team (``/espace/quartiers/{id}/projets``): the neighbourhood's sheets, a form to create one
  and, per sheet, its form with the expected effect computed from the latest release and shown
  with its assumptions (:mod:`qet_geo.store.projects`,
  :func:`qet_geo.analysis.project_effect.expected_effect`), and publishing or withdrawing it.
  Those who may write to the neighbourhood (its pilot team, administrators: the API's
  ``Caller.can_write``) write; others who may read it only read.
- Public (``/q/{slug}/projets``): the published sheets by status, and each sheet
  (``/q/{slug}/projets/{id}``) with its place drawn as a point on the territory's outline.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dependencies import SessionDep
from api.web._kit import (
    FormStr,
    Visitor,
    forbidden,
    hood_for_page,
    lang_of,
    not_found,
    published_hood,
    redirect,
    render,
    signed_in,
    writable_hood,
)
from api.web.portal import outline_of
from api.web.project_community import sheet_talk
from qet_geo.errors import ValidationError
from qet_geo.escaping import markdown_html
from qet_geo.i18n import Msg, day, msg, number
from qet_geo.store.community import experts_of_project
from qet_geo.store.models import Neighbourhood, NotFoundError, Project, territory_geometry
from qet_geo.store.projects import (
    STATUS_LABELS,
    STATUSES,
    ProjectForm,
    get_project,
    latest_of,
    projects_of,
    public_projects,
    publish_project,
    save_project,
)
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["effect_view", "router"]

router = APIRouter()

_NOTICES: dict[str, Msg] = {
    "cree": msg("Fiche projet créée."),
    "enregistre": msg("Fiche projet enregistrée."),
    "publie": msg("La fiche est publiée : le public la lit sur le portail."),
    "retire": msg("La fiche est retirée : elle n'est plus visible du public."),
}

_FIELDS = tuple(ProjectForm.__dataclass_fields__)


def effect_view(effect: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The expected effect as a page shows it: its value in words, assumptions, or why withheld."""
    if not effect:
        return None
    if effect.get("status") != "ok" or effect.get("value") is None:
        reason = (effect.get("reason") or {}).get(lang) or ""
        return {"ok": False, "reason": reason}
    value = float(effect["value"])
    return {
        "ok": True,
        "value": number(value, decimals=None if value < 10 else 0).render(lang),
        "tonnes": number(value / 1000, decimals=None).render(lang) if value >= 1000 else None,
        "factor": effect.get("method") == "factor",
        "assumptions": list((effect.get("assumptions") or {}).get(lang) or []),
        "release": (effect.get("release") or {}).get("number"),
    }


def _status_label(status: str, lang: str) -> str:
    label = STATUS_LABELS.get(status)
    return label.render(lang) if label is not None else status


def _sheet(project: Project, lang: str) -> dict[str, Any]:
    """What a page shows of a sheet (user text escaped by the templates; Markdown sanitised)."""
    return {
        "id": project.id,
        "title": project.title,
        "problem_html": markdown_html(project.problem, top=3) if project.problem.strip() else "",
        "theme": project.theme,
        "usage": USAGE_LABELS[project.usage].render(lang) if project.usage in USAGES else "",
        "profiles": ", ".join(str(p) for p in project.profiles or []),
        "holders": project.holders,
        "partners": project.partners,
        "budget": number(project.budget_eur, decimals=0).render(lang)
        if project.budget_eur is not None
        else "",
        "funding": project.funding,
        "starts": day(project.starts_on).render(lang) if project.starts_on else "",
        "ends": day(project.ends_on).render(lang) if project.ends_on else "",
        "status": project.status,
        "status_label": _status_label(project.status, lang),
        "milestones": [
            {
                "on": day(m["on"]).render(lang) if m.get("on") else "",
                "label": m.get("label", ""),
                "done": bool(m.get("done")),
            }
            for m in project.milestones or []
        ],
        "indicators": list(project.indicators or []),
        "effect": effect_view(project.effect, lang),
        "published": bool(project.published),
    }


def _point(hood: Neighbourhood, project: Project) -> dict[str, Any] | None:
    """The sheet's place on the territory's outline (the home's drawing, same scale)."""
    if not project.place_wkt:
        return None
    import shapely

    outline = outline_of(hood)
    point: Any = shapely.from_wkt(str(project.place_wkt))
    if outline is None:
        return {"outline": None, "x": round(point.x), "y": round(point.y)}
    cx, cy = outline.place(point.x, point.y)
    return {"outline": outline, "cx": cx, "cy": cy, "x": round(point.x), "y": round(point.y)}


# --------------------------------------------------------------------------------------------------
# the team's pages


def _project_of(request: Request, session: Any, visitor: Visitor, hood: Any, pid: str) -> Project:
    if not pid.isdigit() or len(pid) > 12:
        raise not_found(request, visitor)
    try:
        return get_project(session, hood.id, int(pid))
    except NotFoundError:
        raise not_found(request, visitor) from None


def _edit_page(
    request: Request,
    session: Any,
    visitor: Visitor,
    hood: Any,
    *,
    project: Project | None,
    form: ProjectForm,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    lang = lang_of(request)
    stale = False
    if project is not None and (project.effect or {}).get("release"):
        latest = latest_of(session, hood.id)
        stale = latest is None or latest.id != project.effect["release"].get("id")
    context = {
        "hood": hood,
        "stale": stale,
        "project": _sheet(project, lang) if project is not None else None,
        "form": form,
        "error": error,
        "notice": notice,
        "can_write": visitor.caller.can_write(hood),
        "statuses": [(s, _status_label(s, lang)) for s in STATUSES],
        "usages": [(u, USAGE_LABELS[u].render(lang)) for u in USAGES],
    }
    return render(request, "projects_edit.html", context, visitor=visitor, status=status)


def _form_of(values: dict[str, str]) -> ProjectForm:
    return ProjectForm(**{k: values[k][:60_000] for k in _FIELDS if k in values})


@router.get("/espace/quartiers/{hood_id}/projets", response_class=HTMLResponse)
def team_list(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The neighbourhood's project sheets, and a link to write a new one."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    lang = lang_of(request)
    context = {
        "hood": hood,
        "projects": [_sheet(p, lang) for p in projects_of(session, hood.id)],
        "can_write": visitor.caller.can_write(hood),
    }
    return render(request, "projects_team.html", context, visitor=visitor)


@router.get("/espace/quartiers/{hood_id}/projets/nouveau", response_class=HTMLResponse)
def team_new(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The form of a new sheet."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    if not visitor.caller.can_write(hood):
        raise forbidden(request, visitor)
    return _edit_page(request, session, visitor, hood, project=None, form=ProjectForm())


async def _typed(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


@router.post("/espace/quartiers/{hood_id}/projets", response_class=HTMLResponse)
async def team_create(request: Request, session: SessionDep, hood_id: str) -> Response:
    """Create a sheet (admin, the pilot team)."""
    values = await _typed(request)
    visitor, hood = writable_hood(request, session, hood_id, values.get("csrf", ""))
    form = _form_of(values)
    try:
        project = save_project(session, hood.id, form, territory=territory_geometry(hood))
    except ValidationError as exc:
        session.rollback()
        return _edit_page(
            request, session, visitor, hood, project=None, form=form,
            error=exc.localized(lang_of(request)), status=400,
        )  # fmt: skip
    return redirect(f"/espace/quartiers/{hood.id}/projets/{project.id}?fait=cree")


@router.get("/espace/quartiers/{hood_id}/projets/{pid}", response_class=HTMLResponse)
def team_sheet(
    request: Request, session: SessionDep, hood_id: str, pid: str, fait: str = ""
) -> Response:
    """A sheet's form, its expected effect with its assumptions, its publication."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    project = _project_of(request, session, visitor, hood, pid)
    done = _NOTICES.get(fait)
    return _edit_page(
        request, session, visitor, hood, project=project, form=ProjectForm.of(project),
        notice=done.render(lang_of(request)) if done is not None else None,
    )  # fmt: skip


@router.post("/espace/quartiers/{hood_id}/projets/{pid}", response_class=HTMLResponse)
async def team_update(request: Request, session: SessionDep, hood_id: str, pid: str) -> Response:
    """Update a sheet and recompute its effect (admin, the pilot team)."""
    values = await _typed(request)
    visitor, hood = writable_hood(request, session, hood_id, values.get("csrf", ""))
    project = _project_of(request, session, visitor, hood, pid)
    form = _form_of(values)
    try:
        save_project(session, hood.id, form, project=project, territory=territory_geometry(hood))
    except ValidationError as exc:
        session.rollback()
        project = _project_of(request, session, visitor, hood, pid)
        return _edit_page(
            request, session, visitor, hood, project=project, form=form,
            error=exc.localized(lang_of(request)), status=400,
        )  # fmt: skip
    return redirect(f"/espace/quartiers/{hood.id}/projets/{project.id}?fait=enregistre#effet")


@router.post("/espace/quartiers/{hood_id}/projets/{pid}/publication", response_class=HTMLResponse)
def team_publication(
    request: Request,
    session: SessionDep,
    hood_id: str,
    pid: str,
    csrf: FormStr = "",
    action: FormStr = "",
) -> Response:
    """Publish or withdraw a sheet (admin, the pilot team)."""
    visitor, hood = writable_hood(request, session, hood_id, csrf)
    project = _project_of(request, session, visitor, hood, pid)
    if action not in ("publier", "retirer"):
        raise not_found(request, visitor)
    publish_project(session, project, action == "publier")
    done = "publie" if action == "publier" else "retire"
    return redirect(f"/espace/quartiers/{hood.id}/projets/{project.id}?fait={done}#publication")


# --------------------------------------------------------------------------------------------------
# the public pages


@router.get("/q/{slug}/projets", response_class=HTMLResponse)
def public_list(request: Request, session: SessionDep, slug: str) -> Response:
    """The published sheets of the territory, by status."""
    hood = published_hood(request, session, slug)
    lang = lang_of(request)
    sheets = [_sheet(p, lang) for p in public_projects(session, hood.id)]
    groups = [
        {
            "status": s,
            "label": _status_label(s, lang),
            "sheets": [p for p in sheets if p["status"] == s],
        }
        for s in STATUSES
    ]
    context = {
        "hood": hood,
        "section": "projets",
        "kiosk": False,
        "groups": [g for g in groups if g["sheets"]],
    }
    return render(request, "projects_list.html", context)


@router.get("/q/{slug}/projets/{pid}", response_class=HTMLResponse)
def public_sheet(request: Request, session: SessionDep, slug: str, pid: str) -> Response:
    """A published sheet, its place on the outline and its expected effect."""
    hood = published_hood(request, session, slug)
    if not pid.isdigit() or len(pid) > 12:
        raise not_found(request, None)
    try:
        project = get_project(session, hood.id, int(pid), published_only=True)
    except NotFoundError:
        raise not_found(request, None) from None
    context = {
        "hood": hood,
        "section": "projets",
        "kiosk": False,
        "project": _sheet(project, lang_of(request)),
        "place": _point(hood, project),
        # the network's experts who worked on it and published their profile
        "experts": experts_of_project(session, project.id),
        # comments, following, featuring (api.web.project_community)
        "talk": sheet_talk(request, session, project),
    }
    return render(request, "projects_sheet.html", context)
