"""Composition of the human floor from settings: the call process's hooks and the console's
runtime (desks over the inbound ESL client, the switch follower, webhook delivery, overdue
callback alerts), every piece built explicitly.

- Screen pops are stored in SQL; with Redis (``IVR_REDIS_URL``) they are pushed live to the
  agent page, without it the page polls.
- Webhooks are sent only to the targets in ``IVR_FLOOR_WEBHOOKS``; targets without
  ``IVR_FLOOR_WEBHOOK_SECRET`` are a configuration error (nothing unsigned leaves).
- Desks drive FreeSWITCH at ``IVR_FREESWITCH_INBOUND``; without it every change is refused
  with ``DependencyUnavailableError`` (:class:`NoSwitch`), never silently accepted.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import Engine

from agents.announce_audio import PromptAnnouncements
from agents.announcer import AnnouncementAudio, announce_forever
from agents.callback_dial import GatedCallbackDialler
from agents.callbacks import CallbackDialler, CallbackWork, watch_overdue
from agents.desk import AgentDesk
from agents.floor import FloorHooksAdapter, follow_switch
from agents.overdue import OverdueAlerts
from agents.ports import CallCenterControl
from agents.queue_metrics import QueueMetrics
from agents.screenpop import ScreenPops
from agents.switch import FLOOR_EVENTS, EslCallCenter, EventPump
from agents.webhooks import HttpTransport, WebhookOutbox, deliver_forever
from agents.work_tickets import WorkTickets
from campaigns.callbacks import CallbackTickets
from compliance.service import ComplianceService
from ivr.errors import ConfigError, DependencyUnavailableError
from ivr.events import EventBus
from ivr.evidence import EvidenceSink
from ivr.redis_conn import async_client
from ivr.settings import Settings
from ivr.supervise import Supervised
from records.sealed_number import NumberSealer
from telephony.inbound import InboundClient

log = logging.getLogger(__name__)


class NoSwitch:
    """:class:`agents.ports.CallCenterControl` when no FreeSWITCH is configured: refuses."""

    async def callcenter_config(self, arg: str) -> str:
        return await self.api("callcenter_config", arg)

    async def api(self, command: str, arg: str) -> str:
        raise DependencyUnavailableError(
            "no FreeSWITCH inbound ESL configured (IVR_FREESWITCH_INBOUND)"
        )


def build_outbox(
    settings: Settings, engine: Engine, transport: HttpTransport | None = None
) -> WebhookOutbox | None:
    """The webhook outbox of ``IVR_FLOOR_WEBHOOKS`` (None without targets)."""
    if not settings.floor_webhooks:
        return None
    if settings.floor_webhook_secret is None:
        raise ConfigError("IVR_FLOOR_WEBHOOKS needs IVR_FLOOR_WEBHOOK_SECRET (webhooks are signed)")
    return WebhookOutbox(
        engine,
        settings.floor_webhooks,
        settings.floor_webhook_secret.get_secret_value().encode(),
        transport or HttpTransport(),
        max_attempts=settings.floor_webhook_max_attempts,
    )


def build_screen_pops(
    settings: Settings, engine: Engine, numbers: NumberSealer, evidence: EvidenceSink
) -> ScreenPops:
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    return ScreenPops(engine, numbers, evidence, redis=redis, prefix=settings.redis_key_prefix)


def build_floor_hooks(
    settings: Settings, engine: Engine, numbers: NumberSealer, evidence: EvidenceSink
) -> FloorHooksAdapter:
    """The orchestrator's :class:`flows.ports.FloorHooks` (call process)."""
    return FloorHooksAdapter(
        build_screen_pops(settings, engine, numbers, evidence),
        WorkTickets(engine, numbers),
        build_outbox(settings, engine),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FloorRuntime:
    """The console's floor: desks, screen pops, tickets, callbacks, webhooks and their loops."""

    desk: AgentDesk
    pops: ScreenPops
    work_tickets: WorkTickets
    callbacks: CallbackWork
    outbox: WebhookOutbox | None
    esl: InboundClient | None
    dialler: CallbackDialler | None
    overdue_alert: OverdueAlerts
    control: CallCenterControl = field(default_factory=lambda: NoSwitch())
    announce_audio: AnnouncementAudio | None = None
    announce_interval_s: float = 0.0
    handle_s: float = 180.0
    queue_metrics: QueueMetrics = field(default_factory=QueueMetrics)
    overdue_in_process: bool = True
    """Watch overdue callbacks here; with Redis the ``callbacks_overdue`` job does it."""
    loops: list[Supervised] = field(default_factory=list)

    async def start(self) -> None:
        """Connect to the switch and start the supervised loops (idempotent)."""
        if self.loops:
            return
        if self.esl is not None:
            pump = EventPump(self.esl)
            self.esl.add_listener(self.queue_metrics.on_event)
            await self.esl.connect()
            self.loops.append(
                Supervised("floor-switch", lambda: follow_switch(pump, self.desk, self.pops))
            )
            if self.announce_audio is not None and self.announce_interval_s > 0:
                audio, every = self.announce_audio, self.announce_interval_s
                self.loops.append(
                    Supervised(
                        "floor-announce",
                        lambda: announce_forever(
                            self.control, audio, time.time, self.handle_s, every
                        ),
                    )
                )
        if self.outbox is not None:
            outbox = self.outbox
            self.loops.append(Supervised("floor-webhooks", lambda: deliver_forever(outbox)))
        if self.overdue_in_process:
            self.loops.append(
                Supervised(
                    "floor-callbacks", lambda: watch_overdue(self.callbacks, self.overdue_alert)
                )
            )
        for loop in self.loops:
            loop.start()

    async def close(self) -> None:
        for loop in self.loops:
            await loop.stop()
        self.loops.clear()
        if self.esl is not None:
            with contextlib.suppress(Exception):
                await self.esl.close()
        with contextlib.suppress(Exception):
            await self.overdue_alert.aclose()


def overdue_alerts(settings: Settings) -> OverdueAlerts:
    """Overdue alerts on the event bus when Redis is configured, else log and counter only."""
    if not settings.redis_url:
        log.info("no Redis configured: overdue callbacks are alerted by log and metric only")
        return OverdueAlerts(None)
    client = async_client(settings.redis_url, cluster=settings.redis_cluster, decode_responses=True)
    return OverdueAlerts(EventBus(client, settings.redis_key_prefix))


def build_floor_runtime(
    settings: Settings,
    *,
    engine: Engine,
    numbers: NumberSealer,
    evidence: EvidenceSink,
    compliance: ComplianceService,
    clock: Callable[[], datetime] = _utc_now,
) -> FloorRuntime:
    """The console's floor from settings (see the module docstring)."""
    esl: InboundClient | None = None
    control: CallCenterControl = NoSwitch()
    dialler: CallbackDialler | None = None
    if settings.freeswitch_inbound:
        host, _, port = settings.freeswitch_inbound.rpartition(":")
        esl = InboundClient(
            host or "127.0.0.1",
            int(port),
            settings.freeswitch_password.get_secret_value(),
            events=FLOOR_EVENTS,
        )
        control = EslCallCenter(esl)
        dialler = GatedCallbackDialler(
            compliance, esl, endpoint=settings.floor_callback_endpoint, clock=clock
        )
    tickets = CallbackTickets(engine, numbers, evidence)
    return FloorRuntime(
        desk=AgentDesk(engine, control, clock=clock),
        pops=build_screen_pops(settings, engine, numbers, evidence),
        work_tickets=WorkTickets(engine, numbers, clock),
        callbacks=CallbackWork(engine, tickets, sla_s=settings.floor_callback_sla_s, clock=clock),
        outbox=build_outbox(settings, engine),
        esl=esl,
        dialler=dialler,
        overdue_alert=overdue_alerts(settings),
        control=control,
        announce_audio=PromptAnnouncements(settings) if esl is not None else None,
        announce_interval_s=settings.floor_announce_interval_s,
        handle_s=settings.floor_handle_s,
        overdue_in_process=not settings.redis_url,  # else the callbacks_overdue job (shell.jobs)
    )
