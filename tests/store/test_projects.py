"""Project sheets (:mod:`qet_geo.store.projects`): validation, the effect from the latest
release, milestones and indicators, publication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import box
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.store import models as store
from qet_geo.store.models import NotFoundError
from qet_geo.store.projects import (
    STATUS_LABELS,
    STATUSES,
    ProjectForm,
    get_project,
    parse_indicators,
    parse_milestones,
    projects_of,
    public_projects,
    publish_project,
    save_project,
)

FIGURES = {
    "n_respondents": 40,
    "footprints": {"transportation_mode": 2000.0},
    "profile_shares": {"0": 0.5, "1": 0.5},
    "links": {"status": "ok", "fr": {"votes": [{"usage": "transportation_mode", "built": 100.0}]}},
    "access": {"homes": 100},
}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        store.add_neighbourhood(s, name="A")
        store.add_neighbourhood(s, name="B")
        yield s
    engine.dispose()


def _release(session: Session, hood: int, year: int, figures: dict) -> None:
    diag = store.Diagnostic(neighbourhood_id=hood, year=year)
    session.add(diag)
    session.flush()
    session.add(store.Release(diagnostic_id=diag.id, number=1, n_respondents=40, figures=figures))
    session.flush()


def test_statuses() -> None:
    assert STATUSES == ("idee", "propose", "retenu", "en_cours", "realise", "abandonne")
    assert set(STATUS_LABELS) == set(STATUSES)
    assert STATUS_LABELS["realise"].render("en") != STATUS_LABELS["realise"].render("fr")


def test_milestones_and_indicators() -> None:
    assert parse_milestones("2027-05-01 ; Pose ; fait\n\nConcertation\n2027-01-10; Vote") == [
        {"on": "2027-01-10", "label": "Vote", "done": False},
        {"on": "2027-05-01", "label": "Pose", "done": True},
        {"on": "", "label": "Concertation", "done": False},
    ]
    assert parse_indicators("Vélos prêtés ; 42 ; vélos\nAteliers ; 3") == [
        {"label": "Vélos prêtés", "value": "42", "unit": "vélos"},
        {"label": "Ateliers", "value": "3", "unit": ""},
    ]
    with pytest.raises(ValidationError):
        parse_indicators("Sans valeur")
    with pytest.raises(ValidationError):
        parse_milestones("2027-13-01 ; Mauvaise date")
    with pytest.raises(ValidationError):
        parse_milestones("2027-01-01")


def test_save_computes_the_effect_from_the_latest_campaign(session: Session) -> None:
    _release(session, 1, 0, {"footprints": {}})
    _release(session, 1, 1, FIGURES)
    form = ProjectForm(title="Vélos", usage="transportation_mode", profiles="1", status="propose")
    project = save_project(session, 1, form)
    # 100 kg × 0.5 × 100 homes × 2.2 = 11 000
    assert project.effect["status"] == "ok" and project.effect["value"] == 11_000
    assert project.effect["params"]["method"] == "diagnostic"
    assert project.effect["release"]["number"] == 1
    assert project.profiles == [1]
    again = ProjectForm.of(project)
    assert again.title == "Vélos" and again.profiles == "1"
    form.method, form.factor, form.units, form.source = "factor", "2", "300", "ADEME"
    save_project(session, 1, form, project=project)
    assert project.effect["value"] == 600
    assert "release" not in project.effect  # a factor does not come from a release
    assert ProjectForm.of(project).factor == "2"


def test_withheld_without_release(session: Session) -> None:
    project = save_project(
        session, 2, ProjectForm(title="X", usage="transportation_mode", profiles="1")
    )
    assert project.effect["status"] == "withheld"
    assert "pas encore de résultats" in project.effect["reason"]["fr"]


@pytest.mark.parametrize(
    "change",
    [
        {"title": " "},
        {"status": "fini"},
        {"usage": "voiture"},
        {"method": "magie"},
        {"profiles": "un"},
        {"budget_eur": "beaucoup"},
        {"budget_eur": "-3"},
        {"starts_on": "2027-05-01", "ends_on": "2027-01-01"},
        {"reach_percent": "120"},
        {"x": "225000"},
        {"x": "0", "y": "0"},
        {"title": "x" * 201},
    ],
)
def test_bad_input(session: Session, change: dict[str, str]) -> None:
    form = ProjectForm(title="Ok")
    for key, value in change.items():
        setattr(form, key, value)
    with pytest.raises(ValidationError):
        save_project(session, 1, form, territory=box(220000, 6750000, 222000, 6752000))


def test_place_and_publication(session: Session) -> None:
    territory = box(220000, 6750000, 222000, 6752000)
    one = save_project(
        session, 1, ProjectForm(title="B", x="221000", y="6751000", status="realise"),
        territory=territory,
    )  # fmt: skip
    two = save_project(session, 1, ProjectForm(title="A", status="idee"))
    other = save_project(session, 2, ProjectForm(title="Ailleurs"))
    assert one.place_wkt == "POINT (221000 6751000)"
    assert [p.id for p in projects_of(session, 1)] == [two.id, one.id]
    assert public_projects(session, 1) == []
    publish_project(session, one, True)
    publish_project(session, two, True)
    assert [p.title for p in public_projects(session, 1)] == ["A", "B"]  # by status
    assert get_project(session, 1, one.id, published_only=True) is one
    with pytest.raises(NotFoundError):
        get_project(session, 1, other.id)
    publish_project(session, one, False)
    with pytest.raises(NotFoundError):
        get_project(session, 1, one.id, published_only=True)
