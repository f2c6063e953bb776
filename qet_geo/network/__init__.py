"""The street network and the only shortest-path code of the library.

Graphs for walking and cycling, snapping of homes and amenities to streets, nearest and counted
queries, isochrones, origin-destination matrices and the paths of the visit route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "graph": [
            "BIKE_DOWNHILL_RATE",
            "BIKE_MAX_SPEEDUP",
            "BIKE_UPHILL_RATE",
            "DEFAULT_CUTOFF_M",
            "DEFAULT_ISOCHRONE_BUFFER_M",
            "DEFAULT_MAX_SNAP_M",
            "DEFAULT_SPEED_KMH",
            "Network",
            "TOBLER_OPTIMUM_GRADE",
            "TOBLER_RATE",
            "bike_speed_factor",
            "build_network",
            "count_within",
            "isochrones",
            "nearest",
            "snap",
            "walk_speed_factor",
        ],
    },
)

if TYPE_CHECKING:
    from qet_geo.network.graph import (
        BIKE_DOWNHILL_RATE,
        BIKE_MAX_SPEEDUP,
        BIKE_UPHILL_RATE,
        DEFAULT_CUTOFF_M,
        DEFAULT_ISOCHRONE_BUFFER_M,
        DEFAULT_MAX_SNAP_M,
        DEFAULT_SPEED_KMH,
        TOBLER_OPTIMUM_GRADE,
        TOBLER_RATE,
        Network,
        bike_speed_factor,
        build_network,
        count_within,
        isochrones,
        nearest,
        snap,
        walk_speed_factor,
    )
