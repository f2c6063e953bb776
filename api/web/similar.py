"""Neighbourhoods like yours, on a territory's public home (issue 17: the method's
"coopétition"): the published neighbourhoods nearest to this one on standardised built
constraints and profile mix, with their chosen themes, their projects and their measured effects.

The figures compared are those ``GET /national`` gives the public
(:func:`api.routers.national.national_rows`, the same cache): published neighbourhoods, from their
latest releases, compared only where the national comparison compares them (never synthetic
answers among real ones, never the old NEAR scale). The distance is
:func:`qet_geo.analysis.similar.similar_neighbourhoods`. For each neighbour: its portal, its
type, the theme its forum chose (once the vote's results are published), its published project
sheets with their expected effect and, where its second diagnostic measured the project's usage
on 11 respondents or more in both releases, the measured change
(:func:`qet_geo.store.library.measured_change`, the impact page's rule). Nothing else is read:
every figure shown is already public elsewhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from api.dependencies import PUBLIC
from api.routers.national import national_rows, nearest_rows
from qet_geo.errors import QetGeoError
from qet_geo.i18n import msg, number
from qet_geo.store.library import compare_releases, measured_change, released_campaigns
from qet_geo.store.models import Neighbourhood
from qet_geo.store.projects import STATUS_LABELS, public_projects

__all__ = ["like_yours"]

#: Neighbours shown, and project sheets shown per neighbour.
NEIGHBOURS = 3
SHEETS = 3


def _kg(value: Any, lang: str) -> str:
    return msg("{kg} kgCO2e par an", kg=number(float(value), decimals=0)).render(lang)


def _sheets(session: Session, hood: Neighbourhood, lang: str) -> list[dict[str, Any]]:
    campaigns = released_campaigns(session, hood.id)
    comparison = None
    if len(campaigns) >= 2:
        try:
            comparison = compare_releases(campaigns[-2], campaigns[-1])
        except QetGeoError:  # not comparable: no measured effect to show
            comparison = None
    out = []
    for project in public_projects(session, hood.id)[:SHEETS]:
        effect = (project.effect or {}).get("value")
        measured = measured_change(comparison, project.usage)
        out.append(
            {
                "title": project.title,
                "href": f"/q/{hood.slug}/projets/{project.id}",
                "status": STATUS_LABELS[project.status].render(lang)
                if project.status in STATUS_LABELS
                else project.status,
                "expected": _kg(effect, lang) if isinstance(effect, int | float) else None,
                "measured": (
                    _kg(measured["delta"], lang)
                    if measured is not None and isinstance(measured.get("delta"), int | float)
                    else None
                ),
            }
        )
    return out


def like_yours(
    request: Request, session: Session, hood: Neighbourhood, lang: str
) -> dict[str, Any]:
    """The section's context: ``neighbours`` (nearest first) or ``why`` (a sentence)."""
    from api.web.portal import chosen_theme

    found = nearest_rows(national_rows(request, PUBLIC), hood.id, k=NEIGHBOURS)
    if found is None:
        return {
            "why": msg(
                "Le quartier sera comparé aux autres quartiers du réseau une fois son diagnostic "
                "publié."
            ).render(lang)
        }
    if not found:
        return {
            "why": msg("Aucun autre quartier publié ne se compare encore à celui-ci.").render(lang)
        }
    synthetic = any(r.synthetic for r, _ in found)
    neighbours = []
    for row, _distance in found:
        other = session.get(Neighbourhood, row.neighbourhood_id)
        if other is None or not other.published:
            continue
        neighbours.append(
            {
                "name": other.name,
                "href": f"/q/{other.slug}" if other.slug else None,
                "type": row.type + 1,
                "synthetic": row.synthetic,
                "theme": chosen_theme(session, other, lang),
                "sheets": _sheets(session, other, lang) if other.slug else [],
            }
        )
    return {"neighbours": neighbours, "synthetic": synthetic}
