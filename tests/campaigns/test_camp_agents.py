"""Agent-paced campaigns on the simulated switch with its mod_callcenter (issue 14 item 4).

Agents are scarce: eight of them on the shipped ``campaign@default`` queue, each talking 20
switch seconds per call, half the lines answered. The dialler paces by the adaptive dial level
(it dials more lines than free agents once it knows the answer rate) and the abandoned calls the
far end measures (answered, no agent within the queue's ``max-wait-time``) stay at or below the
campaign's 3 % target. The far end is counted independently of the dialler: :class:`AgentCallee`
is what the ``outbound_agent`` flow does (free agent? ``queue_campaign`` : abandoned message),
and mod_callcenter's own ``member-queue-end`` events say which members left with ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from camp_support import REDIS_URL, audit, fresh_numbers, until

from campaigns.agent_lines import LocalAgentLines, RedisAgentLines
from campaigns.agent_pacing import FLOOR_EVENT_NAMES, AgentPacing, EslFloorProbe
from campaigns.dial_level import DialLevel, DialLevelConfig
from campaigns.dialler import Dialler, DiallerConfig
from campaigns.model import CampaignState, Disposition, PacingMode, RetryPolicy, RetryRule
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher
from campaigns.pacing import LocalPacer
from flows.handoff import came_back_abandoned
from ivr.evidence import EvidenceKind
from telephony.call_control import CallControl
from telephony.inbound import DEFAULT_EVENTS, InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.session import CallSession
from telephony.simulator import CallCenter, CallerScript, Dialplan, InboundSwitch, fast_clock
from telephony.simulator.callcenter import Agent, Tier
from telephony.simulator.dialing import OutcomeMix

pytestmark = pytest.mark.slow

SPEEDUP = 100.0  # switch seconds per wall second (mod_callcenter clock and media clock alike)
AGENTS = 8
QUEUE = "campaign@default"


class AgentCallee:
    """The far end of ``ivr_outbound`` for an agent campaign (see the module docstring)."""

    def __init__(self, env) -> None:
        self.env = env
        self.answered = 0
        self.abandoned = 0
        self.no_agent_at_answer = 0
        self.returned = 0

    async def __call__(self, session: CallSession) -> None:
        if session.is_abandoned_return:  # back from the queue: the message, then goodbye
            self.returned += 1
            await session.hangup("NORMAL_CLEARING")
            return
        await session.answer()
        self.answered += 1
        reason = "transferred_campaign"
        if await CallControl(session).free_agents("campaign") == 0:
            self.no_agent_at_answer += 1
            reason = "abandoned"
            await session.hangup("NORMAL_CLEARING")
        else:
            await session.enqueue("campaign", variables={"ivr_call_id": session.uuid})
            await session.wait_hangup(60)
            if came_back_abandoned(session):
                reason = "abandoned"
        if reason == "abandoned":
            self.abandoned += 1
        await self.env.evidence.append(
            EvidenceKind.CALL_ENDED, call_id=session.uuid, payload={"reason": reason}
        )


def scarce_floor(center: CallCenter) -> None:
    for i in range(AGENTS):
        name = f"camp-{i}@default"
        center.agents[name] = Agent(name, status="Available", wrap_up_time=2)
        center.tiers.append(Tier(QUEUE, name))


class Recording(AgentPacing):
    """The real agent pacing, keeping every decision it made (to show it overdialled)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.levels: list[float] = []
        self.decisions: list[DialLevel] = []

    async def reserve(self, campaign, target, want, now):
        got = await super().reserve(campaign, target, want, now)
        if got.decision is not None:
            self.decisions.append(got.decision)
            self.levels.append(got.decision.level)
        return got


class FixedProbe:
    """A floor probe that believes one agent is free (whatever the switch says)."""

    async def free_agents(self, queue: str) -> int:
        return 1


def agent_campaign(env, **changes):
    return env.campaign(
        flow_id="outbound_agent",
        purpose="service",
        pacing=PacingMode.AGENT,
        max_attempts=2,
        max_concurrency=60,
        retry=RetryPolicy(
            {Disposition.NO_ANSWER: RetryRule(0, 0), Disposition.ABANDONED: RetryRule(0, 1)}
        ),
        **changes,
    )


def make(env, client, hangups, pacing) -> Dialler:
    return Dialler(
        campaigns=env.repo,
        queue=env.queue,
        gate=env.svc,
        esl=client,
        esl_ready=lambda: client.ready,
        hangups=hangups,
        outcomes=EvidenceOutcomes(env.engine),
        pacer=LocalPacer(),
        sealer=env.sealer,
        config=DiallerConfig(worker_id=f"w-{uuid.uuid4().hex[:6]}"),
        clock=env.clock,
        agent_pacing=pacing,
    )


async def run_to_end(env, dialler: Dialler, camp, timeout_s: float = 240) -> None:
    task = asyncio.create_task(dialler.run())
    try:
        await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, timeout_s)
    finally:
        dialler.stop()
        await task


async def test_answered_call_with_no_agent_in_time_is_abandoned_told_and_called_back(
    sqlite_env, tmp_path: Path
):
    """One agent signed in but Idle (never offered a call): the callee waits the queue's
    max-wait-time, leaves with TIMEOUT, is abandoned, and the number is dialled once more."""
    env = sqlite_env
    plan = Dialplan.shipped({"recordings_dir": str(tmp_path / "fs")})
    center = CallCenter.from_config(plan.queues, {}, [], clock=fast_clock(SPEEDUP))
    center.agents["idle@default"] = Agent("idle@default", status="Available", state="Idle")
    center.tiers.append(Tier(QUEUE, "idle@default"))
    timeouts: list[str] = []
    center.listeners.append(timeout_listener(timeouts))
    app = AgentCallee(env)
    server = OutboundServer(app, env.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port), dialplan=plan, time_scale=1 / SPEEDUP, callcenter=center
    )
    client, hangups = await connect(switch)
    await client.connect()
    try:
        camp = agent_campaign(env)
        numbers = fresh_numbers(2)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        await run_to_end(
            env, make(env, client, hangups, AgentPacing(FixedProbe(), LocalAgentLines())), camp, 60
        )
        assert audit(switch, cap=2) == []
        assert sorted(env.dispositions(camp).values()) == [["abandoned", "abandoned"]] * 2
        assert (app.answered, app.abandoned, len(timeouts)) == (4, 4, 4)
        assert app.returned == 4  # each came back through campaign_abandoned for the message
    finally:
        await client.close()
        await switch.close()
        await server.close(grace_s=2.0)


def timeout_listener(into: list[str]):
    def on_cc(_name: str, headers, _body: bytes) -> None:
        h = dict(headers)
        if h.get("CC-Action") == "member-queue-end" and h.get("CC-Cancel-Reason") == "TIMEOUT":
            into.append(h.get("CC-Member-Session-UUID", ""))

    return on_cc


async def connect(switch: InboundSwitch) -> tuple[InboundClient, HangupWatcher]:
    shost, sport = await switch.start()
    client = InboundClient(
        shost, sport, "ClueCon", backoff_s=(0.05, 0.5), events=(*DEFAULT_EVENTS, *FLOOR_EVENT_NAMES)
    )
    hangups = HangupWatcher()
    hangups.follow(client)
    return client, hangups


async def test_scarce_agents_keep_the_abandon_rate_at_or_below_target(sqlite_env, tmp_path: Path):
    env = sqlite_env
    plan = Dialplan.shipped({"recordings_dir": str(tmp_path / "fs")})
    assert plan.queues[QUEUE].max_wait > 0  # the allowed seconds, from the shipped queue
    center = CallCenter.from_config(plan.queues, {}, [], clock=fast_clock(SPEEDUP))
    scarce_floor(center)
    timeouts: list[str] = []
    center.listeners.append(timeout_listener(timeouts))
    app = AgentCallee(env)
    server = OutboundServer(app, env.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port),
        dialplan=plan,
        behaviour=OutcomeMix(no_answer=0.5, ring_s=(0.02, 0.15), seed=7),
        script=CallerScript(agent_talk_ms=20_000),
        time_scale=1 / SPEEDUP,
        callcenter=center,
    )
    client, hangups = await connect(switch)
    pacing = Recording(EslFloorProbe(client, clock=center.clock), LocalAgentLines())
    client.add_listener(pacing.on_event)
    await client.connect()
    try:
        camp = agent_campaign(env)
        assert camp.spec.abandon_target == 0.03
        numbers = fresh_numbers(500)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        await run_to_end(env, make(env, client, hangups, pacing), camp)
        assert audit(switch, cap=2) == []
        # the far end's own count, and mod_callcenter's TIMEOUT members among them
        assert app.answered >= 200, app.answered
        assert app.abandoned <= 0.03 * app.answered, (app.abandoned, app.answered)
        assert len(timeouts) <= app.abandoned
        assert max(pacing.levels) > 1.0  # it did dial more lines than free agents
        got = env.dispositions(camp)
        flat = [d for ds in got.values() for d in ds]
        assert flat.count("abandoned") == app.abandoned
        for ds in got.values():  # an abandoned number is called back (gated again)
            if ds[0] == "abandoned":
                assert len(ds) == 2, ds
        print(  # the measured figures, for the report
            f"answered={app.answered} abandoned={app.abandoned} "
            f"rate={app.abandoned / app.answered:.3%} timeouts={len(timeouts)} "
            f"no_agent_at_answer={app.no_agent_at_answer} max_level={max(pacing.levels):.2f}"
        )
    finally:
        await client.close()
        await switch.close()
        await server.close(grace_s=2.0)


class SharedFloor:
    """A floor probe that sees ``free`` agents, for every dialler alike."""

    def __init__(self, free: int) -> None:
        self.free = free

    async def free_agents(self, queue: str) -> int:
        return self.free


async def two_diallers(env, switch, lines_for, probe_for, config=None):
    """Two dialler instances on one switch (each its own ESL connection)."""
    out = []
    for _ in range(2):
        client, hangups = await connect_again(switch)
        pacing = Recording(probe_for(client), lines_for(), config=config)
        client.add_listener(pacing.on_event)
        await client.connect()
        out.append((client, pacing, make(env, client, hangups, pacing)))
    return out


async def connect_again(switch: InboundSwitch) -> tuple[InboundClient, HangupWatcher]:
    host, port = switch.address
    client = InboundClient(
        host, port, "ClueCon", backoff_s=(0.05, 0.5), events=(*DEFAULT_EVENTS, *FLOOR_EVENT_NAMES)
    )
    hangups = HangupWatcher()
    hangups.follow(client)
    return client, hangups


async def run_both(env, diallers, camp, timeout_s: float = 240) -> None:
    tasks = [asyncio.create_task(d.run()) for _, _, d in diallers]
    try:
        await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, timeout_s)
    finally:
        for _, _, d in diallers:
            d.stop()
        await asyncio.gather(*tasks)
        for client, pacing, _ in diallers:
            await client.close()
            await pacing.close()


async def test_two_diallers_on_one_agent_campaign_never_overdial_together(
    sqlite_env, tmp_path: Path, camp_redis_prefix: str
):
    """Three free agents, the level held at one line per agent (it never learns): together
    the two diallers never have more than three lines ringing, as the switch counts them."""
    env = sqlite_env
    prefix = f"{camp_redis_prefix}:{uuid.uuid4().hex[:8]}"
    switch = InboundSwitch(behaviour=OutcomeMix(no_answer=1.0, ring_s=(0.05, 0.2), seed=3))
    await switch.start()
    learning = DialLevelConfig(min_samples=10**6)
    diallers = await two_diallers(
        env, switch, lambda: RedisAgentLines(REDIS_URL, prefix), lambda _c: SharedFloor(3),
        learning,
    )  # fmt: skip
    peak = [0]

    async def watch() -> None:  # the switch's own count of the campaign's live legs
        while True:
            peak[0] = max(peak[0], len(switch.channels))
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    try:
        camp = agent_campaign(env)  # no answer: never retried
        env.load(camp, tmp_path, fresh_numbers(60))
        env.start(camp)
        await run_both(env, diallers, camp, 120)
        assert len(switch.originate_log) == 60
        assert audit(switch, cap=1) == []
        assert 0 < peak[0] <= 3, peak[0]
        for _, pacing, d in diallers:
            assert d.stats.originated > 0  # both made progress
            assert {lv.lines for lv in pacing.decisions} <= {3}
    finally:
        watcher.cancel()
        await switch.close()


async def test_two_diallers_on_scarce_agents_keep_the_abandon_rate_at_or_below_target(
    sqlite_env, tmp_path: Path, camp_redis_prefix: str
):
    """The scarce floor above, dialled by two diallers sharing the campaign's lines (Redis):
    they overdial together by one level, and the far end's abandoned share stays in target."""
    env = sqlite_env
    prefix = f"{camp_redis_prefix}:{uuid.uuid4().hex[:8]}"
    plan = Dialplan.shipped({"recordings_dir": str(tmp_path / "fs")})
    center = CallCenter.from_config(plan.queues, {}, [], clock=fast_clock(SPEEDUP))
    scarce_floor(center)
    app = AgentCallee(env)
    server = OutboundServer(app, env.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port),
        dialplan=plan,
        behaviour=OutcomeMix(no_answer=0.5, ring_s=(0.02, 0.15), seed=11),
        script=CallerScript(agent_talk_ms=20_000),
        time_scale=1 / SPEEDUP,
        callcenter=center,
    )
    await switch.start()
    diallers = await two_diallers(
        env, switch, lambda: RedisAgentLines(REDIS_URL, prefix),
        lambda c: EslFloorProbe(c, clock=center.clock),
    )  # fmt: skip
    try:
        camp = agent_campaign(env)
        env.load(camp, tmp_path, fresh_numbers(400))
        env.start(camp)
        await run_both(env, diallers, camp)
        assert audit(switch, cap=2) == []
        assert app.answered >= 150, app.answered
        assert app.abandoned <= 0.03 * app.answered, (app.abandoned, app.answered)
        levels = [lv for _, p, _ in diallers for lv in p.levels]
        assert max(levels) > 1.0  # the shared level did overdial
        for _, _, d in diallers:
            assert d.stats.originated > 0
        print(
            f"two diallers: answered={app.answered} abandoned={app.abandoned} "
            f"rate={app.abandoned / app.answered:.3%} originated="
            f"{[d.stats.originated for _, _, d in diallers]} max_level={max(levels):.2f}"
        )
    finally:
        await switch.close()
        await server.close(grace_s=2.0)
