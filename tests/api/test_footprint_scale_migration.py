"""Migration 0012: one footprint scale (NosGestesClimat) in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.config import Config

from qet_geo.analysis.footprint import su_footprints
from qet_geo.privacy import DisclosureError
from qet_geo.store import models as store
from qet_geo.store.ingest import FOOTPRINT_SCALE, respondents_frame
from qet_geo.store.releases import Figures, _refuse_small_difference, respondent_key
from qet_geo.surveys.schema import USAGES

ROOT = Path(__file__).resolve().parents[2]


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def _levels(n: int) -> pd.DataFrame:
    """n complete SU answers, levels cycling so that every level of every usage appears."""
    return pd.DataFrame(
        {u: [1 + (i + k) % 3 for i in range(n)] for k, u in enumerate(USAGES)},
        index=[f"p{i:02d}" for i in range(n)],
    )


def _stored(foot: pd.DataFrame, rid: str) -> dict[str, float]:
    return {c: float(foot.at[rid, c]) for c in foot.columns}


def test_0012_moves_stored_footprints_to_ngc_and_keeps_release_keys(empty_database):
    """0011 → 0012 → 0011 on a store whose respondents carry NEAR footprints and one release.

    After the upgrade each stored footprint is the NGC one of its levels, the release's keys are
    the keys of the same respondents as the service computes them now (so a set of the same
    people plus 3 is still refused), and the old release is labelled NEAR. The downgrade gives
    the NEAR footprints and the old keys back.
    """
    cfg = _config(empty_database)
    command.upgrade(cfg, "0011")
    levels = _levels(14)
    near = su_footprints(levels, scale="near")
    ngc = su_footprints(levels, scale="ngc")
    assert FOOTPRINT_SCALE == "ngc"
    assert not near["total_kgco2e"].equals(ngc["total_kgco2e"])  # the scales differ
    engine = store.make_engine(empty_database)
    old_keys = []
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0012', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, created_at, "
            "synthetic) SELECT id, 0, 'collecting', 0.0, CURRENT_TIMESTAMP, false "
            "FROM neighbourhoods"
        )
        conn.exec_driver_sql(
            "INSERT INTO uploads (diagnostic_id, sha256, key_scope, kind, n_rows, n_stored, "
            "summary, created_at, synthetic) SELECT id, 'abc', '', 'su', 14, 14, '{}', "
            "CURRENT_TIMESTAMP, false FROM diagnostics"
        )
        for rid in levels.index:
            answers = {u: int(levels.at[rid, u]) for u in USAGES}
            foot = _stored(near, rid)
            conn.exec_driver_sql(
                "INSERT INTO respondents (diagnostic_id, upload_id, pseudo_id, cell_id, answers, "
                "footprint, total_kgco2e) SELECT d.id, u.id, %(p)s, 'c1', %(a)s, %(f)s, %(t)s "
                "FROM diagnostics d, uploads u"
                if empty_database.startswith("postgresql")
                else "INSERT INTO respondents (diagnostic_id, upload_id, pseudo_id, cell_id, "
                "answers, footprint, total_kgco2e) SELECT d.id, u.id, ?, 'c1', ?, ?, ? "
                "FROM diagnostics d, uploads u",
                {
                    "p": rid,
                    "a": json.dumps(answers),
                    "f": json.dumps(foot),
                    "t": foot["total_kgco2e"],
                }
                if empty_database.startswith("postgresql")
                else (rid, json.dumps(answers), json.dumps(foot), foot["total_kgco2e"]),
            )
            old_keys.append(respondent_key(rid, "c1", answers, foot, foot["total_kgco2e"]))
        release_ids = [*old_keys[:11], "mdv:kept-as-is"]
        figures = {"n_respondents": 11, "footprints": {"total": 1.0}}
        conn.exec_driver_sql(
            "INSERT INTO releases (diagnostic_id, number, n_respondents, respondent_ids, figures, "
            "summary, created_at) SELECT id, 1, 11, %(i)s, %(f)s, %(s)s, CURRENT_TIMESTAMP "
            "FROM diagnostics"
            if empty_database.startswith("postgresql")
            else "INSERT INTO releases (diagnostic_id, number, n_respondents, respondent_ids, "
            "figures, summary, created_at) SELECT id, 1, 11, ?, ?, ?, CURRENT_TIMESTAMP "
            "FROM diagnostics",
            {"i": json.dumps(release_ids), "f": json.dumps(figures), "s": json.dumps(figures)}
            if empty_database.startswith("postgresql")
            else (json.dumps(release_ids), json.dumps(figures), json.dumps(figures)),
        )
    engine.dispose()

    command.upgrade(cfg, "0012")
    engine = store.make_engine(empty_database)
    with store.session_scope(engine) as s:
        diag = s.scalars(store.select(store.Diagnostic)).one()
        frame = respondents_frame(s, diag.id, keys=True)
        for rid in levels.index:
            for col in ngc.columns:
                assert frame.at[rid, col] == pytest.approx(ngc.at[rid, col])
        release = s.scalars(store.select(store.Release)).one()
        new_keys = dict(zip(frame.index, frame["key"], strict=True))
        assert set(release.respondent_ids) == {
            *(new_keys[r] for r in levels.index[:11]),
            "mdv:kept-as-is",
        }
        assert not set(release.respondent_ids) & set(old_keys)
        assert release.figures["scale"] == "near" and release.summary["scale"] == "near"
        assert Figures.from_json(release.figures).scale == "near"
        assert release.figures["footprints"] == {"total": 1.0}  # a publication is not rewritten
        # the same 11 people plus 3 are still a small difference: refused
        with pytest.raises(DisclosureError):
            _refuse_small_difference(set(new_keys.values()), [set(release.respondent_ids)])
    engine.dispose()

    command.downgrade(cfg, "0011")
    engine = store.make_engine(empty_database)
    with store.session_scope(engine) as s:
        diag = s.scalars(store.select(store.Diagnostic)).one()
        frame = respondents_frame(s, diag.id)
        for rid in levels.index:
            assert frame.at[rid, "total_kgco2e"] == pytest.approx(near.at[rid, "total_kgco2e"])
        release = s.scalars(store.select(store.Release)).one()
        assert set(release.respondent_ids) == {*old_keys[:11], "mdv:kept-as-is"}
    engine.dispose()
