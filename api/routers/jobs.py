"""The analysis of a diagnostic as a background job with progress, and its map."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from api.dependencies import CallerDep, SessionDep, SettingsDep, diagnostic_for
from api.errors import request_lang
from api.models import ErrorOut, JobOut
from qet_geo.service import run_analysis
from qet_geo.store import ConflictError, Diagnostic

router = APIRouter(tags=["diagnostics"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Errors of an HTML route are still JSON: documented as such, not as text/html.
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


def _set(engine: Engine, diagnostic_id: int, state: str, progress: float) -> None:
    with sessionmaker(engine).begin() as s:
        diag = s.get(Diagnostic, diagnostic_id)
        if diag is not None:
            diag.status, diag.progress = state, progress
            diag.job_step, diag.job_message = None, None


def job_out(diag: Diagnostic, lang: str) -> JobOut:
    """Describe the analysis of a diagnostic, its message in ``lang``."""
    message = diag.job_message or {}
    return JobOut(
        diagnostic_id=diag.id,
        status=diag.status,
        progress=diag.progress,
        step=diag.job_step,
        message=message.get(lang) or message.get("fr"),
        code=message.get("code"),
    )


@router.post(
    "/diagnostics/{diagnostic_id}/run",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ERRORS,
)
def run_diagnostic(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: Id,
) -> JobOut:
    """Start the analysis of a diagnostic in the background (admin, the pilot team).

    It fits the diagnostic's own usage profiles and, when the neighbourhood has an OSM extract
    and a territory, computes its built-constraint indicators per 200 m cell; both replace the
    previous ones at the end, in one transaction. Follow it on ``/diagnostics/{id}/job``.
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    if diag.status in ("queued", "running"):
        raise ConflictError(
            "the analysis of this diagnostic is already running.",
            message_fr="l'analyse de ce diagnostic est déjà en cours.",
        )
    # Committed at once in its own transaction, so the job never waits on this request's one.
    _set(request.app.state.engine, diag.id, "queued", 0.0)
    background.add_task(run_analysis, request.app.state.engine, diag.id, osm_dir=settings.osm_dir)
    return JobOut(diagnostic_id=diag.id, status="queued", progress=0.0)


@router.get("/diagnostics/{diagnostic_id}/job", response_model=JobOut, responses=_ERRORS)
def job_status(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: Id
) -> JobOut:
    """State of the diagnostic's analysis: status, progress (0 to 1), step, and why it failed."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    return job_out(diag, request_lang(request))


@router.get(
    "/diagnostics/{diagnostic_id}/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 404, 422)},
)
def diagnostic_map(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: Id
) -> HTMLResponse:
    """Offline HTML map of usage profiles and footprints per published 200 m cell."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    return HTMLResponse(request.app.state.aggregates.map_html(session, diag.id))
