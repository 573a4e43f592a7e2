"""Handing the caller on: to a human queue, to a callback, to a CRM (webhooks).

- a transfer checks for a free agent first (:meth:`CallControl.free_agents`); none free → the
  flow's callback ticket (invariant 7). The app sets ``ivr_call_id``, ``ivr_flow`` and
  ``ivr_queue_reason`` on the channel before the queue (they come back with it);
- a transfer to the ``campaign`` queue (agent campaigns: the dialler paced the call for an
  agent) that finds no agent, or waits past the queue's ``max-wait-time`` (the allowed seconds;
  the shipped ``queue_campaign`` extension brings the channel back through
  ``campaign_abandoned``), is an abandoned call: the caller hears ``campaign_abandoned`` (who
  calls, the bot's ID, why, that we call back), ``call_ended`` says ``abandoned`` and the
  dialler retries the number, gated at dial time;
- a queue that times out (``max-wait-time-with-no-agent``) sends the channel back to the app
  through the shipped ``callback_ticket`` extension on the same uuid: :meth:`Handoff.after_queue`
  continues that call (issue 13 item 4): it books the callback, says so and hangs up; the first
  session, lingering, ends the call once (``call_ended`` reason ``queue_timeout_callback``);
- a callback ticket for a caller without a usable number cannot be opened
  (:class:`~campaigns.callbacks.NoNumberToCallBack`): ``callback_unavailable`` evidence and the
  ``callback_no_number`` notice, never a promise nobody can keep;
- speech output failing altogether: the general queue, never silence;
- webhooks (CRM, credit, anti-fraud): JSON or the node's failure branch.
"""

from __future__ import annotations

import contextlib
import logging

from campaigns.callbacks import NoNumberToCallBack
from flows.call import CallDeps, CallFacts, handoff_card, tell_floor
from flows.channel_vars import CALL_ID, FLOW, QUEUE_REASON
from flows.interpreter import (
    CallWebhook,
    Done,
    OpenCallbackTicket,
    TransferCall,
    TransferOutcome,
    WebhookResult,
)
from flows.speaking import Speaker
from ivr.errors import DependencyUnavailableError
from ivr.evidence import EvidenceKind
from telephony.call_control import CallControl
from telephony.errors import CallEndedError
from telephony.session import CallSession

log = logging.getLogger(__name__)
AFTER_QUEUE_NODE = "after_queue"
CAMPAIGN_QUEUE = "campaign"
ABANDONED = "abandoned"


def queue_variables(call: CallFacts, reason: str) -> dict[str, str]:
    """What comes back with the channel if the queue times out (``cc_export_vars``)."""
    return {CALL_ID: call.call_id, FLOW: call.flow.name, QUEUE_REASON: reason}


def came_back_for_a_callback(session: CallSession) -> bool:
    """The channel hung up after the ``callback_ticket`` extension brought it back to the app
    (its hang-up event carries ``ivr_callback_requested``)."""
    event = session.hangup_event
    return event is not None and (event.get("variable_ivr_callback_requested") or "") == "true"


def came_back_abandoned(session: CallSession) -> bool:
    """The channel hung up after the ``campaign_abandoned`` extension brought it back."""
    event = session.hangup_event
    return event is not None and (event.get("variable_ivr_abandoned") or "") == "true"


class Handoff:
    """Transfers, callback tickets and webhooks of one call."""

    def __init__(self, deps: CallDeps, speaker: Speaker, control: CallControl) -> None:
        self.deps = deps
        self.speaker = speaker
        self.control = control

    async def transfer(
        self, session: CallSession, call: CallFacts, step: TransferCall
    ) -> TransferOutcome:
        free = await self.control.free_agents(step.queue)
        await self.deps.record(
            EvidenceKind.ESCALATED,
            call,
            queue=step.queue,
            priority=step.priority,
            reason=step.reason,
            agent_free=free > 0,
            source="ivr",
        )
        call.escalations.append((step.queue, step.priority, step.reason))
        if free == 0:
            if step.queue == CAMPAIGN_QUEUE:
                call.ended_reason = ABANDONED
            self.deps.note(
                call,
                "ivr",
                f"no free agent in {step.queue}",
                "callback ticket next",
                code="call.no_free_agent",
                detail_code="call.callback_next",
                params={"queue": step.queue},
            )
            return TransferOutcome(connected=False)
        if step.notice is not None:
            await self.speaker.speak(session, call, step.notice)
        self.deps.note(
            call,
            "ivr",
            f"transfer → {step.queue}",
            f"priority {step.priority}, {step.reason}",
            code="call.transfer",
            detail_code="call.transfer_detail",
            params={"queue": step.queue, "priority": step.priority, "reason": step.reason},
        )
        if self.deps.floor is not None:
            card = handoff_card(call, step.queue, step.priority, step.reason, self.deps.clock())
            await tell_floor(self.deps.floor.handed_off(card))
        await session.enqueue(
            step.queue, priority=step.priority >= 8, variables=queue_variables(call, step.reason)
        )
        call.ended_reason = f"transferred_{step.queue}"
        return TransferOutcome(connected=True)

    async def emergency_human(self, session: CallSession, call: CallFacts) -> None:
        """Speech output failed: the general queue, never silence (transfer needs no prompt)."""
        call.ended_reason = "tts_unavailable"
        with contextlib.suppress(CallEndedError):
            await self.deps.record(
                EvidenceKind.ESCALATED,
                call,
                queue="general",
                priority=5,
                reason="tts_unavailable",
                source="ivr",
            )
            self.deps.note(
                call,
                "ivr",
                "transfer → general",
                "tts unavailable",
                code="call.transfer",
                detail_code="call.tts_unavailable",
                params={"queue": "general"},
            )
            await session.enqueue("general", variables=queue_variables(call, "tts_unavailable"))

    async def ticket(self, session: CallSession, call: CallFacts, step: OpenCallbackTicket) -> Done:
        """A callback ticket, or, for a caller without a usable number, the notice that none
        can be booked."""
        outcome = await self.deps.tickets.open(
            call_id=call.call_id,
            number=call.customer_number,
            queue=step.queue,
            reason=step.reason,
            now=self.deps.clock(),
        )
        notice = step.notice
        if isinstance(outcome, NoNumberToCallBack):
            await self.deps.record(
                EvidenceKind.CALLBACK_UNAVAILABLE,
                call,
                queue=step.queue,
                reason=step.reason,
                why="no_usable_number",
            )
            self.deps.note(
                call,
                "ivr",
                "no callback: the caller has no usable number",
                code="call.no_callback_number",
            )
            notice = self.speaker.fixed_prompt(call, "callback_no_number", step.node)
        else:
            await self.deps.record(
                EvidenceKind.CALLBACK_SCHEDULED, call, queue=step.queue, reason=step.reason
            )
            self.deps.note(
                call,
                "ivr",
                f"callback ticket ({step.queue})",
                step.reason,
                code="call.callback_ticket",
                params={"queue": step.queue},
            )
        if notice is not None:
            await self.speaker.speak(session, call, notice)
        return Done()

    async def after_queue(self, session: CallSession, call: CallFacts) -> None:
        """The call came back from a queue that timed out: book the callback, say so, hang up.
        No second disclosure, ``call_started``, ``call_ended`` or recording."""
        exit_ = session.queue_exit
        if session.is_abandoned_return:
            await self.abandoned(session, call)
            return
        queue = exit_.queue.split("@", 1)[0] if exit_ is not None else "general"
        reason = session.variable(QUEUE_REASON) or "no_agent_free"
        call.last_node = AFTER_QUEUE_NODE
        log.info(
            "call %s: back from queue %s (%s); booking a callback",
            call.call_id,
            queue,
            exit_.cancel_reason if exit_ is not None else "?",
        )
        notice = self.speaker.fixed_prompt(call, "callback_ticket", AFTER_QUEUE_NODE)
        await self.ticket(
            session, call, OpenCallbackTicket(AFTER_QUEUE_NODE, queue, reason, notice)
        )
        await session.hangup("NORMAL_CLEARING")

    async def abandoned(self, session: CallSession, call: CallFacts) -> None:
        """Back from the campaign queue with no agent in time: the compliant message, hang up
        (the dialler calls back; no ticket for the floor)."""
        call.last_node = AFTER_QUEUE_NODE
        log.info("call %s: no agent within the campaign queue's wait; abandoned", call.call_id)
        notice = self.speaker.fixed_prompt(call, "campaign_abandoned", AFTER_QUEUE_NODE)
        if notice is not None:
            await self.speaker.speak(session, call, notice)
        await session.hangup("NORMAL_CLEARING")

    async def webhook(self, call: CallFacts, step: CallWebhook) -> WebhookResult:
        try:
            data = await self.deps.webhooks.call(step.method, step.url, step.body, step.timeout_s)
        except DependencyUnavailableError as exc:
            log.warning("call %s: webhook at node %s failed: %s", call.call_id, step.node, exc)
            self.deps.note(
                call,
                "ivr",
                f"webhook {step.node} failed",
                str(exc),
                code="call.webhook_failed",
                params={"node": step.node},
            )
            return WebhookResult(ok=False)
        self.deps.note(
            call,
            "ivr",
            f"webhook {step.node} ok",
            ", ".join(sorted(data)),
            code="call.webhook_ok",
            params={"node": step.node},
        )
        return WebhookResult(ok=True, data=data)
