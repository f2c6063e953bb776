"""``qet admin``: create, list, deactivate and activate the web workspace's accounts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.store import accounts
from qet_geo.store import models as store


def _qet(url: str, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, [*args, "--database-url", url], input=stdin)


def test_deactivate_and_activate_from_the_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qet.db'}"
    made = _qet(url, "admin", "create", "alice@reseau.example", "--password-stdin", stdin="x" * 12)
    assert made.exit_code == 0, made.output
    engine = store.make_engine(url)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec")
        pilot = accounts.create_user(
            s,
            email="pilote@quartier.example",
            password="y" * 12,
            role="pilot",
            neighbourhood_ids=[hood.id],
        )
        token = accounts.create_user_token(s, pilot, label="script")
        cookie = accounts.open_session(s, pilot)[0]
    listed = _qet(url, "admin", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split("\t")[:3] == ["alice@reseau.example", "admin", "actif"]
    assert lines[1].split("\t") == ["pilote@quartier.example", "pilot", "actif", "Kervénanec"]
    # deactivating the pilot ends its sessions and tokens at once
    off = _qet(url, "admin", "deactivate", "PILOTE@quartier.example")
    assert off.exit_code == 0, off.output
    assert "désactivé" in off.output
    with store.session_scope(engine) as s:
        assert accounts.authenticate(s, "pilote@quartier.example", "y" * 12) is None
        assert accounts.session_for(s, cookie) is None
        assert s.query(store.ApiToken).filter_by(token_sha256=store.token_hash(token)).count() == 0
    assert "désactivé" in _qet(url, "admin", "list").output.splitlines()[1]
    # the last active administrator stays; an unknown address says how to find one
    last = _qet(url, "admin", "deactivate", "alice@reseau.example")
    assert last.exit_code == 2 and "dernier administrateur actif" in last.output
    unknown = _qet(url, "admin", "deactivate", "nobody@x.example")
    assert unknown.exit_code == 2 and "qet admin list" in unknown.output
    assert "Traceback" not in last.output + unknown.output
    back = _qet(url, "admin", "activate", "pilote@quartier.example")
    assert back.exit_code == 0, back.output
    with store.session_scope(engine) as s:
        assert accounts.authenticate(s, "pilote@quartier.example", "y" * 12) is not None
    engine.dispose()
