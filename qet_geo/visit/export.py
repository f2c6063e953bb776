"""The visit written for the field: GPX, GeoJSON, a printable HTML roadbook with its SVG sketch.

- :func:`to_gpx`: for phones and GPS units; :func:`to_geojson`: for QGIS and web maps;
  :func:`to_roadbook`: a self-contained page to print;
- :func:`write_route`: all three at once, atomically; :func:`route_summary`: the figures as JSON;
- :data:`VISIT_FIGURES` and :func:`figure_text`: the figures a stop's reason quotes that are not
  per-home indicators of :data:`qet_geo.constraints.indicators.INDICATORS` (homes within 5
  minutes of a place...), each with its label and plain-language sentence.

The roadbook says every figure with its unit in the reader's language (decimal comma and thin
spaces in French, durations as "1 h 05 min"), lists the streets walked on each leg (from the
network's edges: the OSM ``name`` of each way, an unnamed way by its kind) and, for a loop, the
walk back to the start as a leg of its own. Every name from the data passes through
:func:`qet_geo.escaping.escape_html` where it enters the page.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Hashable
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from qet_geo.constraints.indicators import INDICATORS, SCORE, SCORE_MIN, get_indicator
from qet_geo.crs import WGS84
from qet_geo.errors import (
    InputFileError,
    ValidationError,
)
from qet_geo.escaping import escape_html, xml_chars
from qet_geo.i18n import LANGS, Lang, Msg, join, msg, number
from qet_geo.network.speeds import DEFAULT_SPEED_KMH
from qet_geo.visit._checks import _check_lang
from qet_geo.visit._streets import street_label

if TYPE_CHECKING:
    from qet_geo.visit.plan import VisitRoute

__all__ = [
    "VISIT_FIGURES",
    "figure_text",
    "route_summary",
    "to_geojson",
    "to_gpx",
    "to_roadbook",
    "write_route",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SVG_WIDTH = 760.0
_WGS84 = CRS.from_user_input(WGS84)

_OPEN_LABELS: dict[str, Msg] = {
    "held-karp": msg("ordre optimal (programmation dynamique de Held-Karp)"),
    "heuristic": msg("ordre quasi optimal (plus proche voisin, 2-opt et Or-opt)"),
    "nearest_neighbour": msg("ordre du plus proche voisin"),
    "trivial": msg("ordre unique"),
}


def _to_wgs84(route: VisitRoute) -> Transformer:
    return Transformer.from_crs(route.crs, _WGS84, always_xy=True)


def _lonlat(tr: Transformer, xy: FloatArray) -> FloatArray:
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


_WALK_KMH = DEFAULT_SPEED_KMH["walk"]
_AROUND_MIN = 5  # the walk around a place within which homes and amenities are counted

#: The figures a stop's reason may quote besides the registry's indicators: key → (label with
#: its unit, one plain-language sentence). The roadbook explains each figure it shows.
VISIT_FIGURES: dict[str, tuple[Msg, Msg]] = {
    "homes_n5": (
        msg("logements à {minutes} min à pied (nombre)", minutes=_AROUND_MIN),
        msg(
            "Nombre de logements d'où l'on rejoint ce lieu en {minutes} minutes de marche au "
            "plus, par les rues.",
            minutes=_AROUND_MIN,
        ),
    ),
    "amenities_n5": (
        msg("autres équipements à {minutes} min à pied (nombre)", minutes=_AROUND_MIN),
        msg(
            "Nombre d'autres commerces, services et équipements que l'on rejoint depuis ce lieu "
            "en {minutes} minutes de marche : plus il y en a, plus le lieu est animé.",
            minutes=_AROUND_MIN,
        ),
    ),
    "departures_per_hour": (
        msg("départs par heure (nombre)"),
        msg(
            "Nombre moyen de départs par heure à cet arrêt, bus, tram et trains confondus, sur "
            "la plage horaire étudiée du fichier d'horaires (GTFS)."
        ),
    ),
    "mean_min": (
        msg("temps moyen jusqu'aux besoins du quotidien (minutes)"),
        msg(
            "La moyenne, sur les besoins du quotidien présents dans le quartier, du temps de "
            "marche jusqu'au plus proche de chacun."
        ),
    ),
}


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def figure_text(key: str, value: Any) -> Msg | None:
    """A figure as a stop's reason quotes it ("408 logements à 5 min à pied"), or None.

    Parameters
    ----------
    key
        A key of :data:`VISIT_FIGURES` or the name of a per-home indicator of the registry
        (a travel time such as ``food_shop_min``, or the 15-minute score).
    value
        Its value, in the unit of the key.

    Returns
    -------
    Msg or None
        The figure in words with its unit; None when the value is unknown (NaN) or a count
        of zero: a reason never quotes "0 logements".
    """
    v = _finite(value)
    if v is None:
        return None
    if key in ("homes_n5", "amenities_n5", "departures_per_hour"):
        n = round(v)
        if n <= 0:
            return None
        if key == "homes_n5":
            if n == 1:
                return msg("1 logement à {minutes} min à pied", minutes=_AROUND_MIN)
            return msg(
                "{n} logements à {minutes} min à pied", n=number(n, decimals=0), minutes=_AROUND_MIN
            )
        if key == "amenities_n5":
            if n == 1:
                return msg("1 autre équipement à {minutes} min à pied", minutes=_AROUND_MIN)
            return msg(
                "{n} autres équipements à {minutes} min à pied",
                n=number(n, decimals=0),
                minutes=_AROUND_MIN,
            )
        return msg("{n} départs par heure", n=number(n, decimals=0))
    if key == "mean_min":
        return msg("en moyenne {minutes} min jusqu'à chacun", minutes=number(round(v), decimals=0))
    if key == SCORE:
        return msg(
            "{pct}\u00a0% des besoins du quotidien à moins de {minutes} min à pied",
            pct=number(round(100 * v), decimals=0),
            minutes=SCORE_MIN,
        )
    if key in INDICATORS and INDICATORS[key].symbol == "min":
        # the registry's label starts with its unit: "minutes jusqu'au commerce ... le plus proche"
        return msg(
            "{value} {label}", value=number(round(v), decimals=0), label=INDICATORS[key].label
        )
    return None


def _figure_meaning(key: str) -> tuple[Msg, Msg] | None:
    """The label and sentence of a figure a reason quotes, from the registry or the visit's."""
    if key in VISIT_FIGURES:
        return VISIT_FIGURES[key]
    if key in INDICATORS:
        entry = get_indicator(key)
        return entry.label, entry.sentence
    return None


_START = msg("Départ")
_BACK = msg("Retour au départ")
_TITLE = msg("Visite du quartier")


def _stop_label(route: VisitRoute, stop_id: Hashable, name: Any, lang: str) -> str:
    if isinstance(name, str) and name.strip():
        return name
    return msg("Étape {stop_id}", stop_id=stop_id).render(lang)


def to_gpx(route: VisitRoute, *, lang: Lang = "fr", title: str | None = None) -> str:
    """Return the visit as GPX 1.1: numbered waypoints in order and the track along the streets.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    lang
        "fr" or "en": language of the labels.
    title
        Name of the track; "Visite du quartier" by default.

    Returns
    -------
    str
        The GPX document: a "00 Départ" waypoint when the visit has a start, then one
        waypoint per stop named ``"01 <name>"``, ``"02 ..."`` with the reason as description
        and its nearest address (or street) as comment, and one track of one segment
        following the streets (WGS84).
    """
    import gpxpy.gpx

    tr = _to_wgs84(route)
    doc = gpxpy.gpx.GPX()
    doc.creator = "qet-geo"
    doc.name = xml_chars(title or _TITLE.render(lang))  # gpxpy escapes markup, not controls
    if route.start is not None:
        lon, lat = tr.transform(route.start.x, route.start.y)
        doc.waypoints.append(
            gpxpy.gpx.GPXWaypoint(latitude=lat, longitude=lon, name=f"00 {_START.render(lang)}")
        )
    xy = shapely.get_coordinates(route.stops.geometry.to_numpy())
    ll = _lonlat(tr, xy)
    for (stop_id, row), (lon, lat) in zip(route.stops.iterrows(), ll, strict=True):
        reason, category = row.get("reason"), row.get("category")
        where = next(
            (v.strip() for v in (row.get("address"), row.get("street")) if isinstance(v, str)),
            None,
        )
        doc.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=float(lat),
                longitude=float(lon),
                name=xml_chars(
                    f"{int(row['order']):02d} {_stop_label(route, stop_id, row.get('name'), lang)}"
                ),
                description=xml_chars(reason) if isinstance(reason, str) and reason else None,
                comment=xml_chars(where) if where else None,
                type=xml_chars(category) if isinstance(category, str) else None,
            )
        )
    track = gpxpy.gpx.GPXTrack(name=doc.name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for lon, lat in _lonlat(tr, shapely.get_coordinates(route.line)):
        segment.points.append(gpxpy.gpx.GPXTrackPoint(latitude=float(lat), longitude=float(lon)))
    track.segments.append(segment)
    doc.tracks.append(track)
    return str(doc.to_xml(version="1.1"))


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else round(float(value), 2)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    if pd.isna(value):
        return None
    return str(value)


def to_geojson(route: VisitRoute, *, lang: Lang = "fr") -> dict[str, Any]:
    """Return the visit as a GeoJSON FeatureCollection in WGS84 (EPSG:4326).

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    lang
        "fr" or "en": language of the streets' text (``streets_text``, unnamed ways' labels).

    Returns
    -------
    dict
        Features with a ``kind`` property: ``"start"`` (when given), ``"stop"`` (Points in
        visiting order, with ``id``, ``order``, ``name``, ``reason``, ``priority``, ``leg_m``,
        ``leg_min``, ``arrive_min``, ``street``, ``address``...), ``"leg"`` (one LineString per
        walk, with ``from_id``, ``to_id``, ``length_m``, ``time_min``, ``is_return`` (the walk
        back to the start of a loop), ``streets`` (the streets walked, in order: ``name`` (None
        for an unnamed way), ``highway``, ``label`` (the name, or the kind of an unnamed way)
        and ``length_m``) and ``streets_text`` ("Rue X (120 m), puis Place Y (40 m)")),
        ``"route"`` (the whole visit as one LineString, with ``length_m``, ``walk_min``,
        ``duration_min``, ``loop``) and ``"dropped"`` (stops left out for the budget).
    """
    tr = _to_wgs84(route)

    def geometry(geom: Any) -> dict[str, Any]:
        xy = np.round(_lonlat(tr, shapely.get_coordinates(geom)), 7).tolist()
        if shapely.get_type_id(geom) == shapely.GeometryType.POINT:
            return {"type": "Point", "coordinates": xy[0]}
        return {"type": "LineString", "coordinates": xy}

    def feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "properties": {k: _clean(v) for k, v in props.items()},
            "geometry": geometry(geom),
        }

    features: list[dict[str, Any]] = []
    if route.start is not None:
        features.append(feature(route.start, {"kind": "start", "id": None, "order": 0}))
    for stop_id, row in route.stops.iterrows():
        props = {"kind": "stop", "id": stop_id}
        props.update({k: v for k, v in row.items() if k != route.stops.geometry.name})
        features.append(feature(row.geometry, props))
    back = _return_position(route)
    for position, (leg, row) in enumerate(route.legs.iterrows()):
        runs = _runs(row)
        props = feature(
            row.geometry,
            {
                "kind": "leg",
                "leg": leg,
                "from_id": row["from_id"],
                "to_id": row["to_id"],
                "length_m": row["length_m"],
                "time_min": row["time_min"],
                "is_return": position == back,
                "streets_text": _streets_text(runs, lang),
            },
        )
        props["properties"]["streets"] = [
            {
                "name": r.get("name"),
                "highway": r.get("highway"),
                "label": _render(street_label(r), lang),
                "length_m": round(float(r["length_m"]), 1),
            }
            for r in runs
        ]
        features.append(props)
    features.append(
        feature(
            route.line,
            {
                "kind": "route",
                "length_m": route.length_m,
                "walk_min": route.walk_min,
                "duration_min": route.duration_min,
                "loop": route.loop,
                "method": route.method,
            },
        )
    )
    for stop_id, row in route.dropped.iterrows():
        props = {"kind": "dropped", "id": stop_id}
        props.update({k: v for k, v in row.items() if k != route.dropped.geometry.name})
        features.append(feature(row.geometry, props))
    return {"type": "FeatureCollection", "features": features}


def route_summary(route: VisitRoute) -> dict[str, Any]:
    """Return the visit's figures as plain JSON-ready values.

    Returns
    -------
    dict
        ``order`` (stop ids in visiting order), ``length_m``, ``duration_min`` (walking plus
        dwell), ``walk_min``, ``dwell_min`` (total at the stops), ``dropped`` (ids, in the
        order they were dropped), ``loop``, ``return_m`` and ``return_min`` (the walk back to
        the start of a loop, included in the totals; None for a one-way visit), ``method``
        and ``max_minutes``.
    """
    back = route.return_leg
    return {
        "order": [_clean(i) for i in route.stops.index],
        "length_m": round(route.length_m, 1),
        "duration_min": round(route.duration_min, 1),
        "walk_min": round(route.walk_min, 1),
        "dwell_min": round(route.dwell_total_min, 1),
        "dropped": [_clean(i) for i in route.dropped.index],
        "loop": route.loop,
        "return_m": None if back is None else round(float(back["length_m"]), 1),
        "return_min": None if back is None else round(float(back["time_min"]), 1),
        "method": route.method,
        "max_minutes": route.max_minutes,
    }


def _return_position(route: VisitRoute) -> int | None:
    """Position in ``route.legs`` of the walk back to the start, None for a one-way visit."""
    return len(route.legs) - 1 if route.return_leg is not None else None


def _render(text: Msg | str, lang: str) -> str:
    return text.render(lang) if isinstance(text, Msg) else str(text)


def _runs(row: pd.Series) -> list[dict[str, Any]]:
    runs = row.get("streets")
    return list(runs) if isinstance(runs, list | tuple) else []


def _streets_text(runs: list[dict[str, Any]], lang: str) -> str:
    """ "Rue X (120 m), puis Place Y (40 m)": the streets of a leg, plain text (not escaped)."""
    parts = [
        msg(
            "{street} ({length})",
            street=street_label(r),
            length=_fmt_m(float(r["length_m"]), lang),
        )
        for r in runs
    ]
    return join(parts, msg(", puis ")).render(lang) if parts else ""


def _fmt_min(minutes: float) -> str:
    """A duration as "1 h 05 min" or "12 min" (the same in French and English)."""
    total = round(minutes)
    if total >= 60:
        return f"{total // 60}\u00a0h\u00a0{total % 60:02d}\u00a0min"
    return f"{total}\u00a0min"


def _fmt_m(metres: float, lang: str) -> str:
    """A distance as "850 m" or "6,25 km" (decimal comma and thin spaces in French)."""
    if metres >= 1000:
        return f"{number(metres / 1000, decimals=2).render(lang)}\u00a0km"
    return f"{number(round(metres), decimals=0).render(lang)}\u00a0m"


def _svg(route: VisitRoute, lang: str) -> str:
    """An inline SVG sketch: streets in grey, the visit in colour, numbered stops."""
    geoms = [*(g for g in route.legs.geometry if g is not None), *route.stops.geometry]
    if route.start is not None:
        geoms.append(route.start)
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    pad = max(40.0, 0.06 * max(maxx - minx, maxy - miny))
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = _SVG_WIDTH / max(maxx - minx, 1.0)
    height = max(200.0, (maxy - miny) * scale)
    if height > 1000.0:  # a tall visit: fit the height instead
        scale = 1000.0 / max(maxy - miny, 1.0)
        height = 1000.0
    width = (maxx - minx) * scale

    def path(geom: Any) -> str:
        parts = []
        for line in shapely.get_parts(geom):
            xy = shapely.get_coordinates(line)
            if len(xy) < 2:
                continue
            px = (xy[:, 0] - minx) * scale
            py = (maxy - xy[:, 1]) * scale
            pts = " L".join(f"{a:.1f} {b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f"M{pts}")
        return " ".join(parts)

    out = [
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="{escape_html(_TITLE.render(lang))}">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fbfaf7"/>',
    ]
    streets = " ".join(path(g) for g in route.streets if g is not None)
    if streets:
        out.append(f'<path d="{streets}" fill="none" stroke="#c9c6bd" stroke-width="1.6"/>')
    back = _return_position(route)
    for position, geom in enumerate(route.legs.geometry):
        if geom is None:
            continue
        # the walk back to the start of a loop: dashed, as the roadbook's caption says
        dash = ' stroke-dasharray="9 6" class="return"' if position == back else ""
        out.append(
            f'<path d="{path(geom)}" fill="none" stroke="#c0392b" stroke-width="3.2" '
            f'stroke-linejoin="round" stroke-linecap="round" opacity="0.85"{dash}/>'
        )
        # one arrow half-way along each walk long enough to hold it
        length = float(shapely.length(geom))
        if length * scale >= 40:
            tip = shapely.line_interpolate_point(geom, 0.5 * length + 4 / scale)
            tail = shapely.line_interpolate_point(geom, 0.5 * length - 4 / scale)
            tx, ty = (tip.x - minx) * scale, (maxy - tip.y) * scale
            bx, by = (tail.x - minx) * scale, (maxy - tail.y) * scale
            dx, dy = tx - bx, ty - by
            norm = math.hypot(dx, dy) or 1.0
            ux, uy = dx / norm, dy / norm
            out.append(
                f'<path d="M{tx + 3 * ux:.1f} {ty + 3 * uy:.1f} '
                f"L{tx - 7 * ux - 5 * uy:.1f} {ty - 7 * uy + 5 * ux:.1f} "
                f'L{tx - 7 * ux + 5 * uy:.1f} {ty - 7 * uy - 5 * ux:.1f} z" fill="#8e2a20"/>'
            )
    if route.start is not None:
        sx, sy = (route.start.x - minx) * scale, (maxy - route.start.y) * scale
        out.append(
            f'<rect x="{sx - 8:.1f}" y="{sy - 8:.1f}" width="16" height="16" fill="#1f2d3d"/>'
            f'<text x="{sx:.1f}" y="{sy + 4:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#fff" font-weight="bold">{escape_html(_START.render(lang)[0])}</text>'
        )
    for order, geom in zip(route.stops["order"], route.stops.geometry, strict=True):
        x, y = (geom.x - minx) * scale, (maxy - geom.y) * scale
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="#fff" stroke="#c0392b" '
            f'stroke-width="2.5"/><text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="middle" font-weight="bold" fill="#1f2d3d">{int(order)}</text>'
        )
    # scale bar and north arrow
    bar_m = next((b for b in (50, 100, 200, 250, 500, 1000, 2000) if b * scale >= width / 6), 5000)
    bx, by = 16.0, height - 18.0
    out.append(
        f'<path d="M{bx:.1f} {by:.1f} h{bar_m * scale:.1f}" stroke="#1f2d3d" stroke-width="3"/>'
        f'<text x="{bx:.1f}" y="{by - 6:.1f}" font-size="11" fill="#1f2d3d">'
        f"{_fmt_m(bar_m, lang)}</text>"
        f'<text x="{width - 18:.1f}" y="22" font-size="14" text-anchor="middle" '
        'font-weight="bold" fill="#1f2d3d">N</text>'
        f'<path d="M{width - 18:.1f} 26 l-5 12 h10 z" fill="#1f2d3d"/>'
    )
    out.append("</svg>")
    return "".join(out)


def _definition(label: Msg | str, value: str, meaning: Msg | str, lang: str) -> str:
    """One figure of the roadbook: its label, its value with its unit, what it means."""
    return (
        f"<dt>{escape_html(_render(label, lang))}</dt><dd><b>{value}</b> · "
        f"{escape_html(_render(meaning, lang))}</dd>"
    )


def _where(row: pd.Series, lang: str) -> str:
    """The stop's nearest address, or its nearest street, as a line under its name."""
    address, street = row.get("address"), row.get("street")
    if isinstance(address, str) and address.strip():
        text = msg("Adresse la plus proche : {address}", address=address.strip())
    elif isinstance(street, str) and street.strip():
        text = msg("Rue la plus proche : {street}", street=street.strip())
    else:
        return ""
    return f'<br><span class="where">{escape_html(text.render(lang))}</span>'


def _way_row(leg: pd.Series, lang: str) -> str:
    """The row under a walk: the streets it takes, in order."""
    text = _streets_text(_runs(leg), lang)
    if not text:
        return ""
    by = msg("par {streets}", streets=text).render(lang)
    return f'<tr class="way"><td></td><td colspan="5">↳ {escape_html(by)}</td></tr>'


def to_roadbook(route: VisitRoute, *, lang: Lang = "fr", title: str | None = None) -> str:
    """Return a printable, self-contained HTML roadbook of the visit.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    lang
        "fr" (default) or "en".
    title
        Name of the neighbourhood, shown in the heading.

    Returns
    -------
    str
        One HTML page with no external resource (no script, font, image or style sheet
        fetched): the key figures, each with its label, unit and meaning; an inline SVG sketch
        of the visit drawn from the street geometry (the walk back to the start of a loop
        dashed); the ordered stops with their nearest address or street and why each is there,
        the walk to each (distance, time and the streets taken, in order), the arrival times;
        for a loop, the walk back to the start as a leg of its own; what the figures quoted in
        the reasons mean; and the stops dropped for the budget.
    """
    e = escape_html
    heading = (msg("Visite du quartier : {title}", title=title) if title else _TITLE).render(lang)
    method = _OPEN_LABELS.get(route.method, route.method)
    back = route.return_leg
    n = len(route.stops)
    steps = msg("1 étape") if n == 1 else msg("{n} étapes", n=n)
    kind = (
        msg("Boucle : la visite revient à son point de départ.")
        if back is not None
        else msg("Aller simple : la visite finit à sa dernière étape.")
    )
    summary = msg(
        "{steps} · {length} · {walk} de marche + {dwell} d'arrêts = <strong>{total}</strong>",
        steps=steps,
        length=_fmt_m(route.length_m, lang),
        walk=_fmt_min(route.walk_min),
        dwell=_fmt_min(route.dwell_total_min),
        total=_fmt_min(route.duration_min),
    ).render(lang)
    back_words = msg(" et le retour au départ") if back is not None else ""
    figures = [
        _definition(
            msg("Longueur (m ou km)"),
            _fmt_m(route.length_m, lang),
            msg(
                "Longueur du parcours à pied, par les rues, du départ à la dernière étape{back}.",
                back=back_words,
            ),
            lang,
        ),
        _definition(
            msg("Temps de marche (h, min)"),
            _fmt_min(route.walk_min),
            msg(
                "Temps de marche à {speed} km/h sur le plat (allure d'un marcheur tranquille), "
                "plus lentement dans les montées quand le relief est connu.",
                speed=number(_WALK_KMH),
            ),
            lang,
        ),
        _definition(
            msg("Temps d'arrêt (min)"),
            _fmt_min(route.dwell_total_min),
            msg("Temps prévu sur place aux étapes, pour regarder, échanger et noter."),
            lang,
        ),
        _definition(
            msg("Durée totale (h, min)"),
            _fmt_min(route.duration_min),
            msg("Marche et arrêts : le temps à prévoir pour la visite."),
            lang,
        ),
    ]
    if back is not None:
        figures.append(
            _definition(
                msg("Retour au départ (m, min)"),
                f"{_fmt_m(float(back['length_m']), lang)} · {_fmt_min(float(back['time_min']))}",
                msg(
                    "La marche de la dernière étape au point de départ, comprise dans la "
                    "longueur et le temps de marche."
                ),
                lang,
            )
        )
    if route.max_minutes is not None:
        figures.append(
            _definition(
                msg("Budget (h, min)"),
                _fmt_min(route.max_minutes),
                msg(
                    "Durée maximale demandée ; au-delà, les étapes les moins prioritaires sont "
                    "retirées."
                ),
                lang,
            )
        )
    figures.append(
        _definition(
            msg("Ordre des étapes"),
            e(_render(method, lang)),
            msg("L'ordre qui fait le moins marcher pour passer par toutes les étapes."),
            lang,
        )
    )
    heads = "".join(
        f"<th>{e(h.render(lang))}</th>"
        for h in (
            msg("N°"),
            msg("Étape"),
            msg("Pourquoi"),
            msg("Trajet (distance · temps)"),
            msg("Arrivée (depuis le départ)"),
            msg("Arrêt (min)"),
        )
    )
    rows = []
    if route.start is not None:
        rows.append(
            f'<tr class="start"><td>0</td><td>{e(_START.render(lang))}</td><td></td><td></td>'
            f"<td>{_fmt_min(0)}</td><td></td></tr>"
        )
    legs = route.legs
    lead = 0 if route.start is not None else 1  # legs[k] leads to the stop of order k + lead
    for stop_id, row in route.stops.iterrows():
        order = int(row["order"])
        reason = row.get("reason")
        arriving = order - lead - 1
        if 0 <= arriving < len(legs):
            rows.append(_way_row(legs.iloc[arriving], lang))
        leg = (
            f"{_fmt_m(float(row['leg_m']), lang)} · {_fmt_min(float(row['leg_min']))}"
            if arriving >= 0
            else "—"
        )
        rows.append(
            f"<tr><td>{order}</td>"
            f"<td><strong>{e(_stop_label(route, stop_id, row.get('name'), lang))}</strong>"
            f"{_where(row, lang)}</td>"
            f"<td>{e(reason) if isinstance(reason, str) else ''}</td>"
            f"<td>{leg}</td><td>+{_fmt_min(float(row['arrive_min']))}</td>"
            f"<td>{_fmt_min(float(row['dwell_min']))}</td></tr>"
        )
    if back is not None:
        rows.append(_way_row(back, lang))
        rows.append(
            f'<tr class="return"><td>↺</td><td><strong>{e(_BACK.render(lang))}</strong></td>'
            f"<td>{e(msg('La boucle se referme au point de départ.').render(lang))}</td>"
            f"<td>{_fmt_m(float(back['length_m']), lang)} · {_fmt_min(float(back['time_min']))}"
            f"</td><td>+{_fmt_min(route.duration_min)}</td><td></td></tr>"
        )
    rows.append(
        f'<tr class="total"><td></td><td>{e(msg("Total").render(lang))}</td><td></td>'
        f"<td>{_fmt_m(route.length_m, lang)} · {_fmt_min(route.walk_min)}</td>"
        f"<td>{_fmt_min(route.duration_min)}</td>"
        f"<td>{_fmt_min(route.dwell_total_min)}</td></tr>"
    )
    reading = msg(
        "Trajet : la marche depuis l'étape précédente, en mètres et en minutes, et les rues "
        "empruntées dans l'ordre. Arrivée : le temps écoulé depuis le départ, arrêts compris. "
        "Arrêt : le temps prévu sur place."
    ).render(lang)
    quoted: list[str] = []
    seen: set[str] = set()
    for value in route.stops.get("figures", pd.Series(dtype=object)):
        for key in str(value).split() if isinstance(value, str) else []:
            meaning = _figure_meaning(key)
            if key in seen or meaning is None:
                continue
            seen.add(key)
            quoted.append(
                f"<dt>{e(meaning[0].render(lang))}</dt><dd>{e(meaning[1].render(lang))}</dd>"
            )
    glossary = ""
    if quoted:
        glossary = (
            f"<h2>{e(msg('Les chiffres cités dans « Pourquoi »').render(lang))}</h2>"
            f"<dl class='figures'>{''.join(quoted)}</dl>"
        )
    dropped = ""
    if len(route.dropped):
        items = "".join(
            f"<li>{e(_stop_label(route, i, r.get('name'), lang))} "
            + e(msg("(priorité {priority})", priority=number(float(r["priority"]))).render(lang))
            + (f" : {e(r['reason'])}" if isinstance(r.get("reason"), str) and r["reason"] else "")
            + "</li>"
            for i, r in route.dropped.iterrows()
        )
        dropped_title = msg("Étapes retirées pour tenir le budget").render(lang)
        dropped_note = msg(
            "Les étapes de plus faible priorité sont retirées d'abord : plus la priorité est "
            "élevée, plus l'étape est gardée longtemps."
        ).render(lang)
        dropped = f"<h2>{e(dropped_title)}</h2><p>{e(dropped_note)}</p><ol>{items}</ol>"
    caption = (
        msg(
            "Le parcours en rouge, le retour au départ en pointillés, les étapes numérotées "
            "dans l'ordre de la visite ; les rues alentour en gris."
        )
        if back is not None
        else msg(
            "Le parcours en rouge, les étapes numérotées dans l'ordre de la visite ; les rues "
            "alentour en gris."
        )
    ).render(lang)
    credit = msg(
        "Données © les contributeurs d'OpenStreetMap (licence ODbL). Itinéraire calculé par "
        "qet-geo sur le réseau piéton, à {speed} km/h sur le plat.",
        speed=number(_WALK_KMH),
    ).render(lang)
    style = (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2d3d;"
        "max-width:820px;margin:24px auto;padding:0 16px;line-height:1.4}"
        "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin-top:1.6em}"
        ".summary{font-size:1.1em;margin:6px 0}.notes{color:#5b6670;font-size:.92em}"
        "figure{margin:16px 0;border:1px solid #ddd}svg{display:block;max-width:100%;height:auto}"
        "figcaption{font-size:.85em;color:#5b6670;padding:4px 8px}"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:.93em}"
        "dt{font-weight:bold}dd{margin:0}"
        "table{border-collapse:collapse;width:100%;font-size:.93em}"
        "th,td{border-bottom:1px solid #ddd;padding:6px 6px;text-align:left;vertical-align:top}"
        "th{background:#f1efe9}tr.start td,tr.return td{color:#5b6670}"
        "tr.way td{border-bottom:none;color:#5b6670;font-size:.9em;padding:2px 6px}"
        ".where{color:#5b6670;font-size:.9em}.reading{font-size:.85em;color:#5b6670}"
        "tr.total td{font-weight:bold;border-top:2px solid #1f2d3d}"
        "footer{margin-top:24px;color:#5b6670;font-size:.82em}"
        "@media print{body{margin:0;max-width:none}figure{break-inside:avoid}"
        "tr{break-inside:avoid}}"
    )
    html_lang = lang if lang in LANGS else LANGS[0]
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(heading)}</title><style>{style}</style></head><body>"
        f'<h1>{e(heading)}</h1><p class="summary">{summary}</p>'
        f'<p class="notes">{e(kind.render(lang))}</p>'
        f"<dl class='totals'>{''.join(figures)}</dl>"
        f"<figure>{_svg(route, lang)}<figcaption>{e(caption)}</figcaption></figure>"
        f"<h2>{e(msg('Feuille de route').render(lang))}</h2>"
        f"<table><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="reading">{e(reading)}</p>{glossary}{dropped}'
        f"<footer>{e(credit)}</footer></body></html>\n"
    )


def write_route(
    route: VisitRoute,
    path: str | PathLike[str],
    *,
    lang: Lang = "fr",
    title: str | None = None,
) -> dict[str, Path]:
    """Write the visit as GPX, GeoJSON and HTML roadbook, atomically.

    Parameters
    ----------
    route
        The visit (:func:`plan_route`).
    path
        The GPX file (``.gpx``); the GeoJSON and the roadbook are written beside it with the
        same name and the suffixes ``.geojson`` and ``.html``.
    lang
        "fr" or "en": language of the labels and the roadbook.
    title
        Name of the neighbourhood, for the track and the roadbook.

    Returns
    -------
    dict
        ``{"gpx": ..., "geojson": ..., "html": ...}``: the paths written.

    Notes
    -----
    Every document is rendered first, then written to a temporary file beside its target and
    moved into place (:func:`os.replace`): a failure leaves no half-written file.
    """
    target = Path(path)
    if target.suffix.lower() != ".gpx":
        raise ValidationError(
            msg(
                "{target} : l'itinéraire s'écrit dans un fichier .gpx (avec le .geojson et le "
                ".html à côté).",
                target=target,
            ),
            path=target,
        )
    _check_lang(lang)
    if not target.parent.is_dir():
        raise InputFileError(
            msg("Le dossier {parent} n'existe pas : créez-le d'abord.", parent=target.parent),
            path=target.parent,
        )
    documents = {
        "gpx": (target, to_gpx(route, lang=lang, title=title)),
        "geojson": (
            target.with_suffix(".geojson"),
            json.dumps(to_geojson(route, lang=lang), ensure_ascii=False),
        ),
        "html": (target.with_suffix(".html"), to_roadbook(route, lang=lang, title=title)),
    }
    return _write_all(documents)


def _write_all(documents: dict[str, tuple[Path, str]]) -> dict[str, Path]:
    temps: dict[str, str] = {}
    try:
        for key, (target, text) in documents.items():
            # a fresh name opened exclusively: the file gets the usual permissions (umask)
            tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp"))
            with open(tmp, "x", encoding="utf-8") as handle:
                temps[key] = tmp
                handle.write(text)
        for key, (target, _) in documents.items():
            os.replace(temps.pop(key), target)
    except OSError as err:
        raise InputFileError(
            msg("Impossible d'écrire les fichiers de l'itinéraire ({err}).", err=err)
        ) from err
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    return {key: target for key, (target, _) in documents.items()}
