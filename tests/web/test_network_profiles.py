"""The national usage profiles and their trend, ``/reseau/profils``.

The network of tests/web/test_network.py plus a published neighbourhood with two released
campaigns (year 0 and year 1), and the national profiles fitted on them (labelled synthetic: a
demonstration). The public reads nothing until network staff publish the page; the shares per
région and per type are the respondent-weighted means of the public ``GET /national`` rows; the
trend compares the two campaigns' released shares; a refit is unpublished again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from qet_geo.i18n import number
from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.jobs import fit_national_profiles
from qet_geo.store.releases import Figures
from tests.web.test_accounts import PASSWORD, signed_in_client
from tests.web.test_impact import campaigns
from tests.web.test_network import World
from tests.web.test_network import world as network_world  # noqa: F401 (the fixture)
from tests.web.test_portal_admin import csrf_of


@pytest.fixture(scope="module")
def world(network_world: World) -> Iterator[World]:  # noqa: F811
    site = network_world.site
    with store.session_scope(site.engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
        accounts.create_user(s, email="staff@reseau.example", password=PASSWORD, role="staff")
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    hood, _ = campaigns(
        site.client(), site.engine, osm_dir, admin, name="Deux ans", slug="deux-ans"
    )
    network_world.ids["deux-ans"] = hood
    fit_national_profiles(site.engine)
    yield network_world


def _pct(value: float) -> str:
    return number(100 * value, decimals=1).render("fr") + " %"


def test_the_public_waits_for_staff_to_publish(world: World) -> None:
    page = world.site.client().get("/reseau/profils")
    assert page.status_code == 200
    assert "pas encore publié cette page" in page.text.replace("&#39;", "'")
    assert "<table" not in page.text
    staff = signed_in_client(world.site, "staff@reseau.example")
    seen = staff.get("/reseau/profils")
    assert "<table" in seen.text and "Publier la page" in seen.text
    # a form without its token is refused; with it, the page is public
    assert staff.post("/reseau/profils/publication", data={"action": "publier"}).status_code == 403
    done = staff.post(
        "/reseau/profils/publication", data={"csrf": csrf_of(seen.text), "action": "publier"}
    )
    assert done.status_code == 303
    public = world.site.client().get("/reseau/profils")
    assert "Les profils de référence" in public.text.replace("&#39;", "'")
    assert "Publier la page" not in public.text
    # the public cannot publish or withdraw
    anyone = world.site.client()
    assert anyone.post("/reseau/profils/publication", data={"action": "retirer"}).status_code in (
        303,
        401,
        403,
    )
    assert "Les profils de référence" in world.site.client().get("/reseau/profils").text


def test_the_types_are_the_weighted_means_of_the_national_rows(world: World) -> None:
    _publish(world)
    rows = [r for r in world.site.client().get("/national").json() if r["compared"]]
    page = world.site.client().get("/reseau/profils").text
    by_type: dict[int, list[dict]] = {}
    for r in rows:
        if r["profile_mix"] and r["type"] >= 0:
            by_type.setdefault(r["type"] + 1, []).append(r)
    assert by_type
    types = page.split('id="titre-types"', 1)[1].split("</table>", 1)[0]
    for kind, members in by_type.items():
        total = sum(r["n_respondents"] for r in members)
        line = re.search(rf"<th scope=\"row\">Type {kind}</th>(.*?)</tr>", types)
        assert line is not None
        cells = re.findall(r"<td>(.*?)</td>", line.group(1))
        assert cells[:2] == [str(len(members)), str(total)]
        for k, cell in zip(sorted(members[0]["profile_mix"], key=int), cells[2:], strict=False):
            mean = sum(r["profile_mix"][k] * r["n_respondents"] for r in members) / total
            assert cell.replace("\u202f", " ") == _pct(mean).replace("\u202f", " ")


def test_the_trend_compares_the_two_campaigns(world: World) -> None:
    _publish(world)
    page = world.site.client().get("/reseau/profils").text
    trend = page.split('id="titre-tendance"', 1)[1]
    assert "Sur 1 quartier(s)" in trend
    with store.session_scope(world.site.engine) as s:
        diags = s.query(store.Diagnostic).filter_by(neighbourhood_id=world.ids["deux-ans"])
        shares = []
        for diag in sorted(diags, key=lambda d: d.year):
            release = s.query(store.Release).filter_by(diagnostic_id=diag.id).one()
            shares.append(Figures.from_json(release.figures).profile_shares)
    first = sorted(shares[0], key=int)[0]
    line = re.search(rf"<th scope=\"row\">Profil {first}</th><td>(.*?)</td><td>(.*?)</td>", trend)
    assert line is not None
    assert line.group(1).replace("\u202f", " ") == _pct(shares[0][first]).replace("\u202f", " ")
    assert line.group(2).replace("\u202f", " ") == _pct(shares[1][first]).replace("\u202f", " ")


def test_a_new_fit_is_unpublished_again(world: World) -> None:
    _publish(world)
    fit_national_profiles(world.site.engine)
    assert "<table" not in world.site.client().get("/reseau/profils").text


def test_english(world: World) -> None:
    _publish(world)
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    page = client.get("/reseau/profils").text
    assert "National usage profiles" in page and "Les profils de référence" not in page


def _publish(world: World) -> None:
    staff = signed_in_client(world.site, "staff@reseau.example")
    token = csrf_of(staff.get("/reseau/profils").text)
    done = staff.post("/reseau/profils/publication", data={"csrf": token, "action": "publier"})
    assert done.status_code == 303
