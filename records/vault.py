"""The recording vault: SM4-GCM sealed recordings, SQL index, retention, audited access.

This module is the facade the rest of the product uses; the parts live beside it: the sealed
object format (:mod:`records.sealed_blob`, pure), the SQL repository
(:mod:`records.recording_index`), roles and the access audit (:mod:`records.access`),
retention and deletion (:mod:`records.retention`), crash recovery and key rotation
(:mod:`records.recovery`).

Ingest order (each step survives a crash; :meth:`Vault.recover` finishes or rolls back):

1. an intent row ``pending`` is committed (metadata, blind index, sealed number, wrapped key);
2. the plaintext is streamed through SM4-GCM into the blob store (atomic put: absent or whole);
3. the stored object is read back, decrypted and its SM3 compared with the plaintext's;
4. one transaction marks the row ``stored`` and appends ``recording_stored`` evidence;
5. the plaintext source is removed; ``source_path`` is cleared in the next ingest's first commit
   (or by :meth:`Vault.recover`, which also clears it for a source found already gone).

In a database outage (step 1 raises :class:`ivr.errors.StoreUnavailableError`: every SQL
error of the index is translated to it) a vault with an outage spool seals, writes and verifies
the object all the same (the blob store is not the database), spools the row it would have
stored with its flags and evidence (:mod:`records.spooled_recording`, fsync'd) and then removes
the plaintext; the drainer indexes it when the database is back. An outage that starts between
steps 1 and 4 spools the sealed object's row the same way (its replay marks the intent row
``stored``). If sealing fails there, the object is removed and the plaintext
stays where it was (as when step 2 or 3 fails), and the error is raised.

Search only sees ``stored`` rows, so a crash leaves either nothing visible (the source intact;
recovery removes the intent row and any object) or a complete record (recovery removes the
source if it is still there and matches). Plaintext is never written inside the vault. Every
fetch attempt, allowed or not, is audited before any byte is decrypted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ivr.db import make_engine
from ivr.errors import ConfigError, IntegrityError, NotAuthorizedError, StoreUnavailableError
from ivr.evidence import EvidenceKind
from ivr.permissions import Permission
from ivr.settings import Settings
from ivr.spool import Spool
from records.access import AccessAttempt, AccessAudit, Actor, access_log, may
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.partitions import ensure_partitions
from records.ports import BlobStore
from records.recording import (
    FetchResult,
    RecordingInfo,
    RecordingMeta,
    RecordingNotFoundError,
    RecordingQuery,
)
from records.recording_index import RecordingIndex, to_info
from records.recording_keys import RecordingKeys
from records.recovery import Recovery, remove_plaintext
from records.retention import (
    MIN_RETENTION_YEARS,
    PurgeReport,
    Retention,
    RetentionError,
    RetentionPolicy,
)
from records.sealed_blob import open_stream, seal_stream, sealed_sm3
from records.sealed_number import NumberSealer
from records.spooled_recording import SpooledIngest, stored_payload
from records.timeutil import to_db, utcnow

__all__ = [
    "MIN_RETENTION_YEARS",
    "Actor",
    "FetchResult",
    "PurgeReport",
    "RecordingInfo",
    "RecordingMeta",
    "RecordingNotFoundError",
    "RecordingQuery",
    "RetentionError",
    "RetentionPolicy",
    "Vault",
]

log = logging.getLogger(__name__)
# the vault's checks, from the one permission table (records.access.may)
_SEARCH = Permission.RECORDINGS_SEARCH
_REVEAL = Permission.NUMBERS_UNMASK
_FETCH = (Permission.RECORDINGS_PLAY, Permission.RECORDINGS_EXPORT)  # playback or export

StepHook = Callable[[str], None]


def _no_hook(_step: str) -> None:
    return None


class Vault:
    """The recording vault (filesystem or other :class:`BlobStore` + SQL index + evidence)."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        keyring: Keyring,
        blind_index_key: bytes,
        evidence: SqlEvidenceLog,
        retention: RetentionPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        pending_lease_s: float = 3600.0,
        step_hook: StepHook = _no_hook,
        spool: Spool | None = None,
    ) -> None:
        """``spool``: the process's outage spool (the call process); without one an ingest in
        a database outage fails as the database does."""
        if evidence.engine is not engine:
            raise ConfigError("vault and evidence log must share one database engine")
        self._index = RecordingIndex(engine)
        self._store = store
        self._keyring = keyring
        self._numbers = NumberSealer(keyring, blind_index_key)
        self._keys = RecordingKeys(keyring, self._numbers)
        self._evidence = evidence
        self._audit = AccessAudit(evidence)
        self._clock = clock
        self._hook = step_hook
        self._spooled = None  # the ingest in a database outage (records.spooled_recording)
        if spool is not None:
            self._spooled = SpooledIngest(spool, store, clock, evidence.now_ts, step_hook)
        self._gone_lock = threading.Lock()
        self._sources_gone: list[str] = []  # plaintext removed, source_path not yet cleared
        self._retention = Retention(
            self._index, store, self._audit, evidence, retention or RetentionPolicy(), clock
        )
        self._recovery = Recovery(self._index, store, self._retention, clock, pending_lease_s)

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine | None = None, *, spool: Spool | None = None
    ) -> Vault:
        keyring = Keyring.from_settings(settings)  # keys first: production fails before any IO
        blind_index_key = settings.key_bytes("blind_index")
        engine = engine or make_engine(settings.sqlalchemy_url)
        store: BlobStore
        if settings.records_s3_bucket:
            try:  # boto3 only when S3 is configured
                from records.blobstore_s3 import S3BlobStore
            except ModuleNotFoundError as exc:
                raise ConfigError("IVR_RECORDS_S3_BUCKET needs the 's3' extra (boto3)") from exc
            store = S3BlobStore.from_settings(settings)
        else:
            store = FileBlobStore(settings.records_vault_dir or settings.data_dir / "vault")
        return cls(
            engine,
            store,
            keyring,
            blind_index_key,
            SqlEvidenceLog(engine),
            RetentionPolicy.from_settings(settings),
            pending_lease_s=settings.records_pending_lease_s,
            spool=spool,
        )

    @property
    def evidence(self) -> SqlEvidenceLog:
        return self._evidence

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @property
    def numbers(self) -> NumberSealer:
        """The number sealer over this vault's keys (callback tickets share it)."""
        return self._numbers

    # -- ingest ------------------------------------------------------------------------------

    async def ingest(self, source: Path, meta: RecordingMeta) -> RecordingInfo:
        """The port: seal, index and verify ``source``, then remove the plaintext."""
        return await asyncio.to_thread(self.ingest_sync, source, meta)

    def ingest_sync(self, source: Path, meta: RecordingMeta) -> RecordingInfo:
        if meta.ended_at < meta.started_at:
            raise ConfigError("recording ends before it starts")
        if meta.direction not in ("inbound", "outbound"):
            raise ConfigError("direction must be inbound or outbound")
        if not source.is_file():
            raise RecordingNotFoundError("recording source file not found")
        rid = uuid.uuid4().hex
        key = f"{rid}.sm4"
        context = rid.encode("ascii")
        dek, wrapped = self._keys.new_data_key(rid)
        duration_ms = int((meta.ended_at - meta.started_at) / timedelta(milliseconds=1))
        row = {
            "recording_id": rid,
            "call_id": meta.call_id,
            "status": "pending",
            **self._keys.number_columns(meta.customer_number, rid),
            "campaign": meta.campaign,
            "business_type": meta.business_type,
            "direction": meta.direction,
            "started_at": to_db(meta.started_at),
            "ended_at": to_db(meta.ended_at),
            "duration_ms": duration_ms,
            "agent_id": meta.agent_id,
            "flow_version": meta.flow_version,
            "consent_state": meta.consent_state,
            "disposition": meta.disposition,
            "media_type": meta.media_type,
            "retain_until": to_db(
                self._retention.policy.retain_until(meta.business_type, meta.ended_at)
            ),
            "storage_key": key,
            "key_id": wrapped.key_id,
            "wrapped_key": wrapped.blob,
            "source_path": str(source.resolve()),
            "created_at": to_db(self._clock()),
        }
        flags = sorted(set(meta.qa_flags))
        gone = self._take_sources_gone()
        try:
            self._index.insert_pending(row, flags, gone)
        except StoreUnavailableError:
            with self._gone_lock:  # not forgotten: the next commit (or recover) clears them
                self._sources_gone.extend(gone)
            if self._spooled is None:
                raise
            seal = lambda: self._seal(source, key, dek, context)  # noqa: E731
            return self._spooled.ingest(source, meta, row, flags, seal)
        self._hook("pending_committed")

        try:
            size, digest = self._seal(source, key, dek, context)
        except BaseException:
            self._recovery.rollback_pending(rid, key)
            raise
        self._hook("object_verified")

        stored_at = self._clock()
        try:
            with self._index.connect() as conn:
                self._evidence.append_in(
                    conn,
                    EvidenceKind.RECORDING_STORED,
                    call_id=meta.call_id,
                    payload=stored_payload(row, meta, digest, size),
                )
                self._index.mark_stored_in(conn, rid, size, digest, stored_at)
                conn.commit()
        except StoreUnavailableError:
            if self._spooled is None:
                raise  # the intent row stays pending (recovery), the plaintext stays
            # the database went away after the intent row: the sealed object's row is spooled
            return self._spooled.spool_sealed(source, meta, row, flags, size, digest)
        self._hook("stored_committed")

        remove_plaintext(source)
        self._hook("source_removed")
        with self._gone_lock:  # forgotten in the next ingest's first commit, or by recover()
            self._sources_gone.append(rid)
        log.info(
            "recording stored: recording %s call %s (%.1f KiB)", rid, meta.call_id, size / 1024
        )
        stored = {**row, "status": "stored", "size_bytes": size, "plaintext_sm3": digest,
                  "stored_at": to_db(stored_at), "qa_flags": tuple(flags)}  # fmt: skip
        return self._info(stored, reveal=False)  # what was committed (no read back to fail)

    def _seal(self, source: Path, key: str, dek: bytes, context: bytes) -> tuple[int, str]:
        """Seal ``source`` into the blob store under ``key`` and verify the stored copy;
        returns its plaintext size and SM3."""
        with source.open("rb") as src, self._store.writer(key) as out:
            size, digest = seal_stream(
                src, out, dek, context, after_first_chunk=lambda: self._hook("object_partial")
            )
        self._hook("object_written")
        with self._store.reader(key) as sealed:
            if sealed_sm3(sealed, dek, context) != digest:
                raise IntegrityError("sealed copy does not match the plaintext")
        return size, digest

    # -- search ------------------------------------------------------------------------------

    def search(
        self, actor: Actor, query: RecordingQuery, *, reveal: bool = False, reason: str = ""
    ) -> list[RecordingInfo]:
        """Stored recordings matching ``query``, newest first, numbers masked.

        ``reveal`` shows clear numbers, only to roles with ``numbers.unmask`` giving a
        ``reason``: the actor, role, reason and recordings are audited (table + evidence) before
        any number is decrypted; a refused reveal is audited too, then :class:`NotAuthorizedError`.
        """
        if not may(actor, _SEARCH):
            raise NotAuthorizedError(
                f"role {actor.role!r} may not search recordings",
                code="records.may_not_search",
                params={"role": actor.role},
            )
        if reveal and (not may(actor, _REVEAL) or not reason.strip()):
            with self._index.connect() as conn:
                self._audit.reveal_in(conn, actor, [], reason, self._clock(), allowed=False)
                conn.commit()
            raise (
                NotAuthorizedError(
                    f"role {actor.role!r} may not see clear phone numbers",
                    code="records.may_not_unmask",
                    params={"role": actor.role},
                )
                if not may(actor, _REVEAL)
                else NotAuthorizedError(
                    "a reason is required to see clear phone numbers",
                    code="records.unmask_reason_required",
                )
            )
        customer_bi = None
        if query.customer_number is not None:
            customer_bi = self._keys.lookup(query.customer_number)
        rows = self._index.search_rows(query, customer_bi)
        numbered = [row["recording_id"] for row in rows if row["customer_enc"]]
        if reveal and numbered:
            with self._index.connect() as conn:
                self._audit.reveal_in(conn, actor, numbered, reason, self._clock(), allowed=True)
                conn.commit()
        return [self._info(row, reveal=reveal) for row in rows]

    def get(self, actor: Actor, recording_id: str) -> RecordingInfo:
        if not may(actor, _SEARCH):
            raise NotAuthorizedError(
                f"role {actor.role!r} may not search recordings",
                code="records.may_not_search",
                params={"role": actor.role},
            )
        return self._info(self._index.stored_row(recording_id), reveal=False)

    # -- fetch -------------------------------------------------------------------------------

    def fetch(
        self, actor: Actor, recording_id: str, reason: str, dest: Path | None = None
    ) -> FetchResult:
        """Decrypt a recording for an authorised actor, to ``dest`` or into memory.

        Every attempt is audited (who, when, why, allowed) before any decryption; unauthorised
        roles and empty reasons are refused with :class:`NotAuthorizedError` after the audit.
        """
        allowed = may(actor, *_FETCH) and bool(reason.strip())
        with self._index.connect() as conn:
            attempt = AccessAttempt(recording_id, "fetch", actor, reason, allowed, self._clock())
            self._audit.record_in(conn, attempt)
            conn.commit()
        if not allowed:
            log.warning(
                "recording fetch refused: recording %s actor %s role %s",
                recording_id,
                actor.id,
                actor.role,
            )
            raise (
                NotAuthorizedError(
                    f"role {actor.role!r} may not fetch recordings",
                    code="records.may_not_fetch",
                    params={"role": actor.role},
                )
                if not may(actor, *_FETCH)
                else NotAuthorizedError(
                    "a reason is required to fetch a recording",
                    code="records.fetch_reason_required",
                )
            )
        row = self._index.stored_row(recording_id)
        context = recording_id.encode("ascii")
        dek = self._keys.data_key(row)
        info = self._info(row, reveal=False)
        key = row["storage_key"]
        if dest is None:
            parts: list[bytes] = []
            with self._store.reader(key) as sealed:
                open_stream(sealed, dek, context, parts.append)
            return FetchResult(info=info, data=b"".join(parts))
        part = dest.with_name(dest.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out, self._store.reader(key) as sealed:
                open_stream(sealed, dek, context, out.write)
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return FetchResult(info=info, path=dest)

    def access_log(self, recording_id: str) -> list[dict[str, Any]]:
        """The audit rows of one recording, oldest first."""
        with self._index.connect() as conn:
            return access_log(conn, recording_id)

    # -- retention, recovery, rotation -------------------------------------------------------

    def delete(self, actor: Actor, recording_id: str, reason: str) -> None:
        """Delete a recording whose retention has passed; refused (and audited) before."""
        self._retention.delete(actor, recording_id, reason)

    def purge(self, now: datetime | None = None, limit: int = 1000) -> PurgeReport:
        """Recover unfinished work, then remove recordings past retention (only those)."""
        recovered = self.recover()
        removed = self._retention.purge_expired(now or self._clock(), limit)
        return PurgeReport(removed=removed, recovered=recovered)

    def recover(self, lease_s: float | None = None) -> dict[str, int]:
        """Finish or roll back work a crash interrupted (safe to run at any time); see
        :mod:`records.recovery`."""
        self._index.clear_sources(self._take_sources_gone())
        return self._recovery.recover(lease_s)

    def ensure_partitions(self) -> list[str]:
        """Create the recordings index's monthly partitions due now (PostgreSQL; idempotent);
        see :mod:`records.partitions`. Run at every start of the call process and daily."""
        return ensure_partitions(self._index.engine, self._clock())

    def rewrap(self, batch: int = 500) -> int:
        """Rewrap every data key not under the current master key; returns how many moved."""
        return self._recovery.rewrap(self._keyring.current_id, self._keys.rewrapped, batch)

    # -- helpers -----------------------------------------------------------------------------

    def _take_sources_gone(self) -> list[str]:
        with self._gone_lock:
            gone, self._sources_gone = self._sources_gone, []
        return gone

    def _info(self, row: Mapping[str, Any], *, reveal: bool) -> RecordingInfo:
        """The row for a reader; ``reveal`` (audited by the caller first) opens the number."""
        customer = row["customer_masked"]
        if reveal and row["customer_enc"]:
            customer = self._keys.reveal(row)
        return to_info(row, customer)
