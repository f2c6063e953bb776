"""Service settings, read from ``QET_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from qet_geo.store.jobs import JOB_TIMEOUT_S
from qet_geo.store.models import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    """Settings of the service; each field reads ``QET_<NAME>`` (e.g. ``QET_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="QET_", extra="ignore")

    #: SQLite file by default; a ``postgresql://`` URL for PostgreSQL/PostGIS.
    database_url: str = DEFAULT_DATABASE_URL
    #: Largest survey upload accepted, in bytes (413 beyond, before the body is read).
    max_upload_bytes: int = 5_000_000
    #: Features per page of GeoJSON when the client gives no ``limit``.
    default_limit: int = 100
    #: Largest ``limit`` served; larger values are clamped to it.
    max_limit: int = 1000
    #: A bootstrap admin token (e.g. for ``qet serve``); tokens otherwise live in the store.
    admin_token: str | None = None
    #: Folder of the neighbourhoods' OSM extracts (visit routes, constraint indicators, uploads);
    #: none: no routes, no indicators, no extract upload.
    osm_dir: str | None = None
    #: Largest OSM extract upload accepted, in bytes (413 beyond, before the body is read).
    max_osm_bytes: int = 100_000_000
    #: Default language of error messages: "fr" or "en" (``Accept-Language: en`` switches).
    lang: str = "fr"
    #: Wrong vote codes a client may send per minute; the next ballot waits (429, Retry-After).
    vote_code_failures_per_minute: int = Field(default=10, gt=0)
    #: Reverse proxies whose ``X-Forwarded-For`` gives the client's address (addresses or
    #: networks, JSON list: ``QET_TRUSTED_PROXIES='["127.0.0.1"]'`` behind the nginx of
    #: docs/deploy.md). Empty: the TCP peer is the client, the header is ignored.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Seconds without news after which a queued or running analysis is taken as abandoned (its
    #: process was killed): a new run is then accepted. Longer than the longest analysis step.
    job_timeout_s: float = Field(default=JOB_TIMEOUT_S, gt=0)
    #: The INSEE 200 m grid with population (Filosofi carreaux: shapefile, GeoPackage or CSV),
    #: e.g. the national file: homes then weigh their inhabitants in the constraint indicators.
    #: None, or a neighbourhood the grid does not reach: they weigh their residential floor area.
    census_grid: str | None = None
    #: Largest request body of any other route (JSON), in bytes: 413 beyond, on the declared
    #: length before reading or as soon as a streamed body goes past it.
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    #: Largest body of the routes that take a territory (GeoJSON), in bytes.
    max_territory_bytes: int = Field(default=8_000_000, gt=0)
    #: Most vertices a territory may have (its rings together).
    max_territory_vertices: int = Field(default=100_000, gt=0)
    #: Most OSM objects an uploaded extract may decode to (nodes, ways, relations, and the node
    #: references of ways and members of relations), counted before the extract is read.
    max_osm_objects: int = Field(default=5_000_000, gt=0)
    #: Seconds an uploaded extract may take to be read and checked, in its worker process.
    osm_timeout_s: float = Field(default=300.0, gt=0)
    #: Address space of that worker process, in bytes (RLIMIT_AS).
    osm_memory_bytes: int = Field(default=6_000_000_000, gt=0)
    #: Extracts read at once by one server process (further uploads wait for a worker).
    osm_workers: int = Field(default=2, gt=0)
    #: Seconds a survey upload may take to be read, located and stored, in its worker process.
    survey_timeout_s: float = Field(default=120.0, gt=0)
    #: Address space of that worker process, in bytes (RLIMIT_AS).
    survey_memory_bytes: int = Field(default=3_000_000_000, gt=0)
    #: Survey files read at once by one server process, each in a worker process (further
    #: uploads wait for one); 0 reads them in the server's thread pool instead (debugging).
    survey_workers: int = Field(default=2, ge=0)
