"""Built-constraint indicators per home: how far daily life is, home by home.

A home is a residential building (its representative point; weighted by its population when a
census was allocated to buildings) or an INSEE 200 m cell ("carreau", its centroid; weighted by its
population). For one travel mode, :func:`home_access` gives, aligned to the homes' index, the
columns of :data:`qet_geo.constraints.indicators.ACCESS_INDICATORS`, named and described in the
registry :mod:`qet_geo.constraints.indicators` (which also holds the radii and times):

- per category of :mod:`qet_geo.taxonomy`: the network distance (m) and time (min) to the nearest
  amenity (NaN when none is within the cutoff), and the amenities reachable within each of
  ``THRESHOLDS_MIN`` (``food_shop_m``, ``food_shop_min``, ``food_shop_n5``...);
- ``TRANSIT_STOPS``: transit stops within the transit radius of network distance, and
  ``DEPARTURES``: departures per hour in the weekday morning peak at the best stop within it
  (GTFS; NaN without a timetable);
- ``CYCLE_KM``: length of cycle tracks and lanes within the cycle radius (straight line), km;
- ``SLOPE``: mean absolute slope of the streets within the slope radius, length-weighted, % (DEM;
  NaN without one);
- ``INTERSECTIONS``: street intersections (3 or more street ends) per km² within the
  intersection radius;
- ``SCORE``: share of the essential "15-minute city" categories reachable within ``SCORE_MIN``
  minutes (:data:`qet_geo.taxonomy.ESSENTIAL_CATEGORIES`);
- ``REACHES_BORDER`` (given the extract's extent): whether the streets reached within
  ``SCORE_MIN`` minutes come within :data:`qet_geo.network.isochrone.BORDER_MARGIN_M` of the
  extract's edge, so that the home's 15-minute figures may be cut off (a flag, bool, kept out of
  the profiles and link models).

These are the constraints the method holds the usage profiles against (daily mobility: transit,
cycle network, slope, intersections; food: food shops and markets; purchases: second hand, repair,
local shops; plane: railway station; everyday life: the 15-minute set): each registry entry names
the usages it bears on.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from qet_geo._validate import geo_frame, travel_mode
from qet_geo.constraints.indicators import (
    CYCLE_KM,
    CYCLE_RADIUS_M,
    DEPARTURES,
    INTERSECTION_RADIUS_M,
    INTERSECTIONS,
    REACHES_BORDER,
    SCORE,
    SCORE_MIN,
    SLOPE,
    SLOPE_RADIUS_M,
    THRESHOLDS_MIN,
    TRANSIT_RADIUS_M,
    TRANSIT_STOPS,
    ZONE_INDICATORS,
    nearest_m,
    nearest_min,
    reachable,
)
from qet_geo.crs import WGS84
from qet_geo.errors import DataCoverageError, ValidationError
from qet_geo.i18n import msg
from qet_geo.layers import NeighbourhoodLayers
from qet_geo.network.graph import Network, build_network
from qet_geo.network.isochrone import minutes_to_border
from qet_geo.network.queries import count_within, nearest
from qet_geo.taxonomy import CATEGORIES, ESSENTIAL_CATEGORIES

__all__ = [
    "border_homes",
    "home_access",
    "homes_from_buildings",
    "homes_from_cells",
    "isochrones_from_extract",
    "neighbourhood_access",
    "score_distribution",
    "zone_indicators",
]

log = logging.getLogger(__name__)

#: Farthest distance searched for the nearest amenity (m): beyond it the category is out of reach.
NEAREST_CUTOFF_M = 5000.0


def homes_from_buildings(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the residential buildings as home points (representative points), with a weight.

    The weight is the building's ``population`` when a census was allocated, else 1 (a building).
    """
    _require_columns(buildings, ["residential"], "buildings")
    res = buildings[buildings["residential"].astype(bool)]
    if res.empty:
        raise ValidationError(
            msg(
                "Aucun bâtiment résidentiel dans le territoire : aucun logement d'où mesurer. "
                "Vérifiez que l'extrait couvre le quartier, ou prenez les carreaux comme "
                "logements."
            )
        )
    weight = res["population"] if "population" in res.columns else pd.Series(1.0, res.index)
    return gpd.GeoDataFrame(
        {"kind": "building", "weight": weight.astype(float).fillna(0.0)},
        geometry=res.geometry.representative_point(),
        crs=res.crs,
        index=res.index,
    )


def homes_from_cells(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return INSEE 200 m cells as home points (centroids), weighted by their population."""
    _require_columns(cells, ["population"], "cells")
    frame = cells.set_index("cell_id") if "cell_id" in cells.columns else cells
    return gpd.GeoDataFrame(
        {"kind": "cell", "weight": frame["population"].astype(float).fillna(0.0)},
        geometry=frame.geometry.centroid,
        crs=frame.crs,
        index=frame.index,
    )


def home_access(
    homes: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    *,
    mode: Literal["walk", "bike"] = "walk",
    transit_stops: gpd.GeoDataFrame | None = None,
    cycleways: gpd.GeoDataFrame | None = None,
    categories: Sequence[str] = CATEGORIES,
    speed_kmh: float | None = None,
    network: Network | None = None,
    extent: BaseGeometry | None = None,
) -> pd.DataFrame:
    """Compute every built-constraint indicator for every home, for one mode.

    Parameters
    ----------
    homes
        Home points (see :func:`homes_from_buildings`, :func:`homes_from_cells`), EPSG:2154.
    nodes, edges
        The street graph of ``mode`` (:meth:`qet_geo.inputs.osm.OsmData.graph`); a ``grade`` column on
        the edges (from a DEM) slows uphill travel and gives the slope indicator.
    amenities
        Amenity points with a ``category`` column.
    mode
        "walk" (4.5 km/h by default) or "bike" (15 km/h).
    transit_stops
        Stops; with a ``departures_per_hour`` column (GTFS) the best frequency within the transit
        radius is given. Defaults to the ``transit_stop`` amenities.
    cycleways
        Cycle tracks and lanes (lines).
    categories
        Categories to report, all of the taxonomy's by default (absent ones give NaN and 0).
    speed_kmh
        Flat speed, instead of the mode's default.
    network
        A network already built from ``nodes`` and ``edges`` (saves rebuilding it).
    extent
        The extract's data extent, a polygon in EPSG:2154: adds the border flag
        ``REACHES_BORDER`` (:func:`qet_geo.network.isochrone.minutes_to_border`).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``homes.index``; the columns listed in the module docstring, then ``weight``,
        ``snap_m`` and ``off_network``.
    """
    travel_mode(mode)
    _require_columns(amenities, ["category"], "amenities")
    net = network or build_network(nodes, edges, mode=mode, speed_kmh=speed_kmh)
    cats = list(categories)

    stops = transit_stops
    if stops is None:
        stops = amenities[amenities["category"] == "transit_stop"]
    with _once_each_warning():
        near = nearest(net, homes, amenities, categories=cats, cutoff_m=NEAREST_CUTOFF_M)
        counts = count_within(net, homes, amenities, categories=cats, thresholds_min=THRESHOLDS_MIN)
        transit = _transit(net, homes, stops)
    out = pd.concat([near.drop(columns=["snap_m", "off_network"]), counts], axis=1)
    # the documented column order: per category, distance, time and counts
    ordered = [
        name
        for c in cats
        for name in (nearest_m(c), nearest_min(c), *(reachable(c, t) for t in THRESHOLDS_MIN))
    ]
    out = out[[*ordered, "snap_m", "off_network"]]
    out = out.join(transit)
    out[CYCLE_KM] = _cycle_km(homes, cycleways)
    out[SLOPE] = _street_slope(homes, edges)
    out[INTERSECTIONS] = _intersection_density(homes, nodes)
    essentials = [c for c in ESSENTIAL_CATEGORIES if c in cats]
    reach = np.column_stack([out[reachable(c, SCORE_MIN)].to_numpy() > 0 for c in essentials])
    out[SCORE] = reach.mean(axis=1) if essentials else np.nan
    if extent is not None:
        border = minutes_to_border(net, homes, extent, limit_min=SCORE_MIN)
        out[REACHES_BORDER] = (border <= SCORE_MIN).to_numpy()  # NaN: beyond, or off the network
    out["weight"] = homes["weight"].to_numpy() if "weight" in homes.columns else 1.0
    out.attrs.update({"mode": mode})
    return out


@contextmanager
def _once_each_warning() -> Iterator[None]:
    """Emit each distinct data warning once: the engine is called several times on the same
    homes and amenities and would repeat itself."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            warnings.warn(w.message, stacklevel=4)


def _require_columns(gdf: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValidationError(
            msg(
                "La couche {what} n'a pas la ou les colonnes {missing}.",
                what=what,
                missing=", ".join(missing),
                columns=", ".join(map(str, gdf.columns)),
            )
        )


def _transit(net: Network, homes: gpd.GeoDataFrame, stops: gpd.GeoDataFrame) -> pd.DataFrame:
    """Stops within the transit radius (network distance), and the best departures per hour among
    them."""
    out = pd.DataFrame(index=homes.index)
    if stops.empty:
        out[TRANSIT_STOPS] = 0
        out[DEPARTURES] = np.nan
        return out
    pts = gpd.GeoDataFrame(
        {"category": np.full(len(stops), "stop")}, geometry=stops.geometry.to_numpy(), crs=stops.crs
    )
    n = count_within(net, homes, pts, thresholds_m=[TRANSIT_RADIUS_M], categories=["stop"])
    out[TRANSIT_STOPS] = n.iloc[:, 0].to_numpy()
    if "departures_per_hour" not in stops.columns:
        out[DEPARTURES] = np.nan
        return out
    # best frequency within the radius, exactly: a stop joins every level at or below its own
    # frequency; a home's best is the highest level whose nearest stop is within the radius
    freq = stops["departures_per_hour"].fillna(0.0).to_numpy(float)
    levels = np.unique(freq[freq > 0])
    best = np.zeros(len(homes))
    if len(levels):
        rows, labels = [], []
        for i, level in enumerate(levels):
            sel = np.flatnonzero(freq >= level)
            rows.append(sel)
            labels += [f"l{i}"] * len(sel)
        take = np.concatenate(rows)
        leveled = gpd.GeoDataFrame(
            {"category": labels}, geometry=stops.geometry.to_numpy()[take], crs=stops.crs
        )
        names = [f"l{i}" for i in range(len(levels))]
        d = nearest(net, homes, leveled, categories=names, cutoff_m=TRANSIT_RADIUS_M)
        within = np.column_stack([d[f"{name}_m"].to_numpy() <= TRANSIT_RADIUS_M for name in names])
        reached = within.any(axis=1)
        top = within.shape[1] - 1 - np.argmax(within[:, ::-1], axis=1)
        best = np.where(reached, levels[top], 0.0)
    out[DEPARTURES] = best
    return out


def _cycle_km(homes: gpd.GeoDataFrame, cycleways: gpd.GeoDataFrame | None) -> np.ndarray:
    """Length of cycleways within the radius of each home (straight line), in km.

    Each segment of a cycleway near a home is cut by the home's disc exactly (the roots of
    ``|A + t (B - A) - P| = R`` along the segment), with no polygonal circle; the segments near
    each home are read from a grid, one home at a time (:mod:`qet_geo.constraints._discs`).
    """
    if cycleways is None or cycleways.empty:
        return np.zeros(len(homes))
    parts = shapely.get_parts(cycleways.geometry.to_numpy())
    parts = parts[np.isin(shapely.get_type_id(parts), [1, 2])]  # LineString, LinearRing
    from qet_geo.constraints import _discs  # numba: imported when first needed

    a, b, _ = _discs.segments(parts)
    return _discs.length_inside(_xy(homes), a, b, CYCLE_RADIUS_M) / 1000.0


def _xy(homes: gpd.GeoDataFrame) -> np.ndarray:
    """Home coordinates, one row per home (NaN for a missing or empty geometry)."""
    geoms = homes.geometry.to_numpy()
    xy = np.full((geoms.size, 2), np.nan)
    point = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    xy[point] = shapely.get_coordinates(geoms[point])
    return xy


def _street_slope(homes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> np.ndarray:
    """Length-weighted mean absolute slope (%) of the street edges within the radius."""
    column = "mean_abs_grade" if "mean_abs_grade" in edges.columns else "grade"
    if column not in edges.columns:
        return np.full(len(homes), np.nan)
    grade = np.abs(edges[column].to_numpy(float))
    from qet_geo.constraints import _discs  # numba: imported when first needed

    ok = np.isfinite(grade)
    a, b, line = _discs.segments(edges.geometry.to_numpy()[ok])
    length = edges["length"].to_numpy(float)[ok]
    num, den = _discs.lines_within(_xy(homes), a, b, line, SLOPE_RADIUS_M, grade[ok], length)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / den, np.nan)


def _intersection_density(homes: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame) -> np.ndarray:
    """Intersections (3+ street ends) per km² within the radius."""
    inter = nodes[nodes["street_count"] >= 3] if "street_count" in nodes.columns else nodes
    if inter.empty:
        return np.zeros(len(homes))
    tree = cKDTree(np.column_stack([inter["x"].to_numpy(), inter["y"].to_numpy()]))
    xy = shapely.get_coordinates(homes.geometry.to_numpy())
    counts = tree.query_ball_point(xy, r=INTERSECTION_RADIUS_M, return_length=True)
    area_km2 = np.pi * (INTERSECTION_RADIUS_M / 1000.0) ** 2
    return np.asarray(counts, dtype=float) / area_km2


def score_distribution(access: pd.DataFrame, *, column: str = SCORE) -> pd.DataFrame:
    """Return the weighted distribution of a per-home indicator over the neighbourhood.

    Parameters
    ----------
    access
        Output of :func:`home_access` (with its ``weight`` column: people, or buildings).
    column
        The indicator; for the 15-minute score each distinct value is a level (k of n categories).

    Returns
    -------
    pandas.DataFrame
        One row per value: ``homes`` (count), ``weight`` (people) and ``share`` (of the weight),
        sorted by value; ``attrs["weighted_mean"]`` holds the weighted mean.
    """
    _require_columns(access, [column, "weight"], "access")
    values = access[column]
    ok = values.notna()
    frame = pd.DataFrame({"value": values[ok], "weight": access.loc[ok, "weight"]})
    table = frame.groupby("value").agg(homes=("weight", "size"), weight=("weight", "sum"))
    total = table["weight"].sum()
    table["share"] = table["weight"] / total if total > 0 else np.nan
    table.attrs["weighted_mean"] = (
        float((frame["value"] * frame["weight"]).sum() / total) if total > 0 else float("nan")
    )
    return table


def neighbourhood_access(
    layers: NeighbourhoodLayers,
    *,
    mode: Literal["walk", "bike"] = "walk",
    homes: Literal["buildings", "cells"] = "buildings",
    speed_kmh: float | None = None,
    network: Network | None = None,
) -> gpd.GeoDataFrame:
    """Compute the indicators for every home of a neighbourhood, as a GeoDataFrame of points.

    Homes are those inside the territory; amenities, stops and streets come from the whole working
    area (territory plus buffer), so that the shop across the border counts. Homes whose
    15-minute reach comes to the extract's own edge (its data extent,
    :attr:`qet_geo.inputs.osm.OsmData.bounds`) are flagged in ``REACHES_BORDER``; the edge of
    the working area, chosen with the territory's buffer, is not the extract's.

    Parameters
    ----------
    layers
        The neighbourhood's layers (:func:`qet_geo.layers.build_layers`).
    mode
        "walk" or "bike".
    homes
        "buildings" (residential buildings, weighted by their population when a census was
        given) or "cells" (INSEE 200 m cells, weighted by population; needs the grid).
    speed_kmh
        Flat speed, instead of the mode's default.
    network
        The mode's network already built from ``layers.graphs[mode]`` (saves rebuilding it).
    """
    points = _territory_homes(layers, homes)
    nodes, edges = layers.graphs[mode]
    stops = layers.layers.get("transit_stops")
    table = home_access(
        points,
        nodes,
        edges,
        layers.layers["amenities"],
        mode=mode,
        transit_stops=stops,
        cycleways=layers.layers.get("cycleways"),
        speed_kmh=speed_kmh,
        network=network,
        extent=_extent(layers),
    )
    result = gpd.GeoDataFrame(table, geometry=points.geometry, crs=points.crs)
    result.index.name = "home_id"
    result.attrs.update(table.attrs)
    return result


def _territory_homes(
    layers: NeighbourhoodLayers, homes: Literal["buildings", "cells"]
) -> gpd.GeoDataFrame:
    """The home points of the territory."""
    if homes == "cells":
        if "cells" not in layers.layers:
            raise ValidationError(
                msg(
                    "Les carreaux comme logements demandent la grille INSEE : donnez-la avec "
                    "--census."
                )
            )
        points = homes_from_cells(layers.layers["cells"])
    elif homes == "buildings":
        points = homes_from_buildings(layers.layers["buildings"])
    else:
        raise ValidationError(
            msg("Logements {homes!r} inconnus : utilisez buildings ou cells.", homes=homes)
        )
    inside = shapely.intersects(layers.territory.geometry, points.geometry.to_numpy())
    points = points[inside]
    if points.empty:
        raise ValidationError(
            msg(
                "Aucun logement ({homes}) dans le territoire « {name} ».",
                homes=homes,
                name=layers.territory.name,
            )
        )
    return points


def _extent(layers: NeighbourhoodLayers) -> BaseGeometry:
    """The extract's data extent in EPSG:2154, as the whole-extract territory draws it."""
    from qet_geo.inputs.territory import territory_from_bounds

    return territory_from_bounds(layers.osm.bounds).geometry


def border_homes(
    layers: NeighbourhoodLayers,
    *,
    mode: Literal["walk", "bike"] = "walk",
    homes: Literal["buildings", "cells"] = "buildings",
    network: Network | None = None,
) -> pd.Series:
    """Flag the homes whose 15-minute reach comes to the extract's edge, without the rest.

    The column ``REACHES_BORDER`` of :func:`neighbourhood_access`, alone: one street network
    and one bounded search (:func:`qet_geo.network.isochrone.minutes_to_border`), for a quick
    look at the layers (``qet layers``).

    Parameters
    ----------
    layers
        The neighbourhood's layers.
    mode
        "walk" or "bike".
    homes
        "buildings" or "cells", as for :func:`neighbourhood_access`.
    network
        The mode's network already built from ``layers.graphs[mode]``.

    Returns
    -------
    pandas.Series
        Bool, named ``REACHES_BORDER``, indexed by the homes of the territory (``home_id``).
    """
    travel_mode(mode)
    points = _territory_homes(layers, homes)
    net = network or build_network(*layers.graphs[mode], mode=mode)
    with _once_each_warning():
        minutes = minutes_to_border(net, points, _extent(layers), limit_min=SCORE_MIN)
    out = pd.Series((minutes <= SCORE_MIN).to_numpy(), index=points.index, name=REACHES_BORDER)
    out.index.name = "home_id"
    return out


def isochrones_from_extract(
    osm_path: str | PathLike[str],
    points_lonlat: Sequence[tuple[float, float]],
    *,
    minutes: Sequence[float] = THRESHOLDS_MIN,
    mode: Literal["walk", "bike"] = "walk",
    dem: str | PathLike[str] | None = None,
) -> gpd.GeoDataFrame:
    """Draw walk or bike isochrones around lon/lat points from an OSM extract.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per point and time (EPSG:2154), with columns ``point`` (position in
        ``points_lonlat``), ``minutes``, ``reaches_border`` (the streets reached in time come
        to the extract's edge: the area may be cut off there,
        :func:`qet_geo.network.isochrone.minutes_to_border`), ``mode`` and ``area_km2``.
    """
    from qet_geo.inputs.osm import read_osm
    from qet_geo.inputs.territory import territory_from_bounds
    from qet_geo.network.isochrone import isochrones

    for lon, lat in points_lonlat:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError(
                msg(
                    "({lon}, {lat}) n'est pas un point lon/lat : donnez LON,LAT en degrés, par ex. "
                    "-3.36,47.75.",
                    lon=lon,
                    lat=lat,
                )
            )
    data = read_osm(osm_path)
    left, bottom, right, top = data.bounds
    outside = [
        (lon, lat)
        for lon, lat in points_lonlat
        if not (left <= lon <= right and bottom <= lat <= top)
    ]
    if outside:
        raise DataCoverageError(
            msg(
                "Point(s) {outside} hors de l'extrait {osm_path} (lon {left:.4f}..{right:.4f}, "
                "lat {bottom:.4f}..{top:.4f}). Vérifiez l'ordre LON,LAT et l'extrait.",
                outside=outside,
                osm_path=osm_path,
                left=left,
                right=right,
                bottom=bottom,
                top=top,
            ),
            path=osm_path,
        )
    nodes, edges = data.graph(mode)
    if dem is not None:
        from qet_geo.inputs.raster import edge_slope

        edges = edges.join(edge_slope(edges, dem))
    net = build_network(nodes, edges, mode=mode)
    pts = gpd.GeoSeries(shapely.points(np.asarray(points_lonlat, dtype=float)), crs=WGS84).to_crs(
        net.crs
    )
    extent = territory_from_bounds(data.bounds).geometry
    shapes = isochrones(net, pts, minutes=tuple(minutes), extent=extent).reset_index()
    shapes["mode"] = mode
    shapes["area_km2"] = shapes.area / 1e6
    return shapes


def zone_indicators(
    access: gpd.GeoDataFrame,
    *,
    zones: pd.Series | None = None,
    weights: pd.Series | None = None,
    indicators: Sequence[str] = ZONE_INDICATORS,
) -> pd.DataFrame:
    """Average per-home indicators over zones, weighted by the population of each home.

    Parameters
    ----------
    access
        Per-home indicators (:func:`neighbourhood_access`), home points as geometry.
    zones
        Zone of each home, aligned to ``access``; None: the INSEE 200 m cell ("carreau") of each
        home point, named as the survey respondents' cells are
        (:func:`qet_geo.inputs.census.point_to_cell_id`).
    weights
        Population of each home, aligned to ``access``; None: its ``weight`` column (people when
        a census was allocated, else 1 per building).
    indicators
        Columns to summarise; those absent from ``access`` are left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by zone (``zone_id``): the weighted mean of each indicator over the homes where it
        is defined (NaN where it is defined for none), ``population`` (sum of the weights) and
        ``homes`` (number of homes).
    """
    hint = msg("passez le résultat de neighbourhood_access (logements)")
    geo_frame(access, what="access", hint=hint)
    if zones is None:
        from qet_geo.inputs.census import point_to_cell_id

        zones = point_to_cell_id(access.geometry)
    if weights is None:
        _require_columns(access, ["weight"], "access")
        weights = access["weight"]
    if len(zones) != len(access) or len(weights) != len(access):
        raise ValidationError(
            msg("zones et weights doivent être alignés sur access (une valeur par logement).")
        )
    return _zone_indicators(
        access,
        zones.to_numpy(),
        weights.astype(float).fillna(0.0).clip(lower=0.0).to_numpy(),
        [c for c in indicators if c in access.columns],
    )


def _zone_indicators(
    access: pd.DataFrame, zones: np.ndarray, weights: np.ndarray, columns: list[str]
) -> pd.DataFrame:
    keep = pd.notna(zones)
    codes, labels = pd.factorize(pd.Series(zones[keep]), sort=True)
    n = len(labels)
    w = weights[keep]
    out = pd.DataFrame(index=pd.Index(labels.astype(str), name="zone_id"))
    for column in columns:
        values = access[column].to_numpy(dtype=float)[keep]
        ok = np.isfinite(values)
        num = np.bincount(codes[ok], weights=values[ok] * w[ok], minlength=n)
        den = np.bincount(codes[ok], weights=w[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[column] = np.where(den > 0, num / den, np.nan)
    out["population"] = np.bincount(codes, weights=w, minlength=n)
    out["homes"] = np.bincount(codes, minlength=n)
    return out
