"""``qet store analyse`` and ``qet store national-profiles``: the job's and the route's library
functions from the command line, on both backends."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.store import ingest
from qet_geo.store import jobs as service
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared


def test_store_commands(empty_database, tmp_path):
    engine = store.make_engine(empty_database)
    store.create_schema(engine)
    osm_dir = tmp_path / "osm"
    osm_dir.mkdir()
    shutil.copy(shared("osm", "lorient_centre.osm.pbf"), osm_dir / "lorient.osm.pbf")
    territory = service.territory_from_geojson(LORIENT_TERRITORY)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(
            s, name="Lorient", territory_wkt=territory.wkt, osm_extract="lorient.osm.pbf"
        )
        diags = []
        for year in (0, 1):
            d = store.Diagnostic(neighbourhood_id=hood.id, year=year)
            s.add(d)
            s.flush()
            diags.append(d.id)
        hood_id = hood.id
    ingest.ingest_su(engine, diags[0], su_csv(30, seed=5, clusters=((-3.36, 47.749, 30),)))
    ingest.ingest_su(engine, diags[1], su_csv(6, seed=6, prefix="S"))
    runner = CliRunner()
    base = ["--database-url", empty_database]
    r = runner.invoke(
        app, ["store", "analyse", str(diags[0]), *base, "--osm-dir", str(osm_dir), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["n_answers"] == 30 and out["n_indicators"] > 0 and out["weights"] == "floor_area"
    with store.session_scope(engine) as s:
        rows = s.scalar(
            select(func.count())
            .select_from(store.Indicator)
            .where(store.Indicator.neighbourhood_id == hood_id)
        )
        assert rows == out["n_indicators"]
        assert s.get(store.Diagnostic, diags[0]).status == "done"
    # too few answers: exit 2, the stored reason in French (English with --lang en)
    r = runner.invoke(app, ["store", "analyse", str(diags[1]), *base])
    assert r.exit_code == 2 and "secret statistique" in r.output
    r = runner.invoke(app, ["--lang", "en", "store", "analyse", str(diags[1]), *base])
    assert r.exit_code == 2 and "statistical secrecy" in r.output
    # a run in progress elsewhere (the service's job, news 1 min ago): refused, not doubled
    with store.session_scope(engine) as s:
        diag = s.get(store.Diagnostic, diags[0])
        diag.status, diag.job_updated_at = "running", datetime.now(UTC) - timedelta(minutes=1)
    r = runner.invoke(app, ["store", "analyse", str(diags[0]), *base])
    assert r.exit_code == 2 and "déjà en cours" in r.output
    with store.session_scope(engine) as s:  # the job's process died 2 hours ago: taken over
        s.get(store.Diagnostic, diags[0]).job_updated_at = datetime.now(UTC) - timedelta(hours=2)
    r = runner.invoke(
        app, ["store", "analyse", str(diags[0]), *base, "--osm-dir", str(osm_dir), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n_answers"] == 30
    r = runner.invoke(app, ["store", "national-profiles", *base, "--json"])
    assert r.exit_code == 0, r.output
    national = json.loads(r.output)
    assert national["n_neighbourhoods"] == 1 and national["profiles"]
    with store.session_scope(engine) as s:
        assert len(store.national_reference(s)) == len(national["profiles"])
    # publishing: the first release of the 30 answers, then nothing new to publish
    # (with the service's OSM folder: the links over the access tables the analysis kept)
    release = ["store", "release", str(diags[0]), *base, "--osm-dir", str(osm_dir), "--json"]
    r = runner.invoke(app, release)
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["number"] == 1 and made["n_respondents"] == 30
    with store.session_scope(engine) as s:
        (stored,) = s.scalars(select(store.Release).where(store.Release.diagnostic_id == diags[0]))
        assert stored.n_respondents == 30
        assert stored.figures["links"]["status"] == "ok", stored.figures["links"]
        assert stored.figures["links"]["fr"]["votes"]
    # 6 answers: refused in French without their count (secrecy), exit 2
    r = runner.invoke(app, ["store", "release", str(diags[1]), *base])
    assert r.exit_code == 2 and "moins de 11" in r.output and " 6 " not in r.output
    engine.dispose()
