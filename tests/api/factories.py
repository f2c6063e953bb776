"""Generated SU answer files for the store and API tests: small groups on purpose."""

from __future__ import annotations

import numpy as np

from qet_geo.surveys.schema import USAGES

#: Lorient centre, WGS84 (lon, lat).
LORIENT = (-3.3700, 47.7480)


def su_csv(
    n: int,
    *,
    seed: int = 0,
    prefix: str = "R",
    clusters: tuple[tuple[float, float, int], ...] | None = None,
    extra_header: str | None = None,
) -> bytes:
    """Return a tab-separated SU file of ``n`` respondents with WGS84 home points.

    ``clusters`` gives (lon, lat, count) groups of homes; by default one big group of ``n - 3``
    homes at Lorient and 3 homes alone 2 km away (a group of 1 to 10 that must never show).
    """
    rng = np.random.default_rng(seed)
    if clusters is None:
        clusters = ((LORIENT[0], LORIENT[1], n - 3), (LORIENT[0] + 0.03, LORIENT[1] + 0.02, 3))
    header = ["id", *USAGES, "lon", "lat"]
    if extra_header:
        header.append(extra_header)
    lines = ["\t".join(header)]
    k = 0
    for lon, lat, count in clusters:
        for _ in range(count):
            levels = rng.integers(1, 4, size=len(USAGES))
            x = lon + rng.normal(0, 0.0004)
            y = lat + rng.normal(0, 0.0003)
            row = [f"{prefix}{k:05d}", *map(str, levels), f"{x:.6f}", f"{y:.6f}"]
            if extra_header:
                row.append("x")
            lines.append("\t".join(row))
            k += 1
    return ("\n".join(lines) + "\n").encode()


def su_rows(rows: list[tuple[str, list[int], float | None, float | None]]) -> bytes:
    """Return a tab-separated SU file of the given ``(id, levels, lon, lat)`` rows.

    A row without ``lon``/``lat`` is a respondent without location.
    """
    lines = ["\t".join(["id", *USAGES, "lon", "lat"])]
    for rid, levels, lon, lat in rows:
        where = ["", ""] if lon is None or lat is None else [f"{lon:.6f}", f"{lat:.6f}"]
        lines.append("\t".join([rid, *map(str, levels), *where]))
    return ("\n".join(lines) + "\n").encode()


def varied_levels(n: int, *, seed: int = 0) -> list[list[int]]:
    """``n`` answers with every usage between levels 1 and 3, never all alike."""
    rng = np.random.default_rng(seed)
    out = [[int(v) for v in rng.integers(1, 4, size=len(USAGES))] for _ in range(n)]
    if n >= 2:  # at least two different answers to every usage
        out[0] = [1] * len(USAGES)
        out[1] = [3] * len(USAGES)
    return out


def cell_lonlat(north: float, east: float, *, size: float = 200.0) -> tuple[float, float]:
    """The centre of the INSEE grid cell with south-west corner (``north``, ``east``), WGS84."""
    from pyproj import Transformer

    to_wgs = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(east + size / 2, north + size / 2)
    return float(lon), float(lat)
