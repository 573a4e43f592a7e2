"""The floor's side of a call (:class:`flows.ports.FloorHooks`) and of the switch.

:class:`FloorHooksAdapter` is what the orchestrator calls: at hand-off the screen pop is kept and
the CRM hears ``escalation`` (and anti-fraud ``high_risk`` for a flagged caller); at the end
the call's work tickets are written and each new one is a ``ticket_created`` webhook.
:func:`follow_switch` is the supervised loop of the console process: every bridge mod_callcenter
reports moves the agent's desk and pushes the screen pop to the agent's page.
"""

from __future__ import annotations

import logging

from agents.desk import AgentDesk
from agents.screenpop import ScreenPops, flags_for
from agents.switch import EventPump
from agents.webhooks import WebhookOutbox
from agents.work_tickets import WorkTickets
from flows.ports import CallReport, Handoff
from ivr.metrics import WORK_TICKETS

log = logging.getLogger(__name__)


class FloorHooksAdapter:
    """:class:`flows.ports.FloorHooks` over the screen pops, work tickets and webhook outbox."""

    def __init__(
        self,
        pops: ScreenPops,
        tickets: WorkTickets,
        outbox: WebhookOutbox | None,
    ) -> None:
        self._pops = pops
        self._tickets = tickets
        self._outbox = outbox

    async def handed_off(self, handoff: Handoff) -> None:
        await self._pops.handed_off(handoff)
        flags = flags_for(handoff.queue, handoff.reason, handoff.intent)
        if self._outbox is not None:
            payload = {
                "queue": handoff.queue,
                "priority": handoff.priority,
                "reason": handoff.reason,
                "intent": handoff.intent,
                "flags": list(flags),
                "number": handoff.customer.masked if handoff.customer else None,
            }
            await self._outbox.enqueue("escalation", payload, handoff.call_id)
            if "high_risk" in flags:
                await self._outbox.enqueue("high_risk", payload, handoff.call_id)

    async def call_finished(self, report: CallReport) -> None:
        created = await self._tickets.write(report)
        for ticket in created:
            WORK_TICKETS.labels(kind=ticket.kind).inc()
            if self._outbox is not None:
                await self._outbox.enqueue(
                    "ticket_created",
                    {
                        "ticket_id": ticket.id,
                        "kind": ticket.kind,
                        "category": ticket.category,
                        "team": ticket.team,
                        "number": ticket.masked_number,
                        "recording_ref": ticket.recording_ref,
                    },
                    report.call_id,
                )


async def follow_switch(pump: EventPump, desk: AgentDesk, pops: ScreenPops) -> None:
    """Apply every bridge event to the desks and the agents' screens (runs supervised)."""
    while True:
        event = await pump.queue.get()
        await desk.on_bridge(event)
        if event.started:
            await pops.reached_agent(event.agent, event.call_id)
