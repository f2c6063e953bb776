"""Step 2 of the journey: preparing the survey (quotas, visit); step 3 is in :mod:`api.web.collect`.

Preparing (``/espace/quartiers/{id}/enquete/preparer``)
    The sample size and the quotas by age band, sex and socio-professional category of the
    neighbourhood's IRIS, from the census tables by IRIS of the shared data folder
    (``QET_SHARED_DATA``, its ``census/`` CSV files): :func:`qet_geo.surveys.representativeness.
    survey_quotas`, for all the IRIS together and for each one (its share of the sample split by
    population, :func:`~qet_geo.surveys.representativeness.quotas`). The page prints as the
    field team's quota sheet. The walking visit (:func:`api.routers.routes.plan_stored_visit`:
    :func:`qet_geo.visit.plan.plan_visit`, :func:`qet_geo.visit.export.write_route`) is planned
    in a worker process under the limits of the extracts' (``osm_timeout_s``,
    ``osm_memory_bytes``), from a thread: the page polls its state (htmx, or a plain link) and
    offers the GPX, GeoJSON and roadbook files once done. Its stops are picked automatically
    (a number of them), or chosen on the neighbourhood's map (``/static/web/visit.js``: the
    outline and the extract's streets from ``.../enquete/carte.json``, no tiles; a click adds a
    numbered stop) into a field of "latitude, longitude" lines that is the whole form without
    JavaScript (``POST .../enquete/visite``, checked by :func:`qet_geo.visit.plan.chosen_stops`,
    then the page's visit of these ``points``).

Census quotas are cached in the process per (the census tables' path, modification time and
size, the neighbourhood's IRIS codes, the margin): the tables are static files, read again (by
:func:`qet_geo.surveys.representativeness.read_census`, their one reader, which the releases'
census comparison shares) only when one changes or other IRIS are asked. Collecting
(``/espace/quartiers/{id}/enquete/collecte``) is :mod:`api.web.collect`, which shares them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api._workers import (
    WorkerLimits,
    refused_past_limits,
    run_in_worker,
)
from api.dependencies import SessionDep
from api.settings import Settings
from api.web import _kit
from api.web._kit import Visitor, hood_for_page, redirect, render, signed_in
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Lang, Msg, msg
from qet_geo.store.models import (
    Neighbourhood,
    extract_path,
    territory_geometry,
)
from qet_geo.surveys.representativeness import census_tables, read_census
from qet_geo.surveys.schema import CSP_LABELS
from qet_geo.visit.plan import MAX_CHOSEN_STOPS

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: Smallest count shown to whoever may not write to the neighbourhood (statistical secrecy).
MIN_COUNT = 11
#: Rows of a validation report shown (the partial and rejected ones).
MAX_REPORT_ROWS = 500
#: Margins of error offered on the preparation page (points of a proportion).
MARGINS = (3, 4, 5, 7, 10)

VARIABLES: dict[str, Msg] = {
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
STATUS_LABELS: dict[str, Msg] = {
    "accepted": msg("acceptée"),
    "partial": msg("partielle"),
    "rejected": msg("refusée"),
}


def hood_base(hood_id: int) -> str:
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


def _identity(tables: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """What the quotas depend on in the files: each table's path, modification time and size."""
    out = []
    for table in tables:
        try:
            stat = table.stat()
        except OSError:
            continue
        out.append((str(table), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


#: Quotas by (the census files' identity, the IRIS codes, the margin): the tables are static
#: files, read again only when one of them changes (or another neighbourhood's IRIS are asked).
_quota_cache: dict[tuple[Any, ...], Quotas | None] = {}
_quota_lock = threading.Lock()
_MAX_QUOTAS = 256


def neighbourhood_quotas(
    tables: Sequence[Path], codes: Sequence[str], *, margin_pct: int, lang: str
) -> Quotas | None:
    """The quotas of the IRIS ``codes`` from the first table that has them all, else None.

    All the IRIS together: :func:`~qet_geo.surveys.representativeness.survey_quotas` at 95 %
    confidence and ``margin_pct`` points. Each IRIS: its share of that sample split by its
    population (largest remainders), then its own quotas for that number. Cached in the process
    by the tables' identity (path, modification time, size), the codes and the margin.
    """
    wanted = tuple(sorted({str(c).strip().zfill(9) for c in codes}))
    key = (_identity(tables), wanted, margin_pct)
    with _quota_lock:
        if key in _quota_cache:
            found = _quota_cache[key]
            return None if found is None else _relabelled(found, lang)
    result = None
    for table in tables:
        result = _table_quotas(table, wanted, margin_pct, lang)
        if result is not None:
            break
    with _quota_lock:
        if len(_quota_cache) >= _MAX_QUOTAS:
            _quota_cache.clear()
        _quota_cache[key] = result
    return result


def _table_quotas(
    table: Path, wanted: tuple[str, ...], margin_pct: int, lang: str
) -> Quotas | None:
    """The quotas of the IRIS ``wanted`` from one census table, else None (it lacks them)."""
    from qet_geo.surveys.representativeness import quotas, survey_quotas

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = read_census(table)
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
            split = quotas(per_pop, n) if per_pop.sum() > 0 else pd.Series(0, index=per_pop.index)
            per_iris = []
            for code in wanted:
                size = int(split[code])
                rows = _rows(survey_quotas(frame, codes=[code], n=size), lang) if size else []
                per_iris.append(IrisQuotas(code, float(per_pop[code]), size, rows))
        return Quotas(n, population, margin_pct, _rows(whole, lang), per_iris)
    except (QetGeoError, ValueError, KeyError, OSError):
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


def quota_problem(request: Request, hood: Neighbourhood) -> tuple[list[Path], Msg | None]:
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


def no_table_for(hood: Neighbourhood) -> Msg:
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
    chosen: tuple[tuple[float, float], ...] | None = None,
) -> dict[str, Any]:
    """Plan the visit and write its files (in a worker), as ``GET /neighbourhoods/{id}/route.gpx``;
    through the ``chosen`` (longitude, latitude) stops when given."""
    from api.routers.routes import plan_stored_visit

    visit, files = plan_stored_visit(
        osm,
        name,
        territory_wkt,
        stops=stops,
        loop=loop,
        lang=lang,
        max_minutes=max_minutes,
        chosen=chosen,
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
    """The visit asked for: ``stops`` picked automatically, or the ``points`` chosen on the map
    ((latitude, longitude) as typed); ``error`` is the automatic form's, ``chosen_error`` the
    chosen stops' form's."""

    stops: int = 6
    loop: bool = True
    max_minutes: int | None = None
    error: str | None = None
    asked: bool = False
    points: tuple[tuple[float, float], ...] | None = None
    points_text: str = ""
    chosen_error: str | None = None

    def query(self) -> str:
        minutes = "" if self.max_minutes is None else str(self.max_minutes)
        tail = f"boucle={'1' if self.loop else '0'}&minutes={minutes}"
        if self.points is not None:
            return urlencode({"points": points_param(self.points)}) + "&" + tail
        return f"arrets={self.stops}&{tail}"


#: Most characters of the chosen stops' field (12 lines of "latitude, longitude" and slack).
MAX_POINTS_CHARS = 2000
_POSITION = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")


def points_param(points: Sequence[tuple[float, float]]) -> str:
    """The chosen stops in a URL: "lat,lon;lat,lon", six decimals (about 10 cm)."""
    return ";".join(f"{lat:.6f},{lon:.6f}" for lat, lon in points)


def parse_points(text: str) -> tuple[tuple[float, float], ...]:
    """The (latitude, longitude) of each non-empty line (or ";"-separated part) of ``text``.

    Raises
    ------
    ValueError
        With the French message (a :class:`~qet_geo.i18n.Msg`) of the first bad line.
    """
    if len(text) > MAX_POINTS_CHARS:
        raise ValueError(
            msg(
                "Trop de texte pour des arrêts : une position « latitude, longitude » par ligne, "
                "{most} arrêts au plus.",
                most=MAX_CHOSEN_STOPS,
            )
        )
    points = []
    for number, line in enumerate(re.split(r"[;\n]", text), start=1):
        if not line.strip():
            continue
        found = _POSITION.match(line)
        if found is None:
            shown = line.strip()
            raise ValueError(
                msg(
                    "Ligne {number} : « {line} » n'est pas une position « latitude, longitude » "
                    "en degrés décimaux (par exemple 47.7490, -3.3600).",
                    number=number,
                    line=shown if len(shown) <= 40 else shown[:39] + "…",
                )
            )
        lat, lon = float(found.group(1)), float(found.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(
                msg(
                    "Ligne {number} : la latitude va de -90 à 90 et la longitude de -180 à 180 ; "
                    "la latitude vient en premier.",
                    number=number,
                )
            )
        points.append((lat, lon))
    return tuple(points)


def _chosen_form(
    hood: Neighbourhood, text: str, boucle: str | None, minutes: str | None, lang: str
) -> VisitForm:
    """The visit through the stops of ``text``, checked as the planner will (count, inside the
    neighbourhood: :func:`qet_geo.visit.plan.chosen_stops`), or the form with its message."""
    from qet_geo.visit.plan import chosen_stops

    loop = boucle == "1"
    budget = _budget(minutes)
    shown = text if len(text) <= MAX_POINTS_CHARS else ""
    if isinstance(budget, Msg):
        return VisitForm(loop=loop, points_text=shown, chosen_error=budget.render(lang))
    try:
        points = parse_points(text)
    except ValueError as exc:
        problem = exc.args[0]
        return VisitForm(
            loop=loop, max_minutes=budget, points_text=shown, chosen_error=problem.render(lang)
        )
    try:
        chosen_stops(
            [(lon, lat) for lat, lon in points],
            territory=territory_geometry(hood),
            lang="en" if lang == "en" else "fr",
        )
    except QetGeoError as exc:
        return VisitForm(
            loop=loop, max_minutes=budget, points_text=shown, chosen_error=exc.localized(lang)
        )
    return VisitForm(
        loop=loop,
        max_minutes=budget,
        asked=True,
        points=points,
        points_text="\n".join(f"{lat:.6f}, {lon:.6f}" for lat, lon in points),
    )


def _budget(minutes: str | None) -> int | Msg | None:
    """The time budget of the form's field (None when empty), or its message."""
    if not minutes or not minutes.strip():
        return None
    try:
        budget = int(minutes)
        if not 10 <= budget <= 600:
            raise ValueError
    except ValueError:
        return msg("La durée maximale est un nombre de minutes de 10 à 600, ou rien.")
    return budget


def _visit_form(
    arrets: str | None, boucle: str | None, minutes: str | None, lang: str
) -> VisitForm:
    if arrets is None:
        return VisitForm()
    loop = boucle == "1"
    try:
        stops = int(arrets)
        if not 2 <= stops <= MAX_CHOSEN_STOPS:
            raise ValueError
    except ValueError:
        text = msg("Le nombre d'arrêts est un nombre entier de 2 à 12.")
        return VisitForm(loop=loop, error=text.render(lang))
    budget = _budget(minutes)
    if isinstance(budget, Msg):
        return VisitForm(stops=stops, loop=loop, error=budget.render(lang))
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
        form.points,
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
        None if form.points is None else tuple((lon, lat) for lat, lon in form.points),
    )
    return state, None


# --------------------------------------------------------------------------------------------------
# the preparation page


def visible_hood(request: Request, session: Session, hood_id: str) -> tuple[Visitor, Neighbourhood]:
    visitor = signed_in(request, session)
    return visitor, hood_for_page(request, session, visitor, hood_id)


def _margin_of(marge: str | None) -> int:
    try:
        value = int(marge or 5)
    except ValueError:
        return 5
    return value if value in MARGINS else 5


def _asked_form(
    hood: Neighbourhood,
    arrets: str | None,
    points: str | None,
    boucle: str | None,
    minutes: str | None,
    lang: str,
) -> VisitForm:
    """The visit of a page's or a file's URL: through its ``points``, else of ``arrets`` stops."""
    if points is not None:
        return _chosen_form(hood, points, boucle, minutes, lang)
    return _visit_form(arrets, boucle, minutes, lang)


def _prepare(
    request: Request,
    visitor: Visitor,
    hood: Neighbourhood,
    margin_pct: int,
    form: VisitForm,
    *,
    status: int = 200,
) -> Response:
    lang = _kit.lang_of(request)
    tables, problem = quota_problem(request, hood)
    found = None
    if problem is None:
        found = neighbourhood_quotas(tables, hood.iris_codes, margin_pct=margin_pct, lang=lang)
        if found is None:
            problem = no_table_for(hood)
    state, visit_problem = _visit_state(request, hood, form)
    context = {
        "hood": hood,
        "quotas": found,
        "problem": problem.render(lang) if problem is not None else None,
        "margins": MARGINS,
        "margin_pct": margin_pct,
        "variables": {k: v.render(lang) for k, v in VARIABLES.items()},
        "form": form,
        "max_stops": MAX_CHOSEN_STOPS,
        "visit": _visit_view(state, lang),
        "visit_problem": visit_problem,
        "base": hood_base(hood.id),
    }
    if request.headers.get("hx-request") and request.query_params.get("fragment") == "visite":
        return render(request, "survey_visit.html", context, visitor=visitor, status=status)
    return render(request, "survey_prepare.html", context, visitor=visitor, status=status)


@router.get("/espace/quartiers/{hood_id}/enquete/preparer", response_class=HTMLResponse)
def prepare_page(
    request: Request,
    session: SessionDep,
    hood_id: str,
    marge: Annotated[str | None, Query(max_length=4)] = None,
    arrets: Annotated[str | None, Query(max_length=4)] = None,
    points: Annotated[str | None, Query(max_length=MAX_POINTS_CHARS)] = None,
    boucle: Annotated[str | None, Query(max_length=2)] = None,
    minutes: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """Sample size and quotas (a printable sheet), and the visit route with its files."""
    visitor, hood = visible_hood(request, session, hood_id)
    lang = _kit.lang_of(request)
    form = _asked_form(hood, arrets, points, boucle, minutes, lang)
    return _prepare(request, visitor, hood, _margin_of(marge), form)


@router.post("/espace/quartiers/{hood_id}/enquete/visite", response_class=HTMLResponse)
def plan_chosen(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: _kit.FormStr = "",
    points: _kit.FormStr = "",
    boucle: _kit.FormStr = "",
    minutes: _kit.FormStr = "",
    marge: _kit.FormStr = "",
) -> Response:
    """The visit through the stops picked on the map (or typed, one "latitude, longitude" a
    line): checked, then planned as the page's (GET) visit of these ``points``."""
    visitor, hood = visible_hood(request, session, hood_id)
    _kit.check_csrf(request, visitor, csrf)
    margin_pct = _margin_of(marge)
    form = _chosen_form(hood, points, boucle, minutes, _kit.lang_of(request))
    if form.chosen_error is not None:
        return _prepare(request, visitor, hood, margin_pct, form, status=400)
    return redirect(f"{hood_base(hood.id)}/preparer?marge={margin_pct}&{form.query()}#visite")


@router.get("/espace/quartiers/{hood_id}/enquete/carte.json")
async def visit_map_data(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The streets of the neighbourhood's extract and its outline (WGS84 GeoJSON), for the map
    where the stops are picked: the outline page's body (:func:`api.web.setup.
    streets_and_outline`), for every visitor who sees the neighbourhood.
    """
    from fastapi.concurrency import run_in_threadpool

    from api.web.setup import streets_and_outline

    _visitor, hood = await run_in_threadpool(visible_hood, request, session, hood_id)
    await run_in_threadpool(session.close)  # no store connection held while a worker reads
    return await streets_and_outline(request, hood)


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
    points: Annotated[str | None, Query(max_length=MAX_POINTS_CHARS)] = None,
    boucle: Annotated[str | None, Query(max_length=2)] = None,
    minutes: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """A file of a planned visit (GPX, GeoJSON or the roadbook), as a download."""
    visitor, hood = visible_hood(request, session, hood_id)
    if kind not in _FILES:
        raise _kit.not_found(request, visitor)
    form = _asked_form(hood, arrets or "6", points, boucle, minutes, _kit.lang_of(request))
    asked = form.error is None and form.chosen_error is None
    state, _problem = _visit_state(request, hood, form) if asked else (None, None)
    if state is None or state.status != "done":
        return redirect(f"{hood_base(hood.id)}/preparer?{form.query()}#visite")
    media, name = _FILES[kind]
    return Response(
        state.files[kind],
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
