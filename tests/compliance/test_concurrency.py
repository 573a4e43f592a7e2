"""inv9 across processes: 200 attempts for one number from 4 processes -> exactly 3 allowed."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
from cmp_support import hammer
from helpers.numbers import fresh_number


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """Four worker processes, spawned once for every backend."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=ctx) as executor:
        yield executor


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["redis", "sqlite", "postgres"])
def test_inv9_200_attempts_from_4_processes_allow_exactly_3_per_local_day(
    backend: str,
    request: pytest.FixtureRequest,
    sqlite_url: str,
    redis_prefix: str,
    pool: ProcessPoolExecutor,
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else sqlite_url
    gate = "redis" if backend == "redis" else "sql"
    prefix = f"{redis_prefix}:{uuid.uuid4().hex[:6]}"
    number = fresh_number()
    futures = [pool.submit(hammer, url, gate, prefix, number, 50) for _ in range(4)]
    results = [f.result(timeout=120) for f in futures]
    day1 = sum(r[0] for r in results)
    day2 = sum(r[1] for r in results)
    assert (day1, day2) == (3, 3), results
