"""The analysis of a diagnostic as a background job with progress."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, status
from sqlalchemy import Engine
from starlette.background import BackgroundTask

from api._workers import (
    WorkerFailedError,
    WorkerLimits,
    WorkerTimeoutError,
    analysis_job,
    run_in_worker,
)
from api.dependencies import CallerDep, SessionDep, SettingsDep, diagnostic_for
from api.errors import request_lang
from api.models import ErrorOut, JobOut
from api.settings import Settings
from qet_geo.i18n import msg
from qet_geo.store import jobs as service
from qet_geo.store.jobs import abandoned_message, claim_analysis, record_job_failure
from qet_geo.store.models import Diagnostic

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


def job_out(diag: Diagnostic, lang: str, *, timeout_s: float) -> JobOut:
    """Describe the analysis of a diagnostic, its message in ``lang``.

    A queued or running job silent for more than ``timeout_s`` is reported "abandoned", with
    the reason and what to do.
    """
    state = service.job_status(diag, timeout_s=timeout_s)
    message = (
        abandoned_message(diag, timeout_s=timeout_s)
        if state == "abandoned"
        else diag.job_message or {}
    )
    return JobOut(
        diagnostic_id=diag.id,
        status=state,
        progress=diag.progress,
        step=diag.job_step,
        message=message.get(lang) or message.get("fr"),
        code=message.get("code"),
        synthetic=bool(diag.synthetic),
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
    and a territory, computes access on foot and by bike from every home (kept for the
    releases), its built-constraint indicators per 200 m cell, and the links between
    constraints and usages, margins of manoeuvre and vote themes of the would-be release
    (``/diagnostics/{id}/links``); profiles and indicators replace the previous ones at the
    end, in one transaction. Follow it on ``/diagnostics/{id}/job``.

    An analysis already queued or running answers 409, unless it has given no news for
    ``job_timeout_s`` (its process was killed): it is then abandoned and this run replaces it.
    Homes weigh their inhabitants when the service has a census grid (``census_grid``).
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    background.add_task(start_analysis(request.app.state.engine, diag.id, settings))
    return JobOut(diagnostic_id=diag.id, status="queued", progress=0.0)


def start_analysis(engine: Engine, diagnostic_id: int, settings: Settings) -> BackgroundTask:
    """Queue a diagnostic's analysis and return the task that runs it after the answer.

    The one way the service starts an analysis (this route, and the analysis page of the web
    workspace). The claim is committed at once in its own transaction, so the job never waits
    on the request's one; it raises ConflictError (409) while another run is live.
    """
    job_id = claim_analysis(engine, diagnostic_id, timeout_s=settings.job_timeout_s)
    return BackgroundTask(_analyse_in_worker, engine, diagnostic_id, settings, job_id)


#: Analyses that may run at once in one server process, each in its own worker process.
ANALYSIS_SLOTS = 2


async def _analyse_in_worker(
    engine: Engine, diagnostic_id: int, settings: Settings, job_id: str
) -> None:
    """Run the claimed analysis in a worker process (:func:`api._workers.analysis_job`).

    Its limits: the job's time (``job_timeout_s``) and the extracts' memory
    (``osm_memory_bytes``: it reads the neighbourhood's extract). A worker killed past them, or
    dead without an answer, cannot record why: this does.
    """
    limits = WorkerLimits(
        timeout_s=settings.job_timeout_s,
        memory_bytes=settings.osm_memory_bytes,
        slots=ANALYSIS_SLOTS,
    )
    try:
        await run_in_worker(
            analysis_job,
            engine.url.render_as_string(hide_password=False),
            diagnostic_id,
            osm_dir=settings.osm_dir,
            census=settings.census_grid,
            job_id=job_id,
            limits=limits,
        )
    except WorkerTimeoutError:
        text = msg(
            "l'analyse a dépassé sa durée maximale ({duration}) et a été arrêtée : les "
            "résultats précédents sont conservés. Relancez-la ; si cela se reproduit, l'extrait "
            "OSM est peut-être trop grand pour ce serveur.",
            duration=service.duration_text(settings.job_timeout_s),
        )
        record_job_failure(engine, diagnostic_id, job_id, text, "WorkerTimeoutError")
    except WorkerFailedError:
        text = msg(
            "l'analyse a manqué de mémoire et a été arrêtée : les résultats précédents sont "
            "conservés. Un extrait OSM plus petit (le quartier et ses abords) la rendra possible."
        )
        record_job_failure(engine, diagnostic_id, job_id, text, "WorkerFailedError")
    except Exception:
        logger.exception("analysis of diagnostic %s: its worker failed", diagnostic_id)
        text = msg(
            "erreur interne : l'analyse s'est arrêtée ; les résultats précédents sont conservés. "
            "Le journal du service a les détails."
        )
        record_job_failure(engine, diagnostic_id, job_id, text, "InternalError")


@router.get("/diagnostics/{diagnostic_id}/job", response_model=JobOut, responses=_ERRORS)
def job_status(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: Id,
) -> JobOut:
    """State of the diagnostic's analysis: status, progress (0 to 1), step, and why it failed.

    "abandoned": the analysis was queued or running but has given no news for
    ``job_timeout_s`` (its process was killed); ``step`` and ``progress`` are where it stopped.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    return job_out(diag, request_lang(request), timeout_s=settings.job_timeout_s)
