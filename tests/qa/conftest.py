"""QA test fixtures: the shipped rules, a migrated database, an alert stream of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from ivr.db import make_engine, migrate
from qa.alerts import RedisAlertStream
from qa.compiled import CompiledRules
from qa.reload import DEFAULT_RULES_PATH, load_rules_file
from records.evidence_store import SqlEvidenceLog


@pytest.fixture(scope="session")
def shipped() -> CompiledRules:
    return load_rules_file(DEFAULT_RULES_PATH)


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    """A migrated SQLite database of its own."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture
def evidence(db: sa.Engine) -> SqlEvidenceLog:
    return SqlEvidenceLog(db)


@pytest.fixture
async def redis_stream() -> AsyncIterator[RedisAlertStream]:
    """An alert stream under a key prefix of its own, deleted afterwards."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    stream = RedisAlertStream(client, f"test-qa-{uuid.uuid4().hex[:10]}")
    yield stream
    await client.delete(stream.key)
    await client.aclose()
