"""The visit route of a neighbourhood: stops, their order, the plan and its exports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "routes": [
            "DEFAULT_DWELL_MIN",
            "EXACT_MAX_STOPS",
            "STOP_FILE_SUFFIXES",
            "VisitRoute",
            "auto_stops",
            "distance_matrix",
            "order_stops",
            "plan_route",
            "read_stops",
            "route_cost",
            "route_summary",
            "to_geojson",
            "to_gpx",
            "to_roadbook",
            "write_route",
        ],
    },
)

if TYPE_CHECKING:
    from qet_geo.visit.routes import (
        DEFAULT_DWELL_MIN,
        EXACT_MAX_STOPS,
        STOP_FILE_SUFFIXES,
        VisitRoute,
        auto_stops,
        distance_matrix,
        order_stops,
        plan_route,
        read_stops,
        route_cost,
        route_summary,
        to_geojson,
        to_gpx,
        to_roadbook,
        write_route,
    )
