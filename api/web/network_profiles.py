"""The national usage profiles and their trend, ``/reseau/profils`` (issue 17).

The national reference profiles (``Profile`` rows of scope "national", fitted by
:func:`qet_geo.store.jobs.fit_national_profiles`), each described in words from its centre;
their shares per région and per neighbourhood type, pooled over the published neighbourhoods of
the public national comparison (:func:`api.routers.national.national_rows`, weighted by their
respondents: :func:`qet_geo.analysis.similar.pooled_profile_mix`); and how they move between
the first and the second diagnostic across the network (each neighbourhood's two latest released
campaigns, when comparable: same footprint scale, same nature of answers).

Network staff read the page at once and publish it (or withdraw it); the public reads it once
published (``Profile.published``, migration 0019). A new fit of the profiles is unpublished until
staff publish it again. Every share shown comes from published releases: a group of published
neighbourhoods holds 11 respondents or more, since each of them does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.dependencies import PUBLIC, SessionDep
from api.routers.national import national_rows
from api.web._kit import (
    FormStr,
    check_csrf,
    lang_of,
    not_found,
    redirect,
    render,
    signed_in,
    staff_only,
    visitor_of,
)
from qet_geo.analysis.similar import pooled_profile_mix
from qet_geo.i18n import msg, number
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.library import region_of, released_campaigns
from qet_geo.store.models import Neighbourhood, Profile
from qet_geo.store.releases import Figures

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _national_profiles(session: Session) -> list[Profile]:
    return list(
        session.scalars(
            select(Profile)
            .where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
            .order_by(Profile.number)
        )
    )


def _pct(value: Any, lang: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    return msg("{pct} %", pct=number(100 * float(value), decimals=1)).render(lang)


def _groups(table: pd.DataFrame, keys: list[str], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "label": str(group),
            "neighbourhoods": int(row["neighbourhoods"]),
            "respondents": int(row["respondents"]),
            "shares": [_pct(row.get(k), lang) for k in keys],
        }
        for group, row in table.iterrows()
    ]


def _trend(session: Session, hoods: list[Neighbourhood], keys: list[str]) -> dict[str, Any]:
    """Profile shares before and after over the neighbourhoods with two comparable campaigns."""
    before: list[dict[str, float]] = []
    after: list[dict[str, float]] = []
    weights: list[tuple[int, int]] = []
    synthetic = False
    for hood in hoods:
        campaigns = released_campaigns(session, hood.id)
        if len(campaigns) < 2:
            continue
        first, second = campaigns[-2], campaigns[-1]
        if first.scale != second.scale or first.synthetic != second.synthetic:
            continue
        a = Figures.from_json(first.release.figures)
        b = Figures.from_json(second.release.figures)
        if a.n_respondents < MIN_RESPONDENTS or b.n_respondents < MIN_RESPONDENTS:
            continue
        if not a.profile_shares or not b.profile_shares:
            continue
        before.append(a.profile_shares)
        after.append(b.profile_shares)
        weights.append((a.n_respondents, b.n_respondents))
        synthetic = synthetic or first.synthetic
    if not weights:
        return {"n": 0}

    def mean(side: list[dict[str, float]], col: int) -> dict[str, float]:
        total = sum(w[col] for w in weights)
        return {
            k: sum(s.get(k, 0.0) * w[col] for s, w in zip(side, weights, strict=True)) / total
            for k in keys
        }

    return {
        "n": len(weights),
        "before": mean(before, 0),
        "after": mean(after, 1),
        "respondents": (sum(w[0] for w in weights), sum(w[1] for w in weights)),
        "synthetic": synthetic,
    }


@router.get("/reseau/profils", response_class=HTMLResponse)
def national_profiles_page(request: Request, session: SessionDep) -> Response:
    """The national profiles, their shares per région and type, and their trend."""
    from api.web.analysis import _reference_descriptions

    lang = lang_of(request)
    visitor = visitor_of(request, session)
    staff = visitor is not None and visitor.is_staff
    profiles = _national_profiles(session)
    published = bool(profiles) and all(p.published for p in profiles)
    context: dict[str, Any] = {
        "section": "profils",
        "visitor": visitor,
        "staff": staff,
        "published": published,
        "fitted": bool(profiles),
        "done": request.query_params.get("fait", ""),
    }
    if not published and not staff:
        return render(request, "reseau_profils.html", context, visitor=visitor)
    described = _reference_descriptions(session, lang)
    keys = [str(p.number) for p in profiles]
    context["profiles"] = [
        {
            "number": p.number,
            "description": described.get(str(p.number), ""),
            "share": _pct(p.share, lang),
        }
        for p in profiles
    ]
    context["synthetic_fit"] = any(p.synthetic for p in profiles)
    rows = [
        r
        for r in national_rows(request, PUBLIC)
        if r.compared and r.n_respondents >= MIN_RESPONDENTS and r.profile_mix
    ]
    context["keys"] = keys
    context["regions"] = context["types"] = []
    if rows:
        ids = [r.neighbourhood_id for r in rows]
        mix = pd.DataFrame([r.profile_mix for r in rows], index=ids).reindex(columns=keys)
        weights = pd.Series([r.n_respondents for r in rows], index=ids)
        shared = getattr(request.app.state, "shared_data", None)
        unknown = msg("Région inconnue").render(lang)
        regions = pd.Series(
            {
                r.neighbourhood_id: (
                    found[1]
                    if (hood := session.get(Neighbourhood, r.neighbourhood_id)) is not None
                    and (found := region_of(hood, shared)) is not None
                    else unknown
                )
                for r in rows
            }
        )
        types = pd.Series(
            {
                r.neighbourhood_id: msg("Type {n}", n=r.type + 1).render(lang)
                if r.type >= 0
                else msg("Non classé").render(lang)
                for r in rows
            }
        )
        context["regions"] = _groups(pooled_profile_mix(mix, weights, regions), keys, lang)
        context["types"] = _groups(pooled_profile_mix(mix, weights, types), keys, lang)
        context["synthetic_rows"] = any(r.synthetic for r in rows)
    hoods = list(
        session.scalars(
            select(Neighbourhood)
            .where(Neighbourhood.published.is_(True))
            .order_by(Neighbourhood.id)
        )
    )
    trend = _trend(session, hoods, keys)
    if trend["n"]:
        trend["rows"] = [
            {
                "number": k,
                "before": _pct(trend["before"][k], lang),
                "after": _pct(trend["after"][k], lang),
                "change": msg(
                    "{sign}{pts} points",
                    sign="+" if trend["after"][k] >= trend["before"][k] else "−",
                    pts=number(abs(100 * (trend["after"][k] - trend["before"][k])), decimals=1),
                ).render(lang),
            }
            for k in keys
        ]
    context["trend"] = trend
    return render(request, "reseau_profils.html", context, visitor=visitor)


@router.post("/reseau/profils/publication", response_class=HTMLResponse)
def publish_national_profiles(
    request: Request, session: SessionDep, csrf: FormStr = "", action: FormStr = ""
) -> Response:
    """Publish or withdraw the national profiles' page (network staff, administrators)."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    staff_only(request, visitor)
    if action not in ("publier", "retirer"):
        raise not_found(request, visitor)
    session.execute(
        update(Profile)
        .where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
        .values(published=action == "publier")
    )
    session.commit()
    return redirect(f"/reseau/profils?fait={'publie' if action == 'publier' else 'retire'}")
