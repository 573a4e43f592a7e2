"""Recordings that survive a database outage: the spooled index row and its replayer.

When the vault's first commit (the ``pending`` intent row) fails because the database is
unavailable and the vault has an outage spool (:mod:`ivr.spool`), :meth:`records.vault.Vault.
ingest_sync` hands the ingest to :class:`SpooledIngest`, which still seals the recording into
the blob store (not the database: a local folder or S3) exactly as usual, reads it back and
verifies it, then spools the row it would have marked ``stored`` (built by the vault's own
ingest code: blind index, masked and sealed number, wrapped data key), its QA flags and its
``recording_stored`` evidence with the time it happened (:func:`spooled_body`), fsync'd, and
only then removes the clear source. When the database goes away after the intent row, its last
commit (``stored`` and the evidence) failing, the object sealed and verified by then is spooled
the same way (:meth:`SpooledIngest.spool_sealed`). Nothing in the body is customer data in
clear: bytes columns (the wrapped key, the sealed number) are base64 of what the SQL index
stores.

:class:`RecordingReplay` puts a spooled recording into the index, with its flags and its
evidence, in one transaction; a recording id already stored is skipped (the whole transaction is
rolled back), so a replay cut off by a crash, or run twice, never doubles the row or its
evidence. A ``pending`` row under the id (the intent row's commit reached the database though
the vault saw it fail, or the last commit failed after it) is marked ``stored`` instead, before
recovery would roll it back. The row
keeps its ``source_path``: :meth:`records.vault.Vault.recover` clears it (and removes the clear
file if a crash left it after the spool write, when its SM3 matches).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import ConfigError, StoreUnavailableError
from ivr.evidence import EvidenceKind
from ivr.metrics import EVIDENCE_APPENDS, EVIDENCE_FAILURES
from ivr.spool import Spool, SpoolItem
from records.evidence_store import SqlEvidenceLog
from records.ports import BlobStore
from records.recording import RecordingInfo, RecordingMeta
from records.recording_index import RecordingIndex, to_info
from records.recovery import remove_plaintext
from records.tables import recordings
from records.timeutil import from_db, to_db

log = logging.getLogger(__name__)

KIND = "recording"
_TIMES = frozenset(c.name for c in recordings.c if isinstance(c.type, sa.DateTime))
_BYTES = frozenset(c.name for c in recordings.c if isinstance(c.type, sa.LargeBinary))


def encode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A recordings row as JSON values (times ISO, bytes base64), by the table's column types."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            out[name] = None
        elif name in _TIMES:
            out[name] = value.isoformat()
        elif name in _BYTES:
            out[name] = base64.b64encode(value).decode("ascii")
        else:
            out[name] = value
    return out


def decode_row(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in body.items():
        if value is None:
            out[name] = None
        elif name in _TIMES:
            out[name] = datetime.fromisoformat(value)
        elif name in _BYTES:
            out[name] = base64.b64decode(value)
        else:
            out[name] = value
    return out


def stored_payload(
    row: Mapping[str, Any], meta: RecordingMeta, digest: str, size: int
) -> dict[str, Any]:
    """The ``recording_stored`` evidence of a sealed recording (the vault's, spooled or not)."""
    return {
        "recording_id": row["recording_id"],
        "business_type": meta.business_type,
        "sm3": digest,
        "bytes": size,
        "key_id": row["key_id"],
    }


def spooled_body(
    row: Mapping[str, Any], flags: Sequence[str], *, ts: str, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """What the spool keeps of a sealed recording: its stored row, flags and evidence."""
    return {
        "row": encode_row(row),
        "flags": list(flags),
        "evidence": {"ts": ts, "call_id": row["call_id"], "payload": dict(payload)},
    }


@dataclass(frozen=True, slots=True)
class SpooledIngest:
    """The vault's ingest while its index is down (see the module docstring): the vault's
    outage spool, blob store, clock, evidence time and step hook."""

    spool: Spool
    store: BlobStore
    clock: Callable[[], datetime]
    now_ts: Callable[[], str]
    hook: Callable[[str], None]

    def ingest(
        self,
        source: Path,
        meta: RecordingMeta,
        row: dict[str, Any],
        flags: list[str],
        seal: Callable[[], tuple[int, str]],
    ) -> RecordingInfo:
        """Seal as usual (``seal``: into the blob store, verified; returns size and SM3), spool
        the stored row, then remove the plaintext."""
        try:
            size, digest = seal()
        except BaseException:
            self.store.delete(row["storage_key"])  # no index row, no object; the plaintext stays
            raise
        self.hook("object_verified")
        return self.spool_sealed(source, meta, row, flags, size, digest)

    def spool_sealed(
        self,
        source: Path,
        meta: RecordingMeta,
        row: dict[str, Any],
        flags: list[str],
        size: int,
        digest: str,
    ) -> RecordingInfo:
        """A recording already sealed and verified whose index write failed: spool its stored
        row (a ``pending`` intent row, if it reached the database, is marked ``stored`` by the
        replay), then remove the plaintext."""
        rid, key = row["recording_id"], row["storage_key"]
        try:
            stored = {
                **row,
                "status": "stored",
                "size_bytes": size,
                "plaintext_sm3": digest,
                "stored_at": to_db(self.clock()),
            }
            body = spooled_body(
                stored, flags, ts=self.now_ts(), payload=stored_payload(row, meta, digest, size)
            )
            self.spool.put(KIND, body, key=rid)
        except BaseException:
            # no object; the plaintext stays (an intent row that reached the database is
            # rolled back by the vault's recovery)
            self.store.delete(key)
            raise
        self.hook("spooled")
        if self.spool.on_put is not None:
            with contextlib.suppress(RuntimeError):  # the drainer's loop is gone: it polls
                self.spool.on_put()
        remove_plaintext(source)
        self.hook("source_removed")
        log.warning(
            "recording sealed and spooled (index unavailable): recording %s call %s",
            rid,
            meta.call_id,
        )
        return to_info({**stored, "qa_flags": tuple(flags)}, stored["customer_masked"])


class RecordingReplay:
    """Spooled recordings into the index with their evidence (idempotent per recording id)."""

    def __init__(self, index: RecordingIndex, evidence: SqlEvidenceLog) -> None:
        if evidence.engine is not index.engine:
            raise ConfigError("the recording index and the evidence log must share one engine")
        self.index = index
        self.evidence = evidence

    def prepare(self) -> None:
        return None

    def apply(self, items: Sequence[SpoolItem]) -> None:
        for item in items:
            try:
                self._apply_one(item)
            except SQLAlchemyError as exc:
                EVIDENCE_FAILURES.labels(what="replay").inc()
                raise StoreUnavailableError(f"recording index: {type(exc).__name__}") from exc

    def _apply_one(self, item: SpoolItem) -> None:
        row = decode_row(item.body["row"])
        ev = item.body["evidence"]
        with self.index.engine.connect() as conn:
            # the chain's head first: it begins the transaction on SQLite and serialises replays
            self.evidence.append_in(
                conn,
                EvidenceKind.RECORDING_STORED,
                call_id=ev["call_id"],
                payload=ev["payload"],
                ts=ev["ts"],
            )
            status = self.index.status_in(conn, row["recording_id"])
            if status is None:
                self.index.insert_in(conn, row, item.body["flags"])
            elif status == "pending":  # the intent row's commit landed though it raised
                self.index.mark_stored_in(
                    conn,
                    row["recording_id"],
                    row["size_bytes"],
                    row["plaintext_sm3"],
                    from_db(row["stored_at"]),
                )
            else:
                conn.rollback()  # replayed before a crash: the row and its evidence are there
                return
            conn.commit()
        EVIDENCE_APPENDS.labels(kind=str(EvidenceKind.RECORDING_STORED)).inc()

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        return set()  # applying again is harmless
