"""Guards shared by the library: one wording for an argument that is not what it should be.

A path that is not there, an object that is not a GeoDataFrame (or GeoSeries), a layer without
a coordinate reference system. geopandas is imported inside the guards that need it, so that
light commands (``qet --help``) do not load it.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from qet_geo.errors import CRSError, InputFileError, ValidationError
from qet_geo.i18n import Msg, msg

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from pyproj import CRS

#: The default advice after a missing path.
CHECK_PATH = msg("Vérifiez le chemin.")
#: The default advice after a missing CRS: the two usual ones.
SET_CRS = msg("EPSG:2154 pour le Lambert-93, EPSG:4326 pour des lon/lat")


def existing_file(
    path: str | PathLike[str],
    *,
    what: Msg,
    hint: Msg = CHECK_PATH,
    file_only: bool = False,
) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it exists; refuse it clearly otherwise.

    Parameters
    ----------
    path
        The path given by the user.
    what
        What the file is (``msg("Fichier OSM")``), first in the message.
    hint
        What to do, after the path.
    file_only
        Also refuse a folder (the reader needs a file).

    Raises
    ------
    ValidationError
        ``path`` is not a string nor a path.
    InputFileError
        Nothing is there (or a folder, with ``file_only``): "{what} introuvable : {path}. {hint}".
    """
    if not isinstance(path, str | PathLike):
        raise ValidationError(
            msg(
                "Le chemin donné pour « {what} » doit être une chaîne ou un Path, pas {type}.",
                what=what,
                type=type(path).__name__,
            )
        )
    file = Path(path)
    if not (file.is_file() if file_only else file.exists()):
        raise InputFileError(
            msg("{what} introuvable : {file}. {hint}", what=what, file=file, hint=hint),
            path=file,
        )
    return file


def geometries(obj: object, *, what: Msg | str) -> gpd.GeoSeries:
    """Return the geometry of a GeoDataFrame, or a GeoSeries itself; refuse anything else.

    Parameters
    ----------
    obj
        The argument given by the user.
    what
        Its name (``"points"``) or what it is (a :class:`~qet_geo.i18n.Msg`), first in the message.

    Raises
    ------
    ValidationError
        ``obj`` is neither a GeoDataFrame nor a GeoSeries.
    """
    import geopandas as gpd

    if isinstance(obj, gpd.GeoDataFrame):
        return obj.geometry
    if isinstance(obj, gpd.GeoSeries):
        return obj
    raise ValidationError(
        msg(
            "{what} doit être un GeoDataFrame ou une GeoSeries, et non {type_name}.",
            what=what,
            type_name=type(obj).__name__,
        )
    )


def data_frame(obj: object, *, what: Msg | str, hint: Msg | None = None) -> pd.DataFrame:
    """Return ``obj`` if it is a DataFrame (a GeoDataFrame too); refuse anything else.

    Parameters
    ----------
    obj
        The argument given by the user.
    what
        Its name (``"answers"``), first in the message.
    hint
        What the table holds or where it comes from (``msg("une ligne par répondant")``), last.

    Raises
    ------
    ValidationError
        ``obj`` is not a DataFrame.
    """
    import pandas as pd

    if not isinstance(obj, pd.DataFrame):
        raise ValidationError(_not_a("DataFrame", obj, what=what, hint=hint))
    return obj


def geo_frame(obj: object, *, what: Msg | str, hint: Msg | None = None) -> gpd.GeoDataFrame:
    """Return ``obj`` if it is a GeoDataFrame; refuse anything else, as :func:`data_frame` does.

    ``hint`` says where such a table comes from (``msg("passez read_osm(chemin).buildings")``).
    """
    import geopandas as gpd

    if not isinstance(obj, gpd.GeoDataFrame):
        raise ValidationError(_not_a("GeoDataFrame", obj, what=what, hint=hint))
    return obj


def _not_a(kind: str, obj: object, *, what: Msg | str, hint: Msg | None) -> Msg:
    """The text of :func:`data_frame` and :func:`geo_frame`: ``obj`` is not a ``kind``."""
    type_name = type(obj).__name__
    if hint is None:
        return msg(
            "{what} doit être un {kind}, et non {type_name}.",
            what=what,
            kind=kind,
            type_name=type_name,
        )
    return msg(
        "{what} doit être un {kind}, et non {type_name} : {hint}.",
        what=what,
        kind=kind,
        type_name=type_name,
        hint=hint,
    )


def require_crs(
    obj: gpd.GeoSeries | gpd.GeoDataFrame, *, what: Msg | str, hint: Msg = SET_CRS
) -> CRS:
    """Return the CRS of a GeoSeries or GeoDataFrame; refuse one without.

    Parameters
    ----------
    obj
        A GeoSeries or GeoDataFrame (checked with :func:`geometries` or :func:`geo_frame`).
    what
        Its name (``"points"``) or what it is, first in the message.
    hint
        Advice after ".set_crs(...)", in brackets: the usual CRSs by default, or what to do next
        (``msg("puis reprojetez avec .to_crs({crs})", crs=...)``).

    Raises
    ------
    CRSError
        ``obj`` has no CRS.
    """
    crs: CRS | None = obj.crs
    if crs is None:
        raise CRSError(
            msg(
                "{what} n'a pas de système de coordonnées : définissez-le avec .set_crs(...) "
                "({hint}).",
                what=what,
                hint=hint,
            )
        )
    return crs


def travel_mode(mode: object) -> str:
    """Return ``mode`` if it is one the per-home indicators are computed for; refuse it otherwise.

    Raises
    ------
    ValidationError
        ``mode`` is neither "walk" nor "bike".
    """
    if mode not in ("walk", "bike"):
        raise ValidationError(
            msg("Mode {mode!r} inconnu : utilisez walk (marche) ou bike (vélo).", mode=mode)
        )
    return str(mode)
