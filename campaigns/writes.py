"""The attempt queue's writes as values, applied many to a transaction (group commit).

Each write is a frozen dataclass: :class:`MarkDialling` (``claimed`` → ``dialling``, committed
*before* the originate is sent; its result says whether this dialler still held the claim),
:class:`Requeue` (back to the queue, not dialled), :class:`Finish` (closed with a disposition;
with ``retry_at`` the next attempt is queued and its id is the result) and
:class:`CancelNumber` (every queued attempt of a number, in every campaign: a refusal anywhere)
and :class:`Renew` (this dialler's leases on its live attempts, one write for all of them).
:func:`apply_writes` runs a list of them on one connection (one transaction: one lock, one
commit), by kind, each kind in a few statements for the whole batch: the marks (one pipelined
``executemany`` and one read of which took), the requeues, the finishes (their rows read,
closed and freed and their retries inserted), the number cancellations (so a refusal also
cancels a retry queued in the same batch), then the lease renewals, then the claims
(:class:`campaigns.claims.Claim`: a tick's claim rides in the batch waiting then). Renewing
through the same group commit, never in a transaction of its own beside it, is what keeps
PostgreSQL free of deadlocks between a renewal and a batch that lock the same rows in different
orders (each waits for the deadlock detector's second, then one fails). (Each attempt has one
write in flight at a time: the order between attempts is free.)
:class:`GroupWriter` is the dialler's async side: every attempt task awaits
its own write, and the writes that arrive while one batch commits go together in the next
(one SQL thread hop and one commit per batch instead of per write); a batch that fails is
retried write by write, so one bad write fails alone. A write's future resolves only after its
transaction committed: ``dialling`` is durable before the originate (crash recovery relies on
it; :func:`must_sync` says which batches must reach the disk before they return).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from campaigns.claims import Claim, ClaimedAttempt, claim_in
from campaigns.model import Disposition
from campaigns.tables import (
    ACTIVE,
    CANCELLED,
    CLAIMED,
    DIALLING,
    DONE,
    QUEUED,
    attempts,
    busy_numbers,
)
from records.timeutil import to_db

log = logging.getLogger(__name__)

__all__ = ["ACTIVE", "CANCELLED", "CLAIMED", "DIALLING", "DONE", "QUEUED"]  # (re-exported)
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class MarkDialling:
    attempt_id: str
    worker: str
    caller_id: str
    now: datetime
    lease_s: float


@dataclass(frozen=True, slots=True)
class Requeue:
    """Back to the queue, not dialled: a ``claimed`` attempt, or with ``marked`` one already
    marked ``dialling`` whose originate was never sent (its permit was refused when asked
    again); never an attempt that may have a leg."""

    attempt_id: str
    due_at: datetime
    reasons: tuple[str, ...] = ()
    marked: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    attempt_id: str
    disposition: Disposition
    now: datetime
    cause: str | None = None
    reasons: tuple[str, ...] = ()
    retry_at: datetime | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class CancelNumber:
    number_bi: str
    disposition: Disposition
    now: datetime


@dataclass(frozen=True, slots=True)
class Renew:
    worker: str
    attempt_ids: tuple[str, ...]
    until: datetime


Write = MarkDialling | Requeue | Finish | CancelNumber | Renew | Claim
Result = bool | str | int | None | list[ClaimedAttempt]


def must_sync(writes: Sequence[Write]) -> bool:
    """Whether the batch's commit must reach the disk before it returns: a ``dialling`` mark
    (the originate follows; crash recovery relies on it). The other writes survive the process
    being killed without it, and a power loss can only take back a prefix-closed tail of them
    (a claim, a requeue, an end: recovered by the leases, the DNC sweep and the gate)."""
    return any(isinstance(w, MarkDialling) for w in writes)


def free_numbers(conn: sa.Connection, ids: Sequence[str]) -> None:
    """The attempts' numbers are no longer busy (another attempt of them may be claimed)."""
    conn.execute(busy_numbers.delete().where(busy_numbers.c.attempt_id.in_(ids)))


def apply_writes(conn: sa.Connection, writes: Sequence[Write]) -> list[Result]:
    """Apply ``writes`` on ``conn`` (the caller's transaction, see the module docstring); one
    result each, in ``writes``' order."""
    results: list[Result] = [None] * len(writes)
    marks: list[tuple[int, MarkDialling]] = []
    requeues: list[Requeue] = []
    finishes: list[tuple[int, Finish]] = []
    cancels: list[tuple[int, CancelNumber]] = []
    renews: list[Renew] = []
    claims: list[tuple[int, Claim]] = []
    for i, w in enumerate(writes):
        if isinstance(w, Claim):
            claims.append((i, w))
        elif isinstance(w, MarkDialling):
            marks.append((i, w))
        elif isinstance(w, Requeue):
            requeues.append(w)
        elif isinstance(w, Finish):
            finishes.append((i, w))
        elif isinstance(w, Renew):
            renews.append(w)
        else:
            cancels.append((i, w))
    if len(marks) == 1:
        results[marks[0][0]] = _mark(conn, marks[0][1])
    elif marks:
        took = _mark_many(conn, [w for _, w in marks])
        for i, w in marks:
            results[i] = (w.attempt_id, w.worker) in took
    if requeues:
        _requeue_many(conn, requeues)
    if finishes:
        for (i, _), next_id in zip(finishes, _finish(conn, [w for _, w in finishes]), strict=True):
            results[i] = next_id
    for i, c in cancels:
        results[i] = int(
            conn.execute(
                attempts.update()
                .where(attempts.c.number_bi == c.number_bi, attempts.c.state == QUEUED)
                .values(state=CANCELLED, disposition=c.disposition.value, ended_at=to_db(c.now))
            ).rowcount
        )
    for r in renews:
        _renew(conn, r)
    for i, cl in claims:  # last: numbers freed and cancelled above count already
        results[i] = claim_in(conn, cl)
    return results


def _mark(conn: sa.Connection, w: MarkDialling) -> bool:
    a = attempts
    return (
        conn.execute(
            a.update()
            .where(a.c.id == w.attempt_id, a.c.state == CLAIMED, a.c.claimed_by == w.worker)
            .values(
                state=DIALLING,
                caller_id=w.caller_id,
                dialled_at=to_db(w.now),
                lease_until=to_db(w.now + timedelta(seconds=w.lease_s)),
            )
        ).rowcount
        == 1
    )


_MARK = (
    attempts.update()
    .where(
        attempts.c.id == sa.bindparam("w_id"),
        attempts.c.state == CLAIMED,
        attempts.c.claimed_by == sa.bindparam("w_worker"),
    )
    .values(
        state=DIALLING,
        caller_id=sa.bindparam("w_caller"),
        dialled_at=sa.bindparam("w_at"),
        lease_until=sa.bindparam("w_lease"),
    )
)


def _mark_many(conn: sa.Connection, ws: Sequence[MarkDialling]) -> set[tuple[str, str]]:
    """The marks in one ``executemany`` (rowcounts are not per row there), then which of them
    took: ``(attempt id, worker)`` now ``dialling`` by that worker."""
    a = attempts
    conn.execute(
        _MARK,
        [
            {
                "w_id": w.attempt_id,
                "w_worker": w.worker,
                "w_caller": w.caller_id,
                "w_at": to_db(w.now),
                "w_lease": to_db(w.now + timedelta(seconds=w.lease_s)),
            }
            for w in ws
        ],
    )
    rows = conn.execute(
        sa.select(a.c.id, a.c.claimed_by).where(
            a.c.id.in_([w.attempt_id for w in ws]), a.c.state == DIALLING
        )
    )
    return {(r.id, r.claimed_by) for r in rows}


_REQUEUE = (
    attempts.update()
    .where(
        attempts.c.id == sa.bindparam("w_id"),
        sa.or_(
            attempts.c.state == CLAIMED,
            sa.and_(attempts.c.state == DIALLING, sa.bindparam("w_marked", type_=sa.Boolean)),
        ),
    )
    .values(
        state=QUEUED,
        claimed_by=None,
        lease_until=None,
        due_at=sa.bindparam("w_due"),
        gate_reasons=sa.bindparam("w_reasons"),
    )
)


def _requeue_many(conn: sa.Connection, ws: Sequence[Requeue]) -> None:
    conn.execute(
        _REQUEUE,
        [
            {
                "w_id": w.attempt_id,
                "w_due": to_db(w.due_at),
                "w_reasons": ",".join(w.reasons) or None,
                "w_marked": w.marked,
            }
            for w in ws
        ],
    )
    free_numbers(conn, [w.attempt_id for w in ws])


def _renew(conn: sa.Connection, w: Renew) -> None:
    if not w.attempt_ids:
        return
    a = attempts
    conn.execute(
        a.update()
        .where(a.c.id.in_(w.attempt_ids), a.c.claimed_by == w.worker, a.c.state.in_(ACTIVE))
        .values(lease_until=to_db(w.until))
    )


_CLOSE = (
    attempts.update()
    .where(
        attempts.c.id == sa.bindparam("w_id"),
        sa.or_(*(attempts.c.state == s for s in (*ACTIVE, QUEUED))),  # (no IN: executemany)
    )
    .values(
        state=sa.bindparam("w_state"),
        disposition=sa.bindparam("w_disposition"),
        hangup_cause=sa.bindparam("w_cause"),
        gate_reasons=sa.bindparam("w_reasons"),
        ended_at=sa.bindparam("w_ended"),
        lease_until=None,
    )
)


def _finish(conn: sa.Connection, ws: Sequence[Finish]) -> list[str | None]:
    """Close the attempts (one ``executemany``), free their numbers, insert their retries."""
    a = attempts
    ids = [w.attempt_id for w in ws]
    rows = {
        r.id: r
        for r in conn.execute(
            sa.select(
                a.c.id, a.c.campaign_id, a.c.contact_id, a.c.number_bi, a.c.attempt_no,
                a.c.priority,
            ).where(a.c.id.in_(ids), a.c.state.in_((*ACTIVE, QUEUED)))
        )
    }  # fmt: skip
    # only attempts still open: a finish written again (its first commit's reply was lost, or
    # recovery closed it meanwhile) neither changes the attempt nor inserts a second retry
    known = [w for w in ws if w.attempt_id in rows]
    if not known:
        return [None] * len(ws)
    conn.execute(
        _CLOSE,
        [
            {
                "w_id": w.attempt_id,
                "w_state": CANCELLED if w.cancelled else DONE,
                "w_disposition": w.disposition.value,
                "w_cause": w.cause,
                "w_reasons": ",".join(w.reasons) or None,
                "w_ended": to_db(w.now),
            }
            for w in known
        ],
    )
    free_numbers(conn, [w.attempt_id for w in known])
    out: list[str | None] = []
    retries: list[dict[str, object]] = []
    for w in ws:
        row = rows.get(w.attempt_id)
        if row is None or w.retry_at is None:
            out.append(None)
            continue
        next_id = str(uuid.uuid4())
        out.append(next_id)
        retries.append(
            {
                "id": next_id,
                "campaign_id": row.campaign_id,
                "contact_id": row.contact_id,
                "number_bi": row.number_bi,
                "attempt_no": row.attempt_no + 1,
                "state": QUEUED,
                "due_at": to_db(w.retry_at),
                "priority": row.priority,
                "created_at": to_db(w.now),
            }
        )
    if retries:
        conn.execute(a.insert(), retries)
    return out


class GroupWriter:
    """Group commit of the dialler's queue writes (see the module docstring).

    ``commit`` runs a list of writes in one transaction and returns their results (sync; it
    runs in a thread): :meth:`campaigns.queue.AttemptQueue.write`.
    """

    def __init__(
        self, commit: Callable[[Sequence[Write]], list[Result]], max_batch: int = MAX_BATCH
    ) -> None:
        self.commit = commit
        self.max_batch = max_batch
        self.batches = 0
        self._pending: list[tuple[Write, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, w: Write) -> Result:
        """``w``'s result once its transaction committed (raises what the write raised)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((w, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="dialler-writes")
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[Write, asyncio.Future[Result]]]) -> None:
        self.batches += 1
        try:
            results = await asyncio.to_thread(self.commit, [w for w, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the writes' futures
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.warning(  # (not the SQL text: its parameters are the batch's values)
                "dialler writes: a batch of %d failed (%s); one by one",
                len(batch),
                type(exc).__name__,
            )
            for one in batch:
                await self._commit([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
