"""Every dialled attempt ends with its own disposition, through a database outage (issue 19's
fault soak: PostgreSQL restarted under the dialler).

The queue's database goes away just as a dialled call ends, for longer than the attempt's
lease: the end is written when it is back, so the attempt is ``completed``, not closed
``unknown`` by recovery (and never left without a disposition when the dialler stops first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from camp_support import CalleeApp, audit, cust, fresh_numbers, make_dialler, switchboard
from test_camp_dialler import run_until_finished

from campaigns.writes import Finish, Result, Write
from ivr.errors import StoreUnavailableError

LEASE_S = 1.5
OUTAGE_S = 3.0  # longer than the lease: recovery runs as soon as the database is back


async def test_a_call_ending_in_a_database_outage_keeps_its_disposition(
    sqlite_env, tmp_path
) -> None:
    env = sqlite_env
    (number,) = fresh_numbers(1)
    board = await switchboard(CalleeApp(env), tmp_path)
    commit: Callable[[Sequence[Write]], list[Result]] = env.queue.write
    outage: list[float] = []  # when the database went away

    def restarting(ops: Sequence[Write]) -> list[Result]:
        if not outage and any(isinstance(op, Finish) for op in ops):
            outage.append(time.monotonic())  # the call's end meets the outage first
        if outage and time.monotonic() - outage[0] < OUTAGE_S:
            raise StoreUnavailableError("attempt queue: OperationalError")
        return commit(ops)

    env.queue.write = restarting
    try:
        camp = env.campaign(max_attempts=3)
        env.load(camp, tmp_path, [number])
        env.start(camp)
        await run_until_finished(env, make_dialler(env, board, lease_s=LEASE_S), camp)
        assert outage, "the outage happened"
        assert audit(board.switch) == []
        e164 = cust(number).e164
        assert [r.variables["ivr_customer_number"] for r in board.switch.originate_log] == [e164]
        assert env.dispositions(camp)[env.bi(number)] == ["completed"]
    finally:
        env.queue.write = commit
        await board.close()
