"""What happens to a simulated originate before answer, and the switch's own originate log.

:class:`DialOutcome` is one leg's fate: ring for ``ring_s`` seconds, then answer (and play its
:class:`CallerScript`) or fail with a hangup cause (``USER_BUSY``, ``NO_ANSWER``,
``CALL_REJECTED`` for a SIP 603 Decline, ``UNALLOCATED_NUMBER``...). As in FreeSWITCH, a leg
that would ring longer than its ``originate_timeout`` channel variable fails with
``NO_ANSWER`` when the timeout expires. :class:`OutcomeMix` draws outcomes from configured
probabilities and ring times (seeded), with per-number behaviour overriding the draw.

:class:`OriginateRecord` is one entry of :attr:`InboundSwitch.originate_log`: every originate
the switch received, with its variables, destination, outcome and start/end times, so a test
or a benchmark can audit a dialler independently of the dialler's own records.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from telephony.simulator.originate import OriginateRequest
from telephony.simulator.script import CallerScript

ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """``cause`` None: the leg answers after ``ring_s``; else it fails with ``cause``."""

    cause: str | None = None
    ring_s: float = 0.0
    script: CallerScript | None = None


@dataclass
class OutcomeMix:
    """Outcomes by probability (the rest answers), ring times uniform in ``ring_s``, and
    ``per_number`` (the destination's digits → outcome) taking precedence."""

    busy: float = 0.0
    no_answer: float = 0.0
    reject: float = 0.0
    fail: float = 0.0
    ring_s: tuple[float, float] = (0.0, 0.0)
    per_number: Mapping[str, DialOutcome] = field(default_factory=dict)
    seed: int = 14
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.busy + self.no_answer + self.reject + self.fail > 1.0:
            raise ValueError("outcome probabilities add up to more than 1")
        self._rng = random.Random(self.seed)

    def __call__(self, request: OriginateRequest, destination: str) -> DialOutcome:
        fixed = self.per_number.get(destination)
        if fixed is not None:
            return fixed
        ring = self._rng.uniform(*self.ring_s)
        x = self._rng.random()
        for p, cause in (
            (self.busy, "USER_BUSY"),
            (self.no_answer, "NO_ANSWER"),
            (self.reject, "CALL_REJECTED"),
            (self.fail, "NORMAL_TEMPORARY_FAILURE"),
        ):
            if x < p:
                return DialOutcome(cause, ring)
            x -= p
        return DialOutcome(None, ring)


@dataclass
class OriginateRecord:
    """One originate as the switch saw it (times are the switch's event-loop clock)."""

    uuid: str
    destination: str
    endpoint: str
    variables: dict[str, str]
    received_at: float
    outcome: str = "pending"  # answered, or the hangup cause
    ended_at: float | None = None
