"""Helpers shared by the compliance tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from helpers.clock import FakeClock
from helpers.compliance_data import BASE_RULES, INDEX_KEY, REDIS_URL
from helpers.evidence import MemorySink
from helpers.numbers import customer

from compliance.guard import SqlPool
from compliance.redis_store import RedisGateStore
from compliance.reload import LoadedRules, RulesHolder, RulesWatcher
from compliance.rules import parse_rules
from compliance.service import ComplianceService
from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger
from compliance.sql_gate import SqlGateStore
from ivr.db import make_engine
from ivr.evidence import EvidenceSink
from records.evidence_store import SqlEvidenceLog

__all__ = ["BASE_RULES", "INDEX_KEY", "REDIS_URL"]


def rules_text(version: str = "t-1", marketing_end: str = "22:00") -> str:
    return BASE_RULES.replace('"t-1"', f'"{version}"').replace(
        'end: "22:00"}\n    daily_cap: 3\n    consent: in_call',
        f'end: "{marketing_end}"}}\n    daily_cap: 3\n    consent: in_call',
    )


def loaded(text: str | None = None) -> LoadedRules:
    return LoadedRules(parse_rules(text or rules_text(), "test.yaml"), uuid.uuid4().hex, "t")


SH_NOON = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def build(
    url: str,
    backend: str,
    *,
    prefix: str = "",
    redis_url: str = REDIS_URL,
    clock: FakeClock | None = None,
    timeout_s: float = 2.0,
    text: str | None = None,
    holder: RulesHolder | None = None,
    watcher: RulesWatcher | None = None,
    settle_s: float = 0.0,
    cluster: bool = False,
) -> tuple[ComplianceService, MemorySink]:
    """A service on ``url`` with the ``backend`` gate store ("redis" or "sql"). A mirror rebuild
    does not wait for other processes' permits (``settle_s``) unless a test asks."""
    engine = make_engine(url)
    sink = MemorySink()
    sql = SqlPool("test-sql", workers=4, max_pending=256)
    gate: RedisGateStore | SqlGateStore
    if backend == "redis":
        gate = RedisGateStore(redis_url, prefix, timeout_s, cluster=cluster)
    else:
        gate = SqlGateStore(engine, sql)
    svc = ComplianceService(
        holder=holder or RulesHolder(loaded(text)),
        ledger=SqlLedger(engine),
        gate_store=gate,
        evidence=sink,
        index_key=INDEX_KEY,
        sql=sql,
        watcher=watcher,
        timeout_s=timeout_s,
        settle_s=settle_s,
        clock=clock or FakeClock(SH_NOON),
    )
    return svc, sink


def hammer(url: str, backend: str, prefix: str, number: str, n: int) -> tuple[int, int]:
    """Run in a child process: ``n`` attempts on each of two callee-local days, concurrently."""
    import asyncio

    from compliance.decision import GateRequest

    async def main() -> tuple[int, int]:
        clocks = (FakeClock(SH_NOON), FakeClock(SH_NOON + timedelta(days=1)))
        allowed = []
        for clock in clocks:
            svc, _ = build(url, backend, prefix=prefix, clock=clock, timeout_s=30)
            await svc.start(watch=False)
            ds = await asyncio.gather(
                *(
                    svc.check_and_count(GateRequest(number, "marketing", uuid.uuid4().hex))
                    for _ in range(n)
                )
            )
            allowed.append(sum(d.allowed for d in ds))
            await svc.close()
        return allowed[0], allowed[1]

    return asyncio.run(main())


def dial_until_killed(url: str, redis_url: str, prefix: str, numbers: list[str], out: str) -> None:
    """Run in a child process: gate attempts on ``numbers`` in concurrent bursts, forever; each
    permit is appended to ``out`` the moment it is returned (what a dialler would dial)."""
    import asyncio
    import os

    from compliance.decision import GateRequest

    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def attempt(svc: ComplianceService, number: str) -> None:
        d = await svc.check_and_count(GateRequest(number, "marketing", uuid.uuid4().hex))
        if d.allowed:
            os.write(fd, f"{number}\n".encode())  # the kernel has it even if we are killed

    async def main() -> None:
        svc, _ = build(url, "redis", prefix=prefix, redis_url=redis_url, timeout_s=2.0)
        await svc.start(watch=False)
        while True:
            await asyncio.gather(*(attempt(svc, n) for n in numbers for _ in range(2)))

    asyncio.run(main())


def write_until_killed(url: str, out: str) -> None:
    """Run in a child process: DNC adds, consents and evidence appends from 4 concurrent writers,
    forever, on ``url`` with the real chained evidence log; each write is appended to ``out``
    the moment it is acknowledged: ``dnc +86…``, ``consent +86… <id>``, ``evidence <seq> <hash>``.
    """
    import asyncio
    import os
    import random

    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def writer(svc: ComplianceService, log: SqlEvidenceLog, worker: int) -> None:
        rng = random.Random(worker)
        i = 0
        while True:
            i += 1
            number = customer(f"+86139{rng.randrange(10**8):08d}")
            if i % 3 == 0:
                await svc.add_dnc(number, source="test", reason="kill9", actor="tester")
                line = f"dnc {number.e164}"
            elif i % 3 == 1:
                rec = await svc.grant_consent(
                    number, purpose="marketing", scope="product", channel="call"
                )
                line = f"consent {number.e164} {rec.id}"
            else:
                entry = await asyncio.to_thread(
                    log.append_entry, "test_probe", call_id=f"kill9-{worker}-{i}", payload={"i": i}
                )
                line = f"evidence {entry.seq} {entry.hash.hex()}"
            os.write(fd, f"{line}\n".encode())  # the kernel has it even if we are killed

    async def main() -> None:
        svc, log = build_chained(url)
        await svc.start(watch=False)
        await asyncio.gather(*(writer(svc, log, w) for w in range(4)))

    asyncio.run(main())


def build_chained(url: str) -> tuple[ComplianceService, SqlEvidenceLog]:
    """A service on ``url`` (SQL gate store) whose evidence is the real SM3-chained log."""
    engine = make_engine(url)
    log = SqlEvidenceLog(engine)
    sql = SqlPool("test-sql", workers=4, max_pending=256)
    svc = ComplianceService(
        holder=RulesHolder(loaded()),
        ledger=SqlLedger(engine),
        gate_store=SqlGateStore(engine, sql),
        evidence=log,
        index_key=INDEX_KEY,
        sql=sql,
        watcher=None,
        timeout_s=5.0,
        clock=FakeClock(SH_NOON),
    )
    return svc, log


DEAD_PG = "postgresql://postgres@127.0.0.1:1/ivr_down"  # refused at once: the database is down


def build_spooled(
    url: str, spool: LedgerSpool, evidence: EvidenceSink, clock: FakeClock
) -> ComplianceService:
    """A service on ``url`` (SQL gate store) with the outage spool ``spool``."""
    engine = make_engine(url)
    sql = SqlPool("test-sql", workers=2, max_pending=64)
    return ComplianceService(
        holder=RulesHolder(loaded()),
        ledger=SqlLedger(engine),
        gate_store=SqlGateStore(engine, sql),
        evidence=evidence,
        index_key=INDEX_KEY,
        sql=sql,
        watcher=None,
        timeout_s=2.0,
        clock=clock,
        spool=spool,
    )


def spool_until_killed(path: str, out: str) -> None:
    """Run in a child process: put items into the spool at ``path`` forever from 2 threads;
    each item's token is appended to ``out`` the moment ``put`` returned."""
    import os
    import threading
    from pathlib import Path

    from ivr.spool import Spool

    spool = Spool(Path(path))
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def writer(worker: int) -> None:
        i = 0
        while True:
            i += 1
            token = f"w{worker}-{i}"
            spool.put("probe", {"token": token, "pad": "x" * (i % 200)}, key=token)
            os.write(fd, f"{token}\n".encode())

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
