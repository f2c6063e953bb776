"""Step 1 of the journey, the neighbourhood: outline, OSM extract, layers (api/web/setup.py)."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from qet_geo.inputs.territory import Territory
from qet_geo.layers import build_layers
from qet_geo.store import models as store
from qet_geo.store.jobs import territory_from_geojson
from tests.conftest import shared
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client

ROOT = Path(__file__).resolve().parents[2]
OUTLINE = ROOT / "data" / "osm" / "lorient_centre.geojson"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    cli_admin(s.url, "admin@b.example")
    with store.session_scope(s.engine) as session:
        a = store.add_neighbourhood(session, name="Lorient centre")
        b = store.add_neighbourhood(session, name="Quartier B")
        s.hoods = {"A": a.id, "B": b.id}  # type: ignore[attr-defined]
    add_pilot(s, "pilote-a@b.example", s.hoods["A"])  # type: ignore[attr-defined]
    add_pilot(s, "pilote-b@b.example", s.hoods["B"])  # type: ignore[attr-defined]
    yield s
    s.engine.dispose()


def _hood(site: Site) -> int:
    return int(site.hoods["A"])  # type: ignore[attr-defined]


def _stored(site: Site) -> tuple[str | None, str | None]:
    with store.session_scope(site.engine) as s:
        hood = s.get(store.Neighbourhood, _hood(site))
        assert hood is not None
        return hood.territory_wkt, hood.osm_extract


def _send_outline(client, hood: int, content: bytes, name: str = "contour.geojson"):
    csrf = csrf_of(client.get(f"/espace/quartiers/{hood}/contour").text)
    return client.post(
        f"/espace/quartiers/{hood}/contour",
        data={"csrf": csrf},
        files={"fichier": (name, content, "application/geo+json")},
    )


def _send_extract(client, hood: int, content: bytes, name: str):
    csrf = csrf_of(client.get(f"/espace/quartiers/{hood}/extrait").text)
    return client.post(
        f"/espace/quartiers/{hood}/extrait",
        data={"csrf": csrf},
        files={"fichier": (name, content, "application/octet-stream")},
    )


def _expected(path: Path) -> dict[str, int]:
    territory = Territory(
        name="x", geometry=territory_from_geojson(json.loads(OUTLINE.read_text())), source="t"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(path, territory=territory).layers
    buildings = layers["buildings"]
    residential = buildings[buildings["residential"].astype(bool)]
    homes = residential[residential.representative_point().intersects(territory.geometry)]
    return {
        "buildings": len(buildings),
        "homes": len(homes),
        "transit_stops": len(layers["transit_stops"]),
        "amenities": len(layers["amenities"]),
    }


def _count(html: str, name: str) -> str:
    found = re.search(rf'data-count="{name}">([^<]*)<', html)
    assert found, html
    return found.group(1)


@pytest.mark.parametrize("source", ["lorient_centre.osm.pbf", "lorient_centre.osm.gz"])
def test_a_pilot_sets_outline_and_extract_and_sees_the_library_counts(
    site: Site, source: str
) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    hood = _hood(site)
    answer = _send_outline(pilot, hood, OUTLINE.read_bytes())
    assert answer.status_code == 303, answer.text
    assert _stored(site)[0] is not None
    page = pilot.get(answer.headers["location"])
    assert "Contour enregistré" in page.text
    assert "Contour du territoire</dt>\n  <dd>défini" in pilot.get(f"/espace/quartiers/{hood}").text

    path = shared("osm") / source
    sent = _send_extract(pilot, hood, path.read_bytes(), source)
    assert sent.status_code == 200, sent.text
    assert "Extrait accepté" in sent.text
    expected = _expected(path)
    assert re.search(r'id="logements">(\d+)<', sent.text).group(1) == str(expected["homes"])  # type: ignore[union-attr]
    assert _stored(site)[1] is not None
    layers = pilot.get(f"/espace/quartiers/{hood}/couches")
    assert layers.status_code == 200
    for name in ("buildings", "homes", "transit_stops"):
        assert _count(layers.text, name) == str(expected[name])
    amenity_rows = re.findall(
        r'<tr><th scope="row">[^<]+</th><td class="num">(\d+)</td></tr>',
        layers.text.split("amenity-counts", 1)[1],
    )
    assert sum(int(n) for n in amenity_rows) == expected["amenities"]
    assert "Commerce alimentaire" in layers.text
    assert "atteignent le bord de l&#39;extrait" in layers.text
    assert "/work/" not in layers.text
    streets = pilot.get(f"/espace/quartiers/{hood}/contour/rues.json").json()
    assert streets["streets"]["type"] == "FeatureCollection" and streets["territory"]
    carte = pilot.get(f"/cartes/quartiers/{hood}/couches")
    assert carte.status_code == 200 and "leaflet" in carte.text.lower()
    assert "'unsafe-inline'" in carte.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in carte.headers["content-security-policy"]


def test_a_drawn_outline_is_saved(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    hood = _hood(site)
    csrf = csrf_of(admin.get(f"/espace/quartiers/{hood}/contour").text)
    drawn = json.loads(OUTLINE.read_text())
    answer = admin.post(
        f"/espace/quartiers/{hood}/contour", data={"csrf": csrf, "geojson": json.dumps(drawn)}
    )
    assert answer.status_code == 303
    assert _stored(site)[0] is not None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            json.dumps({"type": "LineString", "coordinates": [[-3.36, 47.75], [-3.35, 47.746]]}),
            "polygone",
        ),
        ("pas du json <script>", "pas du GeoJSON lisible"),
        (
            json.dumps(
                {"type": "Polygon", "coordinates": [[[10, 10], [10.01, 10], [10, 10.01], [10, 10]]]}
            ),
            "France",
        ),
    ],
)
def test_a_bad_outline_gets_its_french_message_and_changes_nothing(
    site: Site, content: str, words: str
) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    answer = _send_outline(pilot, _hood(site), content.encode())
    assert answer.status_code == 400
    assert words in answer.text, answer.text
    assert "<script>" not in answer.text.split("<main", 1)[1]
    assert _stored(site) == (None, None)


def test_a_bad_extract_gets_its_french_message_and_changes_nothing(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    hood = _hood(site)
    assert _send_outline(pilot, hood, OUTLINE.read_bytes()).status_code == 303
    before = _stored(site)
    garbage = _send_extract(pilot, hood, b"ceci n'est pas un extrait " * 50, "x.osm.pbf")
    assert garbage.status_code == 400 and 'class="error"' in garbage.text
    assert "Traceback" not in garbage.text and "/tmp" not in garbage.text
    nantes = _send_extract(
        pilot, hood, (shared("osm") / "nantes_hypercentre.osm.pbf").read_bytes(), "n.osm.pbf"
    )
    assert nantes.status_code == 400 and "couvre" in nantes.text, nantes.text
    # a file over the service's general body limit (1 MB) reaches the page, which judges it
    large = _send_extract(pilot, hood, b"<osm>" + b" " * 1_500_000, "grand.osm")
    assert large.status_code == 400 and 'class="error"' in large.text, large.text[:300]
    empty = _send_extract(pilot, hood, b"", "")
    assert empty.status_code == 400 and "Aucun fichier" in empty.text
    assert _stored(site) == before
    folder = Path(site.app.state.settings.osm_dir)  # type: ignore[attr-defined]
    assert [p.name for p in folder.iterdir()] == []


def test_another_team_gets_404_on_every_url(site: Site) -> None:
    other = signed_in_client(site, "pilote-b@b.example")
    hood = _hood(site)
    csrf = csrf_of(other.get("/espace").text)
    for path in ("contour", "extrait", "couches", "contour/rues.json"):
        answer = other.get(f"/espace/quartiers/{hood}/{path}")
        assert answer.status_code == 404, path
        assert "Lorient centre" not in answer.text
    assert other.get(f"/cartes/quartiers/{hood}/couches").status_code == 404
    for path in ("contour", "extrait"):
        answer = other.post(
            f"/espace/quartiers/{hood}/{path}",
            data={"csrf": csrf},
            files={"fichier": ("c.geojson", OUTLINE.read_bytes(), "application/json")},
        )
        assert answer.status_code == 404, path
    assert _stored(site) == (None, None)


def test_forms_without_their_csrf_token_are_refused(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    hood = _hood(site)
    outline = pilot.post(
        f"/espace/quartiers/{hood}/contour",
        data={"csrf": "faux"},
        files={"fichier": ("c.geojson", OUTLINE.read_bytes(), "application/json")},
    )
    assert outline.status_code == 403 and "Formulaire refusé" in outline.text
    extract = pilot.post(
        f"/espace/quartiers/{hood}/extrait",
        files={"fichier": ("l.osm.pbf", (shared("osm") / "lorient_centre.osm.pbf").read_bytes())},
    )
    assert extract.status_code == 403 and "Formulaire refusé" in extract.text
    assert _stored(site) == (None, None)


def test_signed_out_visitors_are_sent_to_sign_in(site: Site) -> None:
    client = site.client()
    answer = client.get(f"/espace/quartiers/{_hood(site)}/contour")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/connexion")


def test_an_outline_from_a_commune_or_iris_codes(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    hood = _hood(site)
    csrf = csrf_of(pilot.get(f"/espace/quartiers/{hood}/contour").text)
    url = f"/espace/quartiers/{hood}/contour/codes"
    unknown = pilot.post(url, data={"csrf": csrf, "commune": "56999"})
    assert unknown.status_code == 400 and 'role="alert"' in unknown.text
    missing = pilot.post(url, data={"csrf": csrf, "commune": "13055"})
    assert missing.status_code == 400 and "département 13" in missing.text
    bad = pilot.post(url, data={"csrf": csrf, "iris": "<b>"})
    assert bad.status_code == 400 and "<b>" not in bad.text.split("<main", 1)[1]
    assert _stored(site) == (None, None)
    refused = pilot.post(url, data={"csrf": "faux", "commune": "56121"})
    assert refused.status_code == 403
    done = pilot.post(url, data={"csrf": csrf, "commune": "56121"})
    assert done.status_code == 303, done.text
    wkt = _stored(site)[0]
    assert wkt is not None
    import shapely

    from qet_geo.inputs.territory import territory_from_commune

    expected = territory_from_commune(
        "56121", shared("census") / "communes" / "communes-56-morbihan.geojson"
    ).geometry
    assert abs(shapely.from_wkt(wkt).area - expected.area) / expected.area < 1e-3
    iris = pilot.post(url, data={"csrf": csrf, "iris": "751145620"})
    assert iris.status_code == 303, iris.text


def test_staff_read_the_layers_but_set_nothing_as_the_api_allows(site: Site) -> None:
    with store.session_scope(site.engine) as s:
        from qet_geo.store import accounts

        accounts.create_user(s, email="staff@b.example", password="x" * 16, role="staff")
        hood = s.get(store.Neighbourhood, _hood(site))
        assert hood is not None
        hood.name = "<script>alert(1)</script>"
    staff = signed_in_client(site, "staff@b.example", "x" * 16)
    hood_id = _hood(site)
    layers = staff.get(f"/espace/quartiers/{hood_id}/couches")
    assert layers.status_code == 200
    assert "<script>alert" not in layers.text and "&lt;script&gt;alert(1)" in layers.text
    for path in ("contour", "extrait"):
        assert staff.get(f"/espace/quartiers/{hood_id}/{path}").status_code == 403
    csrf = csrf_of(layers.text)
    sent = staff.post(
        f"/espace/quartiers/{hood_id}/contour",
        data={"csrf": csrf},
        files={"fichier": ("c.geojson", OUTLINE.read_bytes(), "application/json")},
    )
    assert sent.status_code == 403 and _stored(site) == (None, None)


def test_the_pages_speak_english_when_asked(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    pilot.cookies.set("qet_lang", "en")
    page = pilot.get(f"/espace/quartiers/{_hood(site)}/contour")
    assert "Draw the outline on the map" in page.text and "Draw a polygon" in page.text
    answer = _send_outline(pilot, _hood(site), b"{}")
    assert answer.status_code == 400 and 'lang="en"' in answer.text
