"""Stores shared by the test directories' fixtures: a migrated SQLite template copied per test
(migrating once per session, a fresh file per test) and a Redis key prefix whose keys are
deleted afterwards. PostgreSQL databases: :mod:`helpers.pg`."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from ivr.db import migrate

REDIS_URL = "redis://127.0.0.1:6379/0"


def migrated_sqlite_template(folder: Path) -> Path:
    """An SQLite file at every migration head, to copy (``sqlite_copy``) for each test."""
    path = folder / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def sqlite_copy(template: Path, folder: Path, name: str = "test.db") -> str:
    """The URL of a private copy of ``template`` in ``folder``."""
    path = folder / name
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@contextmanager
def redis_prefix(name: str, url: str = REDIS_URL) -> Iterator[str]:
    """A unique key prefix ``<name>-<random>``; every key under it is deleted afterwards."""
    prefix = f"{name}-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()
