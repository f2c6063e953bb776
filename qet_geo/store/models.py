"""The store's tables and how to open it: models, engine, sessions, tokens and keyed hashes.

The store is a SQLAlchemy 2 database: a SQLite file by default, PostgreSQL (with PostGIS) when
``QET_DATABASE_URL`` points to one. Only *protected* locations are ever written: a respondent's
home is kept as its INSEE 200 m cell id (``CRS3035RES200mN…E…``) and, inside the store only, its
building key (rule 1 of ``docs/privacy.md``). Raw addresses and coordinates are dropped by
:func:`qet_geo.privacy.coarsen_locations` before anything reaches a table (uploads are written by
:mod:`qet_geo.store.ingest`).

The secrets of the keyed hashes (respondent pseudonyms, vote codes) are kept outside the
database (:func:`pseudonym_key`), so that a copy of the database alone cannot be turned back into
ids or codes.

Examples
--------
>>> engine = make_engine("sqlite:///qet.db")  # doctest: +SKIP
>>> create_schema(engine)  # doctest: +SKIP
>>> with session_scope(engine) as s:  # doctest: +SKIP
...     hood = add_neighbourhood(s, name="Kervénanec", iris_codes=["561210101"])
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from qet_geo.errors import QetGeoError, ValidationError
from qet_geo.i18n import msg

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ROLES",
    "ApiToken",
    "BallotCount",
    "Base",
    "CommunityPost",
    "CommunityReport",
    "CommunityThread",
    "ConflictError",
    "Diagnostic",
    "Event",
    "Expert",
    "ExpertMessage",
    "ExpertProject",
    "Indicator",
    "Invitation",
    "LoginAttempt",
    "Neighbourhood",
    "NotFoundError",
    "PaperCount",
    "Phase",
    "Profile",
    "Project",
    "ProjectComment",
    "ProjectFollow",
    "Release",
    "Respondent",
    "SurveyAnswer",
    "Upload",
    "User",
    "UserNeighbourhood",
    "Vote",
    "VoteCode",
    "WebSession",
    "add_neighbourhood",
    "create_schema",
    "create_token",
    "database_url",
    "diagnostic_published",
    "extract_path",
    "make_engine",
    "national_reference",
    "session_scope",
    "territory_geometry",
    "token_hash",
    "vote_code_hmac",
    "vote_code_key",
]

logger = logging.getLogger(__name__)

#: Database used when ``QET_DATABASE_URL`` is not set: a SQLite file in the working folder.
DEFAULT_DATABASE_URL = "sqlite:///qet.db"

#: Roles of API tokens: admin, network staff, pilot team (bound to neighbourhoods), public.
ROLES: tuple[str, ...] = ("admin", "staff", "pilot", "public")


class NotFoundError(QetGeoError, LookupError):
    """A neighbourhood, diagnostic, vote or token does not exist (or is not visible)."""


class ConflictError(QetGeoError):
    """A request clashes with what is stored (a respondent id already uploaded, a closed vote)."""


_GEOMETRY = Text().with_variant(Geometry("GEOMETRY", srid=2154, spatial_index=True), "postgresql")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table of the store."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Neighbourhood(Base):
    """A neighbourhood of the network: its name, IRIS codes and territory (WKT, EPSG:2154)."""

    __tablename__ = "neighbourhoods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    commune: Mapped[str | None] = mapped_column(String(200), default=None)
    iris_codes: Mapped[list[Any]] = mapped_column(default=list)
    # Text on SQLite; a PostGIS geometry (Lambert-93) on PostgreSQL.
    territory_wkt: Mapped[str | None] = mapped_column(_GEOMETRY, default=None)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # File name of the neighbourhood's OSM extract in the service's OSM folder (visit routes).
    osm_extract: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # The public portal's address, /q/{slug} (qet_geo.store.portal.set_slug checks it).
    slug: Mapped[str | None] = mapped_column(String(60), default=None, unique=True, index=True)

    diagnostics: Mapped[list[Diagnostic]] = relationship(
        back_populates="neighbourhood", cascade="all, delete-orphan"
    )

    @property
    def has_territory(self) -> bool:
        """Whether the neighbourhood's outline is known."""
        return self.territory_wkt is not None

    @property
    def synthetic_years(self) -> list[int]:
        """The years of its campaigns whose answers are synthetic (demonstrations)."""
        return sorted(d.year for d in self.diagnostics if d.synthetic)


class Diagnostic(Base):
    """A dated survey campaign of a neighbourhood: year 0, year 1..."""

    __tablename__ = "diagnostics"
    __table_args__ = (UniqueConstraint("neighbourhood_id", "year", name="uq_diagnostic_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(20), default="collecting")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # The analysis job: the step running (None when idle) and its last message, {"fr", "en",
    # "code"}: why it failed, or what it left out when done.
    job_step: Mapped[str | None] = mapped_column(String(40), default=None)
    job_message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # When the job's state was last written (UTC; each step writes it), and the id of the run
    # that holds the job: a queued or running job silent for too long is taken as abandoned
    # (its process was killed), and a new run then takes it over from the stale one.
    job_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    job_id: Mapped[str | None] = mapped_column(String(32), default=None)
    # Whether the campaign's answers are synthetic (made by ``qet survey synthesize``, not
    # collected): set by its first upload, reset when its last upload is deleted. A diagnostic
    # never mixes synthetic and real uploads, and every figure of a synthetic one says so.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    neighbourhood: Mapped[Neighbourhood] = relationship(back_populates="diagnostics")


class Upload(Base):
    """One ingested survey file: the unit of idempotency and of the ingestion transaction."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("diagnostic_id", "sha256", name="uq_upload_file"),
        UniqueConstraint("key_scope", "idempotency_key", name="uq_upload_key"),
        # ids never reused after a deletion (SQLite would): a late retry of "delete upload 4"
        # must not delete the upload that replaced it
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Whose key it is (the caller's credential, "token:<hash prefix>"; "" outside the
    # service): a key is looked up among its owner's keys only, so that a key used by one team
    # is neither refused to another nor revealed to it.
    key_scope: Mapped[str] = mapped_column(String(80), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(10), default="su")
    n_rows: Mapped[int] = mapped_column(Integer)
    n_stored: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Whether the file's answers are synthetic (all rows flagged ``synthetic`` or with SYN- ids).
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Respondent(Base):
    """A pseudonymous respondent: protected location only (200 m cell, building key)."""

    __tablename__ = "respondents"
    __table_args__ = (UniqueConstraint("diagnostic_id", "pseudo_id", name="uq_respondent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    pseudo_id: Mapped[str] = mapped_column(String(64))
    cell_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    building_key: Mapped[str | None] = mapped_column(String(80), default=None)
    iris_code: Mapped[str | None] = mapped_column(String(12), default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    profile: Mapped[int | None] = mapped_column(Integer, default=None)
    footprint: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total_kgco2e: Mapped[float | None] = mapped_column(Float, default=None)


class SurveyAnswer(Base):
    """An answer of the other surveys: MdV/EdV ("mdv") or NosGestesClimat ("ngc").

    ``pseudo_id`` is the same keyed pseudonym as :class:`Respondent`'s, so that an NGC row (its
    footprint per category, kgCO2e/yr, in ``answers``) or an MdV row of a person who also
    answered the SU links to that respondent. Locations are protected as for SU answers: a
    200 m cell id and, inside the store only, a building key; raw addresses and coordinates
    are never stored. ``answers`` holds the survey's columns (MdV question keys and their
    normalised answers; NGC category keys and kgCO2e).
    """

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("diagnostic_id", "kind", "pseudo_id", name="uq_survey_answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    pseudo_id: Mapped[str] = mapped_column(String(64))
    cell_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    building_key: Mapped[str | None] = mapped_column(String(80), default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Indicator(Base):
    """A built-constraint indicator of a zone (200 m cell or IRIS) of a neighbourhood."""

    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("neighbourhood_id", "zone_id", "name", name="uq_indicator"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    population: Mapped[float | None] = mapped_column(Float, default=None)


class Profile(Base):
    """Usage profiles: of a diagnostic, or national reference ones (``diagnostic_id`` null).

    ``centre`` maps each usage to the profile centre in level steps (0 for level 1, 2 for
    level 3); ``share`` is the share of the fitted answers in the profile. Only profiles of at
    least 11 respondents are stored.
    """

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int | None] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True, default=None
    )
    scope: Mapped[str] = mapped_column(String(20), default="diagnostic")
    number: Mapped[int] = mapped_column(Integer)
    centre: Mapped[dict[str, Any]] = mapped_column(default=dict)
    share: Mapped[float | None] = mapped_column(Float, default=None)
    # fitted on synthetic answers only (a demonstration: no real campaign to fit on yet)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # national profiles: public on /reseau/profils once network staff publish them (0019)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Vote(Base):
    """A vote on the themes of a diagnostic.

    Its participant codes live in :class:`VoteCode` (keyed hashes, a spent flag) and its ballots
    in :class:`BallotCount` (one counter per theme): nothing relates a ballot to a code.
    """

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(500))
    themes: Mapped[list[Any]] = mapped_column(default=list)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class VoteCode(Base):
    """A participant code of a vote: its keyed hash (:func:`vote_code_hmac`) and whether it voted.

    The code itself is shown once, to whoever opens the vote, and never stored. No time, no
    order: the primary key is the hash, and casting a ballot rewrites every code row of the vote
    (``api.routers.votes``), so that neither row order nor PostgreSQL's system columns (``ctid``,
    ``xmin``) tell which code voted when.
    """

    __tablename__ = "vote_codes"

    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    code_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent: Mapped[bool] = mapped_column(Boolean, default=False)


class BallotCount(Base):
    """The ballot box of a vote: how many ballots chose theme number ``position`` (0-based).

    Ballots are added to the counters and kept nowhere one by one, so that no row, id or row
    order stands for a ballot; each ballot rewrites every counter of its vote. The number of
    ballots is the number of spent codes.
    """

    __tablename__ = "ballot_counts"

    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)


class PaperCount(Base):
    """One team member's count of a vote's paper ballots: the ballots per theme, and blank.

    Two members enter the same ballots independently; the paper result is taken only when two
    entries by different people agree (:func:`qet_geo.store.votes.paper_result`), so that one
    slip of a pen, or one dishonest counter, does not pass unseen.
    """

    __tablename__ = "paper_counts"
    __table_args__ = (UniqueConstraint("vote_id", "user_id", name="uq_paper_count"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    counts: Mapped[list[Any]] = mapped_column(default=list)
    blank: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Phase(Base):
    """One of the six phases of a neighbourhood's process, as its portal shows it.

    ``key`` is one of :data:`qet_geo.store.portal.PHASES`; ``state`` one of
    :data:`qet_geo.store.portal.PHASE_STATES`; ``note`` is the team's Markdown (rendered
    sanitised, never trusted). A phase without a row is "to come", with no date.
    """

    __tablename__ = "phases"
    __table_args__ = (UniqueConstraint("neighbourhood_id", "key", name="uq_phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(12), default="planned")
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    place: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Event(Base):
    """A meeting or workshop of a neighbourhood's process (phases 2 to 5), before and after.

    Before: title, kind, date and time, place, agenda (Markdown), capacity, and registrations
    *as a count* (residents register by number, no name kept). After: minutes (Markdown),
    attendance and contributions counts, and the outputs (``outputs``: shared narrative,
    objectives, problems to solve, each Markdown). Public only once ``published``; every count
    shown follows the ≥ 11 rule when broken down (``qet_geo.store.events``).
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    phase: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(20), default="atelier")
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    place: Mapped[str] = mapped_column(String(300), default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    registrations: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[str] = mapped_column(Text, default="")
    attendance: Mapped[int | None] = mapped_column(Integer, default=None)
    contributions: Mapped[int | None] = mapped_column(Integer, default=None)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: usage profile numbers (of the campaign's latest release) the workshop invites (0016)
    profiles: Mapped[list[Any]] = mapped_column(default=list)
    #: registrations made from each invited profile's public page, by profile number (text)
    profile_registrations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Project(Base):
    """A project sheet of a neighbourhood (phases 5 and 6).

    The problem, the theme and the usage targeted (one of ``USAGES``), the usage profiles
    concerned (numbers), its place (a point, WKT in EPSG:2154), holders and partners, budget and
    funding, dates, status (``qet_geo.store.projects.STATUSES``), milestones and activity
    indicators (lists of dicts), and the expected effect in kgCO2e per year with its
    assumptions (``effect``, computed by ``qet_geo.analysis.project_effect``). Public only once
    ``published``.
    """

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(String(200), default="")
    usage: Mapped[str | None] = mapped_column(String(40), default=None)
    profiles: Mapped[list[Any]] = mapped_column(default=list)
    place_wkt: Mapped[str | None] = mapped_column(Text, default=None)
    holders: Mapped[str] = mapped_column(Text, default="")
    partners: Mapped[str] = mapped_column(Text, default="")
    budget_eur: Mapped[float | None] = mapped_column(Float, default=None)
    funding: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(20), default="idee")
    milestones: Mapped[list[Any]] = mapped_column(default=list)
    indicators: Mapped[list[Any]] = mapped_column(default=list)
    effect: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # put first in the network's projects library by network staff (qet_geo.store.community)
    featured: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ApiToken(Base):
    """An API token (stored as its SHA-256): a role and, for pilot teams, neighbourhoods."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    neighbourhood_ids: Mapped[list[Any]] = mapped_column(default=list)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    # The account that made it from its page (None: made by a script or the CLI); it goes with
    # the account. Its role and neighbourhoods are the account's (qet_geo.store.accounts).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=_now)


class Release(Base):
    """A frozen, numbered publication of a diagnostic's figures (``qet_geo.store.releases``).

    Every published figure of the release (footprints, profile shares, own profiles, cells, map,
    national summary) was computed at once over one set of respondents, kept in
    ``respondent_ids`` (internal: never published) so that the next release can be checked to
    differ from every earlier one by 0 or at least 11 respondents. ``figures`` holds the
    published figures, ``summary`` the small part the national comparison reads.
    """

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("diagnostic_id", "number", name="uq_release_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnostic_id: Mapped[int] = mapped_column(
        ForeignKey("diagnostics.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    n_respondents: Mapped[int] = mapped_column(Integer)
    respondent_ids: Mapped[list[Any]] = mapped_column(default=list)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class User(Base):
    """A person's account on the web workspace (``qet_geo.store.accounts``).

    ``email`` is stored lower-cased (one account per address, whatever its case); the password
    only as its Argon2id hash. The role is an API role (admin, staff, pilot); a pilot sees the
    neighbourhoods of its :class:`UserNeighbourhood` rows.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class UserNeighbourhood(Base):
    """A pilot team member's neighbourhood."""

    __tablename__ = "user_neighbourhoods"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Invitation(Base):
    """A one-time link to create an account (the link's token stored as its SHA-256 only)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True, default=None
    )
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WebSession(Base):
    """A signed-in browser: the cookie's random id stored as its SHA-256, and its CSRF token.

    Kept server-side, so that signing out, a password change or a deactivated account ends it.
    """

    __tablename__ = "web_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class LoginAttempt(Base):
    """A failed sign-in, for the brake on password guessing.

    ``key`` is the SHA-256 of "email:<address>" or "addr:<client address>": neither the
    addresses nor the passwords tried are kept; rows older than a day are deleted.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --------------------------------------------------------------------------------------------------
# engine and sessions


def database_url(url: str | None = None) -> str:
    """Return ``url``, else ``QET_DATABASE_URL``, else :data:`DEFAULT_DATABASE_URL`."""
    return url or os.environ.get("QET_DATABASE_URL") or DEFAULT_DATABASE_URL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Open the database at ``url`` (SQLite file by default, or PostgreSQL/PostGIS).

    Parameters
    ----------
    url
        SQLAlchemy URL; ``QET_DATABASE_URL`` or :data:`DEFAULT_DATABASE_URL` when None.
        ``postgresql://`` URLs use the psycopg 3 driver.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    sqlalchemy.engine.Engine
        With foreign keys and WAL journaling switched on for SQLite.
    """
    url = database_url(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    # statements' values are respondents' rows: never in a log line or an error message
    kwargs.setdefault("hide_parameters", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "handle_error", _strip_error_values)
    # at DEBUG, SQLAlchemy logs every row it fetches: respondents' rows among them
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_no_result_rows)
    return engine


def _no_result_rows(record: logging.LogRecord) -> bool:
    """Drop SQLAlchemy's DEBUG lines of fetched rows (``Row (...)``); keep the others."""
    return record.msg != "Row %r"


def _strip_error_values(context: Any) -> None:
    """Keep the values of the failed statement out of a database error's text.

    PostgreSQL's errors carry them in their DETAIL (``Key (diagnostic_id, pseudo_id)=(3,
    4f2c...) already exists``) and, for bad input, in the primary message; the text of the
    driver's exception then reaches every traceback that is logged. It is replaced by the error
    class, SQLSTATE and the names of the constraint, table and column; the driver's ``diag``
    keeps the rest for code that needs it.
    """
    error = context.original_exception
    diag = getattr(error, "diag", None)
    if diag is None:  # SQLite: its messages name columns, never values
        return
    names = [
        f"{label} {value}"
        for label, value in (
            ("constraint", getattr(diag, "constraint_name", None)),
            ("table", getattr(diag, "table_name", None)),
            ("column", getattr(diag, "column_name", None)),
        )
        if value
    ]
    text = f"{type(error).__name__} (SQLSTATE {getattr(diag, 'sqlstate', None) or '?'})"
    error.args = (f"{text}: {', '.join(names)}" if names else text,)
    wrapped = context.sqlalchemy_exception  # its text was taken from the driver's already
    if wrapped is not None:
        cls = type(error)
        wrapped.args = (f"({cls.__module__}.{cls.__name__}) {error.args[0]}",)


def create_schema(engine: Engine) -> None:
    """Create every table of the store (the Alembic migration creates the same ones)."""
    Base.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session in one transaction: committed on success, rolled back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        yield session


# --------------------------------------------------------------------------------------------------
# tokens and keyed hashes


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    role: str,
    neighbourhood_ids: Sequence[int] = (),
    label: str | None = None,
) -> str:
    """Create an API token and return it (only its hash is stored).

    Parameters
    ----------
    session
        An open session.
    role
        admin, staff, pilot or public.
    neighbourhood_ids
        The neighbourhoods of a pilot team (required for "pilot").
    label
        Who holds it.
    """
    if role not in ROLES:
        raise ValidationError(
            msg(
                "le rôle doit être l'un de {roles}, pas {role!r}.",
                roles=", ".join(ROLES),
                role=role,
            )
        )
    if role == "pilot" and not neighbourhood_ids:
        raise ValidationError(msg("un jeton d'équipe pilote doit indiquer ses quartiers."))
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_sha256=token_hash(token),
            role=role,
            neighbourhood_ids=[int(i) for i in neighbourhood_ids],
            label=label,
        )
    )
    session.flush()
    return token


def pseudonym_key() -> bytes:
    """Return the secret of the respondent pseudonyms.

    ``QET_PSEUDONYM_KEY`` when set (give every server of one store the same value); otherwise a
    random key created once in ``$QET_KEY_DIR/pseudonym.key`` (default
    ``~/.local/share/qet-geo``), readable by its owner only. Losing it only means that a file
    uploaded again is no longer recognised as the same respondents.
    """
    env = os.environ.get("QET_PSEUDONYM_KEY")
    if env:
        return env.encode()
    folder = Path(os.environ.get("QET_KEY_DIR") or Path.home() / ".local" / "share" / "qet-geo")
    path = folder / "pseudonym.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # written whole under a temporary name, then linked into place: a process that loses the
        # race reads the winner's complete key, never a half-written one
        fd, tmp = tempfile.mkstemp(prefix=".pseudonym.", dir=folder)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            with suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ValidationError(
            msg(
                "{path} est vide : supprimez-le pour créer une nouvelle clé de pseudonymisation, "
                "ou définissez QET_PSEUDONYM_KEY.",
                path=path,
            ),
            path=path,
        )
    return key.encode()


def vote_code_key() -> bytes:
    """Return the secret of the vote codes' hashes, derived from :func:`pseudonym_key`.

    Kept outside the database like the pseudonym key (the same ``QET_PSEUDONYM_KEY`` or key
    file), so that a copy of the database alone cannot test guessed codes.
    """
    return hmac.new(pseudonym_key(), b"qet-vote-codes", "sha256").digest()


def vote_code_hmac(vote_id: int, code: str, *, key: bytes | None = None) -> str:
    """Return the keyed hash under which participant ``code`` of vote ``vote_id`` is stored.

    Parameters
    ----------
    vote_id
        The vote (a code is only valid in its own vote).
    code
        The code in canonical form (see ``api.routers.votes``).
    key
        :func:`vote_code_key`, read when None (pass it when hashing many codes).
    """
    key = vote_code_key() if key is None else key
    return hmac.new(key, f"{vote_id}:{code}".encode(), "sha256").hexdigest()


# --------------------------------------------------------------------------------------------------
# neighbourhoods, diagnostics and profiles


def add_neighbourhood(
    session: Session,
    *,
    name: str,
    iris_codes: Sequence[str] = (),
    commune: str | None = None,
    territory_wkt: str | None = None,
    published: bool = False,
    osm_extract: str | None = None,
) -> Neighbourhood:
    """Add a neighbourhood and return it (flushed, with its id)."""
    hood = Neighbourhood(
        name=name,
        osm_extract=osm_extract,
        commune=commune,
        iris_codes=list(iris_codes),
        territory_wkt=territory_wkt,
        published=published,
    )
    session.add(hood)
    session.flush()
    return hood


def territory_geometry(hood: Neighbourhood) -> BaseGeometry | None:
    """Return the neighbourhood's territory as a shapely geometry (EPSG:2154), None if unset.

    The column is text (WKT) on SQLite and a PostGIS geometry on PostgreSQL.
    """
    import shapely

    value: Any = hood.territory_wkt
    if value is None:
        return None
    if isinstance(value, str):
        return shapely.from_wkt(value)
    from geoalchemy2.shape import to_shape

    return to_shape(value)


def extract_path(osm_dir: str | os.PathLike[str] | None, name: str | None) -> Path:
    """Return the path of an OSM extract of the service's OSM folder, refusing any other place.

    Parameters
    ----------
    osm_dir
        The service's OSM folder (``QET_OSM_DIR``).
    name
        The neighbourhood's ``osm_extract``: a file name inside that folder.

    Raises
    ------
    DataCoverageError
        No OSM folder or no extract is configured.
    InputFileError
        The name leads outside the folder (``../``, a link elsewhere) or the file is missing.
    """
    from qet_geo.errors import DataCoverageError, InputFileError

    if osm_dir is None or not name:
        raise DataCoverageError(
            msg(
                "aucun extrait OSM n'est configuré : renseignez QET_OSM_DIR et l'extrait du "
                "quartier (envoyez-le avec PUT /neighbourhoods/<id>/osm-extract)."
            )
        )
    folder = Path(osm_dir).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise InputFileError(
            msg("l'extrait OSM {name!r} n'est pas dans le dossier OSM.", name=name)
        )
    return path


def diagnostic_published(session: Session, diagnostic_id: int) -> bool:
    """Whether the figures of a diagnostic are published (its uploads are then frozen).

    A diagnostic is published once it has a release (:mod:`qet_geo.store.releases`): its figures were
    shown, and the answers behind them stay as they were. Before that, only its writers see its
    live figures, and a wrong or truncated file may still be taken back. The one place that
    decides whether an upload may still be deleted or replaced.
    """
    first = session.scalars(
        select(Release.id).where(Release.diagnostic_id == diagnostic_id).limit(1)
    ).first()
    return first is not None


def national_reference(session: Session) -> list[Profile]:
    """Return the stored national reference profiles (empty before the first national fit)."""
    return list(
        session.scalars(
            select(Profile)
            .where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
            .order_by(Profile.number)
        )
    )


# --------------------------------------------------------------------------------------------------
# the network's community: questions and answers, the expertise directory (qet_geo.store.community)


class CommunityThread(Base):
    """A question of the network's forum (``/reseau/questions``) on one theme; its first post is
    the question's text. ``hidden`` by network staff (with ``hidden_reason``): not public."""

    __tablename__ = "community_threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_post_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CommunityPost(Base):
    """A post of a thread (Markdown ``body``); ``hidden`` by network staff, as a thread."""

    __tablename__ = "community_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("community_threads.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CommunityReport(Base):
    """A member's report of a post to the moderators (one per member and post)."""

    __tablename__ = "community_reports"
    __table_args__ = (UniqueConstraint("post_id", "reporter_id", name="uq_community_report"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("community_posts.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Expert(Base):
    """A member's profile in the expertise directory (``/reseau/expertise``), public only once
    ``published``; never its account's e-mail. ``skills``: keys of
    ``qet_geo.store.community.SKILLS``."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    skills: Mapped[list[Any]] = mapped_column(default=list)
    skills_other: Mapped[str] = mapped_column(String(300), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ExpertProject(Base):
    """A published project sheet an expert worked on."""

    __tablename__ = "expert_projects"

    expert_id: Mapped[int] = mapped_column(
        ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ExpertMessage(Base):
    """A message sent to an expert through the platform (its inbox, ``/reseau/messages``)."""

    __tablename__ = "expert_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    body: Mapped[str] = mapped_column(Text)
    emailed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --------------------------------------------------------------------------------------------------
# comments on and follows of the network's project sheets (qet_geo.store.community)


class ProjectComment(Base):
    """A member's comment on a published project sheet (Markdown ``body``); ``hidden`` by network
    staff (``moderator_id``) with ``hidden_reason``: not public, its author sees it marked."""

    __tablename__ = "project_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ProjectFollow(Base):
    """An account following a project sheet (its page of followed projects, /reseau/suivis)."""

    __tablename__ = "project_follows"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
