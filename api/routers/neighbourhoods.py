"""Neighbourhoods and their diagnostics (survey campaigns)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.dependencies import (
    CallerDep,
    SessionDep,
    SettingsDep,
    diagnostic_for,
    neighbourhood_for,
    require_roles,
)
from api.models import DiagnosticIn, DiagnosticOut, ErrorOut, NeighbourhoodIn, NeighbourhoodOut
from api.routers.layers import checked_territory
from qet_geo.i18n import msg
from qet_geo.store.jobs import job_status
from qet_geo.store.models import ConflictError, Diagnostic, Neighbourhood, add_neighbourhood

router = APIRouter(tags=["quartiers"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
HoodId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DiagId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _diagnostic_out(diag: Diagnostic, *, timeout_s: float) -> DiagnosticOut:
    """Describe a campaign, its status "abandoned" when its analysis's process is gone."""
    out = DiagnosticOut.model_validate(diag)
    return out.model_copy(update={"status": job_status(diag, timeout_s=timeout_s)})


@router.get("/neighbourhoods", response_model=list[NeighbourhoodOut])
def list_neighbourhoods(session: SessionDep, caller: CallerDep) -> list[Neighbourhood]:
    """List the neighbourhoods the caller may see."""
    hoods = session.scalars(select(Neighbourhood).order_by(Neighbourhood.id)).all()
    return [h for h in hoods if caller.can_read(h)]


@router.post(
    "/neighbourhoods",
    response_model=NeighbourhoodOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def create_neighbourhood(
    body: NeighbourhoodIn, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> Neighbourhood:
    """Add a neighbourhood to the network (admin, network staff).

    ``territory`` (GeoJSON in WGS84: a Polygon or MultiPolygon geometry, a Feature of one, or a
    FeatureCollection of polygons, as QGIS and geojson.io export it) may be given now or later
    with ``PUT /neighbourhoods/{id}/territory``.
    """
    require_roles(caller, "admin", "staff")
    territory = (
        None
        if body.territory is None
        else checked_territory(body.territory, settings.max_territory_vertices)
    )
    return add_neighbourhood(
        session,
        name=body.name,
        commune=body.commune,
        iris_codes=body.iris_codes,
        published=body.published,
        osm_extract=body.osm_extract,
        territory_wkt=None if territory is None else territory.wkt,
    )


@router.get(
    "/neighbourhoods/{neighbourhood_id}", response_model=NeighbourhoodOut, responses=_ERRORS
)
def get_neighbourhood(
    session: SessionDep, caller: CallerDep, neighbourhood_id: HoodId
) -> Neighbourhood:
    """Describe one neighbourhood."""
    return neighbourhood_for(session, caller, neighbourhood_id)


@router.get(
    "/neighbourhoods/{neighbourhood_id}/diagnostics",
    response_model=list[DiagnosticOut],
    responses=_ERRORS,
)
def list_diagnostics(
    session: SessionDep, caller: CallerDep, settings: SettingsDep, neighbourhood_id: HoodId
) -> list[DiagnosticOut]:
    """List the survey campaigns of a neighbourhood."""
    hood = neighbourhood_for(session, caller, neighbourhood_id)
    return [
        _diagnostic_out(diag, timeout_s=settings.job_timeout_s)
        for diag in session.scalars(
            select(Diagnostic)
            .where(Diagnostic.neighbourhood_id == hood.id)
            .order_by(Diagnostic.year)
        )
    ]


@router.post(
    "/neighbourhoods/{neighbourhood_id}/diagnostics",
    response_model=DiagnosticOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 409: {"model": ErrorOut}},
)
def create_diagnostic(
    body: DiagnosticIn, session: SessionDep, caller: CallerDep, neighbourhood_id: HoodId
) -> Diagnostic:
    """Open a survey campaign (admin, the neighbourhood's pilot team).

    One campaign per year: a second one answers 409, also when two requests race (the unique
    constraint decides, and the loser's insert is rolled back).
    """
    hood = neighbourhood_for(session, caller, neighbourhood_id, access="write")
    return open_diagnostic(session, hood.id, body.year, label=body.label)


def open_diagnostic(
    session: Session, hood_id: int, year: int, *, label: str | None = None
) -> Diagnostic:
    """Add the survey campaign of ``year`` to a neighbourhood the caller may write to (the
    API's route and the web workspace's form); ConflictError if the year has one already."""
    clash = session.scalars(
        select(Diagnostic).where(Diagnostic.neighbourhood_id == hood_id, Diagnostic.year == year)
    ).first()
    if clash is not None:
        raise _year_taken(hood_id, year)
    diag = Diagnostic(neighbourhood_id=hood_id, year=year, label=label)
    session.add(diag)
    try:
        session.flush()
    except IntegrityError:
        # a concurrent request created the same year between the check and this insert; the
        # session is rolled back by get_session
        raise _year_taken(hood_id, year) from None
    session.refresh(diag)
    return diag


def _year_taken(hood_id: int, year: int) -> ConflictError:
    return ConflictError(
        msg(
            "le quartier {hood_id} a déjà un diagnostic pour l'année {year}.",
            hood_id=hood_id,
            year=year,
        )
    )


@router.get("/diagnostics/{diagnostic_id}", response_model=DiagnosticOut, responses=_ERRORS)
def get_diagnostic(
    session: SessionDep, caller: CallerDep, settings: SettingsDep, diagnostic_id: DiagId
) -> DiagnosticOut:
    """Describe one survey campaign, with the progress of its analysis (see its ``/job``)."""
    diag = diagnostic_for(session, caller, diagnostic_id)
    return _diagnostic_out(diag, timeout_s=settings.job_timeout_s)
