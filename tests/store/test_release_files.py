"""A release as files (qet_geo.store.release_files): the CSV's rows and the GeoPackage.

A Lorient neighbourhood (the shared territory) with one released campaign of
labelled-synthetic answers, built by the web tests' ``campaigns``; its name carries
``<script>`` and ``{{ 7*7 }}``. The GeoPackage is read back with pyogrio and geopandas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qet_geo.store import models as store
from qet_geo.store.release_files import (
    LICENCE_OPEN,
    RELEASE_COLUMNS,
    release_csv,
    release_geopackage,
    release_rows,
    write_release_geopackage,
)
from qet_geo.store.releases import Figures, latest_release
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401 (a fixture)
from tests.web.test_accounts import Site, make_site
from tests.web.test_impact import campaigns

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"


@dataclass
class World:
    site: Site
    diag: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("release_files"))
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    _, diags = campaigns(
        site.client(), site.engine, osm_dir, staff, name=NAME, slug="lorient", years=(0,)
    )
    yield World(site, diags[0])
    site.engine.dispose()


def _release(s: Session, world: World) -> store.Release:
    release = latest_release(s, world.diag)
    assert release is not None
    return release


def _read(data: bytes, tmp_path: Path, name: str = "copy.gpkg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _gpkg(world: World, tmp_path: Path, lang: str = "fr") -> Path:
    with store.session_scope(world.site.engine) as s:
        data = release_geopackage(s, _release(s, world), lang=lang)
    path = tmp_path / f"release-{lang}.gpkg"
    path.write_bytes(data)
    return path


def test_the_geopackage_holds_the_cells_outline_figures_and_metadata(
    world: World, tmp_path: Path
) -> None:
    path = _gpkg(world, tmp_path)
    layers = {str(name): geom for name, geom in pyogrio.list_layers(path)}
    assert set(layers) == {"cells", "outline", "figures", "metadata"}
    assert layers["figures"] is None and layers["metadata"] is None
    cells = gpd.read_file(path, layer="cells")
    outline = gpd.read_file(path, layer="outline")
    assert cells.crs.to_epsg() == 2154 and outline.crs.to_epsg() == 2154
    # metres: a 200 m cell (pooled cells are unions of them) in Lambert-93 coordinates
    assert 100_000 < cells.total_bounds[0] < 1_300_000
    assert cells.area.min() >= 200 * 200 * 0.99
    assert all(c == c.lower() for c in cells.columns)
    assert outline.covers(cells.geometry.union_all().representative_point()).all()
    with store.session_scope(world.site.engine) as s:
        release = _release(s, world)
        figures = Figures.from_json(release.figures)
        number = release.number
        released_on = release.created_at.date().isoformat()
    # the published cells, their published properties only
    assert len(cells) == len(figures.features) > 0
    published = {k.lower() for f in figures.features for k in f["properties"]}
    assert set(cells.columns) == published | {"zone", "synthetic", "licence", "geometry"}
    assert "respondent_id" not in cells.columns
    assert list(cells["n_respondents"]) == [
        f["properties"]["n_respondents"] for f in figures.features
    ]
    assert cells["n_respondents"].min() >= 11
    assert cells["n_respondents"].sum() == figures.n_respondents
    meta = pyogrio.read_dataframe(path, layer="metadata")
    assert len(meta) == 1
    row = meta.iloc[0]
    assert row["neighbourhood"] == NAME and outline["neighbourhood"].iloc[0] == NAME
    assert (row["year"], row["release"], row["n_respondents"]) == (0, number, figures.n_respondents)
    assert row["release_date"] == released_on and row["footprint_scale"] == figures.scale
    assert row["licence"] == LICENCE_OPEN and row["language"] == "fr"
    assert "synthétiques" in row["note"]


def test_labelled_synthetic_answers_are_flagged_on_every_layer(
    world: World, tmp_path: Path
) -> None:
    path = _gpkg(world, tmp_path)
    for layer in ("cells", "outline", "figures", "metadata"):
        frame = pyogrio.read_dataframe(path, layer=layer)
        assert frame["synthetic"].dtype == bool, layer
        assert frame["synthetic"].all(), layer
        assert set(frame["licence"]) <= {LICENCE_OPEN, "ODbL 1.0"}, layer


def test_the_figures_table_is_the_csv(world: World, tmp_path: Path) -> None:
    for lang in ("fr", "en"):
        path = _gpkg(world, tmp_path, lang)
        table = pyogrio.read_dataframe(path, layer="figures")
        with store.session_scope(world.site.engine) as s:
            release = _release(s, world)
            text = release_csv(Figures.from_json(release.figures), lang, release_number=1)
        rows = list(csv.reader(io.StringIO(text)))
        assert tuple(rows[0]) == RELEASE_COLUMNS
        assert len(table) == len(rows) - 1
        for got, want in zip(table.to_dict("records"), rows[1:], strict=True):
            assert [got["release"], got["section"], got["item"], got["label"], got["unit"]] == [
                int(want[0]), want[1], want[2], want[3], want[5]
            ]  # fmt: skip
            for column, i in (("value", 4), ("french_average", 6)):
                if want[i] == "":
                    assert got[column] != got[column], column  # NaN
                else:
                    assert got[column] == pytest.approx(float(want[i])), column
            assert want[7] == "yes" and got["synthetic"]
        labels = set(table["label"])
        assert ("Total des six usages" in labels) == (lang == "fr")


def test_the_cells_carry_the_figures_of_the_csv(world: World, tmp_path: Path) -> None:
    from qet_geo.constraints.indicators import get_figure

    path = _gpkg(world, tmp_path)
    cells = gpd.read_file(path, layer="cells")
    with store.session_scope(world.site.engine) as s:
        rows = release_rows(Figures.from_json(_release(s, world).figures), "fr", release_number=1)
    by_zone: dict[str, list[list[object]]] = {}
    for r in rows:
        if r[1] == "cell":
            by_zone.setdefault(r[2], []).append(r)
    assert set(by_zone) == set(cells["zone"])
    mean = get_figure("total_kgco2e_mean")
    for _, cell in cells.iterrows():
        values = {r[3]: r[4] for r in by_zone[cell["zone"]]}
        assert values["répondants"] == cell["n_respondents"]
        assert values[mean.label.render("fr")] == round(
            cell["total_kgco2e_mean"] * mean.scale, mean.decimals
        )


def test_the_file_is_written_atomically_in_place(world: World, tmp_path: Path) -> None:
    target = tmp_path / "out.gpkg"
    target.write_bytes(b"an older file")
    with store.session_scope(world.site.engine) as s:
        written = write_release_geopackage(s, _release(s, world), target, lang="en")
    assert written == target
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]  # nothing left beside it
    meta = pyogrio.read_dataframe(target, layer="metadata")
    assert meta["language"].iloc[0] == "en" and "Synthetic" in meta["note"].iloc[0]


def test_a_release_without_cells_or_outline_has_the_tables_only(
    world: World, tmp_path: Path
) -> None:
    with store.session_scope(world.site.engine) as s:
        hood = store.add_neighbourhood(s, name="Sans contour")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=3)
        s.add(diag)
        s.flush()
        release = store.Release(
            diagnostic_id=diag.id,
            number=1,
            n_respondents=0,
            respondent_ids=[],
            figures=Figures(n_respondents=0).as_json(),
            summary={},
        )
        s.add(release)
        s.flush()
        data = release_geopackage(s, release)
        assert s.scalar(select(store.Release.id).where(store.Release.id == release.id))
    path = tmp_path / "empty.gpkg"
    path.write_bytes(data)
    assert {str(n) for n, _ in pyogrio.list_layers(path)} == {"figures", "metadata"}
    meta = pyogrio.read_dataframe(path, layer="metadata")
    assert not meta["synthetic"].iloc[0] and meta["n_respondents"].iloc[0] == 0
    assert meta["note"].iloc[0] in ("", None)


def _copy(world: World, engine: Engine, *, properties: dict[str, float] | None = None) -> int:
    """The world's release copied into another store, beside a published Lorient outline; the
    cells given ``properties`` too. Returns the copy's id."""
    with store.session_scope(world.site.engine) as s:
        release = _release(s, world)
        figures = dict(release.figures)
        diag = s.get_one(store.Diagnostic, release.diagnostic_id)
        wkt = s.get_one(store.Neighbourhood, diag.neighbourhood_id).territory_wkt
    if properties:
        figures["features"] = [
            {**f, "properties": {**f["properties"], **properties}} for f in figures["features"]
        ]
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name=NAME, territory_wkt=wkt, published=True)
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=1, synthetic=True)
        s.add(diag)
        s.flush()
        release = store.Release(
            diagnostic_id=diag.id,
            number=4,
            n_respondents=figures["n_respondents"],
            respondent_ids=[],
            figures=figures,
            summary={},
        )
        s.add(release)
        s.flush()
        return release.id


def test_what_derives_from_openstreetmap_is_under_the_odbl(world: World, tmp_path: Path) -> None:
    copied = _copy(world, world.site.engine, properties={"food_shop_min": 6.5})
    with store.session_scope(world.site.engine) as s:
        path = _read(release_geopackage(s, s.get_one(store.Release, copied)), tmp_path)
    cells = gpd.read_file(path, layer="cells")
    assert set(cells["licence"]) == {"ODbL 1.0"} and (cells["food_shop_min"] == 6.5).all()
    assert set(gpd.read_file(path, layer="outline")["licence"]) == {LICENCE_OPEN}
    meta = pyogrio.read_dataframe(path, layer="metadata").iloc[0]
    assert meta["licence"] == f"{LICENCE_OPEN} + ODbL 1.0"
    assert "OpenStreetMap" in meta["attribution"]
    assert (meta["year"], meta["release"]) == (1, 4)


def test_a_postgis_store_gives_the_same_file(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = store.make_engine(fresh_postgres_database(request.getfixturevalue("postgres_url")))
    store.create_schema(engine)
    try:
        copied = _copy(world, engine)
        with store.session_scope(engine) as s:
            release = s.get_one(store.Release, copied)
            path = _read(release_geopackage(s, release), tmp_path, "pg.gpkg")
            released_on = release.created_at.date().isoformat()
    finally:
        engine.dispose()
    here = _gpkg(world, tmp_path)
    outline = gpd.read_file(path, layer="outline")
    assert outline.crs.to_epsg() == 2154 and outline["neighbourhood"].iloc[0] == NAME
    assert outline.area.iloc[0] == pytest.approx(
        gpd.read_file(here, layer="outline").area.iloc[0], rel=1e-6
    )
    ours, theirs = gpd.read_file(path, layer="cells"), gpd.read_file(here, layer="cells")
    assert list(ours["n_respondents"]) == list(theirs["n_respondents"])
    assert ours.geometry.geom_equals_exact(theirs.geometry, tolerance=1e-6).all()
    assert pyogrio.read_dataframe(path, layer="metadata")["release_date"].iloc[0] == released_on
