"""Adapter between the actions and the compliance and records packages.

The composition root of the action server: one :class:`compliance.service.ComplianceService`
per process, built lazily from :class:`ivr.settings.Settings` on first use (so ``IVR_DATA_DIR`` /
``IVR_DATABASE_URL`` decide where DNC and consent live) on one SQL engine shared with the
records package's hash-chained evidence log, so every DNC and consent change the actions make is
chained evidence (invariant 3). The customer reaches the actions only as a caller handle that
:meth:`Stores.caller` resolves through the same database (:mod:`bot.caller_handles`).

Every call is bounded and translated: actions see :class:`ivr.errors.StoreUnavailableError` or
:class:`compliance.service.InvalidRequestError`, never library exceptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from bot.caller_handles import CallerHandles
from compliance.consent_policy import AnswerDecision
from compliance.factory import build_service
from compliance.ports import ConsentRecord, Refusal
from compliance.rules import RuleSet
from compliance.service import ComplianceService, InvalidRequestError
from ivr.db import engine_for
from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.metrics import count_errors
from ivr.phone import CustomerNumber
from ivr.settings import Settings, get_settings
from records.evidence_store import SqlEvidenceLog
from records.sealed_number import NumberSealer

log = logging.getLogger(__name__)

MARKETING = "marketing"
CONSENT_CHANNEL = "voice_bot"
ACTOR = "voice_bot"
DNC_ATTEMPTS = 3

__all__ = [
    "ACTOR",
    "CONSENT_CHANNEL",
    "MARKETING",
    "InvalidRequestError",
    "StoreUnavailableError",
    "Stores",
    "get_stores",
    "reset_stores",
]


class Stores:
    """The compliance service and evidence sink the actions use."""

    def __init__(self, settings: Settings) -> None:
        count_errors()  # the action process's logged errors are metrics too
        self.engine = engine_for(settings)
        self.evidence: EvidenceSink = SqlEvidenceLog(self.engine)
        # no outage spool: without the database a caller handle does not resolve, so the
        # actions leave a refusal to the orchestrator (``dnc_recorded: false``), which spools
        self.compliance: ComplianceService = build_service(
            settings, engine=self.engine, evidence=self.evidence, spool=None
        )
        self.handles = CallerHandles(
            self.engine, NumberSealer.from_settings(settings), ttl_s=settings.esl_max_call_s
        )
        self._started = False
        self._lock = asyncio.Lock()

    async def ready(self) -> ComplianceService:
        async with self._lock:
            if not self._started:
                await self.compliance.start(watch=True)
                self._started = True
        return self.compliance

    async def caller(self, handle: str | None) -> CustomerNumber | None:
        """The customer behind a caller handle (``None``: none, unknown or expired), retrying
        a store failure; raises :class:`StoreUnavailableError` when it never answered."""
        last: Exception | None = None
        for attempt in range(DNC_ATTEMPTS):
            try:
                return await self.handles.resolve(handle)
            except StoreUnavailableError as exc:
                last = exc
                await asyncio.sleep(0.05 * (attempt + 1))
        raise StoreUnavailableError("caller handle store unavailable after retries") from last

    async def rules(self) -> RuleSet:
        """The rules in force now (the consent policy reads answers with them)."""
        return (await self.ready()).rules_at()

    async def record_refusal(
        self, caller: CustomerNumber | None, *, reason: str, call_id: str | None,
        decision: AnswerDecision | None,
    ) -> Refusal:  # fmt: skip
        """Durably record a refusal (DNC, or evidence for a caller without a number), retrying
        a store failure; raises when it never held."""
        svc = await self.ready()
        last: Exception | None = None
        for attempt in range(DNC_ATTEMPTS):
            try:
                return await svc.record_refusal(
                    caller, source="voice_bot", reason=reason, actor=ACTOR, call_id=call_id,
                    decision=decision,
                )  # fmt: skip
            except StoreUnavailableError as exc:
                last = exc
                await asyncio.sleep(0.05 * (attempt + 1))
        raise StoreUnavailableError("DNC store unavailable after retries") from last

    async def is_dnc(self, caller: CustomerNumber | None) -> bool:
        svc = await self.ready()
        return await svc.is_dnc(caller)

    async def grant_consent(
        self,
        caller: CustomerNumber,
        *,
        scope: str,
        call_id: str | None,
        transcript_excerpt: str,
        recording_offset_ms: int | None,
        decision: AnswerDecision,
    ) -> ConsentRecord:
        svc = await self.ready()
        return await svc.grant_consent(
            caller,
            purpose=MARKETING,
            scope=scope,
            channel=CONSENT_CHANNEL,
            call_id=call_id,
            recording_offset_ms=recording_offset_ms,
            transcript_excerpt=transcript_excerpt,
            decision=decision,
        )

    async def has_marketing_consent(self, caller: CustomerNumber | None) -> bool:
        svc = await self.ready()
        return await svc.has_valid_consent(caller, MARKETING)

    async def evidence_append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> bool:
        """Append evidence; a failure is logged (never customer data) and reported as False."""
        try:
            await self.evidence.append(kind, call_id=call_id, payload=payload)
        except Exception:
            log.exception("evidence %s for call %s failed", kind.value, call_id)
            return False
        return True

    async def close(self) -> None:
        if self._started:
            await self.compliance.close()
            self._started = False
        self.engine.dispose()


_stores: Stores | None = None


def get_stores() -> Stores:
    """The process-wide stores, built on first use."""
    global _stores
    if _stores is None:
        _stores = Stores(get_settings())
    return _stores


def reset_stores(stores: Stores | None = None) -> None:
    """Replace the process-wide stores (tests point them at a temporary database)."""
    global _stores
    _stores = stores
