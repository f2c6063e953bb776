"""Every layer of a neighbourhood, from local files, in one call; and writing them safely.

:func:`build_layers` reads the OSM extract, cuts it to the territory plus its buffer, and adds what
the optional census, elevation, land-cover and transit files give. :func:`write_layers` writes the
result as one GeoPackage that QGIS opens, atomically: a failed run never leaves a half-written file
or directory behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from qet_geo._files import staging_folder
from qet_geo.errors import DataCoverageError, InputFileError, QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.inputs.osm import OSM_LAYERS, OsmData, clip_osm, read_osm
from qet_geo.inputs.territory import Territory, territory_from_bounds

__all__ = ["NeighbourhoodLayers", "build_layers", "write_layers"]

log = logging.getLogger(__name__)

#: Order of the layers in the GeoPackage.
LAYER_ORDER = ("territory", *OSM_LAYERS, "streets", "bike_streets", "cells", "iris")

Progress = Callable[[str], None]


@dataclass
class NeighbourhoodLayers:
    """The layers of one neighbourhood, all in EPSG:2154.

    Attributes
    ----------
    territory
        The neighbourhood and its buffer.
    osm
        Everything read from the OSM extract (cut to the working area).
    layers
        Name → GeoDataFrame, in :data:`LAYER_ORDER`; ``cells`` and ``iris`` only when given.
    graphs
        Mode ("walk", "bike") → ``(nodes, edges)`` street graph, with slopes when a DEM is given.
    """

    territory: Territory
    osm: OsmData
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    graphs: dict[str, tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return the number of features of each layer."""
        return {name: len(gdf) for name, gdf in self.layers.items()}


def build_layers(
    osm_path: str | PathLike[str] | OsmData,
    *,
    territory: Territory | None = None,
    census: str | PathLike[str] | None = None,
    iris_layer: str | PathLike[str] | None = None,
    dem: str | PathLike[str] | None = None,
    landcover: str | PathLike[str] | None = None,
    gtfs: str | PathLike[str] | None = None,
    street_modes: Sequence[str] = ("walk", "bike"),
    progress: Progress | None = None,
) -> NeighbourhoodLayers:
    """Read every layer of a neighbourhood from local files.

    Parameters
    ----------
    osm_path
        The OSM extract (.osm, .osm.gz, .osm.bz2, .osm.pbf), or the extract already read by
        :func:`qet_geo.inputs.osm.read_osm` (several territories cut from one extract read once).
    territory
        The neighbourhood; the extract's own bounds (no buffer) when None.
    census
        The INSEE 200 m grid (shapefile, GeoPackage or CSV of cell ids), or a census table by IRIS
        (CSV with an IRIS code column) when ``iris_layer`` is given.
    iris_layer
        IRIS contours; written as the ``iris`` layer (joined with ``census`` when it is a table).
    dem
        A digital elevation model, any CRS: adds slope to streets (and to cells).
    landcover
        A land-cover raster (Corine Land Cover codes): adds land-cover shares to cells.
    gtfs
        A GTFS feed: transit stops with departures per hour in the weekday morning peak replace the
        OSM stops.
    street_modes
        The modes whose street graph is built, with its layer ("streets" for walk,
        "bike_streets" for bike); both by default (a table of one mode needs only its own).
    progress
        Called with the name of each step as it starts.
    """
    step = progress or (lambda name: None)
    step("osm")
    osm_all = osm_path if isinstance(osm_path, OsmData) else read_osm(osm_path)
    if territory is None:
        territory = territory_from_bounds(
            osm_all.bounds, name=Path(osm_all.path).name.split(".")[0]
        )
    osm = clip_osm(osm_all, territory.working_area)
    area = territory.working_area
    _warn_partial_coverage(osm_all, territory)

    step("streets")
    graphs = {mode: osm.graph(mode) for mode in ("walk", "bike") if mode in street_modes}
    layers: dict[str, gpd.GeoDataFrame] = {
        "territory": territory.to_gdf(),
        **{name: getattr(osm, name) for name in OSM_LAYERS},
    }
    layers["transit_stops"] = osm.transit_stops.assign(source="osm")
    result = NeighbourhoodLayers(territory=territory, osm=osm, layers=layers, graphs=graphs)

    if census is not None or iris_layer is not None:
        step("census")
        _add_census(result, census=census, iris_layer=iris_layer, area=area)

    if dem is not None:
        step("relief")
        from qet_geo.inputs.raster import cell_slope, edge_slope, open_raster

        relief = open_raster(dem)
        for mode, (nodes, edges) in graphs.items():
            graphs[mode] = (nodes, edges.join(edge_slope(edges, relief)))
        if "cells" in layers:
            layers["cells"] = layers["cells"].assign(slope_pct=cell_slope(layers["cells"], relief))

    if landcover is not None:
        if "cells" not in layers:
            raise ValidationError(
                msg(
                    "Les parts d'occupation du sol se calculent par carreau de 200 m : donnez aussi "
                    "la grille INSEE avec --census."
                ),
                path=landcover,
            )
        step("landcover")
        from qet_geo.inputs.raster import landcover_shares

        shares = landcover_shares(layers["cells"], landcover)
        layers["cells"] = layers["cells"].join(shares.add_prefix("lc_"))

    if gtfs is not None:
        step("gtfs")
        from qet_geo.inputs.gtfs import stop_departures

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QetGeoWarning)  # "no stop in the mask" is raised below
            stops = stop_departures(gtfs, mask=area)
        if stops.empty:
            raise DataCoverageError(
                msg(
                    "{gtfs} : aucun arrêt du flux ne se trouve dans le territoire. Utilisez le flux "
                    "GTFS du réseau qui dessert le quartier.",
                    gtfs=gtfs,
                ),
                path=gtfs,
            )
        layers["transit_stops"] = stops.assign(source="gtfs")

    for mode, name in (("walk", "streets"), ("bike", "bike_streets")):
        if mode in graphs:
            layers[name] = graphs[mode][1].reset_index()
    result.layers = {name: layers[name] for name in LAYER_ORDER if name in layers}
    return result


def _warn_partial_coverage(osm: OsmData, territory: Territory) -> None:
    """Warn when the extract covers only part of the territory (a border cut through it)."""
    extent = territory_from_bounds(osm.bounds, buffer_m=0).geometry
    covered = shapely.area(shapely.intersection(extent, territory.geometry))
    share = covered / max(shapely.area(territory.geometry), 1e-9)
    if share < 0.95:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{path} ne couvre que {share:.0%} du territoire « {name} » : les résultats "
                    "manquent sur la partie non couverte. Utilisez un extrait couvrant tout le "
                    "territoire et son tampon.",
                    path=osm.path,
                    share=share,
                    name=territory.name,
                )
            ),
            stacklevel=3,
        )


def _add_census(
    result: NeighbourhoodLayers,
    *,
    census: str | PathLike[str] | None,
    iris_layer: str | PathLike[str] | None,
    area: BaseGeometry,
) -> None:
    from qet_geo.inputs import census as census_mod

    layers = result.layers
    if iris_layer is not None:
        iris = census_mod.read_iris(iris_layer, table=census)
        iris = iris[iris.intersects(area)]
        if iris.empty:
            raise _no_overlap(iris_layer, msg("IRIS"))
        layers["iris"] = iris
        for column in ("population", "population_15p"):
            if column in iris.columns:
                people = census_mod.allocate_population(
                    layers["buildings"], iris, population_column=column
                )
                layers["buildings"] = layers["buildings"].assign(**{column: people.to_numpy()})
                break
        return
    assert census is not None
    cells = census_mod.read_grid(census, mask=area)
    if cells.empty:
        raise _no_overlap(census, msg("carreau de 200 m"))
    layers["cells"] = cells
    layers["buildings"] = layers["buildings"].assign(
        population=census_mod.allocate_population(layers["buildings"], cells)
    )


def _no_overlap(path: str | PathLike[str], what: Msg) -> DataCoverageError:
    return DataCoverageError(
        msg(
            "{path} : aucun {what} dans le territoire. Utilisez le fichier du recensement "
            "qui couvre le quartier.",
            path=path,
            what=what,
        ),
        path=path,
    )


def write_layers(
    layers: NeighbourhoodLayers | dict[str, gpd.GeoDataFrame],
    out_dir: str | PathLike[str],
    *,
    filename: str = "layers.gpkg",
) -> Path:
    """Write the layers as one GeoPackage, atomically; return its path.

    The file is written beside its destination under a temporary name and renamed at the end; when
    ``out_dir`` does not exist it is created only once the file is complete. A failure leaves
    whatever was there before untouched.
    """
    frames = layers.layers if isinstance(layers, NeighbourhoodLayers) else layers
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(
            msg(
                "{out_dir} existe et n'est pas un dossier. Choisissez un autre --out.",
                out_dir=out_dir,
            ),
            path=out_dir,
        )
    parent = out_dir.parent if not out_dir.exists() else out_dir
    parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(parent, out_dir.name)
    try:
        target = staging / filename
        for name, gdf in frames.items():
            _to_gpkg(gdf, target, name)
        if out_dir.exists():
            os.replace(target, out_dir / filename)
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / filename


def _to_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    frame = gdf.copy()
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    # GeoPackage columns must be scalar: lists and dicts become text
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        if frame[col].dtype == object:
            frame[col] = frame[col].map(
                lambda v: v if v is None or isinstance(v, str | int | float | bool) else str(v)
            )
    frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")


def write_table(
    gdf: gpd.GeoDataFrame, path: str | PathLike[str], *, layer: str | None = None
) -> Path:
    """Write one table atomically as GeoParquet (.parquet), GeoPackage (.gpkg) or GeoJSON.

    The file is written under a temporary name beside its destination and renamed at the end, so
    a failure never leaves a half-written file, and an existing file is replaced only on success.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".gpkg", ".geojson", ".json"):
        raise ValidationError(
            msg(
                "{path} : type de fichier de sortie inconnu ; utilisez .parquet, .gpkg ou "
                ".geojson.",
                path=path,
            ),
            path=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # the drivers create the file themselves
        if suffix == ".parquet":
            gdf.to_parquet(tmp)
        elif suffix == ".gpkg":
            _to_gpkg(gdf, tmp, layer or path.stem)
        else:
            frame = gdf if isinstance(gdf.index, pd.RangeIndex) else gdf.reset_index()
            frame.to_file(tmp, driver="GeoJSON", engine="pyogrio")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
