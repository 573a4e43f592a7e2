"""Benchmark: gated originates/s of one dialler process, claim-to-originate latency, and a large
campaign end to end with an independent audit of the simulator's originate log.

One dialler process (this one) on a private SQLite database, the Redis gate store and Redis
pacing under a private key prefix, against the FreeSWITCH simulator's inbound ESL. Answered
legs run the shipped dialplan's ``ivr_outbound`` into a minimal far end (answers, writes the
``call_ended`` evidence the flow writes, hangs up), so each attempt goes the whole way: claim,
windows, pacing slot, gate check-and-count with its durable decision-log row, ``dialling``
commit, ``bgapi originate``, hangup event, outcome, ``done``.

1. caps 50 and 200 calls/s: gated originates/s over ``--n`` numbers, claim-to-originate
   p50/p99; beside the baseline of the same simulator taking ungated ``bgapi originate`` from
   one client at the same concurrency.
2. ``--campaign`` numbers (default 10,000) end to end: wall time, calls/s, and the violations
   the audit of the switch's own log finds (two legs of one number at once, a number dialled
   more often than the daily cap, an originate without its attempt id): must be 0.

    .venv/bin/python bench/bench_dialler.py [--n 2000] [--campaign 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import redis

from campaigns.app import build_dialler
from campaigns.importer import ListImporter
from campaigns.model import CampaignState, DailyWindow
from campaigns.pacing import RedisPacer
from campaigns.repository import CampaignRepository
from campaigns.spec import CampaignSpec
from compliance.factory import build_service
from ivr.db import make_engine, migrate
from ivr.evidence import EvidenceKind
from ivr.phone import normalize
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog
from records.sealed_number import NumberSealer
from telephony.esl.dialstring import Extension
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.session import CallSession
from telephony.simulator import Dialplan, InboundSwitch

REDIS = "redis://127.0.0.1:6379/0"


class FarEnd:
    """The far end of ``ivr_outbound``: answer, ``call_ended`` evidence, hang up."""

    def __init__(self, evidence: SqlEvidenceLog) -> None:
        self.evidence = evidence

    async def __call__(self, session: CallSession) -> None:
        await session.answer()
        await self.evidence.append(
            EvidenceKind.CALL_ENDED, call_id=session.uuid, payload={"reason": "completed"}
        )
        await session.hangup("NORMAL_CLEARING")


def audit(switch: InboundSwitch, cap: int = 3) -> list[str]:
    problems: list[str] = []
    spans: dict[str, list[tuple[float, float]]] = {}
    for rec in switch.originate_log:
        if rec.variables.get("origination_uuid") != rec.variables.get("ivr_attempt_id"):
            problems.append("originate without its attempt id")
        number = normalize(rec.variables.get("ivr_customer_number", "0") or "0")
        spans.setdefault(number, []).append((rec.received_at, rec.ended_at or float("inf")))
    for s in spans.values():
        if len(s) > cap:
            problems.append("more originates than the daily cap")
        s.sort()
        problems += ["two legs at once" for a, b in itertools.pairwise(s) if b[0] < a[1]]
    return problems


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] * 1000 if v else float("nan")


async def run_campaign(n: int, cps: float, tmp: Path, prefix: str) -> dict[str, object]:
    data = tmp / uuid.uuid4().hex[:8]
    data.mkdir()
    settings = Settings(
        data_dir=data, database_url=f"sqlite:///{data / 'b.db'}", redis_url=REDIS,
        redis_key_prefix=f"{prefix}:{data.name}", gate_timeout_ms=1000,
        dialler_bot_capacity=5000,
    )  # fmt: skip
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    evidence = SqlEvidenceLog(engine)
    svc = build_service(settings, engine=engine, evidence=evidence, migrate_db=False)
    await svc.start(watch=False)
    server = OutboundServer(FarEnd(evidence), evidence, ServerConfig(reply_timeout_s=20))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port), dialplan=Dialplan.shipped({"recordings_dir": str(data)})
    )
    shost, sport = await switch.start()
    esl = InboundClient(shost, sport, "ClueCon")
    pacer = RedisPacer(REDIS, settings.redis_key_prefix)
    dialler = build_dialler(settings, engine=engine, gate=svc, esl=esl, pacer=pacer)
    await esl.connect()
    repo = CampaignRepository(engine)
    now = datetime.now(UTC)
    spec = CampaignSpec(
        name=f"bench-{data.name}", flow_id="outbound_marketing", purpose="service",
        caller_ids=("95588",), windows=(DailyWindow(0, 1440),), max_attempts=1,
        max_concurrency=2000, max_cps=cps,
    )  # fmt: skip
    camp = repo.create(spec, actor="bench", now=now)
    path = data / "list.csv"
    path.write_text(
        "number\n" + "\n".join(f"139{i:08d}" for i in range(n)) + "\n", encoding="utf-8"
    )
    t_import = time.perf_counter()
    ListImporter(engine, NumberSealer.from_settings(settings)).import_file(
        camp, path, placeholders=set(), now=now
    )
    import_s = time.perf_counter() - t_import
    repo.apply(camp.id, "start", now=now)
    start = time.perf_counter()
    task = asyncio.create_task(dialler.run())
    deadline = time.monotonic() + 3600
    while repo.get(camp.id).state is not CampaignState.FINISHED:
        if task.done() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    wall = time.perf_counter() - start
    dialler.stop()
    await task
    lat = dialler.stats.claim_to_originate_s
    first, last = (
        min(r.received_at for r in switch.originate_log),
        max(r.received_at for r in switch.originate_log),
    )
    result = {
        "numbers": n,
        "cap_cps": cps,
        "originates": len(switch.originate_log),
        "originates_per_s": len(switch.originate_log) / max(last - first, 1e-9),
        "wall_s": wall,
        "import_s": import_s,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "violations": len(audit(switch)),
        "dispositions": dict(Counter(dialler.queue.counts(camp.id))),
    }
    await esl.close()
    await pacer.close()
    await switch.close()
    await server.close(grace_s=5)
    await svc.close()
    engine.dispose()
    return result


async def baseline(n: int, concurrency: int, tmp: Path) -> float:
    """Ungated originates/s: the same simulator and far end, one client, no dialler."""
    engine = make_engine(f"sqlite:///{tmp / 'base.db'}")
    migrate(f"sqlite:///{tmp / 'base.db'}")
    evidence = SqlEvidenceLog(engine)
    server = OutboundServer(FarEnd(evidence), evidence, ServerConfig(reply_timeout_s=20))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port), dialplan=Dialplan.shipped({"recordings_dir": str(tmp)})
    )
    shost, sport = await switch.start()
    esl = InboundClient(shost, sport, "ClueCon")
    await esl.connect()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await esl.originate(
                f"sofia/gateway/carrier/139{i:08d}",
                Extension("ivr_outbound", "XML", "ivr"),
                variables={"ivr_attempt_id": str(i)},
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    rate = n / (time.perf_counter() - t0)
    await esl.close()
    await switch.close()
    await server.close(grace_s=5)
    engine.dispose()
    return rate


async def main(n: int, campaign: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    prefix = f"bench-dialler-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = await baseline(n, 200, tmp)
        print(f"baseline: ungated bgapi originate, concurrency 200: {base:,.0f}/s")
        for cap in (50.0, 200.0):
            r = await run_campaign(n, cap, tmp, prefix)
            print(
                f"cap {cap:>4.0f}/s: {r['originates_per_s']:,.1f} gated originates/s, "
                f"claim-to-originate p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, "
                f"{r['originates']} originates, violations {r['violations']}"
            )
        if campaign:
            r = await run_campaign(campaign, 200.0, tmp, prefix)
            print(
                f"campaign {campaign:,} numbers (cap 200/s): wall {r['wall_s']:.1f} s, "
                f"{campaign / r['wall_s']:,.1f} calls/s end to end, "
                f"{r['originates']} originates, import {r['import_s']:.1f} s, "
                f"audit violations {r['violations']}"
            )
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--campaign", type=int, default=10000)
    args = ap.parse_args()
    asyncio.run(main(args.n, args.campaign))
    sys.exit(0)
