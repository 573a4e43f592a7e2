"""Outbound CRM / anti-fraud webhooks (issue 18, item 6): HMAC-signed, retried with backoff
until the receiver answers, dead-lettered after the last attempt; the outbox is SQL, so a
restart loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from agents_support import eventually, private_engine

from agents.webhooks import (
    HttpTransport,
    WebhookOutbox,
    deliver_forever,
    retry_delay_s,
    signature,
)
from ivr.supervise import Supervised

SECRET = b"shared-with-the-crm"


@dataclass
class Receiver:
    """An HTTP endpoint answering the statuses in ``answers`` in turn (then 200)."""

    answers: list[int]
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.seen.append((headers, body))
        status = self.answers.pop(0) if self.answers else 200
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver([503, 500, 502])
    yield state
    if state.server is not None:
        state.server.close()


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay_s(30) == 600.0


async def test_webhook_is_retried_until_the_receiver_answers(
    receiver: Receiver, tmp_path: Path
) -> None:
    url = await receiver.start()
    transport = HttpTransport()
    outbox = WebhookOutbox(
        private_engine(tmp_path),
        {"crm": url},
        SECRET,
        transport,
        base_delay_s=0.01,
    )
    loop = Supervised("webhooks", lambda: deliver_forever(outbox, poll_s=0.01))
    loop.start()
    try:
        queued = await outbox.enqueue("ticket_created", {"ticket_id": "t-1"}, "call-1")
        assert queued == 1  # the anti-fraud target is not configured: only the CRM
        await eventually(lambda: [d.status for d in outbox.deliveries()] == ["sent"])
    finally:
        await loop.stop()
        await transport.aclose()
    [delivery] = outbox.deliveries()
    assert delivery.attempts == 4 and len(receiver.seen) == 4  # 503, 500, 502, then 200
    headers, body = receiver.seen[-1]
    assert headers["x-ivr-signature"] == signature(SECRET, headers["x-ivr-timestamp"], body)
    assert json.loads(body)["data"] == {"ticket_id": "t-1"}


async def test_webhook_goes_to_dead_letters_and_can_be_retried(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.answers = [500] * 10
    url = await receiver.start()
    transport = HttpTransport()
    engine = private_engine(tmp_path)
    outbox = WebhookOutbox(
        engine, {"crm": url, "antifraud": url}, SECRET, transport, max_attempts=2, base_delay_s=0
    )
    try:
        assert await outbox.enqueue("high_risk", {"flags": ["high_risk"]}, "call-2") == 2
        for _ in range(2):
            await outbox.deliver_due()
        assert sorted(d.status for d in outbox.deliveries()) == ["dead", "dead"]
        # a new process (restart) sees the same dead letters and can put one back
        again = WebhookOutbox(engine, {"crm": url}, SECRET, transport, base_delay_s=0)
        dead = again.deliveries("dead")
        assert len(dead) == 2 and dead[0].last_error == "HTTP 500"
        receiver.answers = []
        assert again.retry(next(d.id for d in dead if d.target == "crm"))
        assert await again.deliver_due() == 1
    finally:
        await transport.aclose()


async def test_deliveries_survive_a_restart(tmp_path: Path) -> None:
    engine = private_engine(tmp_path)
    transport = HttpTransport()
    first = WebhookOutbox(engine, {"crm": "http://127.0.0.1:9/none"}, SECRET, transport)
    await first.enqueue("escalation", {"queue": "senior"}, "call-3")
    second = WebhookOutbox(
        engine,
        {"crm": "http://127.0.0.1:9/none"},
        SECRET,
        transport,
        clock=lambda: datetime.now(UTC),
    )
    assert [d.status for d in second.deliveries()] == ["pending"]
    await transport.aclose()
