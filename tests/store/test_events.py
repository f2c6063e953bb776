"""Meetings and workshops (:mod:`qet_geo.store.events`): validation, before and after,
publication, registration by count within the capacity, and counts shown under the ≥ 11 rule."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.store import events
from qet_geo.store import models as store
from qet_geo.store.models import ConflictError, NotFoundError
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401 (a fixture)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=10)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        store.add_neighbourhood(s, name="Kervénanec")
        store.add_neighbourhood(s, name="Bois du Château")
        yield s
    engine.dispose()


def _event(session: Session, **kw: object) -> store.Event:
    fields: dict[str, object] = {"title": "Atelier mobilité", "phase": "inspiration"}
    fields.update(kw)
    return events.create_event(session, 1, **fields)  # type: ignore[arg-type]


def test_create_keeps_the_fields_and_starts_unpublished(session: Session) -> None:
    event = _event(session, starts_at=LATER, place=" Maison de quartier ", capacity=25)
    assert (event.title, event.phase, event.kind) == ("Atelier mobilité", "inspiration", "atelier")
    assert event.place == "Maison de quartier"
    assert event.capacity == 25 and event.registrations == 0
    assert not event.published and event.outputs == {}
    assert events.events_of(session, 1) == [event]
    assert events.events_of(session, 2) == []


@pytest.mark.parametrize(
    "kw",
    [
        {"title": "  "},
        {"phase": "diagnostic"},
        {"kind": "fete"},
        {"starts_at": datetime(2027, 3, 1, 18, 0)},  # no time zone
        {"capacity": events.MIN_CAPACITY - 1},
        {"title": "x" * 201},
    ],
)
def test_create_refuses_bad_fields(session: Session, kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _event(session, **kw)
    assert events.events_of(session, 1) == []


def test_min_capacity_leaves_room_for_any_party_below_eleven() -> None:
    # 10 registered, the largest party still fits: a refusal means 11 or more are registered
    assert events.MIN_CAPACITY >= 10 + events.MAX_PARTY


def test_update_after_checks_everything_before_writing(session: Session) -> None:
    event = _event(session)
    events.update_after(
        session,
        event,
        minutes="# Compte rendu",
        attendance=14,
        contributions=3,
        outputs={"narrative": "Un récit", "objectives": "", "problems": "Les vélos"},
    )
    assert event.minutes == "# Compte rendu"
    assert event.outputs == {"narrative": "Un récit", "problems": "Les vélos"}
    with pytest.raises(ValidationError):
        events.update_after(
            session, event, minutes="autre", attendance=-1, contributions=None, outputs={}
        )
    with pytest.raises(ValidationError):
        events.update_after(
            session, event, minutes="autre", attendance=1, contributions=1, outputs={"x": "y"}
        )
    assert event.minutes == "# Compte rendu" and event.attendance == 14


def test_update_before_refuses_a_capacity_below_the_registrations(session: Session) -> None:
    event = _event(session, starts_at=LATER)
    events.publish_event(session, event, True)
    for _ in range(3):
        events.register(session, 1, event.id, 10, now=NOW)
    fields = {"title": "T", "phase": "sensibilisation", "kind": "reunion", "starts_at": LATER,
              "place": "", "agenda": "", "capacity": 25}  # fmt: skip
    with pytest.raises(ConflictError):
        events.update_before(session, event, **fields)  # type: ignore[arg-type]
    assert event.title == "Atelier mobilité"
    events.update_before(session, event, **{**fields, "capacity": 30})  # type: ignore[arg-type]
    assert (event.title, event.kind, event.capacity) == ("T", "reunion", 30)


def test_registration_counts_within_the_capacity(session: Session) -> None:
    event = _event(session, starts_at=LATER, capacity=events.MIN_CAPACITY)
    with pytest.raises(NotFoundError):  # not published: as if it did not exist
        events.register(session, 1, event.id, 2, now=NOW)
    events.publish_event(session, event, True)
    with pytest.raises(NotFoundError):  # another neighbourhood's address
        events.register(session, 2, event.id, 2, now=NOW)
    for party in (0, events.MAX_PARTY + 1):
        with pytest.raises(ValidationError):
            events.register(session, 1, event.id, party, now=NOW)
    assert events.register(session, 1, event.id, 10, now=NOW).registrations == 10
    # with 10 registered, the largest party still fits (no refusal tells a count under 11)
    assert events.register(session, 1, event.id, events.MAX_PARTY, now=NOW).registrations == 20
    with pytest.raises(ConflictError):
        events.register(session, 1, event.id, 1, now=NOW)
    assert event.registrations == events.MIN_CAPACITY
    with pytest.raises(ConflictError):  # over
        events.register(session, 1, event.id, 1, now=LATER + timedelta(hours=1))


def test_no_capacity_means_no_limit(session: Session) -> None:
    event = _event(session, starts_at=LATER)
    events.publish_event(session, event, True)
    for _ in range(5):
        events.register(session, 1, event.id, 10, now=NOW)
    assert event.registrations == 50


def test_public_events_split_at_now_and_keep_only_published(session: Session) -> None:
    past = _event(session, title="Passé", starts_at=NOW - timedelta(days=3))
    older = _event(session, title="Plus ancien", starts_at=NOW - timedelta(days=30))
    soon = _event(session, title="Bientôt", starts_at=LATER)
    undated = _event(session, title="Sans date")
    hidden = _event(session, title="Caché", starts_at=LATER)
    for e in (past, older, soon, undated):
        events.publish_event(session, e, True)
    found = events.public_events(session, 1, NOW)
    assert [e.title for e in found.upcoming] == ["Bientôt", "Sans date"]
    assert [e.title for e in found.past] == ["Passé", "Plus ancien"]
    assert hidden not in found.upcoming + found.past
    events.publish_event(session, soon, False)
    assert [e.title for e in events.public_events(session, 1, NOW).upcoming] == ["Sans date"]


@pytest.mark.parametrize(
    ("value", "fr"),
    [(None, None), (0, "0"), (1, "moins de 11"), (10, "moins de 11"), (11, "11"), (250, "250")],
)
def test_public_count_withholds_one_to_ten(value: int | None, fr: str | None) -> None:
    shown = events.public_count(value)
    assert (None if shown is None else shown.render("fr")) == fr


def test_event_of_another_neighbourhood_is_not_found(session: Session) -> None:
    event = _event(session)
    assert events.event_of(session, 1, event.id) is event
    with pytest.raises(NotFoundError):
        events.event_of(session, 2, event.id)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return fresh_postgres_database(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'qet.db'}"


def test_concurrent_registrations_never_pass_the_capacity(engine_url: str) -> None:
    engine = store.make_engine(engine_url)
    store.create_schema(engine)
    try:
        with store.session_scope(engine) as s:
            hood = store.add_neighbourhood(s, name="Kervénanec").id
            event = events.create_event(
                s, hood, title="Atelier", phase="inspiration", starts_at=LATER,
                capacity=events.MIN_CAPACITY,
            )  # fmt: skip
            events.publish_event(s, event, True)
            event_id = event.id
        barrier = threading.Barrier(8)

        def one(_: int) -> bool:
            barrier.wait(timeout=30)
            try:
                with store.session_scope(engine) as s:
                    events.register(s, hood, event_id, events.MAX_PARTY, now=NOW)
                return True
            except ConflictError:
                return False

        with ThreadPoolExecutor(8) as pool:
            accepted = list(pool.map(one, range(8)))
        assert sum(accepted) == events.MIN_CAPACITY // events.MAX_PARTY
        with store.session_scope(engine) as s:
            assert s.get(store.Event, event_id).registrations == events.MIN_CAPACITY  # type: ignore[union-attr]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# profiles invited to a workshop, and registrations from a profile's page


def test_invited_profiles_are_among_the_release_ones(session: Session) -> None:
    event = _event(session, profiles=[3, 1, 3], known_profiles=[1, 2, 3])
    assert event.profiles == [1, 3] and event.profile_registrations == {}
    with pytest.raises(ValidationError, match="Profile 4"):
        _event(session, title="Autre", profiles=[4], known_profiles=[1, 2, 3])
    assert [e.title for e in events.events_of(session, 1)] == ["Atelier mobilité"]
    events.invite_profiles(session, event, [2], known=[1, 2, 3])
    assert event.profiles == [2]
    with pytest.raises(ValidationError):
        events.invite_profiles(session, event, [1], known=[])
    assert event.profiles == [2]
    fields = {"title": "Atelier", "phase": "inspiration", "kind": "atelier", "starts_at": None,
              "place": "", "agenda": "", "capacity": None}  # fmt: skip
    events.update_before(session, event, **fields)  # type: ignore[arg-type]
    assert event.profiles == [2]  # profiles=None leaves them
    events.update_before(session, event, **fields, profiles=[], known_profiles=[1])  # type: ignore[arg-type]
    assert event.profiles == []


def test_a_registration_from_a_profile_page_counts_twice_and_keeps_no_one(
    session: Session,
) -> None:
    event = _event(session, starts_at=LATER, profiles=[1, 2], known_profiles=[1, 2])
    events.publish_event(session, event, True)
    events.register(session, 1, event.id, 3, now=NOW, profile=1)
    events.register(session, 1, event.id, 2, now=NOW)
    events.register(session, 1, event.id, 4, now=NOW, profile=1)
    assert event.registrations == 9
    assert event.profile_registrations == {"1": 7}
    with pytest.raises(NotFoundError, match="does not invite"):
        events.register(session, 1, event.id, 1, now=NOW, profile=3)
    assert event.registrations == 9


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        ({}, {1: "moins de 11", 2: "moins de 11"}),
        ({"1": 1}, {1: "moins de 11", 2: "moins de 11"}),
        ({"1": 10, "2": 11}, {1: "moins de 11", 2: "11"}),
        ({"3": 40}, {1: "moins de 11", 2: "moins de 11", 3: "40"}),  # 3 no longer invited
    ],
)
def test_profile_counts_give_no_count_under_eleven_not_even_zero(
    session: Session, counts: dict[str, int], shown: dict[int, str]
) -> None:
    event = _event(session, profiles=[1, 2], known_profiles=[1, 2])
    event.profile_registrations = counts
    assert {k: v.render("fr") for k, v in events.profile_counts(event).items()} == shown


def test_concurrent_profile_registrations_lose_no_count(engine_url: str) -> None:
    engine = store.make_engine(engine_url)
    store.create_schema(engine)
    try:
        with store.session_scope(engine) as s:
            hood = store.add_neighbourhood(s, name="Kervénanec").id
            event = events.create_event(
                s, hood, title="Atelier", phase="inspiration", starts_at=LATER,
                profiles=[1, 2], known_profiles=[1, 2],
            )  # fmt: skip
            events.publish_event(s, event, True)
            event_id = event.id
        barrier = threading.Barrier(8)

        def one(i: int) -> None:
            barrier.wait(timeout=30)
            with store.session_scope(engine) as s:
                events.register(s, hood, event_id, 1, now=NOW, profile=1 + i % 2)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(8)))
        with store.session_scope(engine) as s:
            stored = s.get(store.Event, event_id)
            assert stored is not None
            assert stored.registrations == 8
            assert stored.profile_registrations == {"1": 4, "2": 4}
    finally:
        engine.dispose()
