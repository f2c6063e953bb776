"""The pages of the web workspace: who sees what, CSRF, escaping, languages, error pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qet_geo.i18n import _calls, translate
from qet_geo.store import ingest
from qet_geo.store import models as store
from tests.api.factories import su_csv
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    cli_admin(s.url, "admin@b.example")
    with store.session_scope(s.engine) as session:
        a = store.add_neighbourhood(session, name="Quartier A")
        b = store.add_neighbourhood(session, name="Quartier B")
        diag = store.Diagnostic(neighbourhood_id=a.id, year=0)
        session.add(diag)
        session.flush()
        s.hoods = {"A": a.id, "B": b.id}  # type: ignore[attr-defined]
        diag_id = diag.id
    ingest.ingest_su(s.engine, diag_id, su_csv(12, seed=3, prefix="A"))
    add_pilot(s, "pilote-a@b.example", s.hoods["A"])  # type: ignore[attr-defined]
    yield s
    s.engine.dispose()


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _hoods(site: Site) -> dict[str, int]:
    return site.hoods  # type: ignore[attr-defined,no-any-return]


def test_staff_see_every_neighbourhood_with_its_figures(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    page = admin.get("/espace")
    assert page.status_code == 200
    assert "Quartier A" in page.text and "Quartier B" in page.text
    row_a = re.search(r"Quartier A</a></th>(.*?)</tr>", page.text, re.S)
    assert row_a, page.text
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_a.group(1), re.S)
    assert "Collecte en cours" in cells[0] and cells[2] == "12" and cells[3] == "0"
    hood = admin.get(f"/espace/quartiers/{_hoods(site)['A']}")
    assert hood.status_code == 200
    facts = re.sub(r"\s+", " ", hood.text)
    assert "Réponses enregistrées</dt> <dd>12</dd>" in facts
    assert "Fichiers d&#39;enquête déposés</dt> <dd>1</dd>" in facts
    assert "Contour du territoire</dt> <dd>à définir</dd>" in facts


def test_a_pilot_sees_only_its_neighbourhood(site: Site) -> None:
    hoods = _hoods(site)
    pilot = signed_in_client(site, "pilote-a@b.example")
    page = pilot.get("/espace")
    assert "Quartier A" in page.text and "Quartier B" not in page.text
    assert "/espace/quartiers/nouveau" not in page.text
    assert pilot.get(f"/espace/quartiers/{hoods['A']}").status_code == 200
    mine = pilot.get(f"/espace/quartiers/{hoods['A']}")
    csrf = csrf_of(mine.text)
    # another team's neighbourhood: a 404 page, exactly as for one that does not exist
    for path in (f"/espace/quartiers/{hoods['B']}", f"/espace/quartiers/{hoods['B']}/inviter"):
        other = pilot.get(path)
        assert other.status_code == 404 and "Page introuvable" in other.text
        assert "Quartier B" not in other.text
        absent = pilot.get(path.replace(str(hoods["B"]), "999"))
        assert _main(other.text) == _main(absent.text)
    sent = pilot.post(
        f"/espace/quartiers/{hoods['B']}/inviter", data={"email": "x@b.example", "csrf": csrf}
    )
    assert sent.status_code == 404 and "Page introuvable" in sent.text
    # its own: seen, but inviting and creating are the network's
    assert pilot.get(f"/espace/quartiers/{hoods['A']}/inviter").status_code == 403
    made = pilot.post("/espace/quartiers/nouveau", data={"name": "Pirate", "csrf": csrf})
    assert made.status_code == 403 and "Votre rôle ne permet pas" in made.text
    with store.session_scope(site.engine) as s:
        assert s.query(store.Invitation).count() == 0
        assert s.query(store.Neighbourhood).filter_by(name="Pirate").count() == 0


@pytest.mark.parametrize("how", ["none", "wrong", "other session"])
def test_a_form_without_its_csrf_token_is_refused(site: Site, how: str) -> None:
    admin = signed_in_client(site, "admin@b.example")
    other = signed_in_client(site, "admin@b.example")
    data = {"name": "Sans jeton"}
    if how == "wrong":
        data["csrf"] = "faux"
    elif how == "other session":
        data["csrf"] = csrf_of(other.get("/espace").text)
    refused = admin.post("/espace/quartiers/nouveau", data=data)
    assert refused.status_code == 403 and "Formulaire refusé" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    with store.session_scope(site.engine) as s:
        assert s.query(store.Neighbourhood).filter_by(name="Sans jeton").count() == 0
    # signing out needs it too
    assert admin.post("/deconnexion").status_code == 403
    assert admin.get("/espace").status_code == 200


def test_htmx_requests_send_the_csrf_token_in_a_header(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    page = admin.get("/espace").text
    token = csrf_of(page)
    # htmx takes it from the page's body
    assert f"""<body hx-headers='{{"X-CSRF-Token": "{token}"}}'>""" in page
    made = admin.post(
        "/espace/quartiers/nouveau",
        data={"name": "Par htmx"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert made.status_code == 303


def test_the_sign_in_form_needs_its_token_too(site: Site) -> None:
    client = site.client()
    refused = client.post(
        "/connexion", data={"email": "admin@b.example", "password": "correct horse battery"}
    )
    assert refused.status_code == 403 and "qet_session" not in client.cookies


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "{{ 7*7 }}", '"><img src=x>'])
def test_user_text_is_shown_as_text(site: Site, name: str) -> None:
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace").text)
    made = admin.post("/espace/quartiers/nouveau", data={"name": name, "csrf": token})
    assert made.status_code == 303
    escaped = (
        name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    )
    for path in ("/espace", made.headers["location"], made.headers["location"] + "/inviter"):
        html = admin.get(path).text
        assert escaped in html, path  # shown, as text
        assert "<script>alert" not in html and "<img src=x>" not in html
        assert ">49<" not in html and "· 49" not in html  # never evaluated as a template


def test_a_name_is_required(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace").text)
    empty = admin.post("/espace/quartiers/nouveau", data={"name": "   ", "csrf": token})
    assert empty.status_code == 400 and "nom de 1 à 200 caractères" in empty.text
    assert 'aria-invalid="true"' in empty.text


def test_pages_without_a_session_lead_to_sign_in_and_come_back(site: Site) -> None:
    client = site.client()
    hood = _hoods(site)["A"]
    went = client.get(f"/espace/quartiers/{hood}")
    assert went.status_code == 303
    assert went.headers["location"] == f"/connexion?suite=%2Fespace%2Fquartiers%2F{hood}"
    form = client.get(went.headers["location"])
    assert f'name="suite" value="/espace/quartiers/{hood}"' in form.text


@pytest.mark.parametrize(
    "path",
    [
        "/espace/quartiers/abc",
        "/espace/quartiers/99999999999999999999",
        "/invitation/x",
        "/espace/zut",
        "/espace/quartiers/1/zut",
    ],
)
def test_errors_are_pages(site: Site, path: str) -> None:
    admin = signed_in_client(site, "admin@b.example")
    page = admin.get(path)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html") and "<h1>" in page.text


def test_pages_get_their_own_strict_policy(site: Site) -> None:
    page = site.client().get("/connexion")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert '<script src="/static/htmx/htmx.min.js"' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    css = site.client().get("/static/web/web.css")
    assert css.status_code == 200 and "@media print" in css.text


class _Text(HTMLParser):
    """The visible text and the labelling attributes of a page, one piece per node."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.pieces.append(data.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder") and value:
                self.pieces.append(value.strip())


def _french_only() -> set[str]:
    """The web pages' French texts whose English differs (a leftover gives itself away)."""
    return {
        call.template
        for call in _calls()
        if call.template
        and (call.path.startswith("api/web/"))
        and translate(call.template, "en") != call.template
    }


def test_english_pages_have_no_french_left(site: Site) -> None:
    french = _french_only()
    assert len(french) > 60
    admin = signed_in_client(site, "admin@b.example")
    switched = admin.get("/langue?choix=en&suite=/espace")
    assert switched.status_code == 303 and switched.headers["location"] == "/espace"
    hood = _hoods(site)["A"]
    token = csrf_of(admin.get("/espace").text)
    pages = {
        path: admin.get(path)
        for path in (
            "/espace",
            f"/espace/quartiers/{hood}",
            f"/espace/quartiers/{hood}/inviter",
            "/espace/quartiers/nouveau",
            "/espace/compte",
            "/espace/quartiers/999",
        )
    }
    pages["token"] = admin.post("/espace/compte/jetons", data={"label": "R", "csrf": token})
    pages["invited"] = admin.post(
        f"/espace/quartiers/{hood}/inviter", data={"email": "n@b.example", "csrf": token}
    )
    link = re.search(r'value="http://testserver(/invitation/[^"]+)"', pages["invited"].text)
    assert link
    pages["refused"] = admin.post("/espace/quartiers/nouveau", data={"name": "x"})
    anonymous = site.client()
    anonymous.cookies.set("qet_lang", "en")
    pages["sign-in"] = anonymous.get("/connexion")
    pages["invitation"] = anonymous.get(link.group(1))
    for name, page in pages.items():
        assert '<html lang="en">' in page.text, name
        parser = _Text()
        parser.feed(page.text)
        left = [p for p in parser.pieces if p in french]
        assert not left, f"{name}: {left}"
    assert "Neighbourhoods you can see" in pages["/espace"].text
    assert "Tokens for scripts" in pages["/espace/compte"].text
    assert "Page not found" in pages["/espace/quartiers/999"].text
    assert "Français" in pages["/espace"].text  # the way back


def test_accept_language_chooses_english_without_a_cookie(site: Site) -> None:
    client: TestClient = site.client()
    page = client.get("/connexion", headers={"Accept-Language": "en-US,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in page.text and "E-mail address" in page.text
    french = client.get("/connexion", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    assert '<html lang="fr">' in french.text and "Adresse électronique" in french.text
