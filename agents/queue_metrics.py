"""Queue figures from mod_callcenter's own events (adapter): how long callers waited before an
agent answered, how many left first (abandoned) and how many timed out to a callback ticket.

``bridge-agent-start`` observes the wait (now minus ``CC-Member-Joined-Time``) in
``ivr_queue_wait_seconds{queue}``; ``member-queue-end`` with ``CC-Cause: Cancel`` counts
``ivr_queue_abandoned_total`` when the caller hung up (reason ``NONE``/``BREAK_OUT``) or
``ivr_queue_timeouts_total`` for ``TIMEOUT``/``NO_AGENT_TIMEOUT``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.metrics import QUEUE_ABANDONED, QUEUE_ANSWERED, QUEUE_TIMEOUTS, QUEUE_WAIT
from telephony.esl import Event


def _queue(event: Event) -> str:
    return (event.get("CC-Queue") or "unknown").split("@", 1)[0]


@dataclass
class QueueMetrics:
    """An inbound ESL listener feeding the queue metrics."""

    clock: Callable[[], float] = time.time
    answered: int = field(default=0)
    abandoned: int = field(default=0)

    def on_event(self, event: Event) -> None:
        if event.get("Event-Subclass") != "callcenter::info":
            return
        action = event.get("CC-Action")
        queue = _queue(event)
        if action == "bridge-agent-start":
            joined = event.get("CC-Member-Joined-Time") or ""
            if joined.isdigit():
                QUEUE_WAIT.labels(queue=queue).observe(max(0.0, self.clock() - int(joined)))
            QUEUE_ANSWERED.labels(queue=queue).inc()
            self.answered += 1
        elif action == "member-queue-end" and event.get("CC-Cause") == "Cancel":
            reason = event.get("CC-Cancel-Reason") or "NONE"
            if reason in ("TIMEOUT", "NO_AGENT_TIMEOUT"):
                QUEUE_TIMEOUTS.labels(queue=queue, reason=reason.lower()).inc()
            else:
                QUEUE_ABANDONED.labels(queue=queue).inc()
                self.abandoned += 1
