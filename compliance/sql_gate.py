"""The SQL gate store (embedded default, no Redis): the same check-and-count semantics as the
Redis Lua script, in one transaction that takes the write lock first (SQLite) or locks the
counter row (PostgreSQL). The count is durable in SQL when the transaction commits, so the
decision log need not be awaited for it (:attr:`SqlGateStore.counts_durably`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from compliance.decision import DndWindow
from compliance.guard import SqlPool
from compliance.ports import GateQuery, StoreFacts
from compliance.tables import attempts, counts, dnc, dnd, insert_ignore, parse_dnd


class SqlGateStore:
    """The gate store on SQL (embedded default): same semantics as the Redis Lua script."""

    counts_durably = True  # the count commits in SQL with the check

    def __init__(self, engine: sa.Engine, sql: SqlPool) -> None:
        self.engine = engine
        self.sql = sql

    async def check_and_count(self, query: GateQuery) -> StoreFacts:
        return await self.sql.run(self._check_and_count, query, True)

    async def peek(self, number_index: str, local_date: str, minute_of_day: int) -> StoreFacts:
        q = GateQuery(number_index, local_date, minute_of_day, 0, "", False)
        return await self.sql.run(self._check_and_count, q, False)

    # The ledger is the store itself: nothing to mirror, never out of sync.
    async def mirror_dnc(self, number_index: str, present: bool) -> None:
        return None

    async def mirror_dnd(self, number_index: str, windows: Sequence[DndWindow]) -> None:
        return None

    async def is_synced(self) -> bool:
        return True

    async def unsync(self) -> None:
        return None

    async def resync(
        self,
        dnc_indexes: Iterable[str],
        dnd_rows: Iterable[tuple[str, str]],
        counted: Iterable[tuple[str, str, int]],
    ) -> None:
        return None

    async def close(self) -> None:
        return None

    def _check_and_count(self, q: GateQuery, write: bool) -> StoreFacts:
        key = {"number_index": q.number_index, "local_date": q.local_date}
        with self.engine.begin() as conn:
            if write:
                # First statement is a write: SQLite takes the database write lock here, so the
                # reads below and the increment are one serialised step; PostgreSQL locks the row.
                conn.execute(insert_ignore(self.engine, counts, {**key, "count": 0}))
            sel = sa.select(counts.c.count).where(
                counts.c.number_index == q.number_index, counts.c.local_date == q.local_date
            )
            if write and self.engine.dialect.name == "postgresql":
                sel = sel.with_for_update()
            count = conn.execute(sel).scalar_one_or_none() or 0
            is_dnc = (
                conn.execute(
                    sa.select(dnc.c.number_index).where(dnc.c.number_index == q.number_index)
                ).first()
                is not None
            )
            if write:
                prior = conn.execute(
                    sa.select(attempts.c.count_before).where(
                        attempts.c.number_index == q.number_index,
                        attempts.c.attempt_id == q.attempt_id,
                    )
                ).scalar_one_or_none()
                if prior is not None:
                    return StoreFacts(is_dnc, (), int(prior), counted=True, replay=True)
            windows = parse_dnd(
                conn.execute(
                    sa.select(dnd.c.windows).where(dnd.c.number_index == q.number_index)
                ).scalar_one_or_none()
            )
            in_dnd = any(w.contains(q.minute_of_day * 60) for w in windows)
            counted = False
            if write and q.may_count and not is_dnc and not in_dnd and count < q.cap:
                conn.execute(
                    counts.update()
                    .where(
                        counts.c.number_index == q.number_index,
                        counts.c.local_date == q.local_date,
                    )
                    .values(count=counts.c.count + 1)
                )
                conn.execute(
                    attempts.insert().values(
                        **key,
                        attempt_id=q.attempt_id,
                        count_before=count,
                        created_at=datetime.now(UTC),
                    )
                )
                counted = True
        return StoreFacts(is_dnc, windows, int(count), counted)
