"""Request and response bodies (pydantic). Request bodies reject unknown fields (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """An error: the message (French by default) and the error class."""

    detail: Any
    code: str | None = None


class NeighbourhoodIn(_In):
    """A new neighbourhood."""

    name: str = Field(min_length=1, max_length=200)
    commune: str | None = Field(default=None, max_length=200)
    iris_codes: list[str] = Field(default_factory=list, max_length=200)
    published: bool = False
    osm_extract: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,150}\.osm(\.pbf|\.gz|\.bz2)?$",
        description="Nom du fichier de l'extrait OSM dans le dossier QET_OSM_DIR (visites).",
    )


class NeighbourhoodOut(_Out):
    """A neighbourhood."""

    id: int
    name: str
    commune: str | None
    iris_codes: list[str]
    published: bool
    osm_extract: str | None = None


class DiagnosticIn(_In):
    """A new survey campaign of a neighbourhood (year 0 is the first)."""

    year: int = Field(ge=0, le=100)
    label: str | None = Field(default=None, max_length=200)


class DiagnosticOut(_Out):
    """A survey campaign."""

    id: int
    neighbourhood_id: int
    year: int
    label: str | None
    status: str
    progress: float
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite returns naive datetimes: they were stored in UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class UploadOut(BaseModel):
    """What an upload did; ``created`` is false when the same file was already stored."""

    upload_id: int
    created: bool
    n_rows: int
    n_stored: int
    summary: dict[str, int]


class Feature(BaseModel):
    """A GeoJSON feature (WGS84) of protected aggregates."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """A page of GeoJSON features, with OGC API-style counts and links."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int
    numberReturned: int
    links: list[dict[str, str]] = Field(default_factory=list)


class ProfilesOut(BaseModel):
    """Shares of the reference usage profiles among a diagnostic's respondents (0 to 1)."""

    diagnostic_id: int
    n_respondents: int
    published: bool
    shares: dict[str, float]


class FootprintsOut(BaseModel):
    """Mean footprint per usage and in total, kgCO2e per person per year."""

    diagnostic_id: int
    n_respondents: int
    published: bool
    mean_kgco2e: dict[str, float]


class VoteIn(_In):
    """A vote on the themes of a diagnostic; the service issues one code per participant."""

    question: str = Field(min_length=1, max_length=500)
    themes: list[str] = Field(min_length=2, max_length=30)
    n_participants: int = Field(ge=1, le=5000)


class VoteOut(BaseModel):
    """A vote (the participant codes are given once, to whoever opened it)."""

    id: int
    diagnostic_id: int
    question: str
    themes: list[str]
    is_open: bool
    participant_codes: list[str] | None = None


class BallotIn(_In):
    """A ballot: the participant's code and the themes chosen."""

    code: str = Field(min_length=1, max_length=100)
    choices: list[str] = Field(min_length=1, max_length=30)


class BallotOut(BaseModel):
    """A ballot was counted."""

    vote_id: int
    accepted: bool


class VoteResults(BaseModel):
    """Ballots cast and the number of ballots naming each theme."""

    vote_id: int
    is_open: bool
    n_ballots: int
    counts: dict[str, int]


class JobOut(BaseModel):
    """State of a diagnostic's analysis: collecting, queued, running, done or failed."""

    diagnostic_id: int
    status: str
    progress: float


class NationalRow(BaseModel):
    """One neighbourhood in the national comparison (figures null when not publishable)."""

    neighbourhood_id: int
    name: str
    year: int
    n_respondents: int
    mean_kgco2e: dict[str, float | None]
    profile_mix: dict[str, float | None]
    constraints: dict[str, float | None]
    type: int
    rank_total_kgco2e: int | None


class DeltaRow(BaseModel):
    """Change of a mean between two campaigns, with its confidence interval."""

    value: str
    n_before: int
    n_after: int
    mean_before: float
    mean_after: float
    delta: float
    ci_low: float
    ci_high: float


class BeforeAfterOut(BaseModel):
    """Before/after comparison of two campaigns of a neighbourhood."""

    neighbourhood_id: int
    before_year: int
    after_year: int
    confidence: float
    deltas: list[DeltaRow]
