"""Background jobs on taskiq (a kept asyncio job-queue library) over Redis Streams.

Why taskiq: asyncio-native like the app, a Redis Streams broker with acknowledgement (a job a
killed worker had taken is redelivered to another after ``idle_timeout``), a Redis Cluster
broker, results in Redis, cron schedules from task labels, and it runs on the redis-py the app
pins (arq and saq pin redis < 6 / < 8). A job is a plain function of the app's own code; the
queue decides only where and when it runs.

Jobs (cron in UTC): ``evidence_checkpoint`` (every 5 minutes: verify the chain against the
newest WORM checkpoint, lock the new head there; without a WORM store the head is only
verified), ``retention_purge`` (daily at 03:15: the next months' recordings partitions, finish
interrupted vault work, delete recordings past their retention), ``qa_batch_yesterday`` (daily
at 18:30, 02:30 in Shanghai: QA of the previous institution day's stored recordings, resumable),
``qa_report_yesterday`` (daily at 23:00, 07:00 in Shanghai: that day's QA report, PDF and HTML
under ``<data_dir>/reports``) and ``callbacks_overdue`` (every minute: each overdue callback
ticket alerted once; see :mod:`shell.jobs_work`). Run a worker with
``taskiq worker shell.jobs_worker:broker`` and the schedule with
``taskiq scheduler shell.jobs_worker:scheduler`` (``deploy/`` does both); ``ivr jobs run NAME``
enqueues one now and waits for its result.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import (
    RedisAsyncClusterResultBackend,
    RedisAsyncResultBackend,
    RedisStreamBroker,
    RedisStreamClusterBroker,
)

from ivr.db import make_engine
from ivr.errors import ConfigError
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog
from records.vault import Vault
from records.worm import WormCheckpointStore, publish_checkpoint
from shell.jobs_work import callbacks_overdue, qa_batch_day, qa_report_day, yesterday

RESULT_TTL_S = 7 * 86400
JOBS = (
    "evidence_checkpoint",
    "retention_purge",
    "qa_batch_yesterday",
    "qa_report_yesterday",
    "callbacks_overdue",
)


def build_broker(settings: Settings) -> AsyncBroker:
    """The job broker on ``IVR_REDIS_URL`` (a Cluster with ``IVR_REDIS_CLUSTER``), every job
    registered on it. Jobs need Redis: without it this refuses, it never runs them in-process."""
    if not settings.redis_url:
        raise ConfigError("background jobs need IVR_REDIS_URL (a Redis stream is their queue)")
    queue = f"{settings.redis_key_prefix}:jobs"
    broker: AsyncBroker
    if settings.redis_cluster:
        broker = RedisStreamClusterBroker(
            settings.redis_url, queue_name=queue, consumer_group_name="ivr-jobs", consumer_id="0"
        ).with_result_backend(
            RedisAsyncClusterResultBackend(
                settings.redis_url, result_ex_time=RESULT_TTL_S, prefix_str=f"{queue}:result"
            )
        )
    else:
        broker = RedisStreamBroker(
            settings.redis_url,
            queue_name=queue,
            consumer_group_name="ivr-jobs",
            consumer_id="0",
            idle_timeout=15 * 60 * 1000,
        ).with_result_backend(
            RedisAsyncResultBackend(
                settings.redis_url, result_ex_time=RESULT_TTL_S, prefix_str=f"{queue}:result"
            )
        )
    register_jobs(broker, settings)
    return broker


def build_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    """Cron schedules from the jobs' ``schedule`` labels."""
    return TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])


def register_jobs(broker: AsyncBroker, settings: Settings) -> None:
    """Every job, bound to ``settings`` (each run builds what it needs and releases it)."""

    @broker.task(task_name="evidence_checkpoint", schedule=[{"cron": "*/5 * * * *"}])
    def evidence_checkpoint() -> dict[str, Any]:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            log = SqlEvidenceLog(engine)
            worm = WormCheckpointStore.from_settings(settings)
            if worm is None:
                cp, written = log.checkpoint(), False
            else:
                cp, written = publish_checkpoint(log, worm)
            return cp.as_dict() | {"worm": worm is not None, "written": written}
        finally:
            engine.dispose()

    @broker.task(task_name="qa_batch_yesterday", schedule=[{"cron": "30 18 * * *"}])
    async def qa_batch_yesterday(day: str | None = None) -> dict[str, Any]:
        when = date.fromisoformat(day) if day else yesterday(settings, datetime.now(UTC))
        return await qa_batch_day(settings, when)

    @broker.task(task_name="qa_report_yesterday", schedule=[{"cron": "0 23 * * *"}])
    def qa_report_yesterday(day: str | None = None) -> dict[str, Any]:
        when = date.fromisoformat(day) if day else yesterday(settings, datetime.now(UTC))
        return qa_report_day(settings, when)

    @broker.task(task_name="callbacks_overdue", schedule=[{"cron": "* * * * *"}])
    async def callbacks_overdue_job() -> dict[str, Any]:
        return await callbacks_overdue(settings)

    @broker.task(task_name="retention_purge", schedule=[{"cron": "15 3 * * *"}])
    def retention_purge() -> dict[str, Any]:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            vault = Vault.from_settings(settings, engine)
            partitions = vault.ensure_partitions()  # next months' tables, well before they start
            return vault.purge().as_dict() | {"partitions_created": partitions}
        finally:
            engine.dispose()
