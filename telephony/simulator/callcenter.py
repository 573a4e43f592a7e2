"""The simulated mod_callcenter: agents, tiers, queues and the members waiting in them.

What the product relies on, as ``mod_callcenter.c`` does it:

- an agent has a **status** (``Logged Out``, ``Available``, ``Available (On Demand)``,
  ``On Break``) and a **state** (``Waiting``, ``Receiving``, ``In a queue call``, ``Idle``);
  a tier (queue x agent, ``level``/``position``) has a state (``Ready``, ``Offering``,
  ``Active Inbound``, ``Standby``, ``No Answer``);
- the dispatcher walks every waiting member of every queue by **score** (highest first:
  ``cc_base_score`` plus the seconds waited, counted from joining this queue or, with
  ``time-base-score=system``, from the first queue joined), and offers each the first agent
  its queue's **strategy** orders (``longest-idle-agent``: level, then the agent offered a call
  least recently, then position; ``top-down`` / ``sequentially-by-agent-order``: level,
  position; ``agent-with-fewest-calls``, ``agent-with-least-talk-time``) whose tier is
  ``Ready``/``No Answer``, whose state is ``Waiting``, whose status is not ``On Break``, whose
  wrap-up time since the last call is over and whose ``ready_time`` has come; **tier rules**
  hold a member at lower levels until it has waited ``tier-rule-wait-second`` (times the level),
  unless no agent exists at the lower level (``tier-rule-no-agent-no-wait``);
- agents ``On Break`` still count as present (no ``NO_AGENT_TIMEOUT``) but never get a call.

Time is the switch's seconds (``clock``: tests pass a fast clock). Events are the CUSTOM
``callcenter::info`` events (``CC-Action`` ``member-queue-start``, ``agent-offering``,
``bridge-agent-start``, ``bridge-agent-end``, ``member-queue-end``, ``agent-status-change``,
``agent-state-change``, ``members-count``) handed to every listener (the inbound switch
broadcasts them to subscribed ESL connections). A bridged member's agent leg
(:class:`~telephony.simulator.agent_leg.AgentLeg`, in :attr:`CallCenter.legs`) is a channel
with media: ``CC-Agent-UUID`` names it, ``uuid_audio_fork`` forks what the agent says.
"""

from __future__ import annotations

import itertools
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telephony.simulator.agent_leg import AgentLeg
from telephony.simulator.callcenter_conf import AgentConfig, QueueConfig, TierConfig
from telephony.simulator.channel import Headers, preamble

AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")
AGENT_STATES = ("Waiting", "Receiving", "In a queue call", "Idle")
TIER_STATES = ("No Answer", "Ready", "Offering", "Active Inbound", "Standby")
AGENT_TYPES = ("callback", "uuid-standby")
PRESENT = ("Available", "Available (On Demand)", "On Break")  # the dispatcher's agent query

EventListener = Callable[[str, Headers, bytes], None]


@dataclass
class Agent:
    """One row of mod_callcenter's ``agents`` table (the columns the simulator uses)."""

    name: str
    type: str = "callback"
    contact: str = ""
    status: str = "Logged Out"
    state: str = "Waiting"
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0
    ready_time: int = 0
    last_bridge_start: float = 0.0
    last_bridge_end: float = 0.0
    last_offered_call: float = 0.0
    last_status_change: float = 0.0
    no_answer_count: int = 0
    calls_answered: int = 0
    talk_time: float = 0.0

    @classmethod
    def from_config(cls, config: AgentConfig) -> Agent:
        return cls(
            name=config.name,
            type=config.type,
            contact=config.contact,
            status=config.status,
            max_no_answer=config.max_no_answer,
            wrap_up_time=config.wrap_up_time,
            reject_delay_time=config.reject_delay_time,
            busy_delay_time=config.busy_delay_time,
        )


@dataclass
class Tier:
    queue: str
    agent: str
    level: int = 1
    position: int = 1
    state: str = "Ready"


@dataclass
class Member:
    """A caller waiting in (or served by) a queue."""

    queue: str
    session_uuid: str
    cid_number: str
    joined: float
    system_joined: float
    base_score: int = 0
    exported: Mapping[str, str] = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    state: str = "Waiting"
    agent: str | None = None
    order: int = 0
    broadcasts: list[str] = field(default_factory=list)  # what uuid_broadcast played to it
    agent_speech: Path | None = None  # what the agent says once bridged (its leg's audio)
    time_scale: float = 1.0  # the member channel's media clock scale (the agent leg's too)
    leg: AgentLeg | None = None  # the agent leg, once bridged
    agent_called: float = 0.0

    def score(self, now: float, time_base: str) -> float:
        since = self.system_joined if time_base == "system" else self.joined
        return self.base_score + (now - since)


_joins = itertools.count()


def fast_clock(speedup: float) -> Callable[[], float]:
    """Switch seconds running ``speedup`` times faster than the wall clock (tests: a 30 s
    wrap-up or a 120 s max wait in a fraction of a second)."""
    start_wall, start = time.monotonic(), time.time()
    return lambda: start + (time.monotonic() - start_wall) * speedup


class CallCenter:
    """mod_callcenter's tables and dispatcher, shared by every channel of one simulated switch."""

    def __init__(
        self,
        queues: Mapping[str, QueueConfig],
        agents: Iterable[AgentConfig] = (),
        tiers: Iterable[TierConfig] = (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queues = dict(queues)
        self.agents = {a.name: Agent.from_config(a) for a in agents}
        self.tiers = [
            Tier(t.queue, t.agent, t.level, t.position)
            for t in tiers
            if t.agent in self.agents and t.queue in self.queues
        ]
        self.members: list[Member] = []
        self.clock = clock
        self.listeners: list[EventListener] = []
        self.system_joined: dict[str, float] = {}
        self.legs: dict[str, AgentLeg] = {}  # agent legs of the bridged calls, by uuid

    @classmethod
    def from_config(
        cls,
        queues: Mapping[str, QueueConfig],
        agents: Mapping[str, AgentConfig],
        tiers: Iterable[TierConfig],
        *,
        clock: Callable[[], float] = time.time,
    ) -> CallCenter:
        return cls(queues, agents.values(), tiers, clock=clock)

    def now(self) -> float:
        return self.clock()

    # -- members ----------------------------------------------------------------------------

    def join(
        self,
        queue: str,
        session_uuid: str,
        cid_number: str,
        *,
        base_score: int = 0,
        exported: Mapping[str, str] | None = None,
        agent_speech: Path | None = None,
        time_scale: float = 1.0,
    ) -> Member:
        """A caller enters ``queue`` (``member-queue-start``); ``agent_speech``: what the agent
        who takes it says (into the agent leg's audio), at the member's ``time_scale``."""
        now = self.now()
        first = self.system_joined.setdefault(session_uuid, now)
        member = Member(
            queue, session_uuid, cid_number, now, first, base_score, dict(exported or {})
        )
        member.agent_speech, member.time_scale = agent_speech, time_scale
        member.order = next(_joins)
        self.members.append(member)
        self._member_event(member, "member-queue-start")
        self._count(queue)
        return member

    def waiting(self, queue: str | None = None) -> list[Member]:
        """Members still waiting (``Waiting``/``Trying``), highest score first."""
        now = self.now()
        rows = [
            m
            for m in self.members
            if m.state in ("Waiting", "Trying") and (queue is None or m.queue == queue)
        ]
        return sorted(rows, key=lambda m: (-self._score(m, now), m.order))

    def position(self, member: Member) -> int:
        """1-based place of ``member`` among those waiting in its queue (0 once served)."""
        rows = self.waiting(member.queue)
        return rows.index(member) + 1 if member in rows else 0

    def broadcast(self, session_uuid: str, path: str) -> bool:
        """``uuid_broadcast`` to a waiting member's channel (kept on the member)."""
        for member in self.members:
            if member.session_uuid == session_uuid:
                member.broadcasts.append(path)
                return True
        return False

    def agents_present(self, queue: str) -> int:
        """Agents of ``queue`` whose status is not ``Logged Out`` (on break included)."""
        names = {t.agent for t in self.tiers if t.queue == queue}
        return sum(1 for n in names if self.agents[n].status in PRESENT)

    def cancel(self, member: Member, reason: str) -> None:
        """The member leaves unanswered (``TIMEOUT``, ``NO_AGENT_TIMEOUT``, ``BREAK_OUT`` or a
        hang-up, ``NONE``)."""
        if member not in self.members:
            return
        member.state = "Abandoned"
        self.members.remove(member)
        self._member_event(
            member, "member-queue-end", [("CC-Cause", "Cancel"), ("CC-Cancel-Reason", reason)]
        )
        self._count(member.queue)

    def bridge_end(self, member: Member) -> None:
        """The agent's call with ``member`` ended: the agent waits again (wrap-up time runs);
        its leg is gone (hang it up first: :meth:`AgentLeg.hang_up`)."""
        now = self.now()
        if member.leg is not None:
            self.legs.pop(member.leg.uuid, None)
        if member in self.members:
            self.members.remove(member)
        agent = self.agents.get(member.agent or "")
        if agent is not None:
            agent.last_bridge_end = now
            agent.talk_time += now - agent.last_bridge_start
            if agent.state == "In a queue call":
                agent.state = "Waiting"
            for tier in self.tiers:
                if tier.agent == agent.name and tier.state in ("Active Inbound", "Standby"):
                    tier.state = "Ready"
        ended = [
            ("CC-Hangup-Cause", "NORMAL_CLEARING"),
            *self._agent_headers(member),
            ("CC-Bridge-Terminated-Time", str(int(now))),
        ]
        self._member_event(member, "bridge-agent-end", ended)
        terminated = [("CC-Cause", "Terminated"), *self._agent_headers(member)]
        self._member_event(member, "member-queue-end", terminated)
        self._count(member.queue)

    # -- dispatcher -------------------------------------------------------------------------

    def dispatch(self) -> list[Member]:
        """Offer free agents to waiting members, best score first; the members bridged now."""
        bridged: list[Member] = []
        now = self.now()
        for member in self.waiting():
            agent = self._pick(member, now)
            if agent is None:
                continue
            self._bridge(member, agent, now)
            bridged.append(member)
        return bridged

    def _score(self, member: Member, now: float) -> float:
        queue = self.queues.get(member.queue)
        return member.score(now, queue.time_base_score if queue else "queue")

    def _candidates(self, queue: QueueConfig) -> list[tuple[Tier, Agent]]:
        rows = [
            (t, self.agents[t.agent])
            for t in self.tiers
            if t.queue == queue.name and self.agents[t.agent].status in PRESENT
        ]
        strategy = queue.strategy
        if strategy in ("top-down", "sequentially-by-agent-order", "ring-all"):
            rows.sort(key=lambda r: (r[0].level, r[0].position))
        elif strategy == "agent-with-fewest-calls":
            rows.sort(key=lambda r: (r[0].level, r[1].calls_answered, r[0].position))
        elif strategy == "agent-with-least-talk-time":
            rows.sort(key=lambda r: (r[0].level, r[1].talk_time, r[0].position))
        else:  # longest-idle-agent (the default) and the rest
            rows.sort(key=lambda r: (r[0].level, r[1].last_offered_call, r[0].position))
        return rows

    def _pick(self, member: Member, now: float) -> Agent | None:
        queue = self.queues.get(member.queue)
        if queue is None:
            return None
        waited = now - member.joined
        tier_level, available = 0, 0
        for tier, agent in self._candidates(queue):
            if queue.tier_rules_apply and tier.level > tier_level:
                if queue.tier_rule_no_agent_no_wait and available == 0:
                    tier_level = tier.level
                elif waited >= queue.tier_rule_wait_second * (
                    tier.level if queue.tier_rule_wait_multiply_level else 1
                ):
                    tier_level, available = tier.level, 0
                else:
                    return None
            available += 1
            if (
                tier.state in ("Ready", "No Answer")
                and agent.state == "Waiting"
                and agent.last_bridge_end < now - agent.wrap_up_time
                and agent.ready_time <= now
                and agent.status != "On Break"
            ):
                return agent
        return None

    def _bridge(self, member: Member, agent: Agent, now: float) -> None:
        member.state, member.agent = "Trying", agent.name
        member.agent_called = now
        agent.state, agent.last_offered_call = "Receiving", now
        for tier in self.tiers:
            if tier.agent == agent.name:
                if tier.queue == member.queue:
                    tier.state = "Offering"
                elif tier.state == "Ready":
                    tier.state = "Standby"
        self._member_event(member, "agent-offering", self._agent_headers(member))
        # the agent's phone answers at once (the simulator models no ring time)
        agent.state, agent.last_bridge_start = "In a queue call", now
        agent.calls_answered += 1
        for tier in self.tiers:
            if tier.agent == agent.name and tier.queue == member.queue:
                tier.state = "Active Inbound"
        member.state = "Answered"
        # mod_callcenter originated a leg to the agent: a channel of its own, with media
        leg = AgentLeg(agent.name, speech=member.agent_speech, time_scale=member.time_scale)
        member.leg, self.legs[leg.uuid] = leg, leg
        self._member_event(member, "bridge-agent-start", self._agent_headers(member))
        self._count(member.queue)

    # -- agents -----------------------------------------------------------------------------

    def set_status(self, agent: Agent, status: str) -> None:
        if status == "Available" and agent.status != status:
            agent.calls_answered, agent.no_answer_count, agent.talk_time = 0, 0, 0.0
        agent.status, agent.last_status_change = status, self.now()
        self.emit(
            [
                ("CC-Agent", agent.name),
                ("CC-Action", "agent-status-change"),
                ("CC-Agent-Status", status),
            ]
        )

    def set_state(self, agent: Agent, state: str) -> None:
        agent.state = state
        if state == "Receiving":
            agent.last_offered_call = self.now()
        self.emit(
            [
                ("CC-Agent", agent.name),
                ("CC-Action", "agent-state-change"),
                ("CC-Agent-State", state),
            ]
        )

    # -- events -----------------------------------------------------------------------------

    def emit(self, headers: Headers) -> None:
        """Fire one ``CUSTOM callcenter::info`` event to every listener."""
        full = [*preamble("CUSTOM"), ("Event-Subclass", "callcenter::info"), *headers]
        for listener in list(self.listeners):
            listener("CUSTOM", full, b"")

    def _agent_headers(self, member: Member) -> Headers:
        agent = self.agents.get(member.agent or "")
        headers: Headers = [
            ("CC-Agent", member.agent or ""),
            ("CC-Agent-Type", agent.type if agent else ""),
            ("CC-Agent-System", "single_box"),
        ]
        if member.leg is not None:  # bridged: the agent leg's uuid and times, as mod_callcenter
            headers += [
                ("CC-Agent-UUID", member.leg.uuid),
                ("CC-Agent-Called-Time", str(int(member.agent_called))),
                ("CC-Agent-Answered-Time", str(int(member.agent_called))),
            ]
        return headers

    def _member_event(self, member: Member, action: str, extra: Headers | None = None) -> None:
        headers: Headers = [("CC-Queue", member.queue), ("CC-Action", action)]
        headers += extra or []
        headers += [
            ("CC-Member-UUID", member.uuid),
            ("CC-Member-Session-UUID", member.session_uuid),
            ("CC-Member-CID-Number", member.cid_number),
            ("CC-Member-Joined-Time", str(int(member.joined))),
        ]
        headers += [(f"variable_{k}", v) for k, v in member.exported.items()]
        self.emit(headers)

    def _count(self, queue: str) -> None:
        count = len(self.waiting(queue))
        self.emit(
            [
                ("CC-Queue", queue),
                ("CC-Action", "members-count"),
                ("CC-Count", str(count)),
                ("CC-Selection", "Single-Queue"),
            ]
        )
