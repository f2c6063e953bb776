"""Inputs: local files read into projected layers, offline.

OpenStreetMap extracts (:mod:`~qet_geo.inputs.osm`), census tables and the INSEE 200 m grid
(:mod:`~qet_geo.inputs.census`), elevation rasters (:mod:`~qet_geo.inputs.raster`), GTFS feeds
(:mod:`~qet_geo.inputs.gtfs`) and the neighbourhood's outline (:mod:`~qet_geo.inputs.territory`).
Everything comes out in Lambert-93 (:data:`qet_geo.crs.WORK_CRS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "census": [
            "DEFAULT_LEVELS",
            "GRID_CELL_ID_COLUMNS",
            "GRID_POPULATION_COLUMNS",
            "IRIS_CODE_COLUMNS",
            "IRIS_NAME_COLUMNS",
            "STOREY_HEIGHT_M",
            "allocate_population",
            "cell_id_to_polygon",
            "point_to_cell_id",
            "read_grid",
            "read_iris",
        ],
        "gtfs": ["read_feed", "route_type_mode", "stop_departures"],
        "osm": [
            "NETWORK_TYPES",
            "OsmData",
            "clip_osm",
            "count_osm_objects",
            "read_osm",
            "street_graph",
        ],
        "raster": [
            "CLC_CODE_TO_LEVEL1",
            "CLC_INDEX_TO_CODE",
            "CLC_LEVEL1_NAMES",
            "Raster",
            "RasterWindow",
            "cell_slope",
            "edge_slope",
            "elevation_at",
            "landcover_shares",
            "open_raster",
        ],
        "territory": [
            "DEFAULT_BUFFER_M",
            "Territory",
            "WORK_CRS",
            "read_vector",
            "territory_from_bounds",
            "territory_from_commune",
            "territory_from_file",
            "territory_from_iris",
            "territory_from_options",
        ],
    },
)

if TYPE_CHECKING:
    from qet_geo.inputs.census import (
        DEFAULT_LEVELS,
        GRID_CELL_ID_COLUMNS,
        GRID_POPULATION_COLUMNS,
        IRIS_CODE_COLUMNS,
        IRIS_NAME_COLUMNS,
        STOREY_HEIGHT_M,
        allocate_population,
        cell_id_to_polygon,
        point_to_cell_id,
        read_grid,
        read_iris,
    )
    from qet_geo.inputs.gtfs import read_feed, route_type_mode, stop_departures
    from qet_geo.inputs.osm import (
        NETWORK_TYPES,
        OsmData,
        clip_osm,
        count_osm_objects,
        read_osm,
        street_graph,
    )
    from qet_geo.inputs.raster import (
        CLC_CODE_TO_LEVEL1,
        CLC_INDEX_TO_CODE,
        CLC_LEVEL1_NAMES,
        Raster,
        RasterWindow,
        cell_slope,
        edge_slope,
        elevation_at,
        landcover_shares,
        open_raster,
    )
    from qet_geo.inputs.territory import (
        DEFAULT_BUFFER_M,
        WORK_CRS,
        Territory,
        read_vector,
        territory_from_bounds,
        territory_from_commune,
        territory_from_file,
        territory_from_iris,
        territory_from_options,
    )
