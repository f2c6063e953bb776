"""The sample against the census and the census-weighted footprints, on the pages.

A published Paris neighbourhood whose IRIS are in the shared Paris census table (CSP only), with
two campaigns of labelled-synthetic answers carrying a CSP: year 0 published by its pilot
through the results page's form (which passes the shared data folder), year 1 by the store.
Beside it a published Lorient neighbourhood whose IRIS no shared table holds. The workspace's
results, the public diagnostic (the same release templates) and the impact page, in French and
English, with and without census.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from qet_geo.i18n import translate
from qet_geo.store import ingest
from qet_geo.store import models as store
from qet_geo.store.releases import create_release
from tests.api.factories import su_csv
from tests.store.test_census_figures import PARIS_IRIS, PARIS_TABLE, _csv
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import Site, add_pilot, csrf_of, make_site, signed_in_client
from tests.web.test_pages import _french_only, _Text

pytestmark = pytest.mark.skipif(not PARIS_TABLE.is_file(), reason="shared Paris census absent")

NAME = "Halles <script>alert(1)</script> {{ 7*7 }}"


@dataclass
class World:
    site: Site
    paris: int
    lorient: int


def _campaign(engine: object, hood: int, year: int) -> int:
    with store.session_scope(engine) as s:  # type: ignore[arg-type]
        diag = store.Diagnostic(neighbourhood_id=hood, year=year)
        s.add(diag)
        s.flush()
        return diag.id


def _synthetic(engine: object, diag: int) -> None:
    with store.session_scope(engine) as s:  # type: ignore[arg-type]
        s.execute(
            update(store.Diagnostic).where(store.Diagnostic.id == diag).values(synthetic=True)
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("census"))
    engine = site.engine
    shared = site.app.state.shared_data  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        paris = store.add_neighbourhood(s, name=NAME, iris_codes=PARIS_IRIS).id
        lorient = store.add_neighbourhood(s, name="Lorient", iris_codes=["561210101"]).id
    first = _campaign(engine, paris, 0)
    ingest.ingest_su(engine, first, _csv(80, seed=11))
    add_pilot(site, "pilote@halles.example", paris)
    pilot = signed_in_client(site, "pilote@halles.example")
    page = pilot.get(f"/espace/quartiers/{paris}/resultats")
    assert page.status_code == 200, page.text
    done = pilot.post(
        f"/espace/quartiers/{paris}/resultats/publier",
        data={"csrf": csrf_of(page.text), "confirmer": "oui"},
    )
    assert done.status_code == 303, done.text
    second = _campaign(engine, paris, 1)
    ingest.ingest_su(engine, second, _csv(95, seed=12))
    create_release(engine, second, shared_data=shared)
    for year in (0, 1):
        diag = _campaign(engine, lorient, year)
        homes = ((-3.360, 47.749, 30 + 10 * year), (-3.358, 47.752, 20))
        ingest.ingest_su(
            engine,
            diag,
            su_csv(50 + 10 * year, seed=5 + year, prefix=f"SYN-{year}", clusters=homes),
        )
        _synthetic(engine, diag)
        create_release(engine, diag, shared_data=shared)
    with store.session_scope(engine) as s:
        for hood, slug in ((paris, "halles"), (lorient, "lorient")):
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == hood)
                .values(slug=slug, published=True)
            )
    yield World(site, paris, lorient)
    engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    text = re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html)))
    return text.replace("&#39;", "'").replace("\u202f", " ").replace("\xa0", " ")


def _census(html: str) -> str:
    return _main(html).split('id="titre-recensement-publication"', 1)[1].split("</section>", 1)[0]


def _percentages(html: str) -> list[float]:
    found = re.findall(r"(\d+(?:,\d)?)\s*%", re.sub(r"<[^>]+>", " ", html).replace("\u202f", " "))
    return [float(v.replace(",", ".")) for v in found]


def test_the_public_diagnostic_compares_the_sample_with_the_census(world: World) -> None:
    page = world.site.client().get("/q/halles/diagnostic/0")
    assert page.status_code == 200, page.text
    section = _census(page.text)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)).replace("&#39;", "'")
    assert "L'échantillon et le recensement" in _text(page.text)
    assert PARIS_TABLE.name in text and "751010201" in text
    assert "Catégorie socio-professionnelle" in text
    assert "Cadres et professions intellectuelles supérieures" in text
    assert "pondéré par le recensement" in text and "taille d'échantillon effective" in text
    assert "ne corrige pas" in text
    # no share of the sample stands for 1 to 10 respondents (80 of them)
    rows = section.split("<caption>", 2)[1].split("</table>", 1)[0].split("<tr>")[2:]
    for row in rows:
        sample = _percentages(row)[0]
        count = round(sample * 80 / 100)
        assert count == 0 or count >= 11, row
    assert "<script>alert" not in page.text


def test_the_workspace_shows_the_same_section(world: World) -> None:
    pilot = signed_in_client(world.site, "pilote@halles.example")
    page = pilot.get(f"/espace/quartiers/{world.paris}/resultats")
    assert page.status_code == 200
    assert 'id="titre-recensement-publication"' in page.text
    # the live preview compares the would-be release with the census too
    live = _main(page.text).split('id="titre-recensement-apercu"', 1)[1].split("</section>", 1)[0]
    assert "Cadres et professions intellectuelles supérieures" in live
    assert "pondéré par le recensement" in live
    # the IRIS are part of what the preview's view is kept by: without them, it says why
    with store.session_scope(world.site.engine) as s:
        s.get_one(store.Neighbourhood, world.paris).iris_codes = []
    try:
        again = _main(pilot.get(f"/espace/quartiers/{world.paris}/resultats").text)
        live = again.split('id="titre-recensement-apercu"', 1)[1].split("</section>", 1)[0]
        assert "le quartier n&#39;a pas de codes IRIS" in live
    finally:
        with store.session_scope(world.site.engine) as s:
            s.get_one(store.Neighbourhood, world.paris).iris_codes = PARIS_IRIS


def test_without_census_the_diagnostic_says_how_to_add_one(world: World) -> None:
    page = world.site.client().get("/q/lorient/diagnostic/0")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _census(page.text))).replace("&#39;", "'")
    assert "Non pondéré : aucune table du recensement ne couvre les IRIS du quartier" in text
    assert "QET_SHARED_DATA" in text and "publie à nouveau" in text


def test_the_impact_page_shows_the_weighted_change(world: World) -> None:
    page = world.site.client().get("/q/halles/impact")
    assert page.status_code == 200, page.text
    part = _main(page.text).split('id="titre-pondere"', 1)[1].split("</section>", 1)[0]
    for label in ("Mobilité quotidienne", "Total des six usages"):
        assert label in part
    assert re.search(r"de [−+]?[\d  ]+ à [−+]?[\d  ]+", part)
    assert "taille effective" in part
    text = _text(page.text)
    assert "Ce que la pondération ne corrige pas" in text
    assert "Ce que cette comparaison ne prouve pas" in text


def test_the_impact_page_says_why_it_is_not_weighted(world: World) -> None:
    page = world.site.client().get("/q/lorient/impact")
    assert page.status_code == 200
    part = _text(page.text).split("Le changement pondéré par le recensement", 1)[1]
    assert part.lstrip().startswith("Pas de comparaison pondérée par le recensement")
    assert "titre-changement" in page.text  # the unweighted comparison stays


def test_the_pages_in_english_keep_no_french(world: World) -> None:
    from api.web._kit import TEMPLATES

    ours = re.findall(r'_\("([^"]+)"', (TEMPLATES / "release_census.html").read_text())
    assert ours and not [t for t in ours if translate(t, "en") == t and t != "Usage"]
    french = _french_only()
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    for url in ("/q/halles/diagnostic/0", "/q/lorient/diagnostic/1", "/q/halles/impact",
                "/q/lorient/impact"):  # fmt: skip
        page = client.get(url)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{url}: {left}"
    text = _text(client.get("/q/halles/impact").text)
    assert "weighted" in text.lower()


@pytest.mark.parametrize("url", ["/q/inconnu/impact", "/q/inconnu/diagnostic/0"])
def test_unknown_portals_are_404(world: World, url: str) -> None:
    assert world.site.client().get(url).status_code == 404


# --------------------------------------------------------------------------------------------------
# in a real browser


def test_the_census_sections_in_a_browser(page: Page, watch: Watch, live_app: LiveApp) -> None:
    """The public diagnostic's census section and the impact page's weighted change, on a
    phone's width, in French and English: axe-core finds nothing, no outside request."""
    engine = live_app.app.state.engine
    shared = live_app.app.state.shared_data
    with store.session_scope(engine) as s:
        paris = store.add_neighbourhood(s, name="Halles", iris_codes=PARIS_IRIS).id
    for year, n in ((0, 80), (1, 95)):
        diag = _campaign(engine, paris, year)
        ingest.ingest_su(engine, diag, _csv(n, seed=20 + year))
        create_release(engine, diag, shared_data=shared)
    with store.session_scope(engine) as s:
        s.execute(
            update(store.Neighbourhood)
            .where(store.Neighbourhood.id == paris)
            .values(slug="halles", published=True)
        )
    page.set_viewport_size({"width": 360, "height": 740})
    seen: list[tuple[str, list[str]]] = []

    def checked() -> None:
        page.wait_for_load_state("load")
        seen.append((page.url, [f"{v['id']} ({v['impact']}) {v['targets']}" for v in axe(page)]))

    page.goto("/q/halles/diagnostic/0")
    heading = page.locator("#titre-recensement-publication")
    expect(heading).to_have_text("L'échantillon et le recensement", timeout=20_000)
    expect(page.locator("main")).to_contain_text("pondéré par le recensement")
    checked()
    page.goto("/q/halles/impact")
    expect(page.locator("#titre-pondere")).to_be_visible(timeout=20_000)
    expect(page.locator("main")).to_contain_text("Ce que la pondération ne corrige pas")
    checked()
    page.get_by_role("link", name="English").click()
    expect(page.locator("#titre-pondere")).to_have_text(
        "The census-weighted change", timeout=20_000
    )
    checked()
    page.goto("/q/halles/diagnostic/0")
    expect(page.locator("#titre-recensement-publication")).to_have_text(
        "The sample and the census", timeout=20_000
    )
    checked()
    assert [s for s in seen if s[1]] == [], seen
    watch.assert_no_outside_request()
    watch.assert_no_error()


def test_older_releases_and_other_tables_say_why_in_words() -> None:
    from api.web.analysis import census_view
    from qet_geo.store.census_figures import weighted_release_changes

    old = census_view({}, {"total": 5000.0}, live=False, lang="fr")
    assert old["status"] == "none" and "une nouvelle publication la calculera" in old["note"]
    live = census_view({}, {}, live=True, lang="en")
    assert live["note"] == (
        "The comparison with the census and the weighted footprints are computed at publication."
    )
    for reason in ("no_folder", "no_iris", "no_table", "no_variable"):
        note = census_view({"status": reason}, {}, live=False, lang="fr")["note"]
        assert note.startswith("Non pondéré"), reason
    moments = {"total_kgco2e": {"n": 20.0, "sum_w": 20.0, "sum_wx": 1e5, "sum_wx2": 6e8,
                                "sum_w2": 25.0, "effective_n": 16.0}}  # fmt: skip
    a = {"census_moments": moments, "census_source": ["a.csv", ["751010201"]]}
    b = {"census_moments": moments, "census_source": ["b.csv", ["751010201"]]}
    assert weighted_release_changes(a, b) == "other_table"
    table = weighted_release_changes(a, a)
    assert not isinstance(table, str) and float(table.loc["total_kgco2e", "delta"]) == 0.0
