"""A published release as a GeoPackage: the portal's ``/q/{slug}/diagnostic/{year}.gpkg``, the
API's ``GET /diagnostics/{id}/releases/{number}/geopackage`` and ``qet store geopackage``.

A published Lorient neighbourhood (the shared territory) whose name carries ``<script>`` and
``{{ 7*7 }}``, with a campaign of labelled-synthetic answers released twice (``campaigns``
of the impact page's tests, then a second release of the same set) and a campaign without a
release; an unpublished neighbourhood with a released campaign. The files are read back with
pyogrio and geopandas and compared with the CSV file and the page.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pytest
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from qet_geo.cli.main import app as cli
from qet_geo.store import models as store
from qet_geo.store.releases import create_release
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import Site, make_site
from tests.web.test_impact import campaigns

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"
SLUG = "lorient-centre"


@dataclass
class World:
    site: Site
    diag: int
    hidden_diag: int
    admin: dict[str, str]
    staff: dict[str, str]
    pilot: dict[str, str]
    other_pilot: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("portal_gpkg"))
    api = site.client()
    engine = site.engine
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    hood, diags = campaigns(api, engine, osm_dir, admin, name=NAME, slug=SLUG, years=(0,))
    create_release(engine, diags[0], osm_dir=osm_dir)  # the same set again: release 2
    hidden, hidden_diags = campaigns(
        api, engine, osm_dir, admin, name="Caché", slug="cache", years=(0,), published=False
    )
    with store.session_scope(engine) as s:
        s.add(store.Diagnostic(neighbourhood_id=hood, year=5))  # no release
        tokens = {
            role: {
                "Authorization": f"Bearer {store.create_token(s, role=role, neighbourhood_ids=ids)}"
            }
            for role, ids in (("staff", ()), ("pilot", (hood,)))
        }
        other = store.create_token(s, role="pilot", neighbourhood_ids=(hidden,))
    yield World(
        site,
        diags[0],
        hidden_diags[0],
        admin,
        tokens["staff"],
        tokens["pilot"],
        {"Authorization": f"Bearer {other}"},
    )
    engine.dispose()


def _read(data: bytes, tmp_path: Path, name: str = "got.gpkg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))[1:]


def _same_rows(table: pd.DataFrame, rows: list[list[str]]) -> None:
    records = table.to_dict("records")
    assert len(records) == len(rows) > 0
    for got, want in zip(records, rows, strict=True):
        assert [str(got["release"]), got["section"], got["item"], got["label"]] == want[:4]
        if want[4] == "":
            assert got["value"] != got["value"]  # NaN
        else:
            assert got["value"] == pytest.approx(float(want[4]))
        assert want[7] == "yes" and got["synthetic"]


def test_the_portal_gives_the_latest_release_as_a_geopackage(world: World, tmp_path: Path) -> None:
    client = world.site.client()
    got = client.get(f"/q/{SLUG}/diagnostic/0.gpkg")
    assert got.status_code == 200, got.text[:300]
    assert got.headers["content-type"] == "application/geopackage+sqlite3"
    assert got.headers["content-disposition"] == (
        f'attachment; filename="{SLUG}-diagnostic-0-publication-2.gpkg"'
    )
    path = _read(got.content, tmp_path)
    assert {str(n) for n, _ in pyogrio.list_layers(path)} == {
        "cells",
        "outline",
        "figures",
        "metadata",
    }
    # the figures are the CSV file's, row for row
    text = client.get(f"/q/{SLUG}/diagnostic/0.csv").text
    _same_rows(pyogrio.read_dataframe(path, layer="figures"), _csv_rows(text))
    # and the page's: respondents and zones
    meta = pyogrio.read_dataframe(path, layer="metadata").iloc[0]
    cells = gpd.read_file(path, layer="cells")
    assert cells.crs.to_epsg() == 2154 and len(cells) > 0
    assert int(cells["n_respondents"].sum()) == int(meta["n_respondents"]) >= 11
    page = client.get(f"/q/{SLUG}/diagnostic/0").text
    main = page.split("<main", 1)[1]
    assert re.search(rf"\b{int(meta['n_respondents'])}\b", main)
    assert (meta["release"], meta["year"]) == (2, 0)
    # labelled-synthetic answers, flagged everywhere
    assert bool(meta["synthetic"]) and cells["synthetic"].all()
    assert gpd.read_file(path, layer="outline")["synthetic"].all()


def test_a_name_with_markup_is_data_in_the_file_and_escaped_on_the_pages(
    world: World, tmp_path: Path
) -> None:
    client = world.site.client()
    path = _read(client.get(f"/q/{SLUG}/diagnostic/0.gpkg").content, tmp_path)
    assert pyogrio.read_dataframe(path, layer="metadata")["neighbourhood"].iloc[0] == NAME
    assert gpd.read_file(path, layer="outline")["neighbourhood"].iloc[0] == NAME
    for address in (f"/q/{SLUG}/diagnostic/0", f"/q/{SLUG}/documents"):
        html = client.get(address).text
        assert "<script>alert" not in html and "</script> 49" not in html, address
        assert "Lorient &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html, address
        assert f'href="/q/{SLUG}/diagnostic/0.gpkg"' in html, address


def test_the_file_is_in_the_readers_language(world: World, tmp_path: Path) -> None:
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    path = _read(client.get(f"/q/{SLUG}/diagnostic/0.gpkg").content, tmp_path)
    table = pyogrio.read_dataframe(path, layer="figures")
    assert "Total of the six usages" in set(table["label"])
    meta = pyogrio.read_dataframe(path, layer="metadata").iloc[0]
    assert meta["language"] == "en" and meta["note"].startswith("Synthetic")
    _same_rows(table, _csv_rows(client.get(f"/q/{SLUG}/diagnostic/0.csv").text))


@pytest.mark.parametrize(
    "address",
    [
        f"/q/{SLUG}/diagnostic/7.gpkg",  # no such campaign
        f"/q/{SLUG}/diagnostic/5.gpkg",  # a campaign without a release
        f"/q/{SLUG}/diagnostic/abc.gpkg",
        f"/q/{SLUG}/diagnostic/12345.gpkg",
        "/q/cache/diagnostic/0.gpkg",  # unpublished portal
        "/q/inconnu/diagnostic/0.gpkg",
    ],
)
def test_unknown_years_and_unpublished_portals_are_404_pages(world: World, address: str) -> None:
    got = world.site.client().get(address)
    assert got.status_code == 404, address
    assert got.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in got.text and "Traceback" not in got.text


# --------------------------------------------------------------------------------------------------
# the JSON API


def _api(world: World, headers: dict[str, str], diag: int, number: int) -> httpx.Response:
    return world.site.client().get(
        f"/diagnostics/{diag}/releases/{number}/geopackage", headers=headers
    )


def test_the_api_gives_a_release_with_the_rules_of_reading_it(world: World, tmp_path: Path) -> None:
    d = world.diag
    # write access (admin, the neighbourhood's pilot team): any release
    for headers in (world.admin, world.pilot):
        for number in (1, 2):
            got = _api(world, headers, d, number)
            assert got.status_code == 200, got.text
            meta = pyogrio.read_dataframe(
                _read(got.content, tmp_path),
                layer="metadata",
            )
            assert meta["release"].iloc[0] == number and meta["synthetic"].iloc[0]
    # staff and the public: the latest release only, of a published neighbourhood
    for headers in (world.staff, {}):
        assert _api(world, headers, d, 2).status_code == 200
        assert _api(world, headers, d, 1).status_code == 404
    got = _api(world, world.admin, d, 2)
    assert got.headers["content-disposition"] == (
        f'attachment; filename="diagnostic-{d}-publication-2.gpkg"'
    )
    assert _api(world, world.admin, d, 9).status_code == 404
    # an unpublished neighbourhood: its team and staff only
    h = world.hidden_diag
    assert _api(world, {}, h, 1).status_code == 404
    assert _api(world, world.pilot, h, 1).status_code == 404
    assert _api(world, world.other_pilot, h, 1).status_code == 200
    assert _api(world, world.staff, h, 1).status_code == 200
    en = world.site.client().get(
        f"/diagnostics/{d}/releases/2/geopackage", headers={"Accept-Language": "en"}
    )
    table = pyogrio.read_dataframe(_read(en.content, tmp_path, "en.gpkg"), layer="figures")
    assert "Total of the six usages" in set(table["label"])


def test_the_cli_writes_a_release_to_a_file(world: World, tmp_path: Path) -> None:
    out = tmp_path / "lorient.gpkg"
    ran = CliRunner().invoke(
        cli,
        ["store", "geopackage", str(world.diag), str(out), "--number", "1",
         "--database-url", world.site.url],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "publication 1" in ran.output
    meta = pyogrio.read_dataframe(out, layer="metadata")
    assert meta["release"].iloc[0] == 1 and meta["neighbourhood"].iloc[0] == NAME
    missing = CliRunner().invoke(
        cli, ["store", "geopackage", "999", str(out), "--database-url", world.site.url]
    )
    assert missing.exit_code == 2 and "999" in missing.output
    nowhere = CliRunner().invoke(
        cli,
        ["store", "geopackage", str(world.diag), str(tmp_path / "absent" / "x.gpkg"),
         "--database-url", world.site.url],
    )  # fmt: skip
    assert nowhere.exit_code == 2 and "absent" in nowhere.output


# --------------------------------------------------------------------------------------------------
# in a real browser


def test_the_diagnostic_page_downloads_the_geopackage_in_chromium(
    page: Page, watch: Watch, live_app: LiveApp, tmp_path: Path
) -> None:
    engine = live_app.app.state.engine
    osm_dir = live_app.app.state.settings.osm_dir
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    with httpx.Client(base_url=live_app.url, timeout=120) as api:
        campaigns(api, engine, osm_dir, admin, name=NAME, slug="lorient", years=(0,))
    page.goto("/q/lorient/diagnostic")
    expect(page.locator("h1")).to_have_text("Le diagnostic du quartier", timeout=20_000)
    page.wait_for_load_state("load")
    assert axe(page) == []
    link = page.get_by_role("link", name="Télécharger la publication pour un SIG (GeoPackage)")
    with page.expect_download(timeout=60_000) as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "lorient-diagnostic-0-publication-1.gpkg"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    meta = pyogrio.read_dataframe(path, layer="metadata")
    assert meta["neighbourhood"].iloc[0] == NAME and meta["synthetic"].iloc[0]
    page.goto("/q/lorient/documents")
    expect(page.locator("h1")).to_have_text("Documents du portail", timeout=20_000)
    page.wait_for_load_state("load")
    assert axe(page) == []
    watch.assert_no_outside_request()
    watch.assert_no_error()
