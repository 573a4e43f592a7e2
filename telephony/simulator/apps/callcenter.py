"""mod_callcenter's ``callcenter <queue>`` for the member (caller) leg.

With an agent available (:attr:`CallerScript.agent_available`, and not
:attr:`CallerScript.agent_taken_meanwhile`) the caller is bridged to one
(``cc_cause=answered``) and, with ``hangup_after_bridge=true``, hung up when the agent ends.
With none, the member leaves after ``max-wait-time-with-no-agent`` plus
``max-wait-time-with-no-agent-time-reached`` seconds (``max-wait-time`` caps any wait):
``cc_cause=cancel``, ``cc_cancel_reason=NO_AGENT_TIMEOUT`` (or ``TIMEOUT``), and the dialplan goes
on with the next action (the shipped dialplan: ``transfer callback_ticket XML ivr``).
Queue settings come from the dialplan's ``callcenter.conf`` (0 = no limit).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import TYPE_CHECKING

from telephony.simulator.apps.bridge import talk_to_agent
from telephony.simulator.dialplan import QueueConfig

if TYPE_CHECKING:
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall


async def callcenter(call: SimulatedCall, arg: str) -> str:
    name = arg.split(" ", 1)[0]
    queue = call.dialplan.queues.get(name) if call.dialplan is not None else None
    queue = queue or QueueConfig(name)
    variables = call.channel.variables
    variables.update(
        cc_queue=name,
        cc_member_uuid=str(uuidlib.uuid4()),
        cc_member_session_uuid=call.channel.uuid,
        cc_queue_joined_epoch=str(int(time.time())),
    )
    if call.script.agent_available and not call.script.agent_taken_meanwhile:
        variables["cc_agent"] = "agent@default"
        if await talk_to_agent(call, "callcenter"):
            return "_none_"
        variables["cc_cause"] = "answered"
        if variables.get("hangup_after_bridge", "").lower() == "true":
            call.start_hangup("NORMAL_CLEARING", "dialplan")
        return "_none_"
    reason, wait_s = "NO_AGENT_TIMEOUT", 0
    if queue.max_wait_no_agent > 0:
        wait_s = queue.max_wait_no_agent + queue.max_wait_no_agent_time_reached
    if queue.max_wait > 0 and (wait_s == 0 or queue.max_wait < wait_s):
        reason, wait_s = "TIMEOUT", queue.max_wait
    if wait_s == 0:
        await call.clock.hungup.wait()
        return "_none_"
    if await call.clock.sleep(wait_s * 1000):
        return "_none_"
    variables.update(
        cc_cause="cancel",
        cc_cancel_reason=reason,
        cc_queue_canceled_epoch=str(int(time.time())),
    )
    return "_none_"


APPLICATIONS: dict[str, Application] = {"callcenter": callcenter}
