"""The adaptive dial level of campaigns that hand answered calls to human agents (pure core).

A predictive dialler dials more lines than there are free agents, because most lines are not
answered; the price is an *abandoned* call: answered, and no agent free within the allowed
seconds. :func:`decide` takes everything as input (the floor now, the recent calls, the
settings and the clock) and answers how many new lines to start (:class:`DialLevel`):

- the lines that may be live at once, ``N``, ringing ones included, is the largest number whose
  expected abandons stay within the campaign's target share of answered calls: with ``X``
  answers out of ``N`` lines (binomial, answer rate ``p``) and ``F`` agents free for them,
  ``E[max(0, X - F)] <= target_now * E[X]``;
- ``p`` is an upper confidence bound of the recent answer rate (a higher rate dials fewer
  lines), so a short history never overdials; under ``min_samples`` recent calls, or once the
  recent abandon rate reached the target, the level is one line per free agent (which cannot
  abandon while only this campaign's calls reach those agents);
- ``target_now`` shrinks as the measured abandon rate approaches the target (feedback), so the
  rate the floor measures stays at or below it;
- ``F`` is the free agents less the answered calls still waiting for one; no free agent: no
  line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.model import CampaignError

Z_UPPER = 1.2816  # one-sided 90 % Wilson bound on the answer rate


@dataclass(frozen=True, slots=True)
class CallSample:
    """One dialled line's result: when it ended, answered or not, abandoned or not."""

    ended_at: datetime
    answered: bool
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class RecentCalls:
    """The recent calls' results within the horizon: lines dialled, answered, and answered
    then abandoned (what :func:`decide` needs of the history, however it is stored)."""

    dialled: int
    answered: int
    abandoned: int


def recent_calls(samples: Iterable[CallSample], since: datetime, now: datetime) -> RecentCalls:
    """The counts of ``samples`` that ended in ``[since, now]``."""
    window = [s for s in samples if since <= s.ended_at <= now]
    return RecentCalls(
        len(window),
        sum(1 for s in window if s.answered),
        sum(1 for s in window if s.answered and s.abandoned),
    )


@dataclass(frozen=True, slots=True)
class FloorNow:
    """``free_agents``: agents that could take a call now; ``ringing``: this campaign's lines
    not answered yet (claimed ones included); ``waiting``: answered lines not yet with an
    agent."""

    free_agents: int
    ringing: int
    waiting: int


@dataclass(frozen=True, slots=True)
class DialLevelConfig:
    """``target``: abandoned share of answered calls (industry rule 3 %); ``horizon_s``: how far
    back the recent calls count; ``max_level``: lines per free agent at most."""

    target: float = 0.03
    horizon_s: float = 900.0
    min_samples: int = 30
    max_level: float = 4.0

    def __post_init__(self) -> None:
        if not 0 < self.target <= 0.1:
            raise CampaignError(
                "abandon target must be in (0, 0.1]", code="campaign.abandon_target_range"
            )
        if self.horizon_s <= 0 or self.min_samples < 1 or self.max_level < 1:
            raise CampaignError(
                "dial level: horizon > 0, min samples >= 1, max level >= 1",
                code="campaign.dial_level",
            )


@dataclass(frozen=True, slots=True)
class DialLevel:
    """``launch``: new lines to start now; ``lines``: lines live at once it aims at (ringing
    included); ``level``: lines per free agent; the rates it used and why."""

    launch: int
    lines: int
    level: float
    answer_rate: float
    abandon_rate: float
    reason: str


def wilson_upper(successes: int, trials: int, z: float = Z_UPPER) -> float:
    """Upper bound of a binomial rate (1.0 without trials)."""
    if trials <= 0:
        return 1.0
    p = successes / trials
    den = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / den)


def expected_abandons(lines: int, p: float, free: int) -> float:
    """``E[max(0, X - free)]`` for ``X ~ Binomial(lines, p)``."""
    if lines <= free:
        return 0.0
    q = 1.0 - p
    total = 0.0
    for k in range(free + 1, lines + 1):
        total += (k - free) * math.comb(lines, k) * p**k * q ** (lines - k)
    return total


def decide(
    floor: FloorNow,
    recent: Iterable[CallSample] | RecentCalls,
    config: DialLevelConfig,
    now: datetime,
) -> DialLevel:
    """How many lines to start now (see the module docstring). ``recent``: the calls (those
    within the horizon count) or their counts already taken over the horizon."""
    if not isinstance(recent, RecentCalls):
        recent = recent_calls(recent, now - timedelta(seconds=config.horizon_s), now)
    dialled, answered, abandoned = recent.dialled, recent.answered, recent.abandoned
    abandon_rate = abandoned / answered if answered else 0.0
    answer_rate = answered / dialled if dialled else 0.0
    free = floor.free_agents - floor.waiting
    ringing = max(0, floor.ringing)

    def level(lines: int, reason: str) -> DialLevel:
        launch = max(0, lines - ringing)
        per_agent = lines / free if free > 0 else 0.0
        return DialLevel(launch, lines, per_agent, answer_rate, abandon_rate, reason)

    if free <= 0:
        return level(0, "no_free_agent")
    if dialled < config.min_samples:
        return level(free, "learning")
    if abandon_rate >= config.target:
        return level(free, "over_target")
    # feedback: the closer the measured rate to the target, the less overdial
    target_now = config.target * min(1.0, 2.0 * (1.0 - abandon_rate / config.target))
    p = wilson_upper(answered, dialled)
    if p <= 0.0:
        p = 1.0 / (dialled + 1)
    cap = max(free, math.floor(config.max_level * free))
    lines = free
    while lines < cap:
        nxt = lines + 1
        if expected_abandons(nxt, p, free) > target_now * nxt * p:
            break
        lines = nxt
    return level(lines, "adaptive" if lines > free else "one_per_agent")
