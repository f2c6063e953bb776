"""The service's analysis runs in a worker process, under the job's time and the extracts' memory.

It reads the neighbourhood's extract and fits its models: in the server process it held the GIL
(every page slowed while it ran) and had no bound. A worker killed past its limits cannot say
why: the server records the failure, in words, and the previous results stay.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared

HOMES = ((-3.360, 47.749, 30), (-3.358, 47.752, 20))


def _run(tmp_path: Path, **limits: float) -> dict:
    """Upload the Lorient extract and 50 answers, then run the analysis under ``limits``."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}", osm_dir=str(tmp_path / "osm")
    )
    app = create_app(settings)
    with store.session_scope(app.state.engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with TestClient(app) as client:
        hood = client.post(
            "/neighbourhoods",
            json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
            headers=admin,
        ).json()["id"]
        put = client.put(
            f"/neighbourhoods/{hood}/osm-extract",
            content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
            headers={**admin, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        diag = client.post(
            f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=admin
        ).json()["id"]
        sent = client.post(
            f"/diagnostics/{diag}/uploads",
            content=su_csv(50, seed=5, clusters=HOMES),
            headers=admin,
        )
        assert sent.status_code == 201, sent.text
        app.state.settings = settings.model_copy(update=limits)  # the upload had its own
        started = client.post(f"/diagnostics/{diag}/run", headers=admin)
        assert started.status_code == 202, started.text
        # the background task (the worker) has ended when the answer is read
        job = client.get(f"/diagnostics/{diag}/job", headers=admin).json()
    with store.session_scope(app.state.engine) as s:
        job["indicators"] = s.query(store.Indicator).count()
    app.state.engine.dispose()
    return job


def test_the_analysis_runs_to_its_end_in_a_worker(tmp_path: Path) -> None:
    job = _run(tmp_path)
    assert job["status"] == "done" and job["progress"] == 1.0, job
    assert job["indicators"] > 0  # stored by the worker, read here


def test_an_analysis_past_its_time_is_stopped_and_said_so(tmp_path: Path) -> None:
    # reading the extract alone takes more than a second anywhere
    job = _run(tmp_path, job_timeout_s=0.3)
    assert job["status"] == "failed", job
    assert "a dépassé sa durée maximale (0,3 s) et a été arrêtée" in job["message"], job


def test_an_analysis_out_of_memory_is_stopped_and_said_so(tmp_path: Path) -> None:
    job = _run(tmp_path, osm_memory_bytes=150_000_000)
    assert job["status"] == "failed", job
    assert "manqué de mémoire" in job["message"], job
