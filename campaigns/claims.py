"""Claiming due attempts of one campaign, inside the caller's transaction (the group commit's).

:class:`Claim` is a write value like those of :mod:`campaigns.writes`, so a tick's claim rides in
the same transaction as the attempt writes waiting then (one lock, one commit per batch on
SQLite's single writer). :func:`claim_in` takes up to ``limit`` due attempts in one statement:
``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`` on PostgreSQL
(concurrent diallers skip each other's rows), the same single statement on SQLite (writes are
serialised by the database lock, so the semantics are the same). Numbers on the DNC list or
busy right now are never claimed; each claimed number is then inserted into
``campaign_busy_numbers`` in the same transaction, and an attempt whose number another dialler
holds goes back to the queue: one number is never dialled twice at the same time. The claimed
attempts come back as :class:`ClaimedAttempt` (sealed number, zone, earlier dispositions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from campaigns.model import Disposition
from campaigns.tables import CLAIMED, DONE, QUEUED, attempts, busy_numbers, campaigns, contacts
from compliance.tables import dnc, insert_ignore
from records.sealed_number import SealedNumber
from records.timeutil import to_db

RETRY_BUSY_S = 5.0
"""An attempt whose number another dialler holds is due again this much later."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Up to ``limit`` due attempts of a running campaign for ``worker``, leased ``lease_s``."""

    worker: str
    campaign_id: str
    now: datetime
    limit: int
    lease_s: float


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


def claim_in(conn: sa.Connection, c: Claim) -> list[ClaimedAttempt]:
    """Claim on ``conn`` (the caller's transaction; see the module docstring)."""
    if c.limit <= 0:
        return []
    a = attempts
    t = to_db(c.now)
    candidates = (
        sa.select(a.c.id)
        .where(
            a.c.campaign_id == c.campaign_id,
            a.c.state == QUEUED,
            a.c.due_at <= t,
            sa.exists().where(campaigns.c.id == a.c.campaign_id, campaigns.c.state == "running"),
            ~sa.exists().where(dnc.c.number_index == a.c.number_bi),
            ~sa.exists().where(busy_numbers.c.number_bi == a.c.number_bi),
        )
        .order_by(a.c.due_at)
        .limit(c.limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=a)
    rows = conn.execute(
        a.update()
        .where(a.c.id.in_(candidates.scalar_subquery()))
        .values(
            state=CLAIMED,
            claimed_by=c.worker,
            lease_until=to_db(c.now + timedelta(seconds=c.lease_s)),
        )
        .returning(a.c.id, a.c.number_bi)
    ).all()
    if not rows:
        return []
    took = conn.execute(
        insert_ignore(
            conn.engine,
            busy_numbers,
            [{"number_bi": r.number_bi, "attempt_id": r.id, "since": t} for r in rows],
        ).returning(busy_numbers.c.attempt_id)
    ).all()  # one statement (rowcount is -1 on psycopg for ON CONFLICT DO NOTHING)
    held = {r.attempt_id for r in took}
    mine = [r.id for r in rows if r.id in held]
    lost = [r.id for r in rows if r.id not in held]
    if lost:  # another dialler has the number right now: back to the queue
        conn.execute(
            a.update()
            .where(a.c.id.in_(lost))
            .values(
                state=QUEUED,
                claimed_by=None,
                lease_until=None,
                due_at=to_db(c.now + timedelta(seconds=RETRY_BUSY_S)),
            )
        )
    return load_claimed(conn, mine) if mine else []


def load_claimed(conn: sa.Connection, ids: Sequence[str]) -> list[ClaimedAttempt]:
    """The attempts ``ids`` with their contacts' sealed numbers and earlier dispositions."""
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
            SealedNumber(r.number_bi, r.masked_number, r.key_id, r.wrapped_key, r.number_sealed),
            r.timezone,
            tuple(prev.get(r.contact_id, ())),
        )
        for r in rows
    ]
