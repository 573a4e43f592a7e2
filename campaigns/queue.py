"""The attempt queue in SQL: claim, mark, finish, cancel, recover (sync; callers use a thread).

States: ``queued`` → ``claimed`` (by one dialler, with a lease) → ``dialling`` (written and
committed *before* the originate is sent) → ``done``; or ``cancelled`` (DNC, stopped).

- :meth:`AttemptQueue.claim` takes due attempts of one running campaign in one statement:
  ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`` on
  PostgreSQL (concurrent diallers skip each other's rows), the same single statement on SQLite
  (writes are serialised by the database lock, so the semantics are the same). Numbers on the
  DNC list or busy right now are never claimed; each claimed number is then inserted into
  ``campaign_busy_numbers`` in the same transaction, and an attempt whose number another
  dialler holds goes back to the queue: one number is never dialled twice at the same time.
- :meth:`AttemptQueue.recover` (any dialler, periodically): a ``claimed`` attempt whose lease
  ran out was never originated and is queued again (the gate's count is idempotent per attempt
  id, so asking again does not count twice); a ``dialling`` one whose lease ran out may have been
  dialled and is closed as ``unknown``, never dialled again. Live diallers renew their leases.
- :meth:`AttemptQueue.cancel_number` / :meth:`sweep_dnc`: a refusal anywhere cancels every
  queued attempt of that number, in every campaign, at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from campaigns.model import Disposition
from campaigns.tables import attempts, busy_numbers, campaigns, contacts
from campaigns.writes import (
    ACTIVE,
    CANCELLED,
    CLAIMED,
    DIALLING,
    DONE,
    QUEUED,
    CancelNumber,
    Finish,
    MarkDialling,
    Renew,
    Requeue,
    Result,
    Write,
    apply_writes,
    free_numbers,
)
from compliance.tables import dnc, insert_ignore
from records.sealed_number import SealedNumber
from records.timeutil import from_db, to_db


def contact_context(contact_id: str) -> str:
    """The sealed number's context of a list entry."""
    return f"campaign-contact|{contact_id}"


@dataclass(frozen=True, slots=True)
class ClaimedAttempt:
    """An attempt this dialler holds, with what it needs to dial."""

    id: str
    campaign_id: str
    contact_id: str
    number_bi: str
    attempt_no: int
    sealed: SealedNumber
    timezone: str | None
    previous: tuple[Disposition, ...]


class AttemptQueue:
    """The ``campaign_attempts`` queue (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"

    # --- claiming ------------------------------------------------------------------------------
    def claim(
        self, worker: str, campaign_id: str, *, now: datetime, limit: int, lease_s: float
    ) -> list[ClaimedAttempt]:
        if limit <= 0:
            return []
        a = attempts
        t = to_db(now)
        lease = to_db(now + timedelta(seconds=lease_s))
        candidates = (
            sa.select(a.c.id)
            .where(
                a.c.campaign_id == campaign_id,
                a.c.state == QUEUED,
                a.c.due_at <= t,
                sa.exists().where(
                    campaigns.c.id == a.c.campaign_id, campaigns.c.state == "running"
                ),
                ~sa.exists().where(dnc.c.number_index == a.c.number_bi),
                ~sa.exists().where(busy_numbers.c.number_bi == a.c.number_bi),
            )
            .order_by(a.c.due_at)
            .limit(limit)
        )
        if self.pg:
            candidates = candidates.with_for_update(skip_locked=True, of=a)
        with self.engine.begin() as conn:
            rows = conn.execute(
                a.update()
                .where(a.c.id.in_(candidates.scalar_subquery()))
                .values(state=CLAIMED, claimed_by=worker, lease_until=lease)
                .returning(a.c.id, a.c.number_bi)
            ).all()
            if not rows:
                return []
            took = conn.execute(
                insert_ignore(
                    self.engine,
                    busy_numbers,
                    [{"number_bi": r.number_bi, "attempt_id": r.id, "since": t} for r in rows],
                ).returning(busy_numbers.c.attempt_id)
            ).all()  # one statement (rowcount is -1 on psycopg for ON CONFLICT DO NOTHING)
            held = {r.attempt_id for r in took}
            mine = [r.id for r in rows if r.id in held]
            lost = [r.id for r in rows if r.id not in set(mine)]
            if lost:  # another dialler has the number right now: back to the queue
                conn.execute(
                    a.update()
                    .where(a.c.id.in_(lost))
                    .values(
                        state=QUEUED,
                        claimed_by=None,
                        lease_until=None,
                        due_at=to_db(now + timedelta(seconds=5)),
                    )
                )
            if not mine:
                return []
            return self._load(conn, mine)

    def _load(self, conn: sa.Connection, ids: Sequence[str]) -> list[ClaimedAttempt]:
        a, c = attempts, contacts
        rows = conn.execute(
            sa.select(
                a.c.id,
                a.c.campaign_id,
                a.c.contact_id,
                a.c.number_bi,
                a.c.attempt_no,
                c.c.masked_number,
                c.c.key_id,
                c.c.wrapped_key,
                c.c.number_sealed,
                c.c.timezone,
            )
            .join(c, c.c.id == a.c.contact_id)
            .where(a.c.id.in_(ids))
        ).all()
        contact_ids = [r.contact_id for r in rows]
        prev: dict[str, list[Disposition]] = {}
        for p in conn.execute(
            sa.select(a.c.contact_id, a.c.disposition)
            .where(a.c.contact_id.in_(contact_ids), a.c.state == DONE)
            .order_by(a.c.attempt_no)
        ):
            if p.disposition:
                prev.setdefault(p.contact_id, []).append(Disposition(p.disposition))
        return [
            ClaimedAttempt(
                r.id,
                r.campaign_id,
                r.contact_id,
                r.number_bi,
                r.attempt_no,
                SealedNumber(
                    r.number_bi, r.masked_number, r.key_id, r.wrapped_key, r.number_sealed
                ),
                r.timezone,
                tuple(prev.get(r.contact_id, ())),
            )
            for r in rows
        ]

    # --- an attempt's life (the writes: campaigns.writes) ---------------------------------------
    def write(self, ops: Sequence[Write]) -> list[Result]:
        """Apply ``ops`` in one transaction (the dialler's group commit)."""
        with self.engine.begin() as conn:
            return apply_writes(conn, ops)

    def mark_dialling(self, attempt_id: str, worker: str, *, caller_id: str, now: datetime,
                      lease_s: float) -> bool:  # fmt: skip
        """Committed before the originate is sent; ``False`` if this dialler lost the claim."""
        return bool(self.write([MarkDialling(attempt_id, worker, caller_id, now, lease_s)])[0])

    def renew(self, worker: str, ids: Iterable[str], *, until: datetime) -> None:
        """Extend ``worker``'s leases (the dialler renews through its group commit instead)."""
        self.write([Renew(worker, tuple(ids), until)])

    def requeue(self, attempt_id: str, *, due_at: datetime, reasons: Sequence[str] = ()) -> None:
        """Back to the queue, not dialled (outside its window, paced, the gate said later)."""
        self.write([Requeue(attempt_id, due_at, tuple(reasons))])

    def finish(
        self,
        attempt_id: str,
        disposition: Disposition,
        *,
        now: datetime,
        cause: str | None = None,
        reasons: Sequence[str] = (),
        retry_at: datetime | None = None,
        cancelled: bool = False,
    ) -> str | None:
        """Close the attempt; with ``retry_at`` queue the next one (its id is returned)."""
        op = Finish(attempt_id, disposition, now, cause, tuple(reasons), retry_at, cancelled)
        result = self.write([op])[0]
        return result if isinstance(result, str) else None

    # --- refusals anywhere ---------------------------------------------------------------------
    def cancel_number(self, number_bi: str, disposition: Disposition, *, now: datetime) -> int:
        """Cancel every queued attempt of the number, in every campaign."""
        return int(self.write([CancelNumber(number_bi, disposition, now)])[0] or 0)

    def sweep_dnc(self, *, now: datetime) -> int:
        """Cancel every queued attempt whose number is on the DNC list (added by any call, any
        campaign, the console or the CLI)."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    attempts.update()
                    .where(
                        attempts.c.state == QUEUED,
                        sa.exists().where(dnc.c.number_index == attempts.c.number_bi),
                    )
                    .values(state=CANCELLED, disposition=Disposition.DNC.value, ended_at=to_db(now))
                ).rowcount
            )

    # --- crash recovery ------------------------------------------------------------------------
    def recover(self, *, now: datetime) -> tuple[int, int]:
        """(requeued, closed as unknown): see the module docstring."""
        t = to_db(now)
        with self.engine.begin() as conn:
            dead_dials = [
                r.id
                for r in conn.execute(
                    sa.select(attempts.c.id).where(
                        attempts.c.state == DIALLING, attempts.c.lease_until < t
                    )
                )
            ]
            if dead_dials:
                conn.execute(
                    attempts.update()
                    .where(attempts.c.id.in_(dead_dials), attempts.c.state == DIALLING)
                    .values(
                        state=DONE,
                        disposition=Disposition.UNKNOWN.value,
                        ended_at=t,
                        lease_until=None,
                    )
                )
            dead_claims = [
                r.id
                for r in conn.execute(
                    sa.select(attempts.c.id).where(
                        attempts.c.state == CLAIMED, attempts.c.lease_until < t
                    )
                )
            ]
            if dead_claims:
                conn.execute(
                    attempts.update()
                    .where(attempts.c.id.in_(dead_claims), attempts.c.state == CLAIMED)
                    .values(state=QUEUED, claimed_by=None, lease_until=None)
                )
            free_numbers(conn, dead_dials + dead_claims)
            # busy rows left by attempts that are no longer active
            conn.execute(
                busy_numbers.delete().where(
                    ~sa.exists().where(
                        attempts.c.id == busy_numbers.c.attempt_id,
                        attempts.c.state.in_(ACTIVE),
                    )
                )
            )
        return len(dead_claims), len(dead_dials)

    # --- reading ------------------------------------------------------------------------------
    def counts(self, campaign_id: str) -> dict[str, int]:
        """Attempts per state and per disposition (``state:<s>``, ``disposition:<d>``)."""
        a = attempts
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(
                sa.select(a.c.state, a.c.disposition, sa.func.count())
                .where(a.c.campaign_id == campaign_id)
                .group_by(a.c.state, a.c.disposition)
            ):
                out[f"state:{r[0]}"] = out.get(f"state:{r[0]}", 0) + int(r[2])
                if r[1]:
                    out[f"disposition:{r[1]}"] = out.get(f"disposition:{r[1]}", 0) + int(r[2])
        return out

    def open_work(self, campaign_id: str) -> int:
        """Attempts not yet done (queued, claimed, dialling)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        attempts.c.campaign_id == campaign_id,
                        attempts.c.state.in_((QUEUED, *ACTIVE)),
                    )
                ).scalar_one()
            )

    def next_due(self, campaign_id: str) -> datetime | None:
        with self.engine.connect() as conn:
            v = conn.execute(
                sa.select(sa.func.min(attempts.c.due_at)).where(
                    attempts.c.campaign_id == campaign_id, attempts.c.state == QUEUED
                )
            ).scalar_one_or_none()
        return from_db(v) if v is not None else None
