"""Outbound webhooks to the CRM and anti-fraud systems: signed, retried, dead-lettered.

An event (``escalation``, ``high_risk``, ``ticket_created``) becomes one row per target in
``webhook_deliveries`` (the outbox: it survives a restart) through :meth:`WebhookOutbox.enqueue`.
:meth:`WebhookOutbox.deliver_due` posts every due row with ``X-IVR-Timestamp`` and
``X-IVR-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`` (:func:`signature`); a 2xx
answer marks it ``sent``, anything else is retried after :func:`retry_delay_s` (doubling, capped)
until ``max_attempts``, then the row is ``dead`` (the console's dead-letter list; an operator may
:meth:`WebhookOutbox.retry` it). Bodies hold ids, flags and masked numbers, never a clear number.
:func:`deliver_forever` is the loop a :class:`ivr.supervise.Supervised` runs.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from agents.ports import WebhookTransport
from agents.tables import webhook_deliveries
from ivr.crypto import hmac_sha256
from ivr.errors import DependencyUnavailableError, StoreUnavailableError
from ivr.metrics import WEBHOOKS
from ivr.supervise import wait_event

# which targets hear which event (a target not configured is skipped)
ROUTES: Mapping[str, tuple[str, ...]] = {
    "escalation": ("crm",),
    "high_risk": ("antifraud", "crm"),
    "ticket_created": ("crm",),
}


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-IVR-Signature`` value a receiver recomputes (pure)."""
    return "v1=" + hmac_sha256(secret, timestamp.encode() + b"." + body).hex()


def retry_delay_s(attempts: int, base_s: float = 1.0, cap_s: float = 600.0) -> float:
    """Seconds before the next try after ``attempts`` failures (pure): 1, 2, 4, ... capped."""
    return float(min(cap_s, base_s * (2 ** max(attempts - 1, 0))))


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    target: str
    event: str
    call_id: str | None
    body: str
    status: str
    attempts: int
    next_at: datetime
    last_error: str | None
    created_at: datetime


class HttpTransport:
    """:class:`agents.ports.WebhookTransport` over httpx."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            response = await self._http.post(url, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"webhook failed: {type(exc).__name__}") from exc
        return response.status_code

    async def aclose(self) -> None:
        await self._http.aclose()


class WebhookOutbox:
    """The outbox table and its delivery."""

    def __init__(
        self,
        engine: Engine,
        targets: Mapping[str, str],
        secret: bytes,
        transport: WebhookTransport,
        *,
        max_attempts: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        base_delay_s: float = 1.0,
    ) -> None:
        self._engine = engine
        self._targets = dict(targets)
        self._secret = secret
        self._transport = transport
        self._max_attempts = max_attempts
        self._clock = clock
        self._base_delay_s = base_delay_s
        self.wake = asyncio.Event()

    async def enqueue(self, event: str, payload: Mapping[str, Any], call_id: str | None) -> int:
        """One delivery per configured target of ``event``; how many were queued."""
        now = self._clock()
        body = json.dumps(
            {"event": event, "call_id": call_id, "at": now.isoformat(), "data": dict(payload)},
            ensure_ascii=False,
            sort_keys=True,
        )
        rows = [
            {
                "id": str(uuid.uuid4()),
                "target": target,
                "event": event,
                "call_id": call_id,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "next_at": now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
            }
            for target in ROUTES.get(event, ())
            if target in self._targets
        ]
        if rows:
            await asyncio.to_thread(self._insert, rows)
            self.wake.set()
        return len(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(webhook_deliveries.insert(), rows)
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("webhook outbox failed") from exc

    async def deliver_due(self) -> int:
        """Try every due pending delivery once; how many were sent."""
        now = self._clock()
        due = await asyncio.to_thread(
            self._select,
            webhook_deliveries.select()
            .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_at <= now)
            .order_by(webhook_deliveries.c.next_at)
            .limit(100),
        )
        sent = 0
        for row in due:
            ok, error = await self._post(row.target, row.body.encode())
            await asyncio.to_thread(self._after, row.id, row.attempts + 1, ok, error)
            sent += ok
        return sent

    async def _post(self, target: str, body: bytes) -> tuple[bool, str | None]:
        url = self._targets.get(target)
        if url is None:
            return False, "target no longer configured"
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-IVR-Timestamp": timestamp,
            "X-IVR-Signature": signature(self._secret, timestamp, body),
        }
        try:
            status = await self._transport.post(url, body, headers)
        except DependencyUnavailableError as exc:
            WEBHOOKS.labels(target=target, outcome="unreachable").inc()
            return False, str(exc)[:255]
        ok = 200 <= status < 300
        WEBHOOKS.labels(target=target, outcome="sent" if ok else f"http_{status // 100}xx").inc()
        return ok, (None if ok else f"HTTP {status}")

    def _after(self, delivery_id: str, attempts: int, ok: bool, error: str | None) -> None:
        now = self._clock()
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if ok:
            values.update(status="sent", sent_at=now)
        elif attempts >= self._max_attempts:
            values.update(status="dead")
        else:
            delay = retry_delay_s(attempts, self._base_delay_s)
            values.update(next_at=now + timedelta(seconds=delay))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.id == delivery_id)
                    .values(**values)
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("webhook outbox failed") from exc

    def deliveries(self, status: str | None = None, limit: int = 200) -> list[Delivery]:
        stmt = webhook_deliveries.select().order_by(webhook_deliveries.c.created_at.desc())
        if status:
            stmt = stmt.where(webhook_deliveries.c.status == status)
        return [_delivery(r) for r in self._select(stmt.limit(limit))]

    def retry(self, delivery_id: str) -> bool:
        """Put a dead letter back into the outbox (attempts reset); False if it is not dead."""
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    webhook_deliveries.update()
                    .where(
                        webhook_deliveries.c.id == delivery_id,
                        webhook_deliveries.c.status == "dead",
                    )
                    .values(status="pending", attempts=0, next_at=self._clock())
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("webhook outbox failed") from exc
        self.wake.set()
        return bool(result.rowcount)

    def _select(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("webhook outbox failed") from exc


async def deliver_forever(outbox: WebhookOutbox, poll_s: float = 1.0) -> None:
    """Deliver due webhooks, then sleep until ``poll_s`` passes or something is enqueued."""
    while True:
        outbox.wake.clear()
        await outbox.deliver_due()
        await wait_event(outbox.wake, poll_s)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(
        row.id,
        row.target,
        row.event,
        row.call_id,
        row.body,
        row.status,
        row.attempts,
        _utc(row.next_at),
        row.last_error,
        _utc(row.created_at),
    )
