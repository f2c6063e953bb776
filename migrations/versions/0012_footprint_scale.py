"""one footprint scale: respondents' stored footprints move from NEAR's table to NosGestesClimat's

Until 0011 the store computed each respondent's footprint with NEAR's production table, while
a release's links, margins of manoeuvre and vote themes, and the French averages the pages set
beside the means, used the NosGestesClimat scale (``qet diagnose``'s default). A page showed a
mean footprint of one scale beside a margin of another. From 0012 the store uses one scale,
``qet_geo.store.ingest.FOOTPRINT_SCALE`` ("ngc"), everywhere.

- Each respondent's ``footprint`` and ``total_kgco2e`` are computed again from its stored answer
  levels with the NosGestesClimat scale of the installed package (``qet_geo/data/ngc_scale.csv``).
- A release compares its respondents with the earlier ones on keys that hash the footprints
  (``qet_geo.store.releases.respondent_key``); the keys in every release's ``respondent_ids``
  are rewritten to the new footprints, so that the differencing check (rule 5) still sees the
  same people as the same.
- Releases published before keep their figures (a publication is not rewritten) and are labelled
  ``"scale": "near"`` in their figures and summary: the national comparison and before/after
  compare releases of one scale only, and say so.

Downgrade computes the footprints again with NEAR's table and rewrites the keys back; the
releases' scale labels stay (they are true).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``qet_geo.surveys.schema.USAGES`` at 0012 (frozen here)
_USAGES = (
    "meat_frequency",
    "transportation_mode",
    "digital_intensity",
    "purchasing_strategy",
    "air_travel_frequency",
    "heat_source",
)

_respondents = sa.table(
    "respondents",
    sa.column("id", sa.Integer),
    sa.column("pseudo_id", sa.String),
    sa.column("cell_id", sa.String),
    sa.column("answers", sa.JSON),
    sa.column("footprint", sa.JSON),
    sa.column("total_kgco2e", sa.Float),
)
_releases = sa.table(
    "releases",
    sa.column("id", sa.Integer),
    sa.column("respondent_ids", sa.JSON),
    sa.column("figures", sa.JSON),
    sa.column("summary", sa.JSON),
)


def _key(pseudo_id: str, cell_id: str | None, answers: Any, footprint: Any, total: Any) -> str:
    """``qet_geo.store.releases.respondent_key`` as it is at 0012 (frozen here)."""
    text = json.dumps(
        [pseudo_id, cell_id, answers or {}, footprint or {}, total], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _table(scale: str) -> dict[str, dict[int, float]]:
    from qet_geo.analysis.footprint import usage_scale

    table = usage_scale(scale)  # type: ignore[arg-type]
    return {str(u): {int(lv): float(v) for lv, v in row.items()} for u, row in table.iterrows()}


def _footprint(answers: dict[str, Any], table: dict[str, dict[int, float]]) -> dict[str, Any]:
    """A respondent's footprint as ``qet_geo.analysis.footprint.su_footprints`` gives it."""
    usages = [u for u in _USAGES if u in answers]
    if not usages:
        return {}
    out: dict[str, Any] = {}
    for usage in usages:
        level = answers.get(usage)
        value = table[usage].get(int(level)) if level is not None else None
        out[f"{usage}_kgco2e"] = None if value is None or math.isnan(value) else float(value)
    values = [out[f"{u}_kgco2e"] for u in usages]
    out["total_kgco2e"] = None if any(v is None for v in values) else float(sum(values))
    return out


def _rescale(scale: str) -> None:
    conn = op.get_bind()
    table = _table(scale)
    rows = conn.execute(
        sa.select(
            _respondents.c.id,
            _respondents.c.pseudo_id,
            _respondents.c.cell_id,
            _respondents.c.answers,
            _respondents.c.footprint,
            _respondents.c.total_kgco2e,
        )
    ).all()
    renamed: dict[str, str] = {}
    updates = []
    for rid, pseudo, cell, answers, foot, total in rows:
        answers = answers or {}
        new = _footprint(answers, table)
        new_total = new.get("total_kgco2e")
        renamed[_key(pseudo, cell, answers, foot, total)] = _key(
            pseudo, cell, answers, new, new_total
        )
        updates.append({"rid": rid, "footprint": new, "total_kgco2e": new_total})
    if updates:
        conn.execute(
            _respondents.update()
            .where(_respondents.c.id == sa.bindparam("rid"))
            .values(footprint=sa.bindparam("footprint"), total_kgco2e=sa.bindparam("total_kgco2e")),
            updates,
        )
    releases = conn.execute(
        sa.select(
            _releases.c.id, _releases.c.respondent_ids, _releases.c.figures, _releases.c.summary
        )
    ).all()
    changes = []
    for release_id, ids, figures, summary in releases:
        figures, summary = dict(figures or {}), dict(summary or {})
        # published before 0012: NEAR's table (a release's figures are never computed again)
        figures.setdefault("scale", "near")
        summary.setdefault("scale", "near")
        changes.append(
            {
                "rid": release_id,
                "respondent_ids": [renamed.get(str(k), str(k)) for k in ids or []],
                "figures": figures,
                "summary": summary,
            }
        )
    if changes:
        conn.execute(
            _releases.update()
            .where(_releases.c.id == sa.bindparam("rid"))
            .values(
                respondent_ids=sa.bindparam("respondent_ids"),
                figures=sa.bindparam("figures"),
                summary=sa.bindparam("summary"),
            ),
            changes,
        )


def upgrade() -> None:
    _rescale("ngc")


def downgrade() -> None:
    _rescale("near")
