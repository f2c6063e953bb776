"""Diagnostic job with progress, map, votes."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from api.models import DiagnosticOut, JobOut, VoteOut, VoteResults
from qet_geo.store import jobs as service
from qet_geo.store import models as store
from qet_geo.store.models import ConflictError
from tests.api.conftest import build_world


def test_diagnostic_job_runs_and_reports_progress(world):
    c = world.client
    h = world.headers("pilotA")
    r = c.post(f"/diagnostics/{world.diags['A']}/run", headers=h)
    assert r.status_code == 202
    assert JobOut.model_validate(r.json()).status == "queued"
    # TestClient runs background tasks before returning
    job = JobOut.model_validate(c.get(f"/diagnostics/{world.diags['A']}/job", headers=h).json())
    assert job.status == "done" and job.progress == 1.0
    small = c.post(f"/diagnostics/{world.diags['C']}/run", headers=world.headers("admin"))
    assert small.status_code == 202
    job = c.get(f"/diagnostics/{world.diags['C']}/job", headers=world.headers("admin")).json()
    assert job["status"] == "failed"  # 8 respondents: no profile can be published
    assert job["code"] == "DisclosureError" and "11" in job["message"]


@pytest.fixture
def fresh(empty_database, tmp_path):
    w = build_world(empty_database, osm_dir=tmp_path / "osm")
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _forge(w, key, *, status, age_s, step="access"):
    """Leave the job of diagnostic ``key`` as a killed process would: last news ``age_s`` ago."""
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        diag = s.get(store.Diagnostic, w.diags[key])
        diag.status, diag.progress, diag.job_step = status, 0.5, step
        diag.job_id = "killed-process-run"
        diag.job_updated_at = (
            None if age_s is None else datetime.now(UTC) - timedelta(seconds=age_s)
        )


def _job(w, key, who="pilotA", **headers) -> JobOut:
    r = w.client.get(f"/diagnostics/{w.diags[key]}/job", headers={**w.headers(who), **headers})
    assert r.status_code == 200, r.text
    return JobOut.model_validate(r.json())


@pytest.mark.parametrize("status", ["running", "queued"])
def test_a_killed_job_is_abandoned_after_the_timeout(fresh, status):
    w = fresh
    c = w.client
    h = w.headers("pilotA")
    run = f"/diagnostics/{w.diags['A']}/run"
    # news 10 minutes ago (timeout 30 min): still running, a new run is refused
    _forge(w, "A", status=status, age_s=600)
    r = c.post(run, headers=h)
    assert r.status_code == 409 and "déjà en cours" in r.json()["detail"]
    assert "30 min" in r.json()["detail"]
    job = _job(w, "A")
    assert (job.status, job.code, job.message) == (status, None, None)
    # no news for 31 minutes: the process is gone
    _forge(w, "A", status=status, age_s=31 * 60)
    job = _job(w, "A")
    assert job.status == "abandoned" and job.code == "AbandonedJob"
    assert job.step == "access" and job.progress == 0.5  # where it stopped
    assert "plus de 30 min" in (job.message or "") and "relancez-la" in (job.message or "")
    assert "dernière étape : accès à pied aux équipements" in (job.message or "")  # in words
    en = _job(w, "A", **{"Accept-Language": "en"})
    assert en.status == "abandoned" and "no news for more than 30 min" in (en.message or "")
    assert "run it again" in (en.message or "") and "last step: walking access to amenities" in (
        en.message or ""
    )
    described = DiagnosticOut.model_validate(
        c.get(f"/diagnostics/{w.diags['A']}", headers=h).json()
    )
    assert described.status == "abandoned"
    listed = c.get(f"/neighbourhoods/{w.hoods['A']}/diagnostics", headers=h).json()
    assert [d["status"] for d in listed] == ["abandoned"]
    # a new run is accepted and replaces it (TestClient runs it before answering)
    r = c.post(run, headers=h)
    assert r.status_code == 202, r.text
    job = _job(w, "A")
    assert (job.status, job.progress) == ("done", 1.0)
    assert c.post(run, headers=h).status_code == 202  # done: runs again at will


def test_the_job_timeout_is_a_setting(fresh):
    w = fresh
    settings = w.client.app.state.settings  # type: ignore[attr-defined]
    assert settings.job_timeout_s == service.JOB_TIMEOUT_S == 1800
    _forge(w, "B", status="running", age_s=120, step=None)
    assert _job(w, "B", "pilotB").status == "running"
    settings.job_timeout_s = 60.0
    try:
        job = _job(w, "B", "pilotB")
        assert job.status == "abandoned" and "jamais démarré" in (job.message or "")
        assert "60 s" in (job.message or "")
        r = w.client.post(f"/diagnostics/{w.diags['B']}/run", headers=w.headers("pilotB"))
        assert r.status_code == 202
    finally:
        settings.job_timeout_s = service.JOB_TIMEOUT_S
    assert _job(w, "B", "pilotB").status == "done"
    # a job left running with no time at all (from before migration 0004): abandoned at once
    _forge(w, "B", status="running", age_s=None)
    assert _job(w, "B", "pilotB").status == "abandoned"


def test_each_step_records_its_time_and_a_stale_run_writes_nothing(fresh, monkeypatch):
    """The run taken over as abandoned may still be alive: it must not write over the new one."""
    w = fresh
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    diag = w.diags["A"]
    start = datetime.now(UTC)
    old = service.claim_analysis(engine, diag)
    with pytest.raises(ConflictError):
        service.claim_analysis(engine, diag)  # one run at a time
    # the first run's process stops giving news; after the timeout a new run takes over
    _forge(w, "A", status="running", age_s=3600)
    with store.session_scope(engine) as s:
        s.get(store.Diagnostic, diag).job_id = old
    new = service.claim_analysis(engine, diag)
    assert new != old
    assert service.run_analysis(engine, diag, job_id=old) is None  # the stale run stops at once
    with store.session_scope(engine) as s:
        row = s.get(store.Diagnostic, diag)
        assert (row.status, row.job_id, row.job_step) == ("queued", new, None)
        assert not s.scalars(select(store.Profile).where(store.Profile.diagnostic_id == diag)).all()
    result = service.run_analysis(engine, diag, job_id=new)
    assert result is not None and result.n_profiles > 0
    with store.session_scope(engine) as s:
        row = s.get(store.Diagnostic, diag)
        assert row.status == "done" and row.job_updated_at is not None
        updated = row.job_updated_at
        updated = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
        assert start <= updated <= datetime.now(UTC)
    # a stale run that reaches its last transaction after the take-over stores nothing either
    third = service.claim_analysis(engine, diag)
    original = service._set_state

    def taken_over_at_the_last_step(engine_, diagnostic_id, **values):
        original(engine_, diagnostic_id, **values)
        if values.get("job_step") == "store":
            with store.session_scope(engine) as s:  # another server takes the job over now
                s.get(store.Diagnostic, diagnostic_id).job_id = "someone-else"

    with store.session_scope(engine) as s:
        s.execute(delete(store.Profile).where(store.Profile.diagnostic_id == diag))
    monkeypatch.setattr(service, "_set_state", taken_over_at_the_last_step)
    assert service.run_analysis(engine, diag, job_id=third) is None
    monkeypatch.undo()
    with store.session_scope(engine) as s:
        assert s.get(store.Diagnostic, diag).status == "running"  # the new owner's to finish
        assert not s.scalars(select(store.Profile).where(store.Profile.diagnostic_id == diag)).all()


def test_map_is_offline_html_without_small_cells(world):
    r = world.client.get(f"/diagnostics/{world.diags['A']}/map", headers=world.headers("staff"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower() and "leaflet" in r.text.lower()
    assert "https://unpkg" not in r.text and "cdn.jsdelivr" not in r.text
    for n in range(1, 11):
        assert f'"n_respondents": {n},' not in r.text


def test_map_of_too_small_diagnostic_publishes_nothing(world):
    r = world.client.get(f"/diagnostics/{world.diags['C']}/map", headers=world.headers("admin"))
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        assert "n_respondents" not in r.text


def test_vote_lifecycle(world):
    c = world.client
    h = world.headers("pilotB")
    r = c.post(
        f"/diagnostics/{world.diags['B']}/votes",
        json={
            "question": "Priorités ?",
            "themes": ["mobilité", "alimentation", "chauffage"],
            "n_participants": 15,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    vote = VoteOut.model_validate(r.json())
    assert vote.participant_codes and len(set(vote.participant_codes)) == 15
    code = vote.participant_codes[0]
    url = f"/votes/{vote.id}/ballots"
    assert c.post(url, json={"code": code, "choices": ["mobilité"]}).status_code == 201
    again = c.post(url, json={"code": code, "choices": ["chauffage"]})
    assert again.status_code == 409 and "déjà voté" in again.json()["detail"]
    assert c.post(url, json={"code": "NOPE", "choices": ["mobilité"]}).status_code == 403
    bad = c.post(url, json={"code": vote.participant_codes[1], "choices": ["piscine"]})
    assert bad.status_code == 422
    extra = c.post(
        url, json={"code": vote.participant_codes[1], "choices": ["mobilité"], "who": "x"}
    )
    assert extra.status_code == 422
    c.post(url, json={"code": vote.participant_codes[1], "choices": ["mobilité", "chauffage"]})
    # the public sees results once closed only; the code list is never shown again
    assert c.get(f"/votes/{vote.id}/results").status_code == 403
    # while open, the pilot team follows the turnout from 11 ballots on, never the counts (each
    # new ballot would show); 2 ballots: no number at all
    r = c.get(f"/votes/{vote.id}/results", headers=h)
    live = VoteResults.model_validate(r.json())
    assert live.n_ballots is None and not live.published and live.counts == {}
    assert '"n_ballots":null' in r.text and "2" not in (live.message or "")
    assert "ouvert" in (live.message or "")
    for code in vote.participant_codes[3:14]:
        body = {"code": code, "choices": ["alimentation", "mobilité"]}
        assert c.post(url, json=body).status_code == 201
    live = VoteResults.model_validate(c.get(f"/votes/{vote.id}/results", headers=h).json())
    assert live.n_ballots == 13 and not live.published and live.counts == {}
    assert c.get(f"/votes/{vote.id}").json()["participant_codes"] is None
    assert c.post(f"/votes/{vote.id}/close", headers=world.headers("staff")).status_code == 403
    assert c.post(f"/votes/{vote.id}/close", headers=h).status_code == 200
    late = c.post(url, json={"code": vote.participant_codes[2], "choices": ["mobilité"]})
    assert late.status_code == 409
    r = c.get(f"/votes/{vote.id}/results")
    res = VoteResults.model_validate(r.json())
    assert res.published and res.n_ballots == 13
    # chauffage's single ballot is a count from 1 to 10: no number (rule 6 follows rule 2), and
    # the smallest other count goes with it, or the total would give it back
    assert res.counts == {"mobilité": 13, "alimentation": None, "chauffage": None}
    assert '"chauffage":null' in r.text and "secret statistique" in (res.message or "")
    en = c.get(f"/votes/{vote.id}/results", headers={"Accept-Language": "en"}).json()
    assert "fewer than 11 ballots" in en["message"]


@pytest.mark.parametrize("n_ballots", [1, 10])
def test_vote_results_of_fewer_than_11_ballots_are_withheld(world, n_ballots):
    """Privacy rule 2 on votes: no count from 1 to 10 ballots, for any role, in no field or
    message."""
    c = world.client
    h = world.headers("pilotB")
    vote = VoteOut.model_validate(
        c.post(
            f"/diagnostics/{world.diags['B']}/votes",
            json={"question": "Q", "themes": ["a", "b"], "n_participants": 12},
            headers=h,
        ).json()
    )
    assert vote.participant_codes
    for code in vote.participant_codes[:n_ballots]:
        assert (
            c.post(f"/votes/{vote.id}/ballots", json={"code": code, "choices": ["a"]}).status_code
            == 201
        )
    assert c.post(f"/votes/{vote.id}/close", headers=h).status_code == 200
    for who in ("public", "pilotB", "admin", "staff"):
        r = c.get(f"/votes/{vote.id}/results", headers=world.headers(who))
        res = VoteResults.model_validate(r.json())
        assert r.status_code == 200 and res.n_ballots is None
        assert not res.published and res.counts == {}
        assert '"a":' not in r.text and "secret statistique" in (res.message or "")
        assert not re.search(rf"\b{n_ballots}\b", res.message or "")
    en = c.get(f"/votes/{vote.id}/results", headers={"Accept-Language": "en"}).json()
    assert "statistical secrecy" in en["message"] and en["n_ballots"] is None
    assert not re.search(rf"\b{n_ballots}\b", en["message"])


_ROLES = ["public", "admin", "staff", "pilotA", "pilotB"]


@pytest.mark.parametrize(("role", "hood"), list(itertools.product(_ROLES, ["A", "B"])))
def test_vote_and_job_authorisation(world, role, hood):
    c = world.client
    body = {"question": "Q", "themes": ["a", "b"], "n_participants": 1}
    r = c.post(f"/diagnostics/{world.diags[hood]}/votes", json=body, headers=world.headers(role))
    readable = (
        role in ("admin", "staff") or role == f"pilot{hood}" or (role == "public" and hood == "B")
    )
    writable = role == "admin" or role == f"pilot{hood}"
    expected = 201 if writable else (403 if readable else 404)
    assert r.status_code == expected
    r = c.get(f"/diagnostics/{world.diags[hood]}/job", headers=world.headers(role))
    assert r.status_code == (200 if readable else 404)
    # a vote of A is invisible to B's pilot
    admin_vote = c.post(
        f"/diagnostics/{world.diags[hood]}/votes", json=body, headers=world.headers("admin")
    )
    vid = admin_vote.json()["id"]
    r = c.get(f"/votes/{vid}", headers=world.headers(role))
    assert r.status_code == (200 if readable else 404)
    r = c.post(f"/votes/{vid}/close", headers=world.headers(role))
    assert r.status_code == (200 if writable else (403 if readable else 404))
