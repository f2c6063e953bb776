"""Project sheets: the team's pages (/espace/quartiers/{id}/projets) and the public ones
(/q/{slug}/projets): the effect from the real Lorient release with its assumptions, roles,
another team's neighbourhood, CSRF, bad input, escaping, publication, English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qet_geo.store import models as store
from qet_geo.store.releases import Figures, latest_release
from tests.web.test_accounts import add_pilot, csrf_of, signed_in_client
from tests.web.test_portal_public import World
from tests.web.test_portal_public import world as world  # the Lorient portal

TITLE = "Vélos <script>alert(1)</script> {{ 7*7 }}"
PROBLEM = "## Le constat\n\nTrop de **voitures**.\n\n<script>alert(2)</script> {{ 7*7 }}"


@dataclass
class Team:
    world: World
    other: int


@pytest.fixture(scope="module")
def team(world: World) -> Iterator[Team]:
    with store.session_scope(world.site.engine) as s:
        other = store.add_neighbourhood(s, name="Bois du Château").id
    add_pilot(world.site, "pilote-projets@b.example", world.hood)
    add_pilot(world.site, "pilote-autre@b.example", other)
    yield Team(world, other)


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", _main(html))))


def _base(team: Team, hood: int | None = None) -> str:
    return f"/espace/quartiers/{hood or team.world.hood}/projets"


def _create(client: TestClient, team: Team, **fields: str) -> str:
    token = csrf_of(client.get(_base(team) + "/nouveau").text)
    data = {"csrf": token, "title": "Vélo-bus du mardi", "status": "propose", **fields}
    done = client.post(_base(team), data=data, follow_redirects=False)
    assert done.status_code == 303, done.text
    return str(done.headers["location"]).split("?")[0]


def _figures(team: Team) -> Figures:
    with store.session_scope(team.world.site.engine) as s:
        release = latest_release(s, team.world.diag)
        assert release is not None
        return Figures.from_json(release.figures)


def test_team_writes_a_sheet_and_sees_its_effect_with_assumptions(team: Team) -> None:
    figures = _figures(team)
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    hood_page = client.get(f"/espace/quartiers/{team.world.hood}")
    assert f'href="{_base(team)}"' in hood_page.text
    votes = figures.links.get("fr", {}).get("votes", [])
    usable = [r for r in votes if r["built"] > 0 and r["usage"] in figures.footprints]
    key = sorted(figures.profile_shares)[0]
    profile = str(int(key) + 1)  # the pages' "Profil n"
    assert usable, votes  # the Lorient release has a built margin
    usage = usable[0]["usage"]
    url = _create(client, team, usage=usage, profiles=str(profile), reach_percent="")
    page = client.get(url)
    assert page.status_code == 200
    words = _words(page.text)
    if usable:
        share = figures.profile_shares[key]
        homes = figures.access["homes"]
        raw = min(usable[0]["built"], figures.footprints[usage]) * share * homes * 2.2
        with store.session_scope(team.world.site.engine) as s:
            row = s.scalars(select(store.Project).order_by(store.Project.id.desc())).first()
            assert row is not None
            assert row.effect["value"] == pytest.approx(raw, rel=0.05)
        assert "kgCO2e évités par an" in words
        assert "Hypothèses" in words and "Pas d'intervalle" in words
        assert "logements × 2,2 personnes" in words
        assert "Calculé sur la publication n° 1" in words
        assert "plus récente" not in words
    else:
        assert "Effet attendu non estimé" in words
    # a documented factor instead
    token = csrf_of(page.text)
    done = client.post(
        url,
        data={"csrf": token, "title": "Vélo-bus du mardi", "status": "en_cours", "method": "factor",
              "factor": "0,5", "units": "1200", "source": "ADEME, Base Empreinte"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303
    words = _words(client.get(url).text)
    assert "Environ 600 kgCO2e évités par an" in words
    assert "ADEME, Base Empreinte" in words
    listing = client.get(_base(team))
    assert "Vélo-bus du mardi" in _words(listing.text) and "En cours" in _words(listing.text)


def test_withheld_when_the_release_has_no_figure_for_the_usage(team: Team) -> None:
    figures = _figures(team)
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    url = _create(client, team, usage="transportation_mode", profiles="99")
    words = _words(client.get(url).text)
    assert "Effet attendu non estimé" in words
    if "transportation_mode" in figures.footprints:
        assert "profil 99" in words


def test_another_team_gets_404_and_bad_csrf_is_refused(team: Team) -> None:
    mine = signed_in_client(team.world.site, "pilote-projets@b.example")
    url = _create(mine, team)
    other = signed_in_client(team.world.site, "pilote-autre@b.example")
    assert other.get(_base(team, team.other)).status_code == 200
    token = csrf_of(other.get(_base(team, team.other) + "/nouveau").text)
    assert other.get(_base(team)).status_code == 404
    assert other.get(url).status_code == 404
    assert other.get(_base(team) + "/nouveau").status_code == 404
    for path, data in [
        (_base(team), {"title": "Volé"}),
        (url, {"title": "Volé"}),
        (url + "/publication", {"action": "publier"}),
    ]:
        assert other.post(path, data={"csrf": token, **data}).status_code == 404, path
    # the sheet of another neighbourhood under one's own address: 404
    pid = url.rsplit("/", 1)[1]
    assert other.get(f"{_base(team, team.other)}/{pid}").status_code == 404
    # a wrong token
    refused = mine.post(_base(team), data={"csrf": "faux", "title": "X"})
    assert refused.status_code == 403
    assert "Formulaire refusé" in refused.text
    assert mine.get(_base(team) + "/abc").status_code == 404
    # not signed in: to the sign-in page
    anonymous = team.world.site.client()
    assert anonymous.get(_base(team), follow_redirects=False).status_code in (303, 401, 302)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"title": ""}, "Donnez un titre"),
        ({"budget_eur": "beaucoup"}, "n'est pas un nombre"),
        ({"starts_on": "2027-05-01", "ends_on": "2027-01-01"}, "précède son début"),
        ({"x": "1", "y": "2"}, "hors du quartier"),
        ({"indicators": "sans valeur"}, "libellé ; valeur"),
        ({"status": "fini"}, "Statut inconnu"),
    ],
)
def test_bad_input_is_said_and_kept(team: Team, data: dict[str, str], words: str) -> None:
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    token = csrf_of(client.get(_base(team) + "/nouveau").text)
    form = {"csrf": token, "title": "Gardé", "status": "idee", "theme": "Mobilité", **data}
    page = client.post(_base(team), data=form)
    assert page.status_code == 400
    assert words in _words(page.text)
    assert 'value="Mobilité"' in page.text
    assert 'role="alert"' in page.text


def test_public_pages_show_published_sheets_escaped(team: Team) -> None:
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    figures = _figures(team)
    bounds = figures.bounds
    assert bounds is not None
    url = _create(
        client, team, title=TITLE, problem=PROBLEM, status="retenu",
        milestones="2027-01-10 ; Concertation ; fait\n2027-06-01 ; Pose",
        indicators="Vélos prêtés ; 42 ; vélos", holders="Association <b>Vélo</b>",
        budget_eur="12000", x="", y="",
    )  # fmt: skip
    pid = url.rsplit("/", 1)[1]
    public = team.world.site.client()
    assert public.get(f"/q/lorient-centre/projets/{pid}").status_code == 404  # not published
    assert TITLE not in public.get("/q/lorient-centre/projets").text
    token = csrf_of(client.get(url).text)
    done = client.post(
        url + "/publication", data={"csrf": token, "action": "publier"}, follow_redirects=True
    )
    assert done.status_code == 200 and "La fiche est publiée" in done.text
    listing = public.get("/q/lorient-centre/projets")
    assert listing.status_code == 200
    assert "<script>alert" not in listing.text and "&lt;script&gt;" in listing.text
    assert "49" not in _words(listing.text).replace("2049", "")
    assert "Retenu" in _words(listing.text)
    sheet = public.get(f"/q/lorient-centre/projets/{pid}")
    assert sheet.status_code == 200
    main = _main(sheet.text)
    assert "<script>" not in main and "{{ 7*7 }}" in unescape(main)
    assert (
        "<h4>Le constat</h4>" in main
    )  # "##" under the h2 and "<strong>voitures</strong>" in main
    assert "Association &lt;b&gt;Vélo&lt;/b&gt;" in main
    assert "Concertation" in main and "Vélos prêtés" in main and '<th scope="row">' in main
    assert "12" in _words(sheet.text) and "€" in main
    # the English page keeps the team's words, says the rest in English
    client_en = team.world.site.client()
    client_en.cookies.set("lang", "en")
    english = client_en.get(f"/q/lorient-centre/projets/{pid}", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    # withdrawn: gone again
    token = csrf_of(client.get(url).text)
    client.post(url + "/publication", data={"csrf": token, "action": "retirer"})
    assert public.get(f"/q/lorient-centre/projets/{pid}").status_code == 404


def test_a_place_is_a_point_on_the_outline(team: Team) -> None:
    from shapely import from_wkt

    with store.session_scope(team.world.site.engine) as s:
        hood = s.get(store.Neighbourhood, team.world.hood)
        assert hood is not None
        centre = from_wkt(str(hood.territory_wkt)).centroid
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    url = _create(client, team, title="Placette", x=f"{centre.x:.0f}", y=f"{centre.y:.0f}")
    token = csrf_of(client.get(url).text)
    client.post(url + "/publication", data={"csrf": token, "action": "publier"})
    pid = url.rsplit("/", 1)[1]
    sheet = team.world.site.client().get(f"/q/lorient-centre/projets/{pid}")
    assert '<circle class="project-place"' in sheet.text
    assert '<path d="M' in sheet.text


def test_unpublished_or_unknown_portals_are_404(team: Team) -> None:
    public = team.world.site.client()
    for path in ("/q/cache/projets", "/q/cache/projets/1", "/q/nulle-part/projets",
                 "/q/lorient-centre/projets/999999", "/q/lorient-centre/projets/abc"):  # fmt: skip
        page = public.get(path)
        assert page.status_code == 404, path
        assert "Traceback" not in page.text


def test_the_team_is_told_when_a_newer_release_exists(team: Team) -> None:
    figures = _figures(team)
    usage = next(r["usage"] for r in figures.links["fr"]["votes"] if r["built"] > 0)
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    url = _create(client, team, usage=usage, reach_percent="20", population="3000")
    assert "plus récente" not in _words(client.get(url).text)
    pid = int(url.rsplit("/", 1)[1])
    with store.session_scope(team.world.site.engine) as s:
        row = s.get(store.Project, pid)
        assert row is not None
        row.effect = {**row.effect, "release": {"id": -1, "number": 0}}  # an older release
    assert "plus récente que celle de ce calcul" in _words(client.get(url).text)


def test_english_pages_keep_no_french(team: Team) -> None:
    from tests.web.test_pages import _french_only, _Text

    french = _french_only()
    figures = _figures(team)
    usage = next(r["usage"] for r in figures.links["fr"]["votes"] if r["built"] > 0)
    client = signed_in_client(team.world.site, "pilote-projets@b.example")
    url = _create(client, team, title="Parking", usage=usage, profiles=str(int(sorted(
        figures.profile_shares)[0]) + 1), milestones="2027-01-10 ; Vote ; fait",
        indicators="Places ; 3")  # fmt: skip
    token = csrf_of(client.get(url).text)
    client.post(url + "/publication", data={"csrf": token, "action": "publier"})
    pid = url.rsplit("/", 1)[1]
    client.cookies.set("qet_lang", "en")
    public = team.world.site.client()
    public.cookies.set("qet_lang", "en")
    pages = {
        "team list": client.get(_base(team)),
        "team new": client.get(_base(team) + "/nouveau"),
        "team sheet": client.get(url),
        "public list": public.get("/q/lorient-centre/projets"),
        "public sheet": public.get(f"/q/lorient-centre/projets/{pid}"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert '<html lang="en">' in page.text, name
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{name}: {left}"
    sheet = _words(pages["public sheet"].text)
    assert "kgCO2e avoided a year" in sheet and "Assumptions" in sheet
    assert "persons per home" in sheet
