"""What the dialler's parts share: its configuration, its counters, the gate it needs, timings.

:class:`DiallerConfig` (endpoint template, originate timeout, bot capacity, lease, worker id),
:class:`DiallerStats` (what this process did, for ``/healthz``, ``ivr campaign status`` and the
bench) and :class:`Gatekeeper` (the compliance service's dial-time check-and-permit and rules)
are used by the claim loop (:mod:`campaigns.dialler`), one attempt's run
(:mod:`campaigns.attempt`) and the outcome recorder (:mod:`campaigns.recorder`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from compliance.decision import GateRequest
from compliance.gate import GateAnswer
from compliance.rules import RuleSet

TICK_S = 0.1
STATE_POLL_S = 0.2
HOUSEKEEPING_S = 2.0
LEASE_S = 30.0
PACING_WAIT_S = 2.0
STORE_RETRY_S = 2.0
OUTCOME_WAIT_S = 5.0
MAX_CLAIM = 200


class Gatekeeper(Protocol):
    """What the dialler needs of the compliance service."""

    async def check_and_permit(self, request: GateRequest) -> GateAnswer: ...

    def rules_at(self, now: datetime | None = None) -> RuleSet: ...


@dataclass(frozen=True, slots=True)
class DiallerConfig:
    endpoint: str = "sofia/gateway/carrier/{national}"
    originate_timeout_s: int = 30
    bot_capacity: int = 200
    max_call_s: float = 3600.0
    lease_s: float = LEASE_S
    lost_originate_wait_s: float = 300.0
    """How long an attempt whose originate result was lost waits for the switch to be asked
    (``uuid_exists``) before it is left open for recovery (:mod:`campaigns.attempt`)."""
    worker_id: str = field(default_factory=lambda: f"dialler-{uuid.uuid4().hex[:8]}")


@dataclass
class DiallerStats:
    """What this process did (for ``ivr campaign status`` and the bench)."""

    claimed: int = 0
    originated: int = 0
    requeued: int = 0
    denied: int = 0
    finished: int = 0
    claim_to_originate_s: list[float] = field(default_factory=list)
