"""The public impact page of a territory, ``/q/{slug}/impact`` (phase 6: the second diagnostic).

The neighbourhood's two latest campaigns that have a release (year N and year N+1), each read
from its latest release only (:func:`qet_geo.store.releases.latest_release`):

- per usage and in total, the change of the mean footprint with its 95 % interval, from the two
  releases' stored moments (:func:`qet_geo.analysis.national.before_after_moments`, as the API's
  ``GET /neighbourhoods/{id}/before-after`` does for a reader without write rights); releases of
  different footprint scales (``summary["scale"]``) are not compared, nor a synthetic campaign
  with a real one: the page says why instead;
- the share of each reference profile before and after;
- when both releases are weighted to the census of the neighbourhood's IRIS (on the same table
  and IRIS), the census-weighted change per usage and in total with its 95 % interval from the
  effective sample sizes (:func:`qet_geo.store.census_figures.weighted_release_changes`), beside
  the unweighted one; otherwise why not;
- what such a comparison cannot prove (different respondents, not a panel; associations, not
  causes; the sample sizes) and what weighting cannot fix;
- each published project (:class:`qet_geo.store.models.Project`) with its expected effect
  (``effect["value"]``, kgCO2e per year; "not estimated" without one) beside the measured change
  of the usage it targets, only where both releases have 11 respondents or more for it.

No account; an unknown address and an unpublished neighbourhood give the same 404 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import SessionDep
from api.web._kit import error_sentence, lang_of, published_hood, render
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, day, msg, number
from qet_geo.store.library import (
    Campaign,
    Comparison,
    compare_releases,
    measured_change,
    released_campaigns,
)
from qet_geo.store.models import Project
from qet_geo.store.releases import Figures
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["Campaign", "compare_releases", "released_campaigns", "router"]

router = APIRouter(include_in_schema=False)


def _label(key: str, lang: str) -> str:
    if key == "total":
        return msg("Total des six usages").render(lang)
    return USAGE_LABELS[key].render(lang) if key in USAGE_LABELS else key


def _kg(value: float, lang: str, *, signed: bool = False) -> str:
    text = number(round(float(value)), decimals=0).render(lang)
    if signed and value > 0:
        text = "+" + text
    return text.replace("-", "−")


def _rows(comparison: Comparison, lang: str) -> list[dict[str, Any]]:
    rows = []
    for key in [*USAGES, "total"]:
        if key in comparison.deltas:
            d = comparison.deltas[key]
            low, high = float(d["ci_low"]), float(d["ci_high"])
            verdict = _verdict(low, high)
            rows.append(
                {
                    "key": key,
                    "label": _label(key, lang),
                    "before": _kg(d["mean_before"], lang),
                    "after": _kg(d["mean_after"], lang),
                    "delta": _kg(d["delta"], lang, signed=True),
                    "low": _kg(low, lang, signed=True),
                    "high": _kg(high, lang, signed=True),
                    "verdict": verdict.render(lang),
                    "n_before": int(d["n_before"]),
                    "n_after": int(d["n_after"]),
                }
            )
        elif key in comparison.withheld:
            rows.append({"key": key, "label": _label(key, lang), "withheld": True})
    return rows


#: Why the census-weighted change is not shown (:mod:`qet_geo.store.census_figures`).
_NOT_WEIGHTED = {
    "not_weighted": msg(
        "Pas de comparaison pondérée par le recensement : les deux publications doivent être "
        "pondérées (codes IRIS du quartier présents dans une table du recensement des données "
        "partagées) ; la publication de chaque année dit pourquoi elle ne l'est pas."
    ),
    "other_table": msg(
        "Pas de comparaison pondérée par le recensement : les deux publications sont pondérées "
        "sur des tables ou des IRIS différents. Publiez à nouveau les deux campagnes avec la "
        "même table du recensement."
    ),
}


def _weighted(before: Campaign, after: Campaign, lang: str) -> tuple[list[dict[str, Any]], str]:
    """The census-weighted change per usage and in total, with its 95 % interval (effective
    sample sizes), from the releases' weighted moments; or why not, in words."""
    from qet_geo.store.census_figures import weighted_release_changes

    table = weighted_release_changes(
        before.release.summary or {}, after.release.summary or {}, confidence=0.95
    )
    if isinstance(table, str):
        return [], _NOT_WEIGHTED.get(table, _NOT_WEIGHTED["not_weighted"]).render(lang)
    withheld = [str(v).removesuffix("_kgco2e") for v in table.attrs.get("withheld", [])]
    rows: list[dict[str, Any]] = []
    changes = table.to_dict("index")
    for key in [*USAGES, "total"]:
        name = f"{key}_kgco2e"
        if name in changes:
            d = {str(k): float(v) for k, v in changes[name].items()}
            rows.append(
                {
                    "label": _label(key, lang),
                    "before": _kg(d["mean_before"], lang),
                    "after": _kg(d["mean_after"], lang),
                    "delta": _kg(d["delta"], lang, signed=True),
                    "low": _kg(d["ci_low"], lang, signed=True),
                    "high": _kg(d["ci_high"], lang, signed=True),
                    "verdict": _verdict(d["ci_low"], d["ci_high"]).render(lang),
                    "n_eff": " / ".join(
                        number(d[c], decimals=0).render(lang)
                        for c in ("n_eff_before", "n_eff_after")
                    ),
                }
            )
        elif key in withheld:
            rows.append({"label": _label(key, lang), "withheld": True})
    return rows, ""


def _verdict(low: float, high: float) -> Msg:
    if high < 0:
        return msg("en baisse")
    if low > 0:
        return msg("en hausse")
    return msg("pas de changement net")


def _share(shares: dict[str, float], key: str, lang: str) -> str:
    if key not in shares:
        return "—"
    return number(100 * float(shares[key]), decimals=0).render(lang) + " %"


def _profiles(before: Campaign, after: Campaign, lang: str) -> list[dict[str, str]]:
    """The share of each reference profile in each release (a dash where one has none)."""
    a = Figures.from_json(before.release.figures).profile_shares
    b = Figures.from_json(after.release.figures).profile_shares
    out = []
    for key in sorted(set(a) | set(b), key=lambda k: (not str(k).isdigit(), str(k).zfill(4))):
        name = msg("Profil {n}", n=int(key) + 1).render(lang) if str(key).isdigit() else str(key)

        out.append({"name": name, "before": _share(a, key, lang), "after": _share(b, key, lang)})
    return out


def _effect(project: Project, lang: str) -> str | None:
    """The project's expected effect in words (None: not estimated): kgCO2e avoided a year, a
    positive number for a saving, as :func:`qet_geo.analysis.project_effect.expected_effect`
    gives it."""
    effect = project.effect or {}
    value = effect.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    text = _kg(value, lang)
    low, high = effect.get("low"), effect.get("high")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        return msg(
            "{value} (entre {low} et {high})",
            value=text,
            low=_kg(low, lang),
            high=_kg(high, lang),
        ).render(lang)
    return text


def _projects(
    session: Session, hood_id: int, comparison: Comparison | None, lang: str
) -> list[dict[str, Any]]:
    """The published projects, each with its expected effect and the measured change of its
    usage (only where both releases count 11 respondents or more for it)."""
    projects = session.scalars(
        select(Project)
        .where(Project.neighbourhood_id == hood_id, Project.published.is_(True))
        .order_by(Project.id)
    )
    out = []
    for project in projects:
        usage = project.usage if project.usage in USAGES else None
        measured: str | None = None
        d = measured_change(comparison, usage)
        if d is not None:
            measured = msg(
                "{delta} (entre {low} et {high})",
                delta=_kg(d["delta"], lang, signed=True),
                low=_kg(d["ci_low"], lang, signed=True),
                high=_kg(d["ci_high"], lang, signed=True),
            ).render(lang)
        out.append(
            {
                "id": project.id,
                "title": project.title,
                "usage": _label(usage, lang) if usage else None,
                "effect": _effect(project, lang),
                "measured": measured,
            }
        )
    return out


@router.get("/q/{slug}/impact", response_class=HTMLResponse)
def impact(request: Request, session: SessionDep, slug: str) -> Response:
    """The second diagnostic against the first, and the projects' expected effects."""
    hood = published_hood(request, session, slug)
    lang = lang_of(request)
    campaigns = released_campaigns(session, hood.id)
    context: dict[str, Any] = {
        "hood": hood,
        "section": "impact",
        "kiosk": False,
        "before": None,
        "after": None,
        "refusal": None,
        "rows": [],
        "profiles": [],
        "synthetic": False,
        # census-weighted changes (api.web.impact._weighted), or why not
        "weighted": [],
        "not_weighted": "",
    }
    comparison: Comparison | None = None
    if len(campaigns) >= 2:
        before, after = campaigns[-2], campaigns[-1]
        context["before"] = {
            "year": before.diag.year,
            "n": int(before.release.summary.get("n_respondents", 0)),
            "on": day(before.release.created_at).render(lang),
        }
        context["after"] = {
            "year": after.diag.year,
            "n": int(after.release.summary.get("n_respondents", 0)),
            "on": day(after.release.created_at).render(lang),
        }
        try:
            comparison = compare_releases(before, after)
        except QetGeoError as error:
            context["refusal"] = error_sentence(error, lang)
        else:
            context["rows"] = _rows(comparison, lang)
            context["synthetic"] = comparison.synthetic
            context["profiles"] = _profiles(before, after, lang)
            context["weighted"], context["not_weighted"] = _weighted(before, after, lang)
    elif campaigns:
        context["only"] = campaigns[0].diag.year
    context["projects"] = _projects(session, hood.id, comparison, lang)
    return render(request, "impact_page.html", context)
