"""The team's portal page (/espace/quartiers/{id}/portail): the address, publishing and
withdrawing (network staff only, as in the API), the six phases' forms, who may do what, another
team's neighbourhood, CSRF, bad input kept in the page, escaping of the notes, English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.portal import PHASES, phases_of
from tests.web.test_accounts import (
    PASSWORD,
    Site,
    add_pilot,
    cli_admin,
    csrf_of,
    make_site,
    signed_in_client,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    cli_admin(s.url, "admin@b.example")
    with store.session_scope(s.engine) as session:
        a = store.add_neighbourhood(session, name="Kervénanec (Lorient)").id
        b = store.add_neighbourhood(session, name="Bois du Château").id
        accounts.create_user(session, email="staff@b.example", password=PASSWORD, role="staff")
    s.hoods = {"A": a, "B": b}  # type: ignore[attr-defined]
    add_pilot(s, "pilote-a@b.example", a)
    add_pilot(s, "pilote-b@b.example", b)
    yield s
    s.engine.dispose()


def _hood(site: Site, name: str = "A") -> int:
    return site.hoods[name]  # type: ignore[attr-defined]


def _url(site: Site, name: str = "A") -> str:
    return f"/espace/quartiers/{_hood(site, name)}/portail"


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _words(html: str) -> str:
    """The text of a page's main part, tags removed and references decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", _main(html)))


def _row(site: Site, name: str = "A") -> tuple[str | None, bool]:
    with store.session_scope(site.engine) as s:
        hood = s.get(store.Neighbourhood, _hood(site, name))
        assert hood is not None
        return hood.slug, bool(hood.published)


def _post(client: TestClient, url: str, path: str, data: dict[str, str]) -> object:
    token = csrf_of(client.get(url).text)
    return client.post(url + path, data={"csrf": token, **data})


# --------------------------------------------------------------------------------------------------
# the page and who sees it


def test_the_page_proposes_an_address_and_lists_the_six_phases_with_their_checklists(
    site: Site,
) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    page = client.get(_url(site))
    assert page.status_code == 200
    main = _main(page.text)
    assert 'value="kervenanec-lorient"' in main  # proposed from the name
    assert "n'a pas encore d'adresse" in _words(page.text)
    for key in PHASES:
        assert f'action="{_url(site)}/phases/{key}"' in main
    assert main.count('<ul class="checklist">') == 6
    assert "Mener les quatre enquêtes" in main and "codes de participation" in main
    assert "à venir" in main
    # pilots may not publish: the page says whom to ask
    assert "/portail/publication" not in main
    assert "revient au réseau" in _words(page.text)
    hood_page = client.get(f"/espace/quartiers/{_hood(site)}")
    assert f'href="{_url(site)}"' in hood_page.text


def test_another_teams_portal_page_is_a_404_and_its_forms_too(site: Site) -> None:
    client = signed_in_client(site, "pilote-b@b.example")
    assert client.get(_url(site)).status_code == 404
    token = csrf_of(client.get(_url(site, "B")).text)
    for path, data in [
        ("/adresse", {"slug": "volee"}),
        ("/phases/forum", {"state": "current"}),
        ("/publication", {"action": "publier", "confirmer": "oui"}),
    ]:
        done = client.post(_url(site) + path, data={"csrf": token, **data})
        assert done.status_code == 404, path
    assert _row(site) == (None, False)
    assert client.get("/espace/quartiers/99999/portail").status_code == 404
    assert client.get("/espace/quartiers/abc/portail").status_code == 404


def test_signing_in_is_needed(site: Site) -> None:
    done = site.client().get(_url(site))
    assert done.status_code == 303 and done.headers["location"].startswith("/connexion")


# --------------------------------------------------------------------------------------------------
# the address


def test_the_team_sets_the_address_and_the_page_links_to_it(site: Site) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    done = _post(client, _url(site), "/adresse", {"slug": " Kervenanec-Lorient "})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert _row(site) == ("kervenanec-lorient", False)
    page = client.get(done.headers["location"])  # type: ignore[attr-defined]
    assert 'href="/q/kervenanec-lorient"' in page.text
    assert "Adresse du portail enregistrée." in page.text


@pytest.mark.parametrize(
    ("slug", "status", "words"),
    [
        ("A b", 400, "de 3 à 60 caractères"),
        ("ab", 400, "de 3 à 60 caractères"),
        ("espace", 400, "est réservée"),
        ("bois-du-chateau", 409, "déjà prise"),
    ],
)
def test_a_wrong_address_is_refused_in_the_page_with_the_typed_value(
    site: Site, slug: str, status: int, words: str
) -> None:
    other = signed_in_client(site, "pilote-b@b.example")
    assert _post(other, _url(site, "B"), "/adresse", {"slug": "bois-du-chateau"}).status_code == 303  # type: ignore[attr-defined]
    client = signed_in_client(site, "pilote-a@b.example")
    done = _post(client, _url(site), "/adresse", {"slug": slug})
    assert done.status_code == status  # type: ignore[attr-defined]
    main = _main(done.text)  # type: ignore[attr-defined]
    assert words in _words(done.text)  # type: ignore[attr-defined]
    assert f'value="{slug}"' in main and 'aria-invalid="true"' in main
    assert _row(site) == (None, False)


def test_staff_read_the_page_but_may_not_set_the_address_or_the_phases(site: Site) -> None:
    client = signed_in_client(site, "staff@b.example")
    page = client.get(_url(site))
    assert page.status_code == 200
    assert "/portail/adresse" not in page.text and "/phases/" not in page.text
    token = csrf_of(page.text)
    assert (
        client.post(_url(site) + "/adresse", data={"csrf": token, "slug": "abc"}).status_code == 403
    )
    done = client.post(_url(site) + "/phases/forum", data={"csrf": token, "state": "current"})
    assert done.status_code == 403
    assert _row(site) == (None, False)


# --------------------------------------------------------------------------------------------------
# publishing


def test_publishing_needs_an_address_a_confirmation_and_the_network(site: Site) -> None:
    with store.session_scope(site.engine) as s:  # a campaign: its caches are forgotten
        s.add(store.Diagnostic(neighbourhood_id=_hood(site), year=2026))
    staff = signed_in_client(site, "staff@b.example")
    no_slug = _post(staff, _url(site), "/publication", {"action": "publier", "confirmer": "oui"})
    assert no_slug.status_code == 400 and "pas encore d'adresse" in _words(no_slug.text)  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote-a@b.example")
    assert _post(pilot, _url(site), "/adresse", {"slug": "kervenanec"}).status_code == 303  # type: ignore[attr-defined]
    refused = _post(pilot, _url(site), "/publication", {"action": "publier", "confirmer": "oui"})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    unconfirmed = _post(staff, _url(site), "/publication", {"action": "publier"})
    assert unconfirmed.status_code == 400 and "case de confirmation" in unconfirmed.text  # type: ignore[attr-defined]
    assert _row(site) == ("kervenanec", False)
    assert site.client().get("/q/kervenanec").status_code == 404

    done = _post(staff, _url(site), "/publication", {"action": "publier", "confirmer": "oui"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert _row(site) == ("kervenanec", True)
    assert "Le portail est publié" in staff.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert site.client().get("/q/kervenanec").status_code == 200
    # the API reads the same flag
    assert site.client().get(f"/neighbourhoods/{_hood(site)}").status_code == 200

    admin = signed_in_client(site, "admin@b.example")
    page = admin.get(_url(site)).text
    assert 'name="action" value="retirer"' in page
    done = _post(admin, _url(site), "/publication", {"action": "retirer", "confirmer": "oui"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert _row(site) == ("kervenanec", False)
    assert site.client().get("/q/kervenanec").status_code == 404


# --------------------------------------------------------------------------------------------------
# the phases


def test_the_team_records_a_phase_and_the_page_shows_it(site: Site) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    done = _post(
        client,
        _url(site),
        "/phases/forum",
        {
            "state": "current",
            "starts_on": "2027-03-01",
            "ends_on": "2027-03-21",
            "place": "Maison de quartier",
            "note": "# Exposition\n\nVenez **voter** :\n\n| lieu | jour |\n|---|---|\n| école | samedi |",
        },
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        forum = phases_of(s, _hood(site))[1]
    assert (forum.state, forum.starts_on, forum.ends_on) == (
        "current",
        date(2027, 3, 1),
        date(2027, 3, 21),
    )
    main = _main(client.get(done.headers["location"]).text)  # type: ignore[attr-defined]
    assert "Phase enregistrée." in main
    assert "Forum : exposition et vote : en cours" in main
    assert "Maison de quartier" in main and "1 mars 2027" in main
    assert (
        "<h5>Exposition</h5>"
    )  # under the phase (h3) and its note (h4) in main and "<strong>voter</strong>" in main
    assert "<table>" in main
    assert 'value="2027-03-01"' in main and '<option value="current" selected>' in main


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"starts_on": "2027-03-21", "ends_on": "2027-03-01"}, "précède son début"),
        ({"starts_on": "21/03/2027"}, "Date illisible"),
        ({"ends_on": "2027-02-30"}, "Date illisible"),
        ({"state": "fini"}, "État inconnu"),
        ({"place": "x" * 301}, "Le lieu dépasse"),
    ],
)
def test_a_wrong_phase_is_the_page_again_with_its_message(
    site: Site, data: dict[str, str], words: str
) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    form = {"state": "planned", "place": "Salle polyvalente", "note": "gardée", **data}
    done = _post(client, _url(site), "/phases/inspiration", form)
    assert done.status_code == 400  # type: ignore[attr-defined]
    main = _main(done.text)  # type: ignore[attr-defined]
    assert words in _words(done.text) and 'id="erreur-inspiration"' in main  # type: ignore[attr-defined]
    assert ">gardée</textarea>" in main  # the typed note is kept
    with store.session_scope(site.engine) as s:
        assert phases_of(s, _hood(site))[3].note == ""


def test_an_unknown_phase_is_a_404(site: Site) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    assert _post(client, _url(site), "/phases/autre", {"state": "done"}).status_code == 404  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# CSRF, escaping, English


def test_every_form_needs_its_csrf_token(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    staff = signed_in_client(site, "staff@b.example")
    for client, path, data in [
        (pilot, "/adresse", {"slug": "kervenanec"}),
        (pilot, "/phases/forum", {"state": "current"}),
        (staff, "/publication", {"action": "publier", "confirmer": "oui"}),
    ]:
        for token in ("", "faux"):
            done = client.post(_url(site) + path, data={"csrf": token, **data})
            assert done.status_code == 403 and "Formulaire refusé" in done.text, path
    assert _row(site) == (None, False)
    with store.session_scope(site.engine) as s:
        assert all(p.state == "planned" for p in phases_of(s, _hood(site)))


def test_notes_names_and_typed_values_are_shown_as_text(site: Site) -> None:
    evil = "<script>alert(1)</script> {{ 7*7 }}"
    with store.session_scope(site.engine) as s:
        hood = s.get(store.Neighbourhood, _hood(site))
        assert hood is not None
        hood.name = evil
    client = signed_in_client(site, "pilote-a@b.example")
    note = (
        f"{evil}\n\n[clic](javascript:alert(1)) <JAVASCRIPT:alert(2)> [x](jAvAsCrIpT:alert(3))"
        " <img src=x onerror=alert(1)>"
    )
    done = _post(
        client, _url(site), "/phases/diagnostic", {"state": "done", "note": note, "place": evil}
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    bad_slug = _post(client, _url(site), "/adresse", {"slug": evil})
    assert bad_slug.status_code == 400  # type: ignore[attr-defined]
    page = client.get(_url(site)).text
    for html in (page, bad_slug.text):  # type: ignore[attr-defined]
        assert "<script>alert" not in html and "&lt;script&gt;" in html
        assert "49" not in _main(html)
        assert "<img" not in html
        assert not re.search(r"href=\"\s*javascript", html, re.IGNORECASE)
    # the note as the public reads it: text, no link, no element of the note's own
    note_html = page.split('<div class="note">', 1)[1].split("</div>", 1)[0]
    assert "<a " not in note_html and "&lt;script&gt;alert(1)&lt;/script&gt;" in note_html
    assert "&#123;&#123; 7*7 &#125;&#125;" in note_html


def test_the_page_reads_in_english(site: Site) -> None:
    client = signed_in_client(site, "pilote-a@b.example")
    client.cookies.set("qet_lang", "en")
    assert _post(client, _url(site), "/phases/forum", {"state": "current"}).status_code == 303  # type: ignore[attr-defined]
    bad = _post(client, _url(site), "/phases/sensibilisation", {"starts_on": "x", "state": "done"})
    text = _words(bad.text)  # type: ignore[attr-defined]
    for french in (
        "Portail du territoire",
        "Adresse du portail",
        "Les six phases",
        "Ce que fait l'équipe",
        "Modifier la phase",
        "Enregistrer",
        "Mener les quatre enquêtes",
        "en cours",
        "à venir",
        "Date illisible",
        "revient au réseau",
        "Début",
        "Lieu",
    ):
        assert french not in text, french
    assert "The six phases" in text
    staff = signed_in_client(site, "staff@b.example")
    staff.cookies.set("qet_lang", "en")
    page = _words(staff.get(_url(site)).text)
    assert "Je confirme" not in page and "Publier le portail" not in page
