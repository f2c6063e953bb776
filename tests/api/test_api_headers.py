"""Security headers on every answer (issue 12, defence in depth behind the escaping chokepoint)."""

from __future__ import annotations

from api._headers import CONTENT_SECURITY_POLICY, DOCS_POLICY


def test_every_answer_has_the_security_headers(world):
    w = world
    for path, headers in (
        ("/neighbourhoods", {}),
        (f"/diagnostics/{w.diags['A']}/footprints", {}),
        ("/national/map", w.headers("staff")),
        ("/neighbourhoods/999999", {}),  # errors too
    ):
        r = w.client.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
    policy = CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "http" not in policy  # no other host allowed


def test_the_documentation_has_its_own_policy(world):
    """/docs runs the vendored Swagger UI (api/_docs.py): the service's own files only."""
    r = world.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-security-policy"] == DOCS_POLICY
    assert "http" not in DOCS_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
