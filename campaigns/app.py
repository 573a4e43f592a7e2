"""The dialler's composition root: every part from settings, and the ``ivr campaign run`` process.

:func:`build_dialler` wires the real parts explicitly: the SQL queue and campaigns on
``engine``, the compliance service (built by the caller with the chained evidence log), the
inbound ESL client to ``IVR_FREESWITCH_INBOUND`` with its hangup watcher (and the agent
pacing of campaigns that hand calls to agents, :mod:`campaigns.agent_pacing`), Redis pacing and
agent campaigns' lines when ``IVR_REDIS_URL`` is set (else in-process: one dialler process),
and the number sealer of the records key ring. :func:`serve` runs the dialler supervised
(:mod:`ivr.supervise`) with a small HTTP status endpoint (``GET /healthz``: JSON stats, which
``make run`` waits for; ``GET /metrics``: Prometheus, the dialler's ``ivr_dialler_*`` beside
the process's gate decisions and errors) on ``IVR_DIALLER_PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from campaigns.agent_lines import AgentLines, LocalAgentLines, RedisAgentLines
from campaigns.agent_pacing import FLOOR_EVENT_NAMES, AgentPacing, EslFloorProbe
from campaigns.dialler import Dialler, DiallerConfig, DiallerStats, Gatekeeper
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher
from campaigns.pacing import LocalPacer, Pacer, RedisPacer
from campaigns.queue import AttemptQueue
from campaigns.repository import CampaignRepository
from compliance.factory import build_service
from compliance.outage import open_outage_spool
from ivr.db import engine_for, migrate
from ivr.errors import ConfigError
from ivr.metrics import count_errors
from ivr.settings import Settings
from ivr.supervise import Supervised
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.sealed_number import NumberSealer
from telephony.inbound import DEFAULT_EVENTS, InboundClient

log = logging.getLogger(__name__)
DEFAULT_INBOUND = "127.0.0.1:8021"
"""FreeSWITCH's event socket when ``IVR_FREESWITCH_INBOUND`` is unset (reconnects until up)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def inbound_client(settings: Settings) -> InboundClient:
    """The inbound ESL client for ``IVR_FREESWITCH_INBOUND`` (``host:port``)."""
    address = settings.freeswitch_inbound or DEFAULT_INBOUND
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("IVR_FREESWITCH_INBOUND must be host:port")
    return InboundClient(
        host,
        int(port),
        settings.freeswitch_password.get_secret_value(),
        events=(*DEFAULT_EVENTS, *FLOOR_EVENT_NAMES),
    )


def build_pacer(settings: Settings) -> Pacer:
    if settings.redis_url:
        return RedisPacer(settings.redis_url, settings.redis_key_prefix)
    return LocalPacer()


def build_agent_lines(settings: Settings) -> AgentLines:
    """Agent campaigns' lines: in Redis across diallers, else in this one process."""
    if settings.redis_url:
        return RedisAgentLines(settings.redis_url, settings.redis_key_prefix)
    return LocalAgentLines()


def build_dialler(
    settings: Settings,
    *,
    engine: sa.Engine,
    gate: Gatekeeper,
    esl: InboundClient,
    pacer: Pacer,
    clock: Callable[[], datetime] = utc_now,
    worker_id: str | None = None,
) -> Dialler:
    """A dialler on these parts (the ESL client gets the hangup watcher and the agent pacing's
    bridge follower as listeners; agent campaigns read the floor over the same client)."""
    hangups = HangupWatcher()
    hangups.follow(esl)
    agent_pacing = AgentPacing(EslFloorProbe(esl), build_agent_lines(settings))
    esl.add_listener(agent_pacing.on_event)
    config = DiallerConfig(
        endpoint=settings.dialler_endpoint,
        originate_timeout_s=settings.dialler_originate_timeout_s,
        lost_originate_wait_s=settings.dialler_lost_originate_wait_s,
        bot_capacity=settings.dialler_bot_capacity,
    )
    if worker_id:
        config = replace(config, worker_id=worker_id)
    return Dialler(
        campaigns=CampaignRepository(engine),
        queue=AttemptQueue(engine),
        gate=gate,
        esl=esl,
        esl_ready=lambda: esl.ready,
        hangups=hangups,
        outcomes=EvidenceOutcomes(engine),
        pacer=pacer,
        sealer=NumberSealer.from_settings(settings),
        config=config,
        clock=clock,
        agent_pacing=agent_pacing,
    )


def stats_view(stats: DiallerStats, inflight: int) -> dict[str, object]:
    lat = sorted(stats.claim_to_originate_s[-10000:])
    return {
        "claimed": stats.claimed,
        "originated": stats.originated,
        "requeued": stats.requeued,
        "denied": stats.denied,
        "finished": stats.finished,
        "inflight": inflight,
        "claim_to_originate_p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
        "claim_to_originate_p99_ms": (
            round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2) if lat else None
        ),
    }


class DiallerCollector(Collector):
    """The dialler's own figures for Prometheus (``ivr_dialler_*``), read from its stats."""

    def __init__(self, dialler: Dialler) -> None:
        self.dialler = dialler

    def collect(self) -> Iterator[Metric]:
        stats = self.dialler.stats
        for name, value, what in (
            ("claimed", stats.claimed, "attempts claimed from the queue"),
            ("originated", stats.originated, "attempts originated (each with a gate permit)"),
            ("requeued", stats.requeued, "attempts put back (window, caps, retry-after)"),
            ("denied", stats.denied, "attempts the gate denied at dial time"),
            ("finished", stats.finished, "attempts finished with a disposition"),
        ):
            yield CounterMetricFamily(f"ivr_dialler_{name}", what, value=value)
        yield GaugeMetricFamily(
            "ivr_dialler_inflight", "calls this dialler has live now", value=self.dialler.inflight()
        )


@dataclass
class StatusServer:
    """``GET /healthz`` → 200 and the dialler's stats as JSON; ``GET /metrics`` → Prometheus
    text (the process's metrics: gate decisions, errors, and the dialler's ``ivr_dialler_*``);
    anything else: 404."""

    dialler: Dialler
    registry: CollectorRegistry = REGISTRY

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), 5)
            if line.startswith(b"GET /healthz"):
                status, kind = b"200 OK", b"application/json"
                body = json.dumps(stats_view(self.dialler.stats, self.dialler.inflight())).encode()
            elif line.startswith(b"GET /metrics"):
                status, kind = b"200 OK", CONTENT_TYPE_LATEST.encode()
                body = generate_latest(self.registry)
            else:
                status, kind, body = b"404 Not Found", b"text/plain", b""
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind
                + b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\n\r\n" + body
            )  # fmt: skip
            await writer.drain()
        writer.close()


async def serve(settings: Settings) -> None:
    """``ivr campaign run``: dial until SIGINT/SIGTERM."""
    migrate(settings.sqlalchemy_url)
    engine = engine_for(settings)
    outage = open_outage_spool(
        settings.outage_spool_path,
        engine=engine,
        evidence=SqlEvidenceLog(engine),
        keyring=Keyring.from_settings(settings),  # opens QA results other processes spooled
    )  # the gate holds DNC entries other processes on this host spooled; drains them too
    svc = build_service(settings, engine=engine, evidence=outage.evidence, spool=outage.ledger)
    esl = inbound_client(settings)
    pacer = build_pacer(settings)
    dialler = build_dialler(settings, engine=engine, gate=svc, esl=esl, pacer=pacer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await svc.start()
    await outage.start()
    connecting = asyncio.create_task(esl.connect())  # retries with backoff meanwhile
    collector = DiallerCollector(dialler)
    REGISTRY.register(collector)
    count_errors()
    status = await asyncio.start_server(
        StatusServer(dialler).handle, settings.dialler_host, settings.dialler_port
    )
    loop_task = Supervised("dialler", dialler.run)
    loop_task.start()
    log.info("dialler %s running", dialler.worker)
    try:
        await stop.wait()
    finally:
        dialler.stop()
        await loop_task.stop()
        status.close()
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        await esl.close()
        await pacer.close()
        if dialler.agent_pacing is not None:
            await dialler.agent_pacing.close()
        await svc.close()
        await outage.close()
        dialler.queue.close()
        engine.dispose()
        REGISTRY.unregister(collector)
