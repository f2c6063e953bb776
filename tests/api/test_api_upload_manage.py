"""Managing uploads (issue 12, item 4), on both backends.

- a pilot team deletes or replaces an upload of its unpublished diagnostic (a truncated file was
  stuck forever: its respondent ids clash with the full file's), in one transaction; refused
  once the diagnostic is published; another team's upload is 404;
- an upload mixing 200 m and 1 km INSEE cells is refused (it broke ``/indicators`` for good);
- an ``Idempotency-Key`` belongs to its caller: another team reusing it gets a normal answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from qet_geo.store import models as store
from tests.api.conftest import BACKENDS, World, build_world, fresh_postgres_database
from tests.api.factories import su_csv

_years = itertools.count(60)
_prefix = itertools.count()


@pytest.fixture(scope="module", params=BACKENDS)
def mworld(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('manage') / 'manage.db'}"
    else:
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    w = build_world(url)
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _engine(w: World) -> Engine:
    engine: Engine = w.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def _diagnostic(w: World, hood: str = "A") -> int:
    r = w.client.post(
        f"/neighbourhoods/{w.hoods[hood]}/diagnostics",
        json={"year": next(_years)},
        headers=w.headers("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _upload(w: World, diag: int, data: bytes, who: str = "pilotA", **headers: str) -> Any:
    return w.client.post(
        f"/diagnostics/{diag}/uploads", content=data, headers={**w.headers(who), **headers}
    )


def _respondents(w: World, diag: int) -> dict[int, int]:
    with store.session_scope(_engine(w)) as s:
        rows = s.execute(
            select(store.Respondent.upload_id, func.count())
            .where(store.Respondent.diagnostic_id == diag)
            .group_by(store.Respondent.upload_id)
        ).all()
    return {int(u): int(n) for u, n in rows}


def _truncated(data: bytes, n_lines: int) -> bytes:
    return b"\n".join(data.split(b"\n")[: n_lines + 1]) + b"\n"


# --------------------------------------------------------------------------------------------------
# delete and replace


def test_a_truncated_upload_is_stuck_until_deleted(mworld):
    """The attack on the team itself: half a file sent, the full one is then refused forever."""
    w = mworld
    diag = _diagnostic(w)
    full = su_csv(30, seed=50, prefix=f"T{next(_prefix)}-")
    cut = _upload(w, diag, _truncated(full, 13))
    assert cut.status_code == 201 and cut.json()["n_stored"] == 13
    clash = _upload(w, diag, full)
    assert clash.status_code == 409, clash.text  # the 13 ids are already stored
    listed = w.client.get(f"/diagnostics/{diag}/uploads", headers=w.headers("pilotA")).json()
    assert [(u["upload_id"], u["n_stored"]) for u in listed] == [(cut.json()["upload_id"], 13)]
    gone = w.client.delete(
        f"/diagnostics/{diag}/uploads/{cut.json()['upload_id']}", headers=w.headers("pilotA")
    )
    assert gone.status_code == 204, gone.text
    assert _respondents(w, diag) == {}
    again = _upload(w, diag, full)
    assert again.status_code == 201 and again.json()["n_stored"] == 30
    assert _respondents(w, diag) == {again.json()["upload_id"]: 30}
    assert again.json()["upload_id"] != cut.json()["upload_id"]  # ids are never reused


def test_replace_swaps_the_file_in_one_go(mworld):
    w = mworld
    diag = _diagnostic(w)
    full = su_csv(30, seed=51, prefix=f"T{next(_prefix)}-")
    other_file = su_csv(12, seed=52, prefix=f"O{next(_prefix)}-")
    other = _upload(w, diag, other_file)
    cut = _upload(w, diag, _truncated(full, 20))
    old = cut.json()["upload_id"]
    r = w.client.put(
        f"/diagnostics/{diag}/uploads/{old}", content=full, headers=w.headers("pilotA")
    )
    assert r.status_code == 200, r.text
    new = r.json()["upload_id"]
    assert r.json()["created"] and r.json()["n_stored"] == 30 and new != old
    assert _respondents(w, diag) == {other.json()["upload_id"]: 12, new: 30}
    # the same file again on the new upload: nothing changes
    same = w.client.put(
        f"/diagnostics/{diag}/uploads/{new}", content=full, headers=w.headers("pilotA")
    )
    assert same.status_code == 200 and same.json() == {**r.json(), "created": False}
    # replacing an upload by a file stored as another upload: refused, nothing changes
    dup = w.client.put(
        f"/diagnostics/{diag}/uploads/{new}", content=other_file, headers=w.headers("pilotA")
    )
    assert dup.status_code == 409 and "déjà enregistré" in dup.json()["detail"], dup.text
    assert _respondents(w, diag) == {other.json()["upload_id"]: 12, new: 30}


def test_a_refused_replacement_leaves_the_old_upload(mworld):
    w = mworld
    diag = _diagnostic(w)
    first = _upload(w, diag, su_csv(15, seed=53, prefix=f"K{next(_prefix)}-"))
    old = first.json()["upload_id"]
    for bad in (b"id\tnot a survey\n1\t2\n", b"\x00\x01\x02 binary"):
        r = w.client.put(
            f"/diagnostics/{diag}/uploads/{old}", content=bad, headers=w.headers("pilotA")
        )
        assert r.status_code == 422, r.text
        assert _respondents(w, diag) == {old: 15}


def test_delete_is_one_transaction(mworld):
    """A failure after the respondents are deleted, before the upload is: both stay."""
    w = mworld
    diag = _diagnostic(w)
    up = _upload(w, diag, su_csv(14, seed=54, prefix=f"X{next(_prefix)}-")).json()["upload_id"]
    engine = _engine(w)

    def crash(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM UPLOADS"):
            raise RuntimeError("killed between the two deletes")

    event.listen(engine, "before_cursor_execute", crash)
    try:
        with pytest.raises(RuntimeError):
            w.client.delete(f"/diagnostics/{diag}/uploads/{up}", headers=w.headers("pilotA"))
    finally:
        event.remove(engine, "before_cursor_execute", crash)
    assert _respondents(w, diag) == {up: 14}


def test_uploads_of_a_published_diagnostic_are_frozen(mworld):
    """Published = released: before its first release a diagnostic's uploads may be taken back
    (even in a public neighbourhood, B), after it they stay as released."""
    w = mworld
    diag = _diagnostic(w, "B")
    wrong = _upload(w, diag, su_csv(12, seed=59, prefix=f"W{next(_prefix)}-"), who="pilotB")
    r = w.client.delete(
        f"/diagnostics/{diag}/uploads/{wrong.json()['upload_id']}", headers=w.headers("pilotB")
    )
    assert r.status_code == 204, r.text
    up = _upload(w, diag, su_csv(30, seed=55, prefix=f"P{next(_prefix)}-"), who="pilotB")
    assert up.status_code == 201
    upload_id = up.json()["upload_id"]
    release = w.client.post(f"/diagnostics/{diag}/releases", headers=w.headers("pilotB"))
    assert release.status_code == 201, release.text
    r = w.client.delete(f"/diagnostics/{diag}/uploads/{upload_id}", headers=w.headers("pilotB"))
    assert r.status_code == 409 and "publié" in r.json()["detail"], r.text
    r = w.client.put(
        f"/diagnostics/{diag}/uploads/{upload_id}",
        content=su_csv(13, seed=56, prefix=f"P{next(_prefix)}-"),
        headers=w.headers("pilotB"),
    )
    assert r.status_code == 409 and "publié" in r.json()["detail"], r.text
    assert _respondents(w, diag) == {upload_id: 30}


def test_another_teams_upload_is_404_and_untouched(mworld):
    """Object-level check on the upload id: team A naming B's upload under A's diagnostic."""
    w = mworld
    theirs = _diagnostic(w, "B")
    their_upload = _upload(
        w, theirs, su_csv(12, seed=57, prefix=f"Q{next(_prefix)}-"), who="pilotB"
    )
    their_id = their_upload.json()["upload_id"]
    mine = _diagnostic(w, "A")
    for method in ("delete", "put"):
        r = w.client.request(
            method,
            f"/diagnostics/{mine}/uploads/{their_id}",
            content=su_csv(12, seed=58, prefix="Z") if method == "put" else None,
            headers=w.headers("pilotA"),
        )
        assert r.status_code == 404, r.text
        assert "envoi" in r.json()["detail"]
        r = w.client.request(
            method,
            f"/diagnostics/{theirs}/uploads/{their_id}",
            content=su_csv(12, seed=58, prefix="Z") if method == "put" else None,
            headers=w.headers("pilotA"),
        )
        assert r.status_code == 404 and "diagnostic" in r.json()["detail"], r.text
    assert _respondents(w, theirs) == {their_id: 12}


# --------------------------------------------------------------------------------------------------
# cell sizes


def _cells_csv(cells: list[str], prefix: str) -> bytes:
    from qet_geo.surveys.schema import USAGES

    lines = ["\t".join(["id", *USAGES, "cell_id"])]
    for k, cell in enumerate(cells):
        levels = [str(1 + (k + j) % 3) for j in range(len(USAGES))]
        lines.append("\t".join([f"{prefix}{k:04d}", *levels, cell]))
    return ("\n".join(lines) + "\n").encode()


def test_an_upload_mixing_200m_and_1km_cells_is_refused(mworld):
    w = mworld
    diag = _diagnostic(w)
    # homes of Lorient's centre in two 200 m cells, and in the 1 km cell around them
    small = [f"CRS3035RES200mN2827600E{3324000 + 200 * (k % 2)}" for k in range(14)]
    km = ["CRS3035RES1000mN2827000E3324000"] * 12
    r = _upload(w, diag, _cells_csv(small + km, f"C{next(_prefix)}-"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "12 domiciles" in detail and "200 m" in detail and "CRS3035RES1000m" in detail
    assert _respondents(w, diag) == {}
    # a file of 1 km cells only would mix with the diagnostic's 200 m ones: refused as well
    assert _upload(w, diag, _cells_csv(km, f"C{next(_prefix)}-")).status_code == 422
    ok = _upload(w, diag, _cells_csv(small, f"C{next(_prefix)}-"))
    assert ok.status_code == 201, ok.text
    for route in ("indicators", "footprints", "profiles"):
        page = w.client.get(f"/diagnostics/{diag}/{route}", headers=w.headers("pilotA"))
        assert page.status_code == 200, (route, page.text)


# --------------------------------------------------------------------------------------------------
# idempotency keys scoped to their caller


def test_another_team_reusing_a_key_gets_a_normal_answer(mworld):
    w = mworld
    key = f"campagne-2026-{next(_prefix)}"
    a_diag, b_diag = _diagnostic(w, "A"), _diagnostic(w, "B")
    a_file = su_csv(12, seed=60, prefix=f"IA{next(_prefix)}-")
    b_file = su_csv(13, seed=61, prefix=f"IB{next(_prefix)}-")
    a = _upload(w, a_diag, a_file, "pilotA", **{"Idempotency-Key": key})
    assert a.status_code == 201, a.text
    # team B, same key, its own file: stored, as with any fresh key (no 409, nothing of A's)
    b = _upload(w, b_diag, b_file, "pilotB", **{"Idempotency-Key": key})
    assert b.status_code == 201, b.text
    assert b.json()["created"] and b.json()["n_stored"] == 13
    assert b.json()["upload_id"] != a.json()["upload_id"]
    # each retry finds its own caller's upload
    again_a = _upload(w, a_diag, a_file, "pilotA", **{"Idempotency-Key": key})
    again_b = _upload(w, b_diag, b_file, "pilotB", **{"Idempotency-Key": key})
    assert again_a.status_code == 200 and again_a.json()["upload_id"] == a.json()["upload_id"]
    assert again_b.status_code == 200 and again_b.json()["upload_id"] == b.json()["upload_id"]
    # a caller reusing its own key for another file is still refused
    own = _upload(
        w,
        a_diag,
        su_csv(12, seed=63, prefix=f"IC{next(_prefix)}-"),
        "pilotA",
        **{"Idempotency-Key": key},
    )
    assert own.status_code == 409 and "vous avez déjà utilisé" in own.json()["detail"]
    with store.session_scope(_engine(w)) as s:
        scopes = set(
            s.scalars(select(store.Upload.key_scope).where(store.Upload.idempotency_key == key))
        )
    assert len(scopes) == 2 and "" not in scopes


# --------------------------------------------------------------------------------------------------
# migration 0007 on a store with keys


def test_0007_scopes_the_stored_keys_and_stops_reusing_ids(empty_database):
    """0006 → 0007 with uploads holding keys: kept (scope ""), one key per scope, ids never
    reused on SQLite; back to 0006, a key held twice stays on its oldest upload only."""
    from alembic import command
    from sqlalchemy import MetaData, Table, delete, insert, inspect

    from tests.api.test_migrations import _config

    cfg = _config(empty_database)
    command.upgrade(cfg, "0006")
    engine = store.make_engine(empty_database)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0007', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, created_at) "
            "SELECT id, 0, 'collecting', 0.0, CURRENT_TIMESTAMP FROM neighbourhoods"
        )
        for k, key in enumerate(("clé-1", None)):
            conn.exec_driver_sql(
                "INSERT INTO uploads (diagnostic_id, sha256, idempotency_key, kind, n_rows, "
                "n_stored, summary, created_at) SELECT id, %s, %s, 'su', 1, 1, '{}', "
                "CURRENT_TIMESTAMP FROM diagnostics"
                if engine.dialect.name == "postgresql"
                else "INSERT INTO uploads (diagnostic_id, sha256, idempotency_key, kind, n_rows, "
                "n_stored, summary, created_at) SELECT id, ?, ?, 'su', 1, 1, '{}', "
                "CURRENT_TIMESTAMP FROM diagnostics",
                (f"{k:064d}", key),
            )
    engine.dispose()
    command.upgrade(cfg, "0007")
    engine = store.make_engine(empty_database)
    uploads = Table("uploads", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        rows = conn.execute(select(uploads.c.idempotency_key, uploads.c.key_scope)).all()
        assert sorted(rows, key=str) == sorted([("clé-1", ""), (None, "")], key=str)
        diag = conn.exec_driver_sql("SELECT id FROM diagnostics").scalar()
        base = {"diagnostic_id": diag, "kind": "su", "n_rows": 1, "n_stored": 1, "summary": {}}
        # the same key in another scope: accepted; twice in one scope: refused
        conn.execute(
            insert(uploads).values(
                **base,
                sha256="b" * 64,
                idempotency_key="clé-1",
                key_scope="token:7",
                created_at=func.now(),
            )
        )
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(uploads).values(
                **base,
                sha256="c" * 64,
                idempotency_key="clé-1",
                key_scope="token:7",
                created_at=func.now(),
            )
        )
    with engine.begin() as conn:
        last = conn.execute(select(func.max(uploads.c.id))).scalar()
        conn.execute(delete(uploads).where(uploads.c.id == last))
        conn.execute(
            insert(uploads).values(
                **base, sha256="d" * 64, idempotency_key=None, key_scope="", created_at=func.now()
            )
        )
        assert conn.execute(select(func.max(uploads.c.id))).scalar() > last  # not reused
        conn.execute(
            insert(uploads).values(
                **base,
                sha256="e" * 64,
                idempotency_key="clé-1",
                key_scope="token:8",
                created_at=func.now(),
            )
        )
    engine.dispose()
    command.downgrade(cfg, "0006")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        assert "key_scope" not in {c["name"] for c in inspect(conn).get_columns("uploads")}
        keys = (
            conn.exec_driver_sql("SELECT idempotency_key FROM uploads ORDER BY id").scalars().all()
        )
    assert keys.count("clé-1") == 1 and keys[0] == "clé-1"
    engine.dispose()


def test_a_replacement_file_has_the_upload_size_limit(empty_database):
    """PUT of a survey file is limited like its POST (max_upload_bytes), not as a JSON body."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    app = create_app(
        Settings(database_url=empty_database, max_body_bytes=4_000, max_upload_bytes=100_000)
    )
    with store.session_scope(app.state.engine) as s:
        hood = store.add_neighbourhood(s, name="Grands fichiers")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diag_id = diag.id
        token = store.create_token(s, role="pilot", neighbourhood_ids=[hood.id])
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    first = su_csv(120, seed=70, prefix="G")
    second = su_csv(130, seed=71, prefix="G")
    assert 4_000 < len(first) < len(second) < 100_000
    r = client.post(f"/diagnostics/{diag_id}/uploads", content=first, headers=headers)
    assert r.status_code == 201, r.text
    r = client.put(
        f"/diagnostics/{diag_id}/uploads/{r.json()['upload_id']}", content=second, headers=headers
    )
    assert r.status_code == 200 and r.json()["n_stored"] == 130, r.text
    too_big = client.put(
        f"/diagnostics/{diag_id}/uploads/{r.json()['upload_id']}",
        content=b"x" * 100_001,
        headers=headers,
    )
    assert too_big.status_code == 413 and "fichier" in too_big.json()["detail"]
    app.state.engine.dispose()


def test_a_new_token_does_not_inherit_a_revoked_tokens_keys(mworld):
    """Keys are scoped by the token's hash, not its row id, which SQLite gives again to the
    next token once a revoked token's row is deleted."""
    w = mworld
    engine = _engine(w)
    with store.session_scope(engine) as s:
        old = store.create_token(s, role="pilot", neighbourhood_ids=[w.hoods["A"]])
    key = f"reprise-{next(_prefix)}"
    a_diag = _diagnostic(w, "A")
    r = w.client.post(
        f"/diagnostics/{a_diag}/uploads",
        content=su_csv(12, seed=64, prefix=f"RA{next(_prefix)}-"),
        headers={"Authorization": f"Bearer {old}", "Idempotency-Key": key},
    )
    assert r.status_code == 201, r.text
    with store.session_scope(engine) as s:
        row = s.scalars(
            select(store.ApiToken).where(store.ApiToken.token_sha256 == store.token_hash(old))
        ).one()
        old_id = row.id
        s.delete(row)  # revoked
    with store.session_scope(engine) as s:
        new = store.create_token(s, role="pilot", neighbourhood_ids=[w.hoods["B"]])
        new_id = s.scalars(
            select(store.ApiToken.id).where(store.ApiToken.token_sha256 == store.token_hash(new))
        ).one()
    if engine.dialect.name == "sqlite":
        assert new_id == old_id  # the case this guards against
    r = w.client.post(
        f"/diagnostics/{_diagnostic(w, 'B')}/uploads",
        content=su_csv(13, seed=65, prefix=f"RB{next(_prefix)}-"),
        headers={"Authorization": f"Bearer {new}", "Idempotency-Key": key},
    )
    assert r.status_code == 201 and r.json()["created"], r.text
