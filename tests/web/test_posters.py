"""Profile posters and the profile opt-in: the team's posters ``/espace/quartiers/{id}/forum/
affiches``, a profile's public page ``/q/{slug}/profils/{number}`` and its registration, the
team's events form inviting profiles, and a scripted attacker reading every page.

A published Lorient neighbourhood with one released campaign of labelled-synthetic answers
(three own profiles); beside it a published neighbourhood without a diagnostic and an
unpublished one with a release. Every test makes its own events, so none depends on another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from qet_geo.escaping import qr_svg
from qet_geo.store import events
from qet_geo.store import models as store
from qet_geo.store.portal import set_slug
from qet_geo.store.releases import Figures, latest_release
from tests.web.test_accounts import (
    PASSWORD,
    Site,
    add_pilot,
    cli_admin,
    csrf_of,
    make_site,
    signed_in_client,
)
from tests.web.test_events import FUTURE, PAST
from tests.web.test_impact import campaigns
from tests.web.test_pages import _french_only, _Text

NAME = "Lorient <script>alert(1)</script> {{ 7*7 }}"
EVIL = "Atelier <script>alert(2)</script> {{ 7*7 }}"
SLUG = "lorient-affiches"
_N = count(1)


@dataclass
class World:
    site: Site
    hood: int
    bare: int
    hidden: int
    pilot: TestClient
    other: TestClient
    staff: TestClient
    national: int
    unnamed: int
    ongoing: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("posters"))
    cli_admin(site.url, "admin@reseau.example")
    api = site.client()
    engine = site.engine
    osm_dir = site.app.state.settings.osm_dir  # type: ignore[attr-defined]
    with store.session_scope(engine) as s:
        admin = {"Authorization": f"Bearer {store.create_token(s, role='admin')}"}
        from qet_geo.store import accounts

        accounts.create_user(s, email="staff@reseau.example", password=PASSWORD, role="staff")
    hood, _ = campaigns(api, engine, osm_dir, admin, name=NAME, slug=SLUG, years=(0,))
    hidden, _ = campaigns(
        api, engine, osm_dir, admin, name="Caché", slug="cache-affiches", years=(0,),
        published=False,
    )  # fmt: skip
    national, diags = campaigns(
        api, engine, osm_dir, admin, name="Référence", slug="reference", years=(0,)
    )
    ongoing, _ = campaigns(api, engine, osm_dir, admin, name="Suite", slug="suite", years=(0,))
    # the year-1 campaign has started, not yet released: the year-0 profiles stay in use
    assert api.post(f"/neighbourhoods/{ongoing}/diagnostics", json={"year": 1},
                    headers=admin).status_code == 201  # fmt: skip
    unnamed, _ = campaigns(api, engine, osm_dir, admin, name="Sans adresse", slug="x", years=(0,))
    with store.session_scope(engine) as s:
        # a release that could publish no own profile: the reference ones it publishes
        release = s.scalars(select(store.Release).where(
            store.Release.diagnostic_id == diags[0])).one()  # fmt: skip
        release.figures = {**release.figures, "own_profiles": []}
        s.get_one(store.Neighbourhood, unnamed).slug = None
        bare = store.add_neighbourhood(s, name="Sans diagnostic", published=True)
        set_slug(s, bare, "sans-diagnostic")
        bare_id = bare.id
    add_pilot(site, "pilote@ex.example", hood)
    add_pilot(site, "autre@ex.example", bare_id)
    yield World(
        site,
        hood,
        bare_id,
        hidden,
        signed_in_client(site, "pilote@ex.example"),
        signed_in_client(site, "autre@ex.example"),
        signed_in_client(site, "staff@reseau.example"),
        national,
        unnamed,
        ongoing,
    )
    engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _event(w: World, *, profiles: list[int], published: bool = True, **kw: Any) -> int:
    w.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    fields: dict[str, Any] = {"title": f"Atelier {next(_N)}", "phase": "inspiration",
                              "starts_at": FUTURE}  # fmt: skip
    fields.update(kw)
    with store.session_scope(w.site.engine) as s:
        event = events.create_event(
            s, w.hood, profiles=profiles, known_profiles=[1, 2, 3], **fields
        )
        events.publish_event(s, event, published)
        return event.id


def _stored(w: World, event_id: int) -> store.Event:
    with store.session_scope(w.site.engine) as s:
        event = s.get(store.Event, event_id)
        assert event is not None
        s.expunge(event)
        return event


def _opt_in(client: TestClient, number: int, event: int, party: str) -> httpx.Response:
    """Register from the profile's page, with the token of the page just read."""
    url = f"/q/{SLUG}/profils/{number}"
    token = csrf_of(client.get(url).text)
    return client.post(f"{url}/ateliers/{event}/inscription", data={"csrf": token, "party": party})


# --------------------------------------------------------------------------------------------------
# the team's posters


def test_one_poster_per_own_profile_with_its_qr_code(world: World) -> None:
    page = world.pilot.get(f"/espace/quartiers/{world.hood}/forum/affiches")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)" not in html and "Lorient &lt;script&gt;" in html
    assert html.count('class="poster"') == 3
    with store.session_scope(world.site.engine) as s:
        diag = s.scalars(select(store.Diagnostic).where(
            store.Diagnostic.neighbourhood_id == world.hood)).one()  # fmt: skip
        release = latest_release(s, diag.id)
        assert release is not None
        figures = Figures.from_json(release.figures)
    for p in figures.own_profiles:
        number = int(p["number"]) + 1
        address = f"http://testserver/q/{SLUG}/profils/{number}"
        # the QR code holds the printed address and nothing else: the same poster for everyone
        assert qr_svg(address, title=f"Code QR de la page du Profil {number}") in html
        assert f'<strong class="poster-address">{address}</strong>' in html
        share = f"{100 * p['share']:.1f}".replace(".", ",") + " %"
        assert f"rassemble {share} des répondants du diagnostic 0" in _words(html)
    words = _words(_main(html))
    assert "Mobilité quotidienne :" in words and "Vous vous reconnaissez ?" in words
    assert "Publication n° 1 du" in words
    assert re.search(r"profils/\d+\?", html) is None  # no code nor token in any address


def test_the_forum_page_links_to_the_posters(world: World) -> None:
    page = world.pilot.get(f"/espace/quartiers/{world.hood}/forum")
    assert f'href="/espace/quartiers/{world.hood}/forum/affiches"' in page.text


def test_without_a_release_the_page_says_what_to_do_first(world: World) -> None:
    page = world.other.get(f"/espace/quartiers/{world.bare}/forum/affiches")
    assert page.status_code == 200
    assert "D&#39;abord : publier le diagnostic" in page.text
    assert 'class="poster"' not in page.text


def test_without_own_profiles_the_posters_show_the_reference_ones(world: World) -> None:
    page = world.staff.get(f"/espace/quartiers/{world.national}/forum/affiches")
    assert page.status_code == 200
    html = page.text
    with store.session_scope(world.site.engine) as s:
        diag = s.scalars(select(store.Diagnostic).where(
            store.Diagnostic.neighbourhood_id == world.national)).one()  # fmt: skip
        release = latest_release(s, diag.id)
        assert release is not None
        shares = Figures.from_json(release.figures).profile_shares
    assert html.count('class="poster"') == len(shares) > 1
    assert "profils de référence nationaux dont il publie les parts" in html
    for key, share in shares.items():
        number = int(key) + 1
        assert f"/q/reference/profils/{number}</strong>" in html
        pct = f"{100 * share:.1f}".replace(".", ",") + " %"
        assert f"rassemble {pct} des répondants" in _words(html)
    public = world.site.client().get(f"/q/reference/profils/{len(shares)}")
    assert public.status_code == 200
    assert world.site.client().get(f"/q/reference/profils/{len(shares) + 1}").status_code == 404


def test_without_an_address_or_published_portal_the_page_says_so(world: World) -> None:
    page = world.staff.get(f"/espace/quartiers/{world.unnamed}/forum/affiches")
    assert "D&#39;abord : l&#39;adresse du portail" in page.text
    assert 'class="poster"' not in page.text
    hidden = world.staff.get(f"/espace/quartiers/{world.hidden}/forum/affiches")
    assert "Le portail n&#39;est pas encore publié" in hidden.text
    assert hidden.text.count('class="poster"') == 3


def test_a_new_campaign_without_release_keeps_the_last_released_profiles(world: World) -> None:
    page = world.staff.get(f"/espace/quartiers/{world.ongoing}/forum/affiches")
    assert page.text.count('class="poster"') == 3
    assert "du diagnostic 0" in _words(page.text)
    assert world.site.client().get("/q/suite/profils/1").status_code == 200


def test_posters_of_another_team_or_signed_out_are_refused(world: World) -> None:
    assert world.other.get(f"/espace/quartiers/{world.hood}/forum/affiches").status_code == 404
    assert world.pilot.get("/espace/quartiers/999999/forum/affiches").status_code == 404
    assert world.pilot.get("/espace/quartiers/x1/forum/affiches").status_code == 404
    out = world.site.client().get(f"/espace/quartiers/{world.hood}/forum/affiches")
    assert out.status_code == 303 and out.headers["location"].startswith("/connexion")
    assert world.staff.get(f"/espace/quartiers/{world.hood}/forum/affiches").status_code == 200


# --------------------------------------------------------------------------------------------------
# the public opt-in


def test_the_profile_page_lists_the_workshops_that_invite_it(world: World) -> None:
    mine = _event(world, profiles=[1], title=EVIL, agenda="**Vélo** <script>x</script>")
    other = _event(world, profiles=[2])
    hidden = _event(world, profiles=[1], published=False)
    past = _event(world, profiles=[1], starts_at=PAST)
    page = world.site.client().get(f"/q/{SLUG}/profils/1")
    assert page.status_code == 200
    html = _main(page.text)
    assert f'id="atelier-{mine}"' in html
    for absent in (other, hidden, past):
        assert f'id="atelier-{absent}"' not in html
    assert "<script>" not in html and "Atelier &lt;script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in _words(html)
    words = _words(html)
    assert "Vous vous reconnaissez ? Ces ateliers vous invitent." in words
    assert "Rien n'est enregistré sur vous" in words.replace("&#39;", "'")
    assert f'action="/q/{SLUG}/profils/1/ateliers/{mine}/inscription"' in html


@pytest.mark.parametrize(
    "path",
    [
        f"/q/{SLUG}/profils/9",
        f"/q/{SLUG}/profils/0",
        f"/q/{SLUG}/profils/un",
        "/q/cache-affiches/profils/1",
        "/q/sans-diagnostic/profils/1",
        "/q/nulle-part/profils/1",
    ],
)
def test_unknown_profiles_and_portals_are_404(world: World, path: str) -> None:
    page = world.site.client().get(path)
    assert page.status_code == 404
    assert "Page introuvable" in page.text


def test_registering_from_the_profile_page_counts_the_party(world: World) -> None:
    event = _event(world, profiles=[1, 2], capacity=events.MIN_CAPACITY)
    resident = world.site.client()
    done = _opt_in(resident, 1, event, "3")
    assert done.status_code == 303
    back = f"/q/{SLUG}/profils/1?inscrit={event}#atelier-{event}"
    assert done.headers["location"] == back
    page = resident.get(back)
    assert "votre inscription est comptée" in page.text
    assert "Inscrits : moins de 11." in page.text and "Inscrits : 3" not in page.text
    stored = _stored(world, event)
    assert stored.registrations == 3 and stored.profile_registrations == {"1": 3}
    # the same capacity for every page: 19 more do not fit in a capacity of 20
    world.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    assert _opt_in(resident, 2, event, "10").status_code == 303
    refused = _opt_in(resident, 2, event, "10")
    assert refused.status_code == 409 and "pas assez de places" in refused.text
    assert _stored(world, event).profile_registrations == {"1": 3, "2": 10}


def test_profile_registration_refusals(world: World) -> None:
    event = _event(world, profiles=[1])
    resident = world.site.client()
    url = f"/q/{SLUG}/profils/1/ateliers/{event}/inscription"
    assert resident.post(url, data={"csrf": "faux", "party": "2"}).status_code == 403
    bad = _opt_in(resident, 1, event, "douze")
    assert bad.status_code == 422 and "nombre entier" in bad.text
    assert _opt_in(resident, 1, event, "11").status_code == 422
    # a workshop that does not invite this profile, an unknown event: the 404 page
    assert _opt_in(resident, 2, event, "1").status_code == 404
    assert _opt_in(resident, 1, 999999, "1").status_code == 404
    assert _stored(world, event).registrations == 0


def test_profile_registrations_are_limited_per_client(world: World) -> None:
    event = _event(world, profiles=[1])
    resident = world.site.client()
    for _ in range(5):
        assert _opt_in(resident, 1, event, "1").status_code == 303
    limited = _opt_in(resident, 1, event, "1")
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert _stored(world, event).registrations == 5


def test_the_public_agenda_links_to_the_invited_profiles(world: World) -> None:
    event = _event(world, profiles=[2, 3])
    html = _main(world.site.client().get(f"/q/{SLUG}/ateliers").text)
    article = html.split(f'id="atelier-{event}"', 1)[1].split("</article>", 1)[0]
    assert f'href="/q/{SLUG}/profils/2"' in article and f'href="/q/{SLUG}/profils/3"' in article
    assert f'href="/q/{SLUG}/profils/1"' not in article


# --------------------------------------------------------------------------------------------------
# the team's events form


def test_the_team_invites_profiles_from_the_release(world: World) -> None:
    base = f"/espace/quartiers/{world.hood}/ateliers"
    page = world.pilot.get(base)
    assert 'name="profiles" type="checkbox" value="1"' in page.text
    assert 'value="3"' in page.text and 'name="profiles" type="checkbox" value="4"' not in page.text
    form = {"csrf": csrf_of(page.text), "title": "Atelier cuisine", "kind": "atelier",
            "phase": "inspiration", "starts_at": "2027-02-01T18:00", "place": "", "agenda": "",
            "capacity": "", "profiles": ["1", "3"]}  # fmt: skip
    done = world.pilot.post(base, data=form)
    assert done.status_code == 303, done.text
    event = int(done.headers["location"].split("/")[-1].split("?")[0])
    assert _stored(world, event).profiles == [1, 3]
    edit = world.pilot.get(f"{base}/{event}")
    assert 'value="1" aria-describedby="aide-profils" checked' in edit.text
    assert f'href="/q/{SLUG}/profils/3"' in edit.text
    again = world.pilot.post(f"{base}/{event}/avant", data={**form, "profiles": ["2"]})
    assert again.status_code == 303
    assert _stored(world, event).profiles == [2]
    for wrong in (["9"], ["un"]):
        refused = world.pilot.post(base, data={**form, "title": "Refusé", "profiles": wrong})
        assert refused.status_code == 422
        assert 'role="alert"' in refused.text and "profil" in _words(refused.text).lower()
    without = world.pilot.post(f"{base}/{event}/avant", data={k: v for k, v in form.items()
                                                                 if k != "profiles"})  # fmt: skip
    assert without.status_code == 303 and _stored(world, event).profiles == []
    assert world.pilot.post(base, data={**form, "csrf": "faux"}).status_code == 403


def test_without_a_release_the_form_says_to_publish_first(world: World) -> None:
    page = world.other.get(f"/espace/quartiers/{world.bare}/ateliers")
    assert 'name="profiles"' not in page.text
    assert "publiez d&#39;abord les résultats du diagnostic" in page.text


def test_the_team_reads_counts_per_profile_under_the_rule(world: World) -> None:
    event = _event(world, profiles=[1, 2])
    resident = world.site.client()
    for _ in range(3):
        assert _opt_in(resident, 1, event, "4").status_code == 303
    world.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    assert _opt_in(resident, 2, event, "2").status_code == 303
    page = world.pilot.get(f"/espace/quartiers/{world.hood}/ateliers")
    row = page.text.split(f'/ateliers/{event}"', 1)[1].split("</tr>", 1)[0]
    assert "Profil 1 : 12" in row and "Profil 2 : moins de 11" in row
    edit = world.pilot.get(f"/espace/quartiers/{world.hood}/ateliers/{event}")
    assert "Profil 2 : moins de 11 inscrits depuis sa page" in edit.text
    assert "Profil 2 : 2" not in edit.text


# --------------------------------------------------------------------------------------------------
# the scripted attacker


def _pages(w: World, client: TestClient, team: TestClient) -> dict[str, str]:
    """Every page an attacker reads: the public portal's pages and the team's."""
    paths = [f"/q/{SLUG}", f"/q/{SLUG}/ateliers", f"/q/{SLUG}/diagnostic",
             f"/q/{SLUG}/documents"] + [f"/q/{SLUG}/profils/{n}" for n in (1, 2, 3)]  # fmt: skip
    out = {p: client.get(p).text for p in paths}
    out["team"] = team.get(f"/espace/quartiers/{w.hood}/ateliers").text
    return out


def _snapshot(w: World) -> dict[str, list[tuple[Any, ...]]]:
    meta = MetaData()
    meta.reflect(w.site.engine)
    with w.site.engine.connect() as c:
        return {t.name: sorted(map(tuple, c.execute(t.select()).all()), key=repr)
                for t in meta.sorted_tables}  # fmt: skip


def _unnumbered(html: str, event: int) -> str:
    """An event's part of a page without its id (in its ids and addresses)."""
    return re.sub(rf"(?<=[-/]){event}(?=[\"/#])", "#", html)


def test_an_attacker_learns_no_small_count_per_profile_and_links_no_one(world: World) -> None:
    """Two workshops of the same size: one had 3 parties from profile 1's page and 2 from
    profile 2's, the other 5 from profile 1's and none from profile 2's. Every page the public
    and the team read says the same of both; the store keeps counts only."""
    a = _event(world, profiles=[1, 2], title="Atelier jumeau")
    b = _event(world, profiles=[1, 2], title="Atelier jumeau")
    resident = world.site.client()
    before = _snapshot(world)
    for number, event, times in ((1, a, 3), (2, a, 2)):
        for _ in range(times):
            assert _opt_in(resident, number, event, "1").status_code == 303
    world.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    for _ in range(5):
        assert _opt_in(resident, 1, b, "1").status_code == 303
    after = _snapshot(world)
    # nothing of the person: no new row anywhere, only the two events' counts changed
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"events"}
    assert len(after["events"]) == len(before["events"])
    assert _stored(world, a).profile_registrations == {"1": 3, "2": 2}
    assert _stored(world, b).profile_registrations == {"1": 5}
    pages = _pages(world, world.site.client(), world.pilot)

    def part(html: str, event: int) -> str:
        piece = html.split(f'/ateliers/{event}"', 1)[1].split("</tr>", 1)[0]
        return piece

    team = pages["team"]
    assert part(team, a) == part(team, b)  # "moins de 11" for each profile, the same total
    for path, html in pages.items():
        if path == "team":
            continue
        for e in (a, b):
            if f'id="atelier-{e}"' not in html:
                continue
            piece = html.split(f'id="atelier-{e}"', 1)[1].split("</article>", 1)[0]
            other = b if e == a else a
            twin = html.split(f'id="atelier-{other}"', 1)[1].split("</article>", 1)[0]
            assert _unnumbered(piece, e) == _unnumbered(twin, other), path
            assert not re.search(r"Inscrits : ([1-9]|10)\.", piece)
    # the resident's cookies hold only the form's random token: no profile, no count
    assert set(resident.cookies.keys()) <= {"qet_csrf"}


# --------------------------------------------------------------------------------------------------
# English


def test_english_pages_keep_no_french(world: World) -> None:
    event = _event(world, profiles=[1])
    french = _french_only()
    team = signed_in_client(world.site, "pilote@ex.example")
    team.cookies.set("qet_lang", "en")
    resident = world.site.client()
    resident.cookies.set("qet_lang", "en")
    pages = {
        "posters": team.get(f"/espace/quartiers/{world.hood}/forum/affiches"),
        "events": team.get(f"/espace/quartiers/{world.hood}/ateliers"),
        "edit": team.get(f"/espace/quartiers/{world.hood}/ateliers/{event}"),
        "opt-in": resident.get(f"/q/{SLUG}/profils/1"),
        "agenda": resident.get(f"/q/{SLUG}/ateliers"),
        "refused": _opt_in(resident, 1, event, "20"),
    }
    for name, page in pages.items():
        assert '<html lang="en">' in page.text, name
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{name}: {left}"
    assert "Do you recognise yourself?" in pages["opt-in"].text


def test_the_theme_the_vote_chose_is_on_the_poster_and_the_page(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.web.portal

    monkeypatch.setattr(api.web.portal, "chosen_theme", lambda *_: "Mobilité <b>x</b>")
    said = "Le vote du forum a choisi le thème « Mobilité &lt;b&gt;x&lt;/b&gt; »"
    poster = world.pilot.get(f"/espace/quartiers/{world.hood}/forum/affiches").text
    assert poster.count(said) == 3
    assert said in world.site.client().get(f"/q/{SLUG}/profils/2").text
    # the events pages only name the profiles
    assert said not in world.pilot.get(f"/espace/quartiers/{world.hood}/ateliers").text
