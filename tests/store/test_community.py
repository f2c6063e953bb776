"""The network's community rules (qet_geo.store.community) and the member role (accounts), on
SQLite and PostgreSQL: questions, answers, moderation, reports, rate limits, expert profiles,
their projects and messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from qet_geo.errors import ValidationError
from qet_geo.store import accounts, community
from qet_geo.store import models as store
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401

PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script> {{ 7*7 }}"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('community') / 'qet.db'}"
    engine = store.make_engine(url)
    store.create_schema(engine)
    yield engine
    engine.dispose()


def _user(s: store.Session, email: str, role: str = "member") -> store.User:
    hoods: list[int] = []
    if role == "pilot":
        hoods = [store.add_neighbourhood(s, name=f"Q {email}").id]
    return accounts.create_user(
        s, email=email, password=PASSWORD, role=role, neighbourhood_ids=hoods
    )


def test_a_member_has_no_neighbourhood_and_no_token(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        member = _user(s, "ana@example.org")
        hood = store.add_neighbourhood(s, name="Lorient")
        assert member.role == "member" and accounts.memberships(s, member.id) == frozenset()
        with pytest.raises(ValidationError):
            accounts.add_membership(s, member, hood.id)
        with pytest.raises(ValidationError):
            accounts.create_user_token(s, member)
        with pytest.raises(ValidationError):
            accounts.create_user(
                s, email="bo@example.org", password=PASSWORD, role="member", neighbourhood_ids=[1]
            )
        assert [a.role for a in accounts.list_accounts(s)] == ["member"]


def test_questions_answers_and_moderation(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana, bo = _user(s, "ana@example.org"), _user(s, "bo@example.org")
        staff = _user(s, "staff@example.org", "staff")
        thread = community.ask_question(
            s, ana, theme="methode", title=f"  Quotas {EVIL} ", body="*Comment* ?", now=NOW
        )
        assert thread.title == f"Quotas {EVIL}"
        post = community.answer_thread(s, bo, thread.id, body="Ainsi.", now=NOW + timedelta(1))
        rows, total = community.threads_page(s)
        assert total == 1 and rows[0].answers == 1
        assert community.threads_page(s, theme="meat_frequency") == ([], 0)
        # a hidden post: gone for the public, marked for its author, whole for staff
        community.moderate_post(s, staff, post.id, hidden=True, reason="Hors sujet")
        public = community.thread_view(s, thread.id)
        assert [p.id for p in public.posts] != [] and post.id not in [p.id for p in public.posts]
        mine = community.thread_view(s, thread.id, viewer=bo)
        (seen,) = [p for p in mine.posts if p.id == post.id]
        assert seen.hidden and seen.body is None and seen.hidden_reason == ""
        full = community.thread_view(s, thread.id, viewer=staff)
        assert [p.body for p in full.posts if p.id == post.id] == ["Ainsi."]
        assert community.threads_page(s)[0][0].answers == 0
        # a reason is required; a member cannot moderate
        with pytest.raises(ValidationError):
            community.moderate_post(s, staff, post.id, hidden=True, reason=" ")
        with pytest.raises(store.NotFoundError):
            community.moderate_post(s, ana, post.id, hidden=False)
        # a hidden thread: not found for the public and others, seen by its author and staff
        community.moderate_thread(s, staff, thread.id, hidden=True, reason="Doublon")
        with pytest.raises(store.NotFoundError):
            community.thread_view(s, thread.id)
        with pytest.raises(store.NotFoundError):
            community.thread_view(s, thread.id, viewer=bo)
        with pytest.raises(store.NotFoundError):
            community.answer_thread(s, ana, thread.id, body="Et alors ?")
        assert community.thread_view(s, thread.id, viewer=ana).hidden
        assert community.threads_page(s) == ([], 0)
        assert community.threads_page(s, moderator=True)[1] == 1


def test_bad_input_is_refused(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana = _user(s, "ana@example.org")
        for theme, title, body in [
            ("sport", "Titre", "Texte"),
            ("methode", " ", "Texte"),
            ("methode", "x" * 201, "Texte"),
            ("methode", "Titre", ""),
            ("methode", "Titre", "x" * (community.BODY_MAX + 1)),
        ]:
            with pytest.raises(ValidationError):
                community.ask_question(s, ana, theme=theme, title=title, body=body)


def test_posting_is_bounded_per_hour(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana = _user(s, "ana@example.org")
        thread = community.ask_question(s, ana, theme="methode", title="T", body="B", now=NOW)
        for i in range(community.POSTS_PER_HOUR - 1):
            community.answer_thread(s, ana, thread.id, body=f"{i}", now=NOW + timedelta(minutes=i))
        with pytest.raises(community.RateLimitError) as refused:
            community.answer_thread(
                s, ana, thread.id, body="encore", now=NOW + timedelta(minutes=30)
            )
        assert 0 < refused.value.retry_after_s <= 3600
        # an hour after the first, one more is heard
        community.answer_thread(s, ana, thread.id, body="enfin", now=NOW + timedelta(minutes=61))


def test_reports_are_counted_once_per_member(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana, bo = _user(s, "ana@example.org"), _user(s, "bo@example.org")
        cy = _user(s, "cy@example.org")
        staff = _user(s, "staff@example.org", "staff")
        thread = community.ask_question(s, ana, theme="methode", title="T", body="Pub", now=NOW)
        post = community.thread_view(s, thread.id).posts[0]
        community.report_post(s, bo, post.id, reason="Publicité")
        community.report_post(s, bo, post.id, reason="Encore")
        community.report_post(s, cy, post.id)
        (view,) = community.open_reports(s)
        assert view.reports == 2 and view.reasons == ("Publicité",)
        community.moderate_post(s, staff, post.id, hidden=True, reason="Publicité")
        assert community.open_reports(s) == []
        with pytest.raises(store.NotFoundError):
            community.report_post(s, cy, post.id)


def _published_project(s: store.Session, *, hood_published: bool = True, **kw: object) -> int:
    hood = store.add_neighbourhood(s, name=f"Quartier {kw.get('title')}", published=hood_published)
    hood.slug = f"q{hood.id}"
    project = store.Project(neighbourhood_id=hood.id, title=str(kw.pop("title")), **kw)
    s.add(project)
    s.flush()
    return project.id


def test_expert_profiles_projects_and_messages(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana, bo = _user(s, "ana@example.org"), _user(s, "bo@example.org")
        shown = _published_project(s, title="Vélo-école", published=True)
        draft = _published_project(s, title="Brouillon", published=False)
        hidden_hood = _published_project(s, title="Caché", published=True, hood_published=False)
        assert [p.id for p in community.network_projects(s)] == [shown]
        form = community.ExpertForm(
            display_name=f"Ana {EVIL}",
            skills=("mobilite", "enquete"),
            bio="**Urbaniste**",
            project_ids=(shown,),
        )
        expert = community.save_expert(s, ana, form, now=NOW)
        assert expert.skills == ["enquete", "mobilite"]  # the list's order
        # not published yet: nowhere but for its owner
        assert community.experts_directory(s) == ([], 0)
        assert community.experts_of_project(s, shown) == []
        with pytest.raises(store.NotFoundError):
            community.expert_view(s, expert.id, viewer=bo)
        assert community.expert_view(s, expert.id, viewer=ana).display_name == f"Ana {EVIL}"
        with pytest.raises(store.NotFoundError):
            community.send_message(s, bo, expert.id, body="Bonjour")
        community.save_expert(
            s,
            ana,
            community.ExpertForm(
                display_name="Ana", skills=("mobilite",), project_ids=(shown,), published=True
            ),
        )
        (listed,), total = community.experts_directory(s)
        assert total == 1 and listed.projects[0].url.endswith(f"/projets/{shown}")
        assert community.experts_directory(s, skill="energie") == ([], 0)
        assert [e.display_name for e in community.experts_of_project(s, shown)] == ["Ana"]
        assert community.author_names(s, [ana.id, bo.id]) == {ana.id: "Ana", bo.id: None}
        for wrong in (draft, hidden_hood, 999999):
            with pytest.raises(ValidationError):
                community.save_expert(
                    s, ana, community.ExpertForm(display_name="Ana", project_ids=(wrong,))
                )
        with pytest.raises(ValidationError):
            community.save_expert(
                s, ana, community.ExpertForm(display_name="Ana", skills=("magie",))
            )
        # messages: kept in the inbox, bounded per day, never to oneself
        for i in range(community.MESSAGES_PER_DAY):
            community.send_message(s, bo, expert.id, body=f"Bonjour {i}", now=NOW)
        with pytest.raises(community.RateLimitError):
            community.send_message(s, bo, expert.id, body="Encore", now=NOW + timedelta(hours=1))
        with pytest.raises(store.NotFoundError):
            community.send_message(s, ana, expert.id, body="Moi")
        box = community.inbox(s, ana)
        assert len(box) == community.MESSAGES_PER_DAY and box[0][1] == "bo@example.org"
        assert community.inbox(s, bo) == []


def test_an_account_deleted_takes_its_posts_and_profile(engine: Engine) -> None:
    with store.session_scope(engine) as s:
        ana = _user(s, "ana@example.org")
        thread = community.ask_question(s, ana, theme="methode", title="T", body="B", now=NOW)
        community.save_expert(s, ana, community.ExpertForm(display_name="Ana", published=True))
        ident = thread.id
    with store.session_scope(engine) as s:
        s.delete(s.get(store.User, ana.id))
    with store.session_scope(engine) as s:
        assert s.get(store.CommunityThread, ident) is None
        assert community.experts_directory(s) == ([], 0)
