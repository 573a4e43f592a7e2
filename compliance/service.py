"""The compliance service: the Python API the actions server, the flows and the dialler call.

Build it once with :func:`build_service` (from :class:`ivr.settings.Settings`), ``await
service.start()``, and ``await service.close()`` at shutdown::

    svc = build_service(settings, engine=engine, evidence=SqlEvidenceLog(engine))
    await svc.start()                      # Redis DNC mirror rebuilt from SQL if needed, watcher on
    d = await svc.check_and_count(GateRequest(number, "marketing", attempt_id, campaign="c1"))
    if d.allowed: originate(...)            # d.consent_mode == IN_CALL: ask consent first in call
    else: requeue_at(d.retry_after)         # None: do not retry (dnc, no_consent, ...)

Gate (never raises; every store error or timeout denies with ``store_unavailable``):
    ``async check_and_count(request) -> Decision`` dial-time atomic check + count, idempotent
    per ``attempt_id``; ``async dry_run(request, at=None) -> Decision`` decides without counting.
DNC (permanent; SQL first, then mirrored to the gate store):
    ``async add_dnc(number, *, source, reason, actor, call_id=None) -> DncEntry``;
    ``async remove_dnc(number, *, actor, actor_role, reason) -> bool`` (role
    ``compliance_officer`` only, reason required, recorded as evidence);
    ``async is_dnc(number) -> bool``; ``async dnc_entry(number) -> DncEntry | None``.
DND: ``async set_dnd(number, windows: Sequence[str])`` (``"12:00-13:30"``; empty clears).
Consent ledger:
    ``async grant_consent(number, *, purpose, scope, channel, call_id=None,
    recording_offset_ms=None, transcript_excerpt=None, at=None) -> ConsentRecord``;
    ``async has_valid_consent(number, purpose, at=None) -> bool``;
    ``async list_consents(number) -> list[ConsentRecord]``;
    ``async revoke_consent(number, purpose, *, actor, channel, reason) -> int``.
Rules: ``service.rules_at(now)``, ``service.watcher`` (hot reload), ``service.holder``.

Non-gate methods raise :class:`InvalidRequestError` (bad number or argument),
:class:`ivr.errors.NotAuthorizedError` or :class:`ivr.errors.StoreUnavailableError`.
Numbers are turned into blind indexes at once; logs carry masked numbers only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa

from compliance.decision import (
    Decision,
    DndWindow,
    Facts,
    GateRequest,
    Reason,
    context_for,
    decide,
)
from compliance.numbers import Number, parse_number
from compliance.ports import ConsentRecord, DncEntry, GateQuery, GateStore, StoreFacts
from compliance.redis_store import RedisGateStore, RedisUnsyncedError
from compliance.reload import RulesHolder, RulesWatcher, load_rules_file
from compliance.rules import ConsentMode, RuleSet
from compliance.sql import DecisionRow, EncodedDecision, SqlGateStore, SqlLedger
from compliance.watch_status import board_for
from ivr.crypto import blind_index, sm3
from ivr.errors import IvrError, NotAuthorizedError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPLIANCE_OFFICER = "compliance_officer"
DEFAULT_CONSENT_DAYS = 365
_MAX_PENDING_LOG = 200_000
_SPOKEN_DIGITS = re.compile(r"[0-9０-９零〇一二三四五六七八九幺两]{5,}")


class InvalidRequestError(IvrError):
    """A compliance API call had an invalid number or argument."""


def mask_transcript(text: str | None) -> str | None:
    """Mask digit runs (Arabic or spoken Chinese) so excerpts never hold a number in clear."""
    if text is None:
        return None
    return _SPOKEN_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)[:500]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ComplianceService:
    """Gate, DNC, DND and consent behind one async API (see the module docstring)."""

    def __init__(
        self,
        *,
        holder: RulesHolder,
        ledger: SqlLedger,
        gate: GateStore,
        evidence: EvidenceSink,
        index_key: bytes,
        timeout_s: float = 0.2,
        clock: Callable[[], datetime] = utc_now,
        watcher: RulesWatcher | None = None,
    ) -> None:
        self.holder = holder
        self.ledger = ledger
        self.gate = gate
        self.evidence = evidence
        self.timeout_s = timeout_s
        self.clock = clock
        self.watcher = watcher
        self._key = index_key
        self._pending: list[EncodedDecision] = []
        self._writer: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._mirror_dirty = False

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, watch: bool = True) -> None:
        """Rebuild the Redis mirror from SQL if it was lost; start the log writer and watcher."""
        if isinstance(self.gate, RedisGateStore):
            try:
                if not await self.gate.is_synced():
                    await self.resync()
            except StoreUnavailableError:
                log.warning("redis unavailable at start; the gate fails closed until it is back")
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        if watch and self.watcher is not None:
            self.watcher.start()

    async def close(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        for task in (self._writer, self._resync_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._writer = self._resync_task = None
        await self.flush()
        await self.gate.close()

    async def flush(self) -> None:
        """Write pending decision-log rows now."""
        batch, self._pending = self._pending, []
        if batch:
            try:
                await asyncio.to_thread(self.ledger.log_encoded_decisions, batch)
            except Exception:
                log.exception("decision log write failed; %d rows kept", len(batch))
                self._pending[:0] = batch

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            await self.flush()

    async def resync(self) -> None:
        """Rebuild the Redis DNC/DND mirror (and lost day counters) from the SQL ledger."""
        if not isinstance(self.gate, RedisGateStore):
            self._mirror_dirty = False
            return
        since = (self.clock() - timedelta(days=2)).date().isoformat()
        dnc_rows = await asyncio.to_thread(self.ledger.all_dnc)
        dnd_rows = await asyncio.to_thread(self.ledger.all_dnd)
        counted = await asyncio.to_thread(self.ledger.counted_since, since)
        await self.gate.resync(dnc_rows, dnd_rows, counted)
        self._mirror_dirty = False
        log.info("redis mirror rebuilt from SQL: %d DNC, %d DND", len(dnc_rows), len(dnd_rows))

    def _schedule_resync(self) -> None:
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.get_running_loop().create_task(self._resync_quietly())

    async def _resync_quietly(self) -> None:
        try:
            await self.resync()
        except Exception:  # noqa: BLE001 - retried on the next gate call
            log.warning("redis mirror resync failed; will retry")

    # --- helpers -----------------------------------------------------------------------------
    def rules_at(self, now: datetime | None = None) -> RuleSet:
        return self.holder.at(now or self.clock())

    def index(self, e164: str) -> str:
        return blind_index(self._key, e164)

    def _number(self, raw: str) -> Number:
        num = parse_number(raw, self.holder.latest.rules.default_zone)
        if num is None:
            raise InvalidRequestError("invalid phone number")
        return num

    async def _bounded(self, aw: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout_s):  # no extra task per call (hot path)
                return await aw
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"store: {type(exc).__name__}") from exc

    async def _evidence(self, kind: EvidenceKind, call_id: str | None, **payload: object) -> None:
        await self.evidence.append(kind, call_id=call_id, payload=payload)

    # --- gate ----------------------------------------------------------------------------------
    async def check_and_count(self, request: GateRequest) -> Decision:
        """The dial-time step: decide and, if allowed, count, atomically. Never raises."""
        return await self._safe_gate(request, self.clock(), count=True)

    async def dry_run(self, request: GateRequest, at: datetime | None = None) -> Decision:
        """Decide as the gate would at ``at`` (default now) without counting. Never raises."""
        return await self._safe_gate(request, at or self.clock(), count=False)

    async def _safe_gate(self, request: GateRequest, now: datetime, *, count: bool) -> Decision:
        try:
            if len(self._pending) >= _MAX_PENDING_LOG:
                # the decision log cannot take more: deny rather than dial unlogged (fail closed)
                raise StoreUnavailableError("decision log backlog full")
            return await self._gate(request, now, count=count)
        except Exception:
            log.exception("gate failed for attempt %s", request.attempt_id)
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

    async def _gate(self, request: GateRequest, now: datetime, *, count: bool) -> Decision:
        rules = self.holder.at(now)
        ctx = context_for(request, rules, now)
        if ctx is None:  # invalid number or unknown purpose: no store needed
            d = replace(decide(request, Facts(), rules, now), dry_run=not count)
            self._log(d, None, now)
            return d
        bidx = self.index(ctx.number.e164)
        minute = int(ctx.seconds_of_day(now) // 60)
        store_ok = not self._mirror_dirty
        consent_ok = False
        if store_ok and ctx.policy.consent is ConsentMode.BEFORE_DIAL:
            try:
                consent_ok = await self._bounded(
                    asyncio.to_thread(self.ledger.has_valid_consent, bidx, request.purpose, now)
                )
            except StoreUnavailableError:
                store_ok = False
        facts_seen: StoreFacts | None = None
        if store_ok:
            may_count = ctx.window_ok and (
                ctx.policy.consent is not ConsentMode.BEFORE_DIAL or consent_ok
            )
            day = ctx.local_date.isoformat()
            try:
                if count:
                    query = GateQuery(
                        bidx, day, minute, ctx.policy.daily_cap, request.attempt_id, may_count
                    )
                    facts_seen = await self._bounded(self.gate.check_and_count(query))
                else:
                    facts_seen = await self._bounded(self.gate.peek(bidx, day, minute))
            except RedisUnsyncedError:
                self._schedule_resync()
            except StoreUnavailableError as exc:
                log.warning("gate store unavailable (%s) for attempt %s", exc, request.attempt_id)
        elif self._mirror_dirty:
            self._schedule_resync()
        if facts_seen is None:
            facts = Facts(store_ok=False, consent_on_file=consent_ok)
        else:
            facts = Facts(
                dnc=facts_seen.dnc,
                dnd_windows=facts_seen.dnd_windows,
                count_today=facts_seen.count_before,
                consent_on_file=consent_ok,
            )
        d = decide(request, facts, rules, now, ctx)
        counted = facts_seen.counted if (facts_seen is not None and count) else False
        if count:
            if d.allowed and not counted:
                log.error("gate/store disagreement for attempt %s: denied", request.attempt_id)
                d = replace(d, reasons=(Reason.STORE_UNAVAILABLE,))
            d = replace(d, allowed=d.allowed and counted, counted=counted)
        else:
            d = replace(d, dry_run=True)
        self._log(d, bidx, now)
        return d

    def _log(self, d: Decision, bidx: str | None, now: datetime) -> None:
        self._pending.append(
            self.ledger.encode_decision(
                DecisionRow(
                    attempt_id=d.attempt_id,
                    number_index=bidx,
                    purpose=d.purpose,
                    campaign=d.campaign,
                    allowed=d.allowed,
                    reasons=",".join(r.value for r in d.reasons),
                    rules_version=d.rules_version,
                    decided_at=now.astimezone(UTC),
                    local_date=d.local_date.isoformat() if d.local_date else None,
                    counted=d.counted,
                    dry_run=d.dry_run,
                )
            )
        )

    # --- DNC -----------------------------------------------------------------------------------
    async def add_dnc(
        self, number: str, *, source: str, reason: str, actor: str, call_id: str | None = None
    ) -> DncEntry:
        """Durably add to DNC (SQL commit first), then mirror; returns once durable."""
        num = self._number(number)
        bidx = self.index(num.e164)
        now = self.clock()
        try:
            entry, new = await asyncio.to_thread(
                self.ledger.add_dnc,
                bidx,
                source=source,
                reason=reason,
                actor=actor,
                call_id=call_id,
                at=now,
            )
        except Exception as exc:
            raise StoreUnavailableError(f"DNC ledger: {type(exc).__name__}") from exc
        await self._mirror(self.gate.mirror_dnc(bidx, True))
        if new:
            log.info("DNC added %s (%s) by %s", num.masked, source, actor)
            await self._evidence(
                EvidenceKind.DNC_ADDED,
                call_id,
                number_index=bidx,
                number=num.masked,
                source=source,
                reason=reason,
                actor=actor,
            )
        return entry

    async def _mirror(self, aw: Awaitable[None]) -> None:
        try:
            await self._bounded(aw)
        except StoreUnavailableError:
            # The ledger has it; until the mirror is rebuilt this process (and, if the sentinel
            # can be deleted, every node) fails closed.
            self._mirror_dirty = True
            if isinstance(self.gate, RedisGateStore):
                with contextlib.suppress(StoreUnavailableError):
                    await self._bounded(self.gate.unsync())
            log.warning("gate mirror write failed; gate fails closed until resync")

    async def remove_dnc(self, number: str, *, actor: str, actor_role: str, reason: str) -> bool:
        """Remove a DNC entry: compliance officers only, with a reason; recorded as evidence."""
        if actor_role != COMPLIANCE_OFFICER:
            raise NotAuthorizedError("only a compliance_officer may remove a DNC entry")
        if not reason or not reason.strip():
            raise InvalidRequestError("a DNC removal needs a written reason")
        num = self._number(number)
        bidx = self.index(num.e164)
        try:
            removed = await asyncio.to_thread(
                self.ledger.remove_dnc,
                bidx,
                actor=actor,
                actor_role=actor_role,
                reason=reason.strip(),
                at=self.clock(),
            )
        except Exception as exc:
            raise StoreUnavailableError(f"DNC ledger: {type(exc).__name__}") from exc
        try:
            await self._bounded(self.gate.mirror_dnc(bidx, False))
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(
                "removal recorded, but the gate still blocks the number: retry the removal"
            ) from exc
        if removed:
            log.info("DNC removed %s by %s (%s)", num.masked, actor, actor_role)
            await self._evidence(
                EvidenceKind.DNC_REMOVED,
                None,
                number_index=bidx,
                number=num.masked,
                actor=actor,
                actor_role=actor_role,
                reason=reason.strip(),
            )
        return removed

    async def is_dnc(self, number: str) -> bool:
        return await self.dnc_entry(number) is not None

    async def dnc_entry(self, number: str) -> DncEntry | None:
        bidx = self.index(self._number(number).e164)
        try:
            return await asyncio.to_thread(self.ledger.dnc_entry, bidx)
        except Exception as exc:
            raise StoreUnavailableError(f"DNC ledger: {type(exc).__name__}") from exc

    async def set_dnd(self, number: str, windows: Sequence[str]) -> None:
        """Set the customer's do-not-disturb windows (callee local time); empty clears them."""
        try:
            parsed = tuple(DndWindow.parse(w) for w in windows)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from exc
        bidx = self.index(self._number(number).e164)
        try:
            await asyncio.to_thread(self.ledger.set_dnd, bidx, parsed, self.clock())
        except Exception as exc:
            raise StoreUnavailableError(f"DND ledger: {type(exc).__name__}") from exc
        await self._mirror(self.gate.mirror_dnd(bidx, parsed))

    # --- consent -----------------------------------------------------------------------------
    async def grant_consent(
        self,
        number: str,
        *,
        purpose: str,
        scope: str,
        channel: str,
        call_id: str | None = None,
        recording_offset_ms: int | None = None,
        transcript_excerpt: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord:
        """Record an explicit consent with its evidence; validity from the rules."""
        now = at or self.clock()
        policy = self.holder.at(now).purposes.get(purpose)
        if policy is None:
            raise InvalidRequestError(f"unknown purpose {purpose!r}")
        if not scope or not channel:
            raise InvalidRequestError("consent needs a scope and a channel")
        days = policy.consent_valid_days or DEFAULT_CONSENT_DAYS
        num = self._number(number)
        bidx = self.index(num.e164)
        excerpt = mask_transcript(transcript_excerpt)
        try:
            rec = await asyncio.to_thread(
                self.ledger.grant_consent,
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
        except Exception as exc:
            raise StoreUnavailableError(f"consent ledger: {type(exc).__name__}") from exc
        await self._evidence(
            EvidenceKind.CONSENT_GRANTED,
            call_id,
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
        self, number: str, purpose: str, at: datetime | None = None
    ) -> bool:
        bidx = self.index(self._number(number).e164)
        try:
            return await asyncio.to_thread(
                self.ledger.has_valid_consent, bidx, purpose, at or self.clock()
            )
        except Exception as exc:
            raise StoreUnavailableError(f"consent ledger: {type(exc).__name__}") from exc

    async def list_consents(self, number: str) -> list[ConsentRecord]:
        bidx = self.index(self._number(number).e164)
        try:
            return await asyncio.to_thread(self.ledger.list_consents, bidx)
        except Exception as exc:
            raise StoreUnavailableError(f"consent ledger: {type(exc).__name__}") from exc

    async def revoke_consent(
        self, number: str, purpose: str, *, actor: str, channel: str, reason: str
    ) -> int:
        """Revoke every live consent for ``purpose``; the revocation itself is recorded."""
        bidx = self.index(self._number(number).e164)
        try:
            ids = await asyncio.to_thread(
                self.ledger.revoke_consent,
                bidx,
                purpose,
                actor=actor,
                channel=channel,
                reason=reason,
                at=self.clock(),
            )
        except Exception as exc:
            raise StoreUnavailableError(f"consent ledger: {type(exc).__name__}") from exc
        await self._evidence(
            EvidenceKind.CONSENT_REVOKED,
            None,
            number_index=bidx,
            purpose=purpose,
            consent_ids=ids,
            actor=actor,
            channel=channel,
            reason=reason,
        )
        return len(ids)


def build_service(
    settings: Settings,
    *,
    engine: sa.Engine,
    evidence: EvidenceSink,
    clock: Callable[[], datetime] = utc_now,
    migrate_db: bool = True,
) -> ComplianceService:
    """The one factory: SQL ledger on ``engine`` (migrated unless ``migrate_db`` is false),
    Redis gate store if ``redis_url`` else SQL.

    ``evidence`` is the hash-chained evidence log (``records.evidence_store.SqlEvidenceLog``)
    the composition root built: every DNC and consent change is chained evidence (inv3).
    """
    from ivr.db import migrate

    if migrate_db:
        migrate(settings.sqlalchemy_url)
    loaded = load_rules_file(settings.rules_path)
    holder = RulesHolder(loaded)
    timeout_s = settings.gate_timeout_ms / 1000
    gate: GateStore
    if settings.redis_url:
        gate = RedisGateStore(
            settings.redis_url, f"{settings.redis_key_prefix}:compliance", timeout_s
        )
    else:
        gate = SqlGateStore(engine)
    return ComplianceService(
        holder=holder,
        ledger=SqlLedger(engine),
        gate=gate,
        evidence=evidence,
        index_key=settings.key_bytes("blind_index"),
        timeout_s=timeout_s,
        clock=clock,
        watcher=RulesWatcher(
            settings.rules_path,
            holder,
            evidence,
            settings.rules_poll_s,
            status=board_for(settings.data_dir),
        ),
    )
