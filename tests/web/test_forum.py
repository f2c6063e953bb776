"""The forum's vote: the team's page (create the vote, its codes once as QR cards, paper counts,
closing) and the public voting page ``/q/{slug}/forum`` (a code typed or scanned, the kiosk, the
results from 11 ballots with the online/paper split).

Each test makes its own neighbourhood (a diagnostic, a release with vote themes, a portal
address), so that no test depends on another's vote; the throttle of wrong codes is reset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.portal import set_phase, set_slug
from qet_geo.store.releases import Figures
from tests.web.test_accounts import (
    PASSWORD,
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


def _votes_rows(lang: str) -> list[dict[str, object]]:
    words = {
        "fr": ("Mobilité quotidienne", "Alimentation (viande)"),
        "en": ("Daily mobility", "Food (meat)"),
    }[lang]
    return [
        {"usage": "transportation_mode", "theme": words[0], "footprint": 1800.0,
         "potential": 1234.0, "built": 300.0},
        {"usage": "meat_frequency", "theme": words[1], "footprint": 900.0,
         "potential": 456.0, "built": 0.0},
    ]  # fmt: skip


@dataclass
class World:
    site: Site
    admin: TestClient
    admin2: TestClient
    staff: TestClient
    pilot: TestClient
    other: TestClient
    pilot_hood: int
    other_hood: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = make_site(tmp_path_factory.mktemp("forum"))
    cli_admin(site.url, "admin@reseau.example")
    with store.session_scope(site.engine) as s:
        accounts.create_user(s, email="admin2@reseau.example", password=PASSWORD, role="admin")
        accounts.create_user(s, email="staff@reseau.example", password=PASSWORD, role="staff")
        mine = store.add_neighbourhood(s, name="Pilote").id
        theirs = store.add_neighbourhood(s, name="Autre").id
    add_pilot(site, "pilote@ex.example", mine)
    add_pilot(site, "autre@ex.example", theirs)
    yield World(
        site,
        signed_in_client(site, "admin@reseau.example"),
        signed_in_client(site, "admin2@reseau.example"),
        signed_in_client(site, "staff@reseau.example"),
        signed_in_client(site, "pilote@ex.example"),
        signed_in_client(site, "autre@ex.example"),
        mine,
        theirs,
    )
    site.engine.dispose()


@dataclass
class Hood:
    id: int
    slug: str
    diag: int


def _hood(
    w: World, *, name: str = "Kervénanec", release: bool = True, published: bool = True
) -> Hood:
    """A fresh neighbourhood with its diagnostic, (a release with vote themes), an address."""
    w.site.app.state.vote_throttle = None  # type: ignore[attr-defined]
    n = next(_N)
    with store.session_scope(w.site.engine) as s:
        hood = store.add_neighbourhood(s, name=name, published=published)
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        if release:
            links = {"status": "ok", "fr": {"votes": _votes_rows("fr")},
                     "en": {"votes": _votes_rows("en")}}  # fmt: skip
            s.add(
                store.Release(
                    diagnostic_id=diag.id,
                    number=1,
                    n_respondents=40,
                    respondent_ids=[],
                    figures=Figures(n_respondents=40, links=links).as_json(),
                    summary={},
                )
            )
        slug = set_slug(s, hood, f"quartier-{n}")
        set_phase(
            s, hood.id, "forum", state="current", place="Salle <b>des fêtes</b>",
            starts_on=date(2027, 3, 13), ends_on=date(2027, 3, 20),
        )  # fmt: skip
        return Hood(hood.id, slug, diag.id)


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _create(w: World, h: Hood, question: str = "Quel thème ?", n: int = 30) -> list[str]:
    page = w.admin.get(f"/espace/quartiers/{h.id}/forum")
    assert page.status_code == 200, page.text
    done = w.admin.post(
        f"/espace/quartiers/{h.id}/forum/vote",
        data={"csrf": csrf_of(page.text), "question": question, "n_codes": str(n)},
    )
    assert done.status_code == 201, done.text
    return re.findall(r'class="vote-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<', done.text)


def _vote_id(w: World, h: Hood) -> int:
    with store.session_scope(w.site.engine) as s:
        found = s.scalar(select(store.Vote.id).where(store.Vote.diagnostic_id == h.diag))
        assert found is not None
        return int(found)


def _public_vote(
    w: World, h: Hood, code: str, choice: str = "0", *, kiosk: bool = False
) -> tuple[TestClient, object]:
    voter = w.site.client()
    page = voter.get(f"/q/{h.slug}/forum" + ("?kiosque=1" if kiosk else ""))
    assert page.status_code == 200
    data = {"csrf": csrf_of(page.text), "code": code, "choice": choice}
    if kiosk:
        data["kiosque"] = "1"
    return voter, voter.post(f"/q/{h.slug}/forum", data=data)


def _ballots(w: World, h: Hood, codes: list[str], theme: str) -> None:
    api = w.site.client()
    vote = _vote_id(w, h)
    for code in codes:
        done = api.post(f"/votes/{vote}/ballots", json={"code": code, "choices": [theme]})
        assert done.status_code == 201, done.text


def _close(w: World, h: Hood) -> None:
    page = w.admin.get(f"/espace/quartiers/{h.id}/forum")
    done = w.admin.post(
        f"/espace/quartiers/{h.id}/forum/clore", data={"csrf": csrf_of(page.text), "confirm": "oui"}
    )
    assert done.status_code == 303


def _paper(client: TestClient, h: Hood, counts: list[int], blank: int) -> object:
    page = client.get(f"/espace/quartiers/{h.id}/forum")
    data: dict[str, object] = {"csrf": csrf_of(page.text), "count": [str(n) for n in counts]}
    data["blank"] = str(blank)
    return client.post(f"/espace/quartiers/{h.id}/forum/papier", data=data)


# --------------------------------------------------------------------------------------------------
# the team's page


def test_the_neighbourhood_page_links_the_forum(world: World) -> None:
    page = world.pilot.get(f"/espace/quartiers/{world.pilot_hood}")
    assert f'href="/espace/quartiers/{world.pilot_hood}/forum"' in page.text


def test_rights_on_the_team_page(world: World) -> None:
    assert world.site.client().get("/espace/quartiers/1/forum").status_code == 303  # sign in
    mine = world.pilot.get(f"/espace/quartiers/{world.pilot_hood}/forum")
    assert mine.status_code == 200
    assert world.pilot.get(f"/espace/quartiers/{world.other_hood}/forum").status_code == 404
    assert world.pilot.get("/espace/quartiers/999999/forum").status_code == 404
    assert world.pilot.get("/espace/quartiers/abc/forum").status_code == 404
    # another team's neighbourhood: 404 even with a valid token of one's own
    refused = world.other.post(
        f"/espace/quartiers/{world.pilot_hood}/forum/vote",
        data={"csrf": csrf_of(world.other.get("/espace").text), "question": "Q", "n_codes": "3"},
    )
    assert refused.status_code == 404
    # staff read, but may not create the vote
    h = _hood(world)
    seen = world.staff.get(f"/espace/quartiers/{h.id}/forum")
    assert seen.status_code == 200 and "Créer le vote et ses codes" not in seen.text
    forbidden = world.staff.post(
        f"/espace/quartiers/{h.id}/forum/vote",
        data={"csrf": csrf_of(seen.text), "question": "Q", "n_codes": "3"},
    )
    assert forbidden.status_code == 403
    assert _vote_id_or_none(world, h) is None


def _vote_id_or_none(w: World, h: Hood) -> int | None:
    with store.session_scope(w.site.engine) as s:
        return s.scalar(select(store.Vote.id).where(store.Vote.diagnostic_id == h.diag))


def test_forms_without_their_token_are_refused(world: World) -> None:
    h = _hood(world)
    for path, data in (
        ("vote", {"question": "Q", "n_codes": "3"}),
        ("papier", {"count": ["1", "2"], "blank": "0"}),
        ("clore", {"confirm": "oui"}),
    ):
        for token in ({}, {"csrf": "faux"}):
            sent = world.admin.post(
                f"/espace/quartiers/{h.id}/forum/{path}", data={**data, **token}
            )
            assert sent.status_code == 403 and "Formulaire refusé" in sent.text
    assert _vote_id_or_none(world, h) is None
    # the public form too
    sent = world.site.client().post(f"/q/{h.slug}/forum", data={"code": "X", "choice": "0"})
    assert sent.status_code == 403 and "Formulaire refusé" in sent.text


def test_creating_shows_the_codes_once_as_qr_cards(world: World) -> None:
    h = _hood(world)
    page = world.admin.get(f"/espace/quartiers/{h.id}/forum")
    # the release's themes, by reduction potential
    assert page.text.index("Mobilité quotidienne") < page.text.index("Alimentation (viande)")
    done = world.admin.post(
        f"/espace/quartiers/{h.id}/forum/vote",
        data={"csrf": csrf_of(page.text), "question": "Quel thème ?", "n_codes": "5"},
    )
    assert done.status_code == 201
    assert done.headers["cache-control"] == "no-store"
    codes = re.findall(r'class="vote-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<', done.text)
    assert len(set(codes)) == 5
    assert done.text.count('<svg width="') == 5 and 'class="qr"' in done.text
    assert "http" not in re.sub(r"http://testserver/q/[a-z0-9-]+/forum", "", _main(done.text))
    # the QR code holds the public address with the code (decoded from its SVG would need a
    # reader: its data is the segno drawing of exactly that text)
    from qet_geo.escaping import qr_svg

    first = codes[0].replace("-", "")
    expected = qr_svg(f"http://testserver/q/{h.slug}/forum?code={first}", title="Code QR du vote")
    assert expected in done.text and 'role="img" aria-label="Code QR du vote"' in expected
    assert " ".join(codes[0]) in done.text  # the code letter by letter
    # shown once: the page afterwards has none, and a second vote is refused
    again = world.admin.get(f"/espace/quartiers/{h.id}/forum")
    assert not any(code in again.text for code in codes) and "<svg" not in again.text
    second = world.admin.post(
        f"/espace/quartiers/{h.id}/forum/vote",
        data={"csrf": csrf_of(again.text), "question": "Encore ?", "n_codes": "5"},
    )
    assert second.status_code == 409 and "existe déjà" in second.text


def test_creating_checks_its_input(world: World) -> None:
    h = _hood(world, release=False)
    page = world.admin.get(f"/espace/quartiers/{h.id}/forum")
    # no release: the six usages
    assert "Numérique" in page.text and "Mobilité quotidienne" in page.text
    csrf = csrf_of(page.text)
    for data in (
        {"question": "Q", "n_codes": "beaucoup"},
        {"question": "Q", "n_codes": "0"},
        {"question": "Q", "n_codes": "9999"},
        {"question": "   ", "n_codes": "4"},
    ):
        sent = world.admin.post(f"/espace/quartiers/{h.id}/forum/vote", data={"csrf": csrf, **data})
        assert sent.status_code == 422, data
        assert 'role="alert"' in sent.text and "Traceback" not in sent.text
    assert _vote_id_or_none(world, h) is None


def test_a_portal_without_an_address_gets_no_cards(world: World) -> None:
    with store.session_scope(world.site.engine) as s:
        hood = store.add_neighbourhood(s, name="Sans adresse")
        s.add(store.Diagnostic(neighbourhood_id=hood.id, year=0))
        hood_id = hood.id
    page = world.admin.get(f"/espace/quartiers/{hood_id}/forum")
    sent = world.admin.post(
        f"/espace/quartiers/{hood_id}/forum/vote",
        data={"csrf": csrf_of(page.text), "question": "Q", "n_codes": "3"},
    )
    assert sent.status_code == 409 and "adresse" in sent.text


def test_paper_counts_agree_without_showing_the_other(world: World) -> None:
    h = _hood(world)
    _create(world, h, n=3)
    assert _paper(world.admin, h, [7, 4], 1).status_code == 303  # type: ignore[attr-defined]
    second = world.admin2.get(f"/espace/quartiers/{h.id}/forum")
    assert "il en faut un second" in second.text
    assert "Votre décompte" not in second.text  # not the first counter's numbers
    again = _paper(world.admin, h, [7, 4], 1)
    assert again.status_code == 409 and "déjà saisi" in again.text  # type: ignore[attr-defined]
    assert _paper(world.admin2, h, [7, 5], 1).status_code == 303  # type: ignore[attr-defined]
    assert "ne concordent pas" in world.admin.get(f"/espace/quartiers/{h.id}/forum").text
    page = world.admin2.get(f"/espace/quartiers/{h.id}/forum")
    withdrawn = world.admin2.post(
        f"/espace/quartiers/{h.id}/forum/papier/retirer", data={"csrf": csrf_of(page.text)}
    )
    assert withdrawn.status_code == 303
    assert _paper(world.admin2, h, [7, 4], 1).status_code == 303  # type: ignore[attr-defined]
    assert "Deux décomptes concordent" in world.admin.get(f"/espace/quartiers/{h.id}/forum").text
    bad = _paper(world.pilot, h, [1, 2], 0)  # not this pilot's neighbourhood
    assert bad.status_code == 404  # type: ignore[attr-defined]


def test_a_paper_count_must_be_whole_numbers(world: World) -> None:
    h = _hood(world)
    _create(world, h, n=3)
    for counts, blank in ((["x", "1"], "0"), (["1"], "0"), (["-2", "1"], "0")):
        page = world.admin.get(f"/espace/quartiers/{h.id}/forum")
        sent = world.admin.post(
            f"/espace/quartiers/{h.id}/forum/papier",
            data={"csrf": csrf_of(page.text), "count": counts, "blank": blank},
        )
        assert sent.status_code == 422 and 'role="alert"' in sent.text


def test_closing_asks_for_confirmation_and_agreed_paper_counts(world: World) -> None:
    h = _hood(world)
    _create(world, h, n=3)
    _paper(world.admin, h, [2, 1], 0)
    page = world.admin.get(f"/espace/quartiers/{h.id}/forum")
    one = world.admin.post(
        f"/espace/quartiers/{h.id}/forum/clore", data={"csrf": csrf_of(page.text), "confirm": "oui"}
    )
    assert one.status_code == 409 and "ne concordent pas encore" in one.text
    _paper(world.admin2, h, [2, 1], 0)
    sent = world.admin.post(
        f"/espace/quartiers/{h.id}/forum/clore", data={"csrf": csrf_of(page.text)}
    )
    assert sent.status_code == 422 and "Cochez la case" in sent.text
    _close(world, h)
    closed = world.admin.get(f"/espace/quartiers/{h.id}/forum?fait=clos")
    assert "Le vote est clos" in closed.text
    assert (
        "Enregistrer mon décompte" not in closed.text and "Retirer mon décompte" not in closed.text
    )
    sent = world.admin.post(
        f"/espace/quartiers/{h.id}/forum/papier/retirer", data={"csrf": csrf_of(closed.text)}
    )
    assert sent.status_code == 409 and "clos" in sent.text


# --------------------------------------------------------------------------------------------------
# the public page


def test_public_vote_with_a_typed_or_scanned_code(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=4)
    voter = world.site.client()
    page = voter.get(f"/q/{h.slug}/forum")
    assert page.status_code == 200
    main = _main(page.text)
    assert "Quel thème ?" in main and "Salle &lt;b&gt;des fêtes&lt;/b&gt;" in main
    assert "Du 13 mars 2027 au 20 mars 2027." in main
    assert "Mobilité quotidienne" in main and "1 234" in main.replace("\u202f", " ").replace(
        "\xa0", " "
    )
    assert 'aria-current="page"' in page.text
    # scanned: the code fills the form
    scanned = voter.get(f"/q/{h.slug}/forum?code={codes[0].replace('-', '')}")
    assert f'value="{codes[0].replace("-", "")}"' in scanned.text
    _, done = _public_vote(world, h, codes[0].lower().replace("-", " "), "1")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"] == f"/q/{h.slug}/forum?vote=ok#vote"  # type: ignore[attr-defined]
    thanks = voter.get(f"/q/{h.slug}/forum?vote=ok")
    assert "votre vote est enregistré" in thanks.text and codes[0] not in thanks.text
    # English reader: the themes in English
    english = world.site.client().get(f"/q/{h.slug}/forum", headers={"Accept-Language": "en"})
    assert "Daily mobility" in english.text


def test_a_spent_code_and_a_missing_choice_are_refused(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=4)
    assert _public_vote(world, h, codes[0])[1].status_code == 303  # type: ignore[attr-defined]
    _, spent = _public_vote(world, h, codes[0])
    assert spent.status_code == 409 and "déjà voté" in spent.text  # type: ignore[attr-defined]
    _, none = _public_vote(world, h, codes[1], "")
    assert none.status_code == 422 and "Choisissez un thème" in none.text  # type: ignore[attr-defined]
    _, odd = _public_vote(world, h, codes[1], "99")
    assert odd.status_code == 422  # type: ignore[attr-defined]


def test_wrong_codes_are_refused_then_throttled(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=2)
    limit = world.site.app.state.settings.vote_code_failures_per_minute  # type: ignore[attr-defined]
    for _ in range(limit):
        _, wrong = _public_vote(world, h, "0000-0000-0000")
        assert wrong.status_code == 403  # type: ignore[attr-defined]
        assert "pas un code de ce vote" in wrong.text  # type: ignore[attr-defined]
    _, held = _public_vote(world, h, codes[0])  # even a right code waits
    assert held.status_code == 429 and "réessayez dans" in held.text  # type: ignore[attr-defined]
    assert int(held.headers["retry-after"]) > 0  # type: ignore[attr-defined]


def test_kiosk_mode_returns_to_an_empty_form(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=3)
    voter, done = _public_vote(world, h, codes[0], kiosk=True)
    assert done.headers["location"] == f"/q/{h.slug}/forum?vote=ok&kiosque=1#vote"  # type: ignore[attr-defined]
    page = voter.get(f"/q/{h.slug}/forum?vote=ok&kiosque=1")
    assert "<nav" not in page.text and "<footer" not in page.text
    assert 'class="portal kiosk"' in page.text
    assert (
        'name="kiosque" value="1"' in page.text
        and 'id="code" name="code" type="text" value=""' in page.text
    )
    assert "La personne suivante peut voter" in page.text


def test_results_wait_for_closing_and_eleven_ballots(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=20)
    _ballots(world, h, codes[:10], "Mobilité quotidienne")
    late_voter = world.site.client()
    opened = late_voter.get(f"/q/{h.slug}/forum")
    assert "après la clôture" in opened.text and "<table" not in opened.text
    _close(world, h)
    few = world.site.client().get(f"/q/{h.slug}/forum")
    assert "Pas assez de bulletins pour publier" in few.text and "<table" not in few.text
    assert "Mobilité quotidienne" in few.text  # the themes stay listed
    # a form loaded before the closing, sent after it
    late = late_voter.post(
        f"/q/{h.slug}/forum", data={"csrf": csrf_of(opened.text), "code": codes[15], "choice": "0"}
    )
    assert late.status_code == 409 and "clos" in late.text


def test_results_after_closing_with_the_split(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=30)
    _ballots(world, h, codes[:14], "Mobilité quotidienne")
    _ballots(world, h, codes[14:26], "Alimentation (viande)")
    assert _paper(world.admin, h, [11, 0], 0).status_code == 303  # type: ignore[attr-defined]
    assert _paper(world.admin2, h, [11, 0], 0).status_code == 303  # type: ignore[attr-defined]
    _close(world, h)
    page = world.site.client().get(f"/q/{h.slug}/forum")
    main = _main(page.text)
    assert "Thème choisi : Mobilité quotidienne." in main
    assert "37 bulletins en tout" in main
    assert "Dont 26 bulletins en ligne et 11 bulletins papier" in main
    assert re.search(r"Mobilité quotidienne</th><td>25<", main)
    assert re.search(r"Alimentation \(viande\)</th><td>12<", main)
    team = world.admin.get(f"/espace/quartiers/{h.id}/forum")
    assert "Dont 26 bulletins en ligne et 11 bulletins papier" in team.text


def test_a_small_paper_part_hides_the_split(world: World) -> None:
    h = _hood(world)
    codes = _create(world, h, n=30)
    _ballots(world, h, codes[:12], "Mobilité quotidienne")
    _ballots(world, h, codes[12:24], "Alimentation (viande)")
    _paper(world.admin, h, [2, 0], 0)
    _paper(world.admin2, h, [2, 0], 0)
    _close(world, h)
    main = _main(world.site.client().get(f"/q/{h.slug}/forum").text)
    assert "26 bulletins en tout" in main and "pas publiée" in main
    assert "Dont" not in main


def test_user_text_is_escaped(world: World) -> None:
    h = _hood(world, name=EVIL)
    _create(world, h, question=EVIL, n=2)
    for page in (
        world.admin.get(f"/espace/quartiers/{h.id}/forum"),
        world.site.client().get(f"/q/{h.slug}/forum"),
    ):
        assert "<script>alert(1)" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page.text
        assert "49" not in _main(page.text)


def test_unknown_or_unpublished_portals_are_not_found(world: World) -> None:
    assert world.site.client().get("/q/nulle-part/forum").status_code == 404
    h = _hood(world, published=False)
    hidden = world.site.client().get(f"/q/{h.slug}/forum")
    assert hidden.status_code == 404 and "Traceback" not in hidden.text
    posted = world.site.client().post(f"/q/{h.slug}/forum", data={"csrf": "x"})
    assert posted.status_code in (403, 404)


def test_english_pages_have_no_french_left(world: World) -> None:
    french = _french_only()
    h = _hood(world)
    codes = _create(world, h, n=30)
    english = world.site.client()
    english.cookies.set("qet_lang", "en")
    open_page = english.get(f"/q/{h.slug}/forum?kiosque=1&vote=ok")
    _ballots(world, h, codes[:12], "Mobilité quotidienne")
    _close(world, h)
    world.admin.cookies.set("qet_lang", "en")
    try:
        pages = [
            open_page,
            english.get(f"/q/{h.slug}/forum"),
            world.admin.get(f"/espace/quartiers/{h.id}/forum?fait=clos"),
        ]
    finally:
        world.admin.cookies.set("qet_lang", "fr")
    for page in pages:
        assert page.status_code == 200 and '<html lang="en">' in page.text
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, left
    assert "Chosen theme: Daily mobility." in pages[1].text
    assert re.search(r"From [^<]*2027 to [^<]*2027\.", pages[1].text)
