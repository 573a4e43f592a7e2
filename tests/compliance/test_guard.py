"""Store calls under guard (inv2): one timeout wrapper; SQL work on a bounded pool whose timed-out
jobs keep their slot until they really end, so a hung database cannot pile up threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from compliance.guard import SqlPool, guarded
from ivr.errors import StoreUnavailableError


async def test_inv2_guarded_turns_any_failure_or_timeout_into_store_unavailable() -> None:
    async def slow() -> int:
        await asyncio.sleep(10)
        return 1

    async def broken() -> int:
        raise ConnectionResetError("peer went away")

    with pytest.raises(StoreUnavailableError, match="gate store: timed out"):
        await guarded(slow(), "gate store", 0.01)
    with pytest.raises(StoreUnavailableError, match="ledger: ConnectionResetError"):
        await guarded(broken(), "ledger", 1.0)
    with pytest.raises(StoreUnavailableError, match="timed out"):
        await guarded(slow(), "deadline passed", 0.0)


async def test_inv2_a_hung_database_fills_the_bounded_pool_then_new_work_is_refused_at_once() -> (
    None
):
    pool = SqlPool("test", workers=1, max_pending=2)
    release = threading.Event()
    started = threading.Event()

    def hung_query() -> str:
        started.set()
        release.wait(30)
        return "late"

    try:
        with pytest.raises(StoreUnavailableError, match="timed out"):
            await pool.call("ledger", 0.05, hung_query)  # the caller gives up ...
        assert started.wait(5)  # ... but the query still runs and keeps its slot
        queued = asyncio.ensure_future(pool.run(lambda: "queued"))
        await asyncio.sleep(0)  # it takes the second slot and waits behind the hung query
        with pytest.raises(StoreUnavailableError, match="backlog full"):
            await pool.run(lambda: "third")  # refused at once, not queued behind the hang
        release.set()
        assert await queued == "queued"  # the slots come back when the work really ends
        assert await pool.call("ledger", 5.0, lambda: "again") == "again"
    finally:
        release.set()
        pool.close()
