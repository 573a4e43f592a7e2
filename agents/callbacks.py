"""Callback tickets worked to the end: a queue with due times and an SLA, claims, the gated
``service`` call back, the result, overdue alerts. Nothing is held in memory: a restart loses
no ticket.

Tickets are opened by the call (:mod:`campaigns.callbacks`, invariant 7); :meth:`CallbackWork.sync`
gives each open ticket its ``callback_work`` row, due :func:`due_at` (the queue's SLA after the
ticket opened). An agent :meth:`~CallbackWork.claim`\\ s one (a claim by someone else is
refused), then :meth:`~CallbackWork.call_back` reveals the number (audited by
``CallbackTickets.reveal_number``) only to hand it to the :class:`CallbackDialler`, which places
a ``service`` call **through the compliance gate** (never around it); the outcome (connected,
denied by the gate and why, failed and the cause) is recorded and a denied or failed attempt
stays in the queue. :meth:`~CallbackWork.overdue` lists tickets past due that nobody finished;
:func:`watch_overdue` (supervised) raises one alert per ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from agents.tables import callback_work
from campaigns.callbacks import CallbackTickets, tickets
from ivr.errors import IvrError, StoreUnavailableError
from ivr.metrics import CALLBACKS_OVERDUE
from ivr.phone import CustomerNumber
from records.access import Actor

DEFAULT_SLA_S = {"senior": 2 * 3600, "general": 24 * 3600}


class ClaimError(IvrError):
    """The ticket is claimed by someone else, already done, or unknown."""


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """What placing the call back did: ``connected``, ``denied`` (with the gate's reasons) or
    ``failed`` (with the switch's cause)."""

    outcome: str
    detail: str = ""
    call_id: str | None = None

    @property
    def result(self) -> str:
        return f"{self.outcome}:{self.detail}" if self.detail else self.outcome


class CallbackDialler(Protocol):
    """Places one ``service`` call back through the gate (:mod:`agents.callback_dial`)."""

    async def call_back(
        self, number: CustomerNumber, *, ticket_id: str, queue: str
    ) -> CallbackAttempt: ...


@dataclass(frozen=True, slots=True)
class CallbackItem:
    ticket_id: str
    call_id: str
    masked_number: str
    queue: str
    reason: str
    created_at: datetime
    due_at: datetime
    claimed_by: str | None
    attempts: int
    result: str | None
    done: bool

    def overdue(self, now: datetime) -> bool:
        return not self.done and now > self.due_at


def due_at(created_at: datetime, queue: str, sla_s: Mapping[str, int]) -> datetime:
    """When a ticket of ``queue`` opened at ``created_at`` must be called back (pure)."""
    seconds = sla_s.get(queue, DEFAULT_SLA_S.get(queue, DEFAULT_SLA_S["general"]))
    return _utc(created_at) + timedelta(seconds=seconds)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class CallbackWork:
    """The callback queue over ``callback_tickets`` and ``callback_work``."""

    def __init__(
        self,
        engine: Engine,
        tickets_store: CallbackTickets,
        *,
        sla_s: Mapping[str, int] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._tickets = tickets_store
        self._sla = dict(sla_s or DEFAULT_SLA_S)
        self._clock = clock

    def sync(self) -> int:
        """Give every open ticket its work row (idempotent); how many were added."""
        stmt = (
            sa.select(tickets.c.id, tickets.c.queue, tickets.c.created_at)
            .select_from(
                tickets.outerjoin(callback_work, callback_work.c.ticket_id == tickets.c.id)
            )
            .where(callback_work.c.ticket_id.is_(None), tickets.c.status == "open")
        )
        try:
            with self._engine.begin() as conn:
                rows = conn.execute(stmt).all()
                for row in rows:
                    conn.execute(
                        callback_work.insert().values(
                            ticket_id=row.id,
                            due_at=due_at(row.created_at, row.queue, self._sla),
                            attempts=0,
                        )
                    )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback work store failed") from exc
        return len(rows)

    def items(self, *, include_done: bool = False) -> list[CallbackItem]:
        """The queue, due first."""
        self.sync()
        stmt = (
            sa.select(tickets, callback_work)
            .select_from(tickets.join(callback_work, callback_work.c.ticket_id == tickets.c.id))
            .order_by(callback_work.c.due_at)
        )
        if not include_done:
            stmt = stmt.where(callback_work.c.done_at.is_(None))
        return [_item(r) for r in self._rows(stmt)]

    def item(self, ticket_id: str) -> CallbackItem:
        found = [i for i in self.items(include_done=True) if i.ticket_id == ticket_id]
        if not found:
            raise ClaimError(
                f"no callback ticket {ticket_id}",
                code="agents.no_callback",
                params={"ticket": ticket_id},
            )
        return found[0]

    def overdue(self) -> list[CallbackItem]:
        now = self._clock()
        return [i for i in self.items() if i.overdue(now)]

    def claim(self, ticket_id: str, agent: str) -> CallbackItem:
        """``agent`` takes the ticket (again, if already theirs); refused if another has it."""
        self.sync()
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    callback_work.update()
                    .where(
                        callback_work.c.ticket_id == ticket_id,
                        callback_work.c.done_at.is_(None),
                        sa.or_(
                            callback_work.c.claimed_by.is_(None),
                            callback_work.c.claimed_by == agent,
                        ),
                    )
                    .values(claimed_by=agent, claimed_at=self._clock())
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback work store failed") from exc
        if not result.rowcount:
            raise ClaimError(
                f"callback ticket {ticket_id} is not free to claim",
                code="agents.callback_taken",
                params={"ticket": ticket_id},
            )
        return self.item(ticket_id)

    async def call_back(
        self, ticket_id: str, *, actor: Actor, dialler: CallbackDialler
    ) -> CallbackAttempt:
        """Place the claimed ticket's call back through the gate; record the outcome."""
        item = await asyncio.to_thread(self.item, ticket_id)
        if item.done or item.claimed_by != actor.id:
            raise ClaimError(
                f"claim callback ticket {ticket_id} first",
                code="agents.claim_first",
                params={"ticket": ticket_id},
            )
        number = await self._tickets.reveal_number(
            ticket_id, actor=actor, reason="callback (service call through the gate)"
        )
        attempt = await dialler.call_back(number, ticket_id=ticket_id, queue=item.queue)
        await asyncio.to_thread(self._record, ticket_id, attempt)
        return attempt

    def _record(self, ticket_id: str, attempt: CallbackAttempt) -> None:
        now = self._clock()
        values: dict[str, Any] = {
            "attempts": callback_work.c.attempts + 1,
            "result": attempt.result[:32],
        }
        if attempt.outcome == "connected":
            values["done_at"] = now
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    callback_work.update()
                    .where(callback_work.c.ticket_id == ticket_id)
                    .values(**values)
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback work store failed") from exc

    def mark_alerted(self, ticket_ids: list[str]) -> None:
        if not ticket_ids:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    callback_work.update()
                    .where(callback_work.c.ticket_id.in_(ticket_ids))
                    .values(alerted_at=self._clock())
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback work store failed") from exc

    def unalerted_overdue(self) -> list[CallbackItem]:
        now = self._clock()
        stmt = (
            sa.select(tickets, callback_work)
            .select_from(tickets.join(callback_work, callback_work.c.ticket_id == tickets.c.id))
            .where(callback_work.c.done_at.is_(None), callback_work.c.alerted_at.is_(None))
        )
        return [i for i in (_item(r) for r in self._rows(stmt)) if i.overdue(now)]

    def _rows(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback work store failed") from exc


OverdueAlert = Callable[[CallbackItem], Awaitable[None]]


async def alert_overdue_once(work: CallbackWork, alert: OverdueAlert) -> int:
    """Alert every overdue ticket not alerted yet (once each); how many were alerted."""
    await asyncio.to_thread(work.sync)
    due = await asyncio.to_thread(work.unalerted_overdue)
    for item in due:
        await alert(item)
    await asyncio.to_thread(work.mark_alerted, [i.ticket_id for i in due])
    CALLBACKS_OVERDUE.set(len(await asyncio.to_thread(work.overdue)))
    return len(due)


async def watch_overdue(work: CallbackWork, alert: OverdueAlert, every_s: float = 30.0) -> None:
    """The supervised loop: sync new tickets, alert overdue ones."""
    while True:
        await alert_overdue_once(work, alert)
        await asyncio.sleep(every_s)


def _item(row: sa.Row[Any]) -> CallbackItem:
    return CallbackItem(
        ticket_id=row.id,
        call_id=row.call_id,
        masked_number=row.masked_number,
        queue=row.queue,
        reason=row.reason,
        created_at=_utc(row.created_at),
        due_at=_utc(row.due_at),
        claimed_by=row.claimed_by,
        attempts=row.attempts,
        result=row.result,
        done=row.done_at is not None,
    )
