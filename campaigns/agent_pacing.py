"""Pacing of campaigns that hand answered calls to agents: the floor now, fed to the dial level.

The dialler asks :meth:`AgentPacing.reserve` each tick for an ``agent`` campaign; it decides
with the pure :func:`campaigns.dial_level.decide` on:

- free agents of the campaign queue (``campaign@default``, :data:`AGENT_QUEUE`), read by
  :class:`EslFloorProbe` with ``callcenter_config queue list agents <queue> Available``
  (mod_callcenter's agent rows): an agent is free when its state is ``Waiting``, its wrap-up
  after the last call is over (``last_bridge_end + wrap_up_time`` before now, the dispatcher's
  own rule) and its ``ready_time`` has come. The probe failing counts as no free agent (no line
  is dialled on a floor it cannot see);
- the campaign's lines across every dialler process (:mod:`campaigns.agent_lines`: Redis, or
  in memory for one process): claimed or ringing (in flight, not answered yet), answered and
  still waiting for an agent (answered, no ``bridge-agent-start`` with the leg's uuid as
  ``CC-Member-Session-UUID`` seen on the ESL events yet);
- the campaign's recent calls' results (answered, abandoned), shared the same way;

and takes the lines it allows in one atomic step that counts every dialler's live lines at that
instant (:meth:`campaigns.agent_lines.AgentLines.reserve`): two diallers on one campaign together
never have more lines than the level allows, and neither loses its tick to the other; when an
answer or a call's end moved the level's inputs meanwhile, the reply carries the fresh state and
the level is decided again on it at once, within the tick. The claim then binds them to the
claimed attempts (:meth:`AgentPacing.bind`); an attempt's end releases its line with its result.

What an abandoned call hears is the flow's business (the shipped ``outbound_agent`` flow and
the ``queue_campaign`` extension: ``campaign_abandoned``); its disposition ``abandoned`` comes
back through the evidence chain and is retried like the others, gated at dial time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from campaigns.agent_lines import AgentLines, LinesSnapshot
from campaigns.dial_level import CallSample, DialLevel, DialLevelConfig, FloorNow, decide
from campaigns.dialler_config import TICK_S
from ivr.errors import IvrError, StoreUnavailableError
from telephony.esl import Event

log = logging.getLogger(__name__)

AGENT_QUEUE = "campaign"
RESERVE_BUDGET_S = TICK_S
"""How long one tick's reservation may keep deciding again on fresh state (the level's inputs
moving between each reply and the next request: answers and ends landing every round trip)."""
RESERVATION_S = 10.0
"""A reservation's lease: the claim binds it to attempts well within this."""
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


@dataclass(frozen=True, slots=True)
class Reservation:
    """Lines taken for a claim (``tokens``), and the decision that allowed them."""

    campaign: str
    tokens: tuple[str, ...]
    decision: DialLevel | None = None

    @property
    def size(self) -> int:
        return len(self.tokens)


def floor_of(snapshot: LinesSnapshot, free_agents: int) -> FloorNow:
    """The floor the dial level decides on: the switch's free agents, and the campaign's lines
    across every dialler (ringing = in flight, not answered)."""
    return FloorNow(free_agents, max(0, snapshot.lines - snapshot.answered), snapshot.waiting)


class AgentPacing:
    """The dial level of agent campaigns on lines shared by every dialler (module docstring).

    ``lines``: :class:`campaigns.agent_lines.RedisAgentLines` across processes, or
    :class:`campaigns.agent_lines.LocalAgentLines` for one process."""

    def __init__(
        self,
        probe: FloorProbe,
        lines: AgentLines,
        *,
        queue: str = AGENT_QUEUE,
        config: DialLevelConfig | None = None,
    ) -> None:
        self.probe = probe
        self.lines = lines
        self.queue = queue
        self.config = config or DialLevelConfig()
        self._campaign_of: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.last: dict[str, DialLevel] = {}

    def on_event(self, event: Event) -> None:
        """ESL listener: ``bridge-agent-start`` of one of this dialler's answered legs."""
        if event.get("Event-Subclass") != "callcenter::info":
            return
        if event.get("CC-Action") != "bridge-agent-start":
            return
        uuid = event.get("CC-Member-Session-UUID") or ""
        campaign = self._campaign_of.get(uuid)
        if campaign is not None:
            task = asyncio.get_running_loop().create_task(self._bridged(campaign, uuid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _bridged(self, campaign: str, uuid: str) -> None:
        try:
            await self.lines.bridged(campaign, uuid)
        except StoreUnavailableError as exc:  # the line's lease lapses; the level stays safe
            log.warning("agent pacing: bridge of a line not recorded (%s)", exc)

    async def reserve(self, campaign: str, target: float, want: int, now: datetime) -> Reservation:
        """Lines the campaign may start now (at most ``want``), taken for the claim."""
        if want <= 0:
            return Reservation(campaign, ())
        free = await self.probe.free_agents(self.queue)
        config = DialLevelConfig(
            target, self.config.horizon_s, self.config.min_samples, self.config.max_level
        )
        since = now - timedelta(seconds=config.horizon_s)
        deadline = time.monotonic() + RESERVE_BUDGET_S
        try:
            snap = await self.lines.snapshot(campaign, since, now)
            while True:
                decision = decide(floor_of(snap, free), snap.recent, config, now)
                self.last[campaign] = decision
                n = min(want, decision.launch)
                if n <= 0:
                    return Reservation(campaign, (), decision)
                tokens = tuple(f"r-{uuidlib.uuid4().hex}" for _ in range(n))
                got = await self.lines.reserve(
                    campaign, snap.version, decision.lines, tokens, RESERVATION_S,
                    since=since, now=now,
                )  # fmt: skip
                if got.fresh is None:
                    return Reservation(campaign, got.taken, decision)
                snap = got.fresh  # an answer or an end moved the level: decide again on it
                if time.monotonic() > deadline:
                    log.warning("agent pacing: the level of %s kept moving for a whole tick; "
                                "no line this tick", campaign)  # fmt: skip
                    return Reservation(campaign, (), decision)
        except StoreUnavailableError as exc:  # fail closed: no line
            log.warning("agent pacing: lines of %s not read (%s); none started", campaign, exc)
        return Reservation(campaign, ())

    async def bind(
        self, reservation: Reservation, attempt_ids: Sequence[str], lease_s: float
    ) -> None:
        """The reservation's lines become the claimed attempts' (the unused ones are freed)."""
        if not reservation.tokens:
            return
        try:
            await self.lines.bind(reservation.campaign, reservation.tokens, attempt_ids, lease_s)
        except StoreUnavailableError as exc:  # the tokens lapse in RESERVATION_S
            log.warning("agent pacing: reservation not bound (%s)", exc)

    async def answered(self, campaign: str, attempt_id: str, lease_s: float) -> None:
        self._campaign_of[attempt_id] = campaign
        try:
            await self.lines.answered(campaign, attempt_id, lease_s)
        except StoreUnavailableError as exc:
            log.warning("agent pacing: answer not recorded (%s)", exc)

    async def ended(
        self, campaign: str, attempt_id: str, *, answered: bool, abandoned: bool, now: datetime
    ) -> None:
        """A dialled line's end and result (counted once per attempt)."""
        self._campaign_of.pop(attempt_id, None)
        sample = CallSample(now, answered, abandoned and answered)
        try:
            await self.lines.ended(campaign, attempt_id, sample)
        except StoreUnavailableError as exc:
            log.warning("agent pacing: call end not recorded (%s)", exc)

    async def release(self, campaign: str, attempt_id: str) -> None:
        """The attempt holds no line any more (put back, closed, or ended)."""
        self._campaign_of.pop(attempt_id, None)
        try:
            await self.lines.ended(campaign, attempt_id, None)
        except StoreUnavailableError as exc:  # its lease lapses
            log.warning("agent pacing: line not released (%s)", exc)

    async def renew(self, campaign: str, attempt_ids: Iterable[str], lease_s: float) -> None:
        await self.lines.renew(campaign, attempt_ids, lease_s)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.lines.close()
