"""National scale on Dask: every neighbourhood (or every tile of a region), resumable.

The work is split by territory: one **partition** is one neighbourhood (or one square tile of it),
computed with its own buffer (:attr:`qet_geo.inputs.territory.Territory.working_area`), so that the shop
across the border still counts. Each partition runs :func:`qet_geo.layers.build_layers` then
:func:`qet_geo.constraints.access.neighbourhood_access` on a Dask worker (``dask.distributed``: a
``LocalCluster`` of processes by default, any existing cluster given its scheduler address) and
writes its result as soon as it finishes::

    STORE/
      job.json                  the mode of the job (a store holds one mode)
      <id>/access.parquet       per-home indicators (GeoParquet, EPSG:2154, index home_id);
                                absent when the partition holds no home (an empty tile)
      <id>/summary.json         size, time and memory of the partition; written last

Both files are written under a temporary name and renamed (``os.replace``), ``summary.json``
after ``access.parquet``: a partition is complete if and only if its ``summary.json`` exists.
A rerun skips the complete partitions and recomputes the others; a partition whose worker was
killed is rescheduled by Dask on another worker, and since its files are replaced atomically it is
written once, never half, never twice.

Read the results back with :func:`read_store` (one GeoDataFrame, or a lazy
``dask_geopandas.GeoDataFrame``).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import re
import resource
import socket
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry.base import BaseGeometry

from qet_geo._validate import existing_file
from qet_geo.crs import WORK_CRS
from qet_geo.errors import EmptyDataError, InputFileError, QetGeoError, ValidationError
from qet_geo.i18n import msg
from qet_geo.pipeline import Mode

if TYPE_CHECKING:
    import dask_geopandas
    import geopandas as gpd
    from distributed import Client

__all__ = [
    "Partition",
    "RunReport",
    "completed_partitions",
    "compute_partition",
    "partition_summaries",
    "read_neighbourhoods",
    "read_store",
    "run_national",
    "run_serial",
    "tile_partitions",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]

ACCESS_FILE = "access.parquet"
SUMMARY_FILE = "summary.json"
JOB_FILE = "job.json"
DEFAULT_BUFFER_M = 1_000.0
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# test hook: "ID=GATE" makes the partition ID write GATE.waiting.<pid> and wait (at most
# _GATE_MAX_S) until the file GATE exists, so that a test can kill the worker running it at a known
# point, however busy the machine; read in the worker process
_SLOW_ENV = "QET_SCALE_SLOW_PARTITION"
_GATE_MAX_S = 600.0
# the temporary files of the store's atomic writes (layers.write_table, _write_json_atomic)
_TEMP_PREFIXES = (f".{Path(ACCESS_FILE).stem}.", f".{Path(SUMMARY_FILE).stem}.")
# BLAS and OpenMP pools of one thread: one worker process per core is the parallelism
_WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class Partition:
    """One unit of national work: a neighbourhood, or a tile of one, and its OSM extract.

    Attributes
    ----------
    id
        Letters, digits, ``_``, ``-`` and ``.``: the name of its folder in the store.
    osm
        The OSM extract that covers the partition and its buffer.
    geometry
        The territory polygon in EPSG:2154; None takes the extract's own bounds.
    buffer_m
        The ring around the territory whose streets and amenities still count, in metres.
    tile
        ``(xmin, ymin, xmax, ymax)`` in EPSG:2154 when the partition is a tile: a home belongs to
        the tile that holds it in ``[xmin, xmax) × [ymin, ymax)``, so that a home on a tile border
        is counted once.
    """

    id: str
    osm: Path
    geometry: BaseGeometry | None = None
    buffer_m: float = DEFAULT_BUFFER_M
    tile: tuple[float, float, float, float] | None = None


@dataclass
class RunReport:
    """What a national run did.

    Attributes
    ----------
    computed
        Ids of the partitions computed by this run, in the order they finished.
    skipped
        Ids of the partitions already complete in the store.
    failed
        Id → error message (English) for the partitions that could not be computed; a rerun
        tries them again.
    summaries
        Id → the partition's ``summary.json`` content, for the computed partitions.
    seconds
        Wall time of the run.
    """

    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------
# the job: neighbourhoods file, tiles


def read_neighbourhoods(
    path: str | PathLike[str], *, buffer_m: float = DEFAULT_BUFFER_M
) -> list[Partition]:
    """Read the list of neighbourhoods of a national job.

    Parameters
    ----------
    path
        A CSV file with columns ``id``, ``osm`` and an optional ``territory`` (a polygon file:
        GeoJSON, GeoPackage, shapefile; empty for the extract's bounds), or a vector file
        (GeoJSON, GeoPackage) whose features carry ``id`` and ``osm`` properties and the territory
        polygon as geometry. Relative paths are relative to the file.
    buffer_m
        The ring around each territory that still counts, in metres.

    Returns
    -------
    list of Partition
        One per neighbourhood, in file order.
    """
    path = Path(path)
    existing_file(
        path,
        what=msg("Fichier des quartiers"),
        hint=msg("Donnez un CSV aux colonnes id,osm,territory."),
        file_only=True,
    )
    rows = _read_csv_rows(path) if path.suffix.lower() == ".csv" else _read_vector_rows(path)
    if not rows:
        raise ValidationError(msg("{path} : aucun quartier dans le fichier.", path=path), path=path)
    partitions = [
        _partition_from_row(row, base=path.parent, buffer_m=buffer_m, source=path) for row in rows
    ]
    _check_unique([p.id for p in partitions], source=path)
    return partitions


def _read_csv_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"id", "osm"} - set(reader.fieldnames or ())
        if missing:
            raise ValidationError(
                msg(
                    "{path} : colonne(s) manquante(s) {missing} ; attendu id,osm et, si "
                    "besoin, territory.",
                    path=path,
                    missing=", ".join(sorted(missing)),
                ),
                path=path,
            )
        return [
            {k: (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]


def _read_vector_rows(path: Path) -> list[dict[str, Any]]:
    from qet_geo.inputs.territory import read_vector

    gdf = read_vector(path).to_crs(WORK_CRS)
    missing = {"id", "osm"} - set(gdf.columns)
    if missing:
        raise ValidationError(
            msg(
                "{path} : propriété(s) manquante(s) {missing} sur les entités.",
                path=path,
                missing=", ".join(sorted(missing)),
            ),
            path=path,
        )
    return [
        {"id": str(r.id), "osm": str(r.osm), "geometry": r.geometry}
        for r in gdf.itertuples(index=False)
    ]


def _partition_from_row(
    row: dict[str, Any], *, base: Path, buffer_m: float, source: Path
) -> Partition:
    pid = str(row["id"])
    _check_id(pid, source=source)
    osm = (base / str(row["osm"])).resolve()
    existing_file(
        osm,
        what=msg("L'extrait de « {pid} »", pid=pid),
        hint=msg("Vérifiez son chemin dans {source}.", source=source),
        file_only=True,
    )
    geometry = row.get("geometry")
    territory_file = row.get("territory") or ""
    if geometry is None and territory_file:
        from qet_geo.inputs.territory import territory_from_file

        geometry = territory_from_file(base / territory_file, name=pid, buffer_m=0).geometry
    return Partition(id=pid, osm=osm, geometry=geometry, buffer_m=buffer_m)


def _check_id(pid: str, *, source: str | PathLike[str] | None = None) -> None:
    if not _ID_PATTERN.match(pid):
        where = f"{source}: " if source else ""
        raise ValidationError(
            msg(
                "{where}identifiant de quartier « {pid} » : n'utilisez que des lettres, "
                "chiffres, « _ », « - » ou « . » (il nomme un dossier du résultat).",
                where=where,
                pid=pid,
            ),
            path=source,
        )


def _check_unique(ids: Sequence[str], *, source: str | PathLike[str] | None = None) -> None:
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ValidationError(
            msg("identifiant(s) de quartier en double : {dupes}.", dupes=", ".join(dupes)),
            path=source,
        )


def tile_partitions(partitions: Iterable[Partition], *, tile_m: float) -> list[Partition]:
    """Split each partition into square tiles of ``tile_m`` metres (every cell of a region).

    Each tile keeps the partition's buffer, so that a tile's homes see the streets and amenities
    of their neighbours; tiles that hold none of the territory are dropped. Tile ids are
    ``<id>.r<row>c<col>`` (rows from the south, columns from the west, on a grid aligned to
    multiples of ``tile_m`` in Lambert-93, like the INSEE grid).
    """
    if not (100 <= tile_m <= 100_000):
        raise ValidationError(
            msg("Tuiles de {tile_m} m : donnez une taille entre 100 et 100 000 m.", tile_m=tile_m)
        )
    tiles: list[Partition] = []
    for part in partitions:
        geometry = part.geometry if part.geometry is not None else _extract_geometry(part.osm)
        xmin, ymin, xmax, ymax = shapely.bounds(geometry).tolist()
        col0, row0 = int(xmin // tile_m), int(ymin // tile_m)
        col1, row1 = int(xmax // tile_m), int(ymax // tile_m)
        for row in range(row0, row1 + 1):
            for col in range(col0, col1 + 1):
                bounds = (col * tile_m, row * tile_m, (col + 1) * tile_m, (row + 1) * tile_m)
                piece = shapely.intersection(geometry, shapely.box(*bounds))
                if piece.is_empty or piece.area == 0:
                    continue
                tiles.append(
                    Partition(
                        id=f"{part.id}.r{row - row0:03d}c{col - col0:03d}",
                        osm=part.osm,
                        geometry=piece,
                        buffer_m=part.buffer_m,
                        tile=bounds,
                    )
                )
    return tiles


def _extract_geometry(osm: Path) -> BaseGeometry:
    from qet_geo.inputs.osm import read_osm
    from qet_geo.inputs.territory import territory_from_bounds

    return territory_from_bounds(read_osm(osm).bounds).geometry


# --------------------------------------------------------------------------------------------
# one partition


def _read_extract(path: str | os.PathLike[str]) -> _Extract:
    """Read an extract once per worker process: the tiles of one extract share it."""
    file = Path(path)
    return _read_extract_cached(str(file.resolve()), file.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read_extract_cached(path: str, mtime_ns: int) -> _Extract:
    from qet_geo.inputs.osm import read_osm

    return _Extract(read_osm(path))


class _Extract:
    """An extract read once, with an index of its features' boxes to cut windows from it.

    A tile's layers are cut from :meth:`window` of its working area rather than from the whole
    extract, so that the cost of a tile does not grow with the file it comes from: the index
    gives the features whose box meets the area's box (a superset of those that meet the area,
    in the file's order), and :func:`qet_geo.inputs.osm.clip_osm` then keeps exactly those the
    whole extract would have given.
    """

    def __init__(self, data: Any) -> None:
        from qet_geo.inputs.osm import OSM_LAYERS, highway_lines

        self.data = data
        self.frames = OSM_LAYERS
        self.trees = {
            name: shapely.STRtree(getattr(data, name).geometry.to_numpy()) for name in self.frames
        }
        # an R-tree of lines indexes their boxes
        self.highway_tree = shapely.STRtree(highway_lines(data.highways))

    def window(self, area: BaseGeometry) -> Any:
        """The extract's features whose box meets ``area``'s box, in the file's order."""
        import dataclasses

        import numpy as np

        box = shapely.box(*shapely.bounds(area))
        cut: dict[str, Any] = {}
        for name in self.frames:
            rows = np.sort(self.trees[name].query(box))
            cut[name] = getattr(self.data, name).iloc[rows]
        rows = np.sort(self.highway_tree.query(box))
        cut["highways"] = self.data.highways.iloc[rows]
        return dataclasses.replace(self.data, **cut)


def compute_partition(
    partition: Partition, *, mode: Mode = "walk", trace_memory: bool = False
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Compute the access indicators of one partition, with its size, time and memory.

    Parameters
    ----------
    partition
        The neighbourhood or tile.
    mode
        "walk" or "bike".
    trace_memory
        Measure the Python peak allocation with :mod:`tracemalloc` (``peak_traced_mb``); slower.

    Returns
    -------
    access : geopandas.GeoDataFrame
        :func:`qet_geo.constraints.access.neighbourhood_access` of the partition (index ``home_id``).
    summary : dict
        ``homes``, ``nodes``, ``edges``, ``buildings``, ``amenities``, ``seconds``,
        ``peak_rss_mb`` (the process's high-water mark) and, with ``trace_memory``,
        ``peak_traced_mb``.
    """
    import geopandas as gpd

    from qet_geo.inputs.territory import Territory, territory_from_bounds
    from qet_geo.layers import build_layers
    from qet_geo.pipeline import measure_access

    start = time.perf_counter()
    if trace_memory:
        tracemalloc.start()
    try:
        if partition.geometry is None:
            extract = _read_extract(partition.osm)
            base = territory_from_bounds(extract.data.bounds, name=partition.id)
            geometry = base.geometry
        else:
            geometry = partition.geometry
        territory = Territory(
            name=partition.id, geometry=geometry, buffer_m=partition.buffer_m, source="national"
        )
        window = _read_extract(partition.osm).window(territory.working_area)
        try:
            layers = build_layers(window, territory=territory)
        except EmptyDataError:
            # no street in the working area (a tile at sea): empty if there is no home either
            if _has_homes(window.buildings, geometry, partition.tile):
                raise
            layers = None
        if layers is not None and _has_homes(layers.layers["buildings"], geometry, partition.tile):
            access = measure_access(layers, modes=(mode,)).access[mode]
            if partition.tile is not None:
                access = access[_in_tile(access.geometry, partition.tile)]
        else:
            # an empty tile or commune is a result, not an error: no home, nothing to write
            access = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=territory.crs))
        nodes, edges = layers.graphs[mode] if layers is not None else ((), ())
        summary: dict[str, Any] = {
            "id": partition.id,
            "mode": mode,
            "osm": str(partition.osm),
            "area_km2": round(float(shapely.area(geometry)) / 1e6, 4),
            "homes": len(access),
            "buildings": len(layers.layers["buildings"]) if layers is not None else 0,
            "amenities": len(layers.layers["amenities"]) if layers is not None else 0,
            "nodes": len(nodes),
            "edges": len(edges),
        }
        if trace_memory:
            summary["peak_traced_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        if trace_memory:
            tracemalloc.stop()
    summary["seconds"] = round(time.perf_counter() - start, 4)
    # ru_maxrss is in KiB on Linux
    summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return access, summary


def _has_homes(
    buildings: gpd.GeoDataFrame,
    geometry: BaseGeometry,
    tile: tuple[float, float, float, float] | None,
) -> bool:
    """Whether any residential building stands in the territory (and in the tile's half-box)."""
    if buildings.empty or "residential" not in buildings.columns:
        return False
    points = buildings[buildings["residential"].astype(bool)].geometry.representative_point()
    inside = shapely.intersects(geometry, points.to_numpy())
    if tile is not None:
        inside &= _in_tile(points, tile)
    return bool(inside.any())


def _in_tile(points: gpd.GeoSeries, tile: tuple[float, float, float, float]) -> Any:
    x, y = points.x.to_numpy(), points.y.to_numpy()
    xmin, ymin, xmax, ymax = tile
    return (x >= xmin) & (x < xmax) & (y >= ymin) & (y < ymax)


def _run_partition(
    partition: Partition, store: str, mode: Mode, trace_memory: bool = False
) -> dict[str, Any]:
    """Compute one partition and write it to the store; return its summary (runs on a worker).

    A :class:`~qet_geo.errors.QetGeoError` (no home in the territory, an unreadable extract) is
    returned as ``{"id": ..., "error": ...}`` rather than raised: it is the data's answer, and
    retrying would give the same.
    """
    _test_delay(partition.id)
    try:
        access, summary = compute_partition(partition, mode=mode, trace_memory=trace_memory)
    except QetGeoError as err:
        logger.warning("partition %s failed: %s", partition.id, err)
        return {"id": partition.id, "error": str(err), "error_fr": err.localized("fr")}
    from qet_geo.layers import write_table

    folder = Path(store) / partition.id
    if len(access):
        write_table(access, folder / ACCESS_FILE)
    else:
        (folder / ACCESS_FILE).unlink(missing_ok=True)
    summary.update(
        finished_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    _write_json_atomic(summary, folder / SUMMARY_FILE)
    return summary


def _test_delay(pid: str) -> None:
    spec = os.environ.get(_SLOW_ENV, "")
    target, _, gate = spec.partition("=")
    if not target or target != pid or not gate:
        return
    Path(f"{gate}.waiting.{os.getpid()}").touch()
    deadline = time.monotonic() + _GATE_MAX_S
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _write_json_atomic(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would hide the summary from other users
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# the store


def completed_partitions(store: str | PathLike[str]) -> set[str]:
    """Return the ids of the complete partitions of a store (those with a ``summary.json``).

    A complete partition without homes (an empty tile) has a summary and no ``access.parquet``.
    """
    root = Path(store)
    if not root.is_dir():
        return set()
    return {d.name for d in root.iterdir() if d.is_dir() and (d / SUMMARY_FILE).is_file()}


def _prepare_store(store: Path, partitions: Sequence[Partition], mode: Mode) -> list[Partition]:
    """Check the store's mode, create it; return the partitions still to compute."""
    _check_unique([p.id for p in partitions])
    for p in partitions:
        _check_id(p.id)
    job = store / JOB_FILE
    if job.is_file():
        known = json.loads(job.read_text(encoding="utf-8")).get("mode")
        if known != mode:
            raise ValidationError(
                msg(
                    "{store} contient un calcul en mode {known!r} : choisissez un autre --out pour "
                    "le mode {mode!r}.",
                    store=store,
                    known=known,
                    mode=mode,
                ),
                path=store,
            )
    else:
        _write_json_atomic({"mode": mode, "format": 1}, job)
    _remove_temporary_files(store)
    done = completed_partitions(store)
    return [p for p in partitions if p.id not in done]


def _remove_temporary_files(store: Path) -> list[Path]:
    """Remove the half-written files that killed workers left in the store; return them.

    Called when a run starts (a resumed run finds those of the run that was killed) and when it
    ends (a worker killed during this run left its own, and its partition was recomputed
    elsewhere). One run writes a store at a time, so no live writer owns them then.
    """
    removed = []
    for folder in (d for d in store.iterdir() if d.is_dir()):
        for path in folder.iterdir():
            if path.is_file() and path.name.startswith(_TEMP_PREFIXES):
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        logger.info("removed %d temporary files left by killed workers", len(removed))
    return removed


def read_store(
    store: str | PathLike[str], *, lazy: bool = False
) -> gpd.GeoDataFrame | dask_geopandas.GeoDataFrame:
    """Read every complete partition of a store (those with homes) as one table.

    Parameters
    ----------
    store
        The ``--out`` folder of a national run.
    lazy
        Return a ``dask_geopandas.GeoDataFrame`` with one Dask partition per neighbourhood (for
        stores larger than memory) instead of a ``geopandas.GeoDataFrame``.

    Returns
    -------
    geopandas.GeoDataFrame or dask_geopandas.GeoDataFrame
        The per-home indicators with a ``partition`` column, sorted by partition id then home id
        (eager); EPSG:2154.
    """
    import geopandas as gpd
    import pandas as pd

    done = [
        pid
        for pid in sorted(completed_partitions(store))
        if (Path(store) / pid / ACCESS_FILE).is_file()
    ]
    if not done:
        raise InputFileError(
            msg(
                "{store} : aucune partition terminée ; lancez d'abord « qet national run ».",
                store=store,
            ),
            path=store,
        )
    files = [Path(store) / pid / ACCESS_FILE for pid in done]
    if lazy:
        import dask_geopandas

        return dask_geopandas.read_parquet([str(f) for f in files])
    frames = [gpd.read_parquet(f).assign(partition=pid) for pid, f in zip(done, files, strict=True)]
    table = pd.concat(frames)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=frames[0].crs)


# --------------------------------------------------------------------------------------------
# the runs


def run_serial(
    partitions: Sequence[Partition],
    store: str | PathLike[str],
    *,
    mode: Mode = "walk",
    progress: ProgressCallback | None = None,
    trace_memory: bool = False,
) -> RunReport:
    """Run a national job in this process, one partition after another: the reference run.

    Same store, same resumption and same results as :func:`run_national`, without Dask.
    """
    start = time.perf_counter()
    store = Path(store)
    todo = _prepare_store(store, partitions, mode)
    report = RunReport(skipped=_skipped(partitions, todo))
    for i, part in enumerate(todo, start=1):
        _record(report, _run_partition(part, str(store), mode, trace_memory))
        if progress is not None:
            progress(i, len(todo), part.id)
    report.seconds = time.perf_counter() - start
    return report


def run_national(
    partitions: Sequence[Partition],
    store: str | PathLike[str],
    *,
    mode: Mode = "walk",
    client: Client | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    retries: int = 1,
    progress: ProgressCallback | None = None,
    trace_memory: bool = False,
) -> RunReport:
    """Run a national job on Dask, writing each partition to the store as it finishes.

    Parameters
    ----------
    partitions
        The neighbourhoods or tiles (:func:`read_neighbourhoods`, :func:`tile_partitions`).
    store
        The output folder; complete partitions already in it are skipped (resumption).
    mode
        "walk" or "bike".
    client
        A ``distributed.Client`` to use; it is left open.
    scheduler
        Instead of ``client``: the address of a running scheduler (``tcp://host:8786``). The
        workers must see the extracts and the store at the same paths (a shared file system).
    n_workers
        With neither ``client`` nor ``scheduler``: the size of the ``LocalCluster`` started for
        the run (worker processes of one thread each); the number of cores by default.
    retries
        How many times Dask reruns a partition that raised an unexpected error. A partition whose
        worker died is rescheduled by Dask itself (``distributed.scheduler.allowed-failures``).
    progress
        Called with ``(done, total, id)`` as each partition finishes.
    trace_memory
        Measure each partition's Python peak allocation (slower; for the cost model).

    Returns
    -------
    RunReport
    """
    from distributed import Client, LocalCluster, as_completed

    if client is not None and scheduler is not None:
        raise ValidationError(
            msg("donnez un client Dask ou une adresse d'ordonnanceur, pas les deux.")
        )
    start = time.perf_counter()
    store = Path(store).resolve()
    todo = _prepare_store(store, partitions, mode)
    report = RunReport(skipped=_skipped(partitions, todo))
    if not todo:
        report.seconds = time.perf_counter() - start
        return report

    cluster: LocalCluster | None = None
    own_client = client is None
    if client is None:
        if scheduler is not None:
            client = _connect(scheduler)
        else:
            cluster = LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                env=_WORKER_ENV,
            )
            client = Client(cluster)
    try:
        # the largest extracts first, so that the last partitions to finish are small ones
        ordered = sorted(todo, key=lambda p: -p.osm.stat().st_size)
        # a key unique to this run: a long-lived client (or a shared cluster) may still hold the
        # futures of an earlier run, and submitting the same key would hand back their old
        # results instead of computing again
        run_id = uuid.uuid4().hex[:12]
        id_of: dict[Any, str] = {}
        futures = []
        for part in ordered:
            future = client.submit(
                _run_partition,
                part,
                str(store),
                mode,
                trace_memory,
                key=f"qet-partition-{part.id}-{run_id}",
                pure=False,
                retries=retries,
            )
            id_of[future.key] = part.id
            futures.append(future)
        for i, future in enumerate(as_completed(futures), start=1):
            key = id_of[future.key]
            try:
                result = future.result()
            except Exception as err:  # a bug or a crash in one partition: record it, go on
                logger.error("partition %s failed: %r", key, err)
                result = {"id": key, "error": repr(err), "error_fr": repr(err)}
            _record(report, result)
            if progress is not None:
                progress(i, len(todo), key)
        _remove_temporary_files(store)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    report.seconds = time.perf_counter() - start
    return report


def _skipped(partitions: Sequence[Partition], todo: Sequence[Partition]) -> list[str]:
    left = {p.id for p in todo}
    return [p.id for p in partitions if p.id not in left]


def _connect(scheduler: str) -> Client:
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise ValidationError(
            msg(
                "impossible de joindre l'ordonnanceur Dask {scheduler} : {err}. Lancez-le avec « "
                "dask scheduler » et vérifiez l'adresse (tcp://HÔTE:8786).",
                scheduler=scheduler,
                err=err,
            )
        ) from err


def _record(report: RunReport, result: dict[str, Any]) -> None:
    pid = str(result["id"])
    if "error" in result:
        report.failed[pid] = str(result["error"])
    else:
        report.computed.append(pid)
        report.summaries[pid] = result


def partition_summaries(store: str | PathLike[str]) -> list[dict[str, Any]]:
    """Return the ``summary.json`` of every complete partition of a store, sorted by id."""
    root = Path(store)
    return [
        json.loads((root / pid / SUMMARY_FILE).read_text(encoding="utf-8"))
        for pid in sorted(completed_partitions(root))
    ]
