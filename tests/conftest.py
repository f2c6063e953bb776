"""Shared fixtures: the real data in ../shared/data, read in place (never copied)."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import hypothesis
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy.interpolate import griddata

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# property tests draw the same examples on every run: a failure is a defect found, not a dice
# throw that a later run may not repeat (no flaky tests)
hypothesis.settings.register_profile("qet", derandomize=True, print_blob=True)
hypothesis.settings.load_profile("qet")

# the store's pseudonym key lives outside the database: keep the tests' key out of $HOME
os.environ.setdefault("QET_KEY_DIR", tempfile.mkdtemp(prefix="qet-test-keys-"))


def shared(*parts: str) -> Path:
    """Return a path under ../shared/data, failing loudly when the data is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"real test data missing: {path}. The shared/ folder must sit beside the checkout "
            "(../shared/data); tests never skip for want of it."
        )
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return shared()


@pytest.fixture(scope="session")
def lorient_pbf() -> Path:
    return shared("osm", "lorient_centre.osm.pbf")


@pytest.fixture(scope="session")
def lorient_gz() -> Path:
    return shared("osm", "lorient_centre.osm.gz")


@pytest.fixture(scope="session")
def lorient_xml(tmp_path_factory: pytest.TempPathFactory, lorient_gz: Path) -> Path:
    """The Lorient extract as plain XML (osmnx's graph_from_xml cannot read .gz)."""
    out = tmp_path_factory.mktemp("osm") / "lorient_centre.osm"
    with gzip.open(lorient_gz, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


@pytest.fixture(scope="session")
def lorient(lorient_pbf: Path):
    from qet_geo.inputs.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_osm(lorient_pbf)


@pytest.fixture(scope="session")
def lorient_dem(tmp_path_factory) -> Path:
    """A 10 m DEM of Lorient interpolated from the real elevation points (NoiseModelling)."""
    pts = gpd.read_file(shared("osm", "lorient_layers", "dem_points.geojson")).to_crs(2154)
    z_col = next(c for c in pts.columns if c.lower() in ("z", "elevation", "height", "alti"))
    x, y, z = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), pts[z_col].to_numpy(float)
    minx, miny, maxx, maxy = pts.total_bounds
    res = 10.0
    gx, gy = np.meshgrid(
        np.arange(minx, maxx, res) + res / 2, np.arange(maxy, miny, -res) - res / 2
    )
    grid = griddata((x, y), z, (gx, gy), method="linear")
    near = griddata((x, y), z, (gx, gy), method="nearest")
    grid = np.where(np.isnan(grid), near, grid).astype("float32")
    path = tmp_path_factory.mktemp("dem") / "lorient_dem.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=grid.shape[1],
        height=grid.shape[0],
        count=1,
        dtype="float32",
        crs="EPSG:2154",
        transform=from_origin(minx, maxy, res, res),
    ) as dst:
        dst.write(grid, 1)
    return path


@pytest.fixture(autouse=True, scope="module")
def _no_browser_left_running():
    """Stop Playwright after each module that started it: while it lives, its sync API keeps an
    event loop running in the thread, and ``asyncio.run`` in the next module of the same
    pytest-xdist worker (tests/test_deploy.py) would fail, depending on how tests are shared."""
    yield
    import sys

    kit = sys.modules.get("tests.web.browser_kit")
    if kit is not None:
        kit.stop_browser()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """``qet demo`` (the whole diagnostic of Lorient centre, 400 synthetic answers), once per
    language and test process: ``demo_run("fr")`` gives the report folder and the JSON summary.

    Tests read the folder; one that writes must leave it as it was (the failed-run test does).
    """
    import json

    from typer.testing import CliRunner

    from qet_geo.cli.main import app

    runs: dict[str, tuple[Path, dict]] = {}

    def run(lang: str = "fr") -> tuple[Path, dict]:
        if lang not in runs:
            out = tmp_path_factory.mktemp(f"demo-{lang}") / "report"
            args = ["--lang", lang, "demo", "--out", str(out), "--n", "400", "--json"]
            res = CliRunner().invoke(app, args)
            assert res.exit_code == 0, res.output
            runs[lang] = (out, json.loads(res.stdout.strip().splitlines()[-1]))
        return runs[lang]

    return run


@pytest.fixture(scope="module")
def survey0():
    """NEAR's survey_0.tsv as an SU frame (one per test module: tests may change it)."""
    from qet_geo.errors import QetGeoWarning
    from qet_geo.surveys.su import read_su

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)  # the one partial row is reported
        return read_su(shared("surveys", "near_su", "survey_0.tsv")).answers


def kill_at_marker(args: list[str], marker: Path, *, timeout_s: float = 60) -> None:
    """Run a child process and SIGKILL it as soon as it has written ``marker``.

    The durability tests use it to kill a writer at the worst moment (just before its commit),
    then check that the store holds nothing of it.
    """
    import signal
    import subprocess
    import time

    child = subprocess.Popen(args, cwd=Path(__file__).resolve().parents[1])
    try:
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            assert child.poll() is None, "the worker died before its commit"
            assert time.monotonic() < deadline, "the worker never reached its commit"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
