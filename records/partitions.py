"""Monthly partitions of the recordings index on PostgreSQL: which months, and creating them.

``recordings`` is ``PARTITION BY RANGE (started_at)`` on PostgreSQL (records_0004): one table per
calendar month (UTC), ``recordings_y2026m12`` for December 2026, plus ``recordings_default``
that takes a row whose month has no table yet, so a write is never refused for want of a
partition. Searches filter and page on ``started_at`` (the console's date range, newest first),
so PostgreSQL reads only the months asked for, each with its own small indexes, and the index
grows by months, not by one ever-deeper B-tree (sized for 100M rows over two years and more).

- :func:`months_ahead` (pure): the months that must exist at ``now``: this one and the next
  ``ahead`` months.
- :func:`ensure_partitions` (adapter): creates the missing ones. A month created after rows of
  it already went to the default partition takes those rows with it, in one transaction
  (create the month's table, move its rows out of the default, attach). Run at every vault start
  and daily by the retention job; idempotent. On SQLite (the embedded default) it does nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import StoreUnavailableError

log = logging.getLogger(__name__)
TABLE = "recordings"
DEFAULT_PARTITION = f"{TABLE}_default"
AHEAD_MONTHS = 3
_PARTITION_NAME = re.compile(rf"^{TABLE}_(default|y\d{{4}}m\d{{2}})(_.*)?$")


def is_partition(name: str | None) -> bool:
    """Whether ``name`` is a partition of the recordings index or one of its indexes (made at
    run time, not in the table metadata: schema comparisons leave them out)."""
    return bool(name) and _PARTITION_NAME.match(name or "") is not None


@dataclass(frozen=True, slots=True)
class Month:
    """One calendar month (UTC) as a partition: ``[start, end)`` and its table's name."""

    year: int
    month: int

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime:
        return self.next().start

    @property
    def table(self) -> str:
        return f"{TABLE}_y{self.year:04d}m{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)


def month_of(at: datetime) -> Month:
    """The month of ``at`` (aware times in UTC; naive ones are taken as UTC, as stored)."""
    utc = at.astimezone(UTC) if at.tzinfo is not None else at
    return Month(utc.year, utc.month)


def months_ahead(now: datetime, ahead: int = AHEAD_MONTHS) -> list[Month]:
    """This month and the next ``ahead`` ones."""
    months = [month_of(now)]
    for _ in range(ahead):
        months.append(months[-1].next())
    return months


def months_between(first: datetime, last: datetime) -> list[Month]:
    """Every month from ``first``'s to ``last``'s, both included."""
    months, end = [month_of(first)], month_of(last)
    while months[-1] != end and (months[-1].year, months[-1].month) < (end.year, end.month):
        months.append(months[-1].next())
    return months


def existing_partitions(conn: sa.Connection) -> set[str]:
    rows = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": TABLE},
    )
    return {row[0] for row in rows}


def create_month(conn: sa.Connection, month: Month) -> None:
    """Create ``month``'s partition, moving any of its rows out of the default partition."""
    bounds = {"start": month.start, "end": month.end}
    conn.execute(
        sa.text(
            f"CREATE TABLE {month.table} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
    )
    conn.execute(
        sa.text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE started_at >= :start AND started_at < :end RETURNING *) "
            f"INSERT INTO {month.table} SELECT * FROM moved"
        ),
        bounds,
    )
    start, end = (f"'{d.isoformat(sep=' ')}'" for d in (month.start, month.end))
    conn.execute(
        sa.text(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {month.table} "
            f"FOR VALUES FROM ({start}) TO ({end})"
        )
    )


def ensure_partitions(engine: Engine, now: datetime, ahead: int = AHEAD_MONTHS) -> list[str]:
    """Create the partitions :func:`months_ahead` needs; the tables created (none on SQLite)."""
    if engine.dialect.name != "postgresql":
        return []
    created: list[str] = []
    try:
        with engine.begin() as conn:
            # one creator at a time across processes; the others then see its tables
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext('ivr.recordings.partitions'))")
            )
            have = existing_partitions(conn)
            if DEFAULT_PARTITION not in have:
                conn.execute(
                    sa.text(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
                )
                created.append(DEFAULT_PARTITION)
            for month in months_ahead(now, ahead):
                if month.table not in have:
                    create_month(conn, month)
                    created.append(month.table)
    except SQLAlchemyError as exc:
        raise StoreUnavailableError(f"recordings partitions: {type(exc).__name__}") from exc
    if created:
        log.info("recordings partitions created: %s", ", ".join(created))
    return created
