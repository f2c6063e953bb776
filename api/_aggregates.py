"""Protected aggregates of a diagnostic, cached until its next upload or national refit.

Everything here goes through :func:`qet_geo.privacy.safe_aggregate` and
:func:`qet_geo.privacy.require_protected`, the privacy chokepoint: no respondent-level value
leaves this module.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from qet_geo.errors import EmptyDataError
from qet_geo.privacy import require_protected, safe_aggregate
from qet_geo.store import Diagnostic, Neighbourhood, Profile, Respondent, respondents_frame
from qet_geo.surveys.schema import USAGES

#: Seconds during which a diagnostic's cached layer is served without looking at the store.
REFRESH_S = 1.0


@dataclass(frozen=True)
class CellLayer:
    """Published cells of a diagnostic: GeoJSON features (WGS84), as JSON too, and bounds."""

    features: list[dict[str, Any]]
    bounds: np.ndarray  # (n, 4): left, bottom, right, top
    features_json: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HoodRef:
    """The neighbourhood of a diagnostic, as authorisation needs it."""

    id: int
    published: bool


@dataclass(frozen=True)
class Totals:
    """Whole-diagnostic figures: respondents behind them and the values (empty if suppressed)."""

    n_respondents: int
    values: dict[str, float]


def json_value(value: Any) -> Any:
    """A value of a table as JSON wants it: NaN as null, floats rounded to 3 decimals."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 3)
    return value


def _cells(frame: Any) -> CellLayer:
    located = frame[frame["cell_id"].notna()]
    if located.empty:
        return CellLayer([], np.zeros((0, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(located, zone="cell_id", values=["total_kgco2e"], profile="profile")
    require_protected(table, what="the indicators layer")
    if table.empty:
        return CellLayer([], np.zeros((0, 4)))
    wgs: Any = cast(Any, table).to_crs("EPSG:4326")
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
    return CellLayer(
        features,
        np.asarray(wgs.geometry.bounds.to_numpy(), dtype=float),
        [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features],
    )


def _map_html(frame: Any) -> str:
    from maps.profiles import make_profiles_map

    located = frame[frame["cell_id"].notna()]
    if located.empty:
        raise EmptyDataError(
            "no respondent of this diagnostic is located: nothing to map.",
            message_fr="aucun répondant de ce diagnostic n'est localisé : rien à cartographier.",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make_profiles_map(located, profile="profile", footprint="total_kgco2e")
    return str(m.get_root().render())


def _totals(frame: Any, *, profile: bool) -> Totals:
    if frame.empty:
        return Totals(0, {})
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
        return Totals(0, {})
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
    return Totals(int(row["n_respondents"]), {k: round(v, 4) for k, v in out.items()})


def _store_version(session: Session, diagnostic_id: int) -> tuple[Any, ...]:
    """What the aggregates of a diagnostic depend on, read cheaply from the store.

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


class AggregateCache:
    """Per-diagnostic cache of protected aggregates, keyed on what they are computed from.

    An entry is used while the diagnostic's answers and the national reference profiles are
    unchanged (:func:`_store_version`): each server process notices another's upload or
    national refit at its next read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[int, str], tuple[Any, Any]] = {}

    def clear(self, diagnostic_id: int) -> None:
        """Forget what was computed for a diagnostic."""
        with self._lock:
            for key in [k for k in self._data if k[0] == diagnostic_id]:
                del self._data[key]

    def _get(self, session: Session, diagnostic_id: int, kind: str) -> Any:
        version = _store_version(session, diagnostic_id)
        with self._lock:
            hit = self._data.get((diagnostic_id, kind))
        if hit is not None and hit[0] == version:
            return hit[1]
        frame = respondents_frame(session, diagnostic_id)
        if kind == "cells":
            value: Any = _cells(frame)
        elif kind == "map":
            value = _map_html(frame)
        else:
            value = _totals(frame, profile=kind == "profiles")
        with self._lock:
            self._data[(diagnostic_id, kind)] = (version, value)
        return value

    def fresh_cells(self, diagnostic_id: int) -> tuple[HoodRef, CellLayer] | None:
        """Return the layer and neighbourhood of a diagnostic checked less than REFRESH_S ago."""
        with self._lock:
            hit = self._data.get((diagnostic_id, "fast"))
        if hit is None or hit[0][0] < time.monotonic():
            return None
        entry: tuple[HoodRef, CellLayer] = hit[1]
        return entry

    def load_cells(self, engine: Engine, diagnostic_id: int) -> tuple[HoodRef, CellLayer] | None:
        """Check the store and return the layer and neighbourhood (None: no such diagnostic)."""
        with sessionmaker(engine)() as session:
            diag = session.get(Diagnostic, diagnostic_id)
            if diag is None:
                return None
            hood = session.get(Neighbourhood, diag.neighbourhood_id)
            if hood is None:
                return None
            entry = (HoodRef(hood.id, bool(hood.published)), self.cells(session, diagnostic_id))
        expiry = time.monotonic() + REFRESH_S
        with self._lock:
            self._data[(diagnostic_id, "fast")] = ((expiry, 0), entry)
        return entry

    def cells(self, session: Session, diagnostic_id: int) -> CellLayer:
        """Return the published 200 m cells (pooled where small) of a diagnostic."""
        layer: CellLayer = self._get(session, diagnostic_id, "cells")
        return layer

    def map_html(self, session: Session, diagnostic_id: int) -> str:
        """Return the offline HTML map of profiles and footprints per published cell."""
        html: str = self._get(session, diagnostic_id, "map")
        return html

    def profiles(self, session: Session, diagnostic_id: int) -> Totals:
        """Return the profile shares of a diagnostic (empty when they cannot be published)."""
        totals: Totals = self._get(session, diagnostic_id, "profiles")
        return totals

    def footprints(self, session: Session, diagnostic_id: int) -> Totals:
        """Return the mean footprint per usage of a diagnostic (empty when unpublishable)."""
        totals: Totals = self._get(session, diagnostic_id, "footprints")
        return totals
