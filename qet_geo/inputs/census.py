"""Census layers: the INSEE 200 m grid, IRIS zones and dasymetric allocation to buildings.

Two census geographies are read here, both from local files and both returned in Lambert-93
(EPSG:2154):

- the INSEE 200 m grid (*carreaux*, from the Filosofi tax-income files): square cells of the
  European grid in ETRS89-LAEA (EPSG:3035). A cell is named by its lower-left corner, e.g.
  ``CRS3035RES200mN2029800E4252000`` (northing 2 029 800 m, easting 4 252 000 m);
- IRIS (*Ilots Regroupés pour l'Information Statistique*), the sub-municipal census zones of about
  2 000 inhabitants, named by a 9-character code: the 5-character commune code followed by a
  4-digit IRIS number (``751010101``).

:func:`allocate_population` then spreads the population of either geography over residential
buildings in proportion to their floor area (dasymetric mapping).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from qet_geo import grid
from qet_geo._validate import existing_file, geo_frame, geometries, require_crs
from qet_geo.crs import GRID_CRS, WORK_CRS
from qet_geo.errors import (
    CRSError,
    EmptyDataError,
    InputFileError,
    QetGeoWarning,
    UnknownCodeError,
    ValidationError,
)
from qet_geo.i18n import msg

__all__ = [
    "DEFAULT_LEVELS",
    "GRID_CELL_ID_COLUMNS",
    "GRID_POPULATION_COLUMNS",
    "IRIS_CODE_COLUMNS",
    "IRIS_NAME_COLUMNS",
    "STOREY_HEIGHT_M",
    "allocate_population",
    "cell_id_to_polygon",
    "point_to_cell_id",
    "read_grid",
    "read_iris",
]

logger = logging.getLogger(__name__)

CELL_SIZE_M = 200

#: Columns holding the cell id, most specific first (names compared in lower case): Filosofi 2015
#: ``IdINSPIRE`` / ``Id_car2010``, Filosofi 2017-2019 ``Idcar_200m``, Filosofi 2010 ``idINSPIRE`` /
#: ``id``, and ``cell_id`` as written by :func:`read_grid`.
GRID_CELL_ID_COLUMNS: tuple[str, ...] = (
    "cell_id",
    "idinspire",
    "idcar_200m",
    "id_car2010",
    "id_carr200m",
    "id_carreau",
    "idcar",
    "id",
)

#: Columns holding the number of inhabitants of a cell, first match wins (lower case): ``ind``
#: (Filosofi 2015-2019, "nombre d'individus"), ``ind_c`` (Filosofi 2010), ``population``, ``pop``.
GRID_POPULATION_COLUMNS: tuple[str, ...] = ("population", "ind", "ind_c", "pop")

#: Columns holding the 9-character IRIS code, first match wins (lower case). ``iris`` is the full
#: code in INSEE tables but only the 4-digit IRIS number in IGN CONTOURS-IRIS layers: 4-digit values
#: are completed with the commune code from one of :data:`COMMUNE_CODE_COLUMNS`.
IRIS_CODE_COLUMNS: tuple[str, ...] = (
    "iris_code",
    "code_iris",
    "dcomiris",
    "codeiris",
    "iris",
    "codgeo",
)

#: Columns holding the IRIS name, first match wins (lower case).
IRIS_NAME_COLUMNS: tuple[str, ...] = (
    "iris_name",
    "nom_iris",
    "lib_iris",
    "libiris",
    "libelle_iris",
)

#: Columns holding a 5-character commune code (lower case), used to complete 4-digit IRIS numbers.
COMMUNE_CODE_COLUMNS: tuple[str, ...] = ("insee_com", "depcom", "code_com", "com")

#: Levels (storeys) assumed for a residential building with neither ``levels`` nor ``height``.
DEFAULT_LEVELS = 1.0

#: Storey height used to derive levels from a ``height`` column: ``levels = max(1, round(h / 3))``.
STOREY_HEIGHT_M = 3.0

# Columns read as text from CSV files so that codes keep their leading zeros.
_TEXT_COLUMNS = frozenset(
    {
        *GRID_CELL_ID_COLUMNS,
        *IRIS_CODE_COLUMNS,
        *COMMUNE_CODE_COLUMNS,
        "idcar_1km",
        "idcar_nat",
        "id_carr1km",
        "id_carr_n",
        "lcog_geo",
        "dep",
        "reg",
        "uu2010",
        "uu2020",
        "typ_iris",
        "modif_iris",
        "lab_iris",
        "grd_quart",
    }
)
_TABLE_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
_CELL_ID_PATTERN = r"^(?:CRS(?P<crs>\d+))?(?:RES)?(?:(?P<res>\d+)M)?N(?P<north>\d+)E(?P<east>\d+)$"
_IRIS_CODE_PATTERN = r"^\d[\dAB]\d{7}$"
_TOTAL_POPULATION_PATTERN = re.compile(r"^(?:population|P\d{2}_POP)$", re.IGNORECASE)
_POPULATION_15P_PATTERN = re.compile(r"^(?:population_15p|[PC]\d{2}_POP15P)$", re.IGNORECASE)
_CS8_PATTERN = re.compile(r"^(?P<prefix>[PC]\d{2}_POP15P)_CS(?P<cs>[1-8])$", re.IGNORECASE)

Bbox = tuple[float, float, float, float]
PathType = str | PathLike[str]


# --------------------------------------------------------------------------------------------------
# INSEE 200 m grid
# --------------------------------------------------------------------------------------------------


def read_grid(
    path: PathType,
    *,
    bbox: Bbox | None = None,
    mask: BaseGeometry | None = None,
    crs: Any = None,
    id_column: str | None = None,
    population_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read an INSEE 200 m grid (carreaux Filosofi) as cell polygons in EPSG:2154.

    Parameters
    ----------
    path
        Shapefile, GeoPackage, GeoJSON (any vector format GDAL reads) or CSV file (``,``, ``;`` or
        tab separated, decimal comma accepted with ``;``). A file without geometry, or with cell
        centre points, gets each cell polygon rebuilt from its id.
    bbox
        ``(left, bottom, right, top)`` in EPSG:2154 metres: keep only the cells overlapping it.
    mask
        Polygon in EPSG:2154: keep only the cells overlapping it. Not together with ``bbox``.
    crs
        CRS of the file's coordinates, overriding what the file declares; needed for a shapefile
        without its ``.prj``. Anything :class:`pyproj.CRS` accepts (``"EPSG:2154"``, ``2154``).
        Unused for CSV files, whose cells are always placed from their EPSG:3035 ids.
    id_column
        Column holding the cell id; by default the first of :data:`GRID_CELL_ID_COLUMNS` present.
    population_column
        Column holding the number of inhabitants; by default the first of
        :data:`GRID_POPULATION_COLUMNS` present.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell in EPSG:2154, in file order: ``cell_id`` (``CRS3035RES200mN{northing}
        E{easting}``), ``population`` (float), the file's other columns with lower-case names, and
        the cell polygon. A file's own polygons are kept; cells whose id is missing get it from
        their geometry (with a warning), or are dropped when the file has no geometry (with a
        warning giving the people lost).

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    CRSError
        The file has geometry but no CRS (a shapefile without ``.prj``) and ``crs`` is not given.
    ValidationError
        No id column and no geometry, an id that cannot be read, no population column.

    Warns
    -----
    QetGeoWarning
        Ids derived from geometry or rows dropped for want of an id; ids that do not match their
        geometry (a wrong CRS); ids shared by several rows.
    """
    file = existing_file(path, what=msg("Fichier carroyage INSEE"))
    area = _selection_area(bbox, mask)
    if id_column is not None and not isinstance(id_column, str):
        raise ValidationError(
            msg("id_column doit être un nom de colonne, pas {id_column!r}.", id_column=id_column)
        )
    if population_column is not None and not isinstance(population_column, str):
        raise ValidationError(
            msg(
                "population_column doit être un nom de colonne, pas {population_column!r}.",
                population_column=population_column,
            )
        )
    if file.suffix.lower() in _TABLE_SUFFIXES:
        frame = _read_csv(file, text_columns={*_TEXT_COLUMNS, *_lower_opt(id_column)})
        geometry = None
    else:
        layer = _read_vector(file, crs=crs, area=area)
        frame = pd.DataFrame(layer.drop(columns=layer.geometry.name))
        geometry = None if layer.geometry.isna().all() else layer.geometry
    issues: list[QetGeoWarning] = []
    grid = _grid_from_frame(
        frame,
        geometry,
        source=file,
        area=area,
        id_column=id_column,
        population_column=population_column,
        issues=issues,
    )
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    logger.debug("read %d grid cells from %s", len(grid), file)
    return grid


def cell_id_to_polygon(ids: Iterable[str] | pd.Series) -> gpd.GeoSeries:
    """Build the square polygon of INSEE grid cells from their ids.

    Parameters
    ----------
    ids
        Cell ids such as ``CRS3035RES200mN2029800E4252000`` (INSPIRE form of Filosofi 2015-2019);
        the short forms ``200mN2029800E4252000`` and ``N2029800E4252000`` (200 m) are accepted, and
        the resolution is read from the id (``RES1000m`` gives 1 km squares).

    Returns
    -------
    geopandas.GeoSeries
        Squares in EPSG:3035 whose lower-left corner is the id's easting and northing, aligned to
        ``ids`` when it is a Series. Missing ids give missing geometries.

    Raises
    ------
    ValidationError
        An id cannot be read, names a CRS other than EPSG:3035, or is not on its grid.
    """
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype=object)
    parsed = _parse_cell_ids(series, source="ids")
    return gpd.GeoSeries(_cell_boxes(parsed), index=series.index, crs=GRID_CRS)


def point_to_cell_id(points: gpd.GeoSeries, *, resolution_m: int = CELL_SIZE_M) -> pd.Series:
    """Name the INSEE grid cell each point falls in.

    Parameters
    ----------
    points
        Points in any CRS (reprojected to EPSG:3035). Missing or empty points give a missing id.
    resolution_m
        Cell size in metres: 200 (carreaux Filosofi) by default, 1000 for the 1 km grid.

    Returns
    -------
    pandas.Series
        ``cell_id`` strings ``CRS3035RES{resolution}mN{northing}E{easting}``, the coordinates floored
        to the cell size, aligned to ``points``.

    Raises
    ------
    CRSError
        ``points`` has no CRS.
    ValidationError
        ``points`` holds other geometries than points, or ``resolution_m`` is not a positive
        integer.
    """
    points = geometries(points, what="points")
    if isinstance(resolution_m, bool) or not isinstance(resolution_m, int) or resolution_m <= 0:
        raise ValidationError(
            msg(
                "resolution_m doit être un nombre entier positif de mètres, pas {resolution_m!r}.",
                resolution_m=resolution_m,
            )
        )
    require_crs(points, what="points")
    kinds = points.geom_type.dropna()
    others = sorted(set(kinds[kinds != "Point"]))
    if others:
        raise ValidationError(
            msg(
                "points contient des géométries {others} ; passez des points, par exemple "
                "gdf.representative_point().",
                others=", ".join(others),
            )
        )
    projected = points.to_crs(GRID_CRS)
    return _cell_ids_from_xy(
        projected.x.to_numpy(dtype=float),
        projected.y.to_numpy(dtype=float),
        np.full(len(projected), float(resolution_m)),
        index=points.index,
    )


def _grid_from_frame(
    frame: pd.DataFrame,
    geometry: gpd.GeoSeries | None,
    *,
    source: Path,
    area: BaseGeometry | None,
    id_column: str | None,
    population_column: str | None,
    issues: list[QetGeoWarning],
) -> gpd.GeoDataFrame:
    frame = _lower_columns(frame, source=source)
    columns = list(frame.columns)
    id_col = _pick_column(columns, id_column, GRID_CELL_ID_COLUMNS, source=source, role="id")
    pop_col = _pick_column(
        columns, population_column, GRID_POPULATION_COLUMNS, source=source, role="population"
    )
    if id_col is None and geometry is None:
        raise ValidationError(
            msg(
                "{source} n'a ni colonne d'identifiant de carreau ni géométrie : ses carreaux ne "
                "peuvent pas être localisés. Colonnes trouvées : {columns_or_aucune}. "
                "Attendu : l'une de {grid_cell_id_columns} ; indiquez-la avec id_column=.",
                source=source,
                columns_or_aucune=", ".join(columns) or "aucune",
                grid_cell_id_columns=", ".join(GRID_CELL_ID_COLUMNS),
                columns_or_none=", ".join(columns) or "none",
            ),
            path=source,
        )
    if pop_col is None:
        raise ValidationError(
            msg(
                "{source} n'a pas de colonne de population. Colonnes trouvées : {columns}. "
                "Attendu : l'une de {grid_population_columns} ; indiquez-la avec "
                "population_column=.",
                source=source,
                columns=", ".join(columns),
                grid_population_columns=", ".join(GRID_POPULATION_COLUMNS),
            ),
            path=source,
        )
    population = _numeric(frame[pop_col], source=source, column=pop_col)

    raw_ids = frame[id_col] if id_col is not None else pd.Series(pd.NA, index=frame.index)
    parsed = _parse_cell_ids(raw_ids, source=str(source))
    missing = parsed["east"].isna().to_numpy()

    if geometry is not None:
        geometry = geometry.set_axis(frame.index)
        polygonal = bool(geometry.geom_type.dropna().isin(["Polygon", "MultiPolygon"]).all())
        # Cell centres name cells robustly: corners sit on grid lines, where rounding decides.
        centres = geometry.to_crs(GRID_CRS)
        if polygonal:
            centres = centres.centroid
        resolution = parsed["res"].fillna(float(CELL_SIZE_M)).to_numpy(dtype=float)
        from_geometry = _cell_ids_from_xy(
            centres.x.to_numpy(dtype=float),
            centres.y.to_numpy(dtype=float),
            resolution,
            index=frame.index,
        )
        canonical = _canonical_ids(parsed)
        known = ~missing & from_geometry.notna().to_numpy()
        wrong = known & (canonical != from_geometry).to_numpy()
        if wrong.any():
            first = int(np.flatnonzero(wrong)[0])
            example_id, example_at = canonical.iloc[first], from_geometry.iloc[first]
            issues.append(
                QetGeoWarning(
                    msg(
                        "{n_wrong} carreau(x) de {source} ont un identifiant qui ne correspond pas "
                        "à leur géométrie (par exemple {example_id} situé en {example_at}) ; le système "
                        "de coordonnées du fichier est sans doute faux : passez le bon avec crs=.",
                        n_wrong=int(wrong.sum()),
                        source=source,
                        example_id=example_id,
                        example_at=example_at,
                    )
                )
            )
        fillable = missing & from_geometry.notna().to_numpy()
        if fillable.any() and id_col is not None:
            issues.append(
                QetGeoWarning(
                    msg(
                        "{n_fillable} carreau(x) de {source} n'ont pas d'identifiant dans la "
                        "colonne '{id_col}' ; il a été déduit de leur géométrie.",
                        n_fillable=int(fillable.sum()),
                        source=source,
                        id_col=id_col,
                    )
                )
            )
        fill = _parse_cell_ids(from_geometry[fillable], source=str(source))
        parsed.loc[fillable, ["res", "north", "east"]] = fill[["res", "north", "east"]]
        rebuilt = gpd.GeoSeries(_cell_boxes(parsed), index=frame.index, crs=GRID_CRS)
        cells = rebuilt.to_crs(WORK_CRS)
        if polygonal:
            cells = geometry.to_crs(WORK_CRS).fillna(cells)
        located = parsed["east"].notna().to_numpy() & cells.notna().to_numpy()
    else:
        located = ~missing
        if missing.any():
            lost = float(population[missing].sum())
            issues.append(
                QetGeoWarning(
                    msg(
                        "{n_missing} ligne(s) de {source} n'ont pas d'identifiant de carreau et le "
                        "fichier n'a pas de géométrie : elles ont été écartées ({lost:g} habitants). "
                        "Renseignez la colonne '{id_col}' pour les garder.",
                        n_missing=int(missing.sum()),
                        source=source,
                        lost=lost,
                        id_col=id_col,
                    )
                )
            )
        if area is not None:
            located &= _overlaps_bounds(parsed, _bounds_in(area, GRID_CRS))
        cells = gpd.GeoSeries([None] * len(frame), index=frame.index, crs=GRID_CRS)
        cells[located] = _cell_boxes(parsed[located])
        cells = cells.to_crs(WORK_CRS)

    if not located.any() and len(frame) and area is None:
        raise EmptyDataError(
            msg(
                "Aucun carreau de {source} n'a pu être localisé : renseignez les identifiants de "
                "carreaux.",
                source=source,
            ),
            path=source,
        )
    if area is not None:
        located &= (cells.intersects(area) & ~cells.touches(area)).to_numpy()

    others = [c for c in frame.columns if c not in (id_col, pop_col)]
    grid = gpd.GeoDataFrame(
        {
            "cell_id": _canonical_ids(parsed)[located].to_numpy(),
            "population": population[located].to_numpy(dtype=float),
            **{c: frame[c][located].to_numpy() for c in others},
        },
        geometry=cells[located].to_numpy(),
        crs=WORK_CRS,
    )
    duplicated = grid["cell_id"].duplicated(keep=False)
    if duplicated.any():
        example = grid["cell_id"][duplicated].iloc[0]
        issues.append(
            QetGeoWarning(
                msg(
                    "{n_duplicated} lignes de {source} partagent un identifiant de carreau "
                    "(par exemple {example}) ; elles sont gardées telles quelles.",
                    n_duplicated=int(duplicated.sum()),
                    source=source,
                    example=example,
                )
            )
        )
    return grid


def _parse_cell_ids(values: pd.Series, *, source: str) -> pd.DataFrame:
    """Parse cell ids into float columns ``res``, ``north``, ``east`` (NaN where missing)."""
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    found = text.str.extract(_CELL_ID_PATTERN, flags=re.IGNORECASE)
    bad = (text.notna() & found["north"].isna()).to_numpy()
    if bad.any():
        example = text[bad].iloc[0]
        raise ValidationError(
            msg(
                "{n_bad} identifiant(s) de carreau de {source} illisible(s), par exemple "
                "{example!r}. Forme attendue : 'CRS3035RES200mN2029800E4252000' (nord puis est "
                "du coin inférieur gauche en EPSG:3035) ; vérifiez la colonne d'identifiant "
                "(id_column=).",
                n_bad=int(bad.sum()),
                source=source,
                example=example,
            ),
            path=source if Path(source).exists() else None,
        )
    other_crs = (found["crs"].notna() & (found["crs"] != "3035")).to_numpy()
    if other_crs.any():
        example = text[other_crs].iloc[0]
        raise ValidationError(
            msg(
                "L'identifiant de carreau {example!r} de {source} relève d'une grille dans un "
                "autre système que l'EPSG:3035 (grille d'outre-mer) ; seule la grille "
                "métropolitaine est prise en charge.",
                example=example,
                source=source,
            )
        )
    res = pd.to_numeric(found["res"]).astype(float).fillna(float(CELL_SIZE_M))
    res = res.where(text.notna())
    north = pd.to_numeric(found["north"]).astype(float)
    east = pd.to_numeric(found["east"]).astype(float)
    off_grid = (text.notna() & ((res <= 0) | (north % res != 0) | (east % res != 0))).to_numpy(
        dtype=bool
    )
    if off_grid.any():
        example = text[off_grid].iloc[0]
        raise ValidationError(
            msg(
                "L'identifiant de carreau {example!r} de {source} n'est pas sur sa grille : le "
                "nord et l'est doivent être des multiples de la taille du carreau ; "
                "l'identifiant est sans doute tronqué.",
                example=example,
                source=source,
            )
        )
    return pd.DataFrame({"res": res, "north": north, "east": east}, index=values.index)


def _canonical_ids(parsed: pd.DataFrame) -> pd.Series:
    ids = [
        None if np.isnan(e) else grid.cell_id(r, n, e)
        for r, n, e in zip(parsed["res"], parsed["north"], parsed["east"], strict=True)
    ]
    return pd.Series(ids, index=parsed.index, dtype=object, name="cell_id")


def _cell_ids_from_xy(
    x: np.ndarray, y: np.ndarray, res: np.ndarray, *, index: pd.Index
) -> pd.Series:
    with np.errstate(invalid="ignore"):
        parsed = pd.DataFrame(
            {"res": res, "north": np.floor(y / res) * res, "east": np.floor(x / res) * res},
            index=index,
        )
    parsed.loc[parsed["north"].isna(), "east"] = np.nan
    return _canonical_ids(parsed)


def _cell_boxes(parsed: pd.DataFrame) -> np.ndarray:
    east = parsed["east"].to_numpy(dtype=float)
    north = parsed["north"].to_numpy(dtype=float)
    res = parsed["res"].to_numpy(dtype=float)
    boxes = np.full(len(parsed), None, dtype=object)
    ok = ~np.isnan(east)
    boxes[ok] = shapely.box(east[ok], north[ok], east[ok] + res[ok], north[ok] + res[ok])
    return boxes


def _overlaps_bounds(parsed: pd.DataFrame, bounds: Bbox) -> np.ndarray:
    left, bottom, right, top = bounds
    east, north, res = parsed["east"], parsed["north"], parsed["res"]
    inside = (east < right) & (east + res > left) & (north < top) & (north + res > bottom)
    return inside.fillna(False).to_numpy(dtype=bool)


# --------------------------------------------------------------------------------------------------
# IRIS
# --------------------------------------------------------------------------------------------------


def read_iris(
    path: PathType,
    *,
    codes: Sequence[str] | None = None,
    table: PathType | pd.DataFrame | None = None,
    table_code_column: str | None = None,
    code_column: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read IRIS contours in EPSG:2154, optionally with a census table joined by IRIS code.

    Parameters
    ----------
    path
        IRIS contours (IGN CONTOURS-IRIS or any vector layer GDAL reads) with an IRIS code column.
    codes
        9-character IRIS codes to keep (``"751010101"``); 8-digit codes that lost their leading
        zero are padded. All IRIS by default.
    table
        Census table by IRIS: a CSV file (``,``, ``;`` or tab separated) or a DataFrame, such as
        an INSEE *base infracommunale* table. Its columns are joined with their published names.
    table_code_column
        Column of ``table`` holding the IRIS code; by default the first of
        :data:`IRIS_CODE_COLUMNS` present. Codes read as numbers are zero-padded to 9 characters.
    code_column
        Column of the layer holding the IRIS code; by default the first of
        :data:`IRIS_CODE_COLUMNS` present, completed with the commune code when it holds only the
        4-digit IRIS number.
    crs
        CRS of the layer's coordinates, overriding what the file declares; needed for a shapefile
        without its ``.prj``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per IRIS in file order: ``iris_code`` (9-character string), ``iris_name`` when the
        layer has names, the population columns below when the table (or layer) has them, the
        layer's other columns in lower case, the table's columns, and the IRIS polygon.

        - ``population``: total population, from a column ``P{yy}_POP`` (INSEE) or
          ``population``. Set only when such a column exists.
        - ``population_15p``: population aged 15 or over, from ``P{yy}_POP15P`` or
          ``C{yy}_POP15P``, else the sum of the eight socio-professional categories
          ``C{yy}_POP15P_CS1`` ... ``CS8`` (rounded estimates: the sum can differ from the
          published total by a few people). It is *not* copied to ``population``.

        IRIS missing from the table get missing table values, with a warning.

    Raises
    ------
    InputFileError
        A file is missing or unreadable, or ``path`` has no geometry.
    CRSError
        The layer has no CRS and ``crs`` is not given.
    ValidationError
        No IRIS code column, malformed codes in the layer, or a code twice in the table.
    UnknownCodeError
        A code of ``codes`` is not in the layer; the message lists close codes that are.

    Warns
    -----
    QetGeoWarning
        Table rows that match no IRIS of the layer (with their count), or IRIS with no table row.
    """
    file = existing_file(path, what=msg("Fichier couche IRIS"))
    if file.suffix.lower() in _TABLE_SUFFIXES:
        raise InputFileError(
            msg(
                "{file} est un tableau : passez les contours IRIS (.gpkg, .shp) en path et ce "
                "fichier en table=.",
                file=file,
            ),
            path=file,
        )
    wanted: list[str] | None = None
    if codes is not None:
        if isinstance(codes, str) or not all(isinstance(c, str) for c in codes):
            raise ValidationError(
                msg("codes doit être une liste de codes IRIS en texte, par exemple ['751010101'].")
            )
        if not codes:
            raise ValidationError(msg("codes est vide : passez None pour lire tous les IRIS."))
        wanted = [c.strip().zfill(9) if len(c.strip()) == 8 else c.strip() for c in codes]
    table_frame: pd.DataFrame | None = None
    table_source = "table"
    if table is not None:
        if isinstance(table, pd.DataFrame):
            table_frame = table.copy()
        else:
            table_file = existing_file(table, what=msg("Fichier tableau IRIS"))
            table_source = str(table_file)
            if table_file.suffix.lower() == ".parquet":
                table_frame = pd.read_parquet(table_file)
            else:
                extra = _lower_opt(table_code_column)
                table_frame = _read_csv(table_file, text_columns={*_TEXT_COLUMNS, *extra})
    layer = _read_vector(file, crs=crs, area=None)
    if layer.geometry.isna().all():
        raise InputFileError(
            msg(
                "{file} n'a pas de géométrie : passez les contours IRIS (IGN CONTOURS-IRIS).",
                file=file,
            ),
            path=file,
        )
    issues: list[QetGeoWarning] = []
    iris = _read_iris(
        layer,
        source=file,
        wanted=wanted,
        table=table_frame,
        table_source=table_source,
        table_code_column=table_code_column,
        code_column=code_column,
        issues=issues,
    )
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return iris


def _read_iris(
    layer: gpd.GeoDataFrame,
    *,
    source: Path,
    wanted: list[str] | None,
    table: pd.DataFrame | None,
    table_source: str,
    table_code_column: str | None,
    code_column: str | None,
    issues: list[QetGeoWarning],
) -> gpd.GeoDataFrame:
    geometry = layer.geometry.to_crs(WORK_CRS).reset_index(drop=True)
    frame = _lower_columns(
        pd.DataFrame(layer.drop(columns=layer.geometry.name)).reset_index(drop=True),
        source=source,
    )
    code_col = _pick_column(
        list(frame.columns), code_column, IRIS_CODE_COLUMNS, source=source, role="IRIS code"
    )
    if code_col is None:
        raise ValidationError(
            msg(
                "{source} n'a pas de colonne de code IRIS. Colonnes trouvées : "
                "{frame_columns}. Attendu : l'une de {iris_code_columns} ; indiquez-la "
                "avec code_column=.",
                source=source,
                frame_columns=", ".join(frame.columns),
                iris_code_columns=", ".join(IRIS_CODE_COLUMNS),
            ),
            path=source,
        )
    layer_codes = _iris_codes(frame, code_col)
    bad = ~layer_codes.str.fullmatch(_IRIS_CODE_PATTERN).fillna(False).astype(bool)
    if bad.any():
        example = frame[code_col][bad].iloc[0]
        raise ValidationError(
            msg(
                "{n_bad} IRIS de {source} ont un code absent ou mal formé dans la colonne "
                "'{code_col}', par exemple {example!r} ; attendu : 9 caractères comme "
                "'751010101'. Corrigez la couche ou indiquez code_column=.",
                n_bad=int(bad.sum()),
                source=source,
                code_col=code_col,
                example=example,
            ),
            path=source,
        )
    name_col = _pick_column(list(frame.columns), None, IRIS_NAME_COLUMNS, source=source, role="")
    keep = np.ones(len(frame), dtype=bool)
    if wanted is not None:
        _check_known_codes(wanted, layer_codes, source=source)
        keep = layer_codes.isin(set(wanted)).to_numpy()

    out = pd.DataFrame({"iris_code": layer_codes.astype(object)})
    if name_col is not None:
        out["iris_name"] = frame[name_col]
    others = frame.drop(columns=[c for c in (code_col, name_col) if c is not None])
    out = pd.concat([out, others], axis=1)
    derived = _derived_population(others)
    for name, values in derived.items():
        out[name] = values
    if table is not None:
        table = _prepare_table(
            table,
            known=set(layer_codes),
            selected=set(layer_codes[keep]),
            source=table_source,
            code_column=table_code_column,
            issues=issues,
        )
        table_derived = _derived_population(table.drop(columns="iris_code"))
        for name, values in table_derived.items():
            table[name] = values
        # The table's figures win over same-named columns of the layer.
        out = out.drop(columns=[c for c in table_derived if c in out.columns])
        out = out.merge(table, how="left", on="iris_code", suffixes=("", "_table"))
        derived.update(table_derived)
    head = ["iris_code", *(["iris_name"] if name_col is not None else []), *sorted(derived)]
    out = out[head + [c for c in out.columns if c not in head]]
    result = gpd.GeoDataFrame(out, geometry=geometry.to_numpy(), crs=WORK_CRS)
    return result[keep].reset_index(drop=True)


def _prepare_table(
    table: pd.DataFrame,
    *,
    known: set[str],
    selected: set[str],
    source: str,
    code_column: str | None,
    issues: list[QetGeoWarning],
) -> pd.DataFrame:
    lowered = {str(c).lower(): c for c in table.columns}
    if code_column is not None:
        if code_column not in table.columns and code_column.lower() not in lowered:
            raise ValidationError(
                msg(
                    "La colonne '{code_column}' n'est pas dans {source}. Colonnes trouvées : "
                    "{map_str_table_columns}.",
                    code_column=code_column,
                    source=source,
                    map_str_table_columns=", ".join(map(str, table.columns)),
                )
            )
        column = code_column if code_column in table.columns else lowered[code_column.lower()]
    else:
        found = next((lowered[c] for c in IRIS_CODE_COLUMNS if c in lowered), None)
        if found is None:
            raise ValidationError(
                msg(
                    "{source} n'a pas de colonne de code IRIS. Colonnes trouvées : "
                    "{map_str_table_columns}. Attendu : l'une de {iris_code_columns} ; "
                    "indiquez-la avec table_code_column=.",
                    source=source,
                    map_str_table_columns=", ".join(map(str, table.columns)),
                    iris_code_columns=", ".join(IRIS_CODE_COLUMNS),
                )
            )
        column = found
    codes = _iris_codes(table.rename(columns=str.lower), str(column).lower())
    valid = codes.str.fullmatch(_IRIS_CODE_PATTERN).fillna(False).astype(bool)
    if not valid.any():
        example = table[column].dropna().iloc[0] if table[column].notna().any() else None
        raise ValidationError(
            msg(
                "La colonne '{column}' de {source} ne contient aucun code IRIS (par exemple "
                "{example!r}) ; indiquez la colonne des codes IRIS à 9 caractères avec "
                "table_code_column=.",
                column=column,
                source=source,
                example=example,
            )
        )
    duplicated = codes[valid].duplicated(keep=False)
    if duplicated.any():
        example = codes[valid][duplicated].iloc[0]
        raise ValidationError(
            msg(
                "{n_duplicated} lignes de {source} partagent un code IRIS (par exemple "
                "{example}) ; agrégez le tableau à une ligne par IRIS avant la jointure.",
                n_duplicated=int(duplicated.sum()),
                source=source,
                example=example,
            )
        )
    joins = valid & codes.isin(known)
    if not joins.all():
        examples = ", ".join(map(str, table[column][~joins].dropna().head(3))) or "empty codes"
        issues.append(
            QetGeoWarning(
                msg(
                    "{n_joins} des {n_table} lignes de {source} ne correspondent à aucun "
                    "IRIS de la couche (par exemple {examples}) ; vérifiez que le tableau et les "
                    "contours sont du même millésime IRIS.",
                    n_joins=int((~joins).sum()),
                    n_table=len(table),
                    source=source,
                    examples=examples,
                )
            )
        )
    missing = selected - set(codes[joins])
    if missing:
        examples = ", ".join(sorted(missing)[:3])
        issues.append(
            QetGeoWarning(
                msg(
                    "{n_missing} IRIS n'ont pas de ligne dans {source} (par exemple {examples}) ; "
                    "leurs colonnes du tableau sont vides.",
                    n_missing=len(missing),
                    source=source,
                    examples=examples,
                )
            )
        )
    result = table[joins.to_numpy()].drop(columns=column)
    result.insert(0, "iris_code", codes[joins].astype(object).to_numpy())
    return result


def _iris_codes(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return the column's IRIS codes as 9-character strings where recoverable (NA if missing)."""
    values = frame[column]
    text = _code_text(values)
    lengths = text.str.len()
    commune_col = next(
        (c for c in COMMUNE_CODE_COLUMNS if c in frame.columns and c != column), None
    )
    if commune_col is not None and bool((lengths.dropna() <= 4).all()) and text.notna().any():
        text = _code_text(frame[commune_col]).str.zfill(5) + text.str.zfill(4)
        lengths = text.str.len()
    # A numeric reading drops the leading zero of départements 01-09: 8 digits -> 9.
    return text.mask(lengths == 8, text.str.zfill(9))


def _code_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.notna() & (numbers == np.floor(numbers))
        text = pd.Series(pd.NA, index=values.index, dtype="string")
        text[whole] = numbers[whole].astype("int64").astype("string")
        return text
    text = values.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.mask(text == "")


def _check_known_codes(wanted: list[str], layer_codes: pd.Series, *, source: Path) -> None:
    available = sorted(set(layer_codes))
    unknown = sorted(set(wanted) - set(available))
    if not unknown:
        return
    near: list[str] = []
    for code in unknown[:3]:
        for size in range(min(len(code), 8), 0, -1):
            close = [c for c in available if c.startswith(code[:size])]
            if close:
                near.extend(c for c in close[:3] if c not in near)
                break
    listed = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
    raise UnknownCodeError(
        msg(
            "{n_unknown} code(s) IRIS absent(s) de {source} : {listed}. Codes proches dans "
            "le fichier : {near}. Vérifiez les codes et le millésime des contours IRIS "
            "(les codes changent d'une année à l'autre).",
            n_unknown=len(unknown),
            source=source,
            listed=listed,
            near=", ".join(near),
        ),
        path=source,
    )


def _derived_population(frame: pd.DataFrame) -> dict[str, pd.Series]:
    derived: dict[str, pd.Series] = {}
    for column in frame.columns:
        name = str(column)
        if "population" not in derived and _TOTAL_POPULATION_PATTERN.match(name):
            derived["population"] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        if "population_15p" not in derived and _POPULATION_15P_PATTERN.match(name):
            derived["population_15p"] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if "population_15p" not in derived:
        groups: dict[str, dict[str, Any]] = {}
        for column in frame.columns:
            match = _CS8_PATTERN.match(str(column))
            if match:
                groups.setdefault(match["prefix"].upper(), {})[match["cs"]] = column
        complete = [cols for cols in groups.values() if len(cols) == 8]
        if complete:
            parts = frame[list(complete[0].values())].apply(pd.to_numeric, errors="coerce")
            derived["population_15p"] = parts.sum(axis=1, min_count=8).astype(float)
    return dict(sorted(derived.items()))


# --------------------------------------------------------------------------------------------------
# Dasymetric allocation
# --------------------------------------------------------------------------------------------------


def allocate_population(
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    population_column: str = "population",
) -> pd.Series:
    """Spread the population of census zones over residential buildings by floor area.

    Each zone's population is split over the residential buildings whose representative point
    lies in the zone, in proportion to their floor area, footprint area × ``levels``. A building
    on a boundary between zones goes to the first zone in ``zones`` order. Zones whose buildings
    all have a zero footprint (points) split their population equally among them.

    Parameters
    ----------
    buildings
        Building footprints in a projected CRS (EPSG:2154) with a boolean column ``residential``
        and optionally ``levels`` (storeys, float) and ``height`` (metres). A missing or
        non-positive ``levels`` is taken as ``max(1, round(height / 3))`` when the height is
        known (:data:`STOREY_HEIGHT_M`), else :data:`DEFAULT_LEVELS` (1).
    zones
        Census zones (grid cells from :func:`read_grid`, IRIS from :func:`read_iris`), in any CRS.
        A missing population counts as 0.
    population_column
        Column of ``zones`` holding the number of inhabitants.

    Returns
    -------
    pandas.Series
        ``population`` per building, float, aligned to ``buildings``; 0 for non-residential
        buildings and for buildings outside every zone. ``attrs["unallocated"]`` holds the people
        of zones without any residential building, ``attrs["unallocated_zones"]`` the index
        labels of those zones.

    Raises
    ------
    CRSError
        A layer has no CRS, or ``buildings`` is not in a projected CRS.
    ValidationError
        A required column is missing or not of the expected type, or a population is negative.

    Warns
    -----
    QetGeoWarning
        Zones with population but no residential building, with the number of people left
        unallocated.
    """
    for name, frame in (("buildings", buildings), ("zones", zones)):
        require_crs(geo_frame(frame, what=name), what=name)
    if not CRS.from_user_input(buildings.crs).is_projected:
        raise CRSError(
            msg(
                "buildings est dans un système géographique ({crs}) où les surfaces ne sont pas "
                "en mètres carrés : reprojetez-le avec buildings.to_crs(2154).",
                crs=buildings.crs,
            )
        )
    if "residential" not in buildings.columns:
        raise ValidationError(
            msg(
                "buildings n'a pas de colonne 'residential'. Colonnes trouvées : {value0}.",
                value0=", ".join(map(str, buildings.columns)),
            )
        )
    flags = buildings["residential"]
    if not pd.api.types.is_bool_dtype(flags) and not (
        flags.dtype == object and flags.dropna().map(type).isin([bool, np.bool_]).all()
    ):
        raise ValidationError(
            msg(
                "buildings['residential'] doit contenir des booléens, pas des valeurs {dtype}.",
                dtype=flags.dtype,
            )
        )
    if population_column not in zones.columns:
        raise ValidationError(
            msg(
                "zones n'a pas de colonne '{population_column}'. Colonnes trouvées : "
                "{map_str_zones_columns} ; indiquez population_column=.",
                population_column=population_column,
                map_str_zones_columns=", ".join(map(str, zones.columns)),
            )
        )
    population = pd.to_numeric(zones[population_column], errors="coerce")
    if population.isna().sum() > zones[population_column].isna().sum():
        raise ValidationError(
            msg(
                "zones['{population_column}'] contient des valeurs non numériques.",
                population_column=population_column,
            )
        )
    if (population < 0).any():
        raise ValidationError(
            msg(
                "zones['{population_column}'] contient des populations négatives.",
                population_column=population_column,
            )
        )
    issues: list[QetGeoWarning] = []
    result = _allocate_population(
        buildings.geometry,
        residential=flags.fillna(False).astype(bool).to_numpy(),
        levels=_levels(buildings),
        zones=zones.geometry.to_crs(buildings.crs),
        population=population.fillna(0.0).to_numpy(dtype=float),
        issues=issues,
    )
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return result


def _levels(buildings: gpd.GeoDataFrame) -> np.ndarray:
    levels = pd.Series(np.nan, index=buildings.index)
    if "levels" in buildings.columns:
        levels = pd.to_numeric(buildings["levels"], errors="coerce").astype(float)
    levels = levels.where(levels > 0)
    if "height" in buildings.columns:
        height = pd.to_numeric(buildings["height"], errors="coerce").astype(float)
        from_height = (height / STOREY_HEIGHT_M).round().clip(lower=1.0).where(height > 0)
        levels = levels.fillna(from_height)
    return levels.fillna(DEFAULT_LEVELS).to_numpy(dtype=float)


def _allocate_population(
    footprints: gpd.GeoSeries,
    *,
    residential: np.ndarray,
    levels: np.ndarray,
    zones: gpd.GeoSeries,
    population: np.ndarray,
    issues: list[QetGeoWarning],
) -> pd.Series:
    n_zones = len(zones)
    geoms = footprints.to_numpy()
    usable = residential & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    candidates = np.flatnonzero(usable)
    points = shapely.point_on_surface(geoms[candidates])
    tree = shapely.STRtree(zones.to_numpy())
    hit_building, hit_zone = tree.query(points, predicate="intersects")
    # One zone per building (the first in zone order) so that no one is counted twice.
    order = np.lexsort((hit_zone, hit_building))
    hit_building, hit_zone = hit_building[order], hit_zone[order]
    first = np.unique(hit_building, return_index=True)[1]
    assigned = candidates[hit_building[first]]
    zone_of = hit_zone[first]

    weight = shapely.area(geoms[assigned]) * levels[assigned]
    count = np.bincount(zone_of, minlength=n_zones)
    total = np.bincount(zone_of, weights=weight, minlength=n_zones)
    flat = (total[zone_of] <= 0) | ~np.isfinite(total[zone_of])
    weight[flat] = 1.0
    total = np.bincount(zone_of, weights=weight, minlength=n_zones)

    values = np.zeros(len(footprints), dtype=float)
    values[assigned] = population[zone_of] * weight / total[zone_of]
    result = pd.Series(values, index=footprints.index, name="population")

    empty = (count == 0) & (population > 0)
    unallocated = float(population[empty].sum())
    result.attrs["unallocated"] = unallocated
    result.attrs["unallocated_zones"] = zones.index[empty].tolist()
    if empty.any():
        issues.append(
            QetGeoWarning(
                msg(
                    "{n_empty} zone(s) peuplée(s) ne contiennent aucun bâtiment résidentiel : "
                    "{unallocated:g} habitants n'ont pas été répartis (voir "
                    "result.attrs['unallocated_zones']). Vérifiez l'attribut résidentiel ou "
                    "l'étendue de la couche des bâtiments.",
                    n_empty=int(empty.sum()),
                    unallocated=unallocated,
                )
            )
        )
    return result


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _selection_area(bbox: Bbox | None, mask: BaseGeometry | None) -> BaseGeometry | None:
    if bbox is not None and mask is not None:
        raise ValidationError(msg("Passez bbox ou mask, pas les deux."))
    if bbox is not None:
        try:
            left, bottom, right, top = (float(v) for v in bbox)
        except (TypeError, ValueError):
            left = bottom = right = top = np.nan
        if not (np.isfinite([left, bottom, right, top]).all() and left < right and bottom < top):
            raise ValidationError(
                msg(
                    "bbox doit être (gauche, bas, droite, haut) en mètres EPSG:2154, pas {bbox!r}.",
                    bbox=bbox,
                )
            )
        return shapely.box(left, bottom, right, top)
    if mask is not None:
        if not isinstance(mask, BaseGeometry) or mask.is_empty:
            raise ValidationError(
                msg("mask doit être une géométrie shapely non vide en EPSG:2154.")
            )
        return mask
    return None


def _bounds_in(area: BaseGeometry, crs: Any) -> Bbox:
    transformer = Transformer.from_crs(WORK_CRS, crs, always_xy=True)
    left, bottom, right, top = transformer.transform_bounds(*area.bounds, densify_pts=21)
    return (left, bottom, right, top)


def _read_vector(file: Path, *, crs: Any, area: BaseGeometry | None) -> gpd.GeoDataFrame:
    try:
        info = pyogrio.read_info(file)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputFileError(
            msg(
                "{file} ne peut pas être lu comme couche vectorielle ({exc}) ; vérifiez que le "
                "fichier est complet et dans un format lu par GDAL (.gpkg, .shp avec .shx et "
                ".dbf, .geojson).",
                file=file,
                exc=exc,
            ),
            path=file,
        ) from exc
    has_geometry = info.get("geometry_type") is not None
    file_crs = crs if crs is not None else info.get("crs")
    if has_geometry and file_crs is None:
        hint = msg(" (pas de fichier .prj à côté du .shp)") if file.suffix.lower() == ".shp" else ""
        raise CRSError(
            msg(
                "{file} n'a pas de système de coordonnées{hint} : ajoutez le fichier .prj, ou "
                "passez crs= avec le système de ses coordonnées (crs='EPSG:2154' pour le "
                "Lambert-93).",
                file=file,
                hint=hint,
            ),
            path=file,
        )
    bbox = None
    if area is not None and has_geometry:
        bbox = _bounds_in(area, file_crs)
    try:
        layer = gpd.read_file(file, bbox=bbox, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputFileError(
            msg(
                "{file} ne peut pas être lu ({exc}) ; vérifiez que le fichier est complet.",
                file=file,
                exc=exc,
            ),
            path=file,
        ) from exc
    if not isinstance(layer, gpd.GeoDataFrame):
        layer = gpd.GeoDataFrame(layer, geometry=[None] * len(layer))
    if crs is not None:
        layer = layer.set_crs(crs, allow_override=True)
    return layer


def _read_csv(file: Path, *, text_columns: set[str]) -> pd.DataFrame:
    """Read a CSV whose separator (``,``, ``;`` or tab) and encoding are guessed."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with file.open(encoding=encoding) as handle:
                header = handle.readline()
            sep = max((";", "\t", ","), key=header.count)
            if header.count(sep) == 0:
                sep = ","
            columns = pd.read_csv(file, sep=sep, nrows=0, encoding=encoding).columns
            dtype = {c: "string" for c in columns if str(c).lower() in text_columns}
            frame = pd.read_csv(file, sep=sep, dtype=dtype, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputFileError(
                msg(
                    "{file} ne peut pas être lu comme tableau CSV ({exc}) ; vérifiez le fichier.",
                    file=file,
                    exc=exc,
                ),
                path=file,
            ) from exc
    else:  # pragma: no cover - latin-1 decodes any byte
        raise InputFileError(f"{file} has an unknown text encoding.", path=file)
    if sep != ",":
        # French exports separated by ';' often write decimals with a comma.
        for column in frame.columns:
            values = frame[column]
            if str(column).lower() in text_columns or pd.api.types.is_numeric_dtype(values):
                continue
            present = values.dropna().astype(str)
            if len(present) and present.str.fullmatch(r"-?\d+(?:,\d+)?").all():
                frame[column] = pd.to_numeric(values.astype("string").str.replace(",", "."))
    return frame


def _lower_columns(frame: pd.DataFrame, *, source: Path) -> pd.DataFrame:
    lowered = [str(c).lower() for c in frame.columns]
    clashes = sorted({c for c in lowered if lowered.count(c) > 1})
    if clashes:
        raise ValidationError(
            msg(
                "{source} a des colonnes qui ne diffèrent que par la casse ({clashes}) ; "
                "renommez-les.",
                source=source,
                clashes=", ".join(clashes),
            ),
            path=source,
        )
    return frame.set_axis(lowered, axis=1)


def _lower_opt(name: str | None) -> set[str]:
    return set() if name is None else {name.lower()}


def _pick_column(
    columns: list[str],
    requested: str | None,
    candidates: Sequence[str],
    *,
    source: Path,
    role: str,
) -> str | None:
    if requested is not None:
        if requested.lower() not in columns:
            raise ValidationError(
                msg(
                    "La colonne '{requested}' ({role}) n'est pas dans {source}. Colonnes trouvées : "
                    "{columns}.",
                    requested=requested,
                    role=role,
                    source=source,
                    columns=", ".join(columns),
                ),
                path=source,
            )
        return requested.lower()
    return next((c for c in candidates if c in columns), None)


def _numeric(values: pd.Series, *, source: Path, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        raise ValidationError(
            msg(
                "La colonne '{column}' de {source} contient des valeurs non numériques, par "
                "exemple {example!r}.",
                column=column,
                source=source,
                example=example,
            ),
            path=source,
        )
    return numbers.astype(float)
