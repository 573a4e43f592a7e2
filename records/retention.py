"""Retention: how long recordings are kept, and deleting them only once that has passed.

A recording is kept at least 2 years after its call ended (more per business type, from
settings); the later of the date recorded at ingest and today's policy wins. Deleting first
commits ``deleting`` together with ``recording_purged`` evidence and an access row (the wrapped
key is erased, so the object is already unreadable), then removes the object and the row; a
crash in between is finished by recovery. A refused delete is audited too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.errors import ConfigError, IvrError, NotAuthorizedError
from ivr.evidence import EvidenceKind
from ivr.permissions import Permission
from ivr.settings import Settings
from records.access import SYSTEM, AccessAttempt, AccessAudit, Actor, may
from records.evidence_store import SqlEvidenceLog
from records.ports import BlobStore
from records.recording_index import RecordingIndex
from records.timeutil import add_years, from_db

log = logging.getLogger(__name__)

MIN_RETENTION_YEARS = 2


class RetentionError(IvrError):
    """Deleting a recording before its retention date is refused."""

    code = "records.retention"


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


@dataclass(frozen=True, slots=True)
class PurgeReport:
    removed: tuple[dict[str, str], ...] = ()
    recovered: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": list(self.removed), "recovered": dict(self.recovered)}


class Retention:
    """Deletes recordings whose retention has passed, and only those."""

    def __init__(
        self,
        index: RecordingIndex,
        store: BlobStore,
        audit: AccessAudit,
        evidence: SqlEvidenceLog,
        policy: RetentionPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._index = index
        self._store = store
        self._audit = audit
        self._evidence = evidence
        self._policy = policy
        self._clock = clock

    @property
    def policy(self) -> RetentionPolicy:
        return self._policy

    def retain_until(self, row: Mapping[str, Any]) -> datetime:
        """The later of the row's recorded date and what today's policy asks."""
        by_policy = self._policy.retain_until(row["business_type"], from_db(row["ended_at"]))
        return max(from_db(row["retain_until"]), by_policy)

    def delete(self, actor: Actor, recording_id: str, reason: str) -> None:
        """Delete a recording whose retention has passed; refused (and audited) before."""
        row = self._index.stored_row(recording_id)
        until = self.retain_until(row)
        now = self._clock()
        allowed_role = may(actor, Permission.RECORDINGS_DELETE) and bool(reason.strip())
        if not allowed_role or now < until:
            with self._index.connect() as conn:
                self._audit.record_in(
                    conn, AccessAttempt(recording_id, "delete", actor, reason, False, now)
                )
                conn.commit()
            if not allowed_role:
                raise NotAuthorizedError(
                    f"role {actor.role!r} may not delete recordings",
                    code="records.may_not_delete",
                    params={"role": actor.role},
                )
            raise RetentionError(
                f"recording {recording_id} is retained until {until.date().isoformat()}",
                params={"until": until.date().isoformat()},
            )
        self._remove(row, actor, reason)

    def purge_expired(self, now: datetime, limit: int) -> tuple[dict[str, str], ...]:
        """Remove up to ``limit`` stored recordings past retention at ``now``."""
        system = Actor("purge-job", SYSTEM)
        removed: list[dict[str, str]] = []
        for row in self._index.stored_until(now, limit):
            if now < self.retain_until(row):
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
        return tuple(removed)

    def _remove(self, row: Mapping[str, Any], actor: Actor, reason: str) -> None:
        rid = row["recording_id"]
        with self._index.connect() as conn:
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
            self._audit.record_row_in(
                conn, AccessAttempt(rid, "delete", actor, reason, True, self._clock())
            )
            self._index.mark_deleting_in(conn, rid)
            conn.commit()
        self.finish_delete(rid, row["storage_key"])

    def finish_delete(self, recording_id: str, storage_key: str) -> None:
        """Remove the object, then the row (safe to repeat)."""
        self._store.delete(storage_key)
        self._index.delete_row(recording_id)
