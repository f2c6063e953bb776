"""National comparison of neighbourhoods (its map is in maps.py), and before/after comparison."""

from __future__ import annotations

import json
import math
import warnings
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api._aggregates import NationalCache, ReleasedHood
from api.dependencies import Caller, CallerDep, SessionDep, neighbourhood_for, require_roles
from api.models import (
    BeforeAfterOut,
    DeltaRow,
    ErrorOut,
    NationalProfilesOut,
    NationalRow,
    ProfileOut,
    SimilarRow,
)
from api.routers.aggregates import shared_lookup
from qet_geo.analysis.national import before_after, national_table
from qet_geo.errors import QetGeoWarning
from qet_geo.i18n import msg
from qet_geo.privacy import require_protected
from qet_geo.store.ingest import FOOTPRINT_SCALE, respondents_frame
from qet_geo.store.jobs import fit_national_profiles
from qet_geo.store.models import (
    Diagnostic,
    NotFoundError,
    national_reference,
)
from qet_geo.store.releases import latest_release, release_changes
from qet_geo.surveys.schema import USAGES

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


def _released_rows(released: list[ReleasedHood]) -> list[NationalRow]:
    """The national comparison of these neighbourhoods, from their latest releases' summaries."""
    if not released:
        return []
    # releases published before migration 0012 hold footprints of NEAR's table: listed, never
    # ranked beside the others (the same kgCO2e would not mean the same)
    other_scale = [
        r for r in released if r.summary.get("scale", FOOTPRINT_SCALE) != FOOTPRINT_SCALE
    ]
    released = [r for r in released if r not in other_scale]
    rows = [_left_out(r, synthetic=bool(r.summary.get("synthetic", False))) for r in other_scale]
    # a campaign without a release yet: listed with no figure, and neither real nor synthetic
    # (counted as real, it would push every synthetic neighbourhood out of a demonstration)
    waiting = [r for r in released if not r.summary]
    released = [r for r in released if r.summary]
    if not released:
        rows += [_waiting(r, [f"{u}_kgco2e" for u in (*USAGES, "total")], [], []) for r in waiting]
        rows.sort(key=lambda r: r.neighbourhood_id)
        return rows
    records, constraint_names = {}, set()
    for r in released:
        s = r.summary
        record: dict[str, Any] = {
            "n_respondents": int(s.get("n_respondents", 0)),
            "synthetic": bool(s.get("synthetic", False)),
        }
        feet = s.get("footprints") or {}
        for usage in (*USAGES, "total"):
            record[f"{usage}_kgco2e"] = feet.get(usage, math.nan)
        for number, share in (s.get("profile_shares") or {}).items():
            record[f"mix_{number}"] = share
        for name, value in (s.get("constraints") or {}).items():
            record[name] = math.nan if value is None else value
            constraint_names.add(name)
        records[str(r.hood.id)] = record
    frame = pd.DataFrame.from_dict(records, orient="index")
    with warnings.catch_warnings():
        # the synthetic neighbourhoods left out are listed below, each with its own row
        warnings.simplefilter("ignore", QetGeoWarning)
        table = national_table(frame, constraints=sorted(constraint_names))
    require_protected(table, what="the national comparison")
    synthetic = bool(table.attrs.get("synthetic", False))
    feet_cols = [c for c in table.columns if c.endswith("_kgco2e") and not c.startswith("rank_")]
    mix = sorted(c for c in table.columns if c.startswith("mix_"))
    by_id = {str(r.hood.id): r for r in released}
    for key, row in table.iterrows():
        rank = row.get("rank_total_kgco2e")
        hood = by_id[str(key)]
        rows.append(
            NationalRow(
                neighbourhood_id=hood.hood.id,
                name=hood.name,
                year=hood.year,
                n_respondents=int(row["n_respondents"]),
                mean_kgco2e={c.removesuffix("_kgco2e"): _num(row[c]) for c in feet_cols},
                profile_mix={c.removeprefix("mix_"): _num(row[c]) for c in mix},
                constraints={c: _num(row[c]) for c in sorted(constraint_names)},
                type=int(row["type"]),
                rank_total_kgco2e=None if pd.isna(rank) else int(rank),
                synthetic=synthetic,
                scale=FOOTPRINT_SCALE,
            )
        )
    for key in table.attrs.get("synthetic_left_out", []):
        rows.append(_left_out(by_id[str(key)], synthetic=True))
    rows += [_waiting(r, feet_cols, mix, sorted(constraint_names)) for r in waiting]
    rows.sort(key=lambda r: r.neighbourhood_id)
    return rows


def _waiting(
    hood: ReleasedHood, feet: list[str], mix: list[str], constraints: list[str]
) -> NationalRow:
    """A neighbourhood whose campaign has no release yet: in the comparison, every figure null."""
    return NationalRow(
        neighbourhood_id=hood.hood.id,
        name=hood.name,
        year=hood.year,
        n_respondents=0,
        mean_kgco2e={c.removesuffix("_kgco2e"): None for c in feet},
        profile_mix={c.removeprefix("mix_"): None for c in mix},
        constraints=dict.fromkeys(constraints),
        type=-1,
        rank_total_kgco2e=None,
        scale=FOOTPRINT_SCALE,
    )


def _left_out(hood: ReleasedHood, *, synthetic: bool) -> NationalRow:
    """A neighbourhood listed in the national comparison without being compared, no figure."""
    return NationalRow(
        neighbourhood_id=hood.hood.id,
        name=hood.name,
        year=hood.year,
        n_respondents=int(hood.summary.get("n_respondents", 0)),
        mean_kgco2e={},
        profile_mix={},
        constraints={},
        type=-1,
        rank_total_kgco2e=None,
        synthetic=synthetic,
        compared=False,
        scale=str(hood.summary.get("scale", FOOTPRINT_SCALE)),
    )


def _table_for(
    cache: NationalCache, digest: str, released: list[ReleasedHood], caller: Caller
) -> tuple[list[NationalRow], bytes]:
    visible = [r for r in released if caller.can_read(r.hood) or r.hood.published]
    key = tuple(r.hood.id for r in visible)
    hit = cache.table(digest, released, key)
    if hit is None:
        rows = _released_rows(visible)
        body = json.dumps([r.model_dump() for r in rows], ensure_ascii=False).encode()
        hit = (rows, body)
        cache.keep(digest, key, hit)
    out: tuple[list[NationalRow], bytes] = hit
    return out


def national_rows(request: Request, caller: Caller) -> list[NationalRow]:
    """Return the national comparison of the neighbourhoods ``caller`` may see (``GET /national``).

    One row per neighbourhood the caller may read with a release: the latest release of its
    latest released campaign (:mod:`qet_geo.store.releases`). Every figure comes from that release,
    protected when it was made; unreleased campaigns are never read.
    """
    cache: NationalCache = request.app.state.aggregates.national
    data = cache.fresh() or cache.load(request.app.state.engine)
    return _table_for(cache, data[0], data[1], caller)[0]


def nearest_rows(
    rows: list[NationalRow], hood_id: int, *, k: int = 3
) -> list[tuple[NationalRow, float]] | None:
    """The ``k`` compared rows nearest to ``hood_id``'s on standardised constraints and profile
    mix (:func:`qet_geo.analysis.similar.similar_neighbourhoods`), with their distances;
    None when ``hood_id``'s row is not compared (no release of 11 respondents, or left out)."""
    from qet_geo.analysis.similar import similar_neighbourhoods, similarity_space
    from qet_geo.privacy import MIN_RESPONDENTS

    compared = [r for r in rows if r.compared and r.n_respondents >= MIN_RESPONDENTS]
    by_id = {r.neighbourhood_id: r for r in compared}
    if hood_id not in by_id:
        return None
    ids = list(by_id)
    constraints = pd.DataFrame([r.constraints for r in compared], index=ids, dtype=float)
    mix = pd.DataFrame([r.profile_mix for r in compared], index=ids, dtype=float)
    space = similarity_space(constraints, mix if not mix.empty else None)
    return [
        (by_id[int(str(near.id))], near.distance)
        for near in similar_neighbourhoods(space, hood_id, k=k)
    ]


@router.get(
    "/neighbourhoods/{neighbourhood_id}/similar",
    response_model=list[SimilarRow],
    responses=_ERRORS,
)
def similar(
    request: Request,
    caller: CallerDep,
    neighbourhood_id: HoodId,
    k: Annotated[int, Query(ge=1, le=20)] = 3,
) -> list[SimilarRow]:
    """Neighbourhoods like this one: the ``k`` nearest among those the caller may see in the
    national comparison, on standardised built constraints and profile mix (nearest first).

    404 when the neighbourhood is not in the caller's comparison or not compared (no release of
    11 respondents, synthetic answers among real ones, the old NEAR scale)."""
    found = nearest_rows(national_rows(request, caller), neighbourhood_id, k=k)
    if found is None:
        raise NotFoundError(
            msg(
                "le quartier {id} n'est pas comparé aux autres (pas de publication comparable "
                "que vous puissiez lire).",
                id=neighbourhood_id,
            )
        )
    return [
        SimilarRow(
            neighbourhood_id=row.neighbourhood_id,
            name=row.name,
            distance=round(distance, 4),
            type=row.type,
            synthetic=row.synthetic,
        )
        for row, distance in found
    ]


@router.get("/national", response_model=list[NationalRow], responses=_ERRORS)
async def national(request: Request, caller: CallerDep) -> Response:
    """Compare the latest release of every neighbourhood the caller may see.

    Footprint per usage per person, mix of national reference profiles, population-weighted
    constraint indicators (as of the release), a typology on constraints and the footprint rank
    (1 = lowest). Only released figures are compared, for every caller: a campaign is in the
    comparison once its pilot team has published a release (``POST
    /diagnostics/{id}/releases``). Cached: the store is read (one query) at most once a second.

    Synthetic releases are never ranked with real ones: the real neighbourhoods are compared
    among themselves, and each synthetic one is listed with ``synthetic`` true, ``compared``
    false and no figure. When every neighbourhood is synthetic, they are compared with one
    another as a demonstration, every row ``synthetic`` true.
    """
    cache: NationalCache = request.app.state.aggregates.national
    data = cache.fresh()
    if data is None:
        data = await shared_lookup(request, ("national", 0), cache.load, request.app.state.engine)
    visible = tuple(r.hood.id for r in data[1] if caller.can_read(r.hood) or r.hood.published)
    hit = cache.table(data[0], data[1], visible)
    if hit is None:
        hit = await run_in_threadpool(_table_for, cache, data[0], data[1], caller)
    return Response(hit[1], media_type="application/json")


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
    """Change of the mean footprints between two campaigns (years), with confidence intervals.

    Between the latest releases of the two campaigns (``release_before``, ``release_after``);
    the pilot team of the neighbourhood (and the admin) compares its live answers instead.
    A footprint one respondent dominates in either campaign (more than 85 % of its total) is
    withheld (``withheld``), and the total with it. A synthetic campaign is never compared with
    a real one (422, the message says which is which); two synthetic campaigns are, as a
    demonstration (``synthetic`` true).
    """
    hood = neighbourhood_for(session, caller, neighbourhood_id)
    live = caller.can_write(hood)
    frames, releases, labels = [], [], []
    for year in (before, after):
        diag = session.scalars(
            select(Diagnostic).where(
                Diagnostic.neighbourhood_id == hood.id, Diagnostic.year == year
            )
        ).first()
        if diag is None:
            raise NotFoundError(
                msg(
                    "le quartier {id} n'a pas de campagne pour l'année {year}.",
                    id=hood.id,
                    year=year,
                )
            )
        if live:
            labels.append(bool(diag.synthetic))
            frames.append(respondents_frame(session, diag.id))
            continue
        release = latest_release(session, diag.id)
        if release is None:
            raise NotFoundError(
                msg(
                    "la campagne de l'année {year} du quartier {id} n'a pas encore de publication.",
                    year=year,
                    id=hood.id,
                )
            )
        releases.append(release)
        labels.append(bool(release.summary.get("synthetic", False)) or bool(diag.synthetic))
    synthetic = (labels[0], labels[1])
    if live:
        table = before_after(frames[0], frames[1], confidence=confidence, synthetic=synthetic)
    else:
        table = release_changes(
            releases[0],
            releases[1],
            years=(before, after),
            synthetic=synthetic,
            confidence=confidence,
        )
    return BeforeAfterOut(
        neighbourhood_id=hood.id,
        before_year=before,
        after_year=after,
        confidence=confidence,
        deltas=[
            DeltaRow(value=str(name), **{k: row[k] for k in DeltaRow.model_fields if k != "value"})
            for name, row in table.iterrows()
        ],
        withheld=list(table.attrs.get("withheld", [])),
        release_before=releases[0].number if releases else None,
        release_after=releases[1].number if releases else None,
        synthetic=bool(table.attrs.get("synthetic", False)),
    )


_PROFILE_ERRORS: dict[int | str, dict[str, object]] = {**_ERRORS, 403: {"model": ErrorOut}}


@router.get("/national/profiles", response_model=NationalProfilesOut, responses=_PROFILE_ERRORS)
def national_profiles(session: SessionDep, caller: CallerDep) -> NationalProfilesOut:
    """The national reference profiles (admin, network staff, pilot teams).

    Each is given by its share of the pooled answers and its centre on the answer scale (1 to
    3); only profiles of 11 respondents or more are kept. Empty before the first fit;
    ``synthetic`` when they were fitted on synthetic answers only (a demonstration).
    """
    require_roles(caller, "admin", "staff", "pilot")
    stored = national_reference(session)
    return NationalProfilesOut(
        profiles=[ProfileOut.from_stored(p) for p in stored],
        synthetic=any(p.synthetic for p in stored),
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
    diagnostic and the national comparison then refer to them. Synthetic campaigns are left out
    when there are real ones (``synthetic_left_out`` names their neighbourhoods); with none
    real, the profiles are fitted on the synthetic ones, as a demonstration (``synthetic``).
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
        synthetic=result.synthetic,
        synthetic_left_out=result.synthetic_left_out,
    )
