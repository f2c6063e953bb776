"""The public forum keeps the year-0 vote once the year-1 campaign is opened.

A published portal whose year-0 diagnostic had its vote (12 ballots, closed): opening the year-1
campaign (which has no vote yet) must not empty the public forum page; its results and chosen
theme stay, and no ballot is taken on the closed vote. Once the year-1 diagnostic has its own
vote, the public page shows that one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.web._kit import FORM_COOKIE
from qet_geo.store import models as store
from qet_geo.store import votes
from qet_geo.store.portal import set_slug
from qet_geo.store.releases import Figures
from tests.web.test_accounts import Site, csrf_of, make_site

THEMES = ["Mobilité quotidienne", "Alimentation (viande)"]


def _diagnostic(s: store.Session, hood: int, year: int) -> int:
    diag = store.Diagnostic(neighbourhood_id=hood, year=year)
    s.add(diag)
    s.flush()
    rows = [
        {
            "usage": "transportation_mode",
            "theme": THEMES[0],
            "potential": 1234.0,
            "footprint": 2300.0,
            "built": 3.0,
        },
        {
            "usage": "meat_frequency",
            "theme": THEMES[1],
            "potential": 456.0,
            "footprint": 900.0,
            "built": 0.0,
        },
    ]
    links = {"status": "ok", "fr": {"votes": rows}, "en": {"votes": rows}}
    figures = Figures(n_respondents=40, links=links).as_json()
    s.add(store.Release(diagnostic_id=diag.id, number=1, n_respondents=40, figures=figures))
    s.flush()
    return diag.id


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    with store.session_scope(s.engine) as session:
        hood = store.add_neighbourhood(session, name="Lorient centre", published=True)
        set_slug(session, hood, "lorient-centre")
        diag = _diagnostic(session, hood.id, 0)
        vote, codes = votes.open_vote(session, diag, "Quel thème ?", THEMES, 14)
        for i, code in enumerate(codes[:12]):
            votes.cast_ballot(session, vote.id, code, [THEMES[0 if i % 4 else 1]])
        votes.close_vote(session, vote)
        s.hood = hood.id  # type: ignore[attr-defined]
        s.codes = codes  # type: ignore[attr-defined]
    yield s
    s.engine.dispose()


def _client(site: Site) -> TestClient:
    return site.client()


def test_the_year0_results_stay_public_when_the_year1_campaign_opens(site: Site) -> None:
    client = _client(site)
    before = client.get("/q/lorient-centre/forum")
    assert "Thème choisi : Mobilité quotidienne." in before.text
    with store.session_scope(site.engine) as s:
        s.add(store.Diagnostic(neighbourhood_id=site.hood, year=1))  # type: ignore[attr-defined]
    after = client.get("/q/lorient-centre/forum")
    assert after.status_code == 200
    assert "Le vote est clos." in after.text
    assert "Thème choisi : Mobilité quotidienne." in after.text
    assert "pas encore ouvert" not in after.text
    # a card left over: the closed vote takes no ballot (the page has no form: its token is
    # the form cookie's, as a page left open before the closing would carry)
    token = client.cookies.get(FORM_COOKIE)
    assert token
    left = site.codes[13]  # type: ignore[attr-defined]
    refused = client.post(
        "/q/lorient-centre/forum", data={"csrf": token, "code": left, "choice": "0"}
    )
    assert refused.status_code == 409
    assert "Thème choisi : Mobilité quotidienne." in refused.text


def test_the_year1_vote_replaces_the_year0_one_on_the_public_page(site: Site) -> None:
    with store.session_scope(site.engine) as s:
        diag = _diagnostic(s, site.hood, 1)  # type: ignore[attr-defined]
        vote, codes = votes.open_vote(s, diag, "Et cette année ?", THEMES, 3)
    client = _client(site)
    page = client.get("/q/lorient-centre/forum")
    assert "Et cette année ?" in page.text
    assert "Thème choisi" not in page.text
    voted = client.post(
        "/q/lorient-centre/forum",
        data={"csrf": csrf_of(page.text), "code": codes[0], "choice": "1"},
        follow_redirects=False,
    )
    assert voted.status_code == 303
    with store.session_scope(site.engine) as s:
        assert votes.n_online_ballots(s, vote.id) == 1


def test_the_home_and_documents_keep_the_year0_vote_when_year1_opens(site: Site) -> None:
    """The home's chosen theme and the documents page's forum entry read the latest campaign's
    vote, as the forum page does (before: both vanished once the year-1 campaign was opened)."""
    with store.session_scope(site.engine) as s:
        s.add(store.Diagnostic(neighbourhood_id=site.hood, year=1))  # type: ignore[attr-defined]
    client = _client(site)
    home = client.get("/q/lorient-centre")
    assert home.status_code == 200 and "Mobilité quotidienne" in home.text
    documents = client.get("/q/lorient-centre/documents")
    assert documents.status_code == 200
    assert 'href="/q/lorient-centre/forum"' in documents.text
