"""Comments on and follows of the network's project sheets, and staff featuring them (issue 17,
roles): the public reads, a member comments and follows, staff moderate and feature, a pilot
team's account and an anonymous visitor do not comment; CSRF, escaping of Markdown, the rate
limit, the count of followers under 11, a member's followed projects, English; a scripted
attacker who looks for a hidden comment on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qet_geo.store import accounts, community
from qet_geo.store import models as store
from tests.api.conftest import fresh_postgres_database, postgres_url  # noqa: F401
from tests.web.test_accounts import PASSWORD, Site, csrf_of, make_site, signed_in_client

EVIL = "<script>alert(1)</script> {{ 7*7 }}"


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The app on each backend (times come back naive from SQLite, aware from PostgreSQL)."""
    url = None
    if request.param == "postgresql":
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    s = make_site(tmp_path, url)
    yield s
    s.engine.dispose()


def _account(site: Site, email: str, role: str = "member", hoods: list[int] | None = None) -> int:
    with store.session_scope(site.engine) as s:
        return accounts.create_user(
            s, email=email, password=PASSWORD, role=role, neighbourhood_ids=hoods or []
        ).id


def _sheet(site: Site, title: str = "Vélo-école", *, published: bool = True) -> tuple[str, int]:
    """A published portal and a sheet of it: its URL and id."""
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(s, name=f"Quartier {title}", published=True)
        hood.slug = f"q{hood.id}"
        project = store.Project(neighbourhood_id=hood.id, title=title, published=published)
        s.add(project)
        s.flush()
        return f"/q/q{hood.id}/projets/{project.id}", project.id


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _post(client: TestClient, page_url: str, url: str, data: dict[str, object]) -> object:
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(url, data={**data, "csrf": csrf_of(page.text)})


def _comment(client: TestClient, url: str, body: str) -> object:
    return _post(client, url, f"{url}/commentaires", {"body": body})


def _comment_id(site: Site, body: str) -> int:
    with store.session_scope(site.engine) as s:
        return int(s.query(store.ProjectComment).filter_by(body=body).one().id)


def test_the_public_reads_a_member_comments_and_markdown_is_escaped(site: Site) -> None:
    url, _pid = _sheet(site)
    _account(site, "ana@example.org")
    public = site.client()
    page = public.get(url)
    assert page.status_code == 200
    assert "Commentaires" in page.text and "Aucun commentaire pour l&#39;instant." in page.text
    assert "pour commenter et suivre ce projet" in page.text
    assert 'name="body"' not in page.text and "Suivre ce projet" not in page.text
    ana = signed_in_client(site, "ana@example.org")
    done = _comment(ana, url, f"**Bravo** {EVIL}")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"] == f"{url}?fait=commente#commentaires"  # type: ignore[attr-defined]
    for client in (public, ana):
        text = client.get(url).text
        assert "<strong>Bravo</strong>" in text
        assert "<script>alert" not in text and "&lt;script&gt;" in text
        assert "49" not in re.sub(r'value="[^"]*"', "", _main(text))
        assert "7*7 &#125;&#125;" in text
        assert "Membre n° " in text and "ana@example.org" not in text
    assert "votre commentaire est publié" in ana.get(f"{url}?fait=commente").text


def test_pilots_and_anonymous_visitors_do_not_comment(site: Site) -> None:
    url, pid = _sheet(site)
    with store.session_scope(site.engine) as s:
        hood = s.get(store.Project, pid).neighbourhood_id  # type: ignore[union-attr]
    _account(site, "pilot@example.org", "pilot", [hood])
    _account(site, "ana@example.org")
    pilot = signed_in_client(site, "pilot@example.org")
    page = pilot.get(url)
    assert (
        "Un compte d&#39;équipe pilote lit et suit" in page.text and 'name="body"' not in page.text
    )
    assert "Suivre ce projet" in page.text  # a pilot follows
    refused = pilot.post(f"{url}/commentaires", data={"body": "x", "csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    # anonymous: to the sign-in page, nothing written
    anonymous = site.client().post(f"{url}/commentaires", data={"body": "x", "csrf": "x"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/connexion")
    # a member without the form's token: refused
    ana = signed_in_client(site, "ana@example.org")
    assert ana.post(f"{url}/commentaires", data={"body": "x"}).status_code == 403
    assert ana.post(f"{url}/commentaires", data={"body": "x", "csrf": "faux"}).status_code == 403
    assert ana.post(f"{url}/suivre", data={"follow": "1", "csrf": "faux"}).status_code == 403
    with store.session_scope(site.engine) as s:
        assert s.query(store.ProjectComment).count() == 0
        assert s.query(store.ProjectFollow).count() == 0


def test_bad_input_unknown_sheets_and_unpublished_ones(site: Site) -> None:
    url, _ = _sheet(site)
    draft_url, _ = _sheet(site, "Brouillon", published=False)
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    empty = _comment(ana, url, "   ")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    assert "Le commentaire est obligatoire." in empty.text  # type: ignore[attr-defined]
    csrf = csrf_of(ana.get(url).text)
    assert ana.get(draft_url).status_code == 404
    for target in (draft_url, url.rsplit("/", 1)[0] + "/99999", url.rsplit("/", 1)[0] + "/x1"):
        answer = ana.post(f"{target}/commentaires", data={"body": "x", "csrf": csrf})
        assert answer.status_code == 404, target
        assert ana.post(f"{target}/suivre", data={"follow": "1", "csrf": csrf}).status_code == 404
    other = "/q/inconnu/projets/1/commentaires"
    assert ana.post(other, data={"body": "x", "csrf": csrf}).status_code == 404


def test_commenting_too_fast_is_refused_with_a_wait(site: Site) -> None:
    url, _ = _sheet(site)
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    for i in range(community.POSTS_PER_HOUR):
        assert _comment(ana, url, f"commentaire {i}").status_code == 303  # type: ignore[attr-defined]
    refused = _comment(ana, url, "encore un")
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "réessayez dans" in refused.text  # type: ignore[attr-defined]
    assert int(refused.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert ">encore un</textarea>" in refused.text  # type: ignore[attr-defined]


def test_staff_hide_and_show_a_comment_its_author_sees_it_marked(site: Site) -> None:
    url, _ = _sheet(site)
    _account(site, "ana@example.org")
    _account(site, "bo@example.org")
    _account(site, "staff@example.org", "staff")
    ana, bo = signed_in_client(site, "ana@example.org"), signed_in_client(site, "bo@example.org")
    staff = signed_in_client(site, "staff@example.org")
    _comment(ana, url, "SECRET-COMMENT")
    cid = _comment_id(site, "SECRET-COMMENT")
    moderate = f"{url}/commentaires/{cid}/moderer"
    # a member does not moderate
    assert _post(bo, url, moderate, {"hidden": "1", "reason": "R"}).status_code == 403  # type: ignore[attr-defined]
    assert 'action="' + moderate not in bo.get(url).text
    no_reason = _post(staff, url, moderate, {"hidden": "1", "reason": "  "})
    assert no_reason.status_code == 400  # type: ignore[attr-defined]
    assert "La raison est obligatoire." in no_reason.text  # type: ignore[attr-defined]
    assert "SECRET-COMMENT" in site.client().get(url).text
    done = _post(staff, url, moderate, {"hidden": "1", "reason": f"Hors sujet {EVIL}"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "SECRET-COMMENT" not in site.client().get(url).text
    assert "SECRET-COMMENT" not in bo.get(url).text
    mine = ana.get(url).text
    assert "masqué par la modération" in mine and "SECRET-COMMENT" not in mine
    assert "le public ne voit pas votre commentaire" in mine
    seen = staff.get(url).text
    assert "SECRET-COMMENT" in seen and "Hors sujet &lt;script&gt;" in seen
    assert "Rendre ce commentaire visible" in seen
    assert _post(staff, url, moderate, {"hidden": "0"}).status_code == 303  # type: ignore[attr-defined]
    assert "SECRET-COMMENT" in site.client().get(url).text
    # a comment of another sheet through this one's address: not found
    other_url, _ = _sheet(site, "Autre")
    wrong = f"{other_url}/commentaires/{cid}/moderer"
    assert _post(staff, other_url, wrong, {"hidden": "1", "reason": "R"}).status_code == 404  # type: ignore[attr-defined]


def test_members_follow_and_the_count_shows_from_11(site: Site) -> None:
    url, pid = _sheet(site)
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    assert "Moins de 11 personnes suivent ce projet." in site.client().get(url).text
    done = _post(ana, url, f"{url}/suivre", {"follow": "1"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = ana.get(url).text
    assert "Ne plus suivre" in page and "Moins de 11 personnes suivent ce projet." in page
    followed = ana.get("/reseau/suivis")
    assert followed.status_code == 200 and "Vélo-école" in followed.text
    assert f'href="{url}"' in followed.text and "Idée" in followed.text
    # ten people follow: still "moins de 11"; the eleventh: the count
    for i in range(9):
        _account(site, f"m{i}@example.org")
        with store.session_scope(site.engine) as s:
            user = accounts.user_by_email(s, f"m{i}@example.org")
            assert user is not None
            community.follow_project(s, user, pid)
    assert "Moins de 11 personnes suivent ce projet." in site.client().get(url).text
    assert "10 personnes" not in site.client().get(url).text
    _account(site, "m9@example.org")
    eleventh = signed_in_client(site, "m9@example.org")
    _post(eleventh, url, f"{url}/suivre", {"follow": "1"})
    assert "11 personnes suivent ce projet." in site.client().get(url).text
    # stop following
    _post(ana, url, f"{url}/suivre", {"follow": "0"})
    assert "Vous ne suivez aucun projet." in ana.get("/reseau/suivis").text
    # the page needs an account
    anonymous = site.client().get("/reseau/suivis")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/connexion")


def test_staff_feature_a_sheet_first_in_the_library(site: Site) -> None:
    first_url, _ = _sheet(site, "A vélo")
    url, _ = _sheet(site, "Zéro déchet")
    _account(site, "staff@example.org", "staff")
    _account(site, "ana@example.org")
    staff, ana = (
        signed_in_client(site, "staff@example.org"),
        signed_in_client(site, "ana@example.org"),
    )
    library = site.client().get("/reseau/projets").text
    assert library.index("A vélo") < library.index("Zéro déchet")
    assert "Mettre en avant" not in ana.get(url).text
    assert _post(ana, url, f"{url}/mise-en-avant", {"featured": "1"}).status_code == 403  # type: ignore[attr-defined]
    assert "Mettre en avant" in staff.get(url).text
    assert _post(staff, url, f"{url}/mise-en-avant", {"featured": "1"}).status_code == 303  # type: ignore[attr-defined]
    library = site.client().get("/reseau/projets").text
    assert library.index("Zéro déchet") < library.index("A vélo")
    assert library.count('class="featured-badge"') == 1  # the library's card says it
    sheet = site.client().get(url).text
    assert "mis en avant" in sheet
    assert "mis en avant" not in site.client().get(first_url).text
    assert "Ne plus mettre en avant" in staff.get(url).text
    _post(staff, url, f"{url}/mise-en-avant", {"featured": "0"})
    library = site.client().get("/reseau/projets").text
    assert library.index("A vélo") < library.index("Zéro déchet")


def test_the_section_reads_in_english(site: Site) -> None:
    url, _ = _sheet(site)
    _account(site, "ana@example.org")
    ana = signed_in_client(site, "ana@example.org")
    ana.cookies.set("qet_lang", "en")
    page = ana.get(url).text
    assert '<html lang="en">' in page
    assert "Comments" in page and "Follow this project" in page
    assert "Fewer than 11 people follow this project." in page
    _post(ana, url, f"{url}/suivre", {"follow": "1"})
    assert "Followed projects" in ana.get("/reseau/suivis").text


def test_an_attacker_finds_no_hidden_comment(site: Site) -> None:
    """A scripted visitor (public, then a member, then a pilot) follows every link of the sheets,
    the library and the followed projects, and looks for a hidden comment's text everywhere."""
    url, pid = _sheet(site)
    other, _ = _sheet(site, "Compost")
    with store.session_scope(site.engine) as s:
        hood = s.get(store.Project, pid).neighbourhood_id  # type: ignore[union-attr]
    _account(site, "ana@example.org")
    _account(site, "eve@example.org")
    _account(site, "pilot@example.org", "pilot", [hood])
    _account(site, "staff@example.org", "staff")
    ana, staff = (
        signed_in_client(site, "ana@example.org"),
        signed_in_client(site, "staff@example.org"),
    )
    _comment(ana, url, "HIDDEN-COMMENT-TEXT")
    _comment(ana, other, "visible")
    _post(ana, url, f"{url}/suivre", {"follow": "1"})
    cid = _comment_id(site, "HIDDEN-COMMENT-TEXT")
    _post(staff, url, f"{url}/commentaires/{cid}/moderer", {"hidden": "1", "reason": "R"})
    attackers = (
        site.client(),
        signed_in_client(site, "eve@example.org"),
        signed_in_client(site, "pilot@example.org"),
    )
    for attacker in attackers:
        seen: set[str] = set()
        todo = [url, other, "/reseau/projets", "/reseau/suivis", f"{url}?fait=commente"]
        while todo:
            path = todo.pop()
            if path in seen or len(seen) > 200:
                continue
            seen.add(path)
            page = attacker.get(path)
            assert "HIDDEN-COMMENT-TEXT" not in page.text, path
            for link in re.findall(r'href="(/(?:q|reseau)/[^"#]*)"', page.text):
                if "/reseau/donnees" in link or link.endswith((".csv", ".gpkg", ".parquet")):
                    continue
                todo.append(link.replace("&amp;", "&"))
        assert url in seen
