"""One claimed attempt, from the claim to its outcome: windows, pacing, gate permit, originate.

:meth:`AttemptRunner.run` takes an attempt the claim loop (:mod:`campaigns.dialler`) holds:

1. the campaign is still running (paused: back to the queue; stopped: cancelled);
2. the callee-local time is inside the campaign's windows cut by the rules' window for its
   purpose and inside its dates (else back to the queue at the next opening: no gate call, no
   count);
3. a pacing slot (concurrency, CPS, bot capacity; Redis across processes);
4. the gate's check-and-count (:meth:`compliance.service.ComplianceService.check_and_permit`,
   idempotent per attempt id) re-checks DNC, DND, windows and caps at this instant; a denial
   goes to :meth:`campaigns.recorder.OutcomeRecorder.denied`;
5. ``dialling`` is committed, then :func:`campaigns.originate.originate_permitted` sends
   ``bgapi originate`` with the permit (a permit that expired while ``dialling`` committed is
   asked for again, for the same attempt: never dialled stale, never lost);
6. the disposition comes from the hangup cause, then from the flow's outcome in the evidence
   chain (:class:`campaigns.outcomes.OutcomePoller`);
   :meth:`campaigns.recorder.OutcomeRecorder.ended` closes it (retry, refusal).

An originate whose result was lost (the ESL connection dropped while ``bgapi originate`` was
pending, or its ``BACKGROUND_JOB`` never came) is not a failure: the switch may be ringing or
have answered the leg. The attempt stays open (``dialling``: the number stays busy, no retry
can dial it beside a live leg) and :meth:`campaigns.outcomes.HangupWatcher.pending` asks the
switch (``uuid_exists <origination_uuid>``, after the reconnect): a leg it has is followed to
its hangup like any other (disposition from its cause, then its flow's outcome); one it does
not have closes as ``failed`` with cause ``ORIGINATE_LOST``, retried per the campaign's policy
(unless its flow's outcome is in the evidence: it ran and ended while the connection was down).
Retrying is the right call for the compliance counts: the gate already counted this attempt at
its permit (the cap is on attempts, so a retry is counted again and the daily cap holds), and
the call was never proven to reach the customer, so it is not an answered contact; a number
dialled twice at once is what must never happen, and the leg is known gone before the retry.
If the switch cannot be asked within :attr:`DiallerConfig.lost_originate_wait_s`, the attempt
is left open, never closed or retried here: its lease lapses and recovery
(:meth:`campaigns.queue.AttemptQueue.recover`) closes it ``unknown``, never dialled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.agent_pacing import AgentPacing
from campaigns.dialler_config import (
    OUTCOME_WAIT_S,
    PACING_WAIT_S,
    STORE_RETRY_S,
    DiallerConfig,
    DiallerStats,
    Gatekeeper,
)
from campaigns.model import (
    CampaignState,
    Disposition,
    PacingMode,
    disposition_for_cause,
    disposition_for_flow,
    effective_windows,
    next_open,
)
from campaigns.originate import Originator, OutboundRoute, originate_permitted
from campaigns.outcomes import (
    MISSED_HANGUP_CAUSE,
    ORIGINATE_LOST_CAUSE,
    HangupWatcher,
    OutcomePoller,
)
from campaigns.pacing import Caps, Pacer
from campaigns.queue import ClaimedAttempt, contact_context
from campaigns.recorder import OutcomeRecorder
from campaigns.repository import Campaign
from campaigns.writes import GroupWriter, MarkDialling, Requeue
from compliance.decision import GateRequest
from compliance.numbers import parse_number, zone_or_none
from compliance.rules import RuleSet
from ivr.errors import IvrError, StoreUnavailableError
from ivr.phone import CustomerNumber
from records.sealed_number import NumberSealer
from telephony.errors import ConnectionDroppedError

log = logging.getLogger(__name__)
LOST_OUTCOME_WAIT_S = 0.5
"""How long a lost originate with no leg looks for its flow's outcome (already written if any)."""


class AttemptRunner:
    """Runs claimed attempts (see the module docstring); ``state_of`` is the claim loop's view
    of campaign states, re-read every :data:`campaigns.dialler_config.STATE_POLL_S`."""

    def __init__(
        self,
        *,
        writer: GroupWriter,
        gate: Gatekeeper,
        esl: Originator,
        esl_ready: Callable[[], bool],
        hangups: HangupWatcher,
        outcomes: OutcomePoller,
        pacer: Pacer,
        sealer: NumberSealer,
        recorder: OutcomeRecorder,
        config: DiallerConfig,
        stats: DiallerStats,
        state_of: Callable[[str], CampaignState],
        clock: Callable[[], datetime],
        agent_pacing: AgentPacing | None = None,
    ) -> None:
        self.writer = writer
        self.gate = gate
        self.esl = esl
        self.esl_ready = esl_ready
        self.hangups = hangups
        self.outcomes = outcomes
        self.pacer = pacer
        self.sealer = sealer
        self.recorder = recorder
        self.config = config
        self.stats = stats
        self.state_of = state_of
        self.clock = clock
        self.agent_pacing = agent_pacing
        self._caller_ids: dict[str, itertools.cycle[str]] = {}
        self._unpaced: dict[str, set[str]] = {}

    def unpaced(self, campaign_id: str) -> int:
        """This process's attempts of the campaign claimed and not through pacing yet (the
        claim loop claims no more than the CPS cap lets through: no claimed backlog)."""
        return len(self._unpaced.get(campaign_id, ()))

    @property
    def worker(self) -> str:
        return self.config.worker_id

    async def run(self, att: ClaimedAttempt, camp: Campaign, claimed_mono: float) -> None:
        slot = False
        self._unpaced.setdefault(camp.id, set()).add(att.id)
        try:
            slot = await self._steps(att, camp, claimed_mono)
        except Exception:
            log.exception("dialler %s: attempt %s failed; requeued", self.worker, att.id)
            with contextlib.suppress(Exception):
                await self.writer.write(Requeue(att.id, self.clock() + timedelta(seconds=5)))
        finally:
            self._unpaced.get(camp.id, set()).discard(att.id)
            if slot:
                with contextlib.suppress(StoreUnavailableError):
                    await self.pacer.release(camp.id, att.id)
            if self.agent_pacing is not None and camp.spec.pacing is PacingMode.AGENT:
                await self.agent_pacing.release(camp.id, att.id)  # its line (never raises)

    def _zone(self, att: ClaimedAttempt, number: CustomerNumber, rules: RuleSet) -> ZoneInfo:
        zone = zone_or_none(att.timezone)
        if zone is not None:
            return zone
        parsed = parse_number(number.e164, rules.default_zone)
        return ZoneInfo(parsed.zones[0] if parsed is not None else rules.default_zone)

    async def _hold_back(self, att: ClaimedAttempt, camp: Campaign) -> bool:
        """True when the attempt was put back or closed because the campaign is not running."""
        state = self.state_of(camp.id)
        if state is CampaignState.RUNNING:
            return False
        if state in (CampaignState.STOPPED, CampaignState.FINISHED):
            await self.recorder.close(att, Disposition.STOPPED, cancelled=True)
        else:
            await self.recorder.requeue(att, self.clock(), "paused")
        return True

    async def _steps(self, att: ClaimedAttempt, camp: Campaign, claimed: float) -> bool:
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
            await self.recorder.close(
                att, Disposition.STOPPED, cancelled=True, reasons=("campaign_ended",)
            )
            return False
        policy = rules.policy_for(spec.purpose, number.e164, None, None)
        windows = effective_windows(spec.windows, policy.window if policy else None)
        opens = next_open(_local_start(spec.start_date, local), windows)
        if opens is None:
            await self.recorder.close(att, Disposition.NOT_ALLOWED, reasons=("no_window",))
            return False
        if opens != local:
            return await self.recorder.requeue(att, opens.astimezone(UTC), "campaign_window")
        if not await self._pace(att, camp):
            return False
        if await self._hold_back(att, camp):
            return True
        if not self.esl_ready():
            await self.recorder.requeue(att, self.clock() + timedelta(seconds=1), "esl_down")
            return True
        await self._dial(att, camp, number, claimed)
        return True

    async def _pace(self, att: ClaimedAttempt, camp: Campaign) -> bool:
        """A pacing slot (concurrency, CPS, bot capacity; across processes with Redis);
        ``False`` when the attempt was put back instead (no slot held)."""
        try:
            return await self._slot(att, camp)
        finally:
            self._unpaced.get(camp.id, set()).discard(att.id)

    async def _slot(self, att: ClaimedAttempt, camp: Campaign) -> bool:
        spec = camp.spec
        caps = Caps(spec.max_concurrency, spec.max_cps, self.config.bot_capacity)
        deadline = time.monotonic() + PACING_WAIT_S
        while True:
            try:
                grant = await self.pacer.acquire(camp.id, att.id, caps, self.config.lease_s)
            except StoreUnavailableError:
                return await self.recorder.requeue(
                    att, self.clock() + timedelta(seconds=STORE_RETRY_S), "pacing_unavailable"
                )
            if grant.ok:
                return True
            if time.monotonic() + grant.wait_s > deadline:
                return await self.recorder.requeue(
                    att, self.clock() + timedelta(seconds=max(grant.wait_s, 0.5)), grant.why
                )
            await asyncio.sleep(grant.wait_s)
            if await self._hold_back(att, camp):
                return False

    async def _dial(
        self, att: ClaimedAttempt, camp: Campaign, number: CustomerNumber, claimed: float
    ) -> None:
        """Gate permit, ``dialling`` committed, originate, wait for the end, record it."""
        spec = camp.spec
        request = GateRequest(
            number.e164, spec.purpose, att.id, campaign=camp.name, profile_tz=att.timezone
        )
        answer = await self.gate.check_and_permit(request)
        permit = answer.permit
        if permit is None:
            await self.recorder.denied(att, answer)
            return
        caller_id = self._caller_id(camp)
        route = OutboundRoute(
            self.config.endpoint,
            spec.flow_id,
            caller_id,
            originate_timeout_s=self.config.originate_timeout_s,
        )
        ok = await self.writer.write(  # committed before the originate
            MarkDialling(att.id, self.worker, caller_id, self.clock(), self.config.lease_s)
        )
        if not ok:
            log.warning("dialler %s: lost the claim on %s; not dialled", self.worker, att.id)
            return
        if permit.expires_at <= self.clock():
            # committing ``dialling`` outlasted the permit (a loaded store): the gate is asked
            # again for the same attempt (idempotent: not counted twice; DNC, windows and caps
            # checked again at this instant), never dialled on the stale permit, never lost
            answer = await self.gate.check_and_permit(request)
            if answer.permit is None:  # marked ``dialling``, not originated: back or closed
                await self.recorder.denied(att, answer, marked=True)
                return
            permit = answer.permit
        hangup = self.hangups.expect(att.id)
        self.stats.claim_to_originate_s.append(time.monotonic() - claimed)
        self.stats.originated += 1
        try:
            result = await originate_permitted(self.esl, permit, route, now=self.clock())
        except (ConnectionDroppedError, TimeoutError) as exc:
            # sent, result lost: the leg may be live (module docstring); never FAILED blindly
            log.warning("dialler %s: originate of %s: result lost (%s); asking the switch",
                        self.worker, att.id, type(exc).__name__)  # fmt: skip
            await self._follow_lost(att, camp, hangup)
            return
        except IvrError as exc:
            self.hangups.forget(att.id)
            log.warning("dialler %s: originate of %s failed (%s)", self.worker, att.id, exc)
            await self.recorder.ended(att, camp, Disposition.FAILED, "ESL_ERROR")
            return
        if not result.ok:
            self.hangups.forget(att.id)
            await self.recorder.ended(
                att, camp, disposition_for_cause(result.cause, answered=False), result.cause
            )
            return
        self.hangups.up(att.id)  # reconciled after a reconnect (a hangup missed meanwhile)
        await self._answered(att, camp)
        try:
            cause = await asyncio.wait_for(hangup, self.config.max_call_s)
        except TimeoutError:
            cause = "MAX_CALL_TIME"
        finally:
            self.hangups.forget(att.id)
        outcome = await self.outcomes.wait(att.id, OUTCOME_WAIT_S)
        disposition = (
            disposition_for_flow(outcome.ended_reason, consent_granted=outcome.consent_granted)
            if outcome is not None
            else Disposition.ANSWERED
        )
        if outcome is not None and outcome.dnc_added:
            disposition = Disposition.REFUSED
        await self.recorder.ended(att, camp, disposition, cause)

    async def _follow_lost(
        self, att: ClaimedAttempt, camp: Campaign, hangup: asyncio.Future[str]
    ) -> None:
        """An originate whose result was lost: ask the switch, follow the leg or close it as
        ``ORIGINATE_LOST`` (see the module docstring)."""
        settled = self.hangups.pending(att.id)
        try:
            exists = await asyncio.wait_for(
                asyncio.shield(settled), self.config.lost_originate_wait_s
            )
        except TimeoutError:
            self.hangups.forget(att.id)
            log.warning("dialler %s: attempt %s left open (switch not reachable); recovery "
                        "closes it", self.worker, att.id)  # fmt: skip
            return
        try:
            lifetime = self.config.originate_timeout_s + self.config.max_call_s
            if exists:
                cause = await self._follow_found(att, camp, hangup, lifetime)
            else:
                cause = hangup.result() if hangup.done() else ORIGINATE_LOST_CAUSE
        except TimeoutError:
            cause = "MAX_CALL_TIME"
        finally:
            answered = self.hangups.answered(att.id)
            self.hangups.forget(att.id)
        outcome = None
        if cause == ORIGINATE_LOST_CAUSE:
            # no leg now: never placed, or it rang out or even ran its flow while the
            # connection was down; a flow outcome already written says which
            outcome = await self.outcomes.wait(att.id, LOST_OUTCOME_WAIT_S)
            if outcome is None:
                await self.recorder.ended(att, camp, Disposition.FAILED, cause)
                return
            cause = MISSED_HANGUP_CAUSE
        elif answered or cause in ("NORMAL_CLEARING", MISSED_HANGUP_CAUSE, "MAX_CALL_TIME"):
            outcome = await self.outcomes.wait(att.id, OUTCOME_WAIT_S)
        if outcome is not None:
            disposition = disposition_for_flow(
                outcome.ended_reason, consent_granted=outcome.consent_granted
            )
            if outcome.dnc_added:
                disposition = Disposition.REFUSED
        else:
            disposition = disposition_for_cause(cause, answered=answered)
        await self.recorder.ended(att, camp, disposition, cause)

    async def _answered(self, att: ClaimedAttempt, camp: Campaign) -> None:
        """The leg answered: an agent campaign's pacing counts it (it waits for an agent)."""
        if self.agent_pacing is not None and camp.spec.pacing is PacingMode.AGENT:
            await self.agent_pacing.answered(camp.id, att.id, self.config.lease_s)

    async def _follow_found(
        self, att: ClaimedAttempt, camp: Campaign, hangup: asyncio.Future[str], lifetime: float
    ) -> str:
        """A lost originate's leg the switch has, to its hangup cause; its answer (seen, or
        read from the switch at the reconnect) is signalled once, as a placed call's is."""
        deadline = time.monotonic() + lifetime
        answer = self.hangups.answer_seen(att.id)
        await asyncio.wait((hangup, answer), timeout=lifetime, return_when=asyncio.FIRST_COMPLETED)
        if answer.done():
            await self._answered(att, camp)
        return await asyncio.wait_for(hangup, max(0.0, deadline - time.monotonic()))

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
