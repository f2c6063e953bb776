"""``serve`` (qet serve): starts the service on the given database and answers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from qet_geo.cli.serve import serve
from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_serve_runs_the_api(tmp_path):
    port = free_port()
    db = tmp_path / "serve.db"
    code = (
        "from qet_geo.cli.serve import serve; "
        f"serve(host='127.0.0.1', port={port}, database_url='sqlite:///{db}')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/neighbourhoods", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "qet serve exited"
                assert time.monotonic() < deadline, "qet serve did not answer in 30 s"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json() == []
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/diagnostics/{diagnostic_id}/indicators" in spec["paths"]
        assert db.exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_a_bad_host():
    app = typer.Typer()
    app.command()(serve)
    result = CliRunner().invoke(app, ["--host", "not a host"])
    assert result.exit_code == 2
    assert "adresse" in result.output
