"""Votes are unlinkable and unguessable (issue 12, item 3), on SQLite and PostgreSQL.

The attacker of these tests holds a copy of the database (every table, every column, and the
row order and system columns a copy shows: SQLite's ``rowid``, PostgreSQL's ``ctid`` and
``xmin``), and even the key of the codes' hashes and the list of who holds which code; or sends
guessed codes from one address.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from api._throttle import FailureThrottle
from api.models import VoteOut, VoteResults
from api.routers.votes import CODE_ALPHABET, CODE_BITS, CODE_LENGTH, canonical_code
from qet_geo.store import models as store
from tests.api.conftest import ROOT, World, live_server

THEMES = ["mobilité", "alimentation", "chauffage", "numérique", "déchets", "eau", "achats", "air"]
_SKIP_TABLES = {"spatial_ref_sys", "alembic_version"}


def _open_vote(world: World, n: int, themes: list[str] = THEMES) -> VoteOut:
    r = world.client.post(
        f"/diagnostics/{world.diags['B']}/votes",
        json={"question": "Priorités ?", "themes": themes, "n_participants": n},
        headers=world.headers("pilotB"),
    )
    assert r.status_code == 201, r.text
    vote = VoteOut.model_validate(r.json())
    assert vote.participant_codes is not None and len(set(vote.participant_codes)) == n
    return vote


def _engine(world: World) -> Engine:
    engine: Engine = world.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def _dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, with the system columns that order them."""
    out = {}
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table in _SKIP_TABLES:
                continue
            extra = "ctid::text AS _ctid, xmin::text AS _xmin, " if postgres else ""
            try:
                rows = conn.execute(text(f'SELECT {extra}* FROM "{table}"')).mappings().all()
            except Exception:  # a WITHOUT ROWID table or a view: plain columns
                conn.rollback()
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
            if not postgres:
                try:
                    ids = conn.execute(text(f'SELECT rowid FROM "{table}"')).scalars().all()
                    rows = [{**row, "_rowid": i} for row, i in zip(rows, ids, strict=True)]
                except Exception:
                    pass
            out[table] = [dict(r) for r in rows]
    return out


def _kendall_tau(order: list[int]) -> float:
    """Rank correlation of ``order`` with 0, 1, 2, ... (1: the same order)."""
    n = len(order)
    pairs = list(itertools.combinations(range(n), 2))
    concordant = sum(1 if order[i] < order[j] else -1 for i, j in pairs)
    return concordant / len(pairs)


def test_codes_carry_at_least_60_bits_and_read_as_typed_or_scanned(world):
    """12 symbols of an alphabet of 32: 60 bits, every symbol used at every position."""
    assert len(set(CODE_ALPHABET)) == 32 and CODE_LENGTH == 12
    assert CODE_BITS == 60 and math.log2(len(CODE_ALPHABET) ** CODE_LENGTH) >= 60
    vote = _open_vote(world, 2000, THEMES[:2])
    codes = vote.participant_codes or []
    shape = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
    assert all(shape.match(c) for c in codes)
    plain = [c.replace("-", "") for c in codes]
    # 2000 draws leave a symbol unused at a position with probability 32·(31/32)^2000 < 1e-26
    for i in range(CODE_LENGTH):
        assert {c[i] for c in plain} == set(CODE_ALPHABET)
    # a code is read whatever its case, spacing, grouping, and O/I/L for 0/1
    assert canonical_code("7kq2 m9xd-4trb") == "7KQ2M9XD4TRB"
    assert canonical_code(" o1l2-IIOO-abcd\n") == "0112-1100-ABCD".replace("-", "")
    assert canonical_code("7KQ2-M9XD-4TR") is None and canonical_code("7KQ2-M9XD-4TRU") is None
    c = world.client
    code = codes[0]
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    r = c.post(f"/votes/{vote.id}/ballots", json={"code": typed, "choices": [THEMES[0]]})
    assert r.status_code == 201, r.text
    again = c.post(f"/votes/{vote.id}/ballots", json={"code": code, "choices": [THEMES[0]]})
    assert again.status_code == 409


def test_database_copy_links_no_ballot_to_its_code(world):
    """The attacker reads every table of a copy, and knows the key and who holds which code.

    20 of 30 codes vote, in a random order, each ballot a distinct set of themes. Then: no code
    or unkeyed hash of one is stored; casting added no row anywhere (no ballot row: nothing
    whose id or order could follow the order of spending); the code rows, in every order the
    copy offers (as read, rowid or ctid, xmin), do not follow the spending order, and on
    PostgreSQL every code row and counter carries the same xmin.
    """
    engine = _engine(world)
    vote = _open_vote(world, 30)
    codes = vote.participant_codes or []
    key = store.vote_code_key()
    holder_of = {store.vote_code_hmac(vote.id, canonical_code(c) or "", key=key): c for c in codes}
    before = _dump(engine)
    rng = random.Random(20261207)
    spent = rng.sample(codes, 20)
    for i, code in enumerate(spent):  # ballot i: the themes of the bits of i + 1
        choices = [t for b, t in enumerate(THEMES) if (i + 1) >> b & 1]
        r = world.client.post(f"/votes/{vote.id}/ballots", json={"code": code, "choices": choices})
        assert r.status_code == 201, r.text
    after = _dump(engine)

    # 1. nothing stored is a code or an unkeyed hash of one (today: sha256 beside each ballot)
    blob = repr(after)
    for code in codes:
        plain = code.replace("-", "")
        for form in (
            code,
            plain,
            hashlib.sha256(f"qet-vote:{vote.id}:{plain}".encode()).hexdigest(),
            hashlib.sha256(plain.encode()).hexdigest(),
            hashlib.sha256(code.encode()).hexdigest(),
        ):
            assert form not in blob

    # 2. casting adds no row to any table: no ballot row, hence no id, time or order of one
    grown = {t: (len(before.get(t, [])), len(rows)) for t, rows in after.items()}
    assert {t: n for t, n in grown.items() if n[0] != n[1]} == {}

    # 3. the code rows in every order the copy offers do not follow the order of spending
    rows = [r for r in after["vote_codes"] if r["vote_id"] == vote.id]
    assert len(rows) == 30 and sum(bool(r["spent"]) for r in rows) == 20
    assert {holder_of[r["code_hmac"]] for r in rows if r["spent"]} == set(spent)
    rank = {code: i for i, code in enumerate(spent)}
    orders: dict[str, list[dict[str, Any]]] = {"as read": rows}
    for column in ("_rowid", "_ctid", "_xmin", "code_hmac"):
        if column in rows[0]:
            orders[column] = sorted(rows, key=_sort_key(column))
    for name, ordered in orders.items():
        seen = [rank[holder_of[r["code_hmac"]]] for r in ordered if r["spent"]]
        assert seen != sorted(seen), name
        # independent orders: |tau| above 0.8 has a probability below 1e-6 for 20 codes
        assert abs(_kendall_tau(seen)) < 0.8, name
    if engine.dialect.name == "postgresql":
        assert len({r["_xmin"] for r in rows}) == 1
        counters = [r for r in after["ballot_counts"] if r["vote_id"] == vote.id]
        assert len({r["_xmin"] for r in counters}) == 1
    else:  # SQLite rewrites rows in place: the rowids are those of the issue, by hash
        before_rows = [r for r in before["vote_codes"] if r["vote_id"] == vote.id]
        assert [r["_rowid"] for r in before_rows] == [r["_rowid"] for r in rows]

    # the ballots still count: 20 ballots, theme b chosen by the i + 1 whose bit b is set
    world.client.post(f"/votes/{vote.id}/close", headers=world.headers("pilotB"))
    res = VoteResults.model_validate(world.client.get(f"/votes/{vote.id}/results").json())
    assert res.published and res.n_ballots == 20
    chosen = [sum((i + 1) >> b & 1 for i in range(20)) for b in range(len(THEMES))]
    assert chosen == [10, 10, 9, 8, 5, 0, 0, 0]
    counters = [r for r in _dump(engine)["ballot_counts"] if r["vote_id"] == vote.id]
    assert sorted((r["position"], r["n"]) for r in counters) == list(enumerate(chosen))
    # published: no count from 1 to 10 (rule 6 follows rule 2), zeros shown
    assert res.counts == {t: None if n else 0 for t, n in zip(THEMES, chosen, strict=True)}


def _sort_key(column: str) -> Callable[[dict[str, Any]], Any]:
    if column == "_ctid":  # "(page,item)"
        return lambda r: tuple(int(x) for x in r[column].strip("()").split(","))
    if column == "_xmin":
        return lambda r: int(r[column])
    return lambda r: r[column]


def _race(n: int, post: Callable[[int], int]) -> list[int]:
    barrier = threading.Barrier(n)
    statuses: list[int] = [0] * n

    def run(i: int) -> None:
        barrier.wait()
        statuses[i] = post(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


def _stored(engine: Engine, vote_id: int) -> tuple[int, int]:
    with engine.connect() as conn:
        spent = conn.execute(
            text("SELECT count(*) FROM vote_codes WHERE vote_id = :v AND spent"), {"v": vote_id}
        ).scalar_one()
        total = conn.execute(
            text("SELECT coalesce(sum(n), 0) FROM ballot_counts WHERE vote_id = :v"),
            {"v": vote_id},
        ).scalar_one()
    return int(spent), int(total)


def test_concurrent_double_spend_is_accepted_once(world):
    """8 requests with one code at the same instant: exactly one ballot; 8 codes: 8 ballots."""
    vote = _open_vote(world, 12, THEMES[:3])
    codes = vote.participant_codes or []
    url = f"/votes/{vote.id}/ballots"

    def same(i: int) -> int:
        return world.client.post(
            url, json={"code": codes[0], "choices": [THEMES[i % 3]]}
        ).status_code

    statuses = _race(8, same)
    assert sorted(statuses) == [201] + [409] * 7
    assert _stored(_engine(world), vote.id) == (1, 1)

    def distinct(i: int) -> int:
        return world.client.post(
            url, json={"code": codes[1 + i], "choices": [THEMES[0]]}
        ).status_code

    assert _race(8, distinct) == [201] * 8
    assert _stored(_engine(world), vote.id) == (9, 9)


def test_a_withheld_theme_cannot_be_subtracted_from_the_total(world):
    """One ballot, one theme: 15 + 12 + 3 = 30 published ballots. Withholding the 3 alone would
    give it back as 30 - 15 - 12; the 12 is withheld with it (complementary suppression)."""
    vote = _open_vote(world, 30, themes=["mobilité", "alimentation", "chauffage"])
    codes = vote.participant_codes or []
    for code, theme in zip(
        codes, ["mobilité"] * 15 + ["alimentation"] * 12 + ["chauffage"] * 3, strict=True
    ):
        r = world.client.post(f"/votes/{vote.id}/ballots", json={"code": code, "choices": [theme]})
        assert r.status_code == 201, r.text
    r = world.client.post(f"/votes/{vote.id}/close", headers=world.headers("pilotB"))
    assert r.status_code == 200, r.text
    results = VoteResults.model_validate(world.client.get(f"/votes/{vote.id}/results").json())
    assert results.published and results.n_ballots == 30
    assert results.counts == {"mobilité": 15, "alimentation": None, "chauffage": None}
    # the attacker's best: the two withheld themes together, not either alone
    shown = sum(n for n in results.counts.values() if n is not None)
    assert results.n_ballots - shown == 15


def test_guessing_codes_hits_the_rate_limit(world, monkeypatch):
    """10 wrong codes a minute per client address, then 429 + Retry-After, in French or English.

    Behind a trusted proxy the address is the one it appended to X-Forwarded-For; a client
    that talks to the service directly cannot change its address with that header.
    """
    app = world.client.app
    now = [1000.0]
    monkeypatch.setattr(
        app.state, "vote_throttle", FailureThrottle(10, 60.0, clock=lambda: now[0]), raising=False
    )  # type: ignore[attr-defined]
    settings = app.state.settings  # type: ignore[attr-defined]
    vote = _open_vote(world, 20, THEMES[:2])
    codes = vote.participant_codes or []
    url = f"/votes/{vote.id}/ballots"
    c = world.client
    rng = random.Random(7)

    def guess() -> str:
        return "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))

    def post(code: str, headers: dict[str, str] | None = None) -> Any:
        return c.post(url, json={"code": code, "choices": [THEMES[0]]}, headers=headers or {})

    # the TestClient's peer is "testclient": it is the trusted proxy here
    monkeypatch.setattr(settings, "trusted_proxies", ["testclient", "10.0.0.0/8"])
    mallory = {"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}  # a client, then an inner proxy
    assert [post(guess(), mallory).status_code for _ in range(10)] == [403] * 10
    blocked = post(codes[0], mallory)  # even a right code: no more tries this minute
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert "réessayez dans 60 secondes" in blocked.json()["detail"]
    en = post(codes[0], {**mallory, "Accept-Language": "en"})
    assert en.status_code == 429 and "try again in 60 seconds" in en.json()["detail"]
    # writing another address to the left of the proxy's changes nothing
    spoofed = {"X-Forwarded-For": "203.0.113.99, 198.51.100.7, 10.1.2.3"}
    assert post(codes[0], spoofed).status_code == 429
    # another resident behind the same proxy votes
    assert post(codes[1], {"X-Forwarded-For": "198.51.100.8"}).status_code == 201
    now[0] += 30
    assert post(codes[0], mallory).headers["Retry-After"] == "30"
    now[0] += 31
    assert post(codes[0], mallory).status_code == 201

    # without trusted proxies the header is ignored: every guess is the peer's
    monkeypatch.setattr(settings, "trusted_proxies", [])
    statuses = [post(guess(), {"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(11)]
    assert statuses == [403] * 10 + [429]
    # at that pace a guesser tries 600 codes an hour per address: for 5000 codes of 60 bits,
    # one right code every 2^60 / 5000 / 600 hours (about 4e11 hours)
    assert 2**CODE_BITS / 5000 / 600 > 1e11


def test_rate_limit_per_resident_behind_the_deployed_proxy(world, monkeypatch):
    """As deployed (docs/deploy.md): nginx on the same host sets X-Forwarded-For to the
    client's address and ``qet serve``'s uvicorn trusts 127.0.0.1 for it. One resident who
    guesses is stopped; another one behind the same proxy still votes."""
    app = world.client.app
    monkeypatch.setattr(
        app.state,  # type: ignore[attr-defined]
        "vote_throttle",
        FailureThrottle(10, 60.0, clock=lambda: 0.0),
        raising=False,
    )
    vote = _open_vote(world, 12, THEMES[:2])
    codes = vote.participant_codes or []
    with live_server(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:

        def post(code: str, client: str) -> int:
            r = http.post(
                f"/votes/{vote.id}/ballots",
                json={"code": code, "choices": [THEMES[0]]},
                headers={"X-Forwarded-For": client},
            )
            return r.status_code

        wrong = [post(f"0000-0000-{i:04d}", "198.51.100.7") for i in range(10)]
        assert wrong == [403] * 10
        assert post(codes[0], "198.51.100.7") == 429
        assert post(codes[0], "198.51.100.8") == 201


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def test_migration_0005_rekeys_old_votes_and_drops_the_links(empty_database):
    """0004 → 0005 on a store with a vote: old codes re-keyed, ballots counted, links gone."""
    cfg = _config(empty_database)
    command.upgrade(cfg, "0004")
    engine = store.make_engine(empty_database)
    old_codes = [f"{i:08X}" for i in (0x1A2B3C4D, 0x0BADCAFE, 0x12345678, 0xDEADBEEF)]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO neighbourhoods (name, iris_codes, published, created_at) "
            "VALUES ('Avant 0005', '[]', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO diagnostics (neighbourhood_id, year, status, progress, created_at) "
            "SELECT id, 0, 'collecting', 0.0, CURRENT_TIMESTAMP FROM neighbourhoods"
        )
        diag = conn.exec_driver_sql("SELECT id FROM diagnostics").scalar_one()
        conn.execute(
            text(
                "INSERT INTO votes (diagnostic_id, question, themes, participant_codes, is_open, "
                "created_at) VALUES (:d, 'Q', :t, '[]', true, CURRENT_TIMESTAMP)"
            ),
            {"d": diag, "t": '["a", "b", "c"]'},
        )
        vote_id = conn.exec_driver_sql("SELECT id FROM votes").scalar_one()
        hashes = [hashlib.sha256(f"qet-vote:{vote_id}:{c}".encode()).hexdigest() for c in old_codes]
        conn.execute(
            text("UPDATE votes SET participant_codes = :p"),
            {"p": '["' + '", "'.join(hashes) + '"]'},
        )
        for h, choices in ((hashes[0], '["a", "c"]'), (hashes[1], '["c"]')):
            conn.execute(
                text(
                    "INSERT INTO ballots (vote_id, participant_hash, choices) VALUES (:v, :h, :c)"
                ),
                {"v": vote_id, "h": h, "c": choices},
            )
    engine.dispose()
    command.upgrade(cfg, "0005")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        columns = {c["name"] for c in inspect(conn).get_columns("votes")}
        codes = dict(conn.execute(text("SELECT code_hmac, spent FROM vote_codes")).all())
        counts = dict(conn.execute(text("SELECT position, n FROM ballot_counts")).all())
        blob = repr(
            [conn.execute(text(f'SELECT * FROM "{t}"')).all() for t in tables - _SKIP_TABLES]
        )
    assert "ballots" not in tables and "participant_codes" not in columns
    assert not any(h in blob for h in hashes)
    # the old codes still vote (same hash as the service computes), spent as they were
    from api.routers.votes import _digest

    digests = [_digest(vote_id, canonical_code(c) or "") for c in old_codes]
    assert [codes.get(d) for d in digests] == [True, True, False, False], (codes, digests)
    assert counts == {0: 1, 1: 0, 2: 2}
    engine.dispose()
    command.downgrade(cfg, "0004")
    engine = store.make_engine(empty_database)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT count(*) FROM votes")).scalar_one() == 1
    engine.dispose()
    assert "ballots" in tables and "vote_codes" not in tables
