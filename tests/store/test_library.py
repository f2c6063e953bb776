"""The network's projects library (qet_geo.store.library), on SQLite and PostgreSQL.

Neighbourhoods and sheets written straight into the store: a published Lorient neighbourhood
(its outline in Lambert-93, from the shared Lorient territory), a published Paris one known only
by an IRIS code, an unpublished one and a published one without a portal address, each with
sheets published or not. France's régions come from the shared data folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy.engine import Engine

from qet_geo.store import library
from qet_geo.store import models as store
from tests.api.conftest import LORIENT_TERRITORY, fresh_postgres_database, postgres_url  # noqa: F401
from tests.conftest import shared

SHARED = shared("census", "communes", "regions-version-simplifiee.geojson").parents[2]


def _lorient_wkt() -> str:
    geometry = LORIENT_TERRITORY.get("geometry", LORIENT_TERRITORY)
    if geometry.get("type") == "FeatureCollection":
        geometry = geometry["features"][0]["geometry"]
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    outline = shapely.transform(
        shape(geometry), lambda xy: __import__("numpy").column_stack(to_l93.transform(*xy.T))
    )
    return str(outline.wkt)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('library') / 'qet.db'}"
    engine = store.make_engine(url)
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        lorient = store.add_neighbourhood(
            s, name="Lorient", territory_wkt=_lorient_wkt(), published=True
        )
        paris = store.add_neighbourhood(
            s, name="Paris 1er", iris_codes=["751010101"], published=True
        )
        hidden = store.add_neighbourhood(s, name="Caché", published=False)
        no_portal = store.add_neighbourhood(s, name="Sans adresse", published=True)
        lorient.slug, paris.slug, hidden.slug = "lorient", "paris", "cache"
        s.flush()

        def add(hood: store.Neighbourhood, title: str, **values: Any) -> None:
            values.setdefault("published", True)
            s.add(store.Project(neighbourhood_id=hood.id, title=title, **values))

        add(lorient, "Vélos partagés", theme="Mobilité", usage="transportation_mode",
            status="en_cours", profiles=[1, 2], budget_eur=15000.0)  # fmt: skip
        add(lorient, "Compost", theme="Alimentation", usage="meat_frequency", status="idee",
            problem="Les déchets de cuisine partent à l'incinérateur.")  # fmt: skip
        add(lorient, "Brouillon à vélo", theme="Mobilité", published=False)
        add(paris, "Rénovation énergétique", theme="énergie", usage="heat_source",
            status="realise", profiles=[2], budget_eur=250000.0)  # fmt: skip
        add(hidden, "Vélos cachés", theme="Mobilité")
        add(no_portal, "Vélos sans portail", theme="Mobilité")
        ids = {"lorient": lorient.id, "paris": paris.id}
    engine.info = ids  # type: ignore[attr-defined]
    yield engine
    engine.dispose()


def _projects(engine: Engine, **kw: Any) -> list[library.LibraryProject]:
    with store.session_scope(engine) as s:
        return library.library_projects(s, shared_data=SHARED, **kw)


def _titles(projects: list[library.LibraryProject]) -> list[str]:
    return sorted(p.title for p in projects)


def test_only_published_sheets_of_published_portals(engine: Engine) -> None:
    assert _titles(_projects(engine)) == ["Compost", "Rénovation énergétique", "Vélos partagés"]


def test_region_from_the_outline_or_the_iris_departement(engine: Engine) -> None:
    by_title = {p.title: p for p in _projects(engine)}
    assert by_title["Vélos partagés"].region == ("53", "Bretagne")
    assert by_title["Rénovation énergétique"].region == ("11", "Île-de-France")
    lon, lat = by_title["Vélos partagés"].lonlat or (0, 0)
    assert -3.5 < lon < -3.2 and 47.6 < lat < 47.9
    assert by_title["Rénovation énergétique"].lonlat is None
    # without the outlines: no région, never an error
    with store.session_scope(engine) as s:
        bare = library.library_projects(s, shared_data=None)
    assert {p.region for p in bare} == {None}


def test_types_come_from_the_national_comparison(engine: Engine) -> None:
    ids = engine.info  # type: ignore[attr-defined]
    by_title = {p.title: p for p in _projects(engine, types={ids["lorient"]: 2, ids["paris"]: -1})}
    assert by_title["Vélos partagés"].typology == 2
    assert by_title["Rénovation énergétique"].typology is None
    page = library.search_library(by_title.values())
    types = {v.key: v for v in dict((k, vs) for k, _t, vs in page.facets)["type"]}
    assert types["2"].count == 2 and types["-"].count == 1
    assert types["2"].label.render("fr") == "Type 3"  # type: ignore[union-attr]
    assert types["-"].label.render("en") == "not classified"  # type: ignore[union-attr]


def _facets(page: library.LibraryPage) -> dict[str, dict[str, int]]:
    return {key: {v.key: v.count for v in values} for key, _title, values in page.facets}


def test_facets_count_projects_and_combine(engine: Engine) -> None:
    projects = _projects(engine)
    page = library.search_library(projects)
    facets = _facets(page)
    assert page.total == 3
    assert facets["statut"] == {"en_cours": 1, "idee": 1, "realise": 1}
    assert facets["cout"] == {"10k-50k": 1, "plus-200k": 1, "non-chiffre": 1}
    assert facets["profil"] == {"1": 1, "2": 2, "-": 1}
    assert facets["region"] == {"53": 2, "11": 1}
    assert facets["effet"] == {"non": 3}
    assert facets["theme"] == {"mobilite": 1, "alimentation": 1, "energie": 1}
    assert facets["usage"] == {"transportation_mode": 1, "meat_frequency": 1, "heat_source": 1}
    # two statuses: their projects add up; the status facet still counts every status
    page = library.search_library(projects, chosen={"statut": ["en_cours", "idee"]})
    assert _titles(page.matching) == ["Compost", "Vélos partagés"]
    facets = _facets(page)
    assert facets["statut"] == {"en_cours": 1, "idee": 1, "realise": 1}
    assert facets["region"] == {"53": 2}
    chosen = {v.key for _k, _t, vs in page.facets for v in vs if v.chosen}
    assert chosen == {"en_cours", "idee"}
    # across facets the choices narrow; a chosen value without projects stays listed at 0
    page = library.search_library(projects, chosen={"region": ["53"], "cout": ["plus-200k"]})
    assert page.total == 0 and page.projects == []
    assert _facets(page)["cout"]["plus-200k"] == 0
    # unknown facets and values are ignored
    page = library.search_library(projects, chosen={"nimporte": ["x"], "statut": []})
    assert page.total == 3


def test_pages(engine: Engine) -> None:
    projects = _projects(engine)
    first = library.search_library(projects, per_page=2)
    assert (first.page, first.pages, len(first.projects)) == (1, 2, 2)
    last = library.search_library(projects, per_page=2, page=99)
    assert (last.page, len(last.projects)) == (2, 1)
    assert library.search_library(projects, per_page=2, page=-3).page == 1
    assert {p.id for p in first.projects} | {p.id for p in last.projects} == {
        p.id for p in projects
    }


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("vélos", ["Vélos partagés"]),
        ("VELOS", ["Vélos partagés"]),
        ("velo", ["Vélos partagés"]),
        ("energetique", ["Rénovation énergétique"]),
        ("Énergie", ["Rénovation énergétique"]),
        ("déchets cuisine", ["Compost"]),
        ("dechets", ["Compost"]),
        ("alimentation", ["Compost"]),
        ("cuisine vélos", []),
        ("cachés", []),
        ("zzzz", []),
        ("'; DROP TABLE projects; --", []),
    ],
)
def test_search_ignores_case_and_accents(engine: Engine, words: str, found: list[str]) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    assert _titles(_projects(engine, words=words)) == found


def test_search_without_unaccent(engine: Engine) -> None:
    """On PostgreSQL without the extension (it could not be created): no error, accents as
    written still match, with French stemming; SQLite never needs it."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP EXTENSION IF EXISTS unaccent")
    try:
        assert _titles(_projects(engine, words="vélo")) == ["Vélos partagés"]
        assert _titles(_projects(engine, words="compost")) == ["Compost"]
        assert len(_projects(engine, words="!!! ???")) == 3
    finally:
        if postgres:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")


def test_fold_text() -> None:
    assert library.fold_text("  Vélos  ŒUVRE  Énergie ") == "velos oeuvre energie"


def test_measured_change_needs_11_respondents_in_both_releases() -> None:
    row = {"n_before": 11, "n_after": 11, "delta": -10.0}
    comparison = library.Comparison(deltas={"heat_source": row})
    assert library.measured_change(comparison, "heat_source") == row
    assert library.measured_change(comparison, "food") is None
    assert library.measured_change(comparison, None) is None
    assert library.measured_change(None, "heat_source") is None
    small = library.Comparison(deltas={"heat_source": {**row, "n_after": 10}})
    assert library.measured_change(small, "heat_source") is None


def test_measured_facet_comes_from_the_comparison(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    lorient = engine.info["lorient"]  # type: ignore[attr-defined]
    row = {"n_before": 40, "n_after": 50, "delta": -10.0}

    def compared(session: Any, hood_id: int) -> tuple[library.Comparison | None, bool]:
        if hood_id == lorient:
            return library.Comparison(deltas={"transportation_mode": row}), True
        return None, False

    monkeypatch.setattr(library, "_latest_comparison", compared)
    by_title = {p.title: p for p in _projects(engine)}
    assert by_title["Vélos partagés"].measured and by_title["Vélos partagés"].synthetic
    assert not by_title["Compost"].measured and by_title["Compost"].synthetic
    assert not by_title["Rénovation énergétique"].synthetic
    assert _facets(library.search_library(by_title.values()))["effet"] == {"oui": 1, "non": 2}


def test_shared_data_path_is_the_folder(engine: Engine) -> None:
    assert (Path(SHARED) / "census" / "communes").is_dir()
    assert len(library.france_regions(SHARED)) == 13


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0017_creates_unaccent_on_postgresql(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    if backend == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    cfg = Config(str(Path(__file__).resolve().parents[2] / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")  # through 0017 (the models may have grown since)
    engine = store.make_engine(url)
    try:
        if backend == "postgresql":
            with engine.connect() as conn:
                found = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'"
                ).scalar()
                assert found == 1
                assert conn.exec_driver_sql("SELECT unaccent('Vélos')").scalar() == "Velos"
        with store.session_scope(engine) as s:
            hood = store.add_neighbourhood(s, name="Kervénanec", published=True)
            hood.slug = "kervenanec"
            s.add(store.Project(neighbourhood_id=hood.id, title="Vélos", published=True))
        with store.session_scope(engine) as s:
            assert [p.title for p in library.library_projects(s, words="velo")] == ["Vélos"]
    finally:
        engine.dispose()
