"""Tests of qet_geo.inputs.raster on real rasters (Cahors, Lot) and small synthetic GeoTIFFs."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import shapely.affinity
from affine import Affine
from pyproj import Transformer

from qet_geo.errors import (
    CRSError,
    DataCoverageError,
    InputFileError,
    ValidationError,
)
from qet_geo.inputs.raster import (
    CLC_INDEX_TO_CODE,
    CLC_LEVEL1_NAMES,
    Raster,
    cell_slope,
    edge_slope,
    elevation_at,
    landcover_shares,
    open_raster,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CAHORS = DATA / "raster" / "cahors_lot"

# Planar synthetic DEM: z = Z0 + GX * (x - X0) + GY * (y - Y0), slope hypot(GX, GY) = 5 %.
X0, Y0 = 600_003.0, 6_400_007.0  # deliberately off the 200 m INSEE grid
GX, GY, Z0 = 0.04, -0.03, 150.0
RES = 5.0
SIZE = 400  # pixels: 2 km x 2 km


def _cahors(name: str) -> Path:
    path = CAHORS / name
    if not path.exists():  # real data is required: fail, never skip
        pytest.fail(f"missing test data {path}; see ../shared/data/PROVENANCE.md")
    return path


def _write_tif(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    crs: str | None,
    nodata: float | None = None,
) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture(scope="module")
def planar_dem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    transform = Affine(RES, 0.0, X0, 0.0, -RES, Y0 + SIZE * RES)
    cols, rows = np.meshgrid(np.arange(SIZE), np.arange(SIZE))
    x, y = transform.c + (cols + 0.5) * RES, transform.f - (rows + 0.5) * RES
    z = Z0 + GX * (x - X0) + GY * (y - Y0)
    path = tmp_path_factory.mktemp("dem") / "planar_l93.tif"
    return _write_tif(path, z.astype(np.float64), transform, "EPSG:2154")


@pytest.fixture(scope="module")
def cahors_grid() -> gpd.GeoSeries:
    """200 m squares on the INSEE grid, every 1.4 km across the Cahors rasters."""
    left, bottom, right, top = open_raster(_cahors("elev.tif")).footprint.buffer(-2000).bounds
    xs = np.arange(200 * np.ceil(left / 200), right - 200, 1400)
    ys = np.arange(200 * np.ceil(bottom / 200), top - 200, 1400)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    return gpd.GeoSeries(shapely.box(gx, gy, gx + 200, gy + 200), crs=2154)


# -- real data -------------------------------------------------------------------------------------


def test_srtm_reprojected_on_the_fly_agrees_with_lambert93_dem() -> None:
    srtm = open_raster(_cahors("elevation.tif"))
    l93 = open_raster(_cahors("elev.tif"))
    assert srtm.crs.to_epsg() == 4326 and not srtm.native_l93
    assert 25 < srtm.res_m < 32  # 1 arc-second at 44.5 N
    overlap = srtm.footprint.intersection(l93.footprint).buffer(-1000)
    left, bottom, right, top = overlap.bounds
    rng = np.random.default_rng(42)
    pts = gpd.GeoSeries(
        shapely.points(rng.uniform(left, right, 300), rng.uniform(bottom, top, 300)), crs=2154
    )
    diff = (elevation_at(pts, srtm) - elevation_at(pts, l93)).abs()
    assert diff.notna().all()
    # Measured: median 1.3 m, 90th percentile 4.4 m (the 100 m grid smooths valley sides).
    assert diff.median() < 2.5
    assert diff.quantile(0.9) < 6.0


def test_read_is_restricted_to_the_bbox() -> None:
    srtm = open_raster(_cahors("elevation.tif"))
    x, y = shapely.get_coordinates(srtm.footprint.centroid)[0]
    win = srtm.read((x - 500, y - 500, x + 500, y + 500))
    rows, cols = win.data.shape
    assert rows * cols < 60 * 60 < srtm.width * srtm.height  # ~1 km + margin, not 1300 x 987
    left, bottom, right, top = win.bounds
    assert left <= x - 500 and right >= x + 500 and bottom <= y - 500 and top >= y + 500


def test_points_in_lonlat_are_reprojected() -> None:
    l93 = open_raster(_cahors("elev.tif"))
    lon, lat = [1.4410, 1.50, 1.40], [44.4475, 44.40, 44.50]
    wgs = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]}, geometry=gpd.points_from_xy(lon, lat), crs=4326, index=[7, 3, 5]
    )
    got = elevation_at(wgs, l93)
    expected = elevation_at(wgs.to_crs(2154).geometry, l93)
    assert list(got.index) == [7, 3, 5] and got.name == "elevation_m"
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    assert got.between(90, 420).all()


def test_edge_slope_on_a_cahors_valley_side() -> None:
    l93 = open_raster(_cahors("elev.tif"))
    # The steepest 100 m pixel of the Lot valley sides, and a 300 m line up its gradient.
    with rasterio.open(l93.path) as src:
        z = src.read(1)
        t = src.transform
    gy, gx = np.gradient(z, -t.e, t.a)
    slope = np.hypot(gx, -gy)
    slope[:5], slope[-5:], slope[:, :5], slope[:, -5:] = np.nan, np.nan, np.nan, np.nan
    r, c = np.unravel_index(np.nanargmax(slope), slope.shape)
    x, y = t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e
    ux, uy = gx[r, c] / slope[r, c], -gy[r, c] / slope[r, c]
    up = shapely.LineString([(x - 150 * ux, y - 150 * uy), (x + 150 * ux, y + 150 * uy)])
    edges = gpd.GeoDataFrame({"osmid": [1, 2]}, geometry=[up, up.reverse()], crs=2154)
    before = edges.copy()

    res = edge_slope(edges, l93)

    pd.testing.assert_frame_equal(edges, before)  # input untouched
    assert list(res.columns) == [
        "elev_start_m",
        "elev_end_m",
        "grade",
        "mean_abs_grade",
        "max_abs_grade",
    ]
    fwd, rev = res.iloc[0], res.iloc[1]
    assert fwd.grade > 0.3  # measured 0.59: a cliff of the Lot valley
    assert rev.grade == pytest.approx(-fwd.grade)
    assert rev.elev_start_m == pytest.approx(fwd.elev_end_m)
    assert (res.mean_abs_grade >= res.grade.abs() - 1e-12).all()
    assert (res.max_abs_grade >= res.mean_abs_grade).all()
    assert fwd.mean_abs_grade == pytest.approx(rev.mean_abs_grade)
    # Same line on the SRTM reprojected on the fly: same sign, similar steepness.
    srtm_res = edge_slope(edges, _cahors("elevation.tif"))
    assert np.sign(srtm_res.grade.to_numpy()).tolist() == [1.0, -1.0]
    assert srtm_res.grade.iloc[0] == pytest.approx(fwd.grade, rel=0.25)


def test_cell_slope_from_srtm_and_l93_dem_agree(cahors_grid: gpd.GeoSeries) -> None:
    a = cell_slope(cahors_grid, _cahors("elev.tif"))
    b = cell_slope(cahors_grid, _cahors("elevation.tif"))
    assert a.name == "slope_pct" and a.index.equals(cahors_grid.index)
    assert a.notna().all() and b.notna().all()
    assert np.corrcoef(a, b)[0, 1] > 0.9  # measured 0.975
    assert 3 < a.median() < 30  # Quercy causses and valleys
    assert b.mean() > a.mean()  # a 30 m DEM shows steeper slopes than a 100 m one


def test_landcover_shares_cahors_rows_sum_to_one(cahors_grid: gpd.GeoSeries) -> None:
    shares = landcover_shares(cahors_grid, _cahors("clc.tif"))
    assert list(shares.columns) == list(CLC_LEVEL1_NAMES)
    assert shares.notna().all().all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)
    assert ((shares >= 0) & (shares <= 1 + 1e-12)).all().all()
    # CLC 2018 around Cahors: mostly forest (311 broad-leaved) and farmland.
    assert shares.forest_seminatural.mean() > shares.agricultural.mean() > shares.artificial.mean()
    # The 200 m square holding Cahors cathedral (lon 1.4410, lat 44.4475) is urban fabric.
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(1.4410, 44.4475)
    x0, y0 = 200 * np.floor(x / 200), 200 * np.floor(y / 200)
    centre = gpd.GeoSeries([shapely.box(x0, y0, x0 + 200, y0 + 200)], crs=2154)
    assert landcover_shares(centre, _cahors("clc.tif")).artificial.iloc[0] == pytest.approx(1.0)


# -- synthetic rasters: exact answers --------------------------------------------------------------


def test_edge_slope_on_planar_dem_is_exact(planar_dem: Path) -> None:
    cx, cy = X0 + 1000.0, Y0 + 1000.0
    lines = [
        shapely.LineString([(cx, cy), (cx + 250, cy)]),  # east: +GX
        shapely.LineString([(cx, cy), (cx, cy + 173.2)]),  # north: +GY
        shapely.LineString([(cx, cy), (cx + 300, cy + 400)]),  # diagonal
        # up then down: two 100 m legs climbing then descending 3 m (at +-60 m along the
        # gradient direction (0.8, -0.6)), so net zero but 6 m of climb and descent over 200 m
        shapely.LineString([(cx, cy), (cx + 96, cy + 28), (cx + 96, cy + 128)]),
    ]
    edges = gpd.GeoDataFrame(geometry=lines, crs=2154, index=["e", "n", "d", "v"])
    res = edge_slope(edges, planar_dem, step_m=10.0)
    diag = (GX * 300 + GY * 400) / 500
    np.testing.assert_allclose(res.grade, [GX, GY, diag, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.elev_start_m, Z0 + GX * 1000 + GY * 1000, rtol=1e-12)
    np.testing.assert_allclose(res.mean_abs_grade, [GX, abs(GY), abs(diag), 0.03], atol=1e-9)
    np.testing.assert_allclose(res.max_abs_grade, [GX, abs(GY), abs(diag), 0.03], atol=1e-9)
    rev = edge_slope(edges.set_geometry(edges.geometry.reverse()), planar_dem)
    np.testing.assert_allclose(rev.grade, -res.grade, atol=1e-9)


def test_cell_slope_on_planar_dem_is_analytical(planar_dem: Path) -> None:
    x0, y0 = 200 * np.ceil((X0 + 100) / 200), 200 * np.ceil((Y0 + 100) / 200)
    squares = [shapely.box(x0 + i * 200, y0, x0 + (i + 1) * 200, y0 + 200) for i in range(3)]
    centre = shapely.Point(X0 + 1000, Y0 + 1000)
    others = [
        centre.buffer(150),  # round: exact clipped-pixel weights
        shapely.affinity.rotate(shapely.box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1100), 30),
        centre.buffer(600),  # large: pixel-centre weights
        shapely.box(X0 + 1000.5, Y0 + 1000.5, X0 + 1002, Y0 + 1002),  # smaller than a pixel
    ]
    cells = gpd.GeoDataFrame(geometry=squares + others, crs=2154)
    slope = cell_slope(cells, planar_dem)
    np.testing.assert_allclose(slope, 100 * np.hypot(GX, GY), rtol=1e-9)  # 5 %


def test_landcover_shares_are_exact_on_a_synthetic_raster(tmp_path: Path) -> None:
    # 10 m grid, 100 x 100 pixels: columns < 40 -> 1, 40..69 -> 2, >= 70 -> 3; rows >= 90 nodata.
    left, top = 500_000.0, 6_500_000.0
    data = np.ones((100, 100), dtype=np.int16)
    data[:, 40:70] = 2
    data[:, 70:] = 3
    data[90:, :] = -1
    path = _write_tif(
        tmp_path / "lc.tif", data, Affine(10, 0, left, 0, -10, top), "EPSG:2154", nodata=-1
    )
    cells = gpd.GeoDataFrame(
        geometry=[
            shapely.box(left + 300, top - 500, left + 500, top - 300),  # half 1, half 2
            shapely.box(left + 397, top - 200, left + 405, top - 100),  # 3 m on 1, 5 m on 2
            shapely.box(left + 650, top - 1000, left + 750, top - 800),  # half on nodata
            shapely.Polygon([(left + 300, top - 600), (left + 500, top - 600), (left + 400, top)]),
            # right triangle, legs 60 m, cut by x = left + 400: 1000 m2 on 1, 800 m2 on 2
            shapely.Polygon(
                [(left + 380, top - 300), (left + 440, top - 300), (left + 380, top - 240)]
            ),
        ],
        crs=2154,
        index=["a", "b", "c", "t", "r"],
    )
    shares = landcover_shares(cells, path, classes={1: "built", 2: "green", 3: "green"})
    assert list(shares.columns) == ["built", "green"]
    np.testing.assert_allclose(shares.loc["a"], [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(shares.loc["b"], [3 / 8, 5 / 8], atol=1e-12)
    np.testing.assert_allclose(shares.loc["c"], [0.0, 1.0], atol=1e-12)  # over valid area only
    np.testing.assert_allclose(shares.loc["t"], [0.5, 0.5], atol=1e-12)  # symmetric triangle
    np.testing.assert_allclose(shares.loc["r"], [5 / 9, 4 / 9], atol=1e-12)
    with pytest.warns(UserWarning, match=r"Values \[3\]"):
        partial = landcover_shares(cells, path, classes={1: "built", 2: "green"})
    assert partial.loc["a"].sum() == pytest.approx(1.0)
    assert partial.loc["c"].sum() == pytest.approx(0.5)  # the other half of its valid area is 3


def test_categorical_raster_is_reprojected_with_nearest(tmp_path: Path) -> None:
    # Stripes of 10 and 20 in Web Mercator: bilinear resampling would create 15s.
    data = np.where((np.arange(200) // 5) % 2 == 0, 10, 20).astype(np.uint8)
    data = np.broadcast_to(data, (200, 200)).copy()
    transform = Affine(20, 0, 160_000, 0, -20, 5_540_000)  # near Cahors, EPSG:3857
    path = _write_tif(tmp_path / "stripes_3857.tif", data, transform, "EPSG:3857")
    raster = open_raster(path)
    inner = raster.footprint.buffer(-500)
    win = raster.read(inner.bounds, resampling="nearest")
    assert set(np.unique(win.data[np.isfinite(win.data)]).tolist()) <= {10.0, 20.0}
    b = inner.bounds
    cells = gpd.GeoSeries(
        [shapely.box(x, b[1], x + 200, b[1] + 200) for x in np.arange(b[0], b[2] - 200, 400)],
        crs=2154,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unmapped (interpolated) value would warn
        shares = landcover_shares(cells, raster, classes={10: "a", 20: "b"})
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)
    assert shares.a.mean() == pytest.approx(0.5, abs=0.1)


def test_clc_index_encoding_is_recognised(tmp_path: Path) -> None:
    index_of = {code: i for i, code in CLC_INDEX_TO_CODE.items()}
    data = np.full((20, 20), index_of[311], dtype=np.uint8)  # broad-leaved forest
    data[:, 10:] = index_of[112]  # discontinuous urban fabric
    data[15:, :] = 48  # CLC "no data"
    left, top = 570_000.0, 6_380_000.0
    path = _write_tif(
        tmp_path / "clc_idx.tif", data, Affine(100, 0, left, 0, -100, top), "EPSG:2154"
    )
    cell = gpd.GeoSeries([shapely.box(left, top - 2000, left + 2000, top)], crs=2154)
    shares = landcover_shares(cell, path).iloc[0]
    assert shares.forest_seminatural == pytest.approx(0.5)
    assert shares.artificial == pytest.approx(0.5)
    assert shares.sum() == pytest.approx(1.0)


def test_nodata_gives_nan_with_a_warning(tmp_path: Path) -> None:
    z = np.full((50, 50), 100.0, dtype=np.float32)
    z[:, 25:] = -9999.0
    left, top = 600_000.0, 6_400_000.0
    path = _write_tif(
        tmp_path / "holes.tif", z, Affine(10, 0, left, 0, -10, top), "EPSG:2154", -9999
    )
    pts = gpd.GeoSeries(shapely.points([left + 55, left + 400], [top - 55, top - 55]), crs=2154)
    with pytest.warns(UserWarning, match="nodata"):
        elev = elevation_at(pts, path)
    assert elev.iloc[0] == pytest.approx(100.0)
    assert np.isnan(elev.iloc[1])


# -- errors ----------------------------------------------------------------------------------------


def test_raster_without_crs_raises_crs_error(tmp_path: Path, planar_dem: Path) -> None:
    with rasterio.open(planar_dem) as src:
        z, transform = src.read(1), src.transform
    path = _write_tif(tmp_path / "no_crs.tif", z, transform, None)
    with pytest.raises(CRSError, match=r"gdal_edit\.py -a_srs") as err:
        open_raster(path)
    assert str(path) in str(err.value) and err.value.path == str(path)
    assert "système de coordonnées" in err.value.message_fr
    pts = gpd.GeoSeries([shapely.Point(X0 + 500, Y0 + 500)], crs=2154)
    with pytest.raises(CRSError):
        elevation_at(pts, path)
    fixed = open_raster(path, crs="EPSG:2154")
    assert isinstance(fixed, Raster)
    assert elevation_at(pts, fixed).iloc[0] == pytest.approx(Z0 + GX * 500 + GY * 500)


def test_text_file_renamed_tif_raises_input_file_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.tif"
    path.write_text("altitude;pente\n120;4\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="not a raster") as err:
        open_raster(path)
    assert err.value.path == str(path)
    with pytest.raises(InputFileError, match="not found"):
        open_raster(tmp_path / "missing.tif")


def test_cells_outside_the_raster_raise_data_coverage_error() -> None:
    # A 200 m square in Paris, far from the Lot.
    paris = gpd.GeoSeries([shapely.box(652_000, 6_862_000, 652_200, 6_862_200)], crs=2154)
    with pytest.raises(DataCoverageError, match=r"covers lon 1\.\d+\.\.1\.\d+") as err:
        landcover_shares(paris, _cahors("clc.tif"))
    assert "lat 48." in str(err.value)  # what was asked, in lon/lat
    with pytest.raises(DataCoverageError):
        cell_slope(paris, _cahors("elevation.tif"))


def test_partly_covered_input_warns_and_gives_nan(planar_dem: Path) -> None:
    pts = gpd.GeoSeries(
        [shapely.Point(X0 + 500, Y0 + 500), shapely.Point(X0 - 5000, Y0), None], crs=2154
    )
    with pytest.warns(UserWarning, match="1 of 2 points lie outside raster"):
        elev = elevation_at(pts, planar_dem)
    assert elev.iloc[0] == pytest.approx(Z0 + GX * 500 + GY * 500)
    assert elev.iloc[1:].isna().all()


def test_bad_inputs_raise_validation_errors(planar_dem: Path) -> None:
    line = gpd.GeoSeries([shapely.LineString([(X0 + 10, Y0 + 10), (X0 + 90, Y0 + 10)])])
    with pytest.raises(CRSError, match="set_crs"):
        edge_slope(line, planar_dem)
    with pytest.raises(ValidationError, match="step_m"):
        edge_slope(line.set_crs(2154), planar_dem, step_m=0)
    with pytest.raises(ValidationError, match="expected Polygon"):
        cell_slope(line.set_crs(2154), planar_dem)
    with pytest.raises(ValidationError, match="classes"):
        landcover_shares(
            gpd.GeoSeries([shapely.box(X0, Y0, X0 + 50, Y0 + 50)], crs=2154),
            planar_dem,
            classes={"1": "a"},  # type: ignore[dict-item]
        )


def test_raster_outside_france_raises_data_coverage_error(tmp_path: Path) -> None:
    # A 0.1 degree tile over Manhattan cannot be read in Lambert-93.
    z = np.zeros((10, 10), dtype=np.float32)
    path = _write_tif(tmp_path / "nyc.tif", z, Affine(0.01, 0, -74.0, 0, -0.01, 40.8), "EPSG:4326")
    with pytest.raises(DataCoverageError, match=r"lon -74\.0000\.\.-73\.9000.*metropolitan France"):
        open_raster(path)
