"""Tests of qet_geo.inputs.census: INSEE 200 m grid, IRIS, dasymetric allocation."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qet_geo.errors import (
    CRSError,
    InputFileError,
    QetGeoWarning,
    UnknownCodeError,
    ValidationError,
)
from qet_geo.inputs.census import (
    allocate_population,
    cell_id_to_polygon,
    point_to_cell_id,
    read_grid,
    read_iris,
)

DATA = Path(__file__).parents[2].parent / "shared" / "data"
GRID_SHP = DATA / "census" / "filosofi_200m_olemps" / "population.shp"
IRIS_GPKG = DATA / "census" / "paris_iris" / "ParisIris_2013_L93.gpkg"
IRIS_TABLE = DATA / "census" / "paris_iris" / "RP_2011_CS8_Paris_by_IRIS.csv"
ID_PATTERN = r"CRS3035RES200mN\d{7}E\d{7}"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (expected ../shared/data beside the repo)")
    return path


@pytest.fixture(scope="module")
def raw_grid() -> gpd.GeoDataFrame:
    return gpd.read_file(_require(GRID_SHP))


@pytest.fixture(scope="module")
def grid() -> gpd.GeoDataFrame:
    with pytest.warns(QetGeoWarning, match="13 cell"):
        return read_grid(_require(GRID_SHP))


# --- INSEE 200 m grid ---------------------------------------------------------------------------


def test_read_grid_real_olemps(grid: gpd.GeoDataFrame, raw_grid: gpd.GeoDataFrame) -> None:
    assert grid.crs.to_epsg() == 2154
    assert len(grid) == 457
    assert list(grid.columns[:2]) == ["cell_id", "population"]
    assert grid["cell_id"].str.fullmatch(ID_PATTERN).all()
    assert grid["cell_id"].is_unique
    assert grid["population"].dtype == float
    assert grid["population"].sum() == pytest.approx(raw_grid["ind"].sum())
    # the file's ids are kept where present, other columns kept in lower case
    known = raw_grid["id_car2010"].notna()
    assert (grid["cell_id"][known] == raw_grid["id_car2010"][known]).all()
    assert {"depcom", "men", "ind_80p"} <= set(grid.columns)
    assert "ind" not in grid.columns and "id_car2010" not in grid.columns


def test_cells_rebuilt_from_ids_coincide_with_file_geometry(
    grid: gpd.GeoDataFrame, raw_grid: gpd.GeoDataFrame
) -> None:
    rebuilt = cell_id_to_polygon(grid["cell_id"])
    assert rebuilt.crs.to_epsg() == 3035
    bounds = rebuilt.bounds
    assert np.allclose(bounds["maxx"] - bounds["minx"], 200.0)
    assert np.allclose(bounds["maxy"] - bounds["miny"], 200.0)
    assert np.allclose(rebuilt.area, 40_000.0)
    # the strong check: every rebuilt square is the file's own square, to the centimetre
    file_cells = raw_grid.geometry.to_crs(3035)
    distance = shapely.hausdorff_distance(rebuilt.to_numpy(), file_cells.to_numpy())
    assert distance.max() < 0.01


def test_missing_ids_are_derived_from_geometry(
    grid: gpd.GeoDataFrame, raw_grid: gpd.GeoDataFrame
) -> None:
    missing = raw_grid["id_car2010"].isna()
    assert missing.sum() == 13
    derived = grid.loc[missing.to_numpy(), "cell_id"]
    centres = raw_grid.geometry[missing].to_crs(3035).centroid
    for cell_id, centre in zip(derived, centres, strict=True):
        assert cell_id_to_polygon([cell_id]).iloc[0].contains(centre)


def test_read_grid_csv_without_geometry_gives_same_cells(
    tmp_path: Path, grid: gpd.GeoDataFrame, raw_grid: gpd.GeoDataFrame
) -> None:
    attributes = pyogrio.read_dataframe(GRID_SHP, read_geometry=False)
    csv = tmp_path / "carreaux.csv"
    attributes.to_csv(csv, sep=";", index=False)
    with pytest.warns(QetGeoWarning, match=r"13 row\(s\).*dropped"):
        from_csv = read_grid(csv)
    assert from_csv.crs.to_epsg() == 2154
    assert len(from_csv) == 444
    reference = grid.set_index("cell_id").loc[from_csv["cell_id"]]
    assert np.allclose(from_csv["population"], reference["population"])
    assert (from_csv["depcom"].to_numpy() == reference["depcom"].to_numpy()).all()
    distance = shapely.hausdorff_distance(
        from_csv.geometry.to_numpy(), reference.geometry.to_numpy()
    )
    assert distance.max() < 0.01


def test_read_grid_csv_comma_and_short_ids(tmp_path: Path) -> None:
    csv = tmp_path / "cells.csv"
    csv.write_text("IdINSPIRE,Ind\nCRS3035RES200mN2029800E4252000,12.5\n200mN2030000E4252000,3\n")
    cells = read_grid(csv)
    assert cells["cell_id"].tolist() == [
        "CRS3035RES200mN2029800E4252000",
        "CRS3035RES200mN2030000E4252000",
    ]
    assert cells["population"].tolist() == [12.5, 3.0]
    square = cells.geometry.to_crs(3035).iloc[0]
    assert np.allclose(square.bounds, (4252000, 2029800, 4252200, 2030000), atol=1e-6)


def test_read_grid_semicolon_decimal_comma(tmp_path: Path) -> None:
    csv = tmp_path / "cells.csv"
    csv.write_text("idcar_200m;ind;depcom\nCRS3035RES200mN2387600E3728800;12,5;01004\n")
    cells = read_grid(csv)
    assert cells["population"].iloc[0] == 12.5
    assert cells["depcom"].iloc[0] == "01004"


def test_read_grid_bbox_and_mask(grid: gpd.GeoDataFrame) -> None:
    cell = grid.geometry.iloc[0]
    box = cell.centroid.buffer(5).bounds  # the cells are tilted in Lambert-93
    selected = read_grid(GRID_SHP, bbox=box)
    assert selected["cell_id"].tolist() == [grid["cell_id"].iloc[0]]
    region = cell.centroid.buffer(300)
    expected = grid[grid.intersects(region) & ~grid.touches(region)]
    masked = read_grid(GRID_SHP, mask=region)
    assert len(masked) > 1
    assert set(masked["cell_id"]) == set(expected["cell_id"])
    with pytest.raises(ValidationError, match="not both"):
        read_grid(GRID_SHP, bbox=box, mask=region)


def test_read_grid_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found") as info:
        read_grid(tmp_path / "nope.shp")
    assert info.value.path == str(tmp_path / "nope.shp")
    assert "introuvable" in info.value.message_fr


def test_read_grid_shapefile_without_prj(tmp_path: Path, grid: gpd.GeoDataFrame) -> None:
    for suffix in (".shp", ".shx", ".dbf"):
        shutil.copy(GRID_SHP.with_suffix(suffix), tmp_path / f"population{suffix}")
    target = tmp_path / "population.shp"
    with pytest.raises(CRSError, match=r"\.prj.*crs=") as info:
        read_grid(target)
    assert info.value.path == str(target)
    with pytest.warns(QetGeoWarning, match="13 cell"):
        fixed = read_grid(target, crs="EPSG:2154")
    assert fixed.crs.to_epsg() == 2154
    assert (fixed["cell_id"] == grid["cell_id"]).all()


def test_read_grid_wrong_crs_is_detected(tmp_path: Path) -> None:
    for suffix in (".shp", ".shx", ".dbf"):
        shutil.copy(GRID_SHP.with_suffix(suffix), tmp_path / f"population{suffix}")
    with pytest.warns(QetGeoWarning) as record:
        read_grid(tmp_path / "population.shp", crs="EPSG:27572")
    assert any("does not match their geometry" in str(w.message) for w in record)


def test_read_grid_no_id_no_geometry(tmp_path: Path) -> None:
    csv = tmp_path / "cells.csv"
    csv.write_text("code,ind\nA,1\n")
    with pytest.raises(ValidationError, match="Columns found: code, ind"):
        read_grid(csv)


def test_read_grid_unparsable_id(tmp_path: Path) -> None:
    csv = tmp_path / "cells.csv"
    csv.write_text("idcar_200m,ind\nCRS3035RES200mN2029800E4252000,1\nN2029800,2\n")
    with pytest.raises(ValidationError, match="'N2029800'"):
        read_grid(csv)


@pytest.mark.parametrize(
    ("bad", "match"),
    [("CRS5490RES200mN1791800E0712600", "EPSG:3035"), ("CRS3035RES200mN2029850E4252000", "grid")],
)
def test_cell_id_to_polygon_rejects(bad: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        cell_id_to_polygon([bad])


def test_cell_id_to_polygon_2019_form_and_resolution() -> None:
    ids = pd.Series(["CRS3035RES200mN2029800E4252000", None, "CRS3035RES1000mN2029000E4252000"])
    polygons = cell_id_to_polygon(ids)
    assert polygons.index.equals(ids.index)
    assert polygons.iloc[0].bounds == (4252000.0, 2029800.0, 4252200.0, 2030000.0)
    assert polygons.iloc[1] is None
    assert polygons.iloc[2].area == 1_000_000.0


def test_point_to_cell_id_round_trip(grid: gpd.GeoDataFrame) -> None:
    centres = grid.geometry.centroid.to_crs(4326)
    ids = point_to_cell_id(centres)
    assert ids.index.equals(grid.index)
    assert (ids == grid["cell_id"]).all()
    corner = gpd.GeoSeries([shapely.Point(4252199.9, 2029800.0), None], crs=3035)
    assert point_to_cell_id(corner).iloc[0] == "CRS3035RES200mN2029800E4252000"
    assert pd.isna(point_to_cell_id(corner).iloc[1])
    km = point_to_cell_id(corner, resolution_m=1000).iloc[0]
    assert km == "CRS3035RES1000mN2029000E4252000"
    with pytest.raises(CRSError):
        point_to_cell_id(gpd.GeoSeries([shapely.Point(0, 0)]))


# --- IRIS ---------------------------------------------------------------------------------------


def test_read_iris_paris_with_table() -> None:
    table = pd.read_csv(_require(IRIS_TABLE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iris = read_iris(_require(IRIS_GPKG), table=IRIS_TABLE)
    assert iris.crs.to_epsg() == 2154
    assert len(iris) == 992
    assert iris["iris_code"].str.fullmatch(r"\d{9}").all()
    assert iris["iris_code"].is_unique
    assert iris["C11_POP15P"].notna().sum() == 992  # joins 992/992
    assert iris["population_15p"].sum() == table["C11_POP15P"].sum()
    assert "population" not in iris.columns  # a 15+ table is not the total population
    row = iris.set_index("iris_code").loc["751145620"]
    assert row["iris_name"] == "PLAISANCE 20"
    assert row["C11_POP15P"] == 2502


def test_read_iris_codes_filter_and_unknown() -> None:
    iris = read_iris(IRIS_GPKG, codes=["751010101", "751145620"])
    assert sorted(iris["iris_code"]) == ["751010101", "751145620"]
    with pytest.raises(UnknownCodeError, match="751019999") as info:
        read_iris(IRIS_GPKG, codes=["751010101", "751019999"])
    message = str(info.value)
    assert "1 IRIS code(s)" in message and "75101010" in message  # a near code of the same area
    assert "751019999" in info.value.message_fr


def test_read_iris_unjoined_rows_warn() -> None:
    table = pd.DataFrame({"IRIS": [751010101, 999999999], "P19_POP": [100.0, 5.0]})
    with pytest.warns(QetGeoWarning, match="1 of 2 rows of table match no IRIS"):
        iris = read_iris(IRIS_GPKG, codes=["751010101"], table=table)
    assert iris["population"].tolist() == [100.0]
    assert "IRIS" in table.columns  # input not mutated


@pytest.fixture
def small_iris(tmp_path: Path) -> Path:
    layer = gpd.GeoDataFrame(
        {
            "INSEE_COM": ["01004", "01004"],
            "IRIS": ["0101", "0102"],
            "CODE_IRIS": ["010040101", "010040102"],
            "NOM_IRIS": ["Centre", "Gare"],
        },
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
        crs="EPSG:2154",
    )
    path = tmp_path / "iris.gpkg"
    layer.to_file(path)
    return path


def test_read_iris_pads_lost_leading_zeros(tmp_path: Path, small_iris: Path) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("CODGEO;P19_POP;P19_POP15P\n10040101;120,5;100\n10040102;80;60\n")
    iris = read_iris(small_iris, table=csv, table_code_column="CODGEO")
    assert iris["iris_code"].tolist() == ["010040101", "010040102"]
    assert iris["population"].tolist() == [120.5, 80.0]
    assert iris["population_15p"].tolist() == [100.0, 60.0]
    assert iris["iris_name"].tolist() == ["Centre", "Gare"]


def test_read_iris_combines_commune_and_iris_number(tmp_path: Path) -> None:
    layer = gpd.GeoDataFrame(
        {"DEPCOM": ["01004"], "IRIS": ["101"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=2154
    )
    path = tmp_path / "iris.gpkg"
    layer.to_file(path)
    assert read_iris(path)["iris_code"].tolist() == ["010040101"]


def test_read_iris_table_duplicates_and_missing(small_iris: Path) -> None:
    table = pd.DataFrame({"IRIS": ["010040101", "010040101"], "P19_POP": [1, 2]})
    with pytest.raises(ValidationError, match="aggregate"):
        read_iris(small_iris, table=table)
    with pytest.warns(QetGeoWarning, match="1 IRIS have no row"):
        iris = read_iris(small_iris, table=table.head(1))
    assert iris["population"].isna().tolist() == [False, True]


def test_read_iris_cs8_sum_is_population_15p(small_iris: Path) -> None:
    parts = {f"C11_POP15P_CS{k}": [k, 0] for k in range(1, 9)}
    table = pd.DataFrame({"IRIS": ["010040101", "010040102"], **parts})
    iris = read_iris(small_iris, table=table)
    assert iris["population_15p"].tolist() == [36.0, 0.0]
    assert "population" not in iris.columns


def test_read_iris_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_iris(tmp_path / "missing.gpkg")
    with pytest.raises(InputFileError, match="table="):
        read_iris(IRIS_TABLE)
    layer = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=2154)
    path = tmp_path / "nocode.gpkg"
    layer.to_file(path)
    with pytest.raises(ValidationError, match="no IRIS code column"):
        read_iris(path)


# --- dasymetric allocation -----------------------------------------------------------------------


def _zones() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [100.0, 50.0, 30.0]},
        geometry=[shapely.box(x, 0, x + 100, 100) for x in (0, 100, 200)],
        index=["a", "b", "c"],
        crs="EPSG:2154",
    )


def _buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "residential": [True, True, False, True, True],
            "levels": [1.0, 3.0, 5.0, np.nan, np.nan],
            "height": [np.nan, np.nan, np.nan, 9.0, np.nan],
        },
        geometry=[
            shapely.box(10, 10, 20, 20),  # zone a, 100 m² x 1
            shapely.box(30, 30, 40, 40),  # zone a, 100 m² x 3
            shapely.box(50, 50, 90, 90),  # zone a, not residential
            shapely.box(110, 10, 130, 20),  # zone b, 200 m² x (9 m / 3)
            shapely.box(140, 10, 150, 20),  # zone b, 100 m² x default 1
        ],
        index=[10, 11, 12, 13, 14],
        crs="EPSG:2154",
    )


def test_allocate_population_by_floor_area() -> None:
    buildings, zones = _buildings(), _zones()
    with pytest.warns(QetGeoWarning, match=r"1 zone\(s\).*30 people") as record:
        result = allocate_population(buildings, zones)
    warning = record[0].message
    assert isinstance(warning, QetGeoWarning) and "30 habitants" in warning.message_fr
    assert result.name == "population"
    assert result.index.equals(buildings.index)
    assert result.tolist() == pytest.approx([25.0, 75.0, 0.0, 42.857142857, 7.142857143])
    assert result.attrs["unallocated"] == 30.0
    assert result.attrs["unallocated_zones"] == ["c"]
    assert list(buildings.columns) == ["residential", "levels", "height", "geometry"]


def test_allocate_population_boundary_and_crs() -> None:
    zones = _zones().to_crs(4326)  # reprojected to the buildings' CRS
    buildings = gpd.GeoDataFrame(
        {"residential": [True]}, geometry=[shapely.box(90, 40, 110, 60)], crs="EPSG:2154"
    )
    with pytest.warns(QetGeoWarning):
        result = allocate_population(buildings, zones)
    assert result.iloc[0] in (pytest.approx(100.0), pytest.approx(50.0))  # one zone, not both
    assert result.iloc[0] + result.attrs["unallocated"] == pytest.approx(180.0)


def test_allocate_population_errors() -> None:
    buildings, zones = _buildings(), _zones()
    with pytest.raises(ValidationError, match="residential"):
        allocate_population(buildings.drop(columns="residential"), zones)
    with pytest.raises(ValidationError, match="'people'"):
        allocate_population(buildings, zones, population_column="people")
    with pytest.raises(CRSError, match="geographic"):
        allocate_population(buildings.to_crs(4326), zones)
    with pytest.raises(CRSError):
        allocate_population(buildings.set_crs(None, allow_override=True), zones)
    negative = zones.assign(population=[-1.0, 0.0, 0.0])
    with pytest.raises(ValidationError, match="negative"):
        allocate_population(buildings, negative)


_cell = st.tuples(st.integers(0, 2), st.integers(0, 2))
_building = st.tuples(
    _cell,
    st.integers(10, 80),  # x offset inside the cell
    st.integers(10, 80),  # y offset
    st.integers(1, 9),  # width
    st.integers(1, 9),  # depth
    st.booleans(),  # residential
    st.one_of(st.none(), st.floats(0.5, 20)),  # levels
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    populations=st.lists(st.floats(0, 1e4), min_size=9, max_size=9),
    specs=st.lists(_building, max_size=25),
)
def test_allocate_population_conserves_people(populations: list[float], specs: list[tuple]) -> None:
    zones = gpd.GeoDataFrame(
        {"population": populations},
        geometry=[
            shapely.box(i * 100, j * 100, i * 100 + 100, j * 100 + 100)
            for i in range(3)
            for j in range(3)
        ],
        crs="EPSG:2154",
    )
    cells = [(i, j) for i in range(3) for j in range(3)]
    geometries = [
        shapely.box(i * 100 + x, j * 100 + y, i * 100 + x + w, j * 100 + y + d)
        for (i, j), x, y, w, d, _, _ in specs
    ]
    buildings = gpd.GeoDataFrame(
        {
            "residential": pd.Series([s[5] for s in specs], dtype=bool),
            "levels": pd.Series([np.nan if s[6] is None else s[6] for s in specs], dtype=float),
        },
        geometry=geometries,
        crs="EPSG:2154",
    )
    occupied = {cells.index(s[0]) for s in specs if s[5]}
    expected = sum(populations[k] for k in occupied)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = allocate_population(buildings, zones)
    assert result.sum() == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert result.attrs["unallocated"] == pytest.approx(sum(populations) - expected, abs=1e-6)
    assert (result >= 0).all()
    assert (result[~buildings["residential"]] == 0).all()
