"""Callback tickets: when no agent is free (invariant 7) or the caller asks to be called back.

A ticket keeps the number the way every table does (:mod:`records.sealed_number`: blind
index, masked form, SM4-GCM sealed copy under a data key wrapped by the records key ring); never
in clear. A caller without a usable number (withheld, an extension such as ``1000``, garbage)
gets no ticket: :meth:`CallbackTickets.open` returns :class:`NoNumberToCallBack`, which the flow
acts on (tell the caller, keep them in the queue), instead of raising.

Revealing the number to the agent who calls back names the actor, their role and a reason, and
writes ``number_revealed`` evidence to the chain before anything is decrypted; refused attempts
are evidence too.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import IvrError, NotAuthorizedError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.permissions import Permission
from ivr.phone import CustomerNumber
from records.access import Actor, may
from records.sealed_number import NumberSealer, SealedNumber

metadata = sa.MetaData()
tickets = sa.Table(
    "callback_tickets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("customer_bi", sa.String(64), nullable=False, index=True),
    sa.Column("masked_number", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("number_sealed", sa.LargeBinary, nullable=False),
    sa.Column("queue", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class TicketNotFoundError(IvrError):
    """No callback ticket with that id."""


@dataclass(frozen=True, slots=True)
class CallbackTicket:
    id: str
    call_id: str
    customer_bi: str
    masked_number: str
    queue: str
    reason: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketOpened:
    """A ticket is stored: someone will call the customer back."""

    ticket: CallbackTicket


@dataclass(frozen=True, slots=True)
class NoNumberToCallBack:
    """The caller has no usable number, so no ticket was stored: nobody can call back. The flow
    tells the caller so (call again, or stay in the queue) rather than promise a callback."""

    call_id: str
    queue: str
    reason: str


TicketOutcome = TicketOpened | NoNumberToCallBack


class CallbackTickets:
    """SQL store of callback tickets (SQLite by default, PostgreSQL in production)."""

    def __init__(self, engine: Engine, numbers: NumberSealer, evidence: EvidenceSink) -> None:
        self._engine = engine
        self._numbers = numbers
        self._evidence = evidence

    async def open(
        self,
        *,
        call_id: str,
        number: CustomerNumber | None,
        queue: str,
        reason: str,
        now: datetime,
    ) -> TicketOutcome:
        """Open a ticket to call ``number`` back; :class:`NoNumberToCallBack` without one."""
        if number is None:
            return NoNumberToCallBack(call_id, queue, reason)
        return TicketOpened(
            await asyncio.to_thread(self._open, call_id, number, queue, reason, now)
        )

    def _open(
        self, call_id: str, number: CustomerNumber, queue: str, reason: str, now: datetime
    ) -> CallbackTicket:
        ticket_id = str(uuid.uuid4())
        sealed = self._numbers.seal(number, _context(ticket_id))
        ticket = CallbackTicket(
            ticket_id, call_id, sealed.blind_index, sealed.masked, queue, reason, "open", now
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    tickets.insert().values(
                        id=ticket.id,
                        call_id=call_id,
                        customer_bi=sealed.blind_index,
                        masked_number=sealed.masked,
                        key_id=sealed.key_id,
                        wrapped_key=sealed.wrapped_key,
                        number_sealed=sealed.ciphertext,
                        queue=queue,
                        reason=reason,
                        status="open",
                        created_at=now,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback ticket store failed") from exc
        return ticket

    def for_call(self, call_id: str) -> list[CallbackTicket]:
        return [
            _ticket(row)
            for row in self._select(tickets.select().where(tickets.c.call_id == call_id))
        ]

    def for_customer(self, number: CustomerNumber) -> list[CallbackTicket]:
        """Tickets of one customer (looked up by blind index), oldest first."""
        stmt = (
            tickets.select()
            .where(tickets.c.customer_bi == self._numbers.blind_index(number))
            .order_by(tickets.c.created_at)
        )
        return [_ticket(row) for row in self._select(stmt)]

    async def reveal_number(self, ticket_id: str, *, actor: Actor, reason: str) -> CustomerNumber:
        """The clear number for whoever calls back, after ``number_revealed`` evidence.

        The attempt (actor, role, reason, allowed) is chained evidence before any decryption;
        whoever calls back may see it: a role with ``callbacks.work`` in the one table (agents,
        supervisors) or the system's own jobs; anyone else (auditors too) or an empty reason is
        refused with :class:`NotAuthorizedError` after that evidence; an unknown ticket is
        :class:`TicketNotFoundError`.
        """
        rows = await asyncio.to_thread(
            self._select, tickets.select().where(tickets.c.id == ticket_id)
        )
        row = rows[0] if rows else None
        allowed = may(actor, Permission.CALLBACKS_WORK) and bool(reason.strip()) and row is not None
        await self._evidence.append(
            EvidenceKind.NUMBER_REVEALED,
            call_id=row.call_id if row is not None else None,
            payload={
                "subject": "callback_ticket",
                "ticket_id": ticket_id,
                "number": row.masked_number if row is not None else None,
                "actor": actor.id,
                "role": actor.role,
                "reason": reason[:500],
                "allowed": allowed,
            },
        )
        if row is None:
            raise TicketNotFoundError(f"no callback ticket {ticket_id}")
        if not allowed:
            raise NotAuthorizedError(
                f"role {actor.role!r} may not see a callback number"
                if not may(actor, Permission.CALLBACKS_WORK)
                else "a reason is required to see a callback number"
            )
        sealed = SealedNumber(
            blind_index=row.customer_bi,
            masked=row.masked_number,
            key_id=row.key_id,
            wrapped_key=row.wrapped_key,
            ciphertext=row.number_sealed,
        )
        return self._numbers.unseal(sealed, _context(ticket_id))

    def _select(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback ticket store failed") from exc


def _context(ticket_id: str) -> str:
    return f"callback|{ticket_id}"


def _ticket(row: sa.Row[Any]) -> CallbackTicket:
    return CallbackTicket(
        row.id,
        row.call_id,
        row.customer_bi,
        row.masked_number,
        row.queue,
        row.reason,
        row.status,
        row.created_at,
    )
