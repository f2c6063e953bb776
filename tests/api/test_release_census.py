"""A release made through the JSON API (``POST /diagnostics/{id}/releases``) or ``qet store
release --shared-data`` compares its set with the census of the neighbourhood's IRIS and weights
it, as the results page's "Publier" does (the shared Paris census table, CSP only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qet_geo.cli.main import app as cli
from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.store.releases import Figures
from tests.store.test_census_figures import PARIS_IRIS, PARIS_TABLE, SHARED, _csv
from tests.web.test_accounts import make_site

pytestmark = pytest.mark.skipif(not PARIS_TABLE.is_file(), reason="shared Paris census absent")


def _diag(engine: object, n: int, seed: int) -> int:
    with store.session_scope(engine) as s:  # type: ignore[arg-type]
        hood = store.add_neighbourhood(s, name="Halles", iris_codes=PARIS_IRIS).id
        diag = store.Diagnostic(neighbourhood_id=hood, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    ingest.ingest_su(engine, diag_id, _csv(n, seed=seed))  # type: ignore[arg-type]
    return diag_id


def _census(engine: object, diag: int) -> dict:
    with store.session_scope(engine) as s:  # type: ignore[arg-type]
        release = s.query(store.Release).filter_by(diagnostic_id=diag).one()
        return dict(Figures.from_json(release.figures).census)


def test_the_api_release_is_weighted(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    diag = _diag(site.engine, 80, seed=21)
    with store.session_scope(site.engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    done = site.client().post(f"/diagnostics/{diag}/releases", headers=admin)
    assert done.status_code == 201, done.text
    census = _census(site.engine, diag)
    assert census["status"] == "ok" and census["weighted"]


def test_the_cli_release_is_weighted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = store.make_engine(url)
    store.create_schema(engine)
    diag = _diag(engine, 80, seed=22)
    done = CliRunner().invoke(
        cli, ["store", "release", str(diag), "--database-url", url, "--shared-data", str(SHARED)]
    )
    assert done.exit_code == 0, done.output
    census = _census(engine, diag)
    assert census["status"] == "ok" and census["weighted"]
    engine.dispose()
