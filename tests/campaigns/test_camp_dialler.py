"""The dialler end to end on real SQL (SQLite and PostgreSQL) and the simulated switch.

Every assertion about what was dialled is made against the switch's own originate log
(:func:`camp_support.audit`), not the dialler's records.
"""

from __future__ import annotations

import asyncio
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

from campaigns.model import CampaignState
from campaigns.outcomes import MISSED_HANGUP_CAUSE
from campaigns.tables import attempts
from telephony.simulator.dialing import DialOutcome


def dialled(board, number: str) -> int:
    e164 = cust(number).e164
    return sum(1 for r in board.switch.originate_log if r.variables["ivr_customer_number"] == e164)


async def run_until_finished(env, dialler, camp, timeout_s: float = 60.0) -> None:
    task = asyncio.create_task(dialler.run())
    try:
        await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, timeout_s)
    except AssertionError:
        raise AssertionError(
            f"not finished: {env.dispositions(camp)} {env.queue.counts(camp.id)} {dialler.stats}"
        ) from None
    finally:
        dialler.stop()
        await task


async def test_campaign_dials_each_number_with_retries_and_dispositions(env, tmp_path) -> None:
    numbers = fresh_numbers(6)
    busy, decline, invalid, refuser, consenter, plain = numbers
    mix = per_number(
        {
            busy: DialOutcome("USER_BUSY"),
            decline: DialOutcome("CALL_REJECTED"),  # SIP 603
            invalid: DialOutcome("UNALLOCATED_NUMBER"),
        }
    )
    app = CalleeApp(env, {cust(refuser).e164: "refuse", cust(consenter).e164: "consent"})
    board = await switchboard(app, tmp_path, mix)
    try:
        camp = env.campaign(max_attempts=3)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        await run_until_finished(env, make_dialler(env, board), camp)
        assert audit(board.switch) == []
        assert dialled(board, busy) == 3  # busy: retried up to the attempt budget
        assert dialled(board, decline) == 1  # 603 never again
        assert dialled(board, invalid) == 1
        for n in (refuser, consenter, plain):
            assert dialled(board, n) == 1
        got = env.dispositions(camp)
        assert got[env.bi(busy)] == ["busy", "busy", "busy"]
        assert got[env.bi(decline)] == ["rejected"]
        assert got[env.bi(invalid)] == ["invalid_number"]
        assert got[env.bi(refuser)] == ["refused"]
        assert got[env.bi(consenter)] == ["consent_granted"]
        assert got[env.bi(plain)] == ["completed"]
    finally:
        await board.close()


async def test_number_on_dnc_while_queued_is_never_dialled_inv1(env, tmp_path) -> None:
    numbers = fresh_numbers(3)
    board = await switchboard(CalleeApp(env), tmp_path)
    try:
        camp = env.campaign()
        env.load(camp, tmp_path, numbers)
        await env.svc.add_dnc(cust(numbers[1]), source="console", reason="asked", actor="t")
        env.start(camp)
        await run_until_finished(env, make_dialler(env, board), camp)
        assert dialled(board, numbers[1]) == 0
        assert dialled(board, numbers[0]) == dialled(board, numbers[2]) == 1
        assert env.dispositions(camp)[env.bi(numbers[1])] == ["dnc"]
    finally:
        await board.close()


async def test_refusal_in_call_one_stops_the_queued_attempts_of_every_campaign(
    env, tmp_path
) -> None:
    (number,) = fresh_numbers(1)
    app = CalleeApp(env, {cust(number).e164: "refuse"})
    board = await switchboard(app, tmp_path)
    try:
        first, second = env.campaign(), env.campaign()
        env.load(first, tmp_path, [number])
        env.load(second, tmp_path, [number])
        env.start(first)
        await run_until_finished(env, make_dialler(env, board), first)
        assert env.dispositions(second)[env.bi(number)] == ["dnc"]  # cancelled at once
        env.start(second)
        await run_until_finished(env, make_dialler(env, board), second)
        assert dialled(board, number) == 1
    finally:
        await board.close()


async def test_quiet_hours_stop_dialling_and_callee_local_morning_resumes(env, tmp_path) -> None:
    shanghai, urumqi = fresh_numbers(2)
    board = await switchboard(CalleeApp(env), tmp_path)
    try:
        camp = env.campaign()
        env.load(camp, tmp_path, [shanghai, urumqi], timezones={urumqi: "Asia/Urumqi"})
        env.clock.now = env.clock.now.replace(hour=14, minute=0)  # 22:00 Shanghai, 20:00 Urumqi
        env.start(camp)
        dialler = make_dialler(env, board)
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: dialled(board, urumqi) == 1)
            await asyncio.sleep(0.5)  # several ticks: Shanghai stays outside its window
            assert dialled(board, shanghai) == 0
            env.clock.now += timedelta(hours=9, minutes=59)  # 07:59 Shanghai
            await asyncio.sleep(0.5)
            assert dialled(board, shanghai) == 0
            env.clock.now += timedelta(minutes=1)  # 08:00 callee local
            await until(lambda: dialled(board, shanghai) == 1)
        finally:
            dialler.stop()
            await task
        assert audit(board.switch) == []
    finally:
        await board.close()


async def test_a_permit_that_expired_while_dialling_committed_is_asked_again_not_lost(
    sqlite_env, tmp_path
) -> None:
    from compliance.permit import PERMIT_TTL_S

    env = sqlite_env
    numbers = fresh_numbers(3)
    board = await switchboard(CalleeApp(env), tmp_path)
    try:
        camp = env.campaign(max_attempts=1)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        dialler = make_dialler(env, board)
        write = dialler.writer.write
        slow = [True]

        async def slow_write(op):  # once, the store takes longer than a permit lives
            done = await write(op)
            if slow and type(op).__name__ == "MarkDialling":
                slow.clear()
                env.clock.now = env.clock.now + timedelta(seconds=PERMIT_TTL_S + 1)
            return done

        dialler.writer.write = slow_write  # type: ignore[method-assign]
        await run_until_finished(env, dialler, camp)
        assert audit(board.switch) == []
        for n in numbers:  # every number dialled once, on a fresh permit
            assert dialled(board, n) == 1
        assert all(d == ["completed"] for d in env.dispositions(camp).values())
    finally:
        await board.close()


async def test_a_hangup_missed_while_the_esl_connection_was_down_closes_the_attempt_on_reconnect(
    sqlite_env, tmp_path
) -> None:
    env = sqlite_env
    (number,) = fresh_numbers(1)
    app = HoldingCallee(env)
    board = await switchboard(app, tmp_path)
    loop = asyncio.get_running_loop()
    try:
        camp = env.campaign(max_attempts=1)
        env.load(camp, tmp_path, [number])
        env.start(camp)
        dialler = make_dialler(env, board, max_call_s=120.0)
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: len(board.switch.originate_log) == 1)
            rec = board.switch.originate_log[0]
            await until(lambda: rec.uuid in board.hangups.live)  # answered, the dialler waits
            await board.switch.outage()
            await until(lambda: not board.client.ready)
            app.release.set()  # the far end hangs up while the dialler hears nothing
            await until(lambda: rec.ended_at is not None)
            assert rec.uuid in board.hangups.live  # the hangup event reached no one
            await board.switch.restore()
            restored = loop.time()
            await until(lambda: env.repo.get(camp.id).state is CampaignState.FINISHED, 20.0)
            assert loop.time() - restored < 20.0  # well before max_call_s (120 s)
        finally:
            dialler.stop()
            await task
        asked = [
            t for t, cmd, arg in board.switch.api_log if (cmd, arg) == ("uuid_exists", rec.uuid)
        ]
        assert rec.ended_at is not None
        assert asked and min(asked) > rec.ended_at  # asked after the reconnect, leg gone
        assert env.dispositions(camp)[env.bi(number)] == ["completed"]  # the flow's outcome
        with env.engine.connect() as conn:
            cause = conn.execute(
                sa.select(attempts.c.hangup_cause).where(attempts.c.campaign_id == camp.id)
            ).scalar_one()
        assert cause == MISSED_HANGUP_CAUSE
        assert board.hangups.reconciled == 1
        assert audit(board.switch) == []
        assert len(board.switch.originate_log) == 1  # closed, not dialled again
    finally:
        await board.close()


async def test_a_permit_that_expired_while_dialling_and_is_now_denied_is_not_dialled(
    env, tmp_path
) -> None:
    """The re-ask of an expired permit finds the number on DNC (put there while ``dialling``
    committed): no originate, a ``dnc`` disposition, one attempt, one count."""
    from compliance.decision import GateRequest, Reason
    from compliance.permit import PERMIT_TTL_S

    numbers = fresh_numbers(3)
    blocked = numbers[1]
    board = await switchboard(CalleeApp(env), tmp_path)
    try:
        camp = env.campaign(max_attempts=3)
        env.load(camp, tmp_path, numbers)
        env.start(camp)
        dialler = make_dialler(env, board)
        asks: list[tuple[str, bool, bool, int | None]] = []
        number_of: dict[str, str] = {}
        check = env.svc.check_and_permit

        async def recording_check(request):
            answer = await check(request)
            d = answer.decision
            number_of[request.attempt_id] = request.number
            asks.append((request.number, answer.permit is not None, d.counted, d.count_today))
            return answer

        dialler.runner.gate = env.svc  # the same service, its check-and-permit observed
        env.svc.check_and_permit = recording_check
        write = dialler.writer.write
        target_attempt: list[str] = []

        async def slow_write(op):  # dialling committed; meanwhile the number went on DNC
            done = await write(op)
            if (
                type(op).__name__ == "MarkDialling"
                and number_of.get(op.attempt_id) == cust(blocked).e164
                and not target_attempt
            ):
                target_attempt.append(op.attempt_id)
                await env.svc.add_dnc(cust(blocked), source="console", reason="r", actor="t")
                env.clock.now = env.clock.now + timedelta(seconds=PERMIT_TTL_S + 1)
            return done

        dialler.writer.write = slow_write  # type: ignore[method-assign]
        await run_until_finished(env, dialler, camp)
        assert target_attempt, "the slow commit never hit the blocked number"
        assert dialled(board, blocked) == 0  # the switch never saw it
        assert dialled(board, numbers[0]) == dialled(board, numbers[2]) == 1
        assert audit(board.switch) == []
        assert env.dispositions(camp)[env.bi(blocked)] == ["dnc"]  # one attempt, closed
        mine = [a for a in asks if a[0] == cust(blocked).e164]
        assert [p for _, p, _, _ in mine] == [True, False]  # permitted, then denied on re-ask
        assert mine[1][3] in (None, mine[0][3])  # the re-ask did not count the attempt again
        assert dialler.stats.denied == 1
        assert dialler.stats.originated == 2
        probe = await env.svc.dry_run(GateRequest(cust(blocked).e164, "marketing", "probe"))
        assert Reason.DNC in probe.reasons
        await env.svc.remove_dnc(
            cust(blocked), actor="t", actor_role="compliance_officer", reason="test"
        )
        after = await env.svc.dry_run(GateRequest(cust(blocked).e164, "marketing", "probe2"))
        assert after.count_today == 1  # the day's one count: this attempt's, taken once
    finally:
        await board.close()
