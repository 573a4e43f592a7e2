"""The compliance service: the Python API the actions server, the flows and the dialler call.

A facade over the gate (:mod:`compliance.gate`), the SQL ledger (:mod:`compliance.sql`), the
gate store's mirror (:mod:`compliance.mirror`) and the evidence log. Build it once in a
composition root with :func:`compliance.factory.build_service`, ``await service.start()``, and
``await service.close()`` at shutdown::

    engine = make_engine(settings.sqlalchemy_url)
    svc = build_service(settings, engine=engine, evidence=SqlEvidenceLog(engine), spool=None)
    await svc.start()                      # gate mirror rebuilt from SQL if needed, watcher on
    d = await svc.check_and_count(GateRequest(number, "marketing", attempt_id, campaign="c1"))
    if d.allowed: originate(...)            # d.consent_mode == IN_CALL: ask consent first in call
    else: requeue_at(d.retry_after)         # None: do not retry (dnc, no_consent, ...)

Gate (never raises; every store error or timeout denies with ``store_unavailable``):
    ``async check_and_count(request) -> Decision``; ``async dry_run(request, at=None)``;
    ``async check_and_permit(request) -> GateAnswer`` (decision + ``DialPermit | None``: the
    only way to get the permit that the originate API requires, invariant 1).
Customers are :class:`ivr.phone.CustomerNumber` values made at the edge
(:func:`ivr.phone.customer_number`); where a caller may have no usable number the API takes
``CustomerNumber | None``.
DNC (permanent; SQL first, then mirrored to the gate store; every change is chained evidence;
with an outage spool a DNC entry or consent the ledger cannot take is spooled and acknowledged,
:mod:`compliance.spool`):
    ``async record_refusal(customer | None, *, source, reason, actor, call_id=None,
    decision=None) -> Refusal`` (invariant 6: DNC, or evidence that there was no number);
    ``async add_dnc(customer, *, source, reason, actor, call_id=None, decision=None)``;
    ``async remove_dnc(customer, *, actor, actor_role, reason) -> bool`` (role
    ``compliance_officer`` only, reason required); ``async is_dnc(customer | None) -> bool``;
    ``async dnc_entry(customer) -> DncEntry | None``.
DND: ``async set_dnd(customer, windows: Sequence[str])`` (``"12:00-13:30"``; empty clears).
Consent ledger:
    ``async grant_consent(customer, *, purpose, scope, channel, call_id=None,
    recording_offset_ms=None, transcript_excerpt=None, at=None, decision=None)``;
    ``async has_valid_consent(customer | None, purpose, at=None) -> bool``;
    ``async list_consents(customer)``; ``async revoke_consent(customer, purpose, *, actor,
    channel, reason) -> int``.
``decision`` is the :class:`compliance.consent_policy.AnswerDecision` the answer was read with;
its outcome, reason and rules version go into the evidence (every entry names a rules version).
Rules: ``service.rules_at(now)``, ``service.watcher`` (hot reload), ``service.holder``.

Non-gate methods raise :class:`InvalidRequestError` (bad argument),
:class:`ivr.errors.NotAuthorizedError` or :class:`ivr.errors.StoreUnavailableError`.
Numbers are turned into blind indexes at once; logs and evidence carry masked numbers only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from compliance.consent_api import ConsentApi, InvalidRequestError, mask_transcript
from compliance.consent_policy import AnswerDecision
from compliance.decision import Decision, DndWindow, GateRequest
from compliance.decision_log import DecisionLog
from compliance.gate import Gate, GateAnswer
from compliance.guard import SqlPool
from compliance.mirror import GateMirror
from compliance.ports import DncEntry, GateStore, Refusal
from compliance.reload import RulesHolder, RulesWatcher
from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger
from ivr.errors import NotAuthorizedError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.metrics import GATE_DECISIONS
from ivr.phone import CustomerNumber

__all__ = ["ComplianceService", "InvalidRequestError", "mask_transcript", "utc_now"]
log = logging.getLogger(__name__)

COMPLIANCE_OFFICER = "compliance_officer"
NO_NUMBER = "no usable caller number: nothing to put on the DNC list"


def utc_now() -> datetime:
    return datetime.now(UTC)


class ComplianceService(ConsentApi):
    """Gate, DNC, DND and consent behind one async API (see the module docstring; the consent
    methods and the helpers both halves use are :class:`compliance.consent_api.ConsentApi`'s)."""

    def __init__(
        self,
        *,
        holder: RulesHolder,
        ledger: SqlLedger,
        gate_store: GateStore,
        evidence: EvidenceSink,
        index_key: bytes,
        sql: SqlPool,
        watcher: RulesWatcher | None,
        timeout_s: float = 0.2,
        settle_s: float | None = None,
        clock: Callable[[], datetime] = utc_now,
        spool: LedgerSpool | None = None,
    ) -> None:
        """``settle_s`` (default ``timeout_s``): how long a mirror rebuild waits for permits
        counted in the lost Redis to reach SQL (:mod:`compliance.mirror`). ``spool``: where DNC
        entries and consents go when the ledger cannot take them (:mod:`compliance.spool`);
        ``None``: such a write raises :class:`ivr.errors.StoreUnavailableError`."""
        self.holder = holder
        self.ledger = ledger
        self.gate_store = gate_store
        self.evidence = evidence
        self.sql = sql
        self.watcher = watcher
        self.timeout_s = timeout_s
        self.clock = clock
        self._key = index_key
        self.spool = spool
        held = (lambda _: False) if spool is None else spool.holds_dnc
        self._log_pool = SqlPool("decision-log", workers=1, max_pending=2)
        self.decisions = DecisionLog(ledger, self._log_pool, checkpoints=sql)
        self.mirror = GateMirror(
            gate_store,
            ledger,
            sql,
            timeout_s=timeout_s,
            settle_s=timeout_s if settle_s is None else settle_s,
            clock=clock,
            spooled_dnc=(lambda: []) if spool is None else spool.pending_dnc,
        )
        self.gate = Gate(
            holder=holder,
            store=gate_store,
            ledger=ledger,
            sql=sql,
            decisions=self.decisions,
            mirror=self.mirror,
            index=self.index,
            timeout_s=timeout_s,
            clock=clock,
            held_dnc=held,
        )
        if spool is not None:  # re-mirrors what it holds after each drain pass
            spool.mirror = self._remirror_dnc

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, watch: bool = True) -> None:
        """Rebuild the gate mirror from SQL if it was lost; start the rules watcher."""
        await self.mirror.ensure_synced()
        if watch and self.watcher is not None:
            self.watcher.start()

    async def close(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        await self.mirror.close()
        await self.decisions.close()
        await self.gate_store.close()
        self._log_pool.close()
        self.sql.close()

    async def flush(self) -> None:
        """Commit queued decision-log rows now."""
        await self.decisions.flush()

    async def resync(self) -> None:
        """Rebuild the gate store's DNC/DND mirror and lost day counters from SQL."""
        await self.mirror.resync()

    # --- gate ----------------------------------------------------------------------------------
    async def check_and_count(self, request: GateRequest) -> Decision:
        """The dial-time step: decide and, if allowed, count, atomically. Never raises."""
        decision = await self.gate.check_and_count(request)
        for reason in decision.reasons or ("none",):
            GATE_DECISIONS.labels(allowed=str(decision.allowed).lower(), reason=str(reason)).inc()
        return decision

    async def check_and_permit(self, request: GateRequest) -> GateAnswer:
        """The dialler's dial-time step: check-and-count and, when allowed, the
        :class:`compliance.permit.DialPermit` that ``campaigns.originate.originate_permitted``
        takes. Never raises; idempotent per attempt id."""
        return await self.gate.check_and_permit(request)

    async def dry_run(self, request: GateRequest, at: datetime | None = None) -> Decision:
        """Decide as the gate would at ``at`` (default now) without counting. Never raises."""
        return await self.gate.dry_run(request, at)

    async def _remirror_dnc(self, number_index: str) -> None:
        await self.mirror.mirror_dnc(number_index, True)

    # --- DNC -----------------------------------------------------------------------------------
    async def record_refusal(
        self,
        customer: CustomerNumber | None,
        *,
        source: str,
        reason: str,
        actor: str,
        call_id: str | None = None,
        decision: AnswerDecision | None = None,
    ) -> Refusal:
        """Invariant 6 for any caller: DNC (durable) for a number; for a caller without a usable
        number (withheld, an extension), chained evidence of the refusal and why there is no
        DNC entry. Returns once durable; raises StoreUnavailableError otherwise."""
        if customer is not None:
            entry = await self.add_dnc(
                customer, source=source, reason=reason, actor=actor, call_id=call_id,
                decision=decision,
            )  # fmt: skip
            return Refusal(dnc=entry)
        log.info("refusal on call %s from a caller without a usable number", call_id)
        await self._evidence(
            EvidenceKind.REFUSAL_UNIDENTIFIED,
            call_id,
            decision,
            source=source,
            reason=reason,
            actor=actor,
            dnc=False,
            why=NO_NUMBER,
        )
        return Refusal(dnc=None)

    async def add_dnc(
        self,
        customer: CustomerNumber,
        *,
        source: str,
        reason: str,
        actor: str,
        call_id: str | None = None,
        decision: AnswerDecision | None = None,
    ) -> DncEntry:
        """Durably add to DNC (SQL commit first), then mirror; returns once durable."""
        bidx = self.index(customer.e164)
        row = DncEntry(
            number_index=bidx, source=source, reason=reason, call_id=call_id, actor=actor,
            created_at=self.clock(),
        )  # fmt: skip
        try:
            entry, new = await self._ledger("DNC ledger", self.ledger.put_dnc, row)
        except StoreUnavailableError as exc:
            if self.spool is None:
                raise
            entry, new = await self.spool.add_dnc(row), True
            log.warning("DNC ledger unavailable (%s): %s spooled", exc, customer.masked)
        await self.mirror.mirror_dnc(bidx, True)
        if new:
            log.info("DNC added %s (%s) by %s", customer.masked, source, actor)
            await self._evidence(
                EvidenceKind.DNC_ADDED,
                call_id,
                decision,
                number_index=bidx,
                number=customer.masked,
                source=source,
                reason=reason,
                actor=actor,
            )
        return entry

    async def remove_dnc(
        self, customer: CustomerNumber, *, actor: str, actor_role: str, reason: str
    ) -> bool:
        """Remove a DNC entry: compliance officers only, with a reason; recorded as evidence."""
        if actor_role != COMPLIANCE_OFFICER:
            raise NotAuthorizedError(
                "only a compliance_officer may remove a DNC entry", code="dnc.remove_officer_only"
            )
        if not reason or not reason.strip():
            raise InvalidRequestError(
                "a DNC removal needs a written reason", code="dnc.reason_required"
            )
        bidx = self.index(customer.e164)
        removed = await self._ledger(
            "DNC ledger",
            self.ledger.remove_dnc,
            bidx,
            actor=actor,
            actor_role=actor_role,
            reason=reason.strip(),
            at=self.clock(),
        )
        await self.mirror.unmirror_dnc(bidx)
        if self.spool is not None:
            self.spool.discard(bidx)
        if removed:
            log.info("DNC removed %s by %s (%s)", customer.masked, actor, actor_role)
            await self._evidence(
                EvidenceKind.DNC_REMOVED,
                None,
                None,
                number_index=bidx,
                number=customer.masked,
                actor=actor,
                actor_role=actor_role,
                reason=reason.strip(),
            )
        return bool(removed)

    async def is_dnc(self, customer: CustomerNumber | None) -> bool:
        """Whether the number is on DNC (a caller without a number is on no list); an entry
        still in the outage spool counts."""
        if customer is None:
            return False
        if self.spool is not None and self.spool.holds_dnc(self.index(customer.e164)):
            return True
        return await self.dnc_entry(customer) is not None

    async def dnc_entry(self, customer: CustomerNumber) -> DncEntry | None:
        bidx = self.index(customer.e164)
        return await self._ledger("DNC ledger", self.ledger.dnc_entry, bidx)

    async def set_dnd(self, customer: CustomerNumber, windows: Sequence[str]) -> None:
        """Set the customer's do-not-disturb windows (callee local time); empty clears them."""
        try:
            parsed = tuple(DndWindow.parse(w) for w in windows)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from exc
        bidx = self.index(customer.e164)
        await self._ledger("DND ledger", self.ledger.set_dnd, bidx, parsed, self.clock())
        await self.mirror.mirror_dnd(bidx, parsed)
