"""Call routing (switch_ivr): ``bridge`` to an agent or a dial string, ``transfer`` in the dialplan.

``transfer <extension> [<dialplan> [<context>]]`` (the context defaults to the channel's): the
running socket application ends, the channel's ``destination_number`` becomes the extension and
the dialplan routes it again (see :class:`telephony.simulator.outbound.SimulatedCall`).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

from telephony.simulator.fsstrings import separate_string

if TYPE_CHECKING:
    from telephony.simulator.agent_leg import AgentLeg
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall


async def talk_to_agent(call: SimulatedCall, app: str, leg: AgentLeg | None = None) -> bool:
    """CHANNEL_BRIDGE, the agent talks (on ``leg``, mod_callcenter's agent leg, when given:
    at least until its speech went out), CHANNEL_UNBRIDGE; True if the caller hung up."""
    other = leg.uuid if leg is not None else str(uuidlib.uuid4())
    legs = [("Bridge-A-Unique-ID", call.channel.uuid), ("Bridge-B-Unique-ID", other)]
    call.emit("CHANNEL_BRIDGE", legs)
    talk = call.script.agent_talk_ms
    hung = await call.caller_hangs_up_during(app, talk) or await call.clock.sleep(talk)
    if not hung and leg is not None:
        await leg.said()
    call.emit("CHANNEL_UNBRIDGE", legs)
    call.channel.variables["last_bridge_hangup_cause"] = "NORMAL_CLEARING"
    return hung


async def bridge(call: SimulatedCall, arg: str) -> str:
    hung = await talk_to_agent(call, "bridge")
    return "_none_" if not hung else "ORIGINATOR_CANCEL"


async def transfer(call: SimulatedCall, arg: str) -> str:
    argv = separate_string(arg)
    if not argv:
        return "_none_"
    extension = argv[0]
    dialplan = argv[1] if len(argv) > 1 else "XML"
    context = argv[2] if len(argv) > 2 else call.channel.context
    call.channel.variables["transfer_destination"] = arg
    call.transfer_to = (extension, dialplan, context)
    return "_none_"


APPLICATIONS: dict[str, Application] = {"bridge": bridge, "transfer": transfer}
