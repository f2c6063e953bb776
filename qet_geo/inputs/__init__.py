"""Inputs: local files read into projected layers, offline.

OpenStreetMap extracts (:mod:`~qet_geo.inputs.osm`), census tables and the INSEE 200 m grid
(:mod:`~qet_geo.inputs.census`), elevation rasters (:mod:`~qet_geo.inputs.raster`), GTFS feeds
(:mod:`~qet_geo.inputs.gtfs`) and the neighbourhood's outline (:mod:`~qet_geo.inputs.territory`).
Everything comes out in Lambert-93 (:data:`qet_geo.crs.WORK_CRS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(__name__, ["census", "gtfs", "osm", "raster", "territory"])

if TYPE_CHECKING:
    from qet_geo.inputs.census import *
    from qet_geo.inputs.gtfs import *
    from qet_geo.inputs.osm import *
    from qet_geo.inputs.raster import *
    from qet_geo.inputs.territory import *
