"""The consent half of the compliance service's API, and the helpers both halves use.

:class:`ConsentApi` is a base of :class:`compliance.service.ComplianceService` (the facade: build
and use that one): ``grant_consent`` (validity from the rules in force, the transcript excerpt
masked, spooled with the ledger's own row when the ledger is down), ``has_valid_consent``,
``list_consents`` and ``revoke_consent``, each change with its chained evidence. The helpers
(``index``, ``rules_at``, the guarded ledger call, the evidence with its rules version) serve the
DNC half too. :class:`InvalidRequestError` and :func:`mask_transcript` are re-exported by
:mod:`compliance.service`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from compliance.consent_policy import AnswerDecision
from compliance.guard import SqlPool
from compliance.ports import ConsentRecord
from compliance.reload import RulesHolder
from compliance.rules import RuleSet
from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger, new_consent
from ivr.crypto import blind_index, sm3
from ivr.errors import IvrError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.phone import CustomerNumber

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_CONSENT_DAYS = 365
LEDGER_TIMEOUT_S = 5.0
_SPOKEN_DIGITS = re.compile(r"[0-9０-９零〇一二三四五六七八九幺两]{5,}")


class InvalidRequestError(IvrError):
    """A compliance API call had an invalid argument."""

    code = "compliance.invalid_request"


def mask_transcript(text: str | None) -> str | None:
    """Mask digit runs (Arabic or spoken Chinese) so excerpts never hold a number in clear."""
    if text is None:
        return None
    return _SPOKEN_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)[:500]


class ConsentApi:
    """Consent methods and shared helpers of the compliance service (see the module docstring);
    the service's constructor sets the attributes below."""

    holder: RulesHolder
    ledger: SqlLedger
    evidence: EvidenceSink
    sql: SqlPool
    clock: Callable[[], datetime]
    spool: LedgerSpool | None
    _key: bytes

    # --- helpers -----------------------------------------------------------------------------
    def rules_at(self, now: datetime | None = None) -> RuleSet:
        return self.holder.at(now or self.clock())

    def index(self, e164: str) -> str:
        return blind_index(self._key, e164)

    async def _ledger(self, what: str, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        return await self.sql.call(what, LEDGER_TIMEOUT_S, fn, *args, **kw)

    async def _evidence(
        self,
        kind: EvidenceKind,
        call_id: str | None,
        decision: AnswerDecision | None,
        **payload: object,
    ) -> None:
        basis = decision.evidence() if decision is not None else {}
        body = {"rules_version": self.rules_at().version, **payload, **basis}
        await self.evidence.append(kind, call_id=call_id, payload=body)

    # --- consent -----------------------------------------------------------------------------
    async def grant_consent(
        self,
        customer: CustomerNumber,
        *,
        purpose: str,
        scope: str,
        channel: str,
        call_id: str | None = None,
        recording_offset_ms: int | None = None,
        transcript_excerpt: str | None = None,
        at: datetime | None = None,
        decision: AnswerDecision | None = None,
    ) -> ConsentRecord:
        """Record an explicit consent with its evidence; validity from the rules."""
        now = at or self.clock()
        policy = self.holder.at(now).purposes.get(purpose)
        if policy is None:
            raise InvalidRequestError(
                f"unknown purpose {purpose!r}",
                code="compliance.unknown_purpose",
                params={"purpose": purpose},
            )
        if not scope or not channel:
            raise InvalidRequestError(
                "consent needs a scope and a channel", code="consent.scope_channel_required"
            )
        if decision is not None and not decision.marketing_allowed:
            raise InvalidRequestError(
                f"the answer was not consent ({decision.outcome.value})",
                code="consent.not_consent",
                params={"outcome": decision.outcome.value},
            )
        days = policy.consent_valid_days or DEFAULT_CONSENT_DAYS
        bidx = self.index(customer.e164)
        excerpt = mask_transcript(transcript_excerpt)
        rec = new_consent(
            bidx,
            purpose=purpose,
            scope=scope,
            channel=channel,
            granted_at=now,
            expires_at=now + timedelta(days=days),
            call_id=call_id,
            recording_offset_ms=recording_offset_ms,
            transcript_excerpt=excerpt,
        )
        try:
            await self._ledger("consent ledger", self.ledger.put_consent, rec)
        except StoreUnavailableError as exc:
            if self.spool is None:
                raise
            await self.spool.grant_consent(rec)
            log.warning("consent ledger unavailable (%s): consent %s spooled", exc, rec.id)
        await self._evidence(
            EvidenceKind.CONSENT_GRANTED,
            call_id,
            decision,
            consent_id=rec.id,
            number_index=bidx,
            purpose=purpose,
            scope=scope,
            channel=channel,
            expires_at=rec.expires_at.isoformat(),
            recording_offset_ms=recording_offset_ms,
            transcript_sm3=sm3((excerpt or "").encode()).hex(),
        )
        return rec

    async def has_valid_consent(
        self, customer: CustomerNumber | None, purpose: str, at: datetime | None = None
    ) -> bool:
        """Consent on file and unexpired (a caller without a number has none)."""
        if customer is None:
            return False
        bidx = self.index(customer.e164)
        when = at or self.clock()
        return bool(
            await self._ledger("consent ledger", self.ledger.has_valid_consent, bidx, purpose, when)
        )

    async def list_consents(self, customer: CustomerNumber) -> list[ConsentRecord]:
        bidx = self.index(customer.e164)
        return await self._ledger("consent ledger", self.ledger.list_consents, bidx)

    async def revoke_consent(
        self, customer: CustomerNumber, purpose: str, *, actor: str, channel: str, reason: str
    ) -> int:
        """Revoke every live consent for ``purpose``; the revocation itself is recorded."""
        bidx = self.index(customer.e164)
        ids = await self._ledger(
            "consent ledger",
            self.ledger.revoke_consent,
            bidx,
            purpose,
            actor=actor,
            channel=channel,
            reason=reason,
            at=self.clock(),
        )
        await self._evidence(
            EvidenceKind.CONSENT_REVOKED,
            None,
            None,
            number_index=bidx,
            purpose=purpose,
            consent_ids=ids,
            actor=actor,
            channel=channel,
            reason=reason,
        )
        return len(ids)
