"""Disclosure control: the single chokepoint every figure about respondents passes through.

Survey answers tied to a home are personal data (GDPR), even pseudonymised. The rules of
``docs/privacy.md`` are applied here, and only here, so that maps, the API and exports cannot each
get them slightly wrong:

1. **Raw locations never leave the store.** :func:`coarsen_locations` turns geocoded homes into
   the INSEE 200 m cell id (``CRS3035RES200mN…E…``) and, when asked, the building key, and drops
   the coordinates unless the pilot team opts in (``keep_raw=True``).
2. **No statistic from 1 to 10 respondents** (INSEE's secrecy threshold, :data:`MIN_RESPONDENTS`
   = 11). :func:`safe_aggregate` and :func:`protect_counts` merge small zones before computing
   anything: 200 m cells are pooled with the other small cells of their 400 m parent cell, then
   800 m, 1 600 m, 3 200 m (a quadtree on the INSEE grid, as INSEE pools small cells into larger
   rectangles); what is still too small is merged into the nearest zone (``leftover="nearest"``,
   the default) or suppressed (``leftover="suppress"``). Zones that are not grid cells (IRIS,
   user zones) are merged with their neighbours when ``neighbours=`` is given, else pooled into
   one ``"other"`` zone.
3. **Dominance**: a zone is not published while one respondent makes more than 85 %
   (:data:`DOMINANCE_SHARE`) of a continuous total (``values=``: kgCO2e, km flown), or while one
   profile is 100 % of its respondents (``profile=``); such zones are merged like small ones.
   A mean or a share is also never computed from 1 to 10 non-missing answers.
4. **No differencing**: the zones :func:`safe_aggregate` publishes never overlap, and the
   suppressed remainder is avoided by default. Zones drawn by users (API) must pass
   :func:`check_differencing` against every zone already published: two zones that nest or
   overlap must not differ by 1 to 10 respondents.

Tables returned by :func:`safe_aggregate` and :func:`protect_counts` carry a marker
(:func:`is_protected`); every output path calls :func:`require_protected` before writing.

Examples
--------
>>> table = safe_aggregate(homes, zone="cell_id", values=["kgco2e"], profile="profile")  # doctest: +SKIP
>>> require_protected(table, what="the profile map")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from qet_geo import grid
from qet_geo._validate import data_frame, geo_frame
from qet_geo.crs import GRID_CRS, WORK_CRS
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import msg
from qet_geo.inputs.census import cell_id_to_polygon, point_to_cell_id

__all__ = [
    "DOMINANCE_SHARE",
    "GRID_LEVELS_M",
    "MIN_RESPONDENTS",
    "DisclosureError",
    "check_differencing",
    "coarsen_locations",
    "is_protected",
    "mark_released",
    "protect_counts",
    "protect_zones",
    "require_protected",
    "safe_aggregate",
]

logger = logging.getLogger(__name__)

#: Fewest respondents behind any published figure (INSEE statistical secrecy: 11 households).
MIN_RESPONDENTS = 11

#: Largest share of a continuous total one respondent may make in a published zone.
DOMINANCE_SHARE = 0.85

#: Cell sizes of the quadtree used to pool small 200 m cells, in metres.
GRID_LEVELS_M: tuple[int, ...] = (400, 800, 1600, 3200)

_MARK = "qet_privacy"
Leftover = Literal["nearest", "suppress"]


class DisclosureError(ValidationError):
    """A figure would disclose something about fewer than 11 respondents (or one respondent)."""


# --------------------------------------------------------------------------------------------------
# rule 1: coarsening locations


def coarsen_locations(
    located: gpd.GeoDataFrame,
    *,
    keep_building: bool = True,
    keep_raw: bool = False,
) -> pd.DataFrame:
    """Coarsen geocoded homes to 200 m cells (and buildings), dropping raw coordinates.

    Parameters
    ----------
    located
        Output of :func:`qet_geo.surveys.geocode.locate_homes`: home points as geometry,
        ``is_home``, and optionally ``cell_id``, ``iris_code``, ``building_key``, ``source``,
        ``match`` columns.
    keep_building
        Keep ``building_key`` (for built-constraint indicators per building). It stays inside
        the store: aggregates never group by it.
    keep_raw
        Opt-in of the pilot team: keep the home points too (returns a GeoDataFrame). By default
        the coordinates are dropped here, once and for all.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``located``: ``cell_id`` (200 m INSEE cell of the home point, or the cell
        given in the file; ``<NA>`` when not located at a home or a cell), ``iris_code``,
        ``building_key`` (when ``keep_building``), ``source``, ``match``; a GeoDataFrame with the
        points only when ``keep_raw``. No address text, score or reason is kept.

    Raises
    ------
    ValidationError
        ``located`` is not a GeoDataFrame.
    CRSError
        ``located`` has no CRS.
    """
    geo_frame(located, what="located", hint=msg("passez le résultat de locate_homes"))
    return _coarsen(located, keep_building=keep_building, keep_raw=keep_raw)


def _coarsen(located: gpd.GeoDataFrame, *, keep_building: bool, keep_raw: bool) -> pd.DataFrame:
    geometry = located.geometry
    is_home = (
        located["is_home"].fillna(False).astype(bool)
        if "is_home" in located.columns
        else geometry.notna() & ~geometry.is_empty
    )
    cells = pd.Series(pd.NA, index=located.index, dtype="string")
    if "cell_id" in located.columns:
        cells = located["cell_id"].astype("string")
    points = geometry[is_home & geometry.notna()]
    if len(points):
        cells.loc[points.index] = point_to_cell_id(points).astype("string")
    out = pd.DataFrame({"cell_id": cells}, index=located.index)
    for col in ("iris_code", "source", "match"):
        if col in located.columns:
            out[col] = located[col].astype("string")
    if keep_building:
        if "building_key" in located.columns:
            out["building_key"] = located["building_key"].astype("string").where(is_home)
        else:
            out["building_key"] = pd.Series(pd.NA, index=located.index, dtype="string")
    if keep_raw:
        return gpd.GeoDataFrame(out, geometry=geometry.where(is_home), crs=located.crs)
    return out


# --------------------------------------------------------------------------------------------------
# rules 2 and 3: merging zones until every figure is safe


@dataclass
class _Unit:
    """A candidate published zone: its respondents (positions), territory and name."""

    zone_id: str
    rows: np.ndarray
    members: list[str]
    cells: list[tuple[float, float]] = field(default_factory=list)
    north: float = math.nan
    east: float = math.nan
    territory: BaseGeometry | None = None
    merged: bool = False
    safe: bool = False


@dataclass
class _Rules:
    min_respondents: int
    dominance: float
    values: dict[str, np.ndarray] = field(default_factory=dict)
    profile: np.ndarray | None = None
    #: Respondents per source zone (200 m cell), to tell what each part of a pool holds.
    cell_counts: dict[str, int] = field(default_factory=dict)

    def safe(self, rows: np.ndarray) -> bool:
        if len(rows) < self.min_respondents:
            return False
        for values in self.values.values():
            v = values[rows]
            v = v[~np.isnan(v)]
            if 0 < len(v) < self.min_respondents:
                return False
            total = float(v.sum())
            if total > 0 and float(v.max()) > self.dominance * total:
                return False
        if self.profile is not None:
            p = self.profile[rows]
            p = p[~pd.isna(p)]
            if 0 < len(p) < self.min_respondents:
                return False
            if len(p) and len(set(p.tolist())) == 1:
                return False
        return True


def protect_zones(
    respondents: pd.DataFrame,
    *,
    zone: str = "cell_id",
    values: Sequence[str] = (),
    profile: str | None = None,
    min_respondents: int = MIN_RESPONDENTS,
    dominance: float = DOMINANCE_SHARE,
    neighbours: Mapping[str, Iterable[str]] | None = None,
    leftover: Leftover = "nearest",
    max_resolution_m: int = GRID_LEVELS_M[-1],
) -> pd.Series:
    """Assign each respondent to a zone that may be published, merging unsafe zones.

    Parameters
    ----------
    respondents
        One row per respondent with the ``zone`` column and the ``values`` and ``profile``
        columns that will be published.
    zone
        Column naming each respondent's zone: 200 m INSEE cell ids (``CRS3035RES200mN…E…``, as
        :func:`coarsen_locations` gives) are merged on the grid; any other codes (IRIS codes,
        zone names) through ``neighbours``. Respondents with a missing zone are left out.
    values
        Continuous columns (kgCO2e, km) whose totals will be published: a zone where one
        respondent makes more than ``dominance`` of a total, or with 1 to 10 answers to it, is
        merged further.
    profile
        Categorical column (usage profile) whose shares will be published: a zone where one
        profile is 100 % of the answers is merged further.
    min_respondents
        Fewest respondents in a published zone; 11 (INSEE). Lower values are refused.
    dominance
        Largest share of a total one respondent may make; 0.85. Higher values are refused.
    neighbours
        For zones that are not grid cells: zone → adjacent zones (e.g. from IRIS contours with
        ``gdf.sindex.query(gdf.geometry, predicate="touches")``). Without it, unsafe zones are
        pooled into one zone ``"other"``.
    leftover
        nearest (default): zones still unsafe at ``max_resolution_m`` are merged into the
        nearest zone, so that nothing is suppressed and no remainder can be computed from the
        neighbourhood total; suppress: they are left out (their respondents get ``<NA>``).
    max_resolution_m
        Largest pooled grid cell, one of :data:`GRID_LEVELS_M`.

    Returns
    -------
    pandas.Series
        Aligned to ``respondents``: the published zone id of each respondent (a 200 m cell id,
        the id of a larger grid cell pooling small cells, a neighbour's id, or "other"), ``<NA>``
        when left out. Internal: it says where each respondent is; publish only aggregates.

    Raises
    ------
    ValidationError
        A column is missing, a value column is not numeric or is negative, zone ids mix grid
        cells and other codes, or an option weakens the rules.
    """
    rules = _check_protect_args(
        respondents,
        zone=zone,
        values=values,
        profile=profile,
        min_respondents=min_respondents,
        dominance=dominance,
        leftover=leftover,
        max_resolution_m=max_resolution_m,
    )
    units, _grid = _protect(
        respondents[zone],
        rules,
        neighbours=neighbours,
        leftover=leftover,
        max_resolution_m=max_resolution_m,
    )
    out = pd.Series(pd.NA, index=respondents.index, dtype="string", name="zone_id")
    for unit in units:
        out.iloc[unit.rows] = unit.zone_id
    return out


def _check_protect_args(
    respondents: pd.DataFrame,
    *,
    zone: str,
    values: Sequence[str],
    profile: str | None,
    min_respondents: int,
    dominance: float,
    leftover: str,
    max_resolution_m: int,
) -> _Rules:
    data_frame(respondents, what="respondents", hint=msg("une ligne par répondant"))
    if isinstance(values, str):
        values = [values]
    needed = [zone, *values, *([profile] if profile is not None else [])]
    missing = [c for c in needed if c not in respondents.columns]
    if missing:
        raise ValidationError(
            msg(
                "respondents n'a pas la colonne {missing} ; ses colonnes sont "
                "{respondents_columns}.",
                missing=missing,
                respondents_columns=list(respondents.columns),
            )
        )
    if (
        isinstance(min_respondents, bool)
        or not isinstance(min_respondents, int)
        or min_respondents < MIN_RESPONDENTS
    ):
        raise ValidationError(
            msg(
                "min_respondents doit être un entier d'au moins {MIN_RESPONDENTS} (secret "
                "statistique de l'INSEE), pas {min_respondents!r}.",
                MIN_RESPONDENTS=MIN_RESPONDENTS,
                min_respondents=min_respondents,
            )
        )
    if (
        isinstance(dominance, bool)
        or not isinstance(dominance, int | float)
        or not 0 < dominance <= DOMINANCE_SHARE
    ):
        raise ValidationError(
            msg(
                "dominance doit être une part dans ]0 ; {DOMINANCE_SHARE}], pas {dominance!r}.",
                DOMINANCE_SHARE=DOMINANCE_SHARE,
                dominance=dominance,
            )
        )
    if leftover not in ("nearest", "suppress"):
        raise ValidationError(
            msg(
                "leftover doit valoir 'nearest' ou 'suppress', pas {leftover!r}.", leftover=leftover
            )
        )
    if max_resolution_m not in GRID_LEVELS_M:
        raise ValidationError(
            msg(
                "max_resolution_m doit être l'une de {grid_levels_m}, pas {max_resolution_m!r}.",
                grid_levels_m=list(GRID_LEVELS_M),
                max_resolution_m=max_resolution_m,
            )
        )
    rules = _Rules(min_respondents=min_respondents, dominance=float(dominance))
    for col in values:
        column = respondents[col]
        if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
            raise ValidationError(
                msg(
                    "la colonne de valeurs {col!r} n'est pas numérique ({dtype}) ; passez des "
                    "grandeurs continues comme des kgCO2e.",
                    col=col,
                    dtype=column.dtype,
                )
            )
        array = pd.to_numeric(column).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if (array < 0).any():
            raise ValidationError(
                msg(
                    "la colonne de valeurs {col!r} a des valeurs négatives : la dominance se définit "
                    "sur des totaux positifs (kgCO2e, km).",
                    col=col,
                )
            )
        rules.values[col] = array
    if profile is not None:
        rules.profile = respondents[profile].astype(object).to_numpy()
    return rules


def _protect(
    zones: pd.Series,
    rules: _Rules,
    *,
    neighbours: Mapping[str, Iterable[str]] | None,
    leftover: str,
    max_resolution_m: int,
) -> tuple[list[_Unit], bool]:
    """Merge zones until every unit is safe; return the published units and the grid flag."""
    text = zones.astype("string")
    located = text.notna().to_numpy()
    codes = text[located]
    on_grid = bool(len(codes)) and bool(codes.str.fullmatch(grid.CELL_ID.pattern).all())
    if not on_grid and len(codes) and bool(codes.str.fullmatch(grid.CELL_ID.pattern).any()):
        raise ValidationError(
            msg(
                "la colonne de zone mêle des identifiants de carreaux INSEE et d'autres codes ; "
                "ramenez chaque répondant à un carreau (coarsen_locations) ou utilisez un seul "
                "type de zone."
            )
        )
    positions = np.flatnonzero(located)
    groups: dict[str, list[int]] = {}
    for pos, code in zip(positions, codes.tolist(), strict=True):
        groups.setdefault(str(code), []).append(int(pos))
    units = [
        _Unit(zone_id=z, rows=np.asarray(rows, dtype=int), members=[z])
        for z, rows in sorted(groups.items())
    ]
    if on_grid:
        units = _grid_units(units, rules, leftover=leftover, max_resolution_m=max_resolution_m)
    else:
        units = _zone_units(units, rules, neighbours=neighbours, leftover=leftover)
    return units, on_grid


def _grid_units(
    units: list[_Unit], rules: _Rules, *, leftover: str, max_resolution_m: int
) -> list[_Unit]:
    ids = pd.Series([u.zone_id for u in units], dtype=object)
    squares = cell_id_to_polygon(ids)  # validates every id
    parsed = [grid.parse_cell_id(u.zone_id) for u in units]
    sizes = {found[0] for found in parsed if found is not None}
    if len(sizes) > 1:
        raise ValidationError(
            msg(
                "la colonne de zone mêle des carreaux de {sizes} m ; utilisez des "
                "carreaux de 200 m.",
                sizes=sorted(sizes),
            )
        )
    size = sizes.pop() if sizes else 200
    rules.cell_counts = {u.zone_id: len(u.rows) for u in units}
    for unit, square, found in zip(units, squares, parsed, strict=True):
        if found is not None:  # always: every id matched the pattern in _protect
            unit.north, unit.east = float(found[1]), float(found[2])
            unit.cells = [(unit.north, unit.east)]
        unit.territory = square
        unit.safe = rules.safe(unit.rows)
    for level in (lv for lv in GRID_LEVELS_M if size < lv <= max_resolution_m):
        unsafe = [u for u in units if not u.safe]
        if not unsafe:
            break
        by_parent: dict[tuple[float, float], list[_Unit]] = {}
        for unit in unsafe:
            key = (math.floor(unit.north / level) * level, math.floor(unit.east / level) * level)
            by_parent.setdefault(key, []).append(unit)
        kept = [u for u in units if u.safe]
        for (north, east), pool in sorted(by_parent.items()):
            territory = _pool_territory(pool, [u for u in kept if u.safe])
            rows = np.concatenate([u.rows for u in pool])
            kept.append(
                _Unit(
                    zone_id=grid.cell_id(level, north, east),
                    rows=rows,
                    members=[m for u in pool for m in u.members],
                    cells=[c for u in pool for c in u.cells],
                    north=north,
                    east=east,
                    territory=territory,
                    merged=True,
                    safe=rules.safe(rows),
                )
            )
        units = kept
    units = _finish(units, rules, leftover=leftover, nearest=_nearest_by_distance)
    return _fill_isolated_parts([u for u in units if u.safe], rules, size=size)


def _fill_isolated_parts(units: list[_Unit], rules: _Rules, *, size: int) -> list[_Unit]:
    """Absorb the published zones carved out of a pool where that would isolate a few cells.

    A pool is drawn on the 400 m blocks of its cells less the zones published there. When the
    zones published in a block leave only a sliver of it to the pool (one 200 m cell, say), and
    that sliver holds 1 to 10 of the pool's respondents, the map shows which small cells they
    live in. The zones carved out of that block are then merged into the pool, which gets the
    whole block back: every part of a published geometry either holds 11 respondents or more,
    or is made of whole 400 m blocks. Merging published (safe) zones into a safe pool keeps it
    safe; zones only grow, so this ends.
    """
    block = float(GRID_LEVELS_M[0])
    half = size / 2.0
    while True:
        changed = False
        for unit in units:
            if not unit.merged or unit.territory is None or not unit.cells:
                continue
            counts: dict[tuple[float, float], int] = {}
            for (n, e), member in zip(unit.cells, unit.members, strict=False):
                counts[(n, e)] = counts.get((n, e), 0) + int(rules.cell_counts.get(member, 0))
            for part in shapely.get_parts(unit.territory):
                inside = [
                    (n, e) for (n, e) in counts if shapely.contains_xy(part, e + half, n + half)
                ]
                held = sum(counts[c] for c in inside)
                if not 0 < held < rules.min_respondents:
                    continue
                blocks = shapely.union_all(
                    [
                        shapely.box(
                            math.floor(e / block) * block,
                            math.floor(n / block) * block,
                            math.floor(e / block) * block + block,
                            math.floor(n / block) * block + block,
                        )
                        for n, e in inside
                    ]
                )
                carved = [
                    o
                    for o in units
                    if o is not unit
                    and o.territory is not None
                    and shapely.intersection(o.territory, blocks).area > 1.0
                ]
                if not carved:
                    continue
                for other in carved:
                    units.remove(other)
                    unit.rows = np.concatenate([unit.rows, other.rows])
                    unit.members = unit.members + other.members
                    unit.cells = unit.cells + other.cells
                    if other.territory is not None:
                        unit.territory = shapely.union(unit.territory, other.territory)
                unit.safe = rules.safe(unit.rows)
                changed = True
                break
            if changed:
                break
        if not changed:
            return [u for u in units if u.safe]


def _pool_territory(pool: list[_Unit], published: list[_Unit]) -> BaseGeometry:
    """The area a pool is drawn on: the 400 m blocks of its cells, less the zones published there.

    Drawing 400 m blocks rather than the 200 m cells keeps a map from showing which small cells
    hold a respondent; drawing them rather than the whole parent keeps pooled zones compact.
    """
    block = GRID_LEVELS_M[0]
    corners = {
        (math.floor(n / block) * block, math.floor(e / block) * block)
        for u in pool
        for n, e in u.cells
    }
    area = shapely.union_all([shapely.box(e, n, e + block, n + block) for n, e in corners])
    taken = [u.territory for u in published if u.territory is not None]
    if taken:
        area = shapely.difference(area, shapely.union_all(taken))
    return area


def _nearest_by_distance(unit: _Unit, others: list[_Unit]) -> _Unit | None:
    if not others or unit.territory is None:
        return others[0] if others else None
    centre = shapely.centroid(unit.territory)
    return min(
        others,
        key=lambda o: (
            shapely.distance(centre, o.territory) if o.territory is not None else math.inf,
            len(o.rows),
            o.zone_id,
        ),
    )


def _zone_units(
    units: list[_Unit],
    rules: _Rules,
    *,
    neighbours: Mapping[str, Iterable[str]] | None,
    leftover: str,
) -> list[_Unit]:
    for unit in units:
        unit.safe = rules.safe(unit.rows)
    if neighbours is not None:
        adjacency = {str(k): {str(v) for v in vs} for k, vs in neighbours.items()}

        def nearest(unit: _Unit, others: list[_Unit]) -> _Unit | None:
            near = set().union(*(adjacency.get(m, set()) for m in unit.members))
            touching = [o for o in others if near.intersection(o.members)]
            if not touching:
                return None
            return min(touching, key=lambda o: (len(o.rows), o.zone_id))

        units = _finish(units, rules, leftover="nearest", nearest=nearest, join_ids=True)
    unsafe = [u for u in units if not u.safe]
    safe = [u for u in units if u.safe]
    if not unsafe:
        return safe
    if leftover == "suppress":
        return safe
    rows = np.concatenate([u.rows for u in unsafe])
    pool = _Unit(
        zone_id="other",
        rows=rows,
        members=[m for u in unsafe for m in u.members],
        merged=True,
        safe=rules.safe(rows),
    )
    return [*safe, pool] if pool.safe else safe


def _finish(
    units: list[_Unit],
    rules: _Rules,
    *,
    leftover: str,
    nearest: Any,
    join_ids: bool = False,
) -> list[_Unit]:
    """Merge each unsafe unit into its nearest unit, smallest first, while one can be merged.

    Units that cannot be merged (no neighbour) are returned still unsafe: the caller suppresses
    or pools them.
    """
    if leftover == "suppress":
        return [u for u in units if u.safe]
    units = list(units)
    while True:
        unsafe = sorted((u for u in units if not u.safe), key=lambda u: (len(u.rows), u.zone_id))
        if not unsafe:
            return units
        target_found = False
        for unit in unsafe:
            others = [o for o in units if o is not unit]
            target = nearest(unit, others)
            if target is None:
                continue
            units.remove(unit)
            target.rows = np.concatenate([target.rows, unit.rows])
            target.members = target.members + unit.members
            target.cells = target.cells + unit.cells
            if unit.territory is not None and target.territory is not None:
                target.territory = shapely.union(target.territory, unit.territory)
            if join_ids:
                target.zone_id = "+".join(sorted({*target.zone_id.split("+"), unit.zone_id}))
            target.merged = True
            target.safe = rules.safe(target.rows)
            target_found = True
            break
        if not target_found:
            return units


# --------------------------------------------------------------------------------------------------
# the published tables


def safe_aggregate(
    respondents: pd.DataFrame,
    *,
    zone: str = "cell_id",
    values: Sequence[str] = (),
    profile: str | None = None,
    min_respondents: int = MIN_RESPONDENTS,
    dominance: float = DOMINANCE_SHARE,
    neighbours: Mapping[str, Iterable[str]] | None = None,
    leftover: Leftover = "nearest",
    max_resolution_m: int = GRID_LEVELS_M[-1],
) -> pd.DataFrame:
    """Aggregate respondents by zone with every disclosure rule applied: the publishable table.

    Parameters
    ----------
    respondents, zone, values, profile, min_respondents, dominance, neighbours, leftover, max_resolution_m
        As for :func:`protect_zones`, which decides the published zones.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``zone_id``: ``n_respondents``; for each of ``values``, ``{value}_sum`` and
        ``{value}_mean`` (over the answers given); for ``profile``, ``share_{category}`` for
        every category of the whole table (0 to 1); ``merged`` (the zone pools several source
        zones). For grid cells, a GeoDataFrame in EPSG:2154 whose geometry is the zone's
        territory (the cell; for a pool, the 400 m blocks of its cells minus the zones published
        there, so that no map shows which 200 m cells hold a respondent; plus merged
        neighbours): zones never overlap. Marked as protected (:func:`is_protected`).

    Raises
    ------
    ValidationError
        As for :func:`protect_zones`.

    Warns
    -----
    QetGeoWarning
        Zones were suppressed (``leftover="suppress"``, or nothing can be published): publishing
        the neighbourhood total next to the table would then reveal the suppressed remainder.
    """
    rules = _check_protect_args(
        respondents,
        zone=zone,
        values=values,
        profile=profile,
        min_respondents=min_respondents,
        dominance=dominance,
        leftover=leftover,
        max_resolution_m=max_resolution_m,
    )
    units, grid = _protect(
        respondents[zone],
        rules,
        neighbours=neighbours,
        leftover=leftover,
        max_resolution_m=max_resolution_m,
    )
    categories: list[Any] = []
    if rules.profile is not None:
        categories = sorted(
            {p for p in rules.profile.tolist() if not pd.isna(p)}, key=lambda p: str(p)
        )
    table = _aggregate(units, rules, categories=categories, grid=grid)
    _warn_suppressed(respondents[zone], units, min_respondents=min_respondents)
    return _mark(table, min_respondents=min_respondents, dominance=dominance)


def _aggregate(
    units: list[_Unit], rules: _Rules, *, categories: list[Any], grid: bool
) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for unit in units:
        record: dict[str, Any] = {"zone_id": unit.zone_id, "n_respondents": len(unit.rows)}
        for name, array in rules.values.items():
            v = array[unit.rows]
            v = v[~np.isnan(v)]
            record[f"{name}_sum"] = float(v.sum()) if len(v) else np.nan
            record[f"{name}_mean"] = float(v.mean()) if len(v) else np.nan
        if rules.profile is not None:
            p = rules.profile[unit.rows]
            p = p[~pd.isna(p)]
            for cat in categories:
                record[f"share_{cat}"] = float((p == cat).sum() / len(p)) if len(p) else np.nan
        record["merged"] = unit.merged
        records.append(record)
    columns = ["zone_id", "n_respondents"]
    for name in rules.values:
        columns += [f"{name}_sum", f"{name}_mean"]
    columns += [f"share_{cat}" for cat in categories]
    columns.append("merged")
    table = pd.DataFrame.from_records(records, columns=columns).set_index("zone_id")
    table["n_respondents"] = table["n_respondents"].astype("int64")
    table["merged"] = table["merged"].astype(bool)
    table = table.sort_index()
    if grid:
        territories = {u.zone_id: u.territory for u in units}
        geoms = gpd.GeoSeries(
            [territories[z] for z in table.index], index=table.index, crs=GRID_CRS
        ).to_crs(WORK_CRS)
        return gpd.GeoDataFrame(table, geometry=geoms, crs=WORK_CRS)
    return table


def _warn_suppressed(zones: pd.Series, units: list[_Unit], *, min_respondents: int) -> None:
    located = int(zones.notna().sum())
    published = sum(len(u.rows) for u in units)
    if located and published < located:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "certaines zones ne pouvaient pas être publiées sans révéler moins de "
                    "{min_respondents} répondants et ont été supprimées ; ne publiez pas le total du "
                    "quartier à côté de ce tableau (leftover='nearest' les fusionne plutôt).",
                    min_respondents=min_respondents,
                )
            ),
            stacklevel=3,
        )


def protect_counts(
    counts: pd.Series,
    *,
    min_respondents: int = MIN_RESPONDENTS,
    neighbours: Mapping[str, Iterable[str]] | None = None,
    leftover: Leftover = "nearest",
    max_resolution_m: int = GRID_LEVELS_M[-1],
) -> pd.DataFrame:
    """Protect respondent counts already summed per zone (200 m cell, IRIS...).

    Parameters
    ----------
    counts
        Number of respondents per zone, indexed by zone id (200 m cell ids or other codes).
    min_respondents, neighbours, leftover, max_resolution_m
        As for :func:`protect_zones`.

    Returns
    -------
    pandas.DataFrame
        As :func:`safe_aggregate` with only ``n_respondents`` and ``merged``; marked as
        protected.

    Raises
    ------
    ValidationError
        ``counts`` is not a Series of non-negative whole numbers, or as for
        :func:`protect_zones`.
    """
    if not isinstance(counts, pd.Series) or not pd.api.types.is_numeric_dtype(counts):
        raise ValidationError(
            msg(
                "counts doit être une Series numérique de répondants par zone, indexée par "
                "identifiant de zone."
            )
        )
    clean = counts.dropna()
    if (clean < 0).any() or not (clean == clean.round()).all():
        raise ValidationError(msg("counts doit contenir des nombres entiers de répondants (>= 0)."))
    repeated = np.repeat(clean.index.astype(str).to_numpy(), clean.astype(int).to_numpy())
    frame = pd.DataFrame({"zone": pd.array(repeated, dtype="string")})
    return safe_aggregate(
        frame,
        zone="zone",
        min_respondents=min_respondents,
        neighbours=neighbours,
        leftover=leftover,
        max_resolution_m=max_resolution_m,
    )


def _mark(table: pd.DataFrame, *, min_respondents: int, dominance: float) -> pd.DataFrame:
    table.attrs[_MARK] = {"min_respondents": int(min_respondents), "dominance": float(dominance)}
    return table


def mark_released(table: pd.DataFrame) -> pd.DataFrame:
    """Mark again as protected a table read back from a stored release, and return it.

    Only for a release's published figures: the store made them with :func:`safe_aggregate`
    under the rules of this module and checked them with :func:`require_protected`
    (:func:`qet_geo.store.releases.compute_figures`); kept as GeoJSON, a table loses pandas'
    marks, and the release's protection is what is marked again. Never for anything computed
    from respondents.
    """
    return _mark(table, min_respondents=MIN_RESPONDENTS, dominance=DOMINANCE_SHARE)


def is_protected(table: pd.DataFrame) -> bool:
    """Tell whether ``table`` came out of :func:`safe_aggregate` or :func:`protect_counts`."""
    return isinstance(table, pd.DataFrame) and isinstance(table.attrs.get(_MARK), dict)


def require_protected(table: pd.DataFrame, *, what: str) -> None:
    """Refuse to publish a table that did not pass :func:`safe_aggregate`.

    Parameters
    ----------
    table
        The table about to leave the library (map layer, API body, export).
    what
        What it is, for the message ("the profile map").

    Raises
    ------
    DisclosureError
        ``table`` is not marked as protected.
    """
    if not is_protected(table):
        raise DisclosureError(
            msg(
                "{what} n'a pas été construit par qet_geo.privacy.safe_aggregate : agrégez les "
                "répondants avec safe_aggregate (ou protect_counts) avant de le publier.",
                what=what,
            )
        )


# --------------------------------------------------------------------------------------------------
# rule 4: differencing


def check_differencing(
    zone_a: BaseGeometry | Collection[Any],
    zone_b: BaseGeometry | Collection[Any],
    respondents: gpd.GeoDataFrame | gpd.GeoSeries | pd.Index,
    *,
    min_respondents: int = MIN_RESPONDENTS,
) -> None:
    """Refuse two zones that nest or overlap and differ by 1 to 10 respondents.

    Publishing figures for both would give, by subtraction, the figures of the few respondents
    in one zone and not the other. The API calls this for each user-drawn polygon against every
    zone already published.

    Parameters
    ----------
    zone_a, zone_b
        Polygons in the CRS of ``respondents``, or collections of respondent ids.
    respondents
        Where respondents are, as coarsened geometries (cell squares, building centroids),
        indexed by respondent id; or, when the zones are id collections, the ids (an Index).
    min_respondents
        11 (INSEE); lower values are refused.

    Raises
    ------
    DisclosureError
        The zones nest or overlap and ``|n_a - n_b|``, ``n(a - b)`` or ``n(b - a)`` is between 1
        and ``min_respondents - 1``. The message gives no count.
    ValidationError
        The zones and ``respondents`` are not of matching kinds.
    """
    if (
        isinstance(min_respondents, bool)
        or not isinstance(min_respondents, int)
        or min_respondents < MIN_RESPONDENTS
    ):
        raise ValidationError(
            msg(
                "min_respondents doit valoir au moins {MIN_RESPONDENTS}, pas {min_respondents!r}.",
                MIN_RESPONDENTS=MIN_RESPONDENTS,
                min_respondents=min_respondents,
            )
        )
    members_a, members_b, overlap = _zone_members(zone_a, zone_b, respondents)
    _check_differencing(members_a, members_b, overlap=overlap, min_respondents=min_respondents)


def _zone_members(
    zone_a: BaseGeometry | Collection[Any],
    zone_b: BaseGeometry | Collection[Any],
    respondents: gpd.GeoDataFrame | gpd.GeoSeries | pd.Index,
) -> tuple[set[Any], set[Any], bool]:
    if isinstance(zone_a, BaseGeometry) and isinstance(zone_b, BaseGeometry):
        if not isinstance(respondents, gpd.GeoDataFrame | gpd.GeoSeries):
            raise ValidationError(
                msg(
                    "des zones polygones demandent les répondants en GeoDataFrame ou GeoSeries de "
                    "leurs localisations agrégées."
                )
            )
        geoms = respondents.geometry if isinstance(respondents, gpd.GeoDataFrame) else respondents
        points = geoms[geoms.notna()].representative_point()
        in_a = set(points.index[points.within(zone_a)])
        in_b = set(points.index[points.within(zone_b)])
        shared = shapely.intersection(zone_a, zone_b)
        overlap = bool(shared.area > 0) or bool(in_a & in_b)
        return in_a, in_b, overlap
    if isinstance(zone_a, BaseGeometry) or isinstance(zone_b, BaseGeometry):
        raise ValidationError(
            msg(
                "zone_a et zone_b doivent être toutes deux des polygones ou toutes deux des "
                "collections d'identifiants de répondants."
            )
        )
    known = set(respondents.index if not isinstance(respondents, pd.Index) else respondents)
    in_a, in_b = set(zone_a) & known, set(zone_b) & known
    return in_a, in_b, bool(in_a & in_b)


def _check_differencing(
    members_a: set[Any], members_b: set[Any], *, overlap: bool, min_respondents: int
) -> None:
    if not overlap:
        return
    small = range(1, min_respondents)
    gaps = (
        abs(len(members_a) - len(members_b)),
        len(members_a - members_b),
        len(members_b - members_a),
    )
    if any(g in small for g in gaps):
        raise DisclosureError(
            msg(
                "les deux zones s'emboîtent ou se chevauchent et diffèrent de moins de "
                "{min_respondents} répondants : publier les deux révélerait les réponses de ce "
                "petit groupe ; agrandissez la zone ou tracez-la pour qu'elle diffère de la zone "
                "publiée de 0 ou d'au moins {min_respondents} répondants.",
                min_respondents=min_respondents,
            )
        )
