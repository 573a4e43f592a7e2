"""The dialler's claim loop: claims due attempts per running campaign, within its caps.

One :class:`Dialler` per process; any number of processes share the SQL queue and the Redis
pacing. Per tick (:data:`~campaigns.dialler_config.TICK_S`) it re-reads campaign states (so
pause, resume and stop take effect within a second), and for each running campaign claims up to
what its caps let it start (a :class:`campaigns.claims.Claim` through the group commit of
:mod:`campaigns.writes`, in one transaction with the attempt writes waiting then); a campaign that
hands calls to agents (pacing ``agent``) also claims no more than its adaptive dial level lets
start, reserving those lines across diallers before the claim and binding them to the
claimed attempts after it (:class:`campaigns.agent_pacing.AgentPacing`; none given: it never
dials). Each claimed attempt then runs as its own task in
:class:`campaigns.attempt.AttemptRunner` (windows, pacing, the gate's permit at dial time,
originate, outcome), whose ends
:class:`campaigns.recorder.OutcomeRecorder` writes.

Every few seconds it renews its leases, recovers attempts of dead diallers, cancels queued
attempts of numbers put on the DNC list anywhere, and finishes campaigns with nothing left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from campaigns.agent_pacing import AgentPacing, Reservation
from campaigns.attempt import AttemptRunner
from campaigns.claims import Claim
from campaigns.dialler_config import (
    HOUSEKEEPING_S,
    MAX_CLAIM,
    PACING_WAIT_S,
    STATE_POLL_S,
    TICK_S,
    DiallerConfig,
    DiallerStats,
    Gatekeeper,
)
from campaigns.model import CampaignState, PacingMode
from campaigns.originate import Originator
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher, OutcomePoller
from campaigns.pacing import Pacer
from campaigns.queue import AttemptQueue
from campaigns.recorder import OutcomeRecorder
from campaigns.repository import Campaign, CampaignRepository
from campaigns.writes import GroupWriter, Renew
from ivr.errors import IvrError, StoreUnavailableError
from records.sealed_number import NumberSealer

__all__ = ["Dialler", "DiallerConfig", "DiallerStats", "Gatekeeper"]

log = logging.getLogger(__name__)


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
        self.writer = GroupWriter(queue.write)
        self.recorder = OutcomeRecorder(self.writer, self.stats, clock, agent_pacing)
        self.runner = AttemptRunner(
            writer=self.writer,
            gate=gate,
            esl=esl,
            esl_ready=esl_ready,
            hangups=hangups,
            outcomes=OutcomePoller(outcomes),
            pacer=pacer,
            sealer=sealer,
            recorder=self.recorder,
            config=config,
            stats=self.stats,
            state_of=self._state_of,
            clock=clock,
            agent_pacing=agent_pacing,
        )
        self._states: dict[str, CampaignState] = {}
        self._running: dict[str, Campaign] = {}
        self._inflight: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._stopping = asyncio.Event()
        self._last_claim: dict[str, float] = {}

    def _state_of(self, campaign_id: str) -> CampaignState:
        return self._states.get(campaign_id, CampaignState.RUNNING)

    @property
    def worker(self) -> str:
        return self.config.worker_id

    # --- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Dial until :meth:`stop`; in-flight calls are followed to their end. Housekeeping
        runs first, then beside the claims (a slow sweep does not hold the claiming back)."""
        last_poll = -math.inf
        await self.housekeeping()
        last_house = time.monotonic()
        house: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                mono = time.monotonic()
                if mono - last_house >= min(HOUSEKEEPING_S, self.config.lease_s / 3) and (
                    house is None or house.done()
                ):
                    house = asyncio.create_task(self.housekeeping(), name="dialler-housekeeping")
                    last_house = mono
                if mono - last_poll >= STATE_POLL_S:
                    await self.refresh()
                    last_poll = mono
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), TICK_S)
        finally:
            if house is not None:
                await house
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
            # what the CPS cap lets start since the last claim (at most a second's worth), and
            # never more claimed ahead of the token bucket than it lets through within
            # PACING_WAIT_S (past that an attempt is put back and claimed again: writes for
            # nothing, and a backlog that grows)
            since = min(1.0, mono - self._last_claim.get(camp.id, mono - TICK_S))
            ahead = math.ceil(spec.max_cps * PACING_WAIT_S) - self.runner.unpaced(camp.id)
            due = min(max(1, math.ceil(spec.max_cps * since)), ahead)
            limit = min(room, due, MAX_CLAIM)
            reservation: Reservation | None = None
            if limit > 0 and spec.pacing is PacingMode.AGENT:
                reservation = await self._agent_room(camp, limit, now)
                limit = reservation.size
            if limit <= 0:
                continue
            try:  # through the group commit: in the transaction of the writes waiting now
                got = await self.writer.write(
                    Claim(self.worker, camp.id, now, limit, self.config.lease_s)
                )
                batch = got if isinstance(got, list) else []
            except Exception:
                log.exception("dialler %s: claim failed (SQL); not dialling", self.worker)
                if reservation is not None and self.agent_pacing is not None:
                    await self.agent_pacing.bind(reservation, [], self.config.lease_s)
                return claimed
            if reservation is not None and self.agent_pacing is not None:
                await self.agent_pacing.bind(
                    reservation, [a.id for a in batch], self.config.lease_s
                )
            self._last_claim[camp.id] = mono
            started = time.monotonic()
            for att in batch:
                task = asyncio.create_task(self.runner.run(att, camp, started), name=att.id)
                self._inflight.setdefault(camp.id, {})[att.id] = task
                task.add_done_callback(functools.partial(self._done, camp.id, att.id))
            claimed += len(batch)
        self.stats.claimed += claimed
        return claimed

    async def _agent_room(self, camp: Campaign, want: int, now: datetime) -> Reservation:
        if self.agent_pacing is None:
            log.warning("dialler %s: campaign %s paces by agents; no agent pacing", self.worker,
                        camp.id)  # fmt: skip
            return Reservation(camp.id, ())
        return await self.agent_pacing.reserve(camp.id, camp.spec.abandon_target, want, now)

    def _done(self, campaign_id: str, attempt_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.get(campaign_id, {}).pop(attempt_id, None)

    async def housekeeping(self) -> None:
        """Renew leases, recover dead diallers' attempts, DNC sweep, finish campaigns."""
        now = self.clock()
        try:
            ids = tuple(a for per in self._inflight.values() for a in per)
            if ids:  # through the group commit (see campaigns.writes: no deadlock beside it)
                await self.writer.write(
                    Renew(self.worker, ids, now + timedelta(seconds=self.config.lease_s))
                )
            for cid, per in self._inflight.items():
                with contextlib.suppress(StoreUnavailableError):
                    await self.pacer.renew(cid, list(per), self.config.lease_s)
                camp = self._running.get(cid)
                agent = camp is not None and camp.spec.pacing is PacingMode.AGENT
                if agent and self.agent_pacing is not None:
                    with contextlib.suppress(StoreUnavailableError):
                        await self.agent_pacing.renew(cid, list(per), self.config.lease_s)
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
