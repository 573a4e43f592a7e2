"""Benchmark: gate decisions/s and p50/p99 latency on the real Redis, beside a GET baseline.

Runs the full ``ComplianceService.check_and_count`` path (number parsing, blind index, the Lua
check-and-count, the pure decision, and for every permit the group-committed SQLite decision-log
write it waits for: a count is durable before the permit, invariant 9) at concurrency 1, 16 and
128 from one asyncio client, and the same client's single Redis ``GET`` round trip as the
baseline. Keys live under a private prefix that is deleted afterwards.

    .venv/bin/python bench/bench_gate.py [--redis redis://127.0.0.1:6379/0] [--n 20000]
    .venv/bin/python bench/bench_gate.py --cluster 3   # a throwaway 3-primary Redis Cluster

With ``--cluster N`` the bench starts N local primaries (``shell/redis_cluster.py``), runs the
gate's cluster mode (bucket hash tags, redis-py's cluster client) and stops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from compliance.decision import GateRequest
from compliance.decision_rows import decision_log_engine
from compliance.guard import SqlPool
from compliance.redis_store import RedisGateStore
from compliance.reload import RulesHolder, load_rules_file
from compliance.service import ComplianceService
from compliance.sql import SqlLedger
from ivr.db import make_engine, migrate
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog
from shell.redis_cluster import LocalRedisCluster

NOON_SHANGHAI = datetime(2025, 6, 2, 4, 0, tzinfo=UTC)


async def measure(
    op: Callable[[int], Awaitable[object]], total: int, concurrency: int
) -> tuple[float, float, float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return total / elapsed, p50, p99


async def main(redis_url: str, n: int, timeout_s: float, cluster: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(url)
    engine = make_engine(url)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    # Socket timeouts are generous so the GET baseline never fails; the gate's own bound is the
    # service timeout (fail closed with store_unavailable), counted in the deny reasons.
    gate = RedisGateStore(redis_url, prefix, timeout_s=5.0, max_connections=128, cluster=cluster)
    svc = ComplianceService(
        holder=RulesHolder(load_rules_file(Settings().rules_path)),
        ledger=SqlLedger(engine, log_engine=decision_log_engine(url)),
        gate_store=gate,
        evidence=SqlEvidenceLog(engine),
        index_key=bytes(16),
        sql=SqlPool("bench-sql", workers=4, max_pending=256),
        watcher=None,
        timeout_s=timeout_s,
        clock=lambda: NOON_SHANGHAI,
    )
    await svc.start(watch=False)
    numbers = [f"+86139{i:08d}" for i in range(50_000)]
    await gate.client.set(f"{prefix}:baseline", "x")
    reasons: collections.Counter[str] = collections.Counter()

    async def decision(i: int) -> None:
        d = await svc.check_and_count(
            GateRequest(numbers[i % len(numbers)], "marketing", uuid.uuid4().hex)
        )
        reasons.update(r.value for r in d.reasons)

    async def baseline(i: int) -> None:
        await gate.client.get(f"{prefix}:baseline")

    await measure(decision, 500, 16)  # warm-up: script load, connections, caches
    await measure(baseline, 500, 16)
    print(
        f"{'concurrency':>11} | {'gate dec/s':>10} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'GET ops/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for c in (1, 16, 128):
        total = max(n // 4, 2000) if c == 1 else n
        g = await measure(decision, total, c)
        b = await measure(baseline, total, c)
        print(
            f"{c:>11} | {g[0]:>10.0f} {g[1]:>7.2f} {g[2]:>7.2f} | "
            f"{b[0]:>10.0f} {b[1]:>7.2f} {b[2]:>7.2f}"
        )
    print(f"deny reasons: {dict(reasons)} (daily_cap: a number's 4th call of the day)")
    await svc.flush()
    await gate.delete_prefix()
    await svc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=0.2, help="gate timeout, seconds")
    parser.add_argument("--cluster", type=int, default=0, help="start a local N-primary cluster")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if not args.cluster:
        asyncio.run(main(args.redis, args.n, args.timeout, cluster=False))
    else:
        local = LocalRedisCluster(Path(tempfile.mkdtemp(prefix="bench-cluster-")), args.cluster)
        try:
            local.start()
            print(f"Redis Cluster: {args.cluster} primaries on ports {local.ports}")
            asyncio.run(main(local.url, args.n, args.timeout, cluster=True))
        finally:
            local.stop()
