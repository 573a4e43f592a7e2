"""Pacing of campaigns that hand answered calls to agents: the floor now, fed to the dial level.

The dialler asks :meth:`AgentPacing.room` each tick for an ``agent`` campaign; it answers the
pure :func:`campaigns.dial_level.decide` on:

- free agents of the campaign queue (``campaign@default``, :data:`AGENT_QUEUE`), read by
  :class:`EslFloorProbe` with ``callcenter_config queue list agents <queue> Available``
  (mod_callcenter's agent rows): an agent is free when its state is ``Waiting``, its wrap-up
  after the last call is over (``last_bridge_end + wrap_up_time`` before now, the dispatcher's
  own rule) and its ``ready_time`` has come. The probe failing counts as no free agent (no line
  is dialled on a floor it cannot see);
- the campaign's lines: claimed or ringing (the dialler's in-flight attempts not answered yet),
  answered and still waiting for an agent (answered, no ``bridge-agent-start`` with the leg's
  uuid as ``CC-Member-Session-UUID`` seen on the ESL events yet);
- the recent calls' results (answered, abandoned) kept per campaign in this process.

What an abandoned call hears is the flow's business (the shipped ``outbound_agent`` flow and
the ``queue_campaign`` extension: ``campaign_abandoned``); its disposition ``abandoned`` comes
back through the evidence chain and is retried like the others, gated at dial time.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from campaigns.dial_level import CallSample, DialLevel, DialLevelConfig, FloorNow, decide
from ivr.errors import IvrError
from telephony.esl import Event

log = logging.getLogger(__name__)

AGENT_QUEUE = "campaign"
MAX_SAMPLES = 5000
FLOOR_EVENT_NAMES = ("CUSTOM", "callcenter::info")
"""What the dialler's ESL client must subscribe to beside its own events."""


class FloorProbe(Protocol):
    async def free_agents(self, queue: str) -> int: ...


class ApiClient(Protocol):
    async def api(self, command: str, arg: str = "", *, timeout_s: float | None = None) -> str: ...


def free_in_listing(text: str, now: float) -> int:
    """Free agents in a ``queue list agents`` reply (pipe table with a header, ``+OK`` last)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].startswith("-ERR"):
        return 0
    head = lines[0].split("|")
    free = 0
    for line in lines[1:]:
        if line.startswith("+OK"):
            break
        row = dict(zip(head, line.split("|"), strict=False))
        try:
            ended = float(row.get("last_bridge_end") or 0)
            wrap = float(row.get("wrap_up_time") or 0)
            ready = float(row.get("ready_time") or 0)
        except ValueError:
            continue
        if (
            row.get("status") == "Available"
            and row.get("state") == "Waiting"
            and ended < now - wrap
            and ready <= now
        ):
            free += 1
    return free


class EslFloorProbe:
    """Free agents of a queue over the inbound ESL client (``clock``: the switch's epoch)."""

    def __init__(
        self,
        esl: ApiClient,
        *,
        domain: str = "default",
        clock: Callable[[], float] = time.time,
        timeout_s: float = 2.0,
    ) -> None:
        self.esl = esl
        self.domain = domain
        self.clock = clock
        self.timeout_s = timeout_s

    async def free_agents(self, queue: str) -> int:
        try:
            text = await self.esl.api(
                "callcenter_config",
                f"queue list agents {queue}@{self.domain} Available",
                timeout_s=self.timeout_s,
            )
        except (IvrError, OSError, TimeoutError) as exc:  # the floor unseen: no line
            log.warning("agent pacing: free agents of %s not read (%s)", queue, type(exc).__name__)
            return 0
        return free_in_listing(text, self.clock())


@dataclass
class _Lines:
    answered: set[str] = field(default_factory=set)
    bridged: set[str] = field(default_factory=set)
    samples: deque[CallSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))


class AgentPacing:
    """Per-campaign line tracking and the dial level (see the module docstring)."""

    def __init__(
        self, probe: FloorProbe, *, queue: str = AGENT_QUEUE, config: DialLevelConfig | None = None
    ) -> None:
        self.probe = probe
        self.queue = queue
        self.config = config or DialLevelConfig()
        self._lines: dict[str, _Lines] = {}
        self._campaign_of: dict[str, str] = {}
        self.last: dict[str, DialLevel] = {}

    def _of(self, campaign: str) -> _Lines:
        return self._lines.setdefault(campaign, _Lines())

    def on_event(self, event: Event) -> None:
        """ESL listener: ``bridge-agent-start`` of one of our answered legs."""
        if event.get("Event-Subclass") != "callcenter::info":
            return
        if event.get("CC-Action") != "bridge-agent-start":
            return
        uuid = event.get("CC-Member-Session-UUID") or ""
        campaign = self._campaign_of.get(uuid)
        if campaign is not None:
            self._of(campaign).bridged.add(uuid)

    def answered(self, campaign: str, attempt_id: str) -> None:
        self._of(campaign).answered.add(attempt_id)
        self._campaign_of[attempt_id] = campaign

    def ended(
        self, campaign: str, attempt_id: str, *, answered: bool, abandoned: bool, now: datetime
    ) -> None:
        lines = self._of(campaign)
        lines.answered.discard(attempt_id)
        lines.bridged.discard(attempt_id)
        self._campaign_of.pop(attempt_id, None)
        lines.samples.append(CallSample(now, answered, abandoned and answered))

    def floor(self, campaign: str, inflight: int, free_agents: int) -> FloorNow:
        lines = self._of(campaign)
        live = lines.answered
        waiting = len(live - lines.bridged)
        return FloorNow(free_agents, max(0, inflight - len(live)), waiting)

    async def room(self, campaign: str, target: float, inflight: int, now: datetime) -> int:
        """New lines the campaign may start now."""
        free = await self.probe.free_agents(self.queue)
        config = DialLevelConfig(
            target, self.config.horizon_s, self.config.min_samples, self.config.max_level
        )
        decision = decide(
            self.floor(campaign, inflight, free), self._of(campaign).samples, config, now
        )
        self.last[campaign] = decision
        return decision.launch
