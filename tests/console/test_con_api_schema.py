"""schemathesis against the console's OpenAPI document: generated requests to every operation
(as a compliance officer; /users as an admin) never get a 5xx, and every response matches the
schema the document declares for it (problem+json errors included)."""

from __future__ import annotations

from typing import Any

import schemathesis
from console_support import add_user, bearer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Result
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from console.context import ConsoleContext
from console.permissions import Role

EXAMPLES_PER_OPERATION = 8
SKIPPED = ("simulate",)  # a whole simulated call per request: tested in test_designer


def operation_of(result: Result[Any, Any]) -> Any:
    """The operation of one schema result; a schema error fails the test."""
    assert not isinstance(result, Err), result.err()
    return result.ok()


def test_no_server_error_and_every_response_matches_its_schema(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "officer", Role.COMPLIANCE_OFFICER)
    add_user(ctx, "root", Role.ADMIN)
    headers = {"officer": bearer(client, "officer"), "admin": bearer(client, "root")}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    operations = [operation_of(result) for result in schema.get_all_operations()]
    assert len(operations) > 40
    tested = 0
    calls = 0
    for operation in operations:
        if any(word in operation.path for word in SKIPPED):
            continue
        caller = headers["admin" if operation.path.startswith("/api/v1/users") else "officer"]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case[Any]) -> None:
            nonlocal calls
            case.call_and_validate(headers=caller, checks=checks)  # noqa: B023 (run at once)
            calls += 1

        run()
        tested += 1
    assert calls >= tested * 2  # several generated requests per operation
    assert tested == len(operations) - sum(
        1 for o in operations if any(w in o.path for w in SKIPPED)
    )
