"""Fixtures for the compliance tests: real SQLite, PostgreSQL and Redis; no mocks of them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cmp_support import SH_NOON, build
from helpers import stores
from helpers.clock import FakeClock
from helpers.evidence import MemorySink
from helpers.pg import fresh_database
from helpers.redis_server import ThrowawayRedis
from helpers.stores import migrated_sqlite_template, sqlite_copy

from compliance.service import ComplianceService
from ivr.db import migrate
from shell.redis_cluster import LocalRedisCluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path, "c.db")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated, dropped afterwards."""
    with fresh_database("ivr_compliance", migrate) as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix for this test session; every key under it is deleted afterwards."""
    with stores.redis_prefix("test-compliance") as prefix:
        yield prefix


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A real 3-primary Redis Cluster on loopback ports for this session, stopped afterwards."""
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgres", "redis", "redis-cluster"])
async def svc_any(
    request: pytest.FixtureRequest, sqlite_url: str, redis_prefix: str
) -> AsyncIterator[tuple[ComplianceService, MemorySink, FakeClock]]:
    """A service on each gate store (SQLite, PostgreSQL, Redis and a 3-primary Redis Cluster
    with an SQLite ledger)."""
    clock = FakeClock(SH_NOON)
    backend = request.param
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        svc, sink = build(url, "sql", clock=clock)
    elif backend == "redis":
        svc, sink = build(
            sqlite_url, "redis", prefix=f"{redis_prefix}:{uuid.uuid4().hex[:6]}", clock=clock
        )
    elif backend == "redis-cluster":
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        svc, sink = build(
            sqlite_url,
            "redis",
            prefix=f"{redis_prefix}:{uuid.uuid4().hex[:6]}",
            redis_url=cluster.url,
            clock=clock,
            cluster=True,
        )
    else:
        svc, sink = build(sqlite_url, "sql", clock=clock)
    await svc.start(watch=False)
    yield svc, sink, clock
    await svc.close()  # Redis keys go with the session prefix cleanup


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()
