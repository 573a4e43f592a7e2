"""A simulated FreeSWITCH (inbound ESL + the shipped mod_callcenter) on a thread of its own, for
console tests: the console's floor drives it over ESL like the real switch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from telephony.simulator import CallCenter, Dialplan, InboundSwitch
from telephony.simulator.callcenter import Agent, Tier


@dataclass
class ThreadedSwitch:
    address: str  # host:port for IVR_FREESWITCH_INBOUND
    center: CallCenter
    loop: asyncio.AbstractEventLoop

    def add_agent(self, name: str, queue: str = "general@default") -> None:
        """An agent mod_callcenter knows (as ``callcenter.conf`` or ``agent add`` made it)."""

        def add() -> None:
            if name not in self.center.agents:
                self.center.agents[name] = Agent(name)
                self.center.tiers.append(Tier(queue, name))

        self.loop.call_soon_threadsafe(add)


@contextmanager
def threaded_switch() -> Iterator[ThreadedSwitch]:
    plan = Dialplan.shipped()
    center = CallCenter.from_config(plan.queues, plan.agents, plan.tiers)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        switch = InboundSwitch(callcenter=center)
        host, port = loop.run_until_complete(switch.start())
        holder["switch"], holder["address"] = switch, f"{host}:{port}"
        started.set()
        loop.run_forever()
        loop.run_until_complete(switch.close())

    thread = threading.Thread(target=run, name="sim-freeswitch", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield ThreadedSwitch(str(holder["address"]), center, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
