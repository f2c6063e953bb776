"""Meetings and workshops: the team's pages ``/espace/quartiers/{id}/ateliers[/{event}]``
(create, before, after, publish and withdraw) and the public agenda ``/q/{slug}/ateliers``
(registration by count, CSRF by form token, the per-client limit, counts under the ≥ 11 rule,
sanitised Markdown).

Each test makes its own neighbourhood with a portal address, so that no test depends on
another's events; the registration limit is reset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import count

import httpx
import pytest
from fastapi.testclient import TestClient

from qet_geo.store import accounts, events
from qet_geo.store import models as store
from qet_geo.store.portal import set_slug
from tests.web.test_accounts import (
    PASSWORD,
    START,
    Site,
    add_pilot,
    cli_admin,
    csrf_of,
    make_site,
    signed_in_client,
)
from tests.web.test_pages import _french_only, _Text

EVIL = "<script>alert(1)</script> {{ 7*7 }}"
_N = count(1)
FUTURE = START + timedelta(days=30)
PAST = START - timedelta(days=10)


@dataclass
class World:
    site: Site
    admin: TestClient
    staff: TestClient
    pilot: TestClient
    other: TestClient
    pilot_hood: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("events"))
    cli_admin(site.url, "admin@reseau.example")
    with store.session_scope(site.engine) as s:
        accounts.create_user(s, email="staff@reseau.example", password=PASSWORD, role="staff")
        mine = store.add_neighbourhood(s, name="Pilote", published=True)
        set_slug(s, mine, "pilote")
        theirs = store.add_neighbourhood(s, name="Autre").id
        mine_id = mine.id
    add_pilot(site, "pilote@ex.example", mine_id)
    add_pilot(site, "autre@ex.example", theirs)
    yield World(
        site,
        signed_in_client(site, "admin@reseau.example"),
        signed_in_client(site, "staff@reseau.example"),
        signed_in_client(site, "pilote@ex.example"),
        signed_in_client(site, "autre@ex.example"),
        mine_id,
    )
    site.engine.dispose()


@dataclass
class Hood:
    id: int
    slug: str


def _hood(w: World, *, published: bool = True) -> Hood:
    w.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    with store.session_scope(w.site.engine) as s:
        hood = store.add_neighbourhood(s, name=f"Kervénanec {next(_N)}", published=published)
        slug = set_slug(s, hood, f"kervenanec-{hood.id}")
        return Hood(hood.id, slug)


def _event(w: World, h: Hood, *, published: bool = True, **kw: object) -> int:
    fields: dict[str, object] = {"title": "Atelier mobilité", "phase": "inspiration",
                                 "starts_at": FUTURE}  # fmt: skip
    fields.update(kw)
    with store.session_scope(w.site.engine) as s:
        event = events.create_event(s, h.id, **fields)  # type: ignore[arg-type]
        events.publish_event(s, event, published)
        return event.id


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _form(**kw: str) -> dict[str, str]:
    data = {"title": "Réunion d'ouverture", "kind": "reunion", "phase": "sensibilisation",
            "starts_at": "2027-01-14T18:30", "place": "Maison de quartier", "agenda": "",
            "capacity": ""}  # fmt: skip
    data.update(kw)
    return data


def _register(client: TestClient, url: str, event: int, party: str) -> httpx.Response:
    """Register from the agenda's page, with the token of the page just read (each page sets
    its own form cookie)."""
    token = csrf_of(client.get(url).text)
    return client.post(f"{url}/{event}/inscription", data={"csrf": token, "party": party})


def _stored(w: World, event_id: int) -> store.Event:
    with store.session_scope(w.site.engine) as s:
        event = s.get(store.Event, event_id)
        assert event is not None
        s.expunge(event)
        return event


# --------------------------------------------------------------------------------------------------
# the team's pages


def test_the_team_creates_an_event_in_french_time(world: World) -> None:
    h = _hood(world)
    page = world.admin.get(f"/espace/quartiers/{h.id}/ateliers")
    assert page.status_code == 200
    assert "Aucun événement pour l&#39;instant." in page.text
    done = world.admin.post(
        f"/espace/quartiers/{h.id}/ateliers",
        data={"csrf": csrf_of(page.text), **_form(capacity="40")},
    )
    assert done.status_code == 303, done.text
    match = re.fullmatch(
        rf"/espace/quartiers/{h.id}/ateliers/(\d+)\?fait=cree", done.headers["location"]
    )
    assert match
    event = _stored(world, int(match.group(1)))
    assert (event.title, event.kind, event.phase, event.capacity) == (
        "Réunion d'ouverture", "reunion", "sensibilisation", 40
    )  # fmt: skip
    assert not event.published
    assert event.starts_at is not None
    starts = event.starts_at.replace(tzinfo=None)
    assert (starts.hour, starts.minute) == (17, 30)  # 18:30 in Paris in winter, stored in UTC
    edit = world.admin.get(done.headers["location"])
    assert edit.status_code == 200
    assert "Événement créé" in edit.text and "14 janvier 2027 à 18:30" in edit.text
    listing = world.admin.get(f"/espace/quartiers/{h.id}/ateliers")
    assert "Réunion d&#39;ouverture" in listing.text and "non publié" in listing.text


def test_the_pilot_team_link_and_its_own_page(world: World) -> None:
    hood_page = world.pilot.get(f"/espace/quartiers/{world.pilot_hood}")
    assert f'href="/espace/quartiers/{world.pilot_hood}/ateliers"' in hood_page.text
    page = world.pilot.get(f"/espace/quartiers/{world.pilot_hood}/ateliers")
    assert page.status_code == 200 and "Créer l&#39;événement" in page.text


def test_another_team_and_unknown_events_are_404(world: World) -> None:
    h = _hood(world)
    event = _event(world, h)
    assert world.other.get(f"/espace/quartiers/{h.id}/ateliers").status_code == 404
    assert world.other.get(f"/espace/quartiers/{h.id}/ateliers/{event}").status_code == 404
    assert world.admin.get(f"/espace/quartiers/{h.id}/ateliers/99999").status_code == 404
    assert world.admin.get(f"/espace/quartiers/{h.id}/ateliers/abc").status_code == 404
    # an event of another neighbourhood under this one's address
    assert (
        world.pilot.get(f"/espace/quartiers/{world.pilot_hood}/ateliers/{event}").status_code == 404
    )
    page = world.pilot.get(f"/espace/quartiers/{world.pilot_hood}/ateliers")
    sent = world.pilot.post(
        f"/espace/quartiers/{world.pilot_hood}/ateliers/{event}/publication",
        data={"csrf": csrf_of(page.text), "action": "retirer"},
    )
    assert sent.status_code == 404
    assert _stored(world, event).published


def test_signed_out_visitors_go_to_sign_in(world: World) -> None:
    h = _hood(world)
    page = world.site.client().get(f"/espace/quartiers/{h.id}/ateliers")
    assert page.status_code == 303 and page.headers["location"].startswith("/connexion")


def test_staff_read_but_do_not_write(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, published=False)
    page = world.staff.get(f"/espace/quartiers/{h.id}/ateliers")
    assert page.status_code == 200
    assert "Votre rôle ne permet pas de créer un événement." in page.text
    edit = world.staff.get(f"/espace/quartiers/{h.id}/ateliers/{event}")
    assert edit.status_code == 200 and "Publier sur le portail" not in edit.text
    token = csrf_of(page.text)
    for path, data in [
        ("", _form()),
        (f"/{event}/publication", {"action": "publier"}),
        (f"/{event}/apres", {"minutes": "x"}),
    ]:
        sent = world.staff.post(
            f"/espace/quartiers/{h.id}/ateliers{path}", data={"csrf": token, **data}
        )
        assert sent.status_code == 403, path
    assert not _stored(world, event).published


def test_forms_without_their_token_are_refused(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, published=False)
    for path, data in [
        ("", _form()),
        (f"/{event}/publication", {"action": "publier"}),
        (f"/{event}/avant", _form()),
        (f"/{event}/apres", {"minutes": "x"}),
    ]:
        sent = world.admin.post(
            f"/espace/quartiers/{h.id}/ateliers{path}", data={"csrf": "faux", **data}
        )
        assert sent.status_code == 403, path
        assert "Formulaire refusé" in sent.text
    page = world.admin.get(f"/espace/quartiers/{h.id}/ateliers")
    assert page.text.count("<tr>") == 2  # the head and the one event made here
    assert not _stored(world, event).published


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("capacity", "abc", "La capacité doit être un nombre entier"),
        ("capacity", "12", "au moins 20 places"),
        ("starts_at", "14/01/2027", "Date et heure illisibles"),
        ("title", "   ", "Donnez un titre"),
        ("phase", "diagnostic", "Phase inconnue"),
    ],
)
def test_bad_input_is_said_in_french_and_kept(
    world: World, field: str, value: str, words: str
) -> None:
    h = _hood(world)
    page = world.admin.get(f"/espace/quartiers/{h.id}/ateliers")
    sent = world.admin.post(
        f"/espace/quartiers/{h.id}/ateliers",
        data={"csrf": csrf_of(page.text), **_form(place="Salle <b>A</b>", **{field: value})},
    )
    assert sent.status_code == 422
    assert words in sent.text
    assert 'value="Salle &lt;b&gt;A&lt;/b&gt;"' in sent.text  # typed values kept, escaped
    assert "Aucun événement pour l&#39;instant." in sent.text


def test_before_after_and_publication(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, published=False)
    base = f"/espace/quartiers/{h.id}/ateliers/{event}"
    token = csrf_of(world.admin.get(base).text)
    before = world.admin.post(
        f"{base}/avant", data={"csrf": token, **_form(title=EVIL, agenda=f"# Ordre\n\n{EVIL}")}
    )
    assert before.status_code == 303 and before.headers["location"].endswith("fait=avant")
    after = world.admin.post(
        f"{base}/apres",
        data={"csrf": token, "minutes": f"## Ce qui s'est dit\n\n{EVIL}", "attendance": "7",
              "contributions": "23", "narrative": "Un **récit**", "objectives": "",
              "problems": "[lien](javascript:alert(1))"},
    )  # fmt: skip
    assert after.status_code == 303, after.text
    stored = _stored(world, event)
    assert stored.title == EVIL and stored.attendance == 7 and stored.contributions == 23
    assert stored.outputs == {
        "narrative": "Un **récit**",
        "problems": "[lien](javascript:alert(1))",
    }
    page = world.admin.get(base)
    main = _main(page.text)
    assert "<script>" not in main and "&lt;script&gt;" in main
    assert "49" not in main
    assert "<h4>Ordre</h4>" in main and "<strong>récit</strong>" in main
    assert 'href="javascript' not in main
    bad = world.admin.post(
        f"{base}/apres", data={"csrf": token, "minutes": "autre", "attendance": "sept"}
    )
    assert (
        bad.status_code == 422
        and "Le nombre de participants doit être un nombre entier" in bad.text
    )
    assert _stored(world, event).minutes.startswith("## Ce qui")
    published = world.admin.post(f"{base}/publication", data={"csrf": token, "action": "publier"})
    assert published.status_code == 303 and _stored(world, event).published
    withdrawn = world.admin.post(f"{base}/publication", data={"csrf": token, "action": "retirer"})
    assert withdrawn.status_code == 303 and not _stored(world, event).published


def test_a_capacity_under_the_registrations_is_refused(world: World) -> None:
    h = _hood(world)
    event = _event(world, h)
    with store.session_scope(world.site.engine) as s:
        for _ in range(3):
            events.register(s, h.id, event, 10, now=START)
    base = f"/espace/quartiers/{h.id}/ateliers/{event}"
    token = csrf_of(world.admin.get(base).text)
    sent = world.admin.post(f"{base}/avant", data={"csrf": token, **_form(capacity="25")})
    assert sent.status_code == 409 and "déjà inscrites" in sent.text
    assert _stored(world, event).title == "Atelier mobilité"


# --------------------------------------------------------------------------------------------------
# the public agenda


def test_the_public_reads_only_published_events(world: World) -> None:
    h = _hood(world)
    _event(world, h, title="Atelier publié", agenda=f"# Programme\n\n{EVIL}")
    _event(world, h, title="Brouillon caché", published=False)
    _event(world, h, title="Atelier passé", starts_at=PAST)
    public = world.site.client()
    page = public.get(f"/q/{h.slug}/ateliers")
    assert page.status_code == 200
    main = _main(page.text)
    assert "Atelier publié" in main and "Brouillon caché" not in main
    assert main.index("Atelier publié") < main.index("Passés") < main.index("Atelier passé")
    assert "<h5>Programme</h5>" in main and "&lt;script&gt;" in main and "<script>" not in main
    assert "49" not in main
    assert "Le compte rendu n&#39;est pas encore publié." in main
    assert 'aria-current="page"' in page.text and "Inscrits : 0." in main


def test_unpublished_and_unknown_portals_are_404(world: World) -> None:
    h = _hood(world, published=False)
    event = _event(world, h)
    public = world.site.client()
    assert public.get(f"/q/{h.slug}/ateliers").status_code == 404
    assert public.get("/q/nulle-part/ateliers").status_code == 404
    shown = _hood(world)
    _event(world, shown)
    token = csrf_of(public.get(f"/q/{shown.slug}/ateliers").text)  # a published portal's form
    sent = public.post(
        f"/q/{h.slug}/ateliers/{event}/inscription", data={"csrf": token, "party": "2"}
    )
    assert sent.status_code == 404
    assert _stored(world, event).registrations == 0


def test_registration_by_count_and_the_eleven_rule(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, capacity=events.MIN_CAPACITY)
    resident = world.site.client()
    url = f"/q/{h.slug}/ateliers"
    token = csrf_of(resident.get(url).text)
    done = resident.post(f"{url}/{event}/inscription", data={"csrf": token, "party": "3"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{url}?inscrit={event}#atelier-{event}"
    page = resident.get(done.headers["location"])
    assert "votre inscription est comptée" in page.text
    assert "Inscrits : moins de 11." in page.text and "Inscrits : 3" not in page.text
    world.site.app.state.event_throttle = None  # type: ignore[attr-defined]
    for _ in range(2):
        assert _register(resident, url, event, "4").status_code == 303
    assert _stored(world, event).registrations == 11
    assert "Inscrits : 11." in resident.get(url).text


def test_registration_refusals(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, capacity=events.MIN_CAPACITY)
    past = _event(world, h, starts_at=PAST)
    hidden = _event(world, h, published=False)
    resident = world.site.client()
    url = f"/q/{h.slug}/ateliers"
    resident.get(url)
    no_token = world.site.client().post(f"{url}/{event}/inscription", data={"party": "2"})
    assert no_token.status_code == 403
    assert (
        resident.post(f"{url}/{event}/inscription", data={"csrf": "faux", "party": "2"}).status_code
        == 403
    )
    too_many = _register(resident, url, event, "11")
    assert too_many.status_code == 422 and "de 1 à 10 personnes" in too_many.text
    assert _register(resident, url, event, "deux").status_code == 422
    over = _register(resident, url, past, "1")
    assert over.status_code == 409 and "déjà commencé" in over.text
    assert _register(resident, url, hidden, "1").status_code == 404
    assert [_stored(world, e).registrations for e in (event, past, hidden)] == [0, 0, 0]


def test_registrations_are_limited_per_client(world: World) -> None:
    h = _hood(world)
    event = _event(world, h)
    resident = world.site.client()
    url = f"/q/{h.slug}/ateliers"
    token = csrf_of(resident.get(url).text)
    from api.web.events import REGISTER_LIMIT

    for _ in range(REGISTER_LIMIT):
        sent = resident.post(f"{url}/{event}/inscription", data={"csrf": token, "party": "1"})
        assert sent.status_code == 303
    blocked = resident.post(f"{url}/{event}/inscription", data={"csrf": token, "party": "1"})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert "Trop d&#39;inscriptions" in blocked.text
    assert _stored(world, event).registrations == REGISTER_LIMIT


def test_a_full_event_says_so_without_a_small_count(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, capacity=events.MIN_CAPACITY)
    with store.session_scope(world.site.engine) as s:
        events.register(s, h.id, event, 10, now=START)
        events.register(s, h.id, event, 9, now=START)
    resident = world.site.client()
    url = f"/q/{h.slug}/ateliers"
    token = csrf_of(resident.get(url).text)
    refused = resident.post(f"{url}/{event}/inscription", data={"csrf": token, "party": "2"})
    assert refused.status_code == 409
    said = re.findall(r'role="alert"[^>]*>([^<]*)<', refused.text)
    assert said == [
        "Il ne reste pas assez de places pour 2 personne(s) : essayez avec moins de personnes, "
        "ou contactez l&#39;équipe du quartier."
    ]  # how many places remain is not said
    assert _register(resident, url, event, "1").status_code == 303
    page = resident.get(url)
    assert "Complet" in page.text and f'action="{url}/{event}/inscription"' not in page.text


def test_past_events_show_minutes_and_counts_under_the_rule(world: World) -> None:
    h = _hood(world)
    event = _event(world, h, starts_at=PAST, title="Atelier <b>vélo</b>")
    with store.session_scope(world.site.engine) as s:
        row = events.event_of(s, h.id, event)
        events.update_after(
            s, row, minutes=f"# Résumé\n\n{EVIL}", attendance=7, contributions=12,
            outputs={"objectives": "- moins de voitures", "problems": "<img src=x onerror=alert(1)>"},
        )  # fmt: skip
    main = _main(world.site.client().get(f"/q/{h.slug}/ateliers").text)
    assert "Atelier &lt;b&gt;vélo&lt;/b&gt;" in main
    assert "Participants : moins de 11." in main and "Participants : 7" not in main
    assert "Contributions : 12." in main
    assert "<h5>Résumé</h5>" in main and "<li>moins de voitures</li>" in main
    assert "<img" not in main and "<script>" not in main and "49" not in main
    assert "<h4>Objectifs</h4>" in main and "<h4>Problèmes à résoudre</h4>" in main
    assert 'name="party"' not in main


def test_english_pages_keep_no_french(world: World) -> None:
    h = _hood(world)
    upcoming = _event(world, h, agenda="Texte", capacity=events.MIN_CAPACITY)
    past = _event(world, h, starts_at=PAST)
    with store.session_scope(world.site.engine) as s:
        events.update_after(
            s, events.event_of(s, h.id, past), minutes="x", attendance=3, contributions=30,
            outputs={k: "y" for k in events.OUTPUTS},
        )  # fmt: skip
    french = _french_only()
    team = signed_in_client(world.site, "admin@reseau.example")
    team.cookies.set("qet_lang", "en")
    resident = world.site.client()
    resident.cookies.set("qet_lang", "en")
    url = f"/q/{h.slug}/ateliers"
    pages = {
        "list": team.get(f"/espace/quartiers/{h.id}/ateliers"),
        "edit": team.get(f"/espace/quartiers/{h.id}/ateliers/{upcoming}"),
        "public": resident.get(url),
        "refused": _register(resident, url, upcoming, "20"),
    }
    for name, page in pages.items():
        text = page.text
        assert '<html lang="en">' in text, name
        parser = _Text()
        parser.feed(text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{name}: {left}"
    public = _main(pages["public"].text)
    assert "Workshops and meetings" in public and "Upcoming" in public
    assert "Participants: fewer than 11." in public and "Contributions: 30." in public
    assert "from 1 to 10 people" in pages["refused"].text
