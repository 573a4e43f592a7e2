"""Composition root of a call: builds the orchestrator and its adapters from settings.

``python -m telephony serve --handler flows.app:FlowCallHandler`` (what ``make run`` starts)
uses :class:`FlowCallHandler`; ``ivr call`` and the tests use :func:`build_deps` directly.
Evidence, DNC entries and consents the database cannot take go to the outage spool
(``IVR_SPOOL_PATH``, :mod:`compliance.outage`), whose supervised drainer replays them.
Quality inspection of calls is built here too (``qa.service.build_call_qa``: the bot gate,
live alerts, per-call results; off only by ``IVR_QA_CALLS=false``, logged). Flows are
reloaded every ``IVR_FLOWS_POLL_S`` seconds: a valid change is used by new calls.
With ``IVR_AUDIO_MODE=stream`` one :class:`speech.stream_server.AudioForkServer` per process
(``IVR_AUDIO_STREAM_HOST``/``PORT``) receives every call's forked audio and runs the ASR; with
``IVR_FREESWITCH_INBOUND`` too, the human agent leg of each of its calls bridged by
mod_callcenter is forked there and inspected live (``qa.agent_forks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.service import build_floor_hooks
from bot.caller_handles import CallerHandles
from bot.client import RasaClient
from bot.rasa_bot import RasaBot
from campaigns.callbacks import CallbackTickets
from campaigns.contact_vars import ContactVariables
from compliance.factory import build_service
from compliance.outage import OutageSpool, open_outage_spool
from compliance.service import ComplianceService, utc_now
from flows.adapters import (
    AsrListener,
    CachedPrompts,
    CallbackDesk,
    HttpWebhooks,
    RasaIntentParser,
    SidecarListener,
    VaultRecordings,
)
from flows.answers import refusals_written
from flows.call import PUBLIC_VARIABLES, CallDeps, OrchestratorConfig
from flows.interpreter import render
from flows.orchestrator import CallOrchestrator
from flows.ports import Listener
from flows.registry import FlowRegistry
from ivr.db import engine_for, migrate
from ivr.events import EventBus, PublishingEvidence
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.metrics import serve_metrics
from ivr.redis_conn import async_client
from ivr.settings import Settings, get_settings
from qa.agent_forks import build_agent_leg_qa
from qa.service import build_call_qa
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.vault import Vault
from speech.factory import build_asr, build_audio_fork_server, build_prompt_cache
from speech.ports import ASR
from speech.stream_server import AudioForkServer
from telephony.session import CallSession

log = logging.getLogger(__name__)


@dataclass
class Built:
    """The orchestrator's dependencies plus what must be closed at shutdown."""

    deps: CallDeps
    compliance: ComplianceService
    closers: list[Any]
    audio_fork: AudioForkServer | None = None
    outage: OutageSpool | None = None  # closed last: what the others wrote is drained first

    async def aclose(self) -> None:
        if self.audio_fork is not None:
            with contextlib.suppress(Exception):
                await self.audio_fork.stop()
        left = await refusals_written()
        if left:
            log.error("%d refusal DNC writes still running at shutdown", left)
        await self.compliance.close()
        for closer in self.closers:
            with contextlib.suppress(Exception):
                await closer.aclose()
        if self.outage is not None:
            await self.outage.close()


def static_prompt_texts(registry: FlowRegistry, settings: Settings) -> list[str]:
    """Every prompt text that carries no customer data, rendered as calls will speak it."""
    texts: set[str] = set()
    base = {"institution": settings.institution_name, "bot_id": settings.bot_id}
    for version in registry.active.values():
        variables = {**version.flow.variables, **base}
        for prompt in version.prompts.values():
            if prompt.text is None:
                continue
            rendered = render(prompt.text, variables)
            names = {n for n in variables if "{" + n + "}" in prompt.text}
            if "{" not in rendered and names <= PUBLIC_VARIABLES:
                texts.add(rendered)
    return sorted(texts)


async def build_deps(
    settings: Settings,
    *,
    listener: Listener | None = None,
    registry: FlowRegistry | None = None,
    warm: bool = True,
    stream_asr: ASR | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Built:
    """Build every adapter; migrate the database; warm the static prompts. In stream mode,
    start the audio fork server (with ``stream_asr``, default the configured engine).
    ``clock``: the gate's and the calls' time (a sandbox such as ``ivr campaign demo`` passes a
    simulated daytime one)."""
    url = settings.sqlalchemy_url
    await asyncio.to_thread(migrate, url)
    engine = engine_for(settings)
    outage = open_outage_spool(
        settings.outage_spool_path,
        engine=engine,
        evidence=SqlEvidenceLog(engine),
        keyring=Keyring.from_settings(settings),  # the vault's: seals spooled QA findings
    )
    evidence, publisher = evidence_sink(settings, outage.evidence)
    compliance = build_service(
        settings, engine=engine, evidence=evidence, spool=outage.ledger, migrate_db=False,
        clock=clock,
    )  # fmt: skip
    await compliance.start(watch=True)
    await outage.start()
    registry = registry or FlowRegistry(settings.flows_dir)
    cache = build_prompt_cache(settings)
    if warm:
        await cache.warm(static_prompt_texts(registry, settings))
    asr: ASR | None = None
    if listener is None:
        asr = build_asr(settings)
        listener = AsrListener(asr)
    audio_fork: AudioForkServer | None = None
    if settings.audio_mode == "stream":
        if stream_asr is None:
            stream_asr = asr if asr is not None else build_asr(settings)
        audio_fork = build_audio_fork_server(settings, stream_asr)
        await audio_fork.start()
    nlu = RasaIntentParser(settings.rasa_url, timeout_s=settings.rasa_timeout_s)
    webhooks = HttpWebhooks()
    vault = Vault.from_settings(settings, engine, spool=outage.spool)
    await asyncio.to_thread(vault.recover)
    await asyncio.to_thread(vault.ensure_partitions)
    bot = RasaBot(
        RasaClient(settings.rasa_urls, timeout_s=settings.rasa_timeout_s),
        CallerHandles(engine, vault.numbers, ttl_s=settings.esl_max_call_s),
    )
    qa = await build_call_qa(settings, evidence, engine, spool=outage.qa)  # QaOff: IVR_QA_CALLS
    deps = CallDeps(
        registry=registry,
        prompts=CachedPrompts(cache),
        listener=listener,
        nlu=nlu,
        bot=bot,
        compliance=compliance,
        evidence=evidence,
        webhooks=webhooks,
        tickets=CallbackDesk(CallbackTickets(engine, vault.numbers, evidence)),
        recordings=VaultRecordings(vault, settings.bot_id),
        config=OrchestratorConfig(
            institution=settings.institution_name,
            bot_id=settings.bot_id,
            work_dir=settings.data_dir / "calls",
            max_call_s=settings.esl_max_call_s,
            audio_mode=settings.audio_mode,
        ),
        qa=qa,
        audio_streams=audio_fork,
        floor=build_floor_hooks(settings, engine, vault.numbers, evidence),
        list_variables=ContactVariables(engine, vault.numbers),
        clock=clock,
    )
    # the agent legs of this process's bridged calls, inspected live (stream mode, inbound ESL)
    agent_legs = build_agent_leg_qa(settings, qa, audio_fork)
    closers: list[Any] = [nlu, bot, webhooks]
    if agent_legs is not None:
        closers.append(agent_legs)  # before QA: its legs' last finals reach the hooks
    closers.append(qa)  # QA drains into the evidence first
    if publisher is not None:
        closers.append(publisher)
    return Built(deps, compliance, closers, audio_fork, outage)


def evidence_sink(
    settings: Settings, log_: EvidenceSink
) -> tuple[EvidenceSink, PublishingEvidence | None]:
    """The chained log; with Redis configured, also each entry's kind and call id published on
    the ``calls`` event stream (``ivr.events``) for dashboards and other consumers."""
    if not settings.redis_url:
        log.info("no Redis configured: call events are not published (evidence log only)")
        return log_, None
    bus = EventBus(
        async_client(settings.redis_url, cluster=settings.redis_cluster, decode_responses=True),
        settings.redis_key_prefix,
    )
    publisher = PublishingEvidence(log_, bus)
    return publisher, publisher


async def reload_flows_forever(registry: FlowRegistry, every_s: float) -> None:
    """Poll the flow folder; valid changes become active for new calls."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(registry.reload)
        except OSError:
            log.exception("flow reload failed; active flows kept")


class _BuiltEvidence:
    """The handler's evidence sink for the ESL server (``call_aborted``): the built one, with
    the outage spool behind it."""

    def __init__(self, handler: FlowCallHandler) -> None:
        self._handler = handler

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        await self._handler.ready()
        built = self._handler._built
        assert built is not None
        await built.deps.evidence.append(kind, call_id=call_id, payload=payload)


class FlowCallHandler:
    """The production call handler: builds its dependencies on first use (inside the loop)."""

    def __init__(
        self, settings: Settings | None = None, *, sidecar_transcripts: bool = False
    ) -> None:
        self.settings = settings or get_settings()
        self.sidecar_transcripts = sidecar_transcripts
        self.evidence: EvidenceSink = _BuiltEvidence(self)  # the server's call_aborted entries
        self._built: Built | None = None
        self._lock = asyncio.Lock()
        self._reloader: asyncio.Task[None] | None = None

    async def ready(self) -> CallOrchestrator:
        async with self._lock:
            if self._built is None:
                listener: Listener | None = None
                if self.sidecar_transcripts:
                    listener = SidecarListener(AsrListener(build_asr(self.settings)))
                self._built = await build_deps(self.settings, listener=listener)
                if self.settings.metrics_port is not None:
                    serve_metrics(self.settings.metrics_port)
                self._reloader = asyncio.create_task(
                    reload_flows_forever(self._built.deps.registry, self.settings.flows_poll_s)
                )
        return CallOrchestrator(self._built.deps)

    async def __call__(self, session: CallSession) -> None:
        orchestrator = await self.ready()
        await orchestrator(session)

    async def aclose(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
        if self._built is not None:
            await self._built.aclose()
