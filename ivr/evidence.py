"""The evidence port: how any package records a key event in the hash-chained evidence log.

The records package implements it (SM3 chain, SQL); packages that produce evidence (compliance,
telephony, flows, actions) depend only on this Protocol. Payloads never hold clear customer data:
use blind indexes and masked numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol


class EvidenceKind(StrEnum):
    """Types of evidence entries."""

    DISCLOSURE_PLAYED = "disclosure_played"
    CONSENT_GRANTED = "consent_granted"
    CONSENT_REFUSED = "consent_refused"
    CONSENT_REVOKED = "consent_revoked"
    DNC_ADDED = "dnc_added"
    DNC_REMOVED = "dnc_removed"
    REFUSAL_UNIDENTIFIED = "refusal_unidentified"  # a refusal from a caller with no number
    ESCALATED = "escalated"
    CALLBACK_SCHEDULED = "callback_scheduled"
    CALLBACK_UNAVAILABLE = "callback_unavailable"  # no usable number: no ticket, caller told
    RECORDING_STORED = "recording_stored"
    RECORDING_ACCESSED = "recording_accessed"
    RECORDING_PURGED = "recording_purged"
    NUMBER_REVEALED = "number_revealed"
    RULES_RELOADED = "rules_reloaded"
    CALL_STARTED = "call_started"
    CALL_ENDED = "call_ended"
    CALL_ABORTED = "call_aborted"
    QA_RESULT = "qa_result"  # a call's QA score, findings and rules version
    QA_BOT_SENTENCE_BLOCKED = "qa_bot_sentence_blocked"  # stopped before synthesis


class EvidenceSink(Protocol):
    """Append one evidence entry; returns once it is durable."""

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None: ...
