"""Every HTML route of the service, with neighbourhoods named by template and script payloads.

Issue 12, item 1: a neighbourhood named ``Kerv {{ cycler.__init__.__globals__.os.popen('id')
.read() }}`` ran ``id`` as the server user on ``GET /national/map`` (branca renders the map's
elements a second time as Jinja2 templates), ``{{ 7*7 }}`` showed 49 and ``Quartier {{ '``
gave a 500. The HTML routes (``grep -rn HTMLResponse api``: ``/national/map`` and
``/diagnostics/{id}/map``) are called here on both backends, as an admin and as the public,
with neighbourhoods created through the API under such names, placed on the map (tooltips) or
left out (the note listing them): 200, nothing evaluated, the names shown literally.
"""

from __future__ import annotations

import html

import pytest

from qet_geo.escaping import escape_html
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.conftest import BACKENDS, LORIENT_TERRITORY, _database_url, build_world
from tests.api.factories import su_csv
from tests.maps.test_maps import feature_collections, readable, tooltip_pairs
from tests.test_escaping import PAYLOADS, RCE, assert_inert

#: Placed on the map (tooltips) or left out (no territory: listed in a note).
PLACED = ("expression", "rce", "script", "quotes", "newlines")
LEFT_OUT = ("statement", "comment", "broken")


@pytest.fixture(scope="module", params=BACKENDS)
def named(request, tmp_path_factory):
    """A world with one published neighbourhood per payload, each with 12 answers, per backend."""
    tmp = tmp_path_factory.mktemp(request.param)
    w = build_world(_database_url(request, tmp), osm_dir=tmp / "osm")
    c = w.client
    h = w.headers("admin")
    engine = c.app.state.engine  # type: ignore[attr-defined]
    ids: dict[str, int] = {}
    diags: dict[str, int] = {}
    for i, key in enumerate(PLACED + LEFT_OUT):
        body = {"name": PAYLOADS[key], "published": True}
        if key in PLACED:
            body["territory"] = LORIENT_TERRITORY
        r = c.post("/neighbourhoods", json=body, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == PAYLOADS[key]  # stored and answered as given
        ids[key] = r.json()["id"]
        with store.session_scope(engine) as s:
            diag = store.Diagnostic(neighbourhood_id=ids[key], year=0)
            s.add(diag)
            s.flush()
            diags[key] = diag.id
        ingest.ingest_su(engine, diags[key], su_csv(12, seed=40 + i, prefix=f"X{i}"))
        _release(c, diags[key], h)
    w.named = ids  # type: ignore[attr-defined]
    w.named_diags = diags  # type: ignore[attr-defined]
    yield w
    engine.dispose()


def _release(client, diagnostic_id: int, headers: dict[str, str]) -> None:
    """Publish the diagnostic's figures, where figures are published as releases (issue 12)."""
    r = client.post(f"/diagnostics/{diagnostic_id}/releases", headers=headers)
    assert r.status_code in (201, 404), r.text  # 404: a service without releases


def _tip_names(page: str, key: str) -> list[str]:
    return [
        html.unescape(tooltip_pairs(c, f)[key])
        for c in feature_collections(page)
        for f in c["features"]
        if key in tooltip_pairs(c, f)
    ]


@pytest.mark.parametrize("who", ["admin", "public"])
def test_national_map_with_payload_names(named, who):
    w = named
    r = w.client.get("/national/map", headers=w.headers(who))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert_inert(page)
    names = _tip_names(page, "Quartier")
    for key in PLACED:  # an outline and a marker each, the name exactly as given
        assert names.count(PAYLOADS[key]) == 2, (key, names)
    text = readable(page)
    for key in LEFT_OUT:
        assert escape_html(PAYLOADS[key]) in text  # in the note of neighbourhoods left out
    assert "QETOWNEDRCE" not in page


def test_national_map_in_english_with_payload_names(named):
    w = named
    r = w.client.get("/national/map", headers={**w.headers("staff"), "Accept-Language": "en"})
    assert r.status_code == 200, r.text
    assert_inert(r.text)
    names = _tip_names(r.text, "Neighbourhood")
    assert {PAYLOADS[k] for k in PLACED} <= set(names)


def test_the_attack_of_the_issue_runs_nothing(named):
    """The name of the report, left out of the map (its note was the hole), renamed as is."""
    w = named
    h = w.headers("admin")
    r = w.client.post(
        "/neighbourhoods",
        json={
            "name": "Kerv {{ cycler.__init__.__globals__.os.popen('id').read() }}",
            "published": True,
        },
        headers=h,
    )
    assert r.status_code == 201
    engine = w.client.app.state.engine  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        diag = store.Diagnostic(neighbourhood_id=r.json()["id"], year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
    ingest.ingest_su(engine, diag_id, su_csv(12, seed=77, prefix="K"))
    _release(w.client, diag_id, h)
    page = w.client.get("/national/map", headers=h).text
    assert "uid=" not in page and "gid=" not in page
    assert escape_html("Kerv {{ cycler.__init__.__globals__.os.popen('id').read() }}") in page
    assert_inert(page)


def test_diagnostic_maps_of_payload_neighbourhoods(named):
    w = named
    for key in PLACED + LEFT_OUT:
        r = w.client.get(f"/diagnostics/{w.named_diags[key]}/map", headers=w.headers("admin"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert_inert(r.text)


def test_payloads_are_stored_and_listed_literally(named):
    """The JSON routes give the names back exactly (escaping is for pages, never for data)."""
    w = named
    listed = {
        n["id"]: n["name"]
        for n in w.client.get("/neighbourhoods", headers=w.headers("admin")).json()
    }
    for key, hood in w.named.items():
        assert listed[hood] == PAYLOADS[key]
    rows = {r["neighbourhood_id"]: r["name"] for r in w.client.get("/national").json()}
    for key, hood in w.named.items():
        assert rows[hood] == PAYLOADS[key]
    assert RCE in listed.values()
