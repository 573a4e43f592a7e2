"""Recordings search at scale on PostgreSQL: the month-partitioned index beside the flat one.

    .venv/bin/python bench/bench_records_search.py [--rows 10000000] [--queries 200] [--no-flat]

Two throwaway databases on the local PostgreSQL get the same ``--rows`` recordings (generated
server-side, deterministic in the row number: two years of calls in time order, 4 business
types, 50 campaigns, 8 dispositions, one customer per 5 calls): one migrated to head (the index
partitioned by month, ``records.partitions``), the baseline at ``records_0003`` (one flat
table, the same composite indexes). Then the console's searches run through the product's own
query (:meth:`records.recording_index.RecordingIndex.search_ids`, newest first, page 50) with
random parameters, ``--queries`` of each kind, and p50/p99 are printed side by side. Both
databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from alembic import command

from ivr.db import alembic_config, make_engine
from records.partitions import ensure_partitions
from records.recording import RecordingQuery
from records.recording_index import RecordingIndex

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL_BASE = "postgresql://postgres@127.0.0.1:5432"
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
TYPES = ("marketing", "service", "collection", "risk_notice")
DISPOSITIONS = ("completed", "refused", "consent_granted", "escalated", "no_answer", "busy",
                "abandoned", "failed")  # fmt: skip
CHUNK = 500_000

INSERT = """
INSERT INTO recordings (recording_id, call_id, status, customer_bi, customer_masked, campaign,
  business_type, direction, started_at, ended_at, duration_ms, flow_version, consent_state,
  disposition, media_type, retain_until, storage_key, key_id, wrapped_key, created_at, stored_at)
SELECT md5('r' || i), 'call-' || i, 'stored', md5('c' || (i %% %(customers)s)), '139****0000',
  'camp-' || (i %% 50), (ARRAY['marketing','service','collection','risk_notice'])[1 + i %% 4],
  'outbound', ts, ts + interval '2 minutes', 120000, 'outbound_marketing@v1', 'granted',
  (ARRAY['completed','refused','consent_granted','escalated','no_answer','busy','abandoned',
         'failed'])[1 + (i / 7) %% 8],
  'audio/wav', ts + interval '730 days', 'k/' || i, 'k1', '\\x00'::bytea, ts, ts
FROM (SELECT i, timestamp '2025-01-01' + (i * %(step_us)s) * interval '1 microsecond' AS ts
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i) AS g
"""


def load(url: str, rows: int, label: str) -> float:
    """Fill ``url`` with ``rows`` recordings; seconds taken."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    step_us = int(SPAN.total_seconds() * 1e6 / rows)
    start = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for lo in range(0, rows, CHUNK):
            hi = min(rows, lo + CHUNK) - 1
            params = {"customers": max(1, rows // 5), "step_us": step_us, "lo": lo, "hi": hi}
            conn.execute(INSERT % params)  # numbers only: no quoting involved
            done = hi + 1
            rate = done / (time.perf_counter() - start)
            print(f"  {label}: {done:,}/{rows:,} rows ({rate:,.0f} rows/s)", flush=True)
        conn.execute("VACUUM ANALYZE recordings")
    return time.perf_counter() - start


Query = Callable[[random.Random, int], RecordingQuery]


def at(rng: random.Random) -> datetime:
    return FIRST + SPAN * rng.random()


QUERIES: dict[str, Query] = {
    "type, last 7 days": lambda rng, n: RecordingQuery(
        business_type=rng.choice(TYPES), started_from=at(rng) - timedelta(days=7), limit=50
    ),
    "campaign, one month": lambda rng, n: RecordingQuery(
        campaign=f"camp-{rng.randrange(50)}",
        started_from=(t := at(rng)),
        started_to=t + timedelta(days=30),
        limit=50,
    ),
    "disposition, newest": lambda rng, n: RecordingQuery(
        disposition=rng.choice(DISPOSITIONS), limit=50
    ),
    "any, one day": lambda rng, n: RecordingQuery(
        started_from=(t := at(rng)), started_to=t + timedelta(days=1), limit=50
    ),
    "call id": lambda rng, n: RecordingQuery(call_id=f"call-{rng.randrange(n)}", limit=50),
}
CUSTOMER = "customer, all time"


def run_queries(url: str, rows: int, count: int) -> dict[str, tuple[float, float]]:
    engine = make_engine(url)
    index = RecordingIndex(engine)
    rng = random.Random(7)
    out: dict[str, tuple[float, float]] = {}
    try:
        for name, make in QUERIES.items():
            times = []
            for _ in range(count):
                q = make(rng, rows)
                t0 = time.perf_counter()
                index.search_ids(q, None)
                times.append(time.perf_counter() - t0)
            out[name] = percentiles(times)
        times = []
        customers = max(1, rows // 5)
        for _ in range(count):
            bi = hashlib.md5(f"c{rng.randrange(customers)}".encode()).hexdigest()
            t0 = time.perf_counter()
            index.search_ids(RecordingQuery(limit=50), bi)
            times.append(time.perf_counter() - t0)
        out[CUSTOMER] = percentiles(times)
    finally:
        engine.dispose()
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-flat", action="store_true", help="skip the flat-table baseline")
    args = parser.parse_args()
    names: list[str] = []
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        for label, target in (("partitioned", "heads"), ("flat", "records@records_0003")):
            if label == "flat" and args.no_flat:
                continue
            name = f"ivr_bench_search_{label}_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            names.append(name)
            url = f"{PG_URL_BASE}/{name}"
            command.upgrade(alembic_config(url), target)
            if label == "partitioned":
                engine = make_engine(url)
                ensure_partitions(engine, FIRST, ahead=25)  # two years of months
                engine.dispose()
            took = load(url, args.rows, label)
            print(f"{label}: loaded {args.rows:,} rows in {took:.0f} s", flush=True)
            results[label] = run_queries(url, args.rows, args.queries)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    labels = list(results)
    print(f"\nrecordings search, {args.rows:,} rows, {args.queries} queries each (ms p50 / p99)")
    print(f"{'query':<22}" + "".join(f"{label:>24}" for label in labels))
    for kind in [*QUERIES, CUSTOMER]:
        cells = "".join(
            f"{results[label][kind][0]:>12.1f} / {results[label][kind][1]:>8.1f}"
            for label in labels
        )
        print(f"{kind:<22}{cells}")


if __name__ == "__main__":
    main()
