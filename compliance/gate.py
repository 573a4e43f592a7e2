"""The dial-time gate: check and count in one atomic step, durable before the permit; fails closed.

``await gate.check_and_count(request)`` never raises. It runs the pure part first
(:func:`compliance.decision.context_for`: number, purpose policy, zones, call window), asks the
stores for the facts within one deadline of ``timeout_s`` (consent on file for ``before_dial``
purposes; the gate store's atomic check-and-count of DNC, DND and the daily cap), decides with
the pure :func:`compliance.decision.decide`, and when the attempt was counted and allowed makes
it durable in SQL (the decision log's group commit) before returning the permit, unless the
store's count already is (the SQL gate store). Any store error, an unsynced mirror or the
deadline passing denies with ``store_unavailable`` (invariant 2); a permit whose durable write
failed is denied and logged as such (a count the store took for it stays taken: the safe side).
``dry_run`` decides the same way without counting. ``check_and_permit`` is the dialler's form:
the same check-and-count, and with an allowed decision the one
:class:`~compliance.permit.DialPermit` that the originate API takes (invariant 1 by type).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from compliance.decision import (
    Decision,
    Facts,
    GateContext,
    GateRequest,
    Reason,
    context_for,
    decide,
)
from compliance.decision_log import DecisionLog
from compliance.guard import SqlPool, guarded
from compliance.mirror import GateMirror
from compliance.numbers import parse_number
from compliance.permit import DialPermit, _issue
from compliance.ports import GateQuery, GateStore, StoreFacts, StoreUnsyncedError
from compliance.reload import RulesHolder
from compliance.rules import ConsentMode
from compliance.sql import SqlLedger
from ivr.errors import StoreUnavailableError
from ivr.phone import CustomerNumber

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """The gate's decision and, when it allowed and counted the attempt, its permit."""

    decision: Decision
    permit: DialPermit | None


class Gate:
    """Check-and-count at dial time (see the module docstring)."""

    def __init__(
        self,
        *,
        holder: RulesHolder,
        store: GateStore,
        ledger: SqlLedger,
        sql: SqlPool,
        decisions: DecisionLog,
        mirror: GateMirror,
        index: Callable[[str], str],
        timeout_s: float,
        clock: Callable[[], datetime],
        held_dnc: Callable[[str], bool] = lambda _: False,
    ) -> None:
        """``held_dnc``: whether a DNC entry for a blind index waits in this process's outage
        spool (:mod:`compliance.spool`): the number is treated as on DNC."""
        self.held_dnc = held_dnc
        self.holder = holder
        self.store = store
        self.ledger = ledger
        self.sql = sql
        self.decisions = decisions
        self.mirror = mirror
        self.index = index
        self.timeout_s = timeout_s
        self.clock = clock

    async def check_and_count(self, request: GateRequest) -> Decision:
        """The dial-time step: decide and, if allowed, count, atomically. Never raises."""
        return await self._safe(request, self.clock(), count=True)

    async def check_and_permit(self, request: GateRequest) -> GateAnswer:
        """:meth:`check_and_count`, plus the dial permit when allowed. Never raises. Idempotent
        per attempt id: asking again for the same attempt is not counted again (and sees a DNC
        entry added since)."""
        now = self.clock()
        d = await self._safe(request, now, count=True)
        if not (d.allowed and d.counted):
            return GateAnswer(d, None)
        try:
            number = parse_number(request.number, self.holder.at(now).default_zone)
        except Exception:  # noqa: BLE001 - never raises: an unreadable number gets no permit
            number = None
        if number is None:
            return GateAnswer(replace(d, allowed=False), None)
        return GateAnswer(d, _issue(d, CustomerNumber(number.e164), now))

    async def dry_run(self, request: GateRequest, at: datetime | None = None) -> Decision:
        """Decide as the gate would at ``at`` (default now) without counting. Never raises."""
        return await self._safe(request, at or self.clock(), count=False)

    async def _safe(self, request: GateRequest, now: datetime, *, count: bool) -> Decision:
        try:
            return await self._decide(request, now, count=count)
        except Exception:
            log.exception("gate failed for attempt %s", request.attempt_id)
            return self._store_unavailable(request, now, count=count)

    def _store_unavailable(self, request: GateRequest, now: datetime, *, count: bool) -> Decision:
        try:
            version = self.holder.at(now).version
        except Exception:  # noqa: BLE001
            version = "unknown"
        return Decision(
            allowed=False,
            reasons=(Reason.STORE_UNAVAILABLE,),
            rules_version=version,
            purpose=request.purpose,
            attempt_id=request.attempt_id,
            campaign=request.campaign,
            dry_run=not count,
        )

    async def _decide(self, request: GateRequest, now: datetime, *, count: bool) -> Decision:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s

        def left() -> float:
            return deadline - loop.time()

        if self.decisions.backlog >= self.decisions.max_backlog:
            # the decision log cannot take more: deny rather than dial unlogged (fail closed)
            raise StoreUnavailableError("decision log backlog full")
        rules = self.holder.at(now)
        ctx = context_for(request, rules, now)
        if ctx is None:  # invalid number or unknown purpose: no store needed
            d = replace(decide(request, Facts(), rules, now), dry_run=not count)
            self.decisions.record(self.decisions.row(d, None, now))
            return d
        bidx = self.index(ctx.number.e164)
        consent_ok, seen = await self._facts(request, ctx, bidx, now, count=count, left=left)
        if seen is None:
            facts = Facts(store_ok=False, consent_on_file=consent_ok)
        else:
            facts = Facts(
                dnc=seen.dnc or self.held_dnc(bidx),
                dnd_windows=seen.dnd_windows,
                count_today=seen.count_before,
                consent_on_file=consent_ok,
            )
        d = decide(request, facts, rules, now, ctx)
        if not count:
            d = replace(d, dry_run=True)
            self.decisions.record(self.decisions.row(d, bidx, now))
            return d
        counted = seen is not None and seen.counted
        if d.allowed and not counted:
            log.error("gate/store disagreement for attempt %s: denied", request.attempt_id)
            d = replace(d, reasons=(Reason.STORE_UNAVAILABLE,))
        d = replace(d, allowed=d.allowed and counted, counted=counted)
        if not (d.allowed and not self.store.counts_durably):
            self.decisions.record(self.decisions.row(d, bidx, now))
            return d
        try:  # invariant 9: the count is durable in SQL before the permit is returned
            await guarded(self.decisions.record_durable(self.decisions.row(d, bidx, now)),
                          "decision log", left())  # fmt: skip
        except StoreUnavailableError as exc:
            log.warning("attempt %s denied: its count is not durable (%s)", request.attempt_id, exc)
            d = replace(d, allowed=False, reasons=(Reason.STORE_UNAVAILABLE,))
            self.decisions.record(self.decisions.row(d, bidx, now))
        return d

    async def _facts(
        self,
        request: GateRequest,
        ctx: GateContext,
        bidx: str,
        now: datetime,
        *,
        count: bool,
        left: Callable[[], float],
    ) -> tuple[bool, StoreFacts | None]:
        """(consent on file, what the gate store saw) within the deadline; ``None`` facts when
        a store did not answer (the decision then denies with ``store_unavailable``)."""
        if self.mirror.dirty:
            self.mirror.schedule_resync()
            return False, None
        consent_ok = False
        if ctx.policy.consent is ConsentMode.BEFORE_DIAL:
            try:
                consent_ok = await self.sql.call(
                    "consent ledger",
                    left(),
                    self.ledger.has_valid_consent,
                    bidx,
                    request.purpose,
                    now,
                )
            except StoreUnavailableError:
                return False, None
        may_count = ctx.window_ok and (
            ctx.policy.consent is not ConsentMode.BEFORE_DIAL or consent_ok
        )
        day = ctx.local_date.isoformat()
        minute = int(ctx.seconds_of_day(now) // 60)
        try:
            if count:
                query = GateQuery(
                    bidx, day, minute, ctx.policy.daily_cap, request.attempt_id, may_count
                )
                return consent_ok, await guarded(
                    self.store.check_and_count(query), "gate store", left()
                )
            return consent_ok, await guarded(
                self.store.peek(bidx, day, minute), "gate store", left()
            )
        except StoreUnsyncedError:
            self.mirror.schedule_resync()
        except StoreUnavailableError as exc:
            log.warning("gate store unavailable (%s) for attempt %s", exc, request.attempt_id)
        return consent_ok, None
