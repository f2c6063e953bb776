"""Map of a neighbourhood visit ("visite du quartier"): numbered stops, the path, leg times.

Input contract (what :func:`qet_geo.visit.plan.plan_visit` gives, or any hand-made route):

- ``stops``: a GeoDataFrame of points, one row per stop, with ``order`` (the visiting order,
  sortable), ``name`` (the place), ``reason`` (why the pilot team stops there: "marché :
  alimentation durable") and ``leg_min`` (walking minutes from the previous stop; missing or 0
  for the first stop);
- ``path``: the walked path, a GeoSeries (or GeoDataFrame) of LineStrings: either one line for the
  whole route, passing by the stops in order, or one line per leg (``len(stops) - 1`` lines, in
  order; ``len(stops)`` for a loop, the last one the walk back to the first stop, as
  :attr:`qet_geo.visit.plan.VisitRoute.legs`). Without it, straight dashed segments join the
  stops.
- ``loop``: the visit comes back to its first stop; the walk back is drawn dashed, labelled with
  its time (``return_min``, or the last ``time_min`` of a ``path`` GeoDataFrame) and listed as
  the last leg of the itinerary.

Any CRS; lengths are measured in Lambert-93 (EPSG:2154).
"""

from __future__ import annotations

import math
from itertools import pairwise

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from maps._base import Panel, add_css, add_layer_control, check_frame, prepare
from maps._labels import fmt_number
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import ValidationError
from qet_geo.escaping import escape_html
from qet_geo.i18n import msg

__all__ = ["ROUTE_COLUMNS", "make_route_map"]

#: Columns the stops of a route must have.
ROUTE_COLUMNS: tuple[str, ...] = ("order", "name", "reason", "leg_min")

ROUTE_COLOUR = "#c0392b"

_STOP_CSS = """
.qet-stop div { width: 26px; height: 26px; border-radius: 50%; background: #c0392b; color: #fff;
  border: 2px solid #fff; box-shadow: 0 0 3px rgba(0, 0, 0, 0.6); text-align: center;
  font: bold 13px/22px "DejaVu Sans", Arial, sans-serif; box-sizing: border-box; }
.qet-leg div { background: rgba(255, 255, 255, 0.95); color: #7b241c; border: 1px solid #c0392b;
  border-radius: 9px; padding: 0 5px; white-space: nowrap; text-align: center;
  font: bold 11px/16px "DejaVu Sans", Arial, sans-serif; }
"""


def make_route_map(
    stops: gpd.GeoDataFrame,
    path: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    *,
    title: str | None = None,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
    loop: bool = False,
    return_min: float | None = None,
) -> folium.Map:
    """Draw a visit route: numbered stops, the path, each leg's walking time, the itinerary.

    Parameters
    ----------
    stops
        Points with ``order``, ``name``, ``reason`` and ``leg_min`` (see the module's contract).
    path
        LineStrings: one for the whole route, or one per leg; straight segments when None.
    title
        Title of the itinerary box; "Visite du quartier" by default.
    m
        The map to draw on; a new one fitted to the stops and path when None.
    lang
        "fr" (default) or "en".
    offline
        For a new map: True (default) for a page that loads nothing from outside.
    loop
        The visit comes back to its first stop: the walk back is drawn (dashed) and listed.
    return_min
        Walking minutes of the walk back (loop only); by default the last ``time_min`` of
        ``path`` when it is a GeoDataFrame of legs with that column.

    Returns
    -------
    folium.Map
        ``m`` or the new map, with a "Parcours" layer (path and leg times), a "Arrêts" layer
        (numbered stops with their reason in the tooltip) and the itinerary box.

    Raises
    ------
    ValidationError
        Missing columns, geometries that are not points or lines, repeated ``order`` values,
        or negative leg times.
    """
    check_frame(stops, "stops", columns=ROUTE_COLUMNS, geom_types=("Point",))
    ordered = stops[stops.geometry.notna() & ~stops.geometry.is_empty]
    if ordered["order"].duplicated().any():
        raise ValidationError(
            msg(
                "stops a des valeurs répétées dans 'order' : donnez à chaque arrêt sa propre "
                "position."
            )
        )
    legs_min = pd.to_numeric(ordered["leg_min"], errors="coerce")
    if (legs_min < 0).any():
        raise ValidationError(msg("stops a des temps d'étape négatifs dans 'leg_min'."))
    ordered = ordered.assign(leg_min=legs_min).sort_values("order", kind="stable")
    ordered = ordered.to_crs(WORK_CRS)
    if (
        return_min is None
        and loop
        and isinstance(path, gpd.GeoDataFrame)
        and len(path) == len(ordered)
        and "time_min" in path.columns
    ):
        return_min = float(path["time_min"].iloc[-1])
    lines = _path_lines(path)
    extent = ordered if lines is None else pd.concat([ordered[["geometry"]], lines.to_frame()])
    m, language = prepare(
        m, gpd.GeoDataFrame(extent, geometry="geometry", crs=WORK_CRS), lang=lang, offline=offline
    )
    legs = _legs(ordered, lines, loop=loop and len(ordered) > 1)
    back = legs.pop() if loop and len(ordered) > 1 else None
    add_css(m, extra=_STOP_CSS, name="qet_route_css")

    route_layer = folium.FeatureGroup(name=msg("Parcours").render(language))
    # the legs when they are the path's own lines or straight segments; else the path as given
    per_leg = lines is None or len(lines) == len(legs) + (back is not None)
    drawn = gpd.GeoSeries(legs, crs=WORK_CRS) if per_leg or lines is None else lines
    for line in drawn.to_crs(WGS84):
        _polyline(line, "8 6" if lines is None else None).add_to(route_layer)
    if back is not None:
        # the walk back to the first stop, dashed as on the roadbook's sketch
        back_line = gpd.GeoSeries([back], crs=WORK_CRS).to_crs(WGS84).iloc[0]
        _polyline(back_line, "10 8", tooltip=msg("Retour au départ").render(language)).add_to(
            route_layer
        )
    labelled = [*legs, *([back] if back is not None else [])]
    leg_points = gpd.GeoSeries(
        [leg.interpolate(0.5, normalized=True) for leg in labelled], crs=WORK_CRS
    ).to_crs(WGS84)
    leg_minutes = [*ordered["leg_min"].iloc[1:], *([return_min] if back is not None else [])]
    for i, (point, minutes) in enumerate(zip(leg_points, leg_minutes, strict=True)):
        if minutes is None or pd.isna(minutes):
            continue
        text = f"{fmt_number(float(minutes), language, decimals=0)} min"
        if i == len(legs):
            text = f"↺ {text}"
        folium.Marker(
            (round(point.y, 6), round(point.x, 6)),
            icon=folium.DivIcon(
                html=f"<div>{escape_html(text)}</div>",
                icon_size=(48, 18),
                icon_anchor=(24, 9),
                class_name="qet-leg",
            ),
            interactive=False,
        ).add_to(route_layer)
    route_layer.add_to(m)

    stop_layer = folium.FeatureGroup(name=msg("Arrêts").render(language))
    items: list[str] = []
    wgs = ordered.to_crs(WGS84)
    for number, (_, stop) in enumerate(wgs.iterrows(), start=1):
        leg = stop["leg_min"]
        name = _text(stop["name"])
        reason = _text(stop["reason"])
        leg_number = (
            "" if number == 1 or pd.isna(leg) else fmt_number(float(leg), language, decimals=0)
        )
        leg_text = (
            msg("{minutes} min depuis l'arrêt précédent", minutes=leg_number).render(language)
            if leg_number
            else ""
        )
        tip = f"<b>{number}. {escape_html(name)}</b>"
        if reason:
            tip += f"<br>{msg('Pourquoi').render(language)} : {escape_html(reason)}"
        if leg_text:
            tip += f"<br>{escape_html(leg_text)}"
        folium.Marker(
            (round(stop.geometry.y, 6), round(stop.geometry.x, 6)),
            icon=folium.DivIcon(
                html=f"<div>{number}</div>",
                icon_size=(26, 26),
                icon_anchor=(13, 13),
                class_name="qet-stop",
            ),
            tooltip=folium.Tooltip(tip, sticky=False),
        ).add_to(stop_layer)
        suffix = f" ({leg_number} min)" if leg_number else ""
        items.append(
            f"<li><b>{escape_html(name)}</b>{suffix}"
            + (f"<br><span style='color:#555'>{escape_html(reason)}</span>" if reason else "")
            + "</li>"
        )
    stop_layer.add_to(m)
    if back is not None:
        back_text = msg("Retour au départ").render(language)
        back_length = f"{fmt_number(float(back.length), language, decimals=0)} m"
        back_time = (
            f"{fmt_number(float(return_min), language, decimals=0)} min · "
            if return_min is not None and not pd.isna(return_min)
            else ""
        )
        items.append(
            f"<li class='qet-return'><b>↺ {escape_html(back_text)}</b> "
            f"({escape_html(back_time + back_length)})</li>"
        )

    total_min = float(np.nansum(ordered["leg_min"].iloc[1:].to_numpy(dtype=float)))
    if back is not None and return_min is not None and not pd.isna(return_min):
        total_min += float(return_min)
    length_km = sum(float(leg.length) for leg in labelled) / 1000 if lines is not None else math.nan
    heading = title or msg("Visite du quartier").render(language)
    summary = msg(
        "{n} arrêts, {minutes} min de marche",
        n=len(ordered),
        minutes=fmt_number(total_min, language, decimals=0),
    ).render(language)
    if not math.isnan(length_km):
        summary += f" ({fmt_number(length_km, language)} km)"
    if back is not None:
        summary += msg(", en boucle : retour au départ").render(language)
    body = (
        f'<div class="qet-legend-title">{escape_html(heading)}</div>'
        f"<div>{escape_html(summary)}</div><ol>{''.join(items)}</ol>"
    )
    Panel(body, position="bottomleft", css_class="qet-legend").add_to(m)
    add_layer_control(m)
    return m


def _polyline(line: BaseGeometry, dash: str | None, tooltip: str | None = None) -> folium.Element:
    """A leg drawn as the route is: a white halo under the route colour (dashed when ``dash``)."""
    group = folium.FeatureGroup(control=False)
    for part in getattr(line, "geoms", [line]):
        coords = [(round(y, 6), round(x, 6)) for x, y in part.coords]
        folium.PolyLine(coords, color="#ffffff", weight=8, opacity=0.9).add_to(group)
        folium.PolyLine(
            coords,
            color=ROUTE_COLOUR,
            weight=4.5,
            opacity=0.95,
            dash_array=dash,
            tooltip=escape_html(tooltip) if tooltip else None,
        ).add_to(group)
    return group


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _path_lines(path: gpd.GeoSeries | gpd.GeoDataFrame | None) -> gpd.GeoSeries | None:
    if path is None:
        return None
    if isinstance(path, gpd.GeoDataFrame):
        series = path.geometry
    elif isinstance(path, gpd.GeoSeries):
        series = path
    else:
        raise ValidationError(
            msg(
                "path doit être une GeoSeries de LineStrings, pas {type_name}.",
                type_name=type(path).__name__,
            )
        )
    check_frame(series.to_frame("geometry"), "path", geom_types=("LineString", "MultiLineString"))
    series = series[series.notna() & ~series.is_empty]
    return series.to_crs(WORK_CRS)


def _legs(
    stops: gpd.GeoDataFrame, lines: gpd.GeoSeries | None, *, loop: bool = False
) -> list[BaseGeometry]:
    """Return one line per leg: the given legs, the path cut at the stops, or straight lines.

    For a loop, the last line is the walk back to the first stop.
    """
    points = list(stops.geometry)
    if loop:
        points.append(points[0])
    n_legs = len(points) - 1
    straight: list[BaseGeometry] = [LineString([a, b]) for a, b in pairwise(points)]
    if lines is None or n_legs <= 0:
        return straight
    if len(lines) == n_legs:
        return [
            shapely.line_merge(line) if line.geom_type != "LineString" else line for line in lines
        ]
    merged = shapely.line_merge(shapely.union_all(list(lines)))
    if merged.geom_type != "LineString":
        return straight
    positions = [merged.project(point) for point in points]
    if all(b <= a for a, b in pairwise(positions)):
        merged = merged.reverse()
        positions = [merged.project(point) for point in points]
    if any(b < a for a, b in pairwise(positions)):
        return straight
    return [
        substring(merged, a, b) if b > a else LineString([p, q])
        for a, b, p, q in zip(positions[:-1], positions[1:], points[:-1], points[1:], strict=True)
    ]
