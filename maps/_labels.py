"""User-facing words of the maps: indicator names and units, French first, and number formats.

Every column a map draws is named, explained, classed and coloured by the registry
(:mod:`qet_geo.constraints.indicators`): the built-constraint indicators (:data:`INDICATORS`) and
the other figures (:data:`FIGURES`: footprints, profile shares, counts), so that the maps, the
report and the API say the same words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import pandas as pd
from babel.numbers import get_decimal_symbol, get_group_symbol

from qet_geo.constraints.indicators import FOOTPRINT_USAGES, INDICATORS, get_figure
from qet_geo.errors import ValidationError
from qet_geo.i18n import LANGS, Lang, msg
from qet_geo.taxonomy import CATEGORY_LABELS

#: Colour ramps, light to dark (ColorBrewer YlOrRd, YlGnBu, Purples, Greys: Cynthia Brewer,
#: Apache-2.0).
RAMPS: dict[str, tuple[str, ...]] = {
    "worse": ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026", "#800026"),
    "better": ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494", "#081d58"),
    "share": ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"),
    "neutral": ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525"),
}

#: Colours of the amenity categories (Tableau 10 and two more), in taxonomy order.
CATEGORY_COLOURS: dict[str, str] = {
    "food_shop": "#e15759",
    "market": "#f28e2b",
    "school": "#4e79a7",
    "health": "#76b7b2",
    "transit_stop": "#1f3a93",
    "rail_station": "#000000",
    "park": "#59a14f",
    "sport_culture": "#b07aa1",
    "public_service": "#9c755f",
    "second_hand_repair": "#edc948",
    "local_shop": "#ff9da7",
    "cycle_parking": "#2ca02c",
}

#: What a map shows for a missing value.
NOT_AVAILABLE = msg("non disponible")
# Babel's locale of each language, for the digit separators.
_LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en"}


@dataclass(frozen=True)
class MapStyle:
    """How one column is named, classed and coloured on a map, in one language.

    Attributes
    ----------
    column
        The column it is read from.
    label
        What the value is, with its unit, as the legend title ("minutes jusqu'au commerce
        alimentaire le plus proche").
    unit
        Short unit after a value ("min", "%", "t CO2e/an"); may be empty.
    bins
        Class edges in the column's own unit; class i is ``bins[i] <= v < bins[i + 1]`` (the
        last class includes its upper edge).
    ramp
        Key of :data:`RAMPS`: "worse" when a higher value is a stronger constraint, "better"
        when it is a better access, "share" for shares, "neutral" when it is neither.
    scale
        Factor from the column's unit to the displayed one (100 for a share shown in %).
    decimals
        Decimals shown.
    integer
        Counts: class labels "2-3" instead of "2-4".
    sentence
        What the value means, in one plain sentence for residents (the registry's); may be empty.
    """

    column: str
    label: str
    unit: str
    bins: tuple[float, ...]
    ramp: str = "neutral"
    scale: float = 1.0
    decimals: int = 1
    integer: bool = False
    sentence: str = ""


def check_lang(lang: str) -> Lang:
    """Return ``lang`` when it is "fr" or "en", else raise a ValidationError."""
    if lang not in LANGS:
        raise ValidationError(msg("lang={lang!r} : utilisez 'fr' (par défaut) ou 'en'.", lang=lang))
    return cast(Lang, lang)


def category_label(category: str, lang: Lang) -> str:
    """Return the user-facing name of an amenity category (the key itself when unknown)."""
    label = CATEGORY_LABELS.get(category)
    return category if label is None else label.render(lang)


def usage_label(usage: str, lang: Lang) -> str:
    """Return the user-facing name of an SU usage ("meat_frequency" -> "alimentation")."""
    label = FOOTPRINT_USAGES.get(usage)
    return usage if label is None else label.render(lang)


def indicator(
    column: str, lang: Lang, *, values: pd.Series | None = None, label: str | None = None
) -> MapStyle:
    """Return how ``column`` is shown: known indicators by name, others classed by quantiles.

    Parameters
    ----------
    column
        An indicator of the registry (:data:`qet_geo.constraints.indicators.INDICATORS`: its
        label, unit and classes), a footprint column
        (``total_kgco2e``, ``total_kgco2e_mean``), ``share_<profile>``, ``n_respondents``, or any
        numeric column.
    lang
        "fr" or "en".
    values
        The values, to class an unknown column by quantiles.
    label
        Legend title replacing the default one.
    """
    spec = _known(column, lang)
    if spec is None:
        spec = _by_quantiles(column, values)
    if label is not None:
        spec = replace(spec, label=label)
    return spec


def _known(column: str, lang: Lang) -> MapStyle | None:
    entry = INDICATORS.get(column)
    if entry is not None and entry.breaks is not None:
        return MapStyle(
            column,
            entry.label.render(lang),
            entry.symbol,
            entry.breaks,
            entry.direction,
            entry.scale,
            entry.decimals,
            entry.integer,
            entry.sentence.render(lang),
        )
    # a zone's sum of footprints is named as the footprint (as privacy.safe_aggregate writes it)
    name = column.removesuffix("_sum") if column.endswith("_kgco2e_sum") else column
    try:
        figure = get_figure(name)
    except ValidationError:
        return None
    if figure.breaks is None:
        return None
    symbol = figure.symbol
    return MapStyle(
        column,
        figure.label.render(lang),
        symbol if isinstance(symbol, str) else symbol.render(lang),
        figure.breaks,
        figure.direction,
        figure.scale,
        figure.decimals,
        figure.integer,
        figure.sentence.render(lang),
    )


def _by_quantiles(column: str, values: pd.Series | None) -> MapStyle:
    if values is None:
        return MapStyle(column, column, "", (-math.inf, math.inf))
    numeric = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    numeric = numeric[np.isfinite(numeric)]
    if numeric.size == 0:
        return MapStyle(column, column, "", (-math.inf, math.inf))
    quantiles = np.unique(np.quantile(numeric, [0, 0.2, 0.4, 0.6, 0.8, 1.0]))
    if quantiles.size == 1:
        quantiles = np.array([quantiles[0], quantiles[0]])
    span = float(quantiles[-1] - quantiles[0])
    decimals = 0 if span >= 50 else (1 if span >= 5 else 2)
    return MapStyle(column, column, "", tuple(float(e) for e in quantiles), decimals=decimals)


def fmt_number(value: float, lang: Lang, *, decimals: int = 1) -> str:
    """Format a number the French way (``1 234,5``) or the English way (``1,234.5``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    locale = _LOCALES[lang]
    separators = {ord(","): get_group_symbol(locale), ord("."): get_decimal_symbol(locale)}
    return f"{value:,.{decimals}f}".translate(separators)


def fmt_value(spec: MapStyle, value: float, lang: Lang) -> str:
    """Format one value of ``spec`` with its unit (``4,2 min``, ``87 %``)."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE.render(lang)
    text = fmt_number(float(value) * spec.scale, lang, decimals=spec.decimals)
    if not spec.unit:
        return text
    return f"{text}\u00a0{spec.unit}" if spec.unit not in ("/h", "/km²") else f"{text}{spec.unit}"


def class_labels(spec: MapStyle, lang: Lang, bins: Sequence[float] | None = None) -> list[str]:
    """Return the legend label of each class of ``bins`` (``spec.bins`` by default)."""
    edges = list(spec.bins if bins is None else bins)
    decimals = _edge_decimals([e * spec.scale for e in edges])
    spec = replace(spec, decimals=decimals)
    labels: list[str] = []
    n = len(edges) - 1
    for i in range(n):
        low, high = edges[i], edges[i + 1]
        a = fmt_number(low * spec.scale, lang, decimals=spec.decimals)
        if low == high:
            labels.append(_with_unit(a, spec))
        elif math.isinf(high):
            labels.append("≥ " + _with_unit(a, spec))
        elif math.isinf(low):
            b = fmt_number(high * spec.scale, lang, decimals=spec.decimals)
            labels.append("< " + _with_unit(b, spec))
        elif spec.integer and i < n - 1:
            b = fmt_number((high - 1) * spec.scale, lang, decimals=spec.decimals)
            labels.append(_with_unit(a if a == b else f"{a}–{b}", spec))
        else:
            b = fmt_number(high * spec.scale, lang, decimals=spec.decimals)
            labels.append(_with_unit(f"{a}–{b}", spec))
    return labels


def _edge_decimals(edges: Sequence[float]) -> int:
    """Return the fewest decimals (0 to 2) that show every finite class edge exactly."""
    finite = [e for e in edges if math.isfinite(e)]
    for decimals in (0, 1, 2):
        if all(abs(e - round(e, decimals)) < 1e-9 for e in finite):
            return decimals
    return 2


def _with_unit(text: str, spec: MapStyle) -> str:
    if not spec.unit or spec.unit in ("/h", "/km²"):
        return text + spec.unit
    return f"{text}\u00a0{spec.unit}"


def classify(values: pd.Series, bins: Sequence[float]) -> np.ndarray:
    """Return the class of each value (0 based; -1 when missing or outside ``bins``).

    Class i holds ``bins[i] <= v < bins[i + 1]``; the last class also holds its upper edge, and a
    class with equal edges holds exactly that value.
    """
    v = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    edges = np.asarray(bins, dtype=float)
    out = np.full(v.shape, -1, dtype=int)
    n = len(edges) - 1
    for i in range(n):
        low, high = edges[i], edges[i + 1]
        if low == high:
            inside = v == low
        elif i == n - 1:
            inside = (v >= low) & (v <= high)
        else:
            inside = (v >= low) & (v < high)
        out[inside & (out == -1)] = i
    return out


def ramp_colours(ramp: str, n: int) -> list[str]:
    """Return ``n`` colours of a ramp of :data:`RAMPS`, light to dark."""
    colours = RAMPS.get(ramp, RAMPS["neutral"])
    if n <= 1:
        return [colours[len(colours) // 2]]
    if n >= len(colours):
        return [colours[min(i, len(colours) - 1)] for i in range(n)]
    picks = np.linspace(0, len(colours) - 1, n).round().astype(int)
    return [colours[i] for i in picks]
