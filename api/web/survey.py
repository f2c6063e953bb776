"""Steps 2 and 3 of the journey: preparing the survey (quotas, visit) and collecting the answers.

Preparing (``/espace/quartiers/{id}/enquete/preparer``)
    The sample size and the quotas by age band, sex and socio-professional category of the
    neighbourhood's IRIS, from the census tables by IRIS of the shared data folder
    (``QET_SHARED_DATA``, its ``census/`` CSV files): :func:`qet_geo.surveys.representativeness.
    survey_quotas`, for all the IRIS together and for each one (its share of the sample split by
    population, :func:`~qet_geo.surveys.representativeness.quotas`). The page prints as the
    field team's quota sheet. The walking visit (:func:`qet_geo.visit.plan.plan_visit`,
    :func:`qet_geo.visit.export.write_route`) is planned in a worker process under the limits of
    the extracts' (``osm_timeout_s``, ``osm_memory_bytes``), from a thread: the page polls its
    state (htmx, or a plain link) and offers the GPX, GeoJSON and roadbook files once done.

Collecting (``/espace/quartiers/{id}/enquete/collecte``)
    SU answer files go through the API's upload path (:func:`api.routers.uploads.store_upload`:
    the worker process with its time and memory limits, :func:`qet_geo.store.ingest.ingest_su`),
    then their rows' validation report is read in a worker too (the file is never kept). Uploads
    are replaced or deleted as the API does (:func:`api.routers.uploads.drop_upload`). Progress
    against the quotas counts the stored respondents per category and IRIS; for whoever may not
    write to the neighbourhood (network staff) a count of 1 to 10 reads "moins de 11"
    (docs/privacy.md: only the pilot team previews its own live figures).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api._workers import (
    WorkerCrashedError,
    WorkerLimits,
    refused_past_limits,
    run_in_worker,
)
from api.dependencies import SessionDep
from api.routers.neighbourhoods import open_diagnostic
from api.routers.uploads import drop_upload, key_scope, store_upload
from api.settings import Settings
from api.web import _kit
from api.web._kit import Visitor, check_csrf, hood_for_page, redirect, render, signed_in
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Lang, Msg, msg
from qet_geo.store.ingest import IngestResult, respondents_frame
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Neighbourhood,
    NotFoundError,
    Upload,
    diagnostic_published,
    extract_path,
    territory_geometry,
)
from qet_geo.surveys.schema import AGE_BANDS, CSP_LABELS

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: Smallest count shown to whoever may not write to the neighbourhood (statistical secrecy).
MIN_COUNT = 11
#: Rows of a validation report shown (the partial and rejected ones).
MAX_REPORT_ROWS = 500
#: Margins of error offered on the preparation page (points of a proportion).
MARGINS = (3, 4, 5, 7, 10)

_VARIABLES: dict[str, Msg] = {
    "age_band": msg("Tranche d'âge"),
    "gender": msg("Sexe"),
    "csp": msg("Catégorie socio-professionnelle"),
}
_AGE_LABELS: dict[str, Msg] = {
    "15-29": msg("15 à 29 ans"),
    "30-44": msg("30 à 44 ans"),
    "45-59": msg("45 à 59 ans"),
    "60-74": msg("60 à 74 ans"),
    "75+": msg("75 ans ou plus"),
}
_GENDER_LABELS: dict[str, Msg] = {"F": msg("Femmes"), "M": msg("Hommes")}
_STATUS_LABELS: dict[str, Msg] = {
    "accepted": msg("acceptée"),
    "partial": msg("partielle"),
    "rejected": msg("refusée"),
}


def _base(hood_id: int) -> str:
    return f"/espace/quartiers/{hood_id}/enquete"


def category_label(variable: str, category: str, lang: str) -> str:
    """The French (or English) label of a census category."""
    labels: dict[str, Msg] = {
        "age_band": _AGE_LABELS,
        "gender": _GENDER_LABELS,
        "csp": dict(CSP_LABELS),
    }.get(variable, {})
    label = labels.get(category)
    return category if label is None else label.render(lang)


# --------------------------------------------------------------------------------------------------
# census tables and quotas


@dataclass(frozen=True)
class QuotaRow:
    variable: str
    category: str
    label: str
    population: float
    share: float
    quota: int


@dataclass(frozen=True)
class IrisQuotas:
    code: str
    population: float
    n: int
    rows: list[QuotaRow]


@dataclass(frozen=True)
class Quotas:
    """The neighbourhood's sample size and quotas, all IRIS together and per IRIS."""

    n: int
    population: float
    margin_pct: int
    rows: list[QuotaRow]
    per_iris: list[IrisQuotas]


def census_tables(shared: Path | None) -> list[Path]:
    """The census tables by IRIS of the shared data folder: its ``census/**/*.csv`` files."""
    if shared is None or not (shared / "census").is_dir():
        return []
    return sorted((shared / "census").rglob("*.csv"))


_quota_cache: dict[tuple[str, float, tuple[str, ...], int], Quotas | None] = {}
_quota_lock = threading.Lock()


def neighbourhood_quotas(
    tables: Sequence[Path], codes: Sequence[str], *, margin_pct: int, lang: str
) -> Quotas | None:
    """The quotas of the IRIS ``codes`` from the first table that has them all, else None.

    All the IRIS together: :func:`~qet_geo.surveys.representativeness.survey_quotas` at 95 %
    confidence and ``margin_pct`` points. Each IRIS: its share of that sample split by its
    population (largest remainders), then its own quotas for that number.
    """
    from qet_geo.surveys.representativeness import quotas, survey_quotas

    wanted = tuple(sorted({str(c).strip().zfill(9) for c in codes}))
    for table in tables:
        key = (str(table), table.stat().st_mtime, wanted, margin_pct)
        with _quota_lock:
            if key in _quota_cache:
                found = _quota_cache[key]
                if found is None:
                    continue
                return _relabelled(found, lang)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pd.read_csv(table, sep=None, engine="python", dtype=str)
                whole = survey_quotas(frame, codes=list(wanted), margin=margin_pct / 100)
                population = float(whole.attrs["population"])
                n = int(whole.attrs["n"])
                first = str(whole["variable"].iloc[0])
                per_pop = pd.Series(
                    {
                        code: float(
                            survey_quotas(frame, codes=[code], n=1, variables=[first]).attrs[
                                "population"
                            ]
                        )
                        for code in wanted
                    }
                )
                split = (
                    quotas(per_pop, n) if per_pop.sum() > 0 else pd.Series(0, index=per_pop.index)
                )
                per_iris = []
                for code in wanted:
                    size = int(split[code])
                    rows = _rows(survey_quotas(frame, codes=[code], n=size), lang) if size else []
                    per_iris.append(IrisQuotas(code, float(per_pop[code]), size, rows))
            result: Quotas | None = Quotas(n, population, margin_pct, _rows(whole, lang), per_iris)
        except (QetGeoError, ValueError, KeyError, OSError):
            result = None
        with _quota_lock:
            if len(_quota_cache) > 256:
                _quota_cache.clear()
            _quota_cache[key] = result
        if result is not None:
            return result
    return None


def _rows(frame: pd.DataFrame, lang: str) -> list[QuotaRow]:
    return [
        QuotaRow(
            variable=str(r["variable"]),
            category=str(r["category"]),
            label=category_label(str(r["variable"]), str(r["category"]), lang),
            population=float(r["population"]),
            share=0.0 if pd.isna(r["share"]) else float(r["share"]),
            quota=int(r["quota"]),
        )
        for r in frame.to_dict("records")
    ]


def _relabelled(found: Quotas, lang: str) -> Quotas:
    def again(rows: list[QuotaRow]) -> list[QuotaRow]:
        return [
            QuotaRow(
                r.variable,
                r.category,
                category_label(r.variable, r.category, lang),
                r.population,
                r.share,
                r.quota,
            )
            for r in rows
        ]

    return Quotas(
        found.n,
        found.population,
        found.margin_pct,
        again(found.rows),
        [IrisQuotas(i.code, i.population, i.n, again(i.rows)) for i in found.per_iris],
    )


def _quota_problem(request: Request, hood: Neighbourhood) -> tuple[list[Path], Msg | None]:
    """The census tables to read, or why the quotas cannot be computed (what to set)."""
    if not hood.iris_codes:
        return [], msg(
            "Le quartier n'a pas de codes IRIS : renseignez-les (étape 1, le quartier) pour "
            "calculer l'échantillon et les quotas à partir du recensement."
        )
    tables = census_tables(getattr(request.app.state, "shared_data", None))
    if not tables:
        return [], msg(
            "Les tables du recensement par IRIS sont introuvables : le service les lit dans le "
            "dossier census des données partagées (variable QET_SHARED_DATA). Demandez à "
            "l'administrateur du service de les y placer."
        )
    return tables, None


def _no_table_for(hood: Neighbourhood) -> Msg:
    return msg(
        "Aucune table du recensement des données partagées ne couvre les IRIS du quartier "
        "({codes}) : vérifiez les codes (ils changent d'un millésime à l'autre) ou demandez à "
        "l'administrateur d'ajouter la table de ces IRIS (colonnes INSEE par tranche d'âge, "
        "sexe ou catégorie socio-professionnelle).",
        codes=", ".join(str(c) for c in hood.iris_codes[:10]),
    )


# --------------------------------------------------------------------------------------------------
# the visit route


@dataclass
class VisitState:
    """A visit being planned, planned, or failed."""

    status: str = "running"  # running, done, failed
    files: dict[str, bytes] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    error: tuple[str, str] | None = None  # (fr, en)


_visits: dict[tuple[Any, ...], VisitState] = {}
_visits_lock = threading.Lock()
_MAX_VISITS = 32


def _visit_job(
    osm: str,
    name: str,
    territory_wkt: str | None,
    stops: int,
    loop: bool,
    max_minutes: float | None,
    lang: Lang,
) -> dict[str, Any]:
    """Plan the visit and write its files (in a worker), as ``GET /neighbourhoods/{id}/route.gpx``."""
    from api.routers.routes import plan_stored_visit

    visit, files = plan_stored_visit(
        osm, name, territory_wkt, stops=stops, loop=loop, lang=lang, max_minutes=max_minutes
    )
    table = visit.stops
    return {
        "files": files,
        "summary": {
            "n_stops": len(table),
            "n_dropped": len(visit.dropped),
            "length_km": round(visit.length_m / 1000, 1),
            "walk_min": round(visit.walk_min),
            "total_min": round(visit.walk_min + visit.dwell_total_min),
            "stops": [
                {
                    "order": int(row["order"]),
                    "name": str(row.get("name") or ""),
                    "street": str(row.get("street") or ""),
                    "arrive_min": round(float(row["arrive_min"])),
                }
                for _, row in table.iterrows()
            ],
        },
    }


async def _plan_in_worker(settings: Settings, *args: Any) -> dict[str, Any]:
    limits = WorkerLimits(timeout_s=settings.osm_timeout_s, memory_bytes=settings.osm_memory_bytes)
    with refused_past_limits(
        limits,
        what=msg("l'extrait du quartier"),
        fix=msg("choisissez moins d'arrêts, ou déposez un extrait plus petit."),
    ):
        result: dict[str, Any] = await run_in_worker(_visit_job, *args, limits=limits)
    return result


_visit_slots = threading.BoundedSemaphore(2)


def _start_visit(key: tuple[Any, ...], settings: Settings, *args: Any) -> VisitState:
    """The state of the visit ``key``; started in a thread (its worker process) when new."""
    with _visits_lock:
        state = _visits.get(key)
        if state is not None:
            return state
        if len(_visits) >= _MAX_VISITS:
            for old in [k for k, s in _visits.items() if s.status != "running"][:8]:
                del _visits[old]
        state = _visits[key] = VisitState()

    def run() -> None:
        with _visit_slots:
            try:
                done = asyncio.run(_plan_in_worker(settings, *args))
                state.files, state.summary = done["files"], done["summary"]
                state.status = "done"
            except QetGeoError as exc:
                # the extract is a file of the server: its path means nothing to the reader
                osm = str(args[0])
                state.error = (
                    exc.localized("fr").replace(osm, "l'extrait du quartier"),
                    exc.localized("en").replace(osm, "the neighbourhood's extract"),
                )
                state.status = "failed"
            except Exception:  # the server's fault: its type only in the log, never the page
                logger.exception("visit planning failed")
                text = msg(
                    "L'itinéraire n'a pas pu être calculé : réessayez, ou signalez-le au réseau."
                )
                state.error = (text.render("fr"), text.render("en"))
                state.status = "failed"

    threading.Thread(target=run, name="qet-visit", daemon=True).start()
    return state


@dataclass(frozen=True)
class VisitForm:
    stops: int = 6
    loop: bool = True
    max_minutes: int | None = None
    error: str | None = None
    asked: bool = False

    def query(self) -> str:
        minutes = "" if self.max_minutes is None else str(self.max_minutes)
        return f"arrets={self.stops}&boucle={'1' if self.loop else '0'}&minutes={minutes}"


def _visit_form(
    arrets: str | None, boucle: str | None, minutes: str | None, lang: str
) -> VisitForm:
    if arrets is None:
        return VisitForm()
    loop = boucle == "1"
    try:
        stops = int(arrets)
        if not 2 <= stops <= 12:
            raise ValueError
    except ValueError:
        text = msg("Le nombre d'arrêts est un nombre entier de 2 à 12.")
        return VisitForm(loop=loop, error=text.render(lang))
    budget: int | None = None
    if minutes and minutes.strip():
        try:
            budget = int(minutes)
            if not 10 <= budget <= 600:
                raise ValueError
        except ValueError:
            text = msg("La durée maximale est un nombre de minutes de 10 à 600, ou rien.")
            return VisitForm(stops=stops, loop=loop, error=text.render(lang))
    return VisitForm(stops=stops, loop=loop, max_minutes=budget, asked=True)


def _visit_state(
    request: Request, hood: Neighbourhood, form: VisitForm
) -> tuple[VisitState | None, str | None]:
    """Start or find the visit of ``form``; or say why there is none (no extract...)."""
    lang = _kit.lang_of(request)
    if not form.asked:
        return None, None
    settings: Settings = request.app.state.settings
    if hood.osm_extract is None or settings.osm_dir is None:
        text = msg(
            "Le quartier n'a pas encore d'extrait OpenStreetMap : déposez-le (étape 1) pour "
            "calculer l'itinéraire de visite."
        )
        return None, text.render(lang)
    try:
        osm = extract_path(settings.osm_dir, hood.osm_extract)
    except QetGeoError:
        text = msg(
            "L'extrait OpenStreetMap du quartier est introuvable sur le serveur : déposez-le à "
            "nouveau (étape 1)."
        )
        return None, text.render(lang)
    geometry = territory_geometry(hood)
    wkt = None if geometry is None else geometry.wkt
    run_lang: Lang = "en" if lang == "en" else "fr"
    key = (
        str(osm),
        osm.stat().st_mtime,
        wkt,
        form.stops,
        form.loop,
        form.max_minutes,
        run_lang,
    )
    state = _start_visit(
        key,
        settings,
        str(osm),
        hood.name,
        wkt,
        form.stops,
        form.loop,
        None if form.max_minutes is None else float(form.max_minutes),
        run_lang,
    )
    return state, None


# --------------------------------------------------------------------------------------------------
# the preparation page


def _visible_hood(
    request: Request, session: Session, hood_id: str
) -> tuple[Visitor, Neighbourhood]:
    visitor = signed_in(request, session)
    return visitor, hood_for_page(request, session, visitor, hood_id)


def _margin_of(marge: str | None) -> int:
    try:
        value = int(marge or 5)
    except ValueError:
        return 5
    return value if value in MARGINS else 5


@router.get("/espace/quartiers/{hood_id}/enquete/preparer", response_class=HTMLResponse)
def prepare_page(
    request: Request,
    session: SessionDep,
    hood_id: str,
    marge: Annotated[str | None, Query(max_length=4)] = None,
    arrets: Annotated[str | None, Query(max_length=4)] = None,
    boucle: Annotated[str | None, Query(max_length=2)] = None,
    minutes: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """Sample size and quotas (a printable sheet), and the visit route with its files."""
    visitor, hood = _visible_hood(request, session, hood_id)
    lang = _kit.lang_of(request)
    margin_pct = _margin_of(marge)
    tables, problem = _quota_problem(request, hood)
    found = None
    if problem is None:
        found = neighbourhood_quotas(tables, hood.iris_codes, margin_pct=margin_pct, lang=lang)
        if found is None:
            problem = _no_table_for(hood)
    form = _visit_form(arrets, boucle, minutes, lang)
    state, visit_problem = _visit_state(request, hood, form)
    context = {
        "hood": hood,
        "quotas": found,
        "problem": problem.render(lang) if problem is not None else None,
        "margins": MARGINS,
        "margin_pct": margin_pct,
        "variables": {k: v.render(lang) for k, v in _VARIABLES.items()},
        "form": form,
        "visit": _visit_view(state, lang),
        "visit_problem": visit_problem,
        "base": _base(hood.id),
    }
    if request.headers.get("hx-request") and request.query_params.get("fragment") == "visite":
        return render(request, "survey_visit.html", context, visitor=visitor)
    return render(request, "survey_prepare.html", context, visitor=visitor)


def _visit_view(state: VisitState | None, lang: str) -> dict[str, Any] | None:
    if state is None:
        return None
    error = None
    if state.error is not None:
        error = state.error[1] if lang == "en" else state.error[0]
    return {"status": state.status, "summary": state.summary, "error": error}


_FILES = {
    "gpx": ("application/gpx+xml", "visite.gpx"),
    "geojson": ("application/geo+json", "visite.geojson"),
    "html": ("text/html; charset=utf-8", "carnet-de-route.html"),
}


@router.get("/espace/quartiers/{hood_id}/enquete/visite.{kind}")
def visit_file(
    request: Request,
    session: SessionDep,
    hood_id: str,
    kind: str,
    arrets: Annotated[str | None, Query(max_length=4)] = None,
    boucle: Annotated[str | None, Query(max_length=2)] = None,
    minutes: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """A file of a planned visit (GPX, GeoJSON or the roadbook), as a download."""
    visitor, hood = _visible_hood(request, session, hood_id)
    if kind not in _FILES:
        raise _kit.not_found(request, visitor)
    form = _visit_form(arrets or "6", boucle, minutes, _kit.lang_of(request))
    state, _problem = _visit_state(request, hood, form) if form.error is None else (None, None)
    if state is None or state.status != "done":
        return redirect(f"{_base(hood.id)}/preparer?{form.query()}#visite")
    media, name = _FILES[kind]
    return Response(
        state.files[kind],
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


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


def _progress(
    frame: pd.DataFrame, found: Quotas | None, *, exact: bool, lang: str
) -> dict[str, Any]:
    """Answers per category (against the quotas) and per IRIS (against its share)."""
    tables: dict[str, list[ProgressRow]] = {}
    for variable in _VARIABLES:
        counts = (
            frame[variable].dropna().astype(str).value_counts()
            if variable in frame.columns
            else pd.Series(dtype=int)
        )
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
        extra = [c for c in counts.index if c not in order]
        rows = []
        for category in [*order, *extra]:
            count = int(counts.get(category, 0))
            rows.append(
                _progress_row(
                    category_label(variable, category, lang),
                    targets.get(category),
                    count,
                    exact,
                    lang,
                )
            )
        unknown = int(len(frame) - counts.sum())
        if unknown:
            rows.append(
                _progress_row(msg("non renseigné").render(lang), None, unknown, exact, lang)
            )
        tables[variable] = rows
    iris_counts = (
        frame["iris_code"].dropna().astype(str).value_counts()
        if "iris_code" in frame.columns
        else pd.Series(dtype=int)
    )
    iris_rows = []
    targets_iris = {i.code: i.n for i in found.per_iris} if found else {}
    for code in [*targets_iris, *[c for c in iris_counts.index if c not in targets_iris]]:
        iris_rows.append(
            _progress_row(code, targets_iris.get(code), int(iris_counts.get(code, 0)), exact, lang)
        )
    no_iris = int(len(frame) - iris_counts.sum())
    if no_iris:
        iris_rows.append(
            _progress_row(msg("IRIS inconnu").render(lang), None, no_iris, exact, lang)
        )
    total = len(frame)
    return {
        "variables": tables,
        "iris": iris_rows,
        "total": _shown(total, exact, lang),
        "target": found.n if found else None,
        "missing": _missing(found.n if found else None, total, exact, lang),
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
        tables, problem = _quota_problem(request, hood)
        found = (
            neighbourhood_quotas(tables, hood.iris_codes, margin_pct=5, lang=lang)
            if problem is None
            else None
        )
        frame = respondents_frame(session, diag.id)
        progress = _progress(frame, found, exact=can_write, lang=lang)
        if found is None:
            extra.setdefault(
                "quota_problem",
                (problem or _no_table_for(hood)).render(lang),
            )
    context: dict[str, Any] = {
        "hood": hood,
        "diags": diags,
        "diag": diag,
        "can_write": can_write,
        "uploads": uploads,
        "published": published,
        "progress": progress,
        "variables": {k: v.render(lang) for k, v in _VARIABLES.items()},
        "base": _base(hood.id),
        "error": None,
        "notice": None,
        "quota_problem": None,
        "max_mb": round(request.app.state.settings.max_upload_bytes / 1_000_000, 1),
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
    visitor, hood = _visible_hood(request, session, hood_id)
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
    visitor, hood = await run_in_threadpool(_visible_hood, request, session, hood_id)
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
    return redirect(f"{_base(hood.id)}/collecte?annee={year}&fait=ouvert")


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


def _report_job(data: bytes) -> list[tuple[int, str, str, str, str]]:
    """The partial and rejected rows of an SU file's validation report (in a worker)."""
    from qet_geo.surveys.su import read_su

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_su(io.BytesIO(data))
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


async def _report(request: Request, data: bytes) -> list[tuple[int, str, str, str, str]]:
    settings: Settings = request.app.state.settings
    if settings.survey_workers == 0:
        return await run_in_threadpool(_report_job, data)
    limits = WorkerLimits(
        timeout_s=settings.survey_timeout_s,
        memory_bytes=settings.survey_memory_bytes,
        slots=settings.survey_workers,
    )
    result: list[tuple[int, str, str, str, str]] = await run_in_worker(
        _report_job, data, limits=limits
    )
    return result


async def _receive(
    request: Request, session: Session, hood_id: str, replaces: str | None
) -> Response:
    form = await request.form(max_files=1, max_fields=5)
    visitor, hood = await run_in_threadpool(_visible_hood, request, session, hood_id)
    check_csrf(request, visitor, _text(form.get("csrf")))
    _writer_only(request, visitor, hood)
    lang = _kit.lang_of(request)
    annee = _text(form.get("annee")) or None
    diags = await run_in_threadpool(_diagnostics, session, hood)
    diag = _chosen(diags, annee)
    if diag is None:
        raise _kit.not_found(request, visitor)
    replaced: int | None = None
    if replaces is not None:
        if not replaces.isdigit() or len(replaces) > 12:
            raise _kit.not_found(request, visitor)
        replaced = int(replaces)
    data = await _file_of(request, form)
    result: IngestResult | None = None
    error: Msg | str | None = None
    status = 400
    if not isinstance(data, bytes):
        error, status = data
    diag_id, year = diag.id, diag.year
    await run_in_threadpool(session.rollback)  # the worker writes: no transaction held here
    if isinstance(data, bytes):
        try:
            result = await store_upload(
                request, diag_id, data, key_scope=key_scope(visitor.caller), replaces=replaced
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
        context = await run_in_threadpool(
            _collect_context, request, session, visitor, hood, str(year), error=text
        )
        return render(request, "survey_collect.html", context, visitor=visitor, status=status)
    rows: list[tuple[int, str, str, str, str]] = []
    if result.created and isinstance(data, bytes):
        try:
            rows = await _report(request, data)
        except Exception:  # the file is stored and its counts shown: the report is a bonus
            logger.exception("validation report failed")
    report = [
        {
            "row": row,
            "id": rid,
            "status": _STATUS_LABELS[st].render(lang) if st in _STATUS_LABELS else st,
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
    )
    return render(request, "survey_collect.html", context, visitor=visitor, status=200)


@router.post("/espace/quartiers/{hood_id}/enquete/collecte", response_class=HTMLResponse)
async def upload_file(request: Request, session: SessionDep, hood_id: str) -> Response:
    """Store an SU file in the campaign, then show its validation report."""
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
    visitor, hood = await run_in_threadpool(_visible_hood, request, session, hood_id)
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
    return redirect(f"{_base(hood.id)}/collecte?annee={year}&fait=supprime")
