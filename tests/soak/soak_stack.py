"""The soak's stack, built from :class:`SoakParams`: private PostgreSQL and Redis, the bot
process, the call stack (``flows.app.build_deps``) with the dialler's compliance service (the
soak's clock) swapped in, the orchestrator's ESL server, the simulated switch whose answered
legs run the shipped ``ivr_outbound`` extension into that server, and the dialler (Redis gate
store and pacer). Every part is registered on the caller's exit stack, so it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camp_support import MASTER_KEY, RULES, DiallerEnv, Switchboard, build_env, make_dialler
from flow_support import stack_settings
from helpers.compliance_data import INDEX_KEY
from helpers.redis_server import ThrowawayRedis
from soak_calls import CalleeBehaviour
from soak_services import BotServer, PrivatePostgres, RealRasa, SlowListener, SoakClock, StubBot

from campaigns.dialler import Dialler
from campaigns.outcomes import HangupWatcher
from campaigns.pacing import RedisPacer
from compliance.outage import OutageSpool
from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.call import CallDeps
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.db import migrate
from ivr.settings import Settings
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import Dialplan, InboundSwitch
from telephony.simulator.dialing import OutcomeMix

MORNING = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai: never the wall clock
NO_CRM = "http://127.0.0.1:1/risk"  # refused at once: the flow takes its on_failure branch


@dataclass(frozen=True)
class SoakParams:
    duration_s: float = 1800.0
    inbound_concurrency: int = 1000
    time_scale: float = 0.2  # media time: 1.0 = real time
    campaign_size: int = 400  # fresh numbers per campaign (a new one starts when one finishes)
    campaigns_at_once: int = 2  # running side by side, each with the hot and seeded numbers
    hot_numbers: int = 20  # in every campaign: the daily cap is tested across campaigns
    seeded_dnc: int = 10  # on DNC before the start, also in every campaign
    campaign_concurrency: int = 40
    campaign_cps: float = 10.0
    cycle_s: float | None = None  # one cycle of every fault per cycle_s (default: the run)
    hold_s: float = 2.0  # how long a fault lasts
    bot: str = "stub"  # stub | rasa
    drain_s: float = 180.0
    # the dialler waits this long for a leg's CHANNEL_HANGUP: one missed while its inbound ESL
    # connection was dropped would otherwise hold the attempt (and the drain) for an hour
    max_call_s: float = 60.0
    seed: int = 19


@dataclass
class SoakStack:
    """What the run drives and the faults break."""

    postgres: PrivatePostgres
    redis: ThrowawayRedis
    bot: BotServer
    listener: SlowListener
    settings: Settings
    clock: SoakClock
    deps: CallDeps
    env: DiallerEnv
    server: OutboundServer
    host: str
    port: int
    behaviour: CalleeBehaviour
    switch: InboundSwitch
    dialler: Dialler
    outage: OutageSpool


def flows_copy(dest: Path, crm_url: str) -> Path:
    shutil.copytree(DEFAULT_FLOWS_DIR, dest)
    inbound = dest / "inbound_service.yaml"
    text = inbound.read_text(encoding="utf-8")
    inbound.write_text(
        text.replace("http://127.0.0.1:8000/api/v1/demo/crm/risk", crm_url), encoding="utf-8"
    )
    return dest


async def build_stack(
    params: SoakParams, work: Path, prompt_cache: Path, stack: contextlib.AsyncExitStack
) -> SoakStack:
    """Start and wire everything in ``work``; ``stack`` stops it all again."""
    pg = PrivatePostgres()
    stack.callback(pg.close)
    await asyncio.to_thread(pg.start)
    url = await asyncio.to_thread(pg.create_database, "soak")
    await asyncio.to_thread(migrate, url)
    redis_server = ThrowawayRedis()
    stack.callback(redis_server.stop)
    await asyncio.to_thread(redis_server.start)
    rules = work / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot: BotServer
    if params.bot == "rasa":
        env_vars = {
            "IVR_DATABASE_URL": url, "IVR_REDIS_URL": redis_server.url,
            "IVR_REDIS_KEY_PREFIX": "soak", "IVR_DATA_DIR": str(work / "data"),
            "IVR_BLIND_INDEX_KEY": INDEX_KEY.hex(), "IVR_MASTER_KEY": MASTER_KEY.hex(),
            "IVR_RULES_PATH": str(rules),
        }  # fmt: skip
        base = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        bot = RealRasa(work / "rasa-run", base | env_vars)
    else:
        bot = StubBot()
    stack.callback(bot.close)
    await asyncio.to_thread(bot.start)
    settings = stack_settings(
        work, bot.url, prompt_cache, database_url=url,
        redis_url=redis_server.url, redis_key_prefix="soak",
        blind_index_key=INDEX_KEY.hex(), master_key=MASTER_KEY.hex(), rules_path=rules,
    )  # fmt: skip
    crm = f"{bot.url}/risk" if params.bot == "stub" else NO_CRM
    flows_dir = flows_copy(work / "flows", crm)
    listener = SlowListener(SidecarListener(None))
    built = await build_deps(settings, listener=listener, registry=FlowRegistry(flows_dir))
    stack.push_async_callback(built.aclose)
    clock = SoakClock(MORNING)
    env = build_env(url, clock, redis_prefix="soak:compliance", redis_url=redis_server.url,
                    outage=built.outage)  # fmt: skip
    await env.svc.start(watch=False)
    stack.push_async_callback(env.close)
    deps = dataclasses.replace(built.deps, compliance=env.svc, clock=clock)
    server = OutboundServer(CallOrchestrator(deps), deps.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    stack.push_async_callback(server.close, 5.0)
    behaviour = CalleeBehaviour(OutcomeMix(busy=0.15, no_answer=0.1, ring_s=(0.0, 0.3)))
    switch = InboundSwitch(
        socket_target=(host, port), behaviour=behaviour, time_scale=params.time_scale,
        dialplan=Dialplan.shipped({"recordings_dir": str(work / "fs")}),
    )  # fmt: skip
    shost, sport = await switch.start()
    stack.push_async_callback(switch.close)
    client = InboundClient(shost, sport, "ClueCon", backoff_s=(0.05, 0.5))
    hangups = HangupWatcher()
    hangups.follow(client)
    await client.connect()
    stack.push_async_callback(client.close)
    pacer = RedisPacer(redis_server.url, "soak:dialler", timeout_s=0.3)
    stack.push_async_callback(pacer.close)
    dialler = make_dialler(env, Switchboard(switch, client, server, hangups), pacer=pacer,
                           lease_s=6.0, max_call_s=params.max_call_s)  # fmt: skip
    assert built.outage is not None
    return SoakStack(pg, redis_server, bot, listener, settings, clock, deps, env, server, host,
                     port, behaviour, switch, dialler, built.outage)  # fmt: skip
