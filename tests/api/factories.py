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
