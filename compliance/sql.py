"""The durable compliance ledger on SQL (SQLAlchemy 2 Core): :class:`SqlLedger`.

DNC entries and their add/remove events, DND windows, consent records and revocations, and the
gate decision log (the durable record of every counted attempt: the Redis day counters are
rebuilt from it). Tables are :mod:`compliance.tables`; numbers appear only as blind indexes.

Methods are synchronous (one short transaction each); the async service runs them on its
bounded SQL pool (:class:`compliance.guard.SqlPool`) under a timeout. The decision log's rows,
their driver encoding and the engine it commits on are :mod:`compliance.decision_rows`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime

import sqlalchemy as sa

from compliance.decision import DndWindow
from compliance.decision_rows import (
    SQLITE_ROWS_PER_INSERT,
    DecisionRow,
    EncodedDecision,
    encode_decision,
    insert_decisions_sql,
)
from compliance.ports import ConsentRecord, DncEntry
from compliance.tables import (
    consents,
    decisions,
    dnc,
    dnc_events,
    dnd,
    format_dnd,
    insert_ignore,
    revocations,
)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_req(value: datetime) -> datetime:
    out = _utc(value)
    assert out is not None
    return out


def new_consent(
    number_index: str,
    *,
    purpose: str,
    scope: str,
    channel: str,
    granted_at: datetime,
    expires_at: datetime,
    call_id: str | None,
    recording_offset_ms: int | None,
    transcript_excerpt: str | None,
) -> ConsentRecord:
    """A new consent record (a fresh id): the row :meth:`SqlLedger.put_consent` inserts (the
    compliance service makes it, so an outage spool can keep the very row)."""
    return ConsentRecord(
        id=str(uuid.uuid4()),
        number_index=number_index,
        purpose=purpose,
        scope=scope,
        channel=channel,
        granted_at=granted_at,
        expires_at=expires_at,
        call_id=call_id,
        recording_offset_ms=recording_offset_ms,
        transcript_excerpt=transcript_excerpt,
        revoked_at=None,
    )


class SqlLedger:
    """The durable compliance ledger on one SQLAlchemy engine (the decision log may commit on
    its own engine of the same database, :func:`decision_log_engine`)."""

    def __init__(self, engine: sa.Engine, *, log_engine: sa.Engine | None = None) -> None:
        self.engine = engine
        self.log_engine = engine if log_engine is None else log_engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    # --- DNC -----------------------------------------------------------------------------
    def add_dnc(
        self,
        number_index: str,
        *,
        source: str,
        reason: str,
        actor: str,
        call_id: str | None,
        at: datetime,
    ) -> tuple[DncEntry, bool]:
        """Durably add (idempotent). Returns the entry in force and whether it is new."""
        return self.put_dnc(
            DncEntry(
                number_index=number_index,
                source=source,
                reason=reason,
                call_id=call_id,
                actor=actor,
                created_at=at,
            )
        )

    def put_dnc(self, entry: DncEntry) -> tuple[DncEntry, bool]:
        """Insert the entry (its row is exactly the entry: what an outage spool keeps and
        replays), idempotent per number; the add event goes with it when it is new."""
        with self.engine.begin() as conn:
            res = conn.execute(
                insert_ignore(
                    self.engine,
                    dnc,
                    {
                        "number_index": entry.number_index,
                        "source": entry.source,
                        "reason": entry.reason,
                        "call_id": entry.call_id,
                        "actor": entry.actor,
                        "created_at": entry.created_at,
                    },
                ).returning(dnc.c.number_index)
            )
            # RETURNING, not rowcount: psycopg 3 reports rowcount -1 for an INSERT here
            new = res.first() is not None
            if new:
                conn.execute(
                    dnc_events.insert().values(
                        number_index=entry.number_index,
                        action="add",
                        source=entry.source,
                        reason=entry.reason,
                        call_id=entry.call_id,
                        actor=entry.actor,
                        at=entry.created_at,
                    )
                )
            row = conn.execute(sa.select(dnc).where(dnc.c.number_index == entry.number_index)).one()
        return _dnc_entry(row), new

    def remove_dnc(
        self, number_index: str, *, actor: str, actor_role: str, reason: str, at: datetime
    ) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(dnc.delete().where(dnc.c.number_index == number_index))
            if res.rowcount != 1:
                return False
            conn.execute(
                dnc_events.insert().values(
                    number_index=number_index,
                    action="remove",
                    reason=reason,
                    actor=actor,
                    actor_role=actor_role,
                    at=at,
                )
            )
        return True

    def dnc_entry(self, number_index: str) -> DncEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(dnc).where(dnc.c.number_index == number_index)
            ).one_or_none()
        return None if row is None else _dnc_entry(row)

    def dnc_events(self, number_index: str) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(dnc_events)
                .where(dnc_events.c.number_index == number_index)
                .order_by(dnc_events.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def all_dnc(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(dnc.c.number_index)).scalars())

    # --- DND -----------------------------------------------------------------------------
    def set_dnd(self, number_index: str, windows: Sequence[DndWindow], at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(dnd.delete().where(dnd.c.number_index == number_index))
            if windows:
                conn.execute(
                    dnd.insert().values(
                        number_index=number_index, windows=format_dnd(windows), updated_at=at
                    )
                )

    def all_dnd(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [
                (r[0], r[1]) for r in conn.execute(sa.select(dnd.c.number_index, dnd.c.windows))
            ]

    # --- consent -------------------------------------------------------------------------
    def put_consent(self, rec: ConsentRecord, *, replay: bool = False) -> None:
        """Insert a consent made by :func:`new_consent` (its id is its key); ``replay``: from
        an outage spool, where a row already there was put by an earlier replay."""
        values = {k: v for k, v in asdict(rec).items() if k != "revoked_at"}
        with self.engine.begin() as conn:
            if replay:
                conn.execute(insert_ignore(self.engine, consents, values))
            else:
                conn.execute(consents.insert().values(**values))

    def list_consents(self, number_index: str) -> list[ConsentRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(consents)
                .where(consents.c.number_index == number_index)
                .order_by(consents.c.granted_at)
            ).all()
        return [
            ConsentRecord(
                id=r.id,
                number_index=r.number_index,
                purpose=r.purpose,
                scope=r.scope,
                channel=r.channel,
                granted_at=_utc_req(r.granted_at),
                expires_at=_utc_req(r.expires_at),
                call_id=r.call_id,
                recording_offset_ms=r.recording_offset_ms,
                transcript_excerpt=r.transcript_excerpt,
                revoked_at=_utc(r.revoked_at),
            )
            for r in rows
        ]

    def has_valid_consent(self, number_index: str, purpose: str, at: datetime) -> bool:
        return any(
            c.purpose == purpose and c.valid_at(at) for c in self.list_consents(number_index)
        )

    def revoke_consent(
        self,
        number_index: str,
        purpose: str,
        *,
        actor: str,
        channel: str,
        reason: str,
        at: datetime,
    ) -> list[str]:
        """Revoke every unrevoked consent for the purpose; returns their ids."""
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(consents.c.id).where(
                        consents.c.number_index == number_index,
                        consents.c.purpose == purpose,
                        consents.c.revoked_at.is_(None),
                    )
                ).scalars()
            )
            if ids:
                conn.execute(consents.update().where(consents.c.id.in_(ids)).values(revoked_at=at))
            for cid in ids or [None]:
                conn.execute(
                    revocations.insert().values(
                        consent_id=cid,
                        number_index=number_index,
                        purpose=purpose,
                        channel=channel,
                        actor=actor,
                        reason=reason,
                        revoked_at=at,
                    )
                )
        return ids

    # --- decision log ----------------------------------------------------------------------
    def encode_decision(self, r: DecisionRow) -> EncodedDecision:
        """The row as driver parameters, in column order (see :meth:`log_encoded_decisions`).

        The gate encodes each decision on its own loop as it is made, so the background writer
        only hands ready parameters to the driver and holds the GIL as little as possible.
        """
        return encode_decision(r, sqlite=self._sqlite)

    def log_encoded_decisions(self, rows: Sequence[EncodedDecision]) -> None:
        """Insert rows made by :meth:`encode_decision` in one transaction.

        On SQLite, rows go in multi-row ``INSERT ... VALUES (...), (...)`` statements: the
        driver's ``executemany`` releases and retakes the GIL around every row, and that
        hand-off, thousands of times per flush, slowed the gate's event loop (p99 +2 ms at
        10,000 decisions/s in ``bench/bench_gate.py``).
        """
        if not rows:
            return
        with self.log_engine.begin() as conn:
            if not self._sqlite:
                conn.exec_driver_sql(insert_decisions_sql(self._mark), list(rows))
                return
            for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
                chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
                conn.exec_driver_sql(
                    insert_decisions_sql("?", len(chunk)), tuple(v for row in chunk for v in row)
                )

    def checkpoint_decision_log(self) -> None:
        """Copy the WAL into the SQLite database without blocking writers (PASSIVE); the
        decision log's engine leaves this to a thread other than its writer's."""
        if self.log_engine.dialect.name != "sqlite":
            return
        with self.log_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def decisions_for(self, attempt_id: str) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(decisions).where(decisions.c.attempt_id == attempt_id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def counted_since(self, local_date: str) -> list[tuple[str, str, int]]:
        """(index, local date, attempts counted) from the decision log, to rebuild lost
        counters. An attempt logged twice (a permit, then its denial when the permit's write
        outlived the gate's deadline) counts once."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    decisions.c.number_index,
                    decisions.c.local_date,
                    sa.func.count(sa.distinct(decisions.c.attempt_id)),
                )
                .where(decisions.c.counted.is_(True), decisions.c.local_date >= local_date)
                .group_by(decisions.c.number_index, decisions.c.local_date)
            ).all()
        return [(r[0], r[1], int(r[2])) for r in rows]


def _dnc_entry(row: sa.Row[tuple[object, ...]]) -> DncEntry:
    m = row._mapping
    return DncEntry(
        number_index=str(m["number_index"]),
        source=str(m["source"]),
        reason=str(m["reason"]),
        call_id=None if m["call_id"] is None else str(m["call_id"]),
        actor=str(m["actor"]),
        created_at=_utc_req(m["created_at"]),
    )
