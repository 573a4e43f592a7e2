"""Who may do what with recordings, and the audit of every attempt.

The rights come from the one permission table (:mod:`ivr.permissions`), read through
:func:`may`: searching needs ``recordings.search``, fetching (playback or export)
``recordings.play`` or ``recordings.export``, clear numbers ``numbers.unmask``, deleting a
recording past retention ``recordings.delete``; the vault's own jobs act as :data:`SYSTEM`,
whose few rights (:data:`SYSTEM_RIGHTS`) are listed here because no person holds that role.
Every attempt, allowed or refused, is one row in ``recording_access`` and one
``recording_accessed`` entry in the evidence chain, written in one transaction before any byte
is decrypted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ivr.evidence import EvidenceKind
from ivr.permissions import Permission, allowed
from records.evidence_store import SqlEvidenceLog
from records.tables import recording_access
from records.timeutil import from_db, to_db

SYSTEM = "system"
"""The role of the vault's and the floor's own jobs (the retention purge, automatic call backs):
no console user has it, and it may only what :data:`SYSTEM_RIGHTS` lists."""
SYSTEM_RIGHTS = frozenset({Permission.RECORDINGS_DELETE, Permission.CALLBACKS_WORK})


def may(actor: Actor, *permissions: Permission) -> bool:
    """May ``actor`` do any of ``permissions``? People by the one table, :data:`SYSTEM` by
    :data:`SYSTEM_RIGHTS`; an unknown role may do nothing."""
    if actor.role == SYSTEM:
        return any(p in SYSTEM_RIGHTS for p in permissions)
    return any(allowed(actor.role, p) for p in permissions)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking (authenticated upstream) and in which role."""

    id: str
    role: str


@dataclass(frozen=True, slots=True)
class AccessAttempt:
    """One attempt to read, reveal or delete a recording, allowed or not."""

    recording_id: str
    action: str  # "fetch" | "reveal" | "delete"
    actor: Actor
    reason: str
    allowed: bool
    at: datetime

    def row(self) -> dict[str, Any]:
        """The ``recording_access`` row."""
        return {
            "recording_id": self.recording_id,
            "action": self.action,
            "actor_id": self.actor.id,
            "role": self.actor.role,
            "reason": self.reason[:2000],
            "allowed": self.allowed,
            "at": to_db(self.at),
        }


class AccessAudit:
    """Writes the access table and the evidence chain for each attempt (one transaction)."""

    def __init__(self, evidence: SqlEvidenceLog) -> None:
        self._evidence = evidence

    def record_in(self, conn: Connection, attempt: AccessAttempt) -> None:
        """Audit one attempt inside ``conn``'s transaction (the caller commits)."""
        self._evidence.append_in(
            conn,
            EvidenceKind.RECORDING_ACCESSED,
            call_id=None,
            payload={
                "action": attempt.action,
                "recording_id": attempt.recording_id,
                "actor": attempt.actor.id,
                "role": attempt.actor.role,
                "reason": attempt.reason[:500],
                "allowed": attempt.allowed,
            },
        )
        self.record_row_in(conn, attempt)

    @staticmethod
    def record_row_in(conn: Connection, attempt: AccessAttempt) -> None:
        """Only the ``recording_access`` row (the caller writes its own evidence entry)."""
        conn.execute(recording_access.insert().values(**attempt.row()))

    def reveal_in(
        self,
        conn: Connection,
        actor: Actor,
        recording_ids: Iterable[str],
        reason: str,
        at: datetime,
        *,
        allowed: bool,
    ) -> None:
        """Audit that ``actor`` asks to see the clear numbers of these recordings (one entry)."""
        ids = list(recording_ids)
        self._evidence.append_in(
            conn,
            EvidenceKind.RECORDING_ACCESSED,
            call_id=None,
            payload={
                "action": "reveal_numbers",
                "actor": actor.id,
                "role": actor.role,
                "reason": reason[:500],
                "recording_ids": ids,
                "allowed": allowed,
            },
        )
        if ids:
            conn.execute(
                recording_access.insert(),
                [AccessAttempt(rid, "reveal", actor, reason, allowed, at).row() for rid in ids],
            )


def access_log(conn: Connection, recording_id: str) -> list[dict[str, Any]]:
    """The audit rows of one recording, oldest first."""
    a = recording_access.c
    rows = conn.execute(
        sa.select(a.action, a.actor_id, a.role, a.reason, a.allowed, a.at)
        .where(a.recording_id == recording_id)
        .order_by(a.id)
    ).all()
    return [{**row._asdict(), "at": from_db(row.at).isoformat()} for row in rows]
