"""The visit: stops in order within a time budget, with the walk between them along the streets.

- :func:`plan_visit`: the visit of a measured neighbourhood (:class:`qet_geo.pipeline.
  Neighbourhood`), on stops given or picked by :func:`qet_geo.visit.stops.auto_stops`: what
  ``qet route``, the diagnostic and the service all call;
- :func:`plan_route`: the visit through given stops on a walking network;
- :func:`chosen_stops`: stops picked on a map (longitude, latitude), checked against the
  neighbourhood, ready for :func:`plan_visit` (the service's "stops picked on the map");
- :class:`VisitRoute`: the result, written out by :mod:`qet_geo.visit.export`.

The walking times between stops are those of the street network
(:func:`qet_geo.network.od.od_matrix`, the same graph, weights and snapping as ``qet access``),
the order that of :func:`qet_geo.visit.order.order_stops`, and the legs are the street paths of
:func:`qet_geo.network.od.street_paths`.

Time budget
-----------
A visit lasts the walking time plus a dwell time at every stop (:data:`DEFAULT_DWELL_MIN`, 5 min
by default, or a ``dwell_min`` column per stop). Over budget, the stop of lowest priority is
dropped (among equals, the one whose removal saves the most time), the order re-optimised, and
so on until the visit fits; the dropped stops are reported in order of dropping.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from qet_geo._validate import geo_frame, geometries, require_crs
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import DataCoverageError, ValidationError
from qet_geo.i18n import Lang, Msg, join, msg
from qet_geo.network.graph import Network
from qet_geo.network.od import od_matrix, street_paths
from qet_geo.network.snapping import DEFAULT_MAX_SNAP_M
from qet_geo.visit._checks import _check_lang, _check_max_snap
from qet_geo.visit._streets import _EdgeIndex, nearest_address
from qet_geo.visit.order import Method, _check_method, _order, route_cost
from qet_geo.visit.stops import auto_stops

if TYPE_CHECKING:
    from qet_geo.pipeline import Neighbourhood

__all__ = [
    "DEFAULT_DWELL_MIN",
    "MAX_CHOSEN_STOPS",
    "VisitRoute",
    "chosen_stops",
    "plan_route",
    "plan_visit",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_DWELL_MIN = 5.0
"""Minutes spent at each stop (look, talk, take notes) when no ``dwell_min`` is given."""

MAX_CHOSEN_STOPS = 12
"""Most stops picked on a map: as many as the automatic visit offers, and the most the order
is proved optimal for (:data:`qet_geo.visit.order.EXACT_MAX_STOPS`)."""


def _as_points(points: gpd.GeoSeries | gpd.GeoDataFrame, crs: CRS, what: str) -> gpd.GeoSeries:
    """The geometries as points in ``crs`` (a polygon gives a point inside it)."""
    series = geometries(points, what=what)
    require_crs(series, what=what)
    if not series.index.is_unique:
        raise ValidationError(
            msg(
                "{what} contient des identifiants en double : donnez à chaque point son "
                "propre identifiant.",
                what=what,
            )
        )
    geoms = np.asarray(series.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        bad = [str(x) for x in series.index[missing][:5]]
        raise ValidationError(
            msg(
                "{what} {ids} sans géométrie : donnez une position à chaque point.",
                what=what,
                ids=", ".join(bad),
            )
        )
    geoms = np.where(
        shapely.get_type_id(geoms) == shapely.GeometryType.POINT,
        geoms,
        shapely.point_on_surface(geoms),
    )
    out = gpd.GeoSeries(geoms, index=series.index, crs=series.crs)
    return out if CRS.from_user_input(out.crs) == crs else out.to_crs(crs)


@dataclass(frozen=True, eq=False)
class VisitRoute:
    """An ordered walking visit, its street-following legs and what was left out.

    Attributes
    ----------
    stops
        The stops in visiting order, indexed by stop id, in the network's CRS: the input
        columns, then ``order`` (1, 2...), ``leg_m`` and ``leg_min`` (the walk from the
        previous point), ``arrive_min`` and ``leave_min`` (minutes since the start, dwell
        included), ``dwell_min``, ``street`` (the nearest named street) and ``address`` (the
        nearest house-number address, when the extract has one close by; an ``address`` given
        with the stop is kept).
    legs
        One row per walk, in order: ``from_id`` (None from the start), ``to_id`` (None back to
        the start), ``length_m``, ``time_min``, ``streets`` (the streets walked, in order: a
        list of ``{"name", "highway", "length_m"}``, consecutive edges of one street merged,
        ``name`` None for an unnamed way) and the LineString along the streets. For a loop,
        the last row is the walk back to the start (or first stop).
    dropped
        The stops left out to keep within ``max_minutes``, in the order they were dropped
        (input columns and ``dropped_rank``).
    start
        The start point, or None when the visit begins at its first stop.
    loop
        Whether the visit comes back to its start (or first stop).
    method
        "held-karp" (proved optimal), "heuristic", "nearest_neighbour" or "trivial".
    dwell_min
        The default dwell time per stop (minutes).
    max_minutes
        The time budget, or None.
    streets
        Street lines around the visit, for sketches.
    """

    stops: gpd.GeoDataFrame
    legs: gpd.GeoDataFrame
    dropped: gpd.GeoDataFrame
    start: shapely.Point | None
    loop: bool
    method: str
    dwell_min: float
    max_minutes: float | None
    streets: gpd.GeoSeries

    @property
    def crs(self) -> CRS:
        """CRS of every geometry (the network's)."""
        return CRS.from_user_input(self.stops.crs)

    @property
    def length_m(self) -> float:
        """Walking length of the visit (m)."""
        return float(self.legs["length_m"].sum())

    @property
    def walk_min(self) -> float:
        """Walking time of the visit (min)."""
        return float(self.legs["time_min"].sum())

    @property
    def dwell_total_min(self) -> float:
        """Time spent at the stops (min)."""
        return float(self.stops["dwell_min"].sum())

    @property
    def duration_min(self) -> float:
        """Walking time plus dwell time (min): what ``max_minutes`` bounds."""
        return self.walk_min + self.dwell_total_min

    @property
    def return_leg(self) -> pd.Series | None:
        """The walk back to the start of a loop (a row of ``legs``), or None."""
        if not self.loop or not len(self.legs) or len(self.legs) < len(self.stops):
            return None
        return self.legs.iloc[-1]

    @property
    def line(self) -> shapely.LineString:
        """The whole visit as one LineString along the streets."""
        coords = [shapely.get_coordinates(g) for g in self.legs.geometry]
        if not coords:
            xy = shapely.get_coordinates(self.stops.geometry.to_numpy())
            return shapely.LineString(np.vstack([xy[:1], xy[:1]]))
        joined = np.vstack(coords)
        keep = np.r_[True, (np.abs(np.diff(joined, axis=0)) > 1e-9).any(axis=1)]
        joined = joined[keep]
        return shapely.LineString(joined if len(joined) > 1 else np.vstack([joined, joined]))

    def __repr__(self) -> str:
        return (
            f"VisitRoute(stops={len(self.stops)}, length_m={self.length_m:.0f}, "
            f"duration_min={self.duration_min:.1f}, loop={self.loop}, method={self.method!r}, "
            f"dropped={len(self.dropped)})"
        )


def plan_route(
    network: Network,
    stops: gpd.GeoDataFrame,
    *,
    start: shapely.Point | None = None,
    loop: bool = False,
    max_minutes: float | None = None,
    dwell_min: float = DEFAULT_DWELL_MIN,
    method: Method = "auto",
    area: shapely.Geometry | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> VisitRoute:
    """Plan a walking visit through stops: order, time budget and street-following legs.

    Parameters
    ----------
    network
        The walking network (:func:`qet_geo.network.graph.build_network` with ``mode="walk"``).
    stops
        At least two stops (points; other geometries give a point inside them), in any CRS,
        indexed by a unique stop id. Optional columns: ``name``, ``reason`` (why the stop is in
        the visit), ``category``, ``priority`` (a number, higher kept longer; 1 by default) and
        ``dwell_min`` (minutes spent there; ``dwell_min`` below by default).
    start
        Where the visit starts, a point in the network's CRS; None: at its first stop, chosen
        by the optimisation (or, for a loop, the stop of highest priority).
    loop
        Come back to the start (or to the first stop) at the end.
    max_minutes
        Time budget (walking plus dwell times, minutes); None: no budget.
    dwell_min
        Minutes spent at each stop without a ``dwell_min`` of its own.
    method
        "auto" (exact Held-Karp up to :data:`EXACT_MAX_STOPS` stops, the heuristic above),
        "exact", "heuristic" or "nearest_neighbour"; see :func:`order_stops`.
    area
        The area the stops must lie in (the extract or the working area, network CRS).
    max_snap_m
        Farthest a stop may be from a street (m).

    Returns
    -------
    VisitRoute
        The visit; ``stops`` is not modified.

    Raises
    ------
    ValidationError
        Fewer than two stops, bad priorities or dwell times, a stop that cannot be reached on
        foot from the others, or a budget too small even for the most important stop.
    DataCoverageError
        A stop (or the start) outside ``area`` or farther than ``max_snap_m`` from any street.
    """
    geo_frame(stops, what="stops", hint=msg("un point par étape"))
    if len(stops) < 2:
        raise ValidationError(
            msg(
                "Une visite demande au moins 2 étapes ({n} donnée) : ajoutez des étapes.",
                n=len(stops),
            )
        )
    dwell = float(dwell_min)
    if not math.isfinite(dwell) or dwell < 0:
        raise ValidationError(
            msg(
                "La durée d'arrêt doit être un nombre de minutes positif ou nul, et non "
                "{dwell_min!r}.",
                dwell_min=dwell_min,
            )
        )
    budget = None if max_minutes is None else float(max_minutes)
    if budget is not None and (not math.isfinite(budget) or budget <= 0):
        raise ValidationError(
            msg(
                "Le budget de temps doit être un nombre positif de minutes, et non "
                "{max_minutes!r}.",
                max_minutes=max_minutes,
            )
        )
    if start is not None and not (
        isinstance(start, shapely.Point) and not start.is_empty and math.isfinite(start.x)
    ):
        raise ValidationError(
            msg(
                "start doit être un Point shapely dans le CRS du réseau, et non {start!r}.",
                start=start,
            )
        )
    _check_method(method)
    max_snap_m = _check_max_snap(max_snap_m)
    pts = _as_points(stops, network.crs, "stops")
    table = _stop_table(stops, dwell)
    names = _display_names(table)
    if area is not None:
        outside = ~shapely.covers(area, pts.to_numpy())
        if outside.any():
            quoted = _quoted(names[outside])
            raise DataCoverageError(
                msg(
                    "{n} étape(s) hors de la zone couverte par l'extrait (ou le "
                    "territoire et son tampon) : {names}. Vérifiez l'ordre LON,LAT et que "
                    "l'extrait "
                    "couvre le quartier.",
                    n=int(outside.sum()),
                    names=quoted,
                )
            )
        if start is not None and not shapely.covers(area, start):
            raise DataCoverageError(
                msg(
                    "Le point de départ est hors de la zone couverte par l'extrait (ou le "
                    "territoire "
                    "et son tampon) : vérifiez l'ordre LON,LAT.",
                    x=start.x,
                    y=start.y,
                )
            )
    geoms = [start] if start is not None else []
    everything = gpd.GeoSeries(
        [*geoms, *pts.to_numpy()],
        index=pd.RangeIndex(len(geoms) + len(pts)),
        crs=network.crs,
    )
    k = len(everything)
    od = od_matrix(network, everything, weight="time", max_snap_m=max_snap_m)
    walk = _Walks(
        time_min=od["time_min"].to_numpy().reshape(k, k),
        dist_m=od["dist_m"].to_numpy().reshape(k, k),
        points=everything,
        max_snap_m=max_snap_m,
    )
    first = 1 if start is not None else 0
    _check_reachable(walk.time_min, names, first, max_snap_m)
    return _plan(network, walk, table, pts, start, loop, budget, method, first, dwell)


def chosen_stops(
    lonlat: Sequence[tuple[float, float]],
    *,
    territory: shapely.Geometry | None = None,
    crs: Any = WORK_CRS,
    max_stops: int = MAX_CHOSEN_STOPS,
    lang: Lang = "fr",
) -> gpd.GeoDataFrame:
    """Stops picked on a map, as :func:`plan_visit` takes them, checked against the neighbourhood.

    Parameters
    ----------
    lonlat
        The stops' (longitude, latitude) in WGS84, in the order they were picked.
    territory
        The neighbourhood (in ``crs``) every stop must lie in; None: no check here (the
        extract's area is still checked by :func:`plan_route`).
    crs
        The CRS of ``territory`` and of the stops returned (Lambert-93 by default).
    max_stops
        Most stops accepted (at least 2 are needed).
    lang
        "fr" or "en": language of the stops' names ("Arrêt 1"...).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by the stop's number as picked (1, 2...), with ``name``, ``reason`` and
        ``category`` ("chosen"), points in ``crs``.

    Raises
    ------
    ValidationError
        Fewer than 2 or more than ``max_stops`` stops, or a position that is not a longitude
        and latitude.
    DataCoverageError
        A stop outside ``territory``.
    """
    _check_lang(lang)
    points = [tuple(p) for p in lonlat]
    if not 2 <= len(points) <= max_stops:
        raise ValidationError(
            msg(
                "Une visite par des arrêts choisis en demande de 2 à {most} ({n} donné(s)) : "
                "ajoutez ou retirez des arrêts.",
                most=max_stops,
                n=len(points),
            )
        )
    xy = np.asarray(points, dtype=float)
    if xy.shape != (len(points), 2):
        raise ValidationError(msg("Chaque arrêt est une paire (longitude, latitude)."))
    bad = ~(np.isfinite(xy).all(axis=1) & (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90))
    if bad.any():
        raise ValidationError(
            msg(
                "Arrêt(s) {numbers} : une longitude est comprise entre -180 et 180 et une "
                "latitude entre -90 et 90 ; vérifiez l'ordre des nombres.",
                numbers=", ".join(str(i) for i in np.flatnonzero(bad) + 1),
            )
        )
    numbers = pd.RangeIndex(1, len(points) + 1, name="stop")
    pts = gpd.GeoSeries(shapely.points(xy), index=numbers, crs=WGS84).to_crs(crs)
    if territory is not None:
        outside = ~shapely.covers(territory, pts.to_numpy())
        if outside.any():
            raise DataCoverageError(
                msg(
                    "Arrêt(s) {numbers} hors du quartier : placez chaque arrêt à l'intérieur de "
                    "son contour.",
                    numbers=", ".join(str(i) for i in numbers[outside]),
                )
            )
    return gpd.GeoDataFrame(
        {
            "name": [msg("Arrêt {number}", number=i).render(lang) for i in numbers],
            "reason": msg("choisi sur la carte").render(lang),
            "category": "chosen",
        },
        index=numbers,
        geometry=pts.to_numpy(),
        crs=pts.crs,
    )


def plan_visit(
    hood: Neighbourhood,
    *,
    n: int = 8,
    stops: gpd.GeoDataFrame | None = None,
    start: shapely.Point | None = None,
    loop: bool = False,
    max_minutes: float | None = None,
    dwell_min: float = DEFAULT_DWELL_MIN,
    lang: Lang = "fr",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> VisitRoute:
    """Plan the walking visit of a neighbourhood, on stops given or picked automatically.

    The one entry point of ``qet route``, the diagnostic and the service: the neighbourhood's
    own walking network and access table (built once by :func:`qet_geo.pipeline.
    build_neighbourhood`) give the stops (:func:`qet_geo.visit.stops.auto_stops`) and the walks
    between them (:func:`plan_route`), every stop inside the area the extract covers.

    Parameters
    ----------
    hood
        The neighbourhood, with its "walk" network (and its "walk" access table, or it is
        computed to pick the stops).
    n
        Number of stops to pick when ``stops`` is None (at least 2).
    stops
        The stops (see :func:`plan_route`), e.g. from :func:`qet_geo.visit.stops.read_stops`;
        None: pick ``n`` with :func:`qet_geo.visit.stops.auto_stops`.
    start
        Where the visit starts, a point in the network's CRS; None: at its first stop.
    loop
        Come back to the start (or to the first stop) at the end.
    max_minutes
        Time budget (walking plus dwell times, minutes); None: no budget.
    dwell_min
        Minutes spent at each stop without a ``dwell_min`` of its own.
    lang
        "fr" or "en": language of the names and reasons of the stops picked.
    max_snap_m
        Farthest a stop may be from a walkable street (m): the stops are snapped to it.

    Returns
    -------
    VisitRoute
        The visit, ready for :func:`qet_geo.visit.export.write_route`.

    Raises
    ------
    ValidationError
        ``hood`` has no walking network, or as :func:`auto_stops` and :func:`plan_route` do.
    DataCoverageError
        A stop (or the start) outside the extract's area or off the streets.
    """
    network = hood.networks.get("walk")
    if network is None:
        raise ValidationError(
            msg("Le quartier n'a pas de réseau piéton : construisez-le avec modes=('walk', ...).")
        )
    if stops is None:
        stops = auto_stops(
            hood.layers, n=n, access=hood.access.get("walk"), network=network, lang=lang
        )
    route = plan_route(
        network,
        stops,
        start=start,
        loop=loop,
        max_minutes=max_minutes,
        dwell_min=dwell_min,
        area=hood.layers.territory.working_area,
        max_snap_m=max_snap_m,
    )
    addresses = hood.layers.layers.get("addresses")
    if addresses is not None and len(addresses):
        found = nearest_address(addresses.to_crs(route.crs), list(route.stops.geometry.to_numpy()))
        given = route.stops["address"]
        filled = [
            g if isinstance(g, str) and g.strip() else f for g, f in zip(given, found, strict=True)
        ]
        route.stops["address"] = pd.Series(filled, index=route.stops.index, dtype=object)
    return route


@dataclass(frozen=True)
class _Walks:
    """The walks between every pair of the visit's points: the start (if any), then the stops."""

    time_min: FloatArray  # (k, k) along the fastest path; NaN off the network
    dist_m: FloatArray  # (k, k) along the same paths
    points: gpd.GeoSeries  # the k points, network CRS
    max_snap_m: float

    def paths(self, net: Network, order: list[int], *, loop: bool) -> list[shapely.LineString]:
        """The street paths from each point of ``order`` to the next (and back, for a loop)."""
        stops = [*order, order[0]] if loop and len(order) > 1 else order
        lines = street_paths(
            net, self.points.iloc[stops], weight="time", max_snap_m=self.max_snap_m
        )
        return list(lines)


_COMPUTED = ("order", "leg_m", "leg_min", "arrive_min", "leave_min", "dropped_rank")


def _stop_table(stops: gpd.GeoDataFrame, dwell: float) -> pd.DataFrame:
    """The stops' attributes with defaults filled in, validated."""
    table = pd.DataFrame(stops.drop(columns=stops.geometry.name)).copy()
    table = table.drop(columns=[c for c in _COMPUTED if c in table.columns])
    for column, default, floor in (("priority", 1.0, -math.inf), ("dwell_min", dwell, 0.0)):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = values.notna() & (~np.isfinite(values) | (values < floor))
            if (table[column].notna() & values.isna()).any() or bad.any():
                what = (
                    msg("des nombres")
                    if column == "priority"
                    else msg("des minutes positives ou nulles")
                )
                raise ValidationError(
                    msg(
                        "La colonne {column!r} des étapes doit contenir {what}.",
                        column=column,
                        what=what,
                    )
                )
            table[column] = values.fillna(default).astype(float)
        else:
            table[column] = default
    for column in ("name", "reason", "category", "address"):
        if column not in table.columns:
            table[column] = None
    return table


def _display_names(table: pd.DataFrame) -> npt.NDArray[np.object_]:
    names = [
        str(n) if isinstance(n, str) and n.strip() else str(i)
        for i, n in zip(table.index, table["name"], strict=True)
    ]
    return np.asarray(names, dtype=object)


def _quoted(names: Sequence[str] | npt.NDArray[np.object_], most: int = 5) -> Msg:
    """The first names, quoted the reader's way, "and N more" after ``most``."""
    shown = [str(x) for x in list(names)[:most]]
    more = len(names) - len(shown)
    parts: list[Msg | str] = [join([msg("« {name} »", name=x) for x in shown], ", ")]
    if more:
        parts.append(msg(" et {more} autre(s)", more=more))
    return join(parts, "")


def _check_reachable(
    cost: FloatArray, names: npt.NDArray[np.object_], first: int, max_snap_m: float
) -> None:
    off = np.isnan(np.diag(cost))
    if first and off[0]:
        raise DataCoverageError(
            msg(
                "Le point de départ est à plus de {max_snap_m:g} m de toute rue : partez d'une "
                "rue de l'extrait.",
                max_snap_m=max_snap_m,
            )
        )
    if off[first:].any():
        quoted = _quoted(names[off[first:]])
        raise DataCoverageError(
            msg(
                "{n} étape(s) à plus de {max_snap_m:g} m de toute rue : {names}. "
                "Sont-elles hors de l'extrait ? Placez-les sur une rue ou prenez un extrait plus "
                "grand.",
                n=int(off[first:].sum()),
                max_snap_m=max_snap_m,
                names=quoted,
            )
        )
    finite = np.isfinite(cost)
    both = finite & finite.T
    ref = 0 if first else int(np.argmax(both.sum(axis=1)))
    cut = ~both[ref]
    if not cut.any():
        return
    if first and cut[first:].all():
        raise ValidationError(
            msg(
                "Le point de départ est sur une partie du réseau piéton isolée de toutes les "
                "étapes : partez d'une rue reliée à elles."
            )
        )
    quoted = _quoted(names[cut[first:]])
    raise ValidationError(
        msg(
            "Étape(s) {names} injoignable(s) à pied depuis les autres : elles sont sur une "
            "partie du réseau piéton isolée du reste. Placez-les sur une rue reliée ou "
            "retirez-les.",
            names=quoted,
        )
    )


def _plan(
    net: Network,
    walk: _Walks,
    table: pd.DataFrame,
    pts: gpd.GeoSeries,
    start: shapely.Point | None,
    loop: bool,
    budget: float | None,
    method: str,
    first: int,
    default_dwell: float,
) -> VisitRoute:
    priority = table["priority"].to_numpy(float)
    dwell = table["dwell_min"].to_numpy(float)
    active = list(range(len(table)))
    dropped: list[int] = []
    min_keep = 1 if first else 2
    while True:
        order, used = _solve(walk.time_min, active, first, loop, priority, method)
        walking = route_cost(walk.time_min, order, loop=loop)
        total = walking + dwell[[p - first for p in order if p >= first]].sum()
        if budget is None or total <= budget + 1e-9:
            break
        if len(active) <= min_keep:
            kept = _quoted(_display_names(table.iloc[active]))
            raise ValidationError(
                msg(
                    "Le budget de {budget:g} min est trop court : même réduite à {kept}, la visite "
                    "dure {total:.0f} min ({walking:.0f} min de marche, {total_walking:.0f} min "
                    "d'arrêt). Augmentez le budget (--max-minutes) ou réduisez la durée d'arrêt.",
                    budget=budget,
                    kept=kept,
                    total=total,
                    walking=walking,
                    total_walking=total - walking,
                )
            )
        victim = _victim(walk.time_min, order, active, priority, dwell, first, loop)
        active.remove(victim)
        dropped.append(victim)
        logger.info("over budget (%.1f > %.1f min): dropped stop %s", total, budget, victim)
    return _assemble(
        net, walk, table, pts, start, loop, budget, order, used, dropped, first, default_dwell
    )


def _solve(
    cost: FloatArray,
    active: list[int],
    first: int,
    loop: bool,
    priority: FloatArray,
    method: str,
) -> tuple[list[int], str]:
    """Order the active stops (positions in the table); returns matrix positions."""
    nodes = ([0] if first else []) + [a + first for a in active]
    sub = cost[np.ix_(nodes, nodes)]
    local, used = _order(sub, start=0 if first else None, loop=loop, method=method)
    order = [nodes[i] for i in local]
    if loop and not first:
        # a loop has no beginning: start it at the most important stop
        top = max(range(len(order)), key=lambda i: (priority[order[i]], -active.index(order[i])))
        order = order[top:] + order[:top]
    return order, used


def _victim(
    cost: FloatArray,
    order: list[int],
    active: list[int],
    priority: FloatArray,
    dwell: FloatArray,
    first: int,
    loop: bool,
) -> int:
    """The stop to drop: lowest priority, then the one whose removal saves the most time."""
    low = min(priority[a] for a in active)
    best, best_gain = active[0], -math.inf
    for pos, node in enumerate(order):
        stop = node - first
        if node < first or priority[stop] != low:
            continue
        rest = order[:pos] + order[pos + 1 :]
        gain = route_cost(cost, order, loop=loop) - route_cost(cost, rest, loop=loop)
        gain += dwell[stop]
        if gain > best_gain + 1e-12:
            best, best_gain = stop, gain
    return best


def _assemble(
    net: Network,
    walk: _Walks,
    table: pd.DataFrame,
    pts: gpd.GeoSeries,
    start: shapely.Point | None,
    loop: bool,
    budget: float | None,
    order: list[int],
    used: str,
    dropped: list[int],
    first: int,
    default_dwell: float,
) -> VisitRoute:
    ids = list(table.index)
    stop_nodes = [p for p in order if p >= first]
    pairs = list(itertools.pairwise(order))
    if loop and len(order) > 1:
        pairs.append((order[-1], order[0]))

    def ident(p: int) -> Any:
        return ids[p - first] if p >= first else None

    leg_table = gpd.GeoDataFrame(
        {
            # object columns keep None (the start) apart from any id
            "from_id": pd.Series([ident(a) for a, _ in pairs], dtype=object),
            "to_id": pd.Series([ident(b) for _, b in pairs], dtype=object),
            "length_m": np.asarray([walk.dist_m[a, b] for a, b in pairs], dtype=float),
            "time_min": np.asarray([walk.time_min[a, b] for a, b in pairs], dtype=float),
        },
        geometry=walk.paths(net, order, loop=loop) if pairs else [],
        crs=net.crs,
    )
    leg_table.index = pd.RangeIndex(1, len(leg_table) + 1, name="leg")
    edges = _EdgeIndex(net)
    leg_table.insert(
        4, "streets", pd.Series([edges.runs(g) for g in leg_table.geometry], dtype=object).values
    )

    positions = [p - first for p in stop_nodes]
    out = table.iloc[positions].copy()
    dwell = out["dwell_min"].to_numpy(float)
    # the walk arriving at each stop: from the start, or none to the first stop
    leg_m = np.zeros(len(positions))
    leg_min = np.zeros(len(positions))
    lead = 0 if first else 1
    leg_m[lead:] = leg_table["length_m"].to_numpy()[: len(positions) - lead]
    leg_min[lead:] = leg_table["time_min"].to_numpy()[: len(positions) - lead]
    leave = np.cumsum(leg_min + dwell)
    out.insert(0, "order", np.arange(1, len(positions) + 1))
    out["leg_m"] = leg_m
    out["leg_min"] = leg_min
    out["arrive_min"] = leave - dwell
    out["leave_min"] = leave
    out["street"] = pd.Series(
        edges.street_of(list(pts.iloc[positions].to_numpy())), index=out.index, dtype=object
    )
    stops_gdf = gpd.GeoDataFrame(out, geometry=pts.iloc[positions].to_numpy(), crs=net.crs)

    gone = table.iloc[dropped].copy()
    gone["dropped_rank"] = np.arange(1, len(dropped) + 1)
    gone_gdf = gpd.GeoDataFrame(gone, geometry=pts.iloc[dropped].to_numpy(), crs=net.crs)

    streets = _streets_around(net, [*leg_table.geometry, *pts.to_numpy()])
    return VisitRoute(
        stops=stops_gdf,
        legs=leg_table,
        dropped=gone_gdf,
        start=start,
        loop=loop,
        method=used,
        dwell_min=default_dwell,
        max_minutes=budget,
        streets=streets,
    )


def _streets_around(net: Network, geoms: Sequence[Any], margin_m: float = 120.0) -> gpd.GeoSeries:
    """Each street once (one of two twins), cut to the box around ``geoms``."""
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    box = (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
    idx = np.arange(net.n_edges)
    canonical = (net.edge_twin < 0) | (idx < net.edge_twin)
    geom = net.edge_geometry[canonical]
    near = shapely.intersects(geom, shapely.box(*box))
    cut = shapely.clip_by_rect(geom[near], *box)
    cut = cut[~shapely.is_empty(cut)]
    return gpd.GeoSeries(cut, crs=net.crs)
