"""The analysis of a diagnostic as a background job with progress, and its map."""

from __future__ import annotations

import logging
import warnings
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from api.dependencies import CallerDep, SessionDep, diagnostic_for
from api.models import ErrorOut, JobOut
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store import ConflictError, Diagnostic, Profile, respondents_frame
from qet_geo.surveys.schema import USAGES

logger = logging.getLogger(__name__)
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


def run_analysis(engine: Engine, diagnostic_id: int) -> None:
    """Fit the diagnostic's own usage profiles and store those of 11 respondents or more."""
    from qet_geo.profiles import UsageProfiles

    try:
        _set(engine, diagnostic_id, "running", 0.1)
        with sessionmaker(engine).begin() as s:
            frame = respondents_frame(s, diagnostic_id)
        usages = [u for u in USAGES if u in frame.columns]
        complete = frame[usages].dropna() if usages else frame.iloc[0:0]
        if len(complete) < MIN_RESPONDENTS:
            _set(engine, diagnostic_id, "failed", 1.0)
            return
        _set(engine, diagnostic_id, "running", 0.4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = UsageProfiles(random_state=0).fit(complete.astype("Int8"))
        _set(engine, diagnostic_id, "running", 0.8)
        total = float(sum(fitted.counts_))
        with sessionmaker(engine).begin() as s:
            s.execute(delete(Profile).where(Profile.diagnostic_id == diagnostic_id))
            for k, (count, centre) in enumerate(zip(fitted.counts_, fitted.centres_, strict=True)):
                if count < MIN_RESPONDENTS:  # a profile of 1 to 10 people is not published
                    continue
                s.add(
                    Profile(
                        diagnostic_id=diagnostic_id,
                        scope="diagnostic",
                        number=k,
                        centre={u: float(v) for u, v in zip(usages, centre, strict=True)},
                        share=float(count) / total,
                    )
                )
        _set(engine, diagnostic_id, "done", 1.0)
    except Exception:
        logger.exception("analysis of diagnostic %s failed", diagnostic_id)
        _set(engine, diagnostic_id, "failed", 1.0)


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
    diagnostic_id: Id,
) -> JobOut:
    """Start the analysis of a diagnostic in the background (admin, the pilot team)."""
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    if diag.status in ("queued", "running"):
        raise ConflictError(
            "the analysis of this diagnostic is already running.",
            message_fr="l'analyse de ce diagnostic est déjà en cours.",
        )
    # Committed at once in its own transaction, so the job never waits on this request's one.
    _set(request.app.state.engine, diag.id, "queued", 0.0)
    background.add_task(run_analysis, request.app.state.engine, diag.id)
    return JobOut(diagnostic_id=diag.id, status="queued", progress=0.0)


@router.get("/diagnostics/{diagnostic_id}/job", response_model=JobOut, responses=_ERRORS)
def job_status(session: SessionDep, caller: CallerDep, diagnostic_id: Id) -> JobOut:
    """Progress of the diagnostic's analysis (0 to 1)."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    return JobOut(diagnostic_id=diag.id, status=diag.status, progress=diag.progress)


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
