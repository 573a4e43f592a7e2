"""Recording what became of an attempt: back to the queue, closed, denied, ended with a retry.

:class:`OutcomeRecorder` is the only part of the dialler that writes an attempt's end to the
queue, through the group commit (:class:`campaigns.writes.GroupWriter`): a requeue (outside the
window, paced, the gate said later), a close with a disposition, the gate's denial mapped to a
disposition (DNC cancels every queued attempt of the number; ``store_unavailable`` waits, fail
closed; a ``retry_after`` requeues then; an invalid number or anything else closes), and a
call's end: the retry policy's next attempt at the later of its delay and any gate
``retry_after``, and a refusal (or DNC entry written during the call) cancelling every queued
attempt of the number in every campaign. An agent campaign's result also goes to its
adaptive dial level (:class:`campaigns.agent_pacing.AgentPacing`). A write the queue's database
does not take (a PostgreSQL restart) is retried for a while: a dialled attempt ends with its own
disposition, not recovery's ``unknown``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from campaigns.agent_pacing import AgentPacing
from campaigns.dialler_config import STORE_RETRY_S, DiallerStats
from campaigns.model import Disposition, PacingMode, next_attempt_at
from campaigns.queue import ClaimedAttempt
from campaigns.repository import Campaign
from campaigns.writes import CancelNumber, Finish, GroupWriter, Requeue, Result, Write
from compliance.decision import Reason
from compliance.gate import GateAnswer
from ivr.errors import StoreUnavailableError

log = logging.getLogger(__name__)
SETTLE_S = 300.0
"""How long an attempt's end (or requeue) is retried while the queue's database is away."""
SETTLE_RETRY_S = (0.1, 2.0)
"""The retries' first and longest wait (doubling)."""

_UNANSWERED = frozenset(
    {Disposition.BUSY, Disposition.NO_ANSWER, Disposition.REJECTED, Disposition.FAILED,
     Disposition.INVALID_NUMBER}
)  # fmt: skip


class OutcomeRecorder:
    """Writes attempts' ends to the queue and counts them in ``stats`` (module docstring)."""

    def __init__(
        self,
        writer: GroupWriter,
        stats: DiallerStats,
        clock: Callable[[], datetime],
        agent_pacing: AgentPacing | None = None,
    ) -> None:
        self.writer = writer
        self.agent_pacing = agent_pacing
        self.stats = stats
        self.clock = clock

    async def _settle(self, write: Write) -> Result:
        """Write an attempt's end or requeue, retried while the queue's database is away (a
        PostgreSQL restart: seconds) for up to :data:`SETTLE_S`: the attempt stays this
        dialler's meanwhile (its lease renewed), so it ends with its own disposition, not
        recovery's ``unknown``, and is never left without one."""
        delay = SETTLE_RETRY_S[0]
        deadline = time.monotonic() + SETTLE_S
        while True:
            try:
                return await self.writer.write(write)
            except StoreUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                if delay == SETTLE_RETRY_S[0]:
                    what = type(write).__name__
                    which = getattr(write, "attempt_id", "-")
                    log.warning("attempt %s: %s not written (%s); retried", which, what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, SETTLE_RETRY_S[1])

    async def requeue(
        self, att: ClaimedAttempt, at: datetime, *reasons: str, marked: bool = False
    ) -> bool:
        """Back to the queue, due ``at`` (``marked``: from ``dialling``, never originated);
        returns ``False`` (no call was placed)."""
        self.stats.requeued += 1
        await self._settle(Requeue(att.id, at, reasons, marked))
        return False

    async def close(
        self,
        att: ClaimedAttempt,
        d: Disposition,
        *,
        cause: str | None = None,
        reasons: tuple[str, ...] = (),
        retry_at: datetime | None = None,
        cancelled: bool = False,
    ) -> None:
        self.stats.finished += 1
        await self._settle(Finish(att.id, d, self.clock(), cause, reasons, retry_at, cancelled))

    async def denied(
        self, att: ClaimedAttempt, answer: GateAnswer, *, marked: bool = False
    ) -> None:
        """The gate refused the attempt (``marked``: after it was marked ``dialling``, when its
        permit had expired meanwhile and the gate was asked again; nothing was originated)."""
        d = answer.decision
        self.stats.denied += 1
        reasons = tuple(r.value for r in d.reasons)
        if Reason.DNC in d.reasons:
            await self.close(att, Disposition.DNC, cancelled=True, reasons=reasons)
            await self._settle(CancelNumber(att.number_bi, Disposition.DNC, self.clock()))
        elif Reason.STORE_UNAVAILABLE in d.reasons:
            at = self.clock() + timedelta(seconds=STORE_RETRY_S)
            await self.requeue(att, at, *reasons, marked=marked)
        elif d.retry_after is not None:
            await self.requeue(att, d.retry_after, *reasons, marked=marked)
        elif Reason.INVALID_NUMBER in d.reasons:
            await self.close(att, Disposition.INVALID_NUMBER, reasons=reasons)
        else:
            await self.close(att, Disposition.NOT_ALLOWED, reasons=reasons)

    async def ended(
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
        await self.close(att, disposition, cause=cause, retry_at=retry_at)
        if self.agent_pacing is not None and spec.pacing is PacingMode.AGENT:
            await self.agent_pacing.ended(
                camp.id, att.id, answered=disposition not in _UNANSWERED,
                abandoned=disposition is Disposition.ABANDONED, now=now,
            )  # fmt: skip
        if disposition in (Disposition.REFUSED, Disposition.DNC):
            await self._settle(CancelNumber(att.number_bi, Disposition.DNC, now))
