"""The outage spool: a durable local queue of writes the database could not take.

While PostgreSQL is down (or too slow), the call process still has to keep what it tells a
caller: a refusal is acknowledged only once it is durable (invariant 6), a consent before the
pitch, and every call ends with evidence. Those writes go here, and the supervised drainer
(:mod:`ivr.spool_drain`) replays them into PostgreSQL, in order, once it is back.

Why SQLite (stdlib ``sqlite3``) in WAL mode with ``synchronous=FULL`` rather than an
append-only file of our own: each ``put`` is one transaction whose commit fsyncs the WAL before
it returns, so an acknowledged item survives a kill -9 and a power loss; a torn last write is
rolled back by SQLite's own recovery (no framing, checksums or truncation code of ours);
several processes (ESL workers) can share one file under SQLite's locks, each item getting its
place in one order (the ``INTEGER PRIMARY KEY`` is the commit order); and removing replayed
items, or reading the DNC entries still waiting, is a query. An append-only file would need all
of that written and proven again.

What goes in is exactly what the SQL stores would store (a blind index, masked numbers, payloads
checked for clear numbers by the writer); the file is created 0600 in a 0700 folder. A
:class:`SpoolItem` is ``kind`` (who replays it), an optional ``key`` (e.g. a DNC entry's blind
index, for the gate) and a JSON ``body``. The drainer's in-flight marker (the ids being replayed
and the replayer's token, e.g. the evidence head before the batch) lives in the same file, so a
replay cut off by a crash is finished or recognised, never doubled.

Errors are :class:`SpoolUnavailableError` (a :class:`ivr.errors.StoreUnavailableError`): when the
spool itself cannot take a write the caller fails closed, as it would without a spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.durable import fsync_dir
from ivr.errors import StoreUnavailableError
from ivr.metrics import SPOOL_WRITES

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " key TEXT, body TEXT NOT NULL, spooled_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS items_kind_key ON items (kind, key)",
    "CREATE TABLE IF NOT EXISTS marker (id INTEGER PRIMARY KEY CHECK (id = 1), kind TEXT NOT NULL,"
    " ids TEXT NOT NULL, token TEXT NOT NULL)",
)


class SpoolUnavailableError(StoreUnavailableError):
    """The spool file could not take or give an item."""


@dataclass(frozen=True, slots=True)
class SpoolItem:
    """One spooled write: its place (``id``), who replays it, its key and body."""

    id: int
    kind: str
    key: str | None
    body: dict[str, Any]
    spooled_at: float  # Unix time


@dataclass(frozen=True, slots=True)
class Marker:
    """The batch the drainer was replaying: its kind, item ids and the replayer's token."""

    kind: str
    ids: tuple[int, ...]
    token: str


class Spool:
    """The spool file (see the module docstring). Thread-safe; the async methods run the
    blocking SQLite work (an fsync per ``put``) off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.on_put: Callable[[], None] | None = None  # the drainer's wake-up
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            new = not path.exists()
            if new:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
                fsync_dir(path.parent)
            conn = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for ddl in _SCHEMA:
                conn.execute(ddl)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolUnavailableError(f"spool {path.name}: {type(exc).__name__}") from exc
        self._conn = conn

    # --- writing ---------------------------------------------------------------------------
    def put(self, kind: str, body: Mapping[str, Any], *, key: str | None = None) -> int:
        """Append one item; returns its id once the commit is on disk (fsync'd)."""
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO items (kind, key, body, spooled_at) VALUES (?, ?, ?, ?)",
                (kind, key, text, time.time()),
            )
            item_id = cur.lastrowid
        SPOOL_WRITES.labels(kind=kind).inc()
        assert item_id is not None
        return int(item_id)

    async def aput(self, kind: str, body: Mapping[str, Any], *, key: str | None = None) -> int:
        item_id = await asyncio.to_thread(self.put, kind, body, key=key)
        if self.on_put is not None:
            self.on_put()
        return item_id

    def remove(self, ids: Sequence[int]) -> None:
        """Drop replayed items and the in-flight marker, in one transaction."""
        with self._tx() as conn:
            conn.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])
            conn.execute("DELETE FROM marker")

    def set_marker(self, marker: Marker) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO marker (id, kind, ids, token) VALUES (1, ?, ?, ?)",
                (marker.kind, json.dumps(list(marker.ids)), marker.token),
            )

    def clear_marker(self) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM marker")

    # --- reading ---------------------------------------------------------------------------
    def head(self, limit: int) -> list[SpoolItem]:
        """The oldest ``limit`` items, in order."""
        rows = self._read(
            "SELECT id, kind, key, body, spooled_at FROM items ORDER BY id LIMIT ?", (limit,)
        )
        return [_item(r) for r in rows]

    def items(self, ids: Sequence[int]) -> list[SpoolItem]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._read(
            f"SELECT id, kind, key, body, spooled_at FROM items WHERE id IN ({marks}) ORDER BY id",
            tuple(ids),
        )
        return [_item(r) for r in rows]

    def marker(self) -> Marker | None:
        rows = self._read("SELECT kind, ids, token FROM marker", ())
        if not rows:
            return None
        kind, ids, token = rows[0]
        return Marker(str(kind), tuple(int(i) for i in json.loads(ids)), str(token))

    def keys(self, kind: str) -> set[str]:
        """The keys of every waiting item of ``kind`` (e.g. DNC blind indexes)."""
        rows = self._read("SELECT key FROM items WHERE kind = ? AND key IS NOT NULL", (kind,))
        return {str(r[0]) for r in rows}

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM items", ())[0][0])

    def oldest_age_s(self, now: float | None = None) -> float:
        """Seconds the oldest waiting item has waited (0 when the spool is empty)."""
        rows = self._read("SELECT min(spooled_at) FROM items", ())
        if not rows or rows[0][0] is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - float(rows[0][0]))

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    # --- internals -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise SpoolUnavailableError(f"spool write: {type(exc).__name__}") from exc

    def _read(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                raise SpoolUnavailableError(f"spool read: {type(exc).__name__}") from exc


def _item(row: tuple[Any, ...]) -> SpoolItem:
    item_id, kind, key, body, spooled_at = row
    return SpoolItem(int(item_id), str(kind), key, json.loads(body), float(spooled_at))


class DrainLock:
    """One drainer per spool file across processes: an ``flock`` on ``<spool>.lock``, taken
    without waiting (another process holding it is draining) and released after each pass."""

    def __init__(self, spool_path: Path) -> None:
        self.path = spool_path.with_name(spool_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
