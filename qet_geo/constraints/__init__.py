"""Built constraints: per-home indicators of distance and access.

:mod:`~qet_geo.constraints.access` computes them from the networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "access": [
            "CYCLE_RADIUS_M",
            "INTERSECTION_RADIUS_M",
            "SLOPE_RADIUS_M",
            "THRESHOLDS_MIN",
            "TRANSIT_RADIUS_M",
            "home_access",
            "homes_from_buildings",
            "homes_from_cells",
            "isochrones_from_extract",
            "neighbourhood_access",
            "score_distribution",
            "zone_indicators",
        ],
    },
)

if TYPE_CHECKING:
    from qet_geo.constraints.access import (
        CYCLE_RADIUS_M,
        INTERSECTION_RADIUS_M,
        SLOPE_RADIUS_M,
        THRESHOLDS_MIN,
        TRANSIT_RADIUS_M,
        home_access,
        homes_from_buildings,
        homes_from_cells,
        isochrones_from_extract,
        neighbourhood_access,
        score_distribution,
        zone_indicators,
    )
