"""The collection and preparation pages' speed: census quotas cached per the files' identity and
the neighbourhood's IRIS, counts computed by the database, no connection held while a worker runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.web import collect, survey
from qet_geo.store import models as store
from qet_geo.store.ingest import respondents_frame, survey_frame
from qet_geo.surveys.synthetic_others import synthetic_ngc
from tests.web import test_collect_other, test_survey
from tests.web.test_accounts import Site, signed_in_client
from tests.web.test_survey import (
    PARIS_IRIS,
    SHARED,
    _campaign,
    _hoods,
    _rows,
    _text,
    demographic_su,
)

site = test_survey.site  # the fixture: Paris (census quotas), Lorient (its extract), pilots, staff
homes = test_collect_other.homes  # the Lorient extract's buildings, for MdV/EdV answers


@pytest.fixture
def reads(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The census reader's calls, on a copy of the shared census folder, from an empty cache."""
    shared = tmp_path / "shared"
    shutil.copytree(SHARED / "census" / "paris_iris", shared / "census" / "paris_iris")
    for path in (shared / "census" / "paris_iris").iterdir():
        path.chmod(0o644)
    app: Any = site.app
    monkeypatch.setattr(app.state, "shared_data", shared)
    monkeypatch.setattr(survey, "_quota_cache", {})
    calls: list[Path] = []
    reader = survey.read_census

    def counted(table: Path) -> pd.DataFrame:
        calls.append(table)
        return reader(table)

    monkeypatch.setattr(survey, "read_census", counted)
    return calls


def test_census_tables_are_read_once_per_files_and_iris(site: Site, reads: list[Path]) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    _campaign(pilot, hood)
    base = f"/espace/quartiers/{hood}/enquete"
    first = pilot.get(f"{base}/collecte")
    assert first.status_code == 200 and len(reads) == 1
    second = pilot.get(f"{base}/collecte")
    prepared = pilot.get(f"{base}/preparer")  # the same quotas (margin of 5 points)
    english = pilot.get(f"{base}/collecte", headers={"Accept-Language": "en"})
    assert [p.status_code for p in (second, prepared, english)] == [200, 200, 200]
    assert len(reads) == 1  # served from the cache, in either language
    assert _rows(second.text, "Par IRIS") == _rows(first.text, "Par IRIS")
    assert [r[0] for r in _rows(first.text, "Par IRIS")] == PARIS_IRIS
    # another margin: other quotas, computed once
    pilot.get(f"{base}/preparer?marge=3")
    pilot.get(f"{base}/preparer?marge=3")
    assert len(reads) == 2
    # the neighbourhood's IRIS change: its quotas are computed again
    with store.session_scope(site.engine) as s:
        neighbourhood = s.get(store.Neighbourhood, hood)
        assert neighbourhood is not None
        neighbourhood.iris_codes = PARIS_IRIS[:2]
    changed = pilot.get(f"{base}/collecte")
    assert len(reads) == 3
    assert [r[0] for r in _rows(changed.text, "Par IRIS")] == PARIS_IRIS[:2]
    pilot.get(f"{base}/collecte")
    assert len(reads) == 3
    # a census file changes (a new version in place): read again
    table = reads[0]
    later = table.stat().st_mtime_ns + 5_000_000_000
    os.utime(table, ns=(later, later))
    pilot.get(f"{base}/collecte")
    assert len(reads) == 4


def _frame_counts(frame: pd.DataFrame) -> collect.Counts:
    """The counts as the page computed them from every answer's frame (before the SQL)."""

    def tally(column: str) -> dict[str | None, int]:
        if column not in frame.columns:
            return {None: len(frame)} if len(frame) else {}
        counted = frame[column].dropna().astype(str).value_counts()
        out: dict[str | None, int] = {str(k): int(n) for k, n in counted.items()}
        if len(frame) - int(counted.sum()):
            out[None] = len(frame) - int(counted.sum())
        return out

    return collect.Counts(
        len(frame),
        {v: tally(v) for v in collect.VARIABLES},
        tally("iris_code") if "iris_code" in frame.columns else {},
    )


def _nonzero(counts: collect.Counts, *, iris: bool = True) -> tuple[Any, ...]:
    return (
        counts.total,
        {v: {k: n for k, n in c.items() if n} for v, c in counts.variables.items()},
        {k: n for k, n in counts.iris.items() if n} if iris else None,
    )


def _with_blanks(data: bytes) -> bytes:
    """Some rows without age band (the 1st to 5th) or IRIS (the 6th to 8th)."""
    lines = data.decode().rstrip("\n").split("\n")
    header = lines[0].split("\t")
    age, iris = header.index("age_band"), header.index("iris")
    for i in range(1, 9):
        cells = lines[i].split("\t")
        cells[age if i <= 5 else iris] = ""
        lines[i] = "\t".join(cells)
    return ("\n".join(lines) + "\n").encode()


def test_the_sql_counts_are_the_frames_on_real_uploads(site: Site, homes: Any) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    su = _with_blanks(demographic_su(40, seed=4, bad_rows=True))
    sends = [
        test_collect_other._send(pilot, hood, su, csrf, "su", "su.tsv"),
        test_collect_other._send(
            pilot, hood, test_collect_other.mdv_file(homes, 25, people=True), csrf, "mdv"
        ),
        test_collect_other._send(
            pilot,
            hood,
            synthetic_ngc(su, share=0.5, seed=1).to_csv(index=False).encode(),
            csrf,
            "ngc",
            "ngc.csv",
        ),
    ]
    assert [r.status_code for r in sends] == [200, 200, 200]
    with store.session_scope(site.engine) as s:
        diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood).one()
        frame = respondents_frame(s, diag.id)
        mdv = survey_frame(s, diag.id, "mdv")
        ngc = survey_frame(s, diag.id, "ngc")
        sql = collect.respondent_counts(s, diag.id)
        others = collect.survey_counts(s, diag.id)
        linked = collect.linked_ngc(s, diag.id)
    assert len(frame) > 30 and len(mdv) == 25 and len(ngc) > 10
    assert _nonzero(sql) == _nonzero(_frame_counts(frame))
    assert sql.variables["age_band"].get(None) == 5 and sql.iris.get(None) == 3
    assert _nonzero(others["mdv"], iris=False) == _nonzero(_frame_counts(mdv), iris=False)
    assert others["ngc"].total == len(ngc)
    assert linked == int(ngc.index.isin(frame.index).sum()) > 0
    # the page shows them: the pilot exactly, network staff with 1 to 10 as "moins de 11"
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    ages = {r[0]: r[2] for r in _rows(page.text, "Tranche d'âge")}
    assert ages["non renseigné"] == "5"
    iris = {r[0]: r[2] for r in _rows(page.text, "Par IRIS")}
    assert iris["IRIS inconnu"] == "3"
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    seen = staff.get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert {r[0]: r[2] for r in _rows(seen.text, "Tranche d'âge")}["non renseigné"] == (
        "moins de 11"
    )
    assert f"dont {linked} rattachés" in page.text.replace("\n", " ")


def test_no_connection_is_held_while_the_report_is_read(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    app: Any = site.app
    engine = app.state.engine
    seen: list[int] = []
    report = collect._report

    async def watched(request: Any, data: bytes, kind: str) -> Any:
        seen.append(engine.pool.checkedout())
        return await report(request, data, kind)

    monkeypatch.setattr(collect, "_report", watched)
    sent = test_collect_other._send(pilot, hood, demographic_su(12), csrf, "su", "su.tsv")
    assert sent.status_code == 200
    assert seen == [0]


def test_the_counts_are_kept_while_the_uploads_are_the_same(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "_tallies", {})
    calls: list[int] = []
    counts = collect.respondent_counts

    def counted(session: Any, diagnostic_id: int) -> collect.Counts:
        calls.append(diagnostic_id)
        return counts(session, diagnostic_id)

    monkeypatch.setattr(collect, "respondent_counts", counted)
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    page = f"/espace/quartiers/{hood}/enquete/collecte"
    sent = test_collect_other._send(pilot, hood, demographic_su(12), csrf, "su", "su.tsv")
    assert sent.status_code == 200 and "Réponses enregistrées : 12." in _text(sent.text)
    n = len(calls)
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    again = [pilot.get(page), pilot.get(page), staff.get(page)]
    assert len(calls) == n  # the same uploads: the same counts, for every reader
    assert "Réponses enregistrées : 12." in _text(again[0].text)
    assert "Réponses enregistrées : 12." in _text(again[2].text)  # 12: at least 11, shown
    # another file: counted again
    more = demographic_su(20, prefix="SYN-B", seed=2)
    sent = test_collect_other._send(pilot, hood, more, csrf, "su", "autre.tsv")
    assert sent.status_code == 200 and "Réponses enregistrées : 32." in _text(sent.text)
    assert len(calls) == n + 1
    # the first one deleted: counted again, 20 left
    with store.session_scope(site.engine) as s:
        first = s.query(store.Upload).order_by(store.Upload.id).first()
        assert first is not None
        first_id = first.id
    gone = pilot.post(f"{page}/envois/{first_id}/supprimer", data={"csrf": csrf})
    assert gone.status_code == 303
    assert "Réponses enregistrées : 20." in _text(pilot.get(page).text)
    assert len(calls) == n + 2
