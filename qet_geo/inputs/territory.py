"""A neighbourhood (quartier): its polygon, its IRIS codes, and the buffered working area.

A territory can be given as a polygon file (GeoJSON, GeoPackage, shapefile), as a list of IRIS codes
with an IRIS layer, as a commune INSEE code with a communes layer, or as the bounds of an OSM extract.
Work happens on the territory plus a buffer (default 1 000 m, so that the shop across the border
counts), in Lambert-93 (EPSG:2154).

IRIS ("Îlots Regroupés pour l'Information Statistique") are INSEE's sub-communal census units of about
2 000 inhabitants, identified by a 9-digit code (commune INSEE code + 4 digits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from qet_geo._validate import existing_file
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    CRSError,
    EmptyDataError,
    InputFileError,
    UnknownCodeError,
    ValidationError,
)
from qet_geo.i18n import msg

__all__ = [
    "DEFAULT_BUFFER_M",
    "WORK_CRS",
    "Territory",
    "read_vector",
    "territory_from_bounds",
    "territory_from_commune",
    "territory_from_file",
    "territory_from_iris",
    "territory_from_options",
]

#: Default width of the ring around the territory that still counts (m).
DEFAULT_BUFFER_M = 1000.0

_COMMUNE_CODE_COLUMNS = (
    "code",
    "insee",
    "code_insee",
    "insee_com",
    "inseecom",
    "codgeo",
    "insee_code",
)
_COMMUNE_NAME_COLUMNS = ("nom", "name", "nom_com", "libgeo")


@dataclass(frozen=True)
class Territory:
    """A neighbourhood and its buffered working area, in EPSG:2154.

    Attributes
    ----------
    name
        A label for reports.
    geometry
        The neighbourhood polygon (EPSG:2154).
    buffer_m
        The width of the ring that still counts around it.
    iris_codes
        The IRIS codes that make the neighbourhood, when it was defined by them.
    source
        How it was defined ("file", "iris", "commune", "bounds").
    """

    name: str
    geometry: BaseGeometry
    buffer_m: float = DEFAULT_BUFFER_M
    iris_codes: tuple[str, ...] = ()
    source: str = "file"
    crs: str = field(default=WORK_CRS, init=False)

    @property
    def working_area(self) -> BaseGeometry:
        """The territory plus its buffer: what the layers are cut to."""
        return shapely.buffer(self.geometry, self.buffer_m) if self.buffer_m > 0 else self.geometry

    @property
    def area_km2(self) -> float:
        """The territory's area, in km²."""
        return float(shapely.area(self.geometry)) / 1e6

    def to_gdf(self) -> gpd.GeoDataFrame:
        """Return the territory as a one-row GeoDataFrame in EPSG:2154."""
        return gpd.GeoDataFrame(
            {
                "name": [self.name],
                "source": [self.source],
                "buffer_m": [self.buffer_m],
                "iris_codes": [",".join(self.iris_codes)],
            },
            geometry=[self.geometry],
            crs=WORK_CRS,
        )


def read_vector(path: str | PathLike[str], *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file and check it has a CRS; raise clear errors otherwise.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage, shapefile or any file OGR reads.
    layer
        The layer to read in a multi-layer file (GeoPackage); the first one by default.
    """
    path = Path(path)
    existing_file(path, what=msg("Fichier"))
    if (
        path.suffix.lower() == ".shp"
        and not path.with_suffix(".prj").exists()
        and not path.with_suffix(".PRJ").exists()
    ):
        raise CRSError(
            msg(
                "{path} n'a pas de fichier .prj : son système de coordonnées est inconnu. Placez "
                "le .prj fourni à côté (même nom), ou réexportez la couche depuis QGIS avec une "
                "projection.",
                path=path,
            ),
            path=path,
        )
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as err:
        raise InputFileError(
            msg(
                "{path} n'a pas pu être lu comme couche vectorielle ({err}). Donnez un GeoJSON, "
                "un GeoPackage ou un shapefile.",
                path=path,
                err=err,
            ),
            path=path,
        ) from err
    if gdf.crs is None:
        raise CRSError(
            msg(
                "{path} n'a pas de système de coordonnées. Réexportez-le avec une projection "
                "(Lambert-93, EPSG:2154, ou WGS84, EPSG:4326).",
                path=path,
            ),
            path=path,
        )
    if gdf.empty:
        raise EmptyDataError(msg("{path} ne contient aucun objet.", path=path), path=path)
    return gdf


def _union_polygons(gdf: gpd.GeoDataFrame, path: str | PathLike[str]) -> BaseGeometry:
    polys = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise ValidationError(
            msg(
                "{path} ne contient aucun polygone (trouvé : {set_gdf_geom_type}). Un "
                "territoire est un polygone : dessinez le contour du quartier.",
                path=path,
                set_gdf_geom_type=sorted(set(gdf.geom_type)),
            ),
            path=path,
        )
    geom = shapely.make_valid(shapely.union_all(polys.to_crs(WORK_CRS).geometry.to_numpy()))
    return geom


def territory_from_file(
    path: str | PathLike[str],
    *,
    name: str | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
    layer: str | None = None,
) -> Territory:
    """Read a neighbourhood polygon file; every polygon in it is merged into one territory.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or shapefile with one or more polygons, in any CRS.
    name
        A label; the file name by default.
    buffer_m
        The ring around the territory that still counts, in metres.
    layer
        The layer of a multi-layer file.
    """
    _check_buffer(buffer_m)
    gdf = read_vector(path, layer=layer)
    return Territory(
        name=name or Path(path).stem,
        geometry=_union_polygons(gdf, path),
        buffer_m=buffer_m,
        source="file",
    )


def _find_column(gdf: gpd.GeoDataFrame, candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in gdf.columns}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def territory_from_iris(
    codes: Sequence[str],
    iris_layer: str | PathLike[str],
    *,
    name: str | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> Territory:
    """Make a territory of the union of IRIS units.

    Parameters
    ----------
    codes
        9-digit IRIS codes (leading zeros may be missing).
    iris_layer
        An IRIS contours file (IGN CONTOURS-IRIS) with a code column (``CODE_IRIS`` or
        ``DCOMIRIS``).
    """
    from qet_geo.inputs.census import read_iris  # one reader of IRIS layers, with its code checks

    _check_buffer(buffer_m)
    if not codes:
        raise ValidationError(msg("Aucun code IRIS donné."))
    sel = read_iris(iris_layer, codes=list(codes))
    wanted = sorted(sel["iris_code"].tolist())
    return Territory(
        name=name or f"IRIS {', '.join(wanted)}",
        geometry=_union_polygons(sel, iris_layer),
        buffer_m=buffer_m,
        iris_codes=tuple(wanted),
        source="iris",
    )


def territory_from_commune(
    code: str,
    communes_layer: str | PathLike[str],
    *,
    name: str | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> Territory:
    """Make a territory of a commune, by its INSEE code (e.g. "56121" for Lorient).

    Parameters
    ----------
    code
        The commune's 5-character INSEE code ("2A004" in Corsica).
    communes_layer
        A communes file with a code column (``code``, ``INSEE_COM``...).
    """
    _check_buffer(buffer_m)
    gdf = read_vector(communes_layer)
    column = _find_column(gdf, _COMMUNE_CODE_COLUMNS)
    if column is None:
        raise ValidationError(
            msg(
                "{communes_layer} n'a pas de colonne de code commune (cherché : "
                "{commune_code_columns}).",
                communes_layer=communes_layer,
                commune_code_columns=", ".join(_COMMUNE_CODE_COLUMNS),
            ),
            path=communes_layer,
        )
    wanted = str(code).strip().upper().zfill(5)
    layer_codes = gdf[column].astype(str).str.strip().str.upper().str.zfill(5)
    sel = gdf[layer_codes == wanted]
    if sel.empty:
        raise UnknownCodeError(
            msg(
                "Code commune {wanted} absent de {communes_layer} ({n_gdf} communes, codes "
                "{layer_codes_min} à {layer_codes_max}). Vérifiez le code INSEE (ce n'est pas le "
                "code postal).",
                wanted=wanted,
                communes_layer=communes_layer,
                n_gdf=len(gdf),
                layer_codes_min=layer_codes.min(),
                layer_codes_max=layer_codes.max(),
            ),
            path=communes_layer,
        )
    name_col = _find_column(sel, _COMMUNE_NAME_COLUMNS)
    label = name or (str(sel[name_col].iloc[0]) if name_col else f"Commune {wanted}")
    return Territory(
        name=label,
        geometry=_union_polygons(sel, communes_layer),
        buffer_m=buffer_m,
        source="commune",
    )


def territory_from_options(
    *,
    territory: str | PathLike[str] | None = None,
    iris: Sequence[str] | str | None = None,
    iris_layer: str | PathLike[str] | None = None,
    commune: str | None = None,
    communes_layer: str | PathLike[str] | None = None,
    name: str | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> Territory | None:
    """Make a territory from whichever single definition is given; None when none is.

    The CLI options and the diagnostic configuration both come here: a polygon file, IRIS codes
    (a list, or one comma-separated string) with their contours, or a commune code with the
    communes layer. None means "the extract's own extent", decided by the caller.
    """
    codes = [c.strip() for c in iris.split(",") if c.strip()] if isinstance(iris, str) else iris
    given = [x for x in (territory, codes, commune) if x]
    if len(given) > 1:
        raise ValidationError(
            msg("Donnez une seule définition du territoire : --territory, --iris ou --commune.")
        )
    if codes:
        if iris_layer is None:
            raise ValidationError(
                msg(
                    "Les codes IRIS demandent la couche des contours IRIS : ajoutez --iris-layer "
                    "FICHIER (iris_layer)."
                )
            )
        return territory_from_iris(list(codes), iris_layer, name=name, buffer_m=buffer_m)
    if commune:
        if communes_layer is None:
            raise ValidationError(
                msg(
                    "Un code commune demande la couche des communes : ajoutez --communes-layer "
                    "FICHIER (communes_layer)."
                )
            )
        return territory_from_commune(commune, communes_layer, name=name, buffer_m=buffer_m)
    if territory is not None:
        return territory_from_file(territory, name=name, buffer_m=buffer_m)
    return None


def territory_from_bounds(
    bounds: tuple[float, float, float, float],
    *,
    name: str = "extract",
    buffer_m: float = 0.0,
) -> Territory:
    """Make a territory of a lon/lat box ``(left, bottom, right, top)``, e.g. an extract's bounds.

    The buffer defaults to 0: an extract's own bounds hold nothing beyond them.
    """
    _check_buffer(buffer_m)
    left, bottom, right, top = bounds
    if not (-180 <= left < right <= 180 and -90 <= bottom < top <= 90):
        raise ValidationError(
            msg(
                "Emprise lon/lat invalide {bounds} : attendu (ouest, sud, est, nord) en degrés.",
                bounds=bounds,
            )
        )
    # densify so that the box's edges (straight in lon/lat) stay right once projected, and pad a
    # metre so that features on the edge are inside
    box = shapely.segmentize(shapely.box(left, bottom, right, top), 0.0005)
    geom = gpd.GeoSeries([box], crs=WGS84).to_crs(WORK_CRS).iloc[0].buffer(1.0)
    return Territory(name=name, geometry=geom, buffer_m=buffer_m, source="bounds")


def _check_buffer(buffer_m: float) -> None:
    if not (0 <= buffer_m <= 20_000):
        raise ValidationError(
            msg(
                "Tampon de {buffer_m} m : donnez une valeur entre 0 et 20 000 m (1 000 m par "
                "défaut).",
                buffer_m=buffer_m,
            )
        )
