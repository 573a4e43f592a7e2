"""inv9 durable counts: a permit is never returned before its count is in SQL, so neither a
crash nor losing Redis can let a number be called a 4th time that day; SQL refusing the count
denies the call (inv2)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from cmp_support import build, dial_until_killed
from helpers.numbers import fresh_number
from helpers.redis_server import ThrowawayRedis

from compliance.decision import GateRequest, Reason


def permits(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(line for line in path.read_text().splitlines() if line)


async def test_inv9_kill_9_mid_burst_then_redis_restarted_empty_never_allows_a_4th_call(
    sqlite_url: str, throwaway_redis: ThrowawayRedis, tmp_path: Path
) -> None:
    numbers = [fresh_number() for _ in range(30)]
    out = tmp_path / "dialled.txt"
    prefix = f"kill9-{uuid.uuid4().hex[:6]}"
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(
        target=dial_until_killed, args=(sqlite_url, throwaway_redis.url, prefix, numbers, str(out))
    )
    child.start()
    try:
        deadline = time.monotonic() + 60
        while sum(permits(out).values()) < 45:  # mid-burst: about half of all the day's calls
            assert child.is_alive() and time.monotonic() < deadline, "the gating process stalled"
            await asyncio.sleep(0.005)
        os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    dialled = permits(out)

    throwaway_redis.stop()  # Redis loses every counter (no persistence) ...
    throwaway_redis.start()  # ... and comes back empty
    svc, _ = build(sqlite_url, "redis", prefix=prefix, redis_url=throwaway_redis.url, settle_s=0.2)
    await svc.start(watch=False)  # the mirror and the day counters are rebuilt from SQL
    requests = [(n, GateRequest(n, "marketing", uuid.uuid4().hex)) for n in numbers * 5]
    try:
        later = await asyncio.gather(*(svc.check_and_count(r) for _, r in requests))
    finally:
        await svc.close()
    after = Counter(n for (n, _), d in zip(requests, later, strict=True) if d.allowed)
    allowed_today = {n: dialled[n] + after[n] for n in numbers}
    assert max(allowed_today.values()) <= 3, allowed_today
    assert sum(dialled.values()) >= 45  # killed mid-day: the rebuilt counts had work to do


def unreachable_sql() -> sa.Engine:
    """An engine whose database cannot be opened (its directory does not exist)."""
    return sa.create_engine(f"sqlite:////nonexistent-{uuid.uuid4().hex}/ivr.db")


async def test_inv2_inv9_no_permit_when_sql_cannot_take_the_count(
    sqlite_url: str, throwaway_redis: ThrowawayRedis
) -> None:
    svc, _ = build(sqlite_url, "redis", prefix="sqldown", redis_url=throwaway_redis.url)
    await svc.start(watch=False)
    n = fresh_number()
    assert (await svc.check_and_count(GateRequest(n, "marketing", "a-1"))).allowed
    healthy = svc.ledger.log_engine
    svc.ledger.log_engine = unreachable_sql()
    d = await svc.check_and_count(GateRequest(n, "marketing", "a-2"))
    assert not d.allowed and d.reasons == (Reason.STORE_UNAVAILABLE,)
    svc.ledger.log_engine = healthy
    await svc.flush()
    with healthy.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT attempt_id, allowed FROM compliance_gate_decisions ORDER BY id")
        ).all()
    assert [(r[0], bool(r[1])) for r in rows] == [("a-1", True), ("a-2", False)]
    await svc.close()
