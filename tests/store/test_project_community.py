"""Comments on, follows of and featuring of the network's project sheets
(qet_geo.store.community), on SQLite and PostgreSQL: roles, moderation, the rate limit shared
with the questions, the count of followers under 11, the library's featured projects first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from qet_geo.errors import ValidationError
from qet_geo.store import community, library
from qet_geo.store import models as store
from tests.api.conftest import postgres_url  # noqa: F401
from tests.store.test_community import EVIL, NOW, _user, engine  # noqa: F401 (the fixture)


def _project(
    s: store.Session, title: str, *, published: bool = True, hood_published: bool = True
) -> int:
    hood = store.add_neighbourhood(s, name=f"Quartier {title}", published=hood_published)
    hood.slug = f"q{hood.id}"
    project = store.Project(neighbourhood_id=hood.id, title=title, published=published)
    s.add(project)
    s.flush()
    return project.id


def test_members_comment_staff_hide_and_the_public_never_sees_a_hidden_comment(
    engine: Engine,  # noqa: F811
) -> None:
    with store.session_scope(engine) as s:
        ana, bo = _user(s, "ana@example.org"), _user(s, "bo@example.org")
        staff = _user(s, "staff@example.org", "staff")
        pilot = _user(s, "pilot@example.org", "pilot")
        sheet = _project(s, "Vélo-école")
        draft = _project(s, "Brouillon", published=False)
        hidden_portal = _project(s, "Caché", hood_published=False)
        first = community.comment_project(s, ana, sheet, body=f"  {EVIL}\n", now=NOW)
        assert first.body == EVIL  # kept as text; the page escapes it
        second = community.comment_project(s, bo, sheet, body="Bravo", now=NOW + timedelta(1))
        community.comment_project(s, staff, sheet, body="L'équipe", now=NOW + timedelta(2))
        # a pilot team's account does not comment; nobody comments an unpublished sheet
        assert not community.can_comment(pilot) and community.can_comment(ana)
        with pytest.raises(ValidationError):
            community.comment_project(s, pilot, sheet, body="x", now=NOW)
        for unpublished in (draft, hidden_portal, 10_000):
            with pytest.raises(store.NotFoundError):
                community.comment_project(s, ana, unpublished, body="x", now=NOW)
            with pytest.raises(store.NotFoundError):
                community.comments_of_project(s, unpublished)
        for empty in ("", "   \n "):
            with pytest.raises(ValidationError):
                community.comment_project(s, ana, sheet, body=empty, now=NOW)
        with pytest.raises(ValidationError):
            community.comment_project(s, ana, sheet, body="x" * (community.BODY_MAX + 1))
        # only staff moderate, and a hidden comment needs a reason
        with pytest.raises(store.NotFoundError):
            community.moderate_comment(s, ana, second.id, hidden=True, reason="R")
        with pytest.raises(ValidationError):
            community.moderate_comment(s, staff, second.id, hidden=True, reason=" ")
        assert not second.hidden  # a refused moderation changes nothing
        hidden = community.moderate_comment(s, staff, second.id, hidden=True, reason="Hors sujet")
        assert hidden.moderator_id == staff.id and hidden.hidden_reason == "Hors sujet"
        public = community.comments_of_project(s, sheet)
        assert [c.body for c in public] == [EVIL, "L'équipe"]
        assert [c.body for c in community.comments_of_project(s, sheet, viewer=ana)] == [
            EVIL,
            "L'équipe",
        ]
        # its author sees it marked, without the reason; staff see it whole
        (mine,) = [c for c in community.comments_of_project(s, sheet, viewer=bo) if c.hidden]
        assert mine.mine and mine.body is None and mine.hidden_reason == ""
        (whole,) = [c for c in community.comments_of_project(s, sheet, viewer=staff) if c.hidden]
        assert whole.body == "Bravo" and whole.hidden_reason == "Hors sujet"
        # shown again
        community.moderate_comment(s, staff, second.id, hidden=False)
        assert len(community.comments_of_project(s, sheet)) == 3
        # authors by their published expert name, else None ("Membre n° id")
        assert {c.author_name for c in public} == {None}


def test_comments_share_the_communitys_rate_limit(engine: Engine) -> None:  # noqa: F811
    with store.session_scope(engine) as s:
        ana = _user(s, "ana@example.org")
        sheet = _project(s, "Compost")
        thread = community.ask_question(s, ana, theme="methode", title="T", body="B", now=NOW)
        for i in range(community.POSTS_PER_HOUR - 2):
            community.comment_project(s, ana, sheet, body=f"c{i}", now=NOW + timedelta(minutes=i))
        community.answer_thread(s, ana, thread.id, body="a", now=NOW + timedelta(minutes=20))
        with pytest.raises(community.RateLimitError) as caught:
            community.comment_project(s, ana, sheet, body="trop", now=NOW + timedelta(minutes=30))
        assert 0 < caught.value.retry_after_s <= 3600
        # an hour after the first, one more
        community.comment_project(s, ana, sheet, body="ok", now=NOW + timedelta(minutes=61))


def test_follows_the_members_list_and_a_count_under_11(engine: Engine) -> None:  # noqa: F811
    with store.session_scope(engine) as s:
        ana = _user(s, "ana@example.org")
        pilot = _user(s, "pilot@example.org", "pilot")
        old, new = _project(s, "Ancien"), _project(s, "Récent")
        s.get(store.Project, new).updated_at = NOW + timedelta(days=2)  # type: ignore[union-attr]
        s.get(store.Project, old).updated_at = NOW  # type: ignore[union-attr]
        draft = _project(s, "Brouillon", published=False)
        community.follow_project(s, ana, old, now=NOW)
        community.follow_project(s, ana, old, now=NOW)  # twice: once
        community.follow_project(s, ana, new, now=NOW)
        community.follow_project(s, pilot, new, now=NOW)  # anyone signed in follows
        with pytest.raises(store.NotFoundError):
            community.follow_project(s, ana, draft, now=NOW)
        assert community.is_following(s, ana.id, old)
        assert [f.title for f in community.followed_projects(s, ana)] == ["Récent", "Ancien"]
        followed = community.followed_projects(s, ana)[0]
        assert followed.url.endswith(f"/projets/{new}") and followed.status == "idee"
        # a sheet withdrawn since leaves the list until published again
        s.get(store.Project, new).published = False  # type: ignore[union-attr]
        assert [f.title for f in community.followed_projects(s, ana)] == ["Ancien"]
        s.get(store.Project, new).published = True  # type: ignore[union-attr]
        community.unfollow_project(s, ana, old)
        community.unfollow_project(s, ana, old)
        assert not community.is_following(s, ana.id, old)
        assert community.followers_count(s, new) == 2
        assert community.followers_shown(2) is None
        assert community.followers_shown(10) is None
        assert community.followers_shown(11) == 11
        for i in range(9):
            community.follow_project(s, _user(s, f"m{i}@example.org"), new, now=NOW)
        assert community.followers_shown(community.followers_count(s, new)) == 11


def test_staff_feature_a_project_first_in_the_library(engine: Engine) -> None:  # noqa: F811
    with store.session_scope(engine) as s:
        staff = _user(s, "staff@example.org", "staff")
        ana = _user(s, "ana@example.org")
        first, last = _project(s, "A vélo"), _project(s, "Zéro déchet")
        draft = _project(s, "Brouillon", published=False)
        assert [p.id for p in library.library_projects(s)] == [first, last]
        with pytest.raises(store.NotFoundError):
            community.feature_project(s, ana, last, featured=True)
        with pytest.raises(store.NotFoundError):
            community.feature_project(s, staff, draft, featured=True)
        community.feature_project(s, staff, last, featured=True)
        rows = library.library_projects(s)
        assert [p.id for p in rows] == [last, first] and [p.featured for p in rows] == [True, False]
        community.feature_project(s, staff, last, featured=False)
        assert [p.id for p in library.library_projects(s)] == [first, last]
