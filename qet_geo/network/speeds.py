"""Travel speeds: the flat speed of each mode and the effect of slopes on walking and cycling.

Distances are in metres, times in minutes. Default flat speeds are 4.5 km/h on foot, 15 km/h by
bike and 30 km/h by car (overridable with ``speed_kmh``). When the edge table has a ``grade``
column (signed rise over run along u→v, e.g. from osmnx ``add_edge_grades``), walking and cycling
times depend on it, direction by direction:

- walk: Tobler's hiking function, rescaled so that the flat speed is ``speed_kmh`` exactly:
  ``v(S) = speed_kmh * exp(-3.5 * (|S + 0.05| - 0.05))``. Walking is fastest on a gentle descent
  (-5 %, 19 % faster than on the flat), slower uphill (10 % up: 30 % slower) and on steep
  descents.
- bike: an asymmetric exponential of the same family: uphill ``v = speed_kmh * exp(-10 * S)``
  (3 %: -26 %, 5 %: -39 %, 10 %: -63 %, close to a rider sustaining about 100 W), downhill
  ``v = speed_kmh * min(exp(5 * |S|), 1.5)`` (a descent speeds the rider up to 1.5 times the flat
  speed, then braking caps it).
- drive: no slope effect; an edge column ``speed_kph`` (osmnx ``add_edge_speeds``) is used where
  present.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qet_geo.network._common import FloatArray

__all__ = [
    "BIKE_DOWNHILL_RATE",
    "BIKE_MAX_SPEEDUP",
    "BIKE_UPHILL_RATE",
    "DEFAULT_SPEED_KMH",
    "TOBLER_OPTIMUM_GRADE",
    "TOBLER_RATE",
    "bike_speed_factor",
    "walk_speed_factor",
]

DEFAULT_SPEED_KMH: dict[str, float] = {"walk": 4.5, "bike": 15.0, "drive": 30.0}
"""Flat speed of each mode, in km/h."""

TOBLER_RATE = 3.5
"""Rate of Tobler's hiking function ``exp(-3.5 * |S + 0.05|)``."""

TOBLER_OPTIMUM_GRADE = -0.05
"""Grade at which Tobler's walker is fastest (a 5 % descent)."""

BIKE_UPHILL_RATE = 10.0
"""Cycling uphill: speed factor ``exp(-10 * S)`` on a grade ``S > 0``."""

BIKE_DOWNHILL_RATE = 5.0
"""Cycling downhill: speed factor ``exp(5 * |S|)`` on a grade ``S < 0``, capped."""

BIKE_MAX_SPEEDUP = 1.5
"""Cap of the downhill cycling speed factor (riders brake beyond it)."""

_MIN_PER_H = 60.0
_M_PER_KM = 1000.0
_QUAD_SEGS = 4  # segments per quarter circle of the isochrone bands (0.6 m off at 30 m)


def walk_speed_factor(grade: npt.ArrayLike) -> FloatArray:
    """Return the walking speed relative to the flat, by Tobler's hiking function.

    Parameters
    ----------
    grade
        Signed rise over run in the direction of travel (0.1 is a 10 % climb).

    Returns
    -------
    numpy.ndarray
        ``exp(-3.5 * (|S + 0.05| - 0.05))``: 1 on the flat, 1.19 at -5 %, 0.70 at +10 %.
    """
    s = np.nan_to_num(np.asarray(grade, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.exp(-TOBLER_RATE * (np.abs(s - TOBLER_OPTIMUM_GRADE) - abs(TOBLER_OPTIMUM_GRADE)))


def bike_speed_factor(grade: npt.ArrayLike) -> FloatArray:
    """Return the cycling speed relative to the flat.

    Parameters
    ----------
    grade
        Signed rise over run in the direction of travel (0.1 is a 10 % climb).

    Returns
    -------
    numpy.ndarray
        ``exp(-10 * S)`` uphill (0.61 at +5 %), ``min(exp(5 * |S|), 1.5)`` downhill, 1 on the
        flat.
    """
    s = np.nan_to_num(np.asarray(grade, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    up = np.exp(-BIKE_UPHILL_RATE * np.clip(s, 0.0, None))
    down = np.minimum(np.exp(BIKE_DOWNHILL_RATE * np.clip(-s, 0.0, None)), BIKE_MAX_SPEEDUP)
    return np.where(s > 0, up, down)
