"""The network's projects library: every published project sheet, searchable and faceted.

:func:`library_projects` reads the published sheets (:class:`~qet_geo.store.models.Project`) of
the published neighbourhoods that have a portal address, each with what the library facets on:

- theme and usage, status, the usage profiles concerned (numbers as the team wrote them), the
  cost band of ``budget_eur`` (:data:`COST_BANDS`);
- the neighbourhood's type: the constraint typology of the national comparison, which is fitted
  on the summaries of the neighbourhoods' latest releases (the caller passes it, ``types``);
  "non classé" without a release, or when the comparison could not type it;
- its région: the région of France's simplified outlines
  (``census/communes/regions-version-simplifiee.geojson`` in the shared data folder) holding the
  centre of the neighbourhood's territory; without a territory, the région holding the
  département of its first IRIS code (``departements-version-simplifiee.geojson``); without
  either, or without those files, "région inconnue". The outline is chosen over the commune's
  name, which the store keeps as typed (no code);
- whether a measured effect exists: the neighbourhood's two latest released campaigns are
  compared (:func:`compare_releases`, as the impact page does) and the project's usage has a
  measured change in both releases from 11 respondents or more (:func:`measured_change`).

A facet value counts **projects**, public sheets written by the teams: no respondent is counted,
so the 1 to 10 rule of ``docs/privacy.md`` (about respondents) does not apply to them. The only
respondent-derived figure is the measured effect, and the library says only whether one exists,
under the impact page's rule (both releases 11 respondents or more on the usage, figures from
the latest releases only).

:func:`search_library` then filters by words and facets and gives the facets' counts (a value
counts the projects matching the words and every other facet's choice: choices within a facet
add up, across facets they narrow) and one page of results. The words are searched in the
title, the problem and the theme: on PostgreSQL by French full text
(``to_tsvector('french', unaccent(...))``, the ``unaccent`` extension of migration 0017; without
it, the same search without removing accents), elsewhere by a match of every word that ignores
case and accents.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Text, func, literal, literal_column, select, text
from sqlalchemy.orm import Session

from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.store.models import Diagnostic, Neighbourhood, Project, Release, territory_geometry
from qet_geo.store.projects import STATUS_LABELS, STATUSES
from qet_geo.store.releases import latest_release, release_changes
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = [
    "COMPARISON_CONFIDENCE",
    "COST_BANDS",
    "FACETS",
    "Campaign",
    "Comparison",
    "FacetValue",
    "LibraryPage",
    "LibraryProject",
    "compare_releases",
    "fold_text",
    "france_regions",
    "library_projects",
    "measured_change",
    "region_of",
    "released_campaigns",
    "search_library",
]

#: The level of the intervals of a measured change.
COMPARISON_CONFIDENCE = 0.95

#: The cost bands of ``budget_eur``: key, label, lower bound (included), upper bound (excluded).
COST_BANDS: tuple[tuple[str, Msg, float, float], ...] = (
    ("moins-10k", msg("moins de 10 000 €"), 0.0, 10_000.0),
    ("10k-50k", msg("de 10 000 à 50 000 €"), 10_000.0, 50_000.0),
    ("50k-200k", msg("de 50 000 à 200 000 €"), 50_000.0, 200_000.0),
    ("plus-200k", msg("200 000 € ou plus"), 200_000.0, math.inf),
)
_NO_COST = ("non-chiffre", msg("budget non précisé"))

#: The facets, in the order the page shows them: key (the page's query field) and title.
FACETS: tuple[tuple[str, Msg], ...] = (
    ("theme", msg("Thème")),
    ("usage", msg("Usage")),
    ("statut", msg("Statut")),
    ("profil", msg("Profils concernés")),
    ("type", msg("Type de quartier")),
    ("region", msg("Région")),
    ("cout", msg("Coût")),
    ("effet", msg("Effet mesuré")),
)

_REGIONS_FILE = "census/communes/regions-version-simplifiee.geojson"
_DEPARTEMENTS_FILE = "census/communes/departements-version-simplifiee.geojson"


# --------------------------------------------------------------------------------------------------
# measured effects: a neighbourhood's two latest released campaigns (also the impact page's)


@dataclass
class Campaign:
    """A campaign with its latest release."""

    diag: Diagnostic
    release: Release

    @property
    def synthetic(self) -> bool:
        return bool(self.release.summary.get("synthetic", False)) or bool(self.diag.synthetic)

    @property
    def scale(self) -> str:
        return str(self.release.summary.get("scale", FOOTPRINT_SCALE))


@dataclass
class Comparison:
    """What the page shows of two campaigns."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    synthetic: bool = False
    #: the measured change per usage key (``mobility``..., ``total``), for the projects
    deltas: dict[str, dict[str, Any]] = field(default_factory=dict)


def released_campaigns(session: Session, hood_id: int) -> list[Campaign]:
    """The neighbourhood's campaigns that have a release, oldest year first."""
    out: list[Campaign] = []
    diags = session.scalars(
        select(Diagnostic)
        .where(Diagnostic.neighbourhood_id == hood_id)
        .order_by(Diagnostic.year.asc())
    )
    for diag in diags:
        release = latest_release(session, diag.id)
        if release is not None:
            out.append(Campaign(diag, release))
    return out


def compare_releases(before: Campaign, after: Campaign) -> Comparison:
    """The change of the mean footprints between two campaigns' latest releases.

    Raises
    ------
    ValidationError
        The releases were computed with different footprint scales, or one campaign is
        synthetic and the other real (the message says which and what to do).
    DisclosureError
        The releases have no publishable footprint in common.
    """
    table = release_changes(
        before.release,
        after.release,
        years=(before.diag.year, after.diag.year),
        synthetic=(before.synthetic, after.synthetic),
        confidence=COMPARISON_CONFIDENCE,
    )
    out = Comparison(synthetic=bool(table.attrs.get("synthetic", False)))
    for name, row in table.iterrows():
        key = str(name).removesuffix("_kgco2e")
        out.deltas[key] = {k: row[k] for k in row.index}
    out.withheld = [str(v).removesuffix("_kgco2e") for v in table.attrs.get("withheld", [])]
    return out


def measured_change(comparison: Comparison | None, usage: str | None) -> dict[str, Any] | None:
    """The measured change of ``usage`` (None: no comparison, no such usage, or either release
    has fewer than 11 respondents for it)."""
    if comparison is None or usage is None or usage not in comparison.deltas:
        return None
    d = comparison.deltas[usage]
    if min(int(d["n_before"]), int(d["n_after"])) < MIN_RESPONDENTS:
        return None
    return d


def _latest_comparison(session: Session, hood_id: int) -> tuple[Comparison | None, bool]:
    """The comparison of the neighbourhood's two latest released campaigns (None: fewer than two,
    or not comparable), and whether any of its releases is synthetic."""
    campaigns = released_campaigns(session, hood_id)
    synthetic = any(c.synthetic for c in campaigns)
    if len(campaigns) < 2:
        return None, synthetic
    try:
        return compare_releases(campaigns[-2], campaigns[-1]), synthetic
    except QetGeoError:
        return None, synthetic


# --------------------------------------------------------------------------------------------------
# régions


@dataclass(frozen=True)
class _Outline:
    code: str
    name: str
    geometry: Any  # shapely, WGS84


@functools.lru_cache(maxsize=8)
def _outlines(path: Path, mtime_ns: int) -> tuple[_Outline, ...]:
    """The features of a file of outlines (``code``, ``nom``), read once per version."""
    import shapely
    from shapely.geometry import shape

    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        geom = shape(feature["geometry"])
        shapely.prepare(geom)
        out.append(_Outline(str(props.get("code", "")), str(props.get("nom", "")), geom))
    return tuple(out)


def _read(folder: Path | str | None, name: str) -> tuple[_Outline, ...]:
    if folder is None:
        return ()
    path = Path(folder) / name
    try:
        return _outlines(path, path.stat().st_mtime_ns)
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def france_regions(folder: Path | str | None) -> list[tuple[str, str, Any]]:
    """France's régions (code, name, shapely geometry in WGS84) from the shared data folder
    (empty when the file is missing or unreadable)."""
    return [(o.code, o.name, o.geometry) for o in _read(folder, _REGIONS_FILE)]


def _region_at(lon: float, lat: float, regions: Sequence[_Outline]) -> _Outline | None:
    from shapely.geometry import Point

    point = Point(lon, lat)
    for region in regions:
        if region.geometry.contains(point):
            return region
    return None


def _to_wgs84(x: float, y: float) -> tuple[float, float]:
    out: tuple[float, float] = _transformer().transform(x, y)
    return out


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(2154, 4326, always_xy=True)


def _departement_of(iris_codes: Sequence[Any]) -> str | None:
    for code in iris_codes or []:
        code = str(code)
        if len(code) >= 5:
            return code[:3] if code.startswith("97") else code[:2]
    return None


# --------------------------------------------------------------------------------------------------
# the library


@dataclass(frozen=True)
class LibraryProject:
    """A published project of the network, with what the library facets on."""

    id: int
    title: str
    problem: str
    theme: str
    usage: str | None
    status: str
    profiles: tuple[int, ...]
    budget_eur: float | None
    hood_id: int
    hood_name: str
    slug: str
    #: the neighbourhood's type in the national comparison (None: not classified)
    typology: int | None
    #: the région's code and name (None: not known)
    region: tuple[str, str] | None
    #: whether a measured change of the project's usage exists (both releases >= 11 on it)
    measured: bool
    #: whether the neighbourhood's released figures come from synthetic answers
    synthetic: bool
    #: where the map draws it (WGS84): its place, else its neighbourhood's centre
    lonlat: tuple[float, float] | None
    #: put first by network staff ("mis en avant": qet_geo.store.community.feature_project)
    featured: bool = False

    def facet_values(self, facet: str) -> list[str]:
        """The keys of this project's values of ``facet`` (one of :data:`FACETS`)."""
        if facet == "theme":
            return [fold_text(self.theme) or "-"]
        if facet == "usage":
            return [self.usage or "-"]
        if facet == "statut":
            return [self.status]
        if facet == "profil":
            return [str(p) for p in self.profiles] or ["-"]
        if facet == "type":
            return [str(self.typology) if self.typology is not None else "-"]
        if facet == "region":
            return [self.region[0] if self.region is not None else "-"]
        if facet == "cout":
            return [_cost_band(self.budget_eur)]
        if facet == "effet":
            return ["oui" if self.measured else "non"]
        raise KeyError(facet)


def _cost_band(budget: float | None) -> str:
    if budget is None:
        return _NO_COST[0]
    for key, _label, low, high in COST_BANDS:
        if low <= budget < high:
            return key
    return _NO_COST[0]


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "’": "'"})


def fold_text(value: str) -> str:
    """``value`` without case, accents or extra spaces (``"Vélos  Œuvre"`` -> ``"velos oeuvre"``)."""
    value = unicodedata.normalize("NFKD", value.casefold().translate(_LIGATURES))
    value = "".join(c for c in value if not unicodedata.combining(c))
    return " ".join(value.split())


def _words(query: str, *, keep_accents: bool = False) -> list[str]:
    """The words of ``query``, lower case, without accents unless ``keep_accents``."""
    text = " ".join(query.casefold().split()) if keep_accents else fold_text(query)
    return [w for w in re.split(r"[\W_]+", text) if w]


def _has_unaccent(session: Session) -> bool:
    return bool(
        session.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname='unaccent')"))
    )


def _full_text(session: Session, query: Any, words: str) -> Any:
    """Keep the projects whose title, problem and theme hold every word of ``words``
    (PostgreSQL, French stemming, each word also as the start of a longer one)."""
    french: Any = literal_column("'french'::regconfig")
    document: Any = func.concat_ws(" ", Project.title, Project.problem, Project.theme)
    accents = not _has_unaccent(session)
    if not accents:
        document = func.unaccent(document)
    # only letters and digits reach the query: no operator of to_tsquery can be typed
    asked = " & ".join(f"{w}:*" for w in _words(words, keep_accents=accents))
    if not asked:
        return query
    return query.where(
        func.to_tsvector(french, document).op("@@")(func.to_tsquery(french, literal(asked, Text)))
    )


def library_projects(
    session: Session,
    *,
    words: str = "",
    types: Mapping[int, int] | None = None,
    shared_data: Path | str | None = None,
) -> list[LibraryProject]:
    """Every published project of the published neighbourhoods with a portal, matching ``words``.

    Parameters
    ----------
    words
        Words searched in the title, problem and theme (empty: every project).
    types
        The neighbourhoods' types in the national comparison (id -> type, 0 or more); a
        neighbourhood absent, or of a negative type, is not classified.
    shared_data
        The shared data folder holding France's outlines (None: no région).

    Returns
    -------
    list of LibraryProject
        The featured ones first, then by neighbourhood name, then status (in the order of
        :data:`~qet_geo.store.projects.STATUSES`), then title.
    """
    query = (
        select(Project, Neighbourhood)
        .join(Neighbourhood, Neighbourhood.id == Project.neighbourhood_id)
        .where(
            Project.published.is_(True),
            Neighbourhood.published.is_(True),
            Neighbourhood.slug.is_not(None),
        )
    )
    words = words.strip()[:200]
    postgres = session.get_bind().dialect.name == "postgresql"
    if words and postgres:
        query = _full_text(session, query, words)
    rows = [(row[0], row[1]) for row in session.execute(query)]
    if words and not postgres:
        wanted = _words(words)
        rows = [
            (p, h)
            for p, h in rows
            if all(w in fold_text(f"{p.title} {p.problem} {p.theme}") for w in wanted)
        ]
    regions = _read(shared_data, _REGIONS_FILE)
    types = types or {}
    hoods: dict[int, dict[str, Any]] = {}
    out = []
    for project, hood in rows:
        if hood.id not in hoods:
            hoods[hood.id] = _hood_facts(session, hood, regions, shared_data)
        facts = hoods[hood.id]
        lonlat = facts["centre"]
        if project.place_wkt:
            import shapely

            point: Any = shapely.from_wkt(str(project.place_wkt))
            lonlat = _to_wgs84(point.x, point.y)
        kind = types.get(hood.id)
        out.append(
            LibraryProject(
                id=project.id,
                title=project.title,
                problem=project.problem,
                theme=project.theme.strip(),
                usage=project.usage if project.usage in USAGES else None,
                status=project.status,
                profiles=tuple(
                    sorted({int(p) for p in project.profiles or [] if str(p).isdigit()})
                ),
                budget_eur=project.budget_eur,
                hood_id=hood.id,
                hood_name=hood.name,
                slug=str(hood.slug),
                typology=int(kind) if kind is not None and kind >= 0 else None,
                region=facts["region"],
                measured=measured_change(facts["comparison"], project.usage) is not None,
                synthetic=facts["synthetic"],
                lonlat=lonlat,
                featured=bool(project.featured),
            )
        )
    out.sort(
        key=lambda p: (
            not p.featured,  # the featured ones first
            fold_text(p.hood_name),
            STATUSES.index(p.status) if p.status in STATUSES else len(STATUSES),
            fold_text(p.title),
            p.id,
        )
    )
    return out


def _hood_facts(
    session: Session,
    hood: Neighbourhood,
    regions: Sequence[_Outline],
    shared_data: Path | str | None,
) -> dict[str, Any]:
    """A neighbourhood's centre (WGS84), région, comparison of campaigns and synthetic flag."""
    centre, region = _place_of(hood, regions, shared_data)
    comparison, synthetic = _latest_comparison(session, hood.id)
    return {
        "centre": centre,
        "region": (region.code, region.name) if region is not None else None,
        "comparison": comparison,
        "synthetic": synthetic,
    }


def _place_of(
    hood: Neighbourhood, regions: Sequence[_Outline], shared_data: Path | str | None
) -> tuple[tuple[float, float] | None, _Outline | None]:
    """A neighbourhood's centre (WGS84) and région: the région holding its territory's centre,
    else the région of its first IRIS code's département."""
    centre: tuple[float, float] | None = None
    region: _Outline | None = None
    try:
        territory = territory_geometry(hood)
    except Exception:  # an unreadable outline: no centre, no région from it
        territory = None
    if territory is not None and not territory.is_empty:
        c = territory.centroid
        centre = _to_wgs84(c.x, c.y)
        region = _region_at(*centre, regions)
    if region is None and regions:
        code = _departement_of(hood.iris_codes)
        for dep in _read(shared_data, _DEPARTEMENTS_FILE):
            if dep.code == code:
                p = dep.geometry.representative_point()
                region = _region_at(p.x, p.y, regions)
                break
    return centre, region


def region_of(hood: Neighbourhood, shared_data: Path | str | None) -> tuple[str, str] | None:
    """A neighbourhood's région (code, name), as the library's facet finds it; None when the
    shared data folder has no régions or the neighbourhood can be placed in none."""
    _, region = _place_of(hood, _read(shared_data, _REGIONS_FILE), shared_data)
    return (region.code, region.name) if region is not None else None


# --------------------------------------------------------------------------------------------------
# facets and pages


@dataclass(frozen=True)
class FacetValue:
    """A value of a facet: its key (the page's query value), label, count and whether chosen."""

    key: str
    label: Msg | str
    count: int
    chosen: bool


@dataclass
class LibraryPage:
    """A page of the library: its projects, the facets' values and where it is."""

    projects: list[LibraryProject]
    #: every project matching the words and the choices (the map, the CSV file)
    matching: list[LibraryProject]
    facets: list[tuple[str, Msg, list[FacetValue]]]
    page: int
    pages: int

    @property
    def total(self) -> int:
        return len(self.matching)


def _label(facet: str, key: str, examples: Mapping[str, LibraryProject]) -> Msg | str:
    if facet == "theme":
        return examples[key].theme if key != "-" else msg("sans thème")
    if facet == "usage":
        return USAGE_LABELS[key] if key in USAGE_LABELS else msg("aucun usage précisé")
    if facet == "statut":
        return STATUS_LABELS.get(key, key)
    if facet == "profil":
        return msg("Profil {n}", n=int(key)) if key.isdigit() else msg("aucun profil précisé")
    if facet == "type":
        return msg("Type {n}", n=int(key) + 1) if key.isdigit() else msg("non classé")
    if facet == "region":
        region = examples[key].region if key != "-" else None
        return region[1] if region is not None else msg("région inconnue")
    if facet == "cout":
        bands = {k: label for k, label, _low, _high in COST_BANDS}
        return bands.get(key, _NO_COST[1])
    return msg("oui") if key == "oui" else msg("non")


def _order(facet: str, key: str, count: int) -> tuple[Any, ...]:
    if facet == "usage":
        return (0, USAGES.index(key) if key in USAGES else len(USAGES))
    if facet == "statut":
        return (0, STATUSES.index(key) if key in STATUSES else len(STATUSES))
    if facet == "cout":
        keys = [k for k, *_ in COST_BANDS]
        return (0, keys.index(key) if key in keys else len(keys))
    if facet in ("profil", "type"):
        return (0, int(key) if key.isdigit() else 10**6)
    if facet == "effet":
        return (0, key != "oui")
    return (key == "-", -count, key)


def search_library(
    projects: Iterable[LibraryProject],
    *,
    chosen: Mapping[str, Iterable[str]] | None = None,
    page: int = 1,
    per_page: int = 20,
) -> LibraryPage:
    """Filter the projects by the chosen facet values and give one page with the facets' counts.

    Parameters
    ----------
    projects
        From :func:`library_projects` (already matching the words).
    chosen
        Per facet key of :data:`FACETS`, the value keys chosen: a project is kept when, for each
        facet with choices, one of its values is chosen. Unknown facets are ignored.
    page, per_page
        The page wanted (from 1; past the last one: the last one) and its size.

    Returns
    -------
    LibraryPage
        Each facet value counts the projects kept by the choices of the *other* facets (0 for
        a chosen value no project has, still listed so that it can be unchosen).
    """
    every = list(projects)
    names = [key for key, _title in FACETS]
    wanted = {
        k: frozenset(str(v) for v in vs) for k, vs in (chosen or {}).items() if k in names and vs
    }

    def keeps(p: LibraryProject, skip: str | None = None) -> bool:
        return all(
            not set(p.facet_values(k)).isdisjoint(vs) for k, vs in wanted.items() if k != skip
        )

    matching = [p for p in every if keeps(p)]
    facets = []
    for key, title in FACETS:
        counts: dict[str, int] = {}
        examples: dict[str, LibraryProject] = {}
        for p in every:
            values = p.facet_values(key)
            for value in values:
                examples.setdefault(value, p)
            if keeps(p, skip=key):
                for value in values:
                    counts[value] = counts.get(value, 0) + 1
        shown = set(counts) | (wanted.get(key, frozenset()) & set(examples))
        facet = [
            FacetValue(v, _label(key, v, examples), counts.get(v, 0), v in wanted.get(key, ()))
            for v in sorted(shown, key=lambda v: _order(key, v, counts.get(v, 0)))
        ]
        facets.append((key, title, facet))
    per_page = max(1, per_page)
    pages = max(1, math.ceil(len(matching) / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return LibraryPage(matching[start : start + per_page], matching, facets, page, pages)
