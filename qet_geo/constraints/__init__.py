"""Built constraints: per-home indicators of distance and access.

:mod:`~qet_geo.constraints.indicators` is the indicator registry (names, labels, units, map
classes, the usages each bears on, the radii and times); :mod:`~qet_geo.constraints.access`
computes the indicators from the networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(__name__, ["access", "indicators"])

if TYPE_CHECKING:
    from qet_geo.constraints.access import *
    from qet_geo.constraints.indicators import *
