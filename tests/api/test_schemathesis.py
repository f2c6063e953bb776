"""Property-based tests generated from the OpenAPI document: no server error (5xx), anywhere.

The app under test is built at import on a temporary SQLite store with generated answers
(three neighbourhoods, small groups included) and tokens of every role.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.api.conftest import build_world

_WORLD = build_world(f"sqlite:///{Path(tempfile.mkdtemp(prefix='qet-st-')) / 'st.db'}")
schema = schemathesis.openapi.from_asgi("/openapi.json", _WORLD.client.app)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


@schema.parametrize()
@settings(max_examples=15, **_SETTINGS)
def test_admin_never_gets_a_server_error(case):
    case.call_and_validate(headers=_WORLD.headers("admin"), checks=CHECKS)


@schema.parametrize()
@settings(max_examples=8, **_SETTINGS)
def test_pilot_never_gets_a_server_error(case):
    case.call_and_validate(headers=_WORLD.headers("pilotA"), checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=8, **_SETTINGS)
def test_public_never_gets_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
