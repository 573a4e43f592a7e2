"""Background jobs on taskiq over the real Redis (shell/jobs.py): a job enqueued is run by a
worker and its result comes back; the evidence checkpoint job locks the chain's head into the
WORM store; the schedules are cron labels; jobs refuse to run without Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from taskiq import AsyncBroker
from taskiq.api import run_receiver_task

from ivr.db import migrate
from ivr.errors import ConfigError
from ivr.evidence import EvidenceKind
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog
from shell.jobs import JOBS, build_broker, build_scheduler

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[AsyncBroker, Settings]]:
    """A broker under a private prefix and one in-process worker (receiver) on it."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'ivr.db'}",
        redis_url=REDIS_URL,
        redis_key_prefix=f"test-jobs-{uuid.uuid4().hex[:8]}",
    )
    migrate(settings.sqlalchemy_url)
    broker = build_broker(settings)
    await broker.startup()
    receiver = asyncio.create_task(run_receiver_task(broker))
    try:
        yield broker, settings
    finally:
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
        await broker.shutdown()
        cleanup = aioredis.Redis.from_url(REDIS_URL)
        async for key in cleanup.scan_iter(match=f"{settings.redis_key_prefix}:*"):
            await cleanup.delete(key)
        await cleanup.aclose()


async def test_checkpoint_job_runs_on_a_worker_and_returns_the_verified_head(
    worker: tuple[AsyncBroker, Settings],
) -> None:
    broker, settings = worker
    log = SqlEvidenceLog.from_settings(settings)
    for i in range(3):
        log.append_entry(EvidenceKind.CALL_ENDED, call_id=f"c{i}", payload={"i": i})
    task = broker.find_task("evidence_checkpoint")
    assert task is not None
    sent = await task.kiq()
    result = await sent.wait_result(timeout=60)
    assert not result.is_err, result.error
    assert result.return_value["seq"] == 3 and result.return_value["worm"] is False


async def test_purge_job_runs_and_reports(worker: tuple[AsyncBroker, Settings]) -> None:
    broker, _ = worker
    task = broker.find_task("retention_purge")
    assert task is not None
    result = await (await task.kiq()).wait_result(timeout=60)
    assert not result.is_err, result.error
    assert result.return_value["removed"] == []


def test_every_job_is_registered_and_scheduled(tmp_path: Path) -> None:
    broker = build_broker(Settings(data_dir=tmp_path, redis_url=REDIS_URL))
    assert set(broker.get_all_tasks()) == set(JOBS)
    for name in JOBS:
        task = broker.find_task(name)
        assert task is not None and task.labels["schedule"][0]["cron"]
    assert build_scheduler(broker).sources


def test_jobs_need_redis(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_broker(Settings(data_dir=tmp_path, redis_url=None))
