"""Request and response bodies (pydantic). Request bodies reject unknown fields (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from qet_geo.store.models import Profile, Release


def _no_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere in a request body: PostgreSQL cannot store them in text."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters (\\u0000)")
    if isinstance(value, list | tuple):
        for item in value:
            _no_nul(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """An error: the message (French by default) and the error class."""

    detail: Any
    code: str | None = None


class TerritoryIn(_In):
    """A neighbourhood's territory: a GeoJSON Polygon or MultiPolygon in WGS84 (lon, lat)."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1, max_length=500)


class TerritoryDocumentIn(_In):
    """A neighbourhood's territory as QGIS or geojson.io export it: a GeoJSON Feature of a
    polygon, or a FeatureCollection of polygons (merged), in WGS84 (lon, lat).

    The members GeoJSON allows besides these (``properties``, ``id``, ``name``, ``bbox``, a
    tool's own) are ignored; the geometries are checked by
    :func:`qet_geo.store.jobs.territory_polygons`, which refuses points and lines in words.
    """

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature", "FeatureCollection"]
    geometry: dict[str, Any] | None = Field(default=None, description="d'une Feature")
    features: list[dict[str, Any]] | None = Field(
        default=None, max_length=10_000, description="d'une FeatureCollection"
    )
    crs: dict[str, Any] | None = Field(
        default=None, description="WGS84 seulement (ancien membre GeoJSON, écrit par QGIS)"
    )


class TerritoryOut(BaseModel):
    """The territory a neighbourhood now has."""

    neighbourhood_id: int
    area_km2: float
    bbox: tuple[float, float, float, float] = Field(description="gauche, bas, droite, haut (WGS84)")


class ExtractOut(BaseModel):
    """The OSM extract a neighbourhood now uses, and what it holds over the territory."""

    neighbourhood_id: int
    osm_extract: str
    size_bytes: int
    sha256: str
    bbox: tuple[float, float, float, float] = Field(
        description="emprise de l'extrait : gauche, bas, droite, haut (WGS84)"
    )
    coverage: float = Field(description="part du territoire couverte par l'extrait (0 à 1)")
    residential_buildings: int
    amenities: int


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
    territory: TerritoryIn | TerritoryDocumentIn | None = Field(
        default=None,
        description="Contour du quartier (GeoJSON, WGS84) : géométrie, Feature ou FeatureCollection.",
    )


class NeighbourhoodOut(_Out):
    """A neighbourhood."""

    id: int
    name: str
    commune: str | None
    iris_codes: list[str]
    published: bool
    osm_extract: str | None = None
    has_territory: bool = False
    synthetic_years: list[int] = Field(
        default_factory=list,
        description="années de ses campagnes aux réponses synthétiques (démonstrations)",
    )


class DiagnosticIn(_In):
    """A new survey campaign of a neighbourhood (year 0 is the first)."""

    year: int = Field(ge=0, le=100)
    label: str | None = Field(default=None, max_length=200)


class DiagnosticOut(_Out):
    """A survey campaign; ``status`` and ``progress`` are those of its analysis (``JobOut``)."""

    id: int
    neighbourhood_id: int
    year: int
    label: str | None
    status: str
    progress: float
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )
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
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )


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
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )


class ProfileOut(BaseModel):
    """A usage profile: its number, its share of the answers and its centre.

    ``centre_levels`` gives, per usage, the profile's centre on the answer scale (1 to 3).
    """

    number: int
    share: float | None
    centre_levels: dict[str, float]

    @classmethod
    def from_stored(cls, profile: Profile) -> ProfileOut:
        """Describe a stored profile (centre kept in level steps 0 to 2)."""
        return cls(
            number=profile.number,
            share=None if profile.share is None else round(profile.share, 4),
            centre_levels={u: round(float(v) + 1.0, 4) for u, v in profile.centre.items()},
        )


class ProfilesOut(BaseModel):
    """A diagnostic's profiles: shares of the reference profiles, and its own fitted profiles.

    ``shares`` are the shares (0 to 1) of the reference profiles among the respondents:
    ``reference`` says which, "national" (fitted on the network, see ``/national/profiles``) or
    "demo" (before the first national fit). ``own_profiles`` are the profiles the analysis
    (``/diagnostics/{id}/run``) fitted on this diagnostic alone, those of 11 respondents or more.
    """

    diagnostic_id: int
    n_respondents: int
    published: bool
    shares: dict[str, float]
    reference: Literal["national", "demo"] = "demo"
    own_profiles: list[ProfileOut] = Field(default_factory=list)
    release: int | None = Field(
        default=None, description="numéro de la publication ; null : aperçu en direct"
    )
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )


class NationalProfilesOut(BaseModel):
    """The national reference profiles (those of 11 respondents or more).

    The counts are given when the profiles were just fitted.
    """

    profiles: list[ProfileOut]
    n_neighbourhoods: int | None = None
    n_answers: int | None = None
    n_reassigned: int | None = None
    synthetic: bool = Field(
        default=False,
        description="profils ajustés sur des réponses synthétiques seulement (aucune campagne "
        "réelle encore) : une démonstration",
    )
    synthetic_left_out: list[int] = Field(
        default_factory=list,
        description="quartiers dont la campagne synthétique a été laissée hors de l'ajustement "
        "sur les réponses réelles",
    )


class FootprintsOut(BaseModel):
    """Mean footprint per usage and in total, kgCO2e per person per year."""

    diagnostic_id: int
    n_respondents: int
    published: bool
    mean_kgco2e: dict[str, float]
    release: int | None = Field(
        default=None, description="numéro de la publication ; null : aperçu en direct"
    )
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )


class ReleaseOut(BaseModel):
    """A release: a frozen publication of a diagnostic's figures over one set of respondents.

    The public reads only the latest release of a diagnostic; two releases differ by 0 or at
    least 11 respondents.
    """

    diagnostic_id: int
    number: int
    n_respondents: int
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )
    created_at: datetime

    @classmethod
    def of(cls, release: Release) -> ReleaseOut:
        """Describe a stored release (never its respondents)."""
        return cls(
            diagnostic_id=release.diagnostic_id,
            number=release.number,
            n_respondents=release.n_respondents,
            synthetic=bool((release.figures or {}).get("synthetic", False)),
            created_at=release.created_at
            if release.created_at.tzinfo is not None
            else release.created_at.replace(tzinfo=UTC),
        )


class VoteIn(_In):
    """A vote on the themes of a diagnostic; the service issues one code per participant."""

    question: str = Field(min_length=1, max_length=500)
    themes: list[str] = Field(min_length=2, max_length=30)
    n_participants: int = Field(ge=1, le=5000)


class VoteOut(BaseModel):
    """A vote; its participant codes are given once, to whoever opened it, and never stored.

    A code is 12 symbols of Crockford's base 32 (60 bits) in three groups, ``7KQ2-M9XD-4TRB``:
    case, spaces and hyphens do not matter, and O, I, L read as 0, 1, 1.
    """

    id: int
    diagnostic_id: int
    question: str
    themes: list[str]
    is_open: bool
    participant_codes: list[str] | None = None
    synthetic: bool = Field(
        default=False,
        description="le diagnostic du vote a des réponses synthétiques : ses thèmes viennent "
        "d'une démonstration",
    )


class BallotIn(_In):
    """A ballot: the participant's code (as printed, typed or scanned) and the themes chosen."""

    code: str = Field(min_length=1, max_length=100)
    choices: list[str] = Field(min_length=1, max_length=30)


class BallotOut(BaseModel):
    """A ballot was counted."""

    vote_id: int
    accepted: bool


class VoteResults(BaseModel):
    """Ballots cast and the number of ballots naming each theme.

    The counts are published once the vote is closed and only from 11 ballots on (statistical
    secrecy); otherwise ``published`` is false, ``counts`` is empty and ``message`` says why.
    No number of ballots from 1 to 10 is shown: ``n_ballots`` is null below 11 ballots, and the
    count of a theme chosen by 1 to 10 ballots is null ("fewer than 11").
    """

    vote_id: int
    is_open: bool
    n_ballots: int | None = None
    published: bool = True
    counts: dict[str, int | None]
    message: str | None = None
    synthetic: bool = Field(
        default=False,
        description="le diagnostic du vote a des réponses synthétiques : ses thèmes viennent "
        "d'une démonstration",
    )


class JobOut(BaseModel):
    """State of a diagnostic's analysis: collecting, queued, running, done, failed or abandoned.

    ``step`` is the step running (answers, profiles, layers, access, zones, store); ``message``
    says why the analysis failed, or what it left out when done, and ``code`` names the cause.
    "abandoned" (code ``AbandonedJob``): queued or running but silent for longer than the
    service's job timeout, its process killed; ``step`` and ``progress`` are where it stopped,
    and a new run is accepted.
    """

    diagnostic_id: int
    status: str
    progress: float
    step: str | None = None
    message: str | None = None
    code: str | None = None
    #: The diagnostic's answers are labelled synthetic (a demonstration, not a survey).
    synthetic: bool = False


class NationalRow(BaseModel):
    """One neighbourhood in the national comparison (figures null when not publishable).

    Synthetic releases are never ranked with real ones: when both are present, the real
    neighbourhoods are compared among themselves and each synthetic one is listed with
    ``synthetic`` true, ``compared`` false and no figure; when every neighbourhood is
    synthetic, they are compared with one another as a demonstration (``synthetic`` true).
    """

    neighbourhood_id: int
    name: str
    year: int
    n_respondents: int
    mean_kgco2e: dict[str, float | None]
    profile_mix: dict[str, float | None]
    constraints: dict[str, float | None]
    type: int
    rank_total_kgco2e: int | None
    synthetic: bool = Field(
        default=False,
        description="réponses synthétiques (qet survey synthesize) : une démonstration, pas un "
        "résultat d'enquête",
    )
    compared: bool = Field(
        default=True,
        description="false : laissé hors de la comparaison (réponses synthétiques parmi des "
        "quartiers réels, ou publication calculée avec l'ancienne échelle NEAR)",
    )
    scale: str = Field(
        default="ngc",
        description="échelle des empreintes de la publication : « ngc » (NosGestesClimat), ou "
        "« near » pour une publication antérieure à la migration 0012, jamais comparée aux autres",
    )


class SimilarRow(BaseModel):
    """A neighbourhood near another in the national comparison (``GET
    /neighbourhoods/{id}/similar``): its distance in standardised units (0: identical)."""

    neighbourhood_id: int
    name: str
    distance: float
    type: int
    synthetic: bool = False


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
    withheld: list[str] = Field(
        default_factory=list,
        description="valeurs non publiées : une campagne a trop peu de réponses, ou un répondant "
        "fait l'essentiel du total",
    )
    release_before: int | None = None
    release_after: int | None = None
    synthetic: bool = Field(
        default=False,
        description="les deux campagnes sont synthétiques : une démonstration (une campagne "
        "synthétique n'est jamais comparée à une réelle)",
    )
