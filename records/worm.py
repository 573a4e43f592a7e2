"""Evidence chain checkpoints in a second, write-once store: an S3 bucket with object lock.

The database's owner can delete the tail of ``evidence_log`` and rewrite ``evidence_head`` to
match (the in-database head check then passes); a checkpoint (head sequence + hash) that the
same person cannot remove or change still catches it. Each checkpoint is one object, written
with ``ObjectLockMode=COMPLIANCE`` and a retain-until date (no one, root included, can delete
or overwrite that version before it), under a key that sorts newest first
(``<prefix><10**20-1-seq, 20 digits>.json``), so the latest is the first key listed.

The put-only credentials belong to the checkpoint writer, not to the database's owner. Whoever
can put can add versions but never remove or change one: :meth:`latest` reads every version
of the newest key (versions that disagree are an :class:`IntegrityError`) and :meth:`every`
returns all of them for a full audit (``ivr evidence verify --worm-all``), which a forged
newer checkpoint cannot pass either, since the genuine older ones are still there. The bucket
must be created with object lock (which needs versioning) outside the app; :meth:`check`
refuses one without it. Errors are translated at the boto3 edge (:mod:`records.s3_client`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ivr.errors import ConfigError, IntegrityError, StoreUnavailableError
from ivr.settings import Settings
from records.blobstore_s3 import normalize_prefix
from records.chain import Checkpoint
from records.evidence_store import SqlEvidenceLog
from records.s3_client import make_client, s3_edge
from records.timeutil import iso, utcnow

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MAX_SEQ = 10**20 - 1
_NO_LOCK = "ObjectLockConfigurationNotFoundError"
_NO_LOCK_TEXT = "the WORM bucket has no object lock: its checkpoints could be deleted"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def checkpoint_key(prefix: str, seq: int) -> str:
    """The object key of the checkpoint at ``seq``: newer checkpoints sort first."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError("sequence out of range")
    return f"{prefix}{MAX_SEQ - seq:020d}.json"


class WormCheckpointStore:
    """Chain checkpoints as COMPLIANCE-locked objects in one bucket (see the module doc)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "evidence-checkpoints/",
        *,
        retention_days: int = 3650,
        clock: Callable[[], datetime] = utcnow,
        page_size: int = 50,
    ) -> None:
        if not bucket:
            raise ConfigError("a WORM bucket name is required")
        if retention_days < 1:
            raise ConfigError("WORM retention must be at least one day")
        self.client = client
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        self._page = page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> WormCheckpointStore | None:
        """The store ``IVR_EVIDENCE_WORM_*`` name, or ``None`` when no bucket is set."""
        if not settings.evidence_worm_bucket:
            return None
        key_id = settings.evidence_worm_access_key_id
        secret = settings.evidence_worm_secret_access_key
        client = make_client(
            endpoint=settings.evidence_worm_endpoint,
            region=settings.evidence_worm_region,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
        return cls(
            client,
            settings.evidence_worm_bucket,
            settings.evidence_worm_prefix,
            retention_days=settings.evidence_worm_retention_days,
        )

    def now(self) -> datetime:
        return self._clock()

    def check(self) -> None:
        """Refuse a bucket without object lock: its checkpoints could be deleted."""
        try:
            with s3_edge("GetObjectLockConfiguration"):
                conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except StoreUnavailableError as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == _NO_LOCK:
                raise ConfigError(_NO_LOCK_TEXT) from None
            raise
        if conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise ConfigError(_NO_LOCK_TEXT)

    def put(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` locked in COMPLIANCE mode until now + retention."""
        body = json.dumps(checkpoint.as_dict(), sort_keys=True).encode("ascii")
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        with s3_edge("PutObject"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=checkpoint_key(self.prefix, checkpoint.seq),
                Body=body,
                ContentMD5=md5,
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=self._clock() + self.retention,
            )

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint (every version of its key must agree), or ``None``."""
        newest: str | None = None
        found: list[Checkpoint] = []
        for key, version_id in self._versions():
            if newest is None:
                newest = key
            elif key != newest:
                break
            found.append(self._read(key, version_id))
        if newest is None:
            return None
        if len({(cp.seq, cp.hash) for cp in found}) != 1:
            raise IntegrityError("WORM checkpoint versions disagree (a forged version was added)")
        return found[0]

    def every(self) -> list[Checkpoint]:
        """Every version of every checkpoint, newest first (a full audit)."""
        return [self._read(key, version_id) for key, version_id in self._versions()]

    def _versions(self) -> Iterator[tuple[str, str]]:
        """``(key, version id)`` of every object version under the prefix, in key order."""
        markers: tuple[str, str] | None = None
        while True:
            with s3_edge("ListObjectVersions"):
                if markers is None:
                    page = self.client.list_object_versions(
                        Bucket=self.bucket, Prefix=self.prefix, MaxKeys=self._page
                    )
                else:
                    page = self.client.list_object_versions(
                        Bucket=self.bucket,
                        Prefix=self.prefix,
                        MaxKeys=self._page,
                        KeyMarker=markers[0],
                        VersionIdMarker=markers[1],
                    )
            for version in page.get("Versions", []):
                yield version["Key"], version["VersionId"]
            if not page.get("IsTruncated"):
                return
            markers = (page["NextKeyMarker"], page["NextVersionIdMarker"])

    def _read(self, key: str, version_id: str) -> Checkpoint:
        with s3_edge("GetObject"):
            obj = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            data = obj["Body"].read()
        try:
            cp = Checkpoint.from_dict(json.loads(data))
        except ValueError as exc:
            raise IntegrityError("a WORM checkpoint is not valid JSON") from exc
        if checkpoint_key(self.prefix, cp.seq) != key:
            raise IntegrityError("a WORM checkpoint is stored under another sequence's key")
        return cp


def publish_checkpoint(log: SqlEvidenceLog, store: WormCheckpointStore) -> tuple[Checkpoint, bool]:
    """Verify the chain (against the newest WORM checkpoint too), then lock its head in the
    store unless it is already there; ``(checkpoint, written)``. A broken chain raises
    :class:`IntegrityError` and is never re-anchored."""
    latest = store.latest()
    result = log.verify(also=() if latest is None else (latest,))
    if not result.ok:
        raise IntegrityError(f"chain broken at entry {result.first_bad_seq}: {result.reason}")
    if latest is not None and latest.seq == result.head_seq:
        return latest, False
    checkpoint = Checkpoint(seq=result.head_seq, hash=result.head_hash, ts=iso(store.now()))
    store.put(checkpoint)
    return checkpoint, True
