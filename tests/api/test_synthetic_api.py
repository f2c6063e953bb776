"""The synthetic label in the service: uploads, diagnostics, figures, releases, comparisons.

A world per backend (``build_world``: A and B real and released), to which a synthetic campaign
of A (year 1) and a neighbourhood D with only a synthetic campaign are added: its uploads must
be recognised, never mixed with real ones, and every answer about them must say ``synthetic``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from api.models import (
    DiagnosticOut,
    FeatureCollection,
    FootprintsOut,
    NationalRow,
    NeighbourhoodOut,
    ProfilesOut,
    ReleaseOut,
    UploadOut,
    VoteOut,
    VoteResults,
)
from api.routers.uploads import UploadItem
from qet_geo.cli.main import app as cli
from tests.api.conftest import BACKENDS, World, _database_url, build_world
from tests.api.factories import su_csv
from tests.conftest import shared

FR = {"Accept-Language": "fr"}


@pytest.fixture(scope="module")
def synthesized_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """80 answers written by ``qet survey synthesize`` on Lorient (SYN- ids, synthetic column)."""
    out = tmp_path_factory.mktemp("synth") / "syn.csv"
    args = ["survey", "synthesize", str(shared("osm", "lorient_centre.osm.pbf"))]
    res = CliRunner().invoke(cli, [*args, "--out", str(out), "--n", "80", "--seed", "5"])
    assert res.exit_code == 0, res.output
    return out.read_bytes()


@pytest.fixture(scope="module", params=BACKENDS)
def syn(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    synthesized_csv: bytes,
) -> Iterator[tuple[World, dict[str, Any]]]:
    """The world, with A's year 1 synthetic (the command's file) and D synthetic only."""
    url = _database_url(request, tmp_path_factory.mktemp(f"syn-{request.param}"))
    w = build_world(url)
    c, admin = w.client, w.headers("admin")
    a1 = c.post(f"/neighbourhoods/{w.hoods['A']}/diagnostics", json={"year": 1}, headers=admin)
    assert a1.status_code == 201, a1.text
    up = c.post(f"/diagnostics/{a1.json()['id']}/uploads", content=synthesized_csv, headers=admin)
    assert up.status_code == 201, up.text
    d = c.post("/neighbourhoods", json={"name": "Démo D", "published": True}, headers=admin)
    d0 = c.post(f"/neighbourhoods/{d.json()['id']}/diagnostics", json={"year": 0}, headers=admin)
    body = su_csv(45, seed=21, prefix="SYN-D")
    assert c.post(f"/diagnostics/{d0.json()['id']}/uploads", content=body, headers=admin).is_success
    ids = {"A1": a1.json()["id"], "D": d.json()["id"], "D0": d0.json()["id"], "upload": up.json()}
    yield w, ids
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_a_synthesized_file_is_stored_labelled(syn) -> None:
    w, ids = syn
    c, admin = w.client, w.headers("admin")
    upload = UploadOut.model_validate(ids["upload"])
    assert upload.synthetic is True and upload.n_stored == 80
    listed = c.get(f"/diagnostics/{ids['A1']}/uploads", headers=admin).json()
    assert [UploadItem.model_validate(u).synthetic for u in listed] == [True]
    diag = DiagnosticOut.model_validate(c.get(f"/diagnostics/{ids['A1']}", headers=admin).json())
    assert diag.synthetic is True
    real = c.get(f"/diagnostics/{w.diags['A']}", headers=admin).json()
    assert DiagnosticOut.model_validate(real).synthetic is False
    hood = NeighbourhoodOut.model_validate(
        c.get(f"/neighbourhoods/{w.hoods['A']}", headers=admin).json()
    )
    assert hood.synthetic_years == [1]
    years = c.get(f"/neighbourhoods/{w.hoods['A']}/diagnostics", headers=admin).json()
    assert [(y["year"], y["synthetic"]) for y in years] == [(0, False), (1, True)]


def test_synthetic_and_real_answers_never_mix_in_a_diagnostic(syn) -> None:
    w, ids = syn
    c, admin = w.client, w.headers("admin")
    # a real file to the synthetic campaign, a synthetic file to a real one: 409, what to do
    r = c.post(f"/diagnostics/{ids['A1']}/uploads", content=su_csv(30, seed=3), headers=admin | FR)
    assert r.status_code == 409, r.text
    assert "ne mélange jamais" in r.json()["detail"] and "autre diagnostic" in r.json()["detail"]
    r = c.post(
        f"/diagnostics/{w.diags['C']}/uploads",
        content=su_csv(30, seed=4, prefix="SYN-"),
        headers=admin,
    )
    assert (
        r.status_code == 409
        and "never mixes"
        in c.post(
            f"/diagnostics/{w.diags['C']}/uploads",
            content=su_csv(30, seed=4, prefix="SYN-"),
            headers=admin | {"Accept-Language": "en"},
        ).json()["detail"]
    )
    # a file mixing both: 422, without echoing an id
    mixed = su_csv(20, seed=5, prefix="SYN-") + su_csv(20, seed=6, prefix="R").split(b"\n", 1)[1]
    r = c.post(f"/diagnostics/{w.diags['C']}/uploads", content=mixed, headers=admin | FR)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "mélange 20 réponses synthétiques" in detail and "20 réponses réelles" in detail
    assert "SYN-00000" not in detail and "R00000" not in detail


def test_deleting_the_last_upload_resets_the_label(syn) -> None:
    w, _ = syn
    c, admin = w.client, w.headers("admin")
    hood = c.post("/neighbourhoods", json={"name": "Essai"}, headers=admin).json()
    diag = c.post(f"/neighbourhoods/{hood['id']}/diagnostics", json={"year": 0}, headers=admin)
    url = f"/diagnostics/{diag.json()['id']}"
    first = c.post(f"{url}/uploads", content=su_csv(15, seed=7, prefix="SYN-"), headers=admin)
    second = c.post(f"{url}/uploads", content=su_csv(15, seed=8, prefix="SYN-X"), headers=admin)
    assert first.json()["synthetic"] and second.json()["synthetic"]
    assert c.delete(f"{url}/uploads/{first.json()['upload_id']}", headers=admin).status_code == 204
    assert c.get(url, headers=admin).json()["synthetic"] is True  # one synthetic upload left
    assert c.delete(f"{url}/uploads/{second.json()['upload_id']}", headers=admin).status_code == 204
    assert c.get(url, headers=admin).json()["synthetic"] is False
    real = c.post(f"{url}/uploads", content=su_csv(15, seed=9), headers=admin)
    assert real.status_code == 201 and real.json()["synthetic"] is False
    # replacing the only real upload by a synthetic file relabels the campaign
    swap = c.put(
        f"{url}/uploads/{real.json()['upload_id']}",
        content=su_csv(15, seed=10, prefix="SYN-"),
        headers=admin,
    )
    assert swap.status_code == 200 and swap.json()["synthetic"] is True
    assert c.get(url, headers=admin).json()["synthetic"] is True


def test_live_figures_and_cells_carry_the_label(syn) -> None:
    w, ids = syn
    c, pilot = w.client, w.headers("pilotA")
    for path, model in (("footprints", FootprintsOut), ("profiles", ProfilesOut)):
        live = model.model_validate(c.get(f"/diagnostics/{ids['A1']}/{path}", headers=pilot).json())
        assert live.release is None and live.synthetic is True
        real = c.get(f"/diagnostics/{w.diags['A']}/{path}", headers=pilot).json()
        assert model.model_validate(real).synthetic is False
    cells = c.get(f"/diagnostics/{ids['A1']}/indicators", headers=pilot).json()
    FeatureCollection.model_validate(cells)
    assert cells["synthetic"] is True and cells["features"]
    assert all(f["properties"]["synthetic"] is True for f in cells["features"])
    real = c.get(f"/diagnostics/{w.diags['A']}/indicators", headers=pilot).json()
    assert real["synthetic"] is False
    assert all(f["properties"]["synthetic"] is False for f in real["features"])
    # the analysis' state says so too
    assert c.get(f"/diagnostics/{ids['A1']}/job", headers=pilot).json()["synthetic"] is True
    assert c.get(f"/diagnostics/{w.diags['A']}/job", headers=pilot).json()["synthetic"] is False


def test_a_release_of_synthetic_answers_stays_labelled(syn) -> None:
    w, ids = syn
    c = w.client
    made = c.post(f"/diagnostics/{ids['A1']}/releases", headers=w.headers("pilotA"))
    assert made.status_code == 201, made.text
    assert ReleaseOut.model_validate(made.json()).synthetic is True
    listed = c.get(f"/diagnostics/{ids['A1']}/releases", headers=w.headers("admin")).json()
    assert [r["synthetic"] for r in listed] == [True]
    # what the network staff reads: the release
    staff = w.headers("staff")
    feet = FootprintsOut.model_validate(
        c.get(f"/diagnostics/{ids['A1']}/footprints", headers=staff).json()
    )
    assert feet.release == 1 and feet.synthetic is True and feet.mean_kgco2e
    cells = c.get(f"/diagnostics/{ids['A1']}/indicators", headers=staff).json()
    assert cells["synthetic"] is True
    assert all(f["properties"]["synthetic"] is True for f in cells["features"])
    released = c.get(f"/diagnostics/{w.diags['A']}/footprints", headers=staff).json()
    assert released["release"] == 1 and released["synthetic"] is False


def test_before_after_refuses_a_synthetic_campaign_against_a_real_one(syn) -> None:
    w, ids = syn
    c = w.client
    if not c.get(f"/diagnostics/{ids['A1']}/releases", headers=w.headers("admin")).json():
        assert c.post(f"/diagnostics/{ids['A1']}/releases", headers=w.headers("admin")).is_success
    url = f"/neighbourhoods/{w.hoods['A']}/before-after?before=0&after=1"
    for who in ("pilotA", "staff"):  # the live answers, then the releases
        r = c.get(url, headers=w.headers(who) | FR)
        assert r.status_code == 422, (who, r.text)
        detail = r.json()["detail"]
        assert "campagne d'avant est réelle" in detail and "celle d'après synthétique" in detail
        assert "deltas" not in r.json()


def test_the_national_comparison_leaves_synthetic_neighbourhoods_out(syn) -> None:
    w, ids = syn
    c, admin = w.client, w.headers("admin")
    assert c.post(f"/diagnostics/{ids['D0']}/releases", headers=admin).status_code == 201
    if not c.get(f"/diagnostics/{ids['A1']}/releases", headers=admin).json():
        assert c.post(f"/diagnostics/{ids['A1']}/releases", headers=admin).is_success
    rows = {
        r["neighbourhood_id"]: NationalRow.model_validate(r)
        for r in c.get("/national", headers=admin).json()
    }
    # A's real year 0 stands for A, not its synthetic year 1
    a, b, d = rows[w.hoods["A"]], rows[w.hoods["B"]], rows[ids["D"]]
    assert (a.year, a.synthetic, a.compared) == (0, False, True)
    assert b.compared and not b.synthetic
    assert sorted(r.rank_total_kgco2e for r in (a, b)) == [1, 2]
    # D, synthetic only: named, no figure, no rank
    assert (d.synthetic, d.compared, d.rank_total_kgco2e) == (True, False, None)
    assert d.name == "Démo D" and not d.mean_kgco2e and not d.profile_mix


def test_the_national_profile_fit_leaves_synthetic_campaigns_out(syn) -> None:
    w, ids = syn
    fit = w.client.post("/national/profiles", headers=w.headers("admin"))
    assert fit.status_code == 200, fit.text
    body = fit.json()
    # D (and the test neighbourhoods whose only campaign is synthetic) left out, named; A is
    # fitted on its real year 0, its synthetic year 1 aside
    assert body["synthetic"] is False and ids["D"] in body["synthetic_left_out"]
    assert w.hoods["A"] not in body["synthetic_left_out"]
    hoods = w.client.get("/neighbourhoods", headers=w.headers("admin")).json()
    only_synthetic = {h["id"] for h in hoods if h["synthetic_years"] == [0]}
    assert set(body["synthetic_left_out"]) == only_synthetic


def test_a_vote_on_a_synthetic_diagnostic_says_so(syn) -> None:
    w, ids = syn
    c, pilot = w.client, w.headers("pilotA")
    body = {"question": "Priorité ?", "themes": ["Mobilité", "Alimentation"], "n_participants": 3}
    opened = c.post(f"/diagnostics/{ids['A1']}/votes", json=body, headers=pilot)
    assert opened.status_code == 201, opened.text
    vote = VoteOut.model_validate(opened.json())
    assert vote.synthetic is True
    real = c.post(f"/diagnostics/{w.diags['A']}/votes", json=body, headers=pilot).json()
    assert real["synthetic"] is False
    assert c.get(f"/votes/{vote.id}", headers=pilot).json()["synthetic"] is True
    assert c.post(f"/votes/{vote.id}/close", headers=pilot).json()["synthetic"] is True
    results = VoteResults.model_validate(c.get(f"/votes/{vote.id}/results", headers=pilot).json())
    assert results.synthetic is True and results.published is False
