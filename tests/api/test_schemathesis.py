"""Property-based tests generated from the OpenAPI document: no server error (5xx), anywhere.

The app under test is built once per backend (SQLite, PostgreSQL/PostGIS) with generated answers
(three neighbourhoods, small groups included) and tokens of every role; every operation of the
document is exercised on each backend.

Set ``QET_SCHEMATHESIS_REPORT=<file>`` to have the number of operations and of test cases per
backend written there as JSON (with ``-p no:xdist``, so that one process sees them all).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.main import create_app
from api.settings import Settings
from tests.api.conftest import BACKENDS, World, _database_url, build_world

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}
_CASES: Counter[str] = Counter()
_OPERATIONS: dict[str, set[str]] = {}


@pytest.fixture(scope="module", params=BACKENDS)
def st_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    w = build_world(_database_url(request, tmp_path_factory.mktemp(f"st-{request.param}")))
    w.tokens["backend"] = request.param
    yield w
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]
    report = os.environ.get("QET_SCHEMATHESIS_REPORT")
    if report:
        counts = {
            b: {"operations": len(_OPERATIONS.get(b, ())), "cases": _CASES[b]}
            for b in sorted(_OPERATIONS)
        }
        Path(report).write_text(json.dumps(counts, indent=1))


# The document is the same on every backend: read once from an app on a scratch store; every case
# is then sent to the app of the backend under test (``app=`` of call_and_validate).
_SCHEMA_APP = create_app(
    Settings(database_url=f"sqlite:///{Path(tempfile.mkdtemp(prefix='qet-st-')) / 'schema.db'}")
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _SCHEMA_APP)


def _count(world: World, case: Any) -> None:
    backend = world.tokens["backend"]
    _CASES[backend] += 1
    _OPERATIONS.setdefault(backend, set()).add(case.operation.label)


@schema.parametrize()
@settings(max_examples=15, **_SETTINGS)
def test_admin_never_gets_a_server_error(case: Any, st_world: World) -> None:
    _count(st_world, case)
    case.call_and_validate(
        headers=st_world.headers("admin"), checks=CHECKS, app=st_world.client.app
    )


@schema.parametrize()
@settings(max_examples=8, **_SETTINGS)
def test_pilot_never_gets_a_server_error(case: Any, st_world: World) -> None:
    _count(st_world, case)
    case.call_and_validate(
        headers=st_world.headers("pilotA"), checks=[not_a_server_error], app=st_world.client.app
    )


@schema.parametrize()
@settings(max_examples=8, **_SETTINGS)
def test_public_never_gets_a_server_error(case: Any, st_world: World) -> None:
    _count(st_world, case)
    case.call_and_validate(checks=[not_a_server_error], app=st_world.client.app)
