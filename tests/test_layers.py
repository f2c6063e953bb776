"""`qet layers` end to end on the real extracts, and every bad input it must refuse cleanly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin
from typer.testing import CliRunner

from qet_geo.cli.main import app
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[1]
DEMO_TERRITORY = ROOT / "data" / "osm" / "lorient_centre.geojson"
REQUIRED = ("buildings", "amenities", "transit_stops", "cycleways", "streets")

runner = CliRunner()


def qet(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def lorient_grid_csv(tmp_path_factory, lorient) -> Path:
    """A SYNTHETIC census grid for Lorient: real INSEE cell ids, made-up population (tests only)."""
    from qet_geo.inputs.census import point_to_cell_id

    pts = lorient.buildings.representative_point()
    ids = point_to_cell_id(pts).unique()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"Idcar_200m": ids, "Ind": rng.integers(20, 400, len(ids)).astype(float)})
    path = tmp_path_factory.mktemp("grid") / "synthetic_lorient_grid.csv"
    frame.to_csv(path, sep=";", index=False)
    return path


def test_layers_on_lorient_writes_every_layer(tmp_path, lorient_pbf):
    out = tmp_path / "out"
    res = qet("layers", lorient_pbf, "--territory", DEMO_TERRITORY, "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    gpkg = out / "layers.gpkg"
    assert summary["output"] == str(gpkg)
    names = {row[0] for row in pyogrio.list_layers(gpkg)}
    assert set(REQUIRED) <= names
    for name in REQUIRED:
        gdf = gpd.read_file(gpkg, layer=name)
        assert len(gdf) == summary["layers"][name] > 0
        assert gdf.crs.to_epsg() == 2154
    amenities = gpd.read_file(gpkg, layer="amenities")
    assert "category" in amenities.columns and amenities["category"].notna().all()
    streets = gpd.read_file(gpkg, layer="streets")
    assert {"u", "v", "key", "length"} <= set(streets.columns)
    # the 1 km buffer around the demo neighbourhood keeps most of the extract
    assert summary["buffer_m"] == 1000
    assert summary["layers"]["buildings"] > 1500
    # built in a private staging folder, renamed: still readable by a web server or a colleague
    assert out.stat().st_mode & 0o055 == 0o055


def test_dem_census_and_landcover(tmp_path, lorient_pbf, lorient_dem, lorient_grid_csv):
    # a categorical land cover in CLC codes over the same area: west half urban, east half water
    with rasterio.open(lorient_dem) as dem:
        bounds, shape = dem.bounds, dem.shape
    lc = np.full(shape, 111, dtype="uint16")
    lc[:, shape[1] // 2 :] = 511
    lc_path = tmp_path / "lc.tif"
    with rasterio.open(
        lc_path,
        "w",
        driver="GTiff",
        width=shape[1],
        height=shape[0],
        count=1,
        dtype="uint16",
        crs="EPSG:2154",
        transform=from_origin(bounds.left, bounds.top, 10, 10),
    ) as dst:
        dst.write(lc, 1)
    out = tmp_path / "out"
    res = qet(
        "layers",
        lorient_pbf,
        "--territory",
        DEMO_TERRITORY,
        "--buffer",
        "0",
        "--dem",
        lorient_dem,
        "--census",
        lorient_grid_csv,
        "--landcover",
        lc_path,
        "--out",
        out,
        "--json",
    )
    assert res.exit_code == 0, res.output
    gpkg = out / "layers.gpkg"
    streets = gpd.read_file(gpkg, layer="streets")
    assert {"grade", "mean_abs_grade"} <= set(streets.columns)
    assert streets["grade"].notna().mean() > 0.9
    # Lorient's centre climbs from the harbour: some streets slope, none like a cliff
    assert 0.005 < streets["mean_abs_grade"].median() < 0.1
    assert streets["mean_abs_grade"].max() < 0.5
    cells = gpd.read_file(gpkg, layer="cells")
    assert {"cell_id", "population", "slope_pct", "lc_artificial", "lc_water"} <= set(cells.columns)
    assert np.allclose(cells[["lc_artificial", "lc_water"]].sum(axis=1).dropna(), 1.0)
    buildings = gpd.read_file(gpkg, layer="buildings")
    residential = buildings[buildings["residential"].astype(bool)]
    assert (
        buildings.loc[~buildings["residential"].astype(bool), "population"].fillna(0) == 0
    ).all()
    # people are conserved where cells hold homes (dasymetric allocation by floor area)
    assert residential["population"].sum() == pytest.approx(
        cells["population"].sum() - buildings.attrs.get("unallocated", 0), rel=0.35
    )
    assert residential["population"].sum() > 0


def test_iris_layer_and_table_for_a_paris_neighbourhood(tmp_path):
    """IRIS contours + census table: the territory from codes; Lorient's extract does not reach."""
    layer = shared("census", "paris_iris", "ParisIris_2013_L93.gpkg")
    table = shared("census", "paris_iris", "RP_2011_CS8_Paris_by_IRIS.csv")
    res = qet(
        "layers",
        shared("osm", "lorient_centre.osm.pbf"),
        "--iris",
        "751145620",
        "--iris-layer",
        layer,
        "--census",
        table,
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 2
    assert "n'atteint pas le territoire" in res.output
    assert not (tmp_path / "o").exists()


BAD_CASES = {
    "truncated_pbf": "tronqué, corrompu",
    "not_osm": "tronqué, corrompu",
    "empty": "vide",
    "elsewhere": "n'atteint pas le territoire",
    "no_prj": ".prj",
    "raster_no_crs": "système de coordonnées",
    "unknown_iris": "999999999",
    "gtfs_elsewhere": "aucun arrêt",
    "grid_elsewhere": "aucun carreau",
    "missing_file": "introuvable",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_exits_2_with_one_clear_line(case, tmp_path, lorient_pbf):
    osm = lorient_pbf
    extra: list[object] = []
    if case == "truncated_pbf":
        osm = tmp_path / "cut.osm.pbf"
        osm.write_bytes(lorient_pbf.read_bytes()[:100_000])
    elif case == "not_osm":
        osm = tmp_path / "x.osm"
        osm.write_text("hello")
    elif case == "empty":
        osm = tmp_path / "e.osm"
        osm.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    elif case == "elsewhere":
        extra = [
            "--commune",
            "75056",
            "--communes-layer",
            shared("census", "communes", "communes-75-paris.geojson"),
        ]
    elif case == "no_prj":
        src = shared("osm", "lorient_layers", "buildings.shp")
        for ext in (".shp", ".shx", ".dbf"):
            shutil.copy(src.with_suffix(ext), tmp_path / f"t{ext}")
        extra = ["--territory", tmp_path / "t.shp"]
    elif case == "raster_no_crs":
        dem = tmp_path / "nocrs.tif"
        with rasterio.open(
            dem,
            "w",
            driver="GTiff",
            width=4,
            height=4,
            count=1,
            dtype="float32",
            transform=from_origin(0, 4, 1, 1),
        ) as dst:
            dst.write(np.zeros((4, 4), "float32"), 1)
        extra = ["--dem", dem]
    elif case == "unknown_iris":
        extra = [
            "--iris",
            "999999999",
            "--iris-layer",
            shared("census", "paris_iris", "ParisIris_2013_L93.gpkg"),
        ]
    elif case == "gtfs_elsewhere":
        extra = ["--gtfs", shared("gtfs", "ajaccio_muvitarra_gtfs.zip")]
    elif case == "grid_elsewhere":
        extra = ["--census", shared("census", "filosofi_200m_olemps", "population.shp")]
    elif case == "missing_file":
        osm = tmp_path / "absent.osm.pbf"
    out = tmp_path / "out"
    res = qet("layers", osm, *extra, "--out", out)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Erreur")]
    assert len(errors) == 1 and BAD_CASES[case] in res.output, res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_failure_leaves_previous_output_untouched(tmp_path, lorient_pbf):
    out = tmp_path / "out"
    assert qet("layers", lorient_pbf, "--out", out).exit_code == 0
    before = (out / "layers.gpkg").read_bytes()
    res = qet(
        "layers", lorient_pbf, "--gtfs", shared("gtfs", "ajaccio_muvitarra_gtfs.zip"), "--out", out
    )
    assert res.exit_code == 2
    assert (out / "layers.gpkg").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["layers.gpkg"]


def test_english_messages_and_option_conflicts(tmp_path, lorient_pbf):
    res = runner.invoke(
        app,
        ["--lang", "en", "layers", str(tmp_path / "none.osm.pbf"), "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "Error" in res.output and "not found" in res.output
    res = qet("layers", lorient_pbf, "--iris", "751145620", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "--iris-layer" in res.output
    res = qet(
        "layers",
        lorient_pbf,
        "--commune",
        "56121",
        "--territory",
        DEMO_TERRITORY,
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 2 and "une seule" in res.output


def test_console_script_runs_for_real(tmp_path):
    qet_bin = Path(sys.executable).parent / "qet"
    res = subprocess.run([str(qet_bin), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "layers" in res.stdout
    res = subprocess.run(
        [
            str(qet_bin),
            "layers",
            str(shared("osm", "nantes_hypercentre.osm.pbf")),
            "--out",
            str(tmp_path / "n"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["layers"]["buildings"] >= 309


def test_iris_path_end_to_end(tmp_path, lorient_pbf):
    """SYNTHETIC IRIS over Lorient (two halves of the demo box, made-up codes and counts)."""
    import shapely

    from qet_geo.inputs.territory import territory_from_file

    box = territory_from_file(DEMO_TERRITORY, buffer_m=0).geometry
    minx, miny, maxx, maxy = box.bounds
    midx = (minx + maxx) / 2
    iris = gpd.GeoDataFrame(
        {"CODE_IRIS": ["561210101", "561210102"], "NOM_IRIS": ["Ouest", "Est"]},
        geometry=[shapely.box(minx, miny, midx, maxy), shapely.box(midx, miny, maxx, maxy)],
        crs=2154,
    )
    iris.to_file(tmp_path / "iris.gpkg")
    table = tmp_path / "table.csv"
    table.write_text("IRIS;P19_POP\n561210101;3000\n561210102;1200\n")
    out = tmp_path / "out"
    res = qet(
        "layers",
        lorient_pbf,
        "--iris",
        "561210101",
        "--iris-layer",
        tmp_path / "iris.gpkg",
        "--census",
        table,
        "--out",
        out,
        "--json",
    )
    assert res.exit_code == 0, res.output
    gpkg = out / "layers.gpkg"
    layer = gpd.read_file(gpkg, layer="iris")
    assert set(layer["iris_code"]) == {"561210101", "561210102"}  # both within the 1 km buffer
    assert layer.set_index("iris_code").loc["561210101", "population"] == 3000
    territory = gpd.read_file(gpkg, layer="territory")
    assert territory["iris_codes"].iloc[0] == "561210101"
    buildings = gpd.read_file(gpkg, layer="buildings")
    assert buildings["population"].sum() == pytest.approx(4200, rel=1e-6)
