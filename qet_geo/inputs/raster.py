"""Raster layers: elevation, street gradients, terrain slope and land cover, read offline.

Every raster is read lazily and only over the area the geometries need (their bounding box plus a
few pixels), reprojected on the fly to Lambert-93 (EPSG:2154) when it is stored in another CRS, so
that a national DEM or a Europe-wide Corine Land Cover file is never read whole. Nodata pixels
become ``NaN``.

Typical use::

    dem = open_raster("rgealti_5m.tif")
    edges[["grade", "mean_abs_grade"]] = edge_slope(edges, dem)[["grade", "mean_abs_grade"]]
    cells["slope_pct"] = cell_slope(cells, dem)
    cells = cells.join(landcover_shares(cells, "clc2018.tif"))

Functions accept either a :class:`Raster` returned by :func:`open_raster` (needed to set a CRS on a
raster that lacks one) or a path.

Corine Land Cover (CLC) is distributed with two encodings: the 3-digit nomenclature codes
(111 "continuous urban fabric" ... 523 "sea and ocean") and the 1..44 positions of those codes in
the nomenclature (the EEA GeoTIFF, where 48 means nodata). :func:`landcover_shares` recognises both.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.io
import rasterio.transform
import rasterio.warp
import rasterio.windows
import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError as RioCRSError
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.warp import reproject, transform_bounds
from rasterio.warp import transform as warp_transform
from shapely.geometry import Polygon, box

from qet_geo._validate import existing_file, geometries, require_crs
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    CRSError,
    DataCoverageError,
    EmptyDataError,
    InputFileError,
    ValidationError,
)
from qet_geo.i18n import msg

__all__ = [
    "CLC_CODE_TO_LEVEL1",
    "CLC_INDEX_TO_CODE",
    "CLC_LEVEL1_NAMES",
    "Raster",
    "RasterWindow",
    "cell_slope",
    "edge_slope",
    "elevation_at",
    "landcover_shares",
    "open_raster",
]

logger = logging.getLogger(__name__)

_WORK_CRS = CRS.from_user_input(WORK_CRS)
_WGS84 = CRS.from_user_input(WGS84)

#: Largest window (in pixels) one read may return: 50 million float64 pixels is 400 MB.
MAX_READ_PIXELS = 50_000_000
#: Polygons whose bounding box spans more pixels than this are weighted by pixel centres (their
#: boundary error is negligible) instead of exact pixel/polygon overlap areas.
_EXACT_MAX_PIXELS = 4_096
#: Pixel boxes built per chunk when computing exact overlap areas (bounds memory).
_CHUNK_PIXELS = 1_000_000

# Generous lon/lat box around metropolitan France and Corsica (EPSG:2154's area of use is
# -9.86..10.38 E, 41.15..51.56 N).
_FRANCE_LONLAT = (-15.0, 35.0, 20.0, 60.0)

ResamplingName = Literal["nearest", "bilinear", "cubic"]

# Corine Land Cover nomenclature, level 3 codes grouped by level 1.
_CLC_CODES: dict[str, tuple[int, ...]] = {
    "artificial": (111, 112, 121, 122, 123, 124, 131, 132, 133, 141, 142),
    "agricultural": (211, 212, 213, 221, 222, 223, 231, 241, 242, 243, 244),
    "forest_seminatural": (311, 312, 313, 321, 322, 323, 324, 331, 332, 333, 334, 335),
    "wetlands": (411, 412, 421, 422, 423),
    "water": (511, 512, 521, 522, 523),
}
#: Names of the five CLC level-1 groups, in nomenclature order (the columns of
#: :func:`landcover_shares` with the built-in mapping).
CLC_LEVEL1_NAMES: tuple[str, ...] = tuple(_CLC_CODES)
#: CLC 3-digit code (111 ... 523) -> level-1 group name.
CLC_CODE_TO_LEVEL1: Mapping[int, str] = {
    code: name for name, codes in _CLC_CODES.items() for code in codes
}
#: CLC raster index (1 ... 44, EEA GeoTIFF encoding) -> 3-digit code.
CLC_INDEX_TO_CODE: Mapping[int, int] = {
    i + 1: code for i, code in enumerate(sorted(CLC_CODE_TO_LEVEL1))
}
# Values that mean "no data" in CLC products (48 in the 1..44 encoding, 999 in the 3-digit one).
_CLC_NODATA_INDEX = 48
_CLC_NODATA_CODE = 999


# --------------------------------------------------------------------------------------------------
# Raster handle and windows
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RasterWindow:
    """Values of one raster band over a rectangle, on a north-up grid in EPSG:2154.

    Attributes
    ----------
    data
        2-D float64 array (rows from north to south), ``NaN`` where the raster has no data.
    transform
        Affine transform from (col, row) to Lambert-93 metres of the pixel corners.
    """

    data: npt.NDArray[np.float64]
    transform: Affine

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y) in metres."""
        return (float(self.transform.a), float(-self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(left, bottom, right, top)`` in EPSG:2154 metres."""
        rows, cols = self.data.shape
        left, top = self.transform.c, self.transform.f
        return (left, top + rows * self.transform.e, left + cols * self.transform.a, top)


@dataclass(frozen=True)
class Raster:
    """A raster band on disk, described but not read; see :func:`open_raster`.

    Attributes
    ----------
    path
        The file.
    crs
        CRS of the stored pixels (the file's own, or the one passed to :func:`open_raster`).
    band
        Band read (1-based).
    transform, width, height
        Native grid of the file.
    nodata
        Declared nodata value of the file, if any.
    footprint
        Outline of the raster in EPSG:2154.
    res_m
        Pixel size, in metres, of the EPSG:2154 grid the raster is read on.
    """

    path: Path
    crs: CRS
    band: int
    transform: Affine
    width: int
    height: int
    nodata: float | None
    footprint: Polygon
    res_m: float

    @property
    def native_l93(self) -> bool:
        """Whether the file is stored north-up in EPSG:2154 (read without resampling)."""
        t = self.transform
        return bool(self.crs == _WORK_CRS and t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0)

    @property
    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Extent ``(west, south, east, north)`` in degrees, for messages to humans."""
        left, bottom, right, top = rasterio.transform.array_bounds(
            self.height, self.width, self.transform
        )
        w, s, e, n = transform_bounds(self.crs, _WGS84, left, bottom, right, top, densify_pts=21)
        return (w, s, e, n)

    def read(
        self,
        bbox: tuple[float, float, float, float],
        *,
        resampling: ResamplingName = "bilinear",
        margin_m: float = 0.0,
    ) -> RasterWindow:
        """Read the band over ``bbox`` (EPSG:2154), reprojecting on the fly if needed.

        Parameters
        ----------
        bbox
            ``(left, bottom, right, top)`` in EPSG:2154 metres.
        resampling
            "nearest" (required for categorical rasters), "bilinear" or "cubic"; ignored when the
            file is already a north-up EPSG:2154 grid (its pixels are returned as stored).
        margin_m
            Extra distance read around ``bbox`` (at least one pixel is always added).

        Returns
        -------
        RasterWindow
            Values as float64 with ``NaN`` for nodata, clipped to the raster's extent.

        Raises
        ------
        DataCoverageError
            If ``bbox`` does not overlap the raster.
        ValidationError
            If the window would exceed :data:`MAX_READ_PIXELS` pixels.
        """
        if not box(*bbox).intersects(self.footprint):
            raise _coverage_error(self, bbox)
        return _read_window(self, bbox, resampling=resampling, margin_m=margin_m)


def open_raster(
    path: str | os.PathLike[str],
    *,
    crs: str | int | CRS | ProjCRS | None = None,
    band: int = 1,
) -> Raster:
    """Open a raster lazily: check it and describe it, without reading its pixels.

    Parameters
    ----------
    path
        A GeoTIFF or any raster GDAL reads (VRT, JPEG2000 ...), in any CRS.
    crs
        CRS of the pixels, as EPSG code, "EPSG:xxxx" string, WKT, pyproj or rasterio CRS. Needed for
        a raster that has none; overrides (with a warning) the file's own CRS otherwise.
    band
        Band to read (1-based).

    Returns
    -------
    Raster
        Handle passed to :func:`elevation_at`, :func:`edge_slope`, :func:`cell_slope` or
        :func:`landcover_shares`.

    Raises
    ------
    InputFileError
        If the file does not exist or is not a raster GDAL can read.
    CRSError
        If the raster has no CRS and ``crs`` is not given, or ``crs`` is not a valid CRS.
    ValidationError
        If ``band`` is not a band of the file.
    """
    path = Path(path)
    existing_file(
        path,
        what=msg("Fichier raster"),
        hint=msg(
            "Vérifiez le chemin (relatif au répertoire courant {path_cwd}).", path_cwd=Path.cwd()
        ),
    )
    user_crs = None if crs is None else _parse_crs(crs, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                file_crs = src.crs
                count = src.count
                transform = src.transform
                width, height = src.width, src.height
                nodata = src.nodata
    except RasterioIOError as err:
        raise InputFileError(
            msg(
                "{path} n'est pas un raster lisible par GDAL ({err}). Fournissez un GeoTIFF (ou "
                "un autre format raster GDAL) ; vérifiez que le fichier est complet et n'est pas "
                "une couche vecteur ou un fichier texte.",
                path=path,
                err=err,
            ),
            path=path,
        ) from err
    if count == 0:
        raise InputFileError(
            msg(
                "{path} ne contient aucune bande raster (est-ce une couche vecteur ?). "
                "Fournissez un raster, par exemple un GeoTIFF.",
                path=path,
            ),
            path=path,
        )
    if not 1 <= band <= count:
        raise ValidationError(
            msg(
                "band={band} n'est pas une bande de {path}, qui en a {count}. Passez band= entre "
                "1 et {count}.",
                band=band,
                path=path,
                count=count,
            ),
            path=path,
        )
    if user_crs is None:
        if file_crs is None:
            raise CRSError(
                msg(
                    "Le raster {path} n'a pas de système de coordonnées. Passez crs= à open_raster "
                    "(par ex. open_raster(path, crs='EPSG:2154')) ou corrigez le fichier avec "
                    "`gdal_edit.py -a_srs EPSG:2154 {path}` (avec son vrai SCR).",
                    path=path,
                ),
                path=path,
            )
        src_crs = file_crs
    else:
        if file_crs is not None and file_crs != user_crs:
            warnings.warn(
                f"crs={user_crs.to_string()} overrides the CRS stored in {path} "
                f"({file_crs.to_string()}); drop crs= if the file's CRS is right.",
                stacklevel=2,
            )
        src_crs = user_crs
    footprint = _footprint_l93(src_crs, transform, width, height, path)
    if src_crs == _WORK_CRS:
        res_m = float(math.hypot(transform.a, transform.d))
    else:
        res_m = _local_res_m(src_crs, transform, footprint)
    return Raster(
        path=path,
        crs=src_crs,
        band=band,
        transform=transform,
        width=width,
        height=height,
        nodata=nodata,
        footprint=footprint,
        res_m=res_m,
    )


def _parse_crs(crs: str | int | CRS | ProjCRS, path: Path) -> CRS:
    try:
        if isinstance(crs, CRS):
            return crs
        if isinstance(crs, ProjCRS):
            return CRS.from_wkt(crs.to_wkt())
        return CRS.from_user_input(crs)
    except (RioCRSError, ValueError, TypeError) as err:
        raise CRSError(
            msg(
                "crs={crs!r} donné pour {path} n'est pas un SCR ({err}). Passez un code EPSG "
                "comme 'EPSG:2154'.",
                crs=crs,
                path=path,
                err=err,
            ),
            path=path,
        ) from err


def _footprint_l93(src_crs: CRS, transform: Affine, width: int, height: int, path: Path) -> Polygon:
    """Outline of the raster in EPSG:2154, its edges densified so that curved images of straight
    edges are followed. Only the part in and around metropolitan France is kept, so that a
    European or world raster still has a usable Lambert-93 footprint."""
    t = transform
    if src_crs == _WORK_CRS:
        cols, rows = np.array([0, width, width, 0]), np.array([0, 0, height, height])
        return Polygon(
            zip(t.c + cols * t.a + rows * t.b, t.f + cols * t.d + rows * t.e, strict=True)
        )
    u = np.linspace(0.0, 1.0, 65)
    cols = np.concatenate([u * width, np.full_like(u, width), (1 - u) * width, np.zeros_like(u)])
    rows = np.concatenate([np.zeros_like(u), u * height, np.full_like(u, height), (1 - u) * height])
    xs, ys = t.c + cols * t.a + rows * t.b, t.f + cols * t.d + rows * t.e
    try:
        lon, lat = warp_transform(src_crs, _WGS84, xs.tolist(), ys.tolist())
        outline = shapely.make_valid(Polygon(zip(lon, lat, strict=True)))
        near_france = outline.intersection(box(*_FRANCE_LONLAT))
        l93 = shapely.transform(near_france, _lonlat_to_l93)
    except Exception as err:  # GDAL and GEOS raise several types on impossible transformations
        raise CRSError(
            msg(
                "Le raster {path} (SCR {src_crs_to_string}) ne peut pas être reprojeté en "
                "EPSG:2154 ({err}). Vérifiez son SCR (`gdal_edit.py -a_srs ...`).",
                path=path,
                src_crs_to_string=src_crs.to_string(),
                err=err,
            ),
            path=path,
        ) from err
    polys = [g for g in getattr(l93, "geoms", [l93]) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        extent = _fmt_lonlat(outline.bounds)
        raise DataCoverageError(
            msg(
                "Le raster {path} couvre {extent}, hors de la France métropolitaine (où "
                "s'applique Lambert-93). Fournissez un raster du territoire étudié, ou vérifiez "
                "son SCR.",
                path=path,
                extent=extent,
            ),
            path=path,
        )
    return max(polys, key=lambda g: g.area)


def _local_res_m(src_crs: CRS, transform: Affine, footprint: Polygon) -> float:
    """Side, in metres, of the square with the area of one source pixel at the footprint's
    centre once in Lambert-93: the pixel size the raster is warped to."""
    t = transform
    cx, cy = shapely.get_coordinates(footprint.point_on_surface())[0]
    (sx,), (sy,) = warp_transform(_WORK_CRS, src_crs, [cx], [cy])
    det = t.a * t.e - t.b * t.d
    col = (t.e * (sx - t.c) - t.b * (sy - t.f)) / det
    row = (-t.d * (sx - t.c) + t.a * (sy - t.f)) / det
    cols = [col, col + 1, col]
    rows = [row, row, row + 1]
    xs = [t.c + c * t.a + r * t.b for c, r in zip(cols, rows, strict=True)]
    ys = [t.f + c * t.d + r * t.e for c, r in zip(cols, rows, strict=True)]
    x, y = warp_transform(src_crs, _WORK_CRS, xs, ys)
    area = abs((x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]))
    return math.sqrt(area)


def _lonlat_to_l93(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x, y = warp_transform(_WGS84, _WORK_CRS, coords[:, 0].tolist(), coords[:, 1].tolist())
    return np.column_stack([x, y])


def _as_raster(raster: Raster | str | os.PathLike[str]) -> Raster:
    if isinstance(raster, Raster):
        return raster
    if isinstance(raster, str | os.PathLike):
        return open_raster(raster)
    raise ValidationError(
        msg(
            "Attendu un chemin de raster ou un Raster renvoyé par open_raster, reçu {type_name}.",
            type_name=type(raster).__name__,
        )
    )


def _fmt_lonlat(b: tuple[float, float, float, float]) -> str:
    return f"lon {b[0]:.4f}..{b[2]:.4f}, lat {b[1]:.4f}..{b[3]:.4f}"


def _coverage_error(raster: Raster, bbox: tuple[float, float, float, float]) -> DataCoverageError:
    asked = _fmt_lonlat(transform_bounds(_WORK_CRS, _WGS84, *bbox, densify_pts=21))
    covers = _fmt_lonlat(raster.bounds_lonlat)
    return DataCoverageError(
        msg(
            "Le raster {path} ne couvre pas les géométries : il couvre {covers} mais elles "
            "s'étendent sur {asked}. Fournissez un raster de cette zone (ou vérifiez le SCR "
            "des géométries).",
            path=raster.path,
            covers=covers,
            asked=asked,
        ),
        path=raster.path,
    )


def _check_size(raster: Raster, rows: int, cols: int, res: float) -> None:
    if rows * cols > MAX_READ_PIXELS:
        raise ValidationError(
            msg(
                "Lire {path} sur ces géométries demande {rows} x {cols} pixels à {res:g} m (plus "
                "de {MAX_READ_PIXELS}) ; elles s'étendent sur {cols_res_1000:.0f} km x "
                "{rows_res_1000:.0f} km. Traitez-les territoire par territoire.",
                path=raster.path,
                rows=rows,
                cols=cols,
                res=res,
                MAX_READ_PIXELS=MAX_READ_PIXELS,
                cols_res_1000=cols * res / 1000,
                rows_res_1000=rows * res / 1000,
            ),
            path=raster.path,
        )


def _read_window(
    raster: Raster,
    bbox: tuple[float, float, float, float],
    *,
    resampling: ResamplingName,
    margin_m: float,
) -> RasterWindow:
    left, bottom, right, top = bbox
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(raster.path) as src:
            if raster.native_l93:
                return _read_native(raster, src, bbox, margin_m)
            res = raster.res_m
            margin = margin_m + 2 * res
            # Snap the target grid to multiples of the pixel size (gdalwarp -tap), so that two
            # reads of the same raster share pixels.
            x0 = math.floor((left - margin) / res) * res
            x1 = math.ceil((right + margin) / res) * res
            y0 = math.floor((bottom - margin) / res) * res
            y1 = math.ceil((top + margin) / res) * res
            # Clip to the footprint's bounding box, so a small raster is not padded with NaN.
            fl, fb, fr, ft = raster.footprint.bounds
            x0 = max(x0, math.floor(fl / res) * res)
            x1 = min(x1, math.ceil(fr / res) * res)
            y0 = max(y0, math.floor(fb / res) * res)
            y1 = min(y1, math.ceil(ft / res) * res)
            cols, rows = max(round((x1 - x0) / res), 0), max(round((y1 - y0) / res), 0)
            _check_size(raster, rows, cols, res)
            dst_transform = Affine(res, 0.0, x0, 0.0, -res, y1)
            dst = np.full((rows, cols), np.nan, dtype=np.float64)
            # Read only the source pixels under the target rectangle (plus a safety border).
            sb = transform_bounds(_WORK_CRS, raster.crs, x0, y0, x1, y1, densify_pts=21)
            win = _window_from_bounds(raster.transform, sb, pad=2)
            full = rasterio.windows.Window(0, 0, raster.width, raster.height)
            try:
                win = win.intersection(full)
            except rasterio.errors.WindowError:
                return RasterWindow(dst, dst_transform)
            src_data = _masked_to_nan(src.read(raster.band, window=win, masked=True))
            logger.debug(
                "read %s window %s, warped to %d x %d at %g m", raster.path, win, cols, rows, res
            )
            reproject(
                source=src_data,
                destination=dst,
                src_transform=_window_transform(raster.transform, win),
                src_crs=raster.crs,
                src_nodata=np.nan,
                dst_transform=dst_transform,
                dst_crs=_WORK_CRS,
                dst_nodata=np.nan,
                resampling=Resampling[resampling],
            )
            return RasterWindow(dst, dst_transform)


def _read_native(
    raster: Raster,
    src: rasterio.io.DatasetReader,
    bbox: tuple[float, float, float, float],
    margin_m: float,
) -> RasterWindow:
    res = max(abs(raster.transform.a), abs(raster.transform.e))
    margin = margin_m + res
    left, bottom, right, top = bbox
    win = _window_from_bounds(
        raster.transform, (left - margin, bottom - margin, right + margin, top + margin), pad=0
    )
    full = rasterio.windows.Window(0, 0, raster.width, raster.height)
    try:
        win = win.intersection(full)
    except rasterio.errors.WindowError:  # bbox only touches the raster's edge
        return RasterWindow(np.full((0, 0), np.nan), raster.transform)
    _check_size(raster, int(win.height), int(win.width), res)
    logger.debug("read %s window %s", raster.path, win)
    data = _masked_to_nan(src.read(raster.band, window=win, masked=True))
    return RasterWindow(data, _window_transform(raster.transform, win))


def _window_from_bounds(
    transform: Affine, bounds: tuple[float, float, float, float], *, pad: int
) -> rasterio.windows.Window:
    """Smallest whole-pixel window holding ``bounds``, grown by ``pad`` pixels on each side.

    Written out (not ``rasterio.windows.from_bounds``) to round outwards exactly and to avoid the
    ``Affine * tuple`` form that affine 3 deprecates.
    """
    t = transform
    left, bottom, right, top = bounds
    xs = np.array([left, right, right, left]) - t.c
    ys = np.array([bottom, bottom, top, top]) - t.f
    det = t.a * t.e - t.b * t.d
    cols = (t.e * xs - t.b * ys) / det
    rows = (-t.d * xs + t.a * ys) / det
    col0 = math.floor(cols.min() + 1e-9) - pad
    row0 = math.floor(rows.min() + 1e-9) - pad
    col1 = math.ceil(cols.max() - 1e-9) + pad
    row1 = math.ceil(rows.max() - 1e-9) + pad
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


def _window_transform(transform: Affine, win: rasterio.windows.Window) -> Affine:
    t = transform
    col, row = win.col_off, win.row_off
    return Affine(t.a, t.b, t.c + col * t.a + row * t.b, t.d, t.e, t.f + col * t.d + row * t.e)


def _masked_to_nan(arr: np.ma.MaskedArray[Any, Any]) -> npt.NDArray[np.float64]:
    out = np.ma.filled(arr.astype(np.float64), np.nan)
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Input guards
# --------------------------------------------------------------------------------------------------


def _geoms_l93(
    data: gpd.GeoDataFrame | gpd.GeoSeries, what: str, allowed: tuple[str, ...]
) -> npt.NDArray[np.object_]:
    """Return the geometries in EPSG:2154 as a numpy array, None for missing or empty ones."""
    geo = geometries(data, what=what)
    if len(geo) == 0:
        raise EmptyDataError(msg("{what} est vide : fournissez au moins une géométrie.", what=what))
    if not ProjCRS.from_user_input(require_crs(geo, what=what)).equals(
        ProjCRS.from_user_input(WORK_CRS)
    ):
        geo = geo.to_crs(WORK_CRS)
    geoms = np.asarray(geo.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = set(shapely.get_type_id(geoms[~missing]).tolist())
    names = {
        0: "Point",
        1: "LineString",
        2: "LinearRing",
        3: "Polygon",
        4: "MultiPoint",
        5: "MultiLineString",
        6: "MultiPolygon",
        7: "GeometryCollection",
    }
    bad = sorted(names[t] for t in types if names[t] not in allowed)
    if bad:
        raise ValidationError(
            msg(
                "{what} contient des géométries {bad} ; attendu {allowed}.",
                what=what,
                bad=", ".join(bad),
                allowed=" ou ".join(allowed),
                or_join_allowed=" or ".join(allowed),
            )
        )
    out = geoms.copy()
    out[missing] = None
    return out


def _check_coverage(raster: Raster, geoms: npt.NDArray[np.object_], what: str) -> None:
    present = geoms[shapely.is_geometry(geoms)]
    if present.size == 0:
        raise EmptyDataError(
            msg("{what} ne contient que des géométries manquantes ou vides.", what=what)
        )
    hits = shapely.intersects(raster.footprint, present)
    if not hits.any():
        raise _coverage_error(raster, _bbox(present))
    n_out = int((~hits).sum())
    n_part = int((hits & ~shapely.covers(raster.footprint, present)).sum())
    if n_out or n_part:
        warnings.warn(
            f"{n_out} of {present.size} {what} lie outside raster {raster.path} and {n_part} "
            f"partly outside (it covers {_fmt_lonlat(raster.bounds_lonlat)}); values that need "
            "the missing part are NaN (polygons use their covered part). Use a raster covering "
            "the whole area.",
            stacklevel=3,
        )


def _covered(raster: Raster, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Whether each geometry lies wholly on the raster (False for missing ones)."""
    out = np.zeros(len(geoms), dtype=bool)
    present = shapely.is_geometry(geoms)
    out[present] = shapely.covers(raster.footprint, geoms[present])
    return out


def _warn_nan(raster: Raster, n_nan: int, n: int, what: str) -> None:
    if n_nan:
        warnings.warn(
            f"{n_nan} of {n} {what} lying on raster {raster.path} have no value because they "
            f"fall on its nodata pixels (or on its outermost pixels, for slopes); their result "
            "is NaN. Fill the raster's gaps (e.g. gdal_fillnodata.py) or use another source.",
            stacklevel=4,
        )


def _bbox(geoms: npt.NDArray[np.object_]) -> tuple[float, float, float, float]:
    b = shapely.total_bounds(geoms[shapely.is_geometry(geoms)])
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


# --------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------


def _bilinear(
    win: RasterWindow, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Bilinear interpolation between pixel centres; nodata neighbours are left out (weights
    renormalised, as GDAL does); NaN outside the window or where all four neighbours are nodata.
    """
    data = win.data
    rows, cols = data.shape
    if data.size == 0:
        return np.full(x.shape, np.nan)
    t = win.transform
    c = (x - t.c) / t.a - 0.5
    r = (y - t.f) / t.e - 0.5
    inside = (c >= -0.5) & (c <= cols - 0.5) & (r >= -0.5) & (r <= rows - 0.5)
    c = np.where(inside, c, 0.0)
    r = np.where(inside, r, 0.0)
    c0f, r0f = np.floor(c), np.floor(r)
    fc, fr = c - c0f, r - r0f
    c0 = np.clip(c0f.astype(np.intp), 0, cols - 1)
    c1 = np.clip(c0f.astype(np.intp) + 1, 0, cols - 1)
    r0 = np.clip(r0f.astype(np.intp), 0, rows - 1)
    r1 = np.clip(r0f.astype(np.intp) + 1, 0, rows - 1)
    num = np.zeros_like(c)
    den = np.zeros_like(c)
    for rr, cc, w in (
        (r0, c0, (1 - fr) * (1 - fc)),
        (r0, c1, (1 - fr) * fc),
        (r1, c0, fr * (1 - fc)),
        (r1, c1, fr * fc),
    ):
        v = data[rr, cc]
        ok = np.isfinite(v) & (w > 0)
        num += np.where(ok, w * np.where(ok, v, 0.0), 0.0)
        den += np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~inside | (den <= 1e-12)] = np.nan
    return out


def elevation_at(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    dem: Raster | str | os.PathLike[str],
) -> pd.Series:
    """Sample a DEM at points by bilinear interpolation.

    Parameters
    ----------
    points
        Point geometries in any CRS (reprojected to EPSG:2154); missing or empty ones give NaN.
    dem
        Digital elevation model, a :class:`Raster` or a path (opened with :func:`open_raster`); values in metres.

    Returns
    -------
    pandas.Series
        ``elevation_m`` aligned to ``points.index``, float, NaN outside the raster or on nodata.

    Raises
    ------
    CRSError
        If ``points`` or the raster has no CRS.
    DataCoverageError
        If no point lies on the raster.
    ValidationError
        If the geometries span more than ``MAX_READ_PIXELS`` raster pixels (split the area).
    """
    raster = _as_raster(dem)
    geoms = _geoms_l93(points, "points", ("Point",))
    _check_coverage(raster, geoms, "points")
    return _elevation_at(points.index, geoms, raster)


def _elevation_at(index: pd.Index, geoms: npt.NDArray[np.object_], raster: Raster) -> pd.Series:
    out = np.full(len(geoms), np.nan)
    present = shapely.is_geometry(geoms)
    win = raster.read(_bbox(geoms), resampling="bilinear")
    xy = shapely.get_coordinates(geoms[present])
    z = _bilinear(win, xy[:, 0], xy[:, 1])
    out[present] = z
    on_raster = _covered(raster, geoms)[present]
    _warn_nan(raster, int((np.isnan(z) & on_raster).sum()), int(present.sum()), "points")
    return pd.Series(out, index=index, name="elevation_m", dtype="float64")


def edge_slope(
    edges: gpd.GeoDataFrame | gpd.GeoSeries,
    dem: Raster | str | os.PathLike[str],
    *,
    step_m: float = 10.0,
) -> pd.DataFrame:
    """Compute the gradient of street edges from a DEM.

    Each edge is sampled at its two ends and at evenly spaced points at most ``step_m`` apart
    along its geometry; elevations are interpolated bilinearly. Gradients are rise over run, run
    being the planimetric (2-D) length in EPSG:2154.

    Parameters
    ----------
    edges
        LineString or MultiLineString geometries (street network edges) in any CRS; their
        direction (first to last vertex) gives the sign of ``grade``.
    dem
        Digital elevation model, a :class:`Raster` or a path (opened with :func:`open_raster`); values in metres.
    step_m
        Largest distance between samples, in metres (> 0). Samples finer than the DEM pixel add
        nothing: a 100 m DEM cannot show a 20 m ramp, so ``max_abs_grade`` is a lower bound of
        the real steepest stretch.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``edges.index``, float columns:

        - ``elev_start_m``, ``elev_end_m``: elevation at the first and last point;
        - ``grade``: (end - start) / length, signed, positive uphill along the geometry;
        - ``mean_abs_grade``: length-weighted mean of the absolute grade of the sample intervals,
          so a street going up then down is not flat; always >= ``abs(grade)``;
        - ``max_abs_grade``: steepest sample interval.

        Missing or zero-length geometries give NaN; ``mean_abs_grade`` and ``max_abs_grade`` are
        NaN when a sample falls on nodata.

    Raises
    ------
    ValidationError
        If ``step_m`` is not a positive number, geometries are not lines, or they span more than
        ``MAX_READ_PIXELS`` raster pixels (split the area).
    CRSError
        If ``edges`` or the raster has no CRS.
    DataCoverageError
        If no edge touches the raster.
    """
    if (
        isinstance(step_m, bool)
        or not isinstance(step_m, int | float)
        or not math.isfinite(step_m)
        or step_m <= 0
    ):
        raise ValidationError(
            msg("step_m doit être un nombre de mètres positif, reçu {step_m!r}.", step_m=step_m)
        )
    raster = _as_raster(dem)
    geoms = _geoms_l93(edges, "edges", ("LineString", "MultiLineString"))
    _check_coverage(raster, geoms, "edges")
    return _edge_slope(edges.index, geoms, raster, float(step_m))


def _edge_slope(
    index: pd.Index, geoms: npt.NDArray[np.object_], raster: Raster, step_m: float
) -> pd.DataFrame:
    cols = ["elev_start_m", "elev_end_m", "grade", "mean_abs_grade", "max_abs_grade"]
    out = np.full((len(geoms), len(cols)), np.nan)
    present = np.flatnonzero(shapely.is_geometry(geoms))
    lines = geoms[present]
    length = shapely.length(lines)
    n_seg = np.maximum(np.ceil(length / step_m), 1).astype(np.intp)
    n_pts = n_seg + 1
    first = np.cumsum(n_pts) - n_pts
    owner = np.repeat(np.arange(len(lines)), n_pts)
    k = np.arange(int(n_pts.sum())) - first[owner]
    seg_len = length / n_seg
    pts = shapely.line_interpolate_point(lines[owner], k * seg_len[owner])
    xy = shapely.get_coordinates(pts)
    win = raster.read(_bbox(lines), resampling="bilinear")
    z = _bilinear(win, xy[:, 0], xy[:, 1])

    # Intervals: consecutive samples of the same edge, grouped by edge in order.
    same = owner[:-1] == owner[1:]
    dz_abs = np.abs(np.diff(z))[same]
    seg_first = first - np.arange(len(lines))  # each edge has one interval fewer than samples
    sum_abs = np.add.reduceat(dz_abs, seg_first)  # NaN propagates: any nodata sample -> NaN
    max_abs = np.maximum.reduceat(dz_abs, seg_first)
    z_start = z[first]
    z_end = z[first + n_seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = length > 0
        grade = np.where(pos, (z_end - z_start) / length, np.nan)
        mean_abs = np.where(pos, sum_abs / length, np.nan)
        max_grade = np.where(pos, max_abs / seg_len, np.nan)
    # Guard against rounding making mean_abs a hair below |grade| on straight ramps.
    mean_abs = np.where(np.isfinite(mean_abs), np.maximum(mean_abs, np.abs(grade)), mean_abs)
    max_grade = np.where(np.isfinite(max_grade), np.maximum(max_grade, mean_abs), max_grade)
    out[present] = np.column_stack([z_start, z_end, grade, mean_abs, max_grade])
    on_raster = _covered(raster, lines)
    _warn_nan(raster, int((~np.isfinite(sum_abs) & on_raster).sum()), len(lines), "edges")
    return pd.DataFrame(out, index=index, columns=cols, dtype="float64")


# --------------------------------------------------------------------------------------------------
# Zonal statistics on polygons
# --------------------------------------------------------------------------------------------------


def _pixel_weights(
    geoms: npt.NDArray[np.object_], transform: Affine, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Return (polygon position, flat pixel index, weight) triples for a north-up grid.

    The weight is the share of the pixel's area inside the polygon, computed exactly (as
    exactextract does) for axis-aligned rectangles such as INSEE squares (pure arithmetic) and
    for other polygons spanning up to ``_EXACT_MAX_PIXELS`` pixels (pixel boxes clipped by the
    polygon); larger polygons count the pixels whose centre is inside (weight 1), their boundary
    error being negligible. Overlapping polygons are handled (each one gets its own pixels).
    """
    nrows, ncols = shape
    x0, dx, y0, dy = transform.c, transform.a, transform.f, -transform.e
    present = shapely.is_geometry(geoms)
    b = np.where(present[:, None], shapely.bounds(geoms), 0.0)
    c0 = np.clip(np.floor((b[:, 0] - x0) / dx), 0, ncols).astype(np.intp)
    c1 = np.clip(np.ceil((b[:, 2] - x0) / dx), 0, ncols).astype(np.intp)
    r0 = np.clip(np.floor((y0 - b[:, 3]) / dy), 0, nrows).astype(np.intp)
    r1 = np.clip(np.ceil((y0 - b[:, 1]) / dy), 0, nrows).astype(np.intp)
    nc = np.where(present, np.maximum(c1 - c0, 0), 0)
    nr = np.where(present, np.maximum(r1 - r0, 0), 0)
    counts = nc * nr
    env_area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    area = np.zeros(len(geoms))
    area[present] = shapely.area(geoms[present])
    # A polygon inside its envelope with the same area is that envelope.
    rect = (counts > 0) & (np.abs(env_area - area) <= 1e-9 * np.maximum(env_area, 1.0))
    small = (counts > 0) & ~rect & (counts <= _EXACT_MAX_PIXELS)
    large = (counts > 0) & ~rect & (counts > _EXACT_MAX_PIXELS)
    parts_g: list[npt.NDArray[np.intp]] = []
    parts_p: list[npt.NDArray[np.intp]] = []
    parts_w: list[npt.NDArray[np.float64]] = []

    def keep(
        g: npt.NDArray[np.intp],
        row: npt.NDArray[np.intp],
        col: npt.NDArray[np.intp],
        w: npt.NDArray[np.float64],
    ) -> None:
        k = w > 0
        parts_g.append(g[k])
        parts_p.append(row[k] * ncols + col[k])
        parts_w.append(w[k])

    for g, row, col in _expand(np.flatnonzero(rect), counts, c0, r0, nc):
        px0 = x0 + col * dx
        py1 = y0 - row * dy
        ox = np.minimum(b[g, 2], px0 + dx) - np.maximum(b[g, 0], px0)
        oy = np.minimum(b[g, 3], py1) - np.maximum(b[g, 1], py1 - dy)
        keep(g, row, col, np.clip(ox, 0, None) * np.clip(oy, 0, None) / (dx * dy))

    idx = np.flatnonzero(small)
    was_prepared = shapely.is_prepared(geoms[idx])
    shapely.prepare(geoms[idx])
    try:
        for g, row, col in _expand(idx, counts, c0, r0, nc):
            boxes = shapely.box(
                x0 + col * dx, y0 - (row + 1) * dy, x0 + (col + 1) * dx, y0 - row * dy
            )
            polys = geoms[g]
            w = shapely.contains(polys, boxes).astype(np.float64)
            edge = (w == 0) & shapely.intersects(polys, boxes)
            w[edge] = shapely.area(shapely.intersection(polys[edge], boxes[edge])) / (dx * dy)
            keep(g, row, col, w)
    finally:
        shapely.destroy_prepared(geoms[idx][~was_prepared])

    for i in np.flatnonzero(large):
        win = rasterio.windows.Window(c0[i], r0[i], nc[i], nr[i])
        inside = rasterio.features.geometry_mask(
            [geoms[i]],
            out_shape=(int(nr[i]), int(nc[i])),
            transform=_window_transform(transform, win),
            invert=True,
        )
        rr, cc = np.nonzero(inside)
        keep(np.full(rr.size, i, dtype=np.intp), rr + r0[i], cc + c0[i], np.ones(rr.size))

    if not parts_g:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty.copy(), np.zeros(0)
    return np.concatenate(parts_g), np.concatenate(parts_p), np.concatenate(parts_w)


def _expand(
    idx: npt.NDArray[np.intp],
    counts: npt.NDArray[np.intp],
    c0: npt.NDArray[np.intp],
    r0: npt.NDArray[np.intp],
    nc: npt.NDArray[np.intp],
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    """Yield (polygon, row, col) of every pixel of the polygons' bounding-box windows, in chunks
    of about ``_CHUNK_PIXELS`` pixels to bound memory."""
    csum = np.cumsum(counts[idx])
    start = 0
    while start < len(idx):
        base = csum[start - 1] if start else 0
        stop = max(int(np.searchsorted(csum, base + _CHUNK_PIXELS, side="right")), start + 1)
        chunk = idx[start:stop]
        start = stop
        cnt = counts[chunk]
        g = np.repeat(chunk, cnt)
        k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        yield g, r0[g] + k // nc[g], c0[g] + k % nc[g]


def _polygons(cells: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> npt.NDArray[np.object_]:
    geoms = _geoms_l93(cells, what, ("Polygon", "MultiPolygon"))
    present = shapely.is_geometry(geoms)
    invalid = present.copy()
    invalid[present] = ~shapely.is_valid(geoms[present])
    if invalid.any():
        warnings.warn(
            f"{int(invalid.sum())} {what} polygons are invalid (self-intersecting ...) and were "
            "repaired with shapely.make_valid for the computation; fix them in the source layer.",
            stacklevel=3,
        )
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return geoms


def _horn_slope_pct(win: RasterWindow) -> npt.NDArray[np.float64]:
    """Slope in percent (100 * rise / run) by Horn's (1981) 3x3 method, as ``gdaldem slope``.

    Pixels on the window border or next to nodata get NaN.
    """
    z = win.data
    out = np.full(z.shape, np.nan)
    if z.shape[0] < 3 or z.shape[1] < 3:
        return out
    dx, dy = win.res
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
    out[1:-1, 1:-1] = 100.0 * np.hypot(dzdx, dzdy)
    return out


def cell_slope(
    cells: gpd.GeoDataFrame | gpd.GeoSeries,
    dem: Raster | str | os.PathLike[str],
) -> pd.Series:
    """Compute the mean terrain slope, in percent, of each polygon.

    The slope grid is computed on the DEM read in EPSG:2154 by Horn's method (the 3x3 weighted
    finite differences of ``gdaldem slope``), in percent (100 * rise / run; 100 % is 45°). Its
    mean over each polygon is weighted by the area of each pixel inside the polygon, so 200 m
    INSEE squares (carreaux) on a 100 m DEM misaligned with the INSEE grid are handled exactly.

    Parameters
    ----------
    cells
        Polygon or MultiPolygon geometries in any CRS (200 m squares, IRIS, buffers ...); they
        may overlap.
    dem
        Digital elevation model, a :class:`Raster` or a path (opened with :func:`open_raster`); values in metres.

    Returns
    -------
    pandas.Series
        ``slope_pct`` aligned to ``cells.index``; NaN for missing geometries or polygons with no
        valid slope pixel (outside the raster, on nodata, or on its outermost pixels).

    Raises
    ------
    CRSError
        If ``cells`` or the raster has no CRS.
    DataCoverageError
        If no polygon touches the raster.
    ValidationError
        If the geometries span more than ``MAX_READ_PIXELS`` raster pixels (split the area).
    """
    raster = _as_raster(dem)
    geoms = _polygons(cells, "cells")
    _check_coverage(raster, geoms, "cells")
    return _cell_slope(cells.index, geoms, raster)


def _cell_slope(index: pd.Index, geoms: npt.NDArray[np.object_], raster: Raster) -> pd.Series:
    win = raster.read(_bbox(geoms), resampling="bilinear", margin_m=2 * raster.res_m)
    slope = _horn_slope_pct(win).ravel()
    g, pix, w = _pixel_weights(geoms, win.transform, win.data.shape)
    v = slope[pix]
    ok = np.isfinite(v)
    n = len(geoms)
    num = np.bincount(g[ok], weights=w[ok] * v[ok], minlength=n)
    den = np.bincount(g[ok], weights=w[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    present = shapely.is_geometry(geoms)
    on_raster = _covered(raster, geoms)
    _warn_nan(raster, int((np.isnan(out) & on_raster).sum()), int(present.sum()), "cells")
    return pd.Series(out, index=index, name="slope_pct", dtype="float64")


def _default_classes(values: npt.NDArray[np.float64], raster: Raster) -> dict[int, str | None]:
    """Mapping for a Corine Land Cover raster, detecting its encoding from the values read."""
    if values.size == 0 or values.max() >= 100:
        if values.size and values.min() < 100:
            raise ValidationError(
                msg(
                    "{path} mélange des valeurs inférieures et supérieures à 100 (ex. {values_min:g} "
                    "et {values_max:g}) : ce n'est pas un raster Corine Land Cover. Passez classes= "
                    "associant ses valeurs à des noms.",
                    path=raster.path,
                    values_min=values.min(),
                    values_max=values.max(),
                ),
                path=raster.path,
            )
        mapping: dict[int, str | None] = dict(CLC_CODE_TO_LEVEL1)
        mapping[_CLC_NODATA_CODE] = None
    else:
        mapping = {i: CLC_CODE_TO_LEVEL1[c] for i, c in CLC_INDEX_TO_CODE.items()}
        mapping[_CLC_NODATA_INDEX] = None
    return mapping


def landcover_shares(
    cells: gpd.GeoDataFrame | gpd.GeoSeries,
    landcover: Raster | str | os.PathLike[str],
    *,
    classes: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Compute the share of each land-cover class in each polygon.

    The categorical raster is read in EPSG:2154 with nearest-neighbour resampling when it must be
    reprojected (never bilinear, which would invent classes), and each pixel counts for the area
    of it inside the polygon.

    Parameters
    ----------
    cells
        Polygon or MultiPolygon geometries in any CRS; they may overlap.
    landcover
        Categorical raster (integer class values), a :class:`Raster` or a path.
    classes
        Raster value -> class name; several values may share a name (they are summed). Default:
        Corine Land Cover level-1 groups ``artificial``, ``agricultural``,
        ``forest_seminatural``, ``wetlands``, ``water``, from either the 3-digit CLC codes
        (111 ... 523) or the 1..44 EEA raster indices, detected from the values (CLC nodata
        999 / 48 is treated as nodata).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``cells.index``, one float column per class name (in the order of
        ``classes``): share 0-1 of the polygon's area with valid (non-nodata) pixels. Rows sum to
        1 unless some values are not in ``classes`` (a warning lists them); NaN for polygons
        with no valid pixel.

    Raises
    ------
    ValidationError
        If ``classes`` is malformed, the raster holds non-integer values, or the polygons span
        more than ``MAX_READ_PIXELS`` raster pixels (split the area).
    CRSError
        If ``cells`` or the raster has no CRS.
    DataCoverageError
        If no polygon touches the raster.
    """
    if classes is not None:
        if not isinstance(classes, Mapping) or not classes:
            raise ValidationError(
                msg(
                    "classes doit être un dictionnaire non vide valeur raster -> nom de classe, par "
                    "ex. {{1: 'bâti', 2: 'vert'}}."
                )
            )
        bad = [
            (k, v)
            for k, v in classes.items()
            if isinstance(k, bool)
            or not isinstance(k, int | np.integer)
            or not isinstance(v, str)
            or not v
        ]
        if bad:
            raise ValidationError(
                msg(
                    "classes doit associer des valeurs raster entières à des noms non vides ; "
                    "entrées invalides : {bad_5}.",
                    bad_5=bad[:5],
                )
            )
    raster = _as_raster(landcover)
    geoms = _polygons(cells, "cells")
    _check_coverage(raster, geoms, "cells")
    return _landcover_shares(cells.index, geoms, raster, classes)


def _column_of(code: int, mapping: Mapping[int, str | None], name_pos: Mapping[str, int]) -> int:
    if code not in mapping:
        return -1
    name = mapping[code]
    return -2 if name is None else name_pos[name]


def _landcover_shares(
    index: pd.Index,
    geoms: npt.NDArray[np.object_],
    raster: Raster,
    classes: Mapping[int, str] | None,
) -> pd.DataFrame:
    win = raster.read(_bbox(geoms), resampling="nearest")
    data = win.data.ravel()
    g, pix, w = _pixel_weights(geoms, win.transform, win.data.shape)
    v = data[pix]
    ok = np.isfinite(v)
    g, v, w = g[ok], v[ok], w[ok]
    values = np.unique(v)
    fractional = values[values != np.round(values)]
    if fractional.size:
        raise ValidationError(
            msg(
                "{path} contient des valeurs non entières : ce n'est pas un raster d'occupation "
                "du sol catégoriel. Fournissez un raster de codes de classes entiers.",
                path=raster.path,
                fractional_0=fractional[0],
            ),
            path=raster.path,
        )
    mapping: Mapping[int, str | None] = (
        _default_classes(values, raster) if classes is None else dict(classes)
    )
    names = list(dict.fromkeys(n for n in mapping.values() if n is not None))
    if classes is None:
        names = list(CLC_LEVEL1_NAMES)
    name_pos = {name: j for j, name in enumerate(names)}
    # Column of each distinct value: j >= 0 a class, -1 unmapped, -2 nodata (CLC 999 / 48).
    codes = np.round(values).astype(np.int64)
    col_of = np.array([_column_of(c, mapping, name_pos) for c in codes.tolist()], dtype=np.intp)
    col = col_of[np.searchsorted(values, v)] if v.size else np.zeros(0, dtype=np.intp)
    unmapped = codes[col_of == -1]
    if unmapped.size:
        warnings.warn(
            f"Values {unmapped[:10].tolist()} of {raster.path} are not in classes; their area is "
            "left out of every column, so rows sum to less than 1. Add them to classes= to "
            "count them.",
            stacklevel=4,
        )
    n, m = len(geoms), len(names)
    valid = col != -2
    den = np.bincount(g[valid], weights=w[valid], minlength=n)
    mapped = col >= 0
    num = np.bincount(g[mapped] * m + col[mapped], weights=w[mapped], minlength=n * m).reshape(n, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(den[:, None] > 0, num / den[:, None], np.nan)
    present = shapely.is_geometry(geoms)
    on_raster = _covered(raster, geoms)
    _warn_nan(raster, int((np.isnan(shares[:, 0]) & on_raster).sum()), int(present.sum()), "cells")
    return pd.DataFrame(shares, index=index, columns=names, dtype="float64")
