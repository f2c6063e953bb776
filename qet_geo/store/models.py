"""Persistence of neighbourhoods, diagnostics, protected respondents, indicators and votes.

The store is a SQLAlchemy 2 database: a SQLite file by default, PostgreSQL (with PostGIS) when
``QET_DATABASE_URL`` points to one. Only *protected* locations are ever written: a respondent's
home is kept as its INSEE 200 m cell id (``CRS3035RES200mN…E…``) and, inside the store only, its
building key (rule 1 of ``docs/privacy.md``). Raw addresses and coordinates are dropped by
:func:`qet_geo.privacy.coarsen_locations` before anything reaches a table.

Ingestion (:func:`ingest_su`) is one transaction per upload and idempotent: the SHA-256 of the file
(and the optional idempotency key) identify an upload; sending it again changes nothing. A process
killed mid-upload leaves no partial batch, since nothing is visible before the commit.

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
import io
import logging
import os
import secrets
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from qet_geo import grid
from qet_geo.errors import QetGeoError, ValidationError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ROLES",
    "ApiToken",
    "BallotCount",
    "Base",
    "ConflictError",
    "Diagnostic",
    "Indicator",
    "IngestResult",
    "Neighbourhood",
    "NotFoundError",
    "Profile",
    "Release",
    "Respondent",
    "Upload",
    "Vote",
    "VoteCode",
    "add_neighbourhood",
    "assign_to_centres",
    "create_schema",
    "create_token",
    "database_url",
    "delete_upload",
    "diagnostic_published",
    "extract_path",
    "ingest_su",
    "make_engine",
    "national_reference",
    "respondents_frame",
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

# Test hook: called inside the ingestion transaction, just before the commit.
_BEFORE_COMMIT: Callable[[], None] | None = None


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

    diagnostics: Mapped[list[Diagnostic]] = relationship(
        back_populates="neighbourhood", cascade="all, delete-orphan"
    )

    @property
    def has_territory(self) -> bool:
        """Whether the neighbourhood's outline is known."""
        return self.territory_wkt is not None


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


class ApiToken(Base):
    """An API token (stored as its SHA-256): a role and, for pilot teams, neighbourhoods."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    neighbourhood_ids: Mapped[list[Any]] = mapped_column(default=list)
    label: Mapped[str | None] = mapped_column(String(200), default=None)


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
    map_html: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


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


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


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
            f"role must be one of {', '.join(ROLES)}, not {role!r}.",
            message_fr=f"le rôle doit être l'un de {', '.join(ROLES)}, pas {role!r}.",
        )
    if role == "pilot" and not neighbourhood_ids:
        raise ValidationError(
            "a pilot-team token needs its neighbourhood ids.",
            message_fr="un jeton d'équipe pilote doit indiquer ses quartiers.",
        )
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
            "no OSM extract is configured: set QET_OSM_DIR and the neighbourhood's extract "
            "(upload it with PUT /neighbourhoods/<id>/osm-extract).",
            message_fr="aucun extrait OSM n'est configuré : renseignez QET_OSM_DIR et l'extrait "
            "du quartier (envoyez-le avec PUT /neighbourhoods/<id>/osm-extract).",
        )
    folder = Path(osm_dir).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise InputFileError(
            f"the OSM extract {name!r} is not in the OSM folder.",
            message_fr=f"l'extrait OSM {name!r} n'est pas dans le dossier OSM.",
        )
    return path


def assign_to_centres(levels: pd.DataFrame, centres: Sequence[Profile]) -> pd.Series:
    """Give each complete answer the number of the profile with the nearest centre.

    Parameters
    ----------
    levels
        SU answers, one column per usage of the centres (levels 1 to 3).
    centres
        Stored profiles (their ``centre`` in level steps, as :class:`Profile` keeps them).

    Returns
    -------
    pandas.Series
        Profile ``number`` per answer (Int64), ``<NA>`` for an incomplete answer. Ties go to the
        lowest number, as :meth:`qet_geo.analysis.profiles.UsageProfiles.predict` does.
    """
    import numpy as np
    import pandas as pd

    ordered = sorted(centres, key=lambda p: p.number)
    out = pd.Series(pd.NA, index=levels.index, dtype="Int64")
    if not ordered:
        return out
    usages = list(ordered[0].centre)
    if any(u not in levels.columns for u in usages):
        return out
    values = levels[usages].apply(pd.to_numeric, errors="coerce")
    complete = values.notna().all(axis=1).to_numpy()
    points = values.to_numpy(dtype=float)[complete] - 1.0
    grid = np.array([[float(p.centre[u]) for u in usages] for p in ordered])
    d = ((points[:, None, :] - grid[None, :, :]) ** 2).sum(axis=2)
    if len(points):
        numbers = np.array([p.number for p in ordered], dtype=np.int64)
        out.iloc[np.flatnonzero(complete)] = numbers[d.argmin(axis=1)]
    return out


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
# ingestion


@dataclass(frozen=True)
class IngestResult:
    """What an upload did: its id, whether it was new, and the row counts."""

    upload_id: int
    created: bool
    n_rows: int
    n_stored: int
    summary: dict[str, Any]


@lru_cache(maxsize=1)
def _reference_profiles() -> Any:
    from qet_geo.analysis.profiles import UsageProfiles
    from qet_geo.surveys.synthetic import reference_profiles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return UsageProfiles(random_state=0).fit(reference_profiles())


def ingest_su(
    engine: Engine,
    diagnostic_id: int,
    data: bytes,
    *,
    idempotency_key: str | None = None,
    key_scope: str = "",
    replaces: int | None = None,
    addresses: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> IngestResult:
    """Store an SU answer file in a diagnostic, in one transaction, idempotently.

    The file is read (:func:`~qet_geo.surveys.su.read_su`), the homes located
    (:func:`~qet_geo.surveys.geocode.locate_homes`) and coarsened to 200 m cells and buildings
    (:func:`~qet_geo.privacy.coarsen_locations`) before anything is written; raw locations are
    never stored. Each respondent gets a reference usage profile (the nearest national reference
    profile once :func:`qet_geo.store.jobs.fit_national_profiles` has stored them, the demo
    reference profiles before) and its footprint per usage.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic the answers belong to.
    data
        The file's bytes (CSV, TSV or XLSX).
    idempotency_key
        Client key of the upload: a retry with the same key returns the first upload.
    key_scope
        Whose key it is (the service passes the caller's credential): keys are looked up within
        their scope only, so that one caller's key is never refused to, nor revealed to, another.
    replaces
        Id of an upload of the same diagnostic that this file replaces: its respondents and it
        are deleted in the transaction that stores the new file (see :func:`delete_upload`).
    addresses, buildings
        Reference layers for geocoding addresses (see ``locate_homes``).

    Returns
    -------
    IngestResult
        ``created`` is False when the same file (or key) was already stored: nothing changed.

    Raises
    ------
    NotFoundError
        No diagnostic ``diagnostic_id``.
    ConflictError
        The idempotency key was used by the same caller for another file, a respondent id is
        already stored from another file of the diagnostic, or ``replaces`` names an upload of
        a published diagnostic.
    InputFileError, EmptyDataError, ValidationError
        The file cannot be read as SU answers (see ``read_su``).
    """
    if not isinstance(data, bytes | bytearray):
        raise ValidationError(
            "data must be the bytes of the survey file.",
            message_fr="data doit contenir les octets du fichier d'enquête.",
        )
    digest = hashlib.sha256(data).hexdigest()
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        existing = _existing_upload(session, diagnostic_id, digest, idempotency_key, key_scope)
        if existing is not None:
            if replaces is not None and existing.upload_id != replaces:
                raise _already_uploaded(existing.upload_id)
            return existing
        if session.get(Diagnostic, diagnostic_id) is None:
            raise NotFoundError(
                f"no diagnostic {diagnostic_id}.",
                message_fr=f"le diagnostic {diagnostic_id} n'existe pas.",
            )
        if replaces is not None:
            delete_upload(session, diagnostic_id, replaces, dry_run=True)
        reference = national_reference(session)
    rows, summary = _prepare_rows(
        bytes(data), addresses=addresses, buildings=buildings, reference=reference
    )
    try:
        with factory.begin() as session:
            if replaces is not None:
                delete_upload(session, diagnostic_id, replaces)
            upload = Upload(
                diagnostic_id=diagnostic_id,
                sha256=digest,
                idempotency_key=idempotency_key,
                key_scope=key_scope,
                n_rows=int(summary.get("rows", len(rows))),
                n_stored=len(rows),
                summary=summary,
            )
            session.add(upload)
            session.flush()
            taken = set(
                session.scalars(
                    select(Respondent.pseudo_id).where(
                        Respondent.diagnostic_id == diagnostic_id,
                        Respondent.pseudo_id.in_([r["pseudo_id"] for r in rows]),
                    )
                )
            )
            if taken:
                raise ConflictError(
                    f"{len(taken)} respondent ids of this file are already stored for diagnostic "
                    f"{diagnostic_id} (from another file): remove them or fix the ids.",
                    message_fr=f"{len(taken)} identifiants de répondants de ce fichier sont déjà "
                    f"enregistrés pour le diagnostic {diagnostic_id} (autre fichier) : retirez-les "
                    "ou corrigez les identifiants.",
                )
            session.add_all(
                Respondent(diagnostic_id=diagnostic_id, upload_id=upload.id, **row) for row in rows
            )
            session.flush()
            if _BEFORE_COMMIT is not None:
                _BEFORE_COMMIT()
            upload_id = upload.id
    except IntegrityError:
        # A concurrent upload of the same file won the race: report it as the existing one.
        with factory() as session:
            existing = _existing_upload(session, diagnostic_id, digest, idempotency_key, key_scope)
        if existing is None:
            raise
        if replaces is not None and existing.upload_id != replaces:
            raise _already_uploaded(existing.upload_id) from None
        return existing
    logger.info("upload %s: %s respondents stored", upload_id, len(rows))
    return IngestResult(upload_id, True, int(summary.get("rows", len(rows))), len(rows), summary)


def _already_uploaded(upload_id: int) -> ConflictError:
    return ConflictError(
        f"this file is already stored as upload {upload_id} of the diagnostic: delete that "
        "upload instead of replacing another one with the same file.",
        message_fr=f"ce fichier est déjà enregistré (envoi {upload_id} du diagnostic) : "
        "supprimez cet envoi plutôt que d'en remplacer un autre par le même fichier.",
    )


def _existing_upload(
    session: Session, diagnostic_id: int, digest: str, key: str | None, scope: str = ""
) -> IngestResult | None:
    """Return the upload this one repeats: the same file in the diagnostic, or the same key.

    A key is looked up among the keys of ``scope`` (the caller) only: another caller's key of
    the same value is neither a conflict nor a hit, so it reveals nothing and cannot be squatted.
    """
    found = None
    if key is not None:
        found = session.scalars(
            select(Upload).where(Upload.key_scope == scope, Upload.idempotency_key == key)
        ).first()
        if found is not None and (found.sha256 != digest or found.diagnostic_id != diagnostic_id):
            raise ConflictError(
                "you already used this Idempotency-Key for another file: use a new key.",
                message_fr="vous avez déjà utilisé cette clé d'idempotence pour un autre "
                "fichier : utilisez une nouvelle clé.",
            )
    if found is None:
        found = session.scalars(
            select(Upload).where(Upload.diagnostic_id == diagnostic_id, Upload.sha256 == digest)
        ).first()
    if found is None:
        return None
    return IngestResult(found.id, False, found.n_rows, found.n_stored, dict(found.summary))


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


def delete_upload(
    session: Session, diagnostic_id: int, upload_id: int, *, dry_run: bool = False
) -> int:
    """Delete an upload of an unpublished diagnostic and its respondents, in ``session``.

    Both go in the caller's transaction: either the whole upload is gone or none of it. A pilot
    team uses it to take back a wrong or truncated file, which could otherwise never be fixed
    (its respondent ids would clash with the corrected file's).

    Parameters
    ----------
    session
        An open session; the caller commits.
    diagnostic_id
        The diagnostic the upload must belong to.
    upload_id
        The upload.
    dry_run
        Only check that the upload may be deleted.

    Returns
    -------
    int
        The number of respondents deleted (0 for a dry run).

    Raises
    ------
    NotFoundError
        No upload ``upload_id`` in the diagnostic.
    ConflictError
        The diagnostic is published (:func:`diagnostic_published`): its uploads are frozen.
    """
    from sqlalchemy import delete

    upload = session.get(Upload, upload_id)
    if upload is None or upload.diagnostic_id != diagnostic_id:
        raise NotFoundError(
            f"no upload {upload_id} in diagnostic {diagnostic_id}.",
            message_fr=f"l'envoi {upload_id} n'existe pas dans le diagnostic {diagnostic_id}.",
        )
    if diagnostic_published(session, diagnostic_id):
        raise ConflictError(
            f"diagnostic {diagnostic_id} is published (it has a release): its uploads can no "
            "longer be deleted or replaced; add answers, or open a new diagnostic.",
            message_fr=f"le diagnostic {diagnostic_id} est publié (il a une publication) : ses "
            "envois ne peuvent plus être supprimés ni remplacés ; ajoutez des réponses, ou "
            "ouvrez un nouveau diagnostic.",
        )
    if dry_run:
        return 0
    gone = session.execute(
        delete(Respondent).where(
            Respondent.upload_id == upload_id, Respondent.diagnostic_id == diagnostic_id
        )
    )
    n_gone = int(getattr(gone, "rowcount", 0) or 0)
    session.delete(upload)
    session.flush()
    logger.info("upload %s deleted: %s respondents", upload_id, n_gone)
    return n_gone


def _prepare_rows(
    data: bytes,
    *,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
    reference: Sequence[Profile] = (),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import pandas as pd

    from qet_geo.analysis.footprint import su_footprints
    from qet_geo.surveys.su import read_su
    from qet_geo.surveys.schema import USAGES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_su(io.BytesIO(data))
    answers = read.answers
    summary: dict[str, Any] = {k: int(v) for k, v in read.summary().items()}
    places = _protected_places(read.locations, answers.index, addresses, buildings)
    _check_cell_sizes(places)
    usages = [u for u in USAGES if u in answers.columns]
    feet = su_footprints(answers, usages=usages) if usages else pd.DataFrame(index=answers.index)
    complete = answers[usages].notna().all(axis=1) if len(usages) == len(USAGES) else None
    profiles = pd.Series(pd.NA, index=answers.index, dtype="Int64")
    if complete is not None and complete.any():
        if reference:  # the network's national reference profiles, once fitted
            profiles.loc[complete] = assign_to_centres(answers.loc[complete, usages], reference)
        else:  # before that, the demo reference profiles
            profiles.loc[complete] = _reference_profiles().predict(answers.loc[complete, usages])
    rows = []
    for rid in answers.index:
        place = places.loc[rid] if rid in places.index else None
        levels: dict[str, int | str | None] = {u: _int_or_none(answers.at[rid, u]) for u in usages}
        for extra in ("age_band", "gender", "csp"):
            if extra in answers.columns:
                value: Any = answers.at[rid, extra]
                levels[extra] = None if pd.isna(value) else str(value)
        foot = {c: _float_or_none(feet.at[rid, c]) for c in feet.columns}
        rows.append(
            {
                "pseudo_id": _pseudonym(str(rid)),
                "cell_id": _text_or_none(place, "cell_id"),
                "building_key": _text_or_none(place, "building_key"),
                "iris_code": _text_or_none(place, "iris_code"),
                "answers": levels,
                "profile": _int_or_none(profiles.at[rid]),
                "footprint": foot,
                "total_kgco2e": foot.get("total_kgco2e"),
            }
        )
    return rows, summary


def _check_cell_sizes(places: pd.DataFrame) -> None:
    """Refuse cell ids that are not 200 m INSEE cells (a 1 km ``CRS3035RES1000m…`` one).

    Every figure is built on 200 m cells, pooled upwards: one 1 km cell among them (or a file
    of them) overlaps the 200 m cells of the diagnostic, and its indicators could no longer be
    computed, for this file and every later one.
    """
    if "cell_id" not in places.columns:
        return
    cells = places["cell_id"].dropna().astype(str)
    sizes = cells.str.extract(grid.CELL_SIZE.pattern, expand=False)
    other = cells[sizes.notna() & (sizes != "200")]
    if other.empty:
        return
    example = str(other.iloc[0])
    raise ValidationError(
        f"{len(other)} homes are given as cells that are not 200 m INSEE cells (e.g. "
        f"{example!r}): the service keeps each home in its 200 m cell only, and a file must "
        "not mix cell sizes. Give these homes as 200 m cells (CRS3035RES200mN…E…), addresses or "
        "coordinates.",
        message_fr=f"{len(other)} domiciles sont donnés par des carreaux qui ne sont pas des "
        f"carreaux INSEE de 200 m (par exemple {example!r}) : le service range chaque domicile "
        "dans son carreau de 200 m, et un fichier ne doit pas mélanger les tailles de carreau. "
        "Donnez ces domiciles par leur carreau de 200 m (CRS3035RES200mN…E…), leur adresse ou "
        "leurs coordonnées.",
    )


def _pseudonym(respondent_id: str) -> str:
    """Keyed hash of a respondent id: the file's ids may be names, e-mails or 1, 2, 3...

    An HMAC with a secret kept outside the database (:func:`pseudonym_key`), so that a copy of
    the database alone cannot be turned back into ids by hashing guesses. Stable for a given key,
    which keeps uploads idempotent and overlapping ids detectable.
    """
    digest = hmac.new(pseudonym_key(), ("qet-respondent:" + respondent_id).encode(), "sha256")
    return digest.hexdigest()[:32]


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
            f"{path} is empty: delete it to create a new pseudonym key, or set QET_PSEUDONYM_KEY.",
            message_fr=f"{path} est vide : supprimez-le pour créer une nouvelle clé de "
            "pseudonymisation, ou définissez QET_PSEUDONYM_KEY.",
            path=path,
        )
    return key.encode()


def _protected_places(
    locations: pd.DataFrame,
    index: pd.Index,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
) -> pd.DataFrame:
    import pandas as pd

    from qet_geo.privacy import coarsen_locations
    from qet_geo.surveys.geocode import locate_homes
    from qet_geo.surveys.schema import LOCATION_COLUMNS

    if locations is not None:
        # what locate_homes geocodes; a building key given in the file is not taken on trust
        locations = locations[[c for c in LOCATION_COLUMNS if c in locations.columns]]
    if locations is None or locations.empty or len(locations.columns) == 0:
        return pd.DataFrame(index=index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        located = locate_homes(locations, addresses=addresses, buildings=buildings)
        coarse = coarsen_locations(located, keep_building=True, keep_raw=False)
    return pd.DataFrame(coarse)


def _text_or_none(row: Any, key: str) -> str | None:
    import pandas as pd

    if row is None or key not in row.index:
        return None
    value = row[key]
    return None if pd.isna(value) else str(value)


def _int_or_none(value: Any) -> int | None:
    import pandas as pd

    return None if pd.isna(value) else int(value)


def _float_or_none(value: Any) -> float | None:
    import pandas as pd

    return None if pd.isna(value) else float(value)


def respondents_frame(session: Session, diagnostic_id: int) -> pd.DataFrame:
    """Return the stored respondents of a diagnostic as a frame (never published as is).

    Columns: ``pseudo_id``, ``cell_id``, ``iris_code``, ``profile``, ``total_kgco2e``, one
    ``{usage}_kgco2e`` column per usage and the levels of every usage. Feed it to
    :func:`qet_geo.privacy.safe_aggregate` before anything leaves the service.
    """
    import pandas as pd

    rows = session.execute(
        select(
            Respondent.pseudo_id,
            Respondent.cell_id,
            Respondent.iris_code,
            Respondent.profile,
            Respondent.total_kgco2e,
            Respondent.footprint,
            Respondent.answers,
        ).where(Respondent.diagnostic_id == diagnostic_id)
    ).all()
    records = []
    for pseudo, cell, iris, profile, total, foot, answers in rows:
        rec: dict[str, Any] = {
            "pseudo_id": pseudo,
            "cell_id": cell,
            "iris_code": iris,
            "profile": profile,
            "total_kgco2e": total,
        }
        rec.update({k: v for k, v in (foot or {}).items() if k != "total_kgco2e"})
        rec.update({k: v for k, v in (answers or {}).items()})
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=["pseudo_id", "cell_id", "iris_code", "profile"])
    frame["profile"] = frame["profile"].astype("Int64")
    return frame.set_index("pseudo_id")
