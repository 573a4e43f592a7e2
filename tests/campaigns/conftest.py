"""Fixtures of the dialler tests: real SQLite and PostgreSQL (a private database), real Redis."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from camp_support import SH_NOON, DiallerEnv, RunningClock, build_env
from helpers.pg import fresh_database
from helpers.stores import migrated_sqlite_template, redis_prefix, sqlite_copy

from ivr.db import migrate


@pytest.fixture(scope="session")
def camp_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("camp-sqlite"))


@pytest.fixture
def camp_sqlite_url(camp_sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(camp_sqlite_template, tmp_path, "camp.db")


@pytest.fixture(scope="session")
def camp_pg_url() -> Iterator[str]:
    """A private PostgreSQL database for this session, migrated, dropped afterwards."""
    with fresh_database("ivr_dialler", migrate) as url:
        yield url


@pytest.fixture(scope="session")
def camp_redis_prefix() -> Iterator[str]:
    with redis_prefix("test-dialler") as prefix:
        yield prefix


@pytest.fixture
async def sqlite_env(camp_sqlite_url: str) -> AsyncIterator[DiallerEnv]:
    env = build_env(camp_sqlite_url, RunningClock(SH_NOON))
    await env.svc.start(watch=False)
    yield env
    await env.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, camp_sqlite_url: str) -> AsyncIterator[DiallerEnv]:
    """The dialler's stores on SQLite and on PostgreSQL (SQL gate store)."""
    url = camp_sqlite_url if request.param == "sqlite" else request.getfixturevalue("camp_pg_url")
    e = build_env(url, RunningClock(SH_NOON))
    await e.svc.start(watch=False)
    yield e
    await e.close()
