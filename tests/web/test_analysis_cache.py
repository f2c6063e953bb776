"""Step 5: the results page computes the live preview once per state of the data.

A neighbourhood over the shared Lorient extract and its territory, with labelled-synthetic SU
answers uploaded through the API and analysed from the page. The preview's figures
(:func:`qet_geo.store.releases.keep_preview`) are computed on the first view, kept in this
process and in a file of the OSM folder (what another server process reads), and reused until
what they come from changes: an upload, a deletion, an analysis that stores other results, a
release. A release's page reads its stored figures only. The counts below are calls to
:func:`qet_geo.store.releases.compute_figures`, the figures' computation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

import api.web.analysis as analysis
from qet_geo.store import models as store
from qet_geo.store import releases
from qet_geo.store.ingest import respondents_frame
from tests.api.conftest import LORIENT_TERRITORY
from tests.conftest import shared
from tests.store.test_release_links import synthetic_su
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client

STALE = "pas encore calculés pour les réponses actuelles : relancez l'analyse"


@dataclass
class World:
    site: Site
    hood: int
    diag: int
    token: str
    osm_dir: Path


def _text(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", main)).replace("&#39;", "'")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("cache"))
    cli_admin(site.url, "admin@reseau.example")
    api = site.client()
    with store.session_scope(site.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    hood = api.post(
        "/neighbourhoods", json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
        headers=staff,
    ).json()["id"]  # fmt: skip
    with store.session_scope(site.engine) as s:
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood])
    pilot = {"Authorization": f"Bearer {token}"}
    done = api.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        headers={**pilot, "Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 200, done.text
    diag = api.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot)
    diag_id = diag.json()["id"]
    sent = api.post(
        f"/diagnostics/{diag_id}/uploads", content=synthetic_su(150, seed=3), headers=pilot
    )
    assert sent.status_code == 201, sent.text
    add_pilot(site, "pilote@lorient.example", hood)
    w = World(
        site, hood, diag_id, token, Path(cast(Any, site.app).state.settings.osm_dir).resolve()
    )
    _analyse(w)
    yield w
    site.engine.dispose()


def _pilot(w: World) -> TestClient:
    return signed_in_client(w.site, "pilote@lorient.example")


def _analyse(w: World) -> None:
    client = _pilot(w)
    page = client.get(f"/espace/quartiers/{w.hood}/analyse")
    run = client.post(f"/espace/quartiers/{w.hood}/analyse", data={"csrf": csrf_of(page.text)})
    assert run.status_code == 303
    page = client.get(f"/espace/quartiers/{w.hood}/analyse")  # the job ran after the answer
    assert "Analyse terminée" in page.text, _text(page.text)


def _forget() -> None:
    """What another server process knows: nothing but the files."""
    releases.forget_previews()
    with analysis._VIEWS_LOCK:
        analysis._VIEWS.clear()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the computations of the figures (``compute_figures``) during a test."""
    count: list[int] = []
    real = releases.compute_figures

    def counted(*args: Any, **kwargs: Any) -> releases.Figures:
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(releases, "compute_figures", counted)
    return count


def _view(w: World, client: TestClient | None = None) -> str:
    page = (client or _pilot(w)).get(f"/espace/quartiers/{w.hood}/resultats")
    assert page.status_code == 200, page.text
    return _text(page.text)


def _files(w: World) -> list[Path]:
    return sorted(w.osm_dir.glob(f".preview-{w.diag}-*.json"))


def test_the_preview_is_computed_once_then_reused_by_every_process(
    world: World, calls: list[int]
) -> None:
    _forget()
    for f in _files(world):
        f.unlink()
    first = _view(world)
    assert len(calls) == 1
    assert "Aperçu" in first and STALE not in first
    client = _pilot(world)
    for _ in range(3):
        assert _view(world, client) == first
    assert len(calls) == 1
    # one file, named after the state of the data, that another process reads
    kept = _files(world)
    assert len(kept) == 1
    _forget()
    assert _view(world) == first
    assert len(calls) == 1


def test_the_kept_figures_equal_those_computed_now(world: World) -> None:
    osm_dir = cast(Any, world.site.app).state.settings.osm_dir
    _forget()
    with store.session_scope(world.site.engine) as s:
        version = releases.preview_version(s, world.diag, osm_dir=osm_dir)
        assert version is not None
        kept = releases.kept_preview(world.diag, version, osm_dir=osm_dir)
        assert kept is not None  # from the file
        diag = s.get(store.Diagnostic, world.diag)
        assert diag is not None
        live = releases.compute_figures(
            respondents_frame(s, world.diag), own_profiles=False, synthetic=bool(diag.synthetic)
        )
        links, other, walking = releases.preview_figures(
            s, world.diag, osm_dir=osm_dir, compute=False
        )
        constraints = releases.constraint_means(s, world.hood)
        own = s.query(store.Profile).filter_by(diagnostic_id=world.diag, scope="diagnostic")
        numbers = sorted(p.number for p in own)
    now = replace(live, links=links, other_surveys=other, access=walking)
    assert kept.figures.as_json() == json.loads(json.dumps(now.as_json()))
    assert kept.figures.n_respondents >= 11 and kept.figures.links["status"] == "ok"
    assert kept.constraints == json.loads(json.dumps(constraints))
    assert [p["number"] for p in kept.own_profiles] == numbers


def test_an_upload_a_deletion_and_an_analysis_each_give_new_figures(
    world: World, calls: list[int]
) -> None:
    api = world.site.client()
    headers = {"Authorization": f"Bearer {world.token}"}
    before = _view(world)
    assert STALE not in before
    seen = len(calls)
    # a new upload: computed again, and the links say the analysis must run again
    more = synthetic_su(5, seed=9).decode().replace("SYN-", "SYN-X").encode()
    other = synthetic_su(5, seed=11).decode().replace("SYN-", "SYN-Y").encode()
    first = api.post(f"/diagnostics/{world.diag}/uploads", content=more, headers=headers)
    assert first.status_code == 201, first.text
    after_upload = _view(world)
    assert len(calls) == seen + 1
    assert STALE in after_upload
    assert _view(world) == after_upload and len(calls) == seen + 1
    second = api.post(f"/diagnostics/{world.diag}/uploads", content=other, headers=headers)
    assert second.status_code == 201, second.text
    after_second = _view(world)
    assert len(calls) == seen + 2
    # a deletion: computed again
    gone = api.delete(
        f"/diagnostics/{world.diag}/uploads/{first.json()['upload_id']}", headers=headers
    )
    assert gone.status_code == 204, gone.text
    after_deletion = _view(world)
    assert len(calls) == seen + 3
    assert STALE in after_deletion and after_deletion != after_second
    assert len(_files(world)) == 1  # the older files are removed
    # back to the analysed answers: the figures of that state again (its links are kept)
    gone = api.delete(
        f"/diagnostics/{world.diag}/uploads/{second.json()['upload_id']}", headers=headers
    )
    assert gone.status_code == 204, gone.text
    assert _view(world) == before
    # answers again, then the analysis: its results are shown, no longer the notice
    sent = api.post(f"/diagnostics/{world.diag}/uploads", content=more, headers=headers)
    assert sent.status_code == 201, sent.text
    assert STALE in _view(world)
    seen = len(calls)
    _analyse(world)
    after_analysis = _view(world)
    assert len(calls) == seen  # computed by the job, in its worker process
    assert STALE not in after_analysis


def test_an_analysis_that_stores_the_same_results_changes_nothing(
    world: World, calls: list[int]
) -> None:
    first = _view(world)
    seen = len(calls)
    _analyse(world)
    assert _view(world) == first
    assert len(calls) == seen


def test_a_release_page_reads_its_stored_figures_only(world: World, calls: list[int]) -> None:
    pilot = _pilot(world)
    page = pilot.get(f"/espace/quartiers/{world.hood}/resultats")
    sent = pilot.post(
        f"/espace/quartiers/{world.hood}/resultats/publier",
        data={"confirmer": "oui", "csrf": csrf_of(page.text)},
    )
    assert sent.status_code == 303, _text(sent.text)
    with store.session_scope(world.site.engine) as s:
        from qet_geo.store import accounts

        accounts.create_user(
            s, email="staff@reseau.example", password="mot de passe très long", role="staff"
        )
    staff = signed_in_client(world.site, "staff@reseau.example", "mot de passe très long")

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a release's page computes nothing")

    seen = len(calls)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "keep_preview", refused)
        patch.setattr(releases, "preview_figures", refused)
        text = _view(world, staff)
        assert "Publication n° 1" in text and "Aperçu" not in text
        _forget()
        assert _view(world, staff) == text
    assert len(calls) == seen
    # the release changes the preview's rule 5 checks: the pilot's preview is computed again
    assert "Publication n° 1" in _view(world)
    assert len(calls) == seen + 1


def test_the_analysis_keeps_the_preview_before_its_first_view(
    world: World, calls: list[int]
) -> None:
    api = world.site.client()
    headers = {"Authorization": f"Bearer {world.token}"}
    more = synthetic_su(12, seed=21).decode().replace("SYN-", "SYN-Z").encode()
    sent = api.post(f"/diagnostics/{world.diag}/uploads", content=more, headers=headers)
    assert sent.status_code == 201, sent.text
    seen = len(calls)
    kept = _files(world)
    _analyse(world)
    # the job computed and kept it, in its worker process: a new file, no computation here
    assert _files(world) and _files(world) != kept
    _forget()
    page = _view(world)
    assert len(calls) == seen and STALE not in page
