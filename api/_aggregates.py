"""Published aggregates of a diagnostic, cached: its latest release, and the live preview.

The public, and every caller without write access to the neighbourhood, read a diagnostic's
figures from its latest **release** (:mod:`qet_geo.store.releases`): frozen, computed at once over one
set of respondents, and differing from every earlier release by 0 or at least 11 respondents.
The pilot team (write access) previews the **live** figures of its own data, computed by the same
rules over the would-be release set (:func:`qet_geo.store.releases.compute_figures`).

Everything here goes through :func:`qet_geo.privacy.safe_aggregate` and
:func:`qet_geo.privacy.require_protected` (inside :mod:`qet_geo.store.releases`): no respondent-level
value leaves this module.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from qet_geo.crs import WGS84
from qet_geo.errors import EmptyDataError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS, mark_released
from qet_geo.store.ingest import respondents_frame
from qet_geo.store.models import (
    Diagnostic,
    Neighbourhood,
    Profile,
    Release,
    Respondent,
)
from qet_geo.store.releases import (
    Figures,
    compute_figures,
    json_value,
    latest_release,
    release_set,
)

__all__ = [
    "REFRESH_S",
    "AggregateCache",
    "CellLayer",
    "HoodRef",
    "NationalCache",
    "Published",
    "ReleasedHood",
    "json_value",
]

#: Seconds during which a diagnostic's cached layer is served without looking at the store.
REFRESH_S = 1.0

#: Draws a diagnostic's map page from its cells (a protected table, or the would-be release set
#: of the live preview) and its release number (None for the live preview).
DrawMap = Callable[[pd.DataFrame, int | None], str]


def _released_cells(figures: Figures) -> gpd.GeoDataFrame:
    """The published cells of a release as the table :func:`~qet_geo.privacy.safe_aggregate` gave.

    The release built them with ``safe_aggregate`` and checked them with ``require_protected``
    when it was made (:func:`qet_geo.store.releases.compute_figures`), and the store keeps them as
    GeoJSON (the figures the indicators route serves); read back, a table loses pandas' marks,
    so the release's protection is marked again, with the rules it was made under.
    """
    table = gpd.GeoDataFrame.from_features(figures.features, crs=WGS84)
    table.index = pd.Index([str(f.get("id")) for f in figures.features], name="cell_id")
    return mark_released(table)


@dataclass(frozen=True)
class CellLayer:
    """Published cells of a diagnostic: GeoJSON features (WGS84), as JSON too, and bounds.

    ``synthetic`` labels cells of synthetic answers: the served features carry it in their
    properties, and the collection as a top-level member.
    """

    features: list[dict[str, Any]]
    bounds: np.ndarray  # (n, 4): left, bottom, right, top
    features_json: list[str] = field(default_factory=list)
    synthetic: bool = False

    @classmethod
    def of(cls, figures: Figures) -> CellLayer:
        """The cells of a set of figures, serialised once, labelled with ``figures.synthetic``."""
        if not figures.features:
            return cls([], np.zeros((0, 4)), synthetic=figures.synthetic)
        served = [
            {**f, "properties": {**(f.get("properties") or {}), "synthetic": figures.synthetic}}
            for f in figures.features
        ]
        return cls(
            figures.features,
            np.asarray(figures.bounds, dtype=float).reshape(-1, 4),
            [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in served],
            figures.synthetic,
        )


@dataclass(frozen=True)
class HoodRef:
    """The neighbourhood of a diagnostic, as authorisation needs it."""

    id: int
    published: bool


@dataclass(frozen=True)
class Published:
    """What a caller reads of a diagnostic: the figures, and where they come from.

    ``release`` is the number of the release (None for the live preview, or when nothing has
    been released yet: the figures are then empty).
    """

    figures: Figures
    cells: CellLayer
    release: int | None
    released_at: datetime | None = None
    reference: str | None = None


def _nothing(synthetic: bool) -> Published:
    """What a diagnostic without a release shows: no figure, its label."""
    figures = Figures(0, synthetic=synthetic)
    return Published(figures, CellLayer.of(figures), None)


def _synthetic(session: Session, diagnostic_id: int) -> bool:
    """Whether a diagnostic's answers are synthetic (``Diagnostic.synthetic``)."""
    return bool(session.scalar(select(Diagnostic.synthetic).where(Diagnostic.id == diagnostic_id)))


def _store_version(session: Session, diagnostic_id: int) -> tuple[Any, ...]:
    """What the live figures of a diagnostic depend on, read cheaply from the store.

    Its answers (count and last upload) and the national reference profiles, which give each
    respondent its profile: a refit (``POST /national/profiles``, by any server process)
    changes them and every diagnostic's profile shares. The profiles are a handful of rows,
    compared by content, not by id (SQLite may give new rows the ids of deleted ones).
    """
    answers = session.execute(
        select(func.count(Respondent.id), func.max(Respondent.upload_id)).where(
            Respondent.diagnostic_id == diagnostic_id
        )
    ).one()
    national = session.execute(
        select(Profile.number, Profile.share, Profile.centre)
        .where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
        .order_by(Profile.number)
    ).all()
    return (
        int(answers[0] or 0),
        int(answers[1] or 0),
        tuple((int(n), share, json.dumps(centre, sort_keys=True)) for n, share, centre in national),
    )


def _release_version(session: Session, diagnostic_id: int) -> tuple[int, int]:
    """The latest release of a diagnostic, by id and number ((0, 0) before the first)."""
    row = session.execute(
        select(Release.id, Release.number)
        .where(Release.diagnostic_id == diagnostic_id)
        .order_by(Release.number.desc())
        .limit(1)
    ).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


class AggregateCache:
    """Per-diagnostic cache of the released and live figures, keyed on what they come from.

    A release never changes: its figures are kept while it is the latest one. Live figures are
    used while the diagnostic's answers and the national reference profiles are unchanged
    (:func:`_store_version`). Each server process notices another's release, upload or
    national refit at its next read (within :data:`REFRESH_S` on the indicators hot path).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[int, str], tuple[Any, Any]] = {}
        #: The national comparison over the latest releases.
        self.national = NationalCache()

    def clear(self, diagnostic_id: int) -> None:
        """Forget what was computed for a diagnostic (and the national look-up's freshness)."""
        with self._lock:
            for key in [k for k in self._data if k[0] == diagnostic_id]:
                del self._data[key]
        self.national.expire()

    def _hit(self, diagnostic_id: int, kind: str, version: Any) -> Any:
        with self._lock:
            hit = self._data.get((diagnostic_id, kind))
        return hit[1] if hit is not None and hit[0] == version else None

    def _put(self, diagnostic_id: int, kind: str, version: Any, value: Any) -> None:
        with self._lock:
            self._data[(diagnostic_id, kind)] = (version, value)

    def _memo(self, diagnostic_id: int, kind: str, version: Any, compute: Callable[[], Any]) -> Any:
        """Return the value kept for ``(diagnostic_id, kind)`` at ``version``, else compute it."""
        hit = self._hit(diagnostic_id, kind, version)
        if hit is not None:
            return hit
        value = compute()
        self._put(diagnostic_id, kind, version, value)
        return value

    # -- the latest release ----------------------------------------------------------------------

    def released(self, session: Session, diagnostic_id: int) -> Published:
        """Return the figures of the latest release of a diagnostic (empty before the first).

        Labelled ``synthetic`` when the release is, or the diagnostic is now (a release made
        before the label existed).
        """
        synthetic = _synthetic(session, diagnostic_id)

        def compute() -> Published:
            release = latest_release(session, diagnostic_id)
            if release is None:
                return _nothing(synthetic)
            figures = Figures.from_json(release.figures)
            if synthetic and not figures.synthetic:
                figures = replace(figures, synthetic=True)
            return Published(
                figures,
                CellLayer.of(figures),
                release.number,
                release.created_at,
                release.figures.get("reference"),
            )

        version = (_release_version(session, diagnostic_id), synthetic)
        value: Published = self._memo(diagnostic_id, "release", version, compute)
        return value

    def released_map(
        self, session: Session, diagnostic_id: int, *, draw: DrawMap, lang: str, key: Hashable
    ) -> str:
        """Return the offline HTML map of the latest release, drawn by ``draw``.

        ``draw`` gets the release's published cells and its number; one page is kept per
        language, with ``key``: what else it depends on (the neighbourhood's name, extract...).
        """

        def compute() -> str:
            release = latest_release(session, diagnostic_id)
            if release is None or not release.figures.get("features"):
                raise EmptyDataError(
                    msg(
                        "ce diagnostic n'a pas encore de publication avec des carreaux à cartographier."
                    )
                )
            return draw(_released_cells(Figures.from_json(release.figures)), release.number)

        version = (_release_version(session, diagnostic_id), key)
        html: str = self._memo(diagnostic_id, f"release_map:{lang}", version, compute)
        return html

    # -- the live preview (write access only) ----------------------------------------------------

    def live(self, session: Session, diagnostic_id: int) -> Published:
        """Return the live figures of a diagnostic, over its would-be release set."""

        synthetic = _synthetic(session, diagnostic_id)

        def compute() -> Published:
            frame = respondents_frame(session, diagnostic_id)
            figures = compute_figures(frame, own_profiles=False, synthetic=synthetic)
            return Published(figures, CellLayer.of(figures), None)

        version = (_store_version(session, diagnostic_id), synthetic)
        value: Published = self._memo(diagnostic_id, "live", version, compute)
        return value

    def live_map(
        self, session: Session, diagnostic_id: int, *, draw: DrawMap, lang: str, key: Hashable
    ) -> str:
        """Return the offline HTML map of the live figures, drawn by ``draw`` (release None).

        ``draw`` gets the would-be release set, one row per respondent, which the map
        aggregates through :func:`qet_geo.privacy.safe_aggregate` itself.
        """

        def compute() -> str:
            chosen = release_set(respondents_frame(session, diagnostic_id))
            if len(chosen) < MIN_RESPONDENTS:
                raise EmptyDataError(
                    msg(
                        "trop peu de répondants de ce diagnostic sont localisés avec des réponses "
                        "complètes : rien à cartographier."
                    )
                )
            return draw(chosen, None)

        version = (_store_version(session, diagnostic_id), key)
        html: str = self._memo(diagnostic_id, f"live_map:{lang}", version, compute)
        return html

    # -- the indicators hot path -----------------------------------------------------------------

    def fresh_cells(self, diagnostic_id: int) -> tuple[HoodRef, CellLayer] | None:
        """Return the released layer and neighbourhood checked less than REFRESH_S ago."""
        return self._fresh(diagnostic_id, "fast")

    def fresh_live_cells(self, diagnostic_id: int) -> tuple[HoodRef, CellLayer] | None:
        """Return the live layer and neighbourhood checked less than REFRESH_S ago."""
        return self._fresh(diagnostic_id, "fast_live")

    def _fresh(self, diagnostic_id: int, kind: str) -> tuple[HoodRef, CellLayer] | None:
        with self._lock:
            hit = self._data.get((diagnostic_id, kind))
        if hit is None or hit[0][0] < time.monotonic():
            return None
        entry: tuple[HoodRef, CellLayer] = hit[1]
        return entry

    def load_cells(self, engine: Engine, diagnostic_id: int) -> tuple[HoodRef, CellLayer] | None:
        """Check the store; return the released layer and neighbourhood (None: no diagnostic)."""
        return self._load(engine, diagnostic_id, live=False)

    def load_live_cells(
        self, engine: Engine, diagnostic_id: int
    ) -> tuple[HoodRef, CellLayer] | None:
        """Check the store; return the live layer and neighbourhood (None: no diagnostic)."""
        return self._load(engine, diagnostic_id, live=True)

    def _load(
        self, engine: Engine, diagnostic_id: int, *, live: bool
    ) -> tuple[HoodRef, CellLayer] | None:
        with sessionmaker(engine)() as session:
            diag = session.get(Diagnostic, diagnostic_id)
            if diag is None:
                return None
            hood = session.get(Neighbourhood, diag.neighbourhood_id)
            if hood is None:
                return None
            view = self.live(session, diagnostic_id) if live else self.released(session, diag.id)
            entry = (HoodRef(hood.id, bool(hood.published)), view.cells)
        expiry = time.monotonic() + REFRESH_S
        self._put(diagnostic_id, "fast_live" if live else "fast", (expiry, 0), entry)
        return entry


# --------------------------------------------------------------------------------------------------
# the national comparison


@dataclass(frozen=True)
class ReleasedHood:
    """A neighbourhood's latest release, as the national comparison reads it."""

    hood: HoodRef
    name: str
    year: int
    summary: dict[str, Any]


def _latest_releases(session: Session) -> list[ReleasedHood]:
    """Every neighbourhood with a campaign, and its latest release if any: one query.

    The release is the latest one of the latest released campaign, a real one first: a
    synthetic campaign (a demonstration) stands for its neighbourhood only when none of its
    real campaigns is released, and its summary then says ``synthetic``. A neighbourhood
    without a release comes with an empty summary (its name only, no figure) and its latest
    campaign's year.
    """
    ranked = (
        select(
            Release.summary.label("summary"),
            Diagnostic.year.label("year"),
            Diagnostic.neighbourhood_id.label("hood_id"),
            func.row_number()
            .over(
                partition_by=Diagnostic.neighbourhood_id,
                order_by=(Diagnostic.synthetic, Diagnostic.year.desc(), Release.number.desc()),
            )
            .label("rank"),
        )
        .join(Diagnostic, Diagnostic.id == Release.diagnostic_id)
        .subquery()
    )
    latest = (
        select(ranked.c.hood_id, ranked.c.year, ranked.c.summary)
        .where(ranked.c.rank == 1)
        .subquery()
    )
    campaigns = (
        select(
            Diagnostic.neighbourhood_id.label("hood_id"), func.max(Diagnostic.year).label("year")
        )
        .group_by(Diagnostic.neighbourhood_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Neighbourhood.id,
            Neighbourhood.name,
            Neighbourhood.published,
            campaigns.c.year,
            latest.c.year,
            latest.c.summary,
        )
        .join(campaigns, campaigns.c.hood_id == Neighbourhood.id)
        .outerjoin(latest, latest.c.hood_id == Neighbourhood.id)
        .order_by(Neighbourhood.id)
    ).all()
    return [
        ReleasedHood(
            HoodRef(int(h), bool(p)),
            str(name),
            int(year if released_year is None else released_year),
            dict(summary or {}),
        )
        for h, name, p, year, released_year, summary in rows
    ]


class NationalCache:
    """The national comparison over the neighbourhoods' latest releases, cached by content.

    The store is read (one query, :func:`_latest_releases`) at most once per
    :data:`REFRESH_S` in each server process; the comparison of a set of neighbourhoods (one per
    kind of caller: the public, the network, each pilot team) is computed once per content of
    those releases, names and publication flags, so that a release, a rename or a publication by
    any server process is seen at the next look-up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released: tuple[float, str, list[ReleasedHood]] | None = None
        self._tables: dict[tuple[str, tuple[int, ...]], Any] = {}

    def expire(self) -> None:
        """Look at the store again at the next request (after a release in this process)."""
        with self._lock:
            self._released = None

    def fresh(self) -> tuple[str, list[ReleasedHood]] | None:
        """The releases read less than REFRESH_S ago, with their content's digest."""
        with self._lock:
            hit = self._released
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1], hit[2]

    def load(self, engine: Engine) -> tuple[str, list[ReleasedHood]]:
        """Read the releases from the store (one query) and remember them for REFRESH_S."""
        with sessionmaker(engine)() as session:
            released = _latest_releases(session)
        digest = hashlib.sha256(
            json.dumps(
                [(r.hood.id, r.hood.published, r.name, r.year, r.summary) for r in released],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        with self._lock:
            self._released = (time.monotonic() + REFRESH_S, digest, released)
            if len(self._tables) > 1000 or any(k[0] != digest for k in self._tables):
                self._tables = {k: v for k, v in self._tables.items() if k[0] == digest}
        return digest, released

    def table(self, digest: str, released: list[ReleasedHood], visible: tuple[int, ...]) -> Any:
        """Return the cached comparison of the ``visible`` neighbourhoods, or None."""
        with self._lock:
            return self._tables.get((digest, visible))

    def keep(self, digest: str, visible: tuple[int, ...], value: Any) -> None:
        """Remember the comparison of the ``visible`` neighbourhoods for this content."""
        with self._lock:
            self._tables[(digest, visible)] = value
