"""Layers of a neighbourhood: its territory, and its OSM extract (uploaded, then validated)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api._aggregates import json_value
from api._limits import check_territory_vertices, limited_chunks
from api._workers import (
    WorkerLimits,
    refused_past_limits,
    run_in_worker,
    store_extract_job,
)
from api.dependencies import CallerDep, SessionDep, SettingsDep, neighbourhood_for
from api.models import (
    ErrorOut,
    ExtractOut,
    FeatureCollection,
    TerritoryDocumentIn,
    TerritoryIn,
    TerritoryOut,
)
from api.routers.aggregates import BboxQuery, LimitQuery, OffsetQuery, geojson_page
from api.settings import Settings
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import DataCoverageError, ValidationError
from qet_geo.i18n import msg
from qet_geo.store.jobs import (
    EXTRACT_HEAD_BYTES,
    constraint_cells,
    extract_suffix,
    territory_from_geojson,
    territory_polygons,
)

router = APIRouter(tags=["couches"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
HoodId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def territory_out(neighbourhood_id: int, projected: object) -> TerritoryOut:
    """Describe a territory (EPSG:2154 geometry) for the API: area and WGS84 bounds."""
    series = gpd.GeoSeries([projected], crs=WORK_CRS)
    left, bottom, right, top = (round(float(v), 6) for v in series.to_crs(WGS84).total_bounds)
    return TerritoryOut(
        neighbourhood_id=neighbourhood_id,
        area_km2=round(float(series.area.iloc[0]) / 1e6, 4),
        bbox=(left, bottom, right, top),
    )


@router.put(
    "/neighbourhoods/{neighbourhood_id}/territory", response_model=TerritoryOut, responses=_ERRORS
)
def put_territory(
    body: TerritoryIn | TerritoryDocumentIn,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    neighbourhood_id: HoodId,
) -> TerritoryOut:
    """Set the outline of a neighbourhood (admin, its pilot team).

    A GeoJSON Polygon or MultiPolygon geometry, a Feature of one, or a FeatureCollection of
    polygons (the file QGIS or geojson.io exports; its polygons are merged), in WGS84 (lon,
    lat), in metropolitan France, of at most 100 km² and ``QET_MAX_TERRITORY_VERTICES``
    vertices (100 000 by default). It is stored exactly. The constraint indicators are computed
    on it by the next analysis.
    """
    hood = neighbourhood_for(session, caller, neighbourhood_id, access="write")
    projected = checked_territory(body, settings.max_territory_vertices)
    hood.territory_wkt = projected.wkt
    session.flush()
    return territory_out(hood.id, projected)


def checked_territory(body: TerritoryIn | TerritoryDocumentIn, max_vertices: int) -> Any:
    """A territory body as the store keeps it (Lambert-93), checked: polygons only (French
    refusals of points, lines, empty collections), at most ``max_vertices`` vertices together,
    in metropolitan France; a Feature or a FeatureCollection's polygons merged."""
    return checked_territory_geojson(body.model_dump(exclude_none=True), max_vertices)


def checked_territory_geojson(geojson: Any, max_vertices: int) -> Any:
    """:func:`checked_territory` of decoded GeoJSON (a file uploaded on the web pages, a drawn
    outline): the same checks, the same refusals."""
    polygons = territory_polygons(geojson)
    check_territory_vertices(_merged(polygons), max_vertices)
    return territory_from_geojson(geojson)


def _merged(polygons: list[dict[str, Any]]) -> dict[str, Any]:
    """One MultiPolygon of the polygons' rings, for counting their vertices together."""
    coordinates: list[Any] = []
    for polygon in polygons:
        rings = polygon.get("coordinates")
        if isinstance(rings, list):
            coordinates.extend([rings] if polygon["type"] == "Polygon" else rings)
    return {"type": "MultiPolygon", "coordinates": coordinates}


@router.put(
    "/neighbourhoods/{neighbourhood_id}/osm-extract",
    response_model=ExtractOut,
    responses={**_ERRORS, 413: {"model": ErrorOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_osm_extract(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    neighbourhood_id: HoodId,
) -> ExtractOut:
    """Upload the neighbourhood's OSM extract (admin, its pilot team).

    The body is the file, in any format ``qet layers`` reads: ``.osm.pbf``, ``.osm`` (XML),
    ``.osm.gz`` or ``.osm.bz2``, recognised by its content (its name is not sent). It is at most
    ``QET_MAX_OSM_BYTES``, and so is its XML once inflated. The extract is read and must cover
    the neighbourhood's territory (set it first) with streets and homes; it then replaces the
    previous one, which a refused file leaves in place. Used by the analysis (constraint
    indicators) and the visit routes.
    """
    hood = await run_in_threadpool(
        neighbourhood_for, session, caller, neighbourhood_id, access="write"
    )
    hood_id = hood.id
    folder = osm_folder(settings)
    async with received_extract(limited_chunks(request, settings.max_osm_bytes), folder) as tmp:
        info = await read_extract(settings, hood_id, tmp, folder)
    return ExtractOut(**dataclasses.asdict(info))


def osm_folder(settings: Settings) -> Path:
    """The service's OSM folder (made if needed); refused when the service has none."""
    if settings.osm_dir is None:
        raise DataCoverageError(
            msg(
                "le service n'a pas de dossier OSM : renseignez QET_OSM_DIR pour accepter des "
                "extraits."
            )
        )
    folder = Path(settings.osm_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def received_extract(chunks: AsyncIterator[bytes], folder: Path) -> AsyncIterator[Path]:
    """Stream an uploaded extract's ``chunks`` (already limited in size) to a temporary file of
    ``folder``, named with the suffix of its format; the file is removed on exit unless
    :func:`read_extract` moved it (the JSON API's PUT and the web page's form share this path).
    """
    # streamed to a file beside its destination, so that accepting it is a rename; named after
    # this process, so that a server restarted after a kill removes it (api.main; named .osm.pbf
    # while it streams, the name that clean-up looks for)
    fd, name = tempfile.mkstemp(prefix=f".upload-{os.getpid()}-", suffix=".osm.pbf", dir=folder)
    tmp = Path(name)
    base = name.removesuffix(".osm.pbf")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        if size == 0:
            raise ValidationError(
                msg(
                    "le corps de la requête est vide : envoyez l'extrait (.osm.pbf, .osm, "
                    ".osm.gz ou .osm.bz2)."
                )
            )
        # the reader goes by the name: the file is renamed after its first bytes (a few kB read,
        # nothing decoded here; the worker checks what a compressed file holds)
        with tmp.open("rb") as f:
            suffix = extract_suffix(f.read(EXTRACT_HEAD_BYTES))
        if suffix != ".osm.pbf":
            tmp = tmp.rename(base + suffix)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


async def read_extract(settings: Settings, hood_id: int, upload: Path, folder: Path) -> Any:
    """Check and store an uploaded extract in a worker process, under the service's limits.

    Nothing of the file is decoded in the server process: its objects are counted, then it is
    read, in a worker that is killed past ``osm_timeout_s`` and cannot grow past
    ``osm_memory_bytes``, at most ``osm_workers`` at once; the event loop serves other requests
    meanwhile.
    """
    limits = WorkerLimits(
        timeout_s=settings.osm_timeout_s,
        memory_bytes=settings.osm_memory_bytes,
        slots=settings.osm_workers,
    )
    with refused_past_limits(
        limits,
        what=msg("l'extrait"),
        fix=msg(
            "découpez-le sur le territoire plus 1 km (osmium extract) et envoyez-le à nouveau."
        ),
    ):
        return await run_in_worker(
            store_extract_job,
            settings.database_url,
            hood_id,
            str(upload),
            osm_dir=str(folder),
            max_objects=settings.max_osm_objects,
            max_xml_bytes=settings.max_osm_bytes,
            limits=limits,
        )


@router.get(
    "/neighbourhoods/{neighbourhood_id}/indicators",
    response_model=FeatureCollection,
    responses={**_ERRORS, 200: {"content": {"application/geo+json": {}}}},
)
def constraint_indicators(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    neighbourhood_id: HoodId,
    bbox: BboxQuery = None,
    limit: LimitQuery = None,
    offset: OffsetQuery = 0,
) -> Response:
    """Page through the built-constraint indicators of a neighbourhood per 200 m cell, WGS84.

    Computed by the last analysis from the neighbourhood's OSM extract: for the homes of each
    cell, weighted by their people (census grid) or floor area, the zone indicators of
    :data:`qet_geo.constraints.indicators.ZONE_INDICATORS` (the 15-minute score, transit stops
    and departures, cycle network within their radii, slope, intersection density and minutes to
    the nearest essential amenity on foot). They describe streets and amenities,
    not respondents: every cell is given. Empty before the first analysis with an extract.
    """
    hood = neighbourhood_for(session, caller, neighbourhood_id)
    cells = constraint_cells(session, hood.id).to_crs(WGS84)
    names = [c for c in cells.columns if c != "geometry"]
    features_json = [
        json.dumps(
            {
                "type": "Feature",
                "id": str(zone_id),
                "geometry": geom.__geo_interface__,
                "properties": {n: json_value(v) for n, v in zip(names, values, strict=True)},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for zone_id, geom, values in zip(
            cells.index, cells.geometry, cells[names].itertuples(index=False), strict=True
        )
    ]
    bounds = np.asarray(cells.geometry.bounds.to_numpy(), dtype=float).reshape(-1, 4)
    return geojson_page(request, features_json, bounds, bbox, limit, offset)
