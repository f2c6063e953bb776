"""The public portal of a territory, ``/q/{slug}``: no account, only what is published.

- ``/q/{slug}``: the neighbourhood's name, its outline (an SVG drawn here from its territory,
  no tile and no request elsewhere), the six phases of the method as a timeline
  (:func:`qet_geo.store.portal.phases_of`; a phase's note is the team's Markdown, shown through
  :func:`qet_geo.escaping.markdown_html` only), the key figures of the latest release and the
  next events (the phases starting after today).
- ``/q/{slug}/diagnostic`` (the latest campaign) and ``/q/{slug}/diagnostic/{year}``: the
  campaign's latest release as pages, the very sections of the team's results page
  (:func:`api.web.analysis.figure_view`, ``release_figures.html``), with a note on the method;
  a campaign without a release says so (200, no figure).
- ``/q/{slug}/diagnostic/{year}.csv``: the figures that page shows, as a CSV file;
  ``/q/{slug}/diagnostic/{year}.gpkg``: the whole release as one GeoPackage (cells, outline,
  those figures, metadata). Both are written by :mod:`qet_geo.store.release_files`.

Every figure comes from the latest release only (:func:`qet_geo.store.releases.latest_release`),
so the privacy rules applied at publication hold; an unknown address and an unpublished
neighbourhood give the same 404 page (:func:`qet_geo.store.portal.public_hood`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import SessionDep
from api.web import analysis
from api.web._kit import lang_of, not_found, now, published_hood, render
from api.web.similar import like_yours
from qet_geo.escaping import markdown_html
from qet_geo.i18n import day, number
from qet_geo.store.models import (
    Diagnostic,
    Neighbourhood,
    Release,
    Vote,
    territory_geometry,
)
from qet_geo.store.portal import phases_of
from qet_geo.store.release_files import release_csv, release_geopackage
from qet_geo.store.releases import Figures, latest_release
from qet_geo.store.votes import vote_results

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: The outline's drawing: its longest side in SVG units, and in CSS pixels on the page.
_SVG_WIDTH = 240.0


# --------------------------------------------------------------------------------------------------
# the outline


@dataclass(frozen=True)
class Outline:
    """The territory drawn as an SVG path: ``viewBox`` width and height, the path's ``d``, and
    the drawing's frame (``left``, ``top`` in metres, ``scale`` per metre, ``pad``) that
    :meth:`place` puts a point in."""

    width: float
    height: float
    path: str
    area_km2: float
    left: float = 0.0
    top: float = 0.0
    scale: float = 1.0
    pad: float = 4.0

    def place(self, x: float, y: float) -> tuple[float, float]:
        """Where the point (EPSG:2154, metres) falls in the drawing's ``viewBox``."""
        return (
            round(self.pad + (x - self.left) * self.scale, 1),
            round(self.pad + (self.top - y) * self.scale, 1),
        )


def outline_of(hood: Neighbourhood) -> Outline | None:
    """The territory (EPSG:2154, metres) scaled into a ``viewBox`` ``_SVG_WIDTH`` wide, north up.

    None when the neighbourhood has no territory. The path holds numbers and letters only.
    """
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.base import BaseGeometry

    geom: BaseGeometry | None = territory_geometry(hood)
    if geom is None or geom.is_empty:
        return None
    left, bottom, right, top = geom.bounds
    span = max(right - left, top - bottom)
    if span <= 0:
        return None
    scale = _SVG_WIDTH / span
    geom = geom.simplify(span / 800, preserve_topology=True)
    polygons: list[Polygon] = []
    if isinstance(geom, Polygon):
        polygons = [geom]
    elif isinstance(geom, MultiPolygon):
        polygons = list(geom.geoms)
    else:
        polygons = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    pad = 4.0
    parts: list[str] = []
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            points = [
                f"{pad + (x - left) * scale:.1f} {pad + (top - y) * scale:.1f}"
                for x, y in ring.coords[:-1]
            ]
            if len(points) >= 3:
                parts.append("M" + " L".join(points) + " Z")
    if not parts:
        return None
    return Outline(
        width=round((right - left) * scale + 2 * pad, 1),
        height=round((top - bottom) * scale + 2 * pad, 1),
        path=" ".join(parts),
        area_km2=float(geom.area) / 1e6,
        left=left,
        top=top,
        scale=scale,
        pad=pad,
    )


# --------------------------------------------------------------------------------------------------
# what the pages read


def _campaign(session: Session, hood: Neighbourhood, year: int | None) -> Diagnostic | None:
    """The campaign of ``year``, or the latest one (None: none)."""
    if year is None:
        return analysis.current_diagnostic(session, hood)
    return session.scalar(
        select(Diagnostic).where(Diagnostic.neighbourhood_id == hood.id, Diagnostic.year == year)
    )


def _year(request: Request, text: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise not_found(request, None)
    return int(text)


def _release_view(
    request: Request, session: Session, release: Release | None, lang: str
) -> analysis.FigureView | None:
    """The release's figures as the team's results page shows them (kept per release)."""
    if release is None:
        return None
    return analysis._release_view(request, session, release.id, lang)


def chosen_theme(session: Session, hood: Neighbourhood, lang: str) -> str | None:
    """The theme the neighbourhood's latest closed vote chose (its latest campaign that has one:
    a year-1 campaign opened before its forum keeps the year-0 theme), in ``lang``, once its
    results are published (closed, 11 ballots or more: :func:`qet_geo.store.votes.
    vote_results`); None otherwise or on a tie. The vote stores its themes as written when it was
    opened; the forum's :func:`api.web.forum.theme_views` names them in the reader's language."""
    row = session.execute(
        select(Diagnostic, Vote)
        .join(Vote, Vote.diagnostic_id == Diagnostic.id)
        .where(Diagnostic.neighbourhood_id == hood.id, Vote.is_open.is_(False))
        .order_by(Diagnostic.year.desc(), Diagnostic.id.desc(), Vote.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    diag, vote = row[0], row[1]
    results = vote_results(session, vote)
    if not results.published or results.chosen is None:
        return None
    from api.web.forum import theme_views

    labels = {t.stored: t.label for t in theme_views(session, diag, vote, lang)}
    return labels.get(results.chosen, results.chosen)


def _key_figures(view: analysis.FigureView | None, chosen: str | None) -> dict[str, Any] | None:
    """The home's key figures: respondents, mean total footprint against the French average,
    the theme the vote chose."""
    if view is None or not view.n_respondents:
        return None
    return {
        "n": view.n_respondents,
        "total": view.total,
        "synthetic": view.synthetic,
        "release": view.release,
        "title": view.title,
        "chosen_theme": chosen,
    }


# --------------------------------------------------------------------------------------------------
# pages


@router.get("/q/{slug}", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, slug: str) -> Response:
    """The portal's home: name, outline, the six phases, key figures, next events."""
    hood = published_hood(request, session, slug)
    lang = lang_of(request)
    today = now(request).date()
    phases: list[dict[str, Any]] = []
    for phase in phases_of(session, hood.id):
        phases.append(
            {
                "key": phase.key,
                "label": phase.label(lang),
                "state": phase.state,
                "state_label": phase.state_label(lang),
                "starts_on": phase.starts_on,
                "starts": day(phase.starts_on).render(lang) if phase.starts_on else None,
                "ends": day(phase.ends_on).render(lang) if phase.ends_on else None,
                "place": phase.place,
                "note": markdown_html(phase.note, top=4) if phase.note.strip() else "",
            }
        )
    upcoming: list[dict[str, Any]] = [
        {**p, "sort": p["starts_on"]}
        for p in phases
        if p["starts_on"] is not None and p["starts_on"] > today
    ]
    # the team's published meetings and workshops to come, beside the phases' starts
    from api.web.events import when_text
    from qet_geo.store.events import public_events

    for event in public_events(session, hood.id, now(request)).upcoming:
        if event.starts_at is None:
            continue
        upcoming.append(
            {
                "label": event.title,
                "when": when_text(event.starts_at, lang),
                "place": event.place,
                "href": f"/q/{hood.slug}/ateliers#atelier-{event.id}",
                "sort": event.starts_at.date(),
            }
        )
    upcoming.sort(key=lambda p: p["sort"])
    diag = analysis.current_diagnostic(session, hood)
    # the key figures of the latest campaign that has a release: a year-1 campaign opened
    # before its own release leaves the year-0 figures on the home
    from qet_geo.store.library import released_campaigns

    released = released_campaigns(session, hood.id)
    release = released[-1].release if released else None
    figures = _key_figures(
        _release_view(request, session, release, lang), chosen_theme(session, hood, lang)
    )
    outline = outline_of(hood)
    context = {
        "hood": hood,
        "section": "home",
        "kiosk": False,
        "outline": outline,
        "area": number(outline.area_km2, decimals=2).render(lang) if outline else None,
        "phases": phases,
        "upcoming": upcoming,
        "diag": diag,
        "figures": figures,
        "similar": like_yours(request, session, hood, lang),
    }
    return render(request, "portal_home.html", context)


def _diagnostic_page(request: Request, session: Session, slug: str, year: int | None) -> Response:
    hood = published_hood(request, session, slug)
    lang = lang_of(request)
    diag = _campaign(session, hood, year)
    if diag is None and year is not None:
        raise not_found(request, None)
    release = latest_release(session, diag.id) if diag is not None else None
    view = _release_view(request, session, release, lang)
    years = list(
        session.scalars(
            select(Diagnostic.year)
            .join(Release, Release.diagnostic_id == Diagnostic.id)
            .where(Diagnostic.neighbourhood_id == hood.id)
            .distinct()
            .order_by(Diagnostic.year.desc())
        )
    )
    context = {
        "hood": hood,
        "section": "diagnostic",
        "kiosk": False,
        "diag": diag,
        "fig": view,
        "released_on": day(release.created_at).render(lang) if release is not None else None,
        "years": years,
    }
    return render(request, "portal_diagnostic.html", context)


@router.get("/q/{slug}/diagnostic", response_class=HTMLResponse)
def diagnostic(request: Request, session: SessionDep, slug: str) -> Response:
    """The latest campaign's published diagnostic."""
    return _diagnostic_page(request, session, slug, None)


@router.get("/q/{slug}/diagnostic/{year}.csv")
def diagnostic_csv(request: Request, session: SessionDep, slug: str, year: str) -> Response:
    """The published figures of a campaign, as the page shows them, in a CSV file."""
    hood = published_hood(request, session, slug)
    diag = _campaign(session, hood, _year(request, year))
    release = latest_release(session, diag.id) if diag is not None else None
    if diag is None or release is None:
        raise not_found(request, None)
    lang = lang_of(request)
    body = release_csv(Figures.from_json(release.figures), lang, release_number=release.number)
    name = f"{hood.slug}-diagnostic-{diag.year}-publication-{release.number}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/q/{slug}/diagnostic/{year}.gpkg")
def diagnostic_gpkg(request: Request, session: SessionDep, slug: str, year: str) -> Response:
    """The published release of a campaign as one GeoPackage: its 200 m cells, the outline,
    the CSV's figures and the release's metadata (:mod:`qet_geo.store.release_files`)."""
    hood = published_hood(request, session, slug)
    diag = _campaign(session, hood, _year(request, year))
    release = latest_release(session, diag.id) if diag is not None else None
    if diag is None or release is None:
        raise not_found(request, None)
    body = release_geopackage(session, release, lang=lang_of(request))
    name = f"{hood.slug}-diagnostic-{diag.year}-publication-{release.number}.gpkg"
    return Response(
        body,
        media_type="application/geopackage+sqlite3",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/q/{slug}/diagnostic/{year}", response_class=HTMLResponse)
def diagnostic_of_year(request: Request, session: SessionDep, slug: str, year: str) -> Response:
    """A campaign's published diagnostic (year 0, year 1...)."""
    return _diagnostic_page(request, session, slug, _year(request, year))
