"""The collection page of a published campaign offers to open the next year's campaign.

A published campaign's uploads are frozen and its page says "open next year's campaign": the
form to do so is there for the team (pre-filled with the next year), only on the latest
campaign, never for the network's staff (who may read, not write); posting it opens the year-1
campaign, whose page then lists both years.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.web.test_accounts import PASSWORD, Site, add_pilot, csrf_of, make_site, signed_in_client

FORM = 'action="/espace/quartiers/{hood}/enquete/collecte/campagne"'


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    with store.session_scope(s.engine) as session:
        hood = store.add_neighbourhood(session, name="Lorient centre")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        session.add(diag)
        session.flush()
        session.add(store.Release(diagnostic_id=diag.id, number=1, n_respondents=120))
        accounts.create_user(session, email="staff@b.example", password=PASSWORD, role="staff")
        s.hood = hood.id  # type: ignore[attr-defined]
    add_pilot(s, "pilote@b.example", s.hood)  # type: ignore[attr-defined]
    yield s
    s.engine.dispose()


def test_the_team_opens_next_years_campaign_from_a_published_one(site: Site) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    client = signed_in_client(site, "pilote@b.example")
    page = client.get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert page.status_code == 200
    assert "Cette campagne est publiée" in page.text
    assert FORM.format(hood=hood) in page.text
    assert re.search(
        r'<input id="annee" name="annee" type="number" min="1"[^>]*value="1"', page.text
    )
    opened = client.post(
        f"/espace/quartiers/{hood}/enquete/collecte/campagne",
        data={"csrf": csrf_of(page.text), "annee": "1"},
    )
    assert opened.status_code == 303
    assert opened.headers["location"].endswith("/collecte?annee=1&fait=ouvert")
    year1 = client.get(opened.headers["location"])
    assert "Campagne de l&#39;année 1" in year1.text or "Campagne de l'année 1" in year1.text
    assert "Déposer le fichier" in year1.text
    # the published year 0, no longer the latest: no second form to open a campaign
    year0 = client.get(f"/espace/quartiers/{hood}/enquete/collecte?annee=0")
    assert "Cette campagne est publiée" in year0.text
    assert FORM.format(hood=hood) not in year0.text
    with store.session_scope(site.engine) as session:
        years = session.query(store.Diagnostic.year).filter_by(neighbourhood_id=hood).all()
    assert sorted(y for (y,) in years) == [0, 1]


def test_the_networks_staff_see_no_form_to_open_a_campaign(site: Site) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    client = signed_in_client(site, "staff@b.example")
    page = client.get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert page.status_code == 200
    assert "Cette campagne est publiée" in page.text
    assert FORM.format(hood=hood) not in page.text


def test_opening_next_years_campaign_needs_the_csrf_token(site: Site) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    client = signed_in_client(site, "pilote@b.example")
    refused = client.post(
        f"/espace/quartiers/{hood}/enquete/collecte/campagne", data={"csrf": "x", "annee": "1"}
    )
    assert refused.status_code in (400, 403)
    with store.session_scope(site.engine) as session:
        assert session.query(store.Diagnostic).filter_by(neighbourhood_id=hood).count() == 1
