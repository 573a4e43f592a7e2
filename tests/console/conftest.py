"""Console fixtures: a context over a private migrated SQLite database, a settable clock, a
TestClient, and one signed-in user (bearer token) per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import CHEAP, add_user, bearer, console_settings
from fastapi.testclient import TestClient
from helpers.clock import FakeClock

from console.app import create_app
from console.context import ConsoleContext, build_context
from console.permissions import Role


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(tmp_path: Path, clock: FakeClock) -> ConsoleContext:
    return build_context(console_settings(tmp_path), hasher=CHEAP, clock=clock)


@pytest.fixture
def client(ctx: ConsoleContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture
def role_headers(ctx: ConsoleContext, client: TestClient) -> dict[Role, dict[str, str]]:
    """A user per role (named after it) and its bearer header."""
    headers = {}
    for role in Role:
        add_user(ctx, role.value, role)
        headers[role] = bearer(client, role.value)
    return headers
