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
  cover the whole set or are withheld whole, so that no remainder can be subtracted;
- a release is refused (:class:`~qet_geo.privacy.DisclosureError`, a message without the small
  count) unless its set differs from the set of **every** earlier release of the neighbourhood
  (this campaign and the others) by 0 or at least 11 respondents, counted both ways. A
  respondent whose answers or place changed counts as one who left and one who came;
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

import hashlib
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qet_geo.crs import WGS84
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS, DisclosureError, require_protected, safe_aggregate
from qet_geo.store.ingest import respondents_frame
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Indicator,
    Neighbourhood,
    NotFoundError,
    Release,
    national_reference,
)
from qet_geo.surveys.schema import USAGES

__all__ = [
    "Figures",
    "compute_figures",
    "constraint_means",
    "create_release",
    "latest_release",
    "release_set",
    "respondent_key",
]

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
    """

    n_respondents: int
    footprints: dict[str, float] = field(default_factory=dict)
    profile_shares: dict[str, float] = field(default_factory=dict)
    own_profiles: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    bounds: list[list[float]] = field(default_factory=list)
    synthetic: bool = False

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
    frame: pd.DataFrame, *, own_profiles: bool = True, synthetic: bool = False
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

    Returns
    -------
    Figures
        Nothing when the set has fewer than 11 respondents.
    """
    chosen = release_set(frame)
    if len(chosen) < MIN_RESPONDENTS:
        return Figures(0, synthetic=synthetic)
    features, bounds = _cells(chosen)
    return Figures(
        n_respondents=len(chosen),
        footprints=_totals(chosen, profile=False),
        profile_shares=_totals(chosen, profile=True),
        own_profiles=_own_profiles(chosen) if own_profiles else [],
        features=features,
        bounds=bounds,
        synthetic=synthetic,
    )


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


def _refuse_small_difference(new: set[str], earlier: list[set[str]]) -> None:
    small = range(1, MIN_RESPONDENTS)
    for old in earlier:
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


def create_release(engine: Engine, diagnostic_id: int) -> Release:
    """Publish the figures of a diagnostic as its next release.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic.

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
    figures = compute_figures(chosen, synthetic=synthetic)
    if not figures.footprints:
        raise DisclosureError(
            msg(
                "les empreintes moyennes de ces répondants ne peuvent pas être publiées (un "
                "répondant fait l'essentiel d'un total) : attendez davantage de réponses avant "
                "de publier."
            )
        )
    data = figures.as_json()
    data["reference"] = reference
    summary = {
        "n_respondents": figures.n_respondents,
        "footprints": figures.footprints,
        "profile_shares": figures.profile_shares,
        "constraints": constraints,
        "moments": _moments(chosen) if figures.footprints else {},
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
            _refuse_small_difference(keys, _released_sets(session, hood_id))
            release = Release(
                diagnostic_id=diagnostic_id,
                number=int(number or 0) + 1,
                n_respondents=figures.n_respondents,
                respondent_ids=sorted(keys),
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


def latest_release(session: Session, diagnostic_id: int) -> Release | None:
    """Return the latest release of a diagnostic (None before the first one)."""
    return session.scalars(
        select(Release)
        .where(Release.diagnostic_id == diagnostic_id)
        .order_by(Release.number.desc())
        .limit(1)
    ).first()
