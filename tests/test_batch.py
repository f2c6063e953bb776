"""National runs on Dask: same results as the serial run, resumption, a killed worker, the CLI."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import typer
from typer.testing import CliRunner

from qet_geo.batch import (
    _SLOW_ENV,
    ACCESS_FILE,
    SUMMARY_FILE,
    Partition,
    completed_partitions,
    partition_summaries,
    read_neighbourhoods,
    read_store,
    run_national,
    run_serial,
    tile_partitions,
)
from qet_geo.cli.national import national_app
from qet_geo.errors import InputFileError, ValidationError
from tests.conftest import shared

EXTRACTS = {
    "lorient_centre": "lorient_centre.osm.pbf",
    "nantes_hypercentre": "nantes_hypercentre.osm.pbf",
    "pont_de_veyle": "pont_de_veyle.osm.gz",
    "saudron_rural": "saudron_rural.osm.gz",
}

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(national_app, name="national")


def _set_env(name: str, value: str | None) -> None:
    """Set (or clear) an environment variable in a worker process."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.fixture(scope="module")
def neighbourhoods_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four shared extracts as four neighbourhoods, paths relative to the CSV."""
    folder = tmp_path_factory.mktemp("job")
    lines = ["id,osm,territory"]
    for pid, name in EXTRACTS.items():
        lines.append(f"{pid},{os.path.relpath(shared('osm', name), folder)},")
    path = folder / "quartiers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def partitions(neighbourhoods_csv: Path) -> list[Partition]:
    return read_neighbourhoods(neighbourhoods_csv)


@pytest.fixture(scope="module")
def serial(partitions: list[Partition], tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The reference: the same job run in this process, one partition after another."""
    store = tmp_path_factory.mktemp("serial")
    report = run_serial(partitions, store)
    assert report.computed == list(EXTRACTS) and not report.failed
    return read_store(store)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


def _assert_same(store: Path, serial: pd.DataFrame) -> None:
    result = read_store(store)
    assert not result.set_index("partition", append=True).index.duplicated().any()
    pd.testing.assert_frame_equal(result, serial)
    for pid in EXTRACTS:
        assert sorted(p.name for p in (store / pid).iterdir()) == [ACCESS_FILE, SUMMARY_FILE]


def test_read_neighbourhoods_resolves_paths_and_territories(tmp_path: Path) -> None:
    lon, lat = -1.5536, 47.2173  # Nantes, place Royale
    poly = shapely.Point(lon, lat).buffer(0.002)
    gpd.GeoDataFrame(geometry=[poly], crs="EPSG:4326").to_file(tmp_path / "centre.geojson")
    osm = os.path.relpath(shared("osm", "nantes_hypercentre.osm.pbf"), tmp_path)
    (tmp_path / "q.csv").write_text(f"id,osm,territory\nnantes,{osm},centre.geojson\n")
    (part,) = read_neighbourhoods(tmp_path / "q.csv", buffer_m=500)
    assert part.osm == shared("osm", "nantes_hypercentre.osm.pbf").resolve()
    assert part.geometry is not None and 80_000 < part.geometry.area < 130_000  # m², EPSG:2154
    assert part.buffer_m == 500


@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        ("id,path\na,b\n", ValidationError, "id,osm"),
        ("id,osm\nLorient centre,{osm}\n", ValidationError, "lettres"),
        ("id,osm\na,{osm}\na,{osm}\n", ValidationError, "double"),
        ("id,osm\na,missing.osm.pbf\n", InputFileError, "introuvable"),
    ],
)
def test_read_neighbourhoods_rejects_bad_files(
    tmp_path: Path, text: str, error: type[Exception], needle: str
) -> None:
    path = tmp_path / "q.csv"
    path.write_text(text.format(osm=shared("osm", "nantes_hypercentre.osm.pbf")))
    with pytest.raises(error) as caught:
        read_neighbourhoods(path)
    assert needle in caught.value.message_fr  # type: ignore[attr-defined]


def test_national_run_equals_serial_run(
    client, partitions: list[Partition], serial: pd.DataFrame, tmp_path: Path
) -> None:
    seen: list[tuple[int, int, str]] = []
    report = run_national(partitions, tmp_path, client=client, progress=lambda *a: seen.append(a))
    assert sorted(report.computed) == sorted(EXTRACTS) and not report.failed
    assert [s[:2] for s in seen] == [(i, 4) for i in range(1, 5)]
    _assert_same(tmp_path, serial)
    # the work ran on the two worker processes, not here
    workers = {s["pid"] for s in partition_summaries(tmp_path)}
    assert os.getpid() not in workers
    assert all(s["homes"] > 0 and s["edges"] > 0 for s in report.summaries.values())


def test_rerun_computes_only_missing_partitions(
    client, partitions: list[Partition], serial: pd.DataFrame, tmp_path: Path
) -> None:
    run_national(partitions, tmp_path, client=client)
    before = {s["id"]: s["finished_at"] for s in partition_summaries(tmp_path)}
    # an interrupted write: the table is there, its summary is not, so it is not complete
    (tmp_path / "pont_de_veyle" / SUMMARY_FILE).unlink()
    assert completed_partitions(tmp_path) == set(EXTRACTS) - {"pont_de_veyle"}

    report = run_national(partitions, tmp_path, client=client)

    assert report.computed == ["pont_de_veyle"]
    assert sorted(report.skipped) == sorted(set(EXTRACTS) - {"pont_de_veyle"})
    after = {s["id"]: s["finished_at"] for s in partition_summaries(tmp_path)}
    assert after["pont_de_veyle"] != before["pont_de_veyle"]
    assert {k: v for k, v in after.items() if k != "pont_de_veyle"} == {
        k: v for k, v in before.items() if k != "pont_de_veyle"
    }
    _assert_same(tmp_path, serial)


def test_killed_worker_partition_is_recomputed(
    client, partitions: list[Partition], serial: pd.DataFrame, tmp_path: Path
) -> None:
    """A worker killed inside a partition: the partition is recomputed elsewhere, nothing left over.

    The slow partition waits at a gate (a file the test creates) after telling its pid, so the
    kill happens inside the task however busy the machine is; the retry on a live worker finds
    the gate open and runs through.
    """
    slow = "lorient_centre"
    gate = tmp_path.parent / f"{tmp_path.name}-gate"
    client.run(_set_env, _SLOW_ENV, f"{slow}={gate}")
    store = tmp_path / "store"
    # what a worker killed in the middle of a write leaves: the run must remove it
    (store / "nantes_hypercentre").mkdir(parents=True)
    (store / "nantes_hypercentre" / ".access.k1ll3d.parquet").write_bytes(b"PAR1 half")
    done: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: done.update(report=run_national(partitions, store, client=client))
    )
    thread.start()
    try:
        waiting: list[Path] = []
        deadline = time.monotonic() + 300
        while not waiting and time.monotonic() < deadline and thread.is_alive():
            waiting = list(gate.parent.glob(f"{gate.name}.waiting.*"))
            time.sleep(0.05)
        assert waiting, "the slow partition never started"
        pid = int(waiting[0].name.rsplit(".", 1)[1])
        os.kill(pid, signal.SIGKILL)
        gate.touch()  # the retry on a live worker goes through
        thread.join(timeout=600)
    finally:
        gate.touch()
        client.run(_set_env, _SLOW_ENV, None)
    assert not thread.is_alive()
    report = done["report"]
    assert sorted(report.computed) == sorted(EXTRACTS) and not report.failed  # type: ignore[attr-defined]
    summary = json.loads((store / slow / SUMMARY_FILE).read_text())
    assert summary["pid"] != pid  # recomputed on a live worker
    _assert_same(store, serial)  # and no temporary file left beside the results


def test_a_resumed_run_removes_the_files_killed_workers_left(
    partitions: list[Partition], serial: pd.DataFrame, tmp_path: Path
) -> None:
    run_serial(partitions, tmp_path)
    # a worker killed while rewriting a complete partition, and another inside an incomplete one
    done, todo = (tmp_path / p for p in list(EXTRACTS)[:2])
    (done / ".access.x1.parquet").write_bytes(b"PAR1")
    (done / ".summary.x2.json").write_text("{")
    (todo / SUMMARY_FILE).unlink()
    (todo / ".access.x3.parquet").write_bytes(b"PAR1")
    report = run_serial(partitions, tmp_path)
    assert report.computed == [todo.name]
    _assert_same(tmp_path, serial)


def test_store_holds_one_mode(partitions: list[Partition], tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text('{"mode": "bike", "format": 1}')
    with pytest.raises(ValidationError, match="bike"):
        run_serial(partitions, tmp_path, mode="walk")


def test_tiles_cover_each_home_once(serial: pd.DataFrame, tmp_path: Path) -> None:
    nantes = Partition(id="nantes", osm=shared("osm", "nantes_hypercentre.osm.pbf"))
    tiles = tile_partitions([nantes], tile_m=200)
    assert len(tiles) > 1 and all(t.id.startswith("nantes.r") for t in tiles)
    report = run_serial(tiles, tmp_path)
    assert not report.failed and sorted(report.computed) == sorted(t.id for t in tiles)
    # a tile without homes is complete, with a summary and no table
    empty = [pid for pid, s in report.summaries.items() if s["homes"] == 0]
    assert empty and not (tmp_path / empty[0] / ACCESS_FILE).exists()
    assert completed_partitions(tmp_path) == {t.id for t in tiles}
    tiled = read_store(tmp_path)
    assert not tiled.index.duplicated().any()
    whole = serial[serial["partition"] == "nantes_hypercentre"]
    assert set(tiled.index) == set(whole.index)


def test_a_tile_cut_from_a_window_equals_the_tile_cut_from_the_whole_extract() -> None:
    """Tiles read their layers from a window of the extract (its features whose box meets the
    working area's box), so that their cost does not grow with the file; each tile's table is
    the one computed from the whole extract, exactly, and the window holds a part of it."""
    from qet_geo.batch import _in_tile, _read_extract, compute_partition
    from qet_geo.inputs.osm import read_osm
    from qet_geo.inputs.territory import Territory
    from qet_geo.layers import build_layers
    from qet_geo.pipeline import measure_access

    path = shared("osm", "lorient_centre.osm.pbf")
    whole = read_osm(path)
    tiles = tile_partitions([Partition(id="lorient", osm=path, buffer_m=300)], tile_m=500)
    compared = 0
    for tile in tiles:
        got, summary = compute_partition(tile)
        assert tile.geometry is not None and tile.tile is not None
        territory = Territory(
            name=tile.id, geometry=tile.geometry, buffer_m=tile.buffer_m, source="national"
        )
        window = _read_extract(path).window(territory.working_area)
        assert len(window.buildings) < len(whole.buildings)
        assert len(window.highways) < len(whole.highways)
        if not summary["homes"]:
            continue
        layers = build_layers(whole, territory=territory)
        want = measure_access(layers, modes=("walk",)).access["walk"]
        want = want[_in_tile(want.geometry, tile.tile)]
        pd.testing.assert_frame_equal(got, want)
        compared += 1
    assert compared >= 6


def test_lazy_store_is_dask_geopandas(
    client, partitions: list[Partition], tmp_path: Path, serial: pd.DataFrame
) -> None:
    import dask_geopandas

    run_national(partitions[1:2], tmp_path, client=client)
    lazy = read_store(tmp_path, lazy=True)
    assert isinstance(lazy, dask_geopandas.GeoDataFrame)
    nantes = serial[serial["partition"] == "nantes_hypercentre"].drop(columns="partition")
    pd.testing.assert_frame_equal(lazy.compute(), nantes)


def test_cli_runs_on_a_scheduler_and_resumes(
    client, neighbourhoods_csv: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    args = [
        "national",
        "run",
        "--neighbourhoods",
        str(neighbourhoods_csv),
        "--out",
        str(tmp_path),
        "--scheduler",
        client.scheduler.address,
        "--no-progress",
    ]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "4 partition(s) calculée(s)" in first.output
    _assert_same(tmp_path, serial)
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "0 partition(s) calculée(s)" in second.output and "4 déjà faite(s)" in second.output


def test_cli_errors_are_one_french_line(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text("id,chemin\na,b\n")
    result = runner.invoke(
        cli,
        ["national", "run", "--neighbourhoods", str(tmp_path / "q.csv"), "--out", "x"],
    )
    assert result.exit_code == 2
    assert "colonne(s) manquante(s) osm" in result.output
    bad_mode = runner.invoke(
        cli,
        ["national", "run", "--neighbourhoods", "q.csv", "--out", "x", "--mode", "car"],
    )
    assert bad_mode.exit_code == 2 and "utilisez walk ou bike" in bad_mode.output
