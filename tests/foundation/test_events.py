"""Events between services on Redis Streams (ivr/events.py), on the real Redis: consumer groups
deliver each event once per group, a consumer that died leaves its events to be claimed, and
call events carry kind and call id from the chained evidence log, never the payload."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ivr.db import make_engine, migrate
from ivr.errors import StoreUnavailableError
from ivr.events import CALLS, EventBus, PublishingEvidence
from ivr.evidence import EvidenceKind
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    prefix = f"test-events-{uuid.uuid4().hex[:8]}"
    bus = EventBus(aioredis.Redis.from_url(REDIS_URL, decode_responses=True), prefix)
    yield bus
    cleanup = aioredis.Redis.from_url(REDIS_URL)
    async for key in cleanup.scan_iter(match=f"{prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()
    await bus.close()


async def test_each_group_gets_every_event_once_and_unacked_ones_are_claimed(bus: EventBus) -> None:
    await bus.ensure_group("qa", "dashboard")
    await bus.ensure_group("qa", "dashboard")  # idempotent
    await bus.ensure_group("qa", "metrics")
    ids = [await bus.publish("qa", {"n": str(i)}) for i in range(3)]
    first = await bus.read("qa", "dashboard", "web-1", block_ms=100)
    assert [e.id for e in first] == ids and [e.fields["n"] for e in first] == ["0", "1", "2"]
    assert await bus.read("qa", "dashboard", "web-2", block_ms=50) == []  # not delivered twice
    assert len(await bus.read("qa", "metrics", "m-1", block_ms=100)) == 3  # another group
    await bus.ack("qa", "dashboard", ids[0])
    # web-1 died holding events 1 and 2: another consumer takes them over
    taken = await bus.claim_stale("qa", "dashboard", "web-2", idle_ms=0)
    assert [e.id for e in taken] == ids[1:]


class Chain:
    def __init__(self) -> None:
        self.entries: list[tuple[EvidenceKind, str | None, Mapping[str, object]]] = []

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        self.entries.append((kind, call_id, payload))


async def test_call_events_follow_the_chain_without_the_payload(bus: EventBus) -> None:
    chain = Chain()
    sink = PublishingEvidence(chain, bus)
    await bus.ensure_group(CALLS, "dashboard")
    await sink.append(EvidenceKind.CALL_STARTED, call_id="c-1", payload={"number": "139****5678"})
    await sink.append(EvidenceKind.CALL_ENDED, call_id="c-1", payload={"outcome": "done"})
    events = await bus.read(CALLS, "dashboard", "web", block_ms=100)
    assert [(e.fields["kind"], e.fields["call_id"]) for e in events] == [
        ("call_started", "c-1"),
        ("call_ended", "c-1"),
    ]
    assert all(set(e.fields) == {"kind", "call_id", "at"} for e in events)
    assert len(chain.entries) == 2


async def test_a_lost_bus_never_fails_the_evidence_write() -> None:
    dead = EventBus(aioredis.Redis.from_url("redis://127.0.0.1:1/0"), "x")
    chain = Chain()
    sink = PublishingEvidence(chain, dead)
    await sink.append(EvidenceKind.CALL_ENDED, call_id="c-2", payload={})
    assert len(chain.entries) == 1 and sink.publish_failures == 1
    with pytest.raises(StoreUnavailableError):
        await dead.publish("calls", {"k": "v"})
    await dead.close()


async def test_the_call_app_publishes_call_events_when_redis_is_configured(tmp_path: Path) -> None:
    from flows.app import evidence_sink

    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    migrate(url)
    chain = SqlEvidenceLog(make_engine(url))
    alone, none = evidence_sink(
        Settings(data_dir=tmp_path, database_url=url, redis_url=None), chain
    )
    assert alone is chain and none is None  # no Redis: the chained log only
    prefix = f"test-events-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path, database_url=url, redis_url=REDIS_URL, redis_key_prefix=prefix
    )
    sink, publisher = evidence_sink(settings, chain)
    assert publisher is sink
    reader = EventBus(aioredis.Redis.from_url(REDIS_URL, decode_responses=True), prefix)
    try:
        await reader.ensure_group(CALLS, "dashboard")
        await sink.append(EvidenceKind.CALL_STARTED, call_id="c-9", payload={"flow": "x"})
        [event] = await reader.read(CALLS, "dashboard", "web", block_ms=500)
        assert (event.fields["kind"], event.fields["call_id"]) == ("call_started", "c-9")
        assert [e.kind for e in chain.entries(call_id="c-9")] == [EvidenceKind.CALL_STARTED]
    finally:
        await publisher.aclose()
        cleanup = aioredis.Redis.from_url(REDIS_URL)
        async for key in cleanup.scan_iter(match=f"{prefix}:*"):
            await cleanup.delete(key)
        await cleanup.aclose()
        await reader.close()
