"""Live QA of a human agent's leg end to end, on the simulator: a caller's complaint goes through
the shipped dialplan, the orchestrator (stream mode, real Rasa) and the simulated mod_callcenter
to the senior agent; the call process's agent-leg follower (``flows.app.build_deps`` →
``qa.agent_forks``, its own inbound ESL client) sees ``bridge-agent-start``, forks the agent leg
(``uuid_audio_fork <CC-Agent-UUID> start …``) to the process's audio fork server (real VAD,
scripted ASR) and follows it. The agent's prohibited promise is a live alert on the Redis stream
(speaker agent, the agent's id) before the call ends, and a finding of the call's stored QA
result."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.wait import eventually_found
from redis.asyncio import Redis

from flows.adapters import SidecarListener
from flows.app import Built, build_deps
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.settings import Settings
from qa.alerts import LiveAlert, RedisAlertStream
from qa.call_port import CallInspection
from shell.services import free_port
from speech.fakes import ScriptedASR
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import (
    CallCenter,
    CallerScript,
    Dialplan,
    InboundSwitch,
    SimulatedCall,
    Turn,
    fast_clock,
)

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/0"
FIXTURES = Path(__file__).resolve().parents[1] / "speech" / "fixtures"
COMPLAINT = FIXTURES / "a11.wav"  # the caller: 我要投诉你们的服务
AGENT_SAYS = FIXTURES / "a02.wav"  # the agent's speech (scripted ASR gives its words)
PROHIBITED = "这款理财保本保收益，您放心买。"
SENIOR = "senior-1001@default"
CALLER = "13912345678"
TIME_SCALE = 0.1  # the caller's timing in step with the prompts (see tests/flows)


@dataclass
class Stack:
    built: Built
    qa: CallInspection
    center: CallCenter
    switch: InboundSwitch
    server: OutboundServer
    address: tuple[str, int]
    asr: ScriptedASR
    alerts: RedisAlertStream
    fs_dir: Path


@pytest.fixture(scope="module")
def prompt_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompt-cache")


@pytest.fixture
async def stack(rasa_stack, tmp_path: Path, prompt_cache_dir: Path) -> AsyncIterator[Stack]:
    plan = Dialplan.shipped()
    center = CallCenter.from_config(plan.queues, plan.agents, plan.tiers, clock=fast_clock(100))
    switch = InboundSwitch(callcenter=center)
    host, port = await switch.start()
    flows_dir = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
    prefix = f"test-qa-live-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path / "data",
        rasa_url=rasa_stack.rasa_url,
        rasa_processes=1,
        rasa_timeout_s=5.0,
        institution_name="测试银行",
        bot_id="AI-7",
        prompt_cache_dir=prompt_cache_dir,
        audio_mode="stream",
        audio_stream_port=free_port(),
        freeswitch_inbound=f"{host}:{port}",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
    )
    asr = ScriptedASR()
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir), stream_asr=asr
    )
    qa = built.deps.qa
    assert isinstance(qa, CallInspection)
    server = OutboundServer(
        CallOrchestrator(built.deps), built.deps.evidence, ServerConfig(reply_timeout_s=10)
    )
    address = await server.start("127.0.0.1", 0)
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    alerts = RedisAlertStream(redis, prefix)
    try:
        yield Stack(built, qa, center, switch, server, address, asr, alerts, tmp_path / "fs")
    finally:
        await server.close()
        await built.aclose()
        await switch.close()
        await redis.delete(alerts.key)
        await redis.aclose()


async def place_complaint(stack: Stack) -> tuple[str, float]:
    """A caller complains and reaches the senior agent, who says ``AGENT_SAYS``; the call's uuid
    and when (epoch s) the caller's leg hung up."""
    hung_up: list[float] = []

    def observe(name: str, headers: object) -> None:
        if name == "CHANNEL_HANGUP":
            hung_up.append(time.time())

    call = SimulatedCall(
        CallerScript(
            caller=CALLER,
            turns=(Turn.say(during_prompt=True), Turn.say(COMPLAINT, during_prompt=True)),
            agent_talk_ms=3000,
            agent_speech=AGENT_SAYS,
        ),
        time_scale=TIME_SCALE,
        write_requested_paths=True,
        dialplan=Dialplan.shipped({"recordings_dir": str(stack.fs_dir)}),
        callcenter=stack.center,
        observer=observe,
    )
    call.channel.variables["ivr_flow"] = "inbound_service"
    result = await call.run(*stack.address, deadline_s=120)
    await stack.server.wait_idle()
    assert hung_up, "the caller's leg never hung up"
    return result.uuid, hung_up[0]


async def test_an_agents_prohibited_promise_is_a_live_alert_and_a_finding(stack: Stack) -> None:
    stack.center.set_status(stack.center.agents[SENIOR], "Available")
    stack.asr.push("我要投诉你们的服务")  # the caller's complaint
    stack.asr.push(PROHIBITED)  # then the agent, on its own leg
    call_id, hung_up_at = await place_complaint(stack)
    forks = [a for _t, c, a in stack.switch.api_log if c == "uuid_audio_fork"]
    [start] = [a for a in forks if " start " in a]
    leg, _, url, mix, rate, meta = start.split(" ", 5)
    assert leg != call_id and url.endswith(f"/audio/{leg}") and (mix, rate) == ("mono", "8k")
    metadata = json.loads(meta)
    assert metadata["leg"] == "agent" and metadata["call_id"] == call_id
    assert metadata["agent_id"] == SENIOR and metadata["offset_ms"] > 0
    assert CALLER not in start  # no customer data in the command

    async def agent_alerts() -> list[LiveAlert] | None:
        found = [a for _id, a in await stack.alerts.read("0-0") if a.call_id == call_id]
        return found or None

    alerts = await eventually_found(agent_alerts, 10, what="the agent's live alert")
    assert {a.speaker for a in alerts} == {"agent"}
    assert {a.agent_id for a in alerts} == {SENIOR}
    assert all(a.raised_at < hung_up_at for a in alerts)  # live: before the call ended
    assert all(a.offset_ms >= metadata["offset_ms"] for a in alerts)  # into the recording
    rules = stack.qa.hooks.rules
    assert {a.rule for a in alerts} == {h.rule_id for h in rules.matcher.scan(PROHIBITED)}
    # the call's stored QA result holds the agent's words as findings too
    store = stack.qa.hooks.results

    async def stored() -> list[dict[str, object]] | None:
        results = await asyncio.to_thread(store.get, call_id)
        found = [f for r in results for f in r.findings if f["speaker"] == "agent"]
        return found or None

    findings = await eventually_found(stored, 10, what="the call's QA result")
    assert {f["rule"] for f in findings if f["kind"] == "hit"} == {a.rule for a in alerts}
    [result] = await asyncio.to_thread(store.get, call_id)
    assert not result.passed  # a prohibited promise by the agent fails the call


async def test_a_refused_agent_leg_fork_never_touches_the_call(stack: Stack) -> None:
    """The switch refuses the fork (the leg is gone): a warning, no alert, the call as ever."""
    stack.center.set_status(stack.center.agents[SENIOR], "Available")
    stack.asr.push("我要投诉你们的服务")
    stack.asr.push(PROHIBITED)
    real_api = stack.switch._api

    def refusing(command: str, arg: str) -> str:
        if command == "uuid_audio_fork" and " start " in arg and "/audio/" in arg:
            leg = arg.split(" ", 1)[0]
            if leg in stack.center.legs:  # refused, as for a leg gone meanwhile
                stack.switch.api_log.append((0.0, command, arg))
                return "-ERR Operation Failed\n"
        return real_api(command, arg)

    stack.switch._api = refusing  # type: ignore[method-assign]
    call_id, _ = await place_complaint(stack)
    assert any(c == "uuid_audio_fork" for _t, c, _a in stack.switch.api_log)
    assert await stack.alerts.read("0-0") == []
    store = stack.qa.hooks.results
    [result] = await asyncio.to_thread(store.get, call_id)
    assert not any(f["speaker"] == "agent" for f in result.findings)
