"""INSEE's statistical grid: the cell ids ``CRS3035RES{size}mN{northing}E{easting}``, once.

Filosofi's 200 m cells (carreaux) and their 400 m to 3 200 m parents are named by the size of the
cell and the coordinates of its south-west corner in ETRS89-LAEA (:data:`qet_geo.crs.GRID_CRS`),
in metres: ``CRS3035RES200mN2029800E4252000`` is the 200 m cell whose corner is 2 029 800 m north
and 4 252 000 m east.
"""

from __future__ import annotations

import re

#: A cell id, whole: groups size, northing, easting (metres).
CELL_ID = re.compile(r"^CRS3035RES(\d+)mN(\d+)E(\d+)$")
#: The size of the cell an id names, read from its start.
CELL_SIZE = re.compile(r"^CRS3035RES(\d+)m")
#: The form of a cell id, for messages.
CELL_ID_FORM = "CRS3035RES200mN…E…"


def cell_id(size_m: float, north_m: float, east_m: float) -> str:
    """Return the id of the cell of ``size_m`` metres whose south-west corner is given.

    Parameters
    ----------
    size_m
        The cell's side, metres (200 for Filosofi's carreaux).
    north_m, east_m
        Its south-west corner in EPSG:3035, metres (whole numbers: they are rounded).

    Returns
    -------
    str
        ``CRS3035RES{size}mN{north}E{east}``.
    """
    return f"CRS3035RES{round(size_m)}mN{round(north_m)}E{round(east_m)}"


def parse_cell_id(text: str) -> tuple[int, int, int] | None:
    """Return ``(size_m, north_m, east_m)`` of a cell id, or None when ``text`` is not one."""
    match = CELL_ID.fullmatch(text)
    if match is None:
        return None
    size, north, east = match.groups()
    return int(size), int(north), int(east)
