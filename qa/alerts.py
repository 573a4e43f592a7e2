"""Live QA alerts: the value, the sink port, the Redis Streams adapter and the metrics reader.

A :class:`LiveAlert` is raised when the bot or an agent says a prohibited wording during a call
(``kind`` ``hit``: a rule matched), or says a line the learned second stage flags for review
(``kind`` ``model``: no rule matched; minor, the rule is the model version, the phrase the
sentence) — the same verdict as the call's post-call QA result (:func:`qa.second_stage.check_line`).
:class:`RedisAlertStream` appends alerts to one Redis stream (``<prefix>:qa:alerts``, capped)
and reads them back (the console's supervisor view reads it the same way);
:class:`AlertCounter` is a reader of that stream feeding the Prometheus counter
``ivr_qa_live_alerts_total{category,speaker}``. Alerts hold the rule, the speaker, the offset
into the recording and the phrase the bot or agent said, never the caller's words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import RedisError

from ivr.errors import StoreUnavailableError
from ivr.redis_conn import AsyncRedis, async_client
from ivr.supervise import cancel_and_wait

log = logging.getLogger(__name__)
STREAM_MAXLEN = 100_000


@dataclass(frozen=True, slots=True)
class LiveAlert:
    """A prohibited wording heard during a call."""

    call_id: str
    speaker: str
    offset_ms: int
    rule: str
    category: str
    severity: str
    phrase: str
    wording: str
    rules_version: str
    heard_at: float  # epoch seconds the ASR final (or bot sentence) reached QA
    raised_at: float  # epoch seconds the alert was made
    campaign: str = ""
    flow: str = ""
    agent_id: str = ""
    blocked: bool = False  # a bot sentence stopped before synthesis
    kind: str = "hit"  # hit (a rule matched) | model (the learned stage flags it, for review)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_fields(self) -> dict[str, str]:
        return {k: str(int(v) if isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> LiveAlert:
        return cls(
            call_id=fields["call_id"],
            speaker=fields["speaker"],
            offset_ms=int(fields["offset_ms"]),
            rule=fields["rule"],
            category=fields["category"],
            severity=fields["severity"],
            phrase=fields["phrase"],
            wording=fields["wording"],
            rules_version=fields["rules_version"],
            heard_at=float(fields["heard_at"]),
            raised_at=float(fields["raised_at"]),
            campaign=fields.get("campaign", ""),
            flow=fields.get("flow", ""),
            agent_id=fields.get("agent_id", ""),
            blocked=fields.get("blocked", "0") == "1",
            kind=fields.get("kind", "hit"),
        )


class AlertSink(Protocol):
    """Where live alerts go; returns once the alert is published."""

    async def publish(self, alert: LiveAlert) -> None: ...


class LoggedAlerts:
    """Live alerts without a stream (no ``IVR_REDIS_URL``): each is a warning naming the call,
    rule and category (never the phrase), and is counted. Chosen explicitly, and said so at
    start, by :func:`qa.service.build_call_qa`; the console then shows alerts as unavailable."""

    def __init__(self) -> None:
        self.count = 0

    async def publish(self, alert: LiveAlert) -> None:
        self.count += 1
        log.warning(
            "call %s: QA alert %s (%s, %s) not streamed: no IVR_REDIS_URL",
            alert.call_id,
            alert.rule,
            alert.category,
            alert.speaker,
        )

    async def aclose(self) -> None:
        return None


class RedisAlertStream:
    """Live alerts on a Redis stream: ``publish`` (XADD, capped) and ``read`` (XREAD)."""

    def __init__(self, redis: AsyncRedis, prefix: str) -> None:
        self._redis = redis
        self.key = f"{prefix}:qa:alerts"

    @classmethod
    def from_url(cls, url: str, prefix: str, *, cluster: bool = False) -> RedisAlertStream:
        """One stream key, so on a Redis Cluster (``cluster``) it lives on one slot as is."""
        return cls(async_client(url, cluster=cluster, decode_responses=True), prefix)

    async def publish(self, alert: LiveAlert) -> None:
        try:
            fields: dict[Any, Any] = dict(alert.to_fields())
            await self._redis.xadd(self.key, fields, maxlen=STREAM_MAXLEN, approximate=True)
        except RedisError as exc:
            raise StoreUnavailableError("QA alert stream unavailable") from exc

    async def read(
        self, after: str = "0-0", *, block_ms: int | None = None, count: int = 100
    ) -> list[tuple[str, LiveAlert]]:
        """Alerts after stream id ``after`` (``"$"``: only new ones), waiting up to
        ``block_ms`` for the first."""
        try:
            reply: Any = await self._redis.xread({self.key: after}, count=count, block=block_ms)
        except RedisError as exc:
            raise StoreUnavailableError("QA alert stream unavailable") from exc
        out: list[tuple[str, LiveAlert]] = []
        for _key, entries in reply or ():
            for entry_id, fields in entries:
                out.append((entry_id, LiveAlert.from_fields(fields)))
        return out

    async def recent(self, count: int = 100) -> list[tuple[str, LiveAlert]]:
        """The newest ``count`` alerts, oldest first (what a supervisor sees on opening)."""
        try:
            newest: Any = await self._redis.xrevrange(self.key, count=count)
        except RedisError as exc:
            raise StoreUnavailableError("QA alert stream unavailable") from exc
        return [(entry_id, LiveAlert.from_fields(fields)) for entry_id, fields in reversed(newest)]

    async def last_id(self) -> str:
        """The id of the newest alert on the stream (``"0-0"`` when empty)."""
        try:
            newest = await self._redis.xrevrange(self.key, count=1)
        except RedisError as exc:
            raise StoreUnavailableError("QA alert stream unavailable") from exc
        return str(newest[0][0]) if newest else "0-0"

    async def aclose(self) -> None:
        await self._redis.aclose()


class AlertCounter:
    """Reads the alert stream and counts alerts in ``ivr_qa_live_alerts_total``."""

    def __init__(self, stream: RedisAlertStream, registry: CollectorRegistry | None = None):
        self._stream = stream
        kwargs = {"registry": registry} if registry is not None else {}
        self.counter = Counter(
            "ivr_qa_live_alerts_total",
            "Live QA alerts (prohibited wording by the bot or an agent during a call)",
            ["category", "speaker"],
            **kwargs,  # type: ignore[arg-type]
        )
        self._task: asyncio.Task[None] | None = None
        self.last_id: str | None = None  # None: start from the stream's newest alert

    async def run(self) -> None:
        while True:
            try:
                if self.last_id is None:
                    self.last_id = await self._stream.last_id()
                for entry_id, alert in await self._stream.read(self.last_id, block_ms=1000):
                    self.last_id = entry_id
                    self.counter.labels(alert.category, alert.speaker).inc()
            except StoreUnavailableError:
                log.warning("QA alert counter: stream unavailable; retrying")
                await asyncio.sleep(1.0)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
