"""Overdue callback tickets are alerted (issue 18, item 4): once each, on the event bus the
supervisor view reads, counted, and never lost to a Redis outage (alerted again next round)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from agents_support import private_settings
from helpers.evidence import MemorySink
from prometheus_client import REGISTRY

from agents.callbacks import CallbackWork, alert_overdue_once
from agents.overdue import ALERTS, OverdueAlerts
from campaigns.callbacks import CallbackTickets
from ivr.db import make_engine
from ivr.errors import StoreUnavailableError
from ivr.events import EventBus
from ivr.phone import customer_number
from records.sealed_number import NumberSealer

REDIS_URL = "redis://127.0.0.1:6379/0"
OPENED = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def alerted(queue: str) -> float:
    value = REGISTRY.get_sample_value("ivr_callbacks_overdue_alerts_total", {"queue": queue})
    return value or 0.0


async def test_each_overdue_ticket_is_alerted_once_and_a_lost_bus_loses_no_alert(
    tmp_path: Path,
) -> None:
    settings = private_settings(tmp_path)
    engine = make_engine(settings.sqlalchemy_url)
    tickets = CallbackTickets(engine, NumberSealer.from_settings(settings), MemorySink())
    for i, queue in enumerate(("senior", "general")):
        await tickets.open(
            call_id=f"call-{i}",
            number=customer_number(f"1391234567{i}"),
            queue=queue,
            reason="no_agent_free",
            now=OPENED,
        )
    now = [OPENED + timedelta(hours=3)]  # past the senior SLA (2 h), within the general one
    work = CallbackWork(engine, tickets, clock=lambda: now[0])
    prefix = f"test-overdue-{uuid.uuid4().hex[:8]}"
    reader = EventBus(aioredis.Redis.from_url(REDIS_URL, decode_responses=True), prefix)
    dead = OverdueAlerts(EventBus(aioredis.Redis.from_url("redis://127.0.0.1:1/0"), prefix))
    alerts = OverdueAlerts(EventBus(aioredis.Redis.from_url(REDIS_URL), prefix))
    before = alerted("senior")
    try:
        await reader.ensure_group(ALERTS, "supervisors")
        # Redis down: nothing is marked alerted, so the next round alerts it
        with pytest.raises(StoreUnavailableError):
            await alert_overdue_once(work, dead)
        assert await alert_overdue_once(work, alerts) == 1
        assert await alert_overdue_once(work, alerts) == 0  # once per ticket
        [event] = await reader.read(ALERTS, "supervisors", "web", block_ms=500)
        assert event.fields["kind"] == "callback_overdue" and event.fields["queue"] == "senior"
        assert set(event.fields) == {"kind", "ticket_id", "queue", "due_at"}  # no number
        assert alerted("senior") == before + 1
        now[0] = OPENED + timedelta(hours=25)  # the general ticket is overdue too
        assert await alert_overdue_once(work, alerts) == 1
        [late] = await reader.read(ALERTS, "supervisors", "web", block_ms=500)
        assert late.fields["queue"] == "general"
    finally:
        await alerts.aclose()
        await dead.aclose()
        cleanup = aioredis.Redis.from_url(REDIS_URL)
        async for key in cleanup.scan_iter(match=f"{prefix}:*"):
            await cleanup.delete(key)
        await cleanup.aclose()
        await reader.close()
