"""The service's offline HTML maps: a diagnostic's published cells, the national comparison."""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.dependencies import CallerDep, SessionDep, diagnostic_for
from api.errors import request_lang
from api.models import NationalRow
from api.routers.aggregates import reads_live
from api.routers.national import national_rows
from qet_geo.crs import WORK_CRS
from qet_geo.errors import EmptyDataError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.models import Neighbourhood, territory_geometry

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Errors of an HTML route are still JSON: documented as such, not as text/html.
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


@router.get(
    "/diagnostics/{diagnostic_id}/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 404, 422)},
    tags=["diagnostics"],
)
def diagnostic_map(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: Id
) -> HTMLResponse:
    """Offline HTML map of usage profiles and footprints per published 200 m cell.

    The map of the latest release; the pilot team of the neighbourhood (and the admin) sees the
    live preview of its data instead. 422 when there is nothing to map.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    cache = request.app.state.aggregates
    if reads_live(session, caller, diag):
        return HTMLResponse(cache.live_map(session, diag.id))
    return HTMLResponse(cache.released_map(session, diag.id))


@router.get(
    "/national/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 422)},
    tags=["comparaisons"],
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
    rows = national_rows(request, caller)
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
            msg(
                "aucun des {n_rows} quartiers que vous pouvez voir dans la comparaison "
                "nationale n'a de territoire : rien à cartographier (définissez-les avec PUT "
                "/neighbourhoods/<id>/territory).",
                n_rows=len(rows),
            )
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
        crs=WORK_CRS,
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
