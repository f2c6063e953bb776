"""Published aggregates of a diagnostic: indicators (GeoJSON), profiles, footprints, releases,
and the links between built constraints and usages (margins of manoeuvre, vote themes, the other
surveys' figures)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api._aggregates import AggregateCache, CellLayer, Published
from api.dependencies import Caller, CallerDep, SessionDep, SettingsDep, diagnostic_for, missing
from api.errors import request_lang
from api.models import (
    ErrorOut,
    FeatureCollection,
    FootprintsOut,
    ProfileOut,
    ProfilesOut,
    ReleaseOut,
)
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.store.models import (
    Diagnostic,
    Neighbourhood,
    NotFoundError,
    Profile,
    Release,
    national_reference,
)
from qet_geo.store.releases import create_release, latest_release, preview_figures

router = APIRouter(tags=["agrégats"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
DiagId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The query of a GeoJSON page (geojson_page)
BboxQuery = Annotated[
    str | None, Query(max_length=200, description="gauche,bas,droite,haut (WGS84)")
]
LimitQuery = Annotated[int | None, Query(description="ramené à [1, max_limit]")]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9)]


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``left,bottom,right,top`` in WGS84 degrees."""
    bad = ValidationError(
        msg(
            "bbox {text!r} doit valoir 'gauche,bas,droite,haut' en degrés WGS84 (lon, lat), "
            "avec gauche <= droite et bas <= haut.",
            text=text,
        )
    )
    try:
        left, bottom, right, top = (float(v) for v in text.split(","))
    except ValueError:
        raise bad from None
    if not (-180 <= left <= right <= 180 and -90 <= bottom <= top <= 90):  # also refuses NaN
        raise bad
    return left, bottom, right, top


@router.get(
    "/diagnostics/{diagnostic_id}/indicators",
    response_model=FeatureCollection,
    responses={**_ERRORS, 200: {"content": {"application/geo+json": {}}}},
)
async def indicators(
    request: Request,
    caller: CallerDep,
    diagnostic_id: DiagId,
    bbox: BboxQuery = None,
    limit: LimitQuery = None,
    offset: OffsetQuery = 0,
) -> Response:
    """Page through the published 200 m cells of a diagnostic (pooled where small), WGS84.

    Each cell gives ``n_respondents`` (at least 11), the mean footprint and the share of each
    usage profile; cells with fewer respondents are pooled with their neighbours first. The
    cells are those of the latest release (``POST /diagnostics/{id}/releases``); the pilot team
    of the neighbourhood (and the admin) sees the live preview of its data instead. Cells of
    synthetic answers say so: ``synthetic`` true in each feature's properties and in the
    collection.
    """
    # The hot path of the service (bench/api.py): no database session, no dependency beyond the
    # caller, no response model validation; the settings are read from the app.
    layer = await cells_for_caller(request, caller, diagnostic_id)
    return geojson_page(
        request, layer.features_json, layer.bounds, bbox, limit, offset, synthetic=layer.synthetic
    )


async def cells_for_caller(request: Request, caller: Caller, diagnostic_id: int) -> CellLayer:
    """Return the cells a caller may read of a diagnostic (404 if it may not see it).

    The released layer for every reader; the live one for a caller who may write to the
    neighbourhood. Each is looked up in the store at most once per
    :data:`api._aggregates.REFRESH_S` in each server process; when the look-up is due, one
    request makes it and the concurrent ones await that same look-up.
    """
    cache: AggregateCache = request.app.state.aggregates
    entry = cache.fresh_cells(diagnostic_id)
    if entry is None:
        entry = await shared_lookup(
            request,
            ("release", diagnostic_id),
            cache.load_cells,
            request.app.state.engine,
            diagnostic_id,
        )
    if entry is None or not caller.can_read(entry[0]):
        raise missing("diagnostic", diagnostic_id)
    if not caller.can_write(entry[0]):
        return entry[1]
    live = cache.fresh_live_cells(diagnostic_id)
    if live is None:
        live = await shared_lookup(
            request,
            ("live", diagnostic_id),
            cache.load_live_cells,
            request.app.state.engine,
            diagnostic_id,
        )
    if live is None:
        raise missing("diagnostic", diagnostic_id)
    return live[1]


async def shared_lookup(
    request: Request, key: tuple[str, int], func: Callable[..., Any], *args: Any
) -> Any:
    """Run ``func(*args)`` in the thread pool once for the concurrent requests of ``key``.

    The store look-ups behind the caches (cells, the national data) are due for many requests
    at the same moment when an entry expires: one request makes the look-up and the others
    await that same one.
    """
    loads: dict[tuple[str, int], asyncio.Future[Any]] = request.app.state.cell_loads
    load = loads.get(key)
    # A look-up left pending by another event loop (a closed test client) is not awaitable.
    if load is None or load.get_loop() is not asyncio.get_running_loop():
        load = asyncio.ensure_future(run_in_threadpool(func, *args))
        loads[key] = load

        def forget(done: asyncio.Future[Any]) -> None:
            if loads.get(key) is done:
                del loads[key]

        load.add_done_callback(forget)
    # shield: a client that hangs up must not cancel the look-up the others await.
    return await asyncio.shield(load)


def geojson_page(
    request: Request,
    features_json: list[str],
    bounds: np.ndarray,
    bbox: str | None,
    limit: int | None,
    offset: int,
    *,
    synthetic: bool | None = None,
) -> Response:
    """One page of ready-made GeoJSON features: bbox filter, clamped limit, OGC-style links.

    ``bounds`` holds each feature's (left, bottom, right, top) in WGS84, aligned to
    ``features_json``; the limit is clamped to ``[1, max_limit]`` of the app's settings.
    ``synthetic``, when given, is written as a top-level member of the collection.
    """
    settings = request.app.state.settings
    size = settings.default_limit if limit is None else limit
    size = max(1, min(size, settings.max_limit))
    index = np.arange(len(features_json))
    if bbox is not None:
        left, bottom, right, top = parse_bbox(bbox)
        b = bounds
        keep = (b[:, 0] <= right) & (b[:, 2] >= left) & (b[:, 1] <= top) & (b[:, 3] >= bottom)
        index = index[keep]
    page = index[offset : offset + size]
    links = []
    if offset + size < len(index):
        query = f"limit={size}&offset={offset + size}" + (f"&bbox={bbox}" if bbox else "")
        links.append(
            {"rel": "next", "href": f"{request.url.path}?{query}", "type": "application/geo+json"}
        )
    # Features are serialised once: a page is a join of ready-made JSON.
    body = (
        '{"type":"FeatureCollection","features":['
        + ",".join(features_json[i] for i in page)
        + f'],"numberMatched":{len(index)},"numberReturned":{len(page)},"links":'
        + json.dumps(links)
        + ("" if synthetic is None else f',"synthetic":{json.dumps(bool(synthetic))}')
        + "}"
    )
    return Response(body.encode(), media_type="application/geo+json")


def reads_live(session: Session, caller: Caller, diag: Diagnostic) -> bool:
    """Whether ``caller`` previews the live figures of ``diag`` (write access to its
    neighbourhood) rather than its latest release."""
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    return hood is not None and caller.can_write(hood)


def view_for(request: Request, session: Session, caller: Caller, diag: Diagnostic) -> Published:
    """The figures ``caller`` reads of ``diag``: live with write access, else the latest release."""
    cache: AggregateCache = request.app.state.aggregates
    if reads_live(session, caller, diag):
        return cache.live(session, diag.id)
    return cache.released(session, diag.id)


@router.get("/diagnostics/{diagnostic_id}/profiles", response_model=ProfilesOut, responses=_ERRORS)
def profiles(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: DiagId
) -> ProfilesOut:
    """Shares of the reference usage profiles (if 11 respondents or more), and own profiles.

    From the latest release (``release`` gives its number; nothing before the first one); the
    pilot team of the neighbourhood (and the admin) previews the live figures (``release``
    null). ``shares`` refer to the national reference profiles once they are fitted
    (``reference: "national"``), to the demo ones before. ``own_profiles`` are the profiles
    fitted on this diagnostic alone, each of 11 respondents or more, none holding everyone.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    view = view_for(request, session, caller, diag)
    if view.release is None:
        reference = "national" if national_reference(session) else "demo"
        own = [
            ProfileOut.from_stored(p)
            for p in session.scalars(
                select(Profile)
                .where(Profile.diagnostic_id == diag.id, Profile.scope == "diagnostic")
                .order_by(Profile.number)
            )
        ]
    else:
        reference = view.reference or "demo"
        own = [ProfileOut.model_validate(p) for p in view.figures.own_profiles]
    shares = view.figures.profile_shares
    return ProfilesOut(
        diagnostic_id=diag.id,
        n_respondents=view.figures.n_respondents if shares else 0,
        published=bool(shares),
        shares=shares,
        reference="national" if reference == "national" else "demo",
        own_profiles=own,
        release=view.release,
        synthetic=view.figures.synthetic or bool(diag.synthetic),
    )


@router.get(
    "/diagnostics/{diagnostic_id}/footprints", response_model=FootprintsOut, responses=_ERRORS
)
def footprints(
    request: Request, session: SessionDep, caller: CallerDep, diagnostic_id: DiagId
) -> FootprintsOut:
    """Mean footprint per usage and in total, kgCO2e per person per year (if publishable).

    From the latest release, or the live preview for the neighbourhood's pilot team (as
    ``/profiles``).
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    view = view_for(request, session, caller, diag)
    values = view.figures.footprints
    return FootprintsOut(
        diagnostic_id=diag.id,
        n_respondents=view.figures.n_respondents if values else 0,
        published=bool(values),
        mean_kgco2e=values,
        release=view.release,
        synthetic=view.figures.synthetic or bool(diag.synthetic),
    )


@router.post(
    "/diagnostics/{diagnostic_id}/releases",
    response_model=ReleaseOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 403: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
async def publish_release(request: Request, caller: CallerDep, diagnostic_id: DiagId) -> ReleaseOut:
    """Publish the diagnostic's figures as its next release (admin, the pilot team).

    Every figure (footprints, profile shares, own profiles, cells, map, national summary, the
    links, margins of manoeuvre and vote themes: ``/diagnostics/{id}/links``) is computed at
    once over the respondents located with complete answers; the MdV/EdV and NosGestesClimat
    figures over theirs, a part differing from an earlier release by 1 to 10 being withheld. Refused (422, without
    the small count) when fewer than 11 of them, or when they differ from those of an earlier
    release by 1 to 10 respondents: the public could subtract the two.
    """
    engine = request.app.state.engine

    def check() -> None:
        with sessionmaker(engine)() as session:
            diagnostic_for(session, caller, diagnostic_id, access="write")

    await run_in_threadpool(check)
    osm_dir = request.app.state.settings.osm_dir
    # the census tables of the shared data folder: the release compares its set with the
    # census of the neighbourhood's IRIS and weights it (qet_geo.store.census_figures)
    shared = getattr(request.app.state, "shared_data", None)
    release = await run_in_threadpool(
        lambda: create_release(engine, diagnostic_id, osm_dir=osm_dir, shared_data=shared)
    )
    request.app.state.aggregates.clear(diagnostic_id)
    return ReleaseOut.of(release)


@router.get(
    "/diagnostics/{diagnostic_id}/releases", response_model=list[ReleaseOut], responses=_ERRORS
)
def list_releases(
    session: SessionDep, caller: CallerDep, diagnostic_id: DiagId
) -> list[ReleaseOut]:
    """The releases of a diagnostic, latest first: number, date and respondents (11 or more)."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    return [
        ReleaseOut.of(r)
        for r in session.scalars(
            select(Release).where(Release.diagnostic_id == diag.id).order_by(Release.number.desc())
        )
    ]


@router.get(
    "/diagnostics/{diagnostic_id}/releases/{number}/geopackage",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"application/geopackage+sqlite3": {}}}},
)
def release_geopackage_file(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    diagnostic_id: DiagId,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """A release as one GeoPackage: its published 200 m cells (EPSG:2154), the
    neighbourhood's outline, its figures (the portal's CSV rows, in the language asked) and its
    metadata, with a ``synthetic`` column on every layer
    (:mod:`qet_geo.store.release_files`).

    As for the other figures, a caller without write access to the neighbourhood (the public,
    staff) reads only the latest release: any other number is 404.
    """
    from qet_geo.store.release_files import release_geopackage

    diag = diagnostic_for(session, caller, diagnostic_id)
    release = session.scalar(
        select(Release).where(Release.diagnostic_id == diag.id, Release.number == number)
    )
    latest = latest_release(session, diag.id)
    if release is None or (
        not reads_live(session, caller, diag) and (latest is None or latest.id != release.id)
    ):
        raise NotFoundError(
            msg(
                "Le diagnostic {diagnostic} n'a pas de publication n° {number} lisible.",
                diagnostic=diag.id,
                number=number,
            )
        )
    body = release_geopackage(session, release, lang=request_lang(request))
    name = f"diagnostic-{diag.id}-publication-{release.number}.gpkg"
    return Response(
        body,
        media_type="application/geopackage+sqlite3",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class LinksOut(BaseModel):
    """The links, margins of manoeuvre and vote themes of a diagnostic, and its other surveys.

    As the exhibition (``qet diagnose``) shows them, over the release's set of respondents.
    """

    diagnostic_id: int
    release: int | None = Field(
        description="the release's number; null for the pilot team's live preview"
    )
    synthetic: bool
    status: str = Field(
        description="ok; no_access (no per-home access tables: the analysis has not run on the "
        "neighbourhood's extract); withheld (the reason in the language asked); stale (the "
        "preview's links predate the last answers: run the analysis); none (nothing yet)"
    )
    reason: str | None = None
    n_bootstrap: int | None = None
    models: list[dict[str, Any]] = Field(default_factory=list)
    margins: list[dict[str, Any]] = Field(default_factory=list)
    margins_left_out: list[str] = Field(default_factory=list)
    vote_themes: list[dict[str, Any]] = Field(default_factory=list)
    walking: dict[str, Any] = Field(
        default_factory=dict,
        description="walking minutes over the homes (homes, homes_at_edge, homes_off_network, "
        "score_15min, rows: median minutes and share within 15 minutes per kind of amenity)",
    )
    other_surveys: dict[str, Any] = Field(
        default_factory=dict,
        description="MdV/EdV measured against perceived access and NosGestesClimat footprints "
        "(language-neutral codes, qet_geo.store.perceived)",
    )


def links_out(
    links: dict[str, Any],
    other: dict[str, Any],
    *,
    diagnostic_id: int,
    release: int | None,
    synthetic: bool,
    lang: str,
    walking: dict[str, Any] | None = None,
) -> LinksOut:
    """The stored links figures (:func:`qet_geo.store.releases.link_figures`) in ``lang``."""
    lang = "en" if lang == "en" else "fr"
    state = str(links.get("status") or "none")
    tables = links.get(lang) or {}
    reason = links.get("reason")
    return LinksOut(
        diagnostic_id=diagnostic_id,
        release=release,
        synthetic=synthetic,
        status=state,
        reason=reason.get(lang) if isinstance(reason, dict) else None,
        n_bootstrap=links.get("n_bootstrap"),
        models=list(tables.get("models", [])),
        margins=list(tables.get("margins", [])),
        margins_left_out=list(tables.get("left_out", [])),
        vote_themes=list(tables.get("votes", [])),
        walking={
            **{k: v for k, v in (walking or {}).items() if k not in ("fr", "en")},
            **({"rows": (walking or {}).get(lang, [])} if walking else {}),
        },
        other_surveys=other,
    )


@router.get("/diagnostics/{diagnostic_id}/links", response_model=LinksOut, responses=_ERRORS)
def links(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: DiagId,
) -> LinksOut:
    """Links between built constraints and usages, margins of manoeuvre, vote themes.

    From the latest release (``release`` gives its number; ``status`` "none" before the first
    one); the pilot team of the neighbourhood (and the admin) previews those the last analysis
    computed over the would-be release (``release`` null; "stale" when answers came since).
    Labels in the language asked (``Accept-Language``); the other surveys' figures as codes.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    lang = request_lang(request)
    if reads_live(session, caller, diag):
        found, other, walking = preview_figures(
            session, diag.id, osm_dir=settings.osm_dir, compute=False
        )
        return links_out(
            found, other, diagnostic_id=diag.id, release=None, synthetic=bool(diag.synthetic),
            lang=lang, walking=walking,
        )  # fmt: skip
    release = latest_release(session, diag.id)
    figures = (release.figures or {}) if release is not None else {}
    return links_out(
        dict(figures.get("links") or {}),
        dict(figures.get("other_surveys") or {}),
        diagnostic_id=diag.id,
        release=None if release is None else release.number,
        synthetic=bool(figures.get("synthetic")) or bool(diag.synthetic),
        lang=lang,
        walking=dict(figures.get("access") or {}),
    )
