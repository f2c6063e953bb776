"""The visit written for the field: GPX, GeoJSON, a printable HTML roadbook with its SVG sketch.

- :func:`to_gpx`: for phones and GPS units; :func:`to_geojson`: for QGIS and web maps;
  :func:`to_roadbook`: a self-contained page to print;
- :func:`write_route`: all three at once, atomically; :func:`route_summary`: the figures as JSON.
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

from qet_geo.crs import WGS84
from qet_geo.errors import (
    InputFileError,
    ValidationError,
)
from qet_geo.escaping import escape_html, xml_chars
from qet_geo.i18n import LANGS, Lang, Msg, join, msg, number
from qet_geo.visit._checks import _check_lang

if TYPE_CHECKING:
    from qet_geo.visit.plan import VisitRoute

__all__ = ["route_summary", "to_geojson", "to_gpx", "to_roadbook", "write_route"]

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
        waypoint per stop named ``"01 <name>"``, ``"02 ..."`` with the reason as description,
        and one track of one segment following the streets (WGS84).
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
        doc.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=float(lat),
                longitude=float(lon),
                name=xml_chars(
                    f"{int(row['order']):02d} {_stop_label(route, stop_id, row.get('name'), lang)}"
                ),
                description=xml_chars(reason) if isinstance(reason, str) and reason else None,
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


def to_geojson(route: VisitRoute) -> dict[str, Any]:
    """Return the visit as a GeoJSON FeatureCollection in WGS84 (EPSG:4326).

    Returns
    -------
    dict
        Features with a ``kind`` property: ``"start"`` (when given), ``"stop"`` (Points in
        visiting order, with ``id``, ``order``, ``name``, ``reason``, ``priority``, ``leg_m``,
        ``leg_min``, ``arrive_min``...), ``"leg"`` (one LineString per walk, with ``from_id``,
        ``to_id``, ``length_m``, ``time_min``), ``"route"`` (the whole visit as one
        LineString, with ``length_m``, ``walk_min``, ``duration_min``) and ``"dropped"``
        (stops left out for the budget).
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
    for leg, row in route.legs.iterrows():
        features.append(
            feature(
                row.geometry,
                {
                    "kind": "leg",
                    "leg": leg,
                    "from_id": row["from_id"],
                    "to_id": row["to_id"],
                    "length_m": row["length_m"],
                    "time_min": row["time_min"],
                },
            )
        )
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
        order they were dropped), ``loop``, ``method`` and ``max_minutes``.
    """
    return {
        "order": [_clean(i) for i in route.stops.index],
        "length_m": round(route.length_m, 1),
        "duration_min": round(route.duration_min, 1),
        "walk_min": round(route.walk_min, 1),
        "dwell_min": round(route.dwell_total_min, 1),
        "dropped": [_clean(i) for i in route.dropped.index],
        "loop": route.loop,
        "method": route.method,
        "max_minutes": route.max_minutes,
    }


def _fmt_min(minutes: float) -> str:
    total = round(minutes)
    return f"{total // 60}\u00a0h\u00a0{total % 60:02d}" if total >= 60 else f"{total}\u00a0min"


def _fmt_m(metres: float, lang: str) -> str:
    if metres >= 1000:
        return f"{number(metres / 1000, decimals=2).render(lang)}\u00a0km"
    return f"{metres:.0f}\u00a0m"


def _svg(route: VisitRoute, lang: str) -> str:
    """An inline SVG sketch: streets in grey, the visit in colour, numbered stops."""
    geoms = [*route.legs.geometry, *route.stops.geometry]
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
    for geom in route.legs.geometry:
        out.append(
            f'<path d="{path(geom)}" fill="none" stroke="#c0392b" stroke-width="3.2" '
            'stroke-linejoin="round" stroke-linecap="round" opacity="0.85"/>'
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
        fetched): the totals, an inline SVG sketch of the visit drawn from the street
        geometry, the ordered stops with why each is there, the distance and time of each
        walk, the arrival times, and the stops dropped for the budget.
    """
    e = escape_html
    heading = (msg("Visite du quartier : {title}", title=title) if title else _TITLE).render(lang)
    method = _OPEN_LABELS.get(route.method, route.method)
    summary = msg(
        "{n} étapes · {length} · {walk} de marche + {dwell} d'arrêts = <strong>{total}</strong>",
        n=len(route.stops),
        length=_fmt_m(route.length_m, lang),
        walk=_fmt_min(route.walk_min),
        dwell=_fmt_min(route.dwell_total_min),
        total=_fmt_min(route.duration_min),
    ).render(lang)
    notes: list[Msg | str] = [method]
    if route.loop:
        notes.append(msg("boucle : retour au point de départ"))
    if route.max_minutes is not None:
        notes.append(msg("budget : {budget}", budget=_fmt_min(route.max_minutes)))
    heads = msg(
        "<th>N°</th><th>Étape</th><th>Pourquoi</th><th>Trajet</th><th>Arrivée</th><th>Arrêt</th>"
    ).render(lang)
    rows = []
    if route.start is not None:
        rows.append(
            f'<tr class="start"><td>0</td><td>{e(_START.render(lang))}</td><td></td><td></td>'
            "<td>0 min</td><td></td></tr>"
        )
    for stop_id, row in route.stops.iterrows():
        reason = row.get("reason")
        leg = (
            f"{_fmt_m(float(row['leg_m']), lang)} · {_fmt_min(float(row['leg_min']))}"
            if row["leg_m"] > 0 or route.start is not None or int(row["order"]) > 1
            else "—"
        )
        rows.append(
            f"<tr><td>{int(row['order'])}</td>"
            f"<td><strong>{e(_stop_label(route, stop_id, row.get('name'), lang))}</strong></td>"
            f"<td>{e(reason) if isinstance(reason, str) else ''}</td>"
            f"<td>{leg}</td><td>+{_fmt_min(float(row['arrive_min']))}</td>"
            f"<td>{_fmt_min(float(row['dwell_min']))}</td></tr>"
        )
    if route.loop and len(route.legs):
        back = route.legs.iloc[-1]
        rows.append(
            f'<tr class="start"><td>↺</td><td>{e(_BACK.render(lang))}</td><td></td>'
            f"<td>{_fmt_m(float(back['length_m']), lang)} · {_fmt_min(float(back['time_min']))}"
            f"</td><td>+{_fmt_min(route.duration_min)}</td><td></td></tr>"
        )
    rows.append(
        f'<tr class="total"><td></td><td>Total</td><td></td>'
        f"<td>{_fmt_m(route.length_m, lang)} · {_fmt_min(route.walk_min)}</td>"
        f"<td>{_fmt_min(route.duration_min)}</td>"
        f"<td>{_fmt_min(route.dwell_total_min)}</td></tr>"
    )
    dropped = ""
    if len(route.dropped):
        items = "".join(
            f"<li>{e(_stop_label(route, i, r.get('name'), lang))} "
            + msg("(priorité {priority:g})", priority=float(r["priority"])).render(lang)
            + (f" : {e(r['reason'])}" if isinstance(r.get("reason"), str) and r["reason"] else "")
            + "</li>"
            for i, r in route.dropped.iterrows()
        )
        dropped_title = msg("Étapes retirées pour tenir le budget").render(lang)
        dropped = f"<h2>{dropped_title}</h2><ol>{items}</ol>"
    credit = msg(
        "Données © les contributeurs d'OpenStreetMap (licence ODbL). Itinéraire calculé par "
        "qet-geo sur le réseau piéton, à 4,5 km/h sur le plat."
    ).render(lang)
    style = (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2d3d;"
        "max-width:820px;margin:24px auto;padding:0 16px;line-height:1.4}"
        "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin-top:1.6em}"
        ".summary{font-size:1.1em;margin:6px 0}.notes{color:#5b6670;font-size:.92em}"
        "figure{margin:16px 0;border:1px solid #ddd}svg{display:block;max-width:100%;height:auto}"
        "table{border-collapse:collapse;width:100%;font-size:.93em}"
        "th,td{border-bottom:1px solid #ddd;padding:6px 6px;text-align:left;vertical-align:top}"
        "th{background:#f1efe9}tr.start td{color:#5b6670}tr.total td{font-weight:bold;"
        "border-top:2px solid #1f2d3d}footer{margin-top:24px;color:#5b6670;font-size:.82em}"
        "@media print{body{margin:0;max-width:none}figure{break-inside:avoid}"
        "tr{break-inside:avoid}}"
    )
    html_lang = lang if lang in LANGS else LANGS[0]
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(heading)}</title><style>{style}</style></head><body>"
        f'<h1>{e(heading)}</h1><p class="summary">{summary}</p>'
        f'<p class="notes">{e(join(notes, " · ").render(lang))}</p>'
        f"<figure>{_svg(route, lang)}</figure>"
        f"<h2>{msg('Feuille de route').render(lang)}</h2>"
        f"<table><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{dropped}"
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
            json.dumps(to_geojson(route), ensure_ascii=False),
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
