"""Releases: the frozen, numbered publications a diagnostic's public figures come from.

Disclosure control inside one table (:mod:`qet_geo.privacy`) does not hold between tables or
between moments: a mean over 11 answers read before a 12th answer arrives gives the newcomer's
answers by ``12·m₂ − 11·m₁``, and a total over 21 respondents beside cells over 20 gives the
21st. Statistical offices publish tables that change as numbered releases; so does the service
(``docs/privacy.md``, rule 5):

- a **release** computes every published figure of a diagnostic at once, over **one** set of
  respondents (:func:`release_set`: located at a 200 m cell, with complete answers): the mean
  footprints, the shares of the reference profiles, the diagnostic's own profiles, the 200 m
  cells (pooled where small), the map, and the summary the national comparison reads. The cells
  cover the whole set or are withheld whole, so that no remainder can be subtracted. Over the
  same set, from the per-home access tables the analysis kept
  (:func:`qet_geo.store.jobs.home_access`), the links between built constraints and usages, the
  margins of manoeuvre (with the scenarios left out and why) and the themes of the vote, as
  ``qet diagnose`` computes them (:func:`link_figures`); and the other surveys' figures
  (MdV/EdV measured against perceived access, NosGestesClimat footprints:
  :func:`qet_geo.store.perceived.other_surveys_figures`), each over its own set of respondents;
- a release is refused (:class:`~qet_geo.privacy.DisclosureError`, a message without the small
  count) unless its set differs from the set of **every** earlier release of the neighbourhood
  (this campaign and the others) by 0 or at least 11 respondents, counted both ways. A
  respondent whose answers or place changed counts as one who left and one who came. The
  MdV/EdV and NosGestesClimat sets are checked the same way, each against the same part of
  every earlier release; a part that differs by 1 to 10 is withheld from the release (reason
  ``release_difference``), not the release refused (:func:`create_release`);
- the public, and every caller without write access to the neighbourhood, read only the latest
  release (the API's routes); the pilot team previews the live figures of its own data, which
  :func:`compute_figures` builds by the same rules over the would-be release set.

Examples
--------
>>> release = create_release(engine, diagnostic_id)  # doctest: +SKIP
>>> release.number, release.n_respondents  # doctest: +SKIP
(1, 57)
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import secrets
import threading
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qet_geo.crs import WGS84
from qet_geo.errors import QetGeoError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS, DisclosureError, require_protected, safe_aggregate
from qet_geo.store.ingest import FOOTPRINT_SCALE, respondents_frame
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Indicator,
    Neighbourhood,
    NotFoundError,
    Release,
    Respondent,
    national_reference,
    territory_geometry,
)
from qet_geo.surveys.schema import USAGES

__all__ = [
    "LINK_BOOTSTRAP",
    "LINK_SEED",
    "Figures",
    "Preview",
    "access_figures",
    "building_keys",
    "cell_access",
    "compute_figures",
    "constraint_means",
    "create_release",
    "keep_preview",
    "kept_preview",
    "latest_release",
    "link_answers",
    "link_figures",
    "link_tables",
    "other_figures",
    "preview_extras",
    "preview_figures",
    "preview_links",
    "preview_version",
    "release_changes",
    "release_set",
    "respondent_key",
]

#: Bootstrap replicates of the links and margins, as ``qet diagnose`` draws them.
LINK_BOOTSTRAP = 100
#: Their seed (fixed: a release's figures are the same whenever they are computed).
LINK_SEED = 0
#: The other surveys' parts, as :func:`qet_geo.store.perceived.other_surveys_figures` names them
#: and :attr:`qet_geo.store.models.Release.respondent_ids` prefixes their respondents.
OTHER_PARTS = ("mdv", "ngc")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figures:
    """Every published figure of a diagnostic, computed over one set of respondents.

    Attributes
    ----------
    n_respondents
        Respondents of the set (0 when fewer than 11: nothing is published).
    footprints, profile_shares
        Mean kgCO2e per person per usage and in total; share of each reference profile. Empty
        when they cannot be published (fewer than 11 answers, one respondent dominating a total,
        one profile for everyone).
    own_profiles
        The profiles fitted on the set alone (``number``, ``share``, ``centre_levels``), each of
        11 respondents or more, none holding everyone; empty otherwise.
    features, bounds
        The published 200 m cells (pooled where small) as GeoJSON features in WGS84, and each
        one's (left, bottom, right, top); empty unless they cover the whole set.
    synthetic
        Whether the figures come from synthetic answers (``Diagnostic.synthetic``): kept with a
        release, so that its figures stay labelled after publication.
    links
        The links, margins of manoeuvre and vote themes over the set (:func:`link_figures`):
        ``{"status": ...}``, with the tables in French and English when "ok"; empty when not
        computed (the API's live preview, releases made before them).
    other_surveys
        The MdV/EdV and NosGestesClimat figures
        (:attr:`qet_geo.store.perceived.OtherFigures.figures`, language-neutral); empty when
        not computed.
    access
        The walking minutes to each kind of amenity over the neighbourhood's homes, as the
        report's "à combien de minutes à pied ?" (:func:`access_figures`: homes, streets and
        amenities, no respondent); empty when not computed.
    census
        The set against the census of the neighbourhood's IRIS and its census-weighted
        footprints (:func:`qet_geo.store.census_figures.census_comparison`), or why not
        (``{"status": reason}``); empty when not computed (the live preview, releases made
        before it).
    """

    n_respondents: int
    footprints: dict[str, float] = field(default_factory=dict)
    profile_shares: dict[str, float] = field(default_factory=dict)
    own_profiles: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    bounds: list[list[float]] = field(default_factory=list)
    synthetic: bool = False
    links: dict[str, Any] = field(default_factory=dict)
    other_surveys: dict[str, Any] = field(default_factory=dict)
    access: dict[str, Any] = field(default_factory=dict)
    scale: str = FOOTPRINT_SCALE
    census: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The figures as the store keeps them in :attr:`qet_geo.store.models.Release.figures`."""
        return {
            "n_respondents": self.n_respondents,
            "footprints": self.footprints,
            "profile_shares": self.profile_shares,
            "own_profiles": self.own_profiles,
            "features": self.features,
            "bounds": self.bounds,
            "synthetic": self.synthetic,
            "links": self.links,
            "other_surveys": self.other_surveys,
            "access": self.access,
            "scale": self.scale,
            "census": self.census,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        """Read figures back from :meth:`as_json`."""
        return cls(
            n_respondents=int(data.get("n_respondents", 0)),
            footprints=dict(data.get("footprints", {})),
            profile_shares=dict(data.get("profile_shares", {})),
            own_profiles=list(data.get("own_profiles", [])),
            features=list(data.get("features", [])),
            bounds=[list(b) for b in data.get("bounds", [])],
            # releases made before the label existed are of real answers (migration 0008)
            synthetic=bool(data.get("synthetic", False)),
            links=dict(data.get("links") or {}),
            other_surveys=dict(data.get("other_surveys") or {}),
            access=dict(data.get("access") or {}),
            # migration 0012 labelled the releases made before it "near"
            scale=str(data.get("scale", FOOTPRINT_SCALE)),
            census=dict(data.get("census") or {}),
        )


# --------------------------------------------------------------------------------------------------
# the respondent set


def respondent_key(
    pseudo_id: str, cell_id: str | None, answers: Any, footprint: Any, total: Any
) -> str:
    """Identify a respondent *with its answers and place*, for the differencing check.

    Two releases are compared on these keys: a respondent whose answers or cell changed between
    them counts as one who left and one who came, so a correction of a few answers is a
    difference of a few respondents, refused like any other.
    """
    text = json.dumps(
        [pseudo_id, cell_id, answers or {}, footprint or {}, total],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def release_set(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the respondents every figure of a release is computed over.

    Located at a 200 m cell, with an answer to every usage, a total footprint and a profile:
    the cells, the means, the profile shares and the own profiles then all speak of the same
    people, and no figure can be subtracted from another to isolate anyone (a respondent without
    a location counted in the mean but not in the cells, for instance).
    """
    if frame.empty or "cell_id" not in frame.columns:
        return frame.iloc[0:0]
    keep = frame["cell_id"].notna()
    for col in (*USAGES, "total_kgco2e", "profile"):
        if col not in frame.columns:
            return frame.iloc[0:0]
        keep &= frame[col].notna()
    return frame[keep]


# --------------------------------------------------------------------------------------------------
# the figures


def json_value(value: Any) -> Any:
    """A value of a table as JSON wants it: NaN as null, floats rounded to 3 decimals."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 3)
    return value


def _totals(frame: pd.DataFrame, *, profile: bool) -> dict[str, float]:
    whole = frame.assign(zone="diagnostic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if profile:
            table = safe_aggregate(whole, zone="zone", profile="profile")
        else:
            values = [f"{u}_kgco2e" for u in USAGES if f"{u}_kgco2e" in whole.columns]
            values.append("total_kgco2e")
            table = safe_aggregate(whole, zone="zone", values=values)
    require_protected(table, what="the diagnostic totals")
    if table.empty:
        return {}
    row = table.iloc[0]
    if profile:
        out = {
            c.removeprefix("share_"): float(row[c]) for c in table.columns if c.startswith("share_")
        }
    else:
        out = {
            c.removesuffix("_mean").removesuffix("_kgco2e") or "total": float(row[c])
            for c in table.columns
            if c.endswith("_mean") and not math.isnan(float(row[c]))
        }
    return {k: round(v, 4) for k, v in out.items()}


def _cells(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], list[list[float]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(frame, zone="cell_id", values=["total_kgco2e"], profile="profile")
    require_protected(table, what="the indicators layer")
    # all or nothing: cells covering part of the set beside the set's means would give the
    # remainder's figures by subtraction
    if table.empty or int(table["n_respondents"].sum()) != len(frame):
        return [], []
    wgs: Any = cast(Any, table).to_crs(WGS84)
    wanted = [c for c in wgs.columns if c != "geometry" and not c.endswith("_sum")]
    features = []
    for zone_id, row, geom in zip(
        wgs.index, wgs[wanted].to_dict("records"), wgs.geometry, strict=True
    ):
        features.append(
            {
                "type": "Feature",
                "id": str(zone_id),
                "geometry": geom.__geo_interface__ if geom is not None else None,
                "properties": {k: json_value(v) for k, v in row.items()},
            }
        )
    bounds = [[round(float(v), 7) for v in b] for b in wgs.geometry.bounds.to_numpy()]
    # GeoJSON wants lists, not tuples: what the store gives back must equal what was built
    return json.loads(json.dumps(features)), bounds


def _own_profiles(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from qet_geo.analysis.profiles import UsageProfiles

    complete = frame[list(USAGES)]
    if len(complete) < 2 * MIN_RESPONDENTS:  # two profiles of 11 at least, or none
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = UsageProfiles(random_state=0).fit(complete.astype("Int8"))
    counts = [int(c) for c in fitted.counts_]
    total = sum(counts)
    # rule 2: no profile of 1 to 10 (each is the mean of its members' answers); rule 3: no
    # profile holding everyone (it would give every respondent's profile)
    if len(counts) < 2 or min(counts) < MIN_RESPONDENTS or max(counts) >= total:
        return []
    return [
        {
            "number": k,
            "share": round(count / total, 4),
            "centre_levels": {
                u: round(float(v) + 1.0, 4) for u, v in zip(USAGES, centre, strict=True)
            },
        }
        for k, (count, centre) in enumerate(zip(counts, fitted.centres_, strict=True))
    ]


def compute_figures(
    frame: pd.DataFrame,
    *,
    own_profiles: bool = True,
    synthetic: bool = False,
    access: Any = None,
    building_keys: pd.Series | None = None,
    links: dict[str, Any] | None = None,
    other_surveys: dict[str, Any] | None = None,
    walking: dict[str, Any] | None = None,
) -> Figures:
    """Compute every published figure of a diagnostic over its :func:`release_set`.

    Parameters
    ----------
    frame
        The diagnostic's respondents (:func:`qet_geo.store.ingest.respondents_frame`);
        restricted here to the release set.
    own_profiles
        Also fit the diagnostic's own profiles on the set (a release does; the live preview
        reads those of the last analysis instead).
    synthetic
        Whether the answers are synthetic (``Diagnostic.synthetic``): the figures carry it.
    access
        None (no links computed), or the per-home walk access table
        (:func:`qet_geo.store.jobs.home_access`'s first table; ``False`` when the
        neighbourhood has none: the links are then "no_access"): the links, margins of
        manoeuvre and vote themes are computed over the set (:func:`link_figures`).
    building_keys
        Each respondent's building (pseudo id → building key, :func:`link_answers`), with
        ``access``.
    links
        The links already computed over the same set (:func:`preview_links`, which the
        analysis computed and kept): carried as they are instead of ``access``.
    other_surveys
        The other surveys' figures to carry (:func:`other_figures`), already checked.
    walking
        The walking minutes to carry (:func:`access_figures`); computed from ``access``
        when None.

    Returns
    -------
    Figures
        Nothing when the set has fewer than 11 respondents.
    """
    chosen = release_set(frame)
    if walking is None:
        walking = access_figures(access if access is not None and access is not False else None)
    if len(chosen) < MIN_RESPONDENTS:
        return Figures(
            0, synthetic=synthetic, other_surveys=dict(other_surveys or {}), access=walking
        )
    features, bounds = _cells(chosen)
    if links is None:
        links = {}
        if access is not None:
            answers = link_answers(chosen, building_keys)
            links = link_figures(answers, None if access is False else access)
    return Figures(
        n_respondents=len(chosen),
        footprints=_totals(chosen, profile=False),
        profile_shares=_totals(chosen, profile=True),
        own_profiles=_own_profiles(chosen) if own_profiles else [],
        features=features,
        bounds=bounds,
        synthetic=synthetic,
        links=links,
        other_surveys=dict(other_surveys or {}),
        access=walking,
    )


def access_figures(walk: Any) -> dict[str, Any]:
    """The neighbourhood's walking minutes, as the report's constraints table gives them.

    From the per-home walk access table (streets, amenities and homes: no answer in it, no
    threshold applies): ``homes``, ``homes_at_edge`` (homes whose 15 minutes reach the
    extract's border), ``homes_off_network``, ``score_15min`` (the weighted mean 15-minute
    score) and, in ``fr`` and ``en``, the rows of
    :func:`qet_geo.exhibition._tables.constraint_rows` (median minutes to each kind of amenity
    and share of homes within 15 minutes). ``{}`` without a table.
    """
    if walk is None:
        return {}
    from qet_geo.constraints.access import score_distribution
    from qet_geo.constraints.indicators import REACHES_BORDER
    from qet_geo.exhibition._tables import constraint_rows

    edge = walk[REACHES_BORDER].fillna(False).astype(bool) if REACHES_BORDER in walk else None
    return cast(
        "dict[str, Any]",
        _plain(
            {
                "homes": len(walk),
                "homes_at_edge": 0 if edge is None else int(edge.sum()),
                "homes_off_network": int(walk["off_network"].astype(bool).sum()),
                "score_15min": float(score_distribution(walk).attrs["weighted_mean"]),
                "fr": constraint_rows(walk, "fr"),
                "en": constraint_rows(walk, "en"),
            }
        ),
    )


# --------------------------------------------------------------------------------------------------
# links, margins of manoeuvre and vote themes (as ``qet diagnose``)


def building_keys(session: Session, diagnostic_id: int) -> pd.Series:
    """Each stored respondent's building (pseudo id → building key; None when unknown).

    Internal (a building is finer than the 200 m cell every published figure speaks of): only
    :func:`link_answers` reads it, to give each answer its home's indicators.
    """
    rows = session.execute(
        select(Respondent.pseudo_id, Respondent.building_key).where(
            Respondent.diagnostic_id == diagnostic_id
        )
    ).all()
    return pd.Series(
        [b for _, b in rows], index=pd.Index([p for p, _ in rows], name="pseudo_id"), dtype=object
    )


def link_answers(chosen: pd.DataFrame, keys: pd.Series | None) -> pd.DataFrame:
    """The release set as :func:`qet_geo.analysis.links.link_report` reads it.

    The answers' levels, each respondent's building (``building_key``, from ``keys``) and 200 m
    cell (``cell_id``): an answer is given its home's indicators, or its cell's when its building
    is unknown (an answer uploaded before the neighbourhood had an extract).
    """
    answers = pd.DataFrame(
        {u: chosen[u].astype("Int8") for u in USAGES}, index=chosen.index.astype(str)
    )
    answers.index.name = "pseudo_id"
    found = keys[~keys.index.duplicated()] if keys is not None else pd.Series(dtype=object)
    answers["building_key"] = (
        found.reindex(answers.index).astype(object).where(lambda v: v.notna(), None)
    )
    answers["cell_id"] = chosen["cell_id"].astype(str).to_numpy()
    return answers


def cell_access(walk: pd.DataFrame) -> pd.DataFrame:
    """The homes' indicators averaged per 200 m cell, for answers located by their cell only."""
    from qet_geo.analysis.homes import NOT_INDICATORS
    from qet_geo.constraints.access import zone_indicators

    columns = [
        str(c)
        for c in walk.columns
        if str(c) not in NOT_INDICATORS
        and str(c) != "weight"
        and pd.api.types.is_numeric_dtype(walk[c])
        and not pd.api.types.is_bool_dtype(walk[c])
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cells = zone_indicators(cast(Any, walk), indicators=columns)
    return cells.drop(columns=["population", "homes"], errors="ignore")


def _plain(value: Any) -> Any:
    """A table's value as JSON keeps it: NaN as null, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def link_tables(answers: pd.DataFrame, walk: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The exhibition's link tables over ``answers``, in French and English, as ``qet diagnose``.

    :func:`qet_geo.analysis.links.link_reports` (scale :data:`FOOTPRINT_SCALE`,
    :data:`LINK_BOOTSTRAP` replicates, seed :data:`LINK_SEED`), fitted once, then each
    language's rows (:mod:`qet_geo.exhibition._tables`): ``models`` (:func:`~qet_geo.
    exhibition._tables.model_rows`), ``margins``, ``left_out`` (the scenarios left out, each
    with why, in words) and ``votes`` (the themes ranked by reduction potential).

    Returns
    -------
    dict
        ``{"fr": tables, "en": tables}``: the same figures, labelled in each language.
    """
    from qet_geo.analysis.footprint import read_ngc_scale, su_footprints
    from qet_geo.analysis.links import link_reports
    from qet_geo.exhibition._tables import margin_rows, margins_left_out, model_rows, vote_rows
    from qet_geo.surveys.schema import USAGE_LABELS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reports = link_reports(
            answers,
            walk,
            profiles=None,
            scale=FOOTPRINT_SCALE,
            cell_access=cell_access(walk),
            n_bootstrap=LINK_BOOTSTRAP,
            random_state=LINK_SEED,
            langs=("fr", "en"),
        )
        footprints = su_footprints(answers[list(USAGES)], scale=FOOTPRINT_SCALE)
    ngc = read_ngc_scale()
    out: dict[str, dict[str, Any]] = {}
    for lang, links in reports.items():
        labels = {u: USAGE_LABELS[u].render(lang) for u in USAGES}
        out[lang] = cast(
            "dict[str, Any]",
            _plain(
                {
                    "models": model_rows(links),
                    "margins": margin_rows(links),
                    "left_out": margins_left_out(links, lang),
                    "votes": vote_rows(footprints, ngc, links, labels),
                }
            ),
        )
    return out


def link_figures(answers: pd.DataFrame, walk: pd.DataFrame | None) -> dict[str, Any]:
    """The links, margins of manoeuvre and vote themes over a release set, in both languages.

    Returns
    -------
    dict
        ``{"status": "ok", "n_bootstrap", "random_state", "scale", "fr": tables, "en":
        tables}`` (:func:`link_tables`); ``{"status": "no_access"}`` without the per-home access
        tables (no extract, or no analysis since it was set); ``{"status": "withheld",
        "reason": {"fr", "en"}}`` when the library refuses (too few located answers, for
        instance): the reason in words.
    """
    if walk is None:
        return {"status": "no_access"}
    out: dict[str, Any] = {
        "status": "ok",
        "n_bootstrap": LINK_BOOTSTRAP,
        "random_state": LINK_SEED,
        "scale": FOOTPRINT_SCALE,
    }
    try:
        out.update(link_tables(answers, walk))
    except QetGeoError as exc:
        return {
            "status": "withheld",
            "reason": {"fr": exc.localized("fr"), "en": exc.localized("en")},
        }
    return out


def _set_digest(answers: pd.DataFrame, key: str) -> str:
    """What a preview's links depend on: the answers, their places, the access tables' key."""
    text = json.dumps(
        [
            key,
            LINK_BOOTSTRAP,
            LINK_SEED,
            FOOTPRINT_SCALE,
            answers.astype(object).where(answers.notna(), None).reset_index().values.tolist(),
        ],
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def preview_links(
    session: Session,
    diagnostic_id: int,
    *,
    osm_dir: Any,
    walk: Any = None,
    key: str | None = None,
    compute: bool = True,
) -> dict[str, Any]:
    """The links of the would-be release of a diagnostic, kept beside the access tables.

    The analysis computes them once (its "links" step); the results page reads them back while
    the set and the access tables are the same, and computes them again otherwise. The file
    is named after the access tables' key and a digest of the set, written atomically.

    Parameters
    ----------
    session
        A session on the store.
    diagnostic_id
        The diagnostic.
    osm_dir
        The service's OSM folder.
    walk, key
        The walk access table and its key (:func:`qet_geo.store.jobs.access_key`), as the
        analysis has them; None reads them back (:func:`qet_geo.store.jobs.home_access`).
    compute
        False for a page: never compute (seconds of bootstrap), ``{"status": "stale"}`` when
        the analysis did not compute them for this set.

    Returns
    -------
    dict
        As :func:`link_figures`; ``{}`` when the set has fewer than 11 respondents.
    """
    from pathlib import Path

    from qet_geo.store.jobs import access_key, home_access

    diag = session.get(Diagnostic, diagnostic_id)
    if diag is None:
        raise NotFoundError(
            msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
        )
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    assert hood is not None  # a foreign key
    chosen = release_set(respondents_frame(session, diagnostic_id))
    if len(chosen) < MIN_RESPONDENTS:
        return {}
    if walk is None:
        tables = home_access(osm_dir, hood)
        if tables is None:
            return link_figures(link_answers(chosen, None), None)
        walk = tables[0]
    geometry = territory_geometry(hood)
    if key is None and hood.osm_extract and geometry is not None:
        key = access_key(hood.osm_extract, geometry)
    answers = link_answers(chosen, building_keys(session, diagnostic_id))
    if key is None or osm_dir is None or not hood.osm_extract:
        return link_figures(answers, walk)
    folder = Path(osm_dir).resolve()
    stem = f"{hood.osm_extract}.access-{key}-links-"
    path = folder / f"{stem}{_set_digest(answers, key)}.json"
    try:
        return cast("dict[str, Any]", json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    if not compute:
        return {"status": "stale"}
    figures = link_figures(answers, walk)
    temporary = folder / f".links-{secrets.token_hex(6)}.json"
    try:
        temporary.write_text(json.dumps(figures, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
        for old in folder.glob(f"{glob.escape(stem)}*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        logger.warning("could not keep the links preview of diagnostic %s", diagnostic_id)
    finally:
        temporary.unlink(missing_ok=True)
    return figures


# --------------------------------------------------------------------------------------------------
# the other surveys


def other_figures(
    session: Session, diagnostic_id: int, tables: tuple[Any, Any] | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The MdV/EdV and NosGestesClimat figures of a diagnostic, and their respondents' keys.

    :func:`qet_geo.store.perceived.other_surveys_figures` with the per-home tables (None when
    the neighbourhood has none). ``({}, {})`` while that module is not installed.
    """
    walk, bike = tables if tables is not None else (None, None)
    try:
        from qet_geo.store.perceived import other_surveys_figures

        other = other_surveys_figures(session, diagnostic_id, walk=walk, bike=bike)
    except ImportError:  # the module, or the store's survey_frame it reads, lands separately
        logger.warning("the other surveys' figures are not available yet in this install")
        return {}, {}
    return dict(other.figures), {k: list(v) for k, v in other.ids.items()}


def _withhold_different_parts(
    figures: dict[str, Any], ids: dict[str, list[str]], earlier: list[set[str]]
) -> tuple[dict[str, Any], set[str]]:
    """Rule 5 for the other surveys: each part against the same part of every earlier release.

    A part whose set differs by 1 to 10 from one of them is withheld (``release_difference``)
    and none of its respondents is stored; the others keep their figures. Returns the figures
    and the prefixed keys to store.
    """
    small = range(1, MIN_RESPONDENTS)
    out = dict(figures)
    kept: set[str] = set()
    for part in OTHER_PARTS:
        new = {f"{part}:{i}" for i in ids.get(part, [])}
        if not new:
            continue
        clash = False
        for old_all in earlier:
            old = {i for i in old_all if i.startswith(f"{part}:")}
            if len(new - old) in small or len(old - new) in small:
                clash = True
                break
        if clash:
            synthetic = bool((figures.get(part) or {}).get("synthetic", False))
            out[part] = {
                "status": "withheld",
                "reason": "release_difference",
                "synthetic": synthetic,
            }
        else:
            kept |= new
    return out, kept


def preview_extras(
    session: Session, diagnostic_id: int, *, osm_dir: Any, compute: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The live preview's links and other surveys' figures (see :func:`preview_figures`)."""
    links, other, _ = preview_figures(session, diagnostic_id, osm_dir=osm_dir, compute=compute)
    return links, other


def preview_figures(
    session: Session, diagnostic_id: int, *, osm_dir: Any, compute: bool = True
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The live preview's links and other surveys' figures, as a release would compute them.

    The links come from :func:`preview_links` (computed by the analysis, read back; with
    ``compute`` False, "stale" when it did not); the other surveys are computed now, with rule 5
    applied against the earlier releases, as :func:`create_release` would; and the walking
    minutes (:func:`access_figures`).
    """
    from qet_geo.store.jobs import home_access

    diag = session.get(Diagnostic, diagnostic_id)
    if diag is None:
        raise NotFoundError(
            msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
        )
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    assert hood is not None  # a foreign key
    tables = home_access(osm_dir, hood)
    links = preview_links(
        session,
        diagnostic_id,
        osm_dir=osm_dir,
        walk=None if tables is None else tables[0],
        compute=compute,
    )
    try:
        other, ids = other_figures(session, diagnostic_id, tables)
    except QetGeoError:  # a page shows what it can; a release says why it cannot
        logger.exception("the other surveys' preview of diagnostic %s failed", diagnostic_id)
        other, ids = {}, {}
    if other:
        other, _ = _withhold_different_parts(other, ids, _released_sets(session, hood.id))
    return links, other, access_figures(None if tables is None else tables[0])


def constraint_means(session: Session, neighbourhood_id: int) -> dict[str, float | None]:
    """The neighbourhood's built constraints now: each indicator's mean over its 200 m cells,
    weighted by their inhabitants (as a release stores them in its summary; no answer in it)."""
    rows = session.execute(
        select(Indicator.zone_id, Indicator.name, Indicator.value, Indicator.population).where(
            Indicator.neighbourhood_id == neighbourhood_id
        )
    ).all()
    if not rows:
        return {}
    long = pd.DataFrame(rows, columns=["zone", "name", "value", "population"])
    wide = long.pivot_table(index="zone", columns="name", values="value")
    pops = long.groupby("zone")["population"].max().reindex(wide.index).fillna(0.0).clip(lower=0)
    out: dict[str, float | None] = {}
    for name in wide.columns:
        values = wide[name].astype(float)
        known = values.notna() & (pops > 0)
        if known.any():
            out[str(name)] = round(float(np.average(values[known], weights=pops[known])), 4)
        else:
            out[str(name)] = None
    return out


def _moments(frame: pd.DataFrame) -> dict[str, list[float]]:
    """Count, mean and variance (ddof 1) of each footprint, for the before/after comparison.

    Stored only with publishable footprints (no respondent dominating any of them).
    """
    out = {}
    for col in [*(f"{u}_kgco2e" for u in USAGES), "total_kgco2e"]:
        if col in frame.columns:
            v = frame[col].astype(float).dropna()
            if len(v) >= MIN_RESPONDENTS:
                out[col] = [float(len(v)), float(v.mean()), float(v.var(ddof=1))]
    return out


# --------------------------------------------------------------------------------------------------
# the live preview, kept per state of the data


@dataclass(frozen=True)
class Preview:
    """What the pilot team previews of a diagnostic: the figures a release would publish now.

    Attributes
    ----------
    version
        The state of the data they were computed from (:func:`preview_version`).
    figures
        The live figures over the would-be release set (:func:`compute_figures`, without own
        profiles), with the links (:func:`preview_links`, never computed here: "stale" until
        the analysis computes them for this set), the other surveys' figures (rule 5 applied
        against the earlier releases) and the walking minutes (:func:`preview_figures`).
    constraints
        The neighbourhood's built constraints (:func:`constraint_means`).
    own_profiles
        The diagnostic's own profiles the last analysis stored (``number``, ``share``,
        ``centre_levels``).
    """

    version: str
    figures: Figures
    constraints: dict[str, float | None] = field(default_factory=dict)
    own_profiles: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The preview as its file keeps it."""
        return {
            "version": self.version,
            "figures": self.figures.as_json(),
            "constraints": self.constraints,
            "own_profiles": self.own_profiles,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preview:
        """Read a preview back from :meth:`as_json`."""
        return cls(
            version=str(data["version"]),
            figures=Figures.from_json(data["figures"]),
            constraints=dict(data.get("constraints") or {}),
            own_profiles=list(data.get("own_profiles") or []),
        )


#: Previews kept in this process: (OSM folder, diagnostic id) → the latest one read or computed.
_previews: dict[tuple[str, int], Preview] = {}
_previews_lock = threading.Lock()
#: One computation of a diagnostic's preview at a time in this process (the others wait for it).
_computing: dict[int, threading.Lock] = {}


def _access_names(osm_dir: Any, extract: str | None) -> list[str]:
    """The names of the per-home tables and links' previews kept for an extract (sorted).

    Their names hold what their content depends on (:func:`qet_geo.store.jobs.access_key`, the
    set's digest): which exist says whether the analysis computed them, without reading them.
    """
    if osm_dir is None or not extract:
        return []
    from pathlib import Path

    try:
        folder = Path(osm_dir).resolve()
        return sorted(p.name for p in folder.glob(f"{glob.escape(extract)}.access-*"))
    except OSError:
        return []


_VERSION_STATEMENTS: tuple[Any, Any] | None = None


def _version_statements() -> tuple[Any, Any]:
    """The two statements :func:`preview_version` runs, built once (parameter ``d``: the
    diagnostic): the state's aggregates in one row, and the profiles it depends on."""
    global _VERSION_STATEMENTS
    if _VERSION_STATEMENTS is not None:
        return _VERSION_STATEMENTS
    from sqlalchemy import Integer, bindparam
    from sqlalchemy.orm import aliased

    from qet_geo.store.models import Profile, SurveyAnswer

    d: Any = bindparam("d", type_=Integer)
    campaign = aliased(Diagnostic)
    hood = Diagnostic.neighbourhood_id

    def one(*columns: Any, where: Any, join: Any = None) -> list[Any]:
        out = []
        for column in columns:
            sub = select(column)
            if join is not None:
                sub = sub.join(*join)
            out.append(sub.where(where).scalar_subquery())
        return out

    state = (
        select(
            Diagnostic.synthetic,
            Neighbourhood.osm_extract,
            Neighbourhood.territory_wkt,
            *one(
                func.count(Respondent.id),
                func.sum(Respondent.id),
                func.max(Respondent.id),
                func.sum(Respondent.upload_id),
                func.count(Respondent.profile),
                func.sum(Respondent.profile),
                where=Respondent.diagnostic_id == d,
            ),
            *one(
                func.count(SurveyAnswer.id),
                func.sum(SurveyAnswer.id),
                func.max(SurveyAnswer.id),
                where=SurveyAnswer.diagnostic_id == d,
            ),
            *one(
                func.count(Indicator.id),
                func.count(Indicator.value),
                func.sum(Indicator.value),
                func.sum(Indicator.population),
                where=Indicator.neighbourhood_id == hood,
            ),
            *one(
                func.count(Release.id),
                func.max(Release.id),
                where=campaign.neighbourhood_id == hood,
                join=(campaign, campaign.id == Release.diagnostic_id),
            ),
        )
        .join(Neighbourhood, Neighbourhood.id == hood)
        .where(Diagnostic.id == d)
    )
    profiles = (
        select(Profile.scope, Profile.number, Profile.share, Profile.centre)
        .where(
            (Profile.diagnostic_id == d)
            | ((Profile.scope == "national") & Profile.diagnostic_id.is_(None))
        )
        .order_by(Profile.scope, Profile.number)
    )
    _VERSION_STATEMENTS = (state, profiles)
    return _VERSION_STATEMENTS


def preview_version(session: Session, diagnostic_id: int, *, osm_dir: Any) -> str | None:
    """The state of everything the live preview of a diagnostic is computed from, as a digest.

    A few aggregate queries and a listing of the OSM folder, no figure computed: the
    respondents (ids, uploads, and the profiles a national refit gives them again), the other
    surveys' answers, the national and the diagnostic's own profiles (by content), the
    neighbourhood's built constraints (by content: an analysis that stores the same values
    again changes nothing), its releases (rule 5 withholds parts of the other surveys against
    them), its extract and outline, the diagnostic's ``synthetic`` label, and which per-home
    tables and links' previews the analysis kept (:func:`_access_names`). A new upload, a
    deleted or replaced one, an analysis that stored other results, a new extract or outline, a
    release: another version. None for a diagnostic that does not exist.
    """
    state, profile_rows = _version_statements()
    row = session.execute(state, {"d": diagnostic_id}).first()
    if row is None:
        return None
    synthetic, extract, territory = bool(row[0]), row[1], row[2]
    respondents, others, indicators, releases = row[3:9], row[9:12], row[12:16], row[16:18]
    profiles = session.execute(profile_rows, {"d": diagnostic_id}).all()
    parts = [
        diagnostic_id,
        synthetic,
        extract,
        hashlib.sha256(str(territory or "").encode()).hexdigest(),
        list(respondents),
        list(others),
        [[s, n, share, centre] for s, n, share, centre in profiles],
        list(indicators),
        list(releases),
        _access_names(osm_dir, extract),
        LINK_BOOTSTRAP,
        LINK_SEED,
        # the scale of every footprint (stored ones too since migration 0012)
        ["footprints", FOOTPRINT_SCALE],
    ]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _preview_path(osm_dir: Any, diagnostic_id: int, version: str) -> Any:
    from pathlib import Path

    return Path(osm_dir).resolve() / f".preview-{diagnostic_id}-{version}.json"


def kept_preview(diagnostic_id: int, version: str, *, osm_dir: Any) -> Preview | None:
    """The preview of a diagnostic kept for ``version``, in this process or in its file.

    The file (``.preview-{diagnostic}-{version}.json`` in the OSM folder, beside the per-home
    tables it is partly computed from) is what every server process shares; None when neither
    holds this version (the data changed since: :func:`keep_preview` computes it again).
    """
    with _previews_lock:
        hit = _previews.get((str(osm_dir), diagnostic_id))
    if hit is not None and hit.version == version:
        return hit
    if osm_dir is None:
        return None
    try:
        text = _preview_path(osm_dir, diagnostic_id, version).read_text(encoding="utf-8")
        preview = Preview.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if preview.version != version:
        return None
    with _previews_lock:
        _previews[(str(osm_dir), diagnostic_id)] = preview
    return preview


def keep_preview(engine: Engine, diagnostic_id: int, *, osm_dir: Any) -> Preview:
    """Compute the live preview of a diagnostic for the data as they are, and keep it.

    Reads the store in a session of its own (the caller's connection can be given back first:
    the figures take a second or more), computes what the page showed before it was kept
    (:func:`compute_figures` over the would-be release set, :func:`preview_figures`,
    :func:`constraint_means`, the own profiles), and keeps it under the version read at the
    start (:func:`preview_version`): in this process and, atomically, in a file of the OSM
    folder for the other server processes; older files of the diagnostic are removed. One
    computation of a diagnostic at a time per process: a request arriving meanwhile waits for
    it and reads its result.

    Raises
    ------
    NotFoundError
        No such diagnostic.
    """
    from qet_geo.store.models import Profile

    with _previews_lock:
        lock = _computing.setdefault(diagnostic_id, threading.Lock())
    with lock:
        factory = sessionmaker(engine, expire_on_commit=False)
        with factory() as session:
            version = preview_version(session, diagnostic_id, osm_dir=osm_dir)
            if version is None:
                raise NotFoundError(
                    msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
                )
            done = kept_preview(diagnostic_id, version, osm_dir=osm_dir)
            if done is not None:  # computed meanwhile, here or by another process
                return done
            diag = session.get(Diagnostic, diagnostic_id)
            assert diag is not None  # the version was read
            synthetic = bool(diag.synthetic)
            frame = respondents_frame(session, diagnostic_id)
            links, other, walking = preview_figures(
                session, diagnostic_id, osm_dir=osm_dir, compute=False
            )
            constraints = constraint_means(session, diag.neighbourhood_id)
            own = [
                {
                    "number": int(p.number),
                    "share": p.share,
                    "centre_levels": {u: float(v) + 1.0 for u, v in p.centre.items()},
                }
                for p in session.scalars(
                    select(Profile)
                    .where(Profile.diagnostic_id == diagnostic_id, Profile.scope == "diagnostic")
                    .order_by(Profile.number)
                )
            ]
        # the connection is given back: the figures are computed without holding one
        live = compute_figures(frame, own_profiles=False, synthetic=synthetic)
        figures = replace(live, links=links, other_surveys=other, access=walking)
        # kept as its file gives it back, so that every process shows the same figures
        preview = Preview.from_json(
            json.loads(json.dumps(Preview(version, figures, constraints, own).as_json()))
        )
        _write_preview(osm_dir, diagnostic_id, preview)
        with _previews_lock:
            _previews[(str(osm_dir), diagnostic_id)] = preview
        return preview


def _write_preview(osm_dir: Any, diagnostic_id: int, preview: Preview) -> None:
    """Write a preview's file atomically and remove the diagnostic's older ones (logged, not
    fatal: the page then computes it again in the other processes)."""
    if osm_dir is None:
        return
    path = _preview_path(osm_dir, diagnostic_id, preview.version)
    temporary = path.with_name(f".preview-tmp-{os.getpid()}-{secrets.token_hex(6)}.json")
    try:
        temporary.write_text(json.dumps(preview.as_json(), ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
        for old in path.parent.glob(f".preview-{diagnostic_id}-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        logger.warning("could not keep the preview of diagnostic %s", diagnostic_id)
    finally:
        temporary.unlink(missing_ok=True)


def forget_previews() -> None:
    """Forget the previews kept in this process (the files stay): for tests."""
    with _previews_lock:
        _previews.clear()


# --------------------------------------------------------------------------------------------------
# releases


def _released_sets(session: Session, neighbourhood_id: int) -> list[set[str]]:
    """The respondent sets of every release of every campaign of a neighbourhood.

    Campaigns of one neighbourhood are compared too: a year-1 file holding the year-0 answers
    plus a few would otherwise give those few by subtraction (before/after, or two ``/footprints``).
    Different people, or the same people with other answers, have other keys: campaigns of real
    surveys differ by far more than 10.
    """
    return [
        set(ids)
        for ids in session.scalars(
            select(Release.respondent_ids)
            .join(Diagnostic, Diagnostic.id == Release.diagnostic_id)
            .where(Diagnostic.neighbourhood_id == neighbourhood_id)
        )
    ]


def _su_keys(ids: set[str]) -> set[str]:
    """The SU respondents of a stored set (the other surveys' are prefixed ``mdv:``, ``ngc:``)."""
    return {i for i in ids if ":" not in i}


def _refuse_small_difference(new: set[str], earlier: list[set[str]]) -> None:
    small = range(1, MIN_RESPONDENTS)
    for old in (_su_keys(ids) for ids in earlier):
        if len(new - old) in small or len(old - new) in small:
            raise DisclosureError(
                msg(
                    "cette publication différerait d'une publication précédente de moins de "
                    "{n_min} répondants : la différence des deux révélerait leurs "
                    "réponses. Attendez qu'au moins {n_min} répondants de plus aient "
                    "répondu avant de publier à nouveau.",
                    n_min=MIN_RESPONDENTS,
                )
            )


def create_release(
    engine: Engine, diagnostic_id: int, *, osm_dir: Any = None, shared_data: Any = None
) -> Release:
    """Publish the figures of a diagnostic as its next release.

    Besides the SU figures, the release holds the links, margins of manoeuvre and vote themes
    over the same set (:func:`link_figures`, from the access tables the last analysis kept
    beside the extract in ``osm_dir``; "no_access" without them) and the other surveys'
    figures (:func:`other_figures`). Rule 5 is checked for each set on its own: the SU set
    refuses the release; an MdV/EdV or NosGestesClimat part that differs by 1 to 10 from the
    same part of an earlier release is **withheld** (its figures replaced by
    ``{"status": "withheld", "reason": "release_difference"}``, none of its respondents
    stored), so that a few more MdV answers never block the publication of the rest.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic.
    osm_dir
        The service's OSM folder (where the per-home access tables are kept); None: no links.
    shared_data
        The shared data folder (``QET_SHARED_DATA``) whose ``census/`` holds the census tables
        by IRIS: the set is compared with the census of the neighbourhood's IRIS and weighted
        to it (:func:`qet_geo.store.census_figures.census_comparison`; figures ``census``, summary
        ``census_moments``). None: the release says it is not weighted (``no_folder``).

    Returns
    -------
    qet_geo.store.models.Release
        The stored release (``number`` 1, 2, ...), detached. Its ``figures`` and ``summary``
        keep the diagnostic's ``synthetic`` label: a release of synthetic answers stays
        labelled after publication.

    Raises
    ------
    NotFoundError
        No such diagnostic.
    DisclosureError
        The set has fewer than 11 respondents, its footprints cannot be published (one
        respondent dominating a total), or it differs from an earlier release of the
        neighbourhood (any campaign) by 1 to 10 respondents. The message gives no count.
    ConflictError
        Another release of the diagnostic was made at the same moment: try again.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        diag = session.get(Diagnostic, diagnostic_id)
        if diag is None:
            raise NotFoundError(
                msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
            )
        hood_id = diag.neighbourhood_id
        synthetic = bool(diag.synthetic)
        frame = respondents_frame(session, diagnostic_id, keys=True)
        earlier = _released_sets(session, hood_id)
        reference = "national" if national_reference(session) else "demo"
        constraints = constraint_means(session, hood_id)
        hood = session.get(Neighbourhood, hood_id)
        from qet_geo.store.jobs import home_access

        tables = home_access(osm_dir, hood) if hood is not None else None
        iris_codes = [str(c) for c in (hood.iris_codes or [])] if hood is not None else []
        # over the same set as below; the analysis computed them already (read back, or again)
        links = preview_links(
            session, diagnostic_id, osm_dir=osm_dir, walk=None if tables is None else tables[0]
        )
        other, other_ids = other_figures(session, diagnostic_id, tables)
    chosen = release_set(frame)
    if len(chosen) < MIN_RESPONDENTS:
        raise DisclosureError(
            msg(
                "moins de {n_min} répondants sont localisés avec des réponses "
                "complètes : rien ne peut encore être publié (secret statistique).",
                n_min=MIN_RESPONDENTS,
            )
        )
    keys = set(chosen["key"].tolist())
    _refuse_small_difference(keys, earlier)
    other, other_keys = _withhold_different_parts(other, other_ids, earlier)
    figures = compute_figures(
        chosen,
        synthetic=synthetic,
        links=links,
        other_surveys=other,
        walking=access_figures(None if tables is None else tables[0]),
    )
    if not figures.footprints:
        raise DisclosureError(
            msg(
                "les empreintes moyennes de ces répondants ne peuvent pas être publiées (un "
                "répondant fait l'essentiel d'un total) : attendez davantage de réponses avant "
                "de publier."
            )
        )
    from qet_geo.store.census_figures import census_comparison, census_source

    census, census_moments = census_comparison(
        chosen, iris_codes, shared_data, publishable=list(figures.footprints)
    )
    figures = replace(figures, census=census)
    data = figures.as_json()
    data["reference"] = reference
    summary = {
        "n_respondents": figures.n_respondents,
        "footprints": figures.footprints,
        "profile_shares": figures.profile_shares,
        "constraints": constraints,
        "moments": _moments(chosen) if figures.footprints else {},
        # census-weighted moments (sum of weights, weighted sums, effective size) and what
        # they were weighted on: two releases weighted alike compare with intervals
        "census_moments": census_moments,
        "census_source": census_source(census),
        # the national comparison and before/after compare footprints of one scale only
        "scale": figures.scale,
        # the national comparison and before/after never mix synthetic and real releases
        "synthetic": synthetic,
    }
    try:
        with factory.begin() as session:
            # one release of a neighbourhood at a time (PostgreSQL; SQLite writes one at a time)
            session.get(Neighbourhood, hood_id, with_for_update=True)
            number = session.scalar(
                select(func.coalesce(func.max(Release.number), 0)).where(
                    Release.diagnostic_id == diagnostic_id
                )
            )
            # checked again inside the transaction: a release made meanwhile counts too
            now = _released_sets(session, hood_id)
            _refuse_small_difference(keys, now)
            if now != earlier and other_keys:
                other, other_keys = _withhold_different_parts(other, other_ids, now)
                data["other_surveys"] = other
            release = Release(
                diagnostic_id=diagnostic_id,
                number=int(number or 0) + 1,
                n_respondents=figures.n_respondents,
                respondent_ids=sorted(keys | other_keys),
                figures=data,
                summary=summary,
            )
            session.add(release)
            session.flush()
    except IntegrityError:
        raise ConflictError(
            msg(
                "une autre publication de ce diagnostic a été faite au même moment : rechargez "
                "ses publications et réessayez si besoin."
            )
        ) from None
    logger.info("diagnostic %s: release %s published", diagnostic_id, release.number)
    return release


def release_changes(
    before: Release,
    after: Release,
    *,
    years: tuple[int, int],
    synthetic: tuple[bool, bool],
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The change of each mean footprint between two releases, from their stored moments.

    :func:`qet_geo.analysis.national.before_after_moments` on the releases' summaries, once
    their footprints are known to be on one scale (the API's before/after and the portal's
    impact page both call this).

    Parameters
    ----------
    before, after
        The two releases (the first campaign's and the second's).
    years
        Their campaigns' years, named in the refusal.
    synthetic
        Whether each is synthetic (a synthetic release is never compared with a real one).
    confidence
        Of the intervals.

    Raises
    ------
    ValidationError
        One release holds footprints of NEAR's former table and the other of
        :data:`~qet_geo.store.ingest.FOOTPRINT_SCALE`: the message names the year to publish
        again. Synthetic against real: as :func:`~qet_geo.analysis.national.before_after_moments`.
    """
    from qet_geo.analysis.national import before_after_moments
    from qet_geo.errors import ValidationError

    scales = [str(r.summary.get("scale", FOOTPRINT_SCALE)) for r in (before, after)]
    if scales[0] != scales[1]:
        year = years[scales.index("near")] if "near" in scales else years[0]
        raise ValidationError(
            msg(
                "la publication de l'année {year} a été calculée avec l'ancienne échelle NEAR et "
                "l'autre avec l'échelle NosGestesClimat : leurs empreintes ne se comparent pas. "
                "L'équipe pilote peut publier à nouveau la campagne de l'année {year} pour la "
                "recalculer avec l'échelle NosGestesClimat.",
                year=year,
            )
        )
    return before_after_moments(
        before.summary.get("moments") or {},
        after.summary.get("moments") or {},
        confidence=confidence,
        synthetic=synthetic,
    )


def latest_release(session: Session, diagnostic_id: int) -> Release | None:
    """Return the latest release of a diagnostic (None before the first one)."""
    return session.scalars(
        select(Release)
        .where(Release.diagnostic_id == diagnostic_id)
        .order_by(Release.number.desc())
        .limit(1)
    ).first()
