"""Accounts of the web workspace: the CLI's first admin, signing in and out, the brake on
password guessing, invitations, sessions and the tokens made from the account page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from api.settings import Settings
from qet_geo.cli.main import app as cli
from qet_geo.store import accounts
from qet_geo.store import models as store
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class Site:
    """An app on a fresh SQLite store, its clock (``clock[0]``) and a client."""

    app: object
    url: str
    clock: list[datetime]

    def client(self, base_url: str = "http://testserver") -> TestClient:
        return TestClient(self.app, base_url=base_url, follow_redirects=False)  # type: ignore[arg-type]

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.app.state.engine  # type: ignore[attr-defined]


def make_site(tmp_path: Path, url: str | None = None) -> Site:
    url = url or f"sqlite:///{tmp_path / 'web.db'}"
    app = create_app(Settings(database_url=url, osm_dir=str(tmp_path / "osm")))
    clock = [START]
    app.state.web_clock = lambda: clock[0]
    return Site(app, url, clock)


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The app on each backend (the store's times come back naive from SQLite, aware from
    PostgreSQL)."""
    url = None
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    s = make_site(tmp_path, url)
    yield s
    s.engine.dispose()


def cli_admin(url: str, email: str, password: str = PASSWORD, *lang: str) -> object:
    return CliRunner().invoke(
        cli,
        [*lang, "admin", "create", email, "--password-stdin", "--database-url", url],
        input=password + "\n",
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, suite: str = "") -> object:
    form = client.get("/connexion")
    assert form.status_code == 200
    return client.post(
        "/connexion",
        data={"email": email, "password": password, "csrf": csrf_of(form.text), "suite": suite},
    )


def signed_in_client(site: Site, email: str, password: str = PASSWORD) -> TestClient:
    client = site.client()
    done = sign_in(client, email, password)
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    return client


def add_pilot(site: Site, email: str, hood_id: int) -> None:
    with store.session_scope(site.engine) as s:
        accounts.create_user(
            s, email=email, password=PASSWORD, role="pilot", neighbourhood_ids=[hood_id]
        )


# --------------------------------------------------------------------------------------------------
# the CLI


def test_the_cli_creates_an_admin_who_can_sign_in(site: Site) -> None:
    done = cli_admin(site.url, "Alice@Reseau.Example")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    assert "alice@reseau.example" in done.output  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:
        user = accounts.user_by_email(s, "ALICE@reseau.example")
        assert user is not None and user.role == "admin" and user.active
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    client = signed_in_client(site, "alice@reseau.example")
    assert client.get("/espace").status_code == 200


def test_the_cli_asks_the_password_twice_hidden(site: Site) -> None:
    mismatch = CliRunner().invoke(
        cli,
        ["admin", "create", "a@b.example", "--database-url", site.url],
        input=f"{PASSWORD}\nautre mot de passe long\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert PASSWORD not in mismatch.output  # hidden input
    with store.session_scope(site.engine) as s:
        assert accounts.authenticate(s, "a@b.example", PASSWORD) is not None


@pytest.mark.parametrize(
    ("lang", "weak", "exists"),
    [
        ((), "au moins 12 caractères", "un compte existe déjà"),
        (("--lang", "en"), "at least 12 characters", "an account already exists"),
    ],
)
def test_the_cli_refuses_a_weak_password_and_an_existing_email(
    site: Site, lang: tuple[str, ...], weak: str, exists: str
) -> None:
    short = cli_admin(site.url, "a@b.example", "court", *lang)
    assert short.exit_code == 2 and weak in short.output  # type: ignore[attr-defined]
    assert cli_admin(site.url, "a@b.example").exit_code == 0  # type: ignore[attr-defined]
    again = cli_admin(site.url, "A@B.example", PASSWORD, *lang)
    assert again.exit_code == 2 and exists in again.output  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# signing in and out


def test_an_unknown_email_costs_a_password_check_too(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real = accounts._verify
    monkeypatch.setattr(accounts, "_verify", lambda h, p: checks.append(h) or real(h, p))
    with store.session_scope(site.engine) as s:
        assert accounts.authenticate(s, "nobody@b.example", PASSWORD) is None
    assert len(checks) == 1 and checks[0].startswith("$argon2id$")


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client()
    assert client.get("/espace").headers["location"] == "/connexion?suite=%2Fespace"
    done = sign_in(client, "a@b.example", suite="/espace/compte")
    assert done.status_code == 303 and done.headers["location"] == "/espace/compte"  # type: ignore[attr-defined]
    cookie = next(
        c
        for c in done.headers.get_list("set-cookie")
        if c.startswith("qet_session=")  # type: ignore[attr-defined]
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http to the test host only
    value = client.cookies["qet_session"]
    with store.session_scope(site.engine) as s:  # only its hash is stored
        assert s.get(store.WebSession, store.token_hash(value)) is not None
        assert s.get(store.WebSession, value) is None
    page = client.get("/espace")
    assert page.status_code == 200 and "a@b.example" in page.text
    out = client.post("/deconnexion", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    # the old cookie no longer opens anything: the session is gone on the server
    replay = site.client()
    replay.cookies.set("qet_session", value)
    assert replay.get("/espace").status_code == 303


def test_the_session_cookie_is_secure_over_https(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client("https://qet.example")
    done = sign_in(client, "a@b.example")
    cookie = next(
        c
        for c in done.headers.get_list("set-cookie")
        if c.startswith("qet_session=")  # type: ignore[attr-defined]
    )
    assert "secure" in cookie.lower()


@pytest.mark.parametrize(
    ("suite", "target"),
    [
        ("/espace/compte", "/espace/compte"),
        ("//evil.example/x", "/espace"),
        ("https://evil.example/", "/espace"),
        ("/\\evil.example", "/espace"),
    ],
)
def test_only_paths_of_the_site_are_followed_after_sign_in(
    site: Site, suite: str, target: str
) -> None:
    cli_admin(site.url, "a@b.example")
    done = sign_in(site.client(), "a@b.example", suite=suite)
    assert done.headers["location"] == target  # type: ignore[attr-defined]


def test_five_wrong_passwords_then_even_the_right_one_waits(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client()
    for _ in range(accounts.FREE_FAILURES):
        wrong = sign_in(client, "a@b.example", "mauvais mot de passe")
        assert wrong.status_code == 400  # type: ignore[attr-defined]
        assert "mot de passe incorrect" in wrong.text  # type: ignore[attr-defined]
    refused = sign_in(client, "A@b.example", PASSWORD)
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert refused.headers["retry-after"] == "30"  # type: ignore[attr-defined]
    assert "Trop de tentatives" in refused.text and "30 secondes" in refused.text  # type: ignore[attr-defined]
    assert "qet_session" not in client.cookies
    site.clock[0] += timedelta(seconds=29)
    assert sign_in(client, "a@b.example", PASSWORD).status_code == 429  # type: ignore[attr-defined]
    site.clock[0] += timedelta(seconds=2)
    # one more wrong password doubles the wait
    assert sign_in(client, "a@b.example", "encore mauvais").status_code == 400  # type: ignore[attr-defined]
    again = sign_in(client, "a@b.example", PASSWORD)
    assert again.headers["retry-after"] == "60"  # type: ignore[attr-defined]
    site.clock[0] += timedelta(seconds=61)
    assert sign_in(client, "a@b.example", PASSWORD).status_code == 303  # type: ignore[attr-defined]


def test_one_address_trying_many_emails_is_slowed_too(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client()
    for i in range(accounts.FREE_FAILURES):
        assert sign_in(client, f"x{i}@b.example", "devine").status_code == 400  # type: ignore[attr-defined]
    assert sign_in(client, "a@b.example", PASSWORD).status_code == 429  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as s:  # neither e-mails nor addresses are kept
        keys = [row.key for row in s.query(store.LoginAttempt)]
    assert keys and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_an_english_reader_is_refused_in_english(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client()
    client.headers["Accept-Language"] = "en-GB,en;q=0.8"
    for _ in range(accounts.FREE_FAILURES):
        sign_in(client, "a@b.example", "mauvais mot de passe")
    refused = sign_in(client, "a@b.example")
    assert "Too many sign-in attempts" in refused.text  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# invitations


def _invite(admin: TestClient, hood_id: int, email: str) -> str:
    form = admin.get(f"/espace/quartiers/{hood_id}/inviter")
    assert form.status_code == 200
    done = admin.post(
        f"/espace/quartiers/{hood_id}/inviter", data={"email": email, "csrf": csrf_of(form.text)}
    )
    assert done.status_code == 200, done.text
    match = re.search(r'value="(http://testserver/invitation/[^"]+)"', done.text)
    assert match, done.text
    return match.group(1).removeprefix("http://testserver")


def _accept(client: TestClient, link: str, password: str, password2: str | None = None) -> object:
    form = client.get(link)
    assert form.status_code == 200, form.text
    return client.post(
        link,
        data={"password": password, "password2": password2 or password, "csrf": csrf_of(form.text)},
    )


def test_an_invitation_makes_a_pilot_account_once(site: Site) -> None:
    cli_admin(site.url, "admin@b.example")
    admin = signed_in_client(site, "admin@b.example")
    form = admin.get("/espace/quartiers/nouveau")
    made = admin.post(
        "/espace/quartiers/nouveau", data={"name": "Kervénanec", "csrf": csrf_of(form.text)}
    )
    assert made.status_code == 303
    hood_id = int(made.headers["location"].rsplit("/", 1)[1])
    link = _invite(admin, hood_id, "Pilote@B.example")
    with store.session_scope(site.engine) as s:  # only the token's hash is stored
        row = s.query(store.Invitation).one()
        assert row.token_sha256 == store.token_hash(link.rsplit("/", 1)[1])
        assert row.email == "pilote@b.example" and row.neighbourhood_id == hood_id

    pilot = site.client()
    differ = _accept(pilot, link, PASSWORD, "autre mot de passe")
    assert differ.status_code == 400 and "diffèrent" in differ.text  # type: ignore[attr-defined]
    short = _accept(pilot, link, "court")
    assert short.status_code == 400 and "12 caractères" in short.text  # type: ignore[attr-defined]
    done = _accept(pilot, link, PASSWORD)
    assert done.status_code == 303 and done.headers["location"].startswith("/connexion")  # type: ignore[attr-defined]
    used = pilot.get(link)
    assert used.status_code == 410 and "déjà servi" in used.text
    again = pilot.post(link, data={"password": "x" * 20, "password2": "x" * 20, "csrf": "x"})
    assert again.status_code in (403, 410)
    signed = signed_in_client(site, "pilote@b.example")
    page = signed.get("/espace")
    assert "Kervénanec" in page.text and f"/espace/quartiers/{hood_id}" in page.text


def test_an_invitation_expires_after_seven_days(site: Site) -> None:
    cli_admin(site.url, "admin@b.example")
    with store.session_scope(site.engine) as s:
        hood_id = store.add_neighbourhood(s, name="Bois du Château").id
    admin = signed_in_client(site, "admin@b.example")
    link = _invite(admin, hood_id, "tard@b.example")
    site.clock[0] += timedelta(days=7, seconds=1)
    late = site.client().get(link)
    assert late.status_code == 410 and "expiré" in late.text
    unknown = site.client().get("/invitation/nimporte-quoi")
    assert unknown.status_code == 404 and "existe pas" in unknown.text


def test_inviting_an_existing_account_adds_the_neighbourhood(site: Site) -> None:
    cli_admin(site.url, "admin@b.example")
    with store.session_scope(site.engine) as s:
        first = store.add_neighbourhood(s, name="Premier").id
        second = store.add_neighbourhood(s, name="Second").id
    add_pilot(site, "p@b.example", first)
    admin = signed_in_client(site, "admin@b.example")
    form = admin.get(f"/espace/quartiers/{second}/inviter")
    done = admin.post(
        f"/espace/quartiers/{second}/inviter",
        data={"email": "P@b.example", "csrf": csrf_of(form.text)},
    )
    assert done.status_code == 200 and "déjà un compte" in done.text
    assert "/invitation/" not in done.text
    assert (
        f"/espace/quartiers/{second}" in signed_in_client(site, "p@b.example").get("/espace").text
    )


def test_the_invitation_email_holds_the_link(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.web import mail

    monkeypatch.setenv("QET_SMTP_HOST", "smtp.reseau.example")
    monkeypatch.setenv("QET_SMTP_STARTTLS", "0")
    config = mail.smtp_config(None)
    assert config is not None and config.port == 587 and not config.starttls
    message = mail.invitation_message(
        sender=config.sender,
        to="p@b.example",
        link="https://qet.example/invitation/abc",
        neighbourhood="Kervénanec",
    )
    assert message["To"] == "p@b.example" and message["From"] == "qet-geo@smtp.reseau.example"
    body = message.get_content()
    assert "https://qet.example/invitation/abc" in body and "« Kervénanec »" in body
    assert "7 jours" in body
    english = mail.invitation_message(
        sender="x@y.example", to="p@b.example", link="L", neighbourhood=None, lang="en"
    )
    assert english["Subject"] == "Invitation to the qet-geo workspace"
    monkeypatch.delenv("QET_SMTP_HOST")
    assert mail.smtp_config(None) is None


def test_an_invitation_is_emailed_when_smtp_is_configured(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.web import mail

    sent: list[object] = []
    monkeypatch.setenv("QET_SMTP_HOST", "smtp.reseau.example")
    monkeypatch.setattr(mail, "send", lambda config, message: sent.append(message) or True)
    cli_admin(site.url, "admin@b.example")
    with store.session_scope(site.engine) as s:
        hood_id = store.add_neighbourhood(s, name="Kervénanec").id
    link = _invite(signed_in_client(site, "admin@b.example"), hood_id, "p@b.example")
    assert len(sent) == 1 and link in sent[0].get_content()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# tokens for scripts


def test_tokens_made_on_the_account_page_work_on_the_api_until_revoked(site: Site) -> None:
    with store.session_scope(site.engine) as s:
        mine = store.add_neighbourhood(s, name="Le mien").id
        other = store.add_neighbourhood(s, name="L'autre").id
    add_pilot(site, "p@b.example", mine)
    client = signed_in_client(site, "p@b.example")
    page = client.get("/espace/compte")
    made = client.post(
        "/espace/compte/jetons", data={"label": "script R", "csrf": csrf_of(page.text)}
    )
    assert made.status_code == 200
    token = re.search(
        r'id="nouveau-jeton" class="copy" type="text" readonly value="([^"]+)"', made.text
    )
    assert token, made.text
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    # shown once: the account page lists it by name only
    listed = client.get("/espace/compte")
    assert "script R" in listed.text and token.group(1) not in listed.text
    api = site.client()
    assert api.get(f"/neighbourhoods/{mine}", headers=bearer).status_code == 200
    assert api.get(f"/neighbourhoods/{other}", headers=bearer).status_code == 404
    with store.session_scope(site.engine) as s:
        row = s.query(store.ApiToken).one()
        assert row.role == "pilot" and row.neighbourhood_ids == [mine] and row.user_id
        token_id = row.id
    revoked = client.post(
        f"/espace/compte/jetons/{token_id}/revoquer", data={"csrf": csrf_of(listed.text)}
    )
    assert revoked.status_code == 303
    assert api.get(f"/neighbourhoods/{mine}", headers=bearer).status_code == 401
    assert "script R" not in client.get("/espace/compte").text


def test_a_token_of_another_account_cannot_be_revoked(site: Site) -> None:
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(s, name="Q").id
        other = store.create_token(s, role="staff")
        other_id = s.query(store.ApiToken).one().id
    add_pilot(site, "p@b.example", hood)
    client = signed_in_client(site, "p@b.example")
    page = client.get("/espace/compte")
    refused = client.post(
        f"/espace/compte/jetons/{other_id}/revoquer", data={"csrf": csrf_of(page.text)}
    )
    assert refused.status_code == 404 and "introuvable" in refused.text
    assert (
        site.client()
        .get("/neighbourhoods", headers={"Authorization": f"Bearer {other}"})
        .status_code
        == 200
    )


def test_a_password_change_ends_the_other_sessions(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    here = signed_in_client(site, "a@b.example")
    elsewhere = signed_in_client(site, "a@b.example")
    page = here.get("/espace/compte")
    new = "un tout nouveau mot de passe"
    wrong = here.post(
        "/espace/compte/mot-de-passe",
        data={"current": "faux", "password": new, "password2": new, "csrf": csrf_of(page.text)},
    )
    assert wrong.status_code == 400 and "actuel est incorrect" in wrong.text
    done = here.post(
        "/espace/compte/mot-de-passe",
        data={"current": PASSWORD, "password": new, "password2": new, "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    assert here.get("/espace").status_code == 200
    assert elsewhere.get("/espace").status_code == 303
    assert sign_in(site.client(), "a@b.example", PASSWORD).status_code == 400  # type: ignore[attr-defined]
    assert sign_in(site.client(), "a@b.example", new).status_code == 303  # type: ignore[attr-defined]


def test_a_session_ends_after_twelve_idle_hours(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = signed_in_client(site, "a@b.example")
    site.clock[0] += timedelta(hours=11)
    assert client.get("/espace").status_code == 200
    site.clock[0] += timedelta(hours=12, seconds=1)
    assert client.get("/espace").status_code == 303


def test_concurrent_wrong_attempts_cannot_slip_past_the_brake(site: Site) -> None:
    """Twelve guesses at once: the count and the decision are one locked step, so only
    FREE_FAILURES of them are heard (a read-then-write brake let them all through)."""
    import threading

    keys = accounts.login_keys("a@b.example", "203.0.113.9")
    n = 12
    barrier = threading.Barrier(n)
    claims: list[accounts.LoginClaim] = []
    errors: list[BaseException] = []

    def guess() -> None:
        try:
            barrier.wait(timeout=60)
            claims.append(accounts.claim_login_attempt(site.engine, keys, now=START))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=guess) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(claims) == n
    heard = [c for c in claims if c.wait_s == 0]
    assert len(heard) == accounts.FREE_FAILURES
    assert all(c.wait_s == accounts.BASE_DELAY_S for c in claims if c.wait_s)
    with store.session_scope(site.engine) as s:
        assert s.query(store.LoginAttempt).count() == 2 * accounts.FREE_FAILURES


def test_a_right_password_forgets_its_own_counted_attempt(site: Site) -> None:
    cli_admin(site.url, "a@b.example")
    client = site.client()
    for _ in range(accounts.FREE_FAILURES - 1):
        assert sign_in(client, "x@b.example", "devine").status_code == 400  # type: ignore[attr-defined]
    # the address has 4 failures; a success does not add a fifth
    assert sign_in(client, "a@b.example").status_code == 303  # type: ignore[attr-defined]
    assert sign_in(site.client(), "a@b.example").status_code == 303  # type: ignore[attr-defined]
