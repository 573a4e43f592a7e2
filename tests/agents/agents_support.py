"""Helpers of the floor tests: a simulated switch with the shipped mod_callcenter, an inbound
ESL client on it, a migrated private database, waits and queue callers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from agents.switch import FLOOR_EVENTS
from ivr.db import make_engine, migrate
from ivr.settings import Settings
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

SPEEDUP = 100.0
SENIOR, GENERAL = "senior-1001@default", "general-1101@default"


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (polling, bounded) until ``condition()`` holds; fail if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def private_settings(data_dir: Path, **extra: object) -> Settings:
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'ivr.db'}",
        redis_url=None,
        **extra,  # type: ignore[arg-type]
    )
    migrate(settings.sqlalchemy_url)
    return settings


def private_engine(data_dir: Path) -> Engine:
    return make_engine(private_settings(data_dir).sqlalchemy_url)


@dataclass
class Floor:
    """The simulated switch, its mod_callcenter and an ESL client subscribed to its events."""

    center: CallCenter
    switch: InboundSwitch
    esl: InboundClient
    events: list[Event] = field(default_factory=list)
    calls: list[asyncio.Task[CallResult]] = field(default_factory=list)

    def bridged(self) -> list[tuple[str | None, str | None]]:
        return [
            (e.get("CC-Agent"), e.get("CC-Member-Session-UUID"))
            for e in self.events
            if e.get("CC-Action") == "bridge-agent-start"
        ]

    def caller(
        self, call_id: str, queue: str, *, priority: bool = False, talk_ms: int = 50
    ) -> None:
        """A caller the app put into ``queue`` (a channel with uuid ``call_id``)."""
        from telephony.simulator.channel import SimChannel

        actions = [("set", "hangup_after_bridge=true"), ("callcenter", f"{queue}@default")]
        if priority:
            actions.insert(0, ("set", "cc_base_score=1000"))
        channel = SimChannel("13800138000", "95588", uuid=call_id)
        call = SimulatedCall(
            CallerScript(agent_talk_ms=talk_ms),
            time_scale=1.0,
            extension=actions,
            channel=channel,
            callcenter=self.center,
        )
        self.calls.append(asyncio.ensure_future(call.run(deadline_s=30)))

    async def results(self) -> list[CallResult]:
        return list(await asyncio.gather(*self.calls))


async def start_floor() -> Floor:
    plan = Dialplan.shipped()
    center = CallCenter.from_config(plan.queues, plan.agents, plan.tiers, clock=fast_clock(SPEEDUP))
    switch = InboundSwitch(callcenter=center)
    host, port = await switch.start()
    esl = InboundClient(host, port, "ClueCon", events=FLOOR_EVENTS)
    floor = Floor(center, switch, esl)
    esl.add_listener(floor.events.append)
    await esl.connect()
    return floor


async def stop_floor(floor: Floor) -> None:
    for task in floor.calls:
        task.cancel()
    await asyncio.gather(*floor.calls, return_exceptions=True)
    await floor.esl.close()
    await floor.switch.close()
