"""Originates whose result was lost to an ESL connection drop, against the simulated switch.

The dialler's inbound connection drops while ``bgapi originate`` is pending (the legs ring);
on the switch the legs carry on: some answer (their ``CHANNEL_ANSWER`` reaches no one), some
fail. Every assertion is made against the switch's own originate log, channel table and api
log: no number ever has two live legs, the legs that existed are followed to their hangup, the
ones the switch no longer had are retried once (the campaign's ``failed`` policy).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from camp_support import (
    CalleeApp,
    HoldingCallee,
    audit,
    cust,
    fresh_numbers,
    make_dialler,
    per_number,
    switchboard,
    until,
)

from campaigns.agent_lines import LocalAgentLines
from campaigns.agent_pacing import AgentPacing
from campaigns.model import CampaignState, PacingMode
from campaigns.outcomes import ORIGINATE_LOST_CAUSE
from campaigns.tables import attempts
from telephony.simulator.dialing import ANSWERED, DialOutcome, OutcomeMix


def answering_and_gone() -> tuple[list[str], list[str], list[str], OutcomeMix]:
    """Four fresh numbers: two whose legs answer during the outage, two whose legs are gone
    (busy) before the connection is restored; and the switch's outcomes for them."""
    numbers = fresh_numbers(4)
    answering, gone = numbers[:2], numbers[2:]
    mix = per_number(
        {
            **{n: DialOutcome(ring_s=1.0) for n in answering},
            **{n: DialOutcome("USER_BUSY", ring_s=0.3) for n in gone},
        }
    )
    return numbers, answering, gone, mix


async def test_originates_pending_when_the_connection_drops_are_followed_or_retried_once(
    sqlite_env, tmp_path
) -> None:
    env = sqlite_env
    numbers, answering, gone, mix = answering_and_gone()
    app = HoldingCallee(env)
    board = await switchboard(app, tmp_path, mix)
    switch = board.switch
    loop = asyncio.get_running_loop()

    def records(number: str):
        e164 = cust(number).e164
        return [r for r in switch.originate_log if r.variables["ivr_customer_number"] == e164]

    try:
        camp = env.campaign(max_attempts=2)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        dialler = make_dialler(env, board, max_call_s=120.0)
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: len(switch.originate_log) == 4, 10.0)
            assert all(r.outcome == "pending" for r in switch.originate_log)  # still ringing
            await switch.outage()
            await until(lambda: not board.client.ready)
            first = {n: records(n)[0] for n in numbers}
            await until(lambda: all(first[n].outcome == ANSWERED for n in answering))
            await until(lambda: all(first[n].ended_at is not None for n in gone))
            assert all(first[n].uuid in switch.channels for n in answering)  # live on the switch
            assert len(switch.originate_log) == 4  # nothing dialled again meanwhile
            await switch.restore()
            restored = loop.time()
            # the answered legs are found and followed (their answer event was missed)
            await until(lambda: all(first[n].uuid in board.hangups.live for n in answering))
            assert all(len(records(n)) == 1 for n in answering)  # not redialled while live
            app.release.set()
            await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, 30.0)
        finally:
            dialler.stop()
            await task
        asked = {arg: t for t, cmd, arg in switch.api_log if cmd == "uuid_exists" and t > restored}
        assert set(asked) >= {first[n].uuid for n in numbers}  # each asked after the reconnect
        assert audit(switch, cap=2) == []  # never two live legs to one number
        disp = env.dispositions(camp)
        with env.engine.connect() as conn:
            causes = {
                r.id: r.hangup_cause
                for r in conn.execute(
                    sa.select(attempts.c.id, attempts.c.hangup_cause).where(
                        attempts.c.campaign_id == camp.id
                    )
                )
            }
        for n in answering:  # followed to its hangup: the flow's outcome, one originate
            assert disp[env.bi(n)] == ["completed"]
            assert len(records(n)) == 1
            assert causes[first[n].uuid] == "NORMAL_CLEARING"
        for n in gone:  # no leg when asked: failed (ORIGINATE_LOST), retried once
            assert disp[env.bi(n)] == ["failed", "busy"]
            again = records(n)
            assert len(again) == 2
            assert again[0].ended_at is not None and again[1].received_at > asked[again[0].uuid]
            assert causes[again[0].uuid] == ORIGINATE_LOST_CAUSE
            assert causes[again[1].uuid] == "USER_BUSY"
        assert board.hangups.lost == len(gone)
        assert switch.channels == {}
    finally:
        await board.close()


async def test_a_lost_originate_left_unasked_past_the_wait_stays_open_and_is_never_redialled(
    sqlite_env, tmp_path
) -> None:
    """The connection stays down past ``lost_originate_wait_s``: the attempt is left
    ``dialling`` (the number busy, never retried by this dialler), for recovery to close."""
    env = sqlite_env
    (number,) = fresh_numbers(1)
    board = await switchboard(CalleeApp(env), tmp_path, per_number({number: DialOutcome(
        "USER_BUSY", ring_s=0.5)}))  # fmt: skip
    switch = board.switch
    try:
        camp = env.campaign(max_attempts=2)
        env.load(camp, tmp_path, [number])
        env.start(camp)
        dialler = make_dialler(env, board, lost_originate_wait_s=0.3)
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: len(switch.originate_log) == 1, 10.0)
            await switch.outage()
            await until(lambda: dialler.inflight() == 0)  # gave up waiting for the switch
            await switch.restore()
            await until(lambda: board.client.ready)
            assert env.dispositions(camp)[env.bi(number)] == ["dialling"]  # left open
            assert env.queue.counts(camp.id).get("state:dialling") == 1
        finally:
            dialler.stop()
            await task
        assert len(switch.originate_log) == 1  # not retried beside a leg it could not rule out
    finally:
        await board.close()


class FreeAgents:
    """A floor with agents enough for every line (the level is one line per free agent)."""

    async def free_agents(self, queue: str) -> int:
        return 10


class CountingPacing(AgentPacing):
    """The real agent pacing, counting the answers it is told of, per attempt."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.told: Counter[str] = Counter()

    async def answered(self, campaign: str, attempt_id: str, lease_s: float) -> None:
        self.told[attempt_id] += 1
        await super().answered(campaign, attempt_id, lease_s)


async def test_a_lost_originate_found_answered_after_the_reconnect_counts_as_answered_once(
    sqlite_env, tmp_path
) -> None:
    """An agent campaign's legs answer while the connection is down (their ``CHANNEL_ANSWER``
    reaches no one): once the switch says after the reconnect that it has them, answered, the
    adaptive pacing is told of each answer once (its lines wait for an agent), as it is of a
    call whose originate result came back; the legs the switch no longer has are not."""
    env = sqlite_env
    numbers, answering, gone, mix = answering_and_gone()
    app = HoldingCallee(env)
    board = await switchboard(app, tmp_path, mix)
    switch = board.switch
    lines = LocalAgentLines()
    pacing = CountingPacing(FreeAgents(), lines)
    try:
        camp = env.campaign(pacing=PacingMode.AGENT, max_attempts=2)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        dialler = make_dialler(env, board, max_call_s=120.0, agent_pacing=pacing)
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: len(switch.originate_log) == 4, 10.0)
            await switch.outage()
            await until(lambda: not board.client.ready)
            first = {n: switch.originate_log[i] for i, n in enumerate(_by_number(switch, numbers))}
            await until(lambda: all(first[n].outcome == ANSWERED for n in answering))
            await until(lambda: all(first[n].ended_at is not None for n in gone))
            assert not pacing.told  # nothing heard of the answers while down
            await switch.restore()
            await until(lambda: sum(pacing.told.values()) == len(answering))
            assert pacing.told == Counter({first[n].uuid: 1 for n in answering})
            now = env.clock()
            held = await lines.snapshot(camp.id, now - timedelta(seconds=900), now)
            assert (held.answered, held.waiting) == (2, 2)  # answered, waiting for an agent
            app.release.set()
            await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, 30.0)
        finally:
            dialler.stop()
            await task
        assert pacing.told == Counter({first[n].uuid: 1 for n in answering})  # once each
        asked = {(cmd, arg) for _, cmd, arg in switch.api_log}
        assert all(("uuid_getvar", f"{first[n].uuid} endpoint_disposition") in asked
                   for n in answering)  # fmt: skip
        assert audit(switch, cap=2) == []
        for n in answering:
            assert len([r for r in switch.originate_log if r.uuid == first[n].uuid]) == 1
        now = env.clock()
        done = await lines.snapshot(camp.id, now - timedelta(seconds=900), now)
        assert (done.lines, done.answered) == (0, 0)
        assert done.recent.answered == len(answering)  # the two held calls; failed/busy not
    finally:
        await board.close()


def _by_number(switch, numbers: list[str]) -> list[str]:
    """``numbers`` in the order of the switch's originate log (each number's first leg)."""
    e164 = {cust(n).e164: n for n in numbers}
    return [e164[r.variables["ivr_customer_number"]] for r in switch.originate_log[: len(numbers)]]
