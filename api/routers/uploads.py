"""Survey answer files: uploaded (size-limited, one transaction, idempotent), deleted, replaced.

A pilot team may delete or replace an upload as long as its diagnostic has no release
(:func:`qet_geo.store.models.diagnostic_published`): a truncated or wrong file would otherwise be stuck
forever, its respondent ids clashing with those of the corrected file.

Three surveys are uploaded on the same paths, told apart by the ``kind`` query parameter: ``su``
(the default: the SU answers, :func:`qet_geo.store.ingest.ingest_su`), ``mdv`` (MdV/EdV answers)
and ``ngc`` (NosGestesClimat results), both through :func:`qet_geo.store.ingest.ingest_survey`.
Every kind is parsed in the same worker process, under the same limits. MdV homes are matched to
the buildings of the neighbourhood's OSM extract when it has one (read in the worker).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api._limits import limited_chunks
from api._workers import (
    WorkerLimits,
    ingest_su_job,
    refused_past_limits,
    run_in_worker,
)
from api.dependencies import Caller, CallerDep, SessionDep, SettingsDep, diagnostic_for
from api.models import ErrorOut, UploadOut
from api.settings import Settings
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.store.ingest import IngestResult, delete_upload, ingest_su, ingest_survey
from qet_geo.store.models import Upload

SurveyKind = Literal["su", "mdv", "ngc"]

router = APIRouter(tags=["enquêtes"])
DiagId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UploadId = Annotated[int, Path(ge=1, le=2**31 - 1)]
KindQuery = Annotated[
    SurveyKind,
    Query(
        description="L'enquête du fichier : su (profils d'usages, par défaut), mdv (modes et "
        "espaces de vie, MdV/EdV) ou ngc (résultats NosGestesClimat, kgCO2e par catégorie). "
        "Les réponses MdV et NGC sont rangées sous les mêmes pseudonymes que les répondants SU.",
    ),
]
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
_FILE_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/tab-separated-values": {"schema": {"type": "string"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _body(request: Request, limit: int) -> bytes:
    data = b"".join([c async for c in limited_chunks(request, limit)])
    if not data:
        raise ValidationError(
            msg("le corps de la requête est vide : envoyez le fichier d'enquête.")
        )
    return data


def ingest_other_job(
    database_url: str | None,
    diagnostic_id: int,
    data: bytes,
    *,
    kind: str,
    osm_dir: str | None = None,
    **kwargs: Any,
) -> IngestResult:
    """Read, locate and store an MdV or NGC file (in a worker; see
    :func:`qet_geo.store.ingest.ingest_survey`).

    MdV homes are matched to the buildings and addresses of the neighbourhood's OSM extract when
    it has one in ``osm_dir``; without it (or when it cannot be read) they are placed by the
    file's coordinates or cells only.
    """
    from qet_geo.store.models import make_engine

    engine = make_engine(database_url)
    try:
        return _ingest_other(engine, diagnostic_id, data, kind=kind, osm_dir=osm_dir, **kwargs)
    finally:
        engine.dispose()


def _ingest_other(
    engine: Any, diagnostic_id: int, data: bytes, *, kind: str, osm_dir: str | None, **kwargs: Any
) -> IngestResult:
    layers = _extract_layers(engine, diagnostic_id, osm_dir) if kind == "mdv" else {}
    return ingest_survey(engine, diagnostic_id, data, kind=kind, **layers, **kwargs)


def _extract_layers(engine: Any, diagnostic_id: int, osm_dir: str | None) -> dict[str, Any]:
    """The buildings and addresses of the diagnostic's neighbourhood, or nothing."""
    import warnings

    from sqlalchemy.orm import Session as OrmSession

    from qet_geo.errors import QetGeoError
    from qet_geo.store.models import Diagnostic, Neighbourhood, extract_path

    with OrmSession(engine) as session:
        diag = session.get(Diagnostic, diagnostic_id)
        hood = None if diag is None else session.get(Neighbourhood, diag.neighbourhood_id)
        name = None if hood is None else hood.osm_extract
    if osm_dir is None or not name:
        return {}
    try:
        from qet_geo.inputs.osm import read_osm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a clipped extract is still the neighbourhood's
            data = read_osm(extract_path(osm_dir, name))
    except QetGeoError:
        return {}
    return {"buildings": data.buildings, "addresses": data.addresses}


async def _ingest(
    request: Request, diagnostic_id: int, data: bytes, *, kind: str = "su", **kwargs: Any
) -> IngestResult:
    """Store an answer file through a worker process, under the service's limits.

    The file is parsed, located and stored in a worker that is killed past ``survey_timeout_s``
    and cannot grow past ``survey_memory_bytes``, at most ``survey_workers`` at once: a hostile
    or huge workbook never holds the server's GIL, and the event loop serves other requests.
    The worker's transaction has committed when this returns. With ``survey_workers`` 0 the
    file is read in the server's thread pool (no limits but the readers' own).
    """
    settings: Settings = request.app.state.settings
    if kind != "su":
        kwargs = {**kwargs, "kind": kind, "osm_dir": settings.osm_dir}
    if settings.survey_workers == 0:
        engine = request.app.state.engine
        if kind != "su":
            return await run_in_threadpool(_ingest_other, engine, diagnostic_id, data, **kwargs)
        return await run_in_threadpool(ingest_su, engine, diagnostic_id, data, **kwargs)
    limits = WorkerLimits(
        timeout_s=settings.survey_timeout_s,
        memory_bytes=settings.survey_memory_bytes,
        slots=settings.survey_workers,
    )
    with refused_past_limits(
        limits,
        what=msg("le fichier d'enquête"),
        fix=msg("découpez-le en plusieurs fichiers et envoyez-les un par un."),
    ):
        job = ingest_su_job if kind == "su" else ingest_other_job
        result: IngestResult = await run_in_worker(
            job, settings.database_url, diagnostic_id, data, limits=limits, **kwargs
        )
    return result


async def store_upload(
    request: Request,
    diagnostic_id: int,
    data: bytes,
    *,
    key_scope: str,
    idempotency_key: str | None = None,
    replaces: int | None = None,
    kind: str = "su",
) -> IngestResult:
    """Store an answer file of survey ``kind`` (new, or replacing upload ``replaces``) through
    a worker, then forget the diagnostic's cached figures: the path of every upload, the API's
    and the web workspace's."""
    result = await _ingest(
        request,
        diagnostic_id,
        data,
        kind=kind,
        idempotency_key=idempotency_key,
        key_scope=key_scope,
        replaces=replaces,
    )
    request.app.state.aggregates.clear(diagnostic_id)
    return result


def _upload_out(result: IngestResult) -> UploadOut:
    return UploadOut(
        upload_id=result.upload_id,
        created=result.created,
        n_rows=result.n_rows,
        n_stored=result.n_stored,
        summary={k: int(v) for k, v in result.summary.items()},
        synthetic=result.synthetic,
    )


class UploadItem(BaseModel):
    """An upload of a diagnostic, as its team sees it to delete or replace it."""

    upload_id: int
    created_at: datetime
    n_rows: int
    n_stored: int
    synthetic: bool = False
    #: The file's survey: su, mdv (MdV/EdV) or ngc (NosGestesClimat).
    kind: SurveyKind = "su"


def key_scope(caller: Caller) -> str:
    """The scope of the caller's idempotency keys: its credential (see :class:`Caller`)."""
    return caller.ident or caller.role


@router.post(
    "/diagnostics/{diagnostic_id}/uploads",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": UploadOut, "description": "Fichier déjà reçu : rien n'a changé."},
        **_ERRORS,
    },
    openapi_extra=_FILE_BODY,
)
async def upload_survey(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: DiagId,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    kind: KindQuery = "su",
) -> UploadOut:
    """Store a survey answer file (CSV, TSV or XLSX body) in a diagnostic.

    ``kind`` says which survey: ``su`` (the default), ``mdv`` (MdV/EdV answers: homes kept as
    200 m cells and, inside the store, the extract's buildings) or ``ngc`` (NosGestesClimat
    results, no location). The same respondent id in several surveys is the same person:
    every survey's answers are stored under the same keyed pseudonym. The same file sent as
    another survey is refused (409).

    Sending the same file again, or the same ``Idempotency-Key``, changes nothing (200). A key
    belongs to the caller that used it: another caller's use of the same key neither clashes
    nor shows. Homes are coarsened to 200 m cells before anything is stored; cells given in the
    file must be 200 m cells. Admin and the pilot team only.

    A file of synthetic answers (``qet survey synthesize``: SYN- ids or a true ``synthetic``
    column on every row) is stored labelled (``synthetic`` true, on the upload and its
    diagnostic); a file mixing synthetic and real answers is refused (422), and so is a
    synthetic file sent to a diagnostic of real answers, or the reverse (409).
    """
    diag = await run_in_threadpool(diagnostic_for, session, caller, diagnostic_id, access="write")
    data = await _body(request, settings.max_upload_bytes)
    result = await store_upload(
        request,
        diag.id,
        data,
        idempotency_key=idempotency_key,
        key_scope=key_scope(caller),
        kind=kind,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _upload_out(result)


@router.get(
    "/diagnostics/{diagnostic_id}/uploads",
    response_model=list[UploadItem],
    responses={k: v for k, v in _ERRORS.items() if k in (401, 403, 404, 422)},
)
def list_uploads(session: SessionDep, caller: CallerDep, diagnostic_id: DiagId) -> list[UploadItem]:
    """List the uploads of a diagnostic, oldest first (admin, the pilot team).

    For the team that sent them: the ids to delete or replace one. Others get 403 or 404, as
    for the other writes.
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    uploads = session.scalars(
        select(Upload).where(Upload.diagnostic_id == diag.id).order_by(Upload.id)
    )
    return [
        UploadItem(
            upload_id=u.id,
            # stored in UTC; SQLite gives it back without its offset
            created_at=u.created_at if u.created_at.tzinfo else u.created_at.replace(tzinfo=UTC),
            n_rows=u.n_rows,
            n_stored=u.n_stored,
            synthetic=bool(u.synthetic),
            kind="mdv" if u.kind == "mdv" else "ngc" if u.kind == "ngc" else "su",
        )
        for u in uploads
    ]


@router.put(
    "/diagnostics/{diagnostic_id}/uploads/{upload_id}",
    response_model=UploadOut,
    responses={**_ERRORS, 200: {"model": UploadOut, "description": "Envoi remplacé."}},
    openapi_extra=_FILE_BODY,
)
async def replace_upload(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: DiagId,
    upload_id: UploadId,
    kind: Annotated[
        SurveyKind | None,
        Query(
            description="L'enquête du nouveau fichier (su, mdv ou ngc) : celle de l'envoi "
            "remplacé par défaut ; une autre enquête est refusée (409).",
        ),
    ] = None,
) -> UploadOut:
    """Replace an upload of an unpublished diagnostic by a new file (admin, the pilot team).

    The old upload's answers are deleted and the new file's stored in one transaction: on
    any error the old upload stays as it was. The new file is of the replaced upload's survey
    (``kind``, when given, must be the same: 409 otherwise). The answer gives the new upload's
    id (``created`` false when the file is the one already stored: nothing changed). 409 once
    the diagnostic is published (has a release).
    """
    diag = await run_in_threadpool(diagnostic_for, session, caller, diagnostic_id, access="write")
    await run_in_threadpool(delete_upload, session, diag.id, upload_id, dry_run=True)
    old = await run_in_threadpool(session.get, Upload, upload_id)
    stored = (old.kind if old is not None else None) or "su"
    data = await _body(request, settings.max_upload_bytes)
    await run_in_threadpool(session.rollback)  # the worker writes: no transaction held here
    result = await store_upload(
        request,
        diag.id,
        data,
        key_scope=key_scope(caller),
        replaces=upload_id,
        kind=kind or stored,
    )
    return _upload_out(result)


@router.delete(
    "/diagnostics/{diagnostic_id}/uploads/{upload_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
)
def remove_upload(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    diagnostic_id: DiagId,
    upload_id: UploadId,
) -> Response:
    """Delete an upload of an unpublished diagnostic and its answers (admin, the pilot team).

    Any survey's upload: SU respondents, MdV/EdV answers or NosGestesClimat results.

    Both go in one transaction, committed before the answer. 409 once the diagnostic is
    published (has a release: its answers stay as released); an upload of another diagnostic
    is 404.
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    drop_upload(request, session, diag.id, upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def drop_upload(request: Request, session: Session, diagnostic_id: int, upload_id: int) -> None:
    """Delete an upload and its respondents, committed, then forget the diagnostic's cached
    figures (the API's route and the web workspace's form)."""
    delete_upload(session, diagnostic_id, upload_id)
    session.commit()  # before the cache is cleared: no reader may cache the old state again
    request.app.state.aggregates.clear(diagnostic_id)
