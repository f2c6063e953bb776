"""The network's community pages: member sign-up and what a member may reach (pages and JSON
API), questions and their moderation, the expertise directory, contact and inbox; escaping of
every field, CSRF, rate limits, English; a scripted attacker who looks for a hidden post and an
expert's e-mail on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.dependencies import Caller
from api.web import mail
from qet_geo.store import accounts, community
from qet_geo.store import models as store
from tests.web.test_accounts import PASSWORD, Site, csrf_of, make_site, signed_in_client

EVIL = "<script>alert(1)</script> {{ 7*7 }}"
EXPERT_EMAIL = "expert.secret@example.org"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    yield s
    s.engine.dispose()


def _account(site: Site, email: str, role: str = "member", hoods: list[int] | None = None) -> int:
    with store.session_scope(site.engine) as s:
        return accounts.create_user(
            s, email=email, password=PASSWORD, role=role, neighbourhood_ids=hoods or []
        ).id


def _hood(site: Site, name: str, *, published: bool) -> int:
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(s, name=name, published=published)
        hood.slug = f"q{hood.id}"
        return hood.id


def _project(site: Site, hood: int, title: str, *, published: bool = True) -> int:
    with store.session_scope(site.engine) as s:
        project = store.Project(neighbourhood_id=hood, title=title, published=published)
        s.add(project)
        s.flush()
        return project.id


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _clean(html: str) -> None:
    """No script tag made of user text, no template expression evaluated."""
    assert "<script>alert" not in html
    assert "49" not in _main(html)


def _post(client: TestClient, form_url: str, url: str, data: dict[str, object]) -> object:
    page = client.get(form_url)
    assert page.status_code == 200, page.text
    return client.post(url, data={**data, "csrf": csrf_of(page.text)})


# --------------------------------------------------------------------------------------------------
# signing up and the member's rights


def _signup(client: TestClient, **data: str) -> object:
    form = client.get("/reseau/inscription")
    assert form.status_code == 200
    return client.post("/reseau/inscription", data={"csrf": csrf_of(form.text), **data})


def test_anyone_signs_up_as_a_member_then_signs_in(site: Site) -> None:
    client = site.client()
    page = client.get("/reseau/inscription")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "téléphone" in page.text and 'name="address"' not in page.text
    done = _signup(
        client, email="Ana@Example.org", password=PASSWORD, password2=PASSWORD, consent="1"
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"].startswith("/connexion?bienvenue=1")  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, "ana@example.org")
        assert user is not None and user.role == "member"
    member = signed_in_client(site, "ana@example.org")
    # a signed-in visitor is sent on
    assert member.get("/reseau/inscription").headers["location"] == "/reseau/questions"


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"password2": "autre chose encore"}, "Les deux mots de passe diffèrent."),
        ({"consent": ""}, "Acceptez les règles de participation"),
        ({"email": "pas-une-adresse"}, "adresse électronique valide"),
        ({"password": "court", "password2": "court"}, "au moins 12 caractères"),
    ],
)
def test_a_wrong_sign_up_says_what_to_fix(site: Site, fields: dict[str, str], text: str) -> None:
    data = {"email": "bo@example.org", "password": PASSWORD, "password2": PASSWORD, "consent": "1"}
    page = _signup(site.client(), **{**data, **fields})
    assert page.status_code == 400  # type: ignore[attr-defined]
    assert text in page.text  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        assert accounts.user_by_email(s, "bo@example.org") is None


def test_sign_up_needs_its_form_token_and_does_not_tell_who_has_an_account(site: Site) -> None:
    client = site.client()
    refused = client.post(
        "/reseau/inscription",
        data={"email": "cy@example.org", "password": PASSWORD, "password2": PASSWORD},
    )
    assert refused.status_code == 403
    _account(site, "pilot@example.org", "pilot", [_hood(site, "Q", published=False)])
    again = _signup(
        client, email="pilot@example.org", password="x" * 20, password2="x" * 20, consent="1"
    )
    assert again.status_code == 303  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, "pilot@example.org")
        assert user is not None and user.role == "pilot"  # untouched


def test_sign_ups_from_one_address_are_braked(site: Site) -> None:
    client = site.client()
    for i in range(accounts.FREE_FAILURES):
        done = _signup(
            client, email=f"m{i}@example.org", password=PASSWORD, password2=PASSWORD, consent="1"
        )
        assert done.status_code == 303  # type: ignore[attr-defined]
    braked = _signup(
        client, email="m9@example.org", password=PASSWORD, password2=PASSWORD, consent="1"
    )
    assert braked.status_code == 429  # type: ignore[attr-defined]
    assert "Trop de comptes" in braked.text  # type: ignore[attr-defined]
    assert int(braked.headers["retry-after"]) > 0  # type: ignore[attr-defined]


def test_a_member_reaches_no_neighbourhood_page_and_no_api_right(site: Site) -> None:
    published = _hood(site, "Publié", published=True)
    private = _hood(site, "Privé", published=False)
    _account(site, "ana@example.org")
    member = signed_in_client(site, "ana@example.org")
    # the workspace is the account page only
    for path in (
        "/espace",
        f"/espace/quartiers/{published}",
        f"/espace/quartiers/{private}",
        f"/espace/quartiers/{published}/portail",
        "/espace/personnes",
        "/espace/quartiers/nouveau",
    ):
        page = member.get(path)
        assert page.status_code == 303 and page.headers["location"] == "/espace/compte", path
    assert member.get("/espace/compte").status_code == 200
    csrf = csrf_of(member.get("/espace/compte").text)
    assert (
        member.post(f"/espace/quartiers/{published}/inviter", data={"csrf": csrf}).status_code
        == 303
    )
    # no token for scripts
    refused = member.post("/espace/compte/jetons", data={"csrf": csrf, "label": "x"})
    assert refused.status_code == 422 and "jeton" in refused.text
    with store.session_scope(site.engine) as s:
        assert s.query(store.ApiToken).count() == 0
    # a member caller (were a token made by a script) reads and writes nothing of a hood
    caller = Caller("member", frozenset(), "user:1")
    with store.session_scope(site.engine) as s:
        for hood_id in (published, private):
            hood = s.get(store.Neighbourhood, hood_id)
            assert not caller.can_read(hood) and not caller.can_write(hood)
        s.add(store.ApiToken(token_sha256=store.token_hash("member-token"), role="member"))
    api = site.client()
    auth = {"Authorization": "Bearer member-token"}
    assert api.get(f"/neighbourhoods/{private}", headers=auth).status_code == 404
    assert api.get(f"/neighbourhoods/{published}", headers=auth).status_code == 404
    assert api.get("/neighbourhoods", headers=auth).json() == []
    made = api.post(f"/neighbourhoods/{private}/diagnostics", json={"year": 0}, headers=auth)
    assert made.status_code == 404
    assert api.post("/neighbourhoods", json={"name": "X"}, headers=auth).status_code == 403


# --------------------------------------------------------------------------------------------------
# questions


def _ask(client: TestClient, theme: str = "methode", title: str = EVIL, body: str = EVIL) -> int:
    done = _post(
        client,
        "/reseau/questions/nouvelle",
        "/reseau/questions/nouvelle",
        {"theme": theme, "title": title, "body": body},
    )
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    return int(done.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def test_members_ask_and_answer_and_the_public_reads(site: Site) -> None:
    public = site.client()
    assert public.get("/reseau/questions/nouvelle").status_code == 303  # sign in first
    _account(site, "ana@example.org")
    _account(site, "bo@example.org")
    ana = signed_in_client(site, "ana@example.org")
    bo = signed_in_client(site, "bo@example.org")
    thread = _ask(ana, body=f"# Titre\n\n**gras** {EVIL}")
    answered = _post(
        bo, f"/reseau/questions/{thread}", f"/reseau/questions/{thread}/repondre", {"body": EVIL}
    )
    assert answered.status_code == 303  # type: ignore[attr-defined]
    listing = public.get("/reseau/questions")
    assert listing.status_code == 200
    _clean(listing.text)
    assert "&lt;script&gt;" in listing.text and "1 réponse ·" in listing.text
    page = public.get(f"/reseau/questions/{thread}")
    assert page.status_code == 200
    _clean(page.text)
    assert "<strong>gras</strong>" in page.text and "<h4>Titre</h4>" in page.text
    assert "Membre n°" in page.text and "ana@example.org" not in page.text
    assert 'name="body"' not in page.text  # no form without an account
    # a theme filter, pages, unknown ids
    assert "Aucune question" in public.get("/reseau/questions?theme=meat_frequency").text
    assert public.get("/reseau/questions/99999").status_code == 404
    assert public.get("/reseau/questions/abc").status_code == 404
    assert public.get("/reseau/questions?page=zz").status_code == 200


def test_question_forms_refuse_bad_input_and_missing_tokens(site: Site) -> None:
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    bad = _post(
        ana,
        "/reseau/questions/nouvelle",
        "/reseau/questions/nouvelle",
        {"theme": "sport", "title": EVIL, "body": EVIL},
    )
    assert bad.status_code == 400 and "thème" in bad.text  # type: ignore[attr-defined]
    _clean(bad.text)  # type: ignore[attr-defined]
    assert "&lt;script&gt;" in bad.text  # the form keeps what was typed, as text
    refused = ana.post(
        "/reseau/questions/nouvelle", data={"theme": "methode", "title": "T", "body": "B"}
    )
    assert refused.status_code == 403
    thread = _ask(ana)
    assert ana.post(f"/reseau/questions/{thread}/repondre", data={"body": "x"}).status_code == 403
    empty = _post(
        ana, f"/reseau/questions/{thread}", f"/reseau/questions/{thread}/repondre", {"body": " "}
    )
    assert empty.status_code == 400  # type: ignore[attr-defined]


def test_posting_too_fast_is_refused_with_a_wait(site: Site) -> None:
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    thread = _ask(ana, title="T", body="B")
    for i in range(community.POSTS_PER_HOUR - 1):
        _post(
            ana,
            f"/reseau/questions/{thread}",
            f"/reseau/questions/{thread}/repondre",
            {"body": f"réponse {i}"},
        )
    refused = _post(
        ana, f"/reseau/questions/{thread}", f"/reseau/questions/{thread}/repondre", {"body": "x"}
    )
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "réessayez dans" in refused.text  # type: ignore[attr-defined]
    # the thread's answers come a page at a time
    assert "Page 1 sur 1" not in ana.get(f"/reseau/questions/{thread}").text


def test_staff_hide_a_post_and_a_thread_members_report(site: Site) -> None:
    _account(site, "ana@example.org")
    _account(site, "bo@example.org")
    _account(site, "staff@example.org", "staff")
    ana = signed_in_client(site, "ana@example.org")
    bo = signed_in_client(site, "bo@example.org")
    staff = signed_in_client(site, "staff@example.org")
    thread = _ask(ana, title="Quel quota ?", body="Le texte")
    _post(
        bo,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/{thread}/repondre",
        {"body": "SPAM-SECRET achetez"},
    )
    with store.session_scope(site.engine) as s:
        spam = s.query(store.CommunityPost).filter_by(body="SPAM-SECRET achetez").one().id
    reported = _post(
        ana,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/contributions/{spam}/signaler",
        {"reason": EVIL},
    )
    assert reported.status_code == 303  # type: ignore[attr-defined]
    assert "signalé" in ana.get(reported.headers["location"]).text  # type: ignore[attr-defined]
    # a member may not moderate, nor see the reports
    assert bo.get("/reseau/questions/moderation").status_code == 403
    hide = _post(
        bo,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/contributions/{spam}/moderer",
        {"hidden": "1", "reason": "x"},
    )
    assert hide.status_code == 403  # type: ignore[attr-defined]
    queue = staff.get("/reseau/questions/moderation")
    assert queue.status_code == 200 and "SPAM-SECRET" in queue.text
    _clean(queue.text)
    no_token = staff.post(
        f"/reseau/questions/contributions/{spam}/moderer", data={"hidden": "1", "reason": "x"}
    )
    assert no_token.status_code == 403
    no_reason = _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/contributions/{spam}/moderer",
        {"hidden": "1", "reason": ""},
    )
    assert no_reason.status_code == 422  # type: ignore[attr-defined]
    assert "raison est obligatoire" in no_reason.text  # type: ignore[attr-defined]
    hidden = _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/contributions/{spam}/moderer",
        {"hidden": "1", "reason": "Publicité"},
    )
    assert hidden.status_code == 303  # type: ignore[attr-defined]
    public = site.client().get(f"/reseau/questions/{thread}").text
    assert "SPAM-SECRET" not in public and "masqué par la modération" not in public
    mine = bo.get(f"/reseau/questions/{thread}").text
    assert "SPAM-SECRET" not in mine and "masqué par la modération" in mine
    assert "SPAM-SECRET" in staff.get(f"/reseau/questions/{thread}").text
    assert "Aucun message signalé" in staff.get("/reseau/questions/moderation").text
    # the whole thread
    _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/{thread}/moderer",
        {"hidden": "1", "reason": "Doublon"},
    )
    assert site.client().get(f"/reseau/questions/{thread}").status_code == 404
    assert bo.get(f"/reseau/questions/{thread}").status_code == 404
    assert "Quel quota" not in _main(site.client().get("/reseau/questions").text)
    assert "masquée par la modération" in ana.get(f"/reseau/questions/{thread}").text
    shown = _post(
        staff, f"/reseau/questions/{thread}", f"/reseau/questions/{thread}/moderer", {"hidden": "0"}
    )
    assert shown.status_code == 303  # type: ignore[attr-defined]
    assert site.client().get(f"/reseau/questions/{thread}").status_code == 200


def test_the_questions_read_in_english(site: Site) -> None:
    client = site.client()
    client.cookies.set("qet_lang", "en")
    page = client.get("/reseau/questions")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "Ask a question" not in page.text and "Sign in" in page.text
    assert "Questions of the network" in page.text
    assert "Create a member account" in client.get("/reseau/inscription").text
    assert "Expertise directory" in client.get("/reseau/expertise").text


# --------------------------------------------------------------------------------------------------
# expertise


def _profile(client: TestClient, **fields: object) -> object:
    return _post(client, "/reseau/expertise/profil", "/reseau/expertise/profil", fields)


def _expert_id(site: Site, email: str) -> int:
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, email)
        assert user is not None
        expert = community.expert_of_user(s, user.id)
        assert expert is not None
        return expert.id


def test_an_expert_profile_is_public_only_once_published(site: Site) -> None:
    hood = _hood(site, f"Lorient {EVIL}", published=True)
    sheet = _project(site, hood, f"Vélos {EVIL}")
    draft = _project(site, hood, "Brouillon", published=False)
    _account(site, EXPERT_EMAIL)
    expert = signed_in_client(site, EXPERT_EMAIL)
    form = expert.get("/reseau/expertise/profil")
    assert form.status_code == 200 and "Brouillon" not in form.text
    _clean(form.text)
    saved = _profile(
        expert,
        display_name=f"Ana {EVIL}",
        organisation=EVIL,
        skills=["mobilite", "enquete"],
        skills_other=EVIL,
        bio=f"# Parcours\n\n{EVIL}",
        projects=[str(sheet)],
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    ident = _expert_id(site, EXPERT_EMAIL)
    public = site.client()
    assert public.get(f"/reseau/expertise/{ident}").status_code == 404
    assert "Aucun profil publié" in public.get("/reseau/expertise").text
    own = expert.get(f"/reseau/expertise/{ident}")
    assert own.status_code == 200 and "pas publié" in own.text
    _profile(
        expert,
        display_name=f"Ana {EVIL}",
        organisation=EVIL,
        skills=["mobilite"],
        skills_other=EVIL,
        bio=f"# Parcours\n\n{EVIL}",
        projects=[str(sheet)],
        published="1",
    )
    listing = public.get("/reseau/expertise")
    assert listing.status_code == 200 and "1 profils." in listing.text
    _clean(listing.text)
    assert "Aucun profil" in public.get("/reseau/expertise?competence=energie").text
    page = public.get(f"/reseau/expertise/{ident}")
    assert page.status_code == 200
    _clean(page.text)
    assert "<h3>Parcours</h3>" in page.text and f'href="/q/q{hood}/projets/{sheet}"' in page.text
    assert EXPERT_EMAIL not in page.text and 'name="body"' not in page.text
    with store.session_scope(site.engine) as s:
        assert [e.id for e in community.experts_of_project(s, sheet)] == [ident]
    # bad input: an unpublished sheet, an unknown skill, no name
    for fields in (
        {"display_name": "Ana", "projects": [str(draft)]},
        {"display_name": "Ana", "skills": ["magie"]},
        {"display_name": " "},
    ):
        refused = _profile(expert, **fields)
        assert refused.status_code == 400  # type: ignore[attr-defined]
    assert expert.post("/reseau/expertise/profil", data={"display_name": "X"}).status_code == 403
    assert public.get("/reseau/expertise/profil").status_code == 303


def _published_expert(site: Site) -> int:
    _account(site, EXPERT_EMAIL)
    expert = signed_in_client(site, EXPERT_EMAIL)
    _profile(expert, display_name="Ana", skills=["analyse"], published="1")
    return _expert_id(site, EXPERT_EMAIL)


def test_contact_goes_to_the_inbox_without_revealing_the_address(site: Site) -> None:
    ident = _published_expert(site)
    _account(site, "bo@example.org")
    bo = signed_in_client(site, "bo@example.org")
    url = f"/reseau/expertise/{ident}"
    public = site.client().get(url).text
    assert "Connectez-vous" in public and 'name="body"' not in public
    assert bo.post(f"{url}/contact", data={"body": "Bonjour"}).status_code == 403
    sent = _post(bo, url, f"{url}/contact", {"body": f"Bonjour {EVIL}"})
    assert sent.status_code == 303  # type: ignore[attr-defined]
    after = bo.get(sent.headers["location"])  # type: ignore[attr-defined]
    assert "transmis" in after.text and EXPERT_EMAIL not in after.text
    expert = signed_in_client(site, EXPERT_EMAIL)
    inbox = expert.get("/reseau/messages")
    assert inbox.status_code == 200 and "bo@example.org" in inbox.text
    _clean(inbox.text)
    assert "&lt;script&gt;" in inbox.text
    assert "Aucun message" in bo.get("/reseau/messages").text
    assert site.client().get("/reseau/messages").status_code == 303
    # not to oneself, not to an unknown profile; bounded per day
    mine = expert.get(url)
    assert 'name="body"' not in mine.text and "Modifier mon profil" in mine.text
    token = csrf_of(expert.get("/reseau/expertise/profil").text)
    to_self = expert.post(f"{url}/contact", data={"body": "x", "csrf": token})
    assert to_self.status_code == 404
    unknown = bo.post(
        "/reseau/expertise/999/contact", data={"body": "x", "csrf": csrf_of(after.text)}
    )
    assert unknown.status_code == 404
    for _ in range(community.MESSAGES_PER_DAY - 1):
        _post(bo, url, f"{url}/contact", {"body": "encore"})
    refused = _post(bo, url, f"{url}/contact", {"body": "trop"})
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert EXPERT_EMAIL not in refused.text  # type: ignore[attr-defined]


def test_contact_is_emailed_when_smtp_is_configured(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[EmailMessage] = []
    monkeypatch.setenv("QET_SMTP_HOST", "smtp.example.org")
    monkeypatch.setattr(mail, "send", lambda config, message, **kw: sent.append(message) or True)
    ident = _published_expert(site)
    _account(site, "bo@example.org")
    bo = signed_in_client(site, "bo@example.org")
    url = f"/reseau/expertise/{ident}"
    done = _post(bo, url, f"{url}/contact", {"body": "Bonjour Ana"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    (message,) = sent
    assert message["To"] == EXPERT_EMAIL and message["Reply-To"] == "bo@example.org"
    assert "Bonjour Ana" in message.get_content()
    assert EXPERT_EMAIL not in bo.get(done.headers["location"]).text  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        assert s.query(store.ExpertMessage).one().emailed


# --------------------------------------------------------------------------------------------------
# the attacker


def test_an_attacker_finds_no_hidden_post_and_no_experts_address(site: Site) -> None:
    """A scripted visitor (public, then a member) follows every link of the community pages and
    looks for a hidden post's text and the expert's e-mail address in every answer."""
    ident = _published_expert(site)
    _account(site, "staff@example.org", "staff")
    _account(site, "eve@example.org")
    expert = signed_in_client(site, EXPERT_EMAIL)
    staff = signed_in_client(site, "staff@example.org")
    thread = _ask(expert, title="Question d'Ana", body="HIDDEN-THREAD-TEXT")
    _post(
        expert,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/{thread}/repondre",
        {"body": "HIDDEN-POST-TEXT"},
    )
    visible = _ask(expert, title="Autre", body="visible")
    with store.session_scope(site.engine) as s:
        post = s.query(store.CommunityPost).filter_by(body="HIDDEN-POST-TEXT").one().id
    _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/contributions/{post}/moderer",
        {"hidden": "1", "reason": "R"},
    )
    _post(
        staff,
        f"/reseau/questions/{visible}",
        f"/reseau/questions/{visible}/moderer",
        {"hidden": "1", "reason": "R2"},
    )
    _post(
        staff,
        f"/reseau/questions/{visible}",
        f"/reseau/questions/{visible}/moderer",
        {"hidden": "0"},
    )
    _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/{thread}/moderer",
        {"hidden": "1", "reason": "R3"},
    )
    for attacker in (site.client(), signed_in_client(site, "eve@example.org")):
        seen: set[str] = set()
        todo = [
            "/reseau/questions",
            "/reseau/expertise",
            f"/reseau/expertise/{ident}",
            f"/reseau/questions/{thread}",
            f"/reseau/questions/{thread}?page=2",
            "/reseau/messages",
            "/reseau/questions/moderation",
        ]
        todo += [f"/reseau/questions/{visible}?page={n}" for n in (1, 2)]
        while todo:
            path = todo.pop()
            if path in seen or len(seen) > 200:
                continue
            seen.add(path)
            page = attacker.get(path)
            for secret in ("HIDDEN-THREAD-TEXT", "HIDDEN-POST-TEXT", EXPERT_EMAIL, "expert.secret"):
                assert secret not in page.text, (path, secret)
            for link in re.findall(
                r'href="(/reseau/(?:questions|expertise|messages|inscription)[^"#]*)"', page.text
            ):
                todo.append(link.replace("&amp;", "&"))
        assert f"/reseau/expertise/{ident}" in seen


def test_threads_come_a_page_at_a_time_and_reasons_are_text(site: Site) -> None:
    ids = [_account(site, f"m{i}@example.org") for i in range(3)]
    with store.session_scope(site.engine) as s:
        users = [s.get(store.User, i) for i in ids]
        for n in range(community.PAGE_SIZE + 1):
            author = users[n % 3]
            assert author is not None
            community.ask_question(s, author, theme="methode", title=f"Fil {n:02d}", body="B")
    public = site.client()
    first = public.get("/reseau/questions")
    assert "Page 1 sur 2" in first.text and "Fil 20" in first.text and "Fil 00" not in first.text
    assert 'rel="next"' in first.text
    second = public.get("/reseau/questions?theme=&page=2")
    assert "Fil 00" in second.text and "Fil 20" not in second.text and 'rel="prev"' in second.text
    assert "Fil 00" in public.get("/reseau/questions?theme=methode&page=2").text
    # a moderator's reason and a sign-up's address are shown as text
    _account(site, "staff@example.org", "staff")
    staff = signed_in_client(site, "staff@example.org")
    with store.session_scope(site.engine) as s:
        thread = s.query(store.CommunityThread).filter_by(title="Fil 00").one().id
    _post(
        staff,
        f"/reseau/questions/{thread}",
        f"/reseau/questions/{thread}/moderer",
        {"hidden": "1", "reason": EVIL},
    )
    page = staff.get(f"/reseau/questions/{thread}")
    assert page.status_code == 200 and "&lt;script&gt;" in page.text
    _clean(page.text)
    refused = _signup(site.client(), email=EVIL, password=PASSWORD, password2=PASSWORD, consent="1")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    _clean(refused.text)  # type: ignore[attr-defined]
