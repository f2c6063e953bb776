"""The public portal of a territory, ``/q/{slug}``: home, diagnostic pages and their CSV file.

A published neighbourhood over the shared Lorient extract with its territory, labelled-synthetic
answers analysed and released through the API (as the team's pages do), a portal address and
phases set in the store; beside it an unpublished neighbourhood with an address, and a published
one whose campaign has no release. No account is used to read the portal.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.models import FootprintsOut, ProfilesOut
from qet_geo.i18n import day, number, translate
from qet_geo.store import models as store
from qet_geo.store.portal import PHASES, set_phase
from qet_geo.surveys.schema import USAGE_LABELS, USAGES
from tests.api.conftest import LORIENT_TERRITORY
from tests.api.factories import su_csv
from tests.conftest import shared
from tests.web.test_accounts import Site, make_site
from tests.web.test_pages import _french_only, _Text

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"
NOTE = (
    "Rendez-vous **salle B**.\n\n<script>alert(2)</script> {{ 7*7 }}\n\n[plan](javascript:alert(3))"
)


@dataclass
class World:
    site: Site
    hood: int
    diag: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("portal"))
    api = site.client()
    with store.session_scope(site.engine) as s:
        staff = {"Authorization": f"Bearer {store.create_token(s, role='staff')}"}
    hood = api.post(
        "/neighbourhoods", json={"name": NAME, "territory": LORIENT_TERRITORY}, headers=staff
    ).json()["id"]
    hidden = api.post("/neighbourhoods", json={"name": "Caché"}, headers=staff).json()["id"]
    waiting = api.post(
        "/neighbourhoods", json={"name": "En attente", "territory": LORIENT_TERRITORY},
        headers=staff,
    ).json()["id"]  # fmt: skip
    with store.session_scope(site.engine) as s:
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood, waiting])
    pilot = {"Authorization": f"Bearer {token}"}
    done = api.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=shared("osm", "lorient_centre.osm.pbf").read_bytes(),
        headers={**pilot, "Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 200, done.text
    diag = api.post(f"/neighbourhoods/{hood}/diagnostics", json={"year": 0}, headers=pilot).json()
    homes = ((-3.360, 47.749, 30), (-3.358, 47.752, 20))
    sent = api.post(
        f"/diagnostics/{diag['id']}/uploads",
        content=su_csv(50, seed=5, clusters=homes),
        headers=pilot,
    )
    assert sent.status_code == 201, sent.text
    with store.session_scope(site.engine) as s:
        s.execute(
            update(store.Diagnostic).where(store.Diagnostic.id == diag["id"]).values(synthetic=True)
        )
    run = api.post(f"/diagnostics/{diag['id']}/run", headers=pilot)
    assert run.status_code in (200, 202), run.text
    job = api.get(f"/diagnostics/{diag['id']}/job", headers=pilot).json()
    assert job["status"] == "done", job
    released = api.post(f"/diagnostics/{diag['id']}/releases", headers=pilot)
    assert released.status_code == 201, released.text
    # a campaign without a release
    api.post(f"/neighbourhoods/{waiting}/diagnostics", json={"year": 0}, headers=pilot)
    with store.session_scope(site.engine) as s:
        for hid, slug, published in (
            (hood, "lorient-centre", True),
            (hidden, "cache", False),
            (waiting, "en-attente", True),
        ):
            s.execute(
                update(store.Neighbourhood)
                .where(store.Neighbourhood.id == hid)
                .values(slug=slug, published=published)
            )
        set_phase(s, hood, "diagnostic", state="done", starts_on=date(2026, 9, 1),
                  ends_on=date(2026, 11, 30), place="Maison de quartier")  # fmt: skip
        set_phase(s, hood, "forum", state="current", starts_on=date(2026, 12, 1), note=NOTE)
        set_phase(s, hood, "inspiration", state="planned", starts_on=date(2027, 3, 10),
                  place="École <b>Bisson</b>")  # fmt: skip
        set_phase(s, hood, "sensibilisation", state="planned", starts_on=date(2027, 1, 15))
    yield World(site, hood, diag["id"])
    site.engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    text = re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", _main(html)))
    return text.replace("&#39;", "'")


def test_home_shows_name_outline_phases_figures_and_next_events(world: World) -> None:
    page = world.site.client().get("/q/lorient-centre")
    assert page.status_code == 200, page.text
    html = page.text
    # the name, escaped; no template expression evaluated
    assert "<script>" not in html
    assert "Lorient &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html
    # the outline, drawn here: an SVG with a title and a description, a path of numbers
    svg = re.search(r"<svg [^>]*role=\"img\"[^>]*>(.*?)</svg>", html, re.S)
    assert svg is not None
    assert '<title id="contour-titre">Contour du quartier Lorient &lt;script&gt;' in svg.group(1)
    assert '<desc id="contour-desc">' in svg.group(1)
    path = re.search(r'<path d="([^"]+)"/>', svg.group(1))
    assert path is not None and re.fullmatch(r"[MLZ0-9. ]+", path.group(1))
    assert path.group(1).count("L") >= 3  # the test territory is a quadrilateral
    text = _text(html)
    timeline = text.split("Les six phases de la démarche", 1)[1]
    # the six phases, in order, their state in words, dates in French
    positions = [timeline.find(label) for label in (
        "Diagnostic", "Forum : exposition et vote", "Sensibilisation",
        "Inspiration et élaboration", "Mise en œuvre", "Second diagnostic")]  # fmt: skip
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert len(PHASES) == 6
    assert "État : terminée" in text and "État : en cours" in text and "État : à venir" in text
    assert "Du 1 septembre 2026 au 30 novembre 2026" in text
    assert "Lieu : Maison de quartier" in text
    assert "École &lt;b&gt;Bisson&lt;/b&gt;" in html
    # the note's Markdown: formatted, its HTML and scripts not
    assert "<strong>salle B</strong>" in html
    assert "alert(2)" not in html or "&lt;script&gt;alert(2)" in html
    assert 'href="javascript:' not in html and '<a href="javascript' not in html
    assert "{{ 7*7 }}" in html
    # the key figures of the release: respondents, the total against the French average
    api = world.site.client()
    foot = FootprintsOut.model_validate(api.get(f"/diagnostics/{world.diag}/footprints").json())
    assert foot.published and foot.release == 1 and foot.synthetic
    total = number(foot.mean_kgco2e["total"], decimals=0).render("fr")
    assert f"{total} kgCO2e" in text and "moyenne française :" in text
    assert f"Répondants {foot.n_respondents}" in text
    assert "Réponses synthétiques" in text
    # next events: the phases starting after today (7 December 2026), sorted
    events = text.split("Prochains rendez-vous", 1)[1].split("Les six phases", 1)[0]
    assert events.find("Sensibilisation") < events.find("Inspiration et élaboration")
    assert "à partir du 15 janvier 2027" in events and "Forum" not in events
    assert page.headers["content-type"].startswith("text/html")
    # the web pages' policy: files from the service only, nothing inline
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_published_workshops_to_come_are_among_the_next_events(world: World) -> None:
    """The team's published meetings and workshops join the phases in "Prochains rendez-vous";
    an unpublished one and a past one do not."""
    from datetime import UTC, datetime

    from qet_geo.store.events import create_event, publish_event

    with store.session_scope(world.site.engine) as s:
        hood = s.scalars(
            store.select(store.Neighbourhood).where(store.Neighbourhood.slug == "lorient-centre")
        ).one()
        shown = create_event(
            s, hood.id, title="Atelier <b>mobilité</b>", phase="inspiration",
            starts_at=datetime(2099, 2, 3, 17, 30, tzinfo=UTC), place="Salle des fêtes",
        )  # fmt: skip
        publish_event(s, shown, True)
        hidden = create_event(
            s, hood.id, title="Réunion interne", phase="inspiration",
            starts_at=datetime(2099, 1, 5, 18, 0, tzinfo=UTC),
        )  # fmt: skip
        past = create_event(
            s, hood.id, title="Réunion passée", phase="sensibilisation",
            starts_at=datetime(2020, 1, 5, 18, 0, tzinfo=UTC),
        )  # fmt: skip
        publish_event(s, past, True)
        ids = [shown.id, hidden.id, past.id]
    try:
        page = world.site.client().get("/q/lorient-centre")
        upcoming = page.text.split('id="titre-prochain"')[1].split("</section>")[0]
        assert "Atelier &lt;b&gt;mobilité&lt;/b&gt;" in upcoming and "<b>mobilité" not in upcoming
        assert f'href="/q/lorient-centre/ateliers#atelier-{ids[0]}"' in upcoming
        words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", upcoming))
        assert "3 février 2099 à 18:30" in words and "Salle des fêtes" in upcoming
        assert "Réunion interne" not in page.text and "Réunion passée" not in upcoming
    finally:
        with store.session_scope(world.site.engine) as s:
            for event_id in ids:
                s.delete(s.get_one(store.Event, event_id))


def test_the_diagnostic_shows_the_public_figures_of_the_api(world: World) -> None:
    client = world.site.client()
    api_foot = FootprintsOut.model_validate(
        client.get(f"/diagnostics/{world.diag}/footprints").json()
    )
    profiles = ProfilesOut.model_validate(client.get(f"/diagnostics/{world.diag}/profiles").json())
    for url in ("/q/lorient-centre/diagnostic", "/q/lorient-centre/diagnostic/0"):
        page = client.get(url)
        assert page.status_code == 200, page.text
        text = _text(page.text)
        for usage in USAGES:
            label = USAGE_LABELS[usage].render("fr")
            value = number(api_foot.mean_kgco2e[usage], decimals=0).render("fr")
            assert re.search(rf"{re.escape(label)} {re.escape(value)} ", text), (label, value)
        for key, share in profiles.shares.items():
            shown = number(100 * share, decimals=1).render("fr") + " %"
            assert f"Profil {int(key) + 1} {shown}" in text
        assert "Réponses synthétiques" in text
        assert "Comment lire ce diagnostic" in text
        assert "Ce que les règles de confidentialité ont retenu" in text
        assert "Contraintes bâties" in text and "Par carreau de 200 m" in text
        with store.session_scope(world.site.engine) as s:
            made = s.query(store.Release).filter_by(diagnostic_id=world.diag).one().created_at
        assert f"publié le {day(made).render('fr')}" in text
        assert 'href="/q/lorient-centre/diagnostic/0.csv"' in page.text
        assert "n_respondents" not in _main(page.text) and "share_" not in _main(page.text)
    assert client.get("/q/lorient-centre/diagnostic/7").status_code == 404
    assert client.get("/q/lorient-centre/diagnostic/abc").status_code == 404


def test_the_csv_holds_the_page_figures(world: World) -> None:
    client = world.site.client()
    got = client.get("/q/lorient-centre/diagnostic/0.csv")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "lorient-centre-diagnostic-0" in disposition
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert rows and {r["synthetic"] for r in rows} == {"yes"}
    assert {r["release"] for r in rows} == {"1"}
    foot = FootprintsOut.model_validate(client.get(f"/diagnostics/{world.diag}/footprints").json())
    by_item = {r["item"]: r for r in rows if r["section"] == "footprint"}
    assert set(by_item) == {*USAGES, "total"}
    for usage, value in foot.mean_kgco2e.items():
        assert float(by_item[usage]["value"]) == pytest.approx(value, abs=0.051)
        assert float(by_item[usage]["french_average"]) > 0
    assert by_item["mobility_daily" if "mobility_daily" in USAGES else USAGES[0]]["label"]
    profiles = ProfilesOut.model_validate(client.get(f"/diagnostics/{world.diag}/profiles").json())
    shares = {r["item"]: float(r["value"]) for r in rows if r["section"] == "reference_profile"}
    assert shares == {k: pytest.approx(100 * v, abs=0.051) for k, v in profiles.shares.items()}
    (n,) = [r for r in rows if r["section"] == "respondents"]
    assert int(n["value"]) == foot.n_respondents
    cells = [r for r in rows if r["section"] == "cell"]
    assert cells and all(r["item"].startswith("Zone ") for r in cells)
    counted = [int(r["value"]) for r in cells if r["label"] == "répondants"]
    assert counted and all(c >= 11 for c in counted)
    assert "n_respondents" not in {r["label"] for r in rows}
    assert client.get("/q/lorient-centre/diagnostic/5.csv").status_code == 404
    assert client.get("/q/en-attente/diagnostic/0.csv").status_code == 404
    assert client.get("/q/cache/diagnostic/0.csv").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/q/inconnu", "/q/cache", "/q/cache/diagnostic", "/q/cache/diagnostic/0", "/q/" + "x" * 80],
)
def test_unknown_or_unpublished_portals_are_404(world: World, path: str) -> None:
    page = world.site.client().get(path)
    assert page.status_code == 404
    assert "Page introuvable" in page.text and "Caché" not in page.text


def test_the_theme_chosen_by_a_closed_vote_is_shown(world: World) -> None:
    from qet_geo.store.votes import cast_ballot, close_vote, open_vote

    client = world.site.client()
    assert "Thème choisi par le vote" not in client.get("/q/lorient-centre").text
    with store.session_scope(world.site.engine) as s:
        vote, codes = open_vote(
            s, world.diag, "Quel thème ?", ["Marcher <b>plus</b>", "Manger local"], 12
        )
        vote_id = vote.id
    for code in codes:
        with store.session_scope(world.site.engine) as s:
            cast_ballot(s, vote_id, code, ["Marcher <b>plus</b>"])
    # open: nothing of the vote yet
    assert "Thème choisi par le vote" not in client.get("/q/lorient-centre").text
    with store.session_scope(world.site.engine) as s:
        close_vote(s, s.get_one(store.Vote, vote_id))
    try:
        text = _text(client.get("/q/lorient-centre").text)
        assert "Thème choisi par le vote Marcher &lt;b&gt;plus&lt;/b&gt;" in text
    finally:
        with store.session_scope(world.site.engine) as s:
            s.delete(s.get_one(store.Vote, vote_id))


def test_the_chosen_theme_is_named_in_the_readers_language(world: World) -> None:
    """A vote opened on the French names of the usages shows its chosen theme in English."""
    from qet_geo.store.votes import cast_ballot, close_vote, open_vote
    from qet_geo.surveys.schema import USAGE_LABELS

    french = [USAGE_LABELS[u].render("fr") for u in ("meat_frequency", "transportation_mode")]
    with store.session_scope(world.site.engine) as s:
        vote, codes = open_vote(s, world.diag, "Quel thème ?", french, 11)
        vote_id = vote.id
    for code in codes:
        with store.session_scope(world.site.engine) as s:
            cast_ballot(s, vote_id, code, [french[1]])
    with store.session_scope(world.site.engine) as s:
        close_vote(s, s.get_one(store.Vote, vote_id))
    try:
        client = world.site.client()
        assert french[1] in _text(client.get("/q/lorient-centre").text)
        client.cookies.set("qet_lang", "en")
        english = _text(client.get("/q/lorient-centre").text)
        assert USAGE_LABELS["transportation_mode"].render("en") in english
        assert french[1] not in english
    finally:
        with store.session_scope(world.site.engine) as s:
            s.delete(s.get_one(store.Vote, vote_id))


def test_a_campaign_without_a_release_has_no_figure(world: World) -> None:
    client = world.site.client()
    page = client.get("/q/en-attente/diagnostic")
    assert page.status_code == 200
    text = _text(page.text)
    assert "n'est pas encore publié" in text
    assert "Empreinte carbone par usage" not in text and "kgCO2e" not in text
    assert ".csv" not in page.text
    home = _text(client.get("/q/en-attente").text)
    assert "Le diagnostic du quartier n'est pas encore publié." in home
    assert "Les chiffres clés" not in home


def test_english_pages_have_no_french_left(world: World) -> None:
    french = _french_only()
    # every text of these pages has its English
    ours = re.findall(r'_\("([^"]+)"', _templates_text())
    assert ours and not [
        t for t in ours if translate(t, "en") == t and t not in ("{value} kgCO2e", "Diagnostic")
    ]
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    for path in (
        "/q/lorient-centre",
        "/q/lorient-centre/diagnostic",
        "/q/en-attente",
        "/q/en-attente/diagnostic",
    ):
        page = client.get(path)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{path}: {left}"
    home = client.get("/q/lorient-centre").text
    assert "The six phases of the method" in home and "Status: done" in home
    assert "From 1 September 2026 to 30 November 2026" in home
    got = client.get("/q/lorient-centre/diagnostic/0.csv").text
    assert "Total of the six usages" in got or "Total" in got


def _templates_text() -> str:
    from api.web._kit import TEMPLATES

    return "".join(
        (TEMPLATES / name).read_text() for name in ("portal_home.html", "portal_diagnostic.html")
    )


def test_the_language_switch_comes_back_here(world: World) -> None:
    client: TestClient = world.site.client()
    page = client.get("/q/lorient-centre/diagnostic")
    assert 'href="/langue?choix=en&amp;suite=/q/lorient-centre/diagnostic"' in page.text
    assert 'aria-current="page">Diagnostic</a>' in page.text
