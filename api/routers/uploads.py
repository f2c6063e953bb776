"""Survey answer files: uploaded (size-limited, one transaction, idempotent), deleted, replaced.

A pilot team may delete or replace an upload as long as its diagnostic has no release
(:func:`qet_geo.store.models.diagnostic_published`): a truncated or wrong file would otherwise be stuck
forever, its respondent ids clashing with those of the corrected file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response, status
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
from qet_geo.store.ingest import IngestResult, delete_upload, ingest_su
from qet_geo.store.models import Upload

router = APIRouter(tags=["enquêtes"])
DiagId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UploadId = Annotated[int, Path(ge=1, le=2**31 - 1)]
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


async def _ingest(request: Request, diagnostic_id: int, data: bytes, **kwargs: Any) -> IngestResult:
    """Store an answer file through a worker process, under the service's limits.

    The file is parsed, located and stored in a worker that is killed past ``survey_timeout_s``
    and cannot grow past ``survey_memory_bytes``, at most ``survey_workers`` at once: a hostile
    or huge workbook never holds the server's GIL, and the event loop serves other requests.
    The worker's transaction has committed when this returns. With ``survey_workers`` 0 the
    file is read in the server's thread pool (no limits but the readers' own).
    """
    settings: Settings = request.app.state.settings
    if settings.survey_workers == 0:
        engine = request.app.state.engine
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
        result: IngestResult = await run_in_worker(
            ingest_su_job, settings.database_url, diagnostic_id, data, limits=limits, **kwargs
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
) -> IngestResult:
    """Store an answer file (new, or replacing upload ``replaces``) through a worker, then
    forget the diagnostic's cached figures: the path of every upload, the API's and the web
    workspace's."""
    result = await _ingest(
        request,
        diagnostic_id,
        data,
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
) -> UploadOut:
    """Store an SU answer file (CSV, TSV or XLSX body) in a diagnostic.

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
        request, diag.id, data, idempotency_key=idempotency_key, key_scope=key_scope(caller)
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
) -> UploadOut:
    """Replace an upload of an unpublished diagnostic by a new file (admin, the pilot team).

    The old upload's respondents are deleted and the new file's stored in one transaction: on
    any error the old upload stays as it was. The answer gives the new upload's id
    (``created`` false when the file is the one already stored: nothing changed). 409 once
    the diagnostic is published (has a release).
    """
    diag = await run_in_threadpool(diagnostic_for, session, caller, diagnostic_id, access="write")
    await run_in_threadpool(delete_upload, session, diag.id, upload_id, dry_run=True)
    data = await _body(request, settings.max_upload_bytes)
    result = await store_upload(
        request, diag.id, data, key_scope=key_scope(caller), replaces=upload_id
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
    """Delete an upload of an unpublished diagnostic and its respondents (admin, the pilot team).

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
