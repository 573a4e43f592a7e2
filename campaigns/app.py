"""The dialler's composition root: every part from settings, and the ``ivr campaign run`` process.

:func:`build_dialler` wires the real parts explicitly: the SQL queue and campaigns on
``engine``, the compliance service (built by the caller with the chained evidence log), the
inbound ESL client to ``IVR_FREESWITCH_INBOUND`` with its hangup watcher (and the agent
pacing of campaigns that hand calls to agents, :mod:`campaigns.agent_pacing`), Redis pacing when
``IVR_REDIS_URL`` is set (else in-process pacing: one dialler process), and the number sealer
of the records key ring. :func:`serve` runs the dialler supervised (:mod:`ivr.supervise`) with
a small HTTP status endpoint (``GET /healthz``: JSON stats) on ``IVR_DIALLER_PORT`` that
``make run`` waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import sqlalchemy as sa

from campaigns.agent_pacing import FLOOR_EVENT_NAMES, AgentPacing, EslFloorProbe
from campaigns.dialler import Dialler, DiallerConfig, DiallerStats, Gatekeeper
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher
from campaigns.pacing import LocalPacer, Pacer, RedisPacer
from campaigns.queue import AttemptQueue
from campaigns.repository import CampaignRepository
from compliance.factory import build_service
from ivr.db import engine_for, migrate
from ivr.errors import ConfigError
from ivr.settings import Settings
from ivr.supervise import Supervised
from records.evidence_store import SqlEvidenceLog
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
    esl.add_listener(hangups.on_event)
    agent_pacing = AgentPacing(EslFloorProbe(esl))
    esl.add_listener(agent_pacing.on_event)
    config = DiallerConfig(
        endpoint=settings.dialler_endpoint,
        originate_timeout_s=settings.dialler_originate_timeout_s,
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


@dataclass
class StatusServer:
    """``GET /healthz`` → 200 and the dialler's stats as JSON (anything else: 404)."""

    dialler: Dialler

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), 5)
            ok = line.startswith(b"GET /healthz")
            body = json.dumps(stats_view(self.dialler.stats, self.dialler.inflight())).encode()
            head = b"HTTP/1.1 200 OK" if ok else b"HTTP/1.1 404 Not Found"
            writer.write(
                head
                + b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + str(len(body) if ok else 0).encode()
                + b"\r\n\r\n"
                + (body if ok else b"")
            )
            await writer.drain()
        writer.close()


async def serve(settings: Settings) -> None:
    """``ivr campaign run``: dial until SIGINT/SIGTERM."""
    migrate(settings.sqlalchemy_url)
    engine = engine_for(settings)
    svc = build_service(settings, engine=engine, evidence=SqlEvidenceLog(engine))
    esl = inbound_client(settings)
    pacer = build_pacer(settings)
    dialler = build_dialler(settings, engine=engine, gate=svc, esl=esl, pacer=pacer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await svc.start()
    connecting = asyncio.create_task(esl.connect())  # retries with backoff meanwhile
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
        await svc.close()
        engine.dispose()
