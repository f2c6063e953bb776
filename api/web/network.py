"""The network's public pages, ``/reseau/...`` (issue 17): no account, only what is published.

- ``/reseau``: what the network is, and its pages.
- ``/reseau/quartiers``: the national comparison as a page. A map of France (régions and
  départements of the shared data folder, ``census/communes/*-version-simplifiee.geojson``,
  drawn here as SVG by :func:`qet_geo.analysis.france_map.france_outlines`; without those files
  the page says so and shows the table only) with each published neighbourhood at its outline's
  centroid, linked to its portal (the outlines are ``/reseau/carte-france.svg``, a document the
  browser keeps, drawn under the points); and a table sorted by query-string links (``?tri=total&
  ordre=desc``): footprint per usage per person, the mix of the reference usage profiles, the
  population-weighted built constraints, the typology and the current phase
  (:func:`qet_geo.store.portal.phases_of`). A neighbourhood without a release shows its name
  and phase only; a release left out of the comparison (synthetic answers among real ones, the
  old NEAR scale) is listed, not compared, as ``GET /national`` lists it.
- ``/reseau/quartiers.csv``: the table as a CSV file.

The figures are those of ``GET /national`` for the public (:func:`api.routers.national.
national_rows`, the same function and the same cache): published neighbourhoods only, from their
latest releases, every figure protected when its release was made (no figure of 1 to 10
respondents). Synthetic figures are labelled on each row and in a notice.

The page is cached per server process: its data is rebuilt only when a cheap fingerprint of the
store changes (one query: the neighbourhoods' names, addresses and publication, the largest and
the number of releases, campaigns and phase records, the phases' last update; plus the national
comparison's digest, read at most once a second as ``GET /national`` reads it, and the outline
files' modification times), or once a minute (a territory redrawn changes no fingerprint). Each
sorted page in each language is rendered once per state. Every request waits for a fingerprint
query that started after it arrived, so it sees every write committed before it; requests that
arrive together share one (:class:`_Rounds`), so that under load the store is read once per
round and a request awaits no thread (bench/network.py: p95 at 50 clients).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hashlib
import io
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.dependencies import PUBLIC
from api.models import NationalRow
from api.routers.aggregates import shared_lookup
from api.routers.maps import FRANCE_FILES, france_background
from api.routers.national import national_rows
from api.web._kit import lang_of, not_found, render
from qet_geo.analysis.france_map import FranceOutlines, france_outlines
from qet_geo.constraints.indicators import INDICATORS
from qet_geo.i18n import Msg, msg, number
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.store.models import Diagnostic, Neighbourhood, Phase, Release, territory_geometry
from qet_geo.store.portal import PHASE_LABELS, PHASES, phases_of
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: The page's data is rebuilt at least this often (a territory redrawn is in no fingerprint).
MAX_AGE_S = 60.0
#: The sorted pages kept per state of the store (languages × columns × orders).
_MAX_PAGES = 400


# --------------------------------------------------------------------------------------------------
# the page's data, independent of the reader's language


@dataclass(frozen=True)
class Entry:
    """One published neighbourhood: its national row (None: no release), phase and map point."""

    id: int
    name: str
    slug: str | None
    row: NationalRow | None
    phase: int | None  # index in PHASES of the phase under way (or the last done)
    phase_done: bool  # that phase is done (no phase under way)
    point: tuple[float, float] | None


@dataclass(frozen=True)
class Data:
    """Everything the page shows, for one state of the store."""

    entries: list[Entry]
    usages: list[str]  # footprint keys shown ("total" last)
    profiles: list[str]  # keys of the reference profiles' mix
    constraints: list[str]  # constraint indicator names
    france: FranceOutlines | None
    france_version: str  # of the outline files, in the address of the map's background
    lacking: list[str]  # outline files missing or unreadable
    unplaced: list[str]  # names of neighbourhoods not on the map
    synthetic: bool  # some figure shown comes from synthetic answers
    demonstration: bool  # every compared neighbourhood is synthetic


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    key: Any = None
    data: Data | None = None
    pages: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    rounds: weakref.WeakKeyDictionary[Any, _Rounds] = field(
        default_factory=weakref.WeakKeyDictionary
    )


def _cache(request: Request) -> _Cache:
    cache: _Cache | None = getattr(request.app.state, "network_pages", None)
    if cache is None:
        cache = _Cache()
        request.app.state.network_pages = cache
    return cache


#: What the page depends on in the store, in one cheap query (built once: SQLAlchemy then only
#: looks its compiled form up).
_FINGERPRINT = select(
    Neighbourhood.id,
    Neighbourhood.name,
    Neighbourhood.slug,
    Neighbourhood.published,
    select(func.max(Release.id)).scalar_subquery(),
    select(func.count(Release.id)).scalar_subquery(),
    select(func.max(Diagnostic.id)).scalar_subquery(),
    select(func.count(Diagnostic.id)).scalar_subquery(),
    select(func.max(Phase.updated_at)).scalar_subquery(),
    select(func.count(Phase.id)).scalar_subquery(),
).order_by(Neighbourhood.id)


def _fingerprint(engine: Engine) -> tuple[Any, ...]:
    """The store's state the page depends on (:data:`_FINGERPRINT`), as a key."""
    with engine.connect() as connection:
        return tuple(tuple(row) for row in connection.execute(_FINGERPRINT))


def _outline_files(folder: Path | None) -> tuple[Any, ...]:
    """The outline files' modification times (None when missing): part of the page's key."""
    out: list[Any] = [None if folder is None else str(folder)]
    for name in FRANCE_FILES:
        try:
            out.append(None if folder is None else (Path(folder) / name).stat().st_mtime_ns)
        except OSError:
            out.append(None)
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _france(files: tuple[Any, ...]) -> tuple[FranceOutlines | None, tuple[str, ...]]:
    """France's outlines drawn once per version of the files (``files``: :func:`_outline_files`)."""
    folder = None if files[0] is None else Path(files[0])
    found, lacking = france_background(folder)
    if lacking:
        return None, tuple(lacking)
    try:
        return france_outlines(found[0], found[1]), ()
    except Exception:  # an outline file of another kind: the page says it is unreadable
        return None, tuple(Path(name).name for name in FRANCE_FILES)


def _version(files: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(files).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _france_document(files: tuple[Any, ...]) -> bytes | None:
    """The map's background, France's outlines, as an SVG document (None without the files)."""
    france, _ = _france(files)
    if france is None:
        return None
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {france.width} {france.height}" '
        f'width="{france.width}" height="{france.height}">'
        f'<path d="{france.departements}" fill="#f2f2f2" stroke="#9a9a9a" stroke-width="0.6" '
        'stroke-linejoin="round"/>'
        f'<path d="{france.regions}" fill="none" stroke="#4a4a4a" stroke-width="1.4" '
        'stroke-linejoin="round"/></svg>'
    ).encode()


def _current_phase(session: Session, hood_id: int) -> tuple[int | None, bool]:
    """The phase under way (the first), else the last one done; None before any."""
    phases = phases_of(session, hood_id)
    for i, phase in enumerate(phases):
        if phase.state == "current":
            return i, False
    done = [i for i, phase in enumerate(phases) if phase.state == "done"]
    return (done[-1], True) if done else (None, False)


def _build(request: Request, published: list[tuple[int, str, str | None]]) -> Data:
    """The page's data: the public national rows, the phases, the map."""
    rows = {r.neighbourhood_id: r for r in national_rows(request, PUBLIC)}
    files = _outline_files(getattr(request.app.state, "shared_data", None))
    france, lacking = _france(files)
    entries, unplaced = [], []
    engine: Engine = request.app.state.engine
    with sessionmaker(engine)() as session:
        for hood_id, name, slug in published:
            row = rows.get(hood_id)
            if row is not None and row.n_respondents < MIN_RESPONDENTS:
                row = None  # no release: its name and phase only
            phase, done = _current_phase(session, hood_id)
            point = None
            hood = session.get(Neighbourhood, hood_id)
            geom = territory_geometry(hood) if hood is not None else None
            if france is not None and geom is not None and not geom.is_empty:
                centre = geom.centroid
                point = france.place(float(centre.x), float(centre.y))
            if france is not None and point is None:
                unplaced.append(name)
            entries.append(Entry(hood_id, name, slug, row, phase, done, point))
    shown = [e.row for e in entries if e.row is not None]
    compared = [r for r in shown if r.compared]
    usages = [u for u in (*USAGES, "total") if any(u in r.mean_kgco2e for r in compared)]
    profiles = sorted({k for r in compared for k in r.profile_mix}, key=_profile_order)
    constraints = sorted({k for r in compared for k in r.constraints})
    return Data(
        entries=entries,
        usages=usages,
        profiles=profiles,
        constraints=constraints,
        france=france,
        france_version=_version(files),
        lacking=list(lacking),
        unplaced=unplaced,
        synthetic=any(r.synthetic for r in shown),
        demonstration=bool(compared) and all(r.synthetic for r in compared),
    )


def _profile_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (10**6, key)


def page_data(request: Request) -> tuple[Any, Data]:
    """The page's data and its key, rebuilt only when the store's fingerprint changed."""
    engine: Engine = request.app.state.engine
    national = request.app.state.aggregates.national
    digest = (national.fresh() or national.load(engine))[0]
    return _data_for(request, _fingerprint(engine), digest)


def _data_for(request: Request, fingerprint: tuple[Any, ...], digest: str) -> tuple[Any, Data]:
    """The page's data for this state of the store: the cached one, or built (in a thread)."""
    cache = _cache(request)
    files = _outline_files(getattr(request.app.state, "shared_data", None))
    key = (fingerprint, digest, files, int(time.monotonic() // MAX_AGE_S))
    with cache.lock:
        if cache.key == key and cache.data is not None:
            return key, cache.data
    published = [(int(row[0]), str(row[1]), row[2]) for row in fingerprint if row[3]]
    data = _build(request, published)
    with cache.lock:
        if cache.key != key:
            cache.pages = {}
        cache.key, cache.data = key, data
    return key, data


class _Rounds:
    """The fingerprint query, shared by the requests of one event loop that await it at once.

    A request never takes the result of a query that started before it arrived (so that it sees
    every write committed before it): it waits for the next round, which starts as soon as the
    running one ends and serves every request that arrived meanwhile. Under load the store is
    read once per round rather than once per request, and the requests await no thread.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._next: asyncio.Future[tuple[Any, ...]] | None = None
        self._running = False
        self._task: asyncio.Future[None] | None = None

    async def fingerprint(self) -> tuple[Any, ...]:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        mine = self._next
        if not self._running:
            self._running = True
            self._task = asyncio.ensure_future(self._run())
        return await asyncio.shield(mine)

    async def _run(self) -> None:
        try:
            while self._next is not None:
                due, self._next = self._next, None
                try:
                    due.set_result(await run_in_threadpool(_fingerprint, self._engine))
                except Exception as exc:  # each waiting request answers with it
                    due.set_exception(exc)
        finally:
            self._running = False


def _rounds(request: Request) -> _Rounds:
    """The fingerprint rounds of the running event loop (a test client may open several)."""
    cache = _cache(request)
    loop = asyncio.get_running_loop()
    with cache.lock:
        rounds = cache.rounds.get(loop)
        if rounds is None:
            rounds = cache.rounds[loop] = _Rounds(request.app.state.engine)
    return rounds


# --------------------------------------------------------------------------------------------------
# the table, in the reader's language


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str
    value: Callable[[Entry], Any]  # the sort value (None: no figure, always last)


def _columns(data: Data, lang: str) -> list[Column]:
    def footprint(usage: str) -> Callable[[Entry], Any]:
        return lambda e: _figure(e, lambda r: r.mean_kgco2e.get(usage))

    def share(key: str) -> Callable[[Entry], Any]:
        return lambda e: _figure(e, lambda r: r.profile_mix.get(key))

    def constraint(name: str) -> Callable[[Entry], Any]:
        return lambda e: _figure(e, lambda r: r.constraints.get(name))

    cols = [
        Column("nom", msg("Quartier").render(lang), "", lambda e: _plain(e.name)),
        Column("phase", msg("Phase en cours").render(lang), "", _phase_order),
        Column(
            "repondants",
            msg("Répondants").render(lang),
            "",
            lambda e: None if e.row is None else e.row.n_respondents,
        ),
    ]
    for usage in data.usages:
        label = (
            msg("Empreinte totale").render(lang)
            if usage == "total"
            else USAGE_LABELS[usage].render(lang)
        )
        cols.append(Column(usage, label, "", footprint(usage)))
    for key in data.profiles:
        label = msg("Profil {n}", n=int(key) + 1).render(lang) if key.isdigit() else key
        cols.append(Column(f"profil_{key}", label, "", share(key)))
    for name in data.constraints:
        indicator = INDICATORS.get(name)
        label = indicator.label.render(lang) if indicator is not None else name
        cols.append(Column(name, label, "", constraint(name)))
    cols.append(
        Column(
            "type",
            msg("Type de quartier").render(lang),
            "",
            lambda e: _figure(e, lambda r: r.type + 1 if r.type >= 0 else None),
        )
    )
    return cols


def _figure(entry: Entry, get: Callable[[NationalRow], Any]) -> Any:
    if entry.row is None or not entry.row.compared:
        return None
    return get(entry.row)


def _plain(text: str) -> str:
    """``text`` without accents nor case, to sort names as a reader expects."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _phase_order(entry: Entry) -> Any:
    return None if entry.phase is None else entry.phase * 2 + int(entry.phase_done)


def _sorted(entries: list[Entry], column: Column, descending: bool) -> list[Entry]:
    known = [e for e in entries if column.value(e) is not None]
    unknown = [e for e in entries if column.value(e) is None]
    known.sort(key=lambda e: (column.value(e), _plain(e.name), e.id), reverse=descending)
    unknown.sort(key=lambda e: (_plain(e.name), e.id))
    return known + unknown


def _phase_label(entry: Entry, lang: str) -> str:
    if entry.phase is None:
        return msg("Pas encore commencée").render(lang)
    label = PHASE_LABELS[PHASES[entry.phase]].render(lang)
    if entry.phase_done:
        return msg("{phase} (terminée)", phase=label).render(lang)
    return label


def _cells(entry: Entry, columns: list[Column], lang: str) -> list[str]:
    """The figures of a compared row, formatted (the name, phase and respondents apart)."""
    out = []
    for column in columns[3:]:
        value = column.value(entry)
        if value is None:
            out.append("–")
        elif column.key.startswith("profil_"):
            out.append(number(100 * float(value), decimals=0).render(lang) + " %")
        elif column.key == "type":
            out.append(msg("Type {n}", n=int(value)).render(lang))
        elif column.key in USAGES or column.key == "total":
            out.append(number(float(value), decimals=0).render(lang))
        else:
            out.append(number(float(value), decimals=1).render(lang))
    return out


def _why_not_compared(row: NationalRow) -> Msg:
    if row.scale != FOOTPRINT_SCALE:
        return msg(
            "Publié avec l'ancienne échelle d'empreinte (NEAR) : non comparé aux autres "
            "quartiers, en attendant une nouvelle publication."
        )
    return msg(
        "Réponses synthétiques (une démonstration) : non comparé aux quartiers dont les "
        "réponses sont réelles."
    )


def _view(data: Data, lang: str, sort: str, order: str) -> dict[str, Any]:
    columns = _columns(data, lang)
    by_key = {c.key: c for c in columns}
    column = by_key[sort]
    heads = []
    for c in columns:
        first = "desc" if c.key not in ("nom", "phase") and c.key in by_key else "asc"
        next_order = ("desc" if order == "asc" else "asc") if c.key == sort else first
        heads.append(
            {
                "key": c.key,
                "label": c.label,
                "unit": c.unit,
                "href": f"?tri={c.key}&ordre={next_order}#tableau",
                "sort": ("ascending" if order == "asc" else "descending")
                if c.key == sort
                else None,
            }
        )
    rows = []
    for entry in _sorted(data.entries, column, order == "desc"):
        row = entry.row
        rows.append(
            {
                "name": entry.name,
                "href": f"/q/{entry.slug}" if entry.slug else None,
                "phase": _phase_label(entry, lang),
                "released": row is not None,
                "n": row.n_respondents if row is not None else None,
                "synthetic": bool(row is not None and row.synthetic),
                "compared": bool(row is not None and row.compared),
                "why": _why_not_compared(row).render(lang)
                if row is not None and not row.compared
                else "",
                "cells": _cells(entry, columns, lang) if row is not None and row.compared else [],
            }
        )
    points = [
        {
            "x": e.point[0],
            "y": e.point[1],
            "name": e.name,
            "href": f"/q/{e.slug}" if e.slug else None,
            "synthetic": bool(e.row is not None and e.row.synthetic),
        }
        for e in data.entries
        if e.point is not None
    ]
    return {
        "section": "quartiers",
        "heads": heads,
        "rows": rows,
        "span": len(columns) - 3,
        "france": data.france,
        "france_version": data.france_version,
        "points": points,
        "lacking": data.lacking,
        "unplaced": data.unplaced,
        "synthetic": data.synthetic,
        "demonstration": data.demonstration,
        "has_profiles": bool(data.profiles),
        "has_constraints": bool(data.constraints),
        "sort_label": column.label,
        "descending": order == "desc",
    }


def _choice(request: Request, data: Data) -> tuple[str, str]:
    """The sort asked for (column key, "asc"/"desc"), the name by default."""
    sort = request.query_params.get("tri", "nom")
    known = {"nom", "phase", "repondants", "type", *data.usages, *data.constraints}
    known |= {f"profil_{k}" for k in data.profiles}
    if sort not in known:
        sort = "nom"
    order = request.query_params.get("ordre", "asc")
    return sort, order if order in ("asc", "desc") else "asc"


# --------------------------------------------------------------------------------------------------
# the pages


@router.get("/reseau")
def home(request: Request) -> Response:
    """What the network is, and its pages."""
    return render(request, "reseau_home.html", {"section": "accueil"})


@router.get("/reseau/quartiers")
async def neighbourhoods(request: Request) -> Response:
    """The national comparison of the published neighbourhoods: a map of France and a table.

    Each request reads the store's fingerprint (:class:`_Rounds`); the page's data and each
    sorted page are built in a thread once per state, and served from memory meanwhile.
    """
    engine: Engine = request.app.state.engine
    fingerprint = await _rounds(request).fingerprint()
    national = request.app.state.aggregates.national
    found = national.fresh()
    if found is None:
        found = await shared_lookup(request, ("national", 0), national.load, engine)
    cache = _cache(request)
    lang = lang_of(request)
    files = _outline_files(getattr(request.app.state, "shared_data", None))
    key = (fingerprint, found[0], files, int(time.monotonic() // MAX_AGE_S))
    with cache.lock:
        hit = cache.data if cache.key == key else None
    data: Data
    if hit is not None:
        data = hit
    else:
        key, data = await run_in_threadpool(_data_for, request, fingerprint, found[0])
    sort, order = _choice(request, data)
    wanted = (lang, sort, order)
    with cache.lock:
        body = cache.pages.get(wanted) if cache.key == key else None
    if body is None:
        body = await run_in_threadpool(_page, request, key, data, wanted)
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


def _page(request: Request, key: Any, data: Data, wanted: tuple[str, str, str]) -> bytes:
    """Render one sorted page in one language, and keep it while the state lasts."""
    lang, sort, order = wanted
    body = bytes(render(request, "reseau_quartiers.html", _view(data, lang, sort, order)).body)
    cache = _cache(request)
    with cache.lock:
        if cache.key == key and len(cache.pages) < _MAX_PAGES:
            cache.pages[wanted] = body
    return body


@router.get("/reseau/carte-france.svg")
def france_map(request: Request) -> Response:
    """France's régions and départements, the background of the neighbourhoods' map.

    A document of its own, so that a browser keeps it (its address changes with the files):
    the page then carries only the neighbourhoods' points. 404 without the outline files.
    """
    files = _outline_files(getattr(request.app.state, "shared_data", None))
    body = _france_document(files)
    if body is None:
        raise not_found(request, None)
    etag = f'"{_version(files)}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)


#: The CSV's columns before the figures.
CSV_HEAD = ["neighbourhood", "portal", "phase", "n_respondents", "synthetic", "compared", "scale"]


@router.get("/reseau/quartiers.csv")
def neighbourhoods_csv(request: Request) -> Response:
    """The table of ``/reseau/quartiers`` as a CSV file (the figures of ``GET /national``)."""
    _, data = page_data(request)
    lang = lang_of(request)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    feet = [f"{u}_kgco2e" for u in data.usages]
    mix = [f"mix_{k}" for k in data.profiles]
    writer.writerow([*CSV_HEAD, *feet, *mix, *data.constraints, "type", "rank_total_kgco2e"])
    for entry in sorted(data.entries, key=lambda e: (_plain(e.name), e.id)):
        row = entry.row
        head: list[Any] = [
            _cell_text(entry.name),
            f"/q/{entry.slug}" if entry.slug else "",
            _phase_label(entry, lang),
        ]
        if row is None:
            writer.writerow([*head, "", "", "", ""])
            continue
        head += [
            row.n_respondents,
            "yes" if row.synthetic else "no",
            "yes" if row.compared else "no",
            row.scale,
        ]
        if not row.compared:
            writer.writerow(head)
            continue
        figures = [_csv_number(row.mean_kgco2e.get(u)) for u in data.usages]
        figures += [_csv_number(row.profile_mix.get(k)) for k in data.profiles]
        figures += [_csv_number(row.constraints.get(c)) for c in data.constraints]
        figures += [row.type + 1 if row.type >= 0 else "", row.rank_total_kgco2e or ""]
        writer.writerow([*head, *figures])
    return Response(
        out.getvalue().encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="reseau-quartiers.csv"',
            "Cache-Control": "no-store",
        },
    )


def _csv_number(value: float | None) -> Any:
    return "" if value is None else value


def _cell_text(text: str) -> str:
    """A team's text in a CSV cell, never read as a formula by a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
