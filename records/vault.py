"""The recording vault: SM4-GCM sealed recordings, SQL index, retention, audited access.

Ingest order (each step survives a crash; :meth:`Vault.recover` finishes or rolls back):

1. an intent row ``pending`` is committed (metadata, blind index, sealed number, wrapped key);
2. the plaintext is streamed through SM4-GCM into the blob store (atomic put: absent or whole);
3. the stored object is read back, decrypted and its SM3 compared with the plaintext's;
4. one transaction marks the row ``stored`` and appends ``recording_stored`` evidence;
5. the plaintext source is removed, then ``source_path`` is cleared.

Search only sees ``stored`` rows, so a crash leaves either nothing visible (the source intact;
recovery removes the intent row and any object) or a complete record (recovery removes the
source if it is still there and matches). Plaintext is never written inside the vault.

Deletion is refused before the retention date (never less than 2 years after the call ended);
deleting first commits ``deleting`` plus evidence (the wrapped key is erased, so the object is
already unreadable), then removes the object and the row. Every fetch attempt, allowed or not,
is written to ``recording_access`` and to the evidence chain before any byte is decrypted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.crypto import (
    GCM_NONCE_BYTES,
    GCM_TAG_BYTES,
    Sealed,
    blind_index,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)
from ivr.db import make_engine
from ivr.errors import (
    ConfigError,
    IntegrityError,
    IvrError,
    NotAuthorizedError,
    StoreUnavailableError,
)
from ivr.evidence import EvidenceKind
from ivr.phone import mask, normalize
from ivr.settings import Settings
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring, WrappedKey
from records.ports import BlobStore
from records.tables import recording_access, recording_flags, recordings
from records.timeutil import add_years, from_db, to_db, utcnow

log = logging.getLogger(__name__)

MIN_RETENTION_YEARS = 2
BLOB_MAGIC = b"IVRREC1\n"
CHUNK = 1 << 20


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COMPLIANCE_OFFICER = "compliance_officer"
    AUDITOR = "auditor"
    SYSTEM = "system"


SEARCH_ROLES = frozenset({Role.SUPERVISOR, Role.COMPLIANCE_OFFICER, Role.AUDITOR})
FETCH_ROLES = frozenset({Role.SUPERVISOR, Role.COMPLIANCE_OFFICER, Role.AUDITOR})
REVEAL_ROLES = frozenset({Role.COMPLIANCE_OFFICER})
DELETE_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SYSTEM})


class RecordingNotFoundError(IvrError):
    """No stored recording with that id."""


class RetentionError(IvrError):
    """Deleting a recording before its retention date is refused."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking (authenticated upstream) and in which role."""

    id: str
    role: str


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    """What the orchestrator knows about a finished call's recording."""

    call_id: str
    business_type: str
    direction: str  # "inbound" | "outbound"
    started_at: datetime
    ended_at: datetime
    customer_number: str | None = None  # clear; normalised, blind-indexed and sealed here
    campaign: str | None = None
    agent_id: str | None = None  # bot or human agent id
    flow_version: str | None = None
    consent_state: str | None = None
    qa_flags: Sequence[str] = ()
    media_type: str = "audio/wav"


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """An index row as shown to a reader: the number masked unless revealed."""

    recording_id: str
    call_id: str
    customer: str | None
    customer_bi: str | None
    campaign: str | None
    business_type: str
    direction: str
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    agent_id: str | None
    flow_version: str | None
    consent_state: str | None
    qa_flags: tuple[str, ...]
    retain_until: datetime
    size_bytes: int | None
    media_type: str
    key_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "call_id": self.call_id,
            "customer": self.customer,
            "customer_bi": self.customer_bi,
            "campaign": self.campaign,
            "business_type": self.business_type,
            "direction": self.direction,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "duration_ms": self.duration_ms,
            "agent_id": self.agent_id,
            "flow_version": self.flow_version,
            "consent_state": self.consent_state,
            "qa_flags": list(self.qa_flags),
            "retain_until": self.retain_until.isoformat(),
            "size_bytes": self.size_bytes,
            "media_type": self.media_type,
            "key_id": self.key_id,
        }


@dataclass(frozen=True, slots=True)
class RecordingQuery:
    """Search criteria; all given ones must match (``flags``: every flag)."""

    customer_number: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    business_type: str | None = None
    campaign: str | None = None
    flags: Sequence[str] = ()
    direction: str | None = None
    agent_id: str | None = None
    call_id: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FetchResult:
    info: RecordingInfo
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    removed: tuple[dict[str, str], ...] = ()
    recovered: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": list(self.removed), "recovered": dict(self.recovered)}


class RetentionPolicy:
    """Years to keep recordings, per business type; never below 2 (else :class:`ConfigError`)."""

    def __init__(
        self, default_years: int = MIN_RETENTION_YEARS, by_business: Mapping[str, int] | None = None
    ) -> None:
        self.default_years = default_years
        self.by_business = dict(by_business or {})
        for name, years in [("default", default_years), *self.by_business.items()]:
            if years < MIN_RETENTION_YEARS:
                raise ConfigError(
                    f"retention for {name!r} is {years} years; the minimum is {MIN_RETENTION_YEARS}"
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.records_retention_years, settings.records_retention_by_business)

    def years_for(self, business_type: str) -> int:
        return self.by_business.get(business_type, self.default_years)

    def retain_until(self, business_type: str, ended_at: datetime) -> datetime:
        return add_years(ended_at, self.years_for(business_type))


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
    ) -> None:
        if evidence.engine is not engine:
            raise ConfigError("vault and evidence log must share one database engine")
        self._engine = engine
        self._store = store
        self._keyring = keyring
        self._bi_key = blind_index_key
        self._evidence = evidence
        self._retention = retention or RetentionPolicy()
        self._clock = clock
        self._lease = pending_lease_s
        self._hook = step_hook

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Vault:
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
            Keyring.from_settings(settings),
            settings.key_bytes("blind_index"),
            SqlEvidenceLog(engine),
            RetentionPolicy.from_settings(settings),
            pending_lease_s=settings.records_pending_lease_s,
        )

    @property
    def evidence(self) -> SqlEvidenceLog:
        return self._evidence

    @property
    def keyring(self) -> Keyring:
        return self._keyring

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
        dek = Keyring.new_data_key()
        wrapped = self._keyring.wrap(dek, context)
        bi = masked = None
        number_blob = None
        if meta.customer_number:
            e164 = normalize(meta.customer_number)
            bi = blind_index(self._bi_key, e164)
            masked = mask(e164)
            number_blob = sm4_gcm_encrypt(dek, e164.encode("ascii"), aad=b"number|" + context)
        now = self._clock()
        duration_ms = int((meta.ended_at - meta.started_at) / timedelta(milliseconds=1))
        retain_until = self._retention.retain_until(meta.business_type, meta.ended_at)
        row = {
            "recording_id": rid,
            "call_id": meta.call_id,
            "status": "pending",
            "customer_bi": bi,
            "customer_masked": masked,
            "customer_enc": number_blob.to_bytes() if number_blob else None,
            "campaign": meta.campaign,
            "business_type": meta.business_type,
            "direction": meta.direction,
            "started_at": to_db(meta.started_at),
            "ended_at": to_db(meta.ended_at),
            "duration_ms": duration_ms,
            "agent_id": meta.agent_id,
            "flow_version": meta.flow_version,
            "consent_state": meta.consent_state,
            "media_type": meta.media_type,
            "retain_until": to_db(retain_until),
            "storage_key": key,
            "key_id": wrapped.key_id,
            "wrapped_key": wrapped.blob,
            "source_path": str(source.resolve()),
            "created_at": to_db(now),
        }
        flags = sorted(set(meta.qa_flags))
        with self._tx() as conn:
            conn.execute(recordings.insert().values(**row))
            if flags:
                conn.execute(
                    recording_flags.insert(), [{"recording_id": rid, "flag": f} for f in flags]
                )
            conn.commit()
        self._hook("pending_committed")

        try:
            size, digest = self._seal_into_store(source, key, dek, context)
            self._hook("object_written")
            if self._read_back_digest(key, dek, context) != digest:
                raise IntegrityError("sealed copy does not match the plaintext")
        except BaseException:
            self._rollback_pending(rid, key)
            raise
        self._hook("object_verified")

        with self._tx() as conn:
            self._evidence.append_in(
                conn,
                EvidenceKind.RECORDING_STORED,
                call_id=meta.call_id,
                payload={
                    "recording_id": rid,
                    "business_type": meta.business_type,
                    "sm3": digest,
                    "bytes": size,
                    "key_id": wrapped.key_id,
                },
            )
            conn.execute(
                recordings.update()
                .where(recordings.c.recording_id == rid)
                .values(
                    status="stored",
                    size_bytes=size,
                    plaintext_sm3=digest,
                    stored_at=to_db(self._clock()),
                )
            )
            conn.commit()
        self._hook("stored_committed")

        _remove_plaintext(source)
        self._hook("source_removed")
        with self._tx() as conn:
            conn.execute(
                recordings.update().where(recordings.c.recording_id == rid).values(source_path=None)
            )
            conn.commit()
        log.info("recording stored: recording %s call %s (%d bytes)", rid, meta.call_id, size)
        return self._info_by_id(rid, reveal=False)

    def _seal_into_store(
        self, source: Path, key: str, dek: bytes, context: bytes
    ) -> tuple[int, str]:
        nonce = os.urandom(GCM_NONCE_BYTES)
        enc = Cipher(algorithms.SM4(dek), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(BLOB_MAGIC + context)
        digest = hashes.Hash(hashes.SM3())
        size = 0
        with source.open("rb") as src, self._store.writer(key) as out:
            out.write(BLOB_MAGIC + nonce)
            first = True
            while chunk := src.read(CHUNK):
                size += len(chunk)
                digest.update(chunk)
                out.write(enc.update(chunk))
                if first:
                    self._hook("object_partial")
                    first = False
            out.write(enc.finalize())
            out.write(enc.tag)
        return size, digest.finalize().hex()

    def _decrypt_stream(
        self, key: str, dek: bytes, context: bytes, sink: Callable[[bytes], object]
    ) -> None:
        """Decrypt object ``key`` chunk by chunk into ``sink``; raises before returning if the
        tag fails (callers must discard what they received unless this returns)."""
        with self._store.reader(key) as fh:
            header = fh.read(len(BLOB_MAGIC) + GCM_NONCE_BYTES)
            if len(header) != len(BLOB_MAGIC) + GCM_NONCE_BYTES or not header.startswith(
                BLOB_MAGIC
            ):
                raise IntegrityError("sealed recording has a bad header")
            nonce = header[len(BLOB_MAGIC) :]
            end = fh.seek(0, os.SEEK_END)
            body_len = end - len(header) - GCM_TAG_BYTES
            if body_len < 0:
                raise IntegrityError("sealed recording truncated")
            fh.seek(end - GCM_TAG_BYTES)
            tag = fh.read(GCM_TAG_BYTES)
            fh.seek(len(header))
            dec = Cipher(algorithms.SM4(dek), modes.GCM(nonce, tag)).decryptor()
            dec.authenticate_additional_data(BLOB_MAGIC + context)
            remaining = body_len
            while remaining > 0:
                chunk = fh.read(min(CHUNK, remaining))
                if not chunk:
                    raise IntegrityError("sealed recording truncated")
                remaining -= len(chunk)
                sink(dec.update(chunk))
            try:
                sink(dec.finalize())
            except InvalidTag as exc:
                raise IntegrityError("sealed recording failed authentication") from exc

    def _read_back_digest(self, key: str, dek: bytes, context: bytes) -> str:
        digest = hashes.Hash(hashes.SM3())
        self._decrypt_stream(key, dek, context, digest.update)
        return digest.finalize().hex()

    def _rollback_pending(self, rid: str, key: str) -> None:
        self._store.delete(key)
        with self._tx() as conn:
            conn.execute(recording_flags.delete().where(recording_flags.c.recording_id == rid))
            conn.execute(
                recordings.delete().where(
                    (recordings.c.recording_id == rid) & (recordings.c.status == "pending")
                )
            )
            conn.commit()

    # -- search ------------------------------------------------------------------------------

    def search(
        self, actor: Actor, query: RecordingQuery, *, reveal: bool = False
    ) -> list[RecordingInfo]:
        """Stored recordings matching ``query``, newest first. ``reveal`` shows clear numbers
        (only for :data:`REVEAL_ROLES`; each reveal is audited)."""
        if actor.role not in SEARCH_ROLES:
            raise NotAuthorizedError(f"role {actor.role!r} may not search recordings")
        if reveal and actor.role not in REVEAL_ROLES:
            raise NotAuthorizedError(f"role {actor.role!r} may not see clear phone numbers")
        r = recordings.c
        stmt = sa.select(r.recording_id).where(r.status == "stored")
        if query.customer_number:
            stmt = stmt.where(
                r.customer_bi == blind_index(self._bi_key, normalize(query.customer_number))
            )
        if query.started_from is not None:
            stmt = stmt.where(r.started_at >= to_db(query.started_from))
        if query.started_to is not None:
            stmt = stmt.where(r.started_at < to_db(query.started_to))
        for column, value in (
            (r.business_type, query.business_type),
            (r.campaign, query.campaign),
            (r.direction, query.direction),
            (r.agent_id, query.agent_id),
            (r.call_id, query.call_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        for flag in sorted(set(query.flags)):
            stmt = stmt.where(
                sa.exists().where(
                    (recording_flags.c.recording_id == r.recording_id)
                    & (recording_flags.c.flag == flag)
                )
            )
        stmt = (
            stmt.order_by(r.started_at.desc(), r.recording_id)
            .limit(max(1, min(query.limit, 1000)))
            .offset(max(0, query.offset))
        )
        with self._tx() as conn:
            ids = [row.recording_id for row in conn.execute(stmt)]
        infos = [self._info_by_id(rid, reveal=reveal) for rid in ids]
        if reveal and infos:
            with self._tx() as conn:
                self._evidence.append_in(
                    conn,
                    EvidenceKind.RECORDING_ACCESSED,
                    call_id=None,
                    payload={
                        "action": "reveal_numbers",
                        "actor": actor.id,
                        "role": actor.role,
                        "recording_ids": [i.recording_id for i in infos],
                        "allowed": True,
                    },
                )
                conn.execute(
                    recording_access.insert(),
                    [
                        self._access_row(i.recording_id, "reveal", actor, "search", True)
                        for i in infos
                    ],
                )
                conn.commit()
        return infos

    def get(self, actor: Actor, recording_id: str) -> RecordingInfo:
        if actor.role not in SEARCH_ROLES:
            raise NotAuthorizedError(f"role {actor.role!r} may not search recordings")
        return self._info_by_id(recording_id, reveal=False)

    # -- fetch -------------------------------------------------------------------------------

    def fetch(
        self, actor: Actor, recording_id: str, reason: str, dest: Path | None = None
    ) -> FetchResult:
        """Decrypt a recording for an authorised actor, to ``dest`` or into memory.

        Every attempt is audited (who, when, why, allowed) before any decryption; unauthorised
        roles and empty reasons are refused with :class:`NotAuthorizedError` after the audit.
        """
        allowed = actor.role in FETCH_ROLES and bool(reason.strip())
        self._audit(recording_id, "fetch", actor, reason, allowed)
        if not allowed:
            log.warning(
                "recording fetch refused: recording %s actor %s role %s",
                recording_id,
                actor.id,
                actor.role,
            )
            raise NotAuthorizedError(
                f"role {actor.role!r} may not fetch recordings"
                if actor.role not in FETCH_ROLES
                else "a reason is required to fetch a recording"
            )
        row = self._row(recording_id)
        context = recording_id.encode("ascii")
        dek = self._keyring.unwrap(WrappedKey(row["key_id"], row["wrapped_key"]), context)
        info = self._to_info(row, reveal=False)
        key = row["storage_key"]
        if dest is None:
            parts: list[bytes] = []
            self._decrypt_stream(key, dek, context, parts.append)
            return FetchResult(info=info, data=b"".join(parts))
        part = dest.with_name(dest.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                self._decrypt_stream(key, dek, context, out.write)
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return FetchResult(info=info, path=dest)

    def _audit(
        self, recording_id: str, action: str, actor: Actor, reason: str, allowed: bool
    ) -> None:
        with self._tx() as conn:
            self._evidence.append_in(
                conn,
                EvidenceKind.RECORDING_ACCESSED,
                call_id=None,
                payload={
                    "action": action,
                    "recording_id": recording_id,
                    "actor": actor.id,
                    "role": actor.role,
                    "reason": reason[:500],
                    "allowed": allowed,
                },
            )
            conn.execute(
                recording_access.insert().values(
                    **self._access_row(recording_id, action, actor, reason, allowed)
                )
            )
            conn.commit()

    def _access_row(
        self, recording_id: str, action: str, actor: Actor, reason: str, allowed: bool
    ) -> dict[str, Any]:
        return {
            "recording_id": recording_id,
            "action": action,
            "actor_id": actor.id,
            "role": actor.role,
            "reason": reason[:2000],
            "allowed": allowed,
            "at": to_db(self._clock()),
        }

    def access_log(self, recording_id: str) -> list[dict[str, Any]]:
        """The audit rows of one recording, oldest first."""
        a = recording_access.c
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(a.action, a.actor_id, a.role, a.reason, a.allowed, a.at)
                .where(a.recording_id == recording_id)
                .order_by(a.id)
            ).all()
        return [{**row._asdict(), "at": from_db(row.at).isoformat()} for row in rows]

    # -- retention ---------------------------------------------------------------------------

    def delete(self, actor: Actor, recording_id: str, reason: str) -> None:
        """Delete a recording whose retention has passed; refused (and audited) before."""
        row = self._row(recording_id)
        until = self._effective_retain_until(row)
        now = self._clock()
        allowed_role = actor.role in DELETE_ROLES and bool(reason.strip())
        if not allowed_role or now < until:
            self._audit(recording_id, "delete", actor, reason, False)
            if not allowed_role:
                raise NotAuthorizedError(f"role {actor.role!r} may not delete recordings")
            raise RetentionError(
                f"recording {recording_id} is retained until {until.date().isoformat()}"
            )
        self._remove(row, actor, reason)

    def purge(self, now: datetime | None = None, limit: int = 1000) -> PurgeReport:
        """Recover unfinished work, then remove recordings past retention (only those)."""
        recovered = self.recover()
        now = now or self._clock()
        r = recordings.c
        with self._tx() as conn:
            rows = [
                dict(row._mapping)
                for row in conn.execute(
                    sa.select(recordings)
                    .where((r.status == "stored") & (r.retain_until <= to_db(now)))
                    .order_by(r.retain_until)
                    .limit(limit)
                )
            ]
        system = Actor("purge-job", Role.SYSTEM)
        removed: list[dict[str, str]] = []
        for row in rows:
            if now < self._effective_retain_until(row):
                continue
            self._remove(row, system, "retention expired")
            item = {
                "recording_id": row["recording_id"],
                "call_id": row["call_id"],
                "business_type": row["business_type"],
                "retain_until": from_db(row["retain_until"]).isoformat(),
            }
            log.info(
                "purged recording %s call %s business %s retained until %s",
                item["recording_id"],
                item["call_id"],
                item["business_type"],
                item["retain_until"],
            )
            removed.append(item)
        return PurgeReport(removed=tuple(removed), recovered=recovered)

    def _effective_retain_until(self, row: Mapping[str, Any]) -> datetime:
        by_policy = self._retention.retain_until(row["business_type"], from_db(row["ended_at"]))
        return max(from_db(row["retain_until"]), by_policy)

    def _remove(self, row: Mapping[str, Any], actor: Actor, reason: str) -> None:
        rid = row["recording_id"]
        with self._tx() as conn:
            self._evidence.append_in(
                conn,
                EvidenceKind.RECORDING_PURGED,
                call_id=row["call_id"],
                payload={
                    "recording_id": rid,
                    "actor": actor.id,
                    "role": actor.role,
                    "reason": reason[:500],
                    "business_type": row["business_type"],
                },
            )
            conn.execute(
                recording_access.insert().values(
                    **self._access_row(rid, "delete", actor, reason, True)
                )
            )
            conn.execute(
                recordings.update()
                .where(recordings.c.recording_id == rid)
                .values(status="deleting", wrapped_key=b"", customer_enc=None)
            )
            conn.commit()
        self._finish_delete(rid, row["storage_key"])

    def _finish_delete(self, rid: str, key: str) -> None:
        self._store.delete(key)
        with self._tx() as conn:
            conn.execute(recording_flags.delete().where(recording_flags.c.recording_id == rid))
            conn.execute(recordings.delete().where(recordings.c.recording_id == rid))
            conn.commit()

    # -- recovery and rotation ---------------------------------------------------------------

    def recover(self, lease_s: float | None = None) -> dict[str, int]:
        """Finish or roll back work a crash interrupted (safe to run at any time).

        ``pending`` rows older than the lease are rolled back (object removed, row removed);
        ``stored`` rows whose plaintext source is still there have it removed (if its SM3
        matches); ``deleting`` rows are finished; stale temporary writes are removed.
        """
        lease = self._lease if lease_s is None else lease_s
        cutoff = to_db(self._clock() - timedelta(seconds=lease))
        r = recordings.c
        counts = {"rolled_back": 0, "sources_removed": 0, "deletes_finished": 0, "temp_removed": 0}
        with self._tx() as conn:
            pending = conn.execute(
                sa.select(r.recording_id, r.storage_key).where(
                    (r.status == "pending") & (r.created_at <= cutoff)
                )
            ).all()
            leftovers = conn.execute(
                sa.select(r.recording_id, r.source_path, r.plaintext_sm3).where(
                    (r.status == "stored") & r.source_path.is_not(None)
                )
            ).all()
            deleting = conn.execute(
                sa.select(r.recording_id, r.storage_key).where(r.status == "deleting")
            ).all()
        for rid, key in pending:
            self._rollback_pending(rid, key)
            counts["rolled_back"] += 1
        for rid, source, digest in leftovers:
            path = Path(source)
            if path.is_file() and _file_sm3(path) == digest:
                _remove_plaintext(path)
                counts["sources_removed"] += 1
            with self._tx() as conn:
                conn.execute(
                    recordings.update().where(r.recording_id == rid).values(source_path=None)
                )
                conn.commit()
        for rid, key in deleting:
            self._finish_delete(rid, key)
            counts["deletes_finished"] += 1
        counts["temp_removed"] = self._store.clean_temporary(lease)
        if any(counts.values()):
            log.info("vault recovery: %s", counts)
        return counts

    def rewrap(self, batch: int = 500) -> int:
        """Rewrap every data key not under the current master key; returns how many moved."""
        r = recordings.c
        current = self._keyring.current_id
        moved = 0
        while True:
            with self._tx() as conn:
                rows = conn.execute(
                    sa.select(r.recording_id, r.key_id, r.wrapped_key)
                    .where((r.key_id != current) & (r.status.in_(("pending", "stored"))))
                    .limit(batch)
                ).all()
                if not rows:
                    break
                for rid, kid, blob in rows:
                    new = self._keyring.rewrap(WrappedKey(kid, blob), rid.encode("ascii"))
                    conn.execute(
                        recordings.update()
                        .where((r.recording_id == rid) & (r.key_id == kid))
                        .values(key_id=new.key_id, wrapped_key=new.blob)
                    )
                    moved += 1
                conn.commit()
        if moved:
            log.info("rewrapped %d recording keys to master key %s", moved, current)
        return moved

    # -- helpers -----------------------------------------------------------------------------

    def _tx(self) -> sa.Connection:
        try:
            return self._engine.connect()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("recording index unavailable") from exc

    def _row(self, recording_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            row = conn.execute(
                sa.select(recordings).where(
                    (recordings.c.recording_id == recording_id) & (recordings.c.status == "stored")
                )
            ).one_or_none()
            if row is None:
                raise RecordingNotFoundError(f"no stored recording {recording_id}")
            data = dict(row._mapping)
            data["qa_flags"] = tuple(
                conn.execute(
                    sa.select(recording_flags.c.flag)
                    .where(recording_flags.c.recording_id == recording_id)
                    .order_by(recording_flags.c.flag)
                ).scalars()
            )
        return data

    def _info_by_id(self, recording_id: str, *, reveal: bool) -> RecordingInfo:
        return self._to_info(self._row(recording_id), reveal=reveal)

    def _to_info(self, row: Mapping[str, Any], *, reveal: bool) -> RecordingInfo:
        customer = row["customer_masked"]
        if reveal and row["customer_enc"]:
            context = row["recording_id"].encode("ascii")
            dek = self._keyring.unwrap(WrappedKey(row["key_id"], row["wrapped_key"]), context)
            customer = sm4_gcm_decrypt(
                dek, Sealed.from_bytes(row["customer_enc"]), aad=b"number|" + context
            ).decode("ascii")
        return RecordingInfo(
            recording_id=row["recording_id"],
            call_id=row["call_id"],
            customer=customer,
            customer_bi=row["customer_bi"],
            campaign=row["campaign"],
            business_type=row["business_type"],
            direction=row["direction"],
            started_at=from_db(row["started_at"]),
            ended_at=from_db(row["ended_at"]),
            duration_ms=int(row["duration_ms"]),
            agent_id=row["agent_id"],
            flow_version=row["flow_version"],
            consent_state=row["consent_state"],
            qa_flags=tuple(row["qa_flags"]),
            retain_until=from_db(row["retain_until"]),
            size_bytes=row["size_bytes"],
            media_type=row["media_type"],
            key_id=row["key_id"],
        )


def _remove_plaintext(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_sm3(path: Path) -> str:
    digest = hashes.Hash(hashes.SM3())
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.finalize().hex()
