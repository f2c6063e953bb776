"""Maps of large areas: homes drawn as INSEE 200 m cells, and a lighter basemap, above a size.

A map page inlines its data. Drawn home by home, on the basemap of every building, a page grows by
about 0.7 kB per home (Lorient centre, measured by ``bench/map_pages.py``: 0.39 kB of building
outlines, 0.19 kB of home point with its tooltip, 0.14 kB of streets per home),
so 200 000 homes made 137 MB pages that a browser hardly opens. Above
:data:`AGGREGATE_ABOVE_HOMES` homes the maps draw instead:

- the homes as 200 m cells (carreaux, the INSEE grid of :mod:`qet_geo.grid`), each coloured by
  the mean of its homes' indicator weighted by their population (the homes' ``weight``: people
  when a census was allocated, else one per building), under the disclosure rules of
  ``docs/privacy.md`` as every other map applies them (:func:`qet_geo.privacy.safe_aggregate`:
  no cell of 1 to 10 homes, small cells pooled in their 400 m to 3 200 m parents, none where one
  home makes more than 85 % of a weighted total, no mean of 1 to 10 defined values);
- a basemap of the main roads (primary and above, simplified to 10 m), water and parks, without
  the buildings.

The page then grows with the settled area (about 0.3 kB per drawn zone: 2.3 MB for the 256
copies of Lorient centre side by side, 267 000 homes) rather than with the homes: a denser town of
the same area makes the same page, never more than one zone per 200 m cell. An area of several
thousand km² (a whole département) would need coarser cells or vector tiles; not done yet.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from qet_geo.errors import EmptyDataError
from qet_geo.i18n import msg, number

logger = logging.getLogger(__name__)

__all__ = [
    "AGGREGATE_ABOVE_HOMES",
    "aggregate_homes",
    "aggregated_note",
    "count_homes",
    "main_roads",
    "simple_basemap_name",
]

#: Above this many homes, maps draw 200 m cells and a basemap without buildings. Measured by
#: ``bench/map_pages.py`` (the exhibition's four maps, Lorient centre repeated side by side, on
#: this 2-core machine under load): home by home on the full basemap, 1 042 homes make a page
#: of 0.93 MB drawn in 0.6 s in headless chromium, 4 168 homes 3.2 MB and 1.8 s, 9 378 homes
#: 6.9 MB and 3.1 s (both targets missed): about 0.72 kB and 0.3 ms per home. 4 000 homes keep
#: a page near 3 MB and 2 s, under the 5 MB and 3 s targets with room for a sparser area's
#: extra buildings (Lorient centre has 1.6 buildings per home) and a slower machine, and still
#: draw a town centre, where single buildings matter, home by home. As cells, 66 688 homes make
#: 0.71 MB pages drawn in under 0.8 s, and 266 752 homes 2.3 MB pages drawn in under 1 s.
AGGREGATE_ABOVE_HOMES = 4000

#: The road classes the basemap keeps above the threshold (the others are dropped).
MAIN_ROADS = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
    }
)

#: Simplification of the lighter basemap's lines and shapes, metres.
SIMPLE_BASEMAP_TOLERANCE_M = 10.0


def aggregated_note(lang: str) -> str:
    """Return the caption of homes drawn as cells (the legend's note), in ``lang``."""
    return msg(
        "Carreaux de 200 m : au-delà de {threshold} logements, la carte montre la moyenne des "
        "logements de chaque carreau (pondérée par leur population) plutôt que chaque logement, "
        "pour que la page reste légère ; les carreaux de moins de 11 logements sont regroupés "
        "(secret statistique).",
        threshold=number(AGGREGATE_ABOVE_HOMES, decimals=0),
    ).render(lang)


def simple_basemap_name(lang: str) -> str:
    """Return the name of the lighter basemap (in the layer control), in ``lang``."""
    return msg(
        "Fond de carte simplifié (OpenStreetMap ; plus de {threshold} logements : grands axes, "
        "eau et parcs, sans les bâtiments)",
        threshold=number(AGGREGATE_ABOVE_HOMES, decimals=0),
    ).render(lang)


def count_homes(frames: Mapping[str, gpd.GeoDataFrame]) -> int:
    """Return the homes of a neighbourhood's layers: its residential buildings.

    As :func:`qet_geo.constraints.access.homes_from_buildings` counts them (every building when
    the layer has no ``residential`` column).
    """
    buildings = frames.get("buildings")
    if buildings is None or not len(buildings):
        return 0
    if "residential" in buildings.columns:
        return int(buildings["residential"].fillna(False).astype(bool).sum())
    return len(buildings)


def main_roads(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the streets of the lighter basemap: :data:`MAIN_ROADS` only."""
    if "highway" not in streets.columns:
        return streets.iloc[:0]

    def main(value: Any) -> bool:
        if isinstance(value, list | tuple | np.ndarray):
            return any(main(v) for v in value)
        return str(value) in MAIN_ROADS

    return streets[[main(h) for h in streets["highway"]]]


def aggregate_homes(
    homes: gpd.GeoDataFrame, columns: Sequence[str], *, weight: str = "weight"
) -> gpd.GeoDataFrame:
    """Average per-home indicators over 200 m cells, with every disclosure rule applied.

    Parameters
    ----------
    homes
        One point per home (polygons are taken at a point inside them) with ``columns``; any CRS.
    columns
        Numeric columns to average.
    weight
        Column of each home's weight (people); one per home when absent.

    Returns
    -------
    geopandas.GeoDataFrame
        What :func:`qet_geo.privacy.safe_aggregate` publishes for the homes' 200 m cells
        (EPSG:2154, indexed by ``zone_id``, protected): ``n_respondents`` (homes in the zone),
        ``merged`` (small cells pooled) and each of ``columns``, the weighted mean over the
        zone's homes where it is defined (NaN where no weight is).
    """
    from qet_geo.inputs.census import point_to_cell_id
    from qet_geo.privacy import GRID_LEVELS_M

    present = homes[homes.geometry.notna() & ~homes.geometry.is_empty]
    points = present.geometry
    if not bool((points.geom_type == "Point").all()):
        points = points.representative_point()
    w = (
        pd.to_numeric(present[weight], errors="coerce").fillna(0.0).clip(lower=0.0).to_numpy()
        if weight in present.columns
        else np.ones(len(present))
    )
    frame = pd.DataFrame({"cell_id": point_to_cell_id(points).to_numpy()})
    block = point_to_cell_id(points, resolution_m=GRID_LEVELS_M[-1]).to_numpy()
    parts: dict[str, tuple[str, str, str | None]] = {}
    for i, column in enumerate(columns):
        v = pd.to_numeric(present[column], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(v)
        # weighted sums of the positive and negative parts and of the weights, NaN where the
        # indicator is missing: safe_aggregate then checks the count of defined values and
        # the dominance of one home on each sum, as for a footprint
        frame[f"_p{i}"] = np.where(ok, w * np.maximum(v, 0.0), np.nan)
        frame[f"_w{i}"] = np.where(ok, w, np.nan)
        negative = None
        if bool((v[ok] < 0).any()):
            negative = f"_n{i}"
            frame[negative] = np.where(ok, w * np.maximum(-v, 0.0), np.nan)
        parts[column] = (f"_p{i}", f"_w{i}", negative)
    values = [c for c in frame.columns if c != "cell_id"]
    table = _by_block(frame, block, values)
    for column, (pos, wsum, neg) in parts.items():
        total = table[f"{pos}_sum"].to_numpy(dtype=float)
        if neg is not None:
            total = total - table[f"{neg}_sum"].to_numpy(dtype=float)
        den = table[f"{wsum}_sum"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[column] = np.where(den > 0, total / den, np.nan)
    helpers = [c for c in table.columns if str(c).startswith(("_p", "_w", "_n"))]
    out = table.drop(columns=helpers)
    out.attrs = dict(table.attrs)  # the privacy mark
    return out


def _by_block(frame: pd.DataFrame, block: np.ndarray, values: list[str]) -> gpd.GeoDataFrame:
    """:func:`qet_geo.privacy.safe_aggregate` of ``frame``, one 3 200 m block at a time.

    safe_aggregate pools small cells within their 400 m to 3 200 m parents: the pools of two
    3 200 m blocks never meet, and the same call on each block gives the same zones as one call
    on the whole (it compares every pool with every zone, which grows as the square of the
    area: 60 s for 67 000 homes in one call, about 1 s by blocks). Only the last resort differs:
    a whole block too small to publish (fewer than 11 homes in 3.2 km × 3.2 km, or one home
    dominating it) is left out rather than merged into a zone of the next block. The blocks'
    zones do not overlap, so their tables together keep every rule of ``docs/privacy.md``.
    """
    from qet_geo.privacy import safe_aggregate

    tables: list[pd.DataFrame] = []
    codes, _ = pd.factorize(pd.Series(block), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for rows in np.split(order, bounds):
            part = frame.iloc[np.sort(rows)]
            if not part["cell_id"].notna().any():
                continue
            tables.append(safe_aggregate(part, zone="cell_id", values=values))
    for warning in caught:
        logger.info("map cells: %s", warning.message)
    tables = [t for t in tables if len(t)]
    if not tables:
        raise EmptyDataError(
            msg("Aucun carreau de 200 m ne peut être dessiné sans révéler moins de 11 logements.")
        )
    table = gpd.GeoDataFrame(pd.concat(tables).sort_index(), crs=tables[0].crs)
    table.attrs = dict(tables[0].attrs)  # each block's table is protected; together they are
    return table
