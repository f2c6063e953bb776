"""Visit routes of a neighbourhood as GPX (from its OSM extract and territory, no survey data)."""

from __future__ import annotations

import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.dependencies import CallerDep, SessionDep, SettingsDep, neighbourhood_for
from api.errors import request_lang
from api.routers.national import HoodId
from qet_geo.i18n import Lang
from qet_geo.store.models import extract_path, territory_geometry

if TYPE_CHECKING:
    from qet_geo.visit.plan import VisitRoute

router = APIRouter(tags=["visites"])
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}
_cache: dict[tuple[str, str | None, int, bool, str], bytes] = {}
_lock = threading.Lock()


def plan_stored_visit(
    osm: str | Path,
    name: str,
    territory_wkt: str | None,
    *,
    stops: int,
    loop: bool,
    lang: Lang,
    max_minutes: float | None = None,
    chosen: Sequence[tuple[float, float]] | None = None,
) -> tuple[VisitRoute, dict[str, bytes]]:
    """Plan the visit of a stored neighbourhood and write its files: the one way the service
    does it (this route, and the survey page of the web workspace in a worker).

    The stops are chosen inside the territory (WKT, Lambert-93; the whole extract when None),
    ``stops`` of them, or are the ``chosen`` (longitude, latitude) pairs picked on a map, each
    inside the territory (:func:`qet_geo.visit.plan.chosen_stops`), in the best order.

    Returns
    -------
    tuple
        The visit, and its files' bytes by kind ("gpx", "geojson", "html").
    """
    import shapely

    from qet_geo.inputs.territory import Territory
    from qet_geo.pipeline import build_neighbourhood
    from qet_geo.visit.export import write_route
    from qet_geo.visit.plan import chosen_stops, plan_visit

    territory = (
        None
        if territory_wkt is None
        else Territory(name=name, geometry=shapely.from_wkt(territory_wkt), source="store")
    )
    # checked before the extract is read: a stop outside the neighbourhood is refused at once
    picked = (
        None
        if chosen is None
        else chosen_stops(
            chosen, territory=None if territory is None else territory.geometry, lang=lang
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hood = build_neighbourhood(Path(osm), territory=territory, modes=("walk",))
        visit = plan_visit(
            hood, n=stops, stops=picked, loop=loop, max_minutes=max_minutes, lang=lang
        )
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_route(visit, Path(tmp) / "visite.gpx", lang=lang, title=name)
            files = {kind: Path(p).read_bytes() for kind, p in paths.items()}
    return visit, files


def _plan_gpx(
    osm: Path, name: str, territory_wkt: str | None, stops: int, loop: bool, lang: Lang
) -> bytes:
    key = (str(osm), territory_wkt, stops, loop, lang)
    with _lock:
        if key in _cache:
            return _cache[key]
    _, files = plan_stored_visit(osm, name, territory_wkt, stops=stops, loop=loop, lang=lang)
    data = files["gpx"]
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
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    neighbourhood_id: HoodId,
    stops: Annotated[int, Query(ge=2, le=12)] = 6,
    loop: bool = True,
) -> Response:
    """Walking visit of the neighbourhood's notable places, as a GPX track (OSM data only).

    The stops are chosen inside the neighbourhood's territory (the whole extract while it has
    none); the visit comes back to its start unless ``loop=false``. Waypoint texts in French,
    or English with ``Accept-Language: en``.
    """
    hood = await run_in_threadpool(neighbourhood_for, session, caller, neighbourhood_id)
    osm = extract_path(settings.osm_dir, hood.osm_extract)
    geometry = territory_geometry(hood)
    wkt = None if geometry is None else geometry.wkt
    lang: Lang = "en" if request_lang(request) == "en" else "fr"
    data = await run_in_threadpool(_plan_gpx, osm, hood.name, wkt, stops, loop, lang)
    return Response(data, media_type="application/gpx+xml")
