"""Console benchmarks: recordings search at 1 million rows in PostgreSQL, and the API under 50
concurrent clients, each beside a baseline measured in the same run.

    .venv/bin/python bench/bench_console.py [--rows 1000000] [--queries 200] [--clients 50]
                                            [--requests 3000] [--keep] [--no-api]

Search: the benchmark creates a PostgreSQL database, migrates it and seeds ``--rows`` stored
recordings with COPY (index columns as the vault writes them: customer blind index from the
real key, masked number, business type, campaign, flow version, direction, start time over 90
days; 5 % carry a QA flag). It then times ``Vault.search`` as the API calls it, per query shape
(by customer, by day + business type, by campaign + week, by disposition + day, by business type
alone newest first, by flow, by QA flag), p50/p99; the
baseline is a primary-key lookup of one row. Target: search p99 <= 50 ms at 1M rows.

API: the console (uvicorn, as ``make run`` starts it) on that database; ``--clients`` concurrent
clients (one asyncio process, keep-alive) send ``--requests`` requests in total: a signed-in
recordings search by customer, ``/auth/me`` and a flow list; baseline ``/healthz`` at the same
concurrency. Prints p50/p99 and requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.auth.service import build_auth_service
from console.permissions import Role
from ivr.crypto import blind_index
from ivr.db import make_engine, migrate
from ivr.phone import customer_number, mask
from ivr.settings import REPO_ROOT, Settings
from records.recording import RecordingQuery
from records.vault import Actor, Vault
from shell.services import ManagedProcess, console_spec, free_port

PG_ADMIN = os.environ.get(
    "IVR_BENCH_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
PG_URL_BASE = os.environ.get(
    "IVR_BENCH_PG_URL_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
BUSINESS = ["wealth", "loan", "card", "insurance", "service", "collections"]
CAMPAIGNS = [f"camp-{i:03d}" for i in range(200)]
FLOWS = ["outbound_marketing", "outbound_notice", "inbound_service", "wealth_promo"]
DISPOSITIONS = ["completed", "refused", "no_answer", "transferred", "callback", "aborted"]
PASSWORD = "bench password 1"
T_END = datetime(2026, 11, 30, tzinfo=UTC)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5) * 1000:6.2f} ms  p99 {pct(values, 0.99) * 1000:6.2f} ms"


def numbers(count: int) -> list[str]:
    rnd = random.Random(7)
    return [f"13{rnd.randint(0, 9)}{rnd.randint(10_000_000, 99_999_999)}" for _ in range(count)]


def seed(url: str, settings: Settings, rows: int, customers: list[str]) -> None:
    """COPY ``rows`` stored recordings (and 5 % flags) into the migrated database."""
    bi_key = settings.key_bytes("blind_index")
    index = {n: blind_index(bi_key, customer_number(n).e164) for n in customers}  # type: ignore[union-attr]
    masked = {n: mask(n) for n in customers}
    rnd = random.Random(11)
    span = int(timedelta(days=90).total_seconds())
    started = time.perf_counter()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        batch = 100_000
        for first in range(0, rows, batch):
            buf = io.StringIO()
            flags = io.StringIO()
            for i in range(first, min(rows, first + batch)):
                rid = f"rec-{i:08d}"
                number = customers[rnd.randrange(len(customers))]
                at = T_END - timedelta(seconds=rnd.randrange(span))
                end = at + timedelta(seconds=rnd.randint(20, 600))
                buf.write(
                    "\t".join(
                        [
                            rid,
                            f"call-{i:08d}",
                            "stored",
                            index[number],
                            masked[number],
                            "\\\\x00",
                            rnd.choice(BUSINESS),
                            rnd.choice(CAMPAIGNS),
                            rnd.choice(("inbound", "outbound")),
                            at.replace(tzinfo=None).isoformat(),
                            end.replace(tzinfo=None).isoformat(),
                            str(int((end - at).total_seconds() * 1000)),
                            "AI-0001",
                            f"{rnd.choice(FLOWS)}@{rnd.randint(1, 9)}",
                            rnd.choice(DISPOSITIONS),
                            "audio/wav",
                            (end + timedelta(days=800)).replace(tzinfo=None).isoformat(),
                            f"k/{rid}",
                            "k1",
                            "\\\\x00",
                            "1000",
                            at.replace(tzinfo=None).isoformat(),
                        ]
                    )
                    + "\n"
                )
                if rnd.random() < 0.05:
                    flag = rnd.choice(("complaint", "prohibited_phrase"))
                    flags.write(f"{rid}\t{flag}\t{at.replace(tzinfo=None).isoformat()}\n")
            columns = (
                "recording_id, call_id, status, customer_bi, customer_masked, customer_enc, "
                "business_type, campaign, direction, started_at, ended_at, duration_ms, agent_id, "
                "flow_version, disposition, media_type, retain_until, storage_key, key_id, "
                "wrapped_key, size_bytes, created_at"
            )
            with cur.copy(f"COPY recordings ({columns}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
            with cur.copy(
                "COPY recording_flags (recording_id, flag, started_at) FROM STDIN"
            ) as copy:
                copy.write(flags.getvalue())
            conn.commit()
        cur.execute("ANALYZE recordings")
        cur.execute("ANALYZE recording_flags")
        conn.commit()
    print(f"seeded {rows:,} recordings in {time.perf_counter() - started:.1f} s")


def bench_search(vault: Vault, engine: sa.Engine, queries: int, customers: list[str]) -> None:
    actor = Actor("bench", "supervisor")
    rnd = random.Random(3)

    def day() -> datetime:
        return T_END - timedelta(days=rnd.randint(1, 89))

    shapes = {
        "customer": lambda: RecordingQuery(
            customer_number=customer_number(rnd.choice(customers)), limit=50
        ),
        "day + business type": lambda: (
            lambda d: RecordingQuery(
                started_from=d,
                started_to=d + timedelta(days=1),
                business_type=rnd.choice(BUSINESS),
                limit=50,
            )
        )(day()),
        "campaign + week": lambda: (
            lambda d: RecordingQuery(
                started_from=d,
                started_to=d + timedelta(days=7),
                campaign=rnd.choice(CAMPAIGNS),
                limit=50,
            )
        )(day()),
        "disposition + day": lambda: (
            lambda d: RecordingQuery(
                started_from=d,
                started_to=d + timedelta(days=1),
                disposition=rnd.choice(DISPOSITIONS),
                limit=50,
            )
        )(day()),
        "business type (newest)": lambda: RecordingQuery(
            business_type=rnd.choice(BUSINESS), limit=50
        ),
        "flow": lambda: RecordingQuery(flow=rnd.choice(FLOWS), limit=50),
        "QA flag + business type": lambda: RecordingQuery(
            flags=("complaint",), business_type=rnd.choice(BUSINESS), limit=50
        ),
    }
    base: list[float] = []
    with engine.connect() as conn:
        for _ in range(queries):
            rid = f"rec-{rnd.randrange(1000):08d}"
            t0 = time.perf_counter()
            conn.execute(
                sa.text("SELECT * FROM recordings WHERE recording_id = :r"), {"r": rid}
            ).all()
            base.append(time.perf_counter() - t0)
    print(f"  baseline: one row by primary key          {ms(base)}")
    every: list[float] = []
    for name, make in shapes.items():
        times = []
        found = 0
        for _ in range(queries):
            query = make()
            t0 = time.perf_counter()
            found += len(vault.search(actor, query))
            times.append(time.perf_counter() - t0)
        every += times
        print(f"  search by {name:<24} {ms(times)}  ({found / queries:.0f} rows/page)")
    print(f"  search, all shapes                        {ms(every)}  (target p99 <= 50 ms)")


async def load(
    url: str, clients: int, requests: int, plan: list[tuple[str, str, dict]]
) -> tuple[list[float], float, int]:
    times: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            method, path, kwargs = plan[n % len(plan)]
            t0 = time.perf_counter()
            answer = await client.request(method, path, **kwargs)
            times.append(time.perf_counter() - t0)
            if answer.status_code >= 400:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return times, elapsed, errors


def bench_api(settings: Settings, clients: int, requests: int, customers: list[str]) -> None:
    auth = build_auth_service(settings)
    if auth.users.by_username("bench") is None:
        auth.add_user(None, "bench", Role.SUPERVISOR, PASSWORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env |= {
        "IVR_DATA_DIR": str(settings.data_dir),
        "IVR_DATABASE_URL": str(settings.database_url),
        "IVR_FLOWS_DIR": str(settings.flows_dir),
        "IVR_CONSOLE_ADMIN_PASSWORD": PASSWORD,
        "IVR_CONSOLE_ACCESS_TOKEN_MINUTES": "60",
    }
    port = free_port()
    spec = dataclasses.replace(console_spec("127.0.0.1", port), env=env)
    server = ManagedProcess(spec, settings.data_dir / "log")
    try:
        server.wait_ready()
        url = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            data={"grant_type": "password", "username": "bench", "password": PASSWORD},
        ).json()["access_token"]
        auth_h = {"Authorization": f"Bearer {token}"}
        rnd = random.Random(5)
        plan = []
        for _ in range(50):
            plan.append(
                (
                    "POST",
                    "/api/v1/recordings/search",
                    {"json": {"customer": rnd.choice(customers), "limit": 20}, "headers": auth_h},
                )
            )
            plan.append(("GET", "/api/v1/auth/me", {"headers": auth_h}))
            plan.append(("GET", "/api/v1/flows", {"headers": auth_h}))
        health = [("GET", "/healthz", {})]
        asyncio.run(load(url, clients, min(requests, 300), plan))  # warm-up
        base, base_s, _ = asyncio.run(load(url, clients, requests, health))
        print(
            f"  baseline /healthz, {clients} clients        {ms(base)}  "
            f"{len(base) / base_s:7.0f} req/s"
        )
        times, secs, errors = asyncio.run(load(url, clients, requests, plan))
        print(
            f"  API mix (search, me, flows), {clients} clients {ms(times)}  "
            f"{len(times) / secs:7.0f} req/s  errors {errors}"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-api", action="store_true", help="only the search benchmark")
    args = parser.parse_args()
    name = f"ivr_bench_console_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_URL_BASE}/{name}"
    try:
        with tempfile.TemporaryDirectory(prefix="ivr-bench-console-") as tmp:
            data = Path(tmp)
            settings = Settings(
                data_dir=data,
                database_url=url,
                redis_url=None,
                flows_dir=REPO_ROOT / "ivr_flows",
            )
            migrate(url)
            customers = numbers(max(1000, args.rows // 10))
            seed(url, settings, args.rows, customers)
            engine = make_engine(url)
            vault = Vault.from_settings(settings, engine)
            print(
                f"recordings search, PostgreSQL, {args.rows:,} rows, {args.queries} queries/shape"
            )
            bench_search(vault, engine, args.queries, customers)
            if not args.no_api:
                print(f"console API, {args.requests} requests")
                bench_api(settings, args.clients, args.requests, customers)
            engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
