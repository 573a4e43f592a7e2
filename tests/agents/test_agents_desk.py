"""Agent desks drive mod_callcenter (issue 18, item 2): sign-in, ready, break, wrap-up over the
inbound ESL client; the switch's bridge events move a desk on and off a call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agents_support import GENERAL, SENIOR, Floor, eventually, private_engine

from agents.desk import AgentDesk, SwitchRefusedError
from agents.model import AgentAction, AgentStatus, AgentTransitionError, plan_change
from agents.switch import EslCallCenter, EventPump


def test_every_status_change_is_planned_with_its_switch_commands() -> None:
    login = plan_change(AgentStatus.LOGGED_OUT, AgentAction.LOGIN)
    assert login.after is AgentStatus.ON_BREAK and login.commands == (("status", "On Break"),)
    ready = plan_change(AgentStatus.ON_BREAK, AgentAction.READY)
    assert ready.commands == (("status", "Available"), ("state", "Waiting"))
    ended = plan_change(AgentStatus.ON_CALL, AgentAction.CALL_ENDED)
    assert ended.after is AgentStatus.WRAP_UP and ended.commands == (("state", "Idle"),)
    with pytest.raises(AgentTransitionError):
        plan_change(AgentStatus.ON_CALL, AgentAction.LOGOUT)  # never hang up on a customer
    with pytest.raises(AgentTransitionError):
        plan_change(AgentStatus.LOGGED_OUT, AgentAction.READY)  # sign in first


async def _desk(floor: Floor, tmp_path: Path) -> AgentDesk:
    desk = AgentDesk(private_engine(tmp_path), EslCallCenter(floor.esl))
    await desk.register(SENIOR, "alice", "senior", "user/1001")
    await desk.register(GENERAL, "bob", "general", "user/1101")
    return desk


async def test_desk_actions_set_the_agent_in_mod_callcenter(floor: Floor, tmp_path: Path) -> None:
    desk = await _desk(floor, tmp_path)
    agent = floor.center.agents[SENIOR]
    await desk.act(SENIOR, AgentAction.LOGIN, actor="alice")
    assert agent.status == "On Break"
    await desk.act(SENIOR, AgentAction.READY, actor="alice")
    assert (agent.status, agent.state) == ("Available", "Waiting")
    await desk.act(SENIOR, AgentAction.WRAP_UP, actor="alice")
    assert (agent.status, agent.state) == ("Available", "Idle")
    await desk.act(SENIOR, AgentAction.LOGOUT, actor="alice")
    assert agent.status == "Logged Out"
    assert desk.desk_of("alice").status is AgentStatus.LOGGED_OUT
    history = [(h["action"], h["after"]) for h in desk.history(SENIOR)]
    assert history[0] == ("logout", "logged_out") and len(history) == 4


async def test_new_desk_gets_its_agent_and_tiers(floor: Floor, tmp_path: Path) -> None:
    desk = AgentDesk(private_engine(tmp_path), EslCallCenter(floor.esl))
    await desk.register("senior-1002@default", "carol", "senior", "user/1002")
    tiers = {(t.queue, t.level) for t in floor.center.tiers if t.agent == "senior-1002@default"}
    assert tiers == {("senior@default", 1), ("general@default", 2)}


async def test_a_switch_refusal_keeps_the_desk_as_it_was(floor: Floor, tmp_path: Path) -> None:
    desk = await _desk(floor, tmp_path)
    await desk.act(SENIOR, AgentAction.LOGIN, actor="alice")
    await floor.esl.api("callcenter_config", f"agent del {SENIOR}")  # someone removed it
    with pytest.raises(SwitchRefusedError):
        await desk.act(SENIOR, AgentAction.READY, actor="alice")
    assert desk.desk(SENIOR).status is AgentStatus.ON_BREAK


async def test_agent_on_break_gets_no_call_and_wrap_up_holds_the_next(
    floor: Floor, tmp_path: Path
) -> None:
    desk = await _desk(floor, tmp_path)
    pump = EventPump(floor.esl)
    await floor.esl.connect()

    async def drain() -> None:
        while True:
            await desk.on_bridge(await pump.queue.get())

    drainer = asyncio.ensure_future(drain())
    try:
        for agent, user in ((SENIOR, "alice"), (GENERAL, "bob")):
            await desk.act(agent, AgentAction.LOGIN, actor=user)
        await desk.act(GENERAL, AgentAction.READY, actor="bob")  # alice stays on break
        floor.caller("call-1", "senior", priority=True)
        floor.caller("call-2", "general")
        await eventually(lambda: (GENERAL, "call-2") in floor.bridged())
        await eventually(lambda: desk.desk(GENERAL).status is AgentStatus.WRAP_UP)
        assert desk.desk(GENERAL).call_id == "call-2"
        # alice is on break: the complaint waits, bob (general) never takes a senior call
        assert [b for b in floor.bridged() if b[1] == "call-1"] == []
        floor.caller("call-3", "general")
        await eventually(lambda: len(floor.center.waiting("general@default")) == 1)
        bob = floor.center.agents[GENERAL]
        # past mod_callcenter's own 15 s wrap-up, the desk's wrap-up (state Idle) still holds
        await eventually(lambda: floor.center.now() > bob.last_bridge_end + bob.wrap_up_time + 1)
        assert bob.state == "Idle" and floor.center.dispatch() == []
        await desk.act(GENERAL, AgentAction.READY, actor="bob")
        await eventually(lambda: (GENERAL, "call-3") in floor.bridged())
        await desk.act(SENIOR, AgentAction.READY, actor="alice")
        await eventually(lambda: (SENIOR, "call-1") in floor.bridged())
    finally:
        drainer.cancel()
