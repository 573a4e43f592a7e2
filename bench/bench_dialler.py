"""Benchmark: gated originates/s of one dialler process, claim-to-originate latency, and a large
campaign end to end with an independent audit of the simulator's originate log.

One dialler process (this one) on a private database (SQLite file, or a throwaway PostgreSQL
database on ``127.0.0.1:5432``, the production store: ``--store``), the Redis gate store and
Redis pacing under a private key prefix, against the FreeSWITCH simulator's inbound ESL. The switch
runs in its own process (``--switch``), as FreeSWITCH and the flows' ESL server do in
production: its answered legs run the shipped dialplan's ``ivr_outbound`` into a minimal far
end there (answers, writes the ``call_ended`` evidence the flow writes, hangs up), so each
attempt goes the whole way: claim, windows, pacing slot, gate check-and-count with its durable
decision-log row, ``dialling`` commit, ``bgapi originate``, hangup event, outcome, ``done``.
The dialler process's own CPU time is reported beside the rates. The switch process hands its
originate log back as a JSON file when its stdin closes.

1. caps 50 and 200 calls/s: gated originates/s over ``--n`` numbers, claim-to-originate
   p50/p99; beside the baseline of the same simulator taking ungated ``bgapi originate`` from
   one client at the same concurrency.
2. ``--campaign`` numbers (default 10,000) end to end: wall time, calls/s, and the violations
   the audit of the switch's own log finds (two legs of one number at once, a number dialled
   more often than the daily cap, an originate without its attempt id): must be 0.

    .venv/bin/python bench/bench_dialler.py [--n 2000] [--campaign 10000] \
        [--store sqlite|postgres|both] [--profile out.prof]

With ``--store both`` (the default) each measurement runs on SQLite and on PostgreSQL in the
same run, side by side; the host's load average is printed with each line. ``--profile``
writes a cProfile of the dialler process's run at the last cap (the last store's); ``--caps``
(default 50, 200 and 1000: the last one above what one process reaches, its ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
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
from telephony.simulator.dialing import OriginateRecord

REDIS = "redis://127.0.0.1:6379/0"
PG_ADMIN = os.environ.get("IVR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL_BASE = os.environ.get("IVR_TEST_PG_URL_BASE", "postgresql://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database (trust auth on 127.0.0.1), dropped afterwards."""
    name = f"bench_dialler_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL_BASE}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


SH_MORNING = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 Asia/Shanghai, a Tuesday


class DayClock:
    """Real time running on from 09:00 Shanghai, whatever the hour the bench runs (after
    14:00 UTC it is quiet hours there: a wall clock would requeue every attempt)."""

    def __init__(self, start: datetime = SH_MORNING) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


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


def audit(log: list[OriginateRecord], cap: int = 3) -> list[str]:
    """Violations in the switch's own originate log, independently of the dialler's records."""
    problems: list[str] = []
    spans: dict[str, list[tuple[float, float]]] = {}
    for rec in log:
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


AUDITED_VARS = ("origination_uuid", "ivr_attempt_id", "ivr_customer_number")


async def switch_main(db_url: str, data: Path, out: Path) -> None:
    """``--switch``: the simulated switch and the far end, until stdin closes; then the
    originate log to ``out`` (JSON)."""
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # legs left at exit: not news
    engine = make_engine(db_url)
    evidence = SqlEvidenceLog(engine)
    server = OutboundServer(FarEnd(evidence), evidence, ServerConfig(reply_timeout_s=20))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port), dialplan=Dialplan.shipped({"recordings_dir": str(data)})
    )
    _, sport = await switch.start()
    print(f"port {sport}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    records = [
        {
            "uuid": r.uuid,
            "destination": r.destination,
            "endpoint": r.endpoint,
            "variables": {k: v for k, v in r.variables.items() if k in AUDITED_VARS},
            "received_at": r.received_at,
            "outcome": r.outcome,
            "ended_at": r.ended_at,
        }
        for r in switch.originate_log
    ]
    await asyncio.to_thread(out.write_text, json.dumps(records), encoding="utf-8")
    await switch.close()
    await server.close(grace_s=5)
    engine.dispose()


class SwitchProcess:
    """The ``--switch`` child: started on a database, stopped for its originate log."""

    def __init__(self, db_url: str, data: Path) -> None:
        self.db_url, self.data, self.out = db_url, data, data / "originates.json"

    async def start(self) -> int:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--switch", self.db_url, str(self.data), str(self.out),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = (await self.proc.stdout.readline()).decode()
        if not line.startswith("port "):
            raise RuntimeError("the switch process did not start")
        return int(line.split()[1])

    async def stop(self) -> list[OriginateRecord]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()
        text = await asyncio.to_thread(self.out.read_text, encoding="utf-8")
        return [OriginateRecord(**r) for r in json.loads(text)]


def cpu_s() -> float:
    """This process's CPU time (user + system, all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] * 1000 if v else float("nan")


async def run_campaign(
    n: int, cps: float, tmp: Path, prefix: str, store: str, profile: Path | None = None
) -> dict[str, object]:
    with contextlib.ExitStack() as stack:
        data = tmp / uuid.uuid4().hex[:8]
        data.mkdir()
        url = stack.enter_context(pg_database()) if store == "postgres" else (
            f"sqlite:///{data / 'b.db'}"
        )  # fmt: skip
        return await _run_campaign(n, cps, data, prefix, url, profile)


async def _run_campaign(
    n: int, cps: float, data: Path, prefix: str, url: str, profile: Path | None
) -> dict[str, object]:
    settings = Settings(
        data_dir=data, database_url=url, redis_url=REDIS,
        redis_key_prefix=f"{prefix}:{data.name}", gate_timeout_ms=1000,
        dialler_bot_capacity=5000,
    )  # fmt: skip
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    evidence = SqlEvidenceLog(engine)
    clock = DayClock()
    svc = build_service(
        settings, engine=engine, evidence=evidence, spool=None, migrate_db=False, clock=clock
    )
    await svc.start(watch=False)
    child = SwitchProcess(settings.sqlalchemy_url, data)
    sport = await child.start()
    esl = InboundClient("127.0.0.1", sport, "ClueCon")
    pacer = RedisPacer(REDIS, settings.redis_key_prefix)
    dialler = build_dialler(settings, engine=engine, gate=svc, esl=esl, pacer=pacer, clock=clock)
    await esl.connect()
    repo = CampaignRepository(engine)
    now = clock()
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
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()
    start, cpu0 = time.perf_counter(), cpu_s()
    task = asyncio.create_task(dialler.run())
    deadline = time.monotonic() + 3600
    while repo.get(camp.id).state is not CampaignState.FINISHED:
        if task.done() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu0
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    dialler.stop()
    await task
    await esl.close()
    log = await child.stop()
    lat = dialler.stats.claim_to_originate_s
    first, last = min(r.received_at for r in log), max(r.received_at for r in log)
    result = {
        "numbers": n,
        "cap_cps": cps,
        "originates": len(log),
        "originates_per_s": len(log) / max(last - first, 1e-9),
        "wall_s": wall,
        "dialler_cpu_s": cpu,
        "import_s": import_s,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "violations": len(audit(log)),
        "load": load(),
        "dispositions": dict(Counter(dialler.queue.counts(camp.id))),
    }
    await pacer.close()
    if dialler.agent_pacing is not None:
        await dialler.agent_pacing.close()
    await svc.close()
    dialler.queue.close()
    engine.dispose()
    return result


async def baseline(n: int, concurrency: int, tmp: Path) -> dict[str, float]:
    """Ungated originates/s: the same switch process and far end, one client, no dialler."""
    data = tmp / "base"
    data.mkdir()
    url = f"sqlite:///{data / 'base.db'}"
    migrate(url)
    child = SwitchProcess(url, data)
    esl = InboundClient("127.0.0.1", await child.start(), "ClueCon")
    await esl.connect()
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.monotonic()
            await esl.originate(
                f"sofia/gateway/carrier/139{i:08d}",
                Extension("ivr_outbound", "XML", "ivr"),
                variables={"ivr_attempt_id": str(i), "origination_uuid": str(i)},
                uuid=str(i),
            )
            lat.append(time.monotonic() - t)

    t0, cpu0 = time.perf_counter(), cpu_s()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - t0, cpu_s() - cpu0
    await esl.close()
    log = await child.stop()
    first, last = min(r.received_at for r in log), max(r.received_at for r in log)
    return {
        "originates_per_s": len(log) / max(last - first, 1e-9),
        "wall_rate": n / wall,
        "cpu_s": cpu,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
    }


async def main(
    n: int, campaign: int, stores: list[str], profile: Path | None, caps: list[float]
) -> None:
    logging.basicConfig(level=logging.ERROR)
    prefix = f"bench-dialler-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = await baseline(n, 200, tmp)
        print(
            f"baseline (switch alone): ungated bgapi originate, concurrency 200: "
            f"{base['originates_per_s']:,.1f} originates/s, originate-to-answer "
            f"p50 {base['p50_ms']:.1f} ms p99 {base['p99_ms']:.1f} ms, "
            f"client CPU {base['cpu_s']:.1f} s ({load()})"
        )
        for cap in caps:
            for store in stores:
                prof = profile if cap == caps[-1] and store == stores[-1] else None
                r = await run_campaign(n, cap, tmp, prefix, store, prof)
                print(
                    f"{store:>8} cap {cap:>4.0f}/s: {r['originates_per_s']:,.1f} gated "
                    f"originates/s (baseline {base['originates_per_s']:,.1f}/s), "
                    f"claim-to-originate p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, "
                    f"{r['originates']} originates, dialler CPU {r['dialler_cpu_s']:.1f} s "
                    f"({r['dialler_cpu_s'] / max(r['originates'], 1) * 1000:.2f} ms/call), "
                    f"violations {r['violations']} ({r['load']})"
                )
        if campaign:
            for store in stores:
                r = await run_campaign(campaign, 200.0, tmp, prefix, store)
                print(
                    f"{store:>8} campaign {campaign:,} numbers (cap 200/s): wall "
                    f"{r['wall_s']:.1f} s, {campaign / r['wall_s']:,.1f} calls/s end to end, "
                    f"{r['originates']} originates, import {r['import_s']:.1f} s, "
                    f"audit violations {r['violations']}; {r['dispositions']} ({r['load']})"
                )
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--switch"]:
        asyncio.run(switch_main(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])))
        os._exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--campaign", type=int, default=10000)
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--caps", default="50,200,1000", help="CPS caps to measure, comma-separated")
    args = ap.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    caps = [float(c) for c in args.caps.split(",")]
    asyncio.run(main(args.n, args.campaign, stores, args.profile, caps))
    sys.exit(0)
