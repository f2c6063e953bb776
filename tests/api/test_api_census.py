"""Census weights in the service: with a 200 m grid, homes weigh their inhabitants.

Real data: the only INSEE 200 m grid of ../shared/data (Filosofi 2015, around Olemps, Aveyron)
covers none of the real OSM extracts (Lorient, Nantes, Pont-de-Veyle, Saudron). So:

- the real grid is given for the real Lorient neighbourhood, and the analysis says it does not
  reach it (weights by floor area, a note in French and English);
- the people-as-population behaviour is tested with a SYNTHETIC grid on the real INSEE cell ids
  of Lorient (made-up population, in tests only), read through the same code as a real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.models import JobOut
from qet_geo.cli.main import app as cli
from qet_geo.store import models as store
from tests.api.conftest import BACKENDS, LORIENT_TERRITORY, _database_url, build_world
from tests.api.factories import su_csv
from tests.conftest import shared

REAL_GRID = ("census", "filosofi_200m_olemps", "population.shp")


def _synthetic_lorient_grid(folder: Path) -> Path:
    """A SYNTHETIC grid: the real INSEE 200 m cell ids of Lorient's buildings, made-up people."""
    import warnings

    from qet_geo.inputs.census import point_to_cell_id
    from qet_geo.inputs.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buildings = read_osm(shared("osm", "lorient_centre.osm.pbf")).buildings
    ids = point_to_cell_id(buildings.to_crs(2154).representative_point()).unique()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"Idcar_200m": ids, "Ind": rng.integers(20, 400, len(ids)).astype(float)})
    path = folder / "SYNTHETIC_lorient_grid.csv"
    frame.to_csv(path, sep=";", index=False)
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def censused(request, tmp_path_factory):
    """Lorient (territory, extract, 50 answers) on a service whose census grid is set."""
    tmp = tmp_path_factory.mktemp(f"census-{request.param}")
    grid = _synthetic_lorient_grid(tmp)
    w = build_world(_database_url(request, tmp), osm_dir=tmp / "osm", census_grid=grid)
    c = w.client
    hood = c.post(
        "/neighbourhoods",
        json={"name": "Lorient recensé", "territory": LORIENT_TERRITORY},
        headers=w.headers("staff"),
    ).json()["id"]
    h = w.headers("admin")
    r = c.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        headers={**h, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    diag = c.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=h).json()["id"]
    data = su_csv(50, seed=21, prefix="L", clusters=((-3.360, 47.749, 30), (-3.358, 47.752, 20)))
    assert c.post(f"/diagnostics/{diag}/uploads", content=data, headers=h).status_code == 201
    w.hoods["L"], w.diags["L"] = hood, diag
    yield w, grid, tmp / "osm"
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _population(w) -> dict[str, float]:
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(store.Indicator.zone_id, store.Indicator.population).where(
                store.Indicator.neighbourhood_id == w.hoods["L"]
            )
        ).all()
    out: dict[str, float] = {}
    for zone, population in rows:
        assert out.setdefault(zone, population) == population  # one population per cell
    return out


def _run(w) -> JobOut:
    h = w.headers("admin")
    assert w.client.post(f"/diagnostics/{w.diags['L']}/run", headers=h).status_code == 202
    return JobOut.model_validate(w.client.get(f"/diagnostics/{w.diags['L']}/job", headers=h).json())


def _analyse_cli(w, osm_dir: Path, census: Path | None) -> dict:
    env = {"QET_CENSUS_GRID": str(census)} if census is not None else {}
    r = CliRunner().invoke(
        cli,
        [
            "store",
            "analyse",
            str(w.diags["L"]),
            "--database-url",
            w.url,
            "--osm-dir",
            str(osm_dir),
            "--json",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_with_the_grid_cells_carry_people(censused):
    w, grid, osm_dir = censused
    job = _run(w)
    assert (job.status, job.code, job.message) == ("done", None, None)
    people = _population(w)
    cells = pd.read_csv(grid, sep=";").set_index("Idcar_200m")["Ind"]
    assert len(people) > 10 and set(people) <= set(cells.index)
    # the people of a cell are those the grid gives it, spread over its homes: all of them when
    # every home of the cell is in the territory, fewer on its edge
    for zone, population in people.items():
        assert 0 < population <= cells[zone] + 1e-6, zone
    whole = [z for z, p in people.items() if p == pytest.approx(cells[z], rel=1e-9)]
    assert len(whole) >= len(people) / 2
    # without the grid (the CLI with no QET_CENSUS_GRID), homes weigh their floor area (m²)
    out = _analyse_cli(w, osm_dir, None)
    assert out["weights"] == "floor_area"
    floor = _population(w)
    assert set(floor) == set(people) and floor != people
    assert sum(floor.values()) > 3 * sum(people.values())  # m² of floor, not people
    # and the CLI reads the same setting as the service: QET_CENSUS_GRID
    out = _analyse_cli(w, osm_dir, grid)
    assert out["weights"] == "census" and out["notes"] == []
    assert _population(w) == pytest.approx(people)


def test_a_real_grid_that_does_not_reach_the_neighbourhood(censused):
    """The real INSEE grid of Olemps for Lorient: analysed by floor area, and told so."""
    w, grid, osm_dir = censused
    real = shared(*REAL_GRID)
    out = _analyse_cli(w, osm_dir, real)
    assert out["weights"] == "floor_area" and out["n_indicators"] > 0
    assert len(out["notes"]) == 1 and "population.shp" in out["notes"][0]
    assert "surface de plancher" in out["notes"][0]
    job = JobOut.model_validate(
        w.client.get(f"/diagnostics/{w.diags['L']}/job", headers=w.headers("admin")).json()
    )
    assert job.status == "done" and job.code == "CensusElsewhere"
    assert "n'a aucun carreau de 200 m dans ce quartier" in (job.message or "")
    en = w.client.get(
        f"/diagnostics/{w.diags['L']}/job",
        headers={**w.headers("admin"), "Accept-Language": "en"},
    ).json()["message"]
    assert "has no 200 m cell in this neighbourhood" in en and "floor area" in en
    # a grid file that is not there: the analysis fails, explicitly, and keeps what it had
    before = _population(w)
    w.client.app.state.settings.census_grid = str(grid.with_name("absent.csv"))  # type: ignore[attr-defined]
    try:
        job = _run(w)
    finally:
        w.client.app.state.settings.census_grid = str(grid)  # type: ignore[attr-defined]
    assert job.status == "failed" and job.code == "InputFileError", job
    assert "absent.csv" in (job.message or "")
    assert _population(w) == before
    # back to the service's grid: people again
    assert _run(w).status == "done"
    assert _population(w) != before
