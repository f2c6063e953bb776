"""Before/after map: two diagnostics of one neighbourhood side by side, in synchronised maps.

The method's last phase measures again a year after the projects: this map puts the first and the
second diagnostic next to each other (folium's DualMap: panning or zooming one moves the other),
with the same classes and colours on both sides, so that a change of colour is a change of
value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.plugins import DualMap
from folium.template import Template

from maps._base import (
    add_offline_hook,
    add_title,
    check_frame,
    make_basemap,
    setup_map,
    wgs84_bounds,
)
from maps._labels import Lang, check_lang, fmt_value, indicator
from maps.constraints import make_constraints_map
from qet_geo.errors import ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.layers import NeighbourhoodLayers
from qet_geo.privacy import require_protected

__all__ = ["make_compare_map"]


def make_compare_map(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    column: str,
    *,
    titles: tuple[str, str] | None = None,
    bins: Sequence[float] | None = None,
    label: str | None = None,
    layers: NeighbourhoodLayers | Mapping[str, gpd.GeoDataFrame] | None = None,
    m: DualMap | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> DualMap:
    """Show two diagnostics of one neighbourhood side by side, with shared classes.

    Parameters
    ----------
    before, after
        The two diagnostics: homes or cells with ``column`` (e.g. two outputs of
        :func:`qet_geo.constraints.access.neighbourhood_access`), or two tables of
        :func:`qet_geo.privacy.safe_aggregate` (cells with ``total_kgco2e_mean``...); a table
        with ``n_respondents`` must come from ``safe_aggregate``.
    column
        The indicator compared (see :func:`maps.make_constraints_map`).
    titles
        Titles of the two sides; "Avant" and "Après" by default ("Before", "After").
    bins
        Class edges shared by both sides; the indicator's own, or quantiles of both diagnostics
        together for an unknown column, by default.
    label
        Legend title; the indicator's name and unit by default.
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`), drawn as the basemap of both
        sides.
    m
        A DualMap to draw on; a new one fitted to both diagnostics when None.
    lang
        "fr" (default) or "en".
    offline
        For a new DualMap: True (default) for a page that loads nothing from outside (the sync
        plugin is inlined too).

    Returns
    -------
    folium.plugins.DualMap
        The two synchronised maps (``.m1`` before, ``.m2`` after); save it with
        :func:`maps.save_map`.

    Raises
    ------
    ValidationError
        ``column`` is missing from one side, or ``m`` is not a DualMap.
    DisclosureError
        A respondent table did not come from ``safe_aggregate``.
    """
    language = check_lang(lang)
    check_frame(before, "before", columns=[column])
    check_frame(after, "after", columns=[column])
    for side, frame in (("before", before), ("after", after)):
        if "n_respondents" in frame.columns:
            require_protected(frame, what=f"the {side} side of the comparison map")
    edges = tuple(bins) if bins is not None else _shared_bins(before, after, column, language)
    if m is None:
        m = _new_dual_map(before, after, lang=language, offline=offline)
    elif not isinstance(m, DualMap):
        raise ValidationError(
            msg("m doit être une folium.plugins.DualMap, pas {kind}.", kind=type(m).__name__)
        )
    names: tuple[Msg | str, Msg | str] = titles or (msg("Avant"), msg("Après"))
    for side_map, frame, title in ((m.m1, before, names[0]), (m.m2, after, names[1])):
        if layers is not None:
            make_basemap(layers, m=side_map, lang=language)
        make_constraints_map(frame, column, bins=edges, label=label, m=side_map, lang=language)
        summary = _summary(frame, column, language)
        add_title(
            side_map, msg("{title} : {summary}", title=title, summary=summary).render(language)
        )
    return m


def _shared_bins(
    before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, column: str, lang: Lang
) -> tuple[float, ...]:
    both = pd.concat([before[column], after[column]], ignore_index=True)
    return indicator(column, lang, values=both).bins


def _new_dual_map(
    before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, *, lang: Lang, offline: bool
) -> DualMap:
    boxes = np.array([wgs84_bounds(before), wgs84_bounds(after)])
    bounds = (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )
    left, bottom, right, top = bounds
    dual = DualMap(location=((bottom + top) / 2, (left + right) / 2), tiles=None, zoom_start=15)
    for side in (dual.m1, dual.m2):
        setup_map(side, bounds, lang=lang, offline=offline)
        side.options["trackResize"] = False
    _Resync(dual.m1).add_to(dual.m2)
    if offline:
        add_offline_hook(dual.get_root())
    return dual


class _Resync(MacroElement):
    """Resize both maps together, then align the right one on the left one.

    Leaflet resizes each map on its own animation frame and the sync plugin then moves the
    other by its own offset, so that the two views drift apart; both maps are therefore resized
    here, at once (their own ``trackResize`` is off).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.addEventListener("resize", function() {
            var leader = {{ this.leader.get_name() }}, follower = {{ this._parent.get_name() }};
            leader.invalidateSize({animate: false});
            follower.invalidateSize({pan: false});
            follower.setView(leader.getCenter(), leader.getZoom(), {animate: false});
        });
        {% endmacro %}
        """
    )

    def __init__(self, leader: MacroElement) -> None:
        super().__init__()
        self._name = "Resync"
        self.leader = leader


def _summary(frame: gpd.GeoDataFrame, column: str, lang: Lang) -> str:
    """Return the mean of ``column``, weighted by people or respondents when known."""
    values = pd.to_numeric(frame[column], errors="coerce")
    weights = next(
        (
            pd.to_numeric(frame[w], errors="coerce").fillna(0.0)
            for w in ("n_respondents", "weight")
            if w in frame.columns
        ),
        pd.Series(1.0, index=frame.index),
    )
    ok = values.notna() & (weights > 0)
    spec = indicator(column, lang, values=values)
    mean = float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")
    return msg("moyenne {value}", value=fmt_value(spec, mean, lang)).render(lang)
