"""The network's public pages ``/reseau`` and ``/reseau/quartiers`` (and its CSV).

A world of published neighbourhoods placed where the shared extracts are (Lorient centre, Nantes
hypercentre, Pont-de-Veyle, Saudron), each with a released campaign of labelled-synthetic answers
(:func:`tests.web.test_impact.campaigns`) and built constraints in its release's summary; beside
them a published neighbourhood whose campaign has no release, one released on the old NEAR scale,
and an unpublished one. No account is used to read the pages.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyproj import Transformer
from shapely.geometry import box
from sqlalchemy import update

from api.models import NationalRow
from qet_geo.i18n import number, translate
from qet_geo.store import models as store
from qet_geo.store.portal import set_phase
from tests.web.test_accounts import Site, make_site
from tests.web.test_impact import campaigns
from tests.web.test_pages import _french_only, _Text

EVIL = "Lorient <script>alert(1)</script> {{ 7*7 }}"
#: The shared extracts' towns (lon, lat): the neighbourhoods' outlines are squares around them.
TOWNS = {
    "lorient-centre": (EVIL, (-3.364, 47.748)),
    "nantes-hypercentre": ("Nantes hypercentre", (-1.556, 47.215)),
    "pont-de-veyle": ("Pont-de-Veyle", (4.888, 46.264)),
    "saudron": ("Saudron rural", (5.306, 48.491)),
    "vieille-echelle": ("Vieille échelle", (-1.680, 48.110)),
}
CONSTRAINTS = {
    "lorient-centre": {"food_shop_min": 4.0, "transit_stop_m": 150.0},
    "nantes-hypercentre": {"food_shop_min": 3.0, "transit_stop_m": 120.0},
    "pont-de-veyle": {"food_shop_min": 9.0, "transit_stop_m": 900.0},
    "saudron": {"food_shop_min": 25.0, "transit_stop_m": 4000.0},
}


@dataclass
class World:
    site: Site
    ids: dict[str, int]


def _square(lon: float, lat: float, side_m: float = 800.0) -> str:
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)
    return box(x - side_m / 2, y - side_m / 2, x + side_m / 2, y + side_m / 2).wkt


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("network"))
    api = site.client()
    engine = site.engine
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
    ids = {}
    for year, (slug, (name, _)) in enumerate(TOWNS.items()):
        # one campaign year each: other answers (the fixture's seed follows the year)
        ids[slug], _ = campaigns(api, engine, osm_dir, staff, name=name, slug=slug, years=(year,))
    ids["cache"], _ = campaigns(
        api,
        engine,
        osm_dir,
        staff,
        name="Quartier caché",
        slug="cache",
        years=(0,),
        published=False,
    )
    # published, with a campaign but no release
    waiting = api.post("/neighbourhoods", json={"name": "En attente"}, headers=staff).json()["id"]
    api.post(f"/neighbourhoods/{waiting}/diagnostics", json={"year": 0}, headers=staff)
    ids["en-attente"] = waiting
    with store.session_scope(engine) as s:
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == waiting)
            .values(slug="en-attente", published=True)
        )
        for slug, (_, (lon, lat)) in TOWNS.items():
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == ids[slug])
                .values(territory_wkt=_square(lon, lat))
            )
            diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=ids[slug]).one()
            release = s.query(store.Release).filter_by(diagnostic_id=diag.id).one()
            summary = {**release.summary, "constraints": CONSTRAINTS.get(slug, {})}
            if slug == "vieille-echelle":  # as migration 0012 labels a release made before it
                summary["scale"] = "near"
            release.summary = summary
        set_phase(s, ids["lorient-centre"], "diagnostic", state="done")
        set_phase(s, ids["lorient-centre"], "forum", state="current")
        set_phase(s, ids["en-attente"], "diagnostic", state="current")
    yield World(site, ids)
    engine.dispose()


def _national(world: World) -> dict[str, NationalRow]:
    """The public ``GET /national``, by neighbourhood name."""
    answer = world.site.client().get("/national")
    assert answer.status_code == 200
    return {r.name: r for r in (NationalRow.model_validate(x) for x in answer.json())}


def _row_names(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    names = re.findall(r'<th scope="row">(?:<a href="[^"]*">)?(.*?)(?:</a>)?</th>', body)
    return [_unescape(n) for n in names]


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def _rows(html: str) -> dict[str, str]:
    """Each table row's HTML, by neighbourhood name."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        name = re.search(r'<th scope="row">(?:<a href="[^"]*">)?(.*?)(?:</a>)?</th>', row)
        assert name
        out[_unescape(name.group(1))] = row
    return out


def test_home_links_to_the_neighbourhoods(world: World) -> None:
    page = world.site.client().get("/reseau")
    assert page.status_code == 200
    assert 'href="/reseau/quartiers"' in page.text and "<h1>" in page.text


def test_the_table_has_the_national_figures(world: World) -> None:
    national = _national(world)
    page = world.site.client().get("/reseau/quartiers")
    assert page.status_code == 200
    rows = _rows(page.text)
    compared = [r for r in national.values() if r.compared and r.n_respondents]
    assert len(compared) == 4
    for row in compared:
        html = rows[row.name]
        total = row.mean_kgco2e["total"]
        assert total is not None
        assert f'<td class="num">{number(total, decimals=0).render("fr")}</td>' in html
        assert f'<td class="num">{row.n_respondents}</td>' in html
        assert f"Type {row.type + 1}" in html
        for share in row.profile_mix.values():
            if share is not None:
                assert f"{number(100 * share, decimals=0).render('fr')} %" in html
    # the CSV gives the API's numbers themselves
    sheet = world.site.client().get("/reseau/quartiers.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    table = {
        r["neighbourhood"]: r
        for r in csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))
    }
    for row in compared:
        line = table[row.name]
        assert int(line["n_respondents"]) == row.n_respondents
        for usage, value in row.mean_kgco2e.items():
            assert line[f"{usage}_kgco2e"] == ("" if value is None else str(value))
        for key, value in row.profile_mix.items():
            assert line[f"mix_{key}"] == ("" if value is None else str(value))
        for key, value in row.constraints.items():
            assert line[key] == ("" if value is None else str(value))
        assert int(line["type"]) == row.type + 1
        assert int(line["rank_total_kgco2e"]) == row.rank_total_kgco2e
        assert line["synthetic"] == "yes"
    # the typology separates the towns from the village and the countryside
    assert national["Saudron rural"].type != national["Nantes hypercentre"].type


def test_sorting_by_a_column(world: World) -> None:
    national = _national(world)
    client = world.site.client()
    page = client.get("/reseau/quartiers?tri=total&ordre=desc")
    names = _row_names(page.text)
    compared = sorted(
        (r for r in national.values() if r.compared and r.n_respondents),
        key=lambda r: -(r.mean_kgco2e["total"] or 0),
    )
    assert names[: len(compared)] == [r.name for r in compared]
    # without a figure: last, whatever the order
    assert set(names[len(compared) :]) == {"Vieille échelle", "En attente"}
    head = re.search(r'<th scope="col" aria-sort="descending"><a href="([^"]+)">', page.text)
    assert head and "tri=total&amp;ordre=asc" in head.group(1)
    assert page.text.count("aria-sort=") == 1
    ascending = _row_names(client.get("/reseau/quartiers?tri=total&ordre=asc").text)
    assert ascending[: len(compared)] == [r.name for r in reversed(compared)]
    by_name = _row_names(client.get("/reseau/quartiers").text)
    assert by_name[:3] == ["En attente", EVIL, "Nantes hypercentre"]
    assert 'aria-sort="ascending"' in client.get("/reseau/quartiers").text
    # an unknown column or order: by name, no error
    odd = client.get("/reseau/quartiers?tri=<script>&ordre=sideways")
    assert odd.status_code == 200 and _row_names(odd.text) == by_name
    assert "<script>&" not in odd.text


def test_a_neighbourhood_without_a_release_shows_its_name_and_phase(world: World) -> None:
    rows = _rows(world.site.client().get("/reseau/quartiers").text)
    waiting = rows["En attente"]
    assert "Pas encore de diagnostic publié." in waiting and "Diagnostic" in waiting
    assert 'class="num"' not in waiting and 'href="/q/en-attente"' in waiting
    old = rows["Vieille échelle"]
    assert "NEAR" in old and 'class="num"' not in old
    assert "Forum : exposition et vote" in rows[EVIL]
    assert "Pas encore commencée" in rows["Saudron rural"]


def test_an_unpublished_neighbourhood_is_neither_listed_nor_linked(world: World) -> None:
    client = world.site.client()
    page = client.get("/reseau/quartiers").text
    assert "Quartier caché" not in page and "/q/cache" not in page
    assert "Quartier caché" not in client.get("/reseau/quartiers.csv").text
    # published again: listed and linked at the next request (the page's cache follows the store)
    with store.session_scope(world.site.engine) as s:
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == world.ids["cache"])
            .values(published=True)
        )
    try:
        world.site.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
        assert 'href="/q/cache"' in client.get("/reseau/quartiers").text
    finally:
        with store.session_scope(world.site.engine) as s:
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == world.ids["cache"])
                .values(published=False)
            )
        world.site.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
    assert "Quartier caché" not in client.get("/reseau/quartiers").text


def test_names_are_escaped(world: World) -> None:
    client = world.site.client()
    page = client.get("/reseau/quartiers").text
    assert "<script>alert(1)" not in page
    assert "Lorient &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page
    sheet = client.get("/reseau/quartiers.csv").content.decode("utf-8-sig")
    assert EVIL in sheet  # a CSV is data: the name as the team wrote it


def test_a_name_is_never_a_formula_in_the_csv(world: World) -> None:
    with store.session_scope(world.site.engine) as s:
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == world.ids["saudron"])
            .values(name="=HYPERLINK(1)")
        )
    try:
        world.site.app.state.aggregates.national.expire()  # type: ignore[attr-defined]
        sheet = world.site.client().get("/reseau/quartiers.csv").content.decode("utf-8-sig")
        assert "'=HYPERLINK(1)" in sheet
    finally:
        with store.session_scope(world.site.engine) as s:
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == world.ids["saudron"])
                .values(name="Saudron rural")
            )
        world.site.app.state.aggregates.national.expire()  # type: ignore[attr-defined]


def test_synthetic_figures_are_labelled(world: World) -> None:
    page = world.site.client().get("/reseau/quartiers").text
    assert 'class="synthetic" role="note"' in page and "Données synthétiques" in page
    rows = _rows(page)
    for name in ("Nantes hypercentre", "Pont-de-Veyle", "Saudron rural", EVIL):
        assert "tag-synthetic" in rows[name]
    assert "hood-synthetic" in page


def test_the_map_places_each_published_neighbourhood(world: World) -> None:
    page = world.site.client().get("/reseau/quartiers").text
    svg = page.split('<svg class="france-svg"', 1)[1].split("</svg>", 1)[0]
    background = re.search(r'<image href="(/reseau/carte-france\.svg\?v=\w+)"', svg)
    assert background
    client = world.site.client()
    outlines = client.get(background.group(1))
    assert outlines.status_code == 200 and outlines.headers["content-type"] == "image/svg+xml"
    assert outlines.text.count('<path d="M') == 2 and "max-age" in outlines.headers["cache-control"]
    again = client.get(background.group(1), headers={"If-None-Match": outlines.headers["etag"]})
    assert again.status_code == 304 and not again.content
    links = re.findall(r'<a href="(/q/[^"]+)"', svg)
    assert sorted(links) == sorted(f"/q/{slug}" for slug in TOWNS)
    points = {
        href: (float(x), float(y))
        for href, x, y in re.findall(
            r'<a href="(/q/[^"]+)"[^>]*><circle class="[^"]*" cx="([\d.]+)" cy="([\d.]+)"', svg
        )
    }
    # west to east, and north to south, as on the ground
    assert points["/q/lorient-centre"][0] < points["/q/nantes-hypercentre"][0]
    assert points["/q/nantes-hypercentre"][0] < points["/q/pont-de-veyle"][0]
    assert points["/q/saudron"][1] < points["/q/pont-de-veyle"][1]
    assert "En attente" in page.split("<figcaption>", 1)[1].split("</figcaption>", 1)[0]


def test_without_the_outlines_the_page_says_so_and_shows_the_table(
    world: World, tmp_path: Path
) -> None:
    state = world.site.app.state  # type: ignore[attr-defined]
    before = state.shared_data
    state.shared_data = tmp_path  # an empty shared data folder
    try:
        page = world.site.client().get("/reseau/quartiers")
    finally:
        state.shared_data = before
    assert page.status_code == 200
    assert "<svg" not in page.text and "La carte ne peut pas être dessinée" in page.text
    state.shared_data = tmp_path
    try:
        assert world.site.client().get("/reseau/carte-france.svg").status_code == 404
    finally:
        state.shared_data = before
    assert "regions-version-simplifiee.geojson" in page.text
    assert len(_row_names(page.text)) == 6
    assert "<svg" in world.site.client().get("/reseau/quartiers").text


def test_pages_in_english(world: World) -> None:
    from api.web._kit import TEMPLATES

    for name in ("reseau_quartiers.html", "reseau_home.html"):
        ours = re.findall(r'_\("([^"]+)"', (TEMPLATES / name).read_text())
        assert ours and not [t for t in ours if translate(t, "en") == t], name
    french = _french_only()
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    for path in ("/reseau", "/reseau/quartiers", "/reseau/quartiers?tri=total&ordre=desc"):
        page = client.get(path)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{path}: {left}"
    page = client.get("/reseau/quartiers").text
    assert "Synthetic data" in page and "Total footprint" in page


def test_concurrent_readers_share_the_store_query(world: World) -> None:
    """Requests that arrive together await one fingerprint query per round, not one each, and
    all get the same page."""
    import asyncio

    import httpx
    from sqlalchemy import event

    engine = world.site.engine
    queries: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "max(releases.id)" in statement.lower():
            queries.append(statement)

    async def read() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=world.site.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.get("/reseau/quartiers") for _ in range(20)))

    event.listen(engine, "before_cursor_execute", count)
    try:
        answers = asyncio.run(read())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [a.status_code for a in answers] == [200] * 20
    assert len({a.text for a in answers}) == 1 and "Saudron rural" in answers[0].text
    assert 1 <= len(queries) < 20


def test_synthetic_neighbourhoods_are_listed_apart_from_real_ones(world: World) -> None:
    """With a real release among synthetic ones, the synthetic neighbourhoods are listed with
    their badge and no figure (as GET /national leaves them out), the real one keeps its figures."""
    engine = world.site.engine
    national = world.site.app.state.aggregates.national  # type: ignore[attr-defined]

    def label(synthetic: bool) -> None:
        with store.session_scope(engine) as s:
            diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=world.ids["saudron"]).one()
            release = s.query(store.Release).filter_by(diagnostic_id=diag.id).one()
            release.summary = {**release.summary, "synthetic": synthetic}
            diag.synthetic = synthetic
        national.expire()

    label(False)
    try:
        rows = _national(world)
        page = world.site.client().get("/reseau/quartiers").text
    finally:
        label(True)
    assert rows["Saudron rural"].compared and not rows["Nantes hypercentre"].compared
    html = _rows(page)
    assert 'class="num"' in html["Saudron rural"] and "tag-synthetic" not in html["Saudron rural"]
    for name in ("Nantes hypercentre", "Pont-de-Veyle", EVIL):
        assert "tag-synthetic" in html[name] and 'class="num"' not in html[name]
        assert "non comparé aux quartiers dont les réponses sont réelles" in html[name]
    assert "marqués « synthétique »" in page
