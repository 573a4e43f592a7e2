"""Human agents end to end (issue 18): real calls through the shipped dialplan, the orchestrator,
Rasa and the simulated mod_callcenter; desks driven over inbound ESL; screen pops in Redis; work
tickets, callback work and the gated call back in SQL.

- a spoken complaint reaches the free senior agent, whose screen pops the intent, the complaint
  flag, the caller's words and the masked number (unmasked only with evidence), and the call
  leaves a complaint work ticket for the senior team;
- with no senior agent the caller gets a callback ticket; an agent claims it and the call back
  is a ``service`` call the gate checked and counted before anything was dialled.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from agents_support import SENIOR, Floor, eventually, start_floor, stop_floor
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from agents.callback_dial import GatedCallbackDialler
from agents.callbacks import CallbackWork
from agents.desk import AgentDesk
from agents.floor import FloorHooksAdapter, follow_switch
from agents.model import AgentAction, AgentStatus
from agents.queue_metrics import QueueMetrics
from agents.screenpop import ScreenPops
from agents.switch import EslCallCenter, EventPump
from agents.work_tickets import WorkTickets
from campaigns.callbacks import CallbackTickets
from compliance.tables import decisions
from flows.adapters import SidecarListener
from flows.app import Built, build_deps
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.db import make_engine
from ivr.evidence import EvidenceKind
from ivr.permissions import Role
from ivr.settings import Settings
from records.access import Actor
from records.sealed_number import NumberSealer
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, CallResult, Dialplan, SimulatedCall, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
CALLER = "13912345678"


@dataclass
class Stack:
    built: Built
    settings: Settings
    floor: Floor
    server: OutboundServer
    address: tuple[str, int]
    desk: AgentDesk
    pops: ScreenPops
    tickets: WorkTickets
    fs_dir: Path

    async def call(self, *turns: Turn) -> CallResult:
        """A caller on the public number, through the shipped dialplan and its queues."""
        call = SimulatedCall(
            CallerScript(caller=CALLER, turns=turns, agent_talk_ms=200),
            write_requested_paths=True,
            dialplan=Dialplan.shipped({"recordings_dir": str(self.fs_dir)}),
            callcenter=self.floor.center,
        )
        call.channel.variables["ivr_flow"] = "inbound_service"
        result = await call.run(*self.address, deadline_s=120)
        await self.server.wait_idle()
        return result


@pytest.fixture
async def stack(rasa_stack, tmp_path: Path) -> AsyncIterator[Stack]:
    flows_dir = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
    settings = Settings(
        data_dir=tmp_path / "data",
        rasa_url=rasa_stack.rasa_url,
        rasa_processes=1,
        rasa_timeout_s=5.0,
        institution_name="测试银行",
        bot_id="AI-7",
        prompt_cache_dir=tmp_path / "prompts",
    )
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir)
    )
    # the gate decides at its own clock: daytime, whatever the hour the suite runs (quiet hours
    # would deny the call back)
    built.compliance.gate.clock = lambda: DAYTIME
    floor = await start_floor()
    engine = make_engine(settings.sqlalchemy_url)
    numbers = NumberSealer.from_settings(settings)
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    pops = ScreenPops(
        engine,
        numbers,
        built.deps.evidence,
        redis=redis,
        prefix=f"test-agents-{uuid.uuid4().hex[:8]}",
    )
    tickets = WorkTickets(engine, numbers)
    deps = replace(built.deps, clock=lambda: DAYTIME, floor=FloorHooksAdapter(pops, tickets, None))
    server = OutboundServer(CallOrchestrator(deps), deps.evidence, ServerConfig(reply_timeout_s=10))
    address = await server.start("127.0.0.1", 0)
    desk = AgentDesk(engine, EslCallCenter(floor.esl))
    await desk.register(SENIOR, "alice", "senior", "user/1001")
    floor.esl.add_listener(QueueMetrics().on_event)
    pump = EventPump(floor.esl)
    follower = asyncio.ensure_future(follow_switch(pump, desk, pops))
    try:
        yield Stack(built, settings, floor, server, address, desk, pops, tickets, tmp_path / "fs")
    finally:
        follower.cancel()
        await server.close()
        await stop_floor(floor)
        await redis.aclose()
        await built.aclose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


METRICS = {
    "calls": ("ivr_calls_total", {"direction": "inbound"}),
    "nlu": ("ivr_bot_latency_seconds_count", {"stage": "nlu"}),
    "answered": ("ivr_queue_answered_total", {"queue": "senior"}),
    "waits": ("ivr_queue_wait_seconds_count", {"queue": "senior"}),
    "evidence": ("ivr_evidence_appends_total", {"kind": "escalated"}),
    "tickets": ("ivr_work_tickets_total", {"kind": "complaint"}),
}


async def test_complaint_reaches_the_senior_agent_with_a_screen_pop(stack: Stack) -> None:
    await stack.desk.act(SENIOR, AgentAction.LOGIN, actor="alice")
    await stack.desk.act(SENIOR, AgentAction.READY, actor="alice")
    before = {k: sample(name, **labels) for k, (name, labels) in METRICS.items()}
    result = await stack.call(Turn.say(transcript="我要投诉你们的服务"))
    assert (SENIOR, result.uuid) in stack.floor.bridged()
    await eventually(lambda: stack.desk.desk(SENIOR).status is AgentStatus.WRAP_UP)
    [(_, pop)] = await stack.pops.read(SENIOR)
    assert pop["call_id"] == result.uuid and pop["queue"] == "senior"
    assert pop["intent"] == "complaint" and pop["flags"] == ["complaint"]
    assert pop["masked_number"] == "139****5678"
    assert {"who": "caller", "text": "我要投诉你们的服务"} in pop["conversation"]
    assert CALLER not in str(pop)
    clear = await stack.pops.unmask(
        result.uuid, actor="alice", role="agent", reason="verify identity", at=DAYTIME
    )
    assert clear.e164 == "+86" + CALLER
    revealed = [
        e
        for e in stack.built.deps.evidence.entries(call_id=result.uuid)  # type: ignore[attr-defined]
        if e.kind == EvidenceKind.NUMBER_REVEALED
    ]
    assert revealed and revealed[-1].payload["actor"] == "alice"
    # the system wrote the complaint down for the senior team
    await eventually(lambda: bool(stack.tickets.search(team="senior")))
    [ticket] = stack.tickets.search(team="senior")
    assert (ticket.kind, ticket.category, ticket.call_id) == ("complaint", "complaint", result.uuid)
    assert "投诉" in ticket.excerpt and ticket.masked_number == "139****5678"
    assert ticket.recording_ref == result.uuid and "senior" in ticket.flow_path
    # the metrics moved with the call
    after = {k: sample(name, **labels) for k, (name, labels) in METRICS.items()}
    assert {k: after[k] - before[k] for k in METRICS} == {k: 1.0 for k in METRICS}
    assert sample("ivr_calls_active") == 0.0


async def test_no_senior_agent_gives_a_ticket_that_becomes_a_gated_callback(
    stack: Stack,
) -> None:
    # nobody is signed in: the complaint cannot reach anyone
    result = await stack.call(Turn.say(transcript="我要投诉你们的服务"))
    assert stack.floor.bridged() == []
    engine = make_engine(stack.settings.sqlalchemy_url)
    numbers = NumberSealer.from_settings(stack.settings)
    store = CallbackTickets(engine, numbers, stack.built.deps.evidence)
    [ticket] = store.for_call(result.uuid)
    work = CallbackWork(engine, store, clock=lambda: DAYTIME)
    [item] = work.items()
    # the shipped flow's callback_ticket node files it in its own queue, with that queue's SLA
    assert item.ticket_id == ticket.id and item.queue == ticket.queue
    sla = {"senior": 2 * 3600, "general": 24 * 3600}[item.queue]
    assert (item.due_at - item.created_at).total_seconds() == sla
    work.claim(ticket.id, "alice")
    # the call back leaves through the gate to the switch, which hands it to the app again
    stack.floor.switch.socket_target = stack.address
    stack.floor.switch.dialplan = Dialplan.shipped({"recordings_dir": str(stack.fs_dir)})
    dialler = GatedCallbackDialler(
        stack.built.compliance,
        stack.floor.esl,
        endpoint="sofia/gateway/carrier/{national}",
        clock=lambda: DAYTIME,
    )
    attempt = await work.call_back(ticket.id, actor=Actor("alice", Role.AGENT), dialler=dialler)
    assert attempt.outcome == "connected", attempt
    await eventually(lambda: len(stack.floor.switch.results) == 1, timeout_s=60)
    await stack.built.compliance.flush()  # the decision log's writer
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(decisions).where(decisions.c.attempt_id == attempt.call_id)
        ).all()
    # checked and counted at dial time, as a service call (invariant 1)
    assert [(r.purpose, r.allowed, r.counted) for r in rows] == [("service", True, True)]
    assert work.item(ticket.id).done and work.item(ticket.id).result == "connected"
