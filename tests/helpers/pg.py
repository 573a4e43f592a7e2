"""A throwaway PostgreSQL database (127.0.0.1:5432, trust auth) per test session or test.

The name is unique (parallel test runs of several engineers never share one) and the database
is dropped afterwards, connections and all.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN = os.environ.get("IVR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL_BASE = os.environ.get("IVR_TEST_PG_URL_BASE", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def fresh_database(prefix: str, prepare: Callable[[str], None] | None = None) -> Iterator[str]:
    """The URL of a new, empty database named ``<prefix>_<random>``; ``prepare(url)`` (e.g. a
    migration) runs before it is handed out."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_URL_BASE}/{name}"
    try:
        if prepare is not None:
            prepare(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
