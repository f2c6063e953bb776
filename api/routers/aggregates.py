"""Published aggregates of a diagnostic: indicators (GeoJSON), profiles, footprints."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from api.dependencies import CallerDep, SessionDep, cells_for, diagnostic_for
from api.models import ErrorOut, FeatureCollection, FootprintsOut, ProfileOut, ProfilesOut
from qet_geo.errors import ValidationError
from qet_geo.store import Profile, national_reference

router = APIRouter(tags=["agrégats"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
DiagId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The query of a GeoJSON page (geojson_page)
BboxQuery = Annotated[
    str | None, Query(max_length=200, description="gauche,bas,droite,haut (WGS84)")
]
LimitQuery = Annotated[int | None, Query(description="ramené à [1, max_limit]")]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9)]


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``left,bottom,right,top`` in WGS84 degrees."""
    bad = ValidationError(
        f"bbox {text!r} must be 'left,bottom,right,top' in WGS84 degrees (lon, lat), with "
        "left <= right and bottom <= top.",
        message_fr=f"bbox {text!r} doit valoir 'gauche,bas,droite,haut' en degrés WGS84 "
        "(lon, lat), avec gauche <= droite et bas <= haut.",
    )
    try:
        left, bottom, right, top = (float(v) for v in text.split(","))
    except ValueError:
        raise bad from None
    if not (-180 <= left <= right <= 180 and -90 <= bottom <= top <= 90):  # also refuses NaN
        raise bad
    return left, bottom, right, top


@router.get(
    "/diagnostics/{diagnostic_id}/indicators",
    response_model=FeatureCollection,
    responses={**_ERRORS, 200: {"content": {"application/geo+json": {}}}},
)
async def indicators(
    request: Request,
    caller: CallerDep,
    diagnostic_id: DiagId,
    bbox: BboxQuery = None,
    limit: LimitQuery = None,
    offset: OffsetQuery = 0,
) -> Response:
    """Page through the published 200 m cells of a diagnostic (pooled where small), WGS84.

    Each cell gives ``n_respondents`` (at least 11), the mean footprint and the share of each
    usage profile; cells with fewer respondents are pooled with their neighbours first.
    """
    # The hot path of the service (bench/api.py): no database session, no dependency beyond the
    # caller, no response model validation; the settings are read from the app.
    layer = await cells_for(request, caller, diagnostic_id)
    return geojson_page(request, layer.features_json, layer.bounds, bbox, limit, offset)


def geojson_page(
    request: Request,
    features_json: list[str],
    bounds: np.ndarray,
    bbox: str | None,
    limit: int | None,
    offset: int,
) -> Response:
    """One page of ready-made GeoJSON features: bbox filter, clamped limit, OGC-style links.

    ``bounds`` holds each feature's (left, bottom, right, top) in WGS84, aligned to
    ``features_json``; the limit is clamped to ``[1, max_limit]`` of the app's settings.
    """
    settings = request.app.state.settings
    size = settings.default_limit if limit is None else limit
    size = max(1, min(size, settings.max_limit))
    index = np.arange(len(features_json))
    if bbox is not None:
        left, bottom, right, top = parse_bbox(bbox)
        b = bounds
        keep = (b[:, 0] <= right) & (b[:, 2] >= left) & (b[:, 1] <= top) & (b[:, 3] >= bottom)
        index = index[keep]
    page = index[offset : offset + size]
    links = []
    if offset + size < len(index):
        query = f"limit={size}&offset={offset + size}" + (f"&bbox={bbox}" if bbox else "")
        links.append(
            {"rel": "next", "href": f"{request.url.path}?{query}", "type": "application/geo+json"}
        )
    # Features are serialised once: a page is a join of ready-made JSON.
    body = (
        '{"type":"FeatureCollection","features":['
        + ",".join(features_json[i] for i in page)
        + f'],"numberMatched":{len(index)},"numberReturned":{len(page)},"links":'
        + json.dumps(links)
        + "}"
    )
    return Response(body.encode(), media_type="application/geo+json")


@router.get("/diagnostics/{diagnostic_id}/profiles", response_model=ProfilesOut, responses=_ERRORS)
def profiles(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: DiagId
) -> ProfilesOut:
    """Shares of the reference usage profiles (if 11 respondents or more), and own profiles.

    ``shares`` refer to the national reference profiles once they are fitted
    (``reference: "national"``), to the demo ones before. ``own_profiles`` are those the last
    analysis of the diagnostic fitted, each of 11 respondents or more.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    totals = request.app.state.aggregates.profiles(session, diag.id)
    own = session.scalars(
        select(Profile)
        .where(Profile.diagnostic_id == diag.id, Profile.scope == "diagnostic")
        .order_by(Profile.number)
    ).all()
    return ProfilesOut(
        diagnostic_id=diag.id,
        n_respondents=totals.n_respondents,
        published=bool(totals.values),
        shares=totals.values,
        reference="national" if national_reference(session) else "demo",
        own_profiles=[ProfileOut.from_stored(p) for p in own],
    )


@router.get(
    "/diagnostics/{diagnostic_id}/footprints", response_model=FootprintsOut, responses=_ERRORS
)
def footprints(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: DiagId
) -> FootprintsOut:
    """Mean footprint per usage and in total, kgCO2e per person per year (if publishable)."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    totals = request.app.state.aggregates.footprints(session, diag.id)
    return FootprintsOut(
        diagnostic_id=diag.id,
        n_respondents=totals.n_respondents,
        published=bool(totals.values),
        mean_kgco2e=totals.values,
    )
