"""mod_callcenter's ``callcenter <queue>`` for the member (caller) leg.

With an agent available (:attr:`CallerScript.agent_available`, and not
:attr:`CallerScript.agent_taken_meanwhile`) the caller is bridged to one
(``cc_cause=answered``) and, with ``hangup_after_bridge=true``, hung up when the agent ends.
With none, the member leaves after ``max-wait-time-with-no-agent`` plus
``max-wait-time-with-no-agent-time-reached`` seconds (``max-wait-time`` caps any wait):
``cc_cause=cancel``, ``cc_cancel_reason=NO_AGENT_TIMEOUT`` (or ``TIMEOUT``), and the dialplan goes
on with the next action (the shipped dialplan: ``transfer callback_ticket XML ivr``).
Queue settings come from the dialplan's ``callcenter.conf`` (0 = no limit).

With the switch's :class:`~telephony.simulator.callcenter.CallCenter` the member joins its
model instead (``cc_base_score`` its priority, ``cc_export_vars`` what the agent's events
carry) and waits until the dispatcher bridges it to an agent, ``max-wait-time`` passes
(``TIMEOUT``) or no agent is present for ``max-wait-time-with-no-agent`` (``NO_AGENT_TIMEOUT``);
the agent talks :attr:`CallerScript.agent_talk_ms` (and says :attr:`CallerScript.agent_speech`
into its leg's audio fork, if one runs), then its leg hangs up and the agent's wrap-up begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid as uuidlib
from typing import TYPE_CHECKING

from telephony.simulator.apps.bridge import talk_to_agent
from telephony.simulator.callcenter import CallCenter, Member
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
    if call.callcenter is not None:
        queue = call.callcenter.queues.get(name, queue)
        await _queue_in_model(call, call.callcenter, name, queue)
        return "_none_"
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


POLL_S = 0.005  # wall seconds between the member's looks at the dispatcher


async def _queue_in_model(
    call: SimulatedCall, center: CallCenter, name: str, queue: QueueConfig
) -> None:
    variables = call.channel.variables
    exported = [v.strip() for v in variables.get("cc_export_vars", "").split(",") if v.strip()]
    score = variables.get("cc_base_score", "0")
    member = center.join(
        name,
        call.channel.uuid,
        call.channel.caller,
        base_score=int(score) if score.lstrip("-").isdigit() else 0,
        exported={k: variables[k] for k in exported if k in variables},
        agent_speech=call.script.agent_speech,
        time_scale=call.scale,
    )
    variables["cc_member_uuid"] = member.uuid
    reason = await _wait_for_agent(call, center, member, queue)
    if reason is None:
        variables["cc_agent"] = member.agent or ""
        leg = member.leg
        if leg is not None:
            variables["cc_agent_uuid"] = leg.uuid
        hung = await talk_to_agent(call, "callcenter", leg)
        if leg is not None:
            await leg.hang_up()
        center.bridge_end(member)
        if hung:
            return
        variables["cc_cause"] = "answered"
        if variables.get("hangup_after_bridge", "").lower() == "true":
            call.start_hangup("NORMAL_CLEARING", "dialplan")
        return
    center.cancel(member, reason)
    if call.channel.hangup_cause is None:
        variables.update(
            cc_cause="cancel",
            cc_cancel_reason=reason,
            cc_queue_canceled_epoch=str(int(time.time())),
        )


async def _wait_for_agent(
    call: SimulatedCall, center: CallCenter, member: Member, queue: QueueConfig
) -> str | None:
    """``None`` once bridged, else the cancel reason (``NONE`` when the caller hung up)."""
    alone_since: float | None = None
    while True:
        center.dispatch()
        if member.agent is not None:
            return None
        now = center.now()
        if queue.max_wait > 0 and now - member.joined >= queue.max_wait:
            return "TIMEOUT"
        if queue.max_wait_no_agent > 0 and center.agents_present(member.queue) == 0:
            alone_since = now if alone_since is None else alone_since
            if now - alone_since >= queue.max_wait_no_agent:
                return "NO_AGENT_TIMEOUT"
        else:
            alone_since = None
        if call.clock.hungup.is_set():
            return "NONE"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.clock.hungup.wait(), POLL_S)


APPLICATIONS: dict[str, Application] = {"callcenter": callcenter}
