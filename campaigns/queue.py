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

A write the database does not take (restarting, a dropped connection) raises
:class:`ivr.errors.StoreUnavailableError`, never SQLAlchemy's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from campaigns.claims import Claim, ClaimedAttempt
from campaigns.model import Disposition
from campaigns.tables import attempts, busy_numbers
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
    must_sync,
)
from compliance.tables import dnc
from ivr.db import make_engine
from ivr.errors import StoreUnavailableError
from records.timeutil import from_db, to_db

__all__ = ["AttemptQueue", "ClaimedAttempt", "contact_context", "writes_engine"]


def writes_engine(engine: sa.Engine) -> tuple[sa.Engine, bool]:
    """The engine the queue's writes run on, and whether it is the queue's own. On a SQLite
    file it is a second engine on the same database, whose connections only the queue uses,
    so switching their ``synchronous`` per batch never reaches the ledger's DNC and consent
    writes on ``engine`` (those keep syncing at every commit: invariants 3, 5, 6). In WAL mode
    a commit that syncs makes every earlier commit durable too (the log is replayed as a
    prefix), so a ``dialling`` mark synced is never behind an unsynced write it depends on."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return engine, False
    return make_engine(url.render_as_string(hide_password=False)), True


def contact_context(contact_id: str) -> str:
    """The sealed number's context of a list entry."""
    return f"campaign-contact|{contact_id}"


class AttemptQueue:
    """The ``campaign_attempts`` queue (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self._writes, self._own_writes = writes_engine(engine)

    # --- claiming ------------------------------------------------------------------------------
    def claim(
        self, worker: str, campaign_id: str, *, now: datetime, limit: int, lease_s: float
    ) -> list[ClaimedAttempt]:
        """Claim due attempts in a transaction of its own (the dialler's claims ride in its
        group commit instead: :class:`campaigns.claims.Claim`)."""
        if limit <= 0:
            return []
        got = self.write([Claim(worker, campaign_id, now, limit, lease_s)])[0]
        return got if isinstance(got, list) else []

    # --- an attempt's life (the writes: campaigns.writes) ---------------------------------------
    def write(self, ops: Sequence[Write]) -> list[Result]:
        """Apply ``ops`` in one transaction (the dialler's group commit). On SQLite it runs
        on the queue's own connections, which sync to disk at commit only when the batch
        :func:`campaigns.writes.must_sync` (a ``dialling`` mark): see :func:`writes_engine`."""
        try:
            with self._writes.begin() as conn:
                if self._own_writes:
                    sync = "FULL" if must_sync(ops) else "NORMAL"
                    conn.exec_driver_sql(f"PRAGMA synchronous={sync}")
                return apply_writes(conn, ops)
        except SQLAlchemyError as exc:  # the database restarting, a lock, a dropped connection
            raise StoreUnavailableError(f"attempt queue: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Close the queue's own write connections (SQLite), if it has any."""
        if self._own_writes:
            self._writes.dispose()

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
        got = self.write([CancelNumber(number_bi, disposition, now)])[0]
        return got if isinstance(got, int) else 0

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
