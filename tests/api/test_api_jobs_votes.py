"""Diagnostic job with progress, map, votes."""

from __future__ import annotations

import itertools

import pytest

from api.models import JobOut, VoteOut, VoteResults


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
            "n_participants": 13,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    vote = VoteOut.model_validate(r.json())
    assert vote.participant_codes and len(set(vote.participant_codes)) == 13
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
    # while open, the pilot team follows the turnout, never the counts (each new ballot would show)
    live = VoteResults.model_validate(c.get(f"/votes/{vote.id}/results", headers=h).json())
    assert live.n_ballots == 2 and not live.published and live.counts == {}
    assert "ouvert" in (live.message or "")
    for code in vote.participant_codes[3:12]:
        assert c.post(url, json={"code": code, "choices": ["alimentation"]}).status_code == 201
    assert c.get(f"/votes/{vote.id}").json()["participant_codes"] is None
    assert c.post(f"/votes/{vote.id}/close", headers=world.headers("staff")).status_code == 403
    assert c.post(f"/votes/{vote.id}/close", headers=h).status_code == 200
    late = c.post(url, json={"code": vote.participant_codes[2], "choices": ["mobilité"]})
    assert late.status_code == 409
    res = VoteResults.model_validate(c.get(f"/votes/{vote.id}/results").json())
    assert res.published and res.message is None
    assert res.n_ballots == 11 and res.counts == {"mobilité": 2, "alimentation": 9, "chauffage": 1}


@pytest.mark.parametrize("n_ballots", [1, 10])
def test_vote_results_of_fewer_than_11_ballots_are_withheld(world, n_ballots):
    """Privacy rule 2 on votes: no count from 1 to 10 ballots, for any role."""
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
        assert r.status_code == 200 and res.n_ballots == n_ballots
        assert not res.published and res.counts == {}
        assert '"a":' not in r.text and "secret statistique" in (res.message or "")
    en = c.get(f"/votes/{vote.id}/results", headers={"Accept-Language": "en"}).json()
    assert "statistical secrecy" in en["message"]


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
