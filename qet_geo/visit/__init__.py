"""The visit route of a neighbourhood: stops, their order, the plan and its exports.

- :mod:`~qet_geo.visit.stops`: the stops, read from a file (:func:`read_stops`) or picked as a
  pilot team would (:func:`auto_stops`);
- :mod:`~qet_geo.visit.order`: the order of least walking time (:func:`order_stops`, Held-Karp
  and heuristics; :func:`route_cost`);
- :mod:`~qet_geo.visit.plan`: the visit itself (:func:`plan_visit` for a measured neighbourhood,
  :func:`plan_route` on any stops), a :class:`VisitRoute`, its walks from the street network's
  origin-destination matrix and paths (:mod:`qet_geo.network.od`);
- :mod:`~qet_geo.visit.export`: GPX, GeoJSON, the printable roadbook (:func:`write_route`) and
  the figures (:func:`route_summary`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(__name__, ["export", "order", "plan", "stops"])

if TYPE_CHECKING:
    from qet_geo.visit.export import *
    from qet_geo.visit.order import *
    from qet_geo.visit.plan import *
    from qet_geo.visit.stops import *
