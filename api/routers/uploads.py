"""Uploading survey answer files: size-limited, one transaction, idempotent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api._limits import limited_chunks
from api.dependencies import CallerDep, SessionDep, SettingsDep, diagnostic_for
from api.models import ErrorOut, UploadOut
from qet_geo.errors import ValidationError
from qet_geo.store import ingest_su

router = APIRouter(tags=["enquêtes"])


@router.post(
    "/diagnostics/{diagnostic_id}/uploads",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": UploadOut, "description": "Fichier déjà reçu : rien n'a changé."},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/tab-separated-values": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload_survey(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> UploadOut:
    """Store an SU answer file (CSV, TSV or XLSX body) in a diagnostic.

    Sending the same file again, or the same ``Idempotency-Key``, changes nothing (200). Homes are
    coarsened to 200 m cells before anything is stored. Admin and the pilot team only.
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    data = b"".join([c async for c in limited_chunks(request, settings.max_upload_bytes)])
    if not data:
        raise ValidationError(
            "the request body is empty: send the survey file as the body.",
            message_fr="le corps de la requête est vide : envoyez le fichier d'enquête.",
        )
    engine = request.app.state.engine
    result = await run_in_threadpool(
        ingest_su, engine, diag.id, data, idempotency_key=idempotency_key
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    request.app.state.aggregates.clear(diag.id)
    return UploadOut(
        upload_id=result.upload_id,
        created=result.created,
        n_rows=result.n_rows,
        n_stored=result.n_stored,
        summary={k: int(v) for k, v in result.summary.items()},
    )
