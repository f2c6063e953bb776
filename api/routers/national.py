"""National comparison of neighbourhoods (table and map), and before/after comparison."""

from __future__ import annotations

import math
import warnings
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import Caller, CallerDep, SessionDep, neighbourhood_for, require_roles
from api.errors import request_lang
from api.models import (
    BeforeAfterOut,
    DeltaRow,
    ErrorOut,
    NationalProfilesOut,
    NationalRow,
    ProfileOut,
)
from qet_geo.errors import EmptyDataError
from qet_geo.national import before_after, compare_neighbourhoods
from qet_geo.privacy import MIN_RESPONDENTS, require_protected
from qet_geo.service import fit_national_profiles
from qet_geo.store import (
    Diagnostic,
    Indicator,
    Neighbourhood,
    NotFoundError,
    Respondent,
    national_reference,
    respondents_frame,
    territory_geometry,
)

router = APIRouter(tags=["comparaisons"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
HoodId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Year = Annotated[int, Query(ge=0, le=100)]


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, 4)


def national_rows(session: Session, caller: Caller) -> list[NationalRow]:
    """Return the national comparison of the neighbourhoods ``caller`` may see (``GET /national``).

    One row per neighbourhood the caller may read, or published, with a campaign with answers
    (its latest). The table is protected (:func:`qet_geo.privacy.require_protected`): a
    neighbourhood of fewer than 11 respondents has ``n_respondents`` 0 and no respondent figure.
    """
    hoods = [
        h
        for h in session.scalars(select(Neighbourhood).order_by(Neighbourhood.id))
        if caller.can_read(h) or h.published
    ]
    frames, latest = [], {}
    for hood in hoods:
        # the latest campaign that has answers
        diag = session.scalars(
            select(Diagnostic)
            .where(
                Diagnostic.neighbourhood_id == hood.id,
                select(Respondent.id).where(Respondent.diagnostic_id == Diagnostic.id).exists(),
            )
            .order_by(Diagnostic.year.desc())
        ).first()
        if diag is None:
            continue
        latest[hood.id] = diag
        frame = respondents_frame(session, diag.id)
        if len(frame):
            frames.append(frame.assign(neighbourhood=str(hood.id)))
    if not frames:
        return []
    respondents = pd.concat(frames, ignore_index=True)
    indicators = session.execute(
        select(
            Indicator.neighbourhood_id,
            Indicator.zone_id,
            Indicator.name,
            Indicator.value,
            Indicator.population,
        ).where(Indicator.neighbourhood_id.in_(list(latest)))
    ).all()
    constraints = None
    if indicators:
        long = pd.DataFrame(indicators, columns=["neighbourhood", "zone", "name", "value", "pop"])
        wide = long.pivot_table(index=["neighbourhood", "zone"], columns="name", values="value")
        pops = long.groupby(["neighbourhood", "zone"])["pop"].max()
        constraints = wide.assign(population=pops.fillna(0.0)).reset_index()
        constraints["neighbourhood"] = constraints["neighbourhood"].astype(str)
        constraints = constraints.drop(columns="zone")
    table = compare_neighbourhoods(
        respondents.assign(profile=respondents["profile"].astype("Int64")),
        constraints=constraints,
    )
    require_protected(table, what="the national comparison")
    names = {str(h.id): h.name for h in hoods}
    feet = [c for c in table.columns if c.endswith("_kgco2e") and not c.startswith("rank_")]
    mix = [c for c in table.columns if c.startswith("mix_")]
    fixed = {"n_respondents", "type", "rank_total_kgco2e", *feet, *mix}
    others = [c for c in table.columns if c not in fixed]
    rows = []
    for key, row in table.iterrows():
        rank = row.get("rank_total_kgco2e")
        rows.append(
            NationalRow(
                neighbourhood_id=int(str(key)),
                name=names[str(key)],
                year=latest[int(str(key))].year,
                n_respondents=int(row["n_respondents"]),
                mean_kgco2e={c.removesuffix("_kgco2e"): _num(row[c]) for c in feet},
                profile_mix={c.removeprefix("mix_"): _num(row[c]) for c in mix},
                constraints={c: _num(row[c]) for c in others},
                type=int(row["type"]),
                rank_total_kgco2e=None if pd.isna(rank) else int(rank),
            )
        )
    return rows


@router.get("/national", response_model=list[NationalRow], responses=_ERRORS)
def national(session: SessionDep, caller: CallerDep) -> list[NationalRow]:
    """Compare the latest campaign (with answers) of every neighbourhood the caller may see.

    Footprint per usage per person, mix of national reference profiles, population-weighted
    constraint indicators, a typology on constraints and the footprint rank (1 = lowest).
    Neighbourhoods with fewer than 11 respondents get no respondent figure.
    """
    return national_rows(session, caller)


# Errors of an HTML route are still JSON: documented as such, not as text/html.
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


@router.get(
    "/national/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 422)},
)
def national_map(request: Request, session: SessionDep, caller: CallerDep) -> HTMLResponse:
    """Offline HTML map of the national comparison: each neighbourhood on its territory.

    The rows of ``GET /national`` (the same neighbourhoods, the same protected figures),
    coloured by the mean total footprint per person; tooltips give the footprints, the profile
    mix, the constraint indicators, the type and the rank. A neighbourhood of fewer than 11
    respondents shows its name only. Neighbourhoods without a territory are not drawn: a note
    on the map lists them. French, or English with ``Accept-Language: en``; 422 when no
    neighbourhood the caller may see can be placed.
    """
    rows = national_rows(session, caller)
    territories = {
        row.neighbourhood_id: territory_geometry(hood)
        for row in rows
        if (hood := session.get(Neighbourhood, row.neighbourhood_id)) is not None
    }
    html = _national_map_html(rows, territories, lang=request_lang(request))
    return HTMLResponse(html)


def _national_map_html(rows: list[NationalRow], territories: dict[int, Any], *, lang: str) -> str:
    import geopandas as gpd

    from maps.national import make_national_map

    placed = [r for r in rows if territories.get(r.neighbourhood_id) is not None]
    left_out = [r.name for r in rows if territories.get(r.neighbourhood_id) is None]
    if not placed:
        raise EmptyDataError(
            f"none of the {len(rows)} neighbourhoods you may see in the national comparison "
            "has a territory: nothing to map (set them with PUT /neighbourhoods/<id>/territory).",
            message_fr=f"aucun des {len(rows)} quartiers que vous pouvez voir dans la "
            "comparaison nationale n'a de territoire : rien à cartographier (définissez-les "
            "avec PUT /neighbourhoods/<id>/territory).",
        )
    records = []
    for r in placed:
        record: dict[str, Any] = {
            "name": r.name,
            "year": r.year,
            "n_respondents": r.n_respondents,
            # the national table has already withheld the figures of 1 to 10 respondents
            "withheld": r.n_respondents < MIN_RESPONDENTS,
        }
        record.update({f"{k}_kgco2e_mean": v for k, v in r.mean_kgco2e.items()})
        record.update({f"share_{k}": v for k, v in r.profile_mix.items()})
        record.update(r.constraints)
        record["type"] = None if r.type < 0 else r.type
        record["rank_total_kgco2e"] = r.rank_total_kgco2e
        records.append(record)
    frame = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records),
        geometry=[territories[r.neighbourhood_id] for r in placed],
        crs="EPSG:2154",
    )
    feet = [c for c in frame.columns if c.endswith("_kgco2e_mean")]
    feet = (["total_kgco2e_mean"] if "total_kgco2e_mean" in feet else []) + [
        c for c in feet if c != "total_kgco2e_mean"
    ]
    shares = [c for c in frame.columns if c.startswith("share_")]
    constraints = sorted({k for r in placed for k in r.constraints})
    figures = [
        "year",
        "n_respondents",
        *feet,
        *shares,
        *constraints,
        "type",
        "rank_total_kgco2e",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make_national_map(
            frame,
            color="total_kgco2e_mean" if "total_kgco2e_mean" in frame.columns else None,
            figures=figures,
            withheld="withheld",
            left_out=left_out,
            lang=lang,
        )
    return str(m.get_root().render())


@router.get(
    "/neighbourhoods/{neighbourhood_id}/before-after",
    response_model=BeforeAfterOut,
    responses=_ERRORS,
)
def compare_campaigns(
    session: SessionDep,
    caller: CallerDep,
    neighbourhood_id: HoodId,
    before: Year = 0,
    after: Year = 1,
    confidence: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
) -> BeforeAfterOut:
    """Change of the mean footprints between two campaigns (years), with confidence intervals."""
    hood = neighbourhood_for(session, caller, neighbourhood_id)
    frames = []
    for year in (before, after):
        diag = session.scalars(
            select(Diagnostic).where(
                Diagnostic.neighbourhood_id == hood.id, Diagnostic.year == year
            )
        ).first()
        if diag is None:
            raise NotFoundError(
                f"neighbourhood {hood.id} has no campaign for year {year}.",
                message_fr=f"le quartier {hood.id} n'a pas de campagne pour l'année {year}.",
            )
        frames.append(respondents_frame(session, diag.id))
    table = before_after(frames[0], frames[1], confidence=confidence)
    return BeforeAfterOut(
        neighbourhood_id=hood.id,
        before_year=before,
        after_year=after,
        confidence=confidence,
        deltas=[
            DeltaRow(value=str(name), **{k: row[k] for k in DeltaRow.model_fields if k != "value"})
            for name, row in table.iterrows()
        ],
    )


_PROFILE_ERRORS: dict[int | str, dict[str, object]] = {**_ERRORS, 403: {"model": ErrorOut}}


@router.get("/national/profiles", response_model=NationalProfilesOut, responses=_PROFILE_ERRORS)
def national_profiles(session: SessionDep, caller: CallerDep) -> NationalProfilesOut:
    """The national reference profiles (admin, network staff, pilot teams).

    Each is given by its share of the pooled answers and its centre on the answer scale (1 to
    3); only profiles of 11 respondents or more are kept. Empty before the first fit.
    """
    require_roles(caller, "admin", "staff", "pilot")
    return NationalProfilesOut(
        profiles=[ProfileOut.from_stored(p) for p in national_reference(session)]
    )


@router.post(
    "/national/profiles",
    response_model=NationalProfilesOut,
    responses={**_PROFILE_ERRORS, 409: {"model": ErrorOut}},
)
async def fit_national(request: Request, caller: CallerDep) -> NationalProfilesOut:
    """Fit the national reference profiles on the network's answers and store them (admin, staff).

    The latest campaign with 11 complete answers or more of every neighbourhood is pooled, each
    neighbourhood weighing the same. The new profiles replace the previous ones, and every
    respondent is given the nearest of them, in one transaction: the profile shares of every
    diagnostic and the national comparison then refer to them.
    """
    require_roles(caller, "admin", "staff")
    result = await run_in_threadpool(fit_national_profiles, request.app.state.engine)
    cache = request.app.state.aggregates
    for diagnostic_id in result.diagnostic_ids:  # their profile shares changed
        cache.clear(diagnostic_id)
    return NationalProfilesOut(
        profiles=[ProfileOut.from_stored(p) for p in result.profiles],
        n_neighbourhoods=result.n_neighbourhoods,
        n_answers=result.n_answers,
        n_reassigned=result.n_reassigned,
    )
