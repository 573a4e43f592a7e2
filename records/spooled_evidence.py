"""Evidence that survives a database outage: :class:`SpooledEvidence` and its replayer.

:class:`SpooledEvidence` is the :class:`ivr.evidence.EvidenceSink` of a process with an outage
spool (:mod:`ivr.spool`): an append goes to the SQL chain (:class:`SqlEvidenceLog`); when that
raises :class:`ivr.errors.StoreUnavailableError` the entry (kind, call id, the payload checked by
:func:`records.chain.check_payload` exactly as the chain would take it, and the time the event
happened) is spooled, fsync'd, and the append returns: the call goes on. While a call has
entries in the spool not yet replayed, its later entries are spooled too, so a call's entries
reach the chain in the order they happened; other calls write straight to the chain as soon as
the database takes them. Only a spool write that fails raises (the call fails closed,
as it does without a spool).

:class:`EvidenceReplay` puts spooled entries into the chain with their original time: one
transaction per batch on PostgreSQL (one per entry on SQLite, whose append begins its own
transaction). Its ``prepare`` token is the chain's head before the batch; after a crash
``applied`` finds the batch's entries after that head by their content (time, call id, kind,
canonical payload), so none is chained twice.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceKind
from ivr.metrics import EVIDENCE_APPENDS, EVIDENCE_FAILURES
from ivr.spool import Spool, SpoolItem
from records.chain import Entry, VerifyResult, canonical_payload, check_payload
from records.evidence_store import SqlEvidenceLog

log = logging.getLogger(__name__)
KIND = "evidence"


class SpooledEvidence:
    """The evidence sink with an outage spool (see the module docstring)."""

    def __init__(self, log_: SqlEvidenceLog, spool: Spool) -> None:
        self.log = log_
        self.spool = spool
        self._waiting: Counter[str] = Counter()  # call id → its entries in the spool
        self._lock = threading.Lock()  # the drainer's thread counts down, the loop up

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        check_payload(payload)
        ts = self.log.now_ts()
        if call_id is None or not self.waiting(call_id):
            try:
                await self.log.append(kind, call_id=call_id, payload=payload)
                return
            except StoreUnavailableError:
                log.warning("evidence store unavailable: %s of call %s spooled", kind, call_id)
        body = {"ts": ts, "call_id": call_id, "kind": str(kind), "payload": dict(payload)}
        if call_id is not None:
            with self._lock:
                self._waiting[call_id] += 1
        try:
            await self.spool.aput(KIND, body)
        except BaseException:
            self.replayed_call(call_id)
            raise

    def waiting(self, call_id: str) -> int:
        """Entries of the call in the spool, as far as this process knows."""
        with self._lock:
            return self._waiting.get(call_id, 0)

    def replayed_call(self, call_id: str | None) -> None:
        """One spooled entry of the call reached the chain (the replayer says so)."""
        if call_id is None:
            return
        with self._lock:
            left = self._waiting.get(call_id, 0) - 1
            if left > 0:
                self._waiting[call_id] = left
            else:
                self._waiting.pop(call_id, None)

    # reading goes to the chain (spooled entries appear there once replayed)
    @property
    def engine(self) -> Engine:
        return self.log.engine

    def entries(self, start_seq: int = 1, *, call_id: str | None = None) -> Iterator[Entry]:
        return self.log.entries(start_seq, call_id=call_id)

    def verify(self) -> VerifyResult:
        return self.log.verify()


def _key(ts: str, call_id: str | None, kind: str, payload: Mapping[str, Any]) -> tuple[str, ...]:
    return (ts, call_id or "", kind, canonical_payload(payload))


class EvidenceReplay:
    """Replays spooled evidence into the SQL chain (see the module docstring)."""

    def __init__(
        self, log_: SqlEvidenceLog, *, replayed: Callable[[str | None], None] | None = None
    ) -> None:
        """``replayed(call_id)``: called for each entry once it is chained (the sink's
        :meth:`SpooledEvidence.replayed_call`)."""
        self.log = log_
        self.replayed = replayed

    def prepare(self) -> str:
        return str(self.log.head().seq)

    def apply(self, items: Sequence[SpoolItem]) -> None:
        one_tx = self.log.engine.dialect.name != "sqlite"
        groups = [list(items)] if one_tx else [[i] for i in items]
        try:
            for group in groups:
                with self.log.engine.connect() as conn:
                    for item in group:
                        b = item.body
                        self.log.append_in(
                            conn, b["kind"], call_id=b["call_id"], payload=b["payload"], ts=b["ts"]
                        )
                    conn.commit()
                for item in group:
                    EVIDENCE_APPENDS.labels(kind=str(item.body["kind"])).inc()
                    if self.replayed is not None:
                        self.replayed(item.body["call_id"])
        except SQLAlchemyError as exc:
            EVIDENCE_FAILURES.labels(what="replay").inc()
            raise StoreUnavailableError("evidence store unavailable") from exc

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        wanted = {
            _key(i.body["ts"], i.body["call_id"], i.body["kind"], i.body["payload"]): i.id
            for i in items
        }
        found: set[int] = set()
        for entry in self.log.entries(int(token) + 1):
            hit = wanted.get(_key(entry.ts, entry.call_id, entry.kind, entry.payload))
            if hit is not None:
                found.add(hit)
        return found
