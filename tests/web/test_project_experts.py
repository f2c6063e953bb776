"""A published project sheet lists the network's experts who worked on it (their published
profiles only, linked to /reseau/expertise/{id}, never their e-mail); a member's account page
offers no API token; the people page names a member as such."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qet_geo.store import accounts
from qet_geo.store import models as store
from qet_geo.store.community import ExpertForm, save_expert
from qet_geo.store.portal import set_slug
from tests.web.test_accounts import PASSWORD, Site, make_site, signed_in_client
from tests.web.test_impact import add_project

EVIL = "Ada <script>alert(1)</script> {{ 7*7 }}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    site = make_site(tmp_path_factory.mktemp("experts"))
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec", published=True)
        set_slug(s, hood, "kervenanec")
        hood_id = hood.id
    project = add_project(site.engine, hood_id, title="Atelier vélo", published=True)
    with store.session_scope(site.engine) as s:
        for email, name, published in (
            ("ada@ex.example", EVIL, True),
            ("bob@ex.example", "Bob caché", False),
        ):
            user = accounts.create_user(s, email=email, password=PASSWORD, role="member")
            save_expert(
                s, user, ExpertForm(display_name=name, project_ids=(project,), published=published)
            )
        accounts.create_user(s, email="admin@ex.example", password=PASSWORD, role="admin")
    yield site, f"/q/kervenanec/projets/{project}"
    site.engine.dispose()


def test_the_sheet_lists_its_published_experts(world: tuple[Site, str]) -> None:
    site, url = world
    page = site.client().get(url)
    assert page.status_code == 200
    section = page.text.split('id="expertise"', 1)[1].split("</section>", 1)[0]
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in section  # as text
    assert 'href="/reseau/expertise/' in section
    assert "Bob caché" not in page.text and "@ex.example" not in page.text


def test_a_member_has_no_token_section_and_is_named_on_the_people_page(
    world: tuple[Site, str],
) -> None:
    site, _ = world
    member = signed_in_client(site, "ada@ex.example")
    account = member.get("/espace/compte")
    assert account.status_code == 200 and "Jetons pour les scripts" not in account.text
    admin = signed_in_client(site, "admin@ex.example")
    people = admin.get("/espace/personnes").text
    row = people.split("ada@ex.example", 1)[1].split("</tr>", 1)[0]
    assert "membre du réseau" in row and "tous" not in row
