"""What every map shares: the map itself (offline or online), the light basemap, legends, saving.

Maps follow :meth:`geopandas.GeoDataFrame.explore`: each builder takes ``m=None`` and returns the
map it drew on, so layers compose (``make_constraints_map(access, "food_shop_min",
m=make_basemap(layers))``). Data are reprojected to WGS84 here and only here.

Offline maps (the default) carry no tile layer: :func:`make_basemap` draws the neighbourhood's own
streets, buildings, water and parks from the OSM extract as light vector layers instead, and the
Leaflet code is inlined into the page (:mod:`maps._assets`), so a saved page opens with no
network at all. Online maps use the standard OSM tiles and folium's CDN links.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template

from maps._assets import ASSETS, OfflineAssets, _Raw
from maps._cells import (
    AGGREGATE_ABOVE_HOMES,
    SIMPLE_BASEMAP_TOLERANCE_M,
    count_homes,
    main_roads,
    simple_basemap_name,
)
from maps._labels import NOT_AVAILABLE, Lang, MapStyle, check_lang, class_labels, ramp_colours
from qet_geo._validate import geo_frame, require_crs
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import EmptyDataError, InputFileError, ValidationError
from qet_geo.escaping import escape_html, script_json
from qet_geo.i18n import msg
from qet_geo.layers import NeighbourhoodLayers

__all__ = [
    "SYNTHETIC_BANNER",
    "Legend",
    "add_layer_control",
    "add_note",
    "add_synthetic_banner",
    "add_title",
    "feature_collection",
    "is_offline",
    "make_basemap",
    "new_map",
    "save_map",
    "stable_ids",
]


#: Attribution of every map (OSM data, ODbL). The link is a plain ``<a>``: followed on a click only.
OSM_ATTRIBUTION = msg(
    '© <a href="https://www.openstreetmap.org/copyright">contributeurs OpenStreetMap</a>, ODbL'
)
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

_POINTS = ("Point",)
_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")

_OFFLINE_KEY = "qet_offline_assets"
_CONTROL_KEY = "qet_layer_control"

MAP_CSS = """
.qet-legend, .qet-panel {
  background: rgba(255, 255, 255, 0.92); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); font: 12px/1.35 "DejaVu Sans", Arial, sans-serif;
  color: #222; max-width: 280px;
}
.qet-legend .qet-legend-title { font-weight: bold; margin-bottom: 4px; }
.qet-legend .qet-legend-row { display: flex; align-items: center; margin: 1px 0; }
.qet-legend .qet-swatch {
  display: inline-block; width: 16px; height: 12px; margin-right: 6px;
  border: 1px solid rgba(0, 0, 0, 0.35); flex: none;
}
.qet-legend .qet-swatch.qet-dot { border-radius: 50%; width: 12px; }
.qet-legend .qet-legend-note { margin-top: 4px; color: #555; font-size: 11px; }
.qet-panel.qet-title { font-size: 15px; font-weight: bold; max-width: 420px; }
.qet-panel.qet-banner {
  background: #fff3cd; border: 2px solid #b45309; color: #5c2d00; font-weight: bold;
  max-width: 420px;
}
.qet-panel.qet-note { color: #555; max-width: 360px; }
.qet-panel ol { margin: 4px 0 0 0; padding-left: 20px; }
.qet-hidden { display: none; }
"""


# --------------------------------------------------------------------------------------------------
# validation and conversion


def check_frame(
    gdf: Any,
    what: str,
    *,
    columns: Sequence[str] = (),
    geom_types: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Check that ``gdf`` is a non-empty GeoDataFrame with a CRS, ``columns`` and geometry types.

    Returns it unchanged; raises ValidationError, CRSError or EmptyDataError with the fix.
    """
    require_crs(geo_frame(gdf, what=what), what=what)
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValidationError(
            msg(
                "{what} n'a pas la ou les colonnes {missing}.",
                what=what,
                missing=", ".join(missing),
            )
        )
    present = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if not present.any():
        raise EmptyDataError(msg("{what} n'a aucune géométrie à dessiner.", what=what))
    if geom_types is not None:
        kinds = set(gdf.geometry[present].geom_type)
        bad = kinds - set(geom_types)
        if bad:
            raise ValidationError(
                msg(
                    "{what} contient des géométries {bad} ; attendu : {expected}.",
                    what=what,
                    bad=", ".join(sorted(bad)),
                    expected=", ".join(geom_types),
                )
            )
    return gdf


def to_wgs84(gdf: gpd.GeoDataFrame, *, simplify_m: float = 0.0) -> gpd.GeoDataFrame:
    """Return ``gdf`` without empty geometries, simplified in metres, in WGS84 (for the map only)."""
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    out = gdf[keep]
    if simplify_m > 0:
        projected = out if out.crs is not None and out.crs.is_projected else out.to_crs(WORK_CRS)
        simplified = projected.geometry.simplify(simplify_m, preserve_topology=True)
        out = out.set_geometry(simplified.to_crs(out.crs) if projected is not out else simplified)
    return out.to_crs(WGS84)


def _rounded(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


def feature_collection(
    gdf: gpd.GeoDataFrame,
    properties: pd.DataFrame | None = None,
    *,
    decimals: int = 6,
    simplify_m: float = 0.0,
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of ``gdf`` in WGS84 with only the ``properties`` given.

    Parameters
    ----------
    gdf
        Any CRS.
    properties
        Aligned to ``gdf``: the only attributes written (JSON-safe values); none when None. The
        feature ``id`` is the row position, never the index (which may be a private key).
    decimals
        Decimals of the coordinates (6: about 0.1 m).
    simplify_m
        Simplification tolerance, metres (0: none).
    """
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    wgs = to_wgs84(gdf, simplify_m=simplify_m)
    geoms = _rounded(wgs.geometry.to_numpy(), decimals)
    texts = shapely.to_geojson(geoms)
    props: list[dict[str, Any]] = (
        [{} for _ in range(len(wgs))]
        if properties is None
        else _json_records(properties.iloc[np.flatnonzero(keep.to_numpy())])
    )
    features = [
        {"type": "Feature", "id": str(i), "geometry": json.loads(text), "properties": prop}
        for i, (text, prop) in enumerate(zip(texts, props, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        record: dict[str, Any] = {}
        for col, value in zip(columns, row, strict=True):
            record[str(col)] = _json_value(value)
        records.append(record)
    return records


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return round(float(value), 6)
    return str(value) if not isinstance(value, int) else value


def wgs84_bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Return ``(left, bottom, right, top)`` of ``gdf`` in WGS84."""
    left, bottom, right, top = to_wgs84(gdf).total_bounds
    return float(left), float(bottom), float(right), float(top)


def _tooltip_frame(rows: Sequence[Sequence[tuple[str, str]]]) -> tuple[pd.DataFrame, list[str]]:
    """Turn per-feature (label, text) pairs into tooltip properties and their labels.

    When every feature has the same labels: properties ``t0``, ``t1``... and the labels as
    aliases. Otherwise one property ``tip`` holding each feature's own small table, no alias.
    """
    if not rows:
        return pd.DataFrame(), []
    aliases = [label for label, _ in rows[0]]
    if all([label for label, _ in row] == aliases for row in rows):
        data = {f"t{i}": [escape_html(row[i][1]) for row in rows] for i in range(len(aliases))}
        return pd.DataFrame(data), [escape_html(a) for a in aliases]
    tables = [
        "<table>"
        + "".join(
            f"<tr><th>{escape_html(label)}</th><td>{escape_html(text)}</td></tr>"
            for label, text in row
        )
        + "</table>"
        for row in rows
    ]
    return pd.DataFrame({"tip": tables}), []


def geojson_layer(
    gdf: gpd.GeoDataFrame,
    colours: Sequence[str],
    tooltips: Sequence[Sequence[tuple[str, str]]],
    *,
    name: str,
    point_radius: float = 5.0,
    line_weight: float = 3.0,
    fill_opacity: float = 0.75,
    dash: Sequence[str | None] | None = None,
    show: bool = True,
    simplify_m: float = 0.0,
    decimals: int = 6,
) -> folium.GeoJson:
    """Return a GeoJson layer of ``gdf``, one colour and one tooltip per feature.

    Tooltip texts are HTML-escaped (OSM names are free text); the only properties written are
    the tooltip texts (``t0``, ``t1``... or ``tip``), the colour ``_c`` and the dash ``_d``.
    """
    props, aliases = _tooltip_frame(tooltips)
    props = props.set_axis(gdf.index) if len(props) else pd.DataFrame(index=gdf.index)
    props["_c"] = list(colours)
    props["_d"] = list(dash) if dash is not None else None
    data = feature_collection(gdf, props, simplify_m=simplify_m, decimals=decimals)
    kinds = set(gdf.geometry.geom_type)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        colour = feature["properties"]["_c"]
        if kinds <= set(_LINES):
            out: dict[str, Any] = {"color": colour, "weight": line_weight, "opacity": 0.9}
            if feature["properties"].get("_d"):
                out["dashArray"] = feature["properties"]["_d"]
            return out
        if kinds <= set(_POINTS):
            return {
                "color": "#333333",
                "weight": 0.6,
                "fill": True,
                "fillColor": colour,
                "fillOpacity": 0.92,
                "radius": point_radius,
            }
        return {
            "color": "#555555",
            "weight": 0.5,
            "fillColor": colour,
            "fillOpacity": fill_opacity,
        }

    tooltip: folium.GeoJsonTooltip | None = None
    if aliases:
        tooltip = folium.GeoJsonTooltip(
            fields=[f"t{i}" for i in range(len(aliases))], aliases=aliases
        )
    elif "tip" in props.columns:
        tooltip = folium.GeoJsonTooltip(fields=["tip"], labels=False)
    marker = folium.CircleMarker(radius=point_radius) if kinds & set(_POINTS) else None
    return folium.GeoJson(
        data,
        name=escape_html(name),  # Leaflet's layer control writes names as HTML
        style_function=style,
        highlight_function=lambda feature: {"weight": 2.5, "color": "#000000"},
        tooltip=tooltip,
        marker=marker,
        show=show,
    )


# --------------------------------------------------------------------------------------------------
# the map


def new_map(
    bounds: tuple[float, float, float, float] | None = None,
    *,
    lang: str = "fr",
    offline: bool = True,
    title: str | None = None,
) -> folium.Map:
    """Create an empty map, offline (no tiles, Leaflet inlined) or with the OSM tiles.

    Parameters
    ----------
    bounds
        ``(left, bottom, right, top)`` in WGS84 to fit; France when None.
    lang
        "fr" (default) or "en": language of the attribution.
    offline
        True (default): no tile layer, the vendored Leaflet inlined into the page, and a check at
        rendering that the page fetches nothing from another host. False: OSM tiles and CDN links.
    title
        Title of the HTML page.

    Returns
    -------
    folium.Map
        Full-page map with a scale bar and the OSM attribution.
    """
    language = check_lang(lang)
    if bounds is None:
        bounds = FRANCE_BOUNDS
    left, bottom, right, top = bounds
    m = folium.Map(
        location=((bottom + top) / 2, (left + right) / 2),
        zoom_start=15,
        tiles=None,
        control_scale=False,
    )
    setup_map(m, bounds, lang=language, offline=offline)
    figure = m.get_root()
    if title is not None and isinstance(figure, Figure):
        figure.title = escape_html(title)  # branca writes it into <title> as is
    return m


#: Metropolitan France, ``(left, bottom, right, top)`` in WGS84.
FRANCE_BOUNDS = (-5.2, 41.3, 9.6, 51.1)


def setup_map(
    m: folium.Map, bounds: tuple[float, float, float, float], *, lang: Lang, offline: bool
) -> None:
    """Make ``m`` offline (or give it the OSM tiles), add the scale bar and fit ``bounds``."""
    m.options["maxZoom"] = 20
    m.options["zoomSnap"] = 0.25
    if offline:
        _make_offline(m)
        _MapSetup(OSM_ATTRIBUTION.render(lang)).add_to(m)
    else:
        folium.TileLayer(
            OSM_TILES,
            attr=OSM_ATTRIBUTION.render(lang),
            name="OpenStreetMap",
            max_zoom=19,
            control=False,
        ).add_to(m)
        _MapSetup(None).add_to(m)
    left, bottom, right, top = bounds
    m.fit_bounds([[bottom, left], [top, right]])


def _make_offline(m: folium.Map) -> None:
    by_name = {asset.name: asset for asset in ASSETS}
    m.default_js = [("leaflet", by_name["leaflet"].path)]
    m.default_css = [("leaflet_css", by_name["leaflet_css"].path)]
    add_offline_hook(m.get_root())


def add_offline_hook(figure: Element) -> None:
    """Make the page of ``figure`` offline: vendored assets inlined, outside loads refused.

    The hook is (re)placed as the figure's last child, so that it renders after every map.
    """
    if not isinstance(figure, Figure):
        raise ValidationError(msg("Une carte hors ligne doit appartenir à une Figure folium."))
    figure._children.pop(_OFFLINE_KEY, None)
    figure.add_child(OfflineAssets(), name=_OFFLINE_KEY)


def is_offline(m: folium.Map) -> bool:
    """Tell whether ``m`` was made by :func:`new_map` with ``offline=True``."""
    root = m.get_root()
    return isinstance(root, Figure) and _OFFLINE_KEY in root._children


def prepare(
    m: folium.Map | None,
    gdf: gpd.GeoDataFrame,
    *,
    lang: str,
    offline: bool,
    title: str | None = None,
) -> tuple[folium.Map, Lang]:
    """Return ``m``, or a new map fitted to ``gdf``, and the checked language."""
    language = check_lang(lang)
    if m is not None:
        if not isinstance(m, folium.Map):
            raise ValidationError(
                msg("m doit être une folium.Map, pas {kind}.", kind=type(m).__name__)
            )
        return m, language
    return new_map(wgs84_bounds(gdf), lang=language, offline=offline, title=title), language


class RenderedOnce(MacroElement):
    """A MacroElement whose macros are rendered once, their output written into the page as is.

    branca's :class:`~branca.element.MacroElement` wraps each macro's output in
    ``Element(text)``, which compiles that text as a Jinja2 template a second time: a title, a
    legend or a note holding ``{{ ... }}`` would then be executed on the server. The elements of
    this package (panels, legends, the basemap, the amenity markers) render once instead. This
    is a second line of defence: every string still goes through :mod:`qet_geo.escaping`,
    which is what protects folium's own elements (GeoJSON, tooltips, the layer control).
    """

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise ValidationError(
                msg(
                    "{kind} doit appartenir à une Figure folium pour être rendu.",
                    kind=type(self).__name__,
                )
            )
        macros = self._template.module.__dict__
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = macros.get(part)
            if macro is not None:
                target.add_child(_Raw(str(macro(self, kwargs))), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class _MapSetup(RenderedOnce):
    """A metric scale bar, and the OSM attribution when no tile layer gives it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% if this.text %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text_js }});
        {% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, text: str | None) -> None:
        super().__init__()
        self._name = "MapSetup"
        self.text = text
        # a constant of this module, kept readable in the page source (js_string writes \u003ca)
        self.text_js = json.dumps(text, ensure_ascii=False).replace("</", "<\\/")


def add_layer_control(m: folium.Map) -> None:
    """Add the layer control to ``m``, or move it after the layers added since.

    It is open when the map has a few layers, folded into a button when it has many.
    """
    m._children.pop(_CONTROL_KEY, None)
    n_layers = sum(isinstance(c, Layer) and c.control for c in m._children.values())
    m.add_child(folium.LayerControl(collapsed=n_layers > 6), name=_CONTROL_KEY)


def add_css(element: Element, *, extra: str | None = None, name: str = "") -> None:
    """Add the style sheet of the legends and panels (or ``extra``, keyed by ``name``) once."""
    root = element.get_root()
    if isinstance(root, Figure):
        root.header.add_child(Element(f"<style>{MAP_CSS}</style>"), name="qet_map_css")
        if extra is not None:
            root.header.add_child(Element(f"<style>{extra}</style>"), name=name)


# --------------------------------------------------------------------------------------------------
# controls: legends, titles, panels


class Panel(RenderedOnce):
    """A box of HTML on the map (title, itinerary), shown with a layer or always.

    The HTML is written into the page body (readable without JS) and moved into a Leaflet
    control when the map starts.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="qet-panel {{ this.css_class }} qet-hidden">{{ this.body }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function() {
            var map = {{ this._parent.get_name() }};
            var box = document.getElementById({{ this.get_name()|tojson }});
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function() {
                box.classList.remove("qet-hidden");
                L.DomEvent.disableClickPropagation(box);
                L.DomEvent.disableScrollPropagation(box);
                return box;
            };
            control.onRemove = function() {};
            {% if this.layers %}
            var layers = [{% for layer in this.layers %}{{ layer.get_name() }}, {% endfor %}];
            var update = function() {
                var on = layers.some(function(layer) { return map.hasLayer(layer); });
                if (on && !control._map) { control.addTo(map); }
                if (!on && control._map) { control.remove(); }
            };
            map.on("layeradd layerremove", update);
            update();
            {% else %}
            control.addTo(map);
            {% endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        body: str,
        *,
        position: str = "bottomright",
        layer: Layer | Sequence[Layer] | None = None,
        css_class: str = "",
    ) -> None:
        super().__init__()
        self._name = "Panel"
        self.body = body
        self.position = position
        self.layers = [layer] if isinstance(layer, Layer) else list(layer or ())
        self.css_class = css_class

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        add_css(self)
        super().render(**kwargs)


class Legend(Panel):
    """A legend: a title, colour swatches with their labels, and an optional note.

    Parameters
    ----------
    title
        Legend title (the indicator and its unit).
    items
        ``(colour, label)`` pairs, top to bottom.
    layer
        Show the legend only while this layer (or one of these layers) is on the map.
    note
        Small text under the swatches (source, privacy rule).
    dots
        Round swatches (point layers) instead of squares.
    """

    def __init__(
        self,
        title: str,
        items: Sequence[tuple[str, str]],
        *,
        layer: Layer | Sequence[Layer] | None = None,
        note: str | None = None,
        dots: bool = False,
        position: str = "bottomright",
    ) -> None:
        shape = "qet-swatch qet-dot" if dots else "qet-swatch"
        rows = "".join(
            f'<div class="qet-legend-row"><span class="{shape}" style="background:{colour}">'
            f"</span><span>{escape_html(label)}</span></div>"
            for colour, label in items
        )
        body = f'<div class="qet-legend-title">{escape_html(title[:1].upper() + title[1:])}</div>{rows}'
        if note:
            body += f'<div class="qet-legend-note">{escape_html(note)}</div>'
        super().__init__(body, position=position, layer=layer, css_class="qet-legend")
        self._name = "Legend"
        self.title = title
        self.items = list(items)


def indicator_legend(
    spec: MapStyle,
    colours: Sequence[str],
    lang: Lang,
    *,
    bins: Sequence[float],
    layer: Layer | None = None,
    missing: bool = False,
    note: str | None = None,
    dots: bool = False,
) -> Legend:
    """Return the legend of an indicator classed by ``bins``, coloured by ``colours``."""
    items = list(zip(colours, class_labels(spec, lang, bins), strict=True))
    if missing:
        items.append((MISSING_COLOUR, NOT_AVAILABLE.render(lang)))
    return Legend(spec.label, items, layer=layer, note=note, dots=dots)


MISSING_COLOUR = "#bbbbbb"


def class_colours(spec: MapStyle, bins: Sequence[float]) -> list[str]:
    """Return one colour per class of ``bins`` from the indicator's ramp."""
    return ramp_colours(spec.ramp, len(bins) - 1)


def add_title(m: folium.Map, text: str, *, position: str = "topleft") -> folium.Map:
    """Add a title box to ``m`` and return ``m``.

    Parameters
    ----------
    m
        The map.
    text
        The title (plain text).
    position
        Leaflet corner: "topleft" (default), "topright", "bottomleft", "bottomright".
    """
    Panel(escape_html(text), position=position, css_class="qet-title").add_to(m)
    return m


#: The banner of every page built on labelled-synthetic answers (the report's words).
SYNTHETIC_BANNER = msg(
    "Réponses SYNTHÉTIQUES (démonstration) : ces chiffres ne sont pas un résultat d'enquête. "
    "Les réponses ont été générées sur les bâtiments réels, étiquetées SYN-."
)


def add_synthetic_banner(m: folium.Map, *, lang: str = "fr") -> folium.Map:
    """Add the banner saying the figures come from synthetic answers, and return ``m``.

    Shown above every layer, in the top-left corner under the title, and written into the page
    itself (readable without JavaScript and in print).
    """
    text = SYNTHETIC_BANNER.render(check_lang(lang))
    Panel(escape_html(text), position="topleft", css_class="qet-banner").add_to(m)
    return m


def add_note(m: folium.Map, text: str, *, position: str = "bottomleft") -> folium.Map:
    """Add a note (plain text: what the map lacks, and why) to ``m`` and return ``m``."""
    Panel(escape_html(text), position=position, css_class="qet-note").add_to(m)
    return m


# --------------------------------------------------------------------------------------------------
# the light basemap drawn from the extract


class VectorBasemap(Layer, RenderedOnce):
    """Light vector layers from the extract, drawn on a canvas under every other layer.

    Not interactive (no tooltip, clicks go through); one entry in the layer control.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>.leaflet-container { background: {{ this.background }}; }</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
            var map = {{ this._parent.get_name() }};
            if (!map.getPane("qetBasemap")) {
                var pane = map.createPane("qetBasemap");
                pane.style.zIndex = 350;
                pane.style.pointerEvents = "none";
            }
            var renderer = L.canvas({pane: "qetBasemap", padding: 0.5});
            var group = L.layerGroup();
            var options = {interactive: false, pane: "qetBasemap", renderer: renderer};
            {% for sub in this.sublayers %}
            (function(data) {
                {% for style in sub.styles %}
                L.geoJSON(data, Object.assign({style: {{ style }}}, options)).addTo(group);
                {% endfor %}
            })({{ sub.data }});
            {% endfor %}
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        sublayers: Sequence[Mapping[str, Any]],
        *,
        name: str,
        background: str = "#f4f1ea",
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorBasemap"
        self.sublayers = list(sublayers)
        self.background = background


_STREET_WIDTH = {
    "motorway": 3,
    "trunk": 3,
    "primary": 3,
    "secondary": 3,
    "tertiary": 2,
    "motorway_link": 2,
    "trunk_link": 2,
    "primary_link": 2,
    "secondary_link": 2,
    "tertiary_link": 2,
    "residential": 2,
    "unclassified": 2,
    "living_street": 2,
    "pedestrian": 2,
    "road": 2,
}


def _street_class(highway: Any) -> int:
    if isinstance(highway, list | tuple | np.ndarray):
        return max((_street_class(h) for h in highway), default=1)
    return _STREET_WIDTH.get(str(highway), 1)


def _json_text(
    gdf: gpd.GeoDataFrame,
    props: list[dict[str, Any]] | None,
    simplify_m: float,
    *,
    decimals: int = 6,
) -> str:
    wgs = to_wgs84(gdf, simplify_m=simplify_m)
    texts = shapely.to_geojson(_rounded(wgs.geometry.to_numpy(), decimals))
    if props is None:
        parts = [f'{{"type":"Feature","geometry":{t},"properties":{{}}}}' for t in texts]
    else:
        parts = [
            f'{{"type":"Feature","geometry":{t},"properties":{script_json(p)}}}'
            for t, p in zip(texts, props, strict=True)
        ]
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


def make_basemap(
    layers: NeighbourhoodLayers | Mapping[str, gpd.GeoDataFrame],
    *,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
    show: bool = True,
) -> folium.Map:
    """Draw a light basemap from the extract's own streets, buildings, water and parks.

    This replaces the tiles of offline maps (a tile server is an outside host), and it can be
    laid over tiles too. The neighbourhood's outline is drawn as a dashed line. Above
    :data:`maps._cells.AGGREGATE_ABOVE_HOMES` homes (residential buildings) the basemap is the
    lighter one of large areas: main roads, water and parks of a hectare or more, simplified to
    10 m, no buildings (a page inlines its data: every building of 200 000 homes made 137 MB);
    its name in the layer control says so.

    Parameters
    ----------
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`), or a mapping with some of
        "streets", "buildings", "water", "parks", "territory" (GeoDataFrames, any CRS).
    m
        The map to draw on; a new one fitted to the territory (or the layers) when None.
    lang
        "fr" (default) or "en".
    offline
        For a new map: True (default) for an offline page, False for the OSM tiles.
    show
        Show the basemap when the page opens (it stays in the layer control either way).

    Returns
    -------
    folium.Map
        ``m`` or the new map.

    Raises
    ------
    ValidationError
        ``layers`` holds none of the layers above, or they are not GeoDataFrames.
    """
    frames = dict(layers.layers) if isinstance(layers, NeighbourhoodLayers) else dict(layers)
    present = {
        name: check_frame(frames[name], f"layers[{name!r}]")
        for name in ("parks", "water", "buildings", "streets", "territory")
        if name in frames and len(frames[name])
    }
    if not present:
        raise ValidationError(
            msg(
                "layers ne contient ni rues, ni bâtiments, ni eau, ni parcs, ni territoire : "
                "donnez le résultat de qet_geo.layers.build_layers."
            )
        )
    fit = present.get("territory")
    if fit is None:
        fit = next(iter(present.values()))
    m, language = prepare(m, fit, lang=lang, offline=offline)
    # a large area gets the lighter basemap: no buildings, main roads, shapes simplified
    light = count_homes(frames) > AGGREGATE_ABOVE_HOMES
    if light:
        present.pop("buildings", None)
        if "streets" in present:
            present["streets"] = main_roads(present["streets"])
        for name in ("parks", "water"):
            if name in present:
                present[name] = _large_shapes(present[name])
        present = {name: frame for name, frame in present.items() if len(frame)}
    tolerance = SIMPLE_BASEMAP_TOLERANCE_M if light else None
    decimals = 5 if light else 6
    sublayers: list[dict[str, Any]] = []
    if "parks" in present:
        sublayers.append(
            {
                "data": _json_text(present["parks"], None, tolerance or 1.0, decimals=decimals),
                "styles": ['{"stroke": false, "fillColor": "#d5e8c4", "fillOpacity": 1}'],
            }
        )
    if "water" in present:
        sublayers.append(
            {
                "data": _json_text(present["water"], None, tolerance or 1.0, decimals=decimals),
                "styles": ['{"stroke": false, "fillColor": "#b9d7e8", "fillOpacity": 1}'],
            }
        )
    if "buildings" in present:
        sublayers.append(
            {
                "data": _json_text(present["buildings"], None, 0.3),
                "styles": [
                    '{"color": "#c4bcae", "weight": 0.6, "fillColor": "#ddd6ca", "fillOpacity": 1}'
                ],
            }
        )
    if "streets" in present:
        streets = _unique_lines(present["streets"])
        props = (
            [{"w": _street_class(h)} for h in streets["highway"]]
            if "highway" in streets.columns
            else [{"w": 2} for _ in range(len(streets))]
        )
        widths = "{1: 1.2, 2: 3.5, 3: 5.5}"
        sublayers.append(
            {
                "data": _json_text(streets, props, tolerance or 0.5, decimals=decimals),
                "styles": [
                    "function(f) { return {color: '#c9c2b6', lineCap: 'round', weight: "
                    f"{widths}[f.properties.w] + 1.5}}; }}",
                    "function(f) { return {color: '#ffffff', lineCap: 'round', weight: "
                    f"{widths}[f.properties.w]}}; }}",
                ],
            }
        )
    if "territory" in present:
        sublayers.append(
            {
                "data": _json_text(present["territory"], None, 0.0),
                "styles": ['{"color": "#5b5b5b", "weight": 2, "dashArray": "6 4", "fill": false}'],
            }
        )
    name = (
        simple_basemap_name(language)
        if light
        else msg("Fond de carte (OpenStreetMap)").render(language)
    )
    VectorBasemap(sublayers, name=name, show=show).add_to(m)
    add_layer_control(m)
    return m


def _large_shapes(shapes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the parks or water of the lighter basemap: polygons of a hectare or more, and lines."""
    projected = shapes if shapes.crs is not None and shapes.crs.is_projected else None
    if projected is None:
        projected = shapes.to_crs(WORK_CRS)
    polygons = projected.geometry.geom_type.isin(_POLYGONS).to_numpy()
    small = polygons & (projected.geometry.area.to_numpy() < LIGHT_MIN_AREA_M2)
    return shapes[~small]


#: The smallest park or water area the lighter basemap keeps, m² (a hectare).
LIGHT_MIN_AREA_M2 = 10_000.0


def _unique_lines(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the reverse copies of two-way street edges (a directed graph holds both)."""
    keep = streets.geometry.notna() & ~streets.geometry.is_empty
    streets = streets[keep]
    keys = shapely.to_wkb(shapely.normalize(streets.geometry.to_numpy()))
    return streets[~pd.Series(keys, index=streets.index).duplicated().to_numpy()]


def stable_ids(m: Element) -> Element:
    """Name every element of the page of ``m`` by its place in the page, and return ``m``.

    Folium names elements at random (``map_3f2a…``): the same map built twice renders to two
    different pages. Numbered in order instead, a map built from the same data renders to the
    same bytes (a published page stays identical, a cache or an ETag can rely on it).
    """
    counter = itertools.count()

    def walk(element: Element) -> None:
        element._id = f"{next(counter):012x}"
        for child in element._children.values():
            walk(child)

    walk(m.get_root())
    return m


# --------------------------------------------------------------------------------------------------
# saving


def save_map(m: Element, path: str | PathLike[str]) -> Path:
    """Write ``m`` as one self-contained HTML page, atomically.

    Offline maps inline their scripts and styles; rendering refuses a page that would load
    anything from another host.

    Parameters
    ----------
    m
        A map of this package (a folium.Map, or the DualMap of :func:`maps.make_compare_map`).
    path
        The ``.html`` file to write; its folder must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputFileError
        The folder does not exist or cannot be written.
    ValidationError
        An offline map would load something from another host.
    """
    root = m.get_root()
    html_text = root.render()
    target = Path(path)
    if not target.parent.is_dir():
        raise InputFileError(
            msg(
                "Impossible d'écrire {target} : le dossier {parent} n'existe pas.",
                target=target,
                parent=target.parent,
            ),
            path=target,
        )
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(html_text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputFileError(
            msg("Impossible d'écrire {target} : {err}.", target=target, err=err), path=target
        ) from err
    return target
