"""The coordinate reference systems of qet-geo, named once.

Everything is computed in metres in Lambert-93 (:data:`WORK_CRS`, metropolitan France) and shown
in WGS84 (:data:`WGS84`) at the map and API boundary; INSEE's 200 m grid lives in ETRS89-LAEA
(:data:`GRID_CRS`, see :mod:`qet_geo.grid`).
"""

from __future__ import annotations

#: Lambert-93: the projected CRS every distance, area and network is computed in.
WORK_CRS = "EPSG:2154"
#: Longitude/latitude: what maps, GeoJSON and the API give and take.
WGS84 = "EPSG:4326"
#: ETRS89 Lambert azimuthal equal-area: the CRS of INSEE's (and Eurostat's) statistical grid.
GRID_CRS = "EPSG:3035"
