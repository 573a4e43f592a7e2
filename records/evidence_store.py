"""SQL evidence log: the :class:`ivr.evidence.EvidenceSink` implementation (SQLAlchemy 2).

Every append runs in one transaction that first takes the chain's single write lock: the
``evidence_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite,
which takes the database write lock). Under that lock it reads the head, links the new entry
(:func:`records.chain.link`), inserts it and moves the head, so writers in any number of
processes produce one chain without forks or gaps; ``seq`` is also the primary key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.db import make_engine
from ivr.errors import IntegrityError, StoreUnavailableError
from ivr.evidence import EvidenceKind
from ivr.metrics import EVIDENCE_APPENDS, EVIDENCE_FAILURES
from ivr.settings import Settings
from records.chain import (
    ChainVerifier,
    Checkpoint,
    Entry,
    VerifyResult,
    canonical_payload,
    check_payload,
    link,
)
from records.tables import evidence_head, evidence_log
from records.timeutil import iso, utcnow

BATCH = 2000


class SqlEvidenceLog:
    """Append-only SM3 hash-chained evidence log in SQL (SQLite or PostgreSQL).

    Build it with :meth:`from_settings` (or from an engine); the schema comes from the
    ``records`` migrations (:func:`ivr.db.migrate`).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlEvidenceLog:
        return cls(make_engine(settings.sqlalchemy_url))

    @property
    def engine(self) -> Engine:
        return self._engine

    def now_ts(self) -> str:
        """An entry's time as this log writes it (an outage spool keeps it for the replay)."""
        return iso(self._clock())

    # -- writing -----------------------------------------------------------------------------

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        """The port: append one entry; returns once it is committed."""
        await asyncio.to_thread(self.append_entry, kind, call_id=call_id, payload=payload)

    def append_entry(
        self,
        kind: EvidenceKind | str,
        *,
        call_id: str | None,
        payload: Mapping[str, Any],
        ts: str | None = None,
    ) -> Entry:
        """Append one entry (synchronous); returns it with its sequence number and hash."""
        check_payload(payload)
        try:
            with self._engine.connect() as conn:
                entry = self.append_in(conn, kind, call_id=call_id, payload=payload, ts=ts)
                conn.commit()
        except SQLAlchemyError as exc:
            EVIDENCE_FAILURES.labels(what="append").inc()
            raise StoreUnavailableError("evidence store unavailable") from exc
        EVIDENCE_APPENDS.labels(kind=str(kind)).inc()
        return entry

    def append_in(
        self,
        conn: Connection,
        kind: EvidenceKind | str,
        *,
        call_id: str | None,
        payload: Mapping[str, Any],
        ts: str | None = None,
    ) -> Entry:
        """Append inside the caller's connection; the caller commits (one transaction).
        ``ts``: the entry's time when it is not now (a replayed outage spool keeps the time
        the event happened; the chain orders by ``seq``).

        On SQLite this must be the first statement of the transaction (it begins it).
        """
        if self._sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        head = conn.execute(
            sa.select(evidence_head.c.seq, evidence_head.c.hash)
            .where(evidence_head.c.id == 1)
            .with_for_update()
        ).one()
        entry = link(
            bytes.fromhex(head.hash),
            int(head.seq),
            iso(self._clock()) if ts is None else ts,
            call_id,
            str(kind),
            payload,
        )
        conn.execute(
            evidence_log.insert().values(
                seq=entry.seq,
                ts=entry.ts,
                call_id=entry.call_id,
                kind=entry.kind,
                payload=canonical_payload(entry.payload),
                prev_hash=entry.prev_hash.hex(),
                hash=entry.hash.hex(),
            )
        )
        conn.execute(
            evidence_head.update()
            .where(evidence_head.c.id == 1)
            .values(seq=entry.seq, hash=entry.hash.hex())
        )
        return entry

    # -- reading -----------------------------------------------------------------------------

    def entries(self, start_seq: int = 1, *, call_id: str | None = None) -> Iterator[Entry]:
        """Entries in ascending ``seq`` from ``start_seq`` (read in batches)."""
        after = start_seq - 1
        while True:
            query = sa.select(evidence_log).where(evidence_log.c.seq > after)
            if call_id is not None:
                query = query.where(evidence_log.c.call_id == call_id)
            query = query.order_by(evidence_log.c.seq).limit(BATCH)
            try:
                with self._engine.connect() as conn:
                    rows = conn.execute(query).all()
            except SQLAlchemyError as exc:
                raise StoreUnavailableError("evidence store unavailable") from exc
            if not rows:
                return
            for row in rows:
                yield _row_to_entry(row._mapping)
            after = int(rows[-1].seq)

    def head(self) -> Checkpoint:
        """The head as recorded by writers (sequence 0 = empty chain)."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.select(evidence_head.c.seq, evidence_head.c.hash).where(
                        evidence_head.c.id == 1
                    )
                ).one()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("evidence store unavailable") from exc
        return Checkpoint(seq=int(row.seq), hash=bytes.fromhex(row.hash), ts=iso(self._clock()))

    def checkpoint(self) -> Checkpoint:
        """Verify the whole chain, then export its head; raises if the chain is bad."""
        result = self.verify()
        if not result.ok:
            raise IntegrityError(f"chain broken at entry {result.first_bad_seq}: {result.reason}")
        return Checkpoint(seq=result.head_seq, hash=result.head_hash, ts=iso(self._clock()))

    def verify(
        self, checkpoint: Checkpoint | None = None, *, also: tuple[Checkpoint, ...] = ()
    ) -> VerifyResult:
        """Walk the whole chain (and compare with ``checkpoint`` and ``also``, e.g. the WORM
        store's); names the first bad entry.

        Also compares the walked tail with the head row: a tail deleted without moving the
        head is reported as truncation even without a checkpoint.
        """
        verifier = ChainVerifier(checkpoint=checkpoint, also=also)
        for entry in self.entries():
            verifier.feed(entry)
            if verifier.failed:
                break
        result = verifier.result()
        if not result.ok:
            EVIDENCE_FAILURES.labels(what="verify").inc()
        if result.ok:
            head = self.head()
            if head.seq != result.head_seq or head.hash != result.head_hash:
                EVIDENCE_FAILURES.labels(what="verify").inc()
                return VerifyResult(
                    ok=False,
                    checked=result.checked,
                    head_seq=result.head_seq,
                    head_hash=result.head_hash,
                    first_bad_seq=result.head_seq + 1,
                    reason=(
                        f"chain ends at {result.head_seq} but its head row says {head.seq}"
                        " (truncated or head altered)"
                    ),
                )
        return result


def _row_to_entry(row: sa.RowMapping) -> Entry:
    try:
        payload = json.loads(row["payload"])
        if not isinstance(payload, dict):
            payload = {"__undecodable__": row["payload"]}
    except ValueError:
        payload = {"__undecodable__": row["payload"]}
    try:
        prev_hash = bytes.fromhex(row["prev_hash"])
        digest = bytes.fromhex(row["hash"])
    except ValueError:
        prev_hash, digest = b"", b""
    return Entry(
        seq=int(row["seq"]),
        ts=row["ts"],
        call_id=row["call_id"],
        kind=row["kind"],
        payload=payload,
        prev_hash=prev_hash,
        hash=digest,
    )
