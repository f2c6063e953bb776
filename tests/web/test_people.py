"""The people page (/espace/personnes) and a neighbourhood's members: who may do what, another
team's neighbourhood, CSRF, deactivation (sessions and tokens end at once), the last-admin guard,
escaping; invitations e-mailed through a real SMTP conversation, and kept out of the access log."""

from __future__ import annotations

import logging
import re
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
import uvicorn

from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401 (a fixture)
from tests.web.browser_kit import _Server
from tests.web.test_accounts import (
    PASSWORD,
    Site,
    add_pilot,
    cli_admin,
    csrf_of,
    make_site,
    sign_in,
    signed_in_client,
)


def _make(tmp_path: Path, url: str | None = None) -> Site:
    s = make_site(tmp_path, url)
    cli_admin(s.url, "admin@b.example")
    with store.session_scope(s.engine) as session:
        a = store.add_neighbourhood(session, name="Quartier A").id
        b = store.add_neighbourhood(session, name="Quartier B").id
        accounts.create_user(session, email="staff@b.example", password=PASSWORD, role="staff")
    s.hoods = {"A": a, "B": b}  # type: ignore[attr-defined]
    add_pilot(s, "pilote-a@b.example", a)
    add_pilot(s, "pilote-b@b.example", b)
    return s


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = _make(tmp_path)
    yield s
    s.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The site on each backend (deactivation and its guard are transactions)."""
    url = None
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    s = _make(tmp_path, url)
    yield s
    s.engine.dispose()


def _hoods(site: Site) -> dict[str, int]:
    return site.hoods  # type: ignore[attr-defined]


def _user_id(site: Site, email: str) -> int:
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, email)
        assert user is not None
        return user.id


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _bearer(site: Site, email: str) -> dict[str, str]:
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, email)
        assert user is not None
        token = accounts.create_user_token(s, user, label="script")
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------------------------
# who sees and does what


def test_admins_see_every_account_with_its_facts(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    page = admin.get("/espace/personnes")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    for email in ("admin@b.example", "staff@b.example", "pilote-a@b.example"):
        assert f'<th scope="row">{email}</th>' in text
    row = re.search(r"pilote-a@b\.example</th>(.*?)</tr>", text)
    assert row, text
    assert "équipe pilote" in row.group(1) and "Quartier A" in row.group(1)
    assert "jamais" in row.group(1) and "actif" in row.group(1)
    assert "/desactiver" in row.group(1)
    admin_row = re.search(r"admin@b\.example</th>(.*?)</tr>", text)
    assert admin_row and "votre compte" in admin_row.group(1)
    assert "/desactiver" not in admin_row.group(1)  # not offered for itself
    assert "2026-12-07 09:00" in admin_row.group(1)  # signed in at the site's clock
    assert 'value="staff"' in page.text  # may invite network staff
    assert '<a href="/espace/personnes" aria-current="page">' in page.text


def test_staff_read_the_list_and_invite_pilots_only(site: Site) -> None:
    staff = signed_in_client(site, "staff@b.example")
    page = staff.get("/espace/personnes")
    assert page.status_code == 200 and "pilote-b@b.example" in page.text
    assert "/desactiver" not in page.text and "/reactiver" not in page.text
    assert 'value="staff"' not in page.text
    token = csrf_of(page.text)
    pilot = _user_id(site, "pilote-a@b.example")
    for path in (f"/espace/personnes/{pilot}/desactiver", f"/espace/personnes/{pilot}/reactiver"):
        refused = staff.post(path, data={"csrf": token})
        assert refused.status_code == 403 and "Votre rôle ne permet pas" in refused.text
    assert staff.get(f"/espace/personnes/{pilot}/desactiver").status_code == 403
    as_staff = staff.post(
        "/espace/personnes/inviter",
        data={"email": "n@b.example", "role": "staff", "csrf": token},
    )
    assert as_staff.status_code == 403
    invited = staff.post(
        "/espace/personnes/inviter",
        data={
            "email": "n@b.example",
            "role": "pilot",
            "hood": str(_hoods(site)["B"]),
            "csrf": token,
        },
    )
    assert invited.status_code == 200 and "/invitation/" in invited.text
    with store.session_scope(site.engine) as s:
        row = s.query(store.Invitation).one()
        assert (row.role, row.neighbourhood_id) == ("pilot", _hoods(site)["B"])
        invitation_id = row.id
    # revoking on the people page is the administrators'; on the hood page staff may
    revoked = staff.post(
        f"/espace/personnes/invitations/{invitation_id}/revoquer", data={"csrf": token}
    )
    assert revoked.status_code == 403


def test_pilots_have_no_people_page(site: Site) -> None:
    pilot = signed_in_client(site, "pilote-a@b.example")
    page = pilot.get("/espace/personnes")
    assert page.status_code == 403
    assert "/espace/personnes" not in pilot.get("/espace").text  # not in the navigation
    token = csrf_of(pilot.get("/espace").text)
    refused = pilot.post(
        "/espace/personnes/inviter",
        data={"email": "x@b.example", "role": "pilot", "hood": "1", "csrf": token},
    )
    assert refused.status_code == 403
    with store.session_scope(site.engine) as s:
        assert s.query(store.Invitation).count() == 0


def test_an_admin_invites_network_staff_who_sees_every_neighbourhood(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    done = admin.post(
        "/espace/personnes/inviter",
        data={"email": "Reseau@B.example", "role": "staff", "csrf": token},
    )
    assert done.status_code == 200
    link = re.search(r'value="http://testserver(/invitation/[^"]+)"', done.text)
    assert link, done.text
    listed = admin.get("/espace/personnes").text
    assert "reseau@b.example" in listed and "Invitations en attente" in listed
    newcomer = site.client()
    form = newcomer.get(link.group(1))
    accepted = newcomer.post(
        link.group(1),
        data={"password": PASSWORD, "password2": PASSWORD, "csrf": csrf_of(form.text)},
    )
    assert accepted.status_code == 303
    staff = signed_in_client(site, "reseau@b.example")
    board = staff.get("/espace").text
    assert "Quartier A" in board and "Quartier B" in board
    assert staff.get("/espace/personnes").status_code == 200
    with store.session_scope(site.engine) as s:
        assert accounts.user_by_email(s, "reseau@b.example").role == "staff"  # type: ignore[union-attr]
        assert accounts.pending_invitations(s, now=site.clock[0]) == []


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"email": "pas-une-adresse", "role": "staff"}, "adresse électronique valide"),
        ({"email": "p@b.example", "role": "pilot", "hood": ""}, "Choisissez le quartier"),
        ({"email": "p@b.example", "role": "pilot", "hood": "999"}, "Choisissez le quartier"),
        ({"email": "p@b.example", "role": "chef"}, "Choisissez le rôle"),
        ({"email": "pilote-a@b.example", "role": "staff"}, "avec un autre rôle"),
    ],
)
def test_a_wrong_invitation_says_what_to_fix(site: Site, data: dict[str, str], text: str) -> None:
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    refused = admin.post("/espace/personnes/inviter", data={**data, "csrf": token})
    assert refused.status_code == 400 and text in refused.text
    assert 'role="alert"' in refused.text and "Traceback" not in refused.text
    with store.session_scope(site.engine) as s:
        assert s.query(store.Invitation).count() == 0


def test_a_pending_invitation_is_revoked_and_its_link_dies(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    done = admin.post(
        "/espace/personnes/inviter",
        data={
            "email": "p@b.example",
            "role": "pilot",
            "hood": str(_hoods(site)["A"]),
            "csrf": token,
        },
    )
    link = re.search(r'value="http://testserver(/invitation/[^"]+)"', done.text)
    assert link
    with store.session_scope(site.engine) as s:
        invitation_id = s.query(store.Invitation).one().id
    revoked = admin.post(
        f"/espace/personnes/invitations/{invitation_id}/revoquer", data={"csrf": token}
    )
    assert revoked.status_code == 303
    assert "révoquée" in admin.get(revoked.headers["location"]).text
    assert site.client().get(link.group(1)).status_code == 404
    again = admin.post(
        f"/espace/personnes/invitations/{invitation_id}/revoquer", data={"csrf": token}
    )
    assert again.status_code == 404 and "Page introuvable" in again.text


def test_expired_and_used_invitations_are_not_pending(both: Site) -> None:
    from datetime import timedelta

    site = both
    hood = _hoods(site)["A"]
    with store.session_scope(site.engine) as s:
        accounts.invite(s, email="vieux@b.example", neighbourhood_id=hood, now=site.clock[0])
        used = accounts.invite(s, email="servi@b.example", neighbourhood_id=hood, now=site.clock[0])
        assert used.token
        accounts.accept_invitation(s, used.token, PASSWORD, now=site.clock[0])
    site.clock[0] += timedelta(days=6)
    with store.session_scope(site.engine) as s:
        accounts.invite(s, email="neuf@b.example", neighbourhood_id=hood, now=site.clock[0])
    site.clock[0] += timedelta(days=1, seconds=1)
    admin = signed_in_client(site, "admin@b.example")
    for path in ("/espace/personnes", f"/espace/quartiers/{hood}"):
        html = admin.get(path).text
        pending = html.split("Invitations en attente", 1)[1]
        assert "neuf@b.example" in pending and "vieux@b.example" not in pending, path
        assert "servi@b.example" not in pending.split("</table>", 1)[0], path


# --------------------------------------------------------------------------------------------------
# deactivation


def test_deactivation_ends_sessions_and_tokens_at_once(both: Site) -> None:
    site = both
    hood = _hoods(site)["A"]
    pilot = signed_in_client(site, "pilote-a@b.example")
    bearer = _bearer(site, "pilote-a@b.example")
    api = site.client()
    assert api.get(f"/neighbourhoods/{hood}", headers=bearer).status_code == 200  # now cached
    assert pilot.get("/espace").status_code == 200
    admin = signed_in_client(site, "admin@b.example")
    ident = _user_id(site, "pilote-a@b.example")
    confirm = admin.get(f"/espace/personnes/{ident}/desactiver")
    assert confirm.status_code == 200 and "pilote-a@b.example" in confirm.text
    done = admin.post(f"/espace/personnes/{ident}/desactiver", data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303
    assert "désactivé" in admin.get(done.headers["location"]).text
    # the open session is gone, the token too (even the API's cached one), sign-in refused
    assert pilot.get("/espace").status_code == 303
    assert api.get(f"/neighbourhoods/{hood}", headers=bearer).status_code == 401
    assert sign_in(site.client(), "pilote-a@b.example").status_code == 400  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        assert s.query(store.WebSession).filter_by(user_id=ident).count() == 0
        assert s.query(store.ApiToken).filter_by(user_id=ident).count() == 0
        assert s.get(store.User, ident).active is False  # type: ignore[union-attr]
    # reactivated: signs in again, the token stays revoked
    page = admin.get("/espace/personnes")
    back = admin.post(f"/espace/personnes/{ident}/reactiver", data={"csrf": csrf_of(page.text)})
    assert back.status_code == 303
    assert sign_in(site.client(), "pilote-a@b.example").status_code == 303  # type: ignore[attr-defined]
    assert api.get(f"/neighbourhoods/{hood}", headers=bearer).status_code == 401


def test_deactivation_is_one_transaction(both: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure once the account, its sessions and its tokens were changed leaves them all."""
    from api.web import routes

    site = both
    pilot = signed_in_client(site, "pilote-a@b.example")
    _bearer(site, "pilote-a@b.example")
    admin = signed_in_client(site, "admin@b.example")
    ident = _user_id(site, "pilote-a@b.example")

    def broken(*args: object) -> None:
        raise RuntimeError("interrompu")

    monkeypatch.setattr(routes, "_forget_tokens", broken)
    token = csrf_of(admin.get("/espace/personnes").text)
    with pytest.raises(RuntimeError):
        admin.post(f"/espace/personnes/{ident}/desactiver", data={"csrf": token})
    assert pilot.get("/espace").status_code == 200
    with store.session_scope(site.engine) as s:
        assert s.query(store.ApiToken).filter_by(user_id=ident).count() == 1
        assert s.get(store.User, ident).active is True  # type: ignore[union-attr]


def test_the_last_active_admin_cannot_be_deactivated(both: Site) -> None:
    site = both
    admin = signed_in_client(site, "admin@b.example")
    me = _user_id(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    itself = admin.post(f"/espace/personnes/{me}/desactiver", data={"csrf": token})
    assert itself.status_code == 409 and "votre propre compte" in itself.text
    # a second admin may not deactivate the first once it is the last one... and vice versa
    cli_admin(site.url, "second@b.example")
    second = signed_in_client(site, "second@b.example")
    other = _user_id(site, "second@b.example")
    done = admin.post(f"/espace/personnes/{other}/desactiver", data={"csrf": token})
    assert done.status_code == 303
    with store.session_scope(site.engine) as s:
        assert s.get(store.User, me).active is True  # type: ignore[union-attr]
        actor = s.get(store.User, other)
        assert actor is not None
        with pytest.raises(store.ConflictError) as refused:
            accounts.set_active(s, actor, me, False)
        assert "dernier administrateur actif" in refused.value.localized("fr")
    assert second.get("/espace").status_code == 303


def test_two_admins_deactivating_each_other_at_once_leave_one(both: Site) -> None:
    site = both
    cli_admin(site.url, "second@b.example")
    first, second = _user_id(site, "admin@b.example"), _user_id(site, "second@b.example")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def deactivate(actor_id: int, target_id: int) -> None:
        barrier.wait(timeout=60)
        try:
            with store.session_scope(site.engine) as s:
                actor = s.get(store.User, actor_id)
                assert actor is not None
                accounts.set_active(s, actor, target_id, False)
            outcomes.append("done")
        except store.ConflictError:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=deactivate, args=(first, second)),
        threading.Thread(target=deactivate, args=(second, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["done", "refused"]
    with store.session_scope(site.engine) as s:
        assert s.query(store.User).filter_by(role="admin", active=True).count() == 1


def test_people_forms_need_their_csrf_token(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    pilot = _user_id(site, "pilote-a@b.example")
    hood = _hoods(site)["A"]
    for path, data in (
        (f"/espace/personnes/{pilot}/desactiver", {}),
        (f"/espace/personnes/{pilot}/reactiver", {}),
        ("/espace/personnes/inviter", {"email": "x@b.example", "role": "staff"}),
        (f"/espace/quartiers/{hood}/membres/{pilot}/retirer", {}),
        ("/espace/personnes/invitations/1/revoquer", {}),
    ):
        for sent in ({}, {"csrf": "faux"}):
            refused = admin.post(path, data={**data, **sent})
            assert refused.status_code == 403 and "Formulaire refusé" in refused.text, path
    assert pilot_still_active(site, pilot)
    with store.session_scope(site.engine) as s:
        assert s.query(store.Invitation).count() == 0
        assert hood in accounts.memberships(s, pilot)


def pilot_still_active(site: Site, ident: int) -> bool:
    with store.session_scope(site.engine) as s:
        return bool(s.get(store.User, ident).active)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path", ["/espace/personnes/abc/desactiver", "/espace/personnes/999/desactiver"]
)
def test_an_unknown_account_is_a_404_page(site: Site, path: str) -> None:
    admin = signed_in_client(site, "admin@b.example")
    assert admin.get(path).status_code == 404
    token = csrf_of(admin.get("/espace").text)
    assert admin.post(path, data={"csrf": token}).status_code == 404


# --------------------------------------------------------------------------------------------------
# a neighbourhood's members


def test_the_hood_page_lists_members_and_staff_remove_one_after_confirming(site: Site) -> None:
    hood = _hoods(site)["A"]
    add_pilot(site, "second-a@b.example", hood)
    member = signed_in_client(site, "second-a@b.example")
    bearer = _bearer(site, "second-a@b.example")
    api = site.client()
    assert api.get(f"/neighbourhoods/{hood}", headers=bearer).status_code == 200
    staff = signed_in_client(site, "staff@b.example")
    page = staff.get(f"/espace/quartiers/{hood}")
    text = page.text
    assert "pilote-a@b.example" in text and "second-a@b.example" in text
    assert "pilote-b@b.example" not in text  # another neighbourhood's
    ident = _user_id(site, "second-a@b.example")
    remove = f"/espace/quartiers/{hood}/membres/{ident}/retirer"
    assert f'href="{remove}"' in text  # a link to a confirmation page: no JavaScript needed
    confirm = staff.get(remove)
    assert confirm.status_code == 200 and "second-a@b.example" in confirm.text
    assert f'action="{remove}"' in confirm.text and "Annuler" in confirm.text
    done = staff.post(remove, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303
    after = staff.get(done.headers["location"]).text
    assert "retiré du quartier" in after and "second-a@b.example" not in after
    # its pages and its token no longer reach the neighbourhood; its account stays
    assert member.get(f"/espace/quartiers/{hood}").status_code == 404
    assert api.get(f"/neighbourhoods/{hood}", headers=bearer).status_code == 404
    assert member.get("/espace").status_code == 200
    assert staff.post(remove, data={"csrf": csrf_of(after)}).status_code == 404


def test_pilots_see_their_team_but_cannot_remove_anyone(site: Site) -> None:
    hood = _hoods(site)["A"]
    pilot = signed_in_client(site, "pilote-a@b.example")
    page = pilot.get(f"/espace/quartiers/{hood}")
    assert "pilote-a@b.example" in page.text and "/retirer" not in page.text
    assert "Invitations en attente" not in page.text
    ident = _user_id(site, "pilote-a@b.example")
    remove = f"/espace/quartiers/{hood}/membres/{ident}/retirer"
    assert pilot.get(remove).status_code == 403
    refused = pilot.post(remove, data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    with store.session_scope(site.engine) as s:
        assert hood in accounts.memberships(s, ident)


def test_another_teams_member_urls_are_404_pages(site: Site) -> None:
    hoods = _hoods(site)
    pilot = signed_in_client(site, "pilote-a@b.example")
    token = csrf_of(pilot.get("/espace").text)
    other = _user_id(site, "pilote-b@b.example")
    with store.session_scope(site.engine) as s:
        invited = accounts.invite(s, email="n@b.example", neighbourhood_id=hoods["B"])
        assert invited.token
        invitation_id = s.query(store.Invitation).one().id
    for path in (
        f"/espace/quartiers/{hoods['B']}/membres/{other}/retirer",
        f"/espace/quartiers/{hoods['B']}/invitations/{invitation_id}/revoquer",
    ):
        if path.endswith("/retirer"):
            seen = pilot.get(path)
            assert seen.status_code == 404 and "pilote-b@b.example" not in seen.text
            absent = pilot.get(path.replace(f"/{hoods['B']}/", "/999/"))
            assert _main(seen.text) == _main(absent.text)
        sent = pilot.post(path, data={"csrf": token})
        assert sent.status_code == 404 and "Page introuvable" in sent.text
    with store.session_scope(site.engine) as s:
        assert hoods["B"] in accounts.memberships(s, other)
        assert s.query(store.Invitation).count() == 1
    # staff: a member of another neighbourhood, or an invitation to another, is not found here
    staff = signed_in_client(site, "staff@b.example")
    wrong = f"/espace/quartiers/{hoods['A']}/membres/{other}/retirer"
    assert staff.get(wrong).status_code == 404
    moved = staff.post(
        f"/espace/quartiers/{hoods['A']}/invitations/{invitation_id}/revoquer",
        data={"csrf": csrf_of(staff.get("/espace").text)},
    )
    assert moved.status_code == 404


def test_staff_revoke_a_neighbourhoods_pending_invitation(site: Site) -> None:
    hood = _hoods(site)["A"]
    staff = signed_in_client(site, "staff@b.example")
    token = csrf_of(staff.get(f"/espace/quartiers/{hood}/inviter").text)
    staff.post(f"/espace/quartiers/{hood}/inviter", data={"email": "n@b.example", "csrf": token})
    page = staff.get(f"/espace/quartiers/{hood}")
    assert "Invitations en attente" in page.text and "n@b.example" in page.text
    action = re.search(r'action="(/espace/quartiers/\d+/invitations/\d+/revoquer)"', page.text)
    assert action
    done = staff.post(action.group(1), data={"csrf": token})
    assert done.status_code == 303
    after = staff.get(done.headers["location"]).text
    assert "révoquée" in after and "n@b.example" not in after


# --------------------------------------------------------------------------------------------------
# escaping, language


@pytest.mark.parametrize("local", ['"><script>alert(1)</script>', "{{7*7}}"])
def test_emails_are_shown_as_text(site: Site, local: str) -> None:
    # an address is any text with an @ and a dot: what a person typed is data
    email = f"{local}@b.example"
    hood = _hoods(site)["A"]
    with store.session_scope(site.engine) as s:
        accounts.invite(s, email=email, neighbourhood_id=hood)
        user = accounts.create_user(
            s,
            email=f"x{local}@c.example",
            password=PASSWORD,
            role="pilot",
            neighbourhood_ids=[hood],
        )
        ident = user.id
    admin = signed_in_client(site, "admin@b.example")
    for path in (
        "/espace/personnes",
        f"/espace/quartiers/{hood}",
        f"/espace/quartiers/{hood}/membres/{ident}/retirer",
        f"/espace/personnes/{ident}/desactiver",
    ):
        html = admin.get(path).text
        assert "<script>alert" not in html, path
        assert ">49<" not in html and " 49 " not in html, path
        if "script" in local:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        else:
            assert "{{7*7}}" in html, path


def test_the_people_pages_read_in_english(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    admin.get("/langue?choix=en&suite=/espace")
    page = admin.get("/espace/personnes")
    assert '<html lang="en">' in page.text
    assert "Workspace accounts" in page.text and "Pending invitations" in page.text
    ident = _user_id(site, "pilote-a@b.example")
    confirm = admin.get(f"/espace/personnes/{ident}/desactiver").text
    assert "Deactivate the account" in confirm
    hood = admin.get(f"/espace/quartiers/{_hoods(site)['A']}").text
    assert "People who have access to this neighbourhood" in hood


# --------------------------------------------------------------------------------------------------
# invitations by e-mail, and out of the logs


class _SmtpSink(socketserver.StreamRequestHandler):
    """A minimal SMTP server: takes every message and keeps its bytes (``server.messages``)."""

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 sink")
            elif verb == "DATA":
                self._say("354 end with .")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data[1:] if data.startswith(b"..") else data)
                self.server.messages.append(b"".join(body))  # type: ignore[attr-defined]
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self._say("250 ok")


@pytest.fixture
def smtp_sink() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_invitations_are_emailed_through_the_configured_smtp_server(
    site: Site, smtp_sink: socketserver.ThreadingTCPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("QET_SMTP_PORT", str(smtp_sink.server_address[1]))
    monkeypatch.setenv("QET_SMTP_STARTTLS", "0")
    monkeypatch.setenv("QET_SMTP_FROM", "reseau@qet.example")
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    done = admin.post(
        "/espace/personnes/inviter",
        data={
            "email": "p@b.example",
            "role": "pilot",
            "hood": str(_hoods(site)["A"]),
            "csrf": token,
        },
    )
    assert done.status_code == 200 and "aussi été envoyé par courriel" in done.text
    link = re.search(r'value="(http://testserver/invitation/[^"]+)"', done.text)
    assert link  # still shown to copy
    (raw,) = smtp_sink.messages  # type: ignore[attr-defined]
    mail = message_from_bytes(raw)
    assert mail["To"] == "p@b.example" and mail["From"] == "reseau@qet.example"
    body = bytes(mail.get_payload(decode=True)).decode()
    assert link.group(1) in body and "« Quartier A »" in body
    # the e-mailed link works at once (committed before sending)
    assert site.client().get(link.group(1).removeprefix("http://testserver")).status_code == 200


def test_without_smtp_the_link_is_only_shown(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QET_SMTP_HOST", raising=False)
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    done = admin.post(
        "/espace/personnes/inviter",
        data={"email": "staff2@b.example", "role": "staff", "csrf": token},
    )
    assert "/invitation/" in done.text and "courriel" not in done.text


def test_a_refusing_smtp_server_is_said(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        port = closed.server_address[1]
    monkeypatch.setenv("QET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("QET_SMTP_PORT", str(port))  # nobody listens there now
    admin = signed_in_client(site, "admin@b.example")
    token = csrf_of(admin.get("/espace/personnes").text)
    done = admin.post(
        "/espace/personnes/inviter",
        data={"email": "staff2@b.example", "role": "staff", "csrf": token},
    )
    assert done.status_code == 200 and "pas pu être envoyé" in done.text
    assert "/invitation/" in done.text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_access_log_never_holds_an_invitation_token(tmp_path: Path) -> None:
    """Served by uvicorn with its access log on, as ``qet serve`` does."""
    site = _make(tmp_path)
    with store.session_scope(site.engine) as s:
        token = accounts.invite(s, email="n@b.example", neighbourhood_id=_hoods(site)["A"]).token
    assert token
    config = uvicorn.Config(site.app, host="127.0.0.1", port=0, log_level="info", access_log=True)  # type: ignore[arg-type]
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    lines = _Lines()
    try:
        assert server.ready.wait(60)
        logging.getLogger("uvicorn.access").addHandler(lines)  # after uvicorn's own set-up
        port = server.servers[0].sockets[0].getsockname()[1]
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            form = client.get(f"/invitation/{token}")
            assert form.status_code == 200
            client.post(
                f"/invitation/{token}",
                data={"password": "x", "password2": "y", "csrf": csrf_of(form.text)},
            )
            client.get(f"/invitation/{token}?x=1")
    finally:
        logging.getLogger("uvicorn.access").removeHandler(lines)
        server.should_exit = True
        thread.join(60)
        site.engine.dispose()
    invitation_lines = [line for line in lines.lines if "/invitation/" in line]
    assert len(invitation_lines) == 3, lines.lines
    assert all(token not in line for line in lines.lines)
    assert all("/invitation/[…]" in line for line in invitation_lines)


# --------------------------------------------------------------------------------------------------
# the map pages follow the language switch


def test_the_layers_map_takes_the_language_of_the_switch(tmp_path: Path) -> None:
    from tests.conftest import shared
    from tests.web.test_setup import OUTLINE, _send_extract, _send_outline

    site = _make(tmp_path)
    try:
        hood = _hoods(site)["A"]
        pilot = signed_in_client(site, "pilote-a@b.example")
        assert _send_outline(pilot, hood, OUTLINE.read_bytes()).status_code == 303
        source = shared("osm") / "lorient_centre.osm.pbf"
        sent = _send_extract(pilot, hood, source.read_bytes(), source.name)
        assert sent.status_code == 200, sent.text
        # the browser asks for French, the switch says English: the switch wins, as on the pages
        pilot.headers["Accept-Language"] = "fr-FR,fr;q=0.9"
        french = pilot.get(f"/cartes/quartiers/{hood}/couches")
        assert "Quartier A : couches du quartier" in french.text
        pilot.get("/langue?choix=en&suite=/espace")
        english = pilot.get(f"/cartes/quartiers/{hood}/couches")
        assert english.status_code == 200
        assert "Quartier A: the neighbourhood’s layers" in english.text
        assert "couches du quartier" not in english.text
    finally:
        site.engine.dispose()


def test_in_page_lang_gives_the_api_the_pages_language() -> None:
    """What the results map page (api/web/analysis.py) hands to the API's map function."""
    from fastapi import Request

    from api.errors import request_lang
    from api.web._kit import in_page_lang

    class _State:
        lang = "fr"

    class _App:
        state = _State()

    scope = {
        "type": "http",
        "app": _App(),
        "headers": [(b"accept-language", b"fr-FR"), (b"cookie", b"qet_lang=en")],
    }
    request = Request(scope)
    assert request_lang(request) == "fr"
    assert request_lang(in_page_lang(request)) == "en"
    assert request.headers["accept-language"] == "fr-FR"  # the original is left as it was
    no_cookie = Request({**scope, "headers": [(b"accept-language", b"en-GB")]})
    assert request_lang(in_page_lang(no_cookie)) == "en"


@pytest.mark.parametrize(
    "path",
    [
        "/q/lorient-centre/forum?code=AB12CD34",
        "/q/lorient-centre/forum?kiosque=1&code=AB12CD34&x=2",
        "/q/lorient-centre/forum/?code=AB12CD34#vote",
    ],
)
def test_the_access_log_never_holds_a_vote_code(path: str) -> None:
    """The QR card's address carries the participant code: the request line keeps none."""
    from api.main import RedactInvitationTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )
    RedactInvitationTokens().filter(record)
    line = record.getMessage()
    assert "AB12CD34" not in line and "code=[…]" in line and "/q/lorient-centre/forum" in line
