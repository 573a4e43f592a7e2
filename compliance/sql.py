"""SQL adapters (SQLAlchemy 2 Core): the durable ledger and the SQL gate store.

:class:`SqlLedger` holds DNC entries and their add/remove events, DND windows, consent records
and revocations, and the gate decision log. :class:`SqlGateStore` is the embedded gate store:
the same check-and-count semantics as the Redis Lua script, in one transaction that takes the
write lock first (SQLite) or locks the counter row (PostgreSQL). Tables are created by the
``compliance`` Alembic branch; numbers appear only as blind indexes.

Methods are synchronous (one short transaction each); the async service runs them in a thread
under its timeout.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq

from compliance.decision import DndWindow
from compliance.ports import ConsentRecord, DncEntry, GateQuery, StoreFacts

md = sa.MetaData()
_TZ = sa.DateTime(timezone=True)
_IDX = sa.String(64)  # hex HMAC-SM3 blind index of the E.164 number

dnc = sa.Table(
    "compliance_dnc",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
)
dnc_events = sa.Table(
    "compliance_dnc_events",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number_index", _IDX, nullable=False, index=True),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("source", sa.String(32)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("actor_role", sa.String(64)),
    sa.Column("at", _TZ, nullable=False),
)
dnd = sa.Table(
    "compliance_dnd",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("windows", sa.String(400), nullable=False),
    sa.Column("updated_at", _TZ, nullable=False),
)
consents = sa.Table(
    "compliance_consents",
    md,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number_index", _IDX, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("granted_at", _TZ, nullable=False),
    sa.Column("expires_at", _TZ, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("recording_offset_ms", sa.Integer),
    sa.Column("transcript_excerpt", sa.Text),
    sa.Column("revoked_at", _TZ),
)
sa.Index("ix_compliance_consents_lookup", consents.c.number_index, consents.c.purpose)
revocations = sa.Table(
    "compliance_consent_revocations",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("consent_id", sa.String(36), sa.ForeignKey("compliance_consents.id")),
    sa.Column("number_index", _IDX, nullable=False, index=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("revoked_at", _TZ, nullable=False),
)
decisions = sa.Table(
    "compliance_gate_decisions",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("attempt_id", sa.String(128), nullable=False, index=True),
    sa.Column("number_index", _IDX),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("campaign", sa.String(128)),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("reasons", sa.String(200), nullable=False),
    sa.Column("rules_version", sa.String(64), nullable=False),
    sa.Column("decided_at", _TZ, nullable=False),
    sa.Column("local_date", sa.String(10)),
    sa.Column("counted", sa.Boolean, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
)
sa.Index("ix_compliance_gate_decisions_counted", decisions.c.local_date, decisions.c.number_index)
counts = sa.Table(
    "compliance_daily_counts",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("local_date", sa.String(10), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
attempts = sa.Table(
    "compliance_attempts",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("attempt_id", sa.String(128), primary_key=True),
    sa.Column("local_date", sa.String(10), nullable=False),
    sa.Column("count_before", sa.Integer, nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
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


def parse_dnd(text: str | None) -> tuple[DndWindow, ...]:
    """``"720-810,1260-540"`` (minutes) -> windows; the storage form shared with Redis."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        s, e = part.split("-")
        out.append(DndWindow(int(s), int(e)))
    return tuple(out)


def format_dnd(windows: Iterable[DndWindow]) -> str:
    return ",".join(f"{w.start_minute}-{w.end_minute}" for w in windows)


def _insert_ignore(engine: sa.Engine, table: sa.Table, values: Mapping[str, object]) -> sa.Insert:
    if engine.dialect.name == "postgresql":
        return pg.insert(table).values(**values).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sq.insert(table).values(**values).on_conflict_do_nothing()
    raise NotImplementedError(engine.dialect.name)


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
_SQLITE_ROWS_PER_INSERT = min(500, _SQLITE_MAX_VARS // len(_DECISION_COLUMNS))


@functools.lru_cache(maxsize=8)
def _insert_decisions_sql(mark: str, n_rows: int = 1) -> str:
    """``INSERT`` of ``n_rows`` decision rows with the driver's placeholder ``mark``."""
    row = "(" + ", ".join([mark] * len(_DECISION_COLUMNS)) + ")"
    return (
        f"INSERT INTO {decisions.name} ({', '.join(_DECISION_COLUMNS)}) "
        f"VALUES {', '.join([row] * n_rows)}"
    )


class SqlLedger:
    """The durable compliance ledger on one SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
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
        with self.engine.begin() as conn:
            res = conn.execute(
                _insert_ignore(
                    self.engine,
                    dnc,
                    {
                        "number_index": number_index,
                        "source": source,
                        "reason": reason,
                        "call_id": call_id,
                        "actor": actor,
                        "created_at": at,
                    },
                )
            )
            new = res.rowcount == 1
            if new:
                conn.execute(
                    dnc_events.insert().values(
                        number_index=number_index,
                        action="add",
                        source=source,
                        reason=reason,
                        call_id=call_id,
                        actor=actor,
                        at=at,
                    )
                )
            row = conn.execute(sa.select(dnc).where(dnc.c.number_index == number_index)).one()
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
    def grant_consent(
        self,
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
        rec = ConsentRecord(
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
        with self.engine.begin() as conn:
            conn.execute(
                consents.insert().values(
                    id=rec.id,
                    number_index=number_index,
                    purpose=purpose,
                    scope=scope,
                    channel=channel,
                    granted_at=granted_at,
                    expires_at=expires_at,
                    call_id=call_id,
                    recording_offset_ms=recording_offset_ms,
                    transcript_excerpt=transcript_excerpt,
                )
            )
        return rec

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
            at.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else at,
            r.local_date,
            r.counted,
            r.dry_run,
        )

    def log_encoded_decisions(self, rows: Sequence[EncodedDecision]) -> None:
        """Insert rows made by :meth:`encode_decision` in one transaction.

        On SQLite, rows go in multi-row ``INSERT ... VALUES (...), (...)`` statements: the
        driver's ``executemany`` releases and retakes the GIL around every row, and that
        hand-off, thousands of times per flush, slowed the gate's event loop (p99 +2 ms at
        10,000 decisions/s in ``bench/bench_gate.py``).
        """
        if not rows:
            return
        with self.engine.begin() as conn:
            if not self._sqlite:
                conn.exec_driver_sql(_insert_decisions_sql(self._mark), list(rows))
                return
            for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
                chunk = rows[start : start + _SQLITE_ROWS_PER_INSERT]
                conn.exec_driver_sql(
                    _insert_decisions_sql("?", len(chunk)), tuple(v for row in chunk for v in row)
                )

    def decisions_for(self, attempt_id: str) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(decisions).where(decisions.c.attempt_id == attempt_id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def counted_since(self, local_date: str) -> list[tuple[str, str, int]]:
        """(index, local date, calls counted) from the decision log, to rebuild lost counters."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(decisions.c.number_index, decisions.c.local_date, sa.func.count())
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


class SqlGateStore:
    """The gate store on SQL (embedded default): same semantics as the Redis Lua script."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    async def check_and_count(self, query: GateQuery) -> StoreFacts:
        return await asyncio.to_thread(self._check_and_count, query, True)

    async def peek(self, number_index: str, local_date: str, minute_of_day: int) -> StoreFacts:
        q = GateQuery(number_index, local_date, minute_of_day, 0, "", False)
        return await asyncio.to_thread(self._check_and_count, q, False)

    async def mirror_dnc(self, number_index: str, present: bool) -> None:
        return None

    async def mirror_dnd(self, number_index: str, windows: Sequence[DndWindow]) -> None:
        return None

    async def close(self) -> None:
        return None

    def _check_and_count(self, q: GateQuery, write: bool) -> StoreFacts:
        key = {"number_index": q.number_index, "local_date": q.local_date}
        with self.engine.begin() as conn:
            if write:
                # First statement is a write: SQLite takes the database write lock here, so the
                # reads below and the increment are one serialised step; PostgreSQL locks the row.
                conn.execute(_insert_ignore(self.engine, counts, {**key, "count": 0}))
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
