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


async def test_qa_jobs_run_for_the_institution_day(worker: tuple[AsyncBroker, Settings]) -> None:
    broker, _ = worker
    batch = broker.find_task("qa_batch_yesterday")
    report = broker.find_task("qa_report_yesterday")
    assert batch is not None and report is not None
    done = await (await batch.kiq(day="2026-11-30")).wait_result(timeout=120)
    assert not done.is_err, done.error
    assert (done.return_value["total"], done.return_value["failed"]) == (0, 0)  # nothing stored
    made = await (await report.kiq(day="2026-11-30")).wait_result(timeout=120)
    assert not made.is_err, made.error
    pdf = Path(made.return_value["pdf"])
    head = await asyncio.to_thread(pdf.read_bytes)
    assert pdf.name == "qa-report-2026-11-30.pdf" and head.startswith(b"%PDF")


def test_yesterday_is_the_institution_day(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from shell.jobs_work import yesterday

    settings = Settings(data_dir=tmp_path, institution_timezone="Asia/Shanghai")
    # 17:00 UTC on 1 Dec is 01:00 on 2 Dec in Shanghai: yesterday there is 1 Dec
    assert yesterday(settings, datetime(2026, 12, 1, 17, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert yesterday(settings, datetime(2026, 12, 1, 3, 0, tzinfo=UTC)) == date(2026, 11, 30)


async def test_overdue_callbacks_job_alerts_each_ticket_once(
    worker: tuple[AsyncBroker, Settings],
) -> None:
    from datetime import UTC, datetime, timedelta

    from campaigns.callbacks import CallbackTickets
    from ivr.db import make_engine
    from ivr.phone import customer_number
    from records.vault import Vault

    broker, settings = worker
    engine = make_engine(settings.sqlalchemy_url)
    vault = Vault.from_settings(settings, engine)
    tickets = CallbackTickets(engine, vault.numbers, vault.evidence)
    await tickets.open(
        call_id="c-late",
        number=customer_number("13912345670"),
        queue="senior",
        reason="no_agent_free",
        now=datetime.now(UTC) - timedelta(hours=3),  # past the senior SLA (2 h)
    )
    task = broker.find_task("callbacks_overdue")
    assert task is not None
    first = await (await task.kiq()).wait_result(timeout=60)
    again = await (await task.kiq()).wait_result(timeout=60)
    assert not first.is_err and not again.is_err, (first.error, again.error)
    assert (first.return_value["alerted"], again.return_value["alerted"]) == (1, 0)
    engine.dispose()
