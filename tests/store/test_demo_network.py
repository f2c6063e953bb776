"""The demonstration network built from the shared OSM extracts (:mod:`qet_geo.store.demo_network`).

Built once in a store (:func:`built`): five published neighbourhoods, each with a released
campaign of labelled-synthetic answers drawn on its extract's real buildings and analysed on it,
and the published national profiles; the JSON API and the network's pages read it; and
``qet store demo-network`` builds it from the command line on a fresh SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.models import NationalRow
from qet_geo.cli.main import app as cli
from qet_geo.errors import ValidationError
from qet_geo.store import models as store
from qet_geo.store.demo_network import DEMO_NEIGHBOURHOODS, DemoNetworkResult, build_demo_network
from tests.conftest import shared
from tests.web.test_accounts import Site, make_site

SHARED = shared("osm", "lorient_centre.osm.gz").parents[1]


@dataclass
class Built:
    site: Site
    result: DemoNetworkResult


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    site = make_site(tmp_path_factory.mktemp("demo"))
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    result = build_demo_network(site.engine, osm_dir=osm_dir, shared_data=SHARED)
    yield Built(site, result)
    site.engine.dispose()


def _national(built: Built) -> dict[str, NationalRow]:
    answer = built.site.client().get("/national")
    assert answer.status_code == 200
    return {r.name: r for r in (NationalRow.model_validate(x) for x in answer.json())}


def test_five_published_neighbourhoods_each_with_a_synthetic_release(built: Built) -> None:
    slugs = [spec.slug for spec in DEMO_NEIGHBOURHOODS]
    assert list(built.result.neighbourhoods) == slugs and built.result.synthetic
    with store.session_scope(built.site.engine) as s:
        hoods = s.query(store.Neighbourhood).order_by(store.Neighbourhood.id).all()
        assert [(h.slug, h.published) for h in hoods] == [(slug, True) for slug in slugs]
        assert all(h.osm_extract and h.territory_wkt for h in hoods)
        for hood in hoods:
            diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood.id).one()
            assert diag.synthetic and diag.status == "done"
            release = s.query(store.Release).filter_by(diagnostic_id=diag.id).one()
            assert release.n_respondents >= 11
            assert release.summary["synthetic"] is True and release.figures["synthetic"] is True
            # the other surveys were stored and released too
            assert release.figures.get("other_surveys", {}).get("ngc")
        national = s.query(store.Profile).filter_by(scope="national").all()
        assert national and all(p.published and p.synthetic for p in national)
    assert built.result.n_national_profiles == len(national)
    # the extracts lie in the service's OSM folder, under the neighbourhoods' names, with the
    # per-home access tables the analysis kept beside them
    osm_dir = Path(built.site.app.state.settings.osm_dir)  # type: ignore[attr-defined]
    for hood in hoods:
        assert (osm_dir / str(hood.osm_extract)).is_file()
        assert list(osm_dir.glob(f"{hood.osm_extract}.access-*"))


def test_the_constraints_are_measured_on_each_extract(built: Built) -> None:
    rows = _national(built)
    assert set(rows) == {spec.name for spec in DEMO_NEIGHBOURHOODS}
    nantes = rows["Nantes hypercentre"].constraints
    saudron = rows["Saudron"].constraints
    lorient = rows["Lorient centre ouest"].constraints
    # the rural village is far less served than the dense centres
    for dense in (nantes, lorient):
        assert (saudron["score_15min"] or 0) < (dense["score_15min"] or 0)
        assert (saudron["transit_stops_400m"] or 0) < (dense["transit_stops_400m"] or 0)
        assert (saudron["intersections_km2"] or 0) < (dense["intersections_km2"] or 0)
    # Lorient's two halves are measured each on its own outline
    assert rows["Lorient centre est"].constraints != lorient


def test_the_national_comparison_compares_them(built: Built) -> None:
    rows = _national(built)
    assert all(r.synthetic and r.compared for r in rows.values())
    assert all(r.n_respondents >= 11 for r in rows.values())
    assert all(r.type >= 0 for r in rows.values())
    assert len({r.type for r in rows.values()}) >= 2
    assert sorted(r.rank_total_kgco2e for r in rows.values()) == [1, 2, 3, 4, 5]


def test_the_network_pages_list_the_five_with_the_synthetic_notice(built: Built) -> None:
    client = built.site.client()
    page = client.get("/reseau/quartiers")
    assert page.status_code == 200
    for spec in DEMO_NEIGHBOURHOODS:
        assert spec.name in page.text and f"/q/{spec.slug}" in page.text
    assert "synthétiques" in page.text
    for slug in ("lorient-ouest", "lorient-est", "pont-de-veyle", "saudron"):
        portal = client.get(f"/q/{slug}")
        assert portal.status_code == 200
        assert 'class="similar' in portal.text and "synthétiques" in portal.text


def test_the_portal_of_the_homogeneous_centre_shows(built: Built) -> None:
    """Every portal's home and diagnostic open (a separated link's odds ratio, 1e46 on Nantes'
    small homogeneous outline, is written in scientific notation instead of failing)."""
    client = built.site.client()
    for slug in ("lorient-ouest", "lorient-est", "nantes-hypercentre", "pont-de-veyle", "saudron"):
        for path in ("", "/diagnostic"):
            assert client.get(f"/q/{slug}{path}").status_code == 200, (slug, path)


def test_it_refuses_a_store_that_already_has_the_neighbourhoods(
    built: Built, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="lorient-est, lorient-ouest, nantes"):
        build_demo_network(built.site.engine, osm_dir=tmp_path, shared_data=SHARED)
    with pytest.raises(ValidationError):
        build_demo_network(built.site.engine, osm_dir=tmp_path, shared_data=SHARED, n_answers=5)


def test_the_command_builds_it_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["store", "demo-network", "--database-url", url, "--osm-dir", str(tmp_path / "osm")]
    done = CliRunner().invoke(cli, [*args, "--shared-data", str(SHARED), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert list(summary["neighbourhoods"]) == [spec.slug for spec in DEMO_NEIGHBOURHOODS]
    assert summary["synthetic"] is True and summary["national_profiles"] >= 1
    assert min(summary["respondents"].values()) >= 11
    engine = store.make_engine(url)
    try:
        with store.session_scope(engine) as s:
            assert s.query(store.Release).count() == 5
    finally:
        engine.dispose()
    # run again on the same file: refused in words, nothing changed
    again = CliRunner().invoke(cli, [*args, "--shared-data", str(SHARED)])
    assert again.exit_code != 0 and "déjà prises" in again.output
