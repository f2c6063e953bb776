"""Types and small guards shared by the network modules (private)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg

Mode = Literal["walk", "bike", "drive"]
Weight = Literal["length", "time"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]


def _ragged(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Expand groups ``(start, count)``: the group of each element and ``start + rank``."""
    group = np.repeat(np.arange(counts.size), counts)
    rank = np.arange(group.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, starts[group] + rank


def _check_weight(weight: str) -> Weight:
    if weight == "length":
        return "length"
    if weight == "time":
        return "time"
    raise ValidationError(
        msg("weight doit valoir 'length' ou 'time', et non {weight!r}.", weight=weight)
    )


def _check_positive(value: float, name: str) -> float:
    out = float(value)
    if not out > 0 or not math.isfinite(out):
        raise ValidationError(
            msg(
                "{name} doit être un nombre positif fini, et non {value!r}.", name=name, value=value
            )
        )
    return out
