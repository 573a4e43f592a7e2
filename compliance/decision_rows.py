"""The gate decision log's rows on SQL: :class:`DecisionRow`, its encoding as driver
parameters (made on the gate's loop, so the log's writer only hands them over), the multi-row
``INSERT`` and the engine the log commits on (:func:`decision_log_engine`). The writes and reads
are :class:`compliance.sql.SqlLedger`'s; the group commit is :mod:`compliance.decision_log`.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event

from compliance.tables import decisions
from ivr.db import make_engine


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One gate decision for the log (no clear number)."""

    attempt_id: str
    number_index: str | None
    purpose: str
    campaign: str | None
    allowed: bool
    reasons: str
    rules_version: str
    decided_at: datetime
    local_date: str | None
    counted: bool
    dry_run: bool


_DECISION_COLUMNS = tuple(c.name for c in decisions.columns if c.name != "id")
EncodedDecision = tuple[object, ...]
# bound parameters per statement: 32766 since SQLite 3.32, 999 before
_SQLITE_MAX_VARS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
SQLITE_ROWS_PER_INSERT = min(500, _SQLITE_MAX_VARS // len(_DECISION_COLUMNS))


@functools.lru_cache(maxsize=8)
def insert_decisions_sql(mark: str, n_rows: int = 1) -> str:
    """``INSERT`` of ``n_rows`` decision rows with the driver's placeholder ``mark``."""
    row = "(" + ", ".join([mark] * len(_DECISION_COLUMNS)) + ")"
    return (
        f"INSERT INTO {decisions.name} ({', '.join(_DECISION_COLUMNS)}) "
        f"VALUES {', '.join([row] * n_rows)}"
    )


def decision_log_engine(url: str) -> sa.Engine:
    """The engine the decision log commits on. On SQLite (WAL) its commits are not fsynced
    (``synchronous=NORMAL``): a committed row survives the process being killed, only an OS
    crash or power loss can drop the last ones; an fsync per commit (~5 ms on a shared disk)
    would bound the gate to ~16 permits per 5 ms at concurrency 16. Nor does a commit run the
    WAL checkpoint (``wal_autocheckpoint=0``): :meth:`SqlLedger.checkpoint_decision_log` does it
    off the writer's thread. PostgreSQL commits as configured (``synchronous_commit``)."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_fsync_per_commit(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

    return engine


def encode_decision(r: DecisionRow, *, sqlite: bool) -> EncodedDecision:
    """The row as driver parameters, in column order (``sqlite``: times in SQLAlchemy's SQLite
    ``DATETIME`` storage format, so ORM reads see the same values)."""
    at = r.decided_at.astimezone(UTC)
    return (
        r.attempt_id,
        r.number_index,
        r.purpose,
        r.campaign,
        r.allowed,
        r.reasons,
        r.rules_version,
        # SQLAlchemy's SQLite DATETIME storage format, so ORM reads see the same values
        at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at,
        r.local_date,
        r.counted,
        r.dry_run,
    )
