"""Fixtures of the dialler tests: real SQLite and PostgreSQL (a private database), real Redis."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))

from camp_support import PG_ADMIN, REDIS_URL, SH_NOON, DiallerEnv, RunningClock, build_env

from ivr.db import migrate


@pytest.fixture(scope="session")
def camp_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camp-sqlite") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def camp_sqlite_url(camp_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "camp.db"
    shutil.copy(camp_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def camp_pg_url() -> Iterator[str]:
    """A private PostgreSQL database for this session, dropped afterwards."""
    name = f"ivr_dialler_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def camp_redis_prefix() -> Iterator[str]:
    prefix = f"test-dialler-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


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
