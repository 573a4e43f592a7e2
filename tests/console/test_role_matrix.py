"""Every endpoint × every role, allowed and denied, against the one permission table.

Each API route declares one permission (``console.api.deps.require``) or is listed here as
public / signed-in-only; a route without an example request fails the test, so no route can
skip the matrix. An allowed role gets a 2xx answer, a denied one 403 and evidence of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from console_support import PASSWORD
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console.api.deps import permission_of
from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import TABLE, Permission, Role

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/api/v1/meta"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/demo/crm/risk"),
}
SIGNED_IN = {("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/roles")}

Request = dict[str, Any]
# (method, route path) -> a valid request for a caller of ``role`` (unique names per role)
EXAMPLES: dict[tuple[str, str], Callable[[Role], Request]] = {
    ("GET", "/api/v1/users"): lambda r: {},
    ("POST", "/api/v1/users"): lambda r: {
        "json": {"username": f"new-{r.value}", "role": "agent", "password": PASSWORD}
    },
    ("PATCH", "/api/v1/users/{username}"): lambda r: {
        "path": {"username": "agent"},
        "json": {"disabled": False},
    },
}


def route_permissions(client: TestClient) -> dict[tuple[str, str], Permission | None]:
    found: dict[tuple[str, str], Permission | None] = {}
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        perms = {permission_of(d.call) for d in route.dependant.dependencies} - {None}
        assert len(perms) <= 1, f"{route.path} declares several permissions"
        for method in route.methods:
            found[(method, route.path)] = next(iter(perms), None)
    return found


def test_every_route_declares_a_permission_or_is_listed(client: TestClient) -> None:
    for key, permission in route_permissions(client).items():
        if permission is None:
            assert key in PUBLIC | SIGNED_IN, f"{key} has no permission and is not listed"
        else:
            assert key in EXAMPLES, f"{key} has no example request in the role matrix"


def test_unauthenticated_callers_get_401_on_every_guarded_route(client: TestClient) -> None:
    for (method, path), permission in route_permissions(client).items():
        if permission is None and (method, path) in PUBLIC:
            continue
        req = EXAMPLES.get((method, path), lambda r: {})(Role.ADMIN)
        url = path.format(**req.get("path", {}))
        answer = client.request(method, url, json=req.get("json"), params=req.get("params"))
        assert answer.status_code == 401, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(
    role: Role,
    client: TestClient,
    ctx: ConsoleContext,
    role_headers: dict[Role, dict[str, str]],
) -> None:
    headers = role_headers[role]
    for (method, path), permission in sorted(route_permissions(client).items()):
        if permission is None:
            continue
        req = EXAMPLES[(method, path)](role)
        url = path.format(**req.get("path", {}))
        before = sum(1 for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED)
        answer = client.request(
            method, url, json=req.get("json"), params=req.get("params"), headers=headers
        )
        after = sum(1 for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED)
        if permission in TABLE[role]:
            assert answer.status_code < 300, (role, method, path, answer.text)
            assert after == before
        else:
            assert answer.status_code == 403, (role, method, path, answer.text)
            assert after == before + 1, "a refusal is evidence"
