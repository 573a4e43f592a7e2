"""mod_callcenter over the inbound ESL client: ``callcenter_config`` commands and the
``CUSTOM callcenter::info`` events the floor reacts to (adapter)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ivr.errors import DependencyUnavailableError, IvrError
from telephony.esl import Event
from telephony.inbound import InboundClient

# what the floor's inbound client subscribes to: bgapi results (originate of a call back) and
# mod_callcenter's events
FLOOR_EVENTS = ("BACKGROUND_JOB", "CUSTOM", "callcenter::info")


class EslCallCenter:
    """:class:`agents.ports.CallCenterControl` over one :class:`InboundClient`."""

    def __init__(self, client: InboundClient, timeout_s: float = 5.0) -> None:
        self._client = client
        self._timeout_s = timeout_s

    async def callcenter_config(self, arg: str) -> str:
        return await self.api("callcenter_config", arg)

    async def api(self, command: str, arg: str) -> str:
        try:
            async with asyncio.timeout(self._timeout_s):  # also while the client reconnects
                return await self._client.api(command, arg)
        except (IvrError, OSError, TimeoutError) as exc:
            raise DependencyUnavailableError(f"{command} failed: {exc}") from exc


@dataclass(frozen=True, slots=True)
class BridgeEvent:
    """An agent got (``started``) or finished (``ended``) a queue call."""

    agent: str
    call_id: str  # the member's session uuid: the call id of the caller's leg
    queue: str
    started: bool
    agent_leg: str = ""  # CC-Agent-UUID: the uuid of the leg mod_callcenter originated to the agent


def bridge_event(event: Event) -> BridgeEvent | None:
    """The bridge start/end an event reports, else None."""
    if event.get("Event-Subclass") != "callcenter::info":
        return None
    action = event.get("CC-Action")
    if action not in ("bridge-agent-start", "bridge-agent-end"):
        return None
    agent, call_id = event.get("CC-Agent"), event.get("CC-Member-Session-UUID")
    if not agent or not call_id:
        return None
    return BridgeEvent(
        agent,
        call_id,
        event.get("CC-Queue") or "",
        action == "bridge-agent-start",
        event.get("CC-Agent-UUID") or "",
    )


class EventPump:
    """Hands the inbound client's callcenter events to a queue a supervised loop drains."""

    def __init__(self, client: InboundClient) -> None:
        self.queue: asyncio.Queue[BridgeEvent] = asyncio.Queue()
        client.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        found = bridge_event(event)
        if found is not None:
            self.queue.put_nowait(found)
