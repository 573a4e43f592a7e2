"""Console fixtures: a context over a private migrated SQLite database, a settable clock, a
TestClient, and one signed-in user (bearer token) per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import CHEAP, add_user, bearer, console_settings
from fastapi.testclient import TestClient
from floor_switch import ThreadedSwitch, threaded_switch
from helpers.clock import FakeClock

from console.app import create_app
from console.context import ConsoleContext, build_context
from console.permissions import Role


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def floor_switch() -> Iterator[ThreadedSwitch]:
    """The simulated FreeSWITCH the console's agent desks drive (one per test session)."""
    with threaded_switch() as switch:
        yield switch


@pytest.fixture
def ctx(tmp_path: Path, clock: FakeClock, floor_switch: ThreadedSwitch) -> ConsoleContext:
    settings = console_settings(
        tmp_path,
        freeswitch_inbound=floor_switch.address,
        floor_webhooks={"crm": "http://127.0.0.1:9/crm"},  # nothing listens: stays pending
        floor_webhook_secret="test-webhook-secret",
    )
    return build_context(settings, hasher=CHEAP, clock=clock)


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
