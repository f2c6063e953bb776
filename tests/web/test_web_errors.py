"""A page's unforeseen error is an HTML page in the reader's language; the JSON API keeps its body.

The store busy when a form is sent (SQLite's write lock held by the analysis job, a PostgreSQL
serialisation failure) rolls back and raises :class:`api.errors.StoreUnavailableError`: the page
says so and what to do (try again), with ``Retry-After``, never the API's JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from api.web import routes
from qet_geo.store import models as store
from tests.web.test_accounts import Site, cli_admin, make_site, signed_in_client


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path)
    cli_admin(s.url, "admin@b.example")
    yield s
    s.engine.dispose()


def _busy(*args: object, **kwargs: object) -> None:
    raise OperationalError("UPDATE ...", {}, Exception("database is locked"))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_busy_store_gives_a_page_that_says_to_try_again(
    site: Site, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    admin = signed_in_client(site, "admin@b.example")
    if lang == "en":
        admin.cookies.set("qet_lang", "en")
    monkeypatch.setattr(routes, "hood_rows", _busy)
    page = admin.get("/espace")
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>" in page.text and '"code"' not in page.text
    if lang == "fr":
        assert "Service momentanément occupé" in page.text
        assert "rien n&#39;a été enregistré ; réessayez dans quelques secondes" in page.text
    else:
        assert "Service busy for a moment" in page.text and "try again" in page.text


def test_the_json_api_keeps_its_error_body(site: Site) -> None:
    with store.session_scope(site.engine) as s:
        token = store.create_token(s, role="admin")
    answer = site.client().get(
        "/neighbourhoods/999999", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "NotFoundError"
