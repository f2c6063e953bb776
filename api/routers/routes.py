"""Visit routes of a neighbourhood as GPX (from its OSM extract, no survey data)."""

from __future__ import annotations

import tempfile
import threading
import warnings
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.dependencies import CallerDep, SessionDep, SettingsDep, neighbourhood_for
from api.routers.national import HoodId
from qet_geo.store.models import extract_path

router = APIRouter(tags=["visites"])
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}
_cache: dict[tuple[str, int], bytes] = {}
_lock = threading.Lock()


def _plan_gpx(osm: Path, stops: int) -> bytes:
    from qet_geo.pipeline import build_neighbourhood
    from qet_geo.visit.export import write_route
    from qet_geo.visit.plan import plan_visit

    key = (str(osm), stops)
    with _lock:
        if key in _cache:
            return _cache[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hood = build_neighbourhood(osm, modes=("walk",))
        visit = plan_visit(hood, n=stops)
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_route(visit, Path(tmp) / "visite.gpx", title=hood.layers.territory.name)
            data = Path(paths["gpx"]).read_bytes()
    with _lock:
        _cache[key] = data
    return data


@router.get(
    "/neighbourhoods/{neighbourhood_id}/route.gpx",
    responses={
        200: {"content": {"application/gpx+xml": {}}, "description": "Itinéraire GPX"},
        401: _JSON_ERROR,
        404: _JSON_ERROR,
        422: _JSON_ERROR,
    },
    response_class=Response,
)
async def visit_route(
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    neighbourhood_id: HoodId,
    stops: Annotated[int, Query(ge=2, le=12)] = 6,
) -> Response:
    """Walking visit of the neighbourhood's notable places, as a GPX track (OSM data only)."""
    hood = await run_in_threadpool(neighbourhood_for, session, caller, neighbourhood_id)
    osm = extract_path(settings.osm_dir, hood.osm_extract)
    data = await run_in_threadpool(_plan_gpx, osm, stops)
    return Response(data, media_type="application/gpx+xml")
