"""Built constraints: per-home indicators of distance and access.

:mod:`~qet_geo.constraints.indicators` is the indicator registry (names, labels, units, map
classes, the usages each bears on, the radii and times); :mod:`~qet_geo.constraints.access`
computes the indicators from the networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "access": [
            "home_access",
            "homes_from_buildings",
            "homes_from_cells",
            "isochrones_from_extract",
            "neighbourhood_access",
            "score_distribution",
            "zone_indicators",
        ],
        "indicators": [
            "ACCESS_INDICATORS",
            "CYCLE_KM",
            "CYCLE_RADIUS_M",
            "DEPARTURES",
            "INDICATORS",
            "INDICATOR_UNITS",
            "INTERSECTIONS",
            "INTERSECTION_RADIUS_M",
            "NOT_INDICATORS",
            "PROFILE_INDICATORS",
            "SCORE",
            "SCORE_MIN",
            "SLOPE",
            "SLOPE_RADIUS_M",
            "THRESHOLDS_MIN",
            "TRANSIT_RADIUS_M",
            "TRANSIT_STOPS",
            "USAGE_CONSTRAINTS",
            "ZONE_INDICATORS",
            "Indicator",
            "IndicatorUnit",
            "get_indicator",
            "indicator_unit",
            "nearest_m",
            "nearest_min",
            "reachable",
        ],
    },
)

if TYPE_CHECKING:
    from qet_geo.constraints.access import (
        home_access,
        homes_from_buildings,
        homes_from_cells,
        isochrones_from_extract,
        neighbourhood_access,
        score_distribution,
        zone_indicators,
    )
    from qet_geo.constraints.indicators import (
        ACCESS_INDICATORS,
        CYCLE_KM,
        CYCLE_RADIUS_M,
        DEPARTURES,
        INDICATOR_UNITS,
        INDICATORS,
        INTERSECTION_RADIUS_M,
        INTERSECTIONS,
        NOT_INDICATORS,
        PROFILE_INDICATORS,
        SCORE,
        SCORE_MIN,
        SLOPE,
        SLOPE_RADIUS_M,
        THRESHOLDS_MIN,
        TRANSIT_RADIUS_M,
        TRANSIT_STOPS,
        USAGE_CONSTRAINTS,
        ZONE_INDICATORS,
        Indicator,
        IndicatorUnit,
        get_indicator,
        indicator_unit,
        nearest_m,
        nearest_min,
        reachable,
    )
