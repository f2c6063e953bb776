"""National map: every neighbourhood of the network with its key figures.

Input contract: a GeoDataFrame with one row per neighbourhood, a point (its centre) or its
polygon, a ``name`` and figure columns, e.g. ``n_respondents``, ``total_kgco2e_mean`` (mean SU
footprint, kgCO2e per year), ``share_<profile>``, the 15-minute score
(:data:`qet_geo.constraints.indicators.SCORE`), ``population``, ``theme`` (the theme voted at the
forum), ``year``, ``type`` (the neighbourhood's type in the typology on constraints),
``rank_total_kgco2e`` (1 = lowest footprint). Known columns get their French label and unit;
others show under their own name.

Figures about respondents are statistics: a neighbourhood with 1 to 10 respondents
(``n_respondents``), or one marked in the ``withheld`` column (its figures already suppressed
upstream), shows its name only, as INSEE's statistical secrecy requires.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from maps._base import (
    FRANCE_BOUNDS,
    MISSING_COLOUR,
    Legend,
    Panel,
    VectorBasemap,
    _json_text,
    add_layer_control,
    check_frame,
    class_colours,
    geojson_layer,
    indicator_legend,
    new_map,
    prepare,
    wgs84_bounds,
)
from maps._labels import Lang, classify, fmt_number, fmt_value, indicator
from qet_geo.crs import WORK_CRS
from qet_geo.escaping import escape_html
from qet_geo.i18n import Msg, msg
from qet_geo.privacy import MIN_RESPONDENTS

__all__ = ["make_national_map"]

#: Outlines are drawn simplified to this tolerance, in metres (invisible at the national scale):
#: a territory may have 100 000 vertices, the stored geometry stays exact.
DISPLAY_TOLERANCE_M = 5.0
#: The background's outlines (régions, départements) are drawn simplified to this, in metres.
DISPLAY_BACKGROUND_M = 800.0


def display_outlines(
    outlines: gpd.GeoSeries, *, tolerance_m: float = DISPLAY_TOLERANCE_M
) -> gpd.GeoSeries:
    """Return a display copy of ``outlines`` simplified to ``tolerance_m`` metres, same CRS.

    Simplified in Lambert-93 (metres), topology preserved; the input is left untouched.
    """
    if outlines.crs is None:  # no way to know what a metre is: drawn as given
        return outlines
    projected = outlines.to_crs(WORK_CRS)
    return projected.simplify(tolerance_m, preserve_topology=True).to_crs(outlines.crs)


_TEXT_LABELS: dict[str, Msg] = {
    "theme": msg("thème choisi"),
    "year": msg("année du diagnostic"),
    "commune": msg("commune"),
    "phase": msg("phase"),
    "iris_codes": msg("IRIS"),
    "pilot": msg("équipe pilote"),
    "type": msg("type de quartier (typologie des contraintes)"),
    "rank_total_kgco2e": msg("rang de l'empreinte totale (1 = la plus faible)"),
}


def make_national_map(
    neighbourhoods: gpd.GeoDataFrame,
    *,
    color: str | None = None,
    figures: Sequence[str] | None = None,
    name: str = "name",
    withheld: str | None = None,
    left_out: Sequence[str] = (),
    background: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame] | None = None,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Map every neighbourhood of the network as a marker (and its outline) with key figures.

    Parameters
    ----------
    neighbourhoods
        One row per neighbourhood: points or polygons (any CRS), ``name`` and figure columns
        (see the module's contract).
    color
        Numeric figure colouring the markers (e.g. ``total_kgco2e_mean``), with its legend;
        one colour for all when None.
    figures
        Figures in the tooltip, in this order; every column but the name and geometry when None.
    name
        Column of the neighbourhood's name.
    withheld
        Boolean column marking neighbourhoods whose figures were withheld upstream (e.g. the
        national comparison of fewer than 11 respondents): shown like those of 1 to 10
        respondents, by their name only.
    left_out
        Names of neighbourhoods that cannot be placed (no territory), listed in a note.
    background
        Outlines drawn as a light basemap, the offline substitute for tiles at the national
        scale; any CRS. One table (e.g. the régions) is drawn as land with its borders and the
        outline of the whole; with several (the régions, then the départements), the first is
        the land and the others add their borders in finer lines under it.
    m
        The map to draw on; a new one fitted to the neighbourhoods when None.
    lang
        "fr" (default) or "en".
    offline
        For a new map: True (default) for a page that loads nothing from outside.

    Returns
    -------
    folium.Map
        ``m`` or the new map: a "Quartiers du réseau" marker layer, the outlines of polygon
        neighbourhoods, and the legend of ``color``.

    Raises
    ------
    ValidationError
        A column is missing, or geometries are neither points nor polygons.
    """
    check_frame(
        neighbourhoods,
        "neighbourhoods",
        columns=[name]
        + ([color] if color else [])
        + ([withheld] if withheld else [])
        + list(figures or ()),
        geom_types=("Point", "Polygon", "MultiPolygon"),
    )
    drawn = neighbourhoods[neighbourhoods.geometry.notna() & ~neighbourhoods.geometry.is_empty]
    if m is None and background is not None:
        # a national comparison is read on the whole of France, not on the neighbourhoods alone
        left, bottom, right, top = wgs84_bounds(drawn)
        f_left, f_bottom, f_right, f_top = FRANCE_BOUNDS
        bounds = (min(left, f_left), min(bottom, f_bottom), max(right, f_right), max(top, f_top))
        m = new_map(bounds, lang=lang, offline=offline)
    m, language = prepare(m, drawn, lang=lang, offline=offline)
    if background is not None:
        frames = [background] if isinstance(background, gpd.GeoDataFrame) else list(background)
        if frames:
            _background(frames, language).add_to(m)
    columns = (
        list(figures)
        if figures is not None
        else [c for c in drawn.columns if c not in (name, withheld, drawn.geometry.name)]
    )
    secret = _secret(drawn)
    if withheld is not None:
        secret = secret | drawn[withheld].fillna(False).astype(bool)
    tips = [
        _tooltip(drawn.iloc[i], name, columns, language, secret=bool(secret.iloc[i]))
        for i in range(len(drawn))
    ]
    if color is not None:
        values = pd.to_numeric(drawn[color], errors="coerce").where(~secret)
        spec = indicator(color, language, values=values)
        palette = class_colours(spec, spec.bins)
        classes = classify(values, spec.bins)
        colours = [palette[c] if c >= 0 else MISSING_COLOUR for c in classes]
    else:
        colours = ["#1f78b4"] * len(drawn)
    polygons = drawn.geometry.geom_type.isin(("Polygon", "MultiPolygon"))
    if polygons.any():
        outlines = drawn[polygons]
        outlines = outlines.set_geometry(display_outlines(outlines.geometry))
        geojson_layer(
            outlines,
            [colours[i] for i in range(len(drawn)) if polygons.iloc[i]],
            [tips[i] for i in range(len(drawn)) if polygons.iloc[i]],
            name=msg("Périmètres des quartiers").render(language),
            fill_opacity=0.5,
        ).add_to(m)
    centres = drawn.set_geometry(drawn.to_crs(WORK_CRS).representative_point().to_crs(drawn.crs))
    layer_name = msg("Quartiers du réseau ({n})", n=len(drawn)).render(language)
    layer = geojson_layer(centres, colours, tips, name=layer_name, point_radius=8)
    layer.add_to(m)
    note = msg(
        "Moins de {minimum} répondants : chiffres non publiés (secret statistique).",
        minimum=MIN_RESPONDENTS,
    ).render(language)
    if color is not None:
        indicator_legend(
            spec,
            palette,
            language,
            bins=spec.bins,
            layer=layer,
            missing=bool((classes < 0).any()),
            note=note if secret.any() else None,
            dots=True,
        ).add_to(m)
    else:
        Legend(
            msg("réseau des Quartiers en Transitions").render(language),
            [("#1f78b4", msg("quartier").render(language))],
            layer=layer,
            dots=True,
            note=note if secret.any() else None,
        ).add_to(m)
    if left_out:
        names = ", ".join(str(n) for n in left_out)
        Panel(
            '<div class="qet-legend-note">'
            + escape_html(
                msg(
                    "Hors carte, faute de territoire ({n}) : {names}.", n=len(left_out), names=names
                ).render(language)
            )
            + "</div>",
            position="bottomleft",
            css_class="qet-legend",
        ).add_to(m)
    add_layer_control(m)
    return m


def _background(frames: list[gpd.GeoDataFrame], lang: Lang) -> VectorBasemap:
    """The land with the borders of each table, the first one's bolder, the whole's outline.

    Each table is written once into the page: the finest (the last) fills the land and draws
    its borders, the coarser ones draw theirs over it, then the outline of the first.
    """
    for i, frame in enumerate(frames):
        check_frame(frame, f"background[{i}]", geom_types=("Polygon", "MultiPolygon"))
    fill = '{"stroke": false, "fillColor": "#ebe6dc", "fillOpacity": 1}'
    fine = '{"color": "#cdc5b7", "weight": 0.6, "fill": false}'
    bold = '{"color": "#a39a8a", "weight": 1.2, "fill": false}'
    sublayers = []
    for i, frame in reversed(list(enumerate(frames))):
        styles = ([fill] if i == len(frames) - 1 else []) + [bold if i == 0 else fine]
        sublayers.append({"data": _json_text(frame, None, DISPLAY_BACKGROUND_M), "styles": styles})
    land = frames[0].to_crs(WORK_CRS)
    whole = gpd.GeoDataFrame(geometry=[land.union_all()], crs=WORK_CRS)
    sublayers.append(
        {
            "data": _json_text(whole, None, DISPLAY_BACKGROUND_M),
            "styles": ['{"color": "#7d7466", "weight": 2, "fill": false}'],
        }
    )
    return VectorBasemap(sublayers, name=msg("Fond de carte").render(lang))


def _secret(frame: pd.DataFrame) -> pd.Series:
    """Tell which neighbourhoods have 1 to 10 respondents (their figures are not published)."""
    if "n_respondents" not in frame.columns:
        return pd.Series(False, index=frame.index)
    n = pd.to_numeric(frame["n_respondents"], errors="coerce")
    return ((n >= 1) & (n < MIN_RESPONDENTS)).fillna(False).astype(bool)


def _tooltip(
    row: pd.Series, name: str, columns: Sequence[str], lang: Lang, *, secret: bool
) -> list[tuple[str, str]]:
    out = [(msg("Quartier").render(lang), str(row[name]))]
    if secret:
        unpublished = msg(
            "non publiés : moins de {minimum} répondants", minimum=MIN_RESPONDENTS
        ).render(lang)
        out.append((msg("Chiffres").render(lang), unpublished))
        return out
    for column in columns:
        value = row[column]
        if column in _TEXT_LABELS:
            out.append((_TEXT_LABELS[column].render(lang).capitalize(), _plain(value, lang)))
            continue
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.isna(number) and not pd.isna(value) and not isinstance(value, int | float):
            out.append((str(column), str(value)))
            continue
        spec = indicator(str(column), lang)
        label = spec.label[:1].upper() + spec.label[1:]
        out.append((label, fmt_value(spec, number, lang)))
    return out


def _plain(value: object, lang: Lang) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float) and value.is_integer():
        return fmt_number(value, lang, decimals=0).replace("\u202f", "")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)
