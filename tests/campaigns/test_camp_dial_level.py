"""The adaptive dial level (pure): properties over its inputs, the agent-listing reader, and the
agent campaigns' shared lines (in memory and in Redis) the level is decided on."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from helpers.compliance_data import REDIS_URL
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.agent_lines import AgentLines, LocalAgentLines, RedisAgentLines
from campaigns.agent_pacing import AgentPacing, floor_of, free_in_listing
from campaigns.dial_level import (
    CallSample,
    DialLevelConfig,
    FloorNow,
    RecentCalls,
    decide,
    expected_abandons,
    recent_calls,
    wilson_upper,
)
from campaigns.model import CampaignError
from telephony.esl import Event

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


def history(dialled: int, answered: int, abandoned: int, age_s: float = 10.0) -> list[CallSample]:
    at = NOW - timedelta(seconds=age_s)
    out = [CallSample(at, i < answered, i < abandoned) for i in range(dialled)]
    return out


floors = st.builds(
    FloorNow,
    free_agents=st.integers(0, 60),
    ringing=st.integers(0, 120),
    waiting=st.integers(0, 20),
)
hist = st.tuples(st.integers(0, 400), st.floats(0, 1), st.floats(0, 0.2)).map(
    lambda t: history(t[0], round(t[0] * t[1]), round(round(t[0] * t[1]) * t[2]))
)
targets = st.sampled_from([0.01, 0.03, 0.05, 0.1])


def binomial_abandon_share(lines: int, p: float, free: int) -> float:
    """An independent reckoning of E[max(0, X - free)] / E[X] (X ~ Bin(lines, p))."""
    mean = lines * p
    if mean == 0:
        return 0.0
    tail = sum(
        (k - free) * math.comb(lines, k) * p**k * (1 - p) ** (lines - k)
        for k in range(free + 1, lines + 1)
    )
    return tail / mean


@settings(max_examples=300, deadline=None)
@given(floors, hist, targets)
def test_level_never_negative_never_past_the_cap_and_holds_the_target(floor, recent, target):
    cfg = DialLevelConfig(target=target)
    got = decide(floor, recent, cfg, NOW)
    free = floor.free_agents - floor.waiting
    assert got.launch >= 0
    if free <= 0:
        assert got.launch == 0 and got.reason == "no_free_agent"
        return
    assert free <= got.lines <= max(free, math.floor(cfg.max_level * free))
    assert got.launch == max(0, got.lines - floor.ringing)
    if got.lines > free:  # overdial only with a history under target, within the target
        answered = sum(1 for s in recent if s.answered)
        assert len(recent) >= cfg.min_samples
        p = wilson_upper(answered, len(recent))
        assert binomial_abandon_share(got.lines, p, free) <= target + 1e-9


@settings(max_examples=200, deadline=None)
@given(floors, hist, targets, st.integers(1, 10))
def test_more_free_agents_never_dial_fewer_lines(floor, recent, target, more):
    cfg = DialLevelConfig(target=target)
    base = decide(floor, recent, cfg, NOW)
    richer = FloorNow(floor.free_agents + more, floor.ringing, floor.waiting)
    assert decide(richer, recent, cfg, NOW).lines >= base.lines


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(60, 300), st.floats(0.1, 0.9), targets)
def test_more_abandons_never_dial_more(free, dialled, rate, target):
    cfg = DialLevelConfig(target=target)
    floor = FloorNow(free, 0, 0)
    answered = round(dialled * rate)
    lines = [
        decide(floor, history(dialled, answered, a), cfg, NOW).lines
        for a in range(0, answered + 1, max(1, answered // 10))
    ]
    assert lines == sorted(lines, reverse=True)
    at_target = math.ceil(target * answered)
    if answered:
        assert decide(floor, history(dialled, answered, at_target), cfg, NOW).lines == free


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(60, 300), targets)
def test_a_higher_answer_rate_never_dials_more(free, dialled, target):
    cfg = DialLevelConfig(target=target)
    floor = FloorNow(free, 0, 0)
    lines = [
        decide(floor, history(dialled, round(dialled * r / 10), 0), cfg, NOW).lines
        for r in range(1, 11)
    ]
    assert lines == sorted(lines, reverse=True)


def test_learning_dials_one_line_per_free_agent_and_old_calls_do_not_count():
    cfg = DialLevelConfig(min_samples=30)
    floor = FloorNow(10, 2, 0)
    got = decide(floor, history(29, 5, 0), cfg, NOW)
    assert (got.lines, got.launch, got.reason) == (10, 8, "learning")
    stale = history(500, 100, 0, age_s=cfg.horizon_s + 1)
    assert decide(floor, stale, cfg, NOW).reason == "learning"


def test_low_answer_rate_overdials_and_answered_calls_waiting_use_agents_up():
    cfg = DialLevelConfig()
    recent = history(400, 100, 0)  # 25 % answered
    got = decide(FloorNow(20, 0, 0), recent, cfg, NOW)
    assert got.reason == "adaptive" and got.lines > 20 and got.level > 1.0
    assert decide(FloorNow(20, 0, 20), recent, cfg, NOW).launch == 0
    fewer = decide(FloorNow(20, 0, 5), recent, cfg, NOW)
    assert fewer.lines < got.lines


def test_expected_abandons_matches_a_small_case_by_hand():
    # 4 lines, p = 1/2, 3 agents: only X = 4 abandons one call: 1/16
    assert expected_abandons(4, 0.5, 3) == pytest.approx(1 / 16)
    assert expected_abandons(3, 0.9, 3) == 0.0


def test_config_rejects_a_target_out_of_range():
    with pytest.raises(CampaignError):
        DialLevelConfig(target=0.0)
    with pytest.raises(CampaignError):
        DialLevelConfig(target=0.2)


LISTING = (
    "name|system|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|"
    "busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|"
    "last_status_change|no_answer_count|calls_answered|talk_time|ready_time\n"
    "a1|single_box||callback|user/1|Available|Waiting|3|10|10|30|0|0|0|0|0|0|0|0|0\n"
    "a2|single_box||callback|user/2|Available|In a queue call|3|10|10|30|0|990|0|990|0|0|1|0|0\n"
    "a3|single_box||callback|user/3|Available|Waiting|3|30|10|30|0|900|985|900|0|0|1|85|0\n"
    "a4|single_box||callback|user/4|Available|Waiting|3|10|10|30|0|900|970|900|0|0|1|70|0\n"
    "a5|single_box||callback|user/5|Available|Idle|3|10|10|30|0|0|0|0|0|0|0|0|0\n"
    "+OK\n"
)


def test_free_agents_follow_the_dispatchers_rule():
    # a1 waits; a2 is on a call; a3 is still in wrap-up (985 + 30 > 1000); a4's wrap-up is
    # over; a5 is Idle (the desk's wrap-up state)
    assert free_in_listing(LISTING, now=1000.0) == 2
    assert free_in_listing("-ERR Invalid Queue not found!\n", now=1000.0) == 0


class FixedProbe:
    def __init__(self, free: int) -> None:
        self.free = free

    async def free_agents(self, queue: str) -> int:
        return self.free


@pytest.fixture(params=["local", "redis"])
async def lines(
    request: pytest.FixtureRequest, camp_redis_prefix: str
) -> AsyncIterator[AgentLines]:
    store: AgentLines = (
        LocalAgentLines()
        if request.param == "local"
        else RedisAgentLines(REDIS_URL, f"{camp_redis_prefix}:{uuid.uuid4().hex[:8]}")
    )
    yield store
    await store.close()


def bridge_start(uuid_: str) -> Event:
    return Event(
        "CUSTOM",
        {
            "Event-Subclass": "callcenter::info",
            "CC-Action": "bridge-agent-start",
            "CC-Member-Session-UUID": uuid_,
        },
    )


async def snap(lines: AgentLines, campaign: str = "c1"):
    return await lines.snapshot(campaign, NOW - timedelta(seconds=900), NOW)


async def test_answered_lines_wait_for_an_agent_until_their_bridge_event(lines) -> None:
    pacing = AgentPacing(FixedProbe(3), lines)
    first = await pacing.reserve("c1", 0.03, want=10, now=NOW)
    assert first.size == 3  # learning: one line per free agent
    await pacing.bind(first, ["att-1", "att-2"], 30.0)  # claimed two; one token freed
    assert (await snap(lines)).lines == 2
    await pacing.answered("c1", "att-1", 30.0)
    await pacing.answered("c1", "att-2", 30.0)
    assert floor_of(await snap(lines), 3) == FloorNow(3, 0, 2)
    pacing.on_event(bridge_start("att-1"))
    await pacing.close()  # the bridge's write is awaited
    assert (await snap(lines)).waiting == 1
    got = await pacing.reserve("c1", 0.03, want=10, now=NOW)
    assert got.size == 2  # 3 free - 1 waiting
    await pacing.bind(got, [], 30.0)
    await pacing.ended("c1", "att-2", answered=True, abandoned=True, now=NOW)
    after = await snap(lines)
    assert (after.lines, after.answered, after.waiting) == (1, 1, 0)
    assert after.recent == RecentCalls(1, 1, 1)
    await pacing.ended("c1", "att-2", answered=True, abandoned=True, now=NOW)  # again: once
    assert (await snap(lines)).recent == RecentCalls(1, 1, 1)
    await pacing.release("c1", "att-1")
    assert (await snap(lines)).lines == 0


async def test_reservations_on_one_snapshot_share_the_level_and_a_moved_one_gets_fresh_state(
    lines,
) -> None:
    """Two reservations on one snapshot both take what the level leaves at their instant (no
    compare-and-set between them); an answer moves the level's inputs, so a reservation on the
    older version takes nothing and gets the fresh state in the same reply."""
    since = NOW - timedelta(seconds=900)
    s = await snap(lines)
    first = await lines.reserve("c1", s.version, 4, ["t1", "t2", "t3"], 10.0, since=since, now=NOW)
    second = await lines.reserve("c1", s.version, 4, ["u1", "u2"], 10.0, since=since, now=NOW)
    assert (first.taken, second.taken) == (("t1", "t2", "t3"), ("u1",))  # 4 together, not 5
    assert (await snap(lines)).lines == 4
    await lines.bind("c1", ["t1"], ["att-1"], 30.0)
    await lines.answered("c1", "att-1", 30.0)
    moved = await lines.reserve("c1", s.version, 4, ["v1"], 10.0, since=since, now=NOW)
    assert moved.taken == ()
    assert moved.fresh == await snap(lines)
    assert moved.fresh.version != s.version and (moved.fresh.lines, moved.fresh.answered) == (4, 1)
    again = await lines.reserve("c1", moved.fresh.version, 4, ["v1"], 10.0, since=since, now=NOW)
    assert again.taken == ("v1",)  # one ringing line became answered: one more may ring


@pytest.fixture(params=["local", "redis"])
async def two_diallers(
    request: pytest.FixtureRequest, camp_redis_prefix: str
) -> AsyncIterator[tuple[AgentLines, AgentLines]]:
    """Two diallers' views of one campaign's lines: one store in memory, or two Redis clients
    (two connections, as two processes have) on one key prefix."""
    if request.param == "local":
        local = LocalAgentLines()
        yield local, local
        return
    prefix = f"{camp_redis_prefix}:{uuid.uuid4().hex[:8]}"
    one, two = RedisAgentLines(REDIS_URL, prefix), RedisAgentLines(REDIS_URL, prefix)
    yield one, two
    await one.close()
    await two.close()


class Contended:
    """Dialler one's lines, with dialler two answering one of its lines right before each of
    dialler one's first ``times`` reservations reach the store (so each is made on a version
    an answer has just moved: the worst interleaving, every time)."""

    def __init__(self, lines: AgentLines, other: AgentPacing, legs: list[str], times: int) -> None:
        self.lines, self.other, self.legs, self.times = lines, other, legs, times
        self.reserves = 0

    def __getattr__(self, name: str):
        return getattr(self.lines, name)

    async def reserve(self, campaign, version, lines, tokens, lease_s, *, since, now):
        self.reserves += 1
        if self.reserves <= self.times:
            await self.other.answered(campaign, self.legs.pop(), 30.0)
        return await self.lines.reserve(
            campaign, version, lines, tokens, lease_s, since=since, now=now
        )


async def test_a_reservation_that_keeps_losing_to_answers_decides_again_and_does_not_skip_its_tick(
    two_diallers,
) -> None:
    """Five answers in a row land between dialler one's decision and its reservation (three
    used to make it give up the tick): it decides again on the fresh state each reply carries
    and takes its lines in the same tick, never past the level."""
    store_one, store_two = two_diallers
    two = AgentPacing(FixedProbe(20), store_two)
    theirs = await two.reserve("c1", 0.03, want=5, now=NOW)
    legs = [f"b{i}" for i in range(5)]
    await two.bind(theirs, legs, 30.0)
    contended = Contended(store_one, two, list(legs), times=5)
    one = AgentPacing(FixedProbe(20), contended)
    mine = await one.reserve("c1", 0.03, want=30, now=NOW)
    assert contended.reserves == 6  # five lost to the answers, the sixth took
    # 20 free agents, 5 answered lines waiting for one: 15 lines, none ringing
    assert mine.size == 15 and mine.decision is not None and mine.decision.lines == 15
    after = await snap(store_two)
    assert (after.lines, after.answered, after.waiting) == (20, 5, 5)
    assert floor_of(after, 20).ringing == mine.decision.lines


async def test_two_diallers_reserving_at_once_take_the_whole_level_between_them_every_tick(
    two_diallers,
) -> None:
    """Each tick both diallers decide on the same state and reserve at the same time: neither
    tick is lost to the other, together they take exactly the level's lines, and the calls'
    ends (which move the level's inputs) between ticks change nothing of that."""
    store_one, store_two = two_diallers
    one, two = AgentPacing(FixedProbe(4), store_one), AgentPacing(FixedProbe(4), store_two)
    for tick in range(6):  # 4 lines a tick: 24 samples, still learning (one per free agent)
        a, b = await asyncio.gather(
            one.reserve("c1", 0.03, want=4, now=NOW), two.reserve("c1", 0.03, want=4, now=NOW)
        )
        assert a.size + b.size == 4, (tick, a.size, b.size)
        ids_a = [f"{tick}-a{i}" for i in range(a.size)]
        ids_b = [f"{tick}-b{i}" for i in range(b.size)]
        await asyncio.gather(one.bind(a, ids_a, 30.0), two.bind(b, ids_b, 30.0))
        assert (await snap(store_one)).lines == 4
        await asyncio.gather(
            *(one.ended("c1", i, answered=False, abandoned=False, now=NOW) for i in ids_a),
            *(two.ended("c1", i, answered=False, abandoned=False, now=NOW) for i in ids_b),
        )
    assert (await snap(store_two)).recent == RecentCalls(24, 0, 0)


def test_recent_calls_count_the_horizon_and_decide_takes_either_form() -> None:
    calls = history(40, 20, 1) + history(10, 10, 10, age_s=2000)
    since = NOW - timedelta(seconds=900)
    assert recent_calls(calls, since, NOW) == RecentCalls(40, 20, 1)
    cfg = DialLevelConfig()
    floor = FloorNow(5, 0, 0)
    assert decide(floor, calls, cfg, NOW) == decide(floor, RecentCalls(40, 20, 1), cfg, NOW)
