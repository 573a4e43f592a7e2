"""The simulated mod_callcenter (issue 18): agents with status and state, tiers, the strategy,
member waits by score, ``callcenter_config`` over inbound ESL with FreeSWITCH's replies, and
its ``CUSTOM callcenter::info`` events.

Callers are channels running the shipped queue settings (``callcenter.conf``) with the
``callcenter`` application; agents are driven the way the product drives them, by
``callcenter_config agent set status`` over the inbound ESL client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from helpers.wait import eventually

from telephony.esl import Event
from telephony.inbound import InboundClient
from telephony.simulator import (
    CallCenter,
    CallerScript,
    CallResult,
    Dialplan,
    InboundSwitch,
    SimulatedCall,
    fast_clock,
)

SPEEDUP = 100.0  # switch seconds per wall second: a 30 s wrap-up takes 0.3 s
SENIOR, GENERAL = "senior-1001@default", "general-1101@default"


@dataclass
class Switch:
    center: CallCenter
    switch: InboundSwitch
    esl: InboundClient
    events: list[Event] = field(default_factory=list)
    calls: list[asyncio.Task[CallResult]] = field(default_factory=list)

    async def api(self, arg: str) -> str:
        return await self.esl.api("callcenter_config", arg)

    def bridged(self) -> list[tuple[str | None, str | None]]:
        """(agent, caller id) of every ``bridge-agent-start``, in order."""
        return [
            (e.get("CC-Agent"), e.get("variable_ivr_call_id"))
            for e in self.events
            if e.get("CC-Action") == "bridge-agent-start"
        ]

    def caller(self, call_id: str, queue: str, *, priority: bool = False) -> None:
        """A caller the app sent to ``queue`` (what ``CallSession.enqueue`` sets, then the
        shipped ``queue_<name>`` extension's applications)."""
        actions = [
            ("set", f"ivr_call_id={call_id}"),
            ("set", "hangup_after_bridge=true"),
            ("set", "cc_export_vars=ivr_call_id,ivr_queue_reason"),
            ("callcenter", f"{queue}@default"),
        ]
        if priority:
            actions.insert(0, ("set", "cc_base_score=1000"))
        call = SimulatedCall(
            CallerScript(agent_talk_ms=50),
            time_scale=1.0,
            extension=actions,
            callcenter=self.center,
        )
        self.calls.append(asyncio.ensure_future(call.run(deadline_s=30)))

    async def results(self) -> list[CallResult]:
        return list(await asyncio.gather(*self.calls))

    async def cancel_reasons(self, count: int) -> list[str | None]:
        """The ``CC-Cancel-Reason`` of the first ``count`` members that left unanswered."""

        def ends() -> list[str | None]:
            return [
                e.get("CC-Cancel-Reason")
                for e in self.events
                if e.get("CC-Action") == "member-queue-end" and e.get("CC-Cause") == "Cancel"
            ]

        await eventually(lambda: len(ends()) >= count)
        return ends()


@pytest.fixture
async def switch() -> AsyncIterator[Switch]:
    plan = Dialplan.shipped()
    center = CallCenter.from_config(plan.queues, plan.agents, plan.tiers, clock=fast_clock(SPEEDUP))
    sim = InboundSwitch(callcenter=center)
    host, port = await sim.start()
    esl = InboundClient(host, port, "ClueCon", events=("CUSTOM", "callcenter::info"))
    state = Switch(center, sim, esl)
    esl.add_listener(state.events.append)
    await esl.connect()
    try:
        yield state
    finally:
        await esl.close()
        await sim.close()


async def test_config_commands_answer_like_mod_callcenter(switch: Switch) -> None:
    assert await switch.api(f"agent get status {SENIOR}") == "Logged Out"
    assert await switch.api(f"agent set status {SENIOR} 'On Break'") == "+OK\n"
    assert await switch.api(f"agent get status {SENIOR}") == "On Break"
    assert await switch.api(f"agent set status {SENIOR} Sleeping") == (
        "-ERR Invalid Agent Status!\n"
    )
    assert await switch.api("agent set status nobody@default Available") == (
        "-ERR Agent not found!\n"
    )
    assert await switch.api(f"agent set state {SENIOR} Idle") == "+OK\n"
    assert await switch.api(f"agent set state {SENIOR} Dancing") == "-ERR Invalid Agent State!\n"
    assert await switch.api("agent add 2001@default callback") == "+OK\n"
    assert await switch.api("agent add 2001@default callback") == "-ERR Agent already exist!\n"
    assert await switch.api("tier add general@default 2001@default 1 2") == "+OK\n"
    assert await switch.api("tier add nowhere@default 2001@default 1 2") == (
        "-ERR Queue not found!\n"
    )
    assert await switch.api("queue count agents general@default") == "3\n"
    assert await switch.api("queue count agents senior@default Available") == "0\n"
    tiers = (await switch.api("queue list tiers general@default")).splitlines()
    assert tiers[0] == "queue|agent|state|level|position" and tiers[-1] == "+OK"
    assert "general@default|2001@default|Ready|1|2" in tiers
    assert await switch.api("agent") == "-ERR Invalid!\n"
    changes = [e.get("CC-Agent-Status") for e in switch.events if e.get("CC-Agent") == SENIOR]
    assert "On Break" in changes


async def test_complaint_reaches_the_free_senior_agent_before_a_waiting_general_caller(
    switch: Switch,
) -> None:
    await switch.api(f"agent set status {SENIOR} 'On Break'")  # present, takes no call
    switch.caller("general-caller", "general")
    await eventually(lambda: len(switch.center.waiting()) == 1)
    switch.caller("complaint-caller", "senior", priority=True)
    await eventually(lambda: len(switch.center.waiting()) == 2)
    assert switch.bridged() == []  # the only agent is on break

    await switch.api(f"agent set status {SENIOR} Available")
    await eventually(lambda: len(switch.bridged()) == 2, timeout_s=10)
    # the complaint first, the general caller after the senior agent's wrap-up (tier level 2)
    assert switch.bridged() == [(SENIOR, "complaint-caller"), (SENIOR, "general-caller")]
    results = await switch.results()
    assert all(r.hangup_cause == "NORMAL_CLEARING" for r in results)
    assert switch.center.agents[SENIOR].calls_answered == 2


async def test_agent_on_break_gets_no_call_and_the_caller_times_out(switch: Switch) -> None:
    await switch.api(f"agent set status {GENERAL} 'On Break'")
    await switch.api(f"agent set status {SENIOR} 'On Break'")
    switch.caller("waiting-caller", "general")
    [result] = await switch.results()
    assert switch.bridged() == []
    # on break counts as present: max-wait-time ends the wait, not the no-agent rule
    assert await switch.cancel_reasons(1) == ["TIMEOUT"]
    assert result.hangup_cause == "NORMAL_CLEARING"


async def test_no_agent_logged_in_ends_the_wait_with_no_agent_timeout(switch: Switch) -> None:
    switch.caller("lonely-caller", "senior", priority=True)
    await switch.results()
    assert await switch.cancel_reasons(1) == ["NO_AGENT_TIMEOUT"]


async def test_longest_idle_agent_gets_the_next_call(switch: Switch) -> None:
    await switch.api("agent add 1102@default callback")
    await switch.api("tier add general@default 1102@default 1 2")
    for agent in (GENERAL, "1102@default"):
        await switch.api(f"agent set status {agent} Available")
    now = switch.center.now()
    switch.center.agents[GENERAL].last_offered_call = now - 5
    switch.center.agents["1102@default"].last_offered_call = now - 10  # idle longer
    switch.caller("first", "general")
    await eventually(lambda: len(switch.bridged()) == 1)
    switch.caller("second", "general")
    await eventually(lambda: len(switch.bridged()) == 2)
    await switch.results()
    # not the tier position (1101 is first there): the agent idle longest
    assert switch.bridged() == [("1102@default", "first"), (GENERAL, "second")]


def test_shipped_queues_agents_and_tiers_load() -> None:
    plan = Dialplan.shipped()
    senior, general = plan.queues["senior@default"], plan.queues["general@default"]
    assert senior.strategy == general.strategy == "longest-idle-agent"
    assert senior.time_base_score == "system" and not senior.tier_rules_apply
    assert general.tier_rules_apply and general.tier_rule_no_agent_no_wait
    assert plan.agents[SENIOR].wrap_up_time == 30 and plan.agents[SENIOR].status == "Logged Out"
    levels = {(t.queue, t.agent): t.level for t in plan.tiers}
    # senior agents take general callers at a lower tier; general agents never take complaints
    assert levels[("general@default", SENIOR)] == 2
    assert ("senior@default", GENERAL) not in levels


async def test_a_bridged_agent_leg_is_a_channel_whose_audio_forks(switch: Switch) -> None:
    """mod_callcenter names the leg it originated to the agent (``CC-Agent-UUID``) in the
    bridge events; while bridged the leg exists and takes ``uuid_audio_fork`` (then gone)."""
    await switch.api(f"agent set status {SENIOR} Available")
    seen: dict[str, str] = {}

    def on_bridge(event: Event) -> None:
        if event.get("CC-Action") == "bridge-agent-start":
            seen["leg"] = event.get("CC-Agent-UUID") or ""

    switch.esl.add_listener(on_bridge)
    plan = [("set", "hangup_after_bridge=true"), ("callcenter", "senior@default")]
    call = SimulatedCall(
        CallerScript(agent_talk_ms=3000), time_scale=1.0, extension=plan, callcenter=switch.center
    )
    task = asyncio.ensure_future(call.run(deadline_s=30))
    await eventually(lambda: bool(seen.get("leg")))
    leg = seen["leg"]
    assert leg != call.channel.uuid
    assert await switch.esl.api("uuid_exists", leg) == "true"
    # a fork to nowhere listening is accepted (it fails in the background, as on FreeSWITCH)
    reply = await switch.esl.api(
        "uuid_audio_fork", f"{leg} start ws://127.0.0.1:9/audio/{leg} mono 8k"
    )
    assert reply.startswith("+OK")
    assert await switch.esl.api("uuid_audio_fork", f"{leg} start ws://x/audio mono 44k") == (
        "-ERR Operation Failed\n"
    )
    await task
    await eventually(
        lambda: len([e for e in switch.events if e.get("CC-Action") == "bridge-agent-end"]) == 1
    )
    ends = [e for e in switch.events if e.get("CC-Action") == "bridge-agent-end"]
    assert ends[0].get("CC-Agent-UUID") == leg and ends[0].get("CC-Hangup-Cause")
    assert await switch.esl.api("uuid_exists", leg) == "false"  # hung up with the bridge
