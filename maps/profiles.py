"""Map of the usage profiles and footprints per 200 m cell, with every disclosure rule applied.

Survey answers tied to homes are personal data: this map never shows a respondent, a home, or a
figure from 1 to 10 respondents. It draws only what :func:`qet_geo.privacy.safe_aggregate`
publishes (small cells pooled as INSEE does, no cell where one respondent dominates a total or
one profile is 100 %), checks the table with :func:`qet_geo.privacy.require_protected`, and puts
nothing else in the page: no zone id, no respondent id, no count below 11, in the shapes and in
the tooltips alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from maps._base import (
    MISSING_COLOUR,
    add_layer_control,
    class_colours,
    geojson_layer,
    indicator_legend,
    prepare,
)
from maps._labels import NOT_AVAILABLE, Lang, MapStyle, classify, fmt_number, fmt_value, indicator
from qet_geo._validate import data_frame
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.privacy import is_protected, require_protected, safe_aggregate

__all__ = ["make_profiles_map", "profile_label"]


def profile_label(category: Any, lang: Lang, labels: Mapping[Any, str] | None = None) -> str:
    """Return the name of a profile: ``labels[category]``, else "Profil 1" for category 0."""
    if labels is not None:
        for key in (category, str(category)):
            if key in labels:
                return str(labels[key])
        for key, value in labels.items():
            if str(key) == str(category):
                return str(value)
    text = str(category)
    if text.lstrip("-").isdigit():
        return msg("Profil {n}", n=int(text) + 1).render(lang)
    return text


def make_profiles_map(
    respondents: pd.DataFrame,
    *,
    profile: str = "profile",
    footprint: str | None = "total_kgco2e",
    zone: str = "cell_id",
    labels: Mapping[Any, str] | None = None,
    m: folium.Map | None = None,
    lang: str = "fr",
    offline: bool = True,
) -> folium.Map:
    """Map the share of each usage profile and the mean footprint per 200 m cell, privately.

    Parameters
    ----------
    respondents
        Either one row per respondent with ``zone`` (INSEE 200 m cell ids,
        ``CRS3035RES200mN…E…``), ``profile`` (the respondent's profile, e.g.
        ``UsageProfiles.labels_``; negative or missing: no profile) and ``footprint`` (kgCO2e
        per year, e.g. ``su_footprints(answers)["total_kgco2e"]``), which are aggregated here
        with :func:`qet_geo.privacy.safe_aggregate`; or a table that ``safe_aggregate`` already
        returned for grid cells (with ``share_<profile>`` and ``<footprint>_mean`` columns).
        Respondents' own locations (a geometry column) are never used.
    profile
        Column of the profile.
    footprint
        Column of the footprint (kgCO2e per year); None for the profile shares only.
    zone
        Column of the 200 m cell ids.
    labels
        Profile → name ("Profil 1 – voiture et avion"); "Profil 1", "Profil 2"... for profiles
        0, 1... by default.
    m
        The map to draw on; a new one fitted to the published zones when None.
    lang
        "fr" (default) or "en".
    offline
        For a new map: True (default) for a page that loads nothing from outside.

    Returns
    -------
    folium.Map
        ``m`` or the new map: a layer of the mean footprint (shown) and one layer per profile
        share (in the layer control), each with its legend; the tooltips give the respondents,
        the mean footprint and every profile share of the zone.

    Raises
    ------
    ValidationError
        A column is missing, the zones are not 200 m cells, or nothing can be published.
    DisclosureError
        A table given as aggregated did not come from ``safe_aggregate``.
    """
    table = _protected_table(respondents, profile=profile, footprint=footprint, zone=zone)
    require_protected(table, what="the profile map")
    if not isinstance(table, gpd.GeoDataFrame) or table.empty:
        raise ValidationError(
            msg(
                "La carte des profils demande des zones qui soient des carreaux INSEE de 200 m "
                "(cell_id du type CRS3035RES200mN…E…) et au moins 11 répondants en tout."
            )
        )
    m, language = prepare(m, table, lang=lang, offline=offline)
    shares = [c for c in table.columns if str(c).startswith("share_")]
    mean_col = f"{footprint}_mean" if footprint is not None else None
    if mean_col is not None and mean_col not in table.columns:
        mean_col = None
    tips = _tooltips(table, shares, mean_col, language, labels)
    note = msg(
        "Zones d'au moins 11 répondants : les carreaux de 200 m plus petits sont regroupés "
        "(secret statistique)."
    ).render(language)
    first = True
    if mean_col is not None:
        spec = indicator(mean_col, language)
        _choropleth(m, table, mean_col, spec, tips, language, note=note, show=True)
        first = False
    for column in shares:
        category = str(column)[len("share_") :]
        name = profile_label(category, language, labels)
        spec = indicator(column, language)
        spec = MapStyle(
            column,
            msg("part du profil « {name} »", name=name).render(language),
            spec.unit,
            spec.bins,
            spec.ramp,
            spec.scale,
            spec.decimals,
            sentence=spec.sentence,
        )
        _choropleth(m, table, column, spec, tips, language, note=note, show=first)
        first = False
    add_layer_control(m)
    return m


def _protected_table(
    respondents: pd.DataFrame, *, profile: str, footprint: str | None, zone: str
) -> pd.DataFrame:
    if is_protected(respondents):
        return respondents
    data_frame(respondents, what="respondents", hint=msg("une ligne par répondant"))
    needed = [zone, profile] + ([footprint] if footprint is not None else [])
    missing = [c for c in needed if c not in respondents.columns]
    if missing:
        raise ValidationError(
            msg(
                "respondents n'a pas la ou les colonnes {missing}.",
                missing=", ".join(missing),
            )
        )
    frame = pd.DataFrame({zone: respondents[zone].astype("string")}, index=respondents.index)
    labels = respondents[profile]
    if pd.api.types.is_numeric_dtype(labels):
        labels = labels.where(labels >= 0)
    frame[profile] = labels.astype("object").where(labels.notna(), None)
    values: list[str] = []
    if footprint is not None:
        frame[footprint] = pd.to_numeric(respondents[footprint], errors="coerce").astype(float)
        values = [footprint]
    return safe_aggregate(frame, zone=zone, values=values, profile=profile)


def _tooltips(
    table: pd.DataFrame,
    shares: list[str],
    mean_col: str | None,
    lang: Lang,
    labels: Mapping[Any, str] | None,
) -> list[list[tuple[str, str]]]:
    merged = (
        table["merged"].astype(bool)
        if "merged" in table.columns
        else pd.Series(False, index=table.index)
    )
    pooled = msg("regroupement de carreaux (secret statistique)")
    cell = msg("carreau de 200 m")
    rows: list[list[tuple[str, str]]] = []
    for i in range(len(table)):
        row = [
            (
                "Zone",
                (pooled if merged.iloc[i] else cell).render(lang),
            ),
            (
                msg("Répondants").render(lang),
                fmt_number(float(table["n_respondents"].iloc[i]), lang, decimals=0),
            ),
        ]
        if mean_col is not None:
            spec = indicator(mean_col, lang)
            row.append(
                (
                    msg("Empreinte moyenne").render(lang),
                    fmt_value(spec, table[mean_col].iloc[i], lang),
                )
            )
        for column in shares:
            name = profile_label(str(column)[len("share_") :], lang, labels)
            row.append((name, _share_text(table[column].iloc[i], lang)))
        rows.append(row)
    return rows


def _choropleth(
    m: folium.Map,
    table: gpd.GeoDataFrame,
    column: str,
    spec: MapStyle,
    tips: list[list[tuple[str, str]]],
    lang: Lang,
    *,
    note: str,
    show: bool,
) -> None:
    palette = class_colours(spec, spec.bins)
    classes = classify(table[column], spec.bins)
    colours = [palette[c] if c >= 0 else MISSING_COLOUR for c in classes]
    name = spec.label[:1].upper() + spec.label[1:]
    layer = geojson_layer(table, colours, tips, name=name, fill_opacity=0.7, show=show)
    layer.add_to(m)
    indicator_legend(
        spec,
        palette,
        lang,
        bins=spec.bins,
        layer=layer,
        missing=bool((classes < 0).any()),
        note=f"{spec.sentence} {note}" if spec.sentence else note,
    ).add_to(m)


def _share_text(share: float, lang: Lang) -> str:
    """Format a share in %, never rounding a share below 1 up to "100 %" (nor above 0 to "0 %")."""
    if pd.isna(share):
        return NOT_AVAILABLE.render(lang)
    if 0.995 <= share < 1:
        return "> 99\u00a0%"
    if 0 < share < 0.005:
        return "< 1\u00a0%"
    return f"{fmt_number(float(share) * 100, lang, decimals=0)}\u00a0%"
