"""The network's open data, ``/reseau/donnees``: download, read back with geopandas, same figures
as the pages.

The network of tests/web/test_network.py (five published neighbourhoods with labelled-synthetic
releases, one published without a release, one unpublished) and a published project sheet. The
GeoPackage's tables equal the public ``GET /national`` and each portal's CSV file; its cells are
every published release's; the Parquet files hold the CSV files' rows; the dictionary names
every column; nothing of the unpublished neighbourhood or of a draft sheet is in any file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

import geopandas as gpd
import pandas as pd
import pytest

from qet_geo.store import models as store
from qet_geo.store.open_data import OPEN_DATA_TABLES
from qet_geo.store.releases import Figures
from tests.web.test_impact import add_project
from tests.web.test_network import World
from tests.web.test_network import world as network_world  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def world(network_world: World) -> Iterator[World]:  # noqa: F811
    engine = network_world.site.engine
    add_project(engine, network_world.ids["nantes-hypercentre"], title="Rue aux écoles",
                usage="transportation_mode", published=True, effect={"value": 4200.0})  # fmt: skip
    add_project(engine, network_world.ids["nantes-hypercentre"], title="Brouillon", published=False)
    add_project(engine, network_world.ids["cache"], title="Caché", published=True)
    yield network_world


def _get(world: World, name: str, lang: str = "fr") -> bytes:
    client = world.site.client()
    client.cookies.set("qet_lang", lang)
    answer = client.get(f"/reseau/donnees/{name}")
    assert answer.status_code == 200, answer.text
    return answer.content


def test_the_page_lists_every_file(world: World) -> None:
    page = world.site.client().get("/reseau/donnees")
    assert page.status_code == 200 and "<h1>Données ouvertes</h1>" in page.text
    for name in OPEN_DATA_TABLES:
        assert f'href="/reseau/donnees/{name}.csv"' in page.text
        assert f'href="/reseau/donnees/{name}.parquet"' in page.text
    for name in ("reseau.gpkg", "dictionnaire.csv", "donnees-ouvertes.zip"):
        assert f'href="/reseau/donnees/{name}"' in page.text
    assert 'href="/openapi.json"' in page.text and "ODbL" in page.text


def test_the_geopackage_gives_the_pages_figures(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "reseau.gpkg"
    path.write_bytes(_get(world, "reseau.gpkg"))
    national = {r["neighbourhood_id"]: r for r in world.site.client().get("/national").json()}
    quartiers = gpd.read_file(path, layer="quartiers")
    assert sorted(quartiers["neighbourhood_id"]) == sorted(national)
    for _, row in quartiers.iterrows():
        api = national[row["neighbourhood_id"]]
        assert row["n_respondents"] == api["n_respondents"]
        assert bool(row["synthetic"]) == api["synthetic"]
        for key, value in api["mean_kgco2e"].items():
            usage = key.removesuffix("_kgco2e")
            if value is None:
                assert pd.isna(row[f"kgco2e_{usage}"])
            else:
                assert row[f"kgco2e_{usage}"] == pytest.approx(value)
        assert row["portal"].startswith("/q/")
    # every published release's cells, with the neighbourhood they belong to
    cells = gpd.read_file(path, layer="carreaux")
    with store.session_scope(world.site.engine) as s:
        expected = 0
        for release in s.query(store.Release):
            diag = s.get_one(store.Diagnostic, release.diagnostic_id)
            hood = s.get_one(store.Neighbourhood, diag.neighbourhood_id)
            if hood.published and hood.slug:
                expected += len(Figures.from_json(release.figures).features)
    assert len(cells) == expected > 0
    assert cells.crs.to_epsg() == 2154 and cells["synthetic"].all()
    assert world.ids["cache"] not in set(cells["neighbourhood_id"])
    # every figure of a portal's CSV file, row for row
    chiffres = gpd.read_file(path, layer="chiffres")
    portal = world.site.client().get("/q/nantes-hypercentre/diagnostic/1.csv")
    assert portal.status_code == 200
    rows = list(csv.reader(io.StringIO(portal.content.decode("utf-8-sig"))))[1:]
    mine = chiffres[chiffres["neighbourhood_id"] == world.ids["nantes-hypercentre"]]
    assert len(mine) == len(rows)
    assert list(mine["label"]) == [r[3] for r in rows]
    projets = gpd.read_file(path, layer="projets")
    assert list(projets["title"]) == ["Rue aux écoles"]
    assert projets["expected_kgco2e_per_year"].iloc[0] == pytest.approx(4200.0)


def test_the_parquet_files_hold_the_csv_rows(world: World) -> None:
    for name in OPEN_DATA_TABLES:
        from_csv = pd.read_csv(io.BytesIO(_get(world, f"{name}.csv")))
        from_parquet = pd.read_parquet(io.BytesIO(_get(world, f"{name}.parquet")))
        assert len(from_csv) == len(from_parquet)
        assert "neighbourhood_id" in from_parquet.columns
        assert sorted(from_csv["neighbourhood_id"]) == sorted(from_parquet["neighbourhood_id"])


def test_the_dictionary_names_every_column_and_the_zip_holds_everything(world: World) -> None:
    dictionary = pd.read_csv(io.BytesIO(_get(world, "dictionnaire.csv")))
    for name in OPEN_DATA_TABLES:
        columns = set(pd.read_parquet(io.BytesIO(_get(world, f"{name}.parquet"))).columns)
        assert columns <= set(dictionary.loc[dictionary["table"] == name, "column"])
    assert set(dictionary["licence"]) == {"Licence Ouverte 2.0", "ODbL 1.0"}
    with zipfile.ZipFile(io.BytesIO(_get(world, "donnees-ouvertes.zip"))) as zf:
        names = {n.removeprefix("donnees-ouvertes/") for n in zf.namelist()}
    assert {"reseau.gpkg", "dictionnaire.csv", "LICENCE.txt"} <= names
    assert {f"{n}.parquet" for n in OPEN_DATA_TABLES} <= names


def test_nothing_unpublished_is_in_any_file(world: World) -> None:
    for name in ("quartiers.csv", "chiffres.csv", "carreaux.csv", "contours.csv", "projets.csv"):
        text = _get(world, name).decode("utf-8")
        assert "Quartier caché" not in text and "Brouillon" not in text and "Caché" not in text


def test_an_unknown_file_is_the_404_page_and_english_has_no_french(world: World) -> None:
    answer = world.site.client().get("/reseau/donnees/secret.csv")
    assert answer.status_code == 404 and "<html" in answer.text
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    page = client.get("/reseau/donnees")
    assert "<h1>Open data</h1>" in page.text and "Données ouvertes" not in page.text
    dictionary = pd.read_csv(io.BytesIO(_get(world, "dictionnaire.csv", "en")))
    assert "Name of the neighbourhood" in set(dictionary["meaning"])
