"""Step 3 of the journey: collecting the answers (``/espace/quartiers/{id}/enquete/collecte``).

Answer files of the three surveys (SU, MdV/EdV, NosGestesClimat: the form's ``enquete``) go
through the API's upload path (:func:`api.routers.uploads.store_upload`: the worker process with
its time and memory limits, :func:`qet_geo.store.ingest.ingest_survey`), then their rows'
validation report is read in a worker too, by the survey's reader (the file is never kept).
Uploads are replaced (by a file of the same survey) or deleted as the API does
(:func:`api.routers.uploads.drop_upload`). Progress against the quotas (:mod:`api.web.survey`,
cached there) counts, in the database (GROUP BY: no answer is loaded for it), the stored SU
respondents per category and IRIS, the MdV/EdV answers against the same
quotas when they carry age, sex or CSP, and the NosGestesClimat results (how many link to an SU
respondent); for whoever may not write to the neighbourhood (network staff) a count of 1 to 10
reads "moins de 11" (docs/privacy.md: only the pilot team previews its own live figures).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import BindParameter, Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api._workers import (
    WorkerCrashedError,
    WorkerLimits,
    run_in_worker,
)
from api.dependencies import SessionDep
from api.routers.neighbourhoods import open_diagnostic
from api.routers.uploads import drop_upload, key_scope, store_upload
from api.settings import Settings
from api.web import _kit
from api.web._kit import Visitor, check_csrf, redirect, render
from api.web.survey import (
    MAX_REPORT_ROWS,
    MIN_COUNT,
    STATUS_LABELS,
    VARIABLES,
    Quotas,
    category_label,
    hood_base,
    neighbourhood_quotas,
    no_table_for,
    quota_problem,
    visible_hood,
)
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg
from qet_geo.store.ingest import IngestResult
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Neighbourhood,
    NotFoundError,
    Respondent,
    SurveyAnswer,
    Upload,
    diagnostic_published,
)
from qet_geo.surveys.schema import AGE_BANDS, CSP_LABELS

__all__ = ["router"]

logger = logging.getLogger(__name__)


router = APIRouter(include_in_schema=False)

#: The surveys a file may hold: their names and what each is, for the upload form.
KINDS: dict[str, tuple[Msg, Msg]] = {
    "su": (
        msg("Profils d'Usages (SU)"),
        msg(
            "Le questionnaire court des habitudes (viande, déplacements, numérique, achats, "
            "avion, chauffage), avec l'âge, le sexe et la catégorie socio-professionnelle : "
            "la base des profils et de l'avancement par rapport aux quotas."
        ),
    ),
    "mdv": (
        msg("Modes et espaces de vie (MdV/EdV)"),
        msg(
            "Ce que disent les habitants de leurs déplacements et de leur accès aux commerces, "
            "au travail et aux loisirs (facile ou non, en combien de temps) : comparé aux "
            "minutes mesurées depuis les mêmes logements."
        ),
    ),
    "ngc": (
        msg("NosGestesClimat (NGC)"),
        msg(
            "Les résultats du calculateur d'empreinte carbone de l'ADEME, par catégorie "
            "(kgCO2e par an), avec l'identifiant de chaque répondant : rattachés à ses réponses "
            "SU par cet identifiant."
        ),
    ),
}

# --------------------------------------------------------------------------------------------------
# the collection page


@dataclass(frozen=True)
class ProgressRow:
    label: str
    target: int | None
    count: int
    shown: str
    missing: str


def _shown(count: int, exact: bool, lang: str) -> str:
    if exact or count == 0 or count >= MIN_COUNT:
        return str(count)
    return msg("moins de 11").render(lang)


@dataclass(frozen=True)
class Counts:
    """How many answers there are per category of each quota variable and per IRIS (the key
    None: not given), counted by the database."""

    total: int
    variables: dict[str, dict[str | None, int]]
    iris: dict[str | None, int]

    def given(self, variable: str) -> bool:
        """Whether some answer gives ``variable``."""
        return any(k is not None and n for k, n in self.variables[variable].items())


def _tally(rows: Sequence[Sequence[Any]]) -> Counts:
    """Counts from GROUP BY rows: the variables' values (and the IRIS code), then the count."""
    variables: dict[str, dict[str | None, int]] = {v: {} for v in VARIABLES}
    iris: dict[str | None, int] = {}
    total = 0
    for row in rows:
        n = int(row[-1])
        total += n
        for variable, value in zip(VARIABLES, row, strict=False):
            key = None if value is None else str(value)
            variables[variable][key] = variables[variable].get(key, 0) + n
        if len(row) > len(VARIABLES) + 1:
            code = row[len(VARIABLES)]
            key = None if code is None else str(code)
            iris[key] = iris.get(key, 0) + n
    return Counts(total, variables, iris)


@functools.cache
def _count_queries() -> tuple[Select[Any], Select[Any]]:
    """The two GROUP BY statements, built once (their ``diagnostic_id`` a bound parameter)."""
    diag: BindParameter[int] = bindparam("diagnostic_id", type_=Integer)
    su = [Respondent.answers[v].as_string() for v in VARIABLES]
    others = [SurveyAnswer.answers[v].as_string() for v in VARIABLES]
    return (
        select(*su, Respondent.iris_code, func.count())
        .where(Respondent.diagnostic_id == diag)
        .group_by(*su, Respondent.iris_code),
        select(SurveyAnswer.kind, *others, func.count())
        .where(SurveyAnswer.diagnostic_id == diag)
        .group_by(SurveyAnswer.kind, *others),
    )


def respondent_counts(session: Session, diagnostic_id: int) -> Counts:
    """The SU respondents' counts per age band, sex, CSP and IRIS: one GROUP BY query (their
    answers are never loaded, only counted)."""
    rows = session.execute(_count_queries()[0], {"diagnostic_id": diagnostic_id}).all()
    return _tally(rows)


def survey_counts(session: Session, diagnostic_id: int) -> dict[str, Counts]:
    """The counts of a diagnostic's MdV/EdV and NGC answers (by their ``kind``) per age band,
    sex and CSP: one GROUP BY query."""
    rows = session.execute(_count_queries()[1], {"diagnostic_id": diagnostic_id}).all()
    return {kind: _tally([r[1:] for r in rows if r[0] == kind]) for kind in ("mdv", "ngc")}


def linked_ngc(session: Session, diagnostic_id: int) -> int:
    """How many NosGestesClimat results share their pseudonym with an SU respondent."""
    su = select(Respondent.pseudo_id).where(Respondent.diagnostic_id == diagnostic_id)
    return int(
        session.scalar(
            select(func.count())
            .select_from(SurveyAnswer)
            .where(
                SurveyAnswer.diagnostic_id == diagnostic_id,
                SurveyAnswer.kind == "ngc",
                SurveyAnswer.pseudo_id.in_(su),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Tallies:
    """A campaign's counts: SU respondents, MdV/EdV answers, NGC results and those linked to an
    SU respondent."""

    su: Counts
    mdv: Counts
    ngc: int
    linked: int


#: The counts of each campaign, with the uploads they come from.
_tallies: dict[int, tuple[tuple[Any, ...], Tallies]] = {}
_tallies_lock = threading.Lock()
_MAX_TALLIES = 256


def campaign_counts(session: Session, diagnostic_id: int, uploads: Sequence[Upload]) -> Tallies:
    """The campaign's counts, computed by the database, cached in the process per its uploads.

    The answers change only with the uploads (stored, replaced, deleted: each its own id and
    content hash), so the counts are kept while the list of ``uploads`` (id, content hash,
    survey, pseudonym key scope, rows stored) is the same; read ``uploads`` before calling, so
    that counts are never kept under a newer list than theirs.
    """
    version = tuple((u.id, u.sha256, u.kind, u.key_scope, u.n_stored) for u in uploads)
    with _tallies_lock:
        hit = _tallies.get(diagnostic_id)
    if hit is not None and hit[0] == version:
        return hit[1]
    others = survey_counts(session, diagnostic_id)
    ngc = others["ngc"].total
    tallies = Tallies(
        respondent_counts(session, diagnostic_id),
        others["mdv"],
        ngc,
        linked_ngc(session, diagnostic_id) if ngc else 0,
    )
    with _tallies_lock:
        if len(_tallies) >= _MAX_TALLIES:
            _tallies.clear()
        _tallies[diagnostic_id] = (version, tallies)
    return tallies


def _by_count(counts: dict[str | None, int], known: Sequence[str]) -> list[str]:
    """The categories outside ``known``, most answers first (then by name)."""
    extra = [c for c in counts if c is not None and c not in known and counts[c]]
    return sorted(extra, key=lambda c: (-counts[c], c))


def _progress(counts: Counts, found: Quotas | None, *, exact: bool, lang: str) -> dict[str, Any]:
    """Answers per category (against the quotas) and per IRIS (against its share)."""
    tables: dict[str, list[ProgressRow]] = {}
    for variable in VARIABLES:
        by_value = counts.variables[variable]
        targets = (
            {r.category: r.quota for r in found.rows if r.variable == variable} if found else {}
        )
        order: list[str] = list(targets) or (
            list(AGE_BANDS)
            if variable == "age_band"
            else ["F", "M"]
            if variable == "gender"
            else list(CSP_LABELS)
        )
        rows = []
        for category in [*order, *_by_count(by_value, order)]:
            rows.append(
                _progress_row(
                    category_label(variable, category, lang),
                    targets.get(category),
                    by_value.get(category, 0),
                    exact,
                    lang,
                )
            )
        unknown = by_value.get(None, 0)
        if unknown:
            rows.append(
                _progress_row(msg("non renseigné").render(lang), None, unknown, exact, lang)
            )
        tables[variable] = rows
    iris_rows = []
    targets_iris = {i.code: i.n for i in found.per_iris} if found else {}
    for code in [*targets_iris, *_by_count(counts.iris, list(targets_iris))]:
        iris_rows.append(
            _progress_row(code, targets_iris.get(code), counts.iris.get(code, 0), exact, lang)
        )
    no_iris = counts.iris.get(None, 0)
    if no_iris:
        iris_rows.append(
            _progress_row(msg("IRIS inconnu").render(lang), None, no_iris, exact, lang)
        )
    return {
        "variables": tables,
        "iris": iris_rows,
        "total": _shown(counts.total, exact, lang),
        "target": found.n if found else None,
        "missing": _missing(found.n if found else None, counts.total, exact, lang),
    }


def _other_progress(
    tallies: Tallies, found: Quotas | None, *, exact: bool, lang: str
) -> dict[str, Any]:
    """Counts of the MdV/EdV answers (against the quotas when they carry age, sex or CSP) and of
    the NosGestesClimat results (and how many link to an SU respondent)."""
    mdv = tallies.mdv
    mdv_tables = None
    if any(mdv.given(v) for v in VARIABLES):
        mdv_tables = _progress(mdv, found, exact=exact, lang=lang)["variables"]
    return {
        "mdv": _shown(mdv.total, exact, lang),
        "mdv_missing": _missing(found.n if found else None, mdv.total, exact, lang),
        "mdv_tables": mdv_tables,
        "ngc": _shown(tallies.ngc, exact, lang),
        "ngc_linked": _shown(tallies.linked, exact, lang),
    }


def _missing(target: int | None, count: int, exact: bool, lang: str) -> str:
    if target is None:
        return "—"
    if not exact and 0 < count < MIN_COUNT:
        return "—"
    left = max(target - count, 0)
    return msg("atteint").render(lang) if left == 0 else str(left)


def _progress_row(
    label: str, target: int | None, count: int, exact: bool, lang: str
) -> ProgressRow:
    return ProgressRow(
        label, target, count, _shown(count, exact, lang), _missing(target, count, exact, lang)
    )


def _diagnostics(session: Session, hood: Neighbourhood) -> list[Diagnostic]:
    return list(
        session.scalars(
            select(Diagnostic)
            .where(Diagnostic.neighbourhood_id == hood.id)
            .order_by(Diagnostic.year)
        )
    )


def _chosen(diags: list[Diagnostic], annee: str | None) -> Diagnostic | None:
    if not diags:
        return None
    if annee is not None and annee.isdigit():
        for diag in diags:
            if diag.year == int(annee):
                return diag
        return None
    return diags[-1]


def _collect_context(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    annee: str | None,
    **extra: Any,
) -> dict[str, Any]:
    lang = _kit.lang_of(request)
    diags = _diagnostics(session, hood)
    diag = _chosen(diags, annee)
    can_write = visitor.caller.can_write(hood)
    uploads: list[Upload] = []
    progress = None
    published = False
    if diag is not None:
        uploads = list(
            session.scalars(
                select(Upload).where(Upload.diagnostic_id == diag.id).order_by(Upload.id)
            )
        )
        published = diagnostic_published(session, diag.id)
        tables, problem = quota_problem(request, hood)
        found = (
            neighbourhood_quotas(tables, hood.iris_codes, margin_pct=5, lang=lang)
            if problem is None
            else None
        )
        tallies = campaign_counts(session, diag.id, uploads)
        progress = _progress(tallies.su, found, exact=can_write, lang=lang)
        progress["others"] = _other_progress(tallies, found, exact=can_write, lang=lang)
        if found is None:
            extra.setdefault(
                "quota_problem",
                (problem or no_table_for(hood)).render(lang),
            )
    context: dict[str, Any] = {
        "hood": hood,
        "diags": diags,
        "diag": diag,
        "can_write": can_write,
        "uploads": uploads,
        "published": published,
        "progress": progress,
        "variables": {k: v.render(lang) for k, v in VARIABLES.items()},
        "base": hood_base(hood.id),
        "error": None,
        "notice": None,
        "quota_problem": None,
        "max_mb": round(request.app.state.settings.max_upload_bytes / 1_000_000, 1),
        "kinds": {k: (name.render(lang), about.render(lang)) for k, (name, about) in KINDS.items()},
        "chosen_kind": "su",
    }
    context.update(extra)
    return context


@router.get("/espace/quartiers/{hood_id}/enquete/collecte", response_class=HTMLResponse)
def collect_page(
    request: Request,
    session: SessionDep,
    hood_id: str,
    annee: Annotated[str | None, Query(max_length=4)] = None,
    fait: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Uploads of the year's campaign, and progress against the quotas."""
    visitor, hood = visible_hood(request, session, hood_id)
    lang = _kit.lang_of(request)
    notices = {
        "supprime": msg("Envoi supprimé, avec ses réponses."),
        "ouvert": msg("Campagne d'enquête ouverte : déposez ses fichiers."),
    }
    notice = notices[fait].render(lang) if fait in notices else None
    context = _collect_context(request, session, visitor, hood, annee, notice=notice)
    if annee is not None and context["diag"] is None:
        raise _kit.not_found(request, visitor)
    return render(request, "survey_collect.html", context, visitor=visitor)


@router.post("/espace/quartiers/{hood_id}/enquete/collecte/campagne", response_class=HTMLResponse)
async def open_campaign(request: Request, session: SessionDep, hood_id: str) -> Response:
    """Open the year's survey campaign (a diagnostic), as ``POST /neighbourhoods/{id}/diagnostics``."""
    form = await request.form(max_files=0, max_fields=5)
    visitor, hood = await run_in_threadpool(visible_hood, request, session, hood_id)
    check_csrf(request, visitor, _text(form.get("csrf")))
    _writer_only(request, visitor, hood)
    lang = _kit.lang_of(request)
    year_text = _text(form.get("annee")).strip() or "0"
    if not year_text.isdigit() or int(year_text) > 100:
        error = msg("L'année de la campagne est un nombre de 0 (la première) à 100.")
        context = await run_in_threadpool(
            _collect_context, request, session, visitor, hood, None, error=error.render(lang)
        )
        return render(request, "survey_collect.html", context, visitor=visitor, status=400)
    year = int(year_text)
    try:
        await run_in_threadpool(open_diagnostic, session, hood.id, year)
        await run_in_threadpool(session.commit)
    except ConflictError:
        await run_in_threadpool(session.rollback)
    return redirect(f"{hood_base(hood.id)}/collecte?annee={year}&fait=ouvert")


def _with_kind(text: str | None, kind: str, lang: str) -> str | None:
    """The error, saying which survey the file was read as (a wrong choice is the usual cause)."""
    if text is None:
        return None
    return msg(
        "{error} (Fichier lu comme une enquête {kind} : si ce n'est pas la bonne, choisissez "
        "l'autre enquête et déposez-le à nouveau.)",
        error=text,
        kind=KINDS[kind][0],
    ).render(lang)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _writer_only(request: Request, visitor: Visitor, hood: Neighbourhood) -> None:
    """Refuse (403 page) whoever may not write to the neighbourhood (network staff)."""
    if not visitor.caller.can_write(hood):
        raise _kit.forbidden(request, visitor)


async def _file_of(request: Request, form: Any) -> bytes | tuple[Msg, int]:
    """The uploaded file's bytes, or what is wrong with it (none, empty, too big) and the
    status of the answer."""
    upload = form.get("fichier")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return msg("Choisissez le fichier d'enquête à déposer (CSV, TSV ou XLSX)."), 400
    limit = int(request.app.state.settings.max_upload_bytes)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        size = (
            msg("{mb} Mo", mb=round(limit / 1_000_000, 1))
            if limit >= 100_000
            else msg("{n} octets", n=limit)
        )
        return msg(
            "Le fichier dépasse {size}, le maximum accepté : découpez-le en plusieurs fichiers "
            "et déposez-les un par un.",
            size=size,
        ), 413
    if not data:
        return msg("Le fichier est vide : choisissez le fichier exporté de l'enquête."), 400
    return data


def _report_job(data: bytes, kind: str = "su") -> list[tuple[int, str, str, str, str]]:
    """The partial and rejected rows of a file's validation report, by its survey's reader
    (in a worker)."""
    from qet_geo.surveys.mdv import read_mdv
    from qet_geo.surveys.ngc import read_ngc
    from qet_geo.surveys.su import read_su

    reader = {"su": read_su, "mdv": read_mdv, "ngc": read_ngc}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = reader(io.BytesIO(data))
    report = read.report[read.report["status"] != "accepted"].head(MAX_REPORT_ROWS)
    return [
        (
            int(r["row"]),
            "" if pd.isna(r["respondent_id"]) else str(r["respondent_id"]),
            str(r["status"]),
            str(r["reason_fr"] or ""),
            str(r["reason_en"] or ""),
        )
        for r in report.to_dict("records")
    ]


async def _report(request: Request, data: bytes, kind: str) -> list[tuple[int, str, str, str, str]]:
    settings: Settings = request.app.state.settings
    if settings.survey_workers == 0:
        return await run_in_threadpool(_report_job, data, kind)
    limits = WorkerLimits(
        timeout_s=settings.survey_timeout_s,
        memory_bytes=settings.survey_memory_bytes,
        slots=settings.survey_workers,
    )
    result: list[tuple[int, str, str, str, str]] = await run_in_worker(
        _report_job, data, kind, limits=limits
    )
    return result


async def _receive(
    request: Request, session: Session, hood_id: str, replaces: str | None
) -> Response:
    form = await request.form(max_files=1, max_fields=5)
    visitor, hood = await run_in_threadpool(visible_hood, request, session, hood_id)
    check_csrf(request, visitor, _text(form.get("csrf")))
    _writer_only(request, visitor, hood)
    lang = _kit.lang_of(request)
    annee = _text(form.get("annee")) or None
    diags = await run_in_threadpool(_diagnostics, session, hood)
    diag = _chosen(diags, annee)
    if diag is None:
        raise _kit.not_found(request, visitor)
    replaced: int | None = None
    kind = _text(form.get("enquete")) or "su"
    if replaces is not None:
        if not replaces.isdigit() or len(replaces) > 12:
            raise _kit.not_found(request, visitor)
        replaced = int(replaces)
        old = await run_in_threadpool(session.get, Upload, replaced)
        if old is None or old.diagnostic_id != diag.id:
            raise _kit.not_found(request, visitor)
        kind = old.kind or "su"  # a file of the replaced upload's survey
    data = await _file_of(request, form)
    result: IngestResult | None = None
    error: Msg | str | None = None
    status = 400
    if kind not in KINDS:
        data = (msg("Choisissez l'enquête du fichier : SU, MdV/EdV ou NosGestesClimat."), 400)
        kind = "su"
    if not isinstance(data, bytes):
        error, status = data
    diag_id, year = diag.id, diag.year
    await run_in_threadpool(session.rollback)  # the worker writes: no transaction held here
    if isinstance(data, bytes):
        try:
            result = await store_upload(
                request,
                diag_id,
                data,
                key_scope=key_scope(visitor.caller),
                replaces=replaced,
                kind=kind,
            )
        except NotFoundError:
            raise _kit.not_found(request, visitor) from None
        except QetGeoError as exc:
            error = exc.localized(lang)
            status = 409 if isinstance(exc, ConflictError) else 422
        except WorkerCrashedError:
            error = msg(
                "Le fichier n'a pas pu être lu : vérifiez qu'il s'agit bien de l'export de "
                "l'enquête (CSV, TSV ou XLSX)."
            )
            status = 422
    if result is None:
        text = error.render(lang) if isinstance(error, Msg) else error
        if status == 422:  # the file was read, and not as its survey: the choice may be wrong
            text = _with_kind(text, kind, lang)
        context = await run_in_threadpool(
            _collect_context,
            request,
            session,
            visitor,
            hood,
            str(year),
            error=text,
            chosen_kind=kind,
        )
        return render(request, "survey_collect.html", context, visitor=visitor, status=status)
    rows: list[tuple[int, str, str, str, str]] = []
    if result.created and isinstance(data, bytes):
        try:
            rows = await _report(request, data, kind)
        except Exception:  # the file is stored and its counts shown: the report is a bonus
            logger.exception("validation report failed")
    report = [
        {
            "row": row,
            "id": rid,
            "status": STATUS_LABELS[st].render(lang) if st in STATUS_LABELS else st,
            "status_code": st,
            "reason": en if lang == "en" else fr,
        }
        for row, rid, st, fr, en in rows
    ]
    context = await run_in_threadpool(
        _collect_context,
        request,
        session,
        visitor,
        hood,
        str(year),
        result=result,
        report=report,
        replaced=replaced,
        result_kind=KINDS[kind][0].render(lang),
        chosen_kind=kind,
    )
    return render(request, "survey_collect.html", context, visitor=visitor, status=200)


@router.post("/espace/quartiers/{hood_id}/enquete/collecte", response_class=HTMLResponse)
async def upload_file(request: Request, session: SessionDep, hood_id: str) -> Response:
    """Store a file of the chosen survey in the campaign, then show its validation report."""
    return await _receive(request, session, hood_id, None)


@router.post(
    "/espace/quartiers/{hood_id}/enquete/collecte/envois/{upload_id}/remplacer",
    response_class=HTMLResponse,
)
async def replace_file(
    request: Request, session: SessionDep, hood_id: str, upload_id: str
) -> Response:
    """Replace an upload by a new file (its answers go, the new file's are stored)."""
    return await _receive(request, session, hood_id, upload_id)


@router.post(
    "/espace/quartiers/{hood_id}/enquete/collecte/envois/{upload_id}/supprimer",
    response_class=HTMLResponse,
)
async def delete_file(
    request: Request, session: SessionDep, hood_id: str, upload_id: str
) -> Response:
    """Delete an upload and its answers."""
    form = await request.form(max_files=0, max_fields=5)
    visitor, hood = await run_in_threadpool(visible_hood, request, session, hood_id)
    check_csrf(request, visitor, _text(form.get("csrf")))
    _writer_only(request, visitor, hood)
    if not upload_id.isdigit() or len(upload_id) > 12:
        raise _kit.not_found(request, visitor)
    upload = await run_in_threadpool(session.get, Upload, int(upload_id))
    diag = (
        None
        if upload is None
        else await run_in_threadpool(session.get, Diagnostic, upload.diagnostic_id)
    )
    if upload is None or diag is None or diag.neighbourhood_id != hood.id:
        raise _kit.not_found(request, visitor)
    year = diag.year
    try:
        await run_in_threadpool(drop_upload, request, session, diag.id, upload.id)
    except ConflictError as exc:
        await run_in_threadpool(session.rollback)
        context = await run_in_threadpool(
            _collect_context,
            request,
            session,
            visitor,
            hood,
            str(year),
            error=exc.localized(_kit.lang_of(request)),
        )
        return render(request, "survey_collect.html", context, visitor=visitor, status=409)
    return redirect(f"{hood_base(hood.id)}/collecte?annee={year}&fait=supprime")
