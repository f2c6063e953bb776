"""The network's community (issue 17): questions and answers per theme, and the expertise directory.

Anyone with a member account (:data:`qet_geo.store.accounts.ACCOUNT_ROLES`) asks a question on a
theme (:data:`THEMES`: the six usages of the survey and the method), answers one, reports a post
to the moderators; network staff hide a post or a whole thread with a reason (hidden: not public;
its author still sees it, marked as hidden; staff see everything). A member may also publish an
expert profile (:func:`save_expert`): a display name, an organisation, skills from :data:`SKILLS`
and in their own words, a short Markdown bio, the network's published project sheets they worked
on. A profile is public only once published, and never shows its account's e-mail: others contact
the expert through the platform (:func:`send_message`), which keeps the message in the expert's
inbox.

Authors are shown by their published expert name, else as "Membre n° <id>": never by e-mail.
Posting and contacting are bounded per account (:data:`POSTS_PER_HOUR`,
:data:`MESSAGES_PER_DAY`) by counting the account's own rows, so that the bound holds across the
service's processes. Every function takes the time as ``now`` (UTC) when it matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qet_geo.errors import QetGeoError, ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.store.models import (
    CommunityPost,
    CommunityReport,
    CommunityThread,
    Expert,
    ExpertMessage,
    ExpertProject,
    Neighbourhood,
    NotFoundError,
    Project,
    ProjectComment,
    ProjectFollow,
    User,
)
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = [
    "BIO_MAX",
    "BODY_MAX",
    "COMMENTER_ROLES",
    "FOLLOWERS_SHOWN_FROM",
    "MESSAGES_PER_DAY",
    "PAGE_SIZE",
    "POSTS_PER_HOUR",
    "SKILLS",
    "THEMES",
    "TITLE_MAX",
    "CommentView",
    "ExpertForm",
    "ExpertView",
    "FollowedProject",
    "NetworkProject",
    "PostView",
    "RateLimitError",
    "ReportView",
    "ThreadRow",
    "ThreadView",
    "answer_thread",
    "ask_question",
    "author_names",
    "can_comment",
    "comment_project",
    "comments_of_project",
    "expert_of_user",
    "expert_view",
    "experts_directory",
    "experts_of_project",
    "feature_project",
    "follow_project",
    "followed_projects",
    "followers_count",
    "followers_shown",
    "inbox",
    "is_following",
    "is_moderator",
    "moderate_comment",
    "moderate_post",
    "moderate_thread",
    "network_projects",
    "open_reports",
    "report_post",
    "save_expert",
    "send_message",
    "skill_label",
    "theme_label",
    "thread_view",
    "threads_page",
    "unfollow_project",
]

#: The themes of the questions: the survey's six usages, then the method itself.
THEMES: tuple[str, ...] = (*USAGES, "methode")
_THEME_LABELS: Mapping[str, Msg] = {**USAGE_LABELS, "methode": msg("Méthode")}

#: The directory's skills (keys and labels).
SKILLS: Mapping[str, Msg] = {
    "enquete": msg("Enquêtes et collecte"),
    "analyse": msg("Analyse de données"),
    "cartographie": msg("Cartographie"),
    "animation": msg("Animation d'ateliers"),
    "mobilite": msg("Mobilité"),
    "alimentation": msg("Alimentation"),
    "energie": msg("Énergie et logement"),
    "numerique": msg("Numérique responsable"),
    "urbanisme": msg("Urbanisme"),
    "financement": msg("Montage et financement de projets"),
}

TITLE_MAX = 200
BODY_MAX = 10_000
BIO_MAX = 3_000
REASON_MAX = 500
#: Posts (questions and answers) an account may write in an hour.
POSTS_PER_HOUR = 10
#: Messages an account may send to experts in a day.
MESSAGES_PER_DAY = 5
#: Rows on one page of a list.
PAGE_SIZE = 20


class RateLimitError(QetGeoError):
    """An account that wrote too much too fast; ``retry_after_s`` says when it may again."""

    def __init__(self, text: Msg, *, retry_after_s: int) -> None:
        super().__init__(text)
        self.retry_after_s = retry_after_s


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def theme_label(theme: str) -> Msg:
    """The label of a theme (the key itself if unknown)."""
    return _THEME_LABELS.get(theme, msg("{key}", key=theme))


def skill_label(skill: str) -> Msg:
    """The label of a skill (the key itself if unknown)."""
    return SKILLS.get(skill, msg("{key}", key=skill))


def is_moderator(user: User | None) -> bool:
    """Whether ``user`` moderates the community: network staff and administrators."""
    return user is not None and user.role in ("admin", "staff")


def _clean_line(value: str, limit: int, what: Msg, *, required: bool = True) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise ValidationError(msg("{what} est obligatoire.", what=what))
    if len(text) > limit:
        raise ValidationError(msg("{what} compte au plus {n} caractères.", what=what, n=limit))
    return text


def _clean_text(value: str, limit: int, what: Msg, *, required: bool = True) -> str:
    text = value.replace("\r\n", "\n").strip()
    if required and not text:
        raise ValidationError(msg("{what} est obligatoire.", what=what))
    if len(text) > limit:
        raise ValidationError(msg("{what} compte au plus {n} caractères.", what=what, n=limit))
    return text


# --------------------------------------------------------------------------------------------------
# questions


def _check_rate(session: Session, author: User, now: datetime) -> None:
    since = now - timedelta(hours=1)
    times = list(
        session.scalars(
            select(CommunityPost.created_at)
            .where(CommunityPost.author_id == author.id, CommunityPost.created_at > since)
            .order_by(CommunityPost.created_at)
        )
    )
    if len(times) >= POSTS_PER_HOUR:
        wait = _aware(times[-POSTS_PER_HOUR]) + timedelta(hours=1) - now
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise RateLimitError(
            msg(
                "vous avez écrit {n} messages dans l'heure : réessayez dans {minutes} minutes.",
                n=POSTS_PER_HOUR,
                minutes=minutes,
            ),
            retry_after_s=minutes * 60,
        )


def ask_question(
    session: Session,
    author: User,
    *,
    theme: str,
    title: str,
    body: str,
    now: datetime | None = None,
) -> CommunityThread:
    """Open a thread on ``theme`` whose first post is ``body`` (Markdown); return it (flushed).

    Raises
    ------
    ValidationError
        An unknown theme, an empty or too long title or text.
    RateLimitError
        More than :data:`POSTS_PER_HOUR` posts of the author in the last hour.
    """
    now = now or _now()
    if theme not in THEMES:
        raise ValidationError(msg("choisissez le thème de la question."))
    clean_title = _clean_line(title, TITLE_MAX, msg("le titre"))
    text = _clean_text(body, BODY_MAX, msg("le texte"))
    _check_rate(session, author, now)
    thread = CommunityThread(
        theme=theme,
        title=clean_title,
        author_id=author.id,
        hidden=False,
        hidden_reason="",
        created_at=now,
        last_post_at=now,
    )
    session.add(thread)
    session.flush()
    session.add(
        CommunityPost(
            thread_id=thread.id,
            author_id=author.id,
            body=text,
            hidden=False,
            hidden_reason="",
            created_at=now,
        )
    )
    session.flush()
    return thread


def _thread_for(session: Session, thread_id: int, viewer: User | None) -> CommunityThread:
    """The thread if ``viewer`` may see it (hidden: its author and the moderators only)."""
    thread = session.get(CommunityThread, thread_id)
    if thread is None or (
        thread.hidden
        and not is_moderator(viewer)
        and (viewer is None or viewer.id != thread.author_id)
    ):
        raise NotFoundError(msg("cette question n'existe pas."))
    return thread


def answer_thread(
    session: Session, author: User, thread_id: int, *, body: str, now: datetime | None = None
) -> CommunityPost:
    """Answer a visible thread (not a hidden one); return the post (flushed)."""
    now = now or _now()
    thread = _thread_for(session, thread_id, None)
    text = _clean_text(body, BODY_MAX, msg("la réponse"))
    _check_rate(session, author, now)
    post = CommunityPost(
        thread_id=thread.id,
        author_id=author.id,
        body=text,
        hidden=False,
        hidden_reason="",
        created_at=now,
    )
    session.add(post)
    thread.last_post_at = now
    session.flush()
    return post


def author_names(session: Session, user_ids: Iterable[int]) -> dict[int, str | None]:
    """The public name of each author: its published expert name, else None ("Membre n° id")."""
    ids = sorted(set(user_ids))
    names: dict[int, str | None] = dict.fromkeys(ids)
    if ids:
        for user_id, name in session.execute(
            select(Expert.user_id, Expert.display_name).where(
                Expert.user_id.in_(ids), Expert.published.is_(True)
            )
        ):
            names[int(user_id)] = str(name)
    return names


@dataclass(frozen=True)
class ThreadRow:
    """A thread as the list shows it: its answers count only posts the public sees."""

    id: int
    theme: str
    title: str
    answers: int
    last_post_at: datetime
    hidden: bool


def threads_page(
    session: Session, *, theme: str | None = None, page: int = 1, moderator: bool = False
) -> tuple[list[ThreadRow], int]:
    """One page of the threads (of ``theme``), latest activity first, and how many there are.

    Hidden threads are left out, except for a moderator.
    """
    query = select(CommunityThread)
    if theme:
        query = query.where(CommunityThread.theme == theme)
    if not moderator:
        query = query.where(CommunityThread.hidden.is_(False))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = max(1, page)
    threads = list(
        session.scalars(
            query.order_by(CommunityThread.last_post_at.desc(), CommunityThread.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    counts: dict[int, int] = {}
    if threads:
        counts = {
            int(t): int(n)
            for t, n in session.execute(
                select(CommunityPost.thread_id, func.count())
                .where(
                    CommunityPost.thread_id.in_([t.id for t in threads]),
                    CommunityPost.hidden.is_(False),
                )
                .group_by(CommunityPost.thread_id)
            )
        }
    rows = [
        ThreadRow(
            id=t.id,
            theme=t.theme,
            title=t.title,
            answers=max(0, counts.get(t.id, 0) - 1),
            last_post_at=_aware(t.last_post_at),
            hidden=bool(t.hidden),
        )
        for t in threads
    ]
    return rows, total


@dataclass(frozen=True)
class PostView:
    """A post as ``viewer`` sees it: ``body`` is None when it is hidden from them."""

    id: int
    author_id: int
    author_name: str | None
    body: str | None
    hidden: bool
    hidden_reason: str
    created_at: datetime
    mine: bool


@dataclass(frozen=True)
class ThreadView:
    """A thread and one page of its posts (the question first)."""

    id: int
    theme: str
    title: str
    author_id: int
    hidden: bool
    hidden_reason: str
    created_at: datetime
    posts: list[PostView]
    total: int
    mine: bool


def thread_view(
    session: Session, thread_id: int, *, viewer: User | None = None, page: int = 1
) -> ThreadView:
    """A thread and a page of its posts, as ``viewer`` (None: the public) may see them.

    A hidden thread is not found, except by its author and the moderators. A hidden post is left
    out for the public, shown without its text (marked hidden) to its author, in full to the
    moderators.
    """
    thread = _thread_for(session, thread_id, viewer)
    moderator = is_moderator(viewer)
    viewer_id = None if viewer is None else viewer.id
    query = select(CommunityPost).where(CommunityPost.thread_id == thread.id)
    if not moderator:
        if viewer_id is None:
            query = query.where(CommunityPost.hidden.is_(False))
        else:
            query = query.where(
                or_(CommunityPost.hidden.is_(False), CommunityPost.author_id == viewer_id)
            )
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = max(1, page)
    posts = list(
        session.scalars(
            query.order_by(CommunityPost.created_at, CommunityPost.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    names = author_names(session, [p.author_id for p in posts] + [thread.author_id])
    views = [
        PostView(
            id=p.id,
            author_id=p.author_id,
            author_name=names.get(p.author_id),
            body=p.body if (not p.hidden or moderator) else None,
            hidden=bool(p.hidden),
            hidden_reason=p.hidden_reason if moderator else "",
            created_at=_aware(p.created_at),
            mine=p.author_id == viewer_id,
        )
        for p in posts
    ]
    return ThreadView(
        id=thread.id,
        theme=thread.theme,
        title=thread.title,
        author_id=thread.author_id,
        hidden=bool(thread.hidden),
        hidden_reason=thread.hidden_reason if moderator else "",
        created_at=_aware(thread.created_at),
        posts=views,
        total=total,
        mine=thread.author_id == viewer_id,
    )


#: What moderation hides: a question's post, a question, a project sheet's comment.
_Moderated = TypeVar("_Moderated", CommunityPost, CommunityThread, ProjectComment)


def _check_moderator(user: User) -> None:
    if not is_moderator(user):
        raise NotFoundError(msg("seule l'équipe du réseau modère les questions."))


def _moderate(
    session: Session,
    moderator: User,
    model: type[_Moderated],
    row_id: int,
    *,
    missing: Msg,
    hidden: bool,
    reason: str,
) -> _Moderated:
    """Hide a post, a thread or a comment (with a reason, required) or show it again (network
    staff). The reason is checked before anything changes: a refused one leaves the row as it
    was."""
    _check_moderator(moderator)
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(missing)
    clean = _clean_line(reason, REASON_MAX, msg("la raison")) if hidden else ""
    row.hidden = hidden
    row.hidden_reason = clean
    session.flush()
    return row


def moderate_post(
    session: Session, moderator: User, post_id: int, *, hidden: bool, reason: str = ""
) -> CommunityPost:
    """Hide a post (with a reason, required) or show it again (network staff)."""
    return _moderate(
        session, moderator, CommunityPost, post_id,
        missing=msg("ce message n'existe pas."), hidden=hidden, reason=reason,
    )  # fmt: skip


def moderate_thread(
    session: Session, moderator: User, thread_id: int, *, hidden: bool, reason: str = ""
) -> CommunityThread:
    """Hide a whole thread (with a reason, required) or show it again (network staff)."""
    return _moderate(
        session, moderator, CommunityThread, thread_id,
        missing=msg("cette question n'existe pas."), hidden=hidden, reason=reason,
    )  # fmt: skip


def report_post(
    session: Session, reporter: User, post_id: int, *, reason: str = "", now: datetime | None = None
) -> None:
    """Report a post the reporter can see to the moderators (a second report of theirs: nothing)."""
    post = session.get(CommunityPost, post_id)
    if post is None or post.hidden:
        raise NotFoundError(msg("ce message n'existe pas."))
    _thread_for(session, post.thread_id, None)
    exists = session.scalar(
        select(CommunityReport.id).where(
            CommunityReport.post_id == post.id, CommunityReport.reporter_id == reporter.id
        )
    )
    if exists is not None:
        return
    session.add(
        CommunityReport(
            post_id=post.id,
            reporter_id=reporter.id,
            reason=_clean_line(reason, REASON_MAX, msg("la raison"), required=False),
            created_at=now or _now(),
        )
    )
    session.flush()


@dataclass(frozen=True)
class ReportView:
    """A reported post, for the moderators: how many reports, their reasons."""

    post_id: int
    thread_id: int
    thread_title: str
    body: str
    hidden: bool
    reports: int
    reasons: tuple[str, ...]


def open_reports(session: Session) -> list[ReportView]:
    """The reported posts not hidden yet, most reported first (the moderators' list)."""
    grouped: dict[int, list[str]] = {}
    for post_id, reason in session.execute(
        select(CommunityReport.post_id, CommunityReport.reason).order_by(CommunityReport.id)
    ):
        grouped.setdefault(int(post_id), []).append(str(reason))
    views = []
    for post_id, reasons in grouped.items():
        post = session.get(CommunityPost, post_id)
        if post is None or post.hidden:
            continue
        thread = session.get(CommunityThread, post.thread_id)
        views.append(
            ReportView(
                post_id=post.id,
                thread_id=post.thread_id,
                thread_title="" if thread is None else thread.title,
                body=post.body,
                hidden=bool(post.hidden),
                reports=len(reasons),
                reasons=tuple(r for r in reasons if r),
            )
        )
    return sorted(views, key=lambda v: (-v.reports, v.post_id))


# --------------------------------------------------------------------------------------------------
# the expertise directory


@dataclass(frozen=True)
class NetworkProject:
    """A published project sheet of a published portal, as a profile links it."""

    id: int
    title: str
    hood_name: str
    slug: str

    @property
    def url(self) -> str:
        return f"/q/{self.slug}/projets/{self.id}"


def network_projects(session: Session, ids: Sequence[int] | None = None) -> list[NetworkProject]:
    """The network's published project sheets (of published portals), by portal then title."""
    query = (
        select(Project.id, Project.title, Neighbourhood.name, Neighbourhood.slug)
        .join(Neighbourhood, Neighbourhood.id == Project.neighbourhood_id)
        .where(
            Project.published.is_(True),
            Neighbourhood.published.is_(True),
            Neighbourhood.slug.is_not(None),
        )
    )
    if ids is not None:
        query = query.where(Project.id.in_(list(ids)))
    rows = [NetworkProject(int(i), str(t), str(n), str(s)) for i, t, n, s in session.execute(query)]
    return sorted(rows, key=lambda p: (p.hood_name.lower(), p.title.lower(), p.id))


@dataclass(frozen=True)
class ExpertForm:
    """What the profile form sends (``project_ids``: the sheets ticked)."""

    display_name: str
    organisation: str = ""
    skills: tuple[str, ...] = ()
    skills_other: str = ""
    bio: str = ""
    project_ids: tuple[int, ...] = ()
    published: bool = False


def expert_of_user(session: Session, user_id: int) -> Expert | None:
    """The expert profile of an account, None if it has none."""
    return session.scalars(select(Expert).where(Expert.user_id == user_id)).first()


def save_expert(
    session: Session, user: User, form: ExpertForm, *, now: datetime | None = None
) -> Expert:
    """Create or update ``user``'s expert profile; return it (flushed).

    Raises
    ------
    ValidationError
        An empty or too long name, an unknown skill, a bio too long, a project that is not a
        published sheet of the network.
    """
    now = now or _now()
    name = _clean_line(form.display_name, 120, msg("le nom affiché"))
    organisation = _clean_line(form.organisation, 200, msg("l'organisation"), required=False)
    unknown = [s for s in form.skills if s not in SKILLS]
    if unknown:
        raise ValidationError(msg("compétence inconnue : {skill}.", skill=str(unknown[0])[:40]))
    other = _clean_line(form.skills_other, 300, msg("les autres compétences"), required=False)
    bio = _clean_text(form.bio, BIO_MAX, msg("la présentation"), required=False)
    wanted = sorted(set(form.project_ids))
    known = {p.id for p in network_projects(session, wanted)} if wanted else set()
    if set(wanted) - known:
        raise ValidationError(msg("choisissez des fiches projets publiées du réseau."))
    expert = expert_of_user(session, user.id)
    if expert is None:
        expert = Expert(user_id=user.id, created_at=now)
        session.add(expert)
    expert.display_name = name
    expert.organisation = organisation
    expert.skills = [s for s in SKILLS if s in form.skills]
    expert.skills_other = other
    expert.bio = bio
    expert.published = bool(form.published)
    expert.updated_at = now
    session.flush()
    for link in session.scalars(select(ExpertProject).where(ExpertProject.expert_id == expert.id)):
        session.delete(link)
    session.flush()
    for project_id in wanted:
        session.add(ExpertProject(expert_id=expert.id, project_id=project_id))
    session.flush()
    return expert


@dataclass(frozen=True)
class ExpertView:
    """A profile as a page shows it: no e-mail, no account detail."""

    id: int
    display_name: str
    organisation: str
    skills: tuple[str, ...]
    skills_other: str
    bio: str
    published: bool
    projects: tuple[NetworkProject, ...]


def _view(session: Session, expert: Expert) -> ExpertView:
    ids = list(
        session.scalars(
            select(ExpertProject.project_id).where(ExpertProject.expert_id == expert.id)
        )
    )
    return ExpertView(
        id=expert.id,
        display_name=expert.display_name,
        organisation=expert.organisation,
        skills=tuple(expert.skills),
        skills_other=expert.skills_other,
        bio=expert.bio,
        published=bool(expert.published),
        projects=tuple(network_projects(session, ids)) if ids else (),
    )


def expert_view(session: Session, expert_id: int, *, viewer: User | None = None) -> ExpertView:
    """A profile: published, or the viewer's own (else not found)."""
    expert = session.get(Expert, expert_id)
    if expert is None or (not expert.published and (viewer is None or viewer.id != expert.user_id)):
        raise NotFoundError(msg("ce profil n'existe pas ou n'est pas publié."))
    return _view(session, expert)


def experts_directory(
    session: Session, *, skill: str | None = None, page: int = 1
) -> tuple[list[ExpertView], int]:
    """One page of the published profiles (with ``skill``), by name, and how many there are."""
    experts = list(
        session.scalars(
            select(Expert)
            .where(Expert.published.is_(True))
            .order_by(func.lower(Expert.display_name), Expert.id)
        )
    )
    if skill:
        experts = [e for e in experts if skill in (e.skills or [])]
    page = max(1, page)
    chosen = experts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return [_view(session, e) for e in chosen], len(experts)


def experts_of_project(session: Session, project_id: int) -> list[ExpertView]:
    """The published experts who worked on a published project sheet (none if it is not
    published, or its portal is not), by name."""
    if not network_projects(session, [project_id]):
        return []
    experts = session.scalars(
        select(Expert)
        .join(ExpertProject, ExpertProject.expert_id == Expert.id)
        .where(ExpertProject.project_id == project_id, Expert.published.is_(True))
        .order_by(func.lower(Expert.display_name), Expert.id)
    )
    return [_view(session, e) for e in experts]


def send_message(
    session: Session,
    sender: User,
    expert_id: int,
    *,
    body: str,
    emailed: bool = False,
    now: datetime | None = None,
) -> ExpertMessage:
    """Keep a message to a published expert in its inbox; return it (flushed).

    Raises
    ------
    NotFoundError
        No such published profile, or the sender's own.
    ValidationError
        An empty or too long message.
    RateLimitError
        More than :data:`MESSAGES_PER_DAY` messages of the sender in the last day.
    """
    now = now or _now()
    expert = session.get(Expert, expert_id)
    if expert is None or not expert.published or expert.user_id == sender.id:
        raise NotFoundError(msg("ce profil n'existe pas ou n'est pas publié."))
    text = _clean_text(body, BODY_MAX, msg("le message"))
    sent = int(
        session.scalar(
            select(func.count()).where(
                ExpertMessage.sender_id == sender.id,
                ExpertMessage.created_at > now - timedelta(days=1),
            )
        )
        or 0
    )
    if sent >= MESSAGES_PER_DAY:
        raise RateLimitError(
            msg(
                "vous avez envoyé {n} messages aujourd'hui : réessayez demain.",
                n=MESSAGES_PER_DAY,
            ),
            retry_after_s=86400,
        )
    message = ExpertMessage(
        expert_id=expert.id, sender_id=sender.id, body=text, emailed=emailed, created_at=now
    )
    session.add(message)
    session.flush()
    return message


def inbox(session: Session, user: User) -> list[tuple[ExpertMessage, str | None]]:
    """The messages to ``user``'s expert profile, newest first, with each sender's e-mail (shown
    to the expert only, so that they can answer; None if the sender's account is gone)."""
    expert = expert_of_user(session, user.id)
    if expert is None:
        return []
    rows = session.execute(
        select(ExpertMessage, User.email)
        .outerjoin(User, User.id == ExpertMessage.sender_id)
        .where(ExpertMessage.expert_id == expert.id)
        .order_by(ExpertMessage.created_at.desc(), ExpertMessage.id.desc())
    )
    return [(m, None if e is None else str(e)) for m, e in rows]


# --------------------------------------------------------------------------------------------------
# comments on, follows of and featuring of the network's project sheets (issue 17, roles)

#: The roles that comment on project sheets: members of the network and its staff (a pilot
#: team's account speaks for its neighbourhood on its portal; to comment, one signs up as a member).
COMMENTER_ROLES: tuple[str, ...] = ("member", "staff", "admin")
#: A sheet's count of followers is a count of people: shown from 11 only (docs/privacy.md, 6e).
FOLLOWERS_SHOWN_FROM = 11


def can_comment(user: User | None) -> bool:
    """Whether ``user`` may comment on project sheets (:data:`COMMENTER_ROLES`, active)."""
    return user is not None and bool(user.active) and user.role in COMMENTER_ROLES


def _network_project(session: Session, project_id: int) -> Project:
    """A published sheet of a published portal (else not found)."""
    project = session.scalars(
        select(Project)
        .join(Neighbourhood, Neighbourhood.id == Project.neighbourhood_id)
        .where(
            Project.id == project_id,
            Project.published.is_(True),
            Neighbourhood.published.is_(True),
            Neighbourhood.slug.is_not(None),
        )
    ).first()
    if project is None:
        raise NotFoundError(msg("cette fiche projet n'existe pas ou n'est pas publiée."))
    return project


def _check_comment_rate(session: Session, author: User, now: datetime) -> None:
    """At most :data:`POSTS_PER_HOUR` writings (posts of the questions and comments) an hour."""
    since = now - timedelta(hours=1)
    times = sorted(
        [
            _aware(t)
            for t in session.scalars(
                select(CommunityPost.created_at).where(
                    CommunityPost.author_id == author.id, CommunityPost.created_at > since
                )
            )
        ]
        + [
            _aware(t)
            for t in session.scalars(
                select(ProjectComment.created_at).where(
                    ProjectComment.author_id == author.id, ProjectComment.created_at > since
                )
            )
        ]
    )
    if len(times) >= POSTS_PER_HOUR:
        wait = times[-POSTS_PER_HOUR] + timedelta(hours=1) - now
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise RateLimitError(
            msg(
                "vous avez écrit {n} messages dans l'heure : réessayez dans {minutes} minutes.",
                n=POSTS_PER_HOUR,
                minutes=minutes,
            ),
            retry_after_s=minutes * 60,
        )


def comment_project(
    session: Session, author: User, project_id: int, *, body: str, now: datetime | None = None
) -> ProjectComment:
    """Comment on a published sheet of the network (Markdown ``body``); return it (flushed).

    Raises
    ------
    NotFoundError
        No such published sheet of a published portal.
    ValidationError
        An account that does not comment (:func:`can_comment`), an empty or too long text.
    RateLimitError
        More than :data:`POSTS_PER_HOUR` posts and comments of the author in the last hour.
    """
    now = now or _now()
    project = _network_project(session, project_id)
    if not can_comment(author):
        raise ValidationError(
            msg("seuls les comptes membres du réseau commentent : créez un compte membre.")
        )
    text = _clean_text(body, BODY_MAX, msg("le commentaire"))
    _check_comment_rate(session, author, now)
    comment = ProjectComment(
        project_id=project.id,
        author_id=author.id,
        body=text,
        hidden=False,
        hidden_reason="",
        moderator_id=None,
        created_at=now,
    )
    session.add(comment)
    session.flush()
    return comment


@dataclass(frozen=True)
class CommentView:
    """A comment as ``viewer`` sees it: ``body`` is None when it is hidden from them."""

    id: int
    author_id: int
    author_name: str | None
    body: str | None
    hidden: bool
    hidden_reason: str
    created_at: datetime
    mine: bool


def comments_of_project(
    session: Session, project_id: int, *, viewer: User | None = None
) -> list[CommentView]:
    """The comments of a published sheet, oldest first, as ``viewer`` (None: the public) sees
    them: as the posts of a question (:func:`thread_view`), a hidden comment is left out for the
    public, shown without its text (marked hidden) to its author, in full to the moderators."""
    project = _network_project(session, project_id)
    moderator = is_moderator(viewer)
    viewer_id = None if viewer is None else viewer.id
    query = select(ProjectComment).where(ProjectComment.project_id == project.id)
    if not moderator:
        if viewer_id is None:
            query = query.where(ProjectComment.hidden.is_(False))
        else:
            query = query.where(
                or_(ProjectComment.hidden.is_(False), ProjectComment.author_id == viewer_id)
            )
    comments = list(session.scalars(query.order_by(ProjectComment.created_at, ProjectComment.id)))
    names = author_names(session, [c.author_id for c in comments])
    return [
        CommentView(
            id=c.id,
            author_id=c.author_id,
            author_name=names.get(c.author_id),
            body=c.body if (not c.hidden or moderator) else None,
            hidden=bool(c.hidden),
            hidden_reason=c.hidden_reason if moderator else "",
            created_at=_aware(c.created_at),
            mine=c.author_id == viewer_id,
        )
        for c in comments
    ]


def moderate_comment(
    session: Session, moderator: User, comment_id: int, *, hidden: bool, reason: str = ""
) -> ProjectComment:
    """Hide a comment (with a reason, required) or show it again (network staff); the moderator
    is kept."""
    comment = _moderate(
        session, moderator, ProjectComment, comment_id,
        missing=msg("ce commentaire n'existe pas."), hidden=hidden, reason=reason,
    )  # fmt: skip
    comment.moderator_id = moderator.id
    session.flush()
    return comment


def is_following(session: Session, user_id: int, project_id: int) -> bool:
    """Whether the account follows the sheet."""
    return session.get(ProjectFollow, {"project_id": project_id, "user_id": user_id}) is not None


def follow_project(
    session: Session, user: User, project_id: int, *, now: datetime | None = None
) -> None:
    """Follow a published sheet of the network (already followed: nothing)."""
    project = _network_project(session, project_id)
    if is_following(session, user.id, project.id):
        return
    session.add(ProjectFollow(project_id=project.id, user_id=user.id, created_at=now or _now()))
    session.flush()


def unfollow_project(session: Session, user: User, project_id: int) -> None:
    """Stop following a sheet (not followed: nothing)."""
    follow = session.get(ProjectFollow, {"project_id": project_id, "user_id": user.id})
    if follow is not None:
        session.delete(follow)
        session.flush()


def followers_count(session: Session, project_id: int) -> int:
    """How many accounts follow the sheet (internal: see :func:`followers_shown`)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ProjectFollow)
            .where(ProjectFollow.project_id == project_id)
        )
        or 0
    )


def followers_shown(count: int) -> int | None:
    """The count of followers a page may show: None under :data:`FOLLOWERS_SHOWN_FROM`
    ("moins de 11"), a count of people being a count of respondents' kind."""
    return count if count >= FOLLOWERS_SHOWN_FROM else None


@dataclass(frozen=True)
class FollowedProject:
    """A followed sheet as the member's page lists it: its current status, its last update."""

    id: int
    title: str
    hood_name: str
    slug: str
    status: str
    updated_at: datetime
    followed_at: datetime

    @property
    def url(self) -> str:
        return f"/q/{self.slug}/projets/{self.id}"


def followed_projects(session: Session, user: User) -> list[FollowedProject]:
    """The published sheets ``user`` follows, last updated first (a sheet withdrawn since, or
    whose portal is, is left out until published again)."""
    rows = session.execute(
        select(Project, Neighbourhood.name, Neighbourhood.slug, ProjectFollow.created_at)
        .join(ProjectFollow, ProjectFollow.project_id == Project.id)
        .join(Neighbourhood, Neighbourhood.id == Project.neighbourhood_id)
        .where(
            ProjectFollow.user_id == user.id,
            Project.published.is_(True),
            Neighbourhood.published.is_(True),
            Neighbourhood.slug.is_not(None),
        )
    )
    out = [
        FollowedProject(
            id=p.id,
            title=p.title,
            hood_name=str(name),
            slug=str(slug),
            status=p.status,
            updated_at=_aware(p.updated_at),
            followed_at=_aware(since),
        )
        for p, name, slug, since in rows
    ]
    return sorted(out, key=lambda f: (f.updated_at, f.id), reverse=True)


def feature_project(
    session: Session, moderator: User, project_id: int, *, featured: bool
) -> Project:
    """Put a published sheet first in the projects library, or no longer (network staff)."""
    _check_moderator(moderator)
    project = _network_project(session, project_id)
    project.featured = featured
    session.flush()
    return project
