"""Events between services on Redis Streams: call events for dashboards and other consumers.

Why Redis Streams (not NATS JetStream): Redis is already the gate's store and the QA alerts'
stream, so no second broker to run, secure and fail over; streams give what the consumers need
(append-only log per topic, consumer groups with acknowledgement and redelivery of what a crashed
consumer had taken, a cap on length) and, being one key per topic, live on one slot of a Redis
Cluster as they are.

:class:`EventBus` appends to ``<prefix>:events:<topic>`` (``XADD``, capped ``MAXLEN ~``) and
reads through a consumer group (``XREADGROUP`` / ``XACK``; a consumer that dies leaves its
events pending, :meth:`EventBus.claim_stale` hands them to another). :class:`PublishingEvidence`
is an :class:`ivr.evidence.EvidenceSink` that appends to the chained log first, then publishes
the entry's kind and call id to the ``calls`` topic: the chain stays the record, the stream is
the live feed, and the payload (which may name a masked number or an excerpt digest) is never
published. A publish failure is logged and counted, never fails the call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.redis_conn import AsyncRedis

log = logging.getLogger(__name__)
STREAM_MAXLEN = 100_000
CALLS = "calls"


@dataclass(frozen=True, slots=True)
class Event:
    """One event read from a topic: its stream id and its fields."""

    id: str
    fields: Mapping[str, str]


class EventBus:
    """Topics as Redis streams under ``<prefix>:events:``; every method raises
    :class:`StoreUnavailableError` when Redis fails."""

    def __init__(self, redis: AsyncRedis, prefix: str) -> None:
        self._redis = redis
        self.prefix = prefix

    def key(self, topic: str) -> str:
        return f"{self.prefix}:events:{topic}"

    async def publish(self, topic: str, fields: Mapping[str, str]) -> str:
        """Append one event; returns its stream id."""
        entry: dict[Any, Any] = dict(fields)
        try:
            event_id = await self._redis.xadd(
                self.key(topic), entry, maxlen=STREAM_MAXLEN, approximate=True
            )
        except RedisError as exc:
            raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc
        return str(event_id)

    async def ensure_group(self, topic: str, group: str) -> None:
        """Create the consumer group (from the stream's start) unless it exists."""
        try:
            await self._redis.xgroup_create(self.key(topic), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc
        except RedisError as exc:
            raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc

    async def read(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block_ms: int = 1000
    ) -> list[Event]:
        """New events for ``consumer`` in ``group`` (pending until :meth:`ack`)."""
        try:
            reply: Any = await self._redis.xreadgroup(
                group, consumer, {self.key(topic): ">"}, count=count, block=block_ms
            )
        except RedisError as exc:
            raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc
        return _events(reply)

    async def ack(self, topic: str, group: str, *ids: str) -> None:
        if not ids:
            return
        try:
            await self._redis.xack(self.key(topic), group, *ids)
        except RedisError as exc:
            raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc

    async def claim_stale(
        self, topic: str, group: str, consumer: str, *, idle_ms: int, count: int = 100
    ) -> list[Event]:
        """Take over events another consumer read but did not acknowledge for ``idle_ms``."""
        try:
            reply: Any = await self._redis.xautoclaim(
                self.key(topic), group, consumer, idle_ms, start_id="0-0", count=count
            )
        except RedisError as exc:
            raise StoreUnavailableError(f"event bus: {type(exc).__name__}") from exc
        return [Event(str(i), dict(f)) for i, f in reply[1] if f is not None]

    async def close(self) -> None:
        await self._redis.aclose()


def _events(reply: Any) -> list[Event]:
    out: list[Event] = []
    for _stream, entries in reply or []:
        out.extend(Event(str(i), dict(f)) for i, f in entries)
    return out


class PublishingEvidence:
    """The chained evidence log, plus each entry's kind and call id on the ``calls`` topic."""

    def __init__(self, inner: EvidenceSink, bus: EventBus) -> None:
        self._inner = inner
        self._bus = bus
        self.publish_failures = 0

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        await self._inner.append(kind, call_id=call_id, payload=payload)
        try:
            await self._bus.publish(
                CALLS, {"kind": str(kind), "call_id": call_id or "", "at": f"{time.time():.3f}"}
            )
        except StoreUnavailableError:
            self.publish_failures += 1
            log.warning("call event not published (%s); the evidence is stored", kind)

    async def aclose(self) -> None:
        """Close the bus (the chained log belongs to whoever built it)."""
        await self._bus.close()
