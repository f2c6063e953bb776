"""The street network and the only shortest-path code of the library.

A newcomer's map, in the order the data flows:

- :mod:`~qet_geo.network.speeds`: flat speeds and the effect of slopes on walking and cycling;
- :mod:`~qet_geo.network.graph`: :class:`Network`, built once per street graph by
  :func:`build_network` (travel times, lightest parallel edges, components);
- :mod:`~qet_geo.network.snapping`: where a point joins the streets (:func:`snap`), the one rule
  every query follows;
- :mod:`~qet_geo.network.queries`: from every home, the nearest amenity of each category
  (:func:`nearest`) and the amenities within a time (:func:`count_within`);
- :mod:`~qet_geo.network.isochrone`: the areas reachable within a time (:func:`isochrones`);
- :mod:`~qet_geo.network.od`: the origin-destination matrix between points (:func:`od_matrix`)
  and the street paths between consecutive points (:func:`street_paths`), for the visit route.

The private :mod:`~qet_geo.network._search` builds the graphs searched (virtual source rows, the
costs of joining a street part-way) and :mod:`~qet_geo.network._common` holds shared types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(
    __name__, ["graph", "isochrone", "od", "queries", "snapping", "speeds"]
)

if TYPE_CHECKING:
    from qet_geo.network.graph import *
    from qet_geo.network.isochrone import *
    from qet_geo.network.od import *
    from qet_geo.network.queries import *
    from qet_geo.network.snapping import *
    from qet_geo.network.speeds import *
