"""The dialler: claims due attempts, gates each one at dial time, originates, records outcomes.

One :class:`Dialler` per process; any number of processes share the SQL queue and the Redis
pacing. Per tick (:data:`TICK_S`) it re-reads campaign states (so pause, resume and stop take
effect within a second), and for each running campaign claims up to what its caps let it start
(:meth:`campaigns.queue.AttemptQueue.claim`). Each claimed attempt then runs
:meth:`Dialler._attempt`:

1. the campaign is still running (paused: back to the queue; stopped: cancelled);
2. the callee-local time is inside the campaign's windows cut by the rules' window for its
   purpose and inside its dates (else back to the queue at the next opening: no gate call, no
   count);
3. a pacing slot (concurrency, CPS, bot capacity; Redis across processes); a campaign that
   hands calls to agents (pacing ``agent``) also claims no more than its adaptive dial level
   lets start (:class:`campaigns.agent_pacing.AgentPacing`; none given: it never dials);
4. the gate's check-and-count (:meth:`compliance.service.ComplianceService.check_and_permit`,
   idempotent per attempt id) re-checks DNC, DND, windows and caps at this instant; a denial
   requeues at the gate's ``retry_after``, cancels the number's attempts on DNC, waits on
   ``store_unavailable`` (fail closed), or closes the attempt;
5. ``dialling`` is committed, then :func:`campaigns.originate.originate_permitted` sends
   ``bgapi originate`` with the permit;
6. the disposition comes from the hangup cause, then from the flow's outcome in the evidence
   chain; a retry is queued at the later of the policy delay and any gate ``retry_after``; a
   refusal (or a DNC entry written during the call) cancels every queued attempt of the number.

Every few seconds it renews its leases, recovers attempts of dead diallers, cancels queued
attempts of numbers put on the DNC list anywhere, and finishes campaigns with nothing left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from campaigns.agent_pacing import AgentPacing
from campaigns.model import (
    CampaignState,
    Disposition,
    PacingMode,
    disposition_for_cause,
    disposition_for_flow,
    effective_windows,
    next_attempt_at,
    next_open,
)
from campaigns.originate import Originator, OutboundRoute, originate_permitted
from campaigns.outcomes import EvidenceOutcomes, FlowOutcome, HangupWatcher
from campaigns.pacing import Caps, Pacer
from campaigns.queue import AttemptQueue, ClaimedAttempt, contact_context
from campaigns.repository import Campaign, CampaignRepository
from compliance.decision import GateRequest, Reason
from compliance.gate import GateAnswer
from compliance.numbers import parse_number, zone_or_none
from compliance.rules import RuleSet
from ivr.errors import IvrError, StoreUnavailableError
from ivr.phone import CustomerNumber
from records.sealed_number import NumberSealer

log = logging.getLogger(__name__)

TICK_S = 0.1
STATE_POLL_S = 0.2
HOUSEKEEPING_S = 2.0
LEASE_S = 30.0
PACING_WAIT_S = 2.0
STORE_RETRY_S = 2.0
OUTCOME_WAIT_S = 5.0
MAX_CLAIM = 200
_UNANSWERED = frozenset(
    {Disposition.BUSY, Disposition.NO_ANSWER, Disposition.REJECTED, Disposition.FAILED,
     Disposition.INVALID_NUMBER}
)  # fmt: skip


class Gatekeeper(Protocol):
    """What the dialler needs of the compliance service."""

    async def check_and_permit(self, request: GateRequest) -> GateAnswer: ...

    def rules_at(self, now: datetime | None = None) -> RuleSet: ...


@dataclass(frozen=True, slots=True)
class DiallerConfig:
    endpoint: str = "sofia/gateway/carrier/{national}"
    originate_timeout_s: int = 30
    bot_capacity: int = 200
    max_call_s: float = 3600.0
    lease_s: float = LEASE_S
    worker_id: str = field(default_factory=lambda: f"dialler-{uuid.uuid4().hex[:8]}")


@dataclass
class DiallerStats:
    """What this process did (for ``ivr campaign status`` and the bench)."""

    claimed: int = 0
    originated: int = 0
    requeued: int = 0
    denied: int = 0
    finished: int = 0
    claim_to_originate_s: list[float] = field(default_factory=list)


class Dialler:
    """See the module docstring."""

    def __init__(
        self,
        *,
        campaigns: CampaignRepository,
        queue: AttemptQueue,
        gate: Gatekeeper,
        esl: Originator,
        esl_ready: Callable[[], bool],
        hangups: HangupWatcher,
        outcomes: EvidenceOutcomes,
        pacer: Pacer,
        sealer: NumberSealer,
        config: DiallerConfig,
        clock: Callable[[], datetime],
        agent_pacing: AgentPacing | None = None,
    ) -> None:
        self.campaigns = campaigns
        self.queue = queue
        self.gate = gate
        self.esl = esl
        self.esl_ready = esl_ready
        self.hangups = hangups
        self.outcomes = outcomes
        self.pacer = pacer
        self.sealer = sealer
        self.config = config
        self.clock = clock
        self.agent_pacing = agent_pacing
        self.stats = DiallerStats()
        self._states: dict[str, CampaignState] = {}
        self._running: dict[str, Campaign] = {}
        self._inflight: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._caller_ids: dict[str, itertools.cycle[str]] = {}
        self._stopping = asyncio.Event()
        self._last_claim: dict[str, float] = {}

    @property
    def worker(self) -> str:
        return self.config.worker_id

    # --- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Dial until :meth:`stop`; in-flight calls are followed to their end."""
        last_poll = last_house = -math.inf
        try:
            while not self._stopping.is_set():
                mono = time.monotonic()
                if mono - last_house >= min(HOUSEKEEPING_S, self.config.lease_s / 3):
                    await self.housekeeping()
                    last_house = mono
                if mono - last_poll >= STATE_POLL_S:
                    await self.refresh()
                    last_poll = mono
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), TICK_S)
        finally:
            await self.drain()

    def stop(self) -> None:
        self._stopping.set()

    async def drain(self) -> None:
        tasks = [t for per in self._inflight.values() for t in per.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def inflight(self, campaign_id: str | None = None) -> int:
        if campaign_id is not None:
            return len(self._inflight.get(campaign_id, {}))
        return sum(len(v) for v in self._inflight.values())

    async def refresh(self) -> None:
        """Re-read campaign states (pause/resume/stop take effect from here)."""
        try:
            self._states = await asyncio.to_thread(self.campaigns.states)
            running = [c for c, s in self._states.items() if s is CampaignState.RUNNING]
            for cid in running:
                if cid not in self._running:
                    self._running[cid] = await asyncio.to_thread(self.campaigns.get, cid)
            for cid in list(self._running):
                if cid not in running:
                    del self._running[cid]
        except Exception:
            log.exception("dialler %s: campaign states not read; not claiming", self.worker)
            self._running = {}

    async def tick(self) -> int:
        """Claim what the running campaigns may start now; returns how many were claimed."""
        if not self.esl_ready():
            return 0  # FreeSWITCH down: attempts wait in the queue
        claimed = 0
        now = self.clock()
        mono = time.monotonic()
        for camp in list(self._running.values()):
            spec = camp.spec
            room = min(spec.max_concurrency, self.config.bot_capacity) - self.inflight(camp.id)
            # what the CPS cap lets start since the last claim (at most a second's worth)
            since = min(1.0, mono - self._last_claim.get(camp.id, mono - TICK_S))
            limit = min(room, max(1, math.ceil(spec.max_cps * since)), MAX_CLAIM)
            if limit > 0 and spec.pacing is PacingMode.AGENT:
                limit = min(limit, await self._agent_room(camp, now))
            if limit <= 0:
                continue
            try:
                batch = await asyncio.to_thread(
                    self.queue.claim,
                    self.worker,
                    camp.id,
                    now=now,
                    limit=limit,
                    lease_s=self.config.lease_s,
                )
            except Exception:
                log.exception("dialler %s: claim failed (SQL); not dialling", self.worker)
                return claimed
            self._last_claim[camp.id] = mono
            started = time.monotonic()
            for att in batch:
                task = asyncio.create_task(self._attempt(att, camp, started), name=att.id)
                self._inflight.setdefault(camp.id, {})[att.id] = task
                task.add_done_callback(functools.partial(self._done, camp.id, att.id))
            claimed += len(batch)
        self.stats.claimed += claimed
        return claimed

    def _done(self, campaign_id: str, attempt_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.get(campaign_id, {}).pop(attempt_id, None)

    async def housekeeping(self) -> None:
        """Renew leases, recover dead diallers' attempts, DNC sweep, finish campaigns."""
        now = self.clock()
        try:
            ids = [a for per in self._inflight.values() for a in per]
            await asyncio.to_thread(
                self.queue.renew,
                self.worker,
                ids,
                until=now + timedelta(seconds=self.config.lease_s),
            )
            for cid, per in self._inflight.items():
                with contextlib.suppress(StoreUnavailableError):
                    await self.pacer.renew(cid, list(per), self.config.lease_s)
            requeued, unknown = await asyncio.to_thread(self.queue.recover, now=now)
            if requeued or unknown:
                log.warning(
                    "dialler %s: recovered %d claimed attempts, closed %d as unknown",
                    self.worker,
                    requeued,
                    unknown,
                )
            await asyncio.to_thread(self.queue.sweep_dnc, now=now)
            for cid in list(self._running):
                if (
                    self.inflight(cid) == 0
                    and await asyncio.to_thread(self.queue.open_work, cid) == 0
                ):
                    with contextlib.suppress(IvrError):
                        await asyncio.to_thread(self.campaigns.apply, cid, "finish", now=now)
        except Exception:
            log.exception("dialler %s: housekeeping failed; retried", self.worker)

    # --- one attempt ---------------------------------------------------------------------------
    async def _attempt(self, att: ClaimedAttempt, camp: Campaign, claimed_mono: float) -> None:
        slot = False
        try:
            slot = await self._attempt_steps(att, camp, claimed_mono)
        except Exception:
            log.exception("dialler %s: attempt %s failed; requeued", self.worker, att.id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.queue.requeue, att.id, due_at=self.clock() + timedelta(seconds=5)
                )
        finally:
            if slot:
                with contextlib.suppress(StoreUnavailableError):
                    await self.pacer.release(camp.id, att.id)

    async def _requeue(self, att: ClaimedAttempt, at: datetime, *reasons: str) -> bool:
        self.stats.requeued += 1
        await asyncio.to_thread(self.queue.requeue, att.id, due_at=at, reasons=reasons)
        return False

    async def _close(self, att: ClaimedAttempt, d: Disposition, **kw: object) -> None:
        self.stats.finished += 1
        await asyncio.to_thread(self.queue.finish, att.id, d, now=self.clock(), **kw)  # type: ignore[arg-type]

    def _zone(self, att: ClaimedAttempt, number: CustomerNumber, rules: RuleSet) -> ZoneInfo:
        zone = zone_or_none(att.timezone)
        if zone is not None:
            return zone
        parsed = parse_number(number.e164, rules.default_zone)
        return ZoneInfo(parsed.zones[0] if parsed is not None else rules.default_zone)

    def _not_running(self, camp: Campaign) -> CampaignState | None:
        state = self._states.get(camp.id, CampaignState.RUNNING)
        return None if state is CampaignState.RUNNING else state

    async def _hold_back(self, att: ClaimedAttempt, camp: Campaign) -> bool:
        """True when the attempt was put back or closed because the campaign is not running."""
        state = self._not_running(camp)
        if state is None:
            return False
        if state in (CampaignState.STOPPED, CampaignState.FINISHED):
            await self._close(att, Disposition.STOPPED, cancelled=True)
        else:
            await self._requeue(att, self.clock(), "paused")
        return True

    async def _attempt_steps(self, att: ClaimedAttempt, camp: Campaign, claimed: float) -> bool:
        """Returns whether a pacing slot is held (the caller releases it)."""
        if await self._hold_back(att, camp):
            return False
        spec = camp.spec
        now = self.clock()
        rules = self.gate.rules_at(now)
        number = self.sealer.unseal(att.sealed, contact_context(att.contact_id))  # ~50 us
        zone = self._zone(att, number, rules)
        local = now.astimezone(zone)
        if spec.end_date is not None and local.date() > spec.end_date:
            await self._close(att, Disposition.STOPPED, cancelled=True, reasons=("campaign_ended",))
            return False
        policy = rules.policy_for(spec.purpose, number.e164, None, None)
        windows = effective_windows(spec.windows, policy.window if policy else None)
        start = _local_start(spec.start_date, local)
        opens = next_open(start, windows)
        if opens is None:
            await self._close(att, Disposition.NOT_ALLOWED, reasons=("no_window",))
            return False
        if opens != local:
            return await self._requeue(att, opens.astimezone(UTC), "campaign_window")
        # pacing: concurrency, CPS, bot capacity (across processes with Redis)
        caps = Caps(spec.max_concurrency, spec.max_cps, self.config.bot_capacity)
        deadline = time.monotonic() + PACING_WAIT_S
        while True:
            try:
                grant = await self.pacer.acquire(camp.id, att.id, caps, self.config.lease_s)
            except StoreUnavailableError:
                return await self._requeue(
                    att, self.clock() + timedelta(seconds=STORE_RETRY_S), "pacing_unavailable"
                )
            if grant.ok:
                break
            if time.monotonic() + grant.wait_s > deadline:
                return await self._requeue(
                    att, self.clock() + timedelta(seconds=max(grant.wait_s, 0.5)), grant.why
                )
            await asyncio.sleep(grant.wait_s)
            if await self._hold_back(att, camp):
                return False
        if await self._hold_back(att, camp):
            return True
        if not self.esl_ready():
            await self._requeue(att, self.clock() + timedelta(seconds=1), "esl_down")
            return True
        answer = await self.gate.check_and_permit(
            GateRequest(
                number.e164, spec.purpose, att.id, campaign=camp.name, profile_tz=att.timezone
            )
        )
        permit = answer.permit
        if permit is None:
            await self._denied(att, answer)
            return True
        caller_id = self._caller_id(camp)
        route = OutboundRoute(
            self.config.endpoint,
            spec.flow_id,
            caller_id,
            originate_timeout_s=self.config.originate_timeout_s,
        )
        ok = await asyncio.to_thread(
            self.queue.mark_dialling, att.id, self.worker, caller_id=caller_id,
            now=self.clock(), lease_s=self.config.lease_s,
        )  # fmt: skip
        if not ok:
            log.warning("dialler %s: lost the claim on %s; not dialled", self.worker, att.id)
            return True
        hangup = self.hangups.expect(att.id)
        self.stats.claim_to_originate_s.append(time.monotonic() - claimed)
        self.stats.originated += 1
        try:
            result = await originate_permitted(self.esl, permit, route, now=self.clock())
        except IvrError as exc:
            self.hangups.forget(att.id)
            log.warning("dialler %s: originate of %s failed (%s)", self.worker, att.id, exc)
            await self._ended(att, camp, Disposition.FAILED, "ESL_ERROR")
            return True
        if not result.ok:
            self.hangups.forget(att.id)
            await self._ended(
                att, camp, disposition_for_cause(result.cause, answered=False), result.cause
            )
            return True
        if self.agent_pacing is not None:
            self.agent_pacing.answered(camp.id, att.id)
        try:
            cause = await asyncio.wait_for(hangup, self.config.max_call_s)
        except TimeoutError:
            cause = "MAX_CALL_TIME"
        finally:
            self.hangups.forget(att.id)
        outcome = await self._flow_outcome(att.id)
        disposition = (
            disposition_for_flow(outcome.ended_reason, consent_granted=outcome.consent_granted)
            if outcome is not None
            else Disposition.ANSWERED
        )
        if outcome is not None and outcome.dnc_added:
            disposition = Disposition.REFUSED
        await self._ended(att, camp, disposition, cause)
        return True

    async def _flow_outcome(self, call_id: str) -> FlowOutcome | None:
        deadline = time.monotonic() + OUTCOME_WAIT_S
        while True:
            outcome = await asyncio.to_thread(self.outcomes.read, call_id)
            if outcome is not None or time.monotonic() > deadline:
                return outcome
            await asyncio.sleep(0.1)

    async def _denied(self, att: ClaimedAttempt, answer: GateAnswer) -> None:
        d = answer.decision
        self.stats.denied += 1
        reasons = tuple(r.value for r in d.reasons)
        if Reason.DNC in d.reasons:
            await self._close(att, Disposition.DNC, cancelled=True, reasons=reasons)
            await asyncio.to_thread(
                self.queue.cancel_number, att.number_bi, Disposition.DNC, now=self.clock()
            )
        elif Reason.STORE_UNAVAILABLE in d.reasons:
            await self._requeue(att, self.clock() + timedelta(seconds=STORE_RETRY_S), *reasons)
        elif d.retry_after is not None:
            await self._requeue(att, d.retry_after, *reasons)
        elif Reason.INVALID_NUMBER in d.reasons:
            await self._close(att, Disposition.INVALID_NUMBER, reasons=reasons)
        else:
            await self._close(att, Disposition.NOT_ALLOWED, reasons=reasons)

    async def _ended(
        self, att: ClaimedAttempt, camp: Campaign, disposition: Disposition, cause: str | None
    ) -> None:
        now = self.clock()
        spec = camp.spec
        retry_at = next_attempt_at(
            spec.retry,
            disposition,
            previous=(*att.previous, disposition),
            attempts_made=att.attempt_no,
            max_attempts=spec.max_attempts,
            ended_at=now,
        )
        await self._close(att, disposition, cause=cause, retry_at=retry_at)
        if self.agent_pacing is not None and spec.pacing is PacingMode.AGENT:
            self.agent_pacing.ended(
                camp.id, att.id, answered=disposition not in _UNANSWERED,
                abandoned=disposition is Disposition.ABANDONED, now=now,
            )  # fmt: skip
        if disposition in (Disposition.REFUSED, Disposition.DNC):
            await asyncio.to_thread(
                self.queue.cancel_number, att.number_bi, Disposition.DNC, now=now
            )

    async def _agent_room(self, camp: Campaign, now: datetime) -> int:
        if self.agent_pacing is None:
            log.warning("dialler %s: campaign %s paces by agents; no agent pacing", self.worker,
                        camp.id)  # fmt: skip
            return 0
        return await self.agent_pacing.room(
            camp.id, camp.spec.abandon_target, self.inflight(camp.id), now
        )

    def _caller_id(self, camp: Campaign) -> str:
        pool = self._caller_ids.get(camp.id)
        if pool is None:
            pool = self._caller_ids[camp.id] = itertools.cycle(camp.spec.caller_ids)
        return next(pool)


def _local_start(start_date: date | None, local: datetime) -> datetime:
    """``local``, or the start of ``start_date`` in the same zone when that is later."""
    if start_date is None or local.date() >= start_date:
        return local
    return datetime.combine(start_date, datetime.min.time(), tzinfo=local.tzinfo)
