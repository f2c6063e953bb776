"""Maps of the built constraints: indicators per home, amenities, transit, cycle network, isochrones.

Each builder draws one layer and returns the map, so they compose like
:meth:`geopandas.GeoDataFrame.explore`::

    m = make_basemap(layers)                                  # light basemap from the extract
    make_constraints_map(access, "food_shop_min", m=m)        # homes coloured by an indicator
    make_amenities_map(layers.layers["amenities"], m=m)       # amenities by category, clustered
    save_map(m, "constraints.html")

:func:`make_neighbourhood_map` does all of that in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.map import Layer
from folium.plugins import MarkerCluster
from folium.template import Template

from maps._base import (
    MISSING_COLOUR,
    Legend,
    RenderedOnce,
    add_css,
    add_layer_control,
    check_frame,
    class_colours,
    geojson_layer,
    indicator_legend,
    make_basemap,
    prepare,
    to_wgs84,
)
from maps._cells import AGGREGATE_ABOVE_HOMES, aggregate_homes, aggregated_note
from maps._labels import (
    CATEGORY_COLOURS,
    Lang,
    MapStyle,
    category_label,
    classify,
    fmt_number,
    fmt_value,
    indicator,
)
from qet_geo.constraints.indicators import DEPARTURES, nearest_min
from qet_geo.crs import WORK_CRS
from qet_geo.errors import ValidationError
from qet_geo.escaping import escape_html, script_json
from qet_geo.i18n import Msg, msg
from qet_geo.layers import NeighbourhoodLayers
from qet_geo.privacy import require_protected
from qet_geo.taxonomy import CATEGORIES

__all__ = [
    "make_amenities_map",
    "make_constraints_map",
    "make_cycleways_map",
    "make_isochrones_map",
    "make_neighbourhood_map",
    "make_transit_map",
]

#: The indicator homes are coloured by unless told: minutes to the nearest food shop.
_DEFAULT_COLUMN = nearest_min("food_shop")

_POINTS = ("Point",)
_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")


# --------------------------------------------------------------------------------------------------
# indicator per home or cell


def make_constraints_map(
    homes: gpd.GeoDataFrame,
    column: str = _DEFAULT_COLUMN,
    *,
    bins: Sequence[float] | None = None,
    label: str | None = None,
    tooltip: Sequence[str] = (),
    show: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Colour homes (points) or 200 m cells (polygons) by one built-constraint indicator.

    Above :data:`maps._cells.AGGREGATE_ABOVE_HOMES` home points (a large area, whose page would
    weigh megabytes), the homes are drawn as the 200 m cells that
    :func:`qet_geo.privacy.safe_aggregate` publishes, each with the population-weighted mean of
    its homes (:func:`maps._cells.aggregate_homes`); the legend says so.

    Parameters
    ----------
    homes
        One row per home or cell with ``column``, e.g. the output of
        :func:`qet_geo.constraints.access.neighbourhood_access` (points, EPSG:2154), or cells with an
        indicator (polygons); any CRS. A table of respondent figures (with ``n_respondents``) must
        come from :func:`qet_geo.privacy.safe_aggregate`.
    column
        An indicator of the registry (:data:`qet_geo.constraints.indicators.INDICATORS`, which
        gives its legend, classes and colours; default ``food_shop_min``, the minutes to the
        nearest food shop), or any numeric column (classed by quantiles).
    bins
        Class edges in the column's unit (``[0, 5, 10, 15, inf]``); the indicator's defaults
        when None.
    label
        Legend title and layer name; the indicator's name with its unit by default ("minutes
        jusqu'au commerce alimentaire le plus proche").
    tooltip
        More columns shown in each home's tooltip (indicators of the same table).
    show
        Show the layer when the page opens.
    m
        The map to draw on; a new one fitted to ``homes`` when None.
    lang
        "fr" (default) or "en".
    offline
        For a new map: True (default) for a page that loads nothing from outside, False for OSM
        tiles.

    Returns
    -------
    folium.Map
        ``m`` or the new map, with the layer, its legend (shown with the layer) and the layer
        control.

    Raises
    ------
    ValidationError
        ``homes`` is not a GeoDataFrame of points or polygons with ``column``, ``bins`` is not
        increasing, or a respondent table did not pass the privacy rules.
    """
    check_frame(homes, "homes", columns=[column, *tooltip], geom_types=_POINTS + _POLYGONS)
    present = homes[homes.geometry.notna() & ~homes.geometry.is_empty]
    aggregated = len(present) > AGGREGATE_ABOVE_HOMES and bool(
        present.geom_type.isin(_POINTS).all()
    )
    if aggregated:  # a large area: 200 m cells, so that the page stays light (maps._cells)
        homes = aggregate_homes(present, [column, *tooltip])
    if "n_respondents" in homes.columns:
        require_protected(homes, what="the constraints map")
    m, language = prepare(m, homes, lang=lang, offline=offline)
    spec = indicator(column, language, values=homes[column], label=label)
    edges = _check_bins(bins, spec)
    drawn = homes[homes.geometry.notna() & ~homes.geometry.is_empty]
    classes = classify(drawn[column], edges)
    palette = class_colours(spec, edges)
    colours = [palette[c] if c >= 0 else MISSING_COLOUR for c in classes]
    extra = [indicator(col, language, values=drawn[col]) for col in tooltip]
    name = _capitalised(spec.label)
    tips = [
        [(name, fmt_value(spec, value, language))]
        + [(_capitalised(x.label), fmt_value(x, drawn[x.column].iloc[i], language)) for x in extra]
        for i, value in enumerate(drawn[column])
    ]
    if aggregated:
        tips = [
            [*zone, *tip] for zone, tip in zip(_cell_tooltips(drawn, language), tips, strict=True)
        ]
    layer = geojson_layer(
        drawn, colours, tips, name=name, show=show, decimals=5 if aggregated else 6
    )
    layer.add_to(m)
    missing = bool((classes < 0).any())
    cells = bool(drawn.geometry.geom_type.isin(_POLYGONS).all())
    count = fmt_number(len(drawn), language, decimals=0)
    note = (
        msg("{count} carreaux", count=count) if cells else msg("{count} logements", count=count)
    ).render(language)
    if spec.sentence:  # what the figure means, in the registry's words
        note = f"{spec.sentence} ({note})"
    if aggregated:
        note = f"{note} {aggregated_note(language)}"
    indicator_legend(
        spec,
        palette,
        language,
        bins=edges,
        layer=layer,
        missing=missing,
        note=note,
        dots=not cells,
    ).add_to(m)
    add_layer_control(m)
    return m


def _cell_tooltips(cells: pd.DataFrame, lang: Lang) -> list[list[tuple[str, str]]]:
    """The first rows of an aggregated cell's tooltip: what the zone is and its homes."""
    merged = cells["merged"].astype(bool).to_numpy()
    zone, homes_word = msg("Zone").render(lang), msg("Logements").render(lang)
    pooled = msg("regroupement de carreaux (secret statistique)").render(lang)
    cell = msg("carreau de 200 m").render(lang)
    return [
        [
            (zone, pooled if merged[i] else cell),
            (homes_word, fmt_number(float(n), lang, decimals=0)),
        ]
        for i, n in enumerate(cells["n_respondents"])
    ]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_bins(bins: Sequence[float] | None, spec: MapStyle) -> tuple[float, ...]:
    if bins is None:
        return spec.bins
    edges = tuple(float(b) for b in bins)
    if len(edges) < 2 or any(b > a for a, b in zip(edges[1:], edges[:-1], strict=True)):
        raise ValidationError(
            msg(
                "bins doit contenir au moins deux bornes de classes croissantes, reçu {bins!r}.",
                bins=list(bins),
            )
        )
    return edges


# --------------------------------------------------------------------------------------------------
# amenities by category, clustered


class _Points(Layer, RenderedOnce):
    """Markers added to their parent layer (a marker cluster or a feature group) from one list.

    One JSON array instead of one folium element per marker: a few hundred bytes less per point.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var icon = L.divIcon({
                className: "qet-dot",
                html: '<span style="background:' + {{ this.colour|tojson }} + '"></span>',
                iconSize: [12, 12]
            });
            var markers = {{ this.points }}.map(function(p) {
                return L.marker([p[0], p[1]], {icon: icon}).bindTooltip(p[2]);
            });
            var parent = {{ this._parent.get_name() }};
            if (parent.addLayers) { parent.addLayers(markers); }
            else { markers.forEach(function(marker) { parent.addLayer(marker); }); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, points: list[tuple[float, float, str]], colour: str) -> None:
        super().__init__(control=False, show=False)
        self._name = "Points"
        self.points = script_json(points)
        self.colour = colour

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        add_css(self, extra=_DOT_CSS, name="qet_dot_css")
        super().render(**kwargs)


_DOT_CSS = """
.qet-dot span { display: block; width: 12px; height: 12px; border-radius: 50%;
  border: 1.5px solid #fff; box-shadow: 0 0 2px rgba(0, 0, 0, 0.7); box-sizing: border-box; }
.qet-cluster div { border-radius: 50%; color: #fff; text-align: center; font-weight: bold;
  font: bold 12px "DejaVu Sans", Arial, sans-serif; border: 2px solid rgba(255, 255, 255, 0.9);
  box-shadow: 0 0 3px rgba(0, 0, 0, 0.5); opacity: 0.9; box-sizing: border-box; }
"""

_CLUSTER_ICON = """
function(cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 26 : (n < 50 ? 32 : 38);
    return L.divIcon({
        html: '<div style="background:%s;width:' + size + 'px;height:' + size + 'px;line-height:'
            + (size - 4) + 'px">' + n + '</div>',
        className: 'qet-cluster',
        iconSize: L.point(size, size)
    });
}
"""


def make_amenities_map(
    amenities: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    cluster: bool = True,
    show: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Show amenities by category, one layer (and one colour) per category, clustered.

    Parameters
    ----------
    amenities
        Points with ``category`` (:mod:`qet_geo.taxonomy`) and optionally ``name`` and ``tag``,
        e.g. ``layers.layers["amenities"]``; any CRS (polygons are drawn at a point inside them).
    categories
        Categories to show, in this order; every category present, in taxonomy order, when None.
    cluster
        Group nearby markers in clusters (coloured like their category) that split on zooming.
    show
        Show the layers when the page opens.
    m, lang, offline
        As for :func:`make_constraints_map`.

    Returns
    -------
    folium.Map
        ``m`` or the new map, with one layer per category and a legend of their colours.
    """
    check_frame(amenities, "amenities", columns=["category"])
    m, language = prepare(m, amenities, lang=lang, offline=offline)
    wgs = to_wgs84(amenities)
    points = wgs.geometry.representative_point()
    present = list(dict.fromkeys(wgs["category"].astype(str)))
    order = (
        list(categories)
        if categories is not None
        else [c for c in CATEGORIES if c in present] + [c for c in present if c not in CATEGORIES]
    )
    legend: list[tuple[str, str]] = []
    groups: list[Layer] = []
    fallback = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948")
    for i, category in enumerate(order):
        rows = wgs["category"].astype(str) == category
        if not rows.any():
            continue
        colour = CATEGORY_COLOURS.get(category, fallback[i % len(fallback)])
        label = category_label(category, language)
        names = wgs.loc[rows, "name"] if "name" in wgs.columns else pd.Series(index=wgs.index[rows])
        tags = wgs.loc[rows, "tag"] if "tag" in wgs.columns else pd.Series(index=wgs.index[rows])
        data = [
            (
                round(float(pt.y), 6),
                round(float(pt.x), 6),
                _amenity_tooltip(name, label, tag),
            )
            for pt, name, tag in zip(points[rows], names, tags, strict=True)
        ]
        layer_name = escape_html(f"{label} ({len(data)})")  # the layer control writes HTML
        group: Layer
        if cluster:
            group = MarkerCluster(
                name=layer_name,
                show=show,
                icon_create_function=_CLUSTER_ICON % colour,
                options={"maxClusterRadius": 40, "disableClusteringAtZoom": 19},
            )
        else:
            group = folium.FeatureGroup(name=layer_name, show=show)
        _Points(data, colour).add_to(group)
        group.add_to(m)
        groups.append(group)
        legend.append((colour, f"{label} ({len(data)})"))
    title = msg("équipements et commerces").render(language)
    note = msg("Source : OpenStreetMap ; les nombres groupent les points proches").render(language)
    Legend(title, legend, layer=groups, dots=True, note=note, position="bottomleft").add_to(m)
    add_layer_control(m)
    return m


def _amenity_tooltip(name: Any, label: str, tag: Any) -> str:
    has_name = isinstance(name, str) and name.strip()
    head = (
        f"<b>{escape_html(name)}</b><br>{escape_html(label)}"
        if has_name
        else f"<b>{escape_html(label)}</b>"
    )
    if isinstance(tag, str) and tag:
        head += f'<br><span style="color:#666">{escape_html(tag)}</span>'
    return head


# --------------------------------------------------------------------------------------------------
# transit stops and cycle network

_MODES: dict[str, Msg] = {
    "bus": msg("bus"),
    "tram": msg("tramway"),
    "rail": msg("train"),
    "ferry": msg("bateau"),
    "metro": msg("métro"),
}


def make_transit_map(
    stops: gpd.GeoDataFrame,
    *,
    show: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Show transit stops, coloured by departures per hour when a timetable gave them.

    Parameters
    ----------
    stops
        Points, e.g. ``layers.layers["transit_stops"]``: optional ``name``, ``mode`` and
        ``departures_per_hour`` (GTFS, weekday morning peak).
    show, m, lang, offline
        As for :func:`make_constraints_map`.

    Returns
    -------
    folium.Map
        ``m`` or the new map.
    """
    check_frame(stops, "stops", geom_types=_POINTS)
    m, language = prepare(m, stops, lang=lang, offline=offline)
    drawn = stops[stops.geometry.notna() & ~stops.geometry.is_empty]
    departures = (
        pd.to_numeric(drawn["departures_per_hour"], errors="coerce")
        if "departures_per_hour" in drawn.columns
        else pd.Series(np.nan, index=drawn.index)
    )
    modes = drawn["mode"].astype(str) if "mode" in drawn.columns else None
    names = drawn["name"] if "name" in drawn.columns else pd.Series(None, index=drawn.index)
    stop_word = msg("Arrêt").render(language)
    departures_word = msg("Départs par heure (pointe du matin)").render(language)
    tips = []
    for i in range(len(drawn)):
        name = names.iloc[i]
        row = [(stop_word, name if isinstance(name, str) and name else "–")]
        if modes is not None:
            mode = modes.iloc[i]
            mode_label = _MODES.get(mode)
            row.append(("Mode", mode if mode_label is None else mode_label.render(language)))
        if departures.notna().any():
            row.append((departures_word, fmt_number(departures.iloc[i], language, decimals=0)))
        tips.append(row)
    name = msg("Arrêts de transport en commun ({n})", n=len(drawn)).render(language)
    if departures.notna().any():
        spec = indicator(DEPARTURES, language)
        spec = MapStyle(
            "departures_per_hour",
            msg("départs par heure (pointe du matin)").render(language),
            spec.unit,
            spec.bins,
            spec.ramp,
            decimals=0,
        )
        palette = class_colours(spec, spec.bins)
        classes = classify(departures, spec.bins)
        colours = [palette[c] if c >= 0 else MISSING_COLOUR for c in classes]
        layer = geojson_layer(drawn, colours, tips, name=name, point_radius=6, show=show)
        layer.add_to(m)
        indicator_legend(
            spec, palette, language, bins=spec.bins, layer=layer, missing=True, dots=True
        ).add_to(m)
    else:
        layer = geojson_layer(
            drawn, ["#1f3a93"] * len(drawn), tips, name=name, point_radius=6, show=show
        )
        layer.add_to(m)
        Legend(
            msg("transport en commun").render(language),
            [("#1f3a93", msg("arrêts").render(language))],
            layer=layer,
            dots=True,
        ).add_to(m)
    add_layer_control(m)
    return m


_CYCLE_STYLE: dict[str, tuple[str, str | None, Msg]] = {
    "track": ("#006d2c", None, msg("piste cyclable")),
    "lane": ("#31a354", None, msg("bande cyclable")),
    "shared": ("#74c476", "6 5", msg("voie partagée")),
}


def make_cycleways_map(
    cycleways: gpd.GeoDataFrame,
    *,
    show: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Show the cycle network by kind: tracks, lanes, shared lanes.

    Parameters
    ----------
    cycleways
        Lines with ``cycle_type`` ("track", "lane", "shared") and optionally ``name``, e.g.
        ``layers.layers["cycleways"]``.
    show, m, lang, offline
        As for :func:`make_constraints_map`.

    Returns
    -------
    folium.Map
        ``m`` or the new map.
    """
    check_frame(cycleways, "cycleways", geom_types=_LINES)
    m, language = prepare(m, cycleways, lang=lang, offline=offline)
    drawn = cycleways[cycleways.geometry.notna() & ~cycleways.geometry.is_empty]
    kinds = (
        drawn["cycle_type"].astype(str)
        if "cycle_type" in drawn.columns
        else pd.Series("track", index=drawn.index)
    )
    other = ("#238b45", None, msg("aménagement cyclable"))
    styles = [_CYCLE_STYLE.get(k, other) for k in kinds]
    names = drawn["name"] if "name" in drawn.columns else pd.Series(None, index=drawn.index)
    name_word = msg("Nom").render(language)
    tips = [
        [
            ("Type", style[2].render(language)),
            (name_word, name if isinstance(name, str) and name else "–"),
        ]
        for style, name in zip(styles, names, strict=True)
    ]
    length_km = float(drawn.to_crs(WORK_CRS).length.sum() / 1000)
    name = msg("Réseau cyclable ({length} km)", length=fmt_number(length_km, language)).render(
        language
    )
    layer = geojson_layer(
        drawn,
        [s[0] for s in styles],
        tips,
        name=name,
        line_weight=4,
        dash=[s[1] for s in styles],
        show=show,
    )
    layer.add_to(m)
    present = [k for k in _CYCLE_STYLE if (kinds == k).any()]
    items = [(_CYCLE_STYLE[k][0], _CYCLE_STYLE[k][2].render(language)) for k in present]
    if not items:
        items = [(other[0], other[2].render(language))]
    Legend(msg("réseau cyclable").render(language), items, layer=layer).add_to(m)
    add_layer_control(m)
    return m


# --------------------------------------------------------------------------------------------------
# isochrones

_ISO_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#a50026")


def make_isochrones_map(
    isochrones: gpd.GeoDataFrame,
    *,
    points: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    show: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Show walk or bike isochrones: what is reachable within 5, 10, 15 minutes of chosen points.

    Parameters
    ----------
    isochrones
        Polygons with ``minutes`` and optionally ``mode`` ("walk", "bike") and ``area_km2``, as
        :func:`qet_geo.constraints.access.isochrones_from_extract` returns.
    points
        The starting points, drawn as black dots.
    show, m, lang, offline
        As for :func:`make_constraints_map`.

    Returns
    -------
    folium.Map
        ``m`` or the new map.
    """
    check_frame(isochrones, "isochrones", columns=["minutes"], geom_types=_POLYGONS)
    m, language = prepare(m, isochrones, lang=lang, offline=offline)
    drawn = isochrones[isochrones.geometry.notna() & ~isochrones.geometry.is_empty]
    drawn = drawn.sort_values("minutes", ascending=False, kind="stable")
    steps = sorted(pd.to_numeric(drawn["minutes"]).unique())
    colour_of = {v: _ISO_COLOURS[min(i, len(_ISO_COLOURS) - 1)] for i, v in enumerate(steps)}
    mode = str(drawn["mode"].iloc[0]) if "mode" in drawn.columns else "walk"
    how = {"walk": msg("à pied"), "bike": msg("à vélo")}.get(mode, "")
    areas = (
        drawn["area_km2"] if "area_km2" in drawn.columns else drawn.to_crs(WORK_CRS).area / 1e6
    ).astype(float)
    reachable_word, area_word = (
        msg("Accessible en").render(language),
        msg("Surface").render(language),
    )
    tips = [
        [
            (
                reachable_word,
                msg(
                    "{minutes} min {how}",
                    minutes=fmt_number(minutes, language, decimals=0),
                    how=how,
                )
                .render(language)
                .strip(),
            ),
            (area_word, f"{fmt_number(area, language, decimals=2)} km²"),
        ]
        for minutes, area in zip(drawn["minutes"], areas, strict=True)
    ]
    name = msg("Isochrones {how}", how=how).render(language).strip()
    layer = geojson_layer(
        drawn,
        [colour_of[v] for v in drawn["minutes"]],
        tips,
        name=name,
        fill_opacity=0.35,
        show=show,
    )
    layer.add_to(m)
    title = msg("temps de trajet {how}", how=how).render(language).strip()
    items = [(colour_of[v], f"≤ {fmt_number(v, language, decimals=0)} min") for v in steps]
    Legend(title, items, layer=layer).add_to(m)
    if points is not None:
        frame = points.to_frame("geometry") if isinstance(points, gpd.GeoSeries) else points
        check_frame(frame, "points", geom_types=_POINTS)
        pts = frame.set_geometry(frame.geometry)
        geojson_layer(
            pts,
            ["#000000"] * len(pts),
            [[(msg("Départ").render(language), str(i + 1))] for i in range(len(pts))],
            name=msg("Points de départ").render(language),
            point_radius=6,
        ).add_to(m)
    add_layer_control(m)
    return m


# --------------------------------------------------------------------------------------------------
# everything at once


def make_neighbourhood_map(
    layers: NeighbourhoodLayers,
    *,
    access: gpd.GeoDataFrame | None = None,
    column: str = _DEFAULT_COLUMN,
    isochrones: gpd.GeoDataFrame | None = None,
    amenities: bool = True,
    transit: bool = True,
    cycleways: bool = True,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Draw a neighbourhood's constraints map: basemap, homes by indicator, amenities, transit.

    Parameters
    ----------
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`).
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access`); computed (walk)
        when None.
    column
        The indicator colouring the homes (see :func:`make_constraints_map`).
    isochrones
        Isochrones to add (:func:`qet_geo.constraints.access.isochrones_from_extract`).
    amenities, transit, cycleways
        Add those layers.
    m, lang, offline
        As for :func:`make_constraints_map`; a new map is fitted to the territory.

    Returns
    -------
    folium.Map
        ``m`` or the new map.
    """
    if not isinstance(layers, NeighbourhoodLayers):
        raise ValidationError(msg("layers doit être le résultat de qet_geo.layers.build_layers."))
    if access is None:
        from qet_geo.constraints.access import neighbourhood_access

        access = neighbourhood_access(layers)
    m = make_basemap(layers, m=m, lang=lang, offline=offline)
    frames = layers.layers
    if cycleways and len(frames.get("cycleways", ())):
        make_cycleways_map(frames["cycleways"], m=m, lang=lang)
    if isochrones is not None:
        make_isochrones_map(isochrones, m=m, lang=lang)
    make_constraints_map(access, column, m=m, lang=lang)
    if transit and len(frames.get("transit_stops", ())):
        make_transit_map(frames["transit_stops"], m=m, lang=lang, show=False)
    if amenities and len(frames.get("amenities", ())):
        make_amenities_map(frames["amenities"], m=m, lang=lang, show=False)
    return m
