"""The network's open data, ``/reseau/donnees`` (issue 17): every published aggregate in bulk.

The page lists the tables of :mod:`qet_geo.store.open_data` (the national comparison, every
published release's figures, its 200 m cells, the outlines, the project sheets), each as CSV and
Parquet, all of them in one GeoPackage and in one zip with the data dictionary and the licences,
and links the JSON API's OpenAPI description (``/openapi.json``, read at ``/docs``).

The national comparison is the public ``GET /national`` (:func:`api.routers.national.
national_rows`, the same rows as ``/reseau/quartiers``); everything else is read from the
published releases and sheets only. The files are built off the event loop and kept in this
process per state of the store and language (a cheap fingerprint: the national comparison's
digest, the releases, the published neighbourhoods' names and addresses, the sheets), so a
download costs one query while nothing changed.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from api.dependencies import PUBLIC
from api.routers.national import national_rows
from api.web._kit import lang_of, now, render
from qet_geo.i18n import msg, number
from qet_geo.store.models import Neighbourhood, NotFoundError, Project, Release
from qet_geo.store.open_data import (
    OPEN_DATA_TABLES,
    network_open_data,
    open_data_files,
    open_data_titles,
)
from qet_geo.surveys.schema import USAGES

__all__ = ["national_frame", "router"]

router = APIRouter(include_in_schema=False)

_MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".gpkg": "application/geopackage+sqlite3",
    ".zip": "application/zip",
}

_lock = threading.Lock()
#: (fingerprint, language) -> (files, row counts); the last few states only
_kept: dict[tuple[Any, str], tuple[dict[str, bytes], dict[str, int]]] = {}
_MAX_KEPT = 4


def national_frame(request: Request) -> pd.DataFrame:
    """The public national comparison as one flat table (a row per published neighbourhood with
    a release): the rows of ``GET /national``."""
    records = []
    for row in national_rows(request, PUBLIC):
        record: dict[str, Any] = {
            "neighbourhood_id": row.neighbourhood_id,
            "neighbourhood": row.name,
            "year": row.year,
            "n_respondents": row.n_respondents,
            "synthetic": row.synthetic,
            "compared": row.compared,
            "scale": row.scale,
            "type": row.type + 1 if row.type >= 0 else None,
            "rank_total_kgco2e": row.rank_total_kgco2e,
        }
        for usage in (*USAGES, "total"):
            key = usage if usage in row.mean_kgco2e else f"{usage}_kgco2e"
            record[f"kgco2e_{usage}"] = row.mean_kgco2e.get(key)
        record.update({f"mix_{k}": v for k, v in row.profile_mix.items()})
        record.update(row.constraints)
        records.append(record)
    return pd.DataFrame(records)


def _fingerprint(request: Request) -> tuple[Any, ...]:
    rows = national_rows(request, PUBLIC)
    digest = hashlib.sha256("".join(r.model_dump_json() for r in rows).encode("utf-8")).hexdigest()
    with sessionmaker(request.app.state.engine)() as session:
        releases = session.execute(select(func.max(Release.id), func.count(Release.id))).one()
        sheets = session.execute(
            select(func.max(Project.updated_at), func.count(Project.id)).where(
                Project.published.is_(True)
            )
        ).one()
        hoods = session.execute(
            select(Neighbourhood.id, Neighbourhood.name, Neighbourhood.slug).where(
                Neighbourhood.published.is_(True)
            )
        ).all()
    return (digest, tuple(releases), (str(sheets[0]), sheets[1]), tuple(map(tuple, hoods)))


def _build(request: Request, lang: str) -> tuple[dict[str, bytes], dict[str, int]]:
    key = (_fingerprint(request), lang)
    with _lock:
        if key in _kept:
            return _kept[key]
    frame = national_frame(request)
    with sessionmaker(request.app.state.engine)() as session:
        data = network_open_data(session, frame, lang=lang, today=now(request).date())
    built = (open_data_files(data), {n: len(data.tables[n]) for n in OPEN_DATA_TABLES})
    with _lock:
        _kept[key] = built
        while len(_kept) > _MAX_KEPT:
            _kept.pop(next(iter(_kept)))
    return built


@router.get("/reseau/donnees", response_class=HTMLResponse)
async def open_data_page(request: Request) -> Response:
    """The open data's files, with what each holds and its size."""
    lang = lang_of(request)
    files, counts = await run_in_threadpool(_build, request, lang)
    titles = open_data_titles()

    def size(name: str) -> str:
        return msg("{kb} Ko", kb=number(max(len(files[name]) / 1024, 0.1), decimals=1)).render(lang)

    tables = [
        {
            "name": name,
            "title": titles[name].render(lang),
            "rows": counts[name],
            "csv": f"{name}.csv",
            "csv_size": size(f"{name}.csv"),
            "parquet": f"{name}.parquet",
            "parquet_size": size(f"{name}.parquet"),
        }
        for name in OPEN_DATA_TABLES
    ]
    return render(
        request,
        "reseau_donnees.html",
        {
            "section": "donnees",
            "tables": tables,
            "gpkg_size": size("reseau.gpkg"),
            "zip_size": size("donnees-ouvertes.zip"),
        },
    )


@router.get("/reseau/donnees/{name}")
async def open_data_file(request: Request, name: str) -> Response:
    """One file of the open data (``quartiers.csv``, ``reseau.gpkg``, ``donnees-ouvertes.zip``...)."""
    lang = lang_of(request)
    files, _ = await run_in_threadpool(_build, request, lang)
    if name not in files:
        raise NotFoundError(
            msg(
                "Les données ouvertes n'ont pas de fichier {name} : la page /reseau/donnees les "
                "liste.",
                name=name,
            )
        )
    suffix = name[name.rfind(".") :]
    return Response(
        files[name],
        media_type=_MEDIA.get(suffix, "application/octet-stream"),
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
