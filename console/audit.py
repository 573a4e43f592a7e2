"""Console audit: every read of customer data, every change and every refusal is chained
evidence naming its actor (the SM3 chain of ``records.evidence_store.SqlEvidenceLog``).

A change and its evidence commit in one transaction (:meth:`Audit.transaction` then
:meth:`Audit.record_in` as the first statement); payloads never hold clear customer data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from console.permissions import Permission
from records.evidence_store import SqlEvidenceLog

if TYPE_CHECKING:
    from console.identity import Principal
    from ivr.settings import Settings


class AuditKind(StrEnum):
    """Evidence kinds the console writes (besides those of compliance and records)."""

    SIGNED_IN = "console_signed_in"
    SIGN_IN_FAILED = "console_sign_in_failed"
    ACCOUNT_LOCKED = "console_account_locked"
    ACCESS_DENIED = "console_access_denied"
    CUSTOMER_DATA_READ = "console_customer_data_read"
    USER_CHANGED = "console_user_changed"
    CHANGE_SUBMITTED = "console_change_submitted"
    CHANGE_APPROVED = "console_change_approved"
    CHANGE_REJECTED = "console_change_rejected"
    PUBLISHED = "console_published"
    ROLLED_BACK = "console_rolled_back"
    RULES_RELOAD_REQUESTED = "console_rules_reload_requested"
    QA_BATCH_STARTED = "console_qa_batch_started"
    CAMPAIGN_CHANGED = "console_campaign_changed"


class Audit:
    """Writes console evidence into the chain (a required evidence log, never a default)."""

    def __init__(self, evidence: SqlEvidenceLog) -> None:
        self.evidence = evidence

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection whose work commits at the end (or rolls back on error)."""
        with self.evidence.engine.connect() as conn:
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def record_in(
        self,
        conn: Connection,
        kind: AuditKind,
        actor: Principal | Mapping[str, str],
        **payload: Any,
    ) -> None:
        """Evidence inside ``conn``'s transaction: call it first (it begins the transaction)."""
        self.evidence.append_in(conn, kind, call_id=None, payload=_payload(actor, payload))

    def record(self, kind: AuditKind, actor: Principal | Mapping[str, str], **payload: Any) -> None:
        self.evidence.append_entry(kind, call_id=None, payload=_payload(actor, payload))

    def denied(self, principal: Principal, permission: Permission, resource: str = "") -> None:
        self.record(
            AuditKind.ACCESS_DENIED, principal, permission=permission.value, resource=resource
        )

    def customer_data_read(self, principal: Principal, what: str, **details: Any) -> None:
        self.record(AuditKind.CUSTOMER_DATA_READ, principal, what=what, **details)


def _payload(actor: Principal | Mapping[str, str], payload: Mapping[str, Any]) -> dict[str, Any]:
    who = dict(actor) if isinstance(actor, Mapping) else actor.actor()
    return who | {k: v for k, v in payload.items() if v is not None}


def build_audit(settings: Settings) -> Audit:
    from ivr.db import engine_for

    return Audit(SqlEvidenceLog(engine_for(settings)))
