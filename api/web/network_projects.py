"""The network's projects library, ``/reseau/projets`` (issue 17), public.

- ``/reseau/projets``: every published project sheet of the published portals
  (:func:`qet_geo.store.library.library_projects`), a search box (``q``: French full text on
  PostgreSQL, a match ignoring case and accents elsewhere), facets as checkboxes of a GET form
  (theme, usage, status, profiles, neighbourhood type, région, cost, measured effect; the
  choices of a facet add up, the facets narrow), result cards linking to each sheet on its
  portal (``/q/{slug}/projets/{id}``), a map of France (the régions' outlines from the shared
  data folder, each project a point: its place, else its neighbourhood's centre; without the
  outlines the région facet lists them), and pages of :data:`PER_PAGE`.
- ``/reseau/projets.csv``: the projects the same query matches, one a row.

The neighbourhood type is the typology of the national comparison
(:func:`api.routers.national.national_rows`, as the public reads it). A facet counts projects,
not respondents; the only respondent-derived fact shown is whether a measured effect exists
(both releases 11 respondents or more on the usage, as on the impact page). Works without
JavaScript; no account.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import warnings
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dependencies import PUBLIC, SessionDep
from api.web._kit import lang_of, render
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg, number
from qet_geo.store.library import (
    FACETS,
    LibraryPage,
    LibraryProject,
    france_regions,
    library_projects,
    search_library,
)
from qet_geo.store.projects import STATUS_LABELS
from qet_geo.surveys.schema import USAGE_LABELS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Projects per page.
PER_PAGE = 20

#: The map's frame (metropolitan France and Corsica, WGS84) and width in SVG units.
_WEST, _EAST, _SOUTH, _NORTH = -5.3, 9.8, 41.2, 51.2
_WIDTH = 600.0
_KX = math.cos(math.radians(46.2))


def _xy(lon: float, lat: float) -> tuple[float, float]:
    scale = _WIDTH / ((_EAST - _WEST) * _KX)
    return (lon - _WEST) * _KX * scale, (_NORTH - lat) * scale


def _height() -> float:
    return _xy(_WEST, _SOUTH)[1]


@functools.lru_cache(maxsize=4)
def _region_paths(folder: str | None) -> tuple[str, ...]:
    """The régions' outlines as SVG path data (simplified), empty without the file."""
    out = []
    for _code, _name, geometry in france_regions(folder):
        simple = geometry.simplify(0.02, preserve_topology=True)
        polygons = getattr(simple, "geoms", [simple])
        parts = []
        for polygon in polygons:
            for ring in [polygon.exterior, *polygon.interiors]:
                points = [_xy(x, y) for x, y in ring.coords]
                parts.append("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in points) + " Z")
        out.append(" ".join(parts))
    return tuple(out)


def _label(value: Msg | str, lang: str) -> str:
    return value.render(lang) if isinstance(value, Msg) else value


def _chosen(request: Request) -> dict[str, list[str]]:
    params = request.query_params
    return {key: [v[:200] for v in params.getlist(key)][:50] for key, _title in FACETS}


def _page_number(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


def _types(request: Request) -> dict[int, int]:
    """The neighbourhoods' types in the national comparison the public reads (none: {})."""
    from api.routers.national import national_rows

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = national_rows(request, PUBLIC)
    except QetGeoError:
        return {}
    return {r.neighbourhood_id: r.type for r in rows if r.compared and r.type >= 0}


def _library(request: Request, session: Any) -> tuple[str, dict[str, list[str]], LibraryPage]:
    words = request.query_params.get("q", "").strip()[:200]
    chosen = _chosen(request)
    projects = library_projects(
        session,
        words=words,
        types=_types(request),
        shared_data=request.app.state.shared_data,
    )
    page = search_library(projects, chosen=chosen, page=_page_number(request), per_page=PER_PAGE)
    return words, chosen, page


def _query(words: str, chosen: dict[str, list[str]], **more: Any) -> str:
    pairs: list[tuple[str, Any]] = [("q", words)] if words else []
    pairs += [(key, v) for key, values in chosen.items() for v in values]
    pairs += [(k, v) for k, v in more.items() if v is not None]
    return urlencode(pairs)


def _budget(project: LibraryProject, lang: str) -> str:
    if project.budget_eur is None:
        return ""
    return number(project.budget_eur, decimals=0).render(lang) + " €"


def _card(project: LibraryProject, lang: str) -> dict[str, Any]:
    status = STATUS_LABELS.get(project.status)
    return {
        "href": f"/q/{project.slug}/projets/{project.id}",
        "impact": f"/q/{project.slug}/impact",
        "title": project.title,
        "hood": project.hood_name,
        "theme": project.theme,
        "usage": USAGE_LABELS[project.usage].render(lang) if project.usage else "",
        "status": status.render(lang) if status is not None else project.status,
        "profiles": ", ".join(str(p) for p in project.profiles),
        "budget": _budget(project, lang),
        "type": msg("Type {n}", n=project.typology + 1).render(lang)
        if project.typology is not None
        else msg("non classé").render(lang),
        "region": project.region[1] if project.region else msg("région inconnue").render(lang),
        "measured": project.measured,
        "synthetic": project.synthetic,
        "featured": project.featured,
    }


def _map(request: Request, page: LibraryPage) -> dict[str, Any] | None:
    folder = request.app.state.shared_data
    paths = _region_paths(str(folder) if folder is not None else None)
    if not paths:
        return None
    spots: dict[tuple[float, float], int] = {}
    for p in page.matching:
        if p.lonlat is None:
            continue
        x, y = _xy(*p.lonlat)
        if 0 <= x <= _WIDTH and 0 <= y <= _height():
            key = (round(x, 1), round(y, 1))
            spots[key] = spots.get(key, 0) + 1
    placed = sum(spots.values())
    return {
        "width": f"{_WIDTH:.0f}",
        "height": f"{_height():.0f}",
        "paths": paths,
        "points": [{"x": f"{x:.1f}", "y": f"{y:.1f}"} for x, y in sorted(spots)],
        "placed": placed,
        "unplaced": page.total - placed,
    }


@router.get("/reseau/projets", response_class=HTMLResponse)
def projects_library(request: Request, session: SessionDep) -> Response:
    """The network's projects library: search, facets, cards, map, pages."""
    lang = lang_of(request)
    words, chosen, page = _library(request, session)
    facets = [
        {
            "key": key,
            "title": title.render(lang),
            "values": [
                {
                    "key": v.key,
                    "label": _label(v.label, lang),
                    "count": v.count,
                    "chosen": v.chosen,
                    "id": f"f-{key}-{i}",
                }
                for i, v in enumerate(values)
            ],
        }
        for key, title, values in facets_of(page)
    ]
    pages = [
        {"number": n, "href": "/reseau/projets?" + _query(words, chosen, page=n)}
        for n in range(1, page.pages + 1)
    ]
    context = {
        "section": "projets",
        "words": words,
        "facets": facets,
        "cards": [_card(p, lang) for p in page.projects],
        "total": page.total,
        "page": page.page,
        "pages": pages if page.pages > 1 else [],
        "previous": pages[page.page - 2]["href"] if page.page > 1 else None,
        "next": pages[page.page]["href"] if page.page < page.pages else None,
        "filtered": bool(words) or any(chosen.values()),
        "csv": "/reseau/projets.csv" + ("?" + q if (q := _query(words, chosen)) else ""),
        "map": _map(request, page),
        "synthetic": any(p.synthetic for p in page.matching),
    }
    return render(request, "reseau_projets.html", context)


def facets_of(page: LibraryPage) -> list[tuple[str, Msg, list[Any]]]:
    """The facets a page shows: those with a value (a facet of no value is left out)."""
    return [(key, title, values) for key, title, values in page.facets if values]


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text (a team's title starting with ``=`` is no formula)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/reseau/projets.csv")
def projects_library_csv(request: Request, session: SessionDep) -> Response:
    """The projects the library's query matches, one a row."""
    lang = lang_of(request)
    _words, _chosen_values, page = _library(request, session)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = [
        msg("Projet"),
        msg("Titre"),
        msg("Quartier"),
        msg("Fiche"),
        msg("Thème"),
        msg("Usage"),
        msg("Statut"),
        msg("Profils concernés"),
        msg("Budget (€)"),
        msg("Type de quartier"),
        msg("Région"),
        msg("Effet mesuré"),
        msg("Réponses synthétiques"),
    ]
    writer.writerow([h.render(lang) for h in head])
    base = str(request.base_url).rstrip("/")
    yes, no = msg("oui").render(lang), msg("non").render(lang)
    for p in page.matching:
        card = _card(p, lang)
        writer.writerow(
            [
                p.id,
                _cell(p.title),
                _cell(p.hood_name),
                base + card["href"],
                _cell(p.theme),
                card["usage"],
                card["status"],
                card["profiles"],
                "" if p.budget_eur is None else f"{p.budget_eur:.0f}",
                card["type"],
                card["region"],
                yes if p.measured else no,
                yes if p.synthetic else no,
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="reseau-projets.csv"',
            "Cache-Control": "no-store",
        },
    )
