"""Step 2, the visit through stops picked on the map (or typed, one "latitude, longitude" a line):
the form's parsing, its French messages beside the field, the planned visit and its files, the
map's data, and who may do what (another team: 404; no token: refused)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from qet_geo.store import models as store
from tests.web.test_accounts import Site, csrf_of, signed_in_client
from tests.web.test_survey import _hoods, _rows, _text, site

__all__ = ["site"]  # the fixture, shared with tests/web/test_survey.py

#: Three street crossings of the Lorient demonstration neighbourhood, as a person would type them.
STOPS = "47.753972, -3.361553\n47.747986, -3.360710\n47.752217, -3.359512"
#: West of the neighbourhood's outline (lon -3.365 to -3.3545), in Lorient still.
OUTSIDE = "47.750000, -3.370000"


def _post(client: TestClient, hood: int, points: str, csrf: str, **fields: str) -> httpx.Response:
    return client.post(
        f"/espace/quartiers/{hood}/enquete/visite",
        data={"csrf": csrf, "points": points, "boucle": "1", "minutes": "", **fields},
    )


def _csrf(client: TestClient, hood: int) -> str:
    return csrf_of(client.get(f"/espace/quartiers/{hood}/enquete/preparer").text)


def _error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert" id="choisis-erreur">(.*?)</p>', page, re.S)
    assert found, "no message beside the chosen stops' field"
    return _text(found.group(1)).strip()


def _wait(client: TestClient, url: str) -> str:
    """The visit's fragment once planned (or failed), polled as htmx does."""
    deadline = time.monotonic() + 180
    while True:
        part = client.get(f"{url}&fragment=visite", headers={"HX-Request": "true"})
        assert part.status_code == 200 and "<html" not in part.text
        if "Itinéraire prêt" in part.text or 'role="alert"' in part.text:
            return part.text
        assert 'hx-trigger="every 2s"' in part.text
        assert time.monotonic() < deadline, "the visit took too long"
        time.sleep(0.5)


def test_the_page_offers_the_map_and_a_field_that_works_without_javascript(site: Site) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/preparer").text
    # the map and its list are for scripts only; the field and its form are the page's
    assert re.search(r'<div id="carte-visite"[^>]*\bhidden\b', page)
    assert re.search(r'<ol id="liste-arrets"[^>]*\bhidden\b', page)
    assert '<textarea id="points" name="points"' in page
    assert (
        '<label for="points">' in page
        and f'action="/espace/quartiers/{hood}/enquete/visite"' in page
    )
    for script in ("/static/maps/leaflet/leaflet.js", "/static/web/visit.js"):
        assert f'<script src="{script}"></script>' in page
        assert pilot.get(script).status_code == 200
    assert "<script>" not in page and " style=" not in page  # the pages' CSP: no inline code
    assert f'data-map="/espace/quartiers/{hood}/enquete/carte.json"' in page


def test_chosen_stops_are_visited_and_downloaded(site: Site) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    # typed as people do: blank lines, spaces, no space after the comma
    sent = _post(
        pilot,
        hood,
        "\n 47.753972,-3.361553 \n\n47.747986 -3.360710\n47.752217, -3.359512\n",
        _csrf(pilot, hood),
    )
    assert sent.status_code == 303, sent.text
    target = sent.headers["location"]
    assert target.endswith("#visite")
    query = parse_qs(urlsplit(target).query)
    assert query["points"] == ["47.753972,-3.361553;47.747986,-3.360710;47.752217,-3.359512"]
    assert query["boucle"] == ["1"] and query["marge"] == ["5"]
    url = target.split("#")[0]
    page = pilot.get(url)
    assert page.status_code == 200
    assert "47.753972, -3.361553\n47.747986, -3.360710" in page.text  # the field keeps them
    part = _wait(pilot, url)
    assert "Itinéraire prêt : 3 arrêts" in _text(part), part
    rows = _rows(part, "Les arrêts, dans l'ordre")
    assert sorted(r[1] for r in rows) == ["Arrêt 1", "Arrêt 2", "Arrêt 3"]
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[0][1] == "Arrêt 1"  # a loop: from 1
    files = re.findall(r'href="([^"]*/visite\.(gpx|html|geojson)\?[^"]*)"', part)
    assert {kind for _, kind in files} == {"gpx", "html", "geojson"}
    for link, kind in files:
        got = pilot.get(link.replace("&amp;", "&"))
        assert got.status_code == 200, (kind, got.text)
        assert got.headers["content-disposition"].startswith("attachment")
        if kind == "gpx":
            assert got.text.count("<wpt") == 3 and "Arrêt 2" in got.text
        if kind == "geojson":
            assert got.json()["type"] == "FeatureCollection"
    # the same stops in another order: the same stops visited, in the same best order
    again = _post(pilot, hood, "\n".join(reversed(STOPS.split("\n"))), _csrf(pilot, hood))
    other = _wait(pilot, again.headers["location"].split("#")[0])
    assert "Itinéraire prêt : 3 arrêts" in _text(other)


def test_bad_stops_get_their_french_message_beside_the_field(site: Site) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    csrf = _csrf(pilot, hood)
    cases = {
        "47.75 -3.36\n<b>ici</b>": "Ligne 2 : « <b>ici</b> » n'est pas une position « latitude, "
        "longitude » en degrés décimaux (par exemple 47.7490, -3.3600).",
        "47.753972, -3.361553": "Une visite par des arrêts choisis en demande de 2 à 12 (1 "
        "donné(s)) : ajoutez ou retirez des arrêts.",
        "\n".join([STOPS] * 5): "Une visite par des arrêts choisis en demande de 2 à 12 (15 "
        "donné(s)) : ajoutez ou retirez des arrêts.",
        f"{STOPS}\n{OUTSIDE}": "Arrêt(s) 4 hors du quartier : placez chaque arrêt à l'intérieur "
        "de son contour.",
        # longitude first: a point of the Indian Ocean, not of the neighbourhood
        "-3.361553, 47.753972\n47.747986, -3.360710": "Arrêt(s) 1 hors du quartier",
        "95, -3.36\n47.75, -3.36": "Ligne 1 : la latitude va de -90 à 90 et la longitude de -180 "
        "à 180 ; la latitude vient en premier.",
        "": "(0 donné(s))",
        "1" * 3000: "Trop de texte pour des arrêts",
    }
    for points, message in cases.items():
        page = _post(pilot, hood, points, csrf)
        assert page.status_code == 400, points
        assert message in _error(page.text), (points, _error(page.text))
        assert 'aria-describedby="choisis-erreur"' in page.text
    # what was typed comes back in the field, as text
    typed = _post(pilot, hood, "47.75 -3.36\n<script>x</script>", csrf)
    assert "&lt;script&gt;x&lt;/script&gt;</textarea>" in typed.text
    assert "<script>x</script>" not in typed.text
    budget = _post(pilot, hood, STOPS, csrf, minutes="5")
    assert "La durée maximale est un nombre de minutes de 10 à 600" in _error(budget.text)
    # a hand-made address with bad stops: the same message, on the page
    url = f"/espace/quartiers/{hood}/enquete/preparer?points=47.75,-3.36&boucle=1"
    shown = pilot.get(url)
    assert shown.status_code == 200 and "(1 donné(s))" in _error(shown.text)
    assert pilot.get(url.replace("preparer", "visite.gpx")).status_code == 303
    # in English
    pilot.cookies.set("qet_lang", "en")
    english = _post(pilot, hood, f"{STOPS}\n{OUTSIDE}", csrf)
    assert "Stop(s) 4 outside the neighbourhood: put every stop inside its outline." in _error(
        english.text
    )


def test_the_maps_data_are_the_outline_and_the_streets(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.web import setup

    reads: list[int] = []
    computed = setup._computed

    async def counted(*args: object, **kwargs: object) -> object:
        reads.append(1)
        return await computed(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(setup, "_computed", counted)
    hoods = _hoods(site)
    pilot = signed_in_client(site, "lorient@b.example")
    data = pilot.get(f"/espace/quartiers/{hoods['lorient']}/enquete/carte.json")
    first = len(reads)
    assert first <= 1  # the layers kept beside the extract: computed at most once
    # the next views (any visitor) read the kept streets: no worker
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    again = staff.get(f"/espace/quartiers/{hoods['lorient']}/enquete/carte.json")
    assert again.json() == data.json() and len(reads) == first
    # the outline page's drawing map gets the same body from the same function
    drawing = pilot.get(f"/espace/quartiers/{hoods['lorient']}/contour/rues.json")
    assert drawing.status_code == 200 and drawing.content == data.content
    assert data.status_code == 200 and data.headers["cache-control"] == "no-store"
    body = data.json()
    assert body["territory"]["type"] == "Polygon"
    lons = [x for x, _ in body["territory"]["coordinates"][0]]
    assert min(lons) == pytest.approx(-3.365, abs=1e-6)
    assert body["streets"]["type"] == "FeatureCollection" and len(body["streets"]["features"]) > 100
    # no extract, no outline: nulls, the map says to type the stops
    bare = signed_in_client(site, "admin@b.example").get(
        f"/espace/quartiers/{hoods['paris']}/enquete/carte.json"
    )
    assert bare.json() == {"streets": None, "territory": None}


def test_another_team_gets_404_and_the_form_needs_its_token(site: Site) -> None:
    hoods = _hoods(site)
    base = f"/espace/quartiers/{hoods['lorient']}/enquete"
    other = signed_in_client(site, "autre@b.example")
    csrf = csrf_of(other.get("/espace").text)
    for path in (
        f"{base}/carte.json",
        f"{base}/preparer?points=47.75,-3.36",
        f"{base}/visite.gpx?points=1",
    ):
        seen = other.get(path)
        assert seen.status_code == 404 and "Page introuvable" in seen.text, path
        assert "Lorient" not in seen.text
    refused = _post(other, hoods["lorient"], STOPS, csrf)
    assert refused.status_code == 404 and "Lorient" not in refused.text
    owner = signed_in_client(site, "lorient@b.example")
    for token in ("", "faux"):
        sent = _post(owner, hoods["lorient"], STOPS, token)
        assert sent.status_code == 403 and "Formulaire refusé" in sent.text
    # network staff read the neighbourhood: they may plan its visit (no survey data in it)
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    assert _post(staff, hoods["lorient"], STOPS, _csrf(staff, hoods["lorient"])).status_code == 303
    # signed out: to the sign-in page
    anonymous = site.client()
    gone = anonymous.post(f"{base}/visite", data={"points": STOPS})
    assert gone.status_code == 303 and gone.headers["location"].startswith("/connexion")
    with store.session_scope(site.engine) as s:
        assert s.query(store.Neighbourhood).count() == 3
