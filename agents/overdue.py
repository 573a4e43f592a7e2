"""Overdue callback alerts (adapter): each overdue ticket raises one alert, where people look.

:class:`OverdueAlerts` is the :data:`agents.callbacks.OverdueAlert` the floor's supervised
``floor-callbacks`` loop calls once per ticket past its due time: a warning log line (ticket id,
masked number, queue, due time; never the number), the Prometheus counter
``ivr_callbacks_overdue_alerts_total{queue}`` (the gauge ``ivr_callbacks_overdue`` and the
``CallbacksOverdue`` alerting rule read the same tickets), and, when Redis is configured, an event
on the ``alerts`` topic of the event bus (``ivr.events``) for the supervisor view and any
bridge to a pager. A publish that fails raises: the ticket is then not marked alerted, and the
supervised loop alerts it again on its next round, so no alert is lost to a Redis outage.
"""

from __future__ import annotations

import logging

from agents.callbacks import CallbackItem
from ivr.events import EventBus
from ivr.metrics import CALLBACK_OVERDUE_ALERTS

log = logging.getLogger(__name__)
ALERTS = "alerts"
"""The event-bus topic of operational alerts."""


class OverdueAlerts:
    """Log, count and (with a bus) publish one overdue ticket."""

    def __init__(self, bus: EventBus | None) -> None:
        self._bus = bus

    async def __call__(self, item: CallbackItem) -> None:
        if self._bus is not None:
            await self._bus.publish(
                ALERTS,
                {
                    "kind": "callback_overdue",
                    "ticket_id": item.ticket_id,
                    "queue": item.queue,
                    "due_at": item.due_at.isoformat(),
                },
            )
        CALLBACK_OVERDUE_ALERTS.labels(queue=item.queue).inc()
        log.warning(
            "callback ticket %s (%s, queue %s) is overdue since %s",
            item.ticket_id,
            item.masked_number,
            item.queue,
            item.due_at.isoformat(),
        )

    async def aclose(self) -> None:
        if self._bus is not None:
            await self._bus.close()
